"""The base of the pull-container managers (AWS, GCP, Azure): one init container per secret.

Each secret gets a ``<prefix>-<N>`` init container (N: the init containers before it, or the next
number no container of the pod has) that pulls it into an in-memory volume, mounted read-only at
``/etc/flyte/secrets`` in every other container.
A subclass sets ``name``, ``volume`` and ``container_prefix`` and derives a :class:`PullPlan` in
:meth:`PullInjector.plan_secret`, which validates the request. Plans hold names and paths only and
are remembered per Secret, so a request seen before is not validated again.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from tasksecrets.contract import POD_SECRETS_DIR
from tasksecrets.managers.delivery import FilePlan, deliver_file, prepare_exports
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.managers.settings import SidecarSettings
from tasksecrets.sdk.secret import Secret

__all__ = ["PullInjector", "PullPlan", "add_pull_init_container", "free_container_name"]


class PullPlan(NamedTuple):
    """A file plan plus the pull init container's fields but its name (copied for each pod)."""

    file: FilePlan
    container: dict[str, Any]


class PullInjector:
    """The pull-container managers' shared flow (see the module docstring)."""

    name: ClassVar[str]
    volume: ClassVar[str]
    container_prefix: ClassVar[str]
    deterministic: ClassVar[bool] = True
    carries_values: ClassVar[bool] = False

    def __init__(self, settings: SidecarSettings, *, export: bool = True) -> None:
        self.settings = settings
        self.export = export
        self._resources = settings.resources.render()
        self._plans = SecretMemo(self.plan_secret)

    @classmethod
    def from_config(cls, section: SidecarSettings, *, shared: SharedSettings) -> PullInjector:
        """From its section (image, resources) and ``webhook.exportEnvVars``."""
        return cls(section, export=shared.export_env_vars)

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Validate ``secret`` and derive its plan; InjectionError when this manager cannot serve it."""
        raise NotImplementedError

    def pull_container(self, *, path_mount: str, **fields: Any) -> dict[str, Any]:
        """The init container's fields but its name: image, ``fields``, the volume's mount, resources."""
        return {
            "image": self.settings.sidecar_image,
            **fields,
            "volumeMounts": [{"name": self.volume, "mountPath": path_mount}],
            "resources": self._resources,
        }

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Add the init container, volume, mounts and env vars; InjectionError when not servable."""
        plan = self._plans(secret)
        exports = prepare_exports(plan.file, editor)
        container: dict[str, Any] = {"name": free_container_name(editor, self.container_prefix)}
        for key, value in plan.container.items():
            # A fresh copy one level down: the editor appends to the lists, and no pod shares them.
            if isinstance(value, list):
                container[key] = [dict(v) if isinstance(v, dict) else v for v in value]
            else:
                container[key] = dict(value) if isinstance(value, dict) else value
        add_pull_init_container(editor, volume=self.volume, container=container)
        deliver_file(plan.file, editor, exports=exports)
        return True


def free_container_name(editor: PodEditor, prefix: str) -> str:
    """``<prefix>-<N>``, N the init containers before it, or the next N no container of the pod has.

    Flyte names it ``<prefix>-<N>`` whatever the pod holds; a pod that already has a container of
    that name would then be rejected for a duplicate name (docs/compat.md, differences).
    """
    number = editor.init_container_count
    while editor.container_name_taken(f"{prefix}-{number}"):
        number += 1
    return f"{prefix}-{number}"


def add_pull_init_container(editor: PodEditor, *, volume: str, container: dict[str, Any]) -> None:
    """Add the in-memory ``volume``, ``container`` (named ``...-<N>``) and the read-only mounts.

    ``container`` must already mount ``volume`` where it writes; every other init container and
    container mounts it read-only at ``/etc/flyte/secrets``.
    """
    editor.add_volume({"name": volume, "emptyDir": {"medium": "Memory"}})
    editor.add_init_container(container)
    editor.add_volume_mount({"name": volume, "readOnly": True, "mountPath": POD_SECRETS_DIR})
