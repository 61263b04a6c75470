"""``python -m tasksecrets execute``: the entrypoint of a task's own process (its pod's container).

It loads the task from a file (``--file``) or module (``--module``), reads the inputs (a JSON file
written with :mod:`tasksecrets.sdk.values`), runs the task inside a task context (least privilege,
masking, ``env_var`` exports of secrets the pod lacks) and writes the outputs. Exit codes: 0 done,
1 the task (or its module) failed, with the traceback on stderr and secret values masked, 2 bad
arguments (file, task or inputs not usable), with a one-line error.

Imports only click and the SDK, so a task starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

import click

from tasksecrets.errors import SecretError, TaskDeclarationError, TaskExecutionError
from tasksecrets.sdk.context import task_context
from tasksecrets.sdk.exports import apply_env_exports
from tasksecrets.sdk.loader import load_task, trim_internal_frames
from tasksecrets.sdk.masking import format_exception_masked, mask_text
from tasksecrets.sdk.messages import open_location
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.values import load_value, write_values

__all__ = ["execute_cmd", "run_task_in_process"]


class _MaskingStream:
    """A text stream that masks registered secret values in what the task prints.

    Line-buffered, as on a terminal: what a task printed reaches its runner even when the task is
    stopped by a signal (a pipe's block buffer would die with it).
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(mask_text(text))
        if "\n" in text:
            self._inner.flush()
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _read_inputs(task: Task, path: str | None, inline: str | None = None) -> dict[str, Any]:
    if path is None and inline is None:
        return task.bind_inputs((), {})
    try:
        if inline is not None:
            path = "--inputs-json"
            raw = json.loads(inline)
        else:
            assert path is not None
            with open_location(path, "rb") as handle:
                raw = json.loads(handle.read().decode("utf-8"))
    except OSError as exc:
        raise click.UsageError(f"cannot read the inputs file {path}: {exc.strerror or exc}") from None
    except TaskExecutionError as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError as exc:
        raise click.UsageError(
            f"the inputs file {path} is not valid JSON ({exc}): write a JSON object"
        ) from None
    if not isinstance(raw, dict):
        raise click.UsageError(
            f"the inputs file {path} must hold a JSON object of input name to value, got {type(raw).__name__}"
        )
    try:
        return task.bind_inputs((), {name: load_value(value) for name, value in raw.items()})
    except (TypeError, ValueError) as exc:
        raise click.UsageError(f"inputs do not fit task {task.name!r}: {exc}") from None


def run_task_in_process(
    task: Task, inputs: dict[str, Any], *, seal: Callable[[Any], Any] | None = None
) -> tuple[bool, Any]:
    """Run ``task`` as this process's task; returns ``(True, outputs)`` or ``(False, masked traceback)``.

    ``seal`` turns the outputs into what is returned while the task's values are still registered
    (to mask them: :func:`tasksecrets.sdk.messages.seal_outputs`).
    """
    with task_context(task, export_mode="keep", in_pod=True):
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _MaskingStream(stdout), _MaskingStream(stderr)
        try:
            outputs = task.execute(**inputs)
            return True, outputs if seal is None else seal(outputs)
        except Exception as exc:
            # Formatted while the task's values are still registered, so they come out masked.
            return False, format_exception_masked(trim_internal_frames(exc)).rstrip()
        finally:
            sys.stdout, sys.stderr = stdout, stderr


@click.command("execute")
@click.option("--file", "file_path", metavar="PATH", help="The .py file that defines the task.")
@click.option(
    "--module", "module_name", metavar="NAME", help="The module that defines the task (instead of --file)."
)
@click.option(
    "--task", "task_name", required=True, metavar="NAME", help="The task's name in that file or module."
)
@click.option("--inputs", "inputs_path", metavar="FILE", help="A JSON file with the task's inputs.")
@click.option("--outputs", "outputs_path", metavar="FILE", help="Where to write the task's outputs (JSON).")
@click.option(
    "--inputs-json", "inputs_json", metavar="JSON", help="The inputs inline, as the inputs file holds them."
)
@click.option(
    "--termination-message",
    "message_path",
    metavar="PATH",
    help="Write outputs (masked) or the error to this file: the container's terminationMessagePath.",
)
@click.option(
    "--data-prefix",
    metavar="URL",
    help="Where outputs too big for the termination message go (fsspec URL: s3://, gs://, file://).",
)
def execute_cmd(
    file_path: str | None,
    module_name: str | None,
    task_name: str,
    inputs_path: str | None,
    outputs_path: str | None,
    inputs_json: str | None,
    message_path: str | None,
    data_prefix: str | None,
) -> None:
    """Run one task in this process, as a task's container does."""
    if (file_path is None) == (module_name is None):
        raise click.UsageError("give exactly one of --file PATH or --module NAME")
    source = file_path if file_path is not None else module_name
    assert source is not None
    try:
        # ENV_VAR requests served as files: exported before any of the task's code is imported.
        apply_env_exports(os.environ)
    except SecretError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        task = load_task(source, task_name)
    except TaskDeclarationError as exc:
        raise click.UsageError(str(exc)) from None
    except Exception as exc:
        trimmed = format_exception_masked(trim_internal_frames(exc)).rstrip()
        click.echo(f"error: importing {source} failed:\n{trimmed}", err=True)
        sys.exit(1)
    inputs = _read_inputs(task, inputs_path, inputs_json)
    if message_path is not None:
        _run_for_cluster(task, inputs, message_path=message_path, data_prefix=data_prefix)
        return
    ok, result = run_task_in_process(task, inputs)
    if not ok:
        click.echo(f"error: task {task.name!r} failed:\n{result}", err=True)
        sys.exit(1)
    if outputs_path is not None:
        try:
            write_values(outputs_path, result)
        except OSError as exc:
            click.echo(f"error: cannot write the outputs file {outputs_path}: {exc.strerror}", err=True)
            sys.exit(1)


def _run_for_cluster(
    task: Task, inputs: dict[str, Any], *, message_path: str, data_prefix: str | None
) -> None:
    # A pod on a cluster: outputs, or the error, go into the termination message (docs/kubernetes.md).
    from tasksecrets.sdk.messages import error_message, outputs_message, seal_outputs

    ok, result = run_task_in_process(task, inputs, seal=seal_outputs)
    status, message = 0, ""
    try:
        if ok:
            message = outputs_message(result, task_name=task.name, data_prefix=data_prefix)
    except TaskExecutionError as exc:
        ok, result = False, str(exc)
    if not ok:
        click.echo(f"error: task {task.name!r} failed:\n{result}", err=True)
        message, status = error_message(result), 1
    with open(message_path, "w", encoding="utf-8") as out:
        out.write(message)
    sys.exit(status)
