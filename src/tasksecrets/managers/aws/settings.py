"""AWS's config section, ``webhook.awsSecretManager``: the pull container's image and resources."""

from __future__ import annotations

from pydantic import Field

from tasksecrets.managers.settings import SidecarSettings

__all__ = ["AWSManagerConfig"]


class AWSManagerConfig(SidecarSettings):
    """``awsSecretManager``: the ``aws-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(
        default="docker.io/amazon/aws-secrets-manager-secret-sidecar:v0.1.4", alias="sidecarImage"
    )
