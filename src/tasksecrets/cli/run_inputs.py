"""``tasksecrets run -i name=value``: turn command-line text into a workflow's or task's typed inputs.

Each value is parsed by its declared type: ``str`` as is; ``int``, ``float``; ``bool`` from
true/false, yes/no, on/off, 1/0; ``bytes`` as UTF-8; an ``Enum`` by member name or value; ``list``,
``dict``, ``tuple``, ``set`` (and their generic forms) from JSON; ``Optional[T]`` from ``none``/``null``
or a T; unannotated or ``Any`` from JSON when it parses, else the text. Errors are
:class:`click.UsageError`, saying which input, what type it expects and how to pass it.
"""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import click

__all__ = ["parse_inputs", "parse_value"]

_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}
_JSON_CONTAINERS: dict[Any, type] = {list: list, dict: dict, tuple: tuple, set: set, frozenset: frozenset}


def type_name(annotation: Any) -> str:
    """A short readable name of a type annotation."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "any"
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def parse_value(text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation``; ValueError saying why not."""
    if annotation is Any or annotation is inspect.Parameter.empty or annotation is None:
        try:
            return json.loads(text)
        except ValueError:
            return text
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and text.strip().lower() in ("none", "null"):
            return None
        problems = []
        for option in options:
            if option is type(None):
                continue
            try:
                return parse_value(text, option)
            except ValueError as exc:
                problems.append(str(exc))
        raise ValueError("; ".join(problems) or "no type fits")
    if annotation is str:
        return text
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError("use true or false")
    if annotation is int:
        return int(text)
    if annotation is float:
        return float(text)
    if annotation is bytes:
        return text.encode("utf-8")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _parse_enum(text, annotation)
    container = _JSON_CONTAINERS.get(origin or annotation)
    if container is not None:
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f"give it as JSON, e.g. {'{}' if container is dict else '[]'}") from None
        wanted = dict if container is dict else list
        if not isinstance(value, wanted):
            raise ValueError(f"the JSON must be {'an object' if wanted is dict else 'an array'}")
        return value if container in (list, dict) else container(value)
    raise ValueError("this type cannot be given on the command line; call the workflow from Python instead")


def _parse_enum(text: str, annotation: type[enum.Enum]) -> enum.Enum:
    if text in annotation.__members__:
        return annotation[text]
    for member in annotation:
        if str(member.value) == text:
            return member
    raise ValueError(f"use one of {', '.join(annotation.__members__)}")


def parse_inputs(
    given: tuple[str, ...], declared: Mapping[str, Any], *, fn: Callable[..., Any] | None, owner: str
) -> dict[str, Any]:
    """The ``-i name=value`` options as keyword arguments for ``owner`` (a workflow or task)."""
    parameters = inspect.signature(fn).parameters if fn is not None else {}
    values: dict[str, Any] = {}
    for item in given:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.UsageError(f"-i {item!r}: write each input as NAME=VALUE, e.g. -i limit=10")
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise click.UsageError(f"{owner} has no input {name!r}; its inputs: {known}")
        if name in values:
            raise click.UsageError(f"input {name!r} is given twice; give it once")
        annotation = declared[name]
        try:
            values[name] = parse_value(text, annotation)
        except ValueError as exc:
            raise click.UsageError(
                f"input {name!r} expects {type_name(annotation)}, got {text!r}: {exc}"
            ) from None
    missing = [
        name
        for name in declared
        if name not in values
        and (name not in parameters or parameters[name].default is inspect.Parameter.empty)
    ]
    if missing:
        wanted = " ".join(f"-i {name}=<{type_name(declared[name])}>" for name in missing)
        raise click.UsageError(f"{owner} needs input{'s' if len(missing) > 1 else ''}: pass {wanted}")
    return values
