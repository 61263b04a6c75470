"""Fixtures for the SQL plugin tests: databases on the shared real PostgreSQL, a clean secrets env.

The server itself is the session's ``postgres`` fixture (tests/services.py: Debian's PostgreSQL
started by the tests, password login over TCP, so a wrong password really fails). ``pg`` wraps it
with what these tests need: URIs, superuser SQL, and fresh databases owned by fresh roles.
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass

import pytest

from secretsenv import clean_secrets_env  # noqa: F401  (autouse: applies here)
from services import Postgres


@dataclass(frozen=True)
class PostgresServer:
    """The shared server, seen from the SQL tests."""

    server: Postgres

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def uri(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        """A ``postgresql+psycopg://`` URI; credentials only when given."""
        credentials = ""
        if user:
            credentials = user + (f":{password}" if password else "") + "@"
        return f"postgresql+psycopg://{credentials}{self.host}:{self.port}/{database}"

    def run_sql(self, *statements: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run statements as the superuser (autocommit); the rows of the last one."""
        import psycopg

        rows: list[tuple[object, ...]] = []
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.server.user,
            password=self.server.password,
            dbname=database,
            autocommit=True,
        ) as connection:
            for statement in statements:
                cursor = connection.execute(statement)  # type: ignore[arg-type]  # trusted test SQL
                rows = list(cursor.fetchall()) if cursor.description else []
        return rows

    def create_database(self, name: str) -> tuple[str, str]:
        """A fresh database ``name`` owned by a fresh login role; returns ``(user, password)``."""
        user = f"{name}_owner"
        password = "FAKE-pg-" + pysecrets.token_hex(8)
        self.run_sql(
            f"DROP DATABASE IF EXISTS {name}",
            f"DROP ROLE IF EXISTS {user}",
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {name} OWNER {user}",
        )
        return user, password


@pytest.fixture(scope="session")
def pg(postgres: Postgres) -> PostgresServer:
    """The session's PostgreSQL server, with helpers."""
    return PostgresServer(postgres)
