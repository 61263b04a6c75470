"""What the API server checks of what the managers add to a pod, checked before the pod is admitted.

A webhook that admits a pod the API server then rejects gives the user an error from far away,
naming none of the secrets. :class:`AddedObjectsCheck` applies the API server's rules
(``k8s.io/kubernetes`` ``pkg/apis/core/validation``, ``apimachinery/pkg/util/validation``) to each
object the injectors add (the mutator checks a pod once, and replays a pod to deny to name the
secret that broke a rule):

- volume and container names: DNS-1123 labels (at most 63 of ``[a-z0-9-]``, alphanumeric at
  both ends); container names unique across init containers and containers, volume names unique;
- a secret volume's items: the key a ConfigMap key (at most 253 of ``[-._a-zA-Z0-9]``, not ``.``
  or ``..`` nor starting with ``..``), the path relative, without a ``..`` element, not starting
  with ``..`` (the API server checks the path; a key outside that rule names no key a Secret can
  hold); a ``secretKeyRef``: its name a DNS-1123 subdomain, its key a ConfigMap key (the API
  server checks both; it does not check a secret volume's ``secretName``, nor do we);
- env var names: ``[-._a-zA-Z][-._a-zA-Z0-9]*``, not ``.``, ``..`` nor starting with ``..``: the
  rule every API server applies (1.32 and later can relax it, older ones cannot);
- volume mounts: of a volume the pod has, at a path the container does not mount yet;
- annotation keys: qualified names (an optional DNS subdomain prefix and ``/``, a name of at most
  63 characters); all of the pod's annotations together at most 256 KiB (keys and values, in
  bytes), checked once injectors have added one.

Only what the injectors add is checked, never what the pod had, and each object once. Names
only ever appear in the problems, never an env var's value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import islice
from typing import Any

from tasksecrets.contract import MAX_ANNOTATION_BYTES
from tasksecrets.managers.editor import ContainerEdit, PodEditor

__all__ = [
    "MAX_KEY",
    "MAX_LABEL",
    "MAX_SUBDOMAIN",
    "AddedObjectsCheck",
    "is_config_map_key",
    "is_dns_label",
    "is_dns_subdomain",
    "is_kube_env_var_name",
    "label_value_problem",
    "local_path_problem",
    "qualified_name_problem",
]

MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_KEY = 253

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL)
_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_CONFIG_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

_LABEL_RULE = "a DNS-1123 label: at most 63 lower-case letters, digits and '-', alphanumeric at both ends"
_SUBDOMAIN_RULE = "a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.'"
_KEY_RULE = "at most 253 letters, digits, '-', '_' and '.', not '.' or '..' nor starting with '..'"
_ENV_RULE = "letters, digits, '-', '_' and '.', not starting with a digit nor with '..'"


def _starts_with_dot_dot(text: str) -> bool:
    return text == "." or text.startswith("..")


def _remembered(rule: Callable[[str], bool]) -> Callable[[str], bool]:
    """``rule`` with its answers for short names kept: the same names come back on every pod.

    The rules are pure functions of the text, so a kept answer is the answer; texts longer than a
    name can be are computed every time, so the cache stays small (at most 4096 short keys).
    """
    kept = functools.lru_cache(maxsize=4096)(rule)

    @functools.wraps(rule)
    def check(text: str) -> bool:
        return kept(text) if len(text) <= MAX_SUBDOMAIN else rule(text)

    return check


@_remembered
def is_dns_label(text: str) -> bool:
    """Whether ``text`` is a DNS-1123 label (volume, container and namespace names)."""
    return len(text) <= MAX_LABEL and _LABEL_RE.fullmatch(text) is not None


@_remembered
def is_dns_subdomain(text: str) -> bool:
    """Whether ``text`` is a DNS-1123 subdomain (a Secret's name)."""
    return len(text) <= MAX_SUBDOMAIN and _SUBDOMAIN_RE.fullmatch(text) is not None


@_remembered
def is_config_map_key(text: str) -> bool:
    """Whether ``text`` is a valid key of a Secret's or ConfigMap's data."""
    return (
        len(text) <= MAX_KEY and _CONFIG_KEY_RE.fullmatch(text) is not None and not _starts_with_dot_dot(text)
    )


@_remembered
def is_kube_env_var_name(text: str) -> bool:
    """Whether every API server accepts ``text`` as an env var name (its strict rule)."""
    return _ENV_NAME_RE.fullmatch(text) is not None and not _starts_with_dot_dot(text)


def local_path_problem(path: str) -> str | None:
    """What is wrong with a volume item's ``path`` (relative, no ``..`` element), or None."""
    if not path:
        return "is empty"
    if path.startswith("/"):
        return "is absolute; it must be relative to the mount"
    if ".." in path.split("/") or path.startswith(".."):
        return "holds a '..' element"
    return None


def _annotation_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix or (prefix and not is_dns_subdomain(prefix)):
        return f"its prefix is not {_SUBDOMAIN_RULE}"
    if len(name) > MAX_LABEL or _QUALIFIED_NAME_RE.fullmatch(name) is None:
        return "its name is not at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends"
    return None


def qualified_name_problem(key: str) -> str | None:
    """What is wrong with a label or annotation key (``[prefix/]name``), or None."""
    return _annotation_key_problem(key)


def label_value_problem(value: str) -> str | None:
    """What is wrong with a label's value (empty, or a name of at most 63 characters), or None."""
    if value and (len(value) > MAX_LABEL or _QUALIFIED_NAME_RE.fullmatch(value) is None):
        return "it is not empty nor at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends"
    return None


def _shown(text: object) -> str:
    value = str(text)
    return repr(value if len(value) <= 80 else value[:72] + "...") + (
        f" ({len(value)} characters)" if len(value) > MAX_LABEL else ""
    )


def _names_of(entries: object, field: str) -> Iterable[str]:
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get(field), str):
                yield entry[field]


