"""What ``tasksecrets run`` shows while tasks run: their lines as they come, and where the run is.

:class:`RunDisplay` is the runner's reporter (:class:`~tasksecrets.local.runner.RunReporter`):

- every line a task prints is shown as it arrives (already masked by the runner), prefixed with
  ``<task> | `` when the run involves several tasks;
- on a terminal, a rich progress display at the bottom: the running task, how many task calls are
  done, how many of the workflow's tasks have not run yet, and the running task's elapsed time;
  then one line per finished call (task, pod, secrets by manager, duration);
- into a pipe, plain lines on stderr: the task's lines, and ``<task>: done in N ms (pod, secrets)``
  for each call that succeeded (a failed one is told by the error that ends the run), so stdout
  holds only the outputs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from tasksecrets.local.runner import TaskRun

__all__ = ["RunDisplay"]


class RunDisplay:
    """The runner's reporter (see the module docstring); :meth:`close` when the run ends."""

    def __init__(self, *, terminal: bool, planned: Sequence[str]) -> None:
        self.terminal = terminal
        self._planned = list(dict.fromkeys(planned))
        self._seen: list[str] = []
        self._done = 0
        self._progress: Any = None
        self._row: Any = None
        if terminal:
            from rich.console import Console

            self.console: Any = Console(highlight=False)

    @property
    def _several(self) -> bool:
        return len(set(self._planned) | set(self._seen)) > 1

    def _to_do(self) -> int:
        return len([name for name in self._planned if name not in self._seen])

    def task_started(self, task_name: str) -> None:
        if task_name not in self._seen:
            self._seen.append(task_name)
        if not self.terminal:
            return
        from rich.markup import escape

        progress = self._start_progress()
        counts = f"{self._done} done, {self._to_do()} to do"
        self._row = progress.add_task(f"running [bold]{escape(task_name)}[/]  [dim]{counts}[/]")

    def task_output(self, task_name: str, stream: str, line: str) -> None:
        text = line.rstrip("\r\n")
        prefix = f"{task_name} | " if self._several else ""
        if not self.terminal:
            click.echo(prefix + text, err=True)
            return
        from rich.markup import escape
        from rich.text import Text

        shown = Text.from_markup(f"[dim]{escape(prefix)}[/]") if prefix else Text()
        shown.append(text, style="red" if stream == "stderr" else None)
        self.console.print(shown, soft_wrap=True)

    def task_finished(self, run: TaskRun) -> None:
        self._done += 1
        secrets = ", ".join(f"{name} ({manager})" for name, manager in run.injections)
        pod = f"pod {run.pod_name}" if run.pod_name else "no pod"
        elapsed = f"{run.total_s * 1000:.0f} ms"
        if not self.terminal:
            if run.ok:
                click.echo(f"{run.task_name}: done in {elapsed} ({pod}; {secrets or 'no secrets'})", err=True)
            return
        from rich.markup import escape

        if self._row is not None:
            self._progress.remove_task(self._row)
            self._row = None
        mark = "[green]✓[/]" if run.ok else "[red]✗[/]"
        shown = escape(secrets) or "no secrets"
        self.console.print(
            f"{mark} [bold]{escape(run.task_name)}[/]  [dim]{escape(pod)}[/]  {shown}  [dim]{elapsed}[/]"
        )

    def close(self) -> None:
        """Stop the progress display (the terminal is left as it was)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _start_progress(self) -> Any:
        if self._progress is None:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self._progress


def is_terminal() -> bool:
    """Whether the run's stdout is a terminal (the progress display goes there)."""
    return sys.stdout.isatty()
