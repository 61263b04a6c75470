"""``tasksecrets execute`` parses its options without click, as click did, on both ways in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tasksecrets.cli.execute import OPTIONS, parse_args

TASKS = """
from tasksecrets import task


@task
def add(a: int, b: int) -> int:
    return a + b
"""


def test_both_forms_of_an_option_and_the_last_one_wins() -> None:
    parsed = parse_args(["--file", "x.py", "--task=first", "--task", "add", "--inputs-json={}"])
    assert parsed["file_path"] == "x.py" and parsed["task_name"] == "add" and parsed["inputs_json"] == "{}"
    assert parsed["module_name"] is None and set(parsed) == {param for param, _, _ in OPTIONS.values()}


def _execute(args: list[str], cwd: Path, *, grouped: bool) -> subprocess.CompletedProcess[str]:
    # grouped: through the click group of the ``tasksecrets`` script; else ``python -m tasksecrets``.
    prefix = ["-c", "from tasksecrets.cli import main; main()"] if grouped else ["-m", "tasksecrets"]
    return subprocess.run(
        [sys.executable, *prefix, "execute", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--file", "t.py", "--task"], "Option '--task' requires an argument."),
        (["--file", "t.py"], "Missing option '--task'."),
        (["--file", "t.py", "--task", "add", "--colour", "x"], "No such option: --colour"),
        (["--file", "t.py", "--task", "add", "stray"], "Got unexpected extra argument (stray)"),
        (["--task", "add"], "give exactly one of --file PATH or --module NAME"),
    ],
)
def test_a_bad_command_line_is_a_usage_error_with_exit_2(
    args: list[str], error: str, grouped: bool, tmp_path: Path
) -> None:
    (tmp_path / "t.py").write_text(TASKS)
    done = _execute(args, tmp_path, grouped=grouped)
    assert done.returncode == 2
    assert done.stderr.endswith(f"Error: {error}\n")
    assert "Try 'tasksecrets execute --help' for help." in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("grouped", [False, True])
def test_a_task_runs_and_help_lists_every_option(grouped: bool, tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text(TASKS)
    inputs = json.dumps({"a": 2, "b": 3})
    done = _execute(
        ["--file=t.py", "--task", "add", "--inputs-json", inputs, "--outputs", "o.json"],
        tmp_path,
        grouped=grouped,
    )
    assert done.returncode == 0, done.stderr
    assert "5" in (tmp_path / "o.json").read_text()
    shown = _execute(["--help"], tmp_path, grouped=grouped)
    assert shown.returncode == 0 and all(option in shown.stdout for option in OPTIONS)
    assert "Exit status: 0 done" in shown.stdout
