"""GCP Secret Manager secrets for a local run: what each ``gcp-pull-secret-<N>`` init container does.

The secret and version are read back from the init container's script with the template that
wrote it (:mod:`tasksecrets.managers.gcp.script`) and fetched with ``google-cloud-secret-manager``
(Application Default Credentials; the project from ``projects/<p>/secrets/<name>`` groups, else
``GOOGLE_CLOUD_PROJECT``). Without that package the run stops with what to install or do instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasksecrets.contract import POD_SECRETS_DIR
from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.gcp.script import parse_pull_script
from tasksecrets.managers.materializing import PodContext, out_file_target, read_pull_script

__all__ = ["materialize_gcp_pull"]


def _secret_name(group: str, version: str, environ: Mapping[str, str]) -> str:
    if group.startswith("projects/"):
        return f"{group}/versions/{version}"
    project = environ.get("GOOGLE_CLOUD_PROJECT") or environ.get("CLOUDSDK_CORE_PROJECT")
    if not project:
        raise TaskExecutionError(
            f"GCP secret {group!r} names no project: set GOOGLE_CLOUD_PROJECT for 'tasksecrets run' "
            "or use group='projects/<project>/secrets/<name>'"
        )
    return f"projects/{project}/secrets/{group}/versions/{version}"


def materialize_gcp_pull(container: Mapping[str, Any], ctx: PodContext) -> None:
    """Run one ``gcp-pull-secret-<N>`` init container with the GCP client library."""
    script = read_pull_script(container, parse_pull_script, ctx)
    target = out_file_target(container, script.path, ctx, mount_path=POD_SECRETS_DIR)
    try:
        from google.cloud import secretmanager
    except ImportError:
        raise TaskExecutionError(
            "GCP secrets need the google-cloud-secret-manager package to run locally: pip install "
            "'tasksecrets[gcp]' (and log in with 'gcloud auth application-default login'), or store the "
            "secret locally with 'tasksecrets create secret' and run with the K8s manager"
        ) from None
    name = _secret_name(script.group, script.version, ctx.environ)
    try:
        response = secretmanager.SecretManagerServiceClient().access_secret_version(name=name)
    except Exception as exc:
        raise TaskExecutionError(
            f"GCP Secret Manager could not read {name!r}: {type(exc).__name__}"
        ) from None
    ctx.write_secret_file(target, bytes(response.payload.data))
    ctx.note_delivered(name)
