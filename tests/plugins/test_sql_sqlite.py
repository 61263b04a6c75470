"""SQLAlchemyTask on an embedded SQLite file, in-process: binding, outputs, workflows, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas
import pytest

from tasksecrets import Secret, kwtypes, workflow
from tasksecrets.errors import SecretError, TaskExecutionError
from tasksecrets.plugins.sql.credentials import parse_credential_fields, pick_connect_arg
from tasksecrets.plugins.sql.template import parse_query_template, render_sql
from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask


@pytest.fixture
def uri(tmp_path: Path) -> str:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        connection.executemany("INSERT INTO users VALUES (?, ?)", [(1, "alice"), (2, "bob"), (3, "carol")])
    return f"sqlite:///{path}"


def count_users(uri: str) -> int:
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as connection:
        return int(connection.execute("SELECT count(*) FROM users").fetchone()[0])


@pytest.mark.parametrize("attack", ["1; DROP TABLE users", "' OR '1'='1", "1 OR 1=1"])
def test_injection_inputs_are_data(uri: str, attack: str) -> None:
    by_name = SQLAlchemyTask(
        "by_name",
        query_template=(
            "SELECT * FROM users WHERE name = {{ .inputs.name }} OR CAST(id AS TEXT) = {{.inputs.name}}"
        ),
        inputs=kwtypes(name=str),
        task_config=SQLAlchemyConfig(uri=uri),
    )
    assert by_name(name=attack).empty
    assert by_name(name="2")["name"].tolist() == ["bob"], "the same placeholder twice, one parameter"
    assert count_users(uri) == 3


def test_rows_come_back_as_a_typed_dataframe(uri: str) -> None:
    sql_query = SQLAlchemyTask(
        "fetch_data",
        query_template="SELECT id, name, '10:30' AS at FROM users ORDER BY id LIMIT {{ .inputs.limit }}",
        inputs=kwtypes(limit=int),
        task_config=SQLAlchemyConfig(uri=uri),
    )
    frame = sql_query(2)
    assert isinstance(frame, pandas.DataFrame)
    assert frame.to_dict("records") == [
        {"id": 1, "name": "alice", "at": "10:30"},
        {"id": 2, "name": "bob", "at": "10:30"},
    ]
    assert frame["id"].dtype.kind == "i"
    empty = sql_query(0)
    assert empty.empty and list(empty.columns) == ["id", "name", "at"]


def test_workflow_of_sql_tasks_in_process(uri: str) -> None:
    insert = SQLAlchemyTask(
        "insert_user",
        query_template="INSERT INTO users (id, name) VALUES ({{ .inputs.id }}, {{ .inputs.name }})",
        inputs=kwtypes(id=int, name=str),
        task_config=SQLAlchemyConfig(uri=uri),
        output_schema_type=None,
    )
    count = SQLAlchemyTask(
        "count_users", query_template="SELECT count(*) AS n FROM users", task_config=SQLAlchemyConfig(uri=uri)
    )

    @workflow
    def add_and_count(name: str) -> int:
        assert insert(id=4, name=name) is None
        return int(count()["n"][0])

    assert add_and_count(name="dave'); DROP TABLE users; --") == 4


def test_query_error_names_the_database(uri: str) -> None:
    broken = SQLAlchemyTask(
        "broken", query_template="SELECT * FROM no_such_table", task_config=SQLAlchemyConfig(uri=uri)
    )
    with pytest.raises(
        TaskExecutionError,
        match=r"task 'broken': the query failed on the database '.*app\.db'.*no such table",
    ):
        broken()


def test_render_sql_binds_and_escapes() -> None:
    template = parse_query_template(
        "SELECT :literal, '10 :30', x::int FROM t WHERE a = {{ .inputs.a }}::text AND b={{.inputs.b}}",
        inputs=["a", "b"],
        owner="t",
    )
    sql, params = render_sql(template, {"a": 1, "b": "two"})
    assert params == {"a": 1, "b": "two"}
    from sqlalchemy import text

    assert set(text(sql).compile().params) == {"a", "b"}, "only the placeholders are binds"
    assert "(:a)::text" in sql and "b=:b" in sql


def test_credential_fields_of_the_db_engine() -> None:
    secret = Secret(group="database/creds/app", key="creds", group_version="db")
    rendered = "password: FAKE-pw\nusername: v-token-app-xyz\n"
    fields = parse_credential_fields(rendered)
    assert fields == {"password": "FAKE-pw", "username": "v-token-app-xyz"}
    assert pick_connect_arg("user", secret, rendered, fields) == "v-token-app-xyz"
    assert pick_connect_arg("password", secret, rendered, fields) == "FAKE-pw"
    assert parse_credential_fields('{"username": "u", "password": "FAKE"}') == {
        "username": "u",
        "password": "FAKE",
    }
    assert parse_credential_fields("map[password:FAKE username:u]") == {"password": "FAKE", "username": "u"}
    assert parse_credential_fields("just-a-password: with colon") is None
    with pytest.raises(
        SecretError, match="holds the fields password, username but none named 'sslkey'"
    ) as caught:
        pick_connect_arg("sslkey", secret, rendered, fields)
    assert "FAKE-pw" not in str(caught.value)


def test_missing_driver_says_what_to_install() -> None:
    """pg8000 is not a dependency of any extra, so its driver is missing here."""
    sql_task = SQLAlchemyTask(
        "needs_driver",
        query_template="SELECT 1",
        task_config=SQLAlchemyConfig(uri="postgresql+pg8000://app:FAKE-uri-pw@db.invalid/app"),
    )
    with pytest.raises(TaskExecutionError, match=r"is not installed \(No module named 'pg8000'\)") as caught:
        sql_task()
    assert "FAKE-uri-pw" not in str(caught.value) and "app:***@db.invalid" in str(caught.value)
