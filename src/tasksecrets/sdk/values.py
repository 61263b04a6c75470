"""The values codec: task inputs and outputs as JSON, between a runner and a task's process.

JSON-able values (None, bool, int, float, str, lists, dicts with string keys) are written as they
are. Other values are wrapped in a tagged object ``{"__tasksecrets__": <tag>, ...}``:

- ``tuple``: ``{"items": [...]}``, so tuples come back as tuples (tasks return them);
- ``bytes``: ``{"base64": "..."}``;
- ``dict`` that holds the tag key itself: ``{"items": {...}}``, so it is not mistaken for a tag;
- anything else (a pandas DataFrame, a dataclass, ...): ``{"pickle": "<base64>"}``.

Pickle runs code when loaded: only load values written by a process you trust (the task you ran).

A task's process that fails tells its runner why through a *failure file* (:func:`write_failure`,
:func:`read_failure`), named by :data:`FAILURE_FILE_VAR` in its environment: the runner streams what the
task prints as it comes, and shows the reason once, apart from it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAILURE_FILE_VAR",
    "TAG",
    "Failure",
    "dump_value",
    "first_unencodable",
    "load_value",
    "read_failure",
    "read_values",
    "write_failure",
    "write_values",
]

TAG = "__tasksecrets__"
# Set by the local runner in a task's environment: where the entrypoint writes why the task failed.
FAILURE_FILE_VAR = "TASKSECRETS_FAILURE_FILE"


@dataclass(frozen=True)
class Failure:
    """Why a task's process failed: ``message`` (masked) and whether it is the task's own traceback."""

    message: str
    traceback: bool = False


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


def first_unencodable(items: Iterable[tuple[str, Any]]) -> tuple[str, Any] | None:
    """The first ``(name, value)`` of ``items`` that :func:`dump_value` refuses, or None."""
    for name, value in items:
        try:
            dump_value(value)
        except Exception:  # TypeError, PicklingError, AttributeError (a local class), ...
            return name, value
    return None


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


def write_failure(path: str, failure: Failure) -> None:
    """Write ``failure`` to ``path`` (the message must be masked already)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"message": failure.message, "traceback": failure.traceback}, handle)


def read_failure(path: str) -> Failure | None:
    """The failure :func:`write_failure` wrote to ``path``, or None when there is none to read."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), str):
        return None
    return Failure(raw["message"], traceback=raw.get("traceback") is True)
