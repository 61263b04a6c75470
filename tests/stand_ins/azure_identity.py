"""A stand-in for ``azure.identity`` (azure-identity), for the stand-in Key Vault beside it.

It stands in for Azure's identity service because no real Azure service can run on this machine;
there is nothing to log in to, so :class:`DefaultAzureCredential` holds no token. It exists so that
tasksecrets' local Azure materializer, which builds one, never reaches the real library (which
would try the network). The values themselves come from the in-memory dict of
:mod:`stand_ins.azure_keyvault_secrets`, which the test fills.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DefaultAzureCredential"]


class DefaultAzureCredential:
    """A credential that authenticates nothing; options are accepted and ignored."""

    def __init__(self, **_options: Any) -> None:
        pass
