"""Where Global finds the values the webhook holds itself: its environment and a directory.

The value of ``Secret(group, key)`` is the env var ``<env-prefix><UPPER(group)>_<UPPER(key)>`` of
the webhook's environment, else the whole content of the file ``<secrets-prefix>/<group>/<key>``
(case kept); both roots come from the config section ``secrets`` (docs/compat.md section 4).

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

from tasksecrets.contract import GLOBAL_ENV_PREFIX, GLOBAL_SECRETS_DIR, GLOBAL_SOURCE_ENV, GLOBAL_SOURCE_FILE
from tasksecrets.managers.global_.defaults import GlobalSettings
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.sdk.secret import Secret

__all__ = ["GlobalSecretSource"]


class GlobalSecretSource:
    """Where Global looks for values: an env mapping and a directory; never logs or shows values."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        secrets_dir: str | Path | None = GLOBAL_SECRETS_DIR,
        env_prefix: str = GLOBAL_ENV_PREFIX,
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
    def from_settings(
        cls, settings: GlobalSettings, *, environ: Mapping[str, str] | None = None
    ) -> GlobalSecretSource:
        """As the server finds them: the process environment (or ``environ``) and ``secrets-prefix``."""
        return cls(
            environ=os.environ if environ is None else environ,
            secrets_dir=settings.secrets_prefix,
            env_prefix=settings.env_prefix,
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

        Its answers are then a function of the request alone, so they may be remembered.
        """
        return self.secrets_dir is None and self._snapshot

    def env_name(self, secret: Secret) -> str:
        """The env var this source reads for ``secret``."""
        return self._env_names(secret)

    def _derive_env_name(self, secret: Secret) -> str:
        return GLOBAL_SOURCE_ENV.format(self.env_prefix, secret.group, secret.key)

    def file_path(self, secret: Secret) -> Path | None:
        """The file this source reads for ``secret``; None when the names would leave the directory."""
        if self.secrets_dir is None or not _is_plain_name(secret.group) or not _is_plain_name(secret.key):
            return None
        return self.secrets_dir.joinpath(*GLOBAL_SOURCE_FILE.parts_of(secret.group, secret.key))

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
