"""``tasksecrets create/get/describe/delete secret`` and ``tasksecrets apply``: kubectl-shaped store commands.

The commands and flags are kubectl's, so the commands of the Flyte secrets guide carry over with
``kubectl`` replaced by ``tasksecrets``; both argument orders work (``create secret generic NAME -n
NS`` and ``create secret -n NS generic NAME``). Values are never printed, except where asked for
explicitly: ``get -o yaml|json --reveal`` and ``create ... --dry-run=client -o yaml|json``, whose
purpose is a manifest to apply elsewhere. Errors print one line saying what to do and exit 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import yaml

from tasksecrets.cli._common import reports_errors
from tasksecrets.cli.store_sources import collect_data
from tasksecrets.local.kube_names import validate_namespace, validate_secret_name
from tasksecrets.local.manifests import (
    SecretManifest,
    build_secret_list,
    build_secret_manifest,
    parse_secret_manifests,
)
from tasksecrets.local.store import SecretInfo, SecretStore

__all__ = ["apply_cmd", "create_group", "delete_group", "describe_group", "get_group"]

NAMESPACE_ENV = "TASKSECRETS_NAMESPACE"
_NS_HELP = f"Namespace (default: ${NAMESPACE_ENV} or 'default'), e.g. flytesnacks-development."


@contextmanager
def _opened_store() -> Iterator[SecretStore]:
    with SecretStore.open() as store:
        yield store


def _namespace(*given: str | None) -> str:
    chosen = [ns for ns in given if ns]
    if len(set(chosen)) > 1:
        raise click.UsageError(
            f"-n was given twice with different namespaces ({' and '.join(chosen)}); give one"
        )
    namespace = chosen[0] if chosen else os.environ.get(NAMESPACE_ENV) or "default"
    validate_namespace(namespace)
    return namespace


def _echo_manifest(obj: dict[str, Any], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(obj, indent=4))
    else:
        click.echo(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False), nl=False)


# -- create -----------------------------------------------------------------------------------


@click.group("create")
def create_group() -> None:
    """Create a resource in the local store (kubectl-shaped)."""


@create_group.group("secret")
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
def create_secret_group(namespace: str | None) -> None:
    """Create a secret."""


@create_secret_group.command("generic")
@click.argument("name")
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
@click.option("--from-literal", "literals", multiple=True, metavar="KEY=VALUE", help="A key and its value.")
@click.option(
    "--from-file",
    "files",
    multiple=True,
    metavar="[KEY=]PATH",
    help="A file's content (key: its base name unless given); a directory adds each regular file.",
)
@click.option("--from-env-file", "env_files", multiple=True, metavar="PATH", help="KEY=VALUE lines.")
@click.option("--type", "secret_type", default="Opaque", show_default=True, help="The Secret's type.")
@click.option(
    "--dry-run",
    type=click.Choice(["none", "client"]),
    default="none",
    is_flag=False,
    flag_value="client",
    help="'client': print the manifest (with -o) instead of storing it.",
)
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default=None, help="Print the Secret.")
@click.pass_context
@reports_errors
def create_generic(
    ctx: click.Context,
    name: str,
    namespace: str | None,
    literals: tuple[str, ...],
    files: tuple[str, ...],
    env_files: tuple[str, ...],
    secret_type: str,
    dry_run: str,
    output: str | None,
) -> None:
    """Create secret NAME from literals, files and env files (like kubectl create secret generic)."""
    parent_ns = ctx.parent.params.get("namespace") if ctx.parent is not None else None
    ns = _namespace(parent_ns, namespace)
    data = collect_data(literals=literals, files=files, env_files=env_files)
    manifest = SecretManifest(namespace=ns, name=name, type=secret_type, data=data)
    now = datetime.now(timezone.utc)
    info = SecretInfo(ns, name, secret_type, manifest.keys, {k: len(v) for k, v in data.items()}, now, now)
    if dry_run == "client":
        validate_secret_name(name)
        if output is None:
            click.echo(f"secret/{name} created (dry run)")
        else:
            # The point of a client dry run with -o is a manifest to apply elsewhere: values included.
            _echo_manifest(build_secret_manifest(info, data), output)
        return
    with _opened_store() as store:
        store.create(ns, name, data, secret_type=secret_type)
        if output is None:
            click.echo(f"secret/{name} created")
        else:
            _echo_manifest(build_secret_manifest(store.info(ns, name)), output)


# -- get --------------------------------------------------------------------------------------


@click.group("get")
def get_group() -> None:
    """List resources of the local store (kubectl-shaped)."""


@click.command("secrets")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
@click.option("-A", "--all-namespaces", is_flag=True, help="List secrets of every namespace.")
@click.option(
    "-o", "--output", type=click.Choice(["table", "yaml", "json", "name"]), default="table", show_default=True
)
@click.option("--reveal", is_flag=True, help="Include the values (base64) in -o yaml/json output.")
@reports_errors
def get_secrets(
    names: tuple[str, ...], namespace: str | None, all_namespaces: bool, output: str, reveal: bool
) -> None:
    """List secrets: NAME TYPE DATA AGE, or Kubernetes manifests without values unless --reveal."""
    if reveal and output not in {"yaml", "json"}:
        raise click.UsageError("--reveal only applies to -o yaml or -o json")
    if all_namespaces and names:
        raise click.UsageError("give secret names or -A, not both (names are looked up in one namespace)")
    ns = None if all_namespaces else _namespace(namespace)
    with _opened_store() as store:
        infos = store.list(ns)
        if names and ns is not None:
            by_name = {info.name: info for info in infos}
            for missing in (n for n in names if n not in by_name):
                store.info(ns, missing)  # raises the store's not-found error
            infos = [by_name[n] for n in names]
        values = {(i.namespace, i.name): store.get(i.namespace, i.name) for i in infos} if reveal else {}
        empty_store = not infos and not store.namespaces()
    if output == "name":
        for info in infos:
            click.echo(f"secret/{info.name}")
    elif output in {"yaml", "json"}:
        items = [build_secret_manifest(i, values.get((i.namespace, i.name))) for i in infos]
        single = len(names) == 1
        _echo_manifest(items[0] if single else build_secret_list(items), output)
    elif not infos:
        click.echo(f"No resources found in {ns} namespace." if ns else "No resources found", err=True)
        if empty_store:
            click.echo(
                f"The local store at {store.home} is empty; create a secret with: "
                "tasksecrets create secret generic NAME -n NAMESPACE --from-literal=KEY=VALUE",
                err=True,
            )
    else:
        _print_table(infos, with_namespace=all_namespaces)


get_group.add_command(get_secrets, "secrets")
get_group.add_command(get_secrets, "secret")


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


@click.group("describe")
def describe_group() -> None:
    """Show details of resources of the local store (kubectl-shaped)."""


@click.command("secret")
@click.argument("names", nargs=-1, required=True)
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
@reports_errors
def describe_secret(names: tuple[str, ...], namespace: str | None) -> None:
    """Show a secret's keys and their sizes in bytes (never the values)."""
    ns = _namespace(namespace)
    with _opened_store() as store:
        infos = [store.info(ns, name) for name in names]
    blocks = []
    for info in infos:
        lines = [
            f"Name:         {info.name}",
            f"Namespace:    {info.namespace}",
            "Labels:       <none>",
            "Annotations:  <none>",
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
        blocks.append("\n".join(lines))
    click.echo("\n\n\n".join(blocks))


describe_group.add_command(describe_secret, "secret")
describe_group.add_command(describe_secret, "secrets")


# -- delete -----------------------------------------------------------------------------------


@click.group("delete")
def delete_group() -> None:
    """Delete resources from the local store (kubectl-shaped)."""


@click.command("secret")
@click.argument("names", nargs=-1, required=True)
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
@click.option("--ignore-not-found", is_flag=True, help="Succeed when a secret does not exist.")
@reports_errors
def delete_secret(names: tuple[str, ...], namespace: str | None, ignore_not_found: bool) -> None:
    """Delete secrets by name with all their keys."""
    ns = _namespace(namespace)
    with _opened_store() as store:
        existing = {info.name for info in store.list(ns)}
        for name in names:
            if name not in existing and ignore_not_found:
                continue
            store.delete(ns, name)
            click.echo(f'secret "{name}" deleted')


delete_group.add_command(delete_secret, "secret")
delete_group.add_command(delete_secret, "secrets")


# -- apply ------------------------------------------------------------------------------------


@click.command("apply")
@click.option(
    "-f", "--filename", "filenames", multiple=True, required=True, help="Manifest file, or - for stdin."
)
@click.option("-n", "--namespace", default=None, help=_NS_HELP)
@reports_errors
def apply_cmd(filenames: tuple[str, ...], namespace: str | None) -> None:
    """Create or replace secrets from Kubernetes Secret manifests (data in base64, or stringData)."""
    if namespace:
        validate_namespace(namespace)
    default_ns = _namespace(None)
    manifests: list[SecretManifest] = []
    for filename in filenames:
        text, source = _read_manifest(filename)
        manifests += parse_secret_manifests(
            text, source=source, namespace=namespace, default_namespace=default_ns
        )
    # Everything is checked before the first write, so a bad document applies nothing.
    with _opened_store() as store:
        for manifest in manifests:
            existing = {i.name for i in store.list(manifest.namespace)}
            if manifest.name in existing:
                unchanged = store.get(manifest.namespace, manifest.name) == dict(manifest.data) and (
                    store.info(manifest.namespace, manifest.name).type == manifest.type
                )
                verb = "unchanged" if unchanged else "configured"
            else:
                verb = "created"
            if verb != "unchanged":
                store.create(
                    manifest.namespace, manifest.name, manifest.data, replace=True, secret_type=manifest.type
                )
            click.echo(f"secret/{manifest.name} {verb}")


def _read_manifest(filename: str) -> tuple[str, str]:
    if filename == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(filename).read_text(encoding="utf-8"), filename
    except OSError as exc:
        raise click.ClickException(f"cannot read -f {filename}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise click.ClickException(
            f"cannot read -f {filename}: not UTF-8 text; give a YAML or JSON file"
        ) from None
