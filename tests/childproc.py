"""Running ``python -m tasksecrets ...`` in a child process, as users and the platform do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_tasksecrets"]


def run_tasksecrets(
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 120,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with this interpreter; text output captured, the exit status left to the caller.

    ``env`` is the child's whole environment (None: this process's).
    """
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
