"""Azure Key Vault secrets for a local run: what each ``azure-pull-secret-<N>`` init container does.

The secret identifier and the file are read back from the init container's script with the
template that wrote it (:mod:`tasksecrets.managers.azure.script`) and fetched with ``azure-identity`` and
``azure-keyvault-secrets`` (``DefaultAzureCredential``: environment, workload identity, Azure CLI
login). Without those packages the run stops with what to install or do instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasksecrets.contract import POD_SECRETS_DIR
from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.azure.script import parse_pull_script
from tasksecrets.managers.materializing import PodContext, out_file_target, read_pull_script

__all__ = ["materialize_azure_pull"]


def materialize_azure_pull(container: Mapping[str, Any], ctx: PodContext) -> None:
    """Run one ``azure-pull-secret-<N>`` init container with the Azure client libraries."""
    script = read_pull_script(container, parse_pull_script, ctx)
    target = out_file_target(container, script.path, ctx, mount_path=POD_SECRETS_DIR)
    secret_id = script.secret.render()
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
        client = SecretClient(vault_url=script.secret.vault, credential=DefaultAzureCredential())
        secret = client.get_secret(script.secret.name, script.secret.version or None)
    except Exception as exc:
        raise TaskExecutionError(
            f"Azure Key Vault could not read {secret_id!r}: {type(exc).__name__}"
        ) from None
    # ``az ... -o tsv`` ends the value with a line break; so does this.
    data = (str(secret.value or "") + "\n").encode("utf-8")
    ctx.write_secret_file(target, data)
    ctx.note_delivered(secret_id)
