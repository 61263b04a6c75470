"""YAML shared by every reader and writer: one-line parse errors, and output without aliases.

PyYAML's own message quotes the offending line, which may hold a secret value (a config file's
annotation, a Secret manifest's stringData); users get the position and the problem instead.
Every manifest printed goes through :func:`dump_yaml`, which never writes anchors (``&id001``).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["describe_yaml_error", "dump_yaml"]


def describe_yaml_error(exc: BaseException) -> str:
    """``at line L, column C: problem`` (or just the problem), never the text of the line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"at line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or (
        "nested too deeply" if isinstance(exc, RecursionError) else "syntax error"
    )
    return f"{where}{problem}"


class _NoAliasDumper(yaml.SafeDumper):
    # A manifest that reuses one object (a pod's volume mounts, a label map) would otherwise print
    # with &id001 / *id001, which kubectl never writes and many readers do not expect.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any, *, sort_keys: bool = False) -> str:
    """``data`` as block YAML without anchors or aliases (each shared object written out in full)."""
    return yaml.dump(
        data, Dumper=_NoAliasDumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True
    )
