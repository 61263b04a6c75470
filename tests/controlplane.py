"""A real Kubernetes control plane for the tests and for trying things by hand: etcd and kube-apiserver.

The binaries are the ones ``scripts/build-controlplane.sh`` builds from the published Go modules
pinned by ``tests/peers/controlplane/go.sum`` (Kubernetes v1.36.3). :func:`start_control_plane`
starts them on 127.0.0.1 at free ports, with a CA, serving certificate, service-account signing key
and admin token of their own (files of mode 0600 in a private directory, never argv), RBAC
authorization on and the API server's default admission plugins, as a cluster has them. There is no
controller-manager, so nothing creates a namespace's ``default`` ServiceAccount:
:meth:`ControlPlane.create_namespace` does, as the controller would. There is no kubelet either:
pods are stored, never run.

The session fixture ``control_plane`` yields a :class:`ControlPlane`; ``scripts/dev-cluster.sh``
runs :func:`main` for a person. A missing build fails with what to run (these run in CI; no skips).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services import free_port
from tasksecrets.webhook.certificates.authority import create_bundle

__all__ = ["ControlPlane", "control_plane", "controlplane_bin", "die_with_us", "main", "start_control_plane"]

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "build-controlplane.sh"
READY_SECONDS = 90.0
# The API server first (the last started), then etcd: an API server whose etcd is gone retries it
# instead of shutting down.
STOP_SECONDS = 10.0


def controlplane_bin() -> Path:
    """The directory holding kube-apiserver, kubectl and etcd (built once per go.sum, then cached)."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver; ``kubeconfig`` holds the admin's credentials."""

    server: str
    ca_file: Path
    kubeconfig: Path
    bin_dir: Path
    state: Path
    logs: Path
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the kubectl of the same release against this API server (admin unless told)."""
        argv = [str(self.kubectl_path), "--kubeconfig", str(kubeconfig or self.kubeconfig), *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def get_json(self, *args: str, kubeconfig: Path | None = None) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json", kubeconfig=kubeconfig).stdout)

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        """The namespace and its ``default`` ServiceAccount (the controller-manager's job, absent here)."""
        manifest: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
            },
        ]
        self.kubectl("apply", "--server-side", "-f", "-", stdin=_as_list(manifest))
        return name

    def service_account_token(self, namespace: str, name: str) -> str:
        """A bound token of the ServiceAccount, from the TokenRequest API (as a kubelet gets one)."""
        return self.kubectl("create", "token", name, "-n", namespace, "--duration", "2h").stdout.strip()

    def token_kubeconfig(self, token: str, name: str) -> Path:
        """A kubeconfig (mode 0600) that authenticates with ``token``: a pod's view of this cluster."""
        path = self.state / f"{name}.kubeconfig"
        _write_private(path, _kubeconfig(self.server, self.ca_file, token))
        return path

    def start_scheduler(self) -> None:
        """kube-scheduler of the same release, binding pods to the nodes registered here."""
        argv = [
            str(self.bin_dir / "kube-scheduler"),
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",  # its own health and metrics endpoints: not needed here
        ]
        self._procs.append(_start(argv, self.logs / "scheduler.log"))

    def stop(self) -> None:
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()


def _as_list(items: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _kubeconfig(server: str, ca_file: Path, token: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
            ],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user"}}],
            "current-context": "test",
        }
    )


