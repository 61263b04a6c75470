"""Mistakes in workflow files and in ``run``/``pod render``/``execute`` command lines, as a user meets them.

Each row runs the real CLI (``python -m tasksecrets``, this checkout's code) in a subprocess against a
fresh store holding ``user-info`` (keys ``user_secret``, ``pin``) in ``flytesnacks-development`` and
``api`` (key ``token``) in ``team-a``. For every row: the exit status, one ``error:`` line holding
the phrase (what was wrong, what to do; only the rows that list several secrets go on after it, as
many lines as they list), no traceback, and no stored value anywhere in the output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

import tasksecrets
from childproc import run_tasksecrets
from tasksecrets.local.store import SecretStore

NS = "flytesnacks-development"
STORED_VALUE = "fake-mistake-value-77"
SHORT_VALUE = "zq"
TOKEN_VALUE = "fake-mistake-token-5"

HEADER = (
    "from typing import Any, NamedTuple, Optional\n"
    "from tasksecrets import Secret, current_context, task, workflow\n"
)

FILES: dict[str, str] = {
    "nokey.py": '@task(secret_requests=[Secret(group="user-info")])\ndef t() -> None:\n    pass\n',
    "nogroup.py": '@task(secret_requests=[Secret(key="user_secret")])\ndef t() -> None:\n    pass\n',
    "bare.py": '@task(secret_requests=Secret(group="user-info", key="k"))\ndef t() -> None:\n    pass\n',
    "badenv.py": '@task(secret_requests=[Secret(group="g", key="k", env_var="bad-name")])\ndef t() -> None:\n'
    "    pass\n",
    "badmount.py": '@task(secret_requests=[Secret(group="g", key="k", mount_requirement="disk")])\n'
    "def t() -> None:\n    pass\n",
    "positional.py": '@task([Secret(group="g", key="k")])\ndef t() -> None:\n    pass\n',
    "syntax.py": "def broken(:\n",
    "outputs.py": """
class Pair(NamedTuple):
    total: int
    name: str

@task
def gen() -> int:
    return (i for i in range(3))

@task
def str_for_int() -> int:
    return "seven"

@task
def bad_item() -> list[int]:
    return [1, "two", 3]

@task
def bad_value() -> dict[str, int]:
    return {"a": 1, "b": "x"}

@task
def too_few() -> tuple[int, str]:
    return (1,)

@task
def bad_field() -> Pair:
    return (1, 2)

@task
def returns_for_none() -> None:
    return 5

@task
def bad_optional() -> Optional[int]:
    return "x"

@task
def unpicklable():
    return (i for i in range(3))

@task
def local_function() -> Any:
    return lambda: 1

@task
def takes(x: Any) -> str:
    return "took"

@workflow
def passes_a_generator() -> str:
    return takes(x=(i for i in range(3)))

@task
def exits() -> int:
    import sys
    sys.exit(0)

@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def returns_the_value() -> str:
    return current_context().secrets.get("user-info", "user_secret")

@task(secret_requests=[Secret(group="user-info", key="pin")])
def returns_the_short_value() -> str:
    return current_context().secrets.get("user-info", "pin")
""",
    "reads.py": """
@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def group_typo() -> str:
    return current_context().secrets.get("user_info", "user_secret")

@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def key_typo() -> str:
    return current_context().secrets.get("user-info", "user_secre")

@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def ok() -> str:
    return "ok"

@task(secret_requests=[Secret(group="api", key="token")])
def uses_api() -> str:
    return "api"

@workflow
def wf() -> str:
    return ok()
""",
    "needs.py": """
USER_INFO = [Secret(group="user-info", key="user_secret"), Secret(group="user-info", key="password")]

@task(secret_requests=USER_INFO)
def a() -> str:
    print("A RAN")
    return "a"

@task(secret_requests=[Secret(group="billing", key="api_key"), Secret(group="billing", key="api_id")])
def b(x: str) -> str:
    print("B RAN")
    return x

@task(secret_requests=[Secret(group="never-called", key="k")])
def not_in_the_workflow() -> str:
    return ""

@workflow
def wf() -> str:
    return b(x=a())
