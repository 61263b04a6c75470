"""The webhook's configuration file: Flyte's ``webhook:`` and ``secrets:`` sections plus our keys.

A config file written for Flyte's pod webhook loads unchanged: every key of Flyte's webhook
section is known (the ones we do not use are accepted and ignored), other top-level sections of a
Flyte config file (``propeller``, ``logger``, ...) are ignored. Inside ``webhook`` and ``secrets``
an unknown key is an error naming its full path and the closest known key; a value of the wrong
type is an error pointing at its key. See docs/webhook-config.md for every key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasksecrets.errors import ConfigError
from tasksecrets.yamltext import describe_yaml_error

__all__ = [
    "AWSManagerConfig",
    "AzureManagerConfig",
    "Config",
    "GCPManagerConfig",
    "GlobalSecretsConfig",
    "ResourceRequirements",
    "SidecarManagerConfig",
    "VaultManagerConfig",
    "WebhookConfig",
    "load_config",
    "parse_config",
]

# Flyte's SecretManagerType enum numbers, for configs that give the number.
_MANAGER_NUMBERS = ("Global", "K8s", "AWS", "GCP", "Vault", "Embedded", "Azure")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ResourceRequirements(_Section):
    """A Kubernetes ``ResourceRequirements`` (quantities as given: ``200m``, ``500Mi``, ``1``)."""

    requests: dict[str, str | int | float] = Field(default_factory=dict)
    limits: dict[str, str | int | float] = Field(default_factory=dict)
    claims: list[dict[str, Any]] = Field(default_factory=list)


def _sidecar_resources(cpu: str = "200m", memory: str = "500Mi") -> ResourceRequirements:
    return ResourceRequirements(
        requests={"cpu": cpu, "memory": memory}, limits={"cpu": cpu, "memory": memory}
    )


class SidecarManagerConfig(_Section):
    """The AWS, GCP and Azure sections: the init container's image and resources."""

    sidecar_image: str = Field(default="", alias="sidecarImage")
    resources: ResourceRequirements = Field(default_factory=_sidecar_resources)


class AWSManagerConfig(SidecarManagerConfig):
    """``awsSecretManager``: the ``aws-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(
        default="docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4", alias="sidecarImage"
    )


class GCPManagerConfig(SidecarManagerConfig):
    """``gcpSecretManager``: the ``gcp-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(
        default="gcr.io/google.com/cloudsdktool/cloud-sdk:alpine", alias="sidecarImage"
    )


class AzureManagerConfig(SidecarManagerConfig):
    """``azureSecretManager``: the ``azure-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(default="mcr.microsoft.com/azure-cli:cbl-mariner2.0", alias="sidecarImage")


class VaultManagerConfig(_Section):
    """``vaultSecretManager``: the Vault role, the deprecated KV version, extra pod annotations."""

    role: str = "flyte"
    kv_version: Literal["1", "2"] = Field(default="2", alias="kvVersion")
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("kv_version", mode="before")
    @classmethod
    def _kv_version_text(cls, value: object) -> object:
        # Flyte's YAML accepts 1 and "1" alike; anything else must fail loudly, never fall back.
        if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2):
            return str(value)
        if isinstance(value, str) and value.strip() in ("1", "2"):
            return value.strip()
        raise ValueError(f"kvVersion must be 1 or 2 (quoted or not), got {value!r}")


class EmbeddedManagerConfig(_Section):
    """Flyte's ``embeddedSecretManagerConfig`` (accepted for compatibility, not used)."""

    type: Any = None
    aws_config: dict[str, Any] = Field(default_factory=dict, alias="awsConfig")
    gcp_config: dict[str, Any] = Field(default_factory=dict, alias="gcpConfig")
    azure_config: dict[str, Any] = Field(default_factory=dict, alias="azureConfig")
    k8s_config: dict[str, Any] = Field(default_factory=dict, alias="k8sConfig")
    file_mount_init_container: dict[str, Any] = Field(default_factory=dict, alias="fileMountInitContainer")
    image_pull_secrets: dict[str, Any] = Field(default_factory=dict, alias="imagePullSecrets")


