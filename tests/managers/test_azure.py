"""Azure injector (Flyte's newer line): the conformance suite, every mount x env_var case exactly as
docs/secret-managers.md describes it, both ways of naming a secret, and the refusals."""

from __future__ import annotations

from typing import Any

import pytest

from managers.filecases import (
    FILE,
    MOUNTS,
    FileManagerConformance,
    deny_reason,
    expected_pull_pod,
    mutate,
)
from tasksecrets.sdk.secret import MountType, Secret

IMAGE = "mcr.microsoft.com/azure-cli:cbl-mariner2.0"
VAULT = "https://team-kv.vault.azure.net"
LOGIN = (
    'az login --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID --federated-token "$(cat '
    '$AZURE_FEDERATED_TOKEN_FILE)"'
)


class TestAzureConformance(FileManagerConformance):
    injector_name = "Azure"

    def sample_secret(self, mount: MountType, *, env_var: str | None = None, index: int = 0) -> Secret:
        return Secret(
            group=VAULT,
            key="value",
            group_version=f"secret-{index}",
            mount_requirement=mount,
            env_var=env_var,
        )

    def refused_secrets(self) -> list[Secret]:
        return [
            Secret.from_wire(group=VAULT, key="value"),  # no secret name
            Secret.from_wire(group="http://team-kv.vault.azure.net", key="v", group_version="s"),
            Secret.from_wire(group=VAULT + '"; id; "', key="v", group_version="s"),
            Secret.from_wire(group=VAULT, key="v", group_version="s;id"),
            Secret.from_wire(group=VAULT, key="../v", group_version="s"),
        ]


def expected_pod(secret: Secret, *, secret_id: str, path: str) -> dict[str, Any]:
    directory = path.rsplit("/", 1)[0]
    script = (
        f"{LOGIN}; mkdir -p {directory}; "
        f'az keyvault secret show --id "{secret_id}" --query "value" -o tsv > {path}'
    )
    return expected_pull_pod(
        secret, manager="azure", image=IMAGE, path=path, sidecar={"command": ["sh", "-ec", script]}
    )


@pytest.mark.parametrize("env_var", [None, "MY_VAR"])
@pytest.mark.parametrize("mount", MOUNTS)
def test_vault_url_and_secret_name_exactly(mount: MountType, env_var: str | None) -> None:
    secret = Secret(
        group=VAULT, key="Value", group_version="Db-Password", mount_requirement=mount, env_var=env_var
    )
    result = mutate("Azure", [secret])
    assert result.pod == expected_pod(
        secret,
        secret_id="https://team-kv.vault.azure.net/secrets/Db-Password",
        path="/etc/flyte/secrets/https:/team-kv.vault.azure.net/db-password/value",
    )


def test_flyte_newer_line_naming_secret_url_and_version() -> None:
    secret = Secret(
        group=VAULT + "/secrets/db-password/", key="v", group_version="0a1b2c", mount_requirement=FILE
    )
    result = mutate("azure", [secret])
    assert result.pod == expected_pod(
        secret,
        secret_id="https://team-kv.vault.azure.net/secrets/db-password/0a1b2c",
        path="/etc/flyte/secrets/https:/team-kv.vault.azure.net/secrets/db-password/0a1b2c/v",
    )
    latest = Secret(group=VAULT + "/secrets/db-password", key="v", mount_requirement=FILE)
    command = mutate("azure", [latest]).pod["spec"]["initContainers"][1]["command"][2]
    assert '--id "https://team-kv.vault.azure.net/secrets/db-password" ' in command


def test_configured_image_and_resources() -> None:
    result = mutate(
        "Azure",
        [Secret(group=VAULT, key="v", group_version="s", mount_requirement=FILE)],
        azureSecretManager={
            "sidecarImage": "mcr.microsoft.com/azure-cli:2.60.0",
            "resources": {"limits": {"memory": "1Gi"}},
        },
    )
    sidecar = result.pod["spec"]["initContainers"][1]
    assert (sidecar["image"], sidecar["resources"]) == (
        "mcr.microsoft.com/azure-cli:2.60.0",
        {"limits": {"memory": "1Gi"}},
    )


def test_missing_secret_name_is_denied_with_the_fix() -> None:
    reason = deny_reason("Azure", Secret(group=VAULT, key="v", mount_requirement=FILE))
    assert "group_version = the secret's name" in reason


@pytest.mark.parametrize(
    "group", ["team-kv", "https://kv/$(id)", 'https://kv"', "https://kv.vault.azure.net/keys/x"]
)
def test_groups_that_are_not_vault_urls_are_denied(group: str) -> None:
    assert "is not a Key Vault URL" in deny_reason(
        "Azure", Secret.from_wire(group=group, key="v", group_version="s")
    )
