"""The one registry of secret managers: built-in, registered at run time, and from entry points.

Names are case-insensitive and are Flyte's ``secretManagerType`` names (``Global``, ``K8s``,
``AWS``, ``GCP``, ``Vault``, ``Azure``). Each built-in manager is a package of
:mod:`tasksecrets.managers` whose ``PLUGIN`` describes it (importing it imports nothing heavy).
Third-party managers register a :class:`~tasksecrets.managers.plugin.ManagerPlugin` under the
entry-point group ``tasksecrets.managers`` (``my-store = "my_package.plugin:PLUGIN"``);
:func:`register_manager` does the same at run time. One registry serves the webhook (injectors
and their config sections) and the local kubelet (materializers), so the two never disagree.

Materializers are found by ``(kind, name)``: the ones registered by hand
(:func:`register_materializer`, for the kubelet's own and for tests) first, then those the
plugins declare, imported the first time a pod needs them.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from tasksecrets.errors import InjectorNotFoundError, TaskExecutionError
from tasksecrets.managers.plugin import Injector, ManagerPlugin, MaterializerKind, load_target

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "MATERIALIZER_KINDS",
    "all_plugins",
    "canonical_manager_name",
    "find_materializer",
    "get_injector_class",
    "get_plugin",
    "known_manager_names",
    "register_manager",
    "register_materializer",
    "registered_materializers",
    "unregister_manager",
    "unregister_materializer",
]

ENTRY_POINT_GROUP = "tasksecrets.managers"
MATERIALIZER_KINDS: tuple[str, ...] = ("volume", "env", "init-container", "pod-annotation")

_BUILTIN_PACKAGES = ("global_", "k8s", "aws", "gcp", "vault", "azure")
# Known to Flyte, refused here with a reason rather than "unknown".
_UNSUPPORTED = {
    "Embedded": "Flyte's Embedded secret manager is not supported; use AWS, GCP, Vault, Azure or K8s"
}

Handler = Callable[..., Any]
_registered: dict[str, ManagerPlugin] = {}
_materializers: dict[tuple[str, str], Handler] = {}  # registered by hand
_loaded: dict[tuple[str, str], Handler] = {}  # declared by a plugin, imported once


@cache
def _builtin() -> dict[str, ManagerPlugin]:
    plugins = [importlib.import_module(f"tasksecrets.managers.{p}").PLUGIN for p in _BUILTIN_PACKAGES]
    return {plugin.name.lower(): plugin for plugin in plugins}


def _entry_points() -> dict[str, EntryPoint]:
    # Scanning every installed distribution takes milliseconds; the result can only change when
    # the import path does (a package installed into a directory already on it is seen after a
    # restart, as with any plug-in).
    return _entry_points_on(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _entry_points_on(path: tuple[str, ...]) -> dict[str, EntryPoint]:
    # Imported here: a run with the built-in managers never scans, and importlib.metadata costs
    # milliseconds of start-up (email parsing, zipfile, csv).
    from importlib.metadata import entry_points

    return {ep.name.lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load_entry_point(ep: EntryPoint) -> ManagerPlugin:
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken third-party package must not take the others down
        raise InjectorNotFoundError(
            f"the secret manager {ep.name!r} ({ep.value}, entry-point group {ENTRY_POINT_GROUP!r}) "
            f"cannot be loaded: {type(exc).__name__}"
        ) from None
    if not isinstance(plugin, ManagerPlugin):
        raise InjectorNotFoundError(
            f"the entry point {ep.name!r} ({ep.value}) must name a ManagerPlugin "
            f"(tasksecrets.managers.plugin), not a {type(plugin).__name__}"
        )
    return plugin


def register_manager(plugin: ManagerPlugin) -> None:
    """Register a manager at run time, under ``plugin.name``, overriding any other of that name."""
    _registered[plugin.name.lower()] = plugin


def unregister_manager(name: str) -> None:
    """Forget a manager registered at run time (tests)."""
    _registered.pop(name.lower(), None)


def known_manager_names() -> list[str]:
    """Every name that resolves: built-in, registered at run time, and from entry points."""
    names = dict.fromkeys(plugin.name for plugin in _builtin().values())
    names.update(dict.fromkeys(plugin.name for plugin in _registered.values()))
    names.update(dict.fromkeys(ep.name for ep in _entry_points().values()))
    return list(names)


def canonical_manager_name(name: str) -> str | None:
    """The registered spelling of ``name`` (any case), or None if nothing has that name."""
    lowered = name.strip().lower()
    for known in _UNSUPPORTED:
        if known.lower() == lowered:
            return known
    if lowered in _registered:
        return _registered[lowered].name
    if lowered in _builtin():
        return _builtin()[lowered].name
    entry = _entry_points().get(lowered)
    return entry.name if entry is not None else None


def get_plugin(name: str) -> ManagerPlugin:
    """The manager called ``name``; InjectorNotFoundError saying what to do when there is none."""
    lowered = name.strip().lower()
    if lowered in _registered:
        return _registered[lowered]
    if lowered in _builtin():
        return _builtin()[lowered]
    for known, why in _UNSUPPORTED.items():
        if known.lower() == lowered:
            raise InjectorNotFoundError(why)
    entry = _entry_points().get(lowered)
    if entry is None:
        raise InjectorNotFoundError(
            f"no secret manager named {name!r}: use one of {', '.join(known_manager_names())}, or install "
            f"a package that registers it under the entry-point group {ENTRY_POINT_GROUP!r}"
        )
    return _load_entry_point(entry)


def get_injector_class(name: str) -> type[Injector]:
    """The injector class of the manager ``name``; InjectorNotFoundError with a hint when it cannot load."""
    return get_plugin(name).load_injector()


def all_plugins() -> list[ManagerPlugin]:
    """Every manager that loads: built-in, registered at run time, then from entry points.

    An entry point that cannot be loaded is left out here; naming it in the config says why.
    """
    plugins = {**_builtin(), **_registered}
    for lowered, ep in _entry_points().items():
        if lowered not in plugins:
            try:
                plugins[lowered] = _load_entry_point(ep)
            except InjectorNotFoundError:
                continue
    return list(plugins.values())


# -- materializers ---------------------------------------------------------------------------------


def register_materializer(
    kind: MaterializerKind, name: str, handler: Handler, *, replace: bool = False
) -> None:
    """Teach the local kubelet to materialize one kind of thing (kinds: :mod:`.materializing`)."""
    if kind not in MATERIALIZER_KINDS:
        raise ValueError(f"unknown materializer kind {kind!r}; use one of {', '.join(MATERIALIZER_KINDS)}")
    if not name:
        raise ValueError("a materializer needs a non-empty name")
    if not callable(handler):
        raise TypeError(f"a materializer handler must be callable, got {type(handler).__name__}")
    if (kind, name) in _materializers and not replace:
        raise ValueError(f"a {kind} materializer named {name!r} is already registered; pass replace=True")
    _materializers[(kind, name)] = handler


def unregister_materializer(kind: MaterializerKind, name: str) -> None:
    """Forget a materializer registered by hand (tests, or a plugin replacing a built-in one)."""
    _materializers.pop((kind, name), None)


def _declared(
    kind: str, plugins: list[ManagerPlugin] | None = None
) -> dict[str, tuple[ManagerPlugin, str | Handler]]:
    found: dict[str, tuple[ManagerPlugin, str | Handler]] = {}
    for plugin in all_plugins() if plugins is None else plugins:
        for (k, name), target in plugin.materializers.items():
            if k == kind:
                found.setdefault(name, (plugin, target))
    return found


def registered_materializers(kind: MaterializerKind) -> list[str]:
    """Names a ``kind`` materializer exists for, sorted (registered by hand or declared by a manager)."""
    return sorted({n for k, n in _materializers if k == kind} | set(_declared(kind)))


def find_materializer(kind: str, name: str) -> Handler | None:
    """The handler for ``(kind, name)``, importing its module on first use; None when there is none.

    TaskExecutionError says what to install when the module needs an optional dependency.
    """
    handler = _materializers.get((kind, name)) or _loaded.get((kind, name))
    if handler is not None:
        return handler
    # The managers registered here first, so that a pod of theirs needs no scan of the entry points.
    declared = _declared(kind, [*_registered.values(), *_builtin().values()]).get(name) or _declared(
        kind
    ).get(name)
    if declared is None:
        return None
    plugin, target = declared
    try:
        loaded: Handler = load_target(
            target, what=f"the local {plugin.name} materializer", extra=plugin.extra
        )
    except InjectorNotFoundError as exc:
        raise TaskExecutionError(
            f"{exc}; or run the task on a cluster, or configure the K8s manager (the default) for local runs"
        ) from None
    _loaded[(kind, name)] = loaded
    return loaded
