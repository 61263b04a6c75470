"""Workflows: a function that calls tasks and returns their outputs, made by ``@workflow``.

A workflow's body runs in the calling process; each task it calls goes through the current
executor, so the same workflow runs its tasks in-process (default) or as pods under the local
cluster. The body itself is not a task: it requests no secrets and should read none.

:func:`referenced_tasks` finds, without running anything, the tasks a workflow's body names (and
those of the workflows it names, of its nested functions and of the modules it reaches through):
``tasksecrets run`` checks their secrets before the first task runs and counts what is left to do.
A task reached another way (passed in, looked up by name at run time) is simply found when it runs.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

from tasksecrets.errors import TaskDeclarationError
from tasksecrets.sdk.task import Task, _type_hints

__all__ = ["Workflow", "referenced_tasks", "workflow"]

F = TypeVar("F", bound=Callable[..., Any])


class Workflow:
    """A workflow: ``name``, ``fn``, ``module_name``, ``module_file``, ``inputs``, ``outputs``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn) or isinstance(fn, (Task, Workflow)):
            raise TaskDeclarationError(f"@workflow decorates a function, got {type(fn).__name__}")
        self.fn = fn
        self.name: str = getattr(fn, "__name__", type(fn).__name__)
        self.module_name: str = getattr(fn, "__module__", None) or "__main__"
        path = getattr(sys.modules.get(self.module_name), "__file__", None)
        self.module_file: str | None = os.path.abspath(path) if isinstance(path, str) else None
        self._signature = inspect.signature(fn)
        hints = _type_hints(fn)
        self.inputs: dict[str, Any] = {
            name: hints.get(name, Any if p.annotation is inspect.Parameter.empty else p.annotation)
            for name, p in self._signature.parameters.items()
        }
        self.outputs: Any = hints.get("return", None)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"workflow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return self.fn(*bound.args, **bound.kwargs)

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, module={self.module_name!r})"


@overload
def workflow(fn: F, /) -> Workflow: ...


@overload
def workflow(fn: None = None, /) -> Callable[[Callable[..., Any]], Workflow]: ...


def workflow(fn: Callable[..., Any] | None = None, /) -> Workflow | Callable[[Callable[..., Any]], Workflow]:
    """Declare a function as a workflow: ``@workflow`` or ``@workflow()``."""
    if fn is None:
        return Workflow
    return Workflow(fn)


def referenced_tasks(entity: Workflow | Task) -> list[Task]:
    """The tasks ``entity`` names, in the order first named (a task: itself); see the module docstring."""
    if isinstance(entity, Task):
        return [entity]
    found: dict[int, Task] = {}
    seen: set[int] = set()

    def visit_function(fn: Any) -> None:
        code = getattr(fn, "__code__", None)
        if not isinstance(code, types.CodeType) or id(code) in seen:
            return
        cells = [c.cell_contents for c in getattr(fn, "__closure__", None) or () if _filled(c)]
        visit_code(code, getattr(fn, "__globals__", {}), cells)

    def visit_code(code: types.CodeType, namespace: dict[str, Any], extra: list[Any]) -> None:
        seen.add(id(code))
        named = [namespace.get(name) for name in code.co_names] + extra
        modules = [obj for obj in named if isinstance(obj, types.ModuleType)]
        named += [getattr(module, name, None) for module in modules for name in code.co_names]
        for obj in named:
            if isinstance(obj, Task):
                found.setdefault(id(obj), obj)
            elif isinstance(obj, Workflow):
                visit_function(obj.fn)
        for const in code.co_consts:
            if isinstance(const, types.CodeType) and id(const) not in seen:
                visit_code(const, namespace, [])

    visit_function(entity.fn)
    return list(found.values())


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises ValueError)
    except ValueError:
        return False
    return True
