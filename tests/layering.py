"""The checks of the package's import graph, for tests/test_layers.py and its demonstration.

- :func:`lint_layers` runs import-linter (a real run of ``lint-imports``) with the contract in
  pyproject.toml on the package found first on ``pythonpath``;
- :func:`import_cycles` lists every cycle of imports that run (at the top of a module or inside a
  function); imports made only for type checkers are left out, as they never run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def lint_layers(
    pythonpath: Path, *, config: Path = ROOT / "pyproject.toml"
) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``tasksecrets`` package under ``pythonpath``; its exit code and report."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(lint), "--config", str(config), "--no-cache"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def import_cycles(package: str = "tasksecrets") -> list[list[str]]:
    """Each import cycle among the package's modules, as the chain of modules that closes it."""
    graph = grimp.build_graph(package, cache_dir=None, exclude_type_checking_imports=True)
    cycles: dict[frozenset[str], list[str]] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.setdefault(frozenset(back), [module, *back])
    return list(cycles.values())
