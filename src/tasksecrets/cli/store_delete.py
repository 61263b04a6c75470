"""``tasksecrets delete secret``: by name, with ``-l SELECTOR``, or ``--all``, in one namespace or all.

Every name is tried: those that exist are deleted (``secret "x" deleted``), each missing one gets an
``Error:`` line, and the exit status is 1 if any was missing (kubectl's partial success).
``--dry-run=client`` prints what would be deleted and deletes nothing.
"""

from __future__ import annotations

import click

from tasksecrets.cli._common import reports_errors
from tasksecrets.cli.runs import delete_run
from tasksecrets.cli.store_common import (
    EXIT_CODES,
    Failures,
    ResourceGroup,
    dry_run_option,
    namespace_of,
    opened_store,
    secret_names,
    selection_options,
)
from tasksecrets.local.selectors import parse_selector

__all__ = ["delete_group"]


@click.group("delete", cls=ResourceGroup, epilog=EXIT_CODES)
def delete_group() -> None:
    """Delete resources from the local store (kubectl-shaped)."""


@click.command("secret", epilog=EXIT_CODES)
@selection_options(
    across="With --all or -l: in every namespace.", selected="Delete the secrets whose labels match: app=web."
)
@click.option("--all", "delete_all", is_flag=True, help="Delete every secret of the namespace.")
@click.option("--ignore-not-found", is_flag=True, help="Succeed when a secret does not exist.")
@dry_run_option()
@reports_errors
def delete_secret(
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    delete_all: bool,
    selector: str | None,
    ignore_not_found: bool,
    dry_run: str,
) -> None:
    """Delete secrets by name (or all, or those matching -l) with all their keys."""
    wanted = secret_names(names)
    if wanted and (delete_all or selector):
        raise click.UsageError("give secret names, or --all, or -l SELECTOR, not several of them")
    if not wanted and not (delete_all or selector):
        raise click.UsageError(
            "Missing argument 'NAMES...': name the secrets to delete, or pass --all or -l SELECTOR"
        )
    if all_namespaces and wanted:
        raise click.UsageError("-A deletes across namespaces with --all or -l only; give -n with names")
    ns = None if all_namespaces else namespace_of(namespace)
    suffix = " (dry run)" if dry_run == "client" else ""
    failures = Failures()
    with opened_store() as store:
        if wanted:
            assert ns is not None
            existing = {info.name for info in store.list(ns)}
            targets = [(ns, name) for name in wanted if name in existing or not ignore_not_found]
        else:
            match = parse_selector(selector).matches if selector else (lambda labels: True)
            targets = [(i.namespace, i.name) for i in store.list(ns) if match(i.labels)]
            if not targets:
                click.echo(f"No resources found in {ns} namespace." if ns else "No resources found", err=True)
        for target_ns, name in targets:
            with failures.reported():
                if dry_run == "client":
                    store.info(target_ns, name)  # a missing one fails as it would for real
                else:
                    store.delete(target_ns, name)
                click.echo(f'secret "{name}" deleted{suffix}')
    failures.exit()


delete_group.add_command(delete_secret, "secret")
delete_group.add_command(delete_secret, "secrets")
delete_group.add_command(delete_run, "run")
