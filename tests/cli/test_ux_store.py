"""The store and webhook commands' user mistakes, run as a user runs them: ``python -m tasksecrets``.

A sibling of test_ux_sweep.py (same store, same values that must never show) for the kubectl forms:
names as ``secret/NAME``, several names with partial success, ``-l``, ``-o jsonpath``, ``apply`` of
directories and lists, ``patch``, the advice for a forgotten ``-n`` or a typo, a damaged key file,
and ``webhook serve`` on a port it cannot have. For every row: the exit status, the phrase on
stderr, no traceback, no value, and one ``Error:`` line per failure (config files: one message
listing every problem).
"""

from __future__ import annotations

import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from test_ux_sweep import FILE_VALUE, NS, STORED_VALUE, home, run_cli

__all__ = ["home"]  # the fixture, shared with test_ux_sweep.py

_SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}{meta}}}\n{body}\n"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret(name: str = "s1", body: str = f"stringData: {{p: {FILE_VALUE}}}", meta: str = "") -> str:
    return _SECRET.format(name=name, meta=meta, body=body)


FILES: dict[str, str] = {
    "emptydir/readme.txt": "no manifests here\n",
    "keysdir/bad name": f"{FILE_VALUE}\n",
    "baddir/a.yaml": _secret("good-one"),
    "baddir/b.yaml": _secret("s2", body=f"data: {{k: '!!{FILE_VALUE}'}}"),
    "spaced.yaml": _secret(body="data:\n  k: aGVsbG8g\n    d29ybGQ=\n"),
    "badlabelvalue.yaml": _secret(meta=", labels: {app: 'has space'}"),
    "badlabelkey.yaml": _secret(meta=", labels: {'a b': x}"),
    "labelslist.yaml": _secret(meta=", labels: [a, b]"),
    "annotationint.yaml": _secret(meta=", annotations: {note: 3}"),
    "typechange.yaml": _secret("user-info", meta=f", namespace: {NS}", body="type: kubernetes.io/tls"),
    "nsconflict.yaml": _secret(meta=f", namespace: {NS}"),
    "lastapplied.yaml": _secret(
        "s3", meta=f', namespace: {NS}, annotations: {{{_LAST_APPLIED}: \'{{"p": "{FILE_VALUE}"}}\'}}'
    ),
    "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    "garbage.key": f"{FILE_VALUE}!!\n",
    "short.key": "aGVsbG8=\n",
    "twoerrors.yaml": "webhook:\n  listenPort: abc\n  secretManagerTyp: K8s\n",
}


class Case(NamedTuple):
    args: str  # split like a shell line; {d} is the directory of FILES
    code: int
    phrase: str
    env: dict[str, str] = {}
    stdout: str = ""  # what succeeded, printed although the command failed for the rest
    absent: str = ""  # advice that must not be given
    errors: int = 1  # Error: lines expected on stderr


