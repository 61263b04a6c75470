"""Database URIs shown without passwords, and driver errors turned into masked task errors.

:func:`redact_uri` works on the text alone (no SQLAlchemy import), for reprs and declaration
messages; :func:`describe_database` uses SQLAlchemy's own URL rendering (``hide_password``) at run
time. :func:`raise_database_error` re-raises a driver error as a :class:`TaskExecutionError` whose
message names the database and the secrets that supplied the connect arguments, with every secret
value (and the URI's own password) masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from tasksecrets.errors import TaskExecutionError
from tasksecrets.sdk.masking import mask_values
from tasksecrets.sdk.secret import Secret

__all__ = [
    "describe_database",
    "describe_secret_args",
    "is_sensitive_name",
    "raise_database_error",
    "redact_uri",
    "uri_secrets",
]

HIDDEN = "***"  # what SQLAlchemy's URL rendering puts in place of a password
_USERINFO_PASSWORD_RE = re.compile(r"^(?P<head>[^:/?#]+://[^/?#@:]*:)(?P<password>[^/?#]*)(?P<tail>@)")
_QUERY_SECRET_RE = re.compile(
    r"(?P<head>[?&][^=&#]*(?:pass|pwd|secret|token|key)[^=&#]*=)(?P<value>[^&#]*)", re.IGNORECASE
)
_SENSITIVE_RE = re.compile(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)
_BACKGROUND_RE = re.compile(r"\s*\(Background on this error at: [^)]*\)\s*$")


def is_sensitive_name(name: str) -> bool:
    """Whether a connect argument's name suggests a credential (its value is then never shown)."""
    return bool(_SENSITIVE_RE.search(name))


def redact_uri(uri: str) -> str:
    """``uri`` with the password (and query parameters such as ``password=``) replaced by ``***``."""
    redacted = _USERINFO_PASSWORD_RE.sub(lambda m: f"{m['head']}{HIDDEN}{m['tail']}", uri, count=1)
    return _QUERY_SECRET_RE.sub(lambda m: f"{m['head']}{HIDDEN}", redacted)


def uri_secrets(uri: str) -> list[str]:
    """The password and secret-looking query values written in ``uri`` itself (to mask them)."""
    found = []
    match = _USERINFO_PASSWORD_RE.match(uri)
    if match and match["password"]:
        found.append(match["password"])
        from urllib.parse import unquote

        found.append(unquote(match["password"]))
    found.extend(m["value"] for m in _QUERY_SECRET_RE.finditer(uri) if m["value"])
    return found


def describe_database(url: Any) -> str:
    """``database 'appdb' on db.example:5432 (postgresql+psycopg://alice:***@db.example:5432/appdb)``.

    ``url`` is a ``sqlalchemy.engine.URL``; its password is rendered as ``***``.
    """
    rendered = redact_uri(url.render_as_string(hide_password=True))
    where = url.host or ""
    if where and url.port:
        where = f"{where}:{url.port}"
    name = f"database {url.database!r}" if url.database else "database"
    return f"{name} on {where} ({rendered})" if where else f"{name} ({rendered})"


def describe_secret_args(secret_connect_args: Mapping[str, Secret]) -> str:
    """``password=Secret(group='db', key='password'), user=...`` for error messages."""
    return ", ".join(f"{name}={secret!r}" for name, secret in secret_connect_args.items())


def _driver_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = _BACKGROUND_RE.sub("", text)
    if not text.startswith("(") and type(exc).__module__ not in ("builtins",):
        text = f"({type(exc).__module__}.{type(exc).__name__}) {text}"
    elif type(exc).__module__ == "builtins":
        text = f"({type(exc).__name__}) {text}"
    return text


def raise_database_error(
    exc: BaseException,
    *,
    task_name: str,
    database: str,
    stage: str,
    secret_connect_args: Mapping[str, Secret],
    values: Iterable[str | bytes],
) -> NoReturn:
    """Re-raise ``exc`` as a TaskExecutionError naming ``database`` and the secrets, values masked.

    ``stage`` is ``"connect"`` or ``"query"``; ``values`` are the secret values (and URI password) to
    mask, on top of every value the running task has read.
    """
    detail = mask_values(list(values), _driver_message(exc))
    if stage == "connect":
        message = f"task {task_name!r} could not connect to the {database}: {detail}"
        if secret_connect_args:
            message += (
                f"\nIts connect arguments came from the secrets {describe_secret_args(secret_connect_args)}: "
                "check that they hold valid credentials for this database"
            )
    else:
        message = f"task {task_name!r}: the query failed on the {database}: {detail}"
    # The original exception is dropped (``from None``): its text, arguments or traceback may carry
    # the very values masked above.
    raise TaskExecutionError(mask_values(list(values), message)) from None
