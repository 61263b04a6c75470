"""SQL tasks whose connection secrets come from the secret manager: ``SQLAlchemyTask``.

Shaped like flytekit's ``flytekitplugins.sqlalchemy`` (see ``docs/sql.md``)::

    from tasksecrets import Secret, kwtypes
    from tasksecrets.plugins.sqlalchemy import SQLAlchemyConfig, SQLAlchemyTask

    secrets = {
        "user": Secret(group="db-creds", key="username"),
        "password": Secret(group="db-creds", key="password"),
    }
    sql_query = SQLAlchemyTask(
        "fetch_data",
        query_template="SELECT * FROM my_table LIMIT {{ .inputs.limit }}",
        inputs=kwtypes(limit=int),
        task_config=SQLAlchemyConfig(uri="postgresql+psycopg://db:5432/app", secret_connect_args=secrets),
    )

What it does beyond flytekit: the secrets of ``secret_connect_args`` join the task's
``secret_requests`` by themselves; inputs are bound as SQL parameters, never pasted into the SQL; a
placeholder without an input (or an input without a placeholder) is refused at declaration; the URI
is never shown with its password; a driver error comes back as a TaskExecutionError that names the
database and the secrets, with their values masked.

SQLAlchemy and pandas are imported only when a task runs (``pip install 'tasksecrets[sql]'``), so
importing this module, and declaring tasks with it, stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from tasksecrets.errors import TaskDeclarationError, TaskExecutionError
from tasksecrets.plugins.sql.connection import (
    describe_database,
    is_sensitive_name,
    raise_database_error,
    redact_uri,
    uri_secrets,
)
from tasksecrets.plugins.sql.credentials import DB_VERSION, parse_credential_fields, pick_connect_arg
from tasksecrets.plugins.sql.template import QueryTemplate, parse_query_template, render_sql
from tasksecrets.sdk.context import current_context
from tasksecrets.sdk.masking import SECURE
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.state import current_running_task
from tasksecrets.sdk.task import Task, validate_secret_requests

__all__ = ["SQLAlchemyConfig", "SQLAlchemyTask"]

_LOG = logging.getLogger(__name__)
_INSTALL_HINT = "install the SQL extra: pip install 'tasksecrets[sql]'"
# flytekit's schema types: a task declared with one of them returns a pandas DataFrame here.
_SCHEMA_TYPE_NAMES = frozenset({"FlyteSchema", "StructuredDataset"})
# secret_connect_args names that are fields of the database URL, set there so that SQLAlchemy hands
# them to whichever driver under its own name (psycopg: user, pymysql: user, ...). Other names go to
# the driver's connect() as they are.
URL_FIELDS = ("username", "password", "host", "port", "database")


class _DataFrameDefault:
    def __repr__(self) -> str:
        return "pandas.DataFrame"


DATAFRAME: Any = _DataFrameDefault()
"""The default ``output_schema_type``: results as a pandas DataFrame (pandas is not imported for it)."""


def _secret_hint(value: object) -> str:
    if type(value).__name__ == "Secret":
        return "; use tasksecrets.Secret (same fields: group, key, group_version)"
    return ', e.g. Secret(group="db-creds", key="password")'


@dataclass(frozen=True)
class SQLAlchemyConfig:
    """Where and how a :class:`SQLAlchemyTask` connects.

    - ``uri``: an SQLAlchemy database URL, e.g. ``postgresql+psycopg://host:5432/db`` or
      ``sqlite:////abs/path.db``. Keep passwords out of it: a password written here is never shown,
      but it lives in your code.
    - ``connect_args``: extra keyword arguments for the driver's ``connect()`` (e.g. ``sslmode``).
    - ``secret_connect_args``: name -> :class:`Secret`, each read inside the task at run time. The
      URL's own fields (``username``, ``password``, ``host``, ``port``, ``database``) are set in the
      URL, whatever the driver; any other name is passed to the driver's ``connect()`` as is
      (psycopg: ``user``, ``sslpassword``, ...). One ``Secret(..., group_version="db")`` may feed
      both ``username`` and ``password``.
    """

    uri: str
    connect_args: Mapping[str, Any] | None = None
    secret_connect_args: Mapping[str, Secret] | None = None
    _secrets: dict[str, Secret] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Set first, so the repr of a half-built config (in a traceback, a debugger) still works.
        object.__setattr__(self, "_secrets", {})
        if not isinstance(self.uri, str) or ("://" not in self.uri and not self.uri.startswith("sqlite:")):
            raise TaskDeclarationError(
                f"SQLAlchemyConfig: uri must be an SQLAlchemy database URL string, got "
                f"{type(self.uri).__name__}; e.g. 'postgresql+psycopg://db.example:5432/app' or "
                "'sqlite:////tmp/app.db'"
            )
        if self.connect_args is not None and not isinstance(self.connect_args, Mapping):
            raise TaskDeclarationError(
                "SQLAlchemyConfig: connect_args must be a dict of driver connect() arguments, got "
                f"{type(self.connect_args).__name__}"
            )
        secrets: dict[str, Secret] = {}
        if self.secret_connect_args is not None:
            if not isinstance(self.secret_connect_args, Mapping):
                raise TaskDeclarationError(
                    "SQLAlchemyConfig: secret_connect_args must be a dict of connect argument name to "
                    f"Secret, got {type(self.secret_connect_args).__name__}; e.g. "
                    'secret_connect_args={"password": Secret(group="db-creds", key="password")}'
                )
            for name, secret in self.secret_connect_args.items():
                if not isinstance(name, str) or not name.isidentifier():
                    raise TaskDeclarationError(
                        f"SQLAlchemyConfig: secret_connect_args key {name!r} is not a connect argument "
                        "name: use the driver's connect() keyword, e.g. 'password'"
                    )
                if not isinstance(secret, Secret):
                    raise TaskDeclarationError(
                        f"SQLAlchemyConfig: secret_connect_args[{name!r}] must be a Secret, got "
                        f"{type(secret).__name__}{_secret_hint(secret)} (never the value itself)"
                    )
                if self.connect_args and name in self.connect_args:
                    raise TaskDeclarationError(
                        f"SQLAlchemyConfig: connect argument {name!r} is in both connect_args and "
                        "secret_connect_args; keep it in one of them"
                    )
                secrets[name] = secret
        in_url = [name for name in secrets if name in ("username", "password")]
        if in_url and self.uri.startswith("sqlite"):
            raise TaskDeclarationError(
                f"SQLAlchemyConfig: SQLite databases have no login, so secret_connect_args "
                f"{', '.join(in_url)} cannot be used with {redact_uri(self.uri)!r}; leave them out for SQLite"
            )
        object.__setattr__(self, "_secrets", secrets)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """The distinct secrets of ``secret_connect_args``, in order."""
        return tuple(dict.fromkeys(self._secrets.values()))

    def __repr__(self) -> str:
        shown = {
            name: SECURE if is_sensitive_name(name) else value
            for name, value in (self.connect_args.items() if isinstance(self.connect_args, Mapping) else ())
        }
        uri = redact_uri(self.uri) if isinstance(self.uri, str) else type(self.uri).__name__
        return f"SQLAlchemyConfig(uri={uri!r}, connect_args={shown!r}, secret_connect_args={self._secrets!r})"


def _merge_requests(requested: tuple[Secret, ...], extra: Iterable[Secret]) -> list[Secret]:
    # A secret counts as requested when group, key and version match, case-insensitively, as the
    # reader matches them; the user's own request (its mount, its env_var) is kept.
    def identity(secret: Secret) -> tuple[str, str, str]:
        return (secret.group.casefold(), secret.key.casefold(), (secret.group_version or "").casefold())

    merged = list(requested)
    seen = {identity(secret) for secret in merged}
    for secret in extra:
        if identity(secret) not in seen:
            seen.add(identity(secret))
            merged.append(secret)
    return merged


def _is_dataframe_type(kind: Any) -> bool:
    if kind is DATAFRAME:
        return True
    for klass in getattr(kind, "__mro__", ()):
        module = getattr(klass, "__module__", "")
        if klass.__name__ == "DataFrame" and module.split(".")[0] == "pandas":
            return True
        if klass.__name__ in _SCHEMA_TYPE_NAMES and module.split(".")[0] == "flytekit":
            return True
    return False


class SQLAlchemyTask(Task):
    """A task that runs one SQL statement through SQLAlchemy and returns its rows.

    - ``name``: the task's name;
    - ``query_template``: one SQL statement; ``{{ .inputs.<name> }}`` marks where an input's value
      goes, bound as an SQL parameter (see :mod:`tasksecrets.plugins.sql.template`);
    - ``task_config``: a :class:`SQLAlchemyConfig`;
    - ``inputs``: ``kwtypes(limit=int, ...)``, one per placeholder;
    - ``output_schema_type``: ``pandas.DataFrame`` (default), a flytekit schema type (also returns a
      DataFrame), or None to run the statement without fetching (the task returns None);
    - ``secret_requests``: more secrets to request; those of ``secret_connect_args`` are added to them.

    Calling it (``sql_query(limit=5)``) runs it through the current executor, like any task.
    """

    def __init__(
        self,
        name: str,
        *,
        query_template: str,
        task_config: SQLAlchemyConfig,
        inputs: Mapping[str, Any] | None = None,
        output_schema_type: Any = DATAFRAME,
        secret_requests: list[Secret] | None = None,
    ) -> None:
        owner = f"SQLAlchemyTask {name!r}"
        if not isinstance(task_config, SQLAlchemyConfig):
            raise TaskDeclarationError(
                f"{owner}: task_config must be a SQLAlchemyConfig, got {type(task_config).__name__}; "
                'e.g. task_config=SQLAlchemyConfig(uri="postgresql+psycopg://db.example:5432/app")'
            )
        if inputs is not None and not isinstance(inputs, Mapping):
            raise TaskDeclarationError(
                f"{owner}: inputs must name typed inputs, e.g. inputs=kwtypes(limit=int), "
                f"got {type(inputs).__name__}"
            )
        if output_schema_type is not None and not _is_dataframe_type(output_schema_type):
            raise TaskDeclarationError(
                f"{owner}: output_schema_type {output_schema_type!r} is not supported: use pandas.DataFrame "
                "(the default), a flytekit schema type (also returns a DataFrame), or None to run the "
                "statement without fetching rows"
            )
        requested = validate_secret_requests(secret_requests, owner=f"task {name!r}")
        self.task_config = task_config
        self.template: QueryTemplate = parse_query_template(
            query_template, inputs=list(inputs or {}), owner=owner
        )
        self.output_schema_type = output_schema_type
        super().__init__(
            name,
            secret_requests=_merge_requests(requested, task_config.secrets),
            inputs=dict(inputs or {}),
            outputs=output_schema_type,
        )

    @property
    def query_template(self) -> str:
        """The query template as declared."""
        return self.template.text

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = super().bind_inputs(args, kwargs)
        self._check_inputs(bound)
        return bound

    def _check_inputs(self, values: Mapping[str, Any]) -> None:
        for name, kind in self.inputs.items():
            if name not in values:
                raise TypeError(
                    f"task {self.name!r} needs input {name!r} (its inputs: {', '.join(self.inputs)})"
                )
            value = values[name]
            if not isinstance(kind, type) or kind is object:
                continue  # typing constructs (Optional[int], Any, ...) are not checked here
            if isinstance(value, kind) or (kind is float and type(value) is int):
                continue
            raise TypeError(
                f"task {self.name!r}: input {name!r} must be {kind.__name__}, got {type(value).__name__}"
            )

    def execute(self, **inputs: Any) -> Any:
        """Read the connection secrets, run the statement with the inputs bound, return the rows."""
        self._check_inputs(inputs)
        try:
            import sqlalchemy
            from sqlalchemy.pool import NullPool
        except ImportError as exc:
            raise TaskExecutionError(
                f"task {self.name!r} needs SQLAlchemy ({exc}): {_INSTALL_HINT}"
            ) from None
        connect_args, values = self._read_connect_args()
        values.extend(uri_secrets(self.task_config.uri))
        url_fields = {
            name: connect_args.pop(name) for name in URL_FIELDS if name in self.task_config._secrets
        }
        try:
            url = sqlalchemy.engine.make_url(self.task_config.uri)
            if "port" in url_fields:
                url_fields["port"] = int(url_fields["port"])
            url = url.set(**url_fields)
        except Exception as exc:
            raise TaskExecutionError(
                f"task {self.name!r}: the database URI {redact_uri(self.task_config.uri)!r} (with "
                f"{', '.join(url_fields) or 'no fields'} from secrets) is not valid ({type(exc).__name__}): "
                "write it as dialect+driver://host:port/database"
            ) from None
        database = describe_database(url)
        _LOG.debug("task %r connects to the %s", self.name, database)

        def fail(exc: BaseException, stage: str) -> NoReturn:
            raise_database_error(
                exc,
                task_name=self.name,
                database=database,
                stage=stage,
                secret_connect_args=self.task_config._secrets,
                values=values,
            )

        try:
            engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=NullPool)
        except ImportError as exc:
            raise TaskExecutionError(
                f"task {self.name!r}: the driver for the {database} is not installed ({exc}); "
                "install it (PostgreSQL: pip install 'tasksecrets[sql-postgres]' and a "
                "postgresql+psycopg:// URI)"
            ) from None
        except Exception as exc:
            fail(exc, "connect")
        try:
            try:
                connection = engine.connect()
            except Exception as exc:
                fail(exc, "connect")
            with connection:
                sql, params = render_sql(self.template, inputs)
                try:
                    with connection.begin():
                        result = connection.execute(sqlalchemy.text(sql), params)
                        if self.output_schema_type is None:
                            return None
                        columns = list(result.keys())
                        rows = [tuple(row) for row in result.fetchall()]
                except Exception as exc:
                    fail(exc, "query")
        finally:
            engine.dispose()
        try:
            import pandas
        except ImportError as exc:
            raise TaskExecutionError(f"task {self.name!r} needs pandas ({exc}): {_INSTALL_HINT}") from None
        return pandas.DataFrame.from_records(rows, columns=columns)

    def _read_connect_args(self) -> tuple[dict[str, Any], list[str]]:
        """The driver's connect arguments, secrets read now, and the secret values read (to mask)."""
        connect_args = dict(self.task_config.connect_args or {})
        reader = current_context().secrets
        running = current_running_task()
        read: dict[Secret, tuple[str, dict[str, str] | None]] = {}
        values: list[str] = []
        for name, secret in self.task_config._secrets.items():
            if secret not in read:
                raw = reader.get(secret.group, secret.key, secret.group_version)
                is_db = (secret.group_version or "").casefold() == DB_VERSION
                read[secret] = (raw, parse_credential_fields(raw) if is_db else None)
                values.append(raw)
            raw, fields = read[secret]
            value = pick_connect_arg(name, secret, raw, fields)
            if fields is not None:
                values.append(value)
                if running is not None:
                    running.mask.add(value)  # one field of a larger value: masked on its own too
            connect_args[name] = value
        return connect_args, values

    def __repr__(self) -> str:
        return f"SQLAlchemyTask(name={self.name!r}, module={self.module_name!r}, config={self.task_config!r})"
