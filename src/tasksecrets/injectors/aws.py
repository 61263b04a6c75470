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

from tasksecrets.injectors.base import SECRETS_MOUNT_DIR, PodEditor, env_value
from tasksecrets.injectors.files import (
    add_pull_init_container,
    check_request,
    deliver_file,
    export_enabled,
    join_path,
    prepare_exports,
    render_resources,
)
from tasksecrets.sdk.secret import Secret

if TYPE_CHECKING:
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import AWSManagerConfig, Config

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


class AWSInjector:
    """Pulls each secret from AWS Secrets Manager in its own init container."""

    name: ClassVar[str] = "AWS"

    def __init__(self, config: AWSManagerConfig, *, export: bool = True) -> None:
        self.config = config
        self.export = export
        self._resources = render_resources(config.resources)

    @classmethod
    def from_config(cls, config: Config, *, global_secrets: GlobalSecretSource | None = None) -> AWSInjector:
        """From ``webhook.awsSecretManager`` and ``webhook.exportEnvVars``."""
        return cls(config.webhook.aws_secret_manager, export=export_enabled(config))

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Add the init container, volume, mounts and env vars; InjectionError when not servable."""
        check_request(secret, manager=self.name, export=self.export)
        filename = aws_secret_filename(secret)
        path = SECRETS_MOUNT_DIR + filename
        exports = prepare_exports(secret, editor, path)
        container = {
            "name": f"aws-pull-secret-{editor.init_container_count}",
            "image": self.config.sidecar_image,
            "env": [
                env_value(SECRET_ARN_VAR, aws_secret_id(secret)),
                env_value(SECRET_FILENAME_VAR, filename),
            ],
            "volumeMounts": [{"name": AWS_VOLUME, "mountPath": AWS_INIT_MOUNT_PATH}],
            "resources": dict(self._resources),
        }
        add_pull_init_container(editor, volume=AWS_VOLUME, container=container, mount_path=SECRETS_MOUNT_DIR)
        deliver_file(secret, editor, path=path, exports=exports)
        return True
