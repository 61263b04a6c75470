"""GCP's config section, ``webhook.gcpSecretManager``: the pull container's image and resources."""

from __future__ import annotations

from pydantic import Field

from tasksecrets.managers.settings import SidecarSettings

__all__ = ["GCPManagerConfig"]


class GCPManagerConfig(SidecarSettings):
    """``gcpSecretManager``: the ``gcp-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(
        default="gcr.io/google.com/cloudsdktool/cloud-sdk:alpine", alias="sidecarImage"
    )