def _make_credentials(state: Path) -> str:
    """CA and the API server's serving certificate (made as the webhook makes its own), the
    service-account key pair; returns the admin token."""
    now = datetime.datetime.now(datetime.timezone.utc)
    bundle = create_bundle(dns_names=["localhost"], ip_addresses=["127.0.0.1"], validity_days=2, now=now)
    _write_private(state / "ca.crt", bundle.ca_cert.decode())
    _write_private(state / "apiserver.crt", bundle.tls_cert.decode())
    _write_private(state / "apiserver.key", bundle.tls_key.decode())
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = sa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(state / "sa.key", pem.decode())
    sa_pub = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_private(state / "sa.pub", sa_pub.decode())
    token = secrets.token_hex(32)
    _write_private(state / "tokens.csv", f'{token},tasksecrets-admin,tasksecrets-admin,"system:masters"\n')
    return token


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_us() -> None:
    """A ``preexec_fn``: the child is killed when the process that started it dies.

    A test run killed outright (no fixture teardown) leaves no API server or webhook running; their
    throw-away state needs no clean stop. Only a syscall through a function bound before the fork,
    as a preexec_fn must be.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        # Its own process group: Ctrl-C in dev-cluster.sh reaches us, and we stop it in order.
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_us
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _etcd_argv(bin_dir: Path, state: Path, port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}"
    return [
        str(bin_dir / "etcd"),
        f"--data-dir={state / 'etcd'}",
        "--name=test",
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls=http://127.0.0.1:{free_port()}",
        "--unsafe-no-fsync",  # a throw-away store: durability buys nothing here
    ]


def _apiserver_argv(bin_dir: Path, state: Path, *, etcd_port: int, port: int) -> list[str]:
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={state / 'apiserver.crt'}",
        f"--tls-private-key-file={state / 'apiserver.key'}",
        f"--client-ca-file={state / 'ca.crt'}",
        f"--cert-dir={state / 'certs'}",
        f"--token-auth-file={state / 'tokens.csv'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={state / 'sa.pub'}",
        f"--service-account-signing-key-file={state / 'sa.key'}",
        "--service-cluster-ip-range=10.0.0.0/24",
    ]


def _wait_ready(plane: ControlPlane) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        for proc in plane._procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{_log_tails(plane)}")
        done = plane.kubectl("get", "--raw", "/readyz", check=False, timeout=10)
        if done.returncode == 0:
            return
        time.sleep(0.25)
    raise RuntimeError(f"kube-apiserver not ready after {READY_SECONDS:.0f} s:\n{_log_tails(plane)}")


def _log_tails(plane: ControlPlane) -> str:
    return "\n".join(
        f"== {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        for log in sorted(plane.logs.glob("*.log"))
    )


def start_control_plane(state: Path, *, bin_dir: Path | None = None) -> ControlPlane:
    """Start etcd and kube-apiserver with their files under ``state`` (a private directory)."""
    bin_dir = bin_dir or controlplane_bin()
    os.chmod(state, 0o700)
    token = _make_credentials(state)
    port = free_port()
    plane = ControlPlane(
        server=f"https://127.0.0.1:{port}",
        ca_file=state / "ca.crt",
        kubeconfig=state / "admin.kubeconfig",
        bin_dir=bin_dir,
        state=state,
        logs=state,
    )
    _write_private(plane.kubeconfig, _kubeconfig(plane.server, plane.ca_file, token))
    try:
        etcd_port = free_port()
        plane._procs.append(_start(_etcd_argv(bin_dir, state, etcd_port), state / "etcd.log"))
        argv = _apiserver_argv(bin_dir, state, etcd_port=etcd_port, port=port)
        plane._procs.append(_start(argv, state / "apiserver.log"))
        _wait_ready(plane)
    except BaseException:
        plane.stop()
        raise
    return plane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A real kube-apiserver + etcd for the session (admin kubeconfig in ``.kubeconfig``)."""
    plane = start_control_plane(tmp_path_factory.mktemp("controlplane"))
    try:
        yield plane
    finally:
        plane.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/dev-cluster.sh``: start the control plane (and our webhook), wait for Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(prog="dev-cluster.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="start, run `kubectl get ns`, stop")
    parser.add_argument("--no-webhook", action="store_true", help="the control plane only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tasksecrets-dev-cluster.") as tmp:
        plane = start_control_plane(Path(tmp))
        with contextlib.ExitStack() as stack:
            stack.callback(plane.stop)
            if not args.no_webhook:
                from webhook_in_cluster import start_registered_webhook

                stack.enter_context(start_registered_webhook(plane, Path(tmp) / "webhook"))
            print(
                f"dev-cluster: ready; export KUBECONFIG={plane.kubeconfig} (logs in {tmp})", file=sys.stderr
            )
            if args.check:
                print(plane.kubectl("get", "ns").stdout, end="")
                if not args.no_webhook:
                    print(plane.kubectl("get", "mutatingwebhookconfigurations").stdout, end="")
                return 0
            print("dev-cluster: Ctrl-C stops it", file=sys.stderr)
            for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(stop_signal, _exit_on)  # through the ExitStack: stopped in order
            signal.pause()
    return 0


def _exit_on(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
