"""Vault's config section, ``webhook.vaultSecretManager``: role, deprecated KV version, annotations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tasksecrets.managers.settings import Section

__all__ = ["VaultManagerConfig"]


class VaultManagerConfig(Section):
    """``vaultSecretManager``: the Vault role, the deprecated KV version, extra pod annotations."""

    role: str = "flyte"
    kv_version: Literal["1", "2"] = Field(default="2", alias="kvVersion")
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("kv_version", mode="before")
    @classmethod
    def _kv_version_text(cls, value: object) -> object:
        # Flyte's YAML accepts 1 and "1" alike; anything else must fail loudly, never fall back.
        if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2):
            return str(value)
        if isinstance(value, str) and value.strip() in ("1", "2"):
            return value.strip()
        raise ValueError(f"kvVersion must be 1 or 2 (quoted or not), got {value!r}")