P = f"-n {NS}"
CASES: dict[str, Case] = {
    # -- get: the advice for a secret that is elsewhere
    "get-forgot-namespace": Case(
        "get secret user-info", 1, f"is in namespace {NS}: pass -n {NS}", absent="create"
    ),
    "get-namespace-typo": Case("get secrets db -n flytesnacks-developmnt", 1, f"did you mean -n {NS}?"),
    "get-name-typo": Case(f"get secret user-infoo {P}", 1, "did you mean 'user-info'?"),
    "get-slash-forgot-namespace": Case("get secret/user-info", 1, f"pass -n {NS}"),
    "get-partial": Case(
        f"get secrets user-info nope {P}", 1, "secret 'nope' not found", stdout="user-info   Opaque   1"
    ),
    "get-partial-yaml": Case(
        f"get secret/user-info secret/nope {P} -o yaml", 1, "'nope'", stdout="kind: List"
    ),
    "get-partial-name": Case(
        f"get secrets nope user-info {P} -o name", 1, "'nope'", stdout="secret/user-info"
    ),
    "get-two-missing": Case(f"get secrets nope1 nope2 {P}", 1, "'nope2' not found", errors=2),
    "get-other-kind-slash": Case("get configmap/x", 2, "No such command 'configmap/x'"),
    "get-names-and-all-namespaces": Case("get secrets user-info -A", 2, "give secret names or -A"),
    # -- get: output formats
    "get-jsonpath-data-without-reveal": Case(
        f"get secret user-info {P} -o jsonpath={{.data.user_secret}}", 2, "add --reveal"
    ),
    "get-jsonpath-range-data-without-reveal": Case(
        f"get secrets {P} -o 'jsonpath={{range .items[*]}}{{.data}}{{end}}'", 2, "add --reveal"
    ),
    "get-jsonpath-no-template": Case("get secrets -o jsonpath", 2, "needs a template"),
    "get-jsonpath-unclosed": Case("get secrets -o jsonpath={.metadata.name", 2, "is never closed"),
    "get-jsonpath-filter": Case("get secrets -o jsonpath={.items[?(@.x)]}", 2, "is not supported"),
    "get-jsonpath-range-unclosed": Case(
        f"get secrets {P} -o 'jsonpath={{range .items[*]}}{{.metadata.name}}'", 2, "without its {end}"
    ),
    "get-jsonpath-stray-end": Case("get secrets -o jsonpath={end}", 2, "{end} without a {range"),
    "get-output-unknown": Case("get secrets -o wide2", 2, "use one of: table, wide"),
    "get-reveal-wide": Case("get secrets -o wide --reveal", 2, "--reveal only applies"),
    "get-reveal-name": Case("get secrets -o name --reveal", 2, "--reveal only applies"),
    # -- get/describe/delete: selectors
    "get-selector-unreadable": Case("get secrets -l a=b=c", 1, "cannot read 'a=b=c'"),
    "get-selector-bad-value": Case("get secrets -l app=-x", 1, "is not a valid requirement"),
    "get-selector-bad-key": Case("get secrets -l 'a b'", 1, "cannot read"),
    "get-selector-no-match": Case(f"get secrets {P} -l app=none", 0, "No resources found", errors=0),
    # -- describe
    "describe-forgot-namespace": Case("describe secret user-info", 1, f"pass -n {NS}"),
    "describe-partial": Case(
        f"describe secrets user-info nope {P}", 1, "'nope' not found", stdout="Name:         user-info"
    ),
    "describe-empty-namespace": Case("describe secrets -n other", 0, "No resources found", errors=0),
    "describe-names-and-all-namespaces": Case("describe secrets user-info -A", 2, "not both"),
    # -- delete
    "delete-names-and-all": Case(f"delete secret user-info --all {P}", 2, "not several of them"),
    "delete-names-and-selector": Case(f"delete secret user-info -l a=b {P}", 2, "not several of them"),
    "delete-all-namespaces-names": Case("delete secret user-info -A", 2, "-A deletes across namespaces"),
    "delete-partial": Case(
        f"delete secrets nope user-info {P}", 1, "nothing to delete", stdout='secret "user-info" deleted'
    ),
    "delete-forgot-namespace": Case("delete secret user-info", 1, f"pass -n {NS}"),
    "delete-bad-selector": Case(f"delete secrets -l !! {P}", 1, "cannot read"),
    "delete-other-kind": Case("delete configmap/x", 2, "No such command"),
    # -- apply
    "apply-empty-directory": Case("apply -f {d}/emptydir", 1, "holds no .yaml, .yml or .json file"),
    "apply-directory-with-a-bad-file": Case(
        "apply -f {d}/baddir", 1, "b.yaml: document 1: data.k: not valid"
    ),
    "apply-base64-with-spaces": Case("apply -f {d}/spaced.yaml", 1, "data.k: not valid base64"),
    "apply-bad-label-value": Case("apply -f {d}/badlabelvalue.yaml", 1, "metadata.labels.app: the value"),
    "apply-bad-label-key": Case(
        "apply -f {d}/badlabelkey.yaml", 1, "metadata.labels: key 'a b' is not valid"
    ),
    "apply-labels-not-a-mapping": Case("apply -f {d}/labelslist.yaml", 1, "labels: must be a mapping"),
    "apply-annotation-not-a-string": Case(
        "apply -f {d}/annotationint.yaml", 1, "must be a string, got a number"
    ),
    "apply-type-change": Case("apply -f {d}/typechange.yaml", 1, "a Secret's type cannot change"),
    "apply-namespace-conflict": Case(
        "apply -f {d}/nsconflict.yaml -n other", 1, "does not match the namespace"
    ),
    "apply-empty-stdin": Case("apply -f -", 1, "no Secret in it"),
    "apply-configmap-in-list": Case("apply -f {d}/cm.yaml", 1, "'ConfigMap' is not supported"),
    "apply-last-applied-dropped": Case(
        "apply -f {d}/lastapplied.yaml", 0, f"annotation {_LAST_APPLIED} not kept", stdout="created", errors=0
    ),
    # -- patch
    "patch-no-patch": Case(f"patch secret user-info {P}", 2, "give the patch with -p"),
    "patch-both-patches": Case(f"patch secret user-info {P} -p {{}} --patch-file x", 2, "one of them"),
    "patch-not-json": Case(
        f'patch secret user-info {P} -p \'{{"stringData":{{"k":"{FILE_VALUE}"\'', 2, "is not valid JSON"
    ),
    "patch-missing-secret": Case(f"patch secret nope {P} -p {{}}", 1, "'nope' not found"),
    "patch-forgot-namespace": Case("patch secret user-info -p {}", 1, f"pass -n {NS}"),
    "patch-merge-not-object": Case(f"patch secret user-info {P} -p [1]", 2, "a merge patch is a JSON object"),
    "patch-json-not-list": Case(f"patch secret user-info {P} --type json -p {{}}", 2, "a list of operations"),
    "patch-json-bad-op": Case(
        f'patch secret user-info {P} --type json -p \'[{{"op":"move","path":"/data/x"}}]\'', 2, "needs 'op'"
    ),
    "patch-json-missing-path": Case(
        f'patch secret user-info {P} --type json -p \'[{{"op":"remove","path":"/data/nope"}}]\'',
        2,
        "path /data/nope does not exist",
    ),
    "patch-rename": Case(
        f'patch secret user-info {P} -p \'{{"metadata":{{"name":"x"}}}}\'', 2, "cannot change metadata.name"
    ),
    "patch-bad-base64": Case(
        f'patch secret user-info {P} -p \'{{"data":{{"k":"!!{FILE_VALUE}"}}}}\'',
        1,
        "data.k: not valid base64",
    ),
    "patch-bad-key": Case(
        f'patch secret user-info {P} -p \'{{"stringData":{{"bad key":"{FILE_VALUE}"}}}}\'',
        1,
        "invalid data key",
    ),
    "patch-number-value": Case(
        f'patch secret user-info {P} -p \'{{"stringData":{{"k":5}}}}\'', 1, "must be a string"
    ),
    "patch-bad-type": Case(f"patch secret user-info {P} --type foo -p {{}}", 2, "'foo' is not one of"),
    "patch-missing-patch-file": Case(
        f"patch secret user-info {P} --patch-file {{d}}/no.json", 1, "cannot read"
    ),
    "patch-other-kind": Case("patch configmap x -p {}", 2, "No such command 'configmap'"),
    # -- create
    "create-directory-with-a-bad-name": Case(
        "create secret generic s --from-file={d}/keysdir", 2, "invalid data key 'bad name'"
    ),
    "create-dry-run-bad-name": Case(
        "create secret generic BAD --dry-run=client -o yaml", 1, "invalid secret name"
    ),
    "create-empty-type": Case("create secret generic s --type= --from-literal=a=b", 2, "--type is empty"),
    "create-bad-output": Case("create secret generic s -o wide", 2, "'wide' is not one of"),
    # -- a damaged key file on a store holding secrets: restore it, never make a new one
    "key-file-garbage": Case(
        f"get secret user-info {P} -o yaml --reveal",
        1,
        "restore the key file from a backup",
        {"TASKSECRETS_KEY_FILE": "{d}/garbage.key"},
        absent="generate",
    ),
    "key-file-short": Case(
        f"create secret generic s2 {P} --from-literal=a=b",
        1,
        "decodes to 5 bytes, expected 32",
        {"TASKSECRETS_KEY_FILE": "{d}/short.key"},
        absent="generate",
    ),
    # -- webhook
    "mutate-review-not-a-pod": Case("webhook mutate {d}/cm.yaml --review", 2, "a Pod manifest (--review)"),
    "mutate-config-every-problem": Case(
        "webhook mutate {d}/cm.yaml --config {d}/twoerrors.yaml", 2, "did you mean 'secretManagerType'?"
    ),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ux-store")
    for name, content in FILES.items():
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return d


def _check(done: subprocess.CompletedProcess[str], case: Case) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == case.code, output
    assert case.phrase in done.stderr, output
    assert case.stdout in done.stdout, output
    assert not case.absent or case.absent not in done.stderr, output
    assert "Traceback" not in output
    assert STORED_VALUE not in output and FILE_VALUE not in output
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == case.errors, output


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_store_mistake(case: Case, files: Path, home: Path) -> None:
    args = [a.replace("{d}", str(files)) for a in shlex.split(case.args)]
    extra = {k: v.replace("{d}", str(files)) for k, v in case.env.items()}
    _check(run_cli(args, home=home, extra=extra, cwd=files), case)


def test_config_problems_are_reported_at_once(files: Path, home: Path) -> None:
    done = run_cli(
        ["webhook", "mutate", str(files / "cm.yaml"), "--config", str(files / "twoerrors.yaml")],
        home=home,
        extra={},
        cwd=files,
    )
    assert done.returncode == 2
    assert "webhook.secretManagerTyp: unknown key" in done.stderr
    assert "webhook.listenPort: Input should be a valid integer" in done.stderr


@pytest.fixture(scope="module")
def served_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("serve")
    config = d / "webhook.yaml"
    config.write_text(f"webhook:\n  certDir: {d}/certs\n  disableCreateMutatingWebhookConfig: true\n")
    done = run_cli(
        ["webhook", "init-certs", "--local-only", "--config", str(config)], home=d, extra={}, cwd=d
    )
    assert done.returncode == 0, done.stderr
    return config


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_in_use(workers: str, served_config: Path, busy_port: int, home: Path) -> None:
    args = ["webhook", "serve", "--config", str(served_config), "--host", "127.0.0.1"]
    done = run_cli(
        [*args, "--port", str(busy_port), "--workers", workers], home=home, extra={}, cwd=served_config.parent
    )
    _check(done, Case("", 1, f"port {busy_port} on 127.0.0.1 is already in use"))
    assert "pass --port" in done.stderr


def test_serve_on_an_address_not_of_this_machine(served_config: Path, home: Path) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    args = ["webhook", "serve", "--config", str(served_config), "--host", "192.0.2.1", "--port", "0"]
    done = run_cli(args, home=home, extra={}, cwd=served_config.parent)
    _check(done, Case("", 1, "192.0.2.1 is not an address of this machine"))
