"""Which task is running now: the state the reader consults on every read.

A :class:`RunningTask` exists while a task executes (see :func:`tasksecrets.sdk.context.task_context`).
It is held in a context variable, so concurrent tasks in threads or asyncio do not see each other;
under ``python -m tasksecrets execute`` the whole process is the task, so it is also set process-wide
(threads the task starts see it too).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from tasksecrets.sdk.masking import MaskScope
from tasksecrets.sdk.secret import Secret

if TYPE_CHECKING:
    from tasksecrets.sdk.task import Task

__all__ = ["RunningTask", "current_running_task"]


class RunningTask:
    """A task while it runs: what it may read, and the values masked in its logs."""

    def __init__(self, task: Task, *, in_pod: bool) -> None:
        self.task = task
        # True under the container entrypoint: like flytekit in a pod, the reader then skips the
        # unprefixed env var names it tries in local runs.
        self.in_pod = in_pod
        self.mask = MaskScope()
        # (group, key) case-folded -> versions requested (None: no version given)
        self._allowed: dict[tuple[str, str], set[str | None]] = {}
        for secret in task.secret_requests:
            versions = self._allowed.setdefault((secret.group.casefold(), secret.key.casefold()), set())
            versions.add(secret.group_version.casefold() if secret.group_version else None)

    def allows(self, group: str, key: str, group_version: str | None) -> bool:
        """Whether the task requested this secret.

        Matching ignores case, as secret names are case-insensitive (env names are upper-cased, file
        names lower-cased). A read without a version is allowed for any request of the group and key
        (it looks only at places named by the two). A read with a version is allowed only when a
        request gave that version: a version the request never named would widen it (GCP's file
        ``<dir>/<group>/<version>`` is another key's file for K8s, and a version is a path part).
        """
        versions = self._allowed.get((group.casefold(), key.casefold()))
        if versions is None:
            return False
        return not group_version or group_version.casefold() in versions

    @property
    def secret_requests(self) -> tuple[Secret, ...]:
        return self.task.secret_requests

    def __repr__(self) -> str:
        return f"RunningTask(task={self.task.name!r}, in_pod={self.in_pod})"


_current: ContextVar[RunningTask | None] = ContextVar("tasksecrets_running_task", default=None)
_process_task: list[RunningTask] = []


def current_running_task() -> RunningTask | None:
    """The task running in this context (or, under ``execute``, in this process), else None."""
    running = _current.get()
    if running is None and _process_task:
        return _process_task[-1]
    return running
