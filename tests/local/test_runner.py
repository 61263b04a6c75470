"""The local cluster's executor: each task call as a pod, run in its own scrubbed process.

Everything is real: pods rendered and mutated by the webhook's code, a real encrypted store in a
temporary home, task processes started with ``python -m tasksecrets execute``. Fake values all
start with ``fake-`` so a task can search its environment and disk for any of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from localtasks import seeded_store, workflow_module
from tasksecrets.admission.config import parse_config
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.runner import LocalClusterExecutor, scrub_environ
from tasksecrets.local.store import SecretStore
from tasksecrets.sdk.executor import use_executor
from tasksecrets.sdk.loader import load_module
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.task import Task

# Every test runs against both launchers: the warm helper's forks and cold interpreters.
pytestmark = pytest.mark.usefixtures("launcher")

NS = "flytesnacks-development"
FAKE = {"user_secret": b"fake-user-secret-1", "username": b"fake-username-2", "password": b"fake-password-3"}
REPO = Path(__file__).resolve().parents[2]

WORKFLOW_MODULE = """
import os, stat, sys
from pathlib import Path

import tasksecrets
from tasksecrets import Secret, task, workflow

G = "user-info"
M = Secret.MountType


def private_dir() -> str:
    # The entrypoint's outputs file lives in the task's private directory.
    return os.path.dirname(sys.argv[sys.argv.index("--outputs") + 1])


def probe(name: str) -> None:
    Path(os.environ["PROBE_DIR"], name).write_text(private_dir())


def find_fake(root: str) -> list:
    hits = []
    for current, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(current, name)
            with open(path, "rb") as handle:
                if b"fake-" in handle.read():
                    hits.append(path)
    return hits


@task
def nosecret_task(scan_root: str) -> dict:
    probe("nosecret")
    return {
        "env_hits": sorted(n for n, v in os.environ.items() if "fake-" in v),
        "secret_names": sorted(n for n in os.environ if "USER" in n.upper() and "SECRET" in n.upper()),
        "disk_hits": find_fake(scan_root) + find_fake(private_dir()),
        "keep_me": os.environ.get("KEEP_ME"),
        "has_path": "PATH" in os.environ,
    }


@task(secret_requests=[Secret(group=G, key="user_secret")])
def global_task() -> str:
    return tasksecrets.current_context().secrets.get(G, "user_secret")


@task(secret_requests=[Secret(group=G, key="password", mount_requirement=M.FILE)])
def modes_task() -> dict:
    probe("modes")
    root = private_dir()
    dirs, files = {}, {}
    for current, dirnames, filenames in os.walk(root):
        for names, modes in ((dirnames, dirs), (filenames, files)):
            for name in names:
                path = os.path.join(current, name)
                modes[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return {
        "root": root,
        "root_mode": stat.S_IMODE(os.stat(root).st_mode),
        "dirs": dirs,
        "files": files,
        "secret_path": tasksecrets.current_context().secrets.get_secrets_file(G, "password"),
        "value": tasksecrets.current_context().secrets.get(G, "password"),
    }


@task(
    secret_requests=[
        Secret(group=G, key="user_secret", mount_requirement=M.ENV_VAR, env_var="V_ENV"),
        Secret(group=G, key="username", mount_requirement=M.ANY, env_var="V_ANY"),
        Secret(group=G, key="password", mount_requirement=M.FILE, env_var="V_FILE"),
    ]
)
def env_var_task() -> dict:
    read = tasksecrets.current_context().secrets.get
    return {
        "V_ENV": os.environ["V_ENV"],
        "V_ANY": os.environ["V_ANY"],
        "V_ANY_is_file": os.path.exists(os.environ["V_ANY"]),
        "V_FILE": os.environ["V_FILE"],
        "V_FILE_content": Path(os.environ["V_FILE"]).read_text(),
        "get": [read(G, "user_secret"), read(G, "username"), read(G, "password")],
    }


@task(secret_requests=[Secret(group=G, key="password")])
def failing_task() -> str:
    probe("failing")
    value = tasksecrets.current_context().secrets.get(G, "password")
    raise RuntimeError(f"the password {value} was refused")


@task(secret_requests=[Secret(group="absent-group", key="api_key")])
def missing_task() -> str:
    probe("missing")
    return "ran"


@workflow
def isolation_workflow(scan_root: str) -> tuple:
    return nosecret_task(scan_root=scan_root), global_task(), modes_task()
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, private_tempdir: Path) -> None:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    with seeded_store(tmp_path, FAKE, NS) as opened:
        yield opened


