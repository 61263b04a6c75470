"""Fixtures for the SDK tests: a clean secrets environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasksecrets.sdk.naming import DEFAULT_DIR_VAR


@pytest.fixture(autouse=True)
def clean_secrets_env() -> Iterator[None]:
    """Each test starts without FLYTE_SECRETS_* settings or injected secrets, and leaves none behind."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("FLYTE_SECRETS_", "_FSEC_")):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """A private FLYTE_SECRETS_DEFAULT_DIR for the test (the real /etc/secrets is never touched)."""
    directory = tmp_path / "secrets"
    directory.mkdir()
    os.environ[DEFAULT_DIR_VAR] = str(directory)
    return directory
