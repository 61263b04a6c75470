"""A wrong import breaks the layering test: shown on a copy of the package with one import added.

Each case copies src/tasksecrets into a temporary directory, adds one import that breaks a rule
and runs the same checks as tests/test_layers.py on the copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layering import ROOT, import_cycles, lint_layers


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    target = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "tasksecrets", target / "tasksecrets", ignore=shutil.ignore_patterns("__pycache__")
    )
    path = target / "tasksecrets" / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)
    return target


@pytest.mark.parametrize(
    ("module", "line", "names"),
    [
        # The SDK reaching up into the admission core.
        (
            "sdk/secret.py",
            "import tasksecrets.admission.config",
            "tasksecrets.sdk.secret -> tasksecrets.admission",
        ),
        # A secret manager importing the webhook's server.
        ("managers/k8s/injector.py", "import tasksecrets.webhook.http", "tasksecrets.managers.k8s.injector"),
        # The local cluster and the webhook are independent of each other.
        ("local/runner.py", "import tasksecrets.webhook.metrics", "tasksecrets.local.runner"),
        # The contract is at the bottom: it imports nothing of the package.
        ("contract.py", "import tasksecrets.sdk.secret", "tasksecrets.contract"),
    ],
)
def test_a_wrong_arrow_breaks_the_layers(tmp_path: Path, module: str, line: str, names: str) -> None:
    run = lint_layers(_copy_with(tmp_path, module, line))
    assert run.returncode != 0
    assert "1 broken" in run.stdout and names in run.stdout.replace("\n", " ")


def test_an_import_cycle_is_found(tmp_path: Path) -> None:
    # plugin.py is imported by registry.py; importing registry back closes a circle.
    src = _copy_with(tmp_path, "managers/plugin.py", "import tasksecrets.managers.registry")
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); sys.path.insert(0, {str(src)!r})\n"
        "import tasksecrets; assert tasksecrets.__file__.startswith(sys.path[0])\n"
        "from layering import import_cycles; print(import_cycles())"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tasksecrets.managers.plugin" in run.stdout and "tasksecrets.managers.registry" in run.stdout
    assert import_cycles() == []  # the real package, untouched
