"""Azure's config section, ``webhook.azureSecretManager``: the pull container's image and resources."""

from __future__ import annotations

from pydantic import Field

from tasksecrets.managers.settings import SidecarSettings

__all__ = ["AzureManagerConfig"]


class AzureManagerConfig(SidecarSettings):
    """``azureSecretManager``: the ``azure-pull-secret-<N>`` init container."""

    sidecar_image: str = Field(default="mcr.microsoft.com/azure-cli:cbl-mariner2.0", alias="sidecarImage")
