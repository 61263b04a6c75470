"""The seed's SQL example: a query task whose database credentials come from the secret manager.

The database is chosen by the ``SQL_EXAMPLE_URI`` environment variable:

- unset: an embedded SQLite file the workflow creates (``<tmp>/tasksecrets-example-sql.db``). SQLite
  has no login, so no secrets are requested. Run it: ``python examples/sql.py``.
- a server, e.g. ``postgresql+psycopg://127.0.0.1:5432/appdb``: the username and password are the
  secrets ``user-info/username`` and ``user-info/password``. Store them, then run the workflow on
  the local cluster, where the task's process receives exactly the secrets it requested::

      tasksecrets create secret generic user-info -n flytesnacks-development \\
          --from-literal=username=app --from-literal=password='<the password>'
      SQL_EXAMPLE_URI=postgresql+psycopg://127.0.0.1:5432/appdb \\
          tasksecrets run examples/sql.py sql_workflow -i limit=2

  (``flytesnacks-development`` is the namespace of ``tasksecrets run``'s default project and domain.)

Inputs are bound as SQL parameters: ``limit`` is data, never SQL text. Never print secret values.
"""

import os
import tempfile

import pandas

from tasksecrets import Secret, kwtypes, workflow
from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask

SQLITE_FILE = os.path.join(tempfile.gettempdir(), "tasksecrets-example-sql.db")
DATABASE_URI = os.environ.get("SQL_EXAMPLE_URI") or f"sqlite:///{SQLITE_FILE}"

SECRET_GROUP = "user-info"
USERNAME_SECRET = "username"
PASSWORD_SECRET = "password"

# define the secrets (a SQLite file has no login, so it gets none)
secrets = (
    {
        "username": Secret(group=SECRET_GROUP, key=USERNAME_SECRET),
        "password": Secret(group=SECRET_GROUP, key=PASSWORD_SECRET),
    }
    if not DATABASE_URI.startswith("sqlite")
    else {}
)

sql_query = SQLAlchemyTask(
    "fetch_data",
    query_template="""SELECT * FROM my_table ORDER BY id LIMIT {{ .inputs.limit }}""",
    inputs=kwtypes(limit=int),
    output_schema_type=pandas.DataFrame,
    # specify username and password credentials in the configuration
    task_config=SQLAlchemyConfig(uri=DATABASE_URI, secret_connect_args=secrets),
    # request secrets (optional here: secret_connect_args are requested by themselves)
    secret_requests=list(secrets.values()),
)

# Two more SQL tasks so the example brings its own data: statements run without fetching rows.
create_table = SQLAlchemyTask(
    "create_table",
    query_template="CREATE TABLE IF NOT EXISTS my_table (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    task_config=SQLAlchemyConfig(uri=DATABASE_URI, secret_connect_args=secrets),
    output_schema_type=None,
)
fill_table = SQLAlchemyTask(
    "fill_table",
    query_template=(
        "INSERT INTO my_table (id, name) VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma') "
        "ON CONFLICT (id) DO NOTHING"
    ),
    task_config=SQLAlchemyConfig(uri=DATABASE_URI, secret_connect_args=secrets),
    output_schema_type=None,
)


@workflow
def sql_workflow(limit: int = 2) -> pandas.DataFrame:
    create_table()
    fill_table()
    return sql_query(limit=limit)


if __name__ == "__main__":
    frame = sql_workflow(limit=2)
    assert list(frame["name"]) == ["alpha", "beta"], frame
    print(
        f"fetched {len(frame)} rows from {sql_query.task_config.uri.split('://')[0]}: {list(frame['name'])}"
    )
