"""kubectl parity: the same commands and manifests, given to kubectl and to tasksecrets, give equal Secrets.

kubectl is the one built from ``k8s.io/kubernetes`` v1.36.3 by ``scripts/build-controlplane.sh``
(see tests/controlplane.py). What is compared, for each form:

- ``create secret generic``: ``kubectl ... --dry-run=client -o json`` (no server needed) against
  ``tasksecrets ... --dry-run=client -o json``, and against what ``tasksecrets`` then stores
  (``get -o json --reveal``);
- ``apply -f`` (files, a directory, ``-``, ``kind: List``, several documents, ``data`` wrapped or
  not, ``stringData``, labels, annotations): kubectl needs a server to map a manifest to its
  resource, so a real kube-apiserver answers ``kubectl apply --dry-run=server -o json``, the object
  exactly as the API server would store it (``stringData`` folded into ``data``, base64 decoded and
  checked by the server itself), against ``tasksecrets apply --dry-run=client -o json`` and what
  ``tasksecrets apply`` stores;
- keys added to an existing secret (the missing-secrets hint of ``tasksecrets run``, and ``patch``):
  really applied on the server after ``kubectl create secret generic``, then ``kubectl get -o json``.

Objects are compared normalized: namespace, name, type, labels, annotations (without kubectl's
``last-applied-configuration``, which tasksecrets does not keep: docs/local-store.md) and ``data``
decoded to bytes. The values are fake.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from childproc import run_tasksecrets
from controlplane import ControlPlane, controlplane_bin


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """The kubectl of the test control plane's release (built and cached by build-controlplane.sh)."""
    return controlplane_bin() / "kubectl"


NS = "parity-ns"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
WRAPPED = base64.encodebytes(b"fake-" * 40).decode()  # GNU base64's layout: lines of 76, newline-ended

Normalized = dict[tuple[str, str], dict[str, Any]]


def normalize(text: str) -> Normalized:
    """Every Secret in a JSON output (one object, a List, or several objects one after another)."""
    objects: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    pos = 0
    while pos < len(text.strip()):
        obj, end = decoder.raw_decode(text, pos)
        objects += obj["items"] if obj.get("kind") == "List" else [obj]
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    result: Normalized = {}
    for obj in objects:
        meta = obj["metadata"]
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
        result[meta.get("namespace", "default"), meta["name"]] = {
            "type": obj.get("type", "Opaque"),
            "labels": meta.get("labels") or {},
            "annotations": annotations,
            "data": {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()},
        }
    return result


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSECRETS_")}
    env["TASKSECRETS_HOME"] = str(tmp_path / "store")
    env["PARITY_FROM_ENV"] = "fake-from-the-environment"
    return env


def tasksecrets(env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    done = run_tasksecrets(list(args), env=env, cwd=cwd, stdin=stdin, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def run_kubectl(path: Path, *args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [str(path), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- create secret generic --------------------------------------------------------------------


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    (d / "dir" / "sub").mkdir(parents=True)
    (d / "dir" / "ca.crt").write_bytes(b"fake-ca\n")
    (d / "dir" / "tls.key").write_bytes(b"\x00\xfffake-binary")
    (d / "dir" / "sub" / "inner").write_text("skipped: in a subdirectory")
    (d / "token.txt").write_text("fake-token\n")
    (d / "app.env").write_text(
        "# a comment\n\nUSER=fake-user\n  SPACED=fake with spaces  \nEMPTY=\nEQUALS=a=b=c\nPARITY_FROM_ENV\n"
    )
    (d / "more.env").write_text("\ufeffFIRST=fake-after-a-bom\n")
    return d


CREATE_FORMS: dict[str, list[str]] = {
    "literals": ["--from-literal=user_secret=fake-s3cret", "--from-literal=eq=a=b", "--from-literal=empty="],
    "literal-unicode": ["--from-literal=name=fake-ünïcode"],
    "file": ["--from-file=token.txt"],
    "file-with-key": ["--from-file=api_token=token.txt"],
    "directory": ["--from-file=dir"],
    "files-and-literals": ["--from-file=dir", "--from-file=k=token.txt", "--from-literal=user=fake-u"],
    "env-file": ["--from-env-file=app.env"],
    "env-files": ["--from-env-file=app.env", "--from-env-file=more.env"],
    "type": [
        "--type=kubernetes.io/basic-auth",
        "--from-literal=username=fake-u",
        "--from-literal=password=fake-p",
    ],
    "custom-type": ["--type=example.com/custom", "--from-literal=k=fake-v"],
    "no-data": [],
}


@pytest.mark.parametrize("form", list(CREATE_FORMS.values()), ids=list(CREATE_FORMS))
@pytest.mark.parametrize("namespace", [[], ["-n", NS]], ids=["default-namespace", "namespace"])
def test_create_secret_generic(
    form: list[str], namespace: list[str], kubectl: Path, store: dict[str, str], sources: Path
) -> None:
    args = ["create", "secret", "generic", "parity", *namespace, *form]
    theirs = normalize(run_kubectl(kubectl, *args, "--dry-run=client", "-o", "json", env=store, cwd=sources))
    # kubectl leaves metadata.namespace out without -n: the current context's, 'default' here too.
    ours = normalize(tasksecrets(store, *args, "--dry-run=client", "-o", "json", cwd=sources))
    assert ours == theirs
    tasksecrets(store, *args, cwd=sources)
    stored = normalize(tasksecrets(store, "get", "secret", "parity", *namespace, "-o", "json", "--reveal"))
    assert stored == theirs


# -- apply ------------------------------------------------------------------------------------


def _secret(name: str, body: str, meta: str = "") -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {NS}\n{meta}{body}"


_INDENTED = "".join(f"    {line}\n" for line in WRAPPED.splitlines())
MANIFESTS: dict[str, dict[str, str]] = {
    "data": {"a.yaml": _secret("plain", "data:\n  k: ZmFrZS12YWx1ZQ==\n")},
    "data-wrapped": {"a.yaml": _secret("wrapped", f"data:\n  k: |\n{_INDENTED}")},
    "data-wrapped-json": {
        "a.json": json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "wj", "namespace": NS},
                "data": {"k": WRAPPED},
            }
        )
    },
    "string-data": {
        "a.yaml": _secret("sd", "stringData:\n  user_secret: fake-plain\n  multi: |\n    a\n    b\n")
    },
    "both-string-data-wins": {
        "a.yaml": _secret(
            "both", "data:\n  k: ZmFrZS1vbGQ=\n  only: ZmFrZS1vbmx5\nstringData:\n  k: fake-new\n"
        )
    },
    "labels-annotations-type": {
        "a.yaml": _secret(
            "meta",
            "type: kubernetes.io/basic-auth\nstringData:\n  username: fake-u\n  password: fake-p\n",
            "  labels:\n    app: web\n    example.com/tier: db\n  annotations:\n    note: kept\n"
            "    example.com/owner: team a\n",
        )
    },
    "list": {
        "a.yaml": "apiVersion: v1\nkind: List\nitems:\n"
        + "".join(
            f"- apiVersion: v1\n  kind: Secret\n  metadata: {{name: item{i}, namespace: {NS}}}\n"
            f"  stringData: {{k: fake-{i}}}\n"
            for i in range(2)
        )
    },
    "documents": {
        "a.yaml": _secret("doc1", "stringData: {k: fake-1}\n") + "---\n" + _secret("doc2", "data: {}\n")
    },
    "directory": {
        "dir/a.yaml": _secret("d1", "stringData: {k: fake-1}\n"),
        "dir/b.json": json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "d2", "namespace": NS},
                "stringData": {"k": "v"},
            }
        ),
    },
}


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> ControlPlane:
    control_plane.create_namespace(NS)
    return control_plane


