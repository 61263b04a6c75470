"""The serving certificate, reloaded into the live TLS context when its files change.

The server's one :class:`ssl.SSLContext` is created here (TLS 1.2 at least). A watcher looks at
``tls.crt`` and ``tls.key`` every second: device, inode, size, mtime and the resolved path, so it sees
in-place writes, atomic renames and Kubernetes' ``..data`` symlink swap of a mounted Secret alike.
On a change it reads both files once, checks the pair on a scratch context, and only then calls
``load_cert_chain`` on the live context: connections opened from then on get the new certificate,
connections already open keep theirs, and nothing is refused in between. A pair that does not load
(half-written, mismatched) is skipped and looked at again on the next tick, the old one staying.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from tasksecrets.errors import ConfigError
from tasksecrets.webhook.certificates.authority import TLS_CERT_FILE, TLS_KEY_FILE, read_serial

__all__ = ["CertReloader", "create_server_context"]

logger = logging.getLogger(__name__)

_Signature = tuple[tuple[int, int, int, int, str] | None, ...]


def create_server_context() -> ssl.SSLContext:
    """A server context with no certificate yet: TLS 1.2 or newer, no compression, no renegotiation."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    return context


class CertReloader:
    """Owns the live context and keeps it loaded with the current files of ``cert_dir``."""

    def __init__(
        self,
        cert_dir: Path,
        *,
        interval: float = 1.0,
        on_reload: Callable[[bytes], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.cert_file = cert_dir / TLS_CERT_FILE
        self.key_file = cert_dir / TLS_KEY_FILE
        self.interval = interval
        self.on_reload = on_reload
        self.on_failure = on_failure
        self.context = create_server_context()
        self.serial: int | None = None
        self._signature: _Signature = self._look()
        self._failed: _Signature = ()
        if not self._load(initial=True):
            raise ConfigError(
                f"no usable serving certificate in {cert_dir} ({TLS_CERT_FILE} and {TLS_KEY_FILE}): "
                "run `tasksecrets webhook init-certs --config FILE` (add --local-only outside a cluster) "
                "or mount the certificate Secret there"
            )

    def _look(self) -> _Signature:
        parts: list[tuple[int, int, int, int, str] | None] = []
        for path in (self.cert_file, self.key_file):
            try:
                st = os.stat(path)
                parts.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, os.path.realpath(path)))
            except OSError:
                parts.append(None)
        return tuple(parts)

    def _load(self, *, initial: bool = False) -> bool:
        try:
            cert, key = self.cert_file.read_bytes(), self.key_file.read_bytes()
        except OSError as exc:
            if not initial:  # at start-up the caller raises a clearer error
                logger.warning("serving certificate not reloaded: %s", exc.strerror or type(exc).__name__)
            return False
        # ssl loads key pairs only from paths: copy the bytes read once to a private directory, so the
        # scratch check and the live load see the very same pair even if the files change meanwhile.
        with tempfile.TemporaryDirectory(prefix="tasksecrets-tls-") as tmp:
            cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert_path, "wb") as handle:
                handle.write(cert)
            with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                handle.write(key)
            try:
                create_server_context().load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, ValueError, OSError) as exc:
                logger.warning(
                    "serving certificate not reloaded: the pair does not load (%s)", type(exc).__name__
                )
                return False
            self.context.load_cert_chain(cert_path, key_path)
        self.serial = read_serial(cert)
        logger.info("serving certificate loaded (serial %x)", self.serial or 0)
        if self.on_reload is not None:
            self.on_reload(cert)
        return True

    def check(self) -> bool:
        """Reload when the files changed since the last good load; True when a new pair went live."""
        signature = self._look()
        if signature in (self._signature, self._failed):
            return False
        if self._load():
            self._signature = signature
            return True
        self._failed = signature  # try again once the files change again, without a warning a second
        if self.on_failure is not None:
            self.on_failure()
        return False

    async def watch(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise; the old certificate stays
                logger.exception("serving certificate check failed")
