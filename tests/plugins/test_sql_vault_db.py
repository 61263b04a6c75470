"""Vault's database engine feeding an SQLAlchemyTask, with a real OpenBao and a real PostgreSQL.

OpenBao's database secrets engine creates a PostgreSQL role per read. The task asks for one
``Secret(group="database/creds/reader", key="creds", group_version="db")`` and maps it onto both
``username`` and ``password``; the pair comes from one read. Run through ``tasksecrets run`` with the
Vault manager: the webhook annotates the pod, the local kubelet renders the secret with the real
``bao agent`` (the injector's default rendering, ``password: ...`` and ``username: ...`` lines) into
the task's secrets volume, and the task reads it through the reader like any secret.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from childproc import run_tasksecrets
from conftest import PostgresServer
from services import OpenBao

ROOT = Path(__file__).resolve().parents[2]
ROLE = "reader"


@pytest.fixture(scope="module")
def vault_db(openbao: OpenBao, pg: PostgresServer) -> str:
    """Database ``vaultdb`` with table readings(id, value), and the engine's role ``reader`` on it."""
    import hvac

    pg.create_database("vaultdb")
    pg.run_sql(
        "CREATE TABLE readings (id integer PRIMARY KEY, value text)",
        "INSERT INTO readings VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        database="vaultdb",
    )
    client = hvac.Client(url=openbao.address, token=openbao.token)
    if "database/" not in client.sys.list_mounted_secrets_engines():
        client.sys.enable_secrets_engine("database", path="database")
    client.secrets.database.configure(
        name="vaultdb",
        plugin_name="postgresql-database-plugin",
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@{pg.host}:{pg.port}/vaultdb",
        username=pg.server.user,
        password=pg.server.password,
        allowed_roles=[ROLE],
        verify_connection=True,
    )
    client.secrets.database.create_role(
        name=ROLE,
        db_name="vaultdb",
        creation_statements=[
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
        ],
        default_ttl="10m",
        max_ttl="1h",
    )
    return pg.uri("vaultdb")


def write_task_file(directory: Path, uri: str) -> Path:
    module = directory / "vault_sql.py"
    module.write_text(
        "from tasksecrets import Secret, kwtypes\n"
        "from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask\n"
        f"creds = Secret(group='database/creds/{ROLE}', key='creds', group_version='db')\n"
        "sql_query = SQLAlchemyTask('fetch_readings',\n"
        "    query_template='SELECT value FROM readings WHERE id <= {{ .inputs.upto }} ORDER BY id',\n"
        "    inputs=kwtypes(upto=int),\n"
        f"    task_config=SQLAlchemyConfig(uri={uri!r},\n"
        "        secret_connect_args={'username': creds, 'password': creds}))\n"
    )
    return module


def test_db_engine_credentials_through_the_local_cluster(
    tmp_path: Path, openbao: OpenBao, vault_db: str, pg: PostgresServer
) -> None:
    from services import bao_binary

    config = tmp_path / "webhook.yaml"
    config.write_text("webhook:\n  secretManagerType: Vault\n")
    env = {
        **{k: v for k, v in os.environ.items() if k != "TASKSECRETS_MASTER_KEY"},
        **openbao.env(),
        "TASKSECRETS_HOME": str(tmp_path / "home"),
        # the kubelet renders Vault secrets with the real agent when a bao binary is on PATH
        "PATH": os.path.dirname(bao_binary()) + os.pathsep + os.environ.get("PATH", ""),
    }
    before = pg.run_sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%'")[0][0]
    done = run_tasksecrets(
        [
            "run",
            "--config",
            str(config),
            str(write_task_file(tmp_path, vault_db)),
            "fetch_readings",
            "-i",
            "upto=2",
        ],
        timeout=180,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "one" in done.stdout and "two" in done.stdout and "three" not in done.stdout
    assert "password:" not in done.stdout + done.stderr
    after = pg.run_sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%'")[0][0]
    assert after == before + 1, "one read of the engine: one username/password pair"  # type: ignore[operator]


def test_db_engine_credentials_in_process(tmp_path: Path, openbao: OpenBao, vault_db: str) -> None:
    """The same secret as the agent renders it, read in-process from FLYTE_SECRETS_DEFAULT_DIR."""
    import hvac

    from tasksecrets.sdk.loader import load_task

    data = hvac.Client(url=openbao.address, token=openbao.token).read(f"database/creds/{ROLE}")["data"]
    secret_file = tmp_path / "secrets" / "database" / "creds" / ROLE / "creds"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text("".join(f"{k}: {v}\n" for k, v in sorted(data.items())))
    os.environ["FLYTE_SECRETS_DEFAULT_DIR"] = str(tmp_path / "secrets")
    sql_query = load_task(str(write_task_file(tmp_path, vault_db)), "sql_query")
    assert list(sql_query(upto=1)["value"]) == ["one"]
