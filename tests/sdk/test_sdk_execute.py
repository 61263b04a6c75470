"""``python -m tasksecrets execute`` (the task process entrypoint), the loader and the values codec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sdk_helpers import FAKE_VALUE

from tasksecrets.errors import TaskDeclarationError
from tasksecrets.sdk.loader import load_task, module_name_for_file
from tasksecrets.sdk.values import TAG, dump_value, load_value, read_values, write_values

TASKS = """
import logging
import os
import sys

import pandas as pd

from tasksecrets import Secret, current_context, task

log = logging.getLogger("user.tasks")


@task(secret_requests=[Secret(group="user-info", key="password", env_var="DB_PASSWORD")])
def login(user: str, retries: int = 1) -> tuple:
    value = current_context().secrets.get("user-info", "password")
    log.warning("logging in %s with %s", user, value)
    print("printed", value)
    return user, retries, os.environ["DB_PASSWORD"] == value


@task(secret_requests=[Secret(group="user-info", key="password")])
def fail() -> None:
    value = current_context().secrets.get("user-info", "password")
    raise RuntimeError(f"cannot connect with {value}")


@task(secret_requests=[Secret(group="user-info", key="username")])
def nosy() -> None:
    current_context().secrets.get("user-info", "password")


@task
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"n": list(range(n))})


if __name__ == "__main__":
    sys.exit("the __main__ block must not run under execute")
"""


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_tasks.py"
    path.write_text(textwrap.dedent(TASKS))
    return path


def _execute(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "_FSEC_USER-INFO_PASSWORD": FAKE_VALUE, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", "execute", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_execute_runs_the_task_and_writes_outputs(tasks_file: Path, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "in.json", tmp_path / "out.json"
    inputs.write_text(json.dumps({"user": "alice"}))
    done = _execute(
        "--file", str(tasks_file), "--task", "login", "--inputs", str(inputs), "--outputs", str(outputs)
    )
    assert done.returncode == 0, done.stderr
    assert read_values(str(outputs)) == ("alice", 1, True)  # env_var exported; the tuple kept
    assert "logging in alice with ********" in done.stderr
    assert "printed ********" in done.stdout
    assert FAKE_VALUE not in done.stdout + done.stderr


def test_execute_keeps_an_env_var_the_pod_already_has(tasks_file: Path, tmp_path: Path) -> None:
    outputs = tmp_path / "out.json"
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"user": "bob", "retries": 3}))
    done = _execute(
        "--file",
        str(tasks_file),
        "--task",
        "login",
        "--inputs",
        str(inputs),
        "--outputs",
        str(outputs),
        env={"DB_PASSWORD": "FAKE-set-by-webhook"},
    )
    assert done.returncode == 0, done.stderr
    assert read_values(str(outputs)) == ("bob", 3, False)


def test_execute_failure_prints_a_masked_traceback_and_exits_1(tasks_file: Path) -> None:
    done = _execute("--file", str(tasks_file), "--task", "fail")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: cannot connect with ********" in done.stderr
    assert FAKE_VALUE not in done.stderr + done.stdout


def test_execute_enforces_least_privilege(tasks_file: Path) -> None:
    done = _execute("--file", str(tasks_file), "--task", "nosy")
    assert done.returncode == 1
    assert "add Secret(group='user-info', key='password')" in done.stderr


def test_execute_unprefixed_names_are_not_read_in_a_pod(tmp_path: Path) -> None:
    path = tmp_path / "local_only.py"
    path.write_text(
        "from tasksecrets import Secret, current_context, task\n"
        "@task(secret_requests=[Secret(group='g', key='k')])\n"
        "def read() -> str:\n"
        "    return current_context().secrets.get('g', 'k')\n"
    )
    done = _execute(
        "--file",
        str(path),
        "--task",
        "read",
        env={"G_K": FAKE_VALUE, "FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path)},
    )
    assert done.returncode == 1
    assert "env var _FSEC_G_K, file" in done.stderr


def test_execute_pickles_a_dataframe(tasks_file: Path, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "in.json", tmp_path / "out.json"
    write_values(str(inputs), {"n": 3})
    done = _execute(
        "--file", str(tasks_file), "--task", "frame", "--inputs", str(inputs), "--outputs", str(outputs)
    )
    assert done.returncode == 0, done.stderr
    frame = read_values(str(outputs))
    assert isinstance(frame, pd.DataFrame) and frame["n"].tolist() == [0, 1, 2]


def test_execute_by_module_name(tmp_path: Path, tasks_file: Path) -> None:
    outputs = tmp_path / "out.json"
    inputs = tmp_path / "in.json"
    inputs.write_text('{"user": "carol"}')
    done = _execute(
        "--module",
        "my_tasks",
        "--task",
        "login",
        "--inputs",
        str(inputs),
        "--outputs",
        str(outputs),
        env={"PYTHONPATH": str(tasks_file.parent)},
    )
    assert done.returncode == 0, done.stderr
    assert read_values(str(outputs)) == ("carol", 1, True)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--task", "login"], "give exactly one of --file PATH or --module NAME"),
        (["--file", "/nonexistent/tasks.py", "--task", "login"], "does not exist"),
        (["--file", "{file}", "--task", "nope"], "no task 'nope'"),
        (["--module", "no_such_module_here", "--task", "x"], "cannot be found"),
        (["--file", "{file}", "--task", "login", "--inputs", "{bad_json}"], "not valid JSON"),
        (["--file", "{file}", "--task", "login", "--inputs", "{list_json}"], "must hold a JSON object"),
        (
            ["--file", "{file}", "--task", "login", "--inputs", "{unknown_input}"],
            "inputs do not fit task 'login'",
        ),
        (
            ["--file", "{file}", "--task", "login", "--inputs", "/nonexistent/in.json"],
            "cannot read the inputs file",
        ),
    ],
)
def test_execute_bad_arguments_exit_2_without_traceback(
    args: list[str], says: str, tasks_file: Path, tmp_path: Path
) -> None:
    files = {"bad_json": "{not json", "list_json": "[1]", "unknown_input": '{"user": "x", "colour": 1}'}
    names = {"file": str(tasks_file)}
    for name, content in files.items():
        (tmp_path / f"{name}.json").write_text(content)
        names[name] = str(tmp_path / f"{name}.json")
    done = _execute(*[arg.format(**names) for arg in args])
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_load_task_from_file_and_module(tasks_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "my_tasks", raising=False)
    login = load_task(str(tasks_file), "login")
    assert login.name == "login" and login.module_file == str(tasks_file)
    with pytest.raises(TaskDeclarationError, match="tasks defined there: fail, frame, login, nosy"):
        load_task(str(tasks_file), "missing")
    with pytest.raises(TaskDeclarationError, match="cannot be found"):
        load_task("no_such_module_xyz", "x")


def test_module_name_for_a_file_in_a_package(tmp_path: Path) -> None:
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    assert module_name_for_file(str(package / "tasks.py")) == ("pkg.sub.tasks", str(tmp_path))


VALUES: list[Any] = [
    None,
    True,
    3,
    2.5,
    "text",
    [1, "a", None],
    {"a": 1, "b": [1, 2]},
    ("a", 1, ("nested", [2])),
    [("t", 1)],
    {"k": ("tuple", "in", "dict")},
    {TAG: "looks like a tag", "other": 1},
    b"\x00bytes",
    {1: "int keys"},
    {1, 2, 3},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_round_trip_through_json(value: Any) -> None:
    encoded = json.dumps(dump_value(value))
    decoded = load_value(json.loads(encoded))
    assert decoded == value and type(decoded) is type(value)


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown value tag"):
        load_value({TAG: "martian"})
