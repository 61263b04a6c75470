"""Vault / OpenBao (``secretManagerType: Vault``): annotations for the Vault Agent Injector.

Locally, the real agent (``bao`` or ``vault`` on PATH) or hvac renders what the injector would
(``pip install 'tasksecrets[vault]'`` for hvac).
"""

from tasksecrets.contract import VAULT_AGENT_INJECT
from tasksecrets.managers.plugin import ManagerPlugin

PLUGIN = ManagerPlugin(
    name="Vault",
    injector="tasksecrets.managers.vault.injector:VaultInjector",
    section="vaultSecretManager",
    settings="tasksecrets.managers.vault.settings:VaultManagerConfig",
    materializers={
        ("pod-annotation", VAULT_AGENT_INJECT): "tasksecrets.managers.vault.materializer:materialize_vault"
    },
    extra="vault",
)
