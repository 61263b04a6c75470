"""Helpers to run ``tasksecrets webhook serve`` as a real process on 127.0.0.1 and talk HTTPS to it.

Certificates come from the real ``init-certs --local-only`` command; clients verify them against the
``ca.crt`` it wrote (hostname ``localhost`` or the IP 127.0.0.1, which ``--local-only`` adds).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata

__all__ = [
    "ServerProcess",
    "client_context",
    "free_port",
    "pod_review",
    "request",
    "serve_command",
    "start_server",
]

STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasksecrets", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    cert_dir: Path
    config: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def context(self) -> ssl.SSLContext:
        return client_context([self.cert_dir / "ca.crt"])

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the server did not stop on SIGTERM:\n{self.log_text()}") from None


def serve_command(config: Path, *args: str) -> list[str]:
    """``tasksecrets webhook serve`` with ``config`` on 127.0.0.1, then ``args`` (also used by benchmarks)."""
    return [
        sys.executable,
        "-m",
        "tasksecrets",
        "webhook",
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        *args,
    ]


def write_config(tmp_path: Path, *, port: int, extra: str = "") -> Path:
    config = tmp_path / "webhook.yaml"
    config.write_text(
        "webhook:\n"
        f"  certDir: {tmp_path / 'certs'}\n"
        f"  listenPort: {port}\n"
        "  disableCreateMutatingWebhookConfig: true\n" + extra,
        encoding="utf-8",
    )
    return config


def start_server(
    tmp_path: Path,
    *,
    extra_config: str = "",
    args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    wait_ready: bool = True,
    prepare: Callable[[Path], None] | None = None,
) -> ServerProcess:
    """init-certs --local-only, ``prepare(cert_dir)``, then serve; returns once /healthz answers."""
    port = free_port()
    config = write_config(tmp_path, port=port, extra=extra_config)
    made = cli("webhook", "init-certs", "--config", str(config), "--local-only")
    assert made.returncode == 0, made.stderr
    if prepare is not None:
        prepare(tmp_path / "certs")
    log = tmp_path / "server.log"
    full_env = {**os.environ, "POD_NAMESPACE": "flyte", **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            serve_command(config, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = ServerProcess(proc, port, tmp_path / "certs", config, log, dict(env or {}))
    if wait_ready:
        wait_for(server, "/healthz")
    return server


def wait_for(server: ServerProcess, path: str, *, status: int = 200) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    context = server.context()
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"the server exited with {server.proc.returncode}:\n{server.log_text()}")
        try:
            got, _ = request(server.port, context, path, method="GET")
            if got == status:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{path} did not answer {status} in time:\n{server.log_text()}")


def client_context(ca_files: Iterable[Path]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.load_verify_locations(cadata="".join(Path(p).read_text() for p in ca_files))
    return context


def request(
    port: int,
    context: ssl.SSLContext,
    path: str = "/mutate--v1-pod",
    *,
    method: str = "POST",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    host: str = "localhost",
) -> tuple[int, bytes]:
    """One request on a new verified connection: (status, body)."""
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post_json(port: int, context: ssl.SSLContext, review: Any) -> tuple[int, dict[str, Any]]:
    status, body = request(
        port, context, body=json.dumps(review).encode(), headers={"Content-Type": "application/json"}
    )
    return status, json.loads(body)


def make_pod(secrets: Iterable[Secret] = (), *, name: str = "task-pod") -> dict[str, Any]:
    labels, annotations = encode_pod_metadata(list(secrets))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "flytesnacks-development",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "containers": [
                {"name": "main", "image": "python:3.11-slim", "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "busybox:1.36"},
            ]
        },
    }


def pod_review(
    pod: dict[str, Any],
    *,
    api_version: str = "admission.k8s.io/v1",
    uid: str = "0d2c8a5e-2b1f-4d7e-9a51-6f1c1f0b7a11",
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": pod["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:flyte:flytepropeller"},
            "object": pod,
            "dryRun": False,
        },
    }
