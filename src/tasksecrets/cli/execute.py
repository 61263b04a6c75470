"""``python -m tasksecrets execute``: the entrypoint of a task's own process (its pod's container).

It loads the task from a file (``--file``) or module (``--module``), reads the inputs (a JSON file
written with :mod:`tasksecrets.sdk.values`), runs the task inside a task context (least privilege,
masking, ``env_var`` exports of secrets the pod lacks), checks its result against the task's return
annotation (:mod:`tasksecrets.sdk.outputs`) and writes the outputs. Exit codes (:data:`EPILOG`).

Why it failed goes to stderr, or, when the local runner set :data:`~tasksecrets.sdk.values.FAILURE_FILE_VAR`,
into that file: the runner streams what the task prints and shows the reason once, by itself.

Imports only click and the SDK, so a task starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

import click

from tasksecrets.errors import SecretError, TaskExecutionError, TaskOutputError, TaskSecretsError
from tasksecrets.sdk.context import task_context
from tasksecrets.sdk.exports import apply_env_exports
from tasksecrets.sdk.loader import explain_load_error, load_task, trim_internal_frames, user_location
from tasksecrets.sdk.masking import format_exception_masked, mask_text
from tasksecrets.sdk.messages import open_location
from tasksecrets.sdk.outputs import check_outputs, describe_type, output_items
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.values import (
    FAILURE_FILE_VAR,
    Failure,
    dump_value,
    first_unencodable,
    load_value,
    write_failure,
)

__all__ = ["EPILOG", "execute_cmd", "run_task_in_process"]

EPILOG = """\b
Exit status: 0 done; 1 the task raised (its traceback, masked), its result does not match its
return annotation or cannot be written to --outputs, or its file failed to import; 2 bad arguments
(file, module, task or inputs not usable, a Secret or task declared wrongly), in one line.
"""


def _fail(message: str, *, code: int, traceback: bool = False) -> NoReturn:
    failure_file = os.environ.get(FAILURE_FILE_VAR)
    if failure_file:
        try:
            write_failure(failure_file, Failure(message, traceback=traceback))
        except OSError:
            click.echo(f"error: {message}", err=True)
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


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
            with open_location(path, "rb") as handle:  # a path, or a URL under a data prefix
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
    """Run ``task`` as this process's task; ``(True, outputs)``, or ``(False, Failure)`` saying why not.

    A tasksecrets error the task's code met (a secret it did not request, one that is not there)
    is one line naming where in the task's code; anything else is the task's traceback, trimmed to
    its own frames. Both are masked. ``seal`` turns the outputs into what is returned while the
    task's values are still registered (to mask them); what it raises is the caller's.
    """
    with task_context(task, export_mode="keep", in_pod=True):
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _MaskingStream(stdout), _MaskingStream(stderr)
        try:
            outputs = task.execute(**inputs)
        except SystemExit as exc:
            return False, Failure(
                f"task {task.name!r} called sys.exit({exc.code!r}) instead of returning: a task ends by "
                "returning its outputs (raise an exception to fail it)"
            )
        except TaskSecretsError as exc:
            where = user_location(exc)
            at = f" at {where}" if where else ""
            return False, Failure(mask_text(f"task {task.name!r} failed{at}: {type(exc).__name__}: {exc}"))
        except Exception as exc:
            # Formatted while the task's values are still registered, so they come out masked.
            trimmed = format_exception_masked(trim_internal_frames(exc)).rstrip()
            return False, Failure(f"task {task.name!r} failed:\n{trimmed}", traceback=True)
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        return True, outputs if seal is None else seal(outputs)


def _write_outputs(task: Task, path: str, result: Any) -> None:
    try:
        check_outputs(task.name, task.outputs, result)
        encoded = dump_value(result)
    except TaskOutputError as exc:
        _fail(mask_text(str(exc)), code=1)
    except Exception as exc:  # pickle's refusal: TypeError, PicklingError, AttributeError (a local class)
        _fail(_unpicklable(task, result, exc), code=1)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(encoded, handle)
    except OSError as exc:
        _fail(f"cannot write the outputs file {path}: {exc.strerror}", code=1)


def _unpicklable(task: Task, result: Any, exc: Exception) -> str:
    name, value = first_unencodable(output_items(task.outputs, result)) or ("o0", result)
    reason = mask_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    declared = f", declared {describe_type(task.outputs)}" if task.outputs is not None else ""
    return (
        f"task {task.name!r} output {name} (a {type(value).__qualname__}{declared}) cannot be passed on to "
        f"the workflow ({reason}): return plain data (str, int, list, dict, ...) or a picklable object"
    )


@click.command("execute", epilog=EPILOG)
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
        _fail(str(exc), code=2)
    try:
        task = load_task(source, task_name)
    except Exception as exc:
        failure = explain_load_error(exc, source)
        _fail(failure.message, code=failure.exit_code, traceback=failure.traceback)
    inputs = _read_inputs(task, inputs_path, inputs_json)
    if message_path is not None:
        _run_for_cluster(task, inputs, message_path=message_path, data_prefix=data_prefix)
    ok, result = run_task_in_process(task, inputs)
    if not ok:
        _fail(result.message, code=1, traceback=result.traceback)
    if outputs_path is not None:
        _write_outputs(task, outputs_path, result)
    else:
        try:
            check_outputs(task.name, task.outputs, result)
        except TaskOutputError as exc:
            _fail(mask_text(str(exc)), code=1)


def _run_for_cluster(
    task: Task, inputs: dict[str, Any], *, message_path: str, data_prefix: str | None
) -> NoReturn:
    # A pod on a cluster: outputs, or the error, go into the termination message (docs/kubernetes.md).
    from tasksecrets.sdk.messages import error_message, outputs_message, seal_outputs

    def seal(result: Any) -> Any:
        check_outputs(task.name, task.outputs, result)
        try:
            return seal_outputs(result)
        except Exception as exc:  # pickle's refusal, as for --outputs
            raise TaskOutputError(_unpicklable(task, result, exc)) from None

    try:
        ok, result = run_task_in_process(task, inputs, seal=seal)
        message = outputs_message(result, task_name=task.name, data_prefix=data_prefix) if ok else ""
    except (TaskOutputError, TaskExecutionError) as exc:
        ok, result = False, Failure(mask_text(str(exc)))
    if not ok:
        click.echo(f"error: {result.message}", err=True)  # into the pod's log too
        message = error_message(result.message)
    with open(message_path, "w", encoding="utf-8") as out:
        out.write(message)
    sys.exit(0 if ok else 1)
