"""The webhook's configuration: Flyte's ``webhook:`` and ``secrets:`` sections plus our keys.

A config file written for Flyte's pod webhook loads unchanged: every key of Flyte's webhook
section is known (the ones we do not use are accepted and ignored), other top-level sections of a
Flyte config file (``propeller``, ``logger``, ...) are ignored. Inside ``webhook`` and ``secrets``
an unknown key is an error naming its full path and the closest known key; a value of the wrong
type is an error pointing at its key. See docs/webhook-config.md for every key.

The core keys are here; each secret manager declares its own section (``awsSecretManager``, ...)
in its package, and :func:`config_model` assembles the whole ``webhook:`` section from the
registry, third-party managers included: a manager's injector is built from its section alone
(:func:`build_injector`). The defaults the mutator reads live in :mod:`tasksecrets.admission.defaults`,
which serves a run without a config file without importing pydantic.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from tasksecrets.admission.clienturl import webhook_url
from tasksecrets.admission.defaults import DEFAULT_MAX_SECRETS_PER_POD, WEBHOOK_DEFAULTS, build_injector
from tasksecrets.admission.httplimits import HttpLimits
from tasksecrets.contract import DEFAULT_SERVICE_NAME
from tasksecrets.errors import ConfigError
from tasksecrets.managers.global_.settings import GlobalSecretsConfig
from tasksecrets.managers.plugin import ManagerPlugin, SharedSettings
from tasksecrets.managers.registry import all_plugins, canonical_manager_name, known_manager_names
from tasksecrets.managers.settings import Section
from tasksecrets.yamltext import describe_yaml_error

__all__ = [
    "DEFAULT_MAX_SECRETS_PER_POD",
    "Config",
    "GlobalSecretsConfig",
    "WebhookConfig",
    "build_injector",
    "config_model",
    "load_config",
    "parse_config",
]

# Flyte's SecretManagerType enum numbers, for configs that give the number.
_MANAGER_NUMBERS = ("Global", "K8s", "AWS", "GCP", "Vault", "Embedded", "Azure")


class EmbeddedManagerConfig(Section):
    """Flyte's ``embeddedSecretManagerConfig`` (accepted for compatibility, not used)."""

    type: Any = None
    aws_config: dict[str, Any] = Field(default_factory=dict, alias="awsConfig")
    gcp_config: dict[str, Any] = Field(default_factory=dict, alias="gcpConfig")
    azure_config: dict[str, Any] = Field(default_factory=dict, alias="azureConfig")
    k8s_config: dict[str, Any] = Field(default_factory=dict, alias="k8sConfig")
    file_mount_init_container: dict[str, Any] = Field(default_factory=dict, alias="fileMountInitContainer")
    image_pull_secrets: dict[str, Any] = Field(default_factory=dict, alias="imagePullSecrets")


