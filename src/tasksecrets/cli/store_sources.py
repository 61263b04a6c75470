"""The data of ``tasksecrets create secret generic``: --from-literal, --from-file and --from-env-file.

Same rules as kubectl: a literal splits at its first ``=``; a file's key is its base name unless
given as ``KEY=PATH``, and a directory adds each regular file in it (a name that is not a valid key
is an error, as with kubectl; subdirectories are left out); an env
file holds ``KEY=VALUE`` lines (``#`` comments and blank lines skipped, a bare ``KEY`` takes its
value from the environment). A key given twice is an error. Messages name the flag and its
position, never a value: a mistyped ``--from-literal`` may hold nothing but the secret itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from tasksecrets.errors import StoreNameError
from tasksecrets.local.kube_names import validate_data_key

__all__ = ["collect_data"]

_ENV_NAME_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def collect_data(
    *, literals: tuple[str, ...], files: tuple[str, ...], env_files: tuple[str, ...]
) -> dict[str, bytes]:
    """The secret's keys and values from the three kinds of flags, in the order kubectl reads them."""
    data: dict[str, bytes] = {}
    origins: dict[str, str] = {}

    def add(key: str, value: bytes, origin: str) -> None:
        try:
            validate_data_key(key)
        except StoreNameError as exc:
            raise click.UsageError(f"{origin}: {exc}") from None
        if key in data:
            raise click.UsageError(
                f"key {key!r} is given twice ({origins[key]} and {origin}); give each key once"
            )
        data[key] = value
        origins[key] = origin

    for index, literal in enumerate(literals, start=1):
        origin = f"--from-literal number {index}"
        key, sep, value = literal.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{origin} is not KEY=VALUE; write it as --from-literal=KEY=VALUE")
        # fsencode undoes the decoding of argv, so any bytes given on the command line survive.
        add(key, os.fsencode(value), origin)
    for spec in files:
        key, sep, path_text = spec.partition("=")
        if not sep:
            key, path_text = "", spec
        if sep and not key:
            raise click.UsageError(f"--from-file={spec}: the key before '=' is empty; write KEY=PATH or PATH")
        path = Path(path_text)
        if path.is_dir() and not key:
            for child in sorted(path.iterdir()):
                if child.is_file():
                    add(child.name, _read_bytes(child, flag="--from-file"), f"--from-file={spec}")
            continue
        add(key or path.name, _read_bytes(path, flag="--from-file"), f"--from-file={spec}")
    for env_file in env_files:
        for env_key, env_value, line_no in _read_env_file(Path(env_file)):
            add(env_key, env_value, f"--from-env-file={env_file} line {line_no}")
    return data


def _read_env_file(path: Path) -> list[tuple[str, bytes, int]]:
    text = _read_bytes(path, flag="--from-env-file").decode("utf-8", errors="surrogateescape")
    entries = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip("\ufeff") if line_no == 1 else raw
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not _ENV_NAME_RE.fullmatch(key):
            raise click.UsageError(
                f"--from-env-file={path} line {line_no}: the part before '=' is not a valid variable name; "
                "write KEY=VALUE lines (letters, digits, '-', '_', '.')"
            )
        if not sep:
            value = os.environ.get(key, "")  # a bare KEY takes its value from the environment
        entries.append((key, value.encode("utf-8", errors="surrogateescape"), line_no))
    return entries


def _read_bytes(path: Path, *, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise click.ClickException(
            f"{flag}: cannot read {path}: {reason}; check the path and its permissions"
        ) from None
