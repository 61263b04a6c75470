"""The part of a pod a secret manager may read: what the pod editor is built on.

The pods of one task differ in their names, uids, labels, images, commands, arguments and env
values, and no manager reads any of those. :class:`PodView` keeps what the
:class:`~tasksecrets.managers.editor.PodEditor` shows a manager and drops the rest:

- ``metadata``: its ``namespace`` and ``annotations`` (whole); the namespace is the one the
  AdmissionReview names when given (``PodView.of(pod, namespace=...)``): a pod created through a
  Deployment has none of its own yet, and the review's is the one it is created in;
- ``spec``: ``initContainers`` and ``containers``, each with its ``name``, the names of its
  ``env`` entries and the names and mount paths of its ``volumeMounts``; ``volumes``, each with
  its ``name`` and, for a secret volume, the ``secretName`` and ``items`` of its source.

Whether each of these is present, null or of another type is kept too, and so is every list's
order: a patch computed on the view applies to the pod it came from. A value of an unexpected type
(a container that is not an object, ``env`` that is not a list) is kept as it is, so the editor
refuses it as it would refuse the pod.

Every mutation is computed on the view, never on the pod, so an answer is a function of the view
alone: :meth:`PodView.key` identifies it exactly, and an answer remembered for a key is the answer
any pod of that view gets. Keeping a field no manager needs can only make two pods' views differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PodView"]


class PodView:
    """The pod as the managers see it (see the module docstring); ``data`` is read-only."""

    __slots__ = ("_key", "data")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._key: str | None = None

    @classmethod
    def of(cls, pod: Mapping[str, Any], *, namespace: object = None) -> PodView:
        """The view of ``pod`` (any object: what is not a pod is kept as it is, for the editor to refuse).

        ``namespace``: the review's, which replaces the pod's own when it is a non-empty string.
        """
        if not isinstance(pod, dict):
            return cls(pod)  # type: ignore[arg-type]  # the editor refuses it with its type
        data: dict[str, Any] = {}
        if "metadata" in pod:
            data["metadata"] = _metadata(pod["metadata"])
            if isinstance(namespace, str) and namespace:
                data["metadata"] = _in_namespace(data["metadata"], namespace)
        if "spec" in pod:
            data["spec"] = _spec(pod["spec"])
        return cls(data)

    def key(self) -> str:
        """An exact identity of the view: equal keys mean equal views, for plain JSON values.

        ``repr`` of dicts, lists, strings, numbers, booleans and None writes them back as literals,
        so it tells apart everything a JSON document can hold (1 and 1.0 and True, "a" and 'a').
        """
        if self._key is None:
            self._key = repr(self.data)
        return self._key


def _metadata(metadata: object) -> object:
    if not isinstance(metadata, dict):
        return metadata
    return {field: metadata[field] for field in ("namespace", "annotations") if field in metadata}


def _in_namespace(kept: object, namespace: str) -> object:
    # The patch never touches the namespace, so the view may hold the one the pod is created in.
    if not isinstance(kept, dict) or kept.get("namespace") == namespace:
        return kept  # metadata that is not an object holds no annotations, so no request
    return {"namespace": namespace, **{k: v for k, v in kept.items() if k != "namespace"}}


def _spec(spec: object) -> object:
    if not isinstance(spec, dict):
        return spec
    kept: dict[str, Any] = {}
    for kind in ("initContainers", "containers"):
        if kind in spec:
            containers = spec[kind]
            kept[kind] = [_container(c) for c in containers] if isinstance(containers, list) else containers
    if "volumes" in spec:
        volumes = spec["volumes"]
        kept["volumes"] = [_volume(v) for v in volumes] if isinstance(volumes, list) else volumes
    return kept


def _container(container: object) -> object:
    if not isinstance(container, dict):
        return container
    kept: dict[str, Any] = {}
    if "name" in container:
        kept["name"] = container["name"]
    if "env" in container:
        kept["env"] = _names(container["env"], ("name",))
    if "volumeMounts" in container:
        # The mount paths too: a mount added at a path the container already mounts is refused.
        kept["volumeMounts"] = _names(container["volumeMounts"], ("name", "mountPath"))
    return kept


def _names(entries: object, fields: tuple[str, ...]) -> object:
    if not isinstance(entries, list):
        return entries
    return [
        {field: entry[field] for field in fields if field in entry} if isinstance(entry, dict) else entry
        for entry in entries
    ]


def _volume(volume: object) -> object:
    if not isinstance(volume, dict):
        return volume
    kept: dict[str, Any] = {}
    if "name" in volume:
        kept["name"] = volume["name"]
    if "secret" in volume:
        source = volume["secret"]
        kept["secret"] = (
            {field: source[field] for field in ("secretName", "items") if field in source}
            if isinstance(source, dict)
            else source
        )
    return kept
