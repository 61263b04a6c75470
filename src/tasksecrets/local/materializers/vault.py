"""Vault secrets for a local run: what the Vault Agent Injector's init container does, on this machine.

Triggered by the annotation ``vault.hashicorp.com/agent-inject``. The annotations are read as the
injector reads them (:func:`read_agent_secrets`): every ``agent-inject-secret-<name>: <path>``
is one template, its contents ``agent-inject-template-<name>`` or, without one, the injector's
default (every field of the secret as ``<field>: <value>`` lines), its destination
``<secret-volume-path>/<agent-inject-file-<name>>`` (or ``.../<name>``).

- When a ``bao`` or ``vault`` binary is on ``PATH``, the real agent renders them once
  (:func:`build_agent_config`: ``auto_auth`` with the ``token_file`` method, ``exit_after_auth``).
- Otherwise the secrets are read with hvac and the templates tasksecrets' webhook writes (one field
  of a kv1/kv2 secret, or the default rendering) are evaluated the same way; any other template
  needs the binary.

The server comes from ``VAULT_ADDR`` or ``BAO_ADDR`` (default ``http://127.0.0.1:8200``) and the
token from ``VAULT_TOKEN`` or ``BAO_TOKEN``, in the runner's environment; neither reaches the task.
Locally a missing field is an error (the agent's ``error_on_missing_key``), not ``<no value>``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.materializers import FILE_MODE, PodContext, make_private_dirs, register_materializer
from tasksecrets.sdk.masking import mask_values

__all__ = [
    "DENIED_TEMPLATE_FUNCTIONS",
    "AgentSecret",
    "build_agent_config",
    "default_template",
    "read_agent_secrets",
    "render_with_hvac",
]

PREFIX = "vault.hashicorp.com/"
DEFAULT_VOLUME_PATH = "/vault/secrets"  # the injector's default secret-volume-path
AGENT_TIMEOUT_SECONDS = 120
# Template functions that reach beyond Vault: run a command, read or write a local file. Templates
# come from pod annotations, which anyone who can create a pod writes; locally the agent runs as
# the runner's user, so these would run commands or read the runner's files.
DENIED_TEMPLATE_FUNCTIONS = ("plugin", "file", "writeToFile")


@dataclass(frozen=True)
class AgentSecret:
    """One ``agent-inject-secret-<name>`` as the injector reads it."""

    name: str
    path: str
    template: str
    destination: str  # a container path


def default_template(path: str) -> str:
    """The injector's template for a secret without ``agent-inject-template-<name>``."""
    return (
        f'{{{{ with secret "{path}" }}}}'
        "{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}"
    )


def read_agent_secrets(annotations: Mapping[str, Any]) -> list[AgentSecret]:
    """The secrets the annotations ask the agent for, in annotation order."""
    volume_path = str(annotations.get(PREFIX + "secret-volume-path") or DEFAULT_VOLUME_PATH)
    secrets = []
    for key, value in annotations.items():
        if not key.startswith(PREFIX + "agent-inject-secret-"):
            continue
        name = key.removeprefix(PREFIX + "agent-inject-secret-")
        if not name:
            continue
        template = str(annotations.get(PREFIX + "agent-inject-template-" + name) or "") or default_template(
            str(value)
        )
        mount = str(annotations.get(PREFIX + "secret-volume-path-" + name) or volume_path)
        file_name = annotations.get(PREFIX + "agent-inject-file-" + name)
        destination = (
            os.path.normpath(os.path.join(mount, str(file_name))) if file_name else f"{mount}/{name}"
        )
        secrets.append(AgentSecret(name=name, path=str(value), template=template, destination=destination))
    return secrets


def build_agent_config(
    secrets: list[AgentSecret],
    *,
    address: str,
    token_file: str,
    destinations: Mapping[str, str] | None = None,
    pid_file: str | None = None,
    error_on_missing_key: bool = False,
) -> dict[str, Any]:
    """A one-shot agent configuration (JSON form) rendering ``secrets``, as the injector's init container.

    The templates may not call :data:`DENIED_TEMPLATE_FUNCTIONS` (commands, local files).
    ``destinations`` maps a secret's name to where to write it instead of its container path.
    """
    templates = []
    for secret in secrets:
        template: dict[str, Any] = {
            "contents": secret.template,
            "destination": (destinations or {}).get(secret.name, secret.destination),
            "left_delimiter": "{{",
            "right_delimiter": "}}",
            "function_denylist": list(DENIED_TEMPLATE_FUNCTIONS),
        }
        if error_on_missing_key:
            template["error_on_missing_key"] = True
        templates.append(template)
    config: dict[str, Any] = {
        "exit_after_auth": True,
        "vault": {"address": address, "retry": {"num_retries": 1}},
        "auto_auth": {"method": [{"type": "token_file", "config": {"token_file_path": token_file}}]},
        "template_config": {"exit_on_retry_failure": True},
        "template": templates,
    }
    if pid_file is not None:
        config["pid_file"] = pid_file
    return config


# The templates tasksecrets' webhook writes, which the hvac path can evaluate.
_FIELD = re.compile(
    r'^\{\{- with secret "(?P<path>[^"]*)" -\}\}\{\{ '
    r"(?:(?P<query>\.Data(?:\.data)?)\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)"
    r'|index (?P<iquery>\.Data(?:\.data)?) "(?P<ikey>[^"]*)")'
    r" \}\}\{\{- end -\}\}$"
)