class WebhookConfig(Section):
    """The ``webhook:`` section's core: Flyte's keys with Flyte's defaults, then ours (no manager's)."""

    # Flyte's keys (docs/compat.md section 5).
    metrics_prefix: str = Field(default="flyte:", alias="metrics-prefix")
    cert_dir: str = Field(default="/etc/webhook/certs", alias="certDir")
    local_cert: bool = Field(default=False, alias="localCert")
    listen_port: int = Field(default=9443, alias="listenPort", ge=1, le=65535)
    service_name: str = Field(default=DEFAULT_SERVICE_NAME, alias="serviceName", min_length=1)
    service_port: int = Field(default=443, alias="servicePort", ge=1, le=65535)
    secret_name: str = Field(default=DEFAULT_SERVICE_NAME, alias="secretName", min_length=1)
    secret_manager_type: str = Field(default=WEBHOOK_DEFAULTS.secret_manager_type, alias="secretManagerType")
    secret_manager_types: list[str] | None = Field(default=None, alias="secretManagerTypes")
    embedded_secret_manager_config: EmbeddedManagerConfig = Field(
        default_factory=lambda: EmbeddedManagerConfig.model_validate({}), alias="embeddedSecretManagerConfig"
    )
    disable_create_mutating_webhook_config: bool = Field(
        default=False, alias="disableCreateMutatingWebhookConfig"
    )
    namespace_selector: dict[str, Any] | None = Field(default=None, alias="namespaceSelector")
    # Keys of newer Flyte releases, accepted so their config files load; not used.
    image_builder_config: dict[str, Any] = Field(default_factory=dict, alias="imageBuilderConfig")
    kube_client_config: dict[str, Any] = Field(default_factory=dict, alias="kubeClientConfig")
    secret_env_var_prefix: str | None = Field(default=None, alias="secretEnvVarPrefix")
    webhook_timeout: int | None = Field(default=None, alias="webhookTimeout", ge=1, le=30)
    # Ours. The defaults the mutator reads come from WEBHOOK_DEFAULTS (the config without a file).
    on_injection_error: Literal["deny", "admit"] = Field(
        default=WEBHOOK_DEFAULTS.on_injection_error, alias="onInjectionError"
    )
    timeout_seconds: int = Field(default=10, alias="timeoutSeconds", ge=1, le=30)
    workers: int = Field(default=1, ge=1, le=64)
    cert_validity_days: int = Field(default=90, alias="certValidityDays", ge=1)
    cert_renew_before_days: int = Field(default=30, alias="certRenewBeforeDays", ge=0)
    export_env_vars: bool = Field(default=WEBHOOK_DEFAULTS.export_env_vars, alias="exportEnvVars")
    # A pod with more secret requests is denied before any is decoded: what one review may cost is
    # bounded (the webhook runs with failurePolicy: Fail). Generous for real pods (docs/webhook-config.md).
    max_secrets_per_pod: int = Field(
        default=WEBHOOK_DEFAULTS.max_secrets_per_pod, alias="maxSecretsPerPod", ge=1
    )
    http: HttpLimits = Field(default_factory=lambda: HttpLimits.model_validate({}))
    # Where the API server calls us when it cannot reach a Service (a control plane outside the
    # cluster's network, as in development): the registration's clientConfig.url (docs/webhook-config.md).
    url: str | None = None

    @field_validator("secret_manager_type", mode="before")
    @classmethod
    def _one_manager(cls, value: object) -> object:
        return _manager_name(value)

    @field_validator("secret_manager_types", mode="before")
    @classmethod
    def _many_managers(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise ValueError("secretManagerTypes must be a non-empty list of manager names")
        return [_manager_name(v) for v in value]

    @field_validator("url")
    @classmethod
    def _client_url(cls, value: str | None) -> str | None:
        return None if value is None else webhook_url(value)

    @field_validator("on_injection_error", mode="before")
    @classmethod
    def _lower_policy(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _timeout_from_flyte(cls, data: object) -> object:
        # Flyte's newer webhookTimeout sets the registration timeout unless ours is given.
        if isinstance(data, dict) and "timeoutSeconds" not in data and "webhookTimeout" in data:
            return {**data, "timeoutSeconds": data["webhookTimeout"]}
        return data

    @model_validator(mode="after")
    def _renewal_window(self) -> WebhookConfig:
        if self.cert_renew_before_days >= self.cert_validity_days:
            raise ValueError(
                f"certRenewBeforeDays ({self.cert_renew_before_days}) must be less than "
                f"certValidityDays ({self.cert_validity_days})"
            )
        return self

    def manager_names(self) -> list[str]:
        """Managers tried after Global: ``secretManagerTypes`` if set, else ``secretManagerType``."""
        return list(self.secret_manager_types) if self.secret_manager_types else [self.secret_manager_type]


def _manager_name(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_MANAGER_NUMBERS):
        value = _MANAGER_NUMBERS[value]
    if not isinstance(value, str):
        raise ValueError(f"a secret manager name must be a string, got {value!r}")
    name = canonical_manager_name(value)
    if name is None:
        known = known_manager_names()
        close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown secret manager {value!r}{hint}; known: {', '.join(known)}")
    return name


class Config(BaseModel):
    """A whole config file: ``webhook`` and ``secrets``; other top-level sections are ignored.

    :func:`config_model` gives the subclass whose ``webhook`` also holds every manager's section;
    :meth:`section` finds a manager's section in either.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    webhook: WebhookConfig = Field(default_factory=lambda: WebhookConfig.model_validate({}))
    secrets: GlobalSecretsConfig = Field(default_factory=lambda: GlobalSecretsConfig.model_validate({}))

    @property
    def shared(self) -> SharedSettings:
        """The settings every manager may read."""
        return SharedSettings(export_env_vars=self.webhook.export_env_vars)

    def section(self, plugin: ManagerPlugin) -> Any:
        """The manager's own config section (its defaults when the file has none); None if it has none."""
        model = plugin.load_settings()
        if plugin.section is None or model is None:
            return None
        value = getattr(self.webhook, _field_name(plugin.section), None)
        return value if isinstance(value, model) else model.model_validate({})


def _field_name(section: str) -> str:
    # awsSecretManager -> aws_secret_manager: the attribute the assembled model gives the section.
    return re.sub(r"\W", "_", re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", section)).lower()


def config_model() -> type[Config]:
    """The config model for the managers the registry knows now (built once per set of sections)."""
    sections: list[tuple[str, type[Any]]] = []
    for plugin in all_plugins():
        model = plugin.load_settings() if plugin.section else None
        if plugin.section and model is not None:
            sections.append((plugin.section, model))
    return _assemble(tuple(sections))


@cache
def _assemble(sections: tuple[tuple[str, type[Any]], ...]) -> type[Config]:
    core = {*WebhookConfig.model_fields, *(f.alias for f in WebhookConfig.model_fields.values() if f.alias)}
    fields: dict[str, Any] = {}
    for key, model in sections:
        name = _field_name(key)
        if (
            key in core
            or name in core
            or name in fields
            or not name.isidentifier()
            or name.startswith("model_")
        ):
            raise ConfigError(
                f"two secret managers, or a manager and the webhook, claim the config key {key!r}"
            )
        fields[name] = (model, Field(default_factory=_defaults_of(model), alias=key))
    webhook = create_model("WebhookConfig", __base__=WebhookConfig, **fields)
    return create_model(
        "Config", __base__=Config, webhook=(webhook, Field(default_factory=_defaults_of(webhook)))
    )


def _defaults_of(model: type[BaseModel]) -> Any:
    return lambda: model.model_validate({})


def _unknown_keys(model: type[BaseModel], data: object, path: str) -> list[str]:
    """Every key in ``data`` that ``model`` does not know, with its path and the closest known key."""
    if not isinstance(data, dict):
        return []
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    known = list(fields)
    problems = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            by_name = model.model_fields.get(key) if isinstance(key, str) else None
            if by_name is not None and by_name.alias:
                problems.append(f"{where}: unknown key; did you mean {by_name.alias!r}?")
                continue
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
            problems.append(f"{where}: unknown key{hint}")
            continue
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, Section):
            problems += _unknown_keys(sub, value, where)
    return problems


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-parsed YAML document; ConfigError names every bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must hold a mapping of sections (webhook:, secrets:)")
    config = config_model()
    problems = []
    for section in ("webhook", "secrets"):
        model = config.model_fields[section].annotation
        assert isinstance(model, type)
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            problems.append(f"{section}: must be a mapping of keys, got {type(data[section]).__name__}")
        else:
            problems += _unknown_keys(model, data.get(section), section)
    cleaned = {k: v for k, v in data.items() if k in ("webhook", "secrets") and isinstance(v, dict)}
    try:
        loaded = config.model_validate(cleaned)
    except ValidationError as exc:
        # Every problem at once: the unknown keys (named above with the closest known key, so
        # pydantic's own "extra inputs" lines are left out when those name them) and every value
        # of the wrong type.
        unknown_named = bool(problems)
        for err in exc.errors():
            if err["type"] == "extra_forbidden" and unknown_named:
                continue
            where = ".".join(str(part) for part in err["loc"]) or "(top level)"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError(f"{source} is not valid:\n  " + "\n  ".join(problems)) from None
    if problems:
        raise ConfigError(f"{source} is not valid:\n  " + "\n  ".join(problems))
    return loaded


def load_config(path: str | Path | None = None) -> Config:
    """Load a config file, or the defaults when ``path`` is None."""
    if path is None:
        return config_model().model_validate({})
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {file} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the config file {file} is not valid YAML {describe_yaml_error(exc)}") from None
    return parse_config(data, source=str(file))
