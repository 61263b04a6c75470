"""What the CLI's command modules share: turning the library's errors into a one-line message."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tasksecrets.errors import TaskSecretsError

__all__ = ["reports_errors"]

_F = TypeVar("_F", bound=Callable[..., Any])


def reports_errors(func: _F) -> _F:
    """Turn the library's errors into a one-line message and exit status 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TaskSecretsError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
