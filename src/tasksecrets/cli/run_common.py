"""What ``tasksecrets run`` shares between the local cluster and ``--cluster``: loading the file,
finding the workflow or task, failing in one line, printing the outputs."""

from __future__ import annotations

import difflib
import os
import sys
from types import ModuleType
from typing import Any, NoReturn, Protocol

import click

from tasksecrets.sdk.loader import explain_load_error, load_module
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.workflow import Workflow

__all__ = ["OutputMasker", "fail", "find_entity", "load_workflow_file", "print_outputs"]


class OutputMasker(Protocol):
    """An executor's masking of what is shown (the local one masks; the cluster's values come masked)."""

    def mask_output(self, text: str) -> str: ...


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_workflow_file(file: str) -> ModuleType:
    if not file.endswith(".py"):
        raise click.UsageError(f"{file} is not a .py file: pass the Python file that defines the workflow")
    if not os.path.isfile(file):
        raise click.UsageError(f"{file} does not exist: pass the path of the Python file")
    try:
        return load_module(file)
    except Exception as exc:
        failure = explain_load_error(exc, file)
        fail(failure.message, failure.exit_code)


def find_entity(module: ModuleType, name: str, file: str) -> Workflow | Task:
    candidate = getattr(module, name, None)
    if isinstance(candidate, (Workflow, Task)):
        return candidate
    entities = [v for v in vars(module).values() if isinstance(v, (Workflow, Task))]
    for entity in entities:
        if entity.name == name:
            return entity
    workflows = sorted({e.name for e in entities if isinstance(e, Workflow)})
    tasks = sorted({e.name for e in entities if isinstance(e, Task)})
    near = difflib.get_close_matches(name, workflows + tasks, n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise click.UsageError(
        f"{file} has no workflow or task named {name!r}{hint}; workflows: {', '.join(workflows) or 'none'}; "
        f"tasks: {', '.join(tasks) or 'none'}"
    )


def print_outputs(items: list[tuple[str, Any]], executor: OutputMasker, *, terminal: bool) -> None:
    shown = [
        (name, executor.mask_output(value if isinstance(value, str) else repr(value)))
        for name, value in items
    ]
    if terminal:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Outputs", title_justify="left", show_header=False, box=None, padding=(0, 2))
        for name, text in shown:
            table.add_row(name, text)
        Console(highlight=False).print(table if shown else "no outputs")
        return
    for name, text in shown:
        click.echo(f"{name}: {text}")
