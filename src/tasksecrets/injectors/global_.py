"""Global: secrets the webhook's own process holds, injected as plain env vars (compat.md section 4).

The value of ``Secret(group, key)`` is the env var ``<env-prefix><UPPER(group)>_<UPPER(key)>`` of
the webhook's environment, else the whole content of the file ``<secrets-prefix>/<group>/<key>``
(case kept); both roots come from the config section ``secrets``. ANY and ENV_VAR requests get
``FLYTE_SECRETS_ENV_PREFIX=_FSEC_`` and ``UPPER(_FSEC_<group>_<key>)=<value>`` (plus ``env_var``
with the same value when the request names one: env_var works everywhere). FILE requests and
secrets Global does not hold are passed on to the configured manager.

This is the one injector that writes a secret value into the pod spec, as the contract demands.

Speed (the webhook asks Global first for every secret of every pod): the process environment is
read once, when the source is built (a process's environment does not change under it), keeping
only the names with the prefix; the names in the secrets directory are listed once and listed again
only when the directory's modification time changes, so a secret whose group is not there declines
without touching the file system beyond one ``stat``. Files are always read afresh: values are never
cached, and a group directory that appears later (a Kubernetes volume update) is seen on the next
request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from tasksecrets.errors import InjectionError
from tasksecrets.injectors.base import (
    ENV_PREFIX_VAR,
    SECRET_ENV_PREFIX,
    PodEditor,
    SecretMemo,
    env_value,
    secret_env_name,
)
from tasksecrets.sdk.secret import MountType, Secret

if TYPE_CHECKING:
    from tasksecrets.webhook.config import Config

__all__ = ["GlobalInjector", "GlobalSecretSource"]

_FILE_REASON = "delivers environment variables only, not FILE requests"


class GlobalSecretSource:
    """Where Global looks for values: an env mapping and a directory; never logs or shows values."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        secrets_dir: str | Path | None = "/etc/secrets",
        env_prefix: str = "FLYTE_SECRET_",
    ) -> None:
        # The process environment is snapshotted (names with the prefix only): plain dict lookups
        # instead of os.environ's encoding, and a source whose contents cannot change. Any other
        # mapping is read as it is at each lookup.
        self._snapshot = environ is None or environ is os.environ
        if environ is None:
            environ = {}
        elif environ is os.environ:
            environ = {name: value for name, value in environ.items() if name.startswith(env_prefix)}
        self._has_environ = bool(environ)
        self._environ: Mapping[str, str] = environ
        self.secrets_dir = Path(secrets_dir) if secrets_dir else None
        self._listing = _DirListing(str(self.secrets_dir)) if self.secrets_dir is not None else None
        self.env_prefix = env_prefix
        self._env_names = SecretMemo(self._derive_env_name)

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
        return not self._has_environ and self.secrets_dir is None

    @property
    def fixed(self) -> bool:
        """True when what it holds cannot change: a snapshot of the process environment, no directory.

        Its answers are then a function of the request alone (see :mod:`tasksecrets.webhook.shapes`).
        """
        return self.secrets_dir is None and self._snapshot

    def env_name(self, secret: Secret) -> str:
        """The env var this source reads for ``secret``."""
        return self._env_names(secret)

    def _derive_env_name(self, secret: Secret) -> str:
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
        if self._listing is None or not self._listing.may_contain(secret.group):
            return None
        path = self.file_path(secret)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def __repr__(self) -> str:
        return f"GlobalSecretSource(env_prefix={self.env_prefix!r}, secrets_dir={str(self.secrets_dir)!r})"


class _DirListing:
    """The entry names of a directory, listed again only when its ``stat`` changes.

    A listing taken less than ``_RACY_SECONDS`` after the directory's modification time is not
    trusted (an entry added within the same timestamp tick would not change it), so it is taken
    again on the next call. When the directory cannot be listed, every name may be in it.
    """

    _RACY_SECONDS = 2.0

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._names: frozenset[str] | None = frozenset()

    def may_contain(self, name: str) -> bool:
        """False only when ``name`` is known not to be an entry of the directory now."""
        try:
            st = os.stat(self.path)
        except OSError:  # missing now: nothing to read; it is looked at again next time
            self._stamp = None
            return False
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns)
        if stamp != self._stamp:
            try:
                self._names = frozenset(os.listdir(self.path))
            except OSError:  # not listable (permissions): fall back to trying the file itself
                self._names = None
            racy = time.time() - st.st_mtime < self._RACY_SECONDS
            self._stamp = None if racy else stamp
        return self._names is None or name in self._names


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
        # Decline reasons by request: they name the env var and file looked at, never a value.
        self._reasons = SecretMemo(self._not_held_reason)

    @classmethod
    def from_config(
        cls, config: Config, *, global_secrets: GlobalSecretSource | None = None
    ) -> GlobalInjector:
        """Global over ``global_secrets`` (none held when None)."""
        return cls(global_secrets if global_secrets is not None else GlobalSecretSource.empty())

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject as env vars when held and not a FILE request; else raise the reason to pass it on."""
        reason = self.try_inject(secret, editor)
        if reason is not None:
            raise InjectionError(reason)
        return True

    def _not_held_reason(self, secret: Secret) -> str:
        where = self.source.file_path(secret)
        return f"not held by the webhook (env {self.source.env_name(secret)}" + (
            f", file {where})" if where is not None else ")"
        )

    def try_inject(self, secret: Secret, editor: PodEditor) -> str | None:
        """Like :meth:`inject`, returning the reason instead of raising it (None: injected).

        The mutator calls this for every secret of every pod; most are declined, and a returned
        reason costs less than a raised one.
        """
        if secret.mount_requirement is MountType.FILE:
            return _FILE_REASON
        value = self.source.lookup(secret)
        if value is None:
            return self._reasons(secret)
        env = [env_value(ENV_PREFIX_VAR, SECRET_ENV_PREFIX), env_value(secret_env_name(secret), value)]
        if secret.env_var:
            env.append(env_value(secret.env_var, value))
        editor.add_env(*env)
        return None
