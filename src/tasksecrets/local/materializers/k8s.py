"""Built-in materializers: Kubernetes Secrets from the local store, emptyDir volumes, pod fields.

- ``secret`` volumes: each item (or every key when there are no items) becomes a 0400 file;
- ``emptyDir`` volumes: an empty private directory (init containers' materializers fill it);
- ``secretKeyRef``: the key's value; ``fieldRef``: ``metadata.name`` and ``metadata.namespace``.

Missing secrets and keys are recorded by :meth:`PodContext.read_secret`; the kubelet decides
afterwards whether the pod may start without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.materializers import PodContext, register_materializer

__all__: list[str] = []

_FIELD_ITEM = re.compile(r"^metadata\.(annotations|labels)\['([^']+)'\]$")


def _secret_volume(source: Mapping[str, Any], target: Path, ctx: PodContext) -> None:
    secret_name = str(source.get("secretName") or "")
    optional = bool(source.get("optional", False))
    items = source.get("items")
    keys = [str(item["key"]) for item in items] if items else [None]
    data: dict[str, bytes] | None = None
    for key in keys:
        data = ctx.read_secret(secret_name, key, optional=optional)
    if data is None:
        return
    pairs = (
        [(str(i["key"]), str(i.get("path") or i["key"])) for i in items] if items else [(k, k) for k in data]
    )
    for key, rel in pairs:
        if key not in data:
            continue
        relative = PurePosixPath(rel)
        if relative.is_absolute() or ".." in relative.parts:
            raise TaskExecutionError(f"pod {ctx.name}: secret volume item path {rel!r} must be relative")
        ctx.write_secret_file(target.joinpath(*relative.parts), data[key])
        ctx.note_delivered(f"{secret_name}/{key}")


def _empty_dir_volume(source: Mapping[str, Any], target: Path, ctx: PodContext) -> None:
    """Nothing to do: the directory exists; init containers' materializers fill it."""


def _secret_key_ref(source: Mapping[str, Any], ctx: PodContext) -> str | None:
    secret_name, key = str(source.get("name") or ""), str(source.get("key") or "")
    data = ctx.read_secret(secret_name, key, optional=bool(source.get("optional", False)))
    if data is None or key not in data:
        return None
    ctx.note_delivered(f"{secret_name}/{key}")
    value = data[key].decode("utf-8", errors="surrogateescape")
    ctx.add_secret_value(value)
    return value


def _field_ref(source: Mapping[str, Any], ctx: PodContext) -> str | None:
    path = source.get("fieldPath")
    if path == "metadata.name":
        return ctx.name
    if path == "metadata.namespace":
        return ctx.namespace
    # metadata.annotations['<key>'] / metadata.labels['<key>']: the downward API's form, used by
    # the env export of file-only managers (tasksecrets.sdk.exports); a missing key gives "".
    match = _FIELD_ITEM.match(str(path))
    if match is not None:
        items = (ctx.pod.get("metadata") or {}).get(match.group(1)) or {}
        return str(items.get(match.group(2), ""))
    raise TaskExecutionError(
        f"pod {ctx.name}: fieldRef {path!r} is not available locally "
        "(only metadata.name, metadata.namespace, metadata.annotations['...'] and metadata.labels['...'])"
    )


register_materializer("volume", "secret", _secret_volume)
register_materializer("volume", "emptyDir", _empty_dir_volume)
register_materializer("env", "secretKeyRef", _secret_key_ref)
register_materializer("env", "fieldRef", _field_ref)
