"""The pod editor every injector works through (docs/compat.md section 4).

An injector never touches a pod: it reads a :class:`~tasksecrets.managers.podview.PodView` and
records edits through a :class:`PodEditor`, which applies the common rules of docs/compat.md once for
everyone (every init container and container, never ephemeral ones; an env var whose name a
container already has is left alone; a mount is skipped where the container already mounts that
volume name). The recorded edits are what the RFC 6902 patch is built from
(:mod:`tasksecrets.admission.patches`); applied to the pod, the patch gives the mutated pod.

Cost: every edit is found by index, never by a scan of the pod (volumes by name and by
``secretName``, a secret volume's items by value, the annotation keys of a prefix, the containers
that can still lack a name), and an annotation merged into secret after secret
(:meth:`PodEditor.merge_annotation`) is read once and written once: a mutation costs time linear in
the pod and in the patch it makes. tests/managers/test_editor_indexes.py checks the indexes against
the scans they replace.

Rule for injector authors: validate first, edit second. An injector that raises after it has
edited the pod leaves the pod half-injected; the mutator then denies the pod whatever the config.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasksecrets.errors import ManifestError
from tasksecrets.managers.podview import PodView
from tasksecrets.sdk.masking import SECURE

__all__ = ["ContainerEdit", "ContainerTarget", "MappingCodec", "PodEditor", "VolumeItemsEdit"]

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

    def __repr__(self) -> str:
        # Names only: the container's env and the appended entries may hold values (Global's).
        added = {part: [entry.get("name") for entry in entries] for part, entries in self.new.items()}
        return f"ContainerEdit(kind={self.kind!r}, index={self.index}, original={SECURE}, added={added!r})"

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
    # The volume's items so far (its own, then the new ones), found by value without a scan.
    seen: _ItemSet | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class MappingCodec:
    """How an annotation holding a ``name -> value`` object is read and written (see ``merge_annotation``).

    ``parse`` raises (an InjectionError, for the mutator to report) when the text is not usable.
    """

    parse: Callable[[str], dict[str, str]]
    render: Callable[[Mapping[str, str]], str]


def _frozen(item: object) -> Hashable | None:
    # A hashable stand-in equal for two dicts exactly when ``==`` says they are equal (same keys, each
    # value ``==``), or None for what has none (not a dict, a non-string key, an unhashable value).
    if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
        return None
    frozen = tuple(sorted(item.items()))
    try:
        hash(frozen)
    except TypeError:
        return None
    return frozen


class _ItemSet:
    """Membership as ``item in some_list`` tests it, without a long scan: hashable dicts in a set.

    A volume holds a few items: below ``SCAN_UP_TO`` the list is scanned (in C, faster than
    hashing). Beyond it, items are kept by a hashable stand-in; what has none (an unhashable value,
    an entry that is not a dict) is kept in a list and scanned, and items of JSON and of the
    injectors have one, so that list stays empty.
    """

    SCAN_UP_TO = 16

    __slots__ = ("_few", "_hashed", "_others")

    def __init__(self, items: Iterable[object] = ()) -> None:
        self._few: list[object] | None = []
        self._hashed: set[Hashable] = set()
        self._others: list[object] = []
        for item in items:
            self.add(item)

    def add(self, item: object) -> None:
        few = self._few
        if few is not None:
            few.append(item)
            if len(few) <= self.SCAN_UP_TO:
                return
            self._few = None
            for kept in few[:-1]:
                self._hash(kept)
        self._hash(item)

    def _hash(self, item: object) -> None:
        frozen = _frozen(item)
        if frozen is None:
            self._others.append(item)
        else:
            self._hashed.add(frozen)

    def __contains__(self, item: object) -> bool:
        if self._few is not None:
            return item in self._few
        frozen = _frozen(item)
        return (frozen is not None and frozen in self._hashed) or (
            bool(self._others) and item in self._others
        )


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
        self._names: set[str] | None = None  # every container's name, once asked for
        self.new_volumes: list[dict[str, Any]] = []
        self.volume_item_edits: dict[int, VolumeItemsEdit] = {}
        self._new_annotations: dict[str, str] = {}
        self.edit_count = 0
        self._targets: list[ContainerTarget] | None = None
        # Every container's edit in the order made (the pod's, then each added init container),
        # listed on first use and kept up to date.
        self._by_creation: list[ContainerEdit] | None = None
        # Per part, for each name appended to every container: how many of ``_by_creation`` held it
        # then. Names are never removed, so only the containers made since can lack it.
        self._spread: dict[str, dict[str, int]] = {ENV: {}, MOUNTS: {}}
        self._indexes = _VolumeIndexes(self._orig_volumes)
        # Annotations whose value is a name -> value object being merged into: rendered when read.
        self._merged: dict[str, tuple[dict[str, str], MappingCodec]] = {}
        self._unrendered: set[str] = set()
        self._unparsable: dict[str, Exception] = {}
        self._keys_by_prefix: dict[str, set[str]] = {}

    # -- reading -----------------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The namespace the pod is created in: the review's, else the pod's own (may be empty)."""
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) else ""

    @property
    def original_annotations(self) -> Mapping[str, Any]:
        """The pod's own annotations, before any edit."""
        return self._orig_annotations

    @property
    def new_annotations(self) -> dict[str, str]:
        """The annotations set so far, in the order first set (read-only: edit through the editor)."""
        for key in self._unrendered:
            entries, codec = self._merged[key]
            self._new_annotations[key] = codec.render(entries)
        self._unrendered.clear()
        return self._new_annotations

    def get_annotation(self, key: str) -> str | None:
        """An annotation as the mutated pod will carry it."""
        if key in self._new_annotations:
            return self.new_annotations[key]
        value = self._orig_annotations.get(key)
        return value if isinstance(value, str) else None

    def annotation_keys(self, prefix: str) -> set[str]:
        """The annotation keys starting with ``prefix`` the mutated pod will carry (read-only).

        Listed once per prefix and kept up to date as annotations are set, so asking for every
        secret costs nothing more.
        """
        keys = self._keys_by_prefix.get(prefix)
        if keys is None:
            keys = self._keys_by_prefix[prefix] = {
                key
                for key in (*self._orig_annotations, *self._new_annotations)
                if isinstance(key, str) and key.startswith(prefix)
            }
        return keys

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

    def container_name_taken(self, name: str) -> bool:
        """Whether an init container or container of the mutated pod is named ``name``."""
        if self._names is None:  # made on first use, kept up to date by add_init_container
            self._names = {target.name for target in self.container_targets()}
        return name in self._names

    def find_volume(self, name: str) -> Mapping[str, Any] | None:
        """The volume of that name in the mutated pod, if any."""
        return self._indexes.by_name.get(name)

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
        self._add_new_volume(volume)
        self.edit_count += 1
        return True

    def add_secret_volume_item(self, *, volume_name: str, secret_name: str, item: dict[str, Any]) -> str:
        """Add ``item`` to the secret volume of ``secret_name``, creating ``volume_name`` if none exists.

        Returns the name of the volume that holds the item, so the caller mounts that one. An item
        with the same key and path that is already there is not repeated.
        """
        # The first volume of that secretName, the pod's before the added ones, found by index.
        i = self._indexes.original_by_secret.get(secret_name)
        if i is not None:
            volume = self._orig_volumes[i]
            source = volume["secret"]
            edit = self.volume_item_edits.get(i)
            if edit is None:
                edit = self.volume_item_edits[i] = VolumeItemsEdit(i, volume)
            existing = _as_list(source.get("items"), f"spec.volumes[{i}].secret.items")
            if edit.seen is None:
                edit.seen = _ItemSet(existing)
            if item not in edit.seen:
                edit.new_items.append(item)
                edit.seen.add(item)
                self.edit_count += 1
            return str(volume.get("name", volume_name))
        added = self._indexes.added_by_secret.get(secret_name)
        if added is not None:
            volume = added[0]
            items = volume["secret"].setdefault("items", [])
            if added[1] is None and isinstance(items, list):
                added[1] = _ItemSet(items)  # only this method appends to the list from now on
            seen = added[1]
            if item not in (items if seen is None else seen):
                items.append(item)
                if seen is not None:
                    seen.add(item)
                self.edit_count += 1
            return str(volume["name"])
        self._add_new_volume(
            {"name": volume_name, "secret": {"secretName": secret_name, "items": [item], "optional": True}}
        )
        self.edit_count += 1
        return volume_name

    def add_init_container(self, container: dict[str, Any]) -> ContainerTarget:
        """Append an init container after the existing ones; the editor owns ``container`` from now on."""
        index = self.init_container_count
        edit = _edit_of(INIT_CONTAINERS, index, container, f"added init container {index}")
        self._added.append(edit)
        if self._by_creation is not None:
            self._by_creation.append(edit)
        if self._names is not None:
            self._names.add(str(container.get("name", "")))
        self.edit_count += 1
        self._targets = None
        return ContainerTarget(INIT_CONTAINERS, index, str(container.get("name", "")), True)

    def set_annotation(self, key: str, value: str, *, keep_existing: bool = False) -> None:
        """Set a pod annotation; with ``keep_existing`` the pod's own value (if any) wins."""
        if keep_existing and key in self._orig_annotations:
            return
        if key in self._merged or key in self._unparsable:  # a value set whole replaces what was read
            self._merged.pop(key, None)
            self._unparsable.pop(key, None)
            self._unrendered.discard(key)
        self._store_annotation(key, value)
        self.edit_count += 1

    def check_mapping_annotation(self, key: str, *, codec: MappingCodec) -> None:
        """Read the annotation ``key`` as ``codec`` reads it, raising what ``codec.parse`` raises.

        For injectors that validate before they edit: the entries read are kept for
        :meth:`merge_annotation`, so the annotation is read once per pod, however many secrets merge.
        """
        self._mapping_of(key, codec)

    def merge_annotation(self, key: str, entries: Mapping[str, str], *, codec: MappingCodec) -> None:
        """Add to the object the annotation ``key`` holds the ``entries`` it lacks (its own are kept).

        The annotation's value is what ``codec.render`` writes of the merged object, rendered once
        when read rather than at every merge; the first merge sets it even when nothing is new.
        """
        merged = self._mapping_of(key, codec)
        for name, value in entries.items():
            merged.setdefault(name, value)
        if key not in self._new_annotations:
            self._store_annotation(key, "")
        self._unrendered.add(key)
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

    def _store_annotation(self, key: str, value: str) -> None:
        self._new_annotations[key] = value
        for prefix, keys in self._keys_by_prefix.items():
            if key.startswith(prefix):
                keys.add(key)

    def _mapping_of(self, key: str, codec: MappingCodec) -> dict[str, str]:
        found = self._merged.get(key)
        if found is None:
            refused = self._unparsable.get(key)
            if refused is not None:  # read once: the same text is refused for every secret asking
                raise refused.with_traceback(None)
            current = self.get_annotation(key)
            try:
                found = self._merged[key] = (codec.parse(current) if current else {}, codec)
            except Exception as exc:
                self._unparsable[key] = exc
                raise
        return found[0]

    def _add_new_volume(self, volume: dict[str, Any]) -> None:
        self.new_volumes.append(volume)
        self._indexes.add_new(volume)

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
        if targets is not None:
            base = len(self._orig[INIT_CONTAINERS])
            edits = [
                self._added[t.index - base] if t.is_new else self._container_edit(t.kind, t.index)
                for t in targets
            ]
            self.edit_count += _append_to(edits, part, items)
            return
        # Every container: only those made since a name was last appended everywhere can lack it.
        # Each container gets the items in the order given, as when they are appended one by one.
        if self._by_creation is None:
            self._by_creation = self._edits_in_target_order()
        # One pass from the earliest of those containers: a container that already holds a name
        # skips it, so each container gets what it lacks, in the order given.
        spread, made = self._spread[part], self._by_creation
        items = items if isinstance(items, (list, tuple)) else list(items)
        start = len(made)
        for item in items:
            held_by = spread.get(item["name"], 0)
            if held_by < start:
                start = held_by
        self.edit_count += _append_to(made[start:], part, items)
        for item in items:
            spread[item["name"]] = len(made)

    def _edits_in_target_order(self) -> list[ContainerEdit]:
        inits = [self._container_edit(INIT_CONTAINERS, i) for i in range(len(self._orig[INIT_CONTAINERS]))]
        mains = [self._container_edit(CONTAINERS, i) for i in range(len(self._orig[CONTAINERS]))]
        return [*inits, *self._added, *mains]


