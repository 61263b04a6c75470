"""Azure Key Vault: an ``azure-pull-secret-<N>`` init container per secret (Flyte's newer line).

Not part of Flyte v1.16; shaped like Flyte's newer Azure injector: an in-memory volume
``azure-secret-vol``, an init container per secret running the Azure CLI image
(``azureSecretManager.sidecarImage``, default ``mcr.microsoft.com/azure-cli:cbl-mariner2.0``, with
``azureSecretManager.resources``) that logs in with the pod's workload identity and writes the
secret with ``az keyvault secret show ... -o tsv`` (:mod:`tasksecrets.managers.azure.script`); the
volume is mounted at ``/etc/flyte/secrets`` there and read-only in every other container.

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

import re
from typing import ClassVar

from tasksecrets.contract import AZURE_CONTAINER_PREFIX, AZURE_VOLUME, DELIVERY, POD_SECRETS_DIR
from tasksecrets.errors import InjectionError
from tasksecrets.managers.azure.script import SecretId, render_pull_script
from tasksecrets.managers.delivery import check_request, plan_file
from tasksecrets.managers.pull import PullInjector, PullPlan
from tasksecrets.sdk.secret import Secret

__all__ = ["AzureInjector", "azure_secret_id", "azure_secret_path"]

_LAYOUT_FILE = DELIVERY["Azure"].file_layout
_VAULT_URL = re.compile(
    r"(?P<vault>https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)(?:/secrets/(?P<name>[A-Za-z0-9-]{1,127}))?/?"
)
_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")
_FILE = re.compile(r"[A-Za-z0-9_.-]+")


def azure_secret_id(secret: Secret) -> SecretId:
    """The Key Vault secret the request names; InjectionError when it names none."""
    match = _VAULT_URL.fullmatch(secret.group)
    if match is None:
        raise InjectionError(
            f"Azure group {secret.group!r} is not a Key Vault URL: use 'https://<vault>.vault.azure.net' "
            "(with group_version = the secret's name) or 'https://<vault>.vault.azure.net/secrets/<name>'"
        )
    version = secret.group_version or ""
    if version and not _NAME.fullmatch(version):
        raise InjectionError(
            f"Azure group_version {version!r} is not a secret name or version (letters, digits and '-')"
        )
    if match.group("name"):
        return SecretId(match.group("vault"), match.group("name"), version)
    if not version:
        raise InjectionError(
            "Azure needs group_version = the secret's name when group is the vault URL "
            f"(e.g. Secret(group={secret.group!r}, key='value', group_version='db-password'))"
        )
    return SecretId(match.group("vault"), version)


def azure_secret_path(secret: Secret) -> str:
    """Where the secret's file goes: the reader's first path for the request, cleaned."""
    return _LAYOUT_FILE.join(POD_SECRETS_DIR, secret.group, secret.key, secret.group_version)


class AzureInjector(PullInjector):
    """Pulls each secret from Azure Key Vault in its own init container."""

    name: ClassVar[str] = "Azure"
    volume: ClassVar[str] = AZURE_VOLUME
    container_prefix: ClassVar[str] = AZURE_CONTAINER_PREFIX

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request (Key Vault names, a plain file name); the file and the sidecar's script."""
        check_request(secret, manager=self.name, export=self.export)
        secret_id = azure_secret_id(secret)
        if not _FILE.fullmatch(secret.key) or secret.key in (".", ".."):
            raise InjectionError(
                f"Azure key {secret.key!r} names the secret's file: use letters, digits, '-', '_' and '.'"
            )
        path = azure_secret_path(secret)
        return PullPlan(
            plan_file(secret, path=path),
            self.pull_container(
                command=["sh", "-ec", render_pull_script(secret_id, path)], path_mount=POD_SECRETS_DIR
            ),
        )
