"""A task's result checked against its declared return type, output by output.

:func:`check_outputs` raises :class:`~tasksecrets.errors.TaskOutputError` naming the task, the
output (``o0``, ``o1``, ... by position; a ``NamedTuple``'s field name), where inside it (``o0[2]``,
``o0['total']``), the type found and the type declared. The rules are a type checker's, at run time:

- no annotation, ``Any``, a ``TypeVar`` or a name that could not be resolved: anything;
- ``-> None``: the task must return None;
- a class: ``isinstance``; ``float`` also takes an ``int``, ``complex`` an ``int`` or ``float``
  (PEP 484's numeric tower); ``bool`` passes for ``int``, as for every type checker;
- ``Optional[T]``, ``Union[...]``, ``X | Y``: one of them; ``Literal[...]``: one of the values;
  ``Annotated[T, ...]``: T; a ``NewType``: its base;
- ``list[T]``, ``set[T]``, ``frozenset[T]``, ``tuple[T, ...]``: the container and every item;
  ``tuple[A, B]``: that length and each item; ``dict[K, V]``: every key and value;
- a ``NamedTuple``: that many items (a plain tuple is fine), each by its field's annotation;
- abstract forms (``Iterable[T]``, ``Mapping[K, V]``, a runtime-checkable ``Protocol``): the
  ``isinstance`` check alone: their items are not consumed or checked.

The check visits each item once: its cost is the size of the result. :func:`output_items` names the
outputs the way the errors and ``tasksecrets run`` show them.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

from tasksecrets.errors import TaskOutputError

__all__ = ["check_outputs", "describe_type", "output_items", "output_names"]

_NUMERIC_TOWER: dict[type, tuple[type, ...]] = {float: (float, int), complex: (complex, float, int)}
_ITEM_CONTAINERS = (list, set, frozenset)


def describe_type(annotation: Any) -> str:
    """A short readable name of a type annotation (``int``, ``list[int]``, ``Optional[str]``)."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "Any"
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__qualname__
    return str(annotation).replace("typing.", "").replace("collections.abc.", "")


def _found(value: Any) -> str:
    return "None" if value is None else type(value).__qualname__


def _named_fields(annotation: Any) -> dict[str, Any] | None:
    # A NamedTuple class: its fields with their annotations, in order.
    if isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields"):
        hints = _hints(annotation)
        return {name: hints.get(name, Any) for name in annotation._fields}
    return None


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a forward reference that does not resolve: leave those fields unchecked
        return dict(getattr(cls, "__annotations__", {}))


def _fixed_tuple(annotation: Any) -> tuple[Any, ...] | None:
    # tuple[A, B] (not tuple[A, ...], not bare tuple): the declared type of each output.
    if typing.get_origin(annotation) is not tuple:
        return None
    args = typing.get_args(annotation)
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        return None
    return () if args == ((),) else args


def output_names(annotation: Any, count: int) -> list[str]:
    """The names of ``count`` outputs declared by ``annotation``: a NamedTuple's fields, else o0, o1..."""
    fields = _named_fields(annotation)
    if fields is not None and len(fields) == count:
        return list(fields)
    return [f"o{index}" for index in range(count)]


def output_items(annotation: Any, result: Any) -> list[tuple[str, Any]]:
    """``result`` as named outputs: none for None, one per item of a tuple, else one (``o0``)."""
    if result is None and annotation in (None, type(None)):
        return []
    if isinstance(result, tuple):
        return list(zip(output_names(annotation, len(result)), result, strict=True))
    return [("o0", result)]


def check_outputs(task_name: str, annotation: Any, result: Any) -> None:
    """Raise TaskOutputError unless ``result`` fits ``annotation`` (see the module docstring)."""
    fields = _named_fields(annotation)
    declared = list(fields.values()) if fields is not None else _fixed_tuple(annotation)
    if declared is not None:
        if not isinstance(result, tuple):
            _refuse(task_name, "result", result, annotation, whole=annotation)
        if len(result) != len(declared):
            raise TaskOutputError(
                f"task {task_name!r} returned {len(result)} outputs, but its return annotation "
                f"{describe_type(annotation)} declares {len(declared)}: return one value per output"
            )
        for name, value, expected in zip(
            output_names(annotation, len(result)), result, declared, strict=True
        ):
            _check(task_name, name, value, expected, whole=annotation)
        return
    _check(task_name, "o0", result, annotation, whole=annotation)


