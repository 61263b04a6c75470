"""Fixtures for the local cluster tests: no store settings leak in from the environment."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test opens the store it names: no master key, key file or home from outside.

    A module that needs more (another variable, a default home) defines its own ``_clean_env``.
    """
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _validate_mutated_pods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pod the local cluster renders and mutates in these tests is a valid Kubernetes Pod."""
    from k8svalidate import assert_valid_manifest
    from tasksecrets.admission.mutator import MutationResult, Mutator

    mutate = Mutator.mutate

    def mutate_and_validate(self: Mutator, pod: Any) -> MutationResult:
        result = mutate(self, pod)
        if result.allowed:
            assert_valid_manifest(result.pod)
        return result

    monkeypatch.setattr(Mutator, "mutate", mutate_and_validate)


@pytest.fixture
def private_tempdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Task directories go into a directory of the test's own, so tasks can search all of it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
