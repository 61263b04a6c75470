"""How the file-delivering managers (AWS, GCP, Vault, Azure) deliver a request (docs/compat.md section 4).

- the mount rule: FILE and ANY are files; ENV_VAR is served as a file plus an env export
  (:mod:`tasksecrets.sdk.exports`), unless the config's ``exportEnvVars`` is false, in which case
  the request is refused as Flyte refuses it;
- :func:`plan_file` / :func:`deliver_file`: the two path env vars, then for FILE/ANY the request's
  ``env_var`` holding the file path, or for ENV_VAR the export of ``UPPER(_FSEC_<group>_<key>)``
  and ``env_var``; a plan holds names and paths, never values.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, NamedTuple

from tasksecrets.contract import EXPORT_ANNOTATION, EXPORT_ENV_VAR, POD_SECRETS_DIR, MountType
from tasksecrets.errors import InjectionError
from tasksecrets.managers.editor import MappingCodec, PodEditor
from tasksecrets.managers.fragments import (
    check_env_var,
    env_prefix_var,
    env_value,
    file_path_env_vars,
    pod_env_name,
)
from tasksecrets.sdk.exports import format_export_spec, parse_export_spec
from tasksecrets.sdk.secret import Secret

__all__ = [
    "EXPORT_ENV",
    "FilePlan",
    "check_request",
    "deliver_file",
    "export_env_names",
    "merge_exports",
    "plan_file",
    "prepare_exports",
]

# The env var every container gets when a pod has exports: filled by the kubelet from the annotation.
EXPORT_ENV = {
    "name": EXPORT_ENV_VAR,
    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{EXPORT_ANNOTATION}']"}},
}


def check_request(secret: Secret, *, manager: str, export: bool, need_key: bool = True) -> None:
    """Refuse what no file manager can serve: missing group/key, a bad env_var, ENV_VAR when not exporting."""
    missing = [f for f in ("group", "key") if not getattr(secret, f) and (f == "group" or need_key)]
    if missing:
        raise InjectionError(f"{manager} needs {' and '.join(missing)}; the request has no {missing[0]}")
    check_env_var(secret)
    if secret.mount_requirement is MountType.ENV_VAR and not export:
        raise InjectionError(
            f"ENV_VAR is not supported by {manager}, which delivers files, and webhook.exportEnvVars is "
            "false: request mount_requirement=FILE (or ANY), or set exportEnvVars: true so the task's "
            "entrypoint exports the file into the env var"
        )


def export_env_names(secret: Secret) -> list[str]:
    """The env var names an ENV_VAR request is exported into: ``_FSEC_...`` and ``env_var``."""
    names = [pod_env_name(secret)]
    if secret.env_var and secret.env_var not in names:
        names.append(secret.env_var)
    return [n for n in names if "=" not in n and "\0" not in n]


def _parse_exports(text: str) -> dict[str, str]:
    try:
        return parse_export_spec(text, source=EXPORT_ANNOTATION)
    except ValueError as exc:
        raise InjectionError(f"the pod's annotation {EXPORT_ANNOTATION} is not usable: {exc}") from None


# The export annotation is merged into, secret after secret, and written once (see PodEditor).
_EXPORTS = MappingCodec(parse=_parse_exports, render=format_export_spec)


def merge_exports(editor: PodEditor, additions: Mapping[str, str]) -> str:
    """The export annotation's new value: the pod's exports, then ``additions`` it lacks."""
    current = editor.get_annotation(EXPORT_ANNOTATION)
    exports = _parse_exports(current) if current else {}
    for name, path in additions.items():
        exports.setdefault(name, path)
    return format_export_spec(exports)


class FilePlan(NamedTuple):
    """What a request served as a file derives from its names alone (never a value)."""

    path: str  # where the task finds the file
    exports: dict[str, str] | None  # ENV_VAR: env var name -> path relative to the secrets directory
    env: tuple[dict[str, Any], ...]  # what every container gets (the editor copies each entry)


# The two path env vars, and what an ENV_VAR request adds (the editor copies them into each pod).
_FILE_PATH_ENV = tuple(file_path_env_vars())
_EXPORT_ENV = (*_FILE_PATH_ENV, env_prefix_var(), EXPORT_ENV)


def plan_file(secret: Secret, *, path: str) -> FilePlan:
    """The plan for ``secret`` delivered at ``path``: path env vars, then env_var or the exports."""
    if secret.mount_requirement is MountType.ENV_VAR:
        # Relative to the secrets directory, so the spec holds wherever the files end up (a local run).
        relative = posixpath.relpath(path, POD_SECRETS_DIR)
        return FilePlan(path, dict.fromkeys(export_env_names(secret), relative), _EXPORT_ENV)
    if secret.env_var:
        return FilePlan(path, None, (*_FILE_PATH_ENV, env_value(secret.env_var, path)))
    return FilePlan(path, None, _FILE_PATH_ENV)


def prepare_exports(plan: FilePlan, editor: PodEditor) -> Mapping[str, str] | None:
    """The exports an ENV_VAR request adds, else None; checks (before any edit) the pod's own exports.

    InjectionError when the pod's export annotation is not usable.
    """
    if plan.exports is None:
        return None
    editor.check_mapping_annotation(EXPORT_ANNOTATION, codec=_EXPORTS)
    return plan.exports


def deliver_file(plan: FilePlan, editor: PodEditor, *, exports: Mapping[str, str] | None) -> None:
    """Path env vars, then the env_var (file path) or, for ENV_VAR, the export of the file's content."""
    if exports is not None:
        editor.merge_annotation(EXPORT_ANNOTATION, exports, codec=_EXPORTS)
    editor.add_env(*plan.env)
