"""Fake ``gcloud``, ``az``, ``chmod`` and ``mkdir``: the pull containers' scripts run with the real ``sh``.

A stand-in, because no cloud CLI runs here: each fake is a two-line POSIX shell script put first
on ``PATH`` that appends its name, its argument count and each argument to a record file, NUL
separated (arguments may hold line breaks, so one argument per line would be ambiguous). ``mkdir``
then runs the real one, so a script's output redirection finds its directory; ``az`` prints a
fixed value, as ``az ... -o tsv`` would.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["FAKE_VALUE", "HOSTILE_NAMES", "MARKER", "ShellRun", "run_script"]

FAKE_VALUE = "fake-value-from-az"
MARKER = "pwned"
# Names that would run ``touch pwned``, split a script or change a template if pasted in as they are.
HOSTILE_NAMES = {
    "trailing-newline": "1\n",
    "newline-command": f"1\ntouch {MARKER}",
    "command-substitution": f"$(touch {MARKER})",
    "backticks": f"`touch {MARKER}`",
    "semicolon": f"s;touch {MARKER}",
    "single-quote": f"s'; touch {MARKER}; '",
    "double-quote": f's"; touch {MARKER}; "',
    "template": '{{ plugin "touch" }}',
    "braces": "}}{{ .Data }}{{",
    "variable": "$HOME",
    "backslash": "s\\",
    # Valid up to the break, so that a check matching only a prefix lets them through.
    "name-then-newline": "TOKEN\n",
    "name-then-command": f"TOKEN;touch {MARKER}",
}

_RECORD = 'printf \'%s\\0\' "${0##*/}" "$#" "$@" >> "$FAKE_RECORD"\n'
_FAKES = {
    "gcloud": _RECORD,
    "chmod": _RECORD,
    "az": _RECORD + f"printf '%s\\n' {FAKE_VALUE}\n",
    "mkdir": _RECORD + 'exec /bin/mkdir "$@"\n',
}


class ShellRun:
    """What a script did: its exit status and each fake command's argv, in order."""

    def __init__(self, returncode: int, calls: list[list[str]], stderr: str) -> None:
        self.returncode = returncode
        self.calls = calls
        self.stderr = stderr


def _read_calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    fields = record.read_bytes().decode().split("\0")[:-1]
    calls, at = [], 0
    while at < len(fields):
        name, count = fields[at], int(fields[at + 1])
        calls.append([name, *fields[at + 2 : at + 2 + count]])
        at += 2 + count
    return calls


def run_script(command: list[str], work: Path, *, env: dict[str, str] | None = None) -> ShellRun:
    """Run ``command`` (a pod's ``["sh", "-ec", script]``, exactly) in ``work``, the fakes first on PATH."""
    bin_dir = work / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in _FAKES.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    record = work / "calls"
    record.unlink(missing_ok=True)
    environ = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "FAKE_RECORD": str(record),
        **(env or {}),
    }
    proc = subprocess.run(
        command, cwd=work, env=environ, capture_output=True, text=True, timeout=30, check=False
    )
    return ShellRun(proc.returncode, _read_calls(record), proc.stderr)
