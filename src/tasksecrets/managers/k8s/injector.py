"""K8s: Kubernetes Secrets in the pod's namespace, the default manager (docs/compat.md section 4).

The Kubernetes Secret is named after the group, the key is the secret's key.

- ENV_VAR: ``UPPER(_FSEC_<group>_<key>)`` from an optional ``secretKeyRef``; the request's
  ``env_var`` (if any) from the same ref; then ``FLYTE_SECRETS_ENV_PREFIX=_FSEC_``.
- FILE or ANY: a secret volume named base32(``group + "_" + group_version``) (shortened with a
  hash when over 63 characters, :func:`secret_volume_name`) holding the item
  ``{key, path: lower(key)}`` (merged into an existing volume of the same ``secretName``), mounted
  read-only at ``/etc/flyte/secrets/<lower(group)>``; the two path env vars; ``env_var`` (if any)
  holding the file's path.

Where a volume of the same ``secretName`` already exists under another name (another
group_version), the mount refers to that volume, so the pod stays valid; Flyte would mount a
volume name that does not exist.

The names derived from a request (env var name, volume name, paths) are remembered per Secret:
they are names, never values, and the same requests come back on every pod of a task. The env and
volume objects themselves are built afresh for each pod, so no pod shares them with another.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, NamedTuple

from tasksecrets.contract import DELIVERY, K8S_MOUNT, POD_SECRETS_DIR, MountType
from tasksecrets.errors import InjectionError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.fragments import (
    check_env_var,
    env_from_secret_key,
    env_prefix_var,
    env_value,
    file_path_env_vars,
    pod_env_name,
)
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import b32_encode

__all__ = ["K8sInjector", "secret_volume_name"]

_LAYOUT = DELIVERY["K8s"]


_MAX_VOLUME_NAME = 63  # a DNS-1123 label
_NAME_HASH_CHARS = 8  # base32 of 5 bytes of SHA-256


def secret_volume_name(secret: Secret) -> str:
    """base32(``group + "_" + group_version``) with the alphabet ``a-z1-6``, at most 63 characters.

    Flyte's name is kept when it fits a volume name (groups and versions of up to 38 bytes);
    a longer one is cut to 54 characters and ends with ``-`` and 8 characters of base32(SHA-256)
    of the same text, so the name stays deterministic and two long names still differ.
    """
    text = f"{secret.group}_{secret.group_version or ''}".encode()
    name = b32_encode(text)
    if len(name) <= _MAX_VOLUME_NAME:
        return name
    digest = b32_encode(hashlib.sha256(text).digest()[:5])
    return f"{name[: _MAX_VOLUME_NAME - _NAME_HASH_CHARS - 1]}-{digest}"


class _Plan(NamedTuple):
    """What a request derives from its names alone, once: validated, never a value."""

    by_env: bool  # ENV_VAR: env vars from a secretKeyRef; else a file in a secret volume
    env_name: str  # UPPER(_FSEC_<group>_<key>)
    volume: str  # the secret volume's name
    path: str  # the item's path: lower(key)
    group_dir: str  # where the volume is mounted
    file: str  # group_dir/path


def _plan(secret: Secret) -> _Plan:
    if not secret.group or not secret.key:
        missing = " and ".join(f for f in ("group", "key") if not getattr(secret, f))
        raise InjectionError(f"needs both group and key; the request has no {missing}")
    check_env_var(secret)
    # Cleaned as Go's filepath.Join cleans it, so "group/" and "/group" mount where Flyte mounts them.
    return _Plan(
        _LAYOUT.by_env(secret.mount_requirement),
        pod_env_name(secret),
        secret_volume_name(secret),
        secret.key.lower(),
        K8S_MOUNT.join(POD_SECRETS_DIR, secret.group, secret.key),
        _LAYOUT.file_layout.join(POD_SECRETS_DIR, secret.group, secret.key),
    )


_plans = SecretMemo(_plan)
# The env vars every request of a kind adds (the editor copies each into each container).
_PREFIX_ENV = env_prefix_var()
_PATH_ENV = tuple(file_path_env_vars())


class K8sInjector:
    """Mounts or exposes Kubernetes Secrets; needs both group and key."""

    name: ClassVar[str] = "K8s"
    deterministic: ClassVar[bool] = True
    carries_values: ClassVar[bool] = False

    @classmethod
    def from_config(cls, section: None, *, shared: SharedSettings) -> K8sInjector:
        """K8s has no settings of its own."""
        return cls()

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject per the mount requirement; InjectionError when group or key is empty."""
        plan = _plans(secret)
        env_var = secret.env_var
        if plan.by_env:
            ref = env_from_secret_key(plan.env_name, secret_name=secret.group, key=secret.key)
            if env_var:
                editor.add_env(ref, {**ref, "name": env_var}, _PREFIX_ENV)
            else:
                editor.add_env(ref, _PREFIX_ENV)
            return True
        volume = editor.add_secret_volume_item(
            volume_name=plan.volume, secret_name=secret.group, item={"key": secret.key, "path": plan.path}
        )
        editor.add_volume_mount({"name": volume, "readOnly": True, "mountPath": plan.group_dir})
        if env_var:
            editor.add_env(*_PATH_ENV, env_value(env_var, plan.file))
        else:
            editor.add_env(*_PATH_ENV)
        return True


# An ANY request is a file (docs/compat.md section 4): the layout says so, and the injector follows it.
assert not _LAYOUT.by_env(MountType.ANY) and _LAYOUT.by_env(MountType.ENV_VAR)
