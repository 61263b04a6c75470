"""Connect arguments from secrets, including Vault's database engine (``group_version="db"``).

Vault's database secrets engine hands out a username and a password together, as one secret: the
pair must come from one read, or a rotated password would meet the previous username. So one
``Secret(..., group_version="db")`` may feed several connect arguments: its value is read once and,
when it holds several fields, each argument takes the field of its name (``user`` also takes
``username``). Field sets understood: the Vault agent's default rendering (``password: ...`` and
``username: ...`` lines), a JSON object, and Go's ``map[password:... username:...]``. A value that is
none of these (a single secret) is used whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from tasksecrets.errors import SecretError
from tasksecrets.sdk.secret import Secret

__all__ = ["DB_VERSION", "parse_credential_fields", "pick_connect_arg"]

DB_VERSION = "db"
_CREDENTIAL_FIELDS = ("username", "password")
# Connect argument name -> field names that may supply it, in order of preference.
_FIELD_ALIASES = {"user": ("user", "username"), "username": ("username", "user")}
_LINE_RE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*[:=]\s?(.*?)\s*$")
_GO_MAP_RE = re.compile(r"^(?:data:\s*)?map\[(.*)\]$", re.DOTALL)


def parse_credential_fields(value: str) -> dict[str, str] | None:
    """The fields of a credentials value (username, password, ...), or None for a single value."""
    text = value.strip()
    fields: dict[str, str] | None = None
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            fields = {str(k): str(v) for k, v in loaded.items() if isinstance(v, (str, int))}
    if fields is None:
        go_map = _GO_MAP_RE.match(text)
        if go_map:
            fields = {}
            for item in go_map.group(1).split():
                name, sep, field_value = item.partition(":")
                if sep:
                    fields[name] = field_value
    if fields is None:
        lines = [line for line in text.splitlines() if line.strip()]
        matches = [_LINE_RE.match(line) for line in lines]
        if matches and all(matches):
            fields = {m.group(1): m.group(2) for m in matches if m is not None}
    if fields is None or not any(name in fields for name in _CREDENTIAL_FIELDS):
        return None
    return fields


def pick_connect_arg(name: str, secret: Secret, value: str, fields: Mapping[str, str] | None) -> str:
    """The value connect argument ``name`` takes from ``secret`` (whole, or one of its fields)."""
    if fields is None:
        return value
    for field in _FIELD_ALIASES.get(name, (name,)):
        if field in fields:
            return fields[field]
    raise SecretError(
        f"connect argument {name!r} comes from {secret!r}, which holds the fields "
        f"{', '.join(sorted(fields))} but none named {name!r}: name the argument after one of "
        "those fields in secret_connect_args"
    )
