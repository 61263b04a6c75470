"""AWS Secrets Manager: an ``aws-pull-secret-<N>`` init container per secret (compat.md section 4).

The secret's ARN (or name) is ``<group without trailing ':'>:<key without leading ':'>``: AWS
secret names cannot hold ':', so ``group`` is an ARN prefix such as
``arn:aws:secretsmanager:<region>:<account>:secret`` and the secret is named ``<key>`` there
(the seed's ``<SECRET_GROUP>:<SECRET_KEY>``). The init container (image and resources from
``awsSecretManager``) gets ``SECRET_ARN`` and ``SECRET_FILENAME=/<lower(group)>/<lower(key)>`` and
writes the plain-text secret into the in-memory volume ``aws-secret-vol``, mounted at ``/tmp``
there and read-only at ``/etc/flyte/secrets`` in every other container, so the task finds it at
``/etc/flyte/secrets/<lower(group)>/<lower(key)>``.

ENV_VAR requests (refused by Flyte) are served as that file plus an env export
(:mod:`tasksecrets.injectors.files`). Needs no cloud SDK: boto3 is only used to materialize
secrets locally (:mod:`tasksecrets.local.materializers.aws`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tasksecrets.injectors.base import SECRETS_MOUNT_DIR, env_value, join_path
from tasksecrets.injectors.files import PullInjector, PullPlan, check_request, export_enabled, plan_file
from tasksecrets.sdk.secret import Secret

if TYPE_CHECKING:
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import Config

__all__ = ["AWS_INIT_MOUNT_PATH", "AWS_VOLUME", "AWSInjector", "aws_secret_filename", "aws_secret_id"]

AWS_VOLUME = "aws-secret-vol"
AWS_INIT_MOUNT_PATH = "/tmp"  # the sidecar image always writes under /tmp
SECRET_ARN_VAR = "SECRET_ARN"
SECRET_FILENAME_VAR = "SECRET_FILENAME"


def aws_secret_id(secret: Secret) -> str:
    """``<group>:<key>`` with trailing ':' of the group and leading ':' of the key trimmed."""
    return f"{secret.group.rstrip(':')}:{secret.key.lstrip(':')}"


def aws_secret_filename(secret: Secret) -> str:
    """``/<lower(group)>/<lower(key)>``, cleaned as a path join would (relative to the volume)."""
    return join_path("/", secret.group.lower(), secret.key.lower())


class AWSInjector(PullInjector):
    """Pulls each secret from AWS Secrets Manager in its own init container."""

    name: ClassVar[str] = "AWS"
    volume: ClassVar[str] = AWS_VOLUME
    container_prefix: ClassVar[str] = "aws-pull-secret"

    @classmethod
    def from_config(cls, config: Config, *, global_secrets: GlobalSecretSource | None = None) -> AWSInjector:
        """From ``webhook.awsSecretManager`` and ``webhook.exportEnvVars``."""
        return cls(config.webhook.aws_secret_manager, export=export_enabled(config))

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request; the file under the group's directory and the ARN for the sidecar."""
        check_request(secret, manager=self.name, export=self.export)
        filename = aws_secret_filename(secret)
        env = [env_value(SECRET_ARN_VAR, aws_secret_id(secret)), env_value(SECRET_FILENAME_VAR, filename)]
        return PullPlan(
            plan_file(secret, path=SECRETS_MOUNT_DIR + filename),
            self.pull_container(env=env, path_mount=AWS_INIT_MOUNT_PATH),
        )
