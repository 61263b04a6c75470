"""Vault end to end, for real: an OpenBao dev server, a PostgreSQL, the real ``bao agent``.

The server gets a kv v1 engine at ``kv1/``, a kv v2 engine at ``kv2/`` and the database engine at
``database/`` with a role on the test PostgreSQL. For kv1, kv2 and db, the annotations our webhook
emits are turned into an agent configuration exactly as the Vault Agent Injector reads them (the
secret-volume-path pointed at a temporary directory, as the injector's volume would be), the real
agent renders them one-shot, and a task process started like a pod's container
(``python -m tasksecrets execute`` with the pod's env) reads every value with
``current_context().secrets.get(group, key, group_version)``; the db credentials log in to
PostgreSQL. Then the same through ``tasksecrets run`` with a Vault config, once with the agent
on PATH and once without (hvac).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest

from childproc import run_tasksecrets
from k8svalidate import assert_valid_manifest
from services import OpenBao, Postgres
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.managers.vault.agent import build_agent_config, read_agent_secrets
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.wire import encode_pod_metadata

KV1_VALUE = "fake-kv1-value-1"
KV2_VALUE = "fake-kv2-value-2"
ENV_VALUE = "fake-kv2-env-value-3"
ENV, FILE, ANY = MountType.ENV_VAR, MountType.FILE, MountType.ANY

TASKS = f"""
import os

import psycopg

from tasksecrets import Secret, current_context, task, workflow
from tasksecrets.managers.vault.rendering import parse_default_rendering

ENV, FILE = Secret.MountType.ENV_VAR, Secret.MountType.FILE


@task(
    secret_requests=[
        Secret(group="kv1/team/app", key="api_key", group_version="kv1", mount_requirement=FILE),
        Secret(group="kv2/data/team/app", key="api_key", group_version="kv2"),
        Secret(
            group="kv2/data/team/env", key="token", group_version="kv2",
            mount_requirement=ENV, env_var="MY_VAR",
        ),
        Secret(group="database/creds/reader", key="creds", group_version="db", mount_requirement=FILE),
    ]
)
def read_all(dsn_host: str, port: int) -> str:
    secrets = current_context().secrets
    creds = parse_default_rendering(secrets.get("database/creds/reader", "creds", "db"))
    with psycopg.connect(
        host=dsn_host, port=port, dbname="postgres", user=creds["username"], password=creds["password"]
    ) as conn:
        user = conn.execute("select current_user").fetchone()[0]
    checks = [
        secrets.get("kv1/team/app", "api_key", "kv1") == {KV1_VALUE!r},
        secrets.get("kv2/data/team/app", "api_key", "kv2") == {KV2_VALUE!r},
        secrets.get("kv2/data/team/env", "token", "kv2") == {ENV_VALUE!r},
        os.environ["MY_VAR"] == {ENV_VALUE!r},
        os.environ["_FSEC_KV2/DATA/TEAM/ENV_TOKEN"] == {ENV_VALUE!r},
        user == creds["username"] and user.startswith("v-"),
    ]
    return " ".join("ok" if c else "FAILED" for c in checks)


@workflow
def wf(dsn_host: str, port: int) -> str:
    return read_all(dsn_host=dsn_host, port=port)
"""

SECRETS = [
    Secret(group="kv1/team/app", key="api_key", group_version="kv1", mount_requirement=FILE),
    Secret(group="kv2/data/team/app", key="api_key", group_version="kv2"),
    Secret(
        group="kv2/data/team/env", key="token", group_version="kv2", mount_requirement=ENV, env_var="MY_VAR"
    ),
    Secret(group="database/creds/reader", key="creds", group_version="db", mount_requirement=FILE),
]


@pytest.fixture(scope="module")
def vault(openbao: OpenBao, postgres: Postgres) -> Iterator[OpenBao]:
    """kv1, kv2 and a database role on the dev server, against the test PostgreSQL."""
    client = hvac.Client(url=openbao.address, token=openbao.token)
    client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    client.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
    client.secrets.kv.v1.create_or_update_secret("team/app", {"api_key": KV1_VALUE}, mount_point="kv1")
    client.secrets.kv.v2.create_or_update_secret("team/app", secret={"api_key": KV2_VALUE}, mount_point="kv2")
    client.secrets.kv.v2.create_or_update_secret("team/env", secret={"token": ENV_VALUE}, mount_point="kv2")
    client.sys.enable_secrets_engine("database", path="database")
    client.secrets.database.configure(
        name="pg",
        plugin_name="postgresql-database-plugin",
        allowed_roles=["reader"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{postgres.host}:{postgres.port}/postgres?sslmode=disable",
        username=postgres.user,
        password=postgres.password,
    )
    client.secrets.database.create_role(
        name="reader",
        db_name="pg",
        creation_statements=[
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
        ],
        default_ttl="1h",
    )
    yield openbao
    for path in ("kv1", "kv2", "database"):
        client.sys.disable_secrets_engine(path)


def mutated_pod() -> dict[str, Any]:
    labels, annotations = encode_pod_metadata(SECRETS)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "task-pod", "namespace": "ns", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "task", "image": "python:3.11"}]},
    }
    result = Mutator(
        parse_config({"webhook": {"secretManagerType": "Vault", "vaultSecretManager": {"role": "t"}}})
    ).mutate(pod)
    assert result.allowed, result.reason
    assert_valid_manifest(result.pod)
    return result.pod


def container_env(pod: dict[str, Any]) -> dict[str, str]:
    """The task container's env as a kubelet resolves it (values, and fieldRef to annotations)."""
    env: dict[str, str] = {}
    annotations = pod["metadata"]["annotations"]
    for entry in pod["spec"]["containers"][0]["env"]:
        if "valueFrom" not in entry:
            env[entry["name"]] = entry.get("value", "")  # Kubernetes: no value means ""
        else:
            path = entry["valueFrom"]["fieldRef"]["fieldPath"]
            key = path.removeprefix("metadata.annotations['").removesuffix("']")
            env[entry["name"]] = annotations.get(key, "")
    return env


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "_FSEC_", "FLYTE_SECRET"))
    }
    env.update(extra)
    return env