def _write(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return "dir" if any(name.startswith("dir/") for name in files) else next(iter(files))


# Each manifest from a file and from stdin; a directory only as a file.
APPLY_CASES = [
    (form, how) for form in MANIFESTS for how in ("file", "stdin") if (form, how) != ("directory", "stdin")
]


@pytest.mark.parametrize(("form", "how"), APPLY_CASES, ids=[f"{form}-{how}" for form, how in APPLY_CASES])
def test_apply(form: str, how: str, cluster: ControlPlane, store: dict[str, str], tmp_path: Path) -> None:
    target = _write(tmp_path, MANIFESTS[form])
    path = str(tmp_path / target)
    server = normalize(cluster.kubectl("apply", "-f", path, "--dry-run=server", "-o", "json").stdout)
    assert server and all(obj["data"] or form == "documents" for obj in server.values())
    args = ["apply", "-f", "-"] if how == "stdin" else ["apply", "-f", path]
    stdin = (tmp_path / target).read_text() if how == "stdin" else None
    assert normalize(tasksecrets(store, *args, "--dry-run=client", "-o", "json", stdin=stdin)) == server
    tasksecrets(store, *args, stdin=stdin)
    stored = normalize(tasksecrets(store, "get", "secrets", "-n", NS, "-o", "json", "--reveal"))
    assert stored == server


def test_apply_adds_keys_to_a_created_secret_keeping_the_others(
    cluster: ControlPlane, store: dict[str, str], tmp_path: Path
) -> None:
    # The hint of `tasksecrets run` for missing keys: a List of Secrets with only those keys.
    create = ["create", "secret", "generic", "merged", "-n", NS, "--from-literal=user_secret=fake-kept"]
    cluster.kubectl(*create)
    tasksecrets(store, *create)
    hint = (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n"
        f"  metadata: {{name: merged, namespace: {NS}}}\n  stringData: {{password: fake-added}}\n"
    )
    cluster.kubectl("apply", "-f", "-", stdin=hint)
    tasksecrets(store, "apply", "-f", "-", stdin=hint)
    theirs = normalize(cluster.kubectl("get", "secret", "merged", "-n", NS, "-o", "json").stdout)
    ours = normalize(tasksecrets(store, "get", "secret", "merged", "-n", NS, "-o", "json", "--reveal"))
    assert ours == theirs
    assert set(ours[NS, "merged"]["data"]) == {"user_secret", "password"}


@pytest.mark.parametrize(
    ("patch_type", "patch"),
    [
        ("strategic", '{"stringData":{"token":"fake-token"}}'),
        ("merge", '{"data":{"user_secret":null},"metadata":{"labels":{"app":"web"}}}'),
        ("json", '[{"op":"add","path":"/data/extra","value":"ZmFrZS1leHRyYQ=="}]'),
    ],
    ids=["strategic-add-key", "merge-remove-key-add-label", "json-add"],
)
def test_patch(patch_type: str, patch: str, cluster: ControlPlane, store: dict[str, str]) -> None:
    name = f"patched-{patch_type}"
    create = [
        "create",
        "secret",
        "generic",
        name,
        "-n",
        NS,
        "--from-literal=user_secret=fake-s",
        "--from-literal=u=x",
    ]
    cluster.kubectl(*create)
    tasksecrets(store, *create)
    patch_args = ["patch", "secret", name, "-n", NS, "--type", patch_type, "-p", patch]
    cluster.kubectl(*patch_args)
    tasksecrets(store, *patch_args)
    theirs = normalize(cluster.kubectl("get", "secret", name, "-n", NS, "-o", "json").stdout)
    assert normalize(tasksecrets(store, "get", "secret", name, "-n", NS, "-o", "json", "--reveal")) == theirs
