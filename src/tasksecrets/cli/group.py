"""The ``tasksecrets`` command line's click group, whose subcommands load lazily.

Each subcommand lives in its own module of this package and is imported only when it runs, so
``tasksecrets --help`` and ``python -m tasksecrets execute`` stay fast and a missing optional
dependency only affects the command that needs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

__all__ = ["main"]

# name -> "module:attribute"; the attribute is a click.Command or click.Group.
_COMMANDS: dict[str, tuple[str, str]] = {
    "apply": ("tasksecrets.cli.store_apply", "apply_cmd"),
    "create": ("tasksecrets.cli.store", "create_group"),
    "delete": ("tasksecrets.cli.store_delete", "delete_group"),
    "describe": ("tasksecrets.cli.store_get", "describe_group"),
    "execute": ("tasksecrets.cli.execute", "execute_cmd"),
    "get": ("tasksecrets.cli.store_get", "get_group"),
    "patch": ("tasksecrets.cli.store_apply", "patch_group"),
    "pod": ("tasksecrets.cli.pod", "pod_group"),
    "run": ("tasksecrets.cli.run", "run_cmd"),
    "webhook": ("tasksecrets.cli.webhook", "webhook_group"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if _module_exists(_COMMANDS[name][0]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None or not _module_exists(target[0]):
            return None
        module = importlib.import_module(target[0])
        command: Any = getattr(module, target[1])
        return command  # type: ignore[no-any-return]


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tasksecrets")
def main() -> None:
    """Secrets for Python tasks: store them, inject them into pods, run workflows with them."""
