"""A stand-in for ``google.cloud.secretmanager`` (google-cloud-secret-manager).

It stands in for GCP Secret Manager because no real service (nor an emulator of it) can run on
this machine. It serves values from :data:`SECRETS`, an in-memory dict the test fills, keyed by
the version's resource name ``projects/<project>/secrets/<name>/versions/<version>``. Only the API
tasksecrets' local GCP materializer calls is here:
``SecretManagerServiceClient().access_secret_version(name=...).payload.data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SECRETS",
    "AccessSecretVersionResponse",
    "NotFound",
    "SecretManagerServiceClient",
    "SecretPayload",
]

SECRETS: dict[str, bytes] = {}


class NotFound(Exception):
    """What the real client raises (``google.api_core.exceptions.NotFound``) for a missing version."""


@dataclass(frozen=True)
class SecretPayload:
    data: bytes


@dataclass(frozen=True)
class AccessSecretVersionResponse:
    name: str
    payload: SecretPayload


class SecretManagerServiceClient:
    """The client; credentials and options are accepted and ignored, as there is nothing to log in to."""

    def __init__(self, **_options: Any) -> None:
        pass

    def access_secret_version(
        self, request: Mapping[str, Any] | None = None, *, name: str | None = None, **_options: Any
    ) -> AccessSecretVersionResponse:
        """The payload of one version, by its full resource name (as a keyword or in ``request``)."""
        resource = name if name is not None else str((request or {}).get("name", ""))
        if resource not in SECRETS:
            raise NotFound(f"404 Secret Version [{resource}] not found")
        return AccessSecretVersionResponse(name=resource, payload=SecretPayload(data=SECRETS[resource]))
