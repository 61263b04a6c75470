"""``tasksecrets get runs`` and ``tasksecrets delete run ID``: the pods ``run --cluster`` left on a cluster.

Every pod of a cluster run carries the label ``tasksecrets.io/run=<id>``; successful pods are deleted
by default, so what is listed is mostly failed or running ones (``--cleanup never`` keeps all). The
namespace flags are ``run``'s: ``-p/-d`` for ``<project>-<domain>``, ``-n`` to name it, ``-A`` for all
the namespaces you may list pods in. Exit codes: 0 done, 1 the cluster refused or the run has no
pods, 2 usage errors.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import click

from tasksecrets.errors import ConfigError, ManifestError

__all__ = ["delete_run", "get_runs"]

EXIT_CODES = "\b\nExit status: 0 done; 1 the cluster refused, or no pod has that run id; 2 a usage error."


def _namespace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-p", "--project", default="flytesnacks", show_default=True, help="The project."),
        click.option("-d", "--domain", default="development", show_default=True, help="The domain."),
        click.option("-n", "--namespace", help="The namespace, instead of PROJECT-DOMAIN."),
        click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace."),
        click.option("--kubeconfig", metavar="FILE", help="The kubeconfig, as for kubectl."),
        click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _connect(options: dict[str, Any]) -> tuple[Any, str]:
    from tasksecrets.cluster.client import connect
    from tasksecrets.pods import pod_namespace

    try:
        namespace = (
            "*"
            if options["all_namespaces"]
            else pod_namespace(options["project"], options["domain"], namespace=options["namespace"])
        )
        return connect(kubeconfig=options["kubeconfig"], context=options["kube_context"]), namespace
    except (ConfigError, ManifestError) as exc:
        raise click.UsageError(str(exc)) from None


def _run_pods(client: Any, namespace: str, run_id: str | None) -> list[Any]:
    from lightkube import ApiError
    from lightkube.operators import exists
    from lightkube.resources.core_v1 import Pod

    from tasksecrets.cluster.executor import RUN_LABEL

    selector = {RUN_LABEL: run_id if run_id is not None else exists()}
    try:
        return list(client.list(Pod, namespace=namespace, labels=selector))
    except ApiError as exc:
        click.echo(f"error: listing pods in {_where(namespace)} was refused: {exc.status.message}", err=True)
        sys.exit(1)


def _where(namespace: str) -> str:
    return "every namespace" if namespace == "*" else f"namespace {namespace}"


@click.command("runs", epilog=EXIT_CODES)
@_namespace_options
def get_runs(**options: Any) -> None:
    """List the runs that have pods on the cluster: id, namespace, pods by phase, when it started."""
    from tasksecrets.cluster.executor import RUN_LABEL

    client, namespace = _connect(options)
    runs: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for pod in _run_pods(client, namespace, None):
        runs[(pod.metadata.labels[RUN_LABEL], pod.metadata.namespace)].append(pod)
    if not runs:
        click.echo(f"No runs have pods in {_where(namespace)}.", err=True)
        return
    rows = [("RUN", "NAMESPACE", "PODS", "PHASES", "STARTED")]
    for (run_id, ns), pods in sorted(runs.items(), key=lambda item: min(_created(p) for p in item[1])):
        phases = Counter((p.status.phase if p.status else None) or "Unknown" for p in pods)
        summary = ", ".join(f"{count} {phase}" for phase, count in sorted(phases.items()))
        rows.append((run_id, ns, str(len(pods)), summary, min(_created(p) for p in pods)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _created(pod: Any) -> str:
    stamp = pod.metadata.creationTimestamp
    return stamp.strftime("%Y-%m-%d %H:%M:%S") if stamp is not None else "?"


@click.command("run", epilog=EXIT_CODES)
@click.argument("run_id", metavar="ID")
@_namespace_options
def delete_run(run_id: str, **options: Any) -> None:
    """Delete every pod of run ID (the id ``run --cluster`` printed, also shown by ``get runs``)."""
    from lightkube import ApiError
    from lightkube.resources.core_v1 import Pod

    client, namespace = _connect(options)
    pods = _run_pods(client, namespace, run_id)
    if not pods:
        click.echo(
            f"error: no pod of run {run_id!r} in {_where(namespace)}: see tasksecrets get runs -A", err=True
        )
        sys.exit(1)
    failed = 0
    for pod in pods:
        try:
            client.delete(Pod, pod.metadata.name, namespace=pod.metadata.namespace)
            click.echo(f'pod "{pod.metadata.name}" deleted from {pod.metadata.namespace}')
        except ApiError as exc:
            failed += 1
            click.echo(f"error: deleting pod {pod.metadata.name}: {exc.status.message}", err=True)
    sys.exit(1 if failed else 0)
