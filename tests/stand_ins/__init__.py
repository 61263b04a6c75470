"""Stand-ins for cloud client libraries whose services cannot run on this machine (GCP, Azure).

No emulator of GCP Secret Manager or Azure Key Vault runs here, so each module of this package
implements exactly the client API that tasksecrets' local materializer for that service calls, and
serves values from an in-memory dict the test fills. Use them only where no real service exists;
:func:`install` puts one into ``sys.modules`` under the real module's name for one test.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest

__all__ = ["install"]


def install(monkeypatch: pytest.MonkeyPatch, name: str, module: ModuleType) -> None:
    """Make ``import name`` (and ``from parent import last``) give ``module`` until the test ends.

    The parent packages are the real ones where they import (``google.cloud`` is a namespace
    package), else empty modules, so that the real library, installed or not, is never reached.
    """
    parent_name, _, attribute = name.rpartition(".")
    monkeypatch.setitem(sys.modules, name, module)
    if not parent_name:
        return
    try:
        parent = importlib.import_module(parent_name)
    except ImportError:
        parent = ModuleType(parent_name)
        install(monkeypatch, parent_name, parent)
    monkeypatch.setattr(parent, attribute, module, raising=False)
