"""The values codec: task inputs and outputs as JSON, between a runner and a task's process.

JSON-able values (None, bool, int, float, str, lists, dicts with string keys) are written as they
are. Other values are wrapped in a tagged object ``{"__tasksecrets__": <tag>, ...}``:

- ``tuple``: ``{"items": [...]}``, so tuples come back as tuples (tasks return them);
- ``bytes``: ``{"base64": "..."}``;
- ``dict`` that holds the tag key itself: ``{"items": {...}}``, so it is not mistaken for a tag;
- anything else (a pandas DataFrame, a dataclass, ...): ``{"pickle": "<base64>"}``.

Pickle runs code when loaded: only load values written by a process you trust (the task you ran).
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["TAG", "dump_value", "load_value", "read_values", "write_values"]

TAG = "__tasksecrets__"


def dump_value(value: Any) -> Any:
    """``value`` as a JSON-able object (see the module docstring for the tags)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [dump_value(item) for item in value]
    if type(value) is tuple:
        return {TAG: "tuple", "items": [dump_value(item) for item in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        items = {k: dump_value(v) for k, v in value.items()}
        return {TAG: "dict", "items": items} if TAG in value else items
    if type(value) is bytes:
        return {TAG: "bytes", "base64": base64.b64encode(value).decode("ascii")}
    import pickle

    return {TAG: "pickle", "pickle": base64.b64encode(pickle.dumps(value)).decode("ascii")}


def load_value(obj: Any) -> Any:
    """The value :func:`dump_value` turned into ``obj``."""
    if type(obj) is list:
        return [load_value(item) for item in obj]
    if type(obj) is not dict:
        return obj
    tag = obj.get(TAG)
    if tag is None:
        return {k: load_value(v) for k, v in obj.items()}
    if tag == "tuple":
        return tuple(load_value(item) for item in obj["items"])
    if tag == "dict":
        return {k: load_value(v) for k, v in obj["items"].items()}
    if tag == "bytes":
        return base64.b64decode(obj["base64"])
    if tag == "pickle":
        import pickle

        return pickle.loads(base64.b64decode(obj["pickle"]))
    raise ValueError(f"unknown value tag {tag!r}: the file was written by another version of tasksecrets")


def write_values(path: str, value: Any) -> None:
    """Write ``value`` to ``path`` as JSON (tagged where needed)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dump_value(value), handle)


def read_values(path: str) -> Any:
    """Read a value :func:`write_values` wrote."""
    with open(path, encoding="utf-8") as handle:
        return load_value(json.load(handle))
