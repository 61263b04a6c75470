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
from typing import Any, NoReturn, TextIO

import click

from tasksecrets.errors import SecretError, TaskOutputError, TaskSecretsError
from tasksecrets.sdk.context import task_context
from tasksecrets.sdk.exports import apply_env_exports
from tasksecrets.sdk.loader import explain_load_error, load_task, trim_internal_frames, user_location
from tasksecrets.sdk.masking import format_exception_masked, mask_text
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


def _read_inputs(task: Task, path: str | None) -> dict[str, Any]:
    if path is None:
        return task.bind_inputs((), {})
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as exc:
        raise click.UsageError(f"cannot read the inputs file {path}: {exc.strerror}") from None
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


def run_task_in_process(task: Task, inputs: dict[str, Any]) -> tuple[bool, Any]:
    """Run ``task`` as this process's task; ``(True, outputs)``, or ``(False, Failure)`` saying why not.

    A tasksecrets error the task's code met (a secret it did not request, one that is not there)
    is one line naming where in the task's code; anything else is the task's traceback, trimmed to
    its own frames. Both are masked.
    """
    with task_context(task, export_mode="keep", in_pod=True):
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _MaskingStream(stdout), _MaskingStream(stderr)
        try:
            return True, task.execute(**inputs)
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
def execute_cmd(
    file_path: str | None,
    module_name: str | None,
    task_name: str,
    inputs_path: str | None,
    outputs_path: str | None,
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
    inputs = _read_inputs(task, inputs_path)
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
