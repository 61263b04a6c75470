"""GCP Secret Manager (``secretManagerType: GCP``): an init container runs ``gcloud``.

Locally, google-cloud-secret-manager fetches what the script would (``pip install 'tasksecrets[gcp]'``).
"""

from tasksecrets.contract import GCP_CONTAINER_PREFIX
from tasksecrets.managers.plugin import ManagerPlugin

PLUGIN = ManagerPlugin(
    name="GCP",
    injector="tasksecrets.managers.gcp.injector:GCPInjector",
    section="gcpSecretManager",
    settings="tasksecrets.managers.gcp.settings:GCPManagerConfig",
    materializers={
        ("init-container", GCP_CONTAINER_PREFIX): "tasksecrets.managers.gcp.materializer:materialize_gcp_pull"
    },
    extra="gcp",
)