class _Watched:
    """A list the injectors append to, how many of its entries were checked, and how to check one."""

    __slots__ = ("check", "checked", "entries")

    def __init__(self, entries: list[Any], check: Callable[[Any, list[str]], None], checked: int = 0) -> None:
        self.entries = entries
        self.check = check
        self.checked = checked


class AddedObjectsCheck:
    """The API server's rules applied to what injectors add to one pod, as they add it.

    Made for one :class:`PodEditor` before any edit; :meth:`problems` after each secret's
    injection returns what the objects added since the last call break (empty: none). Each object
    is checked once; a call also compares the length of each list injectors append to (a secret
    volume's items, a container's env and mounts), so the cost grows with the objects added.
    """

    def __init__(self, editor: PodEditor) -> None:
        spec = editor.spec
        self._containers = {
            *_names_of(spec.get("initContainers"), "name"),
            *_names_of(spec.get("containers"), "name"),
        }
        self._volumes = set(_names_of(spec.get("volumes"), "name"))
        self._new_volumes = self._added = self._edited = self._item_edits = self._annotations = 0
        self._watched: list[_Watched] = []
        self._env_check = partial(_check_env, good=set())

    def problems(self, editor: PodEditor) -> list[str]:
        """What the objects added since the last call break, each naming the object and the rule."""
        found: list[str] = []
        self._watch_new_volumes(editor, found)
        self._watch_new_containers(editor, found)
        for watched in self._watched:
            entries = watched.entries
            if len(entries) > watched.checked:
                for entry in entries[watched.checked :]:
                    watched.check(entry, found)
                watched.checked = len(entries)
        if len(editor.new_annotations) > self._annotations:
            for key in islice(editor.new_annotations, self._annotations, None):
                problem = _annotation_key_problem(key)
                if problem is not None:
                    found.append(f"the annotation key {_shown(key)} is not a qualified name: {problem}")
            self._annotations = len(editor.new_annotations)
        if editor.new_annotations:
            over = _annotations_over_limit(editor)
            if over is not None:
                found.append(over)
        return list(dict.fromkeys(found))  # an env var added to every container is one problem

    def _watch_new_volumes(self, editor: PodEditor, found: list[str]) -> None:
        for volume in editor.new_volumes[self._new_volumes :]:
            name = str(volume.get("name"))
            if not is_dns_label(name):
                found.append(f"the volume name {_shown(name)} is not {_LABEL_RULE}")
            if name in self._volumes:
                found.append(f"the volume name {_shown(name)} is taken by another volume of the pod")
            self._volumes.add(name)
            source = volume.get("secret")
            if isinstance(source, dict) and isinstance(source.get("items"), list):
                self._watched.append(_Watched(source["items"], partial(_check_item, name)))
        self._new_volumes = len(editor.new_volumes)
        edits = editor.volume_item_edits
        if len(edits) > self._item_edits:
            for vedit in islice(edits.values(), self._item_edits, None):
                self._watched.append(
                    _Watched(vedit.new_items, partial(_check_item, str(vedit.original.get("name"))))
                )
            self._item_edits = len(edits)

    def _watch_new_containers(self, editor: PodEditor, found: list[str]) -> None:
        for edit in editor.added_edits[self._added :]:
            name = str(edit.original.get("name"))
            if not is_dns_label(name):
                found.append(f"the init container name {_shown(name)} is not {_LABEL_RULE}")
            if name in self._containers:
                found.append(f"the init container name {_shown(name)} is taken by another container")
            self._containers.add(name)
            # What the injector gave the container itself is added too; it mounted nothing before.
            env, mounts = edit.original.get("env"), edit.original.get("volumeMounts")
            self._watch_container(edit, set(), [env, mounts, edit.new_env, edit.new_mounts])
        self._added = len(editor.added_edits)
        edits = editor.container_edits
        if len(edits) > self._edited:
            for edit in islice(edits.values(), self._edited, None):
                # A container of the pod: only what is appended is ours; it keeps what it mounts.
                paths = set(_names_of(edit.original.get("volumeMounts"), "mountPath"))
                self._watch_container(edit, paths, [None, None, edit.new_env, edit.new_mounts])
            self._edited = len(edits)

    def _watch_container(self, edit: ContainerEdit, paths: set[str], lists: list[object]) -> None:
        container = str(edit.original.get("name"))
        mount_check = partial(self._check_mount, container, paths)
        checks: tuple[Callable[[Any, list[str]], None], ...] = (self._env_check, mount_check) * 2
        for entries, check in zip(lists, checks, strict=True):
            if isinstance(entries, list):
                self._watched.append(_Watched(entries, check))

    def _check_mount(
        self, container: str, paths: set[str], mount: Mapping[str, Any], found: list[str]
    ) -> None:
        name, path = str(mount.get("name")), str(mount.get("mountPath"))
        if name not in self._volumes:
            found.append(
                f"container {_shown(container)} mounts the volume {_shown(name)}, which the pod does not have"
            )
        if path in paths:
            found.append(f"container {_shown(container)} mounts two volumes at {_shown(path)}")
        paths.add(path)


