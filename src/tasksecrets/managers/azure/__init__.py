"""Azure Key Vault (``secretManagerType: Azure``): an init container runs the Azure CLI.

Locally, azure-identity and azure-keyvault-secrets fetch what the script would
(``pip install 'tasksecrets[azure]'``).
"""

from tasksecrets.contract import AZURE_CONTAINER_PREFIX
from tasksecrets.managers.plugin import ManagerPlugin

PLUGIN = ManagerPlugin(
    name="Azure",
    injector="tasksecrets.managers.azure.injector:AzureInjector",
    section="azureSecretManager",
    settings="tasksecrets.managers.azure.settings:AzureManagerConfig",
    materializers={
        (
            "init-container",
            AZURE_CONTAINER_PREFIX,
        ): "tasksecrets.managers.azure.materializer:materialize_azure_pull"
    },
    extra="azure",
)
