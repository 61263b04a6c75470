"""The Vault agent's default rendering (the ``db`` engine): ``<field>: <value>`` lines, and back.

A Vault secret requested with ``group_version="db"`` gets no template, so the agent writes every
field of the secret as ``<field>: <value>`` lines, sorted by field name; for the database engine
that is ``password: ...`` then ``username: ...``. ``secrets.get(group, key, "db")`` returns that
text; :func:`parse_default_rendering` turns it into a dict::

    from tasksecrets.managers.vault.rendering import parse_default_rendering

    creds = parse_default_rendering(current_context().secrets.get("database/creds/etl", "creds", "db"))
    connect(user=creds["username"], password=creds["password"])

:func:`render_default` writes it, as the local kubelet does when it renders without the agent.
Standard library only: tasks import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from tasksecrets.errors import SecretError

__all__ = ["format_value", "parse_default_rendering", "render_default"]

_SEPARATOR = ": "


def format_value(value: object) -> str:
    """A field's value as the agent's templates print it (Go's ``%v`` of Vault's JSON types)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def render_default(data: Mapping[str, object]) -> str:
    """The default rendering of a secret's fields: one ``field: value`` line each, sorted by field."""
    return "".join(f"{name}{_SEPARATOR}{format_value(value)}\n" for name, value in sorted(data.items()))


def parse_default_rendering(text: str) -> dict[str, str]:
    """``{"field": "value", ...}`` from ``field: value`` lines; SecretError if a line is not one."""
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(_SEPARATOR)
        if not sep or not name or " " in name:
            # Never show the line: it may hold a value.
            raise SecretError(
                f"line {number} of the rendered Vault secret is not 'field: value'; was the secret "
                "requested with group_version='db' (the agent's default template)?"
            )
        fields[name] = value
    return fields
