"""tasksecrets: request secrets in Python tasks and read them at run time.

What a task author imports::

    from tasksecrets import Secret, current_context, task, workflow

Helpers for tests live in :mod:`tasksecrets.testing`; the exception tree in :mod:`tasksecrets.errors`.
Importing this package loads only the SDK (standard library only), so it stays fast.
"""

from tasksecrets.sdk.context import ExecutionParameters, current_context
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.task import Task, kwtypes, task
from tasksecrets.sdk.workflow import Workflow, workflow

__all__ = [
    "ExecutionParameters",
    "Secret",
    "Task",
    "Workflow",
    "current_context",
    "kwtypes",
    "task",
    "workflow",
]
