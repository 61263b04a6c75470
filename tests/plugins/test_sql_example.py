"""examples/sql.py end to end: as a script (SQLite) and through ``tasksecrets run`` (SQLite, PostgreSQL).

With PostgreSQL the password lives only in the local encrypted store (``tasksecrets create secret
generic``); the task's own process gets it through the same injection path as any task's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sql.py"
NAMESPACE = "flytesnacks-development"


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private store home and temp dir (where the example's SQLite file goes)."""
    (tmp_path / "tmp").mkdir()
    environ = {k: v for k, v in os.environ.items() if k not in ("SQL_EXAMPLE_URI", "TASKSECRETS_MASTER_KEY")}
    return {**environ, "TASKSECRETS_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}


def tasksecrets(*args: str) -> list[str]:
    return [sys.executable, "-m", "tasksecrets", *args]


def test_example_runs_as_a_script_with_sqlite(env: dict[str, str]) -> None:
    done = run([sys.executable, str(EXAMPLE)], env)
    assert done.returncode == 0, done.stderr
    assert "fetched 2 rows from sqlite: ['alpha', 'beta']" in done.stdout
    assert (Path(env["TMPDIR"]) / "tasksecrets-example-sql.db").is_file()


def test_example_runs_on_the_local_cluster_with_sqlite(env: dict[str, str]) -> None:
    done = run(tasksecrets("run", str(EXAMPLE), "sql_workflow", "-i", "limit=3"), env)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("alpha", "beta", "gamma"))


def store_credentials(env: dict[str, str], user: str, password: str) -> None:
    done = run(
        tasksecrets(
            "create",
            "secret",
            "generic",
            "user-info",
            "-n",
            NAMESPACE,
            f"--from-literal=username={user}",
            f"--from-literal=password={password}",
        ),
        env,
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr


def test_example_on_postgres_with_the_password_in_the_local_store(
    pg: PostgresServer, env: dict[str, str]
) -> None:
    user, password = pg.create_database("exampledb")
    store_credentials(env, user, password)
    env["SQL_EXAMPLE_URI"] = pg.uri("exampledb")
    done = run(tasksecrets("run", str(EXAMPLE), "sql_workflow", "-i", "limit=2"), env)
    assert done.returncode == 0, done.stderr
    assert "alpha" in done.stdout and "beta" in done.stdout and "gamma" not in done.stdout
    assert password not in done.stdout + done.stderr
    assert pg.run_sql("SELECT count(*) FROM my_table", database="exampledb") == [(3,)]
    # The same task on its own, with a limit that tries to be SQL: refused as not an int, table intact.
    done = run(tasksecrets("run", str(EXAMPLE), "fetch_data", "-i", "limit=1; DROP TABLE my_table"), env)
    assert done.returncode != 0
    assert pg.run_sql("SELECT count(*) FROM my_table", database="exampledb") == [(3,)]


def test_example_on_postgres_with_a_wrong_password(pg: PostgresServer, env: dict[str, str]) -> None:
    user, password = pg.create_database("wrongpwdb")
    wrong = "FAKE-not-the-password-42"
    store_credentials(env, user, wrong)
    env["SQL_EXAMPLE_URI"] = pg.uri("wrongpwdb")
    done = run(tasksecrets("run", str(EXAMPLE), "sql_workflow"), env)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "database 'wrongpwdb'" in output
    assert "password=Secret(group='user-info', key='password')" in output
    assert "password authentication failed" in output
    assert wrong not in output and password not in output