def test_agent_renders_what_the_webhook_asks_and_a_task_reads_it(
    vault: OpenBao, postgres: Postgres, tmp_path: Path
) -> None:
    pod = mutated_pod()
    annotations = dict(pod["metadata"]["annotations"])
    secrets_dir = tmp_path / "secrets"
    # The injector mounts its volume at secret-volume-path; here that volume is a temporary directory.
    annotations["vault.hashicorp.com/secret-volume-path"] = str(secrets_dir)
    agent_secrets = read_agent_secrets(annotations)
    assert sorted(s.path for s in agent_secrets) == sorted(s.group for s in SECRETS)
    token_file = tmp_path / "token"
    token_file.write_text(vault.token)
    config = build_agent_config(agent_secrets, address=vault.address, token_file=str(token_file))
    assert config["exit_after_auth"] is True
    assert config["auto_auth"]["method"] == [
        {"type": "token_file", "config": {"token_file_path": str(token_file)}}
    ]
    (tmp_path / "agent.json").write_text(json.dumps(config))
    agent = subprocess.run(
        [vault.binary, "agent", f"-config={tmp_path / 'agent.json'}"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert agent.returncode == 0, agent.stdout[-2000:] + agent.stderr[-2000:]
    assert (secrets_dir / "kv1/team/app/api_key").read_text() == KV1_VALUE
    assert (secrets_dir / "kv2/data/team/app/api_key").read_text() == KV2_VALUE
    db = (secrets_dir / "database/creds/reader/creds").read_text()
    assert db.startswith("password: ") and "\nusername: v-" in db and db.endswith("\n")

    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "inputs.json").write_text(json.dumps({"dsn_host": postgres.host, "port": postgres.port}))
    env = clean_env(**container_env(pod))
    assert env["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"
    env["FLYTE_SECRETS_DEFAULT_DIR"] = str(secrets_dir)  # where the volume is mounted here
    done = run_tasksecrets(
        [
            "execute",
            "--file",
            "tasks.py",
            "--task",
            "read_all",
            "--inputs",
            "inputs.json",
            "--outputs",
            "outputs.json",
        ],
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ok ok ok ok ok ok" in (tmp_path / "outputs.json").read_text()


@pytest.mark.parametrize("agent_on_path", [True, False], ids=["bao-agent", "hvac"])
def test_tasksecrets_run_with_a_vault_config(
    vault: OpenBao, postgres: Postgres, tmp_path: Path, agent_on_path: bool
) -> None:
    (tmp_path / "wf.py").write_text(TASKS)
    (tmp_path / "vault.yaml").write_text(
        "webhook:\n  secretManagerType: vault\n  vaultSecretManager:\n    kvVersion: 2\n"
    )
    path = [os.path.dirname(sys.executable), "/usr/bin", "/bin"]
    path = [p for p in path if not os.path.exists(os.path.join(p, "bao"))]
    if agent_on_path:
        path.insert(0, os.path.dirname(vault.binary))
    env = clean_env(
        PATH=os.pathsep.join(path),
        TASKSECRETS_HOME=str(tmp_path / "home"),
        VAULT_ADDR=vault.address,
        VAULT_TOKEN=vault.token,
    )
    done = run_tasksecrets(
        [
            "run",
            "--config",
            "vault.yaml",
            "wf.py",
            "wf",
            "-i",
            f"dsn_host={postgres.host}",
            "-i",
            f"port={postgres.port}",
        ],
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok ok ok ok ok ok" in done.stdout
    for value in (KV1_VALUE, KV2_VALUE, ENV_VALUE, vault.token):
        assert value not in done.stdout + done.stderr


def test_tasksecrets_run_names_a_missing_vault_secret(vault: OpenBao, tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(TASKS.replace("kv1/team/app", "kv1/team/nothing-here"))
    (tmp_path / "vault.yaml").write_text("webhook:\n  secretManagerType: Vault\n")
    env = clean_env(
        TASKSECRETS_HOME=str(tmp_path / "home"), VAULT_ADDR=vault.address, VAULT_TOKEN=vault.token
    )
    env["PATH"] = os.pathsep.join([os.path.dirname(vault.binary), env.get("PATH", "")])
    done = run_tasksecrets(
        ["run", "--config", "vault.yaml", "wf.py", "wf", "-i", "dsn_host=127.0.0.1", "-i", "port=1"],
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 1
    assert "kv1/team/nothing-here" in done.stderr and "failed before its code ran" in done.stderr
    assert vault.token not in done.stderr