@pytest.fixture
def module(tmp_path: Path) -> ModuleType:
    return workflow_module(tmp_path, WORKFLOW_MODULE, "runner_wf")


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    base = scrub_environ(os.environ)
    return {**base, "PROBE_DIR": str(probe), "KEEP_ME": "kept", **extra}


def _secrets(module: ModuleType) -> list[Secret]:
    return [s for v in vars(module).values() if isinstance(v, Task) for s in v.secret_requests]


def test_scrub_environ_removes_secret_like_names_and_keeps_the_rest() -> None:
    environ = {
        "PATH": "/bin",
        "HOME": "/home/x",
        "PYTHONPATH": "/src",
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": "/venv",
        "_FSEC_USER-INFO_USER_SECRET": "a",
        "FLYTE_SECRET_USER-INFO_USER_SECRET": "b",
        "FLYTE_SECRETS_DEFAULT_DIR": "/etc/x",
        "USER-INFO_USER_SECRET": "c",
        "MY_VAR": "d",
        "TASKSECRETS_MASTER_KEY": "e",
        "TASKSECRETS_EXPORT_ENV": "{}",
        "CUSTOM_PFX_THING": "f",
    }
    secrets = [Secret(group="user-info", key="user_secret", env_var="MY_VAR")]
    kept = scrub_environ(environ, secrets=secrets, prefixes=["CUSTOM_PFX_"])
    assert sorted(kept) == ["HOME", "LANG", "PATH", "PYTHONPATH", "VIRTUAL_ENV"]


