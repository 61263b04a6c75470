"""AWS Secrets Manager: an ``aws-pull-secret-<N>`` init container per secret (docs/compat.md section 4).

The secret's ARN (or name) is ``<group without trailing ':'>:<key without leading ':'>``: AWS
secret names cannot hold ':', so ``group`` is an ARN prefix such as
``arn:aws:secretsmanager:<region>:<account>:secret`` and the secret is named ``<key>`` there
(the seed's ``<SECRET_GROUP>:<SECRET_KEY>``). The init container (image and resources from
``awsSecretManager``) gets ``SECRET_ARN`` and ``SECRET_FILENAME=/<lower(group)>/<lower(key)>`` and
writes the plain-text secret into the in-memory volume ``aws-secret-vol``, mounted at ``/tmp``
there and read-only at ``/etc/flyte/secrets`` in every other container, so the task finds it at
``/etc/flyte/secrets/<lower(group)>/<lower(key)>``.

ENV_VAR requests (refused by Flyte) are served as that file plus an env export
(:mod:`tasksecrets.managers.delivery`). Needs no cloud SDK: boto3 is only used to materialize
secrets locally (:mod:`tasksecrets.managers.aws.materializer`).
"""

from __future__ import annotations

from typing import ClassVar

from tasksecrets.contract import (
    AWS_CONTAINER_PREFIX,
    AWS_INIT_MOUNT_PATH,
    AWS_SECRET_ARN_VAR,
    AWS_SECRET_FILENAME_VAR,
    AWS_VOLUME,
    DELIVERY,
    POD_SECRETS_DIR,
)
from tasksecrets.managers.delivery import check_request, plan_file
from tasksecrets.managers.fragments import env_value
from tasksecrets.managers.pull import PullInjector, PullPlan
from tasksecrets.sdk.secret import Secret

__all__ = ["AWSInjector", "aws_secret_filename", "aws_secret_id"]

_FILE = DELIVERY["AWS"].file_layout


def aws_secret_id(secret: Secret) -> str:
    """``<group>:<key>`` with trailing ':' of the group and leading ':' of the key trimmed."""
    return f"{secret.group.rstrip(':')}:{secret.key.lstrip(':')}"


def aws_secret_filename(secret: Secret) -> str:
    """``/<lower(group)>/<lower(key)>``, cleaned as a path join would (relative to the volume)."""
    return _FILE.join("/", secret.group, secret.key)


class AWSInjector(PullInjector):
    """Pulls each secret from AWS Secrets Manager in its own init container."""

    name: ClassVar[str] = "AWS"
    volume: ClassVar[str] = AWS_VOLUME
    container_prefix: ClassVar[str] = AWS_CONTAINER_PREFIX

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request; the file under the group's directory and the ARN for the sidecar."""
        check_request(secret, manager=self.name, export=self.export)
        filename = aws_secret_filename(secret)
        env = [
            env_value(AWS_SECRET_ARN_VAR, aws_secret_id(secret)),
            env_value(AWS_SECRET_FILENAME_VAR, filename),
        ]
        return PullPlan(
            plan_file(secret, path=POD_SECRETS_DIR + filename),
            self.pull_container(env=env, path_mount=AWS_INIT_MOUNT_PATH),
        )
