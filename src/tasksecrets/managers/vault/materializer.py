"""Vault secrets for a local run: what the Vault Agent Injector's init container does, on this machine.

Triggered by the annotation ``vault.hashicorp.com/agent-inject``. The annotations are read as the
injector reads them (:func:`~tasksecrets.managers.vault.agent.read_agent_secrets`).

- When a ``bao`` or ``vault`` binary is on ``PATH``, the real agent renders them once
  (:func:`~tasksecrets.managers.vault.agent.build_agent_config`: ``auto_auth`` with the
  ``token_file`` method, ``exit_after_auth``).
- Otherwise the secrets are read with hvac and the templates tasksecrets' webhook writes (one field
  of a kv1/kv2 secret, or the default rendering) are evaluated the same way, read back with the
  templates that wrote them (:mod:`tasksecrets.managers.vault.templates`); any other template needs
  the binary.

The server comes from ``VAULT_ADDR`` or ``BAO_ADDR`` (default ``http://127.0.0.1:8200``) and the
token from ``VAULT_TOKEN`` or ``BAO_TOKEN``, in the runner's environment; neither reaches the task.
Locally a missing field is an error (the agent's ``error_on_missing_key``), not ``<no value>``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tasksecrets.contract import VAULT_AGENT_INJECT
from tasksecrets.errors import TaskExecutionError
from tasksecrets.managers.materializing import FILE_MODE, PodContext, make_private_dirs
from tasksecrets.managers.vault.agent import AgentSecret, build_agent_config, read_agent_secrets
from tasksecrets.managers.vault.rendering import format_value, render_default
from tasksecrets.managers.vault.templates import KV2_QUERY, default_template, parse_field_template
from tasksecrets.sdk.masking import mask_values

__all__ = ["materialize_vault", "render_with_hvac"]

AGENT_TIMEOUT_SECONDS = 120


def render_with_hvac(secret: AgentSecret, client: Any) -> str:
    """Render one secret by reading it with hvac ``client``; TaskExecutionError when not possible."""
    field = parse_field_template(secret.template)
    if secret.template == default_template(secret.path):
        path, query, key = secret.path, None, None
    elif field is not None:
        path, query, key = field
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
        return render_default(data)
    if query == KV2_QUERY:
        inner = data.get("data")
        if not isinstance(inner, dict):
            raise TaskExecutionError(f"the Vault secret at {path!r} is not a kv v2 secret (no .Data.data)")
        data = inner
    if key not in data:
        raise TaskExecutionError(f"the Vault secret at {path!r} has no field {key!r}")
    return format_value(data[key])


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
    if str(annotations.get(VAULT_AGENT_INJECT, "")).lower() != "true":
        return
    secrets = read_agent_secrets(annotations)
    if not secrets:
        return
    address, token = _server(ctx.environ)
    targets = {s.name: ctx.container_file(s.destination) for s in secrets}
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
