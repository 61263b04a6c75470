"""Tasks: the unit of work that requests secrets, and the ``@task`` decorator.

:class:`Task` is the base class every kind of task shares (a Python function, a SQL template, ...):
a name, the secrets it requests, typed inputs and outputs, and ``execute(**inputs)`` which does the
work. Calling a task never runs ``execute`` directly: it hands the task and its inputs to the current
executor (:mod:`tasksecrets.sdk.executor`), which runs it in-process by default, or in a pod-like child
process under the local cluster.
"""

from __future__ import annotations

import inspect
import os
import sys
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from tasksecrets.errors import TaskDeclarationError
from tasksecrets.sdk.secret import Secret

__all__ = ["PythonFunctionTask", "Task", "kwtypes", "task", "validate_secret_requests"]

F = TypeVar("F", bound=Callable[..., Any])


def kwtypes(**kwargs: type | Any) -> dict[str, Any]:
    """Name typed inputs or outputs in order, e.g. ``kwtypes(limit=int, name=str)``."""
    return dict(kwargs)


def validate_secret_requests(secret_requests: object, *, owner: str) -> tuple[Secret, ...]:
    """Check that ``secret_requests`` is a list of :class:`Secret` and return it as a tuple.

    Refused with a :class:`TaskDeclarationError` that names what was given: a single Secret, a string,
    a set (whose order would not be stable), or a list holding anything but Secret objects.
    """
    if secret_requests is None:
        return ()
    if not isinstance(secret_requests, (list, tuple)):
        hint = (
            f"wrap it in a list: secret_requests=[{secret_requests!r}]"
            if isinstance(secret_requests, Secret)
            else 'e.g. secret_requests=[Secret(group="user-info", key="user_secret")]'
        )
        raise TaskDeclarationError(
            f"{owner}: secret_requests must be a list of Secret, got {type(secret_requests).__name__}; {hint}"
        )
    env_vars: dict[str, Secret] = {}
    for index, item in enumerate(secret_requests):
        if not isinstance(item, Secret):
            shown = f" {item!r}" if isinstance(item, str) and len(item) <= 80 else ""
            raise TaskDeclarationError(
                f"{owner}: secret_requests[{index}] must be a Secret, got {type(item).__name__}{shown}; "
                'declare it as Secret(group="<group>", key="<key>")'
            )
        if item.env_var:
            other = env_vars.setdefault(item.env_var, item)
            if other is not item and (other.group, other.key) != (item.group, item.key):
                raise TaskDeclarationError(
                    f"{owner}: env_var {item.env_var!r} is requested by both {other!r} and {item!r}; "
                    "give each secret its own env_var"
                )
    return tuple(secret_requests)


class Task:
    """A unit of work with a name, secret requests, typed inputs and outputs.

    Subclasses implement :meth:`execute`. Attributes others rely on:

    - ``name``: the task's name (a function task's function name), unique within its module;
    - ``fn``: the Python function, or None for tasks that are not functions;
    - ``module_file``: absolute path of the file that defines the task, or None (interactive);
    - ``module_name``: the defining module's name (``__main__`` for a script);
    - ``secret_requests``: the requested secrets, in declaration order;
    - ``inputs``: input names to types, in order; ``outputs``: the return type (None when nothing).
    """

    name: str
    fn: Callable[..., Any] | None
    module_file: str | None
    module_name: str
    secret_requests: tuple[Secret, ...]
    inputs: dict[str, Any]
    outputs: Any

    def __init__(
        self,
        name: str,
        *,
        secret_requests: Iterable[Secret] | None = None,
        inputs: dict[str, Any] | None = None,
        outputs: Any = None,
        module_name: str | None = None,
        module_file: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TaskDeclarationError(f"a task needs a non-empty name, got {name!r}")
        self.name = name
        self.fn = None
        self.secret_requests = validate_secret_requests(secret_requests, owner=f"task {name!r}")
        self.inputs = dict(inputs or {})
        self.outputs = outputs
        if module_name is None:
            module_name = _find_caller_module()
        self.module_name = module_name
        self.module_file = module_file if module_file is not None else _module_file(module_name)

    def execute(self, **inputs: Any) -> Any:
        """Do the task's work with its inputs; runs inside a task context set up by the executor."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(**inputs)")

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Map a call's positional and keyword arguments onto the task's input names."""
        names = list(self.inputs)
        if len(args) > len(names):
            raise TypeError(
                f"task {self.name!r} takes {len(names)} inputs ({', '.join(names)}), got {len(args)}"
            )
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key in bound:
                raise TypeError(f"task {self.name!r} got input {key!r} twice")
            if names and key not in self.inputs:
                raise TypeError(f"task {self.name!r} has no input {key!r}; its inputs are {names}")
            bound[key] = value
        return bound

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tasksecrets.sdk.executor import get_executor

        return get_executor().run_task(self, self.bind_inputs(args, kwargs))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, module={self.module_name!r})"


