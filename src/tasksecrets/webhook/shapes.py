"""Answers remembered by pod shape, for injector chains whose patch depends on the shape alone.

The pods of one task come from one template: their names, uids and env values differ, but their
secret requests, containers, env var names, mounts and volumes do not, and those are all the K8s
injector reads. :func:`shape_key` extracts exactly that from a pod (and nothing it does not read),
so two pods with equal keys get the same patch from K8s, and :class:`AnswerMemo` remembers the
answer for a key. A hit skips the mutation and the encoding of the patch; the answer is byte for
byte what computing it would give.

What K8s reads of a pod, mirrored here (see :class:`~tasksecrets.injectors.base.PodEditor`,
:mod:`tasksecrets.injectors.k8s` and :func:`~tasksecrets.webhook.patches.build_patch`):

- the ``flyte.secrets/*`` annotations (the requests), and whether ``metadata`` and its
  ``annotations`` are objects (the key holds all the annotations: cheaper to take whole, and the
  pods of a task share them);
- whether ``spec`` is an object; for every init container and container, in order: whether ``env``
  and ``volumeMounts`` are lists, and the names in them (as ``str(name)``, as the editor takes them);
- ``spec.volumes``, in order: for a secret volume its name, ``secretName`` and items (an item is
  only ever compared for equality with the item K8s adds); for any other volume nothing but its
  place in the list.

Anything the editor would refuse or treat specially (a container that is not an object, ``env``
that is not a list, an annotation value that is not text, ...) has no key: such a pod takes the
ordinary path and gets its ordinary answer, as does a pod whose key cannot be hashed (an annotation
value that is a list). Only chains of exactly K8s, or K8s after a Global
that reads a fixed snapshot of env vars and no directory, are served from the memo
(:attr:`Mutator.answers_by_shape`), and only answers that hold no value: an answer where Global
injected a value is never kept. Keys hold names, never values.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["AnswerMemo", "shape_key"]

ShapeKey = tuple[Any, ...]


class _NoKey(Exception):
    """The pod is not a plain one: leave it to the ordinary path."""


# Markers (equal only to themselves) for what K8s treats alike whatever it holds.
_OTHER = object()  # a volume that is not a secret volume, an item that cannot equal K8s's
_UNNAMED = object()  # a secret volume without a name (K8s then names the mount after its own volume)
_NOT_AN_OBJECT = object()  # an env or mount entry that is not an object (the editor skips it)


def shape_key(pod: object) -> ShapeKey | None:
    """What the K8s injector reads of ``pod``, hashable; None when the pod is not a plain one."""
    try:
        return _shape(pod)
    except _NoKey:
        return None


# The key is flat, one list made into a tuple (the webhook computes one per request, and each call
# and each small tuple costs): the metadata state and the requests as (name, value) pairs, then for
# initContainers and containers their count and, per container, the count of env entries and their
# names then the count of mounts and their names (None for a list the pod lacks), then the volumes.
# The counts make the sequence read back one way only, so equal keys mean equal shapes.
_FIELDS = ("env", "volumeMounts")


def _shape(pod: object) -> ShapeKey:
    if not isinstance(pod, dict):
        raise _NoKey
    key: list[Any] = []
    append = key.append
    metadata = _object_or_none(pod.get("metadata"))
    annotations = None if metadata is None else _object_or_none(metadata.get("annotations"))
    # All the annotations, not only the requests: one C-level copy instead of a Python loop over
    # them (the key is finer than needed, which is safe; the pods of a task share their
    # annotations). Values that are not hashable fail when the key is looked up.
    append(0 if metadata is None else 1 if annotations is None else tuple(annotations.items()))
    spec = _object_or_none(pod.get("spec"))
    if spec is None:
        append(None)
        return tuple(key)
    append(True)
    for kind in ("initContainers", "containers"):
        containers = spec.get(kind)
        if containers is None:
            append(None)
            continue
        if not isinstance(containers, list):
            raise _NoKey
        append(len(containers))
        for container in containers:
            if not isinstance(container, dict):
                raise _NoKey
            for field in _FIELDS:
                entries = container.get(field)
                if entries is None:
                    append(None)
                elif not isinstance(entries, list):
                    raise _NoKey
                else:
                    append(len(entries))
                    # The editor takes str(name) of objects and skips other entries.
                    for entry in entries:
                        append(str(entry.get("name")) if isinstance(entry, dict) else _NOT_AN_OBJECT)
    append(_volumes(spec.get("volumes")))
    return tuple(key)


def _object_or_none(value: object) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise _NoKey


def _volumes(volumes: object) -> tuple[Any, ...] | None:
    if volumes is None:
        return None
    if not isinstance(volumes, list):
        raise _NoKey
    return tuple([_volume(v) for v in volumes])


def _volume(volume: object) -> Any:
    if not isinstance(volume, dict):
        return _OTHER
    source = volume.get("secret")
    if not isinstance(source, dict):
        return _OTHER
    secret_name = source.get("secretName")
    if not isinstance(secret_name, str):
        return _OTHER  # only text can equal a group
    name = volume.get("name", _UNNAMED)
    items = source.get("items")
    if items is None:
        item_keys = None
    elif isinstance(items, list):
        item_keys = tuple([_item(i) for i in items])
    else:
        raise _NoKey
    return (secret_name, name if name is _UNNAMED else str(name), item_keys)


def _item(item: object) -> Any:
    # K8s only asks whether its own item ({key, path}, both text) is among these: an item with a
    # value that is not text can never equal it.
    if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
        return _OTHER
    return tuple(item.items())


class AnswerMemo:
    """Remembered answer parts by shape key; bounded in entries and in bytes, cleared whole when full.

    An entry is whatever the caller keeps for a key (the review keeps the answer's ``response``
    without its ``uid``, the managers, and the answer's encoding around the uid); ``size`` is what
    the caller says it weighs in bytes (the review: its patch's length, three times, for the
    response and the encodings of two apiVersions). An entry heavier than an eighth of
    ``max_bytes`` is not kept. The memo never changes an entry.
    """

    def __init__(self, entries: int = 512, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._max_entries = entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: dict[ShapeKey, Any] = {}

    def get(self, key: ShapeKey) -> Any:
        """The entry stored for ``key``, or None (also when ``key`` cannot be hashed)."""
        try:
            return self._entries.get(key)
        except TypeError:
            return None

    def put(self, key: ShapeKey, entry: Any, *, size: int = 0) -> None:
        """Store ``entry`` for ``key``; a key that cannot be hashed, or a heavy entry, stores nothing."""
        if size > self._max_bytes // 8:
            return
        if len(self._entries) >= self._max_entries or self._bytes + size > self._max_bytes:
            self.clear()
        with contextlib.suppress(TypeError):
            self._entries[key] = entry
            self._bytes += size

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
