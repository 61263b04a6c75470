"""How the Vault Agent Injector reads a pod's annotations, and a one-shot agent configuration.

:func:`read_agent_secrets` reads the annotations as the injector does: every
``agent-inject-secret-<name>: <path>`` is one template, its contents ``agent-inject-template-<name>``
or, without one, the injector's default (:func:`~tasksecrets.managers.vault.templates.default_template`),
its destination ``<secret-volume-path>/<agent-inject-file-<name>>`` (or ``.../<name>``).
:func:`build_agent_config` makes the configuration that renders them once, as the injector's init
container does, for the real agent (``bao agent`` or ``vault agent``) of a local run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tasksecrets.contract import (
    VAULT_DEFAULT_VOLUME_PATH,
    VAULT_FILE_PREFIX,
    VAULT_SECRET_PREFIX,
    VAULT_SECRET_VOLUME_PATH,
    VAULT_TEMPLATE_PREFIX,
)
from tasksecrets.managers.vault.templates import default_template

__all__ = ["DENIED_TEMPLATE_FUNCTIONS", "AgentSecret", "build_agent_config", "read_agent_secrets"]

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


def read_agent_secrets(annotations: Mapping[str, Any]) -> list[AgentSecret]:
    """The secrets the annotations ask the agent for, in annotation order."""
    volume_path = str(annotations.get(VAULT_SECRET_VOLUME_PATH) or VAULT_DEFAULT_VOLUME_PATH)
    secrets = []
    for key, value in annotations.items():
        if not key.startswith(VAULT_SECRET_PREFIX):
            continue
        name = key.removeprefix(VAULT_SECRET_PREFIX)
        if not name:
            continue
        template = str(annotations.get(VAULT_TEMPLATE_PREFIX + name) or "") or default_template(str(value))
        mount = str(annotations.get(f"{VAULT_SECRET_VOLUME_PATH}-{name}") or volume_path)
        file_name = annotations.get(VAULT_FILE_PREFIX + name)
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
