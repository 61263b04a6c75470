"""``tasksecrets create secret generic``: kubectl-shaped store commands, and where the others live.

The commands and flags are kubectl's, so the commands of the Flyte secrets guide carry over with
``kubectl`` replaced by ``tasksecrets``; both argument orders work (``create secret generic NAME -n
NS`` and ``create secret -n NS generic NAME``). ``get``/``describe`` are in :mod:`store_get`,
``delete`` in :mod:`store_delete`, ``apply`` and ``patch`` in :mod:`store_apply`. Values are never
printed, except where asked for explicitly: ``get -o yaml|json|jsonpath --reveal`` and ``--dry-run=client
-o yaml|json``, whose purpose is a manifest to apply elsewhere. Errors print one line saying what to
do; exit status 1 for a failure, 2 for a usage mistake.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from tasksecrets.cli._common import reports_errors
from tasksecrets.cli.store_common import (
    EXIT_CODES,
    NS_HELP,
    dry_run_option,
    echo_manifest,
    namespace_of,
    opened_store,
)
from tasksecrets.cli.store_sources import collect_data
from tasksecrets.local.kube_names import validate_secret_name
from tasksecrets.local.manifests import build_secret_manifest
from tasksecrets.local.store import SecretInfo

__all__ = ["create_group"]


@click.group("create", epilog=EXIT_CODES)
def create_group() -> None:
    """Create a resource in the local store (kubectl-shaped)."""


@create_group.group("secret", epilog=EXIT_CODES)
@click.option("-n", "--namespace", default=None, help=NS_HELP)
def create_secret_group(namespace: str | None) -> None:
    """Create a secret."""


@create_secret_group.command("generic", epilog=EXIT_CODES)
@click.argument("name")
@click.option("-n", "--namespace", default=None, help=NS_HELP)
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
@dry_run_option()
@click.option(
    "-o", "--output", type=click.Choice(["yaml", "json", "name"]), default=None, help="Print the Secret."
)
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
    ns = namespace_of(parent_ns, namespace)
    validate_secret_name(name)
    if not secret_type:
        raise click.UsageError("--type is empty; give a type such as Opaque")
    data = collect_data(literals=literals, files=files, env_files=env_files)
    if output == "name":
        click.echo(f"secret/{name}")
    if dry_run == "client":
        if output is None:
            click.echo(f"secret/{name} created (dry run)")
        elif output != "name":
            # The point of a client dry run with -o is a manifest to apply elsewhere: values included.
            now = datetime.now(timezone.utc)
            sizes = {k: len(v) for k, v in data.items()}
            info = SecretInfo(ns, name, secret_type, tuple(sorted(data)), sizes, now, now)
            echo_manifest(build_secret_manifest(info, data), output)
        return
    with opened_store() as store:
        store.create(ns, name, data, secret_type=secret_type)
        if output is None:
            click.echo(f"secret/{name} created")
        elif output != "name":
            echo_manifest(build_secret_manifest(store.info(ns, name)), output)
