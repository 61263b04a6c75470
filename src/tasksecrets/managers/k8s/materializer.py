"""Kubernetes Secrets for a local run, from the local store: what the kubelet does for K8s's pods.

- ``secret`` volumes: each item (or every key when there are no items) becomes a 0400 file;
- ``secretKeyRef``: the key's value.

Missing secrets and keys are recorded by :meth:`PodContext.read_secret`; the kubelet decides
afterwards whether the pod may start without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.materializing import PodContext

__all__ = ["materialize_secret_key_ref", "materialize_secret_volume"]


def materialize_secret_volume(source: Mapping[str, Any], target: Path, ctx: PodContext) -> None:
    """Write a ``secret`` volume's items (or all the secret's keys) from the store into ``target``."""
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


def materialize_secret_key_ref(source: Mapping[str, Any], ctx: PodContext) -> str | None:
    """The value of a ``secretKeyRef`` from the store; None when an optional ref misses."""
    secret_name, key = str(source.get("name") or ""), str(source.get("key") or "")
    data = ctx.read_secret(secret_name, key, optional=bool(source.get("optional", False)))
    if data is None or key not in data:
        return None
    ctx.note_delivered(f"{secret_name}/{key}")
    value = data[key].decode("utf-8", errors="surrogateescape")
    ctx.add_secret_value(value)
    return value
