"""``tasksecrets run`` starts light: with the default config it imports no pydantic, uvicorn or YAML.

The runner's own imports are read from ``-X importtime`` (the tasks run in other processes, whose
imports are not counted), and each heavy module is traced to the module that first imported it.
A run with ``--config`` is the control: the validating config model does import pydantic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasksecrets.local.store import SecretStore

NS = "flytesnacks-development"
ONE_TASK = """
from tasksecrets import Secret, current_context, task, workflow


@task(secret_requests=[Secret(group="user-info", key="password")])
def one() -> int:
    return len(current_context().secrets.get("user-info", "password"))


@workflow
def wf() -> int:
    return one()
"""
NEVER = ("pydantic", "pydantic_core", "uvicorn", "yaml", "rich", "lightkube", "httpx")


def _runner_imports(tmp_path: Path, launcher: str, *extra: str) -> list[tuple[int, str]]:
    """(depth, module) of every import the runner made, in the order ``-X importtime`` prints them."""
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", {"password": b"imports-fake-value"})
    workflow = tmp_path / "one_task_wf.py"
    workflow.write_text(ONE_TASK)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    environ.update(TASKSECRETS_HOME=str(home), TASKSECRETS_LAUNCHER=launcher)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tasksecrets", "run", *extra, str(workflow), "wf"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "o0: 18"
    imports = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.split("|")[2]
            stripped = name.strip()
            if stripped != "imported package":
                imports.append(((len(name) - len(name.lstrip()) - 1) // 2, stripped))
    return imports


def _importers(imports: list[tuple[int, str]], module: str) -> list[list[str]]:
    """For each time ``module`` was imported: the chain of modules up to the top-level import."""
    chains = []
    for i, (depth, name) in enumerate(imports):
        if name != module:
            continue
        chain, level = [name], depth
        for outer_depth, outer in imports[i + 1 :]:  # a parent is printed after its children
            if outer_depth < level:
                chain.append(outer)
                level = outer_depth
        chains.append(chain)
    return chains


@pytest.mark.parametrize("launcher", ["warm", "cold"])
def test_a_one_task_run_imports_no_pydantic_uvicorn_or_yaml(tmp_path: Path, launcher: str) -> None:
    imports = _runner_imports(tmp_path, launcher)
    names = {name for _, name in imports}
    assert "tasksecrets.local.runner" in names  # the trace is read at all
    assert [m for m in names if m.split(".")[0] in NEVER] == []
    # cryptography only where the store is opened.
    chains = _importers(imports, "cryptography")
    assert chains, "the store decrypts with cryptography"
    assert all("tasksecrets.local.store" in chain for chain in chains), chains


def test_a_config_file_loads_the_validating_model(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("webhook:\n  secretManagerType: K8s\n")
    names = {name for _, name in _runner_imports(tmp_path, "warm", "--config", str(config))}
    assert {"pydantic", "yaml", "tasksecrets.admission.config"} <= names
