"""Azure Key Vault: an ``azure-pull-secret-<N>`` init container per secret (Flyte's newer line).

Not part of Flyte v1.16; shaped like Flyte's newer Azure injector: an in-memory volume
``azure-secret-vol``, an init container per secret running the Azure CLI image
(``azureSecretManager.sidecarImage``, default ``mcr.microsoft.com/azure-cli:cbl-mariner2.0``, with
``azureSecretManager.resources``) that logs in with the pod's workload identity and writes the
secret with ``az keyvault secret show ... -o tsv``; the volume is mounted at ``/etc/flyte/secrets``
there and read-only in every other container.

Naming (docs/secret-managers.md):

- ``group`` = the vault URL ``https://<vault>.vault.azure.net`` and ``group_version`` = the secret's
  name: the latest version of that secret;
- or, as Flyte's newer line writes it, ``group`` = the secret's URL
  ``https://<vault>.vault.azure.net/secrets/<name>`` and ``group_version`` = a version (empty: latest);
- ``key`` names the file (any plain file name).

The file is where the task's reader looks first for ``(group, key, group_version)``:
``/etc/flyte/secrets/<lower(group)>[/<lower(group_version)>]/<lower(key)>`` (cleaned). Names are
checked against Key Vault's rules before they reach the shell script, so nothing can break out of it.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, ClassVar

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import SECRETS_MOUNT_DIR
from tasksecrets.injectors.files import PullInjector, PullPlan, check_request, export_enabled, plan_file
from tasksecrets.sdk.secret import Secret

if TYPE_CHECKING:
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import Config

__all__ = ["AZURE_VOLUME", "AzureInjector", "azure_pull_script", "azure_secret_id", "azure_secret_path"]

AZURE_VOLUME = "azure-secret-vol"
_VAULT_URL = re.compile(
    r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?P<secret>/secrets/[A-Za-z0-9-]{1,127})?/?$"
)
_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LOGIN = (
    "az login --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID "
    '--federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)"'
)


def azure_secret_id(secret: Secret) -> str:
    """The secret identifier ``az keyvault secret show --id`` takes; InjectionError when unusable."""
    match = _VAULT_URL.match(secret.group)
    if match is None:
        raise InjectionError(
            f"Azure group {secret.group!r} is not a Key Vault URL: use 'https://<vault>.vault.azure.net' "
            "(with group_version = the secret's name) or 'https://<vault>.vault.azure.net/secrets/<name>'"
        )
    base = secret.group.rstrip("/")
    version = secret.group_version or ""
    if version and not _NAME.match(version):
        raise InjectionError(
            f"Azure group_version {version!r} is not a secret name or version (letters, digits and '-')"
        )
    if match.group("secret"):
        return f"{base}/{version}" if version else base
    if not version:
        raise InjectionError(
            "Azure needs group_version = the secret's name when group is the vault URL "
            f"(e.g. Secret(group={secret.group!r}, key='value', group_version='db-password'))"
        )
    return f"{base}/secrets/{version}"


def azure_secret_path(secret: Secret) -> str:
    """Where the secret's file goes: the reader's first path for the request, cleaned."""
    parts = [secret.group.lower(), (secret.group_version or "").lower(), secret.key.lower()]
    return posixpath.normpath(posixpath.join(SECRETS_MOUNT_DIR, *[p for p in parts if p]))


def azure_pull_script(secret: Secret) -> str:
    """The init container's shell script (the secret must have passed :func:`azure_secret_id`)."""
    path = azure_secret_path(secret)
    return (
        f"{_LOGIN}; mkdir -p {posixpath.dirname(path)}; "
        f'az keyvault secret show --id "{azure_secret_id(secret)}" --query "value" -o tsv > {path}'
    )


class AzureInjector(PullInjector):
    """Pulls each secret from Azure Key Vault in its own init container."""

    name: ClassVar[str] = "Azure"
    volume: ClassVar[str] = AZURE_VOLUME
    container_prefix: ClassVar[str] = "azure-pull-secret"

    @classmethod
    def from_config(
        cls, config: Config, *, global_secrets: GlobalSecretSource | None = None
    ) -> AzureInjector:
        """From ``webhook.azureSecretManager`` and ``webhook.exportEnvVars``."""
        return cls(config.webhook.azure_secret_manager, export=export_enabled(config))

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request (Key Vault names, a plain file name); the file and the sidecar's script."""
        check_request(secret, manager=self.name, export=self.export)
        azure_secret_id(secret)
        if not _FILE.match(secret.key) or secret.key in (".", ".."):
            raise InjectionError(
                f"Azure key {secret.key!r} names the secret's file: use letters, digits, '-', '_' and '.'"
            )
        return PullPlan(
            plan_file(secret, path=azure_secret_path(secret)),
            self.pull_container(
                command=["sh", "-ec", azure_pull_script(secret)], path_mount=SECRETS_MOUNT_DIR
            ),
        )