""",
}

HOME_FILE = "home-is-a-file"


class Case(NamedTuple):
    args: str
    code: int
    phrase: str
    more_lines: int = 0  # lines after the error line (the secrets it lists and the command)


CASES: dict[str, Case] = {
    # -- declarations the file makes at import: one line naming the file and line, exit 2
    "secret-without-key": Case("run {d}/nokey.py t", 2, "nokey.py:3: Secret key is a required parameter"),
    "secret-without-group": Case("run {d}/nogroup.py t", 2, "nogroup.py:3: Secret group is a required"),
    "secret-not-in-a-list": Case("run {d}/bare.py t", 2, "bare.py:3: @task: secret_requests must be a list"),
    "bad-env-var": Case("run {d}/badenv.py t", 2, "Secret env_var 'bad-name' is not a valid"),
    "bad-mount": Case("run {d}/badmount.py t", 2, "mount_requirement 'disk' is not valid"),
    "secrets-positional": Case("run {d}/positional.py t", 2, "pass them by keyword"),
    "render-secret-without-key": Case("pod render {d}/nokey.py t", 2, "nokey.py:3: Secret key is a required"),
    "execute-secret-without-key": Case(
        "execute --file {d}/nokey.py --task t", 2, "nokey.py:3: Secret key is a required"
    ),
    # -- the file itself
    "file-missing": Case("run {d}/absent.py wf", 2, "does not exist: pass the path"),
    "syntax-error": Case("run {d}/syntax.py wf", 1, "importing"),
    "name-typo": Case("run {d}/reads.py wff", 2, "no workflow or task named 'wff' (did you mean 'wf'?)"),
    # -- results that break the return annotation, or cannot be passed on: exit 1
    "generator-for-int": Case("run {d}/outputs.py gen", 1, "task 'gen' output o0 is a generator, but int"),
    "str-for-int": Case("run {d}/outputs.py str_for_int", 1, "output o0 is a str, but int is declared"),
    "list-item": Case("run {d}/outputs.py bad_item", 1, "output o0[1] is a str, but int is declared"),
    "dict-value": Case("run {d}/outputs.py bad_value", 1, "output o0['b'] is a str, but int is declared"),
    "tuple-arity": Case("run {d}/outputs.py too_few", 1, "returned 1 outputs, but its return annotation"),
    "namedtuple-field": Case("run {d}/outputs.py bad_field", 1, "output name is an int, but str is declared"),
    "value-for-none": Case("run {d}/outputs.py returns_for_none", 1, "output o0 is an int, but None is"),
    "optional": Case("run {d}/outputs.py bad_optional", 1, "output o0 is a str, but Optional[int]"),
    "unpicklable-output": Case(
        "run {d}/outputs.py unpicklable", 1, "task 'unpicklable' output o0 (a generator) cannot be passed on"
    ),
    "local-function-output": Case(
        "run {d}/outputs.py local_function", 1, "output o0 (a function, declared Any) cannot be passed on"
    ),
    "unpicklable-input": Case(
        "run {d}/outputs.py passes_a_generator", 1, "task 'takes' input 'x' (a generator) cannot be passed"
    ),
    "task-calls-sys-exit": Case("run {d}/outputs.py exits", 1, "task 'exits' called sys.exit(0) instead of"),
    "execute-wrong-type": Case(
        "execute --file {d}/outputs.py --task str_for_int --outputs {d}/out.json", 1, "but int is declared"
    ),
    # -- secrets: every missing one listed before anything runs, with one command
    "missing-across-workflow": Case(
        "run {d}/needs.py wf", 1, "2 secrets the tasks need are missing from the local store", 2 + 21
    ),
    "missing-one-secret": Case(
        "run {d}/reads.py uses_api",
        1,
        "1 secret the tasks need is missing from the local store (no task was run)",
        3,
    ),
    "namespace-typo": Case(f"run {{d}}/reads.py ok -n {NS[:-1]}", 1, "1 secret the tasks need is missing", 3),
    "invalid-namespace": Case("run {d}/reads.py ok -n Bad_NS", 2, "namespace 'Bad_NS' is not a valid"),
    "short-project-flag": Case("run {d}/reads.py ok -p BAD_P", 2, "not a valid Kubernetes namespace"),
    "render-invalid-namespace": Case("pod render {d}/reads.py ok -n Bad_NS", 2, "'Bad_NS' is not a valid"),
    # -- reading what was not requested: the near request is named
    "group-typo": Case("run {d}/reads.py group_typo", 1, "did you mean group 'user-info'?"),
    "key-typo": Case("run {d}/reads.py key_typo", 1, "did you mean key 'user_secret' of group 'user-info'?"),
    # -- the environment
    "home-is-a-file": Case("run {d}/reads.py ok", 1, "is a file, not a directory"),
}

# What each secrets row must also say, anywhere in its message.
ALSO: dict[str, list[str]] = {
    "missing-across-workflow": [
        "secret 'user-info' in namespace 'flytesnacks-development' has no key 'password' (its keys: pin, "
        "user_secret); needed by task 'a'",
        "secret 'billing' (key 'api_id', 'api_key') does not exist",
        "tasksecrets apply -f - <<'EOF'",
    ],
    "missing-one-secret": [
        "it exists in namespace 'team-a': run with -n team-a",
        "tasksecrets create secret generic api -n flytesnacks-development --from-literal=token=VALUE",
    ],
    "namespace-typo": [f"did you mean namespace {NS!r}? it holds this secret: run with -n {NS}"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mistakes")
    for name, body in FILES.items():
        (d / name).write_text(body if name == "syntax.py" else HEADER + body)
    (d / HOME_FILE).write_text("not a directory\n")
    return d


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", {"user_secret": STORED_VALUE.encode(), "pin": SHORT_VALUE.encode()})
        store.create("team-a", "api", {"token": TOKEN_VALUE.encode()})
    return home


def cli_env(home: Path) -> dict[str, str]:
    """This environment without secrets settings, running this checkout's code on the store at ``home``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_"))}
    source = str(Path(tasksecrets.__file__).resolve().parents[1])
    path = os.pathsep.join([source, *filter(None, [environ.get("PYTHONPATH")])])
    return {**environ, "PYTHONPATH": path, "TASKSECRETS_HOME": str(home)}


