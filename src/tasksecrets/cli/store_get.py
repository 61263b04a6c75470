"""``tasksecrets get secrets`` and ``tasksecrets describe secrets``: what the store holds, never a value.

Both take names (``NAME``, ``secret/NAME``), ``-n``/``-A`` and ``-l SELECTOR``; without names they
show every secret of the namespace. ``get`` prints kubectl's table (``-o wide`` is the same table:
a Secret has no wide columns), ``-o name``, ``-o yaml|json`` (redacted unless ``--reveal``) and
``-o jsonpath=TEMPLATE`` (a template reading ``.data`` needs ``--reveal``). Names that are found are
printed, each missing one gets an ``Error:`` line, and the exit status is then 1.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import click

from tasksecrets.cli._common import reports_errors
from tasksecrets.cli.jsonpath import render_jsonpath, touches_field
from tasksecrets.cli.runs import get_runs
from tasksecrets.cli.store_common import (
    EXIT_CODES,
    Failures,
    ResourceGroup,
    echo_manifest,
    namespace_of,
    opened_store,
    secret_names,
    selection_options,
)
from tasksecrets.local.manifests import build_secret_list, build_secret_manifest
from tasksecrets.local.selectors import parse_selector
from tasksecrets.local.store import SecretInfo, SecretStore

__all__ = ["describe_group", "format_age", "get_group"]

_OUTPUTS = "table, wide, yaml, json, name or jsonpath=TEMPLATE"


def _select(
    store: SecretStore,
    failures: Failures,
    *,
    names: list[str],
    namespace: str | None,
    selector: str | None,
) -> list[SecretInfo]:
    """The secrets asked for; a missing name is reported through ``failures``, the others kept."""
    infos = store.list(namespace)
    if selector:
        match = parse_selector(selector).matches
        infos = [info for info in infos if match(info.labels)]
    if not names:
        return infos
    by_name = {info.name: info for info in infos}
    found = []
    for name in dict.fromkeys(names):
        with failures.reported():
            if name not in by_name:
                assert namespace is not None
                store.info(namespace, name)  # raises the store's not-found error, with its advice
                continue  # it exists but the selector left it out, as kubectl does
            found.append(by_name[name])
    return found


def _where(
    names: tuple[str, ...], namespace: str | None, *, all_namespaces: bool
) -> tuple[list[str], str | None]:
    """The names asked for and their namespace (None: every namespace, with -A)."""
    wanted = secret_names(names)
    if all_namespaces and wanted:
        raise click.UsageError("give secret names or -A, not both (names are looked up in one namespace)")
    return wanted, None if all_namespaces else namespace_of(namespace)


def _check_output(output: str) -> str:
    if output in {"table", "wide", "yaml", "json", "name"} or output.startswith("jsonpath="):
        return output
    if output == "jsonpath":
        raise click.UsageError("-o jsonpath needs a template: -o jsonpath='{.metadata.name}'")
    raise click.UsageError(f"-o {output!r} is not an output format; use one of: {_OUTPUTS}")


@click.group("get", cls=ResourceGroup, epilog=EXIT_CODES)
def get_group() -> None:
    """List resources of the local store (kubectl-shaped)."""


@click.command("secrets", epilog=EXIT_CODES)
@selection_options(
    across="List secrets of every namespace.", selected="Only secrets whose labels match: app=web,tier!=db."
)
@click.option("-o", "--output", default="table", show_default=True, help=f"One of: {_OUTPUTS}.")
@click.option("--reveal", is_flag=True, help="Include the values (base64) in -o yaml/json/jsonpath output.")
@reports_errors
def get_secrets(
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    output: str,
    reveal: bool,
) -> None:
    """List secrets: NAME TYPE DATA AGE, or Kubernetes manifests without values unless --reveal."""
    output = _check_output(output)
    template = output.removeprefix("jsonpath=") if output.startswith("jsonpath=") else None
    if reveal and output in {"table", "wide", "name"}:
        raise click.UsageError("--reveal only applies to -o yaml, -o json or -o jsonpath")
    if template is not None and not reveal and touches_field(template, "data"):
        raise click.UsageError("this -o jsonpath template reads .data, the values: add --reveal to show them")
    wanted, ns = _where(names, namespace, all_namespaces=all_namespaces)
    failures = Failures()
    with opened_store() as store:
        infos = _select(store, failures, names=wanted, namespace=ns, selector=selector)
        values = {(i.namespace, i.name): store.get(i.namespace, i.name) for i in infos} if reveal else {}
        empty_store = not infos and not store.namespaces()
    if output in {"yaml", "json"} or template is not None:
        items = [build_secret_manifest(i, values.get((i.namespace, i.name))) for i in infos]
        document = items[0] if len(wanted) == 1 and items else build_secret_list(items)
        if template is not None:
            click.echo(render_jsonpath(template, document), nl=False)
        elif items or not wanted:
            echo_manifest(document, output)
    elif output == "name":
        for info in infos:
            click.echo(f"secret/{info.name}")
    elif infos:
        _print_table(infos, with_namespace=all_namespaces)
    elif not failures.count:
        click.echo(f"No resources found in {ns} namespace." if ns else "No resources found", err=True)
        if empty_store:
            click.echo(
                f"The local store at {store.home} is empty; create a secret with: "
                "tasksecrets create secret generic NAME -n NAMESPACE --from-literal=KEY=VALUE",
                err=True,
            )
    failures.exit()


get_group.add_command(get_secrets, "secrets")
get_group.add_command(get_secrets, "secret")
# The pods of cluster runs, in their own module: they need the kubernetes extra, the store does not.
get_group.add_command(get_runs, "runs")


def _print_table(infos: list[SecretInfo], *, with_namespace: bool) -> None:
    header = (["NAMESPACE"] if with_namespace else []) + ["NAME", "TYPE", "DATA", "AGE"]
    now = datetime.now(timezone.utc)
    rows = [
        ([i.namespace] if with_namespace else [])
        + [i.name, i.type, str(len(i.keys)), format_age(now - i.created)]
        for i in infos
    ]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in header:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    for row in [header, *rows]:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def format_age(delta: Any) -> str:
    """A duration the way kubectl prints AGE: 45s, 3m12s, 17m, 5h3m, 9h, 2d4h, 12d, 1y40d."""
    seconds = max(0, int(delta.total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days < 365 * 8 and days % 365 else f"{days // 365}y"


# -- describe ---------------------------------------------------------------------------------


@click.group("describe", cls=ResourceGroup, epilog=EXIT_CODES)
def describe_group() -> None:
    """Show details of resources of the local store (kubectl-shaped)."""


@click.command("secret", epilog=EXIT_CODES)
@selection_options(
    across="Describe secrets of every namespace.", selected="Only secrets whose labels match: app=web."
)
@reports_errors
def describe_secret(
    names: tuple[str, ...], namespace: str | None, all_namespaces: bool, selector: str | None
) -> None:
    """Show secrets' labels, annotations, keys and their sizes in bytes (never the values)."""
    wanted, ns = _where(names, namespace, all_namespaces=all_namespaces)
    failures = Failures()
    with opened_store() as store:
        infos = _select(store, failures, names=wanted, namespace=ns, selector=selector)
    if infos:
        click.echo("\n\n\n".join(_describe(info) for info in infos))
    elif not wanted:
        click.echo(f"No resources found in {ns} namespace." if ns else "No resources found", err=True)
    failures.exit()


def _describe(info: SecretInfo) -> str:
    def block(title: str, mapping: Any) -> list[str]:
        items = sorted(mapping.items())
        if not items:
            return [f"{title + ':':<14}<none>"]
        return [f"{title + ':' if i == 0 else '':<14}{k}={v}" for i, (k, v) in enumerate(items)]

    lines = [
        f"Name:         {info.name}",
        f"Namespace:    {info.namespace}",
        *block("Labels", info.labels),
        *block("Annotations", info.annotations),
        f"Created:      {info.created.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Updated:      {info.updated.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "",
        f"Type:  {info.type}",
        "",
        "Data",
        "====",
    ]
    width = max((len(key) for key in info.keys), default=0) + 2
    lines += [f"{key + ':':<{width}}{info.sizes[key]} bytes" for key in info.keys]
    return "\n".join(lines)


describe_group.add_command(describe_secret, "secret")
describe_group.add_command(describe_secret, "secrets")