def _format_value(value: object) -> str:
    # Go's %v for the JSON types Vault returns; strings as they are.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def render_with_hvac(secret: AgentSecret, client: Any) -> str:
    """Render one secret by reading it with hvac ``client``; TaskExecutionError when not possible."""
    match = _FIELD.match(secret.template)
    if secret.template == default_template(secret.path):
        path, query, key = secret.path, None, None
    elif match is not None:
        path = match.group("path")
        query = match.group("query") or match.group("iquery")
        key = match.group("key") or match.group("ikey")
    else:
        raise TaskExecutionError(
            f"the Vault template of {secret.destination} is not one tasksecrets writes; rendering it "
            "locally needs the real agent: put a 'bao' or 'vault' binary on PATH"
        )
    response = client.read(path)
    if not response or not isinstance(response.get("data"), dict):
        raise TaskExecutionError(f"Vault has no secret at {path!r}")
    data: dict[str, Any] = response["data"]
    if key is None:
        return "".join(f"{k}: {_format_value(v)}\n" for k, v in sorted(data.items()))
    if query == ".Data.data":
        inner = data.get("data")
        if not isinstance(inner, dict):
            raise TaskExecutionError(f"the Vault secret at {path!r} is not a kv v2 secret (no .Data.data)")
        data = inner
    if key not in data:
        raise TaskExecutionError(f"the Vault secret at {path!r} has no field {key!r}")
    return _format_value(data[key])


def _server(environ: Mapping[str, str]) -> tuple[str, str]:
    address = environ.get("VAULT_ADDR") or environ.get("BAO_ADDR") or "http://127.0.0.1:8200"
    token = environ.get("VAULT_TOKEN") or environ.get("BAO_TOKEN")
    if not token:
        raise TaskExecutionError(
            "this pod's secrets come from Vault: set VAULT_TOKEN (or BAO_TOKEN) and VAULT_ADDR "
            "(or BAO_ADDR) in the environment of 'tasksecrets run'"
        )
    return address, token


def _agent_binary(environ: Mapping[str, str]) -> str | None:
    search = environ.get("PATH", os.defpath)
    return shutil.which("bao", path=search) or shutil.which("vault", path=search)


def _render_with_agent(
    binary: str,
    secrets: list[AgentSecret],
    targets: dict[str, Path],
    ctx: PodContext,
    *,
    address: str,
    token: str,
) -> None:
    work = ctx.root / "vault-agent"
    make_private_dirs(work, top=ctx.root)
    token_file = work / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    config = build_agent_config(
        secrets,
        address=address,
        token_file=str(token_file),
        destinations={name: str(path) for name, path in targets.items()},
        pid_file=str(work / "agent.pid"),
        error_on_missing_key=True,
    )
    config_file = work / "agent.json"
    config_file.write_text(json.dumps(config))
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(work)}
    try:
        proc = subprocess.run(
            [binary, "agent", f"-config={config_file}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=AGENT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TaskExecutionError(f"the Vault agent did not finish within {AGENT_TIMEOUT_SECONDS}s") from None
    finally:
        token_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if "[ERROR]" in line]
        detail = errors[-1].split("[ERROR]", 1)[1].strip() if errors else f"exit code {proc.returncode}"
        raise TaskExecutionError(
            f"the Vault agent ({binary}) could not render the pod's secrets from {address}: "
            + mask_values([token, *ctx.secret_values], detail)
        )


def materialize_vault(annotations: Mapping[str, Any], ctx: PodContext) -> None:
    """Render every agent-inject secret of the pod into the task's filesystem."""
    if str(annotations.get(PREFIX + "agent-inject", "")).lower() != "true":
        return
    secrets = read_agent_secrets(annotations)
    if not secrets:
        return
    address, token = _server(ctx.environ)
    targets = {s.name: ctx.host_path(s.destination) for s in secrets}
    for path in targets.values():
        make_private_dirs(path.parent, top=ctx.root)
    binary = _agent_binary(ctx.environ)
    if binary is not None:
        _render_with_agent(binary, secrets, targets, ctx, address=address, token=token)
        for secret in secrets:
            data = targets[secret.name].read_bytes()
            os.chmod(targets[secret.name], FILE_MODE)
            _note(secret, data, ctx)
        return
    try:
        import hvac
    except ImportError:
        raise TaskExecutionError(
            "Vault secrets need a 'bao' or 'vault' binary on PATH, or the hvac package: "
            "pip install 'tasksecrets[vault]'"
        ) from None
    client = hvac.Client(url=address, token=token)
    for secret in secrets:
        try:
            text = render_with_hvac(secret, client)
        except hvac.exceptions.VaultError as exc:
            raise TaskExecutionError(
                f"Vault at {address} refused to read {secret.path!r}: {type(exc).__name__}"
            ) from None
        ctx.write_secret_file(targets[secret.name], text.encode("utf-8"))
        _note(secret, text.encode("utf-8"), ctx)


def _note(secret: AgentSecret, data: bytes, ctx: PodContext) -> None:
    ctx.add_secret_value(data)
    # The default rendering holds several values (``password: ...``): mask each one too.
    for line in data.decode("utf-8", errors="replace").splitlines():
        _field, sep, value = line.partition(": ")
        if sep and value.strip():
            ctx.add_secret_value(value)
    ctx.note_delivered(secret.path)


register_materializer("pod-annotation", PREFIX + "agent-inject", materialize_vault)