def run_cli(args: list[str], *, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_tasksecrets(args, env=cli_env(home), cwd=cwd)


def _assert_no_value(text: str) -> None:
    assert STORED_VALUE not in text and TOKEN_VALUE not in text
    assert f": {SHORT_VALUE}\n" not in text and f"\n{SHORT_VALUE}\n" not in text


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_a_mistake_fails_in_one_line(name: str, files: Path, home: Path) -> None:
    case = CASES[name]
    if name == "home-is-a-file":
        home = files / HOME_FILE
    done = run_cli([a.replace("{d}", str(files)) for a in case.args.split()], home=home, cwd=files)
    output = done.stdout + done.stderr
    assert done.returncode == case.code, output
    assert "Traceback" not in output and 'File "' not in output, output
    _assert_no_value(output)
    lines = done.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.lower().startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert case.phrase in lines[errors[0]], done.stderr
    after = [line for line in lines[errors[0] + 1 :] if line.strip()]
    assert len(after) == case.more_lines, done.stderr
    for phrase in ALSO.get(name, []):
        assert phrase in done.stderr, done.stderr
    assert "RAN" not in output  # nothing ran before the missing secrets were told


def test_the_missing_secrets_command_adds_only_the_missing_keys(files: Path, home: Path) -> None:
    done = run_cli(["run", str(files / "needs.py"), "wf"], home=home, cwd=files)
    heredoc = done.stderr.split("tasksecrets apply -f - <<'EOF'\n", 1)[1]
    body, end = heredoc.rsplit("EOF", 1)
    assert end.strip() == ""
    manifest = yaml.safe_load(body)
    assert manifest["apiVersion"] == "v1" and manifest["kind"] == "List"
    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in manifest["items"]}
    assert sorted(secrets) == [(NS, "billing"), (NS, "user-info")]  # not the task the workflow never calls
    assert {k: s["stringData"] for k, s in secrets.items()} == {
        (NS, "billing"): {"api_id": "VALUE", "api_key": "VALUE"},
        (NS, "user-info"): {"password": "VALUE"},  # user_secret and pin exist: kept, not retyped
    }
    assert all(s["apiVersion"] == "v1" and s["kind"] == "Secret" for s in secrets.values())


def test_running_the_printed_command_then_the_run_again_succeeds(files: Path, home: Path) -> None:
    first = run_cli(["run", str(files / "needs.py"), "wf"], home=home, cwd=files)
    heredoc = first.stderr.split("tasksecrets apply -f - <<'EOF'\n", 1)[1].rsplit("EOF", 1)[0]
    filled = heredoc.replace("VALUE", "fake-filled-in")
    applied = subprocess.run(
        [sys.executable, "-m", "tasksecrets", "apply", "-f", "-"],
        input=filled,
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=120,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    again = run_cli(["run", str(files / "needs.py"), "wf"], home=home, cwd=files)
    assert again.returncode == 0, again.stderr
    assert "A RAN" in again.stderr and "B RAN" in again.stderr
    with SecretStore.open(home) as store:
        assert sorted(store.get(NS, "user-info")) == ["password", "pin", "user_secret"]


@pytest.mark.parametrize(
    ("task_name", "stored"), [("returns_the_value", STORED_VALUE), ("returns_the_short_value", SHORT_VALUE)]
)
def test_an_output_that_is_a_secret_whole_is_masked_whatever_its_length(
    task_name: str, stored: str, files: Path, home: Path
) -> None:
    done = run_cli(["run", str(files / "outputs.py"), task_name], home=home, cwd=files)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "o0: ********\n"
    assert stored not in done.stdout


def test_n_reads_the_secrets_of_that_namespace(files: Path, home: Path) -> None:
    done = run_cli(["run", str(files / "reads.py"), "uses_api", "-n", "team-a"], home=home, cwd=files)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "o0: api\n"
    assert "pod uses-api-" in done.stderr and "api/token (K8s)" in done.stderr


def test_the_help_of_each_command_names_its_exit_codes(files: Path, home: Path) -> None:
    for command in (["run"], ["execute"], ["pod", "render"]):
        done = run_cli([*command, "--help"], home=home, cwd=files)
        text = " ".join(done.stdout.split())
        assert done.returncode == 0 and "Exit status: 0" in text, done.stdout
        assert ("1 " in text and "2 a usage error" in text) or "2 bad arguments" in text, text
    run_help = " ".join(run_cli(["run", "--help"], home=home, cwd=files).stdout.split())
    assert "-p, --project" in run_help and "-d, --domain" in run_help and "-n, --namespace" in run_help
