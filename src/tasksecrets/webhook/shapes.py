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
  ``annotations`` are objects;
- whether ``spec`` is an object; for every init container and container, in order: whether ``env``
  and ``volumeMounts`` are lists, and the names in them (as ``str(name)``, as the editor takes them);
- ``spec.volumes``, in order: for a secret volume its name, ``secretName`` and items (an item is
  only ever compared for equality with the item K8s adds); for any other volume nothing but its
  place in the list.

Anything the editor would refuse or treat specially (a container that is not an object, ``env``
that is not a list, an annotation value that is not text, ...) has no key: such a pod takes the
ordinary path and gets its ordinary answer. Only chains of exactly K8s, or K8s after a Global
that reads a fixed snapshot of env vars and no directory, are served from the memo
(:attr:`Mutator.answers_by_shape`), and only answers that hold no value: an answer where Global
injected a value is never kept. Keys hold names, never values.
"""

from __future__ import annotations

from typing import Any

from tasksecrets.wire import ANNOTATION_PREFIX

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


def _shape(pod: object) -> ShapeKey:
    if not isinstance(pod, dict):
        raise _NoKey
    metadata = pod.get("metadata")
    if metadata is None:
        meta_state, annotations = 0, None
    elif isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if annotations is None:
            meta_state = 1
        elif isinstance(annotations, dict):
            meta_state = 2
        else:
            raise _NoKey
    else:
        raise _NoKey
    requests: tuple[tuple[str, str], ...] = ()
    if annotations:
        prefix = ANNOTATION_PREFIX
        try:  # keys are text in JSON; any other key (from YAML) leaves the pod to the ordinary path
            found = [(k, v) for k, v in annotations.items() if k.startswith(prefix)]
        except AttributeError:
            raise _NoKey from None
        for _, value in found:
            if not isinstance(value, str):
                raise _NoKey
        requests = tuple(found)
    spec = pod.get("spec")
    if spec is None:
        return (requests, meta_state, None)
    if not isinstance(spec, dict):
        raise _NoKey
    return (
        requests,
        meta_state,
        _containers(spec.get("initContainers")),
        _containers(spec.get("containers")),
        _volumes(spec.get("volumes")),
    )


def _containers(items: object) -> tuple[Any, ...] | None:
    # Flat: the env names then the mount names of each container in turn.
    if items is None:
        return None
    if not isinstance(items, list):
        raise _NoKey
    shapes: list[tuple[object, ...] | None] = []
    for container in items:
        if not isinstance(container, dict):
            raise _NoKey
        env, mounts = container.get("env"), container.get("volumeMounts")
        shapes.append(None if env is None else _names(env))
        shapes.append(None if mounts is None else _names(mounts))
    return tuple(shapes)


def _names(items: object) -> tuple[object, ...]:
    if not isinstance(items, list):
        raise _NoKey
    # The editor skips entries that are not objects; keep their places anyway (a finer key is safe).
    return tuple([str(e.get("name")) if isinstance(e, dict) else _NOT_AN_OBJECT for e in items])


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
    """Remembered answer parts by shape key; bounded, cleared whole when full.

    An entry is whatever the caller keeps for a key (the review keeps the answer's ``response``
    without its ``uid``, and the patch and injections for the result). Entries are never changed
    after they are stored.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._entries: dict[ShapeKey, Any] = {}

    def get(self, key: ShapeKey) -> Any:
        """The entry stored for ``key``, or None."""
        return self._entries.get(key)

    def put(self, key: ShapeKey, entry: Any) -> None:
        """Store ``entry`` for ``key``."""
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = entry

    def __len__(self) -> int:
        return len(self._entries)