class PythonFunctionTask(Task):
    """A task whose work is a Python function, as made by ``@task``."""

    fn: Callable[..., Any]

    def __init__(self, fn: Callable[..., Any], *, secret_requests: Iterable[Secret] | None = None) -> None:
        if not callable(fn):
            raise TaskDeclarationError(f"@task decorates a function, got {type(fn).__name__}")
        name = getattr(fn, "__name__", None) or type(fn).__name__
        module_name = getattr(fn, "__module__", None) or "__main__"
        self._signature = inspect.signature(fn)
        hints = _type_hints(fn)
        inputs = {
            param: hints.get(param, Any if p.annotation is inspect.Parameter.empty else p.annotation)
            for param, p in self._signature.parameters.items()
        }
        outputs = hints.get("return", None)
        super().__init__(
            name,
            secret_requests=secret_requests,
            inputs=inputs,
            outputs=outputs,
            module_name=module_name,
        )
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"task {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def execute(self, **inputs: Any) -> Any:
        return self.fn(**inputs)


@overload
def task(fn: F, /) -> PythonFunctionTask: ...


@overload
def task(
    fn: None = None, /, *, secret_requests: list[Secret] | None = None
) -> Callable[[Callable[..., Any]], PythonFunctionTask]: ...


def task(
    fn: Callable[..., Any] | None = None, /, *, secret_requests: list[Secret] | None = None
) -> PythonFunctionTask | Callable[[Callable[..., Any]], PythonFunctionTask]:
    """Declare a function as a task, optionally with the secrets it needs.

    ``@task`` or ``@task(secret_requests=[Secret(group=..., key=...)])``. The requests are checked
    here, at declaration: anything but a list of Secret is refused with a TaskDeclarationError.
    """
    if fn is not None:
        if isinstance(fn, (list, tuple, Secret)):
            raise TaskDeclarationError(
                "@task got secret requests as a positional argument; "
                "pass them by keyword: @task(secret_requests=[...])"
            )
        return PythonFunctionTask(fn, secret_requests=secret_requests)
    requests = validate_secret_requests(secret_requests, owner="@task")

    def decorate(func: Callable[..., Any]) -> PythonFunctionTask:
        return PythonFunctionTask(func, secret_requests=requests)

    return decorate


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    # Postponed annotations (``from __future__ import annotations``) are strings: resolve them when
    # possible, and keep the raw annotation when a name cannot be resolved rather than failing.
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return dict(getattr(fn, "__annotations__", {}))


def _module_file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) else None


def _find_caller_module() -> str:
    # A task object built by library code (a plugin's Task subclass) belongs to the user's module
    # that instantiated it: the first frame outside the tasksecrets package.
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name == "tasksecrets" or name.startswith("tasksecrets.")):
            return str(name)
        frame = frame.f_back  # type: ignore[assignment]
    return "__main__"
