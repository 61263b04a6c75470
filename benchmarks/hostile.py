"""Benchmark: /healthz latency while large reviews are computed on another connection.

    .venv/bin/python benchmarks/hostile.py [--probes 300] [--peer-src /work/main/src]

``tasksecrets webhook serve`` runs in its own process (one worker, TLS on 127.0.0.1). One client
thread posts large reviews back to back on a keep-alive connection: pods with 256 (the default
``maxSecretsPerPod``, admitted) or 10,000 (denied for their count) ``flyte.secrets/s<N>``
annotations, or a pod of 6 MiB (70,000 env vars), 8 of each in turn; the
server's config turns the answer memo off (Global reads a directory), so that every review is computed.
Meanwhile another keep-alive connection asks ``GET /healthz`` every 10 ms; the table gives its
latency (median, p99, max) and the large reviews' own median. With ``--peer-src`` the same is measured
against the server of another source tree (the code before large reviews left the event loop), in
the same run. Prints a markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "webhook"))
from _stats import percentile
from large_pods import pod_secrets, review_body
from serverproc import cli, client_context, free_port, serve_command, write_config

JSON = {"Content-Type": "application/json"}


def large_review(load: str, round_: int, manager: str) -> bytes:
    """A review of a pod with many secret requests named as ``manager`` needs them, or 6 MiB of env vars."""
    kind, _, count = load.partition(":")
    if kind == "secrets":
        return review_body(pod_secrets(manager, int(count)))
    container: dict[str, Any] = {"name": "main", "image": "python:3.11-slim"}
    container["env"] = [{"name": f"E{round_}_{i}", "value": "x" * 60} for i in range(int(count))]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"big-{round_}", "namespace": "ns", "labels": {}, "annotations": {}},
        "spec": {"containers": [container]},
    }
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": f"uid-{round_}", "operation": "CREATE", "namespace": "ns", "object": pod},
    }
    return json.dumps(review).encode()


LOADS = {
    "secrets:256": "256 annotations (the default maxSecretsPerPod)",
    "secrets:10000": "10,000 annotations (denied for their count)",
    "env:70000": "6 MiB pod (70,000 env vars)",
}
BODIES_PER_LOAD = 8  # made before measuring: building them would hold this process's GIL


def start(workdir: Path, src: str, manager: str) -> tuple[subprocess.Popen[bytes], int, ssl.SSLContext]:
    port = free_port()
    # Global reading a directory turns the answer memo off: every review is computed.
    (workdir / "global").mkdir()
    extra = f"  secretManagerType: {manager}\nsecrets:\n  secrets-prefix: {workdir / 'global'}\n"
    config = write_config(workdir, port=port, extra=extra)
    env = {**os.environ, "PYTHONPATH": src, "POD_NAMESPACE": "flyte"}
    made = cli("webhook", "init-certs", "--config", str(config), "--local-only", env=env)
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen(serve_command(config), env=env, stderr=subprocess.DEVNULL)
    context = client_context([workdir / "certs" / "ca.crt"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get_status(connect(port, context), "/healthz") == 200:
                return proc, port, context
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def connect(port: int, context: ssl.SSLContext) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("localhost", port, context=context, timeout=120)


def get_status(conn: http.client.HTTPSConnection, path: str, body: bytes | None = None) -> int:
    conn.request("POST" if body else "GET", path, body=body, headers=JSON if body else {})
    response = conn.getresponse()
    response.read()
    return response.status


def measure(port: int, context: ssl.SSLContext, *, bodies: list[bytes], probes: int) -> dict[str, Any]:
    stop = threading.Event()
    review_ms: list[float] = []

    def post_large() -> None:
        conn = connect(port, context)
        round_ = 0
        while not stop.is_set():
            body = bodies[round_ % len(bodies)]
            round_ += 1
            started = time.perf_counter()
            assert get_status(conn, "/mutate--v1-pod", body) == 200
            review_ms.append((time.perf_counter() - started) * 1000)

    poster = threading.Thread(target=post_large, daemon=True)
    if bodies:
        poster.start()
        time.sleep(0.5)
    probe = connect(port, context)
    latencies = []
    for _ in range(probes):
        started = time.perf_counter()
        assert get_status(probe, "/healthz") == 200
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    stop.set()
    if bodies:
        poster.join()
    return {
        "median": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "review": statistics.median(review_ms) if review_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--probes", type=int, default=300, help="/healthz requests per row")
    parser.add_argument("--peer-src", help="also measure the server of this source tree (its src/)")
    parser.add_argument("--managers", default="K8s,AWS", help="the secret managers to serve, in turn")
    args = parser.parse_args()
    trees = [("this tree", str(Path(__file__).resolve().parent.parent / "src"))]
    if args.peer_src:
        trees.append(("peer", args.peer_src))
    print(
        "| server | manager | large reviews meanwhile | /healthz median ms | p99 ms | max ms "
        "| large review median ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for manager in args.managers.split(","):
        bodies = {load: [large_review(load, i, manager) for i in range(BODIES_PER_LOAD)] for load in LOADS}
        for name, src in trees:
            with tempfile.TemporaryDirectory() as workdir:
                proc, port, context = start(Path(workdir), src, manager)
                try:
                    for load, title in [("", "none"), *LOADS.items()]:
                        row = measure(port, context, bodies=bodies.get(load, []), probes=args.probes)
                        review = f"{row['review']:.1f}" if row["review"] is not None else "-"
                        stats = (f"{row[k]:.2f}" for k in ("median", "p99", "max"))
                        print("| " + " | ".join([name, manager, title, *stats, review]) + " |", flush=True)
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)


if __name__ == "__main__":
    main()
