"""The secret-manager plug-in API: what a manager provides, and the injector protocol.

A secret manager is one :class:`ManagerPlugin`: its name (Flyte's ``secretManagerType``), its
:class:`Injector` class, the key and model of its config section under ``webhook:``, and the local
kubelet's materializers for what its injector puts into a pod. The built-in ones are the packages
of :mod:`tasksecrets.managers`; a third-party package registers its plugin under the entry-point
group ``tasksecrets.managers`` (see :mod:`tasksecrets.managers.registry`). Targets are given as
``"module:attribute"`` and imported on first use, so a manager whose optional dependencies are
missing costs nothing until it is asked for, and then says which extra to install.

An injector is built from its own config section alone, plus the settings every manager shares
(:class:`SharedSettings`). It gets one decoded Secret and a
:class:`~tasksecrets.managers.editor.PodEditor` at a time and injects the secret (returns True),
declines it (False), or raises :class:`~tasksecrets.errors.InjectionError` saying why it cannot.

Two optional class attributes let the admission core remember answers: ``deterministic`` (its
edits depend only on the secret, the editor's view and its own settings; False when not declared)
and ``carries_values`` (its edits may hold a secret's value, so no answer it took part in is kept;
True when not declared). An injector that declares neither is never remembered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from tasksecrets.errors import InjectorNotFoundError

if TYPE_CHECKING:
    from tasksecrets.managers.editor import PodEditor
    from tasksecrets.sdk.secret import Secret

__all__ = ["Injector", "ManagerPlugin", "MaterializerKind", "SharedSettings", "load_target"]

MaterializerKind = str  # "volume", "env", "init-container" or "pod-annotation" (see materializing)
Handler = Callable[..., Any]


class SharedSettings(NamedTuple):
    """The settings of the ``webhook:`` section every manager may read."""

    # Serve ENV_VAR requests to file-only managers as files the entrypoint exports (exportEnvVars).
    export_env_vars: bool = True


@runtime_checkable
class Injector(Protocol):
    """One secret manager's injector: turns a secret request into edits of a pod."""

    name: ClassVar[str]

    @classmethod
    def from_config(cls, section: Any, *, shared: SharedSettings) -> Injector:
        """Build the injector from its own config section (None when it declares none)."""
        ...

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject ``secret`` through ``editor``: True if injected, False to pass it on.

        Raise :class:`~tasksecrets.errors.InjectionError` when this manager cannot serve the
        request; its message says why (never a value), the mutator adds the secret and manager.
        """
        ...


@dataclass(frozen=True)
class ManagerPlugin:
    """One secret manager: its injector, config section and local materializers, by name.

    ``section`` is the key of its config section under ``webhook:`` and ``settings`` the pydantic
    model of that section (both None for a manager without settings). ``materializers`` maps
    ``(kind, name)`` to a handler (see :mod:`tasksecrets.managers.materializing`). ``extra`` is the
    ``tasksecrets[...]`` extra that provides the optional dependencies of its modules.
    """

    name: str
    injector: str | type[Any]
    section: str | None = None
    settings: str | type[Any] | None = None
    materializers: Mapping[tuple[MaterializerKind, str], str | Handler] = field(default_factory=dict)
    extra: str | None = None

    def load_injector(self) -> type[Injector]:
        """The injector class; InjectorNotFoundError with an install hint when it cannot be imported."""
        cls: type[Injector] = load_target(
            self.injector, what=f"the {self.name} secret manager", extra=self.extra
        )
        return cls

    def load_settings(self) -> type[Any] | None:
        """The config section's model, or None when the manager has no section."""
        if self.settings is None:
            return None
        model: type[Any] = load_target(self.settings, what=f"the {self.name} settings", extra=self.extra)
        return model


def load_target(target: str | Any, *, what: str, extra: str | None = None) -> Any:
    """``target`` itself, or the attribute a ``"module:attribute"`` string names, imported now.

    InjectorNotFoundError says what is missing: the module (not in this version), an optional
    dependency (with ``pip install 'tasksecrets[extra]'``), or the attribute.
    """
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise InjectorNotFoundError(
                f"{what} is not available in this version of tasksecrets ({module_name})"
            ) from None
        hint = f": pip install 'tasksecrets[{extra}]'" if extra else ""
        raise InjectorNotFoundError(
            f"{what} needs the Python package {exc.name!r}, which is not installed{hint}"
        ) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise InjectorNotFoundError(f"{module_name} has no attribute {attribute!r} (for {what})") from None
