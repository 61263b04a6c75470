"""What the file-delivering managers (AWS, GCP, Vault, Azure) share.

- the mount rule: FILE and ANY are files; ENV_VAR is served as a file plus an env export
  (:mod:`tasksecrets.sdk.exports`), unless the config's ``exportEnvVars`` is false, in which case
  the request is refused as Flyte refuses it;
- :func:`deliver_file`: the two path env vars, then for FILE/ANY the request's ``env_var`` holding
  the file path, or for ENV_VAR the export of ``UPPER(_FSEC_<group>_<key>)`` and ``env_var``;
- :func:`add_pull_init_container`: the in-memory volume and the ``<manager>-pull-secret-<N>``
  init container of the sidecar managers, mounted read-only into every other container.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import (
    ENV_PREFIX_VAR,
    SECRET_ENV_PREFIX,
    SECRETS_MOUNT_DIR,
    PodEditor,
    env_value,
    file_path_env_vars,
    join_path,
    secret_env_name,
)
from tasksecrets.injectors.k8s import check_env_var
from tasksecrets.sdk.exports import EXPORT_ANNOTATION, EXPORT_ENV_VAR, format_export_spec, parse_export_spec
from tasksecrets.sdk.secret import MountType, Secret

if TYPE_CHECKING:
    from tasksecrets.webhook.config import Config, ResourceRequirements

__all__ = [
    "add_pull_init_container",
    "check_request",
    "deliver_file",
    "export_enabled",
    "export_env_names",
    "join_path",
    "render_resources",
]

# The env var every container gets when a pod has exports: filled by the kubelet from the annotation.
EXPORT_ENV = {
    "name": EXPORT_ENV_VAR,
    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{EXPORT_ANNOTATION}']"}},
}


def export_enabled(config: Config) -> bool:
    """Whether ENV_VAR requests are served as exported files (``webhook.exportEnvVars``)."""
    return config.webhook.export_env_vars


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
    names = [secret_env_name(secret)]
    if secret.env_var and secret.env_var not in names:
        names.append(secret.env_var)
    return [n for n in names if "=" not in n and "\0" not in n]


def _merged_exports(editor: PodEditor, additions: dict[str, str]) -> str:
    current = editor.get_annotation(EXPORT_ANNOTATION)
    try:
        exports = parse_export_spec(current, source=EXPORT_ANNOTATION) if current else {}
    except ValueError as exc:
        raise InjectionError(f"the pod's annotation {EXPORT_ANNOTATION} is not usable: {exc}") from None
    for name, path in additions.items():
        exports.setdefault(name, path)
    return format_export_spec(exports)


def prepare_exports(secret: Secret, editor: PodEditor, path: str) -> str | None:
    """The new export annotation value for an ENV_VAR request (validated before any edit), else None."""
    if secret.mount_requirement is not MountType.ENV_VAR:
        return None
    # Relative to the secrets directory, so the spec holds wherever the files end up (a local run).
    relative = posixpath.relpath(path, SECRETS_MOUNT_DIR)
    return _merged_exports(editor, dict.fromkeys(export_env_names(secret), relative))


def deliver_file(secret: Secret, editor: PodEditor, *, path: str, exports: str | None) -> None:
    """Path env vars, then the env_var (file path) or, for ENV_VAR, the export of the file's content."""
    env = file_path_env_vars()
    if secret.mount_requirement is MountType.ENV_VAR:
        assert exports is not None
        editor.set_annotation(EXPORT_ANNOTATION, exports)
        env += [env_value(ENV_PREFIX_VAR, SECRET_ENV_PREFIX), dict(EXPORT_ENV)]
    elif secret.env_var:
        env.append(env_value(secret.env_var, path))
    editor.add_env(*env)


def render_resources(resources: ResourceRequirements) -> dict[str, Any]:
    """A ResourceRequirements as a pod carries it (quantities as strings, empty parts left out)."""
    out: dict[str, Any] = {}
    for part in ("limits", "requests"):
        values = getattr(resources, part)
        if values:
            out[part] = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
    if resources.claims:
        out["claims"] = [dict(c) for c in resources.claims]
    return out


def add_pull_init_container(
    editor: PodEditor,
    *,
    volume: str,
    container: dict[str, Any],
    mount_path: str,
) -> None:
    """Add the in-memory ``volume``, ``container`` (named ``...-<N>``) and the read-only mounts.

    ``container`` must already mount ``volume`` where it writes; every other init container and
    container mounts it read-only at ``/etc/flyte/secrets``.
    """
    editor.add_volume({"name": volume, "emptyDir": {"medium": "Memory"}})
    editor.add_init_container(container)
    editor.add_volume_mount({"name": volume, "readOnly": True, "mountPath": mount_path or SECRETS_MOUNT_DIR})
