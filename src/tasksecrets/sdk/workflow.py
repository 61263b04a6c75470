"""Workflows: a function that calls tasks and returns their outputs, made by ``@workflow``.

A workflow's body runs in the calling process; each task it calls goes through the current
executor, so the same workflow runs its tasks in-process (default) or as pods under the local
cluster. The body itself is not a task: it requests no secrets and should read none.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar, overload

from tasksecrets.errors import TaskDeclarationError
from tasksecrets.sdk.task import Task, _type_hints

__all__ = ["Workflow", "workflow"]

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
