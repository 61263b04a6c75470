"""The Secret model: one request for one secret, as a task declares it (docs/compat.md section 1).

Field order follows flyteidl's ``core.Secret`` (group=1, group_version=2, key=3,
mount_requirement=4, env_var=5), which is also the order the wire codec writes them in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from tasksecrets.contract import MountType
from tasksecrets.errors import SecretError

__all__ = ["ENV_VAR_NAME_RE", "MountType", "Secret", "is_env_var_name"]

ENV_VAR_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]*")


def is_env_var_name(name: str) -> bool:
    """Whether ``name`` is a name ``env_var`` may take: upper-case letters, digits, ``_``, no digit first."""
    return ENV_VAR_NAME_RE.fullmatch(name) is not None


# Inside Secret's body the name MountType is the class attribute (Secret.MountType); annotations there
# use this alias so type checkers see the enum type.
_MountType = MountType


def _require_text(field: str, value: object, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise SecretError(
                f"Secret {field} is a required parameter: pass {field}=... as a non-empty string, "
                f'e.g. Secret(group="user-info", key="user_secret")'
            )
        return None
    if not isinstance(value, str):
        raise SecretError(f"Secret {field} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise SecretError(
            f"Secret {field} is a required parameter and may not be empty: "
            f'pass a non-empty string, e.g. Secret(group="user-info", key="user_secret")'
        )
    return value


@dataclass(frozen=True, init=False)
class Secret:
    """A request for the secret ``key`` of ``group`` (a Kubernetes Secret's name and key, a Vault path, ...).

    ``group`` and ``key`` are required. ``group_version`` selects a version or engine (Vault:
    ``kv1``, ``kv2``, ``db``; GCP: the secret version). ``mount_requirement`` asks for an env var
    or a file; ``env_var`` also exposes the secret under that environment variable name.
    """

    MountType: ClassVar[type[MountType]] = MountType

    group: str
    key: str
    group_version: str | None
    mount_requirement: _MountType
    env_var: str | None

    def __init__(
        self,
        group: str | None = None,
        key: str | None = None,
        group_version: str | None = None,
        mount_requirement: _MountType | int = MountType.ANY,
        env_var: str | None = None,
    ) -> None:
        group_ = _require_text("group", group, required=True)
        key_ = _require_text("key", key, required=True)
        version = _require_text("group_version", group_version, required=False) or None
        mount = _coerce_mount(mount_requirement)
        if env_var is not None and (not isinstance(env_var, str) or not is_env_var_name(env_var)):
            raise SecretError(
                f"Secret env_var {env_var!r} is not a valid environment variable name: "
                "use upper-case letters, digits and underscores, not starting with a digit "
                '(e.g. env_var="MY_SECRET")'
            )
        object.__setattr__(self, "group", group_)
        object.__setattr__(self, "key", key_)
        object.__setattr__(self, "group_version", version)
        object.__setattr__(self, "mount_requirement", mount)
        object.__setattr__(self, "env_var", env_var)

    @classmethod
    def from_wire(
        cls,
        *,
        group: str = "",
        key: str = "",
        group_version: str = "",
        mount_requirement: _MountType | int = MountType.ANY,
        env_var: str = "",
    ) -> Secret:
        """Build a Secret as decoded from a pod annotation, where any field may be empty.

        Producers other than ours (Flyte's propeller) may leave group or key empty; the webhook
        must still decode such requests, then refuse them with a reason if it cannot serve them.
        ``env_var`` is not validated here either: the webhook reports a bad one as a denial.
        """
        self = object.__new__(cls)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "group_version", group_version or None)
        object.__setattr__(self, "mount_requirement", _coerce_mount(mount_requirement))
        object.__setattr__(self, "env_var", env_var or None)
        return self

    def __repr__(self) -> str:
        parts = [f"group={self.group!r}", f"key={self.key!r}"]
        if self.group_version:
            parts.append(f"group_version={self.group_version!r}")
        if self.mount_requirement is not MountType.ANY:
            parts.append(f"mount_requirement=Secret.MountType.{self.mount_requirement.name}")
        if self.env_var:
            parts.append(f"env_var={self.env_var!r}")
        return f"Secret({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self.group, self.key, self.group_version, int(self.mount_requirement), self.env_var))


def _coerce_mount(value: object) -> MountType:
    if isinstance(value, MountType):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return MountType(value)
        except ValueError:
            pass
    elif isinstance(value, str) and value.upper() in MountType.__members__:
        return MountType[value.upper()]
    raise SecretError(
        f"Secret mount_requirement {value!r} is not valid: use Secret.MountType.ANY, "
        "Secret.MountType.ENV_VAR or Secret.MountType.FILE"
    )