def _append_to(edits: Iterable[ContainerEdit], part: str, items: Iterable[dict[str, Any]]) -> int:
    """Append to each container's ``part`` a copy of each item whose name it lacks; how many were added."""
    added = 0
    for edit in edits:
        names, into = edit.names[part], edit.new[part]
        for item in items:
            name = item["name"]
            if name not in names:
                into.append(dict(item))
                names.add(name)
                added += 1
    return added


class _VolumeIndexes:
    """The pod's volumes by name and by ``secretName`` (the first of each), kept up to date.

    Built from the original volumes (entries that are not objects are skipped, as a scan skips
    them; names and secret names that cannot be keys cannot equal a name either).
    """

    def __init__(self, volumes: list[Any]) -> None:
        self.by_name: dict[Any, Mapping[str, Any]] = {}
        self.original_by_secret: dict[Any, int] = {}
        # An added secret volume of each secretName, with its items' set once one is merged in.
        self.added_by_secret: dict[Any, list[Any]] = {}
        for i, volume in enumerate(volumes):
            if isinstance(volume, dict):
                _index_first(self.by_name, volume.get("name"), volume)
                source = volume.get("secret")
                if isinstance(source, dict):
                    _index_first(self.original_by_secret, source.get("secretName"), i)

    def add_new(self, volume: dict[str, Any]) -> None:
        _index_first(self.by_name, volume.get("name"), volume)
        source = volume.get("secret")
        if isinstance(source, dict):
            _index_first(self.added_by_secret, source.get("secretName"), [volume, None])


def _index_first(index: dict[Any, Any], key: object, value: object) -> None:
    # try/except rather than contextlib.suppress: this runs for every volume of every pod.
    try:  # noqa: SIM105
        index.setdefault(key, value)
    except TypeError:  # an unhashable name (a list) equals no name looked up
        pass


def _edit_of(kind: str, index: int, container: Mapping[str, Any], where: str) -> ContainerEdit:
    env = _as_list(container.get(ENV), f"{where}.{ENV}")
    mounts = _as_list(container.get(MOUNTS), f"{where}.{MOUNTS}")
    names = {
        ENV: {str(e.get("name")) for e in env if isinstance(e, dict)},
        MOUNTS: {str(m.get("name")) for m in mounts if isinstance(m, dict)},
    }
    return ContainerEdit(kind, index, container, names, {ENV: [], MOUNTS: []})
