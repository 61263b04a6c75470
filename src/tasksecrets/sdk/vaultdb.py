"""Read the fields of a secret rendered by the Vault agent's default template (the ``db`` engine).

A Vault secret requested with ``group_version="db"`` gets no template, so the agent writes every
field of the secret as ``<field>: <value>`` lines, sorted by field name; for the database engine
that is ``password: ...`` then ``username: ...``. ``secrets.get(group, key, "db")`` returns that
text; :func:`parse_default_rendering` turns it into a dict::

    creds = parse_default_rendering(current_context().secrets.get("database/creds/etl", "creds", "db"))
    connect(user=creds["username"], password=creds["password"])

Standard library only, like the rest of the SDK.
"""

from __future__ import annotations

from tasksecrets.errors import SecretError

__all__ = ["parse_default_rendering"]


def parse_default_rendering(text: str) -> dict[str, str]:
    """``{"field": "value", ...}`` from ``field: value`` lines; SecretError if a line is not one."""
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(": ")
        if not sep or not name or " " in name:
            # Never show the line: it may hold a value.
            raise SecretError(
                f"line {number} of the rendered Vault secret is not 'field: value'; was the secret "
                "requested with group_version='db' (the agent's default template)?"
            )
        fields[name] = value
    return fields
