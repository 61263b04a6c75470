"""Fixtures for the SDK tests: a clean secrets environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secretsenv import clean_secrets_env  # noqa: F401  (autouse: applies here)
from tasksecrets.contract import DEFAULT_DIR_VAR


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """A private FLYTE_SECRETS_DEFAULT_DIR for the test (the real /etc/secrets is never touched)."""
    directory = tmp_path / "secrets"
    directory.mkdir()
    os.environ[DEFAULT_DIR_VAR] = str(directory)
    return directory
