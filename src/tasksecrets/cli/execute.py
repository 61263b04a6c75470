"""``python -m tasksecrets execute``: the entrypoint of a task's own process (its pod's container).

It loads the task from a file (``--file``) or module (``--module``), reads the inputs (a JSON file
written with :mod:`tasksecrets.sdk.values`), runs the task inside a task context (least privilege,
masking, ``env_var`` exports of secrets the pod lacks), checks its result against the task's return
annotation (:mod:`tasksecrets.sdk.outputs`) and writes the outputs. Exit codes (:data:`EPILOG`).

Why it failed goes to stderr, or, when the local runner set :data:`~tasksecrets.sdk.values.FAILURE_FILE_VAR`,
into that file: the runner streams what the task prints and shows the reason once, by itself.

Imports only the SDK, so a task starts fast: its options are parsed here (:func:`main`, the same
forms and usage errors as click's), ``python -m tasksecrets execute`` comes straight here without
click, and :data:`execute_cmd`, the click command ``tasksecrets execute`` lists, is built on first use.
The warm launcher's tasks (:mod:`tasksecrets.cli.forkserver`) call :func:`main` too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

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

if TYPE_CHECKING:
    import click

__all__ = ["EPILOG", "OPTIONS", "main", "parse_args", "run_task_in_process"]

EPILOG = """\b
Exit status: 0 done; 1 the task raised (its traceback, masked), its result does not match its
return annotation or cannot be written to --outputs, or its file failed to import; 2 bad arguments
(file, module, task or inputs not usable, a Secret or task declared wrongly), in one line.
"""

# option -> (parameter, metavar, help), in the order --help lists them
OPTIONS: dict[str, tuple[str, str, str]] = {
    "--file": ("file_path", "PATH", "The .py file that defines the task."),
    "--module": ("module_name", "NAME", "The module that defines the task (instead of --file)."),
    "--task": ("task_name", "NAME", "The task's name in that file or module.  [required]"),
    "--inputs": ("inputs_path", "FILE", "A JSON file with the task's inputs."),
    "--outputs": ("outputs_path", "FILE", "Where to write the task's outputs (JSON)."),
    "--inputs-json": ("inputs_json", "JSON", "The inputs inline, as the inputs file holds them."),
    "--termination-message": (
        "message_path",
        "PATH",
        "Write outputs (masked) or the error to this file: the container's terminationMessagePath.",
    ),
    "--data-prefix": (
        "data_prefix",
        "URL",
        "Where outputs too big for the termination message go (fsspec URL: s3://, gs://, file://).",
    ),
}
_PROG = "tasksecrets execute"
_SUMMARY = "Run one task in this process, as a task's container does."


class _UsageError(Exception):
    """A bad command line: reported as click reports one (usage line, hint, ``Error:``), exit 2."""


def _echo_err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _help_text() -> str:
    lines = [f"Usage: {_PROG} [OPTIONS]", "", f"  {_SUMMARY}", "", "Options:"]
    for option, (_, metavar, text) in OPTIONS.items():
        lines.append(f"  {option} {metavar}".ljust(30) + text)
    lines.append("  -h, --help".ljust(30) + "Show this message and exit.")
    epilog = EPILOG.replace("\b\n", "").replace("\n", " ")
    return "\n".join([*lines, "", epilog.strip()])


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """The options of ``argv`` (``--opt VALUE`` or ``--opt=VALUE``; the last one wins): _UsageError."""
    values: dict[str, str | None] = {param: None for param, _, _ in OPTIONS.values()}
    args = iter(argv)
    for arg in args:
        option, eq, value = arg.partition("=")
        if option not in OPTIONS:
            if arg.startswith("-"):
                raise _UsageError(f"No such option: {option}")
            raise _UsageError(f"Got unexpected extra argument ({arg})")
        if not eq:
            value = next(args, None)  # type: ignore[assignment]
            if value is None:
                raise _UsageError(f"Option '{option}' requires an argument.")
        values[OPTIONS[option][0]] = value
    if values["task_name"] is None:
        raise _UsageError("Missing option '--task'.")
    return values


def main(argv: list[str]) -> None:
    """``tasksecrets execute ARGS``: parse ``argv`` and run the task; exits as :data:`EPILOG` says."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(_help_text())
        sys.exit(0)
    try:
        options = parse_args(argv)
        _execute(**options)  # type: ignore[arg-type]
    except _UsageError as exc:
        _echo_err(f"Usage: {_PROG} [OPTIONS]\nTry '{_PROG} --help' for help.\n\nError: {exc}")
        sys.exit(2)


def __getattr__(name: str) -> Any:
    # The click command is built only for the ``tasksecrets`` group, never on a task's path.
    if name == "execute_cmd":
        command = globals()["execute_cmd"] = _click_command()
        return command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _click_command() -> click.Command:
    import click

    @click.command(
        "execute",
        help=_SUMMARY,
        epilog=EPILOG,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.pass_context
    def command(ctx: click.Context) -> None:
        main(list(ctx.args))

    return command


def _fail(message: str, *, code: int, traceback: bool = False) -> NoReturn:
    failure_file = os.environ.get(FAILURE_FILE_VAR)
    if failure_file:
        try:
            write_failure(failure_file, Failure(message, traceback=traceback))
        except OSError:
            _echo_err(f"error: {message}")
    else:
        _echo_err(f"error: {message}")
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
        raise _UsageError(f"cannot read the inputs file {path}: {exc.strerror or exc}") from None
    except TaskExecutionError as exc:
        raise _UsageError(str(exc)) from None
    except ValueError as exc:
        raise _UsageError(f"the inputs file {path} is not valid JSON ({exc}): write a JSON object") from None
    if not isinstance(raw, dict):
        raise _UsageError(
            f"the inputs file {path} must hold a JSON object of input name to value, got {type(raw).__name__}"
        )
    try:
        return task.bind_inputs((), {name: load_value(value) for name, value in raw.items()})
    except (TypeError, ValueError) as exc:
        raise _UsageError(f"inputs do not fit task {task.name!r}: {exc}") from None


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


def _execute(
    file_path: str | None,
    module_name: str | None,
    task_name: str,
    inputs_path: str | None,
    outputs_path: str | None,
    inputs_json: str | None,
    message_path: str | None,
    data_prefix: str | None,
) -> None:
    if (file_path is None) == (module_name is None):
        raise _UsageError("give exactly one of --file PATH or --module NAME")
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
        _echo_err(f"error: {result.message}")  # into the pod's log too
        message = error_message(result.message)
    with open(message_path, "w", encoding="utf-8") as out:
        out.write(message)
    sys.exit(0 if ok else 1)