def _annotations_over_limit(editor: PodEditor) -> str | None:
    """The API server's limit on all of a pod's annotations together, once injectors have added some."""
    new = editor.new_annotations
    pairs = [*new.items()]
    pairs += [(k, v) for k, v in editor.original_annotations.items() if k not in new and isinstance(v, str)]
    chars = sum(len(str(k)) + len(v) for k, v in pairs)
    if chars * 4 > MAX_ANNOTATION_BYTES:  # characters may be up to 4 bytes of UTF-8: count bytes
        size = sum(len(str(k).encode()) + len(v.encode()) for k, v in pairs)
        if size > MAX_ANNOTATION_BYTES:
            return (
                f"the pod's annotations would total {size} bytes, over the API server's limit of "
                f"{MAX_ANNOTATION_BYTES} (256 KiB) for all of them together"
            )
    return None


def _check_item(volume: str, item: Mapping[str, Any], found: list[str]) -> None:
    key, path = str(item.get("key")), str(item.get("path"))
    if not is_config_map_key(key):
        found.append(f"the item key {_shown(key)} of volume {_shown(volume)} is not {_KEY_RULE}")
    problem = local_path_problem(path)
    if problem is not None:
        found.append(f"the item path {_shown(path)} of volume {_shown(volume)} {problem}")


def _check_env(entry: Mapping[str, Any], found: list[str], *, good: set[object]) -> None:
    name, value_from = entry.get("name"), entry.get("valueFrom")
    ref = value_from.get("secretKeyRef") if isinstance(value_from, dict) else None
    # The same env var added to another container was checked there: what its checks read, when
    # all of it is text, says whether it passed (a failing one is checked again, and reported once).
    seen: object = None
    if type(name) is str:
        if ref is None:
            seen = name if value_from is None else (name,)
        elif type(ref) is dict and type(ref.get("name")) is str and type(ref.get("key")) is str:
            seen = (name, ref["name"], ref["key"])
    if seen is not None and seen in good:
        return
    before = len(found)
    name = str(name)
    if not is_kube_env_var_name(name):
        found.append(f"the env var name {_shown(name)} is not a valid env var name: {_ENV_RULE}")
    if isinstance(ref, dict):
        if not is_dns_subdomain(str(ref.get("name"))):
            found.append(f"the env var {_shown(name)} reads a Secret whose name is not {_SUBDOMAIN_RULE}")
        if not is_config_map_key(str(ref.get("key"))):
            found.append(f"the env var {_shown(name)} reads a Secret key that is not {_KEY_RULE}")
    if seen is not None and len(found) == before:
        good.add(seen)
