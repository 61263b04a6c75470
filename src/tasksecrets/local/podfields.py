"""What the local kubelet provides itself, for any manager: ``emptyDir`` volumes and ``fieldRef``.

- ``emptyDir`` volumes: an empty private directory (init containers' materializers fill it);
- ``fieldRef``: ``metadata.name``, ``metadata.namespace`` and the downward API's
  ``metadata.annotations['<key>']`` / ``metadata.labels['<key>']`` (a missing key gives "").

Registered as materializers when the kubelet is imported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.materializing import PodContext
from tasksecrets.managers.registry import register_materializer

__all__: list[str] = []

_FIELD_ITEM = re.compile(r"metadata\.(annotations|labels)\['([^']+)'\]")


def _empty_dir_volume(source: Mapping[str, Any], target: Path, ctx: PodContext) -> None:
    """Nothing to do: the directory exists; init containers' materializers fill it."""


def _field_ref(source: Mapping[str, Any], ctx: PodContext) -> str | None:
    path = source.get("fieldPath")
    if path == "metadata.name":
        return ctx.name
    if path == "metadata.namespace":
        return ctx.namespace
    # The downward API's form, which the env export of file-only managers uses.
    match = _FIELD_ITEM.fullmatch(str(path))
    if match is not None:
        items = (ctx.pod.get("metadata") or {}).get(match.group(1)) or {}
        return str(items.get(match.group(2), ""))
    raise TaskExecutionError(
        f"pod {ctx.name}: fieldRef {path!r} is not available locally "
        "(only metadata.name, metadata.namespace, metadata.annotations['...'] and metadata.labels['...'])"
    )


register_materializer("volume", "emptyDir", _empty_dir_volume, replace=True)
register_materializer("env", "fieldRef", _field_ref, replace=True)
