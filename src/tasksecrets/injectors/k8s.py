"""K8s: secrets from Kubernetes Secrets in the pod's namespace, the default manager (compat.md section 4).

The Kubernetes Secret is named after the group, the key is the secret's key.

- ENV_VAR: ``UPPER(_FSEC_<group>_<key>)`` from an optional ``secretKeyRef``; the request's
  ``env_var`` (if any) from the same ref; then ``FLYTE_SECRETS_ENV_PREFIX=_FSEC_``.
- FILE or ANY: a secret volume named base32(``group + "_" + group_version``) holding the item
  ``{key, path: lower(key)}`` (merged into an existing volume of the same ``secretName``), mounted
  read-only at ``/etc/flyte/secrets/<lower(group)>``; the two path env vars; ``env_var`` (if any)
  holding the file's path.

Where a volume of the same ``secretName`` already exists under another name (another
group_version), the mount refers to that volume, so the pod stays valid; Flyte would mount a
volume name that does not exist.

The names derived from a request (env var name, volume name, paths) are cached per Secret: they
are names, never values, and the same requests come back on every pod of a task. The env and
volume objects themselves are built afresh for each pod, so no pod shares them with another.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import (
    ENV_PREFIX_VAR,
    SECRET_ENV_PREFIX,
    SECRETS_MOUNT_DIR,
    PodEditor,
    SecretMemo,
    env_from_secret_key,
    env_value,
    file_path_env_vars,
    join_path,
    secret_env_name,
)
from tasksecrets.sdk.secret import ENV_VAR_NAME_RE, MountType, Secret
from tasksecrets.wire import b32_encode

if TYPE_CHECKING:
    from tasksecrets.injectors.global_ import GlobalSecretSource
    from tasksecrets.webhook.config import Config

__all__ = ["K8sInjector", "secret_volume_name"]


def secret_volume_name(secret: Secret) -> str:
    """base32(``group + "_" + group_version``) with the alphabet ``a-z1-6``."""
    return b32_encode(f"{secret.group}_{secret.group_version or ''}".encode())


def check_env_var(secret: Secret) -> None:
    """Refuse an ``env_var`` that is not an environment variable name (requests from other producers)."""
    if secret.env_var and not ENV_VAR_NAME_RE.match(secret.env_var):
        raise InjectionError(
            f"env_var {secret.env_var!r} is not a valid environment variable name "
            "(upper-case letters, digits and underscores)"
        )


class _Names(NamedTuple):
    env_name: str  # UPPER(_FSEC_<group>_<key>)
    volume: str  # the secret volume's name
    path: str  # the item's path: lower(key)
    group_dir: str  # where the volume is mounted
    file: str  # group_dir/path


def _derive_names(secret: Secret) -> _Names:
    # Cleaned as Go's filepath.Join cleans it, so "group/" and "/group" mount where Flyte mounts them.
    group_dir = join_path(SECRETS_MOUNT_DIR, secret.group.lower())
    path = secret.key.lower()
    return _Names(
        secret_env_name(secret), secret_volume_name(secret), path, group_dir, join_path(group_dir, path)
    )


_names = SecretMemo(_derive_names)


@functools.lru_cache(maxsize=1024)
def _valid_env_var(env_var: str) -> bool:
    return ENV_VAR_NAME_RE.match(env_var) is not None


class K8sInjector:
    """Mounts or exposes Kubernetes Secrets; needs both group and key."""

    name: ClassVar[str] = "K8s"

    @classmethod
    def from_config(cls, config: Config, *, global_secrets: GlobalSecretSource | None = None) -> K8sInjector:
        """K8s has no settings of its own."""
        return cls()

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject per the mount requirement; InjectionError when group or key is empty."""
        if not secret.group or not secret.key:
            missing = " and ".join(f for f in ("group", "key") if not getattr(secret, f))
            raise InjectionError(f"needs both group and key; the request has no {missing}")
        env_var = secret.env_var
        if env_var and not _valid_env_var(env_var):
            check_env_var(secret)  # raises with the reason
        names = _names(secret)
        if secret.mount_requirement is MountType.ENV_VAR:
            ref = env_from_secret_key(names.env_name, secret_name=secret.group, key=secret.key)
            prefix = env_value(ENV_PREFIX_VAR, SECRET_ENV_PREFIX)
            if env_var:
                editor.add_env(ref, {**ref, "name": env_var}, prefix)
            else:
                editor.add_env(ref, prefix)
            return True
        volume = editor.add_secret_volume_item(
            volume_name=names.volume,
            secret_name=secret.group,
            item={"key": secret.key, "path": names.path},
        )
        editor.add_volume_mount({"name": volume, "readOnly": True, "mountPath": names.group_dir})
        env = file_path_env_vars()
        if env_var:
            env.append(env_value(env_var, names.file))
        editor.add_env(*env)
        return True
