"""AWS Secrets Manager secrets for a local run: what each ``aws-pull-secret-<N>`` init container does.

The init container's env says which secret (``SECRET_ARN``: an ARN, partial ARN or name) and where
(``SECRET_FILENAME``, under the volume it mounts at ``/tmp``). The secret is read with boto3 as
the sidecar image does: ``GetSecretValue``, the ``SecretString`` (or ``SecretBinary``) written as
is. boto3's usual credential chain applies, fed from the environment of ``tasksecrets run``
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, shared
config files, instance roles); ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` or ``AWS_ENDPOINT_URL`` points it
at another endpoint; the region comes from the ARN, else ``AWS_REGION``/``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from tasksecrets.contract import AWS_INIT_MOUNT_PATH, AWS_SECRET_ARN_VAR, AWS_SECRET_FILENAME_VAR
from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.materializing import PodContext

__all__ = ["fetch_aws_secret", "materialize_aws_pull"]


def _env_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {str(e["name"]): str(e.get("value", "")) for e in container.get("env") or [] if "value" in e}


def _region_of(secret_id: str, environ: Mapping[str, str]) -> str | None:
    parts = secret_id.split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")


def fetch_aws_secret(secret_id: str, *, environ: Mapping[str, str]) -> bytes:
    """The secret's value from AWS Secrets Manager, as the sidecar writes it."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise TaskExecutionError(
            "AWS secrets need boto3 to run locally: pip install 'tasksecrets[aws]'"
        ) from None
    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        profile_name=environ.get("AWS_PROFILE"),
        region_name=_region_of(secret_id, environ),
    )
    endpoint = environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or environ.get("AWS_ENDPOINT_URL") or None
    try:
        client = session.client("secretsmanager", endpoint_url=endpoint)
        response = client.get_secret_value(SecretId=secret_id)
    except botocore.exceptions.NoRegionError:
        raise TaskExecutionError(
            f"AWS secret {secret_id!r}: no region; set AWS_REGION (or use an ARN as the secret's group)"
        ) from None
    except botocore.exceptions.NoCredentialsError:
        raise TaskExecutionError(
            "AWS secrets need credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
            "for 'tasksecrets run'"
        ) from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise TaskExecutionError(f"AWS Secrets Manager could not read {secret_id!r}: {code}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise TaskExecutionError(f"AWS Secrets Manager could not be reached: {type(exc).__name__}") from None
    if "SecretString" in response:
        return str(response["SecretString"]).encode("utf-8")
    return bytes(response.get("SecretBinary") or b"")


def materialize_aws_pull(container: Mapping[str, Any], ctx: PodContext) -> None:
    """Run one ``aws-pull-secret-<N>`` init container."""
    env = _env_of(container)
    secret_id, filename = env.get(AWS_SECRET_ARN_VAR), env.get(AWS_SECRET_FILENAME_VAR)
    name = container.get("name")
    if not secret_id or not filename:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {name!r} lacks {AWS_SECRET_ARN_VAR} or {AWS_SECRET_FILENAME_VAR}"
        )
    mounts = [m for m in container.get("volumeMounts") or [] if m.get("mountPath") == AWS_INIT_MOUNT_PATH]
    if not mounts:
        raise TaskExecutionError(
            f"pod {ctx.name}: init container {name!r} mounts no volume at {AWS_INIT_MOUNT_PATH}"
        )
    relative = PurePosixPath(filename.lstrip("/"))
    if ".." in relative.parts or not relative.parts:
        raise TaskExecutionError(
            f"pod {ctx.name}: {AWS_SECRET_FILENAME_VAR} {filename!r} must stay inside the volume"
        )
    data = fetch_aws_secret(secret_id, environ=ctx.environ)
    ctx.write_secret_file(ctx.volume_dir(str(mounts[0]["name"])).joinpath(*relative.parts), data)
    ctx.note_delivered(secret_id)
