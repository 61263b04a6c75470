"""Global: secrets the webhook's own process holds, injected as plain env vars (compat.md section 4).

The value of ``Secret(group, key)`` is the env var ``<env-prefix><UPPER(group)>_<UPPER(key)>`` of
the webhook's environment, else the whole content of the file ``<secrets-prefix>/<group>/<key>``
(case kept); both roots come from the config section ``secrets``. ANY and ENV_VAR requests get
``FLYTE_SECRETS_ENV_PREFIX=_FSEC_`` and ``UPPER(_FSEC_<group>_<key>)=<value>`` (plus ``env_var``
with the same value when the request names one: env_var works everywhere). FILE requests and
secrets Global does not hold are passed on to the configured manager.

This is the one injector that writes a secret value into the pod spec, as the contract demands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import (
    ENV_PREFIX_VAR,
    SECRET_ENV_PREFIX,
    PodEditor,
    env_value,
    secret_env_name,
)
from tasksecrets.sdk.secret import MountType, Secret

if TYPE_CHECKING:
    from tasksecrets.webhook.config import Config

__all__ = ["GlobalInjector", "GlobalSecretSource"]


class GlobalSecretSource:
    """Where Global looks for values: an env mapping and a directory; never logs or shows values."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        secrets_dir: str | Path | None = "/etc/secrets",
        env_prefix: str = "FLYTE_SECRET_",
    ) -> None:
        self._environ: Mapping[str, str] = {} if environ is None else environ
        self.secrets_dir = Path(secrets_dir) if secrets_dir else None
        self.env_prefix = env_prefix

    @classmethod
    def from_config(cls, config: Config, *, environ: Mapping[str, str] | None = None) -> GlobalSecretSource:
        """As the server finds them: the process environment (or ``environ``) and ``secrets-prefix``."""
        return cls(
            environ=os.environ if environ is None else environ,
            secrets_dir=config.secrets.secrets_prefix,
            env_prefix=config.secrets.env_prefix,
        )

    @classmethod
    def empty(cls) -> GlobalSecretSource:
        """A source that holds nothing."""
        return cls(environ={}, secrets_dir=None)

    @property
    def holds_nothing(self) -> bool:
        """True when there is neither an env mapping with entries nor a directory to read."""
        return not self._environ and self.secrets_dir is None

    def env_name(self, secret: Secret) -> str:
        """The env var this source reads for ``secret``."""
        return f"{self.env_prefix}{secret.group.upper()}_{secret.key.upper()}"

    def file_path(self, secret: Secret) -> Path | None:
        """The file this source reads for ``secret``; None when the names would leave the directory."""
        if self.secrets_dir is None or not _is_plain_name(secret.group) or not _is_plain_name(secret.key):
            return None
        return self.secrets_dir / secret.group / secret.key

    def lookup(self, secret: Secret) -> str | None:
        """The value held for ``secret``, or None."""
        if not secret.group or not secret.key:
            return None
        value = self._environ.get(self.env_name(secret))
        if value is not None:
            return value
        path = self.file_path(secret)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def __repr__(self) -> str:
        return f"GlobalSecretSource(env_prefix={self.env_prefix!r}, secrets_dir={str(self.secrets_dir)!r})"


def _is_plain_name(part: str) -> bool:
    # A request must not steer Global into files outside its directory (``../``, absolute paths).
    return (
        bool(part) and part not in (".", "..") and "/" not in part and "\\" not in part and "\0" not in part
    )


class GlobalInjector:
    """Injects values held by the webhook itself as env vars; passes everything else on."""

    name: ClassVar[str] = "Global"

    def __init__(self, source: GlobalSecretSource) -> None:
        self.source = source

    @classmethod
    def from_config(
        cls, config: Config, *, global_secrets: GlobalSecretSource | None = None
    ) -> GlobalInjector:
        """Global over ``global_secrets`` (none held when None)."""
        return cls(global_secrets if global_secrets is not None else GlobalSecretSource.empty())

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject as env vars when held and not a FILE request; else raise the reason to pass it on."""
        if secret.mount_requirement is MountType.FILE:
            raise InjectionError("delivers environment variables only, not FILE requests")
        value = self.source.lookup(secret)
        if value is None:
            where = self.source.file_path(secret)
            raise InjectionError(
                f"not held by the webhook (env {self.source.env_name(secret)}"
                + (f", file {where})" if where is not None else ")")
            )
        env = [env_value(ENV_PREFIX_VAR, SECRET_ENV_PREFIX), env_value(secret_env_name(secret), value)]
        if secret.env_var:
            env.append(env_value(secret.env_var, value))
        editor.add_env(*env)
        return True
