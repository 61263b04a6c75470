"""The config file: Flyte's webhook section loads unchanged, our keys, errors that point at the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasksecrets.admission.config import load_config, parse_config
from tasksecrets.errors import ConfigError

FLYTE_CONFIG = """
propeller:
  workers: 4
logger:
  level: 4
secrets:
  secrets-prefix: /etc/secrets
  env-prefix: FLYTE_SECRET_
  type: local
webhook:
  metrics-prefix: "flyte:"
  certDir: /etc/webhook/certs
  localCert: true
  listenPort: 9443
  serviceName: flyte-pod-webhook
  servicePort: 443
  secretName: flyte-pod-webhook
  secretManagerType: vault
  awsSecretManager:
    sidecarImage: docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4
    resources:
      requests: {cpu: 200m, memory: 500Mi}
      limits: {cpu: 200m, memory: 500Mi}
  gcpSecretManager:
    sidecarImage: gcr.io/google.com/cloudsdktool/cloud-sdk:alpine
  vaultSecretManager:
    role: flyte
    kvVersion: "1"
    annotations:
      vault.hashicorp.com/auth-config-type: gce
  embeddedSecretManagerConfig:
    type: AWS
    awsConfig: {region: us-east-1}
  azureSecretManager:
    sidecarImage: mcr.microsoft.com/azure-cli:latest
  imageBuilderConfig: {enabled: false}
  webhookTimeout: 20
  disableCreateMutatingWebhookConfig: true
  namespaceSelector:
    matchLabels: {team: data}
"""


def test_defaults_are_flytes() -> None:
    cfg = load_config(None).webhook
    assert (cfg.cert_dir, cfg.local_cert, cfg.listen_port) == ("/etc/webhook/certs", False, 9443)
    assert (cfg.service_name, cfg.service_port, cfg.secret_name) == (
        "flyte-pod-webhook",
        443,
        "flyte-pod-webhook",
    )
    assert cfg.secret_manager_type == "K8s" and cfg.manager_names() == ["K8s"]
    assert (
        cfg.aws_secret_manager.sidecar_image == "docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4"
    )
    assert cfg.aws_secret_manager.resources.limits == {"cpu": "200m", "memory": "500Mi"}
    assert cfg.gcp_secret_manager.sidecar_image == "gcr.io/google.com/cloudsdktool/cloud-sdk:alpine"
    assert (cfg.vault_secret_manager.role, cfg.vault_secret_manager.kv_version) == ("flyte", "2")
    assert cfg.disable_create_mutating_webhook_config is False and cfg.namespace_selector is None
    assert (cfg.on_injection_error, cfg.timeout_seconds, cfg.workers) == ("deny", 10, 1)
    secrets = load_config(None).secrets
    assert (secrets.env_prefix, secrets.secrets_prefix) == ("FLYTE_SECRET_", "/etc/secrets")


def test_a_flyte_config_file_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "flyte.yaml"
    path.write_text(FLYTE_CONFIG)
    cfg = load_config(path).webhook
    assert cfg.secret_manager_type == "Vault"  # case-insensitive, canonical spelling
    assert cfg.vault_secret_manager.kv_version == "1"
    assert cfg.vault_secret_manager.annotations == {"vault.hashicorp.com/auth-config-type": "gce"}
    assert cfg.namespace_selector == {"matchLabels": {"team": "data"}}
    assert cfg.timeout_seconds == 20  # from Flyte's webhookTimeout
    assert cfg.gcp_secret_manager.resources.requests == {"cpu": "200m", "memory": "500Mi"}


def test_our_keys() -> None:
    cfg = parse_config(
        {
            "webhook": {
                "onInjectionError": "Admit",
                "timeoutSeconds": 5,
                "secretManagerTypes": ["aws", "k8s"],
                "workers": 4,
                "certValidityDays": 30,
                "certRenewBeforeDays": 10,
            }
        }
    ).webhook
    assert cfg.on_injection_error == "admit" and cfg.timeout_seconds == 5 and cfg.workers == 4
    assert cfg.manager_names() == ["AWS", "K8s"]
    assert parse_config({"webhook": {"secretManagerType": 4}}).webhook.secret_manager_type == "Vault"
    assert (
        parse_config(
            {"webhook": {"vaultSecretManager": {"kvVersion": 2}}}
        ).webhook.vault_secret_manager.kv_version
        == "2"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"webhook": {"vaultSecretManager": {"rol": "x"}}},
            "webhook.vaultSecretManager.rol: unknown key; did you mean 'role'?",
        ),
        ({"webhook": {"listenport": 1}}, "webhook.listenport: unknown key; did you mean 'listenPort'?"),
        ({"webhook": {"listen_port": 1}}, "webhook.listen_port: unknown key; did you mean 'listenPort'?"),
        (
            {"webhook": {"awsSecretManager": {"resources": {"limit": {}}}}},
            "webhook.awsSecretManager.resources.limit",
        ),
        ({"secrets": {"envPrefix": "X"}}, "secrets.envPrefix: unknown key; did you mean 'env-prefix'?"),
        ({"webhook": {"listenPort": "high"}}, "webhook.listenPort: Input should be a valid integer"),
        ({"webhook": {"listenPort": 70000}}, "webhook.listenPort"),
        ({"webhook": {"localCert": "maybe"}}, "webhook.localCert"),
        (
            {"webhook": {"secretManagerType": "Vualt"}},
            "unknown secret manager 'Vualt' (did you mean 'Vault'?)",
        ),
        ({"webhook": {"secretManagerTypes": []}}, "webhook.secretManagerTypes"),
        ({"webhook": {"vaultSecretManager": {"kvVersion": 3}}}, "kvVersion must be 1 or 2"),
        ({"webhook": {"vaultSecretManager": {"kvVersion": "v2"}}}, "kvVersion must be 1 or 2"),
        ({"webhook": {"onInjectionError": "ignore"}}, "webhook.onInjectionError"),
        ({"webhook": {"timeoutSeconds": 31}}, "webhook.timeoutSeconds"),
        (
            {"webhook": {"certValidityDays": 10, "certRenewBeforeDays": 10}},
            "certRenewBeforeDays (10) must be less",
        ),
        ({"webhook": ["not", "a", "mapping"]}, "webhook: must be a mapping"),
        (["a", "list"], "must hold a mapping"),
    ],
)
def test_errors_point_at_the_key(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="test.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("test.yaml")


def test_every_unknown_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"webhook": {"certdir": "x", "servicename": "y"}})
    assert "webhook.certdir" in str(info.value) and "webhook.servicename" in str(info.value)


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("webhook: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty).webhook.listen_port == 9443


def test_bad_yaml_is_one_line_with_its_position_and_never_quotes_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('webhook:\n  vaultSecretManager:\n    annotations: {token: "s3cr3t-token-value"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert "not valid YAML at line" in message
    assert "s3cr3t-token-value" not in message
