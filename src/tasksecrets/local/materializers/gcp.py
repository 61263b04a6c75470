"""GCP Secret Manager secrets for a local run: what each ``gcp-pull-secret-<N>`` init container does.

The secret and version are read back from the init container's script (the one
:mod:`tasksecrets.injectors.gcp` writes) and fetched with ``google-cloud-secret-manager``
(Application Default Credentials; the project from ``projects/<p>/secrets/<name>`` groups, else
``GOOGLE_CLOUD_PROJECT``). Without that package the run stops with what to install or do instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.materializers import PodContext, read_pull_command, register_materializer

__all__: list[str] = []

_ACCESS = re.compile(
    r"gcloud secrets versions access (?P<group>\S+)/versions/(?P<version>\S+) --out-file=(?P<path>\S+) "
)
MOUNT_PATH = "/etc/flyte/secrets"


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
    match, target = read_pull_command(container, _ACCESS, ctx, mount_path=MOUNT_PATH)
    try:
        from google.cloud import secretmanager
    except ImportError:
        raise TaskExecutionError(
            "GCP secrets need the google-cloud-secret-manager package to run locally: pip install "
            "'tasksecrets[gcp]' (and log in with 'gcloud auth application-default login'), or store the "
            "secret locally with 'tasksecrets create secret' and run with the K8s manager"
        ) from None
    name = _secret_name(match.group("group"), match.group("version"), ctx.environ)
    try:
        response = secretmanager.SecretManagerServiceClient().access_secret_version(name=name)
    except Exception as exc:
        raise TaskExecutionError(
            f"GCP Secret Manager could not read {name!r}: {type(exc).__name__}"
        ) from None
    ctx.write_secret_file(target, bytes(response.payload.data))
    ctx.note_delivered(name)


register_materializer("init-container", "gcp-pull-secret", materialize_gcp_pull)
