"""The pod editor every injector works through (docs/compat.md section 4).

An injector never touches a pod: it reads a :class:`~tasksecrets.managers.podview.PodView` and
records edits through a :class:`PodEditor`, which applies the common rules of docs/compat.md once for
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
ENV, MOUNTS = "env", "volumeMounts"


@dataclass(frozen=True)
class ContainerTarget:
    """A container an edit may apply to: ``kind`` is ``initContainers`` or ``containers``."""

    kind: str
    index: int
    name: str
    is_new: bool


@dataclass(slots=True)
class ContainerEdit:
    """What the editor appends to one container: of the pod, or one an injector added.

    ``names[field]`` are the names the container's ``env`` or ``volumeMounts`` hold so far,
    ``new[field]`` the entries appended to it.
    """

    kind: str
    index: int
    original: Mapping[str, Any]
    names: dict[str, set[str]]
    new: dict[str, list[dict[str, Any]]]

    @property
    def new_env(self) -> list[dict[str, Any]]:
        return self.new[ENV]

    @property
    def new_mounts(self) -> list[dict[str, Any]]:
        return self.new[MOUNTS]

    def edited(self) -> dict[str, Any]:
        """The container with what was appended (for an added container, which the patch adds whole)."""
        container = dict(self.original)
        for part, added in self.new.items():
            if added:
                container[part] = [*_as_list(self.original.get(part), part), *added]
        return container


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
        self.container_edits: dict[tuple[str, int], ContainerEdit] = {}  # of the pod's own containers
        self._added: list[ContainerEdit] = []  # the init containers injectors added, in order
        self.new_volumes: list[dict[str, Any]] = []
        self.volume_item_edits: dict[int, VolumeItemsEdit] = {}
        self.new_annotations: dict[str, str] = {}
        self.edit_count = 0
        self._targets: list[ContainerTarget] | None = None
        # Every container's edit in target order, made on first use and kept up to date.
        self._every_edit: list[ContainerEdit] | None = None

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
            ContainerTarget(INIT_CONTAINERS, base + i, str(e.original.get("name", "")), True)
            for i, e in enumerate(self._added)
        ]
        targets += [
            ContainerTarget(CONTAINERS, i, str(c.get("name", "")), False)
            for i, c in enumerate(self._orig[CONTAINERS])
        ]
        return targets

    @property
    def init_container_count(self) -> int:
        """How many init containers the pod has now (original plus added)."""
        return len(self._orig[INIT_CONTAINERS]) + len(self._added)

    def find_volume(self, name: str) -> Mapping[str, Any] | None:
        """The volume of that name in the mutated pod, if any."""
        for volume in self._iter_volumes():
            if volume.get("name") == name:
                return volume
        return None

    # -- editing -----------------------------------------------------------------------------------

    def add_env(self, *env: dict[str, Any], targets: Iterable[ContainerTarget] | None = None) -> None:
        """Append env vars to every target container (default: all), skipping names it already has."""
        self._append(ENV, env, targets)

    def add_volume_mount(
        self, mount: dict[str, Any], *, targets: Iterable[ContainerTarget] | None = None
    ) -> None:
        """Mount a volume into every target container (default: all) that does not mount it yet."""
        self._append(MOUNTS, (mount,), targets)

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
        index = self.init_container_count
        edit = _edit_of(INIT_CONTAINERS, index, container, f"added init container {index}")
        self._added.append(edit)
        if self._every_edit is not None:  # after the init containers there were, before the containers
            self._every_edit.insert(index, edit)
        self.edit_count += 1
        self._targets = None
        return ContainerTarget(INIT_CONTAINERS, index, str(container.get("name", "")), True)

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

    @property
    def added_init_containers(self) -> int:
        """How many init containers injectors added."""
        return len(self._added)

    @property
    def added_edits(self) -> list[ContainerEdit]:
        """The edits of the added init containers, in order (read-only; for the validity check)."""
        return self._added

    @property
    def new_init_containers(self) -> list[dict[str, Any]]:
        """The added init containers, as the mutated pod carries them."""
        return [edit.edited() for edit in self._added]

    # -- internals ---------------------------------------------------------------------------------

    def _container_edit(self, kind: str, index: int) -> ContainerEdit:
        edit = self.container_edits.get((kind, index))
        if edit is None:
            container = self._orig[kind][index]
            edit = self.container_edits[(kind, index)] = _edit_of(
                kind, index, container, f"spec.{kind}[{index}]"
            )
        return edit

    def _append(
        self, part: str, items: Iterable[dict[str, Any]], targets: Iterable[ContainerTarget] | None
    ) -> None:
        # Each item whose name the container's part does not hold yet, copied (no two containers
        # share an entry).
        if targets is None:
            if self._every_edit is None:
                self._every_edit = self._edits_in_target_order()
            edits = self._every_edit
        else:
            base = len(self._orig[INIT_CONTAINERS])
            edits = [
                self._added[t.index - base] if t.is_new else self._container_edit(t.kind, t.index)
                for t in targets
            ]
        added = 0
        for edit in edits:
            names, into = edit.names[part], edit.new[part]
            for item in items:
                name = item["name"]
                if name not in names:
                    into.append(dict(item))
                    names.add(name)
                    added += 1
        self.edit_count += added

    def _edits_in_target_order(self) -> list[ContainerEdit]:
        inits = [self._container_edit(INIT_CONTAINERS, i) for i in range(len(self._orig[INIT_CONTAINERS]))]
        mains = [self._container_edit(CONTAINERS, i) for i in range(len(self._orig[CONTAINERS]))]
        return [*inits, *self._added, *mains]

    def _iter_volumes(self) -> Iterable[Mapping[str, Any]]:
        for volume in self._orig_volumes:
            if isinstance(volume, dict):
                yield volume
        yield from self.new_volumes


def _edit_of(kind: str, index: int, container: Mapping[str, Any], where: str) -> ContainerEdit:
    env = _as_list(container.get(ENV), f"{where}.{ENV}")
    mounts = _as_list(container.get(MOUNTS), f"{where}.{MOUNTS}")
    names = {
        ENV: {str(e.get("name")) for e in env if isinstance(e, dict)},
        MOUNTS: {str(m.get("name")) for m in mounts if isinstance(m, dict)},
    }
    return ContainerEdit(kind, index, container, names, {ENV: [], MOUNTS: []})
