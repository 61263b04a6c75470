"""RFC 6902 JSON Patch built from a pod editor's recorded edits, with RFC 6901 pointer escaping.

Patch shapes (deterministic, the fewest operations that apply on the original object):
a list the pod lacks (or has as null) is added whole (``add /spec/containers/0/env [...]``);
a list it has gets one ``add .../-`` per new element; annotations are added one key at a time
(``add`` replaces an existing member) or as a whole object when the pod has none. Order:
annotations, volumes (new items of existing volumes first), then each edited container in pod
order (init containers before containers), then the added init containers.

:func:`apply_patch` applies such a patch to the pod it was computed for: that is how the mutated
pod is made, so the pod and the patch cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasksecrets.managers.editor import PodEditor

__all__ = ["apply_patch", "build_patch", "escape_pointer_token", "json_pointer", "unescape_pointer_token"]


def escape_pointer_token(token: str) -> str:
    """RFC 6901: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape_pointer_token(token: str) -> str:
    """The inverse of :func:`escape_pointer_token`."""
    return token.replace("~1", "/").replace("~0", "~")


def json_pointer(*tokens: str | int) -> str:
    """A JSON Pointer from unescaped tokens: ``json_pointer("metadata", "annotations", "a/b")``."""
    return "".join("/" + escape_pointer_token(str(t)) for t in tokens)


def _append_ops(path: str, existing: object, new: list[Any], ops: list[dict[str, Any]]) -> None:
    if not new:
        return
    if isinstance(existing, list):
        ops.extend({"op": "add", "path": f"{path}/-", "value": item} for item in new)
    else:
        ops.append({"op": "add", "path": path, "value": list(new)})


def build_patch(editor: PodEditor) -> list[dict[str, Any]]:
    """The RFC 6902 operations that turn the pod the editor views into the mutated pod."""
    ops: list[dict[str, Any]] = []
    if not editor.changed:
        return ops
    if editor.new_annotations:
        if "metadata" not in editor.pod or editor.pod["metadata"] is None:
            ops.append(
                {"op": "add", "path": "/metadata", "value": {"annotations": dict(editor.new_annotations)}}
            )
        elif isinstance(editor.metadata.get("annotations"), dict):
            ops.extend(
                {"op": "add", "path": "/metadata/annotations/" + escape_pointer_token(key), "value": value}
                for key, value in editor.new_annotations.items()
            )
        else:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": dict(editor.new_annotations)})
    spec_exists = isinstance(editor.pod.get("spec"), dict)
    if not spec_exists and (editor.container_edits or editor.added_init_containers or editor.new_volumes):
        # Only reachable for a pod without a spec, which has no containers to edit; keep it valid anyway.
        ops.append({"op": "add", "path": "/spec", "value": {}})
    for index in sorted(editor.volume_item_edits):
        vedit = editor.volume_item_edits[index]
        _append_ops(
            f"/spec/volumes/{index}/secret/items", vedit.original["secret"].get("items"), vedit.new_items, ops
        )
    _append_ops("/spec/volumes", editor.spec.get("volumes"), editor.new_volumes, ops)
    edits = editor.container_edits
    for kind in ("initContainers", "containers"):
        for index in sorted([i for k, i in edits if k == kind]):
            edit = edits[(kind, index)]
            original, new = edit.original, edit.new
            base = f"/spec/{kind}/{index}/"
            _append_ops(base + "env", original.get("env"), new["env"], ops)
            _append_ops(base + "volumeMounts", original.get("volumeMounts"), new["volumeMounts"], ops)
    if editor.added_init_containers:
        _append_ops(
            "/spec/initContainers", editor.spec.get("initContainers"), editor.new_init_containers, ops
        )
    return ops


def apply_patch(document: Mapping[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """``document`` with the ``add`` operations of ``ops`` applied; ``document`` is not changed.

    Every object on an operation's path is copied once, however many operations pass through it,
    and the rest is shared with ``document`` (treat both as read-only). ValueError for an operation
    other than ``add``, KeyError or IndexError for a path that does not exist: :func:`build_patch`
    writes neither.
    """
    root = dict(document)
    copied = {id(root)}
    for op in ops:
        if op.get("op") != "add":
            raise ValueError(f"apply_patch applies 'add' operations only, not {op.get('op')!r}")
        *steps, last = [unescape_pointer_token(t) for t in str(op["path"]).split("/")[1:]]
        parent: Any = root
        for step in steps:
            index: Any = int(step) if isinstance(parent, list) else step
            child = parent[index]
            if id(child) not in copied:
                child = list(child) if isinstance(child, list) else dict(child)
                copied.add(id(child))
                parent[index] = child
            parent = child
        if not isinstance(parent, list):
            parent[last] = op["value"]
        elif last == "-":
            parent.append(op["value"])
        else:
            parent.insert(int(last), op["value"])
    return root