class WebhookConfig(_Section):
    """The ``webhook:`` section: Flyte's keys with Flyte's defaults, then ours."""

    # Flyte's keys (compat.md section 5).
    metrics_prefix: str = Field(default="flyte:", alias="metrics-prefix")
    cert_dir: str = Field(default="/etc/webhook/certs", alias="certDir")
    local_cert: bool = Field(default=False, alias="localCert")
    listen_port: int = Field(default=9443, alias="listenPort", ge=1, le=65535)
    service_name: str = Field(default="flyte-pod-webhook", alias="serviceName", min_length=1)
    service_port: int = Field(default=443, alias="servicePort", ge=1, le=65535)
    secret_name: str = Field(default="flyte-pod-webhook", alias="secretName", min_length=1)
    secret_manager_type: str = Field(default="K8s", alias="secretManagerType")
    secret_manager_types: list[str] | None = Field(default=None, alias="secretManagerTypes")
    aws_secret_manager: AWSManagerConfig = Field(
        default_factory=lambda: AWSManagerConfig.model_validate({}), alias="awsSecretManager"
    )
    gcp_secret_manager: GCPManagerConfig = Field(
        default_factory=lambda: GCPManagerConfig.model_validate({}), alias="gcpSecretManager"
    )
    azure_secret_manager: AzureManagerConfig = Field(
        default_factory=lambda: AzureManagerConfig.model_validate({}), alias="azureSecretManager"
    )
    vault_secret_manager: VaultManagerConfig = Field(
        default_factory=lambda: VaultManagerConfig.model_validate({}), alias="vaultSecretManager"
    )
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
    # Ours.
    on_injection_error: Literal["deny", "admit"] = Field(default="deny", alias="onInjectionError")
    timeout_seconds: int = Field(default=10, alias="timeoutSeconds", ge=1, le=30)
    workers: int = Field(default=1, ge=1, le=64)
    cert_validity_days: int = Field(default=90, alias="certValidityDays", ge=1)
    cert_renew_before_days: int = Field(default=30, alias="certRenewBeforeDays", ge=0)
    # ENV_VAR requests to file-only managers (AWS, GCP, Vault, Azure) are served as files the task's
    # entrypoint exports into the env vars; false refuses them as Flyte does (docs/secret-managers.md).
    export_env_vars: bool = Field(default=True, alias="exportEnvVars")

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
    from tasksecrets.injectors.registry import canonical_injector_name, known_injector_names

    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_MANAGER_NUMBERS):
        value = _MANAGER_NUMBERS[value]
    if not isinstance(value, str):
        raise ValueError(f"a secret manager name must be a string, got {value!r}")
    name = canonical_injector_name(value)
    if name is None:
        known = known_injector_names()
        close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown secret manager {value!r}{hint}; known: {', '.join(known)}")
    return name


class GlobalSecretsConfig(_Section):
    """The ``secrets:`` section: where Global finds the values the webhook holds itself."""

    env_prefix: str = Field(default="FLYTE_SECRET_", alias="env-prefix")
    secrets_prefix: str = Field(default="/etc/secrets", alias="secrets-prefix")
    type: str = "local"


class Config(BaseModel):
    """A whole config file: ``webhook`` and ``secrets``; other top-level sections are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    webhook: WebhookConfig = Field(default_factory=lambda: WebhookConfig.model_validate({}))
    secrets: GlobalSecretsConfig = Field(default_factory=lambda: GlobalSecretsConfig.model_validate({}))


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
        if isinstance(sub, type) and issubclass(sub, _Section):
            problems += _unknown_keys(sub, value, where)
    return problems


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-parsed YAML document; ConfigError names every bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must hold a mapping of sections (webhook:, secrets:)")
    problems = []
    for section, model in (("webhook", WebhookConfig), ("secrets", GlobalSecretsConfig)):
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            problems.append(f"{section}: must be a mapping of keys, got {type(data[section]).__name__}")
        else:
            problems += _unknown_keys(model, data.get(section), section)
    if problems:
        raise ConfigError(f"{source} is not valid:\n  " + "\n  ".join(problems))
    cleaned = {k: v for k, v in data.items() if k in ("webhook", "secrets") and v is not None}
    try:
        return Config.model_validate(cleaned)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {message}")
        raise ConfigError(f"{source} is not valid:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | Path | None = None) -> Config:
    """Load a config file, or the defaults when ``path`` is None."""
    if path is None:
        return Config.model_validate({})
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
