"""One-line descriptions of YAML parse errors, shared by every reader of YAML files.

PyYAML's own message quotes the offending line, which may hold a secret value (a config file's
annotation, a Secret manifest's stringData); users get the position and the problem instead.
"""

from __future__ import annotations

__all__ = ["describe_yaml_error"]


def describe_yaml_error(exc: BaseException) -> str:
    """``at line L, column C: problem`` (or just the problem), never the text of the line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"at line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or (
        "nested too deeply" if isinstance(exc, RecursionError) else "syntax error"
    )
    return f"{where}{problem}"
