"""The config as the mutator reads it, and the default config, without pydantic.

The mutator reads a handful of settings: the manager chain, the injection error policy, the
per-pod secret limit, the settings every manager shares, each manager's own section and the
``secrets:`` section. :class:`MutatorConfig` is that view; a loaded
:class:`~tasksecrets.admission.config.Config` is one. :data:`DEFAULT_CONFIG` is the config when
there is no file: ``tasksecrets run`` without ``-c`` mutates with it and never imports pydantic,
the validating model (a tenth of a second of start-up). The model's defaults come from
:data:`WEBHOOK_DEFAULTS` and :data:`~tasksecrets.managers.global_.defaults.GLOBAL_DEFAULTS`, so
the two cannot disagree; tests/admission/test_defaults.py checks every value against the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tasksecrets.managers.global_.defaults import GLOBAL_DEFAULTS, GlobalDefaults, GlobalSettings
from tasksecrets.managers.plugin import Injector, ManagerPlugin, SharedSettings

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_SECRETS_PER_POD",
    "WEBHOOK_DEFAULTS",
    "DefaultConfig",
    "MutatorConfig",
    "WebhookDefaults",
    "WebhookSettings",
    "build_injector",
]

# webhook.maxSecretsPerPod's default: far above what a task asks for (a few, rarely tens), low enough
# that a review at the limit stays in milliseconds with every manager (benchmarks/large_pods.py).
DEFAULT_MAX_SECRETS_PER_POD = 256


class WebhookSettings(Protocol):
    """What the mutator takes from the ``webhook:`` section."""

    @property
    def on_injection_error(self) -> Literal["deny", "admit"]: ...

    @property
    def max_secrets_per_pod(self) -> int: ...

    @property
    def export_env_vars(self) -> bool: ...

    def manager_names(self) -> list[str]:
        """Managers tried after Global."""
        ...


class MutatorConfig(Protocol):
    """A config as the mutator reads it: a loaded Config or :data:`DEFAULT_CONFIG`."""

    @property
    def webhook(self) -> WebhookSettings: ...

    @property
    def secrets(self) -> GlobalSettings: ...

    @property
    def shared(self) -> SharedSettings: ...

    def section(self, plugin: ManagerPlugin) -> Any:
        """The manager's own section (its defaults when the file has none); None if it has none."""
        ...


@dataclass(frozen=True)
class WebhookDefaults:
    """The ``webhook:`` settings the mutator reads, at their defaults (Flyte's where Flyte has one)."""

    secret_manager_type: str = "K8s"
    on_injection_error: Literal["deny", "admit"] = "deny"
    max_secrets_per_pod: int = DEFAULT_MAX_SECRETS_PER_POD
    # ENV_VAR requests to file-only managers (AWS, GCP, Vault, Azure) are served as files the task's
    # entrypoint exports into the env vars; false refuses them as Flyte does (docs/secret-managers.md).
    export_env_vars: bool = True

    def manager_names(self) -> list[str]:
        """The default chain after Global: ``secretManagerType`` alone."""
        return [self.secret_manager_type]


WEBHOOK_DEFAULTS = WebhookDefaults()


@dataclass(frozen=True)
class DefaultConfig:
    """The config when there is no file, as the mutator reads it."""

    webhook: WebhookDefaults = WEBHOOK_DEFAULTS
    secrets: GlobalDefaults = GLOBAL_DEFAULTS

    @property
    def shared(self) -> SharedSettings:
        """The settings every manager may read."""
        return SharedSettings(export_env_vars=self.webhook.export_env_vars)

    def section(self, plugin: ManagerPlugin) -> Any:
        """The manager's section at its defaults (its model is loaded only for a manager that has one)."""
        model = plugin.load_settings() if plugin.section is not None else None
        return None if model is None else model.model_validate({})


DEFAULT_CONFIG = DefaultConfig()


def build_injector(plugin: ManagerPlugin, config: MutatorConfig) -> Injector:
    """The manager's injector, built from its own section and the shared settings only."""
    return plugin.load_injector().from_config(config.section(plugin), shared=config.shared)
