"""The pod editor every injector works through (compat.md section 4).

An injector never touches a pod: it reads a :class:`~tasksecrets.managers.podview.PodView` and
records edits through a :class:`PodEditor`, which applies the common rules of compat.md once for
everyone (every init container and container, never ephemeral ones; an env var whose name a
container already has is left alone; a mount is skipped where the container already mounts that
volume name). The recorded edits are what the RFC 6902 patch is built from
(:mod:`tasksecrets.admission.patches`); applied to the pod, the patch gives the mutated pod.

Rule for injector authors: validate first, edit second. An injector that raises after it has
edited the pod leaves the pod half-injected; the mutator then denies the pod whatever the config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasksecrets.errors import ManifestError
from tasksecrets.managers.podview import PodView

__all__ = ["ContainerEdit", "ContainerTarget", "PodEditor", "VolumeItemsEdit"]

INIT_CONTAINERS = "initContainers"
CONTAINERS = "containers"


@dataclass(frozen=True)
class ContainerTarget:
    """A container an edit may apply to: ``kind`` is ``initContainers`` or ``containers``."""

    kind: str
    index: int
    name: str
    is_new: bool


@dataclass
class ContainerEdit:
    """What the editor appends to one container of the original pod."""

    kind: str
    index: int
    original: Mapping[str, Any]
    env_names: set[str]
    mount_names: set[str]
    new_env: list[dict[str, Any]] = field(default_factory=list)
    new_mounts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class VolumeItemsEdit:
    """Items appended to a secret volume that already existed in the original pod."""

    index: int
    original: Mapping[str, Any]
    new_items: list[dict[str, Any]] = field(default_factory=list)


def _as_list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{where} must be a list, got {type(value).__name__}")
    return value


def _as_dict(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be an object, got {type(value).__name__}")
    return value


class PodEditor:
    """Records edits to a pod's view without changing it; see the module docstring for the rules.

    ``PodEditor(pod)`` takes the view of ``pod``; pass a :class:`PodView` to reuse one. The view is
    only read; ManifestError when it is not a pod the editor can work with.
    """

    def __init__(self, pod: PodView | Mapping[str, Any]) -> None:
        view = pod if isinstance(pod, PodView) else PodView.of(pod)
        data = view.data
        if not isinstance(data, dict):
            raise ManifestError(f"a pod must be a JSON object, got {type(data).__name__}")
        self.view = view
        self.pod: Mapping[str, Any] = data
        self.metadata = _as_dict(data.get("metadata"), "metadata")
        self.spec = _as_dict(data.get("spec"), "spec")
        self._orig_annotations = _as_dict(self.metadata.get("annotations"), "metadata.annotations")
        self._orig: dict[str, list[Any]] = {
            INIT_CONTAINERS: _as_list(self.spec.get(INIT_CONTAINERS), "spec.initContainers"),
            CONTAINERS: _as_list(self.spec.get(CONTAINERS), "spec.containers"),
        }
        for kind, items in self._orig.items():
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ManifestError(f"spec.{kind}[{i}] must be an object, got {type(item).__name__}")
        self._orig_volumes = _as_list(self.spec.get("volumes"), "spec.volumes")
        self.container_edits: dict[tuple[str, int], ContainerEdit] = {}
        self.new_init_containers: list[dict[str, Any]] = []
        self.new_volumes: list[dict[str, Any]] = []
        self.volume_item_edits: dict[int, VolumeItemsEdit] = {}
        self.new_annotations: dict[str, str] = {}
        self.edit_count = 0
        self._targets: list[ContainerTarget] | None = None
        # The edit of every original container in target order, for edits aimed at all targets
        # while no init container was added (the common case, and the hot path of the webhook).
        self._all_edits: list[ContainerEdit] | None = None
        # Env and mount names of each added init container, by position, once first needed.
        self._new_env_names: dict[int, set[Any]] = {}
        self._new_mount_names: dict[int, set[Any]] = {}

    # -- reading -----------------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The pod's namespace as the request carried it (may be empty)."""
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def original_annotations(self) -> Mapping[str, Any]:
        """The pod's own annotations, before any edit."""
        return self._orig_annotations

    def get_annotation(self, key: str) -> str | None:
        """An annotation as the mutated pod will carry it."""
        if key in self.new_annotations:
            return self.new_annotations[key]
        value = self._orig_annotations.get(key)
        return value if isinstance(value, str) else None

    def container_targets(self) -> list[ContainerTarget]:
        """Init containers (original, then added ones), then containers: Flyte's order of application."""
        if self._targets is None:
            self._targets = self._list_targets()
        return list(self._targets)

    def _list_targets(self) -> list[ContainerTarget]:
        targets = [
            ContainerTarget(INIT_CONTAINERS, i, str(c.get("name", "")), False)
            for i, c in enumerate(self._orig[INIT_CONTAINERS])
        ]
        base = len(self._orig[INIT_CONTAINERS])
        targets += [
            ContainerTarget(INIT_CONTAINERS, base + i, str(c.get("name", "")), True)
            for i, c in enumerate(self.new_init_containers)
        ]
        targets += [
            ContainerTarget(CONTAINERS, i, str(c.get("name", "")), False)
            for i, c in enumerate(self._orig[CONTAINERS])
        ]
        return targets

    @property
    def init_container_count(self) -> int:
        """How many init containers the pod has now (original plus added)."""
        return len(self._orig[INIT_CONTAINERS]) + len(self.new_init_containers)

    def find_volume(self, name: str) -> Mapping[str, Any] | None:
        """The volume of that name in the mutated pod, if any."""
        for volume in self._iter_volumes():
            if volume.get("name") == name:
                return volume
        return None

    # -- editing -----------------------------------------------------------------------------------

    def add_env(self, *env: dict[str, Any], targets: Iterable[ContainerTarget] | None = None) -> None:
        """Append env vars to every target container (default: all), skipping names it already has."""
        if targets is None:
            # Every container: no targets to build; added init containers are independent of the rest.
            added = 0
            for edit in self._all_edits or self._original_edits():
                names, new_env = edit.env_names, edit.new_env
                for var in env:
                    name = var["name"]
                    if name not in names:
                        new_env.append(dict(var))
                        names.add(name)
                        added += 1
            self.edit_count += added
            for i in range(len(self.new_init_containers)):
                self._add_new_container_env(i, env)
            return
        base = len(self._orig[INIT_CONTAINERS])
        for target in targets:
            if target.is_new:
                self._add_new_container_env(target.index - base, env)
                continue
            edit = self._container_edit(target.kind, target.index)
            for var in env:
                if var["name"] not in edit.env_names:
                    edit.new_env.append(dict(var))
                    edit.env_names.add(var["name"])
                    self.edit_count += 1

    def add_volume_mount(
        self, mount: dict[str, Any], *, targets: Iterable[ContainerTarget] | None = None
    ) -> None:
        """Mount a volume into every target container (default: all) that does not mount it yet."""
        name = mount["name"]
        if targets is None:
            for edit in self._all_edits or self._original_edits():
                if name not in edit.mount_names:
                    edit.new_mounts.append(dict(mount))
                    edit.mount_names.add(name)
                    self.edit_count += 1
            for i in range(len(self.new_init_containers)):
                self._add_new_container_mount(i, mount)
            return
        base = len(self._orig[INIT_CONTAINERS])
        for target in targets:
            if target.is_new:
                self._add_new_container_mount(target.index - base, mount)
                continue
            edit = self._container_edit(target.kind, target.index)
            if name not in edit.mount_names:
                edit.new_mounts.append(dict(mount))
                edit.mount_names.add(name)
                self.edit_count += 1

    def add_volume(self, volume: dict[str, Any]) -> bool:
        """Add a volume unless one of that name exists; True if added."""
        if self.find_volume(volume["name"]) is not None:
            return False
        self.new_volumes.append(volume)
        self.edit_count += 1
        return True

    def add_secret_volume_item(self, *, volume_name: str, secret_name: str, item: dict[str, Any]) -> str:
        """Add ``item`` to the secret volume of ``secret_name``, creating ``volume_name`` if none exists.

        Returns the name of the volume that holds the item, so the caller mounts that one. An item
        with the same key and path that is already there is not repeated.
        """
        for i, volume in enumerate(self._orig_volumes):
            source = volume.get("secret") if isinstance(volume, dict) else None
            if isinstance(source, dict) and source.get("secretName") == secret_name:
                edit = self.volume_item_edits.get(i)
                if edit is None:
                    edit = self.volume_item_edits[i] = VolumeItemsEdit(i, volume)
                existing = _as_list(source.get("items"), f"spec.volumes[{i}].secret.items")
                if item not in existing and item not in edit.new_items:
                    edit.new_items.append(item)
                    self.edit_count += 1
                return str(volume.get("name", volume_name))
        for volume in self.new_volumes:
            source = volume.get("secret")
            if isinstance(source, dict) and source.get("secretName") == secret_name:
                items = source.setdefault("items", [])
                if item not in items:
                    items.append(item)
                    self.edit_count += 1
                return str(volume["name"])
        self.new_volumes.append(
            {"name": volume_name, "secret": {"secretName": secret_name, "items": [item], "optional": True}}
        )
        self.edit_count += 1
        return volume_name

    def add_init_container(self, container: dict[str, Any]) -> ContainerTarget:
        """Append an init container after the existing ones; the editor owns ``container`` from now on."""
        self.new_init_containers.append(container)
        self.edit_count += 1
        self._targets = None
        return ContainerTarget(
            INIT_CONTAINERS, self.init_container_count - 1, str(container.get("name", "")), True
        )

    def set_annotation(self, key: str, value: str, *, keep_existing: bool = False) -> None:
        """Set a pod annotation; with ``keep_existing`` the pod's own value (if any) wins."""
        if keep_existing and key in self._orig_annotations:
            return
        self.new_annotations[key] = value
        self.edit_count += 1

    # -- results -----------------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        """Whether any edit was recorded."""
        return self.edit_count > 0

    # -- internals ---------------------------------------------------------------------------------

    def _container_edit(self, kind: str, index: int) -> ContainerEdit:
        edit = self.container_edits.get((kind, index))
        if edit is None:
            container = self._orig[kind][index]
            where = f"spec.{kind}[{index}]"
            env = _as_list(container.get("env"), f"{where}.env")
            mounts = _as_list(container.get("volumeMounts"), f"{where}.volumeMounts")
            edit = ContainerEdit(
                kind,
                index,
                container,
                {str(e.get("name")) for e in env if isinstance(e, dict)},
                {str(m.get("name")) for m in mounts if isinstance(m, dict)},
            )
            self.container_edits[(kind, index)] = edit
        return edit

    def _add_new_container_env(self, i: int, env: tuple[dict[str, Any], ...]) -> None:
        # An added init container is edited in place (the editor owns it); its names are kept aside.
        container = self.new_init_containers[i]
        present = container.setdefault("env", [])
        names = self._new_env_names.get(i)
        if names is None:
            names = self._new_env_names[i] = {e.get("name") for e in present}
        for var in env:
            if var["name"] not in names:
                present.append(dict(var))
                names.add(var["name"])
                self.edit_count += 1

    def _add_new_container_mount(self, i: int, mount: dict[str, Any]) -> None:
        mounts = self.new_init_containers[i].setdefault("volumeMounts", [])
        names = self._new_mount_names.get(i)
        if names is None:
            names = self._new_mount_names[i] = {m.get("name") for m in mounts}
        if mount["name"] not in names:
            mounts.append(dict(mount))
            names.add(mount["name"])
            self.edit_count += 1

    def _original_edits(self) -> list[ContainerEdit]:
        # The targets' order while no init container was added: init containers, then containers.
        edits = [self._container_edit(INIT_CONTAINERS, i) for i in range(len(self._orig[INIT_CONTAINERS]))]
        edits += [self._container_edit(CONTAINERS, i) for i in range(len(self._orig[CONTAINERS]))]
        self._all_edits = edits
        return edits

    def _iter_volumes(self) -> Iterable[Mapping[str, Any]]:
        for volume in self._orig_volumes:
            if isinstance(volume, dict):
                yield volume
        yield from self.new_volumes
