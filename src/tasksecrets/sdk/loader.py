"""Find a task by file (or module) and name, as a task's process does before running it.

A file is imported under its package's dotted name when it lives in a package (directories with
``__init__.py``), else under its file name; the directory that makes that name importable goes on
``sys.path`` first, so the file's own imports work. A script's ``if __name__ == "__main__":`` block
does not run. A file already imported under that name is reused.

:func:`explain_load_error` turns what importing a file raised into what the CLI shows: a mistake in
declaring tasks or secrets (``Secret(group=...)`` without a key, ``secret_requests=Secret(...)``) is
one line naming the file and line, exit status 2; a syntax error one line with its file, line,
column and message; any
other error the user's traceback, trimmed to the user's frames and masked, exit status 1.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
import types
from dataclasses import dataclass
from types import ModuleType

from tasksecrets.errors import TaskDeclarationError, TaskSecretsError
from tasksecrets.sdk.masking import format_exception_masked
from tasksecrets.sdk.task import Task

__all__ = [
    "LoadFailure",
    "explain_load_error",
    "load_module",
    "load_task",
    "module_name_for_file",
    "trim_internal_frames",
    "user_location",
]


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_machinery(filename: str) -> bool:
    return filename.startswith("<frozen ") or os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def trim_internal_frames(exc: BaseException) -> BaseException:
    """``exc`` with only the traceback frames of the user's code (none of tasksecrets and importlib).

    What is left starts in the user's code (the imported file, the task's function) and ends at the
    user's last call; a SyntaxError keeps no frame at all, so it formats as its file, line and
    message only. Returns ``exc`` itself (its traceback replaced).
    """
    kept: list[types.TracebackType] = []
    tb = exc.__traceback__
    while tb is not None:
        if not _is_machinery(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    chain: types.TracebackType | None = None
    for frame in reversed(kept):
        chain = types.TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return exc.with_traceback(chain)


def user_location(exc: BaseException) -> str | None:
    """``file:line`` of the last frame of the user's code in ``exc``'s traceback, or None."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_machinery(f.filename)]
    if not frames:
        return None
    return f"{_shown_path(frames[-1].filename)}:{frames[-1].lineno}"


def _shown_path(path: str) -> str:
    # Relative to the working directory when below it (as the user typed it, mostly), else absolute.
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


@dataclass(frozen=True)
class LoadFailure:
    """What to show when a file or module failed to import: ``message``, ``exit_code``, ``traceback``."""

    message: str
    exit_code: int
    traceback: bool


def explain_load_error(exc: BaseException, source: str) -> LoadFailure:
    """What importing ``source`` raising ``exc`` means for the user (see the module docstring)."""
    if isinstance(exc, TaskSecretsError):
        where = user_location(exc)
        return LoadFailure(f"{where}: {exc}" if where else str(exc), 2, False)
    trimmed = trim_internal_frames(exc)
    if isinstance(exc, SyntaxError) and trimmed.__traceback__ is None:
        parts = (exc.filename and _shown_path(exc.filename), exc.lineno, exc.offset)
        where = ":".join(str(part) for part in parts if part)
        shown = f"{where}: {type(exc).__name__}: {exc.msg}" if where else f"{type(exc).__name__}: {exc.msg}"
        return LoadFailure(f"importing {source} failed: {shown}", 1, False)
    return LoadFailure(f"importing {source} failed:\n{format_exception_masked(trimmed).rstrip()}", 1, True)


def module_name_for_file(path: str) -> tuple[str, str]:
    """``(dotted module name, directory to put on sys.path)`` for a Python file."""
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts), directory


def _import_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise TaskDeclarationError(
            f"task file {path} does not exist: pass the path of the .py file defining the task"
        )
    name, root = module_name_for_file(path)
    existing = sys.modules.get(name)
    existing_file = getattr(existing, "__file__", None)
    if existing is not None and existing_file and os.path.abspath(existing_file) == os.path.abspath(path):
        return existing
    if root not in sys.path:
        sys.path.insert(0, root)
    if "." in name:
        try:
            module = importlib.import_module(name)
        except ImportError:
            module = None
        module_file = getattr(module, "__file__", None)
        if module is not None and module_file and os.path.abspath(module_file) == os.path.abspath(path):
            return module
        name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TaskDeclarationError(f"task file {path} cannot be imported: it must be a Python (.py) file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_module(file_or_module: str) -> ModuleType:
    """Import a ``.py`` file (a path) or a module (a dotted name)."""
    looks_like_file = file_or_module.endswith(".py") or os.sep in file_or_module
    if looks_like_file or os.path.isfile(file_or_module):
        return _import_file(file_or_module)
    try:
        return importlib.import_module(file_or_module)
    except ModuleNotFoundError as exc:
        if exc.name and file_or_module.startswith(exc.name):
            raise TaskDeclarationError(
                f"module {file_or_module!r} cannot be found: "
                "check its name, or pass the task's file path instead"
            ) from None
        raise


def load_task(file_or_module: str, name: str) -> Task:
    """The task called ``name`` defined at module level in a file or module.

    Looks for a module attribute ``name`` that is a Task, then for any Task whose ``.name`` is
    ``name``; raises TaskDeclarationError listing the tasks the module does define otherwise.
    """
    module = load_module(file_or_module)
    candidate = getattr(module, name, None)
    if isinstance(candidate, Task):
        return candidate
    tasks = {attr: value for attr, value in vars(module).items() if isinstance(value, Task)}
    for value in tasks.values():
        if value.name == name:
            return value
    known = ", ".join(sorted({value.name for value in tasks.values()})) or "none"
    raise TaskDeclarationError(
        f"no task {name!r} at module level of {file_or_module}; tasks defined there: {known}. "
        "Define the task at module level (not inside a function) and pass its name"
    )
