"""Fixtures for the local cluster tests: no store settings leak in from the environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test opens the store it names: no master key, key file or home from outside.

    A module that needs more (another variable, a default home) defines its own ``_clean_env``.
    """
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME"):
        monkeypatch.delenv(name, raising=False)
