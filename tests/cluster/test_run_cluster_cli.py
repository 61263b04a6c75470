"""``run --cluster`` mistakes that stop before any pod: one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controlplane import REPO

SEED = ["examples/use_secrets.py", "my_secret_workflow", "--cluster"]


def _cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom tasksecrets.cli import main\nsys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, timeout=60, check=False
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


def test_missing_extra_gives_the_install_hint() -> None:
    done = _cli("run", *SEED, prelude="import sys; sys.modules['lightkube'] = None")
    _one_line_error(done, "pip install 'tasksecrets[kubernetes]'")


def test_unreadable_kubeconfig_is_named(tmp_path: Path) -> None:
    done = _cli("run", *SEED, "--kubeconfig", str(tmp_path / "nope"))
    _one_line_error(done, f"the kubeconfig {tmp_path / 'nope'}", "--kubeconfig FILE")


@pytest.mark.parametrize("context", ["nope"])
def test_unknown_context_is_named(tmp_path: Path, context: str) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    done = _cli("run", *SEED, "--kubeconfig", str(config), "--context", context)
    _one_line_error(done, repr(context), "--context NAME")


def test_bad_node_selector_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    done = _cli("run", *SEED, "--kubeconfig", str(config), "--node-selector", "novalue")
    _one_line_error(done, "'novalue' is not KEY=VALUE")
