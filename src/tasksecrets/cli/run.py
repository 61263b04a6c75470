"""``tasksecrets run FILE.py NAME``: run a workflow or a task on the local cluster.

The file is imported here; a workflow's body runs in this process and every task it calls goes
through :class:`~tasksecrets.local.runner.LocalClusterExecutor` (pod, mutation, local kubelet, own
process). Before the first task runs, every store secret and key the workflow's tasks need is
checked (:meth:`~tasksecrets.local.runner.LocalClusterExecutor.check_secrets`): all that miss are
listed with one command that adds them. What tasks print is shown as it comes, masked line by line
(:mod:`tasksecrets.cli.run_progress`: a progress display on a terminal, plain lines into a pipe);
then the outputs, masked with every secret value a task received (an output that is a value whole
is masked whatever its length). Exit codes: :data:`EPILOG`. Stopped by SIGINT, SIGTERM or SIGHUP,
the running task's process group is stopped, what it printed is shown, its private directory is
removed.

Before its first task the runner hardens itself (:func:`~tasksecrets.local.procguard.harden_runner`):
not dumpable, no core dumps, so its tasks cannot read its memory or environment through ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from tasksecrets.cli.run_common import fail as _fail
from tasksecrets.cli.run_common import find_entity as _find_entity
from tasksecrets.cli.run_common import load_workflow_file as _load
from tasksecrets.cli.run_common import print_outputs as _print_outputs
from tasksecrets.cli.run_inputs import parse_inputs
from tasksecrets.cli.run_progress import RunDisplay, is_terminal
from tasksecrets.errors import ConfigError, ManifestError, TaskSecretsError
from tasksecrets.local.launcher import launcher_choice
from tasksecrets.local.procguard import StopRequested, harden_runner, stop_on_signals
from tasksecrets.local.runner import LocalClusterExecutor
from tasksecrets.pods import DEFAULT_IMAGE
from tasksecrets.sdk.executor import use_executor
from tasksecrets.sdk.loader import trim_internal_frames
from tasksecrets.sdk.masking import format_exception_masked
from tasksecrets.sdk.outputs import output_items
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.workflow import Workflow, referenced_tasks

if TYPE_CHECKING:
    from tasksecrets.admission.defaults import MutatorConfig

__all__ = ["EPILOG", "run_cmd"]

EPILOG = """\b
Exit status: 0 done; 1 a task failed (its traceback, masked), returned what its return annotation
does not declare or what cannot be passed on, secrets are missing (all listed, with one command
that adds them), the webhook denied a pod, the store cannot be opened, or the file failed to import
(its traceback); 2 a usage error (file, name, inputs, -p/-d/-n, --config, a Secret or task declared
wrongly in the file), in one line;
130, 143, 129 stopped by SIGINT, SIGTERM, SIGHUP (128 + signal): the running task is stopped
(its process group: SIGTERM, SIGKILL 2 s later), what it printed is shown, its files removed.
"""


def _module_secrets(module: ModuleType) -> list[Secret]:
    return [s for v in vars(module).values() if isinstance(v, Task) for s in v.secret_requests]


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("file", metavar="FILE.py")
@click.argument("name")
@click.option(
    "-p",
    "--project",
    default="flytesnacks",
    show_default=True,
    help="The project (namespace PROJECT-DOMAIN).",
)
@click.option(
    "-d", "--domain", default="development", show_default=True, help="The domain (namespace PROJECT-DOMAIN)."
)
@click.option(
    "-n",
    "--namespace",
    default=None,
    help="The pods' namespace, instead of PROJECT-DOMAIN (where secrets are read).",
)
@click.option(
    "-i", "--input", "inputs", multiple=True, metavar="NAME=VALUE", help="An input; repeat for more."
)
@click.option(
    "--config", "config_path", metavar="FILE", help="The webhook config file (default: K8s manager)."
)
@click.option(
    "--cold",
    is_flag=True,
    help="Start each task in a new interpreter, not forked by the run's warm helper (docs/local-cluster.md).",
)
@click.option(
    "--cluster", is_flag=True, help="Run each task as a Pod on a Kubernetes cluster (docs/kubernetes.md)."
)
@click.option("--kubeconfig", metavar="FILE", help="--cluster: the kubeconfig, as for kubectl.")
@click.option("--context", "kube_context", metavar="NAME", help="--cluster: the kubeconfig context.")
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
def run_cmd(file: str, name: str, **options: Any) -> None:
    """Run workflow or task NAME of FILE.py, each task as a pod with its secrets injected."""
    cluster_keys = (
        "kubeconfig",
        "kube_context",
        "image",
        "data_prefix",
        "timeout",
        "cleanup",
        "node_selector",
    )
    cluster = {key: options.pop(key) for key in cluster_keys}
    if options.pop("cluster"):
        from tasksecrets.cli.run_cluster import ClusterOptions, run_on_cluster

        if options["config_path"] is not None:
            raise click.UsageError(
                "--config is the local cluster's: with --cluster the cluster's webhook decides"
            )
        run_on_cluster(
            file,
            name,
            project=options["project"],
            domain=options["domain"],
            inputs=options["inputs"],
            options=ClusterOptions(namespace=options["namespace"], **cluster),
        )
        return
    try:
        with stop_on_signals():
            _run(file, name, **options)
    except StopRequested as stop:
        _exit_stopped(stop, None)


def _run(
    file: str,
    name: str,
    *,
    project: str,
    domain: str,
    namespace: str | None,
    inputs: tuple[str, ...],
    config_path: str | None,
    cold: bool,
) -> None:
    from tasksecrets.pods import pod_namespace

    try:
        pod_namespace(project, domain, namespace=namespace)
    except ManifestError as exc:
        raise click.UsageError(str(exc)) from None
    config = _run_config(config_path)
    module = _load(file)
    entity = _find_entity(module, name, file)
    kind = "workflow" if isinstance(entity, Workflow) else "task"
    kwargs = parse_inputs(inputs, entity.inputs, fn=entity.fn, owner=f"{kind} {entity.name!r}")
    planned = referenced_tasks(entity)

    harden_runner()  # before the first secret is read; usage errors came first, from here on tasks run
    terminal = is_terminal()
    display = RunDisplay(terminal=terminal, planned=[task.name for task in planned])
    launcher = "cold" if cold else None
    if launcher is None:
        try:
            launcher = launcher_choice(os.environ)
        except TaskSecretsError as exc:
            _fail(str(exc), 2)
    executor = LocalClusterExecutor(
        config=config,
        project=project,
        domain=domain,
        namespace=namespace,
        reporter=display,
        secrets=_module_secrets(module),
        launcher=launcher,
    )
    executor.start()  # the warm helper imports while the store opens and the secrets are checked
    try:
        with executor, use_executor(executor):
            executor.check_secrets(planned)
            result = entity(**kwargs)
    except StopRequested as stop:
        display.close()
        _exit_stopped(stop, executor)
    except TaskSecretsError as exc:
        display.close()
        _fail(executor.mask(str(exc)), 1)
    except Exception as exc:
        display.close()
        trimmed = format_exception_masked(trim_internal_frames(exc)).rstrip()
        _fail(f"{kind} {entity.name!r} failed:\n{executor.mask(trimmed)}", 1)
    display.close()
    _print_outputs(output_items(entity.outputs, result), executor, terminal=terminal)


def _run_config(config_path: str | None) -> MutatorConfig:
    # Without a file the defaults need no validation: pydantic, a tenth of a second of start-up,
    # is imported only to load a file.
    if config_path is None:
        from tasksecrets.admission.defaults import DEFAULT_CONFIG

        return DEFAULT_CONFIG
    from tasksecrets.admission.config import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None


def _exit_stopped(stop: StopRequested, executor: LocalClusterExecutor | None) -> None:
    # What the stopped task printed was shown as it came; say what happened, no traceback.
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
