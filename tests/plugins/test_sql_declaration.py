"""SQLAlchemyTask and SQLAlchemyConfig at declaration: templates, secrets, types, light imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas
import pytest

from tasksecrets import Secret, kwtypes
from tasksecrets.errors import TaskDeclarationError
from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask
from tasksecrets.sdk.loader import load_task

URI = "sqlite:////tmp/never-opened.db"
PASSWORD = Secret(group="db-creds", key="password")
USER = Secret(group="db-creds", key="username")


def declare(template: str, **kwargs: object) -> SQLAlchemyTask:
    kwargs.setdefault("task_config", SQLAlchemyConfig(uri=URI))
    return SQLAlchemyTask("t", query_template=template, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ .inputs.limit }}",
        "{{.inputs.limit}}",
        "{{ .Inputs.limit }}",
        "{{  .INPUTS.limit  }}",
        "{{ inputs.limit }}",
    ],
)
def test_flytekit_placeholder_spellings_are_understood(placeholder: str) -> None:
    sql_task = declare(f"SELECT * FROM t LIMIT {placeholder}", inputs=kwtypes(limit=int))
    assert sql_task.template.input_names == ("limit",)


def test_placeholder_without_input_is_named() -> None:
    with pytest.raises(TaskDeclarationError, match=r"\{\{ \.inputs\.limt \}\}.*'limt'.*inputs: limit"):
        declare("SELECT * FROM t LIMIT {{ .inputs.limt }}", inputs=kwtypes(limit=int))


def test_input_without_placeholder_is_named() -> None:
    with pytest.raises(TaskDeclarationError, match=r"input 'offset' has no placeholder"):
        declare("SELECT * FROM t LIMIT {{ .inputs.limit }}", inputs=kwtypes(limit=int, offset=int))


@pytest.mark.parametrize(
    ("template", "where"),
    [
        ("SELECT * FROM t WHERE name = '{{ .inputs.name }}'", "quoted SQL string"),
        ("SELECT * FROM t WHERE name LIKE '%{{ .inputs.name }}%'", "quoted SQL string"),
        ('SELECT "{{ .inputs.name }}" FROM t', "quoted SQL identifier"),
        ("SELECT 1 -- {{ .inputs.name }}", "SQL comment"),
    ],
)
def test_placeholder_inside_quotes_or_comments_is_refused(template: str, where: str) -> None:
    with pytest.raises(TaskDeclarationError, match=where):
        declare(template, inputs=kwtypes(name=str))


def test_template_expression_that_is_not_a_placeholder_is_refused() -> None:
    with pytest.raises(
        TaskDeclarationError, match=r"\{\{ \.outputs\.x \}\} in query_template is not a placeholder"
    ):
        declare("SELECT {{ .outputs.x }}")


def test_postgres_array_literals_are_not_placeholders() -> None:
    assert declare("SELECT '{{1,2},{3,4}}'::int[]").template.input_names == ()


def test_secret_connect_args_join_secret_requests_deduplicated_in_order() -> None:
    other = Secret(group="api", key="token")
    own_password = Secret(group="DB-CREDS", key="password", mount_requirement=Secret.MountType.FILE)
    sql_task = declare(
        "SELECT 1",
        task_config=SQLAlchemyConfig(
            uri="postgresql://db/app", secret_connect_args={"user": USER, "password": PASSWORD}
        ),
        secret_requests=[other, own_password],
    )
    # The user's own request for the password (with its mount) is kept; the username is added after.
    assert sql_task.secret_requests == (other, own_password, USER)


def test_one_db_engine_secret_may_feed_two_arguments_and_is_requested_once() -> None:
    creds = Secret(group="database/creds/app", key="creds", group_version="db")
    config = SQLAlchemyConfig(
        uri="postgresql://db/app", secret_connect_args={"user": creds, "password": creds}
    )
    assert declare("SELECT 1", task_config=config).secret_requests == (creds,)


@pytest.mark.parametrize(
    ("secret_connect_args", "message"),
    [
        ({"password": "hunter2-FAKE"}, r"secret_connect_args\['password'\] must be a Secret, got str"),
        ({"password": None}, r"must be a Secret, got NoneType"),
        ([PASSWORD], r"must be a dict of connect argument name to Secret, got list"),
        ({"": PASSWORD}, r"key '' is not a connect argument name"),
    ],
)
def test_secret_connect_args_must_map_names_to_secrets(secret_connect_args: object, message: str) -> None:
    with pytest.raises(TaskDeclarationError, match=message) as caught:
        SQLAlchemyConfig(uri=URI, secret_connect_args=secret_connect_args)  # type: ignore[arg-type]
    assert "hunter2-FAKE" not in str(caught.value)


def test_flytekit_secret_gets_a_hint() -> None:
    import flytekit

    with pytest.raises(TaskDeclarationError, match=r"use tasksecrets\.Secret"):
        SQLAlchemyConfig(uri=URI, secret_connect_args={"password": flytekit.Secret(group="g", key="k")})


def test_argument_in_both_connect_args_and_secret_connect_args_is_refused() -> None:
    with pytest.raises(TaskDeclarationError, match="'password' is in both"):
        SQLAlchemyConfig(uri=URI, connect_args={"password": "x"}, secret_connect_args={"password": PASSWORD})


@pytest.mark.parametrize("uri", [None, "", "not a url", 42])
def test_uri_must_be_a_database_url(uri: object) -> None:
    with pytest.raises(TaskDeclarationError, match="uri must be an SQLAlchemy database URL"):
        SQLAlchemyConfig(uri=uri)  # type: ignore[arg-type]


def test_task_config_must_be_a_config() -> None:
    with pytest.raises(TaskDeclarationError, match="task_config must be a SQLAlchemyConfig"):
        SQLAlchemyTask("t", query_template="SELECT 1", task_config={"uri": URI})  # type: ignore[arg-type]


def test_output_schema_types() -> None:
    from flytekit.types.schema import FlyteSchema

    assert declare("SELECT 1", output_schema_type=pandas.DataFrame).output_schema_type is pandas.DataFrame
    assert declare("SELECT 1", output_schema_type=FlyteSchema).output_schema_type is FlyteSchema
    assert declare("SELECT 1", output_schema_type=None).output_schema_type is None
    with pytest.raises(TaskDeclarationError, match="output_schema_type <class 'list'> is not supported"):
        declare("SELECT 1", output_schema_type=list)


def test_repr_hides_passwords() -> None:
    config = SQLAlchemyConfig(
        uri="postgresql://alice:FAKE-in-uri@db:5432/app?sslpassword=FAKE-in-query",
        connect_args={"password": "FAKE-in-args", "sslmode": "require"},
        secret_connect_args={"user": USER},
    )
    shown = repr(declare("SELECT 1", task_config=config))
    assert "FAKE-" not in shown
    assert "alice:***@db:5432/app" in shown and "'sslmode': 'require'" in shown and "key='username'" in shown


def test_wrong_input_type_is_refused_before_running() -> None:
    sql_task = declare("SELECT * FROM t LIMIT {{ .inputs.limit }}", inputs=kwtypes(limit=int))
    with pytest.raises(TypeError, match="input 'limit' must be int, got str"):
        sql_task(limit="1; DROP TABLE users")
    with pytest.raises(TypeError, match="needs input 'limit'"):
        sql_task()


def test_import_and_declaration_do_not_load_sqlalchemy_or_pandas() -> None:
    code = (
        "import sys\n"
        "from tasksecrets import Secret, kwtypes\n"
        "from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask\n"
        "SQLAlchemyTask('t', query_template='SELECT {{ .inputs.x }}', inputs=kwtypes(x=int),\n"
        "    task_config=SQLAlchemyConfig(uri='postgresql://h/db',\n"
        "        secret_connect_args={'password': Secret(group='g', key='k')}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pandas')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_loader_finds_the_task_by_variable_and_by_name(tmp_path: Path) -> None:
    module = tmp_path / "sqlmod.py"
    module.write_text(
        "from tasksecrets import kwtypes\n"
        "from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask\n"
        "sql_query = SQLAlchemyTask('fetch_data', query_template='SELECT 1',\n"
        f"    task_config=SQLAlchemyConfig(uri={URI!r}))\n"
    )
    by_variable = load_task(str(module), "sql_query")
    assert by_variable is load_task(str(module), "fetch_data")
    assert by_variable.name == "fetch_data" and by_variable.module_file == str(module)


def test_sqlite_refuses_login_secrets_at_declaration() -> None:
    with pytest.raises(TaskDeclarationError, match=r"SQLite databases have no login.*password"):
        SQLAlchemyConfig(uri=URI, secret_connect_args={"password": PASSWORD})


def test_repr_of_a_config_refused_half_way_works_and_hides_the_password() -> None:
    """A config whose validation failed is still printable (tracebacks, debuggers) and shows no password."""
    captured: list[BaseException] = []
    try:
        SQLAlchemyConfig(
            uri="sqlite:///x.db",
            connect_args={"password": "hunter2-literal"},
            secret_connect_args={"password": Secret(group="db", key="password")},
        )
    except TaskDeclarationError as exc:
        captured.append(exc)
    assert captured, "a SQLite config with a password secret must be refused"
    frame_locals = captured[0].__traceback__.tb_next.tb_frame.f_locals  # type: ignore[union-attr]
    text = repr(frame_locals["self"])
    assert text.startswith("SQLAlchemyConfig(uri=")
    assert "hunter2-literal" not in text
