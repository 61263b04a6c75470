"""The kubectl forms of the store commands, through click's CliRunner against a real store on disk.

What the parity test (test_kubectl_parity.py) cannot see: outputs other than the Secret objects
(tables, names, jsonpath, describe), selectors, partial success, dry runs storing nothing, labels
kept by the store, a store written before labels existed, and YAML printed without aliases.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tasksecrets.admission.reviews import review_request
from tasksecrets.cli import main
from tasksecrets.cli.jsonpath import render_jsonpath
from tasksecrets.errors import ManifestError
from tasksecrets.local import SecretStore
from tasksecrets.local.selectors import parse_selector
from tasksecrets.yamltext import dump_yaml

NS = "flytesnacks-development"
VALUE = "fake-kubectl-value"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TASKSECRETS_MASTER_KEY", "TASKSECRETS_KEY_FILE", "TASKSECRETS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKSECRETS_HOME", str(tmp_path / "store"))
    with SecretStore.open(tmp_path / "store") as store:
        store.create(NS, "user-info", {"user_secret": VALUE.encode()})
        store.create(NS, "db", {"password": b"fake-db"}, labels={"app": "db", "tier": "back"})
        store.create("other", "web", {"k": b"fake-web"}, labels={"app": "web"})
    return tmp_path / "store"


def run(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def names(home: Path, namespace: str | None = None) -> list[str]:
    with SecretStore.open(home) as store:
        return [i.name for i in store.list(namespace)]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=db", ["db"]),
        ("app==db,tier=back", ["db"]),
        ("app!=db", ["user-info", "web"]),
        ("app in (db, web)", ["db", "web"]),
        ("app notin (db)", ["user-info", "web"]),
        ("app", ["db", "web"]),
        ("!app", ["user-info"]),
        ("app=db,!tier", []),
    ],
)
def test_label_selectors(selector: str, expected: list[str], home: Path) -> None:
    result = run("get", "secrets", "-A", "-l", selector, "-o", "name")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [f"secret/{n}" for n in expected]


def test_selector_parse_errors_name_the_requirement() -> None:
    with pytest.raises(ManifestError, match="cannot read 'a b'"):
        parse_selector("x=1,a b")
    assert parse_selector("k in (a,b)").matches({"k": "b"})
    assert not parse_selector("k in (a,b)").matches({})


def test_get_slash_names_and_partial_success(home: Path) -> None:
    result = run("get", "secret/user-info", "secret/nope", "secret/db", "-n", NS, "-o", "name")
    assert result.exit_code == 1
    assert result.stdout.split() == ["secret/user-info", "secret/db"]
    assert "Error: secret 'nope' not found" in result.stderr


def test_get_wide_is_the_table(home: Path) -> None:
    wide, table = run("get", "secrets", "-n", NS, "-o", "wide"), run("get", "secrets", "-n", NS)
    assert wide.exit_code == 0 and wide.stdout.splitlines()[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert [line.split()[:3] for line in wide.stdout.splitlines()] == [
        line.split()[:3] for line in table.stdout.splitlines()
    ]


def test_jsonpath_templates(home: Path) -> None:
    names_only = run(
        "get", "secrets", "-n", NS, "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'
    )
    assert names_only.stdout == "db\nuser-info\n"
    value = run("get", "secret", "user-info", "-n", NS, "-o", "jsonpath={.data.user_secret}", "--reveal")
    assert value.exit_code == 0 and value.stdout == "ZmFrZS1rdWJlY3RsLXZhbHVl"
    assert (
        render_jsonpath("{.a['b.c']} {.a.b\\.c} {.l[-1]} {.missing}x", {"a": {"b.c": 1}, "l": [1, 2]})
        == "1 1 2 x"
    )


def test_describe_without_names_shows_labels(home: Path) -> None:
    result = run("describe", "secrets", "-n", NS)
    assert result.exit_code == 0
    assert "Name:         db" in result.stdout and "Name:         user-info" in result.stdout
    assert "Labels:       app=db\n              tier=back" in result.stdout
    assert VALUE not in result.output


def test_delete_all_selector_and_dry_run(home: Path) -> None:
    dry = run("delete", "secrets", "--all", "-n", NS, "--dry-run=client")
    assert dry.exit_code == 0 and 'secret "db" deleted (dry run)' in dry.stdout
    assert names(home, NS) == ["db", "user-info"]
    assert run("delete", "secrets", "-l", "app", "-A").stdout.split('"')[1::2] == ["db", "web"]
    assert names(home) == ["user-info"]
    assert run("delete", "secret/user-info", "-n", NS).exit_code == 0
    assert names(home) == []


def test_apply_merges_keys_labels_and_annotations(home: Path) -> None:
    manifest = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {NS}\n"
        "  labels: {team: data}\n  annotations: {note: kept}\nstringData: {user: fake-user}\n"
    )
    result = run("apply", "-f", "-", stdin=manifest)
    assert result.stdout == "secret/db configured\n"
    assert run("apply", "-f", "-", stdin=manifest).stdout == "secret/db unchanged\n"
    with SecretStore.open(home) as store:
        assert store.get(NS, "db") == {"password": b"fake-db", "user": b"fake-user"}
        info = store.info(NS, "db")
    assert dict(info.labels) == {"app": "db", "tier": "back", "team": "data"}
    assert dict(info.annotations) == {"note": "kept"}


def test_dry_runs_store_nothing(home: Path) -> None:
    patch = run(
        "patch", "secret", "db", "-n", NS, "-p", '{"stringData":{"k":"fake-k"}}', "--dry-run", "-o", "json"
    )
    assert json.loads(patch.stdout)["data"]["k"] == "ZmFrZS1r"
    apply = run(
        "apply", "-f", "-", "--dry-run=client", stdin="apiVersion: v1\nkind: Secret\nmetadata: {name: new}\n"
    )
    assert apply.stdout == "secret/new created (dry run)\n"
    with SecretStore.open(home) as store:
        assert set(store.get(NS, "db")) == {"password"}
        assert "new" not in {i.name for i in store.list()}


def test_patch_without_change(home: Path) -> None:
    result = run("patch", "secret", "db", "-n", NS, "-p", '{"metadata":{"labels":{"app":"db"}}}')
    assert result.stdout == "secret/db patched (no change)\n"


def test_a_store_from_before_labels_reads_and_migrates(home: Path) -> None:
    with sqlite3.connect(home / "secrets.db") as conn:
        conn.execute("ALTER TABLE secrets DROP COLUMN labels")
        conn.execute("ALTER TABLE secrets DROP COLUMN annotations")
    assert run("get", "secrets", "-A", "-l", "app", "-o", "name").stdout == ""
    assert run("get", "secrets", "-A", "-o", "name").stdout.split() == [
        "secret/db",
        "secret/user-info",
        "secret/web",
    ]
    assert run("patch", "secret", "db", "-n", NS, "-p", '{"metadata":{"labels":{"app":"db"}}}').exit_code == 0
    assert run("get", "secrets", "-A", "-l", "app", "-o", "name").stdout == "secret/db\n"


def test_yaml_is_printed_without_aliases() -> None:
    shared = {"name": "x"}
    text = dump_yaml({"a": shared, "b": [shared, shared]})
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": [shared, shared]}


def test_review_request_is_what_the_api_server_sends() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": {}}
    review = review_request(pod)
    assert review_request(pod) == review  # the same pod, the same uid
    request = review["request"]
    assert (review["apiVersion"], request["operation"], request["namespace"], request["name"]) == (
        "admission.k8s.io/v1",
        "CREATE",
        "ns",
        "p",
    )
    assert request["object"] == pod and request["resource"]["resource"] == "pods"


def test_options_before_the_kind(home: Path) -> None:
    assert run("get", "-n", NS, "secrets", "-o", "name").stdout.split() == ["secret/db", "secret/user-info"]
    assert run("get", "-o", "name", "-n", NS, "secret/db").stdout == "secret/db\n"
    assert run("describe", "-n", NS, "secret", "db").stdout.startswith("Name:         db\n")
    assert run("delete", "-n", "other", "secret/web").stdout == 'secret "web" deleted\n'
    assert run("get", "-n", NS).exit_code == 2  # no kind: a usage mistake, no traceback
