"""The ``tasksecrets`` command line; :data:`main` is its click group (:mod:`tasksecrets.cli.group`).

``main`` is looked up lazily, so that importing a command module of this package (a task's
``tasksecrets.cli.execute``) does not import click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasksecrets.cli.group import main

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from tasksecrets.cli.group import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
