"""What the kubectl-shaped store commands share: namespaces, resource names, output, partial failure.

kubectl names a resource as ``secret NAME`` or ``secret/NAME`` (``secrets/NAME`` too): the groups
here take both (:class:`ResourceGroup`). A command given several names does what it can and
reports the rest, as kubectl does: the rows or lines that succeeded are printed, each failure gets
one ``Error:`` line on stderr, and the exit status is 1 (:class:`Failures`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from tasksecrets.errors import TaskSecretsError
from tasksecrets.local.kube_names import validate_namespace
from tasksecrets.local.store import SecretStore
from tasksecrets.yamltext import dump_yaml

__all__ = [
    "EXIT_CODES",
    "NAMESPACE_ENV",
    "NS_HELP",
    "Failures",
    "ResourceGroup",
    "dry_run_option",
    "echo_manifest",
    "namespace_of",
    "opened_store",
    "secret_names",
    "selection_options",
]

NAMESPACE_ENV = "TASKSECRETS_NAMESPACE"
NS_HELP = f"Namespace (default: ${NAMESPACE_ENV} or 'default'), e.g. flytesnacks-development."
EXIT_CODES = (
    "Exit status: 0 done; 1 something asked for could not be done (the store said why, on stderr; "
    "with several names, what could be done was done); 2 a usage mistake on the command line."
)
_RESOURCES = ("secret", "secrets")
_F = TypeVar("_F", bound=Callable[..., Any])
_VALUE_OPTIONS = {"-n", "--namespace", "-l", "--selector", "-o", "--output", "-p", "--patch", "--type"}
_VALUE_OPTIONS |= {"--patch-file", "--dry-run"}


@contextmanager
def opened_store() -> Iterator[SecretStore]:
    with SecretStore.open() as store:
        yield store


def namespace_of(*given: str | None) -> str:
    """The namespace from ``-n`` (given at most once, wherever), else the environment, else default."""
    chosen = [ns for ns in given if ns]
    if len(set(chosen)) > 1:
        raise click.UsageError(
            f"-n was given twice with different namespaces ({' and '.join(chosen)}); give one"
        )
    namespace = chosen[0] if chosen else os.environ.get(NAMESPACE_ENV) or "default"
    validate_namespace(namespace)
    return namespace


def echo_manifest(obj: dict[str, Any], output: str) -> None:
    """Print a manifest as kubectl does: JSON indented by 4, or YAML with sorted keys (no aliases)."""
    if output == "json":
        click.echo(json.dumps(obj, indent=4))
    else:
        click.echo(dump_yaml(obj, sort_keys=True), nl=False)


def dry_run_option() -> Callable[[_F], _F]:
    """kubectl's ``--dry-run[=client]``: show what would be done, store nothing."""
    return click.option(
        "--dry-run",
        type=click.Choice(["none", "client"]),
        default="none",
        is_flag=False,
        flag_value="client",
        help="'client': print what would be done (the objects with -o) and store nothing.",
    )


def selection_options(*, across: str, selected: str) -> Callable[[_F], _F]:
    """NAME..., -n, -A and -l, as get, describe and delete take them (help texts: their verbs)."""

    def decorate(func: _F) -> _F:
        for option in reversed(
            [
                click.argument("names", nargs=-1),
                click.option("-n", "--namespace", default=None, help=NS_HELP),
                click.option("-A", "--all-namespaces", is_flag=True, help=across),
                click.option("-l", "--selector", default=None, help=selected),
            ]
        ):
            func = option(func)
        return func

    return decorate


def secret_names(names: tuple[str, ...]) -> list[str]:
    """Names given as ``NAME``, ``secret/NAME`` or ``secrets/NAME``."""
    result = []
    for name in names:
        kind, sep, rest = name.partition("/")
        if sep and kind not in _RESOURCES:
            raise click.UsageError(
                f"{name!r}: tasksecrets manages secrets only; write secret/NAME or just NAME"
            )
        result.append(rest if sep else name)
    return result


class ResourceGroup(click.Group):
    """A group whose subcommands are resource kinds, also reached as ``KIND/NAME`` (``secret/x``).

    Options may come before the kind, as kubectl takes them (``get -n NS secrets``): they are
    handed to the kind's command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {})["ignore_unknown_options"] = True
        super().__init__(*args, **kwargs)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        args = _kind_first(args)
        if args and "/" in args[0]:
            kind, _, name = args[0].partition("/")
            if kind in _RESOURCES and name:
                # secret/a secret/b: every further TYPE/NAME is read by secret_names()
                return super().resolve_command(ctx, [kind, name, *args[1:]])
        return super().resolve_command(ctx, args)


def _kind_first(args: list[str]) -> list[str]:
    # The options that take a value, so that their value is not read as the kind.
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "--":
        option = args[index]
        index += 2 if option in _VALUE_OPTIONS else 1
    if 0 < index < len(args):
        return [args[index], *args[:index], *args[index + 1 :]]
    return args


class Failures:
    """Errors of a command given several names: each printed as it happens, the exit status at the end."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def reported(self) -> Iterator[None]:
        try:
            yield
        except TaskSecretsError as exc:
            self.count += 1
            click.echo(f"Error: {exc}", err=True)

    def exit(self) -> None:
        if self.count:
            raise SystemExit(1)
