"""What the file-delivering managers (AWS, GCP, Vault, Azure) share.

- the mount rule: FILE and ANY are files; ENV_VAR is served as a file plus an env export
  (:mod:`tasksecrets.sdk.exports`), unless the config's ``exportEnvVars`` is false, in which case
  the request is refused as Flyte refuses it;
- :func:`plan_file` / :func:`deliver_file`: the two path env vars, then for FILE/ANY the request's
  ``env_var`` holding the file path, or for ENV_VAR the export of ``UPPER(_FSEC_<group>_<key>)``
  and ``env_var``; the plan is derived once per Secret (names and paths, never values);
- :class:`PullInjector` and :func:`add_pull_init_container`: the in-memory volume and the
  ``<manager>-pull-secret-<N>`` init container of the sidecar managers (AWS, GCP, Azure), mounted
  read-only into every other container.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import (
    ENV_PREFIX_VAR,
    SECRET_ENV_PREFIX,
    SECRETS_MOUNT_DIR,
    PodEditor,
    SecretMemo,
    env_value,
    file_path_env_vars,
    secret_env_name,
)
from tasksecrets.injectors.k8s import check_env_var
from tasksecrets.sdk.exports import EXPORT_ANNOTATION, EXPORT_ENV_VAR, format_export_spec, parse_export_spec
from tasksecrets.sdk.secret import MountType, Secret

if TYPE_CHECKING:
    from tasksecrets.webhook.config import Config, ResourceRequirements, SidecarManagerConfig

__all__ = [
    "EXPORT_ENV",
    "FilePlan",
    "PullInjector",
    "PullPlan",
    "add_pull_init_container",
    "check_request",
    "deliver_file",
    "export_enabled",
    "export_env_names",
    "merge_exports",
    "plan_file",
    "prepare_exports",
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


def merge_exports(editor: PodEditor, additions: Mapping[str, str]) -> str:
    """The export annotation's new value: the pod's exports, then ``additions`` it lacks."""
    current = editor.get_annotation(EXPORT_ANNOTATION)
    try:
        exports = parse_export_spec(current, source=EXPORT_ANNOTATION) if current else {}
    except ValueError as exc:
        raise InjectionError(f"the pod's annotation {EXPORT_ANNOTATION} is not usable: {exc}") from None
    for name, path in additions.items():
        exports.setdefault(name, path)
    return format_export_spec(exports)


class FilePlan(NamedTuple):
    """What a request served as a file derives from its names alone (never a value), per Secret."""

    path: str  # where the task finds the file
    exports: dict[str, str] | None  # ENV_VAR: env var name -> path relative to the secrets directory
    env: tuple[dict[str, Any], ...]  # what every container gets (the editor copies each entry)


# The two path env vars, and what an ENV_VAR request adds (the editor copies them into each pod).
_FILE_PATH_ENV = tuple(file_path_env_vars())
_EXPORT_ENV = (*_FILE_PATH_ENV, env_value(ENV_PREFIX_VAR, SECRET_ENV_PREFIX), EXPORT_ENV)


def plan_file(secret: Secret, *, path: str) -> FilePlan:
    """The plan for ``secret`` delivered at ``path``: path env vars, then env_var or the exports."""
    if secret.mount_requirement is MountType.ENV_VAR:
        # Relative to the secrets directory, so the spec holds wherever the files end up (a local run).
        relative = posixpath.relpath(path, SECRETS_MOUNT_DIR)
        return FilePlan(path, dict.fromkeys(export_env_names(secret), relative), _EXPORT_ENV)
    if secret.env_var:
        return FilePlan(path, None, (*_FILE_PATH_ENV, env_value(secret.env_var, path)))
    return FilePlan(path, None, _FILE_PATH_ENV)


def prepare_exports(plan: FilePlan, editor: PodEditor) -> str | None:
    """The new export annotation value for an ENV_VAR request (to compute before any edit), else None."""
    return None if plan.exports is None else merge_exports(editor, plan.exports)


def deliver_file(plan: FilePlan, editor: PodEditor, *, exports: str | None) -> None:
    """Path env vars, then the env_var (file path) or, for ENV_VAR, the export of the file's content."""
    if exports is not None:
        editor.set_annotation(EXPORT_ANNOTATION, exports)
    editor.add_env(*plan.env)


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


class PullPlan(NamedTuple):
    """A file plan plus the pull init container's fields but its name (copied for each pod)."""

    file: FilePlan
    container: dict[str, Any]


class PullInjector:
    """The sidecar managers' shared flow: one ``<prefix>-<N>`` init container per secret.

    Each pulls its secret into the in-memory volume ``volume``, mounted read-only at
    ``/etc/flyte/secrets`` in every other container. A subclass sets ``name``, ``volume`` and
    ``container_prefix``, builds itself from its config section and derives a :class:`PullPlan`
    in :meth:`plan_secret`, which validates the request. Plans are remembered per Secret (they hold
    names and paths only), so a request seen before is not validated again.
    """

    name: ClassVar[str]
    volume: ClassVar[str]
    container_prefix: ClassVar[str]

    def __init__(self, config: SidecarManagerConfig, *, export: bool = True) -> None:
        self.config = config
        self.export = export
        self._resources = render_resources(config.resources)
        self._plans = SecretMemo(self.plan_secret)

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Validate ``secret`` and derive its plan; InjectionError when this manager cannot serve it."""
        raise NotImplementedError

    def pull_container(self, *, path_mount: str, **fields: Any) -> dict[str, Any]:
        """The init container's fields but its name: image, ``fields``, the volume's mount, resources."""
        return {
            "image": self.config.sidecar_image,
            **fields,
            "volumeMounts": [{"name": self.volume, "mountPath": path_mount}],
            "resources": self._resources,
        }

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Add the init container, volume, mounts and env vars; InjectionError when not servable."""
        plan = self._plans(secret)
        exports = prepare_exports(plan.file, editor)
        container: dict[str, Any] = {"name": f"{self.container_prefix}-{editor.init_container_count}"}
        for key, value in plan.container.items():
            # A fresh copy one level down: the editor appends to the lists, and no pod shares them.
            if isinstance(value, list):
                container[key] = [dict(v) if isinstance(v, dict) else v for v in value]
            else:
                container[key] = dict(value) if isinstance(value, dict) else value
        add_pull_init_container(editor, volume=self.volume, container=container)
        deliver_file(plan.file, editor, exports=exports)
        return True


def add_pull_init_container(editor: PodEditor, *, volume: str, container: dict[str, Any]) -> None:
    """Add the in-memory ``volume``, ``container`` (named ``...-<N>``) and the read-only mounts.

    ``container`` must already mount ``volume`` where it writes; every other init container and
    container mounts it read-only at ``/etc/flyte/secrets``.
    """
    editor.add_volume({"name": volume, "emptyDir": {"medium": "Memory"}})
    editor.add_init_container(container)
    editor.add_volume_mount(_read_only_mount(volume))


def _read_only_mount(volume: str) -> dict[str, Any]:
    return {"name": volume, "readOnly": True, "mountPath": SECRETS_MOUNT_DIR}
