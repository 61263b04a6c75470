"""The kubectl-shaped store commands, run through click's CliRunner against a real store on disk.

Each error path checks the exit status, a message that says what to do, no traceback, and that no
value given on the command line or in a file is echoed back.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from k8svalidate import assert_valid_manifest
from tasksecrets.cli import main
from tasksecrets.local import SecretStore

NS = "flytesnacks-development"
SEED_VALUES = {"user_secret": "fake-mysecret", "username": "fake-my-username", "password": "fake-my-password"}
SEED_ARGS = [f"--from-literal={key}={value}" for key, value in SEED_VALUES.items()]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKSECRETS_HOME", str(tmp_path / "store"))
    return tmp_path / "store"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def assert_fails(result: Result, *fragments: str, code: int = 1, secrets: tuple[str, ...] = ()) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output
    for value in (*SEED_VALUES.values(), *secrets):
        assert value not in result.output


def stored(home: Path, name: str, namespace: str = NS) -> dict[str, bytes]:
    with SecretStore.open(home) as store:
        return store.get(namespace, name)


def seed(home: Path) -> None:
    result = run("create", "secret", "generic", "user-info", "-n", NS, *SEED_ARGS)
    assert result.exit_code == 0, result.output


# -- create -----------------------------------------------------------------------------------


def test_seed_command_creates_the_seed_secret(home: Path) -> None:
    result = run("create", "secret", "generic", "user-info", "-n", NS, *SEED_ARGS)
    assert result.exit_code == 0
    assert result.output == "secret/user-info created\n"
    assert stored(home, "user-info") == {k: v.encode() for k, v in SEED_VALUES.items()}


def test_kubectl_argument_order_with_namespace_before_generic(home: Path) -> None:
    result = run(
        "create", "secret", "-n", NS, "generic", "user-info", "--from-literal=user_secret=fake-mysecret"
    )
    assert result.exit_code == 0
    assert stored(home, "user-info") == {"user_secret": b"fake-mysecret"}


def test_namespace_defaults_to_default_or_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("create", "secret", "generic", "a", "--from-literal=k=fake-a").exit_code == 0
    monkeypatch.setenv("TASKSECRETS_NAMESPACE", "team-b")
    assert run("create", "secret", "generic", "b", "--from-literal=k=fake-b").exit_code == 0
    with SecretStore.open(home) as store:
        assert [(i.namespace, i.name) for i in store.list()] == [("default", "a"), ("team-b", "b")]


def test_from_file_and_from_env_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tls.crt").write_bytes(b"fake-cert\x00\xff")
    (tmp_path / "token.txt").write_text("fake-token")
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "id_rsa").write_text("fake-rsa")
    (keys_dir / "sub").mkdir()
    (keys_dir / "sub" / "inner").write_text("skipped: in a subdirectory")
    env_file = tmp_path / "app.env"
    env_file.write_text("\ufeff# a comment\n\nDB_USER=fake-user\n  DB_PASS=fake=with=equals\nFROM_ENV\n")
    monkeypatch.setenv("FROM_ENV", "fake-from-environment")
    result = run(
        "create", "secret", "generic", "files", "-n", NS,
        f"--from-file={tmp_path / 'tls.crt'}",
        f"--from-file=api-token={tmp_path / 'token.txt'}",
        f"--from-file={keys_dir}",
        f"--from-env-file={env_file}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stored(home, "files") == {
        "tls.crt": b"fake-cert\x00\xff",
        "api-token": b"fake-token",
        "id_rsa": b"fake-rsa",
        "DB_USER": b"fake-user",
        "DB_PASS": b"fake=with=equals",
        "FROM_ENV": b"fake-from-environment",
    }


def test_literal_without_equals_is_rejected_without_echoing_it(home: Path) -> None:
    result = run("create", "secret", "generic", "x", "-n", NS, "--from-literal=fake-lonely-value")
    assert_fails(result, "--from-literal number 1 is not KEY=VALUE", code=2, secrets=("fake-lonely-value",))
    assert not home.exists()


def test_duplicate_key_across_flags(home: Path, tmp_path: Path) -> None:
    (tmp_path / "k").write_text("fake-file-value")
    result = run(
        "create",
        "secret",
        "generic",
        "x",
        "-n",
        NS,
        "--from-literal=k=fake-v",
        f"--from-file={tmp_path / 'k'}",
    )
    assert_fails(result, "key 'k' is given twice", code=2, secrets=("fake-v", "fake-file-value"))


def test_unreadable_file(home: Path, tmp_path: Path) -> None:
    result = run("create", "secret", "generic", "x", "-n", NS, f"--from-file=k={tmp_path / 'missing.txt'}")
    assert_fails(result, "cannot read", "missing.txt", "check the path")
    result = run("create", "secret", "generic", "x", "-n", NS, f"--from-file=k={tmp_path}")
    assert_fails(result, "cannot read")


def test_bad_env_file_line(home: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("OK=fake-ok\n1BAD KEY=fake-bad\n")
    result = run("create", "secret", "generic", "x", "-n", NS, f"--from-env-file={env_file}")
    assert_fails(result, "line 2", "KEY=VALUE", code=2, secrets=("fake-ok", "fake-bad"))


def test_duplicate_secret_name(home: Path) -> None:
    seed(home)
    result = run("create", "secret", "generic", "user-info", "-n", NS, "--from-literal=user_secret=fake-new")
    assert_fails(
        result,
        "already exists",
        f"tasksecrets delete secret user-info -n {NS}",
        "apply",
        secrets=("fake-new",),
    )
    assert stored(home, "user-info")["user_secret"] == b"fake-mysecret"


def test_invalid_names(home: Path) -> None:
    assert_fails(
        run("create", "secret", "generic", "x", "-n", "Bad_NS", "--from-literal=k=fake"), "invalid namespace"
    )
    assert_fails(
        run("create", "secret", "generic", "Bad_Name", "-n", NS, "--from-literal=k=fake"),
        "invalid secret name",
    )
    assert_fails(
        run("create", "secret", "generic", "x", "-n", NS, "--from-literal=a/b=fake"),
        "invalid data key",
        code=2,
    )


def test_conflicting_namespaces(home: Path) -> None:
    result = run("create", "secret", "-n", "a", "generic", "x", "-n", "b", "--from-literal=k=fake")
    assert_fails(result, "-n was given twice", code=2)


def test_dry_run_prints_an_applyable_manifest_and_stores_nothing(home: Path) -> None:
    result = run(
        "create", "secret", "generic", "user-info", "-n", NS, *SEED_ARGS, "--dry-run=client", "-o", "yaml"
    )
    assert result.exit_code == 0
    manifest = yaml.safe_load(result.output)
    assert_valid_manifest(manifest)
    assert manifest["metadata"] == {**manifest["metadata"], "name": "user-info", "namespace": NS}
    assert {k: base64.b64decode(v).decode() for k, v in manifest["data"].items()} == SEED_VALUES
    assert not home.exists()
    applied = run("apply", "-f", "-", stdin=result.output)
    assert applied.output == "secret/user-info created\n"
    assert stored(home, "user-info")["password"] == b"fake-my-password"


# -- get / describe ---------------------------------------------------------------------------


def test_get_on_an_empty_store(home: Path) -> None:
    result = run("get", "secrets")
    assert result.exit_code == 0
    assert "No resources found in default namespace." in result.output
    assert "is empty" in result.output


def test_get_table_like_kubectl(home: Path) -> None:
    seed(home)
    run("create", "secret", "generic", "other", "-n", "team-b", "--from-literal=k=fake-other")
    result = run("get", "secrets", "-n", NS)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert lines[1].split()[:3] == ["user-info", "Opaque", "3"]
    assert len(lines) == 2
    every = run("get", "secret", "-A").output.splitlines()
    assert every[0].split() == ["NAMESPACE", "NAME", "TYPE", "DATA", "AGE"]
    assert [line.split()[:2] for line in every[1:]] == [[NS, "user-info"], ["team-b", "other"]]
    assert run("get", "secrets", "-n", NS, "-o", "name").output == "secret/user-info\n"
    for value in SEED_VALUES.values():
        assert value not in result.output + "\n".join(every)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_get_manifests_hide_values_unless_revealed(home: Path, fmt: str) -> None:
    seed(home)
    load = yaml.safe_load if fmt == "yaml" else json.loads
    listing = run("get", "secrets", "-n", NS, "-o", fmt)
    assert listing.exit_code == 0
    for value in SEED_VALUES.values():
        assert value not in listing.output
        assert base64.b64encode(value.encode()).decode() not in listing.output
    document = load(listing.output)
    assert document["kind"] == "List"
    item = document["items"][0]
    assert_valid_manifest(item)
    assert "data" not in item
    assert item["metadata"]["annotations"]["tasksecrets/keys"] == "password,user_secret,username"

    revealed = load(run("get", "secret", "user-info", "-n", NS, "-o", fmt, "--reveal").output)
    assert revealed["kind"] == "Secret"
    assert_valid_manifest(revealed)
    assert {k: base64.b64decode(v).decode() for k, v in revealed["data"].items()} == SEED_VALUES


def test_get_errors(home: Path) -> None:
    seed(home)
    assert_fails(run("get", "secrets", "-n", NS, "--reveal"), "--reveal only applies", code=2)
    assert_fails(run("get", "secret", "nope", "-n", NS), "secret 'nope' not found", "user-info")
    assert_fails(run("get", "secrets", "-A", "user-info"), "not both", code=2)


def test_describe_shows_keys_and_sizes_only(home: Path) -> None:
    seed(home)
    result = run("describe", "secret", "user-info", "-n", NS)
    assert result.exit_code == 0
    assert "Name:         user-info" in result.output
    assert f"Namespace:    {NS}" in result.output
    assert "Type:  Opaque" in result.output
    for key, value in SEED_VALUES.items():
        assert f"{key}:" in result.output
        assert f"{len(value)} bytes" in result.output
        assert value not in result.output


def test_describe_missing_namespace_names_where_the_secret_is(home: Path) -> None:
    seed(home)
    result = run("describe", "secret", "user-info", "-n", "team-x")
    assert_fails(result, "namespace 'team-x' has no secrets", f"is in namespace {NS}: pass -n {NS}")
    assert "create secret" not in result.output


def test_describe_missing_secret_in_an_empty_namespace_says_how_to_create(home: Path) -> None:
    seed(home)
    result = run("describe", "secret", "db-creds", "-n", "team-x")
    assert_fails(
        result,
        "namespace 'team-x' has no secrets",
        NS,
        "tasksecrets create secret generic db-creds -n team-x",
    )


# -- delete -----------------------------------------------------------------------------------


def test_delete(home: Path) -> None:
    seed(home)
    result = run("delete", "secret", "user-info", "-n", NS)
    assert result.exit_code == 0
    assert result.output == 'secret "user-info" deleted\n'
    assert_fails(run("delete", "secret", "user-info", "-n", NS), "nothing to delete")
    assert run("delete", "secret", "user-info", "-n", NS, "--ignore-not-found").exit_code == 0


# -- apply ------------------------------------------------------------------------------------

MANIFESTS = f"""
apiVersion: v1
kind: Secret
metadata:
  name: user-info
  namespace: {NS}
