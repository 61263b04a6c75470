"""Find injectors by name: built-in ones loaded lazily, third-party ones through entry points.

Names are case-insensitive and are Flyte's ``secretManagerType`` names (``Global``, ``K8s``,
``AWS``, ``GCP``, ``Vault``, ``Azure``). A built-in injector's module is imported only when it is
asked for; if it needs an optional dependency that is missing, :class:`InjectorNotFoundError` says
which extra to install. Third-party injectors register a class under the entry-point group
``tasksecrets.injectors`` (``name = "package.module:Class"``); :func:`register_injector` does the
same at run time (tests, plugins loaded by hand).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from tasksecrets.errors import InjectorNotFoundError

if TYPE_CHECKING:
    from tasksecrets.injectors.base import Injector
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import Config

__all__ = [
    "ENTRY_POINT_GROUP",
    "canonical_injector_name",
    "create_injector",
    "get_injector_class",
    "known_injector_names",
    "register_injector",
]

ENTRY_POINT_GROUP = "tasksecrets.injectors"

# display name -> ("module:Class", extra that provides its optional dependencies, or None)
_BUILTIN: dict[str, tuple[str, str | None]] = {
    "Global": ("tasksecrets.injectors.global_:GlobalInjector", None),
    "K8s": ("tasksecrets.injectors.k8s:K8sInjector", None),
    "AWS": ("tasksecrets.injectors.aws:AWSInjector", "aws"),
    "GCP": ("tasksecrets.injectors.gcp:GCPInjector", "gcp"),
    "Vault": ("tasksecrets.injectors.vault:VaultInjector", "vault"),
    "Azure": ("tasksecrets.injectors.azure:AzureInjector", "azure"),
}
# Known to Flyte, refused here with a reason rather than "unknown".
_UNSUPPORTED = {
    "Embedded": "Flyte's Embedded secret manager is not supported; use AWS, GCP, Vault, Azure or K8s"
}

_registered: dict[str, tuple[str, type[Any] | str]] = {}


def _entry_point_targets() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name.lower()] = (ep.name, ep.value)
    return found


def known_injector_names() -> list[str]:
    """Every name that resolves: built-in, registered at run time, and from entry points."""
    names = dict.fromkeys(_BUILTIN)
    names.update(dict.fromkeys(name for name, _ in _registered.values()))
    names.update(dict.fromkeys(name for name, _ in _entry_point_targets().values()))
    return list(names)


def canonical_injector_name(name: str) -> str | None:
    """The registered spelling of ``name`` (any case), or None if nothing has that name."""
    lowered = name.strip().lower()
    for known in (*_BUILTIN, *_UNSUPPORTED):
        if known.lower() == lowered:
            return known
    if lowered in _registered:
        return _registered[lowered][0]
    entry = _entry_point_targets().get(lowered)
    return entry[0] if entry else None


def register_injector(name: str, target: type[Any] | str) -> None:
    """Register an injector class (or ``"module:Class"``) under ``name``, overriding a previous one."""
    _registered[name.lower()] = (name, target)


def get_injector_class(name: str) -> type[Injector]:
    """The injector class for ``name``; InjectorNotFoundError with a hint when it cannot be loaded."""
    lowered = name.strip().lower()
    extra: str | None = None
    target: type[Any] | str | None = None
    if lowered in _registered:
        target = _registered[lowered][1]
    else:
        for known, (path, needs) in _BUILTIN.items():
            if known.lower() == lowered:
                target, extra = path, needs
        for known, why in _UNSUPPORTED.items():
            if known.lower() == lowered:
                raise InjectorNotFoundError(why)
        if target is None:
            entry = _entry_point_targets().get(lowered)
            target = entry[1] if entry else None
    if target is None:
        raise InjectorNotFoundError(
            f"no secret manager named {name!r}: use one of {', '.join(known_injector_names())}, or install "
            f"a package that registers it under the entry-point group {ENTRY_POINT_GROUP!r}"
        )
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise InjectorNotFoundError(
                f"the {name} secret manager is not available in this version of tasksecrets ({module_name})"
            ) from None
        hint = f": pip install 'tasksecrets[{extra}]'" if extra else ""
        raise InjectorNotFoundError(
            f"the {name} secret manager needs the Python package {exc.name!r}, which is not installed{hint}"
        ) from None
    try:
        cls: type[Injector] = getattr(module, attribute)
    except AttributeError:
        raise InjectorNotFoundError(
            f"{module_name} has no injector class {attribute!r} (for {name})"
        ) from None
    return cls


def create_injector(
    name: str, config: Config, *, global_secrets: GlobalSecretSource | None = None
) -> Injector:
    """Load the class for ``name`` and build it from ``config``."""
    return get_injector_class(name).from_config(config, global_secrets=global_secrets)
