"""Azure Key Vault secrets for a local run: what each ``azure-pull-secret-<N>`` init container does.

The secret identifier and the file are read back from the init container's script (the one
:mod:`tasksecrets.injectors.azure` writes) and fetched with ``azure-identity`` and
``azure-keyvault-secrets`` (``DefaultAzureCredential``: environment, workload identity, Azure CLI
login). Without those packages the run stops with what to install or do instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.materializers import PodContext, read_pull_command, register_materializer

__all__: list[str] = []

_SHOW = re.compile(r'az keyvault secret show --id "(?P<id>[^"]+)" --query "value" -o tsv > (?P<path>\S+)$')
_ID = re.compile(r"^(?P<vault>https://[^/]+)/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?$")
MOUNT_PATH = "/etc/flyte/secrets"


def materialize_azure_pull(container: Mapping[str, Any], ctx: PodContext) -> None:
    """Run one ``azure-pull-secret-<N>`` init container with the Azure client libraries."""
    match, target = read_pull_command(container, _SHOW, ctx, mount_path=MOUNT_PATH)
    ident = _ID.match(match.group("id"))
    if ident is None:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {container.get('name')!r} is not one tasksecrets wrote"
        )
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise TaskExecutionError(
            "Azure Key Vault secrets need the azure-identity and azure-keyvault-secrets packages to run "
            "locally: pip install 'tasksecrets[azure]' (and 'az login'), or store the secret locally with "
            "'tasksecrets create secret' and run with the K8s manager"
        ) from None
    try:
        client = SecretClient(vault_url=ident.group("vault"), credential=DefaultAzureCredential())
        secret = client.get_secret(ident.group("name"), ident.group("version") or None)
    except Exception as exc:
        raise TaskExecutionError(
            f"Azure Key Vault could not read {match.group('id')!r}: {type(exc).__name__}"
        ) from None
    # ``az ... -o tsv`` ends the value with a line break; so does this.
    data = (str(secret.value or "") + "\n").encode("utf-8")
    ctx.write_secret_file(target, data)
    ctx.note_delivered(match.group("id"))


register_materializer("init-container", "azure-pull-secret", materialize_azure_pull)
