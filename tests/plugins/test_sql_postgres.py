"""SQLAlchemyTask against a real PostgreSQL: credentials from secrets, injection, wrong passwords."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas
import pytest

from childproc import run_tasksecrets
from conftest import PostgresServer
from tasksecrets import Secret, current_context, kwtypes, task
from tasksecrets.errors import SecretNotRequestedError, TaskExecutionError
from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask
from tasksecrets.sdk.values import read_values

GROUP = "app-db"
SECRETS = {"username": Secret(group=GROUP, key="username"), "password": Secret(group=GROUP, key="password")}


@pytest.fixture(scope="module")
def appdb(pg: PostgresServer) -> tuple[str, str, str]:
    """Database ``appdb`` with table users(id, name) of three rows; returns (uri, user, password)."""
    user, password = pg.create_database("appdb")
    pg.run_sql(f"GRANT ALL ON SCHEMA public TO {user}", database="appdb")
    pg.run_sql(
        f"SET ROLE {user}",
        "CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL)",
        "INSERT INTO users VALUES (1, 'alice'), (2, 'bob'), (3, 'carol')",
        database="appdb",
    )
    return pg.uri("appdb"), user, password


@pytest.fixture
def credentials(appdb: tuple[str, str, str]) -> Iterator[str]:
    """The app user's credentials where the reader finds them (env vars, as the K8s injector sets them)."""
    _, user, password = appdb
    os.environ[f"_FSEC_{GROUP.upper()}_USERNAME"] = user
    os.environ[f"_FSEC_{GROUP.upper()}_PASSWORD"] = password
    yield password


def fetch_task(uri: str) -> SQLAlchemyTask:
    return SQLAlchemyTask(
        "fetch_users",
        query_template="SELECT id, name FROM users WHERE name = {{ .inputs.name }} ORDER BY id",
        inputs=kwtypes(name=str),
        task_config=SQLAlchemyConfig(uri=uri, secret_connect_args=SECRETS),
    )


def test_query_reads_its_password_from_the_secret_manager(
    appdb: tuple[str, str, str], credentials: str
) -> None:
    sql_query = SQLAlchemyTask(
        "fetch_data",
        query_template="SELECT * FROM users ORDER BY id LIMIT {{ .inputs.limit }}",
        inputs=kwtypes(limit=int),
        task_config=SQLAlchemyConfig(uri=appdb[0], secret_connect_args=SECRETS),
    )
    frame = sql_query(limit=2)
    assert isinstance(frame, pandas.DataFrame)
    assert frame.to_dict("records") == [{"id": 1, "name": "alice"}, {"id": 2, "name": "bob"}]


@pytest.mark.parametrize(
    "attack", ["1; DROP TABLE users", "' OR '1'='1", "alice' --", "x'); DELETE FROM users; --"]
)
def test_injection_inputs_are_data(
    pg: PostgresServer, appdb: tuple[str, str, str], credentials: str, attack: str
) -> None:
    frame = fetch_task(appdb[0])(name=attack)
    assert frame.empty, "the input matched as a whole value, as a parameter does"
    assert pg.run_sql("SELECT count(*) FROM users", database="appdb") == [(3,)]


def test_casts_and_percent_signs_keep_working(appdb: tuple[str, str, str], credentials: str) -> None:
    cast = SQLAlchemyTask(
        "cast_and_like",
        query_template=(
            "SELECT name, '10:30'::text AS at FROM users "
            "WHERE id > {{ .inputs.after }}::int AND name LIKE 'c%' || {{.inputs.suffix}}"
        ),
        inputs=kwtypes(after="str", suffix=str),
        task_config=SQLAlchemyConfig(uri=appdb[0], secret_connect_args=SECRETS),
    )
    assert cast(after="1", suffix="").to_dict("records") == [{"name": "carol", "at": "10:30"}]


def test_statement_without_output_returns_none(
    pg: PostgresServer, appdb: tuple[str, str, str], credentials: str
) -> None:
    insert = SQLAlchemyTask(
        "add_user",
        query_template="INSERT INTO users VALUES ({{ .inputs.id }}, {{ .inputs.name }})",
        inputs=kwtypes(id=int, name=str),
        task_config=SQLAlchemyConfig(uri=appdb[0], secret_connect_args=SECRETS),
        output_schema_type=None,
    )
    try:
        assert insert(id=10, name="Robert'); DROP TABLE users;--") is None
        assert pg.run_sql("SELECT name FROM users WHERE id = 10", database="appdb") == [
            ("Robert'); DROP TABLE users;--",)
        ]
    finally:
        pg.run_sql("DELETE FROM users WHERE id = 10", database="appdb")


