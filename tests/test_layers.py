"""The layers of the project hold, and nothing imports in a circle.

cli -> (webhook | local) -> (admission | plugins) -> managers -> (pods | testing) -> wire -> sdk ->
(contract | yamltext) -> errors: a module imports only from layers below its own, and the two sides
of a "|" never import each other (the contract is in pyproject.toml, checked by import-linter).
tests/test_layers_demo.py shows both checks fail on a wrong import.
"""

from __future__ import annotations

import subprocess
import sys

from layering import ROOT, import_cycles, lint_layers


def test_every_import_follows_the_layers() -> None:
    run = lint_layers(ROOT / "src")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_no_module_imports_in_a_circle() -> None:
    assert import_cycles() == []


def test_the_sdk_loads_nothing_of_the_layers_above_it() -> None:
    """``import tasksecrets`` (what a task imports) pulls in neither the webhook's nor pydantic."""
    code = (
        "import sys, tasksecrets, tasksecrets.testing\n"
        "above = ('tasksecrets.admission', 'tasksecrets.managers', 'tasksecrets.webhook', "
        "'tasksecrets.local', 'tasksecrets.cli', 'pydantic', 'yaml')\n"
        "print(sorted(m for m in sys.modules if m.startswith(above)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
