"""A stand-in for ``azure.keyvault.secrets`` (azure-keyvault-secrets).

It stands in for Azure Key Vault because no real service (nor an emulator of it) can run on this
machine. It serves values from :data:`SECRETS`, an in-memory dict the test fills, keyed by the
secret's id ``https://<vault>.vault.azure.net/secrets/<name>`` (the latest version) or
``.../secrets/<name>/<version>``. Only the API tasksecrets' local Azure materializer calls is here:
``SecretClient(vault_url=..., credential=...).get_secret(name, version).value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stand_ins.azure_identity import DefaultAzureCredential

__all__ = ["SECRETS", "KeyVaultSecret", "ResourceNotFoundError", "SecretClient"]

SECRETS: dict[str, str] = {}


class ResourceNotFoundError(Exception):
    """What the real client raises (``azure.core.exceptions.ResourceNotFoundError``) for a missing secret."""


@dataclass(frozen=True)
class KeyVaultSecret:
    name: str
    value: str | None


class SecretClient:
    """A client of one vault; like the real one it needs a credential."""

    def __init__(self, vault_url: str, credential: Any, **_options: Any) -> None:
        if not isinstance(credential, DefaultAzureCredential):
            raise TypeError("SecretClient needs a credential (the stand-in's DefaultAzureCredential)")
        self.vault_url = vault_url.rstrip("/")

    def get_secret(self, name: str, version: str | None = None, **_options: Any) -> KeyVaultSecret:
        """The secret ``name`` of this vault, its latest version unless ``version`` is given."""
        secret_id = f"{self.vault_url}/secrets/{name}" + (f"/{version}" if version else "")
        if secret_id not in SECRETS:
            raise ResourceNotFoundError(f"(SecretNotFound) A secret with (name/id) {name} was not found")
        return KeyVaultSecret(name=name, value=SECRETS[secret_id])
