"""The public API: ``__all__`` is sorted and complete, and ``import tasksecrets`` stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import tasksecrets
import tasksecrets.testing

HEAVY = ("yaml", "pydantic", "click", "rich", "cryptography", "boto3", "hvac", "sqlalchemy", "pandas")


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


def test_all_is_sorted_and_complete() -> None:
    assert tasksecrets.__all__ == sorted(tasksecrets.__all__)
    assert set(tasksecrets.__all__) == _public_names(tasksecrets)
    for name in ("Secret", "task", "workflow", "current_context", "kwtypes"):
        assert name in tasksecrets.__all__


def test_testing_exports() -> None:
    from tasksecrets.testing import SecretsManager, mock_secrets

    assert (
        tasksecrets.testing.__all__
        == sorted(tasksecrets.testing.__all__)
        == ["SecretsManager", "mock_secrets"]
    )
    assert SecretsManager is type(tasksecrets.current_context().secrets)
    assert callable(mock_secrets)


def test_import_loads_nothing_heavy() -> None:
    code = (
        "import sys, tasksecrets\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
        "inner = ('tasksecrets.webhook', 'tasksecrets.local')\n"
        "print(','.join(m for m in sys.modules if m.startswith(inner)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["", ""], done.stdout


def test_execute_entrypoint_imports_only_the_sdk() -> None:
    code = f"import sys, tasksecrets.cli.execute\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""  # not even click: it parses its options itself
