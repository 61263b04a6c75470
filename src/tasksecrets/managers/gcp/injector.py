"""GCP Secret Manager: a ``gcp-pull-secret-<N>`` init container per secret (docs/compat.md section 4).

``group`` is the secret (its name, or ``projects/<project>/secrets/<name>``) and ``group_version``
its version (a number or ``latest``); both are required, ``key`` is not used. The init container
(``gcpSecretManager`` image and resources) runs ``sh -ec`` with the script of
:mod:`tasksecrets.managers.gcp.script`, which writes the secret to
``lower(/etc/flyte/secrets/<group>/<group_version>)`` and makes it readable for non-root users.
The in-memory volume ``gcp-secret-vol`` is mounted read-write there and read-only at
``/etc/flyte/secrets`` everywhere else.

Ours: names that are not plain secret names or versions (anything outside letters, digits,
``-``, ``_``, ``.``, ``/``) are refused, because they would be pasted into a shell script.
ENV_VAR requests are served as the file plus an env export.
"""

from __future__ import annotations

import re
from typing import ClassVar

from tasksecrets.contract import GCP_CONTAINER_PREFIX, GCP_VOLUME, POD_SECRETS_DIR
from tasksecrets.errors import InjectionError
from tasksecrets.managers.delivery import check_request, plan_file
from tasksecrets.managers.gcp.script import gcp_secret_paths, render_pull_script
from tasksecrets.managers.pull import PullInjector, PullPlan
from tasksecrets.sdk.secret import Secret

__all__ = ["GCPInjector"]

_SAFE = re.compile(r"[A-Za-z0-9_./-]+")


def _check_name(field: str, value: str) -> None:
    # A leading '-' would make gcloud read the name as an option.
    if not _SAFE.fullmatch(value) or ".." in value.split("/") or value.startswith("-"):
        raise InjectionError(
            f"GCP {field} {value!r} is not a secret name or version: use letters, digits, "
            "'-', '_', '.' and '/' only, not starting with '-' (e.g. 'projects/p/secrets/name')"
        )


class GCPInjector(PullInjector):
    """Pulls each secret version from GCP Secret Manager in its own init container."""

    name: ClassVar[str] = "GCP"
    volume: ClassVar[str] = GCP_VOLUME
    container_prefix: ClassVar[str] = GCP_CONTAINER_PREFIX

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request (names safe for the script); the file and the sidecar's script."""
        check_request(secret, manager=self.name, export=self.export, need_key=False)
        if not secret.group_version:
            raise InjectionError(
                "GCP needs group_version (the secret's version, e.g. '1' or 'latest'): "
                f"use Secret(group={secret.group!r}, key=..., group_version='latest')"
            )
        _check_name("group", secret.group)
        _check_name("group_version", secret.group_version)
        script = render_pull_script(secret.group, secret.group_version)
        return PullPlan(
            plan_file(secret, path=gcp_secret_paths(secret.group, secret.group_version)[1]),
            self.pull_container(command=["sh", "-ec", script], path_mount=POD_SECRETS_DIR),
        )
