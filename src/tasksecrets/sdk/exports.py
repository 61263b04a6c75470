"""ENV_VAR everywhere: the task entrypoint exports file-delivered secrets into env vars.

Managers that can only deliver files (AWS, GCP, Vault, Azure) serve an ENV_VAR request as a file
and mark the pod with the annotation ``tasksecrets.dev/export-env`` (the contract's
:data:`~tasksecrets.contract.EXPORT_ANNOTATION`),
whose value is a compact JSON object ``{"<env var name>": "<file path>", ...}`` naming, for each
such request, ``UPPER(_FSEC_<group>_<key>)`` and the request's ``env_var`` (when it has one). File
paths are relative to the secrets directory (``FLYTE_SECRETS_DEFAULT_DIR``, which the webhook sets
to ``/etc/flyte/secrets``; the local kubelet points it at its private copy); absolute paths are
used as they are.

Annotations are not visible inside a container, so the webhook also gives every container the
env var ``TASKSECRETS_EXPORT_ENV`` whose value the kubelet fills from
that annotation through the downward API (``fieldRef: metadata.annotations['tasksecrets.dev/export-env']``).
Before the task's code is imported, ``python -m tasksecrets execute`` calls
:func:`apply_env_exports`, which reads each file and sets the env var to its content (without one
trailing line break). A name the container already has is left alone; a file that is missing
leaves its names unset (reading the secret then reports where it was looked for).

Light on purpose: only the standard library, as the SDK must stay fast to import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from tasksecrets.contract import DEFAULT_DIR_VAR, EXPORT_ENV_VAR, POD_SECRETS_DIR
from tasksecrets.errors import SecretError

__all__ = [
    "apply_env_exports",
    "format_export_spec",
    "parse_export_spec",
    "read_secret_file",
]


def format_export_spec(exports: Mapping[str, str]) -> str:
    """The annotation's value: compact JSON, in the order given (deterministic patches)."""
    import json  # here, not at the top: `import tasksecrets` reaches this module and stays light

    return json.dumps(dict(exports), separators=(",", ":"), ensure_ascii=False)


def parse_export_spec(text: str, *, source: str = EXPORT_ENV_VAR) -> dict[str, str]:
    """Decode an export spec; SecretError saying what is wrong when it is not a name -> path object."""
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretError(
            f"{source} is not valid JSON ({exc.msg} at position {exc.pos}): it must be an object "
            f'mapping env var names to secret file paths, e.g. {{"MY_VAR": "{POD_SECRETS_DIR}/g/k"}}'
        ) from None
    if not isinstance(data, dict):
        raise SecretError(
            f"{source} must be a JSON object mapping env var names to file paths, got {type(data).__name__}"
        )
    exports: dict[str, str] = {}
    for name, path in data.items():
        if not name or "=" in name or "\0" in name:
            raise SecretError(f"{source} names {name!r}, which cannot be an environment variable name")
        if not isinstance(path, str) or not path:
            raise SecretError(f"{source}: the file path for {name!r} must be a non-empty string")
        exports[name] = path
    return exports


def read_secret_file(path: str) -> bytes | None:
    """The file's bytes, None when there is no such file; SecretError when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except PermissionError:
        raise SecretError(
            f"the secret file {path} exists but cannot be read (permission denied): "
            "make it readable by the task's user"
        ) from None


def _read_value(path: str) -> str | None:
    data = read_secret_file(path)
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(
            f"the secret file {path} is not UTF-8 text, so it cannot be exported into an env var: "
            "request it as a FILE and read it with encode_mode='rb'"
        ) from None
    if "\0" in text:
        raise SecretError(f"the secret file {path} holds a NUL byte, which an env var cannot carry")
    # Tools that write secret files (``az ... -o tsv``) end them with a line break; drop that one.
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def apply_env_exports(environ: MutableMapping[str, str], *, spec: str | None = None) -> list[str]:
    """Set each env var of the export spec to its file's content; returns the names set.

    ``spec`` defaults to ``environ[TASKSECRETS_EXPORT_ENV]``; nothing to do when it is unset or
    empty. Names ``environ`` already has are kept. Raises SecretError for a malformed spec or an
    unreadable file (never with a value in the message).
    """
    text = environ.get(EXPORT_ENV_VAR) if spec is None else spec
    if not text or not text.strip():
        return []
    exported: list[str] = []
    values: dict[str, str | None] = {}
    base = (environ.get(DEFAULT_DIR_VAR) or "").strip() or POD_SECRETS_DIR
    for name, relative in parse_export_spec(text).items():
        if environ.get(name):
            continue
        path = os.path.join(base, relative)
        if path not in values:
            values[path] = _read_value(path)
        value = values[path]
        if value is None:
            continue
        environ[name] = value
        exported.append(name)
    return exported
