"""The Kubernetes API client of ``run --cluster``: lightkube, found the way kubectl finds a cluster.

``--kubeconfig`` and ``--context`` mean what they mean to kubectl; without them ``KUBECONFIG`` (its
first file) or ``~/.kube/config``, and inside a pod its service account. lightkube is imported here
only, so the rest of tasksecrets never needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tasksecrets.errors import ConfigError

__all__ = ["INSTALL_HINT", "connect"]

INSTALL_HINT = "running on a cluster needs the kubernetes extra: pip install 'tasksecrets[kubernetes]'"


def _kubeconfig_path(explicit: str | None) -> Path | None:
    if explicit is not None:
        return Path(explicit).expanduser()
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return Path(listed[0]).expanduser()
    default = Path("~/.kube/config").expanduser()
    return default if default.exists() else None


def connect(*, kubeconfig: str | None, context: str | None) -> Any:
    """A lightkube ``Client``; ConfigError naming the file, the context or the missing extra."""
    try:
        from lightkube import Client, KubeConfig
        from lightkube.core.exceptions import ConfigError as LightkubeConfigError
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    path = _kubeconfig_path(kubeconfig)
    try:
        # No file: in a pod, its service account.
        config = KubeConfig.from_env() if path is None else KubeConfig.from_file(path)
        single = config.get(context_name=context)
    except (OSError, LightkubeConfigError, ValueError, KeyError) as exc:
        where = f"the kubeconfig {path}" if path is not None else "the pod's service account"
        raise ConfigError(
            f"cannot use {where}{f' (context {context!r})' if context else ''}: {exc}; "
            "pass --kubeconfig FILE and --context NAME as for kubectl"
        ) from None
    if single is None:
        raise ConfigError(f"the kubeconfig {path} has no context {context!r}: pass --context NAME")
    return Client(config=single, field_manager="tasksecrets", trust_env=False)
