"""The real Kubernetes control plane for tests: kubectl, and kube-apiserver with etcd, once per session.

- ``kubectl`` -> the path of the ``kubectl`` built from ``k8s.io/kubernetes`` by
  ``scripts/build-controlplane.sh`` (cached: a few milliseconds once built, about six minutes to
  build the first time). A build that fails fails the fixture with the script's own message: the
  tests that need kubectl never skip.
- ``kube_cluster`` -> :class:`KubeCluster` (``kubeconfig``, ``run()``): ``scripts/dev-cluster.sh``
  started in the background (etcd and kube-apiserver on 127.0.0.1, random ports, their own
  credentials), stopped at the end of the session by the SIGTERM its trap turns into a clean stop.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["KubeCluster", "kube_cluster", "kubectl"]

REPO = Path(__file__).resolve().parents[1]
_READY_TIMEOUT_S = 180  # dev-cluster.sh gives the API server 60 s; the build check is quick
_READY_RE = re.compile(r"export KUBECONFIG=(\S+)")


@pytest.fixture(scope="session")
def kubectl() -> Path:
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-controlplane.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            "scripts/build-controlplane.sh could not provide kubectl (it needs Go and the Go module "
            f"proxy; see tests/peers/controlplane/README.md):\n{done.stderr[-2000:]}",
            pytrace=False,
        )
    path = Path(done.stdout.strip().splitlines()[-1]) / "kubectl"
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"scripts/build-controlplane.sh printed {path.parent}, which holds no kubectl", pytrace=False
        )
    return path


@dataclass(frozen=True)
class KubeCluster:
    """A running API server: run kubectl against it with :meth:`run`."""

    kubectl: Path
    kubeconfig: Path

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done


@pytest.fixture(scope="session")
def kube_cluster(kubectl: Path) -> Iterator[KubeCluster]:
    process = subprocess.Popen(
        ["bash", str(REPO / "scripts" / "dev-cluster.sh")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if _READY_RE.search(line):
                found.set()
        found.set()  # the script ended: stop waiting

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        found.wait(_READY_TIMEOUT_S)
        match = next((m for m in map(_READY_RE.search, lines) if m), None)
        if match is None:
            pytest.fail(
                "scripts/dev-cluster.sh did not start the API server:\n" + "".join(lines[-20:]), pytrace=False
            )
        yield KubeCluster(kubectl, Path(match.group(1)))
    finally:
        # Its trap stops the API server and etcd by PID and removes its directory.
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