def test_wrong_password_names_database_and_secret_without_the_password(appdb: tuple[str, str, str]) -> None:
    _, user, real_password = appdb
    wrong = "FAKE-wrong-pw-123"
    os.environ[f"_FSEC_{GROUP.upper()}_USERNAME"] = user
    os.environ[f"_FSEC_{GROUP.upper()}_PASSWORD"] = wrong
    with pytest.raises(TaskExecutionError) as caught:
        fetch_task(appdb[0])(name="alice")
    message = str(caught.value)
    assert "database 'appdb' on 127.0.0.1" in message
    assert "password=Secret(group='app-db', key='password')" in message
    assert "password authentication failed" in message
    assert wrong not in message and real_password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_password_in_the_uri_is_never_shown(pg: PostgresServer, appdb: tuple[str, str, str]) -> None:
    _, user, _ = appdb
    in_uri = "FAKE-uri-pw-456"
    broken = SQLAlchemyTask(
        "uri_password",
        query_template="SELECT 1",
        task_config=SQLAlchemyConfig(uri=pg.uri("appdb", user=user, password=in_uri)),
    )
    assert in_uri not in repr(broken)
    with pytest.raises(TaskExecutionError) as caught:
        broken()
    assert in_uri not in str(caught.value)
    assert f"{user}:***@127.0.0.1" in str(caught.value)


def test_secret_args_are_requested_so_least_privilege_holds(
    appdb: tuple[str, str, str], credentials: str
) -> None:
    sql_query = fetch_task(appdb[0])
    assert list(sql_query.secret_requests) == list(SECRETS.values())
    assert sql_query(name="bob").to_dict("records") == [{"id": 2, "name": "bob"}]

    @task
    def nosy() -> str:
        return str(current_context().secrets.get(GROUP, "password"))

    with pytest.raises(SecretNotRequestedError):
        nosy()


def test_runs_in_its_own_process_via_execute(
    tmp_path: Path, appdb: tuple[str, str, str], credentials: str
) -> None:
    """The task's process (``python -m tasksecrets execute``) finds it by variable and reads its secrets."""
    module = tmp_path / "pgtask.py"
    module.write_text(
        "from tasksecrets import Secret, kwtypes\n"
        "from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask\n"
        f"secrets = {{'user': Secret(group={GROUP!r}, key='username'),"
        f" 'password': Secret(group={GROUP!r}, key='password')}}\n"
        "sql_query = SQLAlchemyTask('fetch_data',\n"
        "    query_template='SELECT name FROM users ORDER BY id LIMIT {{ .inputs.limit }}',\n"
        "    inputs=kwtypes(limit=int),\n"
        f"    task_config=SQLAlchemyConfig(uri={appdb[0]!r}, secret_connect_args=secrets))\n"
    )
    (tmp_path / "in.json").write_text(json.dumps({"limit": 1}))
    outputs = tmp_path / "out.json"
    for name in ("sql_query", "fetch_data"):
        done = run_tasksecrets(
            [
                "execute",
                "--file",
                str(module),
                "--task",
                name,
                "--inputs",
                str(tmp_path / "in.json"),
                "--outputs",
                str(outputs),
            ]
        )
        assert done.returncode == 0, done.stderr
        assert read_values(str(outputs)).to_dict("records") == [{"name": "alice"}]
        assert credentials not in done.stdout + done.stderr


def test_wrong_password_in_its_own_process_is_masked(tmp_path: Path, appdb: tuple[str, str, str]) -> None:
    wrong = "FAKE-wrong-pw-789"
    module = tmp_path / "pgwrong.py"
    module.write_text(
        "from tasksecrets import Secret\n"
        "from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask\n"
        "sql_query = SQLAlchemyTask('fetch_data', query_template='SELECT 1',\n"
        f"    task_config=SQLAlchemyConfig(uri={appdb[0]!r}, connect_args={{'user': {appdb[1]!r}}},\n"
        f"        secret_connect_args={{'password': Secret(group={GROUP!r}, key='password')}}))\n"
    )
    env = {**os.environ, f"_FSEC_{GROUP.upper()}_PASSWORD": wrong}
    done = run_tasksecrets(["execute", "--file", str(module), "--task", "fetch_data"], env=env)
    assert done.returncode == 1
    assert "database 'appdb'" in done.stderr and "Secret(group='app-db', key='password')" in done.stderr
    assert wrong not in done.stderr + done.stdout
