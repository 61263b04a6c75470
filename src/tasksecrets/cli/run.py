"""``tasksecrets run FILE.py NAME``: run a workflow or a task on the local cluster.

The file is imported here; a workflow's body runs in this process and every task it calls goes
through :class:`~tasksecrets.local.runner.LocalClusterExecutor` (pod, mutation, local kubelet, own
process). On a terminal each task gets a progress line (name, pod, secrets by manager, duration);
into a pipe only the outputs are printed. Outputs, task output and errors are masked with every
secret value a task received. Exit codes (:data:`EPILOG`): 0 done, 1 a task (or the workflow, or
the file's import) failed, 2 usage errors (file, name, inputs, project/domain, config), 128 + the
signal when stopped by SIGINT, SIGTERM or SIGHUP (130, 143, 129): the running task's process group
is stopped, what it printed is shown, its private directory is removed.

Before its first task the runner hardens itself (:func:`~tasksecrets.local.procguard.harden_runner`):
not dumpable, no core dumps, so its tasks cannot read its memory or environment through ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from types import ModuleType
from typing import Any

import click

from tasksecrets.cli.run_inputs import parse_inputs
from tasksecrets.errors import ConfigError, ManifestError, TaskDeclarationError, TaskSecretsError
from tasksecrets.local.procguard import StopRequested, harden_runner, stop_on_signals
from tasksecrets.local.runner import LocalClusterExecutor, TaskRun
from tasksecrets.pods import DEFAULT_IMAGE
from tasksecrets.sdk.executor import use_executor
from tasksecrets.sdk.loader import load_module
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.workflow import Workflow

__all__ = ["EPILOG", "run_cmd"]

EPILOG = """\b
Exit status: 0 done; 1 a task, the workflow or the file's import failed; 2 a usage error;
130, 143, 129 stopped by SIGINT, SIGTERM, SIGHUP (128 + signal): the running task is stopped
(its process group: SIGTERM, SIGKILL 2 s later), what it printed is shown, its files removed.
"""


class _Progress:
    """Progress lines on a terminal (rich); silent into a pipe except for what tasks print."""

    def __init__(self, *, terminal: bool) -> None:
        self.terminal = terminal
        self._status: Any = None
        if terminal:
            from rich.console import Console

            self.console: Any = Console(highlight=False)

    def task_started(self, task_name: str) -> None:
        if self.terminal:
            from rich.markup import escape

            self._status = self.console.status(f"running [bold]{escape(task_name)}[/] ...")
            self._status.start()

    def task_finished(self, run: TaskRun) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self.terminal:
            from rich.markup import escape

            mark = "[green]✓[/]" if run.ok else "[red]✗[/]"
            secrets = ", ".join(f"{escape(name)} ({escape(manager)})" for name, manager in run.injections)
            pod = f"pod {escape(run.pod_name)}" if run.pod_name else "no pod"
            line = f"{mark} [bold]{escape(run.task_name)}[/]  [dim]{pod}[/]  {secrets or 'no secrets'}"
            self.console.print(f"{line}  [dim]{run.total_s * 1000:.0f} ms[/]")
            if run.output.strip() and (run.ok or run.stopped):
                self.console.print(escape(run.output.rstrip()), style="dim")
        elif run.output.strip() and (run.ok or run.stopped):
            click.echo(run.output.rstrip(), err=True)


def _load(file: str) -> ModuleType:
    if not file.endswith(".py"):
        raise click.UsageError(f"{file} is not a .py file: pass the Python file that defines the workflow")
    if not os.path.isfile(file):
        raise click.UsageError(f"{file} does not exist: pass the path of the Python file")
    try:
        return load_module(file)
    except TaskDeclarationError as exc:
        raise click.UsageError(str(exc)) from None
    except Exception as exc:
        click.echo(f"error: importing {file} failed:\n{_format_user_error(exc)}", err=True)
        sys.exit(1)


def _find_entity(module: ModuleType, name: str, file: str) -> Workflow | Task:
    candidate = getattr(module, name, None)
    if isinstance(candidate, (Workflow, Task)):
        return candidate
    entities = [v for v in vars(module).values() if isinstance(v, (Workflow, Task))]
    for entity in entities:
        if entity.name == name:
            return entity
    workflows = sorted({e.name for e in entities if isinstance(e, Workflow)})
    tasks = sorted({e.name for e in entities if isinstance(e, Task)})
    raise click.UsageError(
        f"{file} has no workflow or task named {name!r}; workflows: {', '.join(workflows) or 'none'}; "
        f"tasks: {', '.join(tasks) or 'none'}"
    )


def _module_secrets(module: ModuleType) -> list[Secret]:
    return [s for v in vars(module).values() if isinstance(v, Task) for s in v.secret_requests]


def _format_user_error(exc: BaseException) -> str:
    # The user's code failed: show its traceback, without the frames of the runner that called it.
    frames = traceback.extract_tb(exc.__traceback__)
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    user = [f for f in frames if not os.path.abspath(f.filename).startswith(own + os.sep)]
    keep = [f for f in user if not f.filename.startswith("<frozen ")]
    message = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    if not keep and isinstance(exc, SyntaxError):
        return message  # names the file, line and column itself: no frame of the user's to show
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(keep or frames)]
    return "".join(lines) + message


def _output_items(entity: Workflow | Task, result: Any) -> list[tuple[str, Any]]:
    if result is None and entity.outputs in (None, type(None)):
        return []
    if isinstance(result, tuple):
        return [(f"o{index}", value) for index, value in enumerate(result)]
    return [("o0", result)]


def _print_outputs(items: list[tuple[str, Any]], executor: LocalClusterExecutor, *, terminal: bool) -> None:
    shown = [(name, executor.mask(value if isinstance(value, str) else repr(value))) for name, value in items]
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


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("file", metavar="FILE.py")
@click.argument("name")
@click.option(
    "--project", default="flytesnacks", show_default=True, help="The project (namespace PROJECT-DOMAIN)."
)
@click.option(
    "--domain", default="development", show_default=True, help="The domain (namespace PROJECT-DOMAIN)."
)
@click.option(
    "-i", "--input", "inputs", multiple=True, metavar="NAME=VALUE", help="An input; repeat for more."
)
@click.option(
    "--config", "config_path", metavar="FILE", help="The webhook config file (default: K8s manager)."
)
@click.option(
    "--cluster", is_flag=True, help="Run each task as a Pod on a Kubernetes cluster (docs/kubernetes.md)."
)
@click.option("--kubeconfig", metavar="FILE", help="--cluster: the kubeconfig, as for kubectl.")
@click.option("--context", "kube_context", metavar="NAME", help="--cluster: the kubeconfig context.")
@click.option("-n", "--namespace", metavar="NAME", help="--cluster: the namespace (default PROJECT-DOMAIN).")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="--cluster: the tasks' image.")
@click.option(
    "--data-prefix",
    metavar="URL",
    help="--cluster: where large inputs and outputs go (s3://, gs://, file://).",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="--cluster: per task."
)
@click.option(
    "--cleanup",
    type=click.Choice(["success", "always", "never"]),
    default="success",
    show_default=True,
    help="--cluster: delete pods after success, always, or never (failed pods are kept by default).",
)
@click.option(
    "--node-selector",
    multiple=True,
    metavar="KEY=VALUE",
    help="--cluster: a node label the pods need; repeat.",
)
def run_cmd(
    file: str,
    name: str,
    project: str,
    domain: str,
    inputs: tuple[str, ...],
    config_path: str | None,
    cluster: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    namespace: str | None,
    image: str,
    data_prefix: str | None,
    timeout: float | None,
    cleanup: str,
    node_selector: tuple[str, ...],
) -> None:
    """Run workflow or task NAME of FILE.py, each task as a pod with its secrets injected."""
    if cluster:
        from tasksecrets.cli.run_cluster import ClusterOptions, run_on_cluster

        options = ClusterOptions(
            kubeconfig, kube_context, namespace, image, data_prefix, timeout, cleanup, node_selector
        )
        run_on_cluster(file, name, project=project, domain=domain, inputs=inputs, options=options)
        return
    try:
        with stop_on_signals():
            _run(file, name, project=project, domain=domain, inputs=inputs, config_path=config_path)
    except StopRequested as stop:
        _exit_stopped(stop, None)


def _run(
    file: str, name: str, *, project: str, domain: str, inputs: tuple[str, ...], config_path: str | None
) -> None:
    from tasksecrets.admission.config import load_config
    from tasksecrets.pods import pod_namespace

    try:
        pod_namespace(project, domain)
    except ManifestError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    module = _load(file)
    entity = _find_entity(module, name, file)
    kind = "workflow" if isinstance(entity, Workflow) else "task"
    kwargs = parse_inputs(inputs, entity.inputs, fn=entity.fn, owner=f"{kind} {entity.name!r}")

    harden_runner()  # before the first secret is read; usage errors came first, from here on tasks run
    terminal = sys.stdout.isatty()
    progress = _Progress(terminal=terminal)
    executor = LocalClusterExecutor(
        config=config, project=project, domain=domain, reporter=progress, secrets=_module_secrets(module)
    )
    try:
        with executor, use_executor(executor):
            result = entity(**kwargs)
    except StopRequested as stop:
        _exit_stopped(stop, executor)
    except TaskSecretsError as exc:
        click.echo(f"error: {executor.mask(str(exc))}", err=True)
        sys.exit(1)
    except Exception as exc:
        click.echo(
            f"error: {kind} {entity.name!r} failed:\n{executor.mask(_format_user_error(exc))}", err=True
        )
        sys.exit(1)
    _print_outputs(_output_items(entity, result), executor, terminal=terminal)


def _exit_stopped(stop: StopRequested, executor: LocalClusterExecutor | None) -> None:
    # What the stopped task printed was shown by its progress line; say what happened, no traceback.
    detail = ""
    if executor is not None:
        executor.shutdown()
        stopped = [run for run in executor.runs if run.stopped]
        if stopped:
            run = stopped[-1]
            detail = f": task {run.task_name!r} (pod {run.pod_name}) was stopped, its files removed"
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone: the status still says it
        click.echo(f"stopped by {stop}{detail}", err=True)
    sys.exit(stop.exit_code)
