"""``current_context()`` and the task context every executor runs a task in.

:func:`task_context` is what makes a task run "as a task", in-process or in a pod:

- least privilege: the reader refuses secrets the task did not request;
- masking: every requested secret that can be found, and every value the task reads, is masked in
  log records until the task ends;
- ``env_var``: a request with ``env_var="MY_VAR"`` is visible as ``os.environ["MY_VAR"]``: the value
  for ENV_VAR and ANY mounts, the file path for FILE mounts (a private temporary file when the
  value was found only in an env var). A secret that cannot be found leaves its env_var unset.
  In a pod, where the managers deliver ANY as a file and set env_var to its path (Flyte's pod
  shape), the entrypoint replaces that path with the value before the task's code starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from tasksecrets.errors import SecretError
from tasksecrets.sdk.masking import install_log_masking
from tasksecrets.sdk.secret import MountType, Secret
from tasksecrets.sdk.secrets import SecretsManager, find_secret
from tasksecrets.sdk.state import RunningTask, _current, _process_task, current_running_task

if TYPE_CHECKING:
    from tasksecrets.sdk.task import Task

__all__ = ["ExecutionParameters", "current_context", "task_context"]

_LOGGER_NAME = "tasksecrets.task"


class ExecutionParameters:
    """What a running task can ask about its execution: ``secrets``, ``task_name``, ``logging``."""

    def __init__(self, secrets: SecretsManager | None = None) -> None:
        self.secrets = secrets if secrets is not None else SecretsManager()

    @property
    def task_name(self) -> str | None:
        """The name of the task running now, or None outside any task."""
        running = current_running_task()
        return running.task.name if running is not None else None

    @property
    def logging(self) -> logging.Logger:
        """A logger for the task's own messages (masked like every other logger)."""
        return logging.getLogger(_LOGGER_NAME)

    def __repr__(self) -> str:
        return f"ExecutionParameters(task_name={self.task_name!r})"


_parameters = ExecutionParameters()


def current_context() -> ExecutionParameters:
    """The execution parameters of the running task (or of the process, outside any task)."""
    return _parameters


def _exported_value(secret: Secret, found: tuple[str | bytes, str | None], temp_dir: list[str]) -> str:
    value, path = found
    if secret.mount_requirement is MountType.FILE:
        if path is not None:
            return path
        import tempfile

        if not temp_dir:
            temp_dir.append(tempfile.mkdtemp(prefix="tasksecrets-"))
        fd, file_path = tempfile.mkstemp(dir=temp_dir[0])
        with os.fdopen(fd, "wb") as handle:
            handle.write(value.encode("utf-8") if isinstance(value, str) else value)
        return file_path
    return value if isinstance(value, str) else value.decode("utf-8")


def _holds_path_of_any(secret: Secret, existing: str, found: tuple[str | bytes, str | None] | None) -> bool:
    """Whether an ANY request's env var holds the path of the file its value was read from."""
    if secret.mount_requirement is not MountType.ANY or found is None or found[1] is None:
        return False
    try:
        return existing == found[1] or os.path.samefile(existing, found[1])
    except OSError:
        return False


@contextmanager
def task_context(
    task: Task, *, export_mode: Literal["restore", "keep"] = "restore", in_pod: bool = False
) -> Iterator[RunningTask]:
    """Run the ``with`` block as ``task``: least privilege, masking and ``env_var`` exports.

    ``export_mode="restore"`` (in-process) sets each requested ``env_var`` for the block and restores
    the environment afterwards; ``"keep"`` (the container entrypoint) only fills in env vars the pod
    does not already have. ``in_pod`` marks the whole process as the task (threads included).
    """
    running = RunningTask(task, in_pod=in_pod)
    install_log_masking()
    saved: dict[str, str | None] = {}
    temp_dir: list[str] = []
    token = _current.set(running)
    if in_pod:
        _process_task.append(running)
    try:
        for secret in task.secret_requests:
            try:
                found = find_secret(secret.group, secret.key, secret.group_version, local=not in_pod)
            except SecretError:
                found = None  # unreadable here; reading it in the task reports why
            if found is not None:
                running.mask.add(found[0])
            if not secret.env_var:
                continue
            existing = os.environ.get(secret.env_var)
            if export_mode == "keep" and existing is not None:
                if _holds_path_of_any(secret, existing, found):
                    # Managers deliver ANY as a file and point env_var at it (Flyte's pod shape);
                    # for ANY the task is promised the value, as everywhere else.
                    assert found is not None
                    os.environ[secret.env_var] = str(found[0])
                elif secret.mount_requirement is not MountType.FILE:
                    running.mask.add(existing)
                continue
            if found is None:
                continue
            if secret.env_var not in saved:
                saved[secret.env_var] = existing
            os.environ[secret.env_var] = _exported_value(secret, found, temp_dir)
        yield running
    finally:
        for name, previous in saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        if temp_dir:
            import shutil

            shutil.rmtree(temp_dir[0], ignore_errors=True)
        if in_pod:
            _process_task.remove(running)
        _current.reset(token)
        running.mask.close()