type: Opaque
data:
  user_secret: {base64.b64encode(b"fake-mysecret").decode()}
stringData:
  username: fake-my-username
---
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: fake-db-password
"""


def test_apply_creates_configures_and_leaves_unchanged(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(MANIFESTS)
    result = run("apply", "-f", str(path), "-n", NS)
    assert result.exit_code == 0, result.output
    assert result.output == "secret/user-info created\nsecret/db created\n"
    assert stored(home, "user-info") == {"user_secret": b"fake-mysecret", "username": b"fake-my-username"}
    assert stored(home, "db") == {"password": b"fake-db-password"}
    assert (
        run("apply", "-f", str(path), "-n", NS).output == "secret/user-info unchanged\nsecret/db unchanged\n"
    )
    path.write_text(MANIFESTS.replace("fake-db-password", "fake-new-password"))
    assert "secret/db configured" in run("apply", "-f", str(path), "-n", NS).output
    assert stored(home, "db") == {"password": b"fake-new-password"}


def test_apply_takes_namespace_from_metadata_and_default(home: Path) -> None:
    assert run("apply", "-f", "-", stdin=MANIFESTS).exit_code == 0
    with SecretStore.open(home) as store:
        assert [(i.namespace, i.name) for i in store.list()] == [("default", "db"), (NS, "user-info")]


def test_apply_a_list(home: Path) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": list(yaml.safe_load_all(MANIFESTS))}
    result = run("apply", "-n", NS, "-f", "-", stdin=json.dumps(listing))
    assert result.exit_code == 0, result.output
    assert stored(home, "db") == {"password": b"fake-db-password"}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("kind: Secret\napiVersion: v1\nmetadata: {name: x}\ndata: {password: '%%%fake-not-b64'}\n",
         ["document 1: data.password: not valid base64", "stringData"]),
        ("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n", ["kind: 'ConfigMap' is not supported"]),
        ("kind: Secret\napiVersion: v1\nmetadata: {}\n", ["metadata.name", "missing"]),
        ("kind: Secret\napiVersion: v1\nmetadata: {name: x}\nstringData: {n: 5}\n",
         ["stringData.n: must be a string"]),
        ("kind: Secret\napiVersion: v2\nmetadata: {name: x}\n", ["apiVersion: must be 'v1'"]),
        ("kind: Secret\napiVersion: v1\nmetadata: {name: x}\nspec: {}\n", ["spec: not a field of a Secret"]),
        ("kind: Secret\napiVersion: v1\nmetadata: {name: x, namespace: other}\n",
         ["metadata.namespace: 'other' does not match", "pass -n other"]),
        ("kind: Secret\napiVersion: v1\nmetadata: {name: x}\nstringData:\n  'bad/key': fake-v\n",
         ["stringData.bad/key", "invalid data key"]),
        ("kind: Secret\n  bad: [indent: fake-yaml-secret\n", ["not valid YAML or JSON at line"]),
        ("", ["no Secret in it"]),
    ],
)  # fmt: skip
def test_apply_bad_manifests_name_the_field(home: Path, text: str, fragments: list[str]) -> None:
    result = run("apply", "-n", NS, "-f", "-", stdin=text)
    assert_fails(result, "<stdin>", *fragments, secrets=("fake-not-b64", "fake-v", "fake-yaml-secret"))
    assert not (home / "secrets.db").exists()


def test_apply_checks_every_document_before_writing(home: Path) -> None:
    bad = MANIFESTS + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: third}\ndata: {k: '!!'}\n"
    assert_fails(run("apply", "-n", NS, "-f", "-", stdin=bad), "document 3: data.k")
    with SecretStore.open(home) as store:
        assert store.list() == []


def test_apply_refuses_a_redacted_listing(home: Path) -> None:
    seed(home)
    listing = run("get", "secrets", "-n", NS, "-o", "yaml").output
    result = run("apply", "-f", "-", stdin=listing)
    assert_fails(result, "printed without its values", "--reveal")
    assert stored(home, "user-info")["password"] == b"fake-my-password"
    revealed = run("get", "secrets", "-n", NS, "-o", "yaml", "--reveal").output
    assert run("apply", "-f", "-", stdin=revealed).output == "secret/user-info unchanged\n"


def test_apply_missing_file(home: Path, tmp_path: Path) -> None:
    assert_fails(run("apply", "-f", str(tmp_path / "nope.yaml")), "cannot read -f", "nope.yaml")


def test_values_given_through_the_cli_are_encrypted_at_rest(home: Path) -> None:
    seed(home)
    raw = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("secrets.db"))
    for value in SEED_VALUES.values():
        assert value.encode() not in raw
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"


# -- the real entry point ---------------------------------------------------------------------


def _run_process(home: Path, *args: str, tty: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSECRETS_")}
    env.update(TASKSECRETS_HOME=str(home), COLUMNS="120")
    command = [sys.executable, "-m", "tasksecrets", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, done.stdout + done.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(command, stdout=follower, stderr=follower, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO once the child has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        return proc.wait(timeout=60), b"".join(chunks).decode()


def test_entry_point_errors_have_no_traceback(home: Path) -> None:
    code, output = _run_process(home, "create", "secret", "generic", "x", "--from-literal=fake-only-value")
    assert code == 2
    assert "is not KEY=VALUE" in output
    assert "Traceback" not in output
    assert "fake-only-value" not in output
    code, output = _run_process(home, "describe", "secret", "user-info", "-n", NS)
    assert code == 1
    assert "is empty" in output
    assert "Traceback" not in output


def test_table_on_a_terminal_uses_rich_and_shows_no_values(home: Path) -> None:
    code, output = _run_process(home, "create", "secret", "generic", "user-info", "-n", NS, *SEED_ARGS)
    assert code == 0
    code, output = _run_process(home, "get", "secrets", "-n", NS, tty=True)
    assert code == 0
    assert "\x1b[" in output  # rich styles the header on a terminal ...
    assert "user-info" in output
    for value in SEED_VALUES.values():
        assert value not in output
    code, piped = _run_process(home, "get", "secrets", "-n", NS)
    assert "\x1b[" not in piped  # ... and prints plain text into a pipe


def test_unusable_home_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TASKSECRETS_HOME", str(blocker / "store"))
    result = run("create", "secret", "generic", "x", "--from-literal=k=fake-value")
    assert_fails(result, "cannot write the store", "TASKSECRETS_HOME", secrets=("fake-value",))
