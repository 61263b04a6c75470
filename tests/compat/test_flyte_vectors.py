"""Flyte's own test vectors for the annotation codec, the SDK reader's names and the config defaults.

Sources (facts re-expressed against our API, see the report of this audit):

- flyteplugins ``go/tasks/pluginmachinery/utils/secrets/marshaler_test.go``: annotation encodings;
- flytepropeller ``pkg/webhook/secrets_test.go``: the annotation its mutator tests decode;
- flytekit ``tests/flytekit/unit/core/test_context_manager.py``: SecretsManager names and lookups;
- flytekit ``flytekit/models/security.py``: the Secret model's checks;
- flytepropeller ``pkg/webhook/config/config.go`` and ``pkg/controller/nodes/task/secretmanager/config.go``:
  the defaults of the ``webhook`` and ``secrets`` config sections.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tasksecrets.admission.config import parse_config
from tasksecrets.errors import WireError
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.sdk.secrets import SecretsManager
from tasksecrets.wire import (
    b32_decode,
    b32_encode,
    decode_pod_secrets,
    decode_secret,
    encode_pod_metadata,
    encode_secret,
    secret_to_text,
)

# -- annotation codec (marshaler_test.go) -----------------------------------------------------------

# (secret as Flyte's producer builds it, annotation value Flyte's test expects)
MARSHALER_VECTORS = [
    pytest.param(Secret.from_wire(group=";':/\\"), "m4zg54lqhiqceozhhixvyxbcbi", id="forbidden-characters"),
    pytest.param(Secret.from_wire(key="my_key"), "nnsxsoraejwxsx2lmv3secq", id="without-group"),
    # compat.md section 2's worked example.
    pytest.param(
        Secret(group="user-info", key="user_secret", mount_requirement=MountType.ENV_VAR),
        "m4zg54lqhiqce4ltmvzc11lomzxsectlmv3tuibcovzwk3s6onswg3tfoqrau2lpovxhix2smvyxk1lsmvwwk2tuhiqektswl4lecuqk",
        id="compat-worked-example",
    ),
]


@pytest.mark.parametrize(("secret", "encoded"), MARSHALER_VECTORS)
def test_encoding_matches_flyte_marshaler(secret: Secret, encoded: str) -> None:
    assert encode_secret(secret) == encoded
    labels, annotations = encode_pod_metadata([secret])
    assert annotations == {"flyte.secrets/s0": encoded}
    assert labels == {"inject-flyte-secrets": "true"}


@pytest.mark.parametrize(("secret", "encoded"), MARSHALER_VECTORS)
def test_decoding_matches_flyte_unmarshaler(secret: Secret, encoded: str) -> None:
    decoded = decode_secret(encoded)
    assert (
        decoded.group,
        decoded.key,
        decoded.group_version,
        decoded.mount_requirement,
        decoded.env_var,
    ) == (
        secret.group,
        secret.key,
        secret.group_version,
        secret.mount_requirement,
        secret.env_var,
    )
    assert decode_pod_secrets({"flyte.secrets/s0": encoded, "other/annotation": "x"}) == [decoded]


def test_forbidden_characters_text_keeps_the_single_quote() -> None:
    # Go's text writer escapes the backslash but not the single quote (compat.md section 2).
    assert secret_to_text(Secret.from_wire(group=";':/\\")) == 'group: ";\':/\\\\"\n'


def test_group_alphabet_round_trips_through_base32() -> None:
    """TestEncodeSecretGroup: every character a group may hold survives encode/decode."""
    text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234567890._-/"
    encoded = b32_encode(text.encode())
    assert "=" not in encoded and set(encoded) <= set("abcdefghijklmnopqrstuvwxyz123456")
    assert b32_decode(encoded).decode() == text


@pytest.mark.parametrize("secrets", [[], ()], ids=["empty", "nil"])
def test_no_requests_give_no_annotations(secrets: list[Secret]) -> None:
    assert encode_pod_metadata(secrets) == ({}, {})
    assert decode_pod_secrets({}) == []


def test_secrets_test_annotation_is_not_utf8() -> None:
    """secrets_test.go decodes ``nnsxsorcnv4v623fperca``: ``key:"m{_\\xef\\x85y" `` (not UTF-8).

    Go's parser keeps the raw bytes; ours refuses them (wire.py: strings must be UTF-8), which
    the webhook turns into a 400 denial. See tests/compat/test_flyte_go_details.py for admit mode.
    """
    assert b32_decode("nnsxsorcnv4v623fperca") == b'key:"m{_\xef\x85y" '
    with pytest.raises(WireError, match="UTF-8"):
        decode_secret("nnsxsorcnv4v623fperca")


# -- the Secret model (flytekit models/security.py) ------------------------------------------------


def test_env_var_pattern_matches_flytekit() -> None:
    assert Secret(group="g", key="k", env_var="MY_VAR_1").env_var == "MY_VAR_1"
    for bad in ("my_var", "1VAR", "MY-VAR", ""):
        with pytest.raises(ValueError):
            Secret(group="g", key="k", env_var=bad)


@pytest.mark.parametrize("missing", ["group", "key"])
def test_group_and_key_required_at_declaration(missing: str) -> None:
    """flytekit: ``ValueError("Group is a required parameter")``; Ours (compat.md section 1):
    group and key are both required, and the error names the missing field."""
    fields = {"group": "g", "key": "k"}
    del fields[missing]
    with pytest.raises(ValueError, match=missing):
        Secret(**fields)


# -- the SDK reader (flytekit test_context_manager.py) ---------------------------------------------


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("FLYTE_SECRETS_ENV_PREFIX", "FLYTE_SECRETS_DEFAULT_DIR", "FLYTE_SECRETS_FILE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("_FSEC_") or name in ("GROUP_TEST", "GROUP_KEY2", "TEST"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_env_var_names(clean_env: pytest.MonkeyPatch) -> None:
    sec = SecretsManager()
    assert sec.get_secrets_env_var("group", "test") == "_FSEC_GROUP_TEST"
    assert sec.get_secrets_env_var("group", "test", "v1") == "_FSEC_GROUP_V1_TEST"
    with pytest.raises(ValueError):
        sec.get_secrets_env_var("", "x")


@pytest.mark.parametrize("call", [("group",), ("group", None, "v1")], ids=["group-only", "group-and-version"])
def test_env_var_name_without_key_is_refused(
    clean_env: pytest.MonkeyPatch, call: tuple[str | None, ...]
) -> None:
    """flytekit answers ``_FSEC_GROUP`` / ``_FSEC_GROUP_V1``; the seed (and compat.md section 1,
    Ours) make group and key required during usage too: a ValueError naming the key."""
    with pytest.raises(ValueError, match="key"):
        SecretsManager().get_secrets_env_var(*call)


def test_file_paths(clean_env: pytest.MonkeyPatch) -> None:
    sec = SecretsManager()
    assert sec.get_secrets_file("group", "test") == os.path.join("/etc/secrets", "group", "test")
    assert sec.get_secrets_file("group", "test", "v1") == os.path.join("/etc/secrets", "group", "v1", "test")
    with pytest.raises(ValueError):
        sec.get_secrets_file("", "x")
    clean_env.setenv("FLYTE_SECRETS_FILE_PREFIX", "pre_")
    assert sec.get_secrets_file("group", "test", "v1") == "/etc/secrets/group/v1/pre_test"


def test_missing_secret_is_a_value_error(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    sec = SecretsManager()
    with pytest.raises(ValueError):
        sec.get("group", "key2")
    with pytest.raises(ValueError):
        _ = sec.group.key2


def test_file_lookup(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    sec = SecretsManager()
    (tmp_path / "test").write_text("FAKE-password")
    with pytest.raises(ValueError):
        sec.get("", "x")
    with pytest.raises(ValueError):  # the group directory does not exist
        sec.get("group", "test")
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "test").write_text("FAKE-password")
    assert sec.get("group", "test") == "FAKE-password"
    assert sec.group.test == "FAKE-password"
    raw = base64.b64encode(b"R2Vla3NGb3JHZWV ==")
    (tmp_path / "group" / "test").write_bytes(raw)
    assert sec.get("group", "test") != raw
    assert sec.get("group", "test", encode_mode="rb") == raw


def test_unrelated_env_var_is_not_a_secret(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    clean_env.setenv("TEST", "FAKE-value")
    with pytest.raises(ValueError):
        SecretsManager().get("group", "test")


def test_env_lookup(clean_env: pytest.MonkeyPatch) -> None:
    sec = SecretsManager()
    clean_env.setenv(sec.get_secrets_env_var("group", "test"), "FAKE-value")
    assert sec.get("group", "test") == "FAKE-value"
    clean_env.setenv(sec.get_secrets_env_var(group="group", key="key"), "FAKE-value-2")
    assert sec.get(group="group", key="key") == "FAKE-value-2"


# -- config defaults (config.go DefaultConfig, secretmanager/config.go) ----------------------------


def test_webhook_defaults_match_flyte() -> None:
    config = parse_config({})
    hook = config.webhook
    assert (hook.secret_name, hook.service_name, hook.service_port) == (
        "flyte-pod-webhook",
        "flyte-pod-webhook",
        443,
    )
    assert (hook.metrics_prefix, hook.cert_dir, hook.local_cert, hook.listen_port) == (
        "flyte:",
        "/etc/webhook/certs",
        False,
        9443,
    )
    assert hook.secret_manager_type == "K8s"
    assert (
        hook.aws_secret_manager.sidecar_image == "docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4"
    )
    assert hook.gcp_secret_manager.sidecar_image == "gcr.io/google.com/cloudsdktool/cloud-sdk:alpine"
    assert hook.azure_secret_manager.sidecar_image == "mcr.microsoft.com/azure-cli:cbl-mariner2.0"
    for section in (hook.aws_secret_manager, hook.gcp_secret_manager, hook.azure_secret_manager):
        assert section.resources.requests == {"cpu": "200m", "memory": "500Mi"}
        assert section.resources.limits == {"cpu": "200m", "memory": "500Mi"}
    assert (hook.vault_secret_manager.role, hook.vault_secret_manager.kv_version) == ("flyte", "2")
    assert hook.vault_secret_manager.annotations == {}
    assert (config.secrets.secrets_prefix, config.secrets.env_prefix) == ("/etc/secrets", "FLYTE_SECRET_")


@pytest.mark.parametrize(
    ("value", "name"),
    [(0, "Global"), (1, "K8s"), (2, "AWS"), (3, "GCP"), (4, "Vault"), (6, "Azure"), ("Vault", "Vault")],
)
def test_secret_manager_type_enum(value: object, name: str) -> None:
    """Flyte's SecretManagerType: Global=0, K8s, AWS, GCP, Vault, Embedded=5, Azure=6."""
    assert parse_config({"webhook": {"secretManagerType": value}}).webhook.secret_manager_type == name


def test_flyte_config_file_loads_as_is() -> None:
    config = parse_config(
        {
            "propeller": {"rawoutput-prefix": "s3://bucket"},
            "webhook": {
                "certDir": "/etc/webhook/certs",
                "serviceName": "flyte-pod-webhook",
                "secretManagerType": "Vault",
                "secretManagerTypes": ["Vault", "K8s"],
                "vaultSecretManager": {
                    "role": "flyte-role",
                    "kvVersion": "1",
                    "annotations": {"vault.hashicorp.com/auth-config-type": "gce"},
                },
                "awsSecretManager": {
                    "sidecarImage": "example.com/sidecar:1",
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}},
                },
                "embeddedSecretManagerConfig": {"type": "AWS", "awsConfig": {"region": "us-east-1"}},
            },
            "secrets": {"secrets-prefix": "/etc/secrets", "env-prefix": "FLYTE_SECRET_"},
        }
    )
    assert config.webhook.manager_names() == ["Vault", "K8s"]
    assert config.webhook.vault_secret_manager.kv_version == "1"
    assert config.webhook.aws_secret_manager.resources.requests == {"cpu": "100m"}
