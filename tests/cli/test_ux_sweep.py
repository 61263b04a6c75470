"""Every command's user mistakes, as a user meets them: real ``python -m tasksecrets`` processes.

One table: the command line (``{d}`` is a directory of prepared files, ``{home}`` the store), extra
environment, the exit status, and a phrase stderr must hold (what was wrong, how to fix it). For
every row: no Python traceback (except the rows marked ``TRACEBACK``: the user's own code raised, and
its traceback, trimmed to the user's frames, is the documented answer), and never the stored secret's
value, nor a value written into a bad input file. Each test gets a fresh store holding
``user-info`` (key ``user_secret``) in ``flytesnacks-development``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tasksecrets.local import SecretStore

STORED_VALUE = "fake-ux-stored-value"
FILE_VALUE = "fake-ux-file-value"  # written into bad manifests: must never be echoed back
NS = "flytesnacks-development"
TRACEBACK = True

WORKFLOW = """
from tasksecrets import Secret, current_context, task, workflow

@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def t1(n: int = 1) -> str:
    return "x" * n

@task
def boom() -> str:
    raise RuntimeError("task blew up")

@task(secret_requests=[Secret(group="user-info", key="user_secret")])
def leaky() -> str:
    raise ValueError("bad value " + current_context().secrets.get("user-info", "user_secret"))

@task(secret_requests=[Secret(group="secret/data/flyte", key="k")])
def vault_path_on_k8s() -> str:
    return ""

@workflow
def wf(n: int) -> str:
    return t1(n=n)

NOT_A_TASK = 3

def plain() -> None:
    pass
