"""GCP Secret Manager: a ``gcp-pull-secret-<N>`` init container per secret (compat.md section 4).

``group`` is the secret (its name, or ``projects/<project>/secrets/<name>``) and ``group_version``
its version (a number or ``latest``); both are required, ``key`` is not used. The init container
(``gcpSecretManager`` image and resources) runs ``sh -ec`` with a script that writes the secret to
``P = lower(/etc/flyte/secrets/<group>/<group_version>)`` with ``gcloud secrets versions access``
(trying the ``<group>/versions/<gv>`` form, then ``<gv> --secret=<group>``) and makes it readable
for non-root users. The in-memory volume ``gcp-secret-vol`` is mounted read-write there and
read-only at ``/etc/flyte/secrets`` everywhere else.

Ours: names that are not plain secret names or versions (anything outside letters, digits,
``-``, ``_``, ``.``, ``/``) are refused, because they would be pasted into a shell script.
ENV_VAR requests are served as the file plus an env export.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import SECRETS_MOUNT_DIR, join_path
from tasksecrets.injectors.files import PullInjector, PullPlan, check_request, export_enabled, plan_file
from tasksecrets.sdk.secret import Secret

if TYPE_CHECKING:
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import Config

__all__ = ["GCP_VOLUME", "GCPInjector", "gcp_pull_script", "gcp_secret_paths"]

GCP_VOLUME = "gcp-secret-vol"
_SAFE = re.compile(r"^[A-Za-z0-9_./-]+$")


def gcp_secret_paths(secret: Secret) -> tuple[str, str]:
    """``(D, P)``: the secret's directory and file, lower-cased and cleaned as a path join would."""
    directory = join_path(SECRETS_MOUNT_DIR, secret.group).lower()
    return directory, join_path(directory, secret.group_version or "").lower()


def gcp_pull_script(secret: Secret) -> str:
    """The init container's shell script (group and group_version must be checked safe first)."""
    group, version = secret.group, secret.group_version
    directory, path = gcp_secret_paths(secret)
    return (
        f"gcloud secrets versions access {group}/versions/{version} --out-file={path} || "
        f"gcloud secrets versions access {version} --secret={group} --out-file={path}; "
        f"chmod +rX {directory} {path}"
    )


class GCPInjector(PullInjector):
    """Pulls each secret version from GCP Secret Manager in its own init container."""

    name: ClassVar[str] = "GCP"
    volume: ClassVar[str] = GCP_VOLUME
    container_prefix: ClassVar[str] = "gcp-pull-secret"

    @classmethod
    def from_config(cls, config: Config, *, global_secrets: GlobalSecretSource | None = None) -> GCPInjector:
        """From ``webhook.gcpSecretManager`` and ``webhook.exportEnvVars``."""
        return cls(config.webhook.gcp_secret_manager, export=export_enabled(config))

    def plan_secret(self, secret: Secret) -> PullPlan:
        """Check the request (names safe for the script); the file and the sidecar's script."""
        check_request(secret, manager=self.name, export=self.export, need_key=False)
        if not secret.group_version:
            raise InjectionError(
                "GCP needs group_version (the secret's version, e.g. '1' or 'latest'): "
                f"use Secret(group={secret.group!r}, key=..., group_version='latest')"
            )
        for field in ("group", "group_version"):
            value = getattr(secret, field)
            # A leading '-' would make gcloud read the name as an option.
            if not _SAFE.match(value) or ".." in value.split("/") or value.startswith("-"):
                raise InjectionError(
                    f"GCP {field} {value!r} is not a secret name or version: use letters, digits, "
                    "'-', '_', '.' and '/' only, not starting with '-' (e.g. 'projects/p/secrets/name')"
                )
        return PullPlan(
            plan_file(secret, path=gcp_secret_paths(secret)[1]),
            self.pull_container(command=["sh", "-ec", gcp_pull_script(secret)], path_mount=SECRETS_MOUNT_DIR),
        )
