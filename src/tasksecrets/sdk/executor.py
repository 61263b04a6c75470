"""The executor seam: every task call goes through the current executor.

The default :class:`InProcessExecutor` runs the task in this process, inside a task context
(least privilege, ``env_var`` exports, log masking), and checks its result against its return
annotation as the local cluster does (:mod:`tasksecrets.sdk.outputs`), so a workflow that passes its
tests in-process does not fail on the cluster for a wrong type. The local cluster swaps in its own executor,
which renders the task's pod, mutates it and runs ``python -m tasksecrets execute ...`` in a child
process; a Kubernetes executor can do the same without the SDK changing.

The current executor is process-wide (not per thread), so a workflow's tasks use the same
executor whichever thread calls them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tasksecrets.sdk.task import Task

__all__ = ["Executor", "InProcessExecutor", "get_executor", "set_executor", "use_executor"]


@runtime_checkable
class Executor(Protocol):
    """Runs one task with its inputs and returns the task's outputs."""

    def run_task(self, task: Task, inputs: dict[str, Any]) -> Any:
        """Run ``task`` with ``inputs`` (input name -> value) and return what it returns."""
        ...


class InProcessExecutor:
    """Runs tasks in the calling process, each within its own task context."""

    def run_task(self, task: Task, inputs: dict[str, Any]) -> Any:
        from tasksecrets.sdk.context import task_context
        from tasksecrets.sdk.outputs import check_outputs

        with task_context(task, export_mode="restore"):
            result = task.execute(**inputs)
        check_outputs(task.name, task.outputs, result)
        return result

    def __repr__(self) -> str:
        return "InProcessExecutor()"


_lock = threading.Lock()
_current: Executor = InProcessExecutor()


def get_executor() -> Executor:
    """The executor that task calls go through now."""
    return _current


def set_executor(executor: Executor) -> Executor:
    """Make ``executor`` the current one; returns the previous executor (to restore it later)."""
    global _current
    if not callable(getattr(executor, "run_task", None)):
        raise TypeError(f"an executor needs a run_task(task, inputs) method, got {type(executor).__name__}")
    with _lock:
        previous, _current = _current, executor
    return previous


@contextmanager
def use_executor(executor: Executor) -> Iterator[Executor]:
    """Run task calls of the ``with`` block through ``executor``, then restore the previous one."""
    previous = set_executor(executor)
    try:
        yield executor
    finally:
        set_executor(previous)