"""

FILES: dict[str, str | bytes] = {
    "wf.py": WORKFLOW,
    "syn.py": "def broken(:\n",
    "imp.py": "import no_such_module_for_ux_sweep\n",
    "bad.yaml": "a: [1\n",
    "bad.json": "{bad json\n",
    "bin.yaml": b"\xff\xfe\x00bin",
    "str.yaml": "just a string\n",
    "list.json": "[1, 2]\n",
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    "badb64.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s1}}\ndata: {{k: '!!{FILE_VALUE}'}}\n",
    "badname.yaml": (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: Bad_Name}}\nstringData: {{p: {FILE_VALUE}}}\n"
    ),
    "nameless.yaml": f"apiVersion: v1\nkind: Secret\nmetadata: {{}}\nstringData: {{p: {FILE_VALUE}}}\n",
    "intval.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: ok}\nstringData: {p: 12345}\n",
    "datalist.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\ndata: [1, 2]\n",
    "badenv.env": f"not a valid line {FILE_VALUE}\n",
    "pod.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: task, image: x}]}\n"
    ),
    "multi.yaml": "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n",
    "badpod.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {inject-flyte-secrets: 'true'}, "
        "annotations: {flyte.secrets/s0: zzz0}}\nspec: {containers: [{name: task, image: x}]}\n"
    ),
    "weirdpod.yaml": "kind: Pod\nspec: 3\n",
    "badcfg.yaml": "webhook: [1, 2]\n",
    "badmgr.yaml": "webhook:\n  secretManagerType: Nope\n",
    "unknownkey.yaml": "webhook:\n  unknownKey: 1\n",
    "nocerts.yaml": "webhook:\n  certDir: {d}/nocerts\n  disableCreateMutatingWebhookConfig: true\n",
    "corrupt-home/secrets.db": "not a database\n",
    "home-file": "a file where a directory should be\n",
}

WRONG_KEY = base64.b64encode(b"k" * 32).decode()
SHORT_KEY = base64.b64encode(b"k" * 16).decode()


class Case(NamedTuple):
    args: str
    code: int
    phrase: str
    env: dict[str, str] = {}
    traceback: bool = False


CASES: dict[str, Case] = {
    # -- groups without a subcommand, unknown commands
    "root-no-command": Case("", 2, "Usage: tasksecrets"),
    "root-unknown": Case("nosuchcmd", 2, "No such command 'nosuchcmd'"),
    "create-no-kind": Case("create", 2, "Usage: tasksecrets create"),
    "create-configmap": Case("create configmap x", 2, "No such command 'configmap'"),
    "get-pods": Case("get pods", 2, "No such command 'pods'"),
    "webhook-no-command": Case("webhook", 2, "Usage: tasksecrets webhook"),
    "pod-no-command": Case("pod", 2, "Usage: tasksecrets pod"),
    # -- create secret generic
    "create-missing-name": Case("create secret generic", 2, "Missing argument 'NAME'"),
    "create-bad-name": Case(
        "create secret generic UPPER --from-literal=a=b", 1, "invalid secret name 'UPPER'"
    ),
    "create-literal-no-value": Case("create secret generic s --from-literal=novalue", 2, "KEY=VALUE"),
    "create-literal-no-key": Case("create secret generic s --from-literal==v", 2, "KEY=VALUE"),
    "create-key-twice": Case(
        "create secret generic s --from-literal=a=1 --from-literal=a=2", 2, "given twice"
    ),
    "create-missing-file": Case("create secret generic s --from-file={d}/nofile.txt", 1, "cannot read"),
    "create-missing-env-file": Case("create secret generic s --from-env-file={d}/no.env", 1, "cannot read"),
    "create-bad-env-file": Case(
        "create secret generic s --from-env-file={d}/badenv.env", 2, "KEY=VALUE lines"
    ),
    "create-bad-namespace": Case(
        "create secret generic s -n BadNS --from-literal=a=b", 1, "invalid namespace"
    ),
    "create-extra-arg": Case(
        "create secret generic s --from-literal=a=b extra", 2, "unexpected extra argument"
    ),
    "create-unknown-option": Case("create secret generic s --bogus", 2, "No such option '--bogus'"),
    "create-exists": Case(
        f"create secret generic user-info -n {NS} --from-literal=user_secret={FILE_VALUE}",
        1,
        f"tasksecrets delete secret user-info -n {NS}",
    ),
    "create-dry-run-server": Case("create secret generic s --dry-run=server", 2, "'server' is not one of"),
    # -- get / describe / delete
    "get-bad-output": Case("get secrets -o xml", 2, "-o 'xml' is not an output format"),
    "get-missing": Case(f"get secrets nope -n {NS}", 1, "tasksecrets create secret generic nope"),
    "get-reveal-table": Case(
        "get secrets --reveal", 2, "--reveal only applies to -o yaml, -o json or -o jsonpath"
    ),
    "get-bad-env-namespace": Case(
        "get secrets", 1, "invalid namespace 'BAD'", {"TASKSECRETS_NAMESPACE": "BAD"}
    ),
    "describe-missing": Case(f"describe secret nope -n {NS}", 1, "not found in namespace"),
    "delete-no-name": Case("delete secret", 2, "pass --all or -l SELECTOR"),
    "delete-missing": Case(f"delete secret nope -n {NS}", 1, "nothing to delete"),
    # -- apply
    "apply-no-file": Case("apply", 2, "Missing option '-f'"),
    "apply-missing-file": Case("apply -f {d}/nofile.yaml", 1, "cannot read -f"),
    "apply-bad-yaml": Case("apply -f {d}/bad.yaml", 1, "not valid YAML or JSON at line 2"),
    "apply-bad-json": Case("apply -f {d}/bad.json", 1, "not valid YAML or JSON"),
    "apply-binary": Case("apply -f {d}/bin.yaml", 1, "not UTF-8 text"),
    "apply-configmap": Case("apply -f {d}/cm.yaml", 1, "'ConfigMap' is not supported"),
    "apply-bad-base64": Case("apply -f {d}/badb64.yaml", 1, "data.k: not valid base64"),
    "apply-string-document": Case("apply -f {d}/str.yaml", 1, "expected a Kubernetes Secret"),
    "apply-bad-name": Case("apply -f {d}/badname.yaml", 1, "invalid secret name 'Bad_Name'"),
    "apply-no-name": Case("apply -f {d}/nameless.yaml", 1, "metadata.name: the secret name is missing"),
    "apply-int-value": Case("apply -f {d}/intval.yaml", 1, "must be a string, got a number; quote the value"),
    "apply-data-list": Case("apply -f {d}/datalist.yaml", 1, "data: must be a mapping"),
    # -- the store's environment
    "empty-home-get": Case("get secrets", 0, "is empty", {"TASKSECRETS_HOME": "{d}/empty-home"}),
    "empty-home-describe": Case("describe secret x", 1, "is empty", {"TASKSECRETS_HOME": "{d}/empty-home"}),
    "home-is-a-file": Case(
        "get secrets", 1, "is a file, not a directory", {"TASKSECRETS_HOME": "{d}/home-file"}
    ),
    "home-corrupt-db": Case(
        "get secrets", 1, "file is not a database", {"TASKSECRETS_HOME": "{d}/corrupt-home"}
    ),
    "master-key-not-base64": Case(
        f"get secrets user-info -n {NS}",
        1,
        "not a valid master key",
        {"TASKSECRETS_MASTER_KEY": "not-base64!"},
    ),
    "master-key-short": Case(
        f"get secrets user-info -n {NS}",
        1,
        "decodes to 16 bytes, expected 32",
        {"TASKSECRETS_MASTER_KEY": SHORT_KEY},
    ),
    "master-key-wrong": Case(
        f"get secrets user-info -n {NS}", 1, "does not open the store", {"TASKSECRETS_MASTER_KEY": WRONG_KEY}
    ),
    "master-key-wrong-run": Case(
        "run {d}/wf.py t1", 1, "does not open the store", {"TASKSECRETS_MASTER_KEY": WRONG_KEY}
    ),
    "key-file-missing": Case(
        f"get secrets -n {NS} -o json --reveal",
        1,
        "master key is missing",
        {"TASKSECRETS_KEY_FILE": "{d}/no-such-key"},
    ),
    # -- run
    "run-no-args": Case("run", 2, "Missing argument 'FILE.py'"),
    "run-no-name": Case("run {d}/wf.py", 2, "Missing argument 'NAME'"),
    "run-missing-file": Case("run {d}/nofile.py wf", 2, "does not exist: pass the path"),
    "run-not-python": Case("run {d}/bad.yaml wf", 2, "is not a .py file"),
    "run-syntax-error": Case("run {d}/syn.py wf", 1, "SyntaxError: invalid syntax"),
    "run-import-error": Case("run {d}/imp.py wf", 1, "ModuleNotFoundError", traceback=TRACEBACK),
    "run-not-a-task": Case("run {d}/wf.py NOT_A_TASK", 2, "no workflow or task named 'NOT_A_TASK'"),
    "run-plain-function": Case(
        "run {d}/wf.py plain", 2, "workflows: wf; tasks: boom, leaky, t1, vault_path_on_k8s"
    ),
    "run-unknown-name": Case("run {d}/wf.py nosuch", 2, "no workflow or task named 'nosuch'"),
    "run-missing-input": Case("run {d}/wf.py wf", 2, "needs input: pass -i n=<int>"),
    "run-wrong-type": Case("run {d}/wf.py wf -i n=abc", 2, "input 'n' expects int"),
    "run-float-for-int": Case("run {d}/wf.py wf -i n=1.5", 2, "input 'n' expects int"),
    "run-input-no-value": Case("run {d}/wf.py wf -i n", 2, "write each input as NAME=VALUE"),
    "run-unknown-input": Case("run {d}/wf.py wf -i m=2 -i n=1", 2, "has no input 'm'; its inputs: n"),
    "run-extra-arg": Case("run {d}/wf.py wf extra", 2, "unexpected extra argument"),
    "run-bad-project": Case("run {d}/wf.py t1 --project BAD_P", 2, "not a valid Kubernetes namespace"),
    "run-empty-domain": Case("run {d}/wf.py t1 --domain=", 2, "not a valid Kubernetes namespace"),
    "run-missing-config": Case("run {d}/wf.py t1 --config {d}/nofile.yaml", 2, "cannot read the config file"),
    "run-bad-yaml-config": Case("run {d}/wf.py t1 --config {d}/bad.yaml", 2, "is not valid YAML"),
    "run-config-not-mapping": Case(
        "run {d}/wf.py t1 --config {d}/badcfg.yaml", 2, "webhook: must be a mapping"
    ),
    "run-unknown-manager": Case(
        "run {d}/wf.py t1 --config {d}/badmgr.yaml", 2, "unknown secret manager 'Nope'"
    ),
    "run-unknown-config-key": Case("run {d}/wf.py t1 --config {d}/unknownkey.yaml", 2, "webhook.unknownKey"),
    "run-secret-missing": Case(
        "run {d}/wf.py t1 --project other",
        1,
        "tasksecrets create secret generic user-info -n other-development --from-literal=user_secret=VALUE",
    ),
    "run-group-not-a-k8s-name": Case(
        "run {d}/wf.py vault_path_on_k8s", 1, "run with --config naming that manager"
    ),
    "run-task-raises": Case("run {d}/wf.py boom", 1, "RuntimeError: task blew up", traceback=TRACEBACK),
    "run-task-raises-with-value": Case(
        "run {d}/wf.py leaky", 1, "ValueError: bad value ********", traceback=TRACEBACK
    ),
    # -- execute (the task entrypoint)
    "execute-no-task": Case("execute", 2, "Missing option '--task'"),
    "execute-no-source": Case("execute --task x", 2, "give exactly one of --file PATH or --module NAME"),
    "execute-unknown-task": Case("execute --file {d}/wf.py --task nosuch", 2, "no task 'nosuch'"),
    "execute-missing-file": Case("execute --file {d}/nofile.py --task x", 2, "does not exist"),
    "execute-syntax-error": Case("execute --file {d}/syn.py --task x", 1, "SyntaxError: invalid syntax"),
    "execute-missing-inputs": Case(
        "execute --file {d}/wf.py --task t1 --inputs {d}/no.json", 2, "cannot read"
    ),
    "execute-bad-inputs": Case(
        "execute --file {d}/wf.py --task t1 --inputs {d}/bad.json", 2, "not valid JSON"
    ),
    "execute-inputs-list": Case(
        "execute --file {d}/wf.py --task t1 --inputs {d}/list.json", 2, "JSON object"
    ),
    "execute-unknown-module": Case("execute --module no.such.mod --task x", 2, "cannot be found"),
    # -- pod render
    "render-no-args": Case("pod render", 2, "Missing argument 'FILE.py'"),
    "render-no-task": Case("pod render {d}/wf.py", 2, "Missing argument 'TASK_NAME'"),
    "render-missing-file": Case("pod render {d}/nofile.py t1", 2, "does not exist"),
    "render-not-python": Case("pod render {d}/bad.yaml t1", 2, "must be a Python (.py) file"),
    "render-syntax-error": Case("pod render {d}/syn.py t1", 1, "SyntaxError: invalid syntax"),
    "render-import-error": Case("pod render {d}/imp.py t1", 1, "ModuleNotFoundError", traceback=TRACEBACK),
    "render-workflow": Case("pod render {d}/wf.py wf", 2, "no task 'wf'"),
    "render-not-a-task": Case("pod render {d}/wf.py NOT_A_TASK", 2, "no task 'NOT_A_TASK'"),
    "render-bad-project": Case("pod render {d}/wf.py t1 -p BAD_P", 2, "not a valid Kubernetes namespace"),
    "render-bad-output": Case("pod render {d}/wf.py t1 -o xml", 2, "'xml' is not one of"),
    # -- webhook mutate
    "mutate-no-file": Case("webhook mutate", 2, "Missing argument 'POD_FILE'"),
    "mutate-missing-file": Case("webhook mutate {d}/nofile.yaml", 2, "No such file or directory"),
    "mutate-directory": Case("webhook mutate {d}", 2, "Is a directory"),
    "mutate-bad-yaml": Case("webhook mutate {d}/bad.yaml", 2, "neither JSON nor YAML at line 2, column 1"),
    "mutate-bad-json": Case("webhook mutate {d}/bad.json", 2, "neither JSON nor YAML"),
    "mutate-string": Case("webhook mutate {d}/str.yaml", 2, "got a str instead of a mapping"),
    "mutate-configmap": Case("webhook mutate {d}/cm.yaml", 2, "got kind 'ConfigMap'"),
    "mutate-two-documents": Case("webhook mutate {d}/multi.yaml", 2, "found 2 documents"),
    "mutate-bad-annotation": Case("webhook mutate {d}/badpod.yaml", 1, "flyte.secrets/s0 does not decode"),
    "mutate-bad-spec": Case("webhook mutate {d}/weirdpod.yaml", 1, "spec must be an object"),
    "mutate-missing-config": Case(
        "webhook mutate {d}/pod.yaml --config {d}/nofile.yaml", 2, "cannot read the config"
    ),
    "mutate-bad-config": Case(
        "webhook mutate {d}/pod.yaml --config {d}/badmgr.yaml", 2, "unknown secret manager"
    ),
    "mutate-bad-output": Case("webhook mutate {d}/pod.yaml -o xml", 2, "'xml' is not one of"),
    # -- webhook serve / init-certs / rotate-certs (none of these rows gets as far as listening)
    "serve-missing-config": Case("webhook serve --config {d}/nofile.yaml", 1, "cannot read the config file"),
    "serve-bad-config": Case("webhook serve --config {d}/badmgr.yaml", 1, "unknown secret manager"),
    "serve-no-certs": Case(
        "webhook serve --config {d}/nocerts.yaml --port 0", 1, "tasksecrets webhook init-certs"
    ),
    "serve-bad-port": Case("webhook serve --port abc", 2, "'abc' is not a valid integer"),
    "serve-zero-workers": Case("webhook serve --workers 0", 2, "0 is not in the range"),
    "serve-unknown-option": Case("webhook serve --bogus", 2, "No such option '--bogus'"),
    "init-certs-missing-config": Case(
        "webhook init-certs --config {d}/nofile.yaml", 1, "cannot read the config"
    ),
    "init-certs-extra-arg": Case("webhook init-certs --local-only extra", 2, "unexpected extra argument"),
    "init-certs-no-cluster": Case(
        "webhook init-certs --config {d}/nocerts.yaml",
        1,
        "set KUBECONFIG",
        {"KUBECONFIG": "{d}/no-kubeconfig"},
    ),
    "rotate-certs-none-yet": Case(
        "webhook rotate-certs --local-only --config {d}/nocerts.yaml",
        1,
        "run `tasksecrets webhook init-certs` first",
    ),
}

HELP = [
    "",
    "create",
    "create secret",
    "create secret generic",
    "get",
    "get secrets",
    "get secret",
    "get runs",
    "describe",
    "describe secret",
    "delete",
    "delete secret",
    "delete run",
    "delete secrets",
    "describe secrets",
    "apply",
    "patch",
    "patch secret",
    "patch secrets",
    "run",
    "execute",
    "pod",
    "pod render",
    "webhook",
    "webhook serve",
    "webhook init-certs",
    "webhook rotate-certs",
    "webhook mutate",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ux")
    for name, content in FILES.items():
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{d}", str(d)))
    return d


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    with SecretStore.open(home) as store:
        store.create(NS, "user-info", {"user_secret": STORED_VALUE.encode()})
    return home


def run_cli(
    args: list[str], *, home: Path, extra: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKSECRETS_", "_FSEC_", "FLYTE_SECRET", "KUBECONFIG", "USER-INFO"))
    }
    env.update({"TASKSECRETS_HOME": str(home), **extra})
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_user_mistake(case: Case, files: Path, home: Path) -> None:
    args = [a.replace("{d}", str(files)) for a in case.args.split()]
    extra = {k: v.replace("{d}", str(files)) for k, v in case.env.items()}
    done = run_cli(args, home=home, extra=extra, cwd=files)
    output = done.stdout + done.stderr
    assert done.returncode == case.code, output
    assert case.phrase in done.stderr, output
    assert STORED_VALUE not in output and FILE_VALUE not in output
    assert "TASKSECRETS_MASTER_KEY" not in case.env or case.env["TASKSECRETS_MASTER_KEY"] not in output
    if case.traceback:
        # The user's code raised: its traceback is shown, starting at the user's own frames.
        assert "Traceback" in done.stderr and str(files) in done.stderr
        assert "tasksecrets/cli" not in done.stderr and "<frozen importlib" not in done.stderr
    else:
        assert "Traceback" not in output
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        if not case.traceback and not case.phrase.startswith("Usage:"):
            assert len(lines) <= 12, f"a short message, not {len(lines)} lines:\n{done.stderr}"


@pytest.mark.parametrize("command", HELP, ids=[c or "root" for c in HELP])
def test_help(command: str, files: Path, home: Path) -> None:
    for flag in ("--help", "-h"):
        done = run_cli([*command.split(), flag], home=home, extra={}, cwd=files)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"Usage: tasksecrets {command}".rstrip()), done.stdout
        assert "Traceback" not in done.stdout + done.stderr


def test_every_command_has_a_help_row() -> None:
    import click

    from tasksecrets.cli import main

    def walk(group: click.Command, prefix: str) -> list[str]:
        names = [prefix.strip()]
        if isinstance(group, click.Group):
            ctx = click.Context(group)
            for name in group.list_commands(ctx):
                sub = group.get_command(ctx, name)
                assert sub is not None
                names += walk(sub, f"{prefix} {name}")
        return names

    assert sorted(walk(main, "")) == sorted(HELP)