def _refuse(task_name: str, subject: str, value: Any, expected: Any, *, whole: Any) -> typing.NoReturn:
    context = "" if expected is whole else f" (its return annotation is {describe_type(whole)})"
    raise TaskOutputError(
        f"task {task_name!r} {subject} is {_a(_found(value))}, but {describe_type(expected)} is declared"
        f"{context}: return a value of that type, or change the task's return annotation"
    )


def _a(name: str) -> str:
    return name if name == "None" else f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _check(task_name: str, where: str, value: Any, expected: Any, *, whole: Any) -> None:
    problem = _first_mismatch(value, expected, where)
    if problem is not None:
        at, found, wanted = problem
        _refuse(task_name, f"output {at}", found, wanted, whole=whole)


def _first_mismatch(value: Any, expected: Any, where: str) -> tuple[str, Any, Any] | None:
    # (where, the value found, the type wanted there) for the first item that does not fit.
    if expected is None or expected is Any or isinstance(expected, (str, typing.TypeVar)):
        return None
    if expected is type(None):
        return None if value is None else (where, value, expected)
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if origin is typing.Annotated:
        return _first_mismatch(value, args[0], where)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if any(_first_mismatch(value, option, where) is None for option in args):
            return None
        return (where, value, expected)
    if origin is typing.Literal:
        return (
            None
            if any(value == option and type(value) is type(option) for option in args)
            else (
                where,
                value,
                expected,
            )
        )
    supertype = getattr(expected, "__supertype__", None)
    if supertype is not None:  # a NewType
        return _first_mismatch(value, supertype, where)
    fields = _named_fields(expected)
    if fields is not None:
        return _check_items(value, list(fields.values()), where, expected, names=list(fields))
    cls = origin if origin is not None else expected
    if not isinstance(cls, type):
        return None  # a typing form this check does not know: leave it to the task
    if getattr(cls, "_is_protocol", False) and not getattr(cls, "_is_runtime_protocol", False):
        return None
    if not isinstance(value, _NUMERIC_TOWER.get(cls, cls)):
        return (where, value, expected)
    if not args:
        return None
    return _check_contents(value, cls, args, where, expected)


def _check_contents(
    value: Any, cls: type, args: tuple[Any, ...], where: str, expected: Any
) -> tuple[str, Any, Any] | None:
    if cls is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _check_each(value, args[0], where)
        return _check_items(value, [] if args == ((),) else list(args), where, expected, names=None)
    if cls in _ITEM_CONTAINERS:
        return _check_each(value, args[0], where)
    if cls is dict and len(args) == 2:
        for key, item in value.items():
            found = _first_mismatch(key, args[0], f"{where} key {key!r}") or _first_mismatch(
                item, args[1], f"{where}[{key!r}]"
            )
            if found is not None:
                return found
    return None  # abstract collections: not consumed (an iterator would be used up)


def _check_each(value: Any, expected: Any, where: str) -> tuple[str, Any, Any] | None:
    ordered = isinstance(value, collections.abc.Sequence)
    for index, item in enumerate(value):
        found = _first_mismatch(item, expected, f"{where}[{index}]" if ordered else f"{where} item {item!r}")
        if found is not None:
            return found
    return None


def _check_items(
    value: Any, declared: list[Any], where: str, expected: Any, *, names: list[str] | None
) -> tuple[str, Any, Any] | None:
    if not isinstance(value, tuple) or len(value) != len(declared):
        return (where, value, expected)
    for index, (item, item_type) in enumerate(zip(value, declared, strict=True)):
        label = f"{where}.{names[index]}" if names else f"{where}[{index}]"
        found = _first_mismatch(item, item_type, label)
        if found is not None:
            return found
    return None
