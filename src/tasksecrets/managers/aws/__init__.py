"""AWS Secrets Manager (``secretManagerType: AWS``): an init container pulls each secret.

Locally, boto3 fetches what the init container would (``pip install 'tasksecrets[aws]'``).
"""

from tasksecrets.contract import AWS_CONTAINER_PREFIX
from tasksecrets.managers.plugin import ManagerPlugin

PLUGIN = ManagerPlugin(
    name="AWS",
    injector="tasksecrets.managers.aws.injector:AWSInjector",
    section="awsSecretManager",
    settings="tasksecrets.managers.aws.settings:AWSManagerConfig",
    materializers={
        ("init-container", AWS_CONTAINER_PREFIX): "tasksecrets.managers.aws.materializer:materialize_aws_pull"
    },
    extra="aws",
)