def test_a_task_that_did_not_request_a_secret_sees_it_nowhere(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    environ = _environ(
        tmp_path,
        **{
            "_FSEC_USER-INFO_USER_SECRET": "fake-parent-fsec",
            "FLYTE_SECRET_USER-INFO_USER_SECRET": "fake-global-value",
            "USER-INFO_USER_SECRET": "fake-parent-plain",
            "V_ENV": "fake-parent-env-var",
            "TASKSECRETS_MASTER_KEY": "fake-master-key",
        },
    )
    etc_existed = os.path.exists("/etc/flyte/secrets")
    executor = LocalClusterExecutor(store=store, environ=environ, secrets=_secrets(module))
    with executor, use_executor(executor):
        nosecret, from_global, modes = module.isolation_workflow(scan_root=str(tmp_path / "tmp"))
    assert nosecret["env_hits"] == [] and nosecret["secret_names"] == []
    assert nosecret["disk_hits"] == []
    assert nosecret["keep_me"] == "kept" and nosecret["has_path"]
    # A parent's FLYTE_SECRET_<GROUP>_<KEY> is a Global secret: a task that requests it gets it.
    assert from_global == "fake-global-value"
    assert [r.injections for r in executor.runs[:2]] == [[], [("user-info/user_secret", "Global")]]
    assert modes["value"] == FAKE["password"].decode()
    assert os.path.exists("/etc/flyte/secrets") == etc_existed
    assert list((tmp_path / "tmp").iterdir()) == [], "every private directory is removed"
    assert executor.mask(repr((from_global, modes["value"]))) == "('********', '********')"


def test_private_dir_modes_seen_from_inside_the_task_and_removed_after(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(tmp_path))
    with executor, use_executor(executor):
        modes = module.modes_task()
    assert modes["root_mode"] == 0o700
    assert set(modes["dirs"].values()) == {0o700}
    secret_files = {p: m for p, m in modes["files"].items() if p.startswith("pod/rootfs/")}
    assert secret_files == {"pod/rootfs/etc/flyte/secrets/user-info/password": 0o400}
    assert modes["secret_path"] == os.path.join(
        modes["root"], "pod/rootfs/etc/flyte/secrets/user-info/password"
    )
    assert not os.path.exists(modes["root"])


def test_env_var_is_set_for_env_var_any_and_file_mounts(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(tmp_path))
    with executor, use_executor(executor):
        seen = module.env_var_task()
    assert seen["V_ENV"] == FAKE["user_secret"].decode()
    # K8s delivers ANY and FILE as files and points env_var at the (rewritten) path; for ANY the
    # entrypoint swaps the path for the value, as the SDK promises.
    assert seen["V_ANY"] == FAKE["username"].decode() and not seen["V_ANY_is_file"]
    assert seen["V_FILE_content"] == FAKE["password"].decode() and seen["V_FILE"].endswith(
        "user-info/password"
    )
    assert seen["get"] == [v.decode() for v in (FAKE["user_secret"], FAKE["username"], FAKE["password"])]


def test_a_failing_task_raises_its_masked_traceback_and_cleans_up(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(tmp_path))
    with executor, use_executor(executor), pytest.raises(TaskExecutionError) as caught:
        module.failing_task()
    message = str(caught.value)
    assert "task 'failing_task' failed" in message
    assert "in failing_task" in message and "RuntimeError: the password ******** was refused" in message
    assert FAKE["password"].decode() not in message
    private_dir = (tmp_path / "probe" / "failing").read_text()
    assert not os.path.exists(private_dir)


def test_a_missing_secret_fails_before_the_task_code_runs(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    executor = LocalClusterExecutor(store=store, environ=_environ(tmp_path))
    with executor, use_executor(executor), pytest.raises(TaskExecutionError) as caught:
        module.missing_task()
    message = str(caught.value)
    assert "failed before its code ran" in message and f"namespace {NS!r}" in message
    assert f"tasksecrets create secret generic absent-group -n {NS} --from-literal=api_key=VALUE" in message
    assert not (tmp_path / "probe" / "missing").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_denied_pod_fails_the_task_with_the_webhook_reason(
    module: ModuleType, store: SecretStore, tmp_path: Path
) -> None:
    config = parse_config({"webhook": {"secretManagerType": "Global"}})
    executor = LocalClusterExecutor(config=config, store=store, environ=_environ(tmp_path))
    with executor, use_executor(executor), pytest.raises(TaskExecutionError, match="webhook denied its pod"):
        module.missing_task()
    assert not (tmp_path / "probe" / "missing").exists()


def test_the_seed_reads_secrets_created_with_three_from_literal_flags(tmp_path: Path) -> None:
    home = tmp_path / "cli-home"
    env = {**os.environ, "TASKSECRETS_HOME": str(home)}
    created = subprocess.run(
        [
            *(sys.executable, "-m", "tasksecrets", "create", "secret", "generic", "user-info", "-n", NS),
            *(f"--from-literal={key}={value.decode()}" for key, value in FAKE.items()),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    seed = load_module(str(REPO / "examples" / "use_secrets.py"))
    with SecretStore.open(home) as cli_store:
        executor = LocalClusterExecutor(store=cli_store, environ=_environ(tmp_path))
        with executor, use_executor(executor):
            outputs: Any = seed.my_secret_workflow()
    x, y, z, f, s = outputs
    assert (x, y, z, s) == ("fake-user-secret-1", "fake-username-2", "fake-password-3", "fake-user-secret-1")
    assert f == "/etc/secrets/user-info/user_secret"
    # secret_task asks ANY (a file under K8s), secret_file_task ENV_VAR (an env var).
    assert [r.injections for r in executor.runs] == [
        [("user-info/user_secret", "K8s")],
        [("user-info/username", "K8s"), ("user-info/password", "K8s")],
        [("user-info/user_secret", "K8s")],
    ]
