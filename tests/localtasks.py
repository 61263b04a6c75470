"""Helpers of the local cluster tests: a seeded store, a workflow module written for the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from tasksecrets.local.store import SecretStore
from tasksecrets.sdk.loader import load_module

__all__ = ["seeded_store", "workflow_module"]


@contextmanager
def seeded_store(tmp_path: Path, values: dict[str, bytes], namespace: str) -> Iterator[SecretStore]:
    """A store under ``tmp_path/home`` holding ``values`` as secret ``user-info`` of ``namespace``."""
    with SecretStore.open(tmp_path / "home") as opened:
        opened.create(namespace, "user-info", values)
        yield opened


def workflow_module(tmp_path: Path, text: str, stem: str) -> ModuleType:
    """``text`` written as a module of ``tmp_path/src`` named after ``stem`` and the test, imported."""
    path = tmp_path / "src" / f"{stem}_{tmp_path.name.replace('-', '_')}.py"
    path.parent.mkdir()
    path.write_text(text)
    return load_module(str(path))
