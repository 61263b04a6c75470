"""``tasksecrets run FILE.py NAME --cluster``: the workflow's task calls as Pods on a Kubernetes cluster.

The file is imported here and the workflow's body runs in this process, as with the local cluster;
each task call goes through :class:`~tasksecrets.cluster.executor.KubernetesExecutor`. What a task
prints is echoed as it comes (prefixed with the task's name for a workflow), already masked by the
task's entrypoint; outputs arrive masked the same way (docs/kubernetes.md). Exit codes as
``tasksecrets run``: 0 done, 1 a task or the workflow failed, 2 usage errors, 128 + the signal when
stopped (the running pod is deleted).
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import click

from tasksecrets.errors import ConfigError, ManifestError, TaskSecretsError
from tasksecrets.local.procguard import StopRequested, stop_on_signals

if TYPE_CHECKING:
    from tasksecrets.cluster.executor import Cleanup

__all__ = ["ClusterOptions", "run_on_cluster"]


@dataclass(frozen=True)
class ClusterOptions:
    """The ``run`` options that only ``--cluster`` uses."""

    kubeconfig: str | None
    kube_context: str | None
    namespace: str | None
    image: str
    data_prefix: str | None
    timeout: float | None
    cleanup: str
    node_selector: tuple[str, ...] = ()


def run_on_cluster(
    file: str, name: str, *, project: str, domain: str, inputs: tuple[str, ...], options: ClusterOptions
) -> None:
    """Run workflow or task NAME of FILE on the cluster; exits with the status of ``tasksecrets run``."""
    from tasksecrets.cli.run_common import fail as _fail
    from tasksecrets.cli.run_common import find_entity as _find_entity
    from tasksecrets.cli.run_common import load_workflow_file as _load
    from tasksecrets.cli.run_common import print_outputs as _print_outputs
    from tasksecrets.cli.run_inputs import parse_inputs
    from tasksecrets.cluster.client import connect
    from tasksecrets.cluster.executor import KubernetesExecutor
    from tasksecrets.pods import pod_namespace
    from tasksecrets.sdk.executor import use_executor
    from tasksecrets.sdk.loader import trim_internal_frames
    from tasksecrets.sdk.masking import format_exception_masked
    from tasksecrets.sdk.outputs import output_items
    from tasksecrets.sdk.workflow import Workflow

    try:
        pod_namespace(project, domain, namespace=options.namespace)
        client = connect(kubeconfig=options.kubeconfig, context=options.kube_context)
    except (ManifestError, ConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    module = _load(file)
    entity = _find_entity(module, name, file)
    kind = "workflow" if isinstance(entity, Workflow) else "task"
    kwargs = parse_inputs(inputs, entity.inputs, fn=entity.fn, owner=f"{kind} {entity.name!r}")
    prefixed = isinstance(entity, Workflow)

    def echo(task_name: str, line: str) -> None:
        # stderr, as the local cluster prints what tasks print: stdout holds only the outputs.
        click.echo(f"[{task_name}] {line.rstrip()}" if prefixed else line.rstrip(), err=True)

    executor = KubernetesExecutor(
        client,
        source=file,
        project=project,
        domain=domain,
        namespace=options.namespace,
        image=options.image,
        data_prefix=options.data_prefix,
        timeout=options.timeout,
        cleanup=cast("Cleanup", options.cleanup),  # click.Choice checked it
        echo=echo,
        node_selector=_selector(options.node_selector),
    )
    click.echo(f"run {executor.run_id}: pods labelled tasksecrets.io/run={executor.run_id}", err=True)
    try:
        with stop_on_signals(), executor, use_executor(executor):
            result = entity(**kwargs)
    except StopRequested as stop:
        with contextlib.suppress(OSError):
            click.echo(f"stopped by {stop}: the running pod was deleted", err=True)
        sys.exit(stop.exit_code)
    except TaskSecretsError as exc:
        _fail(str(exc), 1)
    except Exception as exc:  # the workflow's own code, in this process
        trimmed = format_exception_masked(trim_internal_frames(exc)).rstrip()
        _fail(f"{kind} {entity.name!r} failed:\n{trimmed}", 1)
    _print_outputs(output_items(entity.outputs, result), executor, terminal=sys.stdout.isatty())


def _selector(pairs: tuple[str, ...]) -> dict[str, str]:
    selector: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--node-selector")
        selector[key] = value
    return selector
