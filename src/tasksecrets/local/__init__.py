"""The local cluster: the encrypted secret store, the local kubelet and the runner.

Names are imported lazily so that importing a submodule (for example in a task's child process)
does not pull in cryptography and SQLite until the store is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasksecrets.local.store import SecretInfo, SecretStore, format_create_command

__all__ = ["SecretInfo", "SecretStore", "format_create_command"]

_LAZY = {name: "tasksecrets.local.store" for name in __all__}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
