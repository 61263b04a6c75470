"""``tasksecrets run`` and ``make run``: real processes, a real store in a fresh TASKSECRETS_HOME.

Usage errors are checked in-process with click's runner (exit code 2, no traceback); everything that
runs tasks goes through subprocesses, the way a user runs it.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasksecrets.cli import main
from tasksecrets.local.store import SecretStore

REPO = Path(__file__).resolve().parents[2]
# Every test runs against both launchers: the warm helper's forks and cold interpreters.
pytestmark = pytest.mark.usefixtures("launcher")

NS = "flytesnacks-development"
SEED_VALUES = ("mysecret", "my_username", "my_password")
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}

MODULE = """
import tasksecrets
from tasksecrets import Secret, task, workflow


@task(secret_requests=[Secret(group="user-info", key="password")])
def failing_task() -> str:
    value = tasksecrets.current_context().secrets.get("user-info", "password")
    raise RuntimeError(f"the password {value} was refused")


@task(secret_requests=[Secret(group="absent-group", key="api_key")])
def missing_task() -> str:
    print("MISSING TASK RAN")
    return "ran"


@task
def typed_task(a: int, b: float, flag: bool, items: list, name: str = "x") -> str:
    print("typed task says hello")
    return f"{a + b}|{flag}|{sum(items)}|{name}"


@task(secret_requests=[Secret(group="user-info", key="username")])
def user_task() -> str:
    return tasksecrets.current_context().secrets.get("user-info", "username")


@workflow
def wf(a: int = 1) -> tuple:
    return typed_task(a=a, b=0.5, flag=True, items=[1, 2]), user_task()
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path, launcher: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    return {**environ, "TASKSECRETS_HOME": str(home), "TASKSECRETS_LAUNCHER": launcher}


@pytest.fixture
def module_file(tmp_path: Path) -> Path:
    path = tmp_path / f"cli_wf_{tmp_path.name.replace('-', '_')}.py"
    path.write_text(MODULE)
    return path


@pytest.fixture
def seeded(home: Path) -> Path:
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", FAKE)
    return home


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _assert_no_fake_values(text: str) -> None:
    for value in FAKE.values():
        assert value.decode() not in text


def test_make_run_from_a_fresh_home_prints_the_seed_outputs_masked(env: dict[str, str], home: Path) -> None:
    venv = str(Path(sys.executable).parent.parent)
    # The very commands of the Makefile's run target (-o: do not reinstall the package).
    listed = subprocess.run(
        ["make", "-s", "-n", "-o", f"{venv}/.installed-run", f"VENV={venv}", "run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "seed-secrets.sh" in listed.stdout and "tasksecrets run examples/use_secrets.py" in listed.stdout
    for attempt in ("created", "already exists"):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", listed.stdout],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert attempt in done.stdout
        lines = done.stdout.splitlines()[-5:]
        assert lines == [
            "o0: ********",
            "o1: ********",
            "o2: ********",
            "o3: /etc/secrets/user-info/user_secret",
            "o4: ********",
        ]
        for value in SEED_VALUES:
            assert value not in done.stdout + done.stderr
    with SecretStore.open(home) as store:
        assert sorted(store.get(NS, "user-info")) == ["password", "user_secret", "username"]


def test_a_missing_secret_prints_the_create_command_and_the_task_does_not_run(
    env: dict[str, str], module_file: Path
) -> None:
    done = _run([str(module_file), "missing_task"], env)
    assert done.returncode == 1
    assert (
        f"tasksecrets create secret generic absent-group -n {NS} --from-literal=api_key=VALUE" in done.stderr
    )
    assert "'absent-group'" in done.stderr and NS in done.stderr
    assert "Traceback" not in done.stderr and "MISSING TASK RAN" not in done.stdout + done.stderr


def test_a_failing_task_shows_its_own_traceback_masked(
    env: dict[str, str], module_file: Path, seeded: Path
) -> None:
    done = _run([str(module_file), "failing_task"], env)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "in failing_task" in done.stderr
    assert "RuntimeError: the password ******** was refused" in done.stderr
    _assert_no_fake_values(done.stdout + done.stderr)


def test_a_workflow_with_typed_inputs_prints_masked_outputs_quietly_into_a_pipe(
    env: dict[str, str], module_file: Path, seeded: Path
) -> None:
    done = _run([str(module_file), "wf", "-i", "a=4"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["o0: 4.5|True|3|x", "o1: ********"]
    assert "typed task says hello" in done.stderr
    _assert_no_fake_values(done.stdout + done.stderr)
    single = _run(
        [str(module_file), "typed_task", "-i", "a=1", "-i", "b=2", "-i", "flag=no", "-i", "items=[3]"], env
    )
    assert single.stdout.splitlines() == ["o0: 3.0|False|3|x"], single.stderr


def test_progress_on_a_terminal_names_task_pod_secrets_and_duration(
    env: dict[str, str], module_file: Path, seeded: Path
) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksecrets", "run", str(module_file), "wf"],
        env={**env, "COLUMNS": "200", "TERM": "xterm"},
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    shown = b"".join(chunks).decode("utf-8", errors="replace")
    assert proc.returncode == 0
    assert "typed_task" in shown and "pod typed-task-" in shown
    assert "user-info/username (K8s)" in shown and " ms" in shown and "Outputs" in shown
    _assert_no_fake_values(shown)


def test_an_import_error_in_the_file_shows_the_users_traceback(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken_wf.py"
    broken.write_text("import tasksecrets\n\nraise ValueError('bad module')\n")
    done = _run([str(broken), "wf"], env)
    assert done.returncode == 1
    assert "broken_wf.py" in done.stderr and "ValueError: bad module" in done.stderr
    assert "tasksecrets/cli" not in done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{dir}/nope.py", "wf"], "does not exist"),
        (["{dir}/notes.txt", "wf"], "is not a .py file"),
        (["{file}", "nope"], "no workflow or task named 'nope'; workflows: wf; tasks: failing_task"),
        (["{file}", "wf", "-i", "a=abc"], "input 'a' expects int, got 'abc'"),
        (["{file}", "wf", "-i", "zzz=1"], "has no input 'zzz'; its inputs: a"),
        (["{file}", "wf", "-i", "a"], "write each input as NAME=VALUE"),
        (
            ["{file}", "typed_task", "-i", "a=1"],
            "needs inputs: pass -i b=<float> -i flag=<bool> -i items=<list>",
        ),
        (["{file}", "typed_task", "-i", "items=3", "-i", "a=1"], "input 'items' expects list"),
        (["{file}", "wf", "--project", "Bad_Project"], "not a valid Kubernetes namespace"),
        (["{file}", "wf", "--config", "{dir}/bad.yaml"], "webhook.secretManagerTyp: unknown key"),
        (["{file}", "wf", "--config", "{dir}/absent.yaml"], "cannot read the config file"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    args: list[str], expected: str, module_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKSECRETS_HOME", str(tmp_path / "home"))
    (tmp_path / "bad.yaml").write_text("webhook:\n  secretManagerTyp: K8s\n")
    args = [a.format(dir=tmp_path, file=module_file) for a in args]
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
