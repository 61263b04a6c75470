"""RFC 6902 JSON Patch built from a pod editor's recorded edits, with RFC 6901 pointer escaping.

Patch shapes (deterministic, the fewest operations that apply on the original object):
a list the pod lacks (or has as null) is added whole (``add /spec/containers/0/env [...]``);
a list it has gets one ``add .../-`` per new element; annotations are added one key at a time
(``add`` replaces an existing member) or as a whole object when the pod has none. Order:
annotations, volumes (new items of existing volumes first), then each edited container in pod
order (init containers before containers), then the added init containers.
"""

from __future__ import annotations

from typing import Any

from tasksecrets.injectors.base import PodEditor

__all__ = ["build_patch", "escape_pointer_token", "json_pointer"]


def escape_pointer_token(token: str) -> str:
    """RFC 6901: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` (in that order)."""
    return token.replace("~", "~0").replace("/", "~1")


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
    """The RFC 6902 operations that turn the editor's original pod into ``editor.build_pod()``."""
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
    if not spec_exists and (editor.container_edits or editor.new_init_containers or editor.new_volumes):
        # Only reachable for a pod without a spec, which has no containers to edit; keep it valid anyway.
        ops.append({"op": "add", "path": "/spec", "value": {}})
    for index in sorted(editor.volume_item_edits):
        vedit = editor.volume_item_edits[index]
        _append_ops(
            f"/spec/volumes/{index}/secret/items", vedit.original["secret"].get("items"), vedit.new_items, ops
        )
    _append_ops("/spec/volumes", editor.spec.get("volumes"), editor.new_volumes, ops)
    for kind in ("initContainers", "containers"):
        for (edit_kind, index), edit in sorted(editor.container_edits.items(), key=lambda kv: kv[0][1]):
            if edit_kind != kind:
                continue
            base = f"/spec/{kind}/{index}"
            _append_ops(f"{base}/env", edit.original.get("env"), edit.new_env, ops)
            _append_ops(f"{base}/volumeMounts", edit.original.get("volumeMounts"), edit.new_mounts, ops)
    _append_ops("/spec/initContainers", editor.spec.get("initContainers"), editor.new_init_containers, ops)
    return ops
