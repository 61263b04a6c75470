"""Benchmark of the pod webhook: the pure mutation per call, and the HTTPS server under wrk.

    .venv/bin/python benchmarks/webhook.py [--seconds 5] [--tls-rounds 3] [--connections 1,16,64]

1. The pure part, in-process: ``mutate_pod`` of a pod with 2 containers and 5 secrets (2 groups,
   ENV_VAR and FILE mounts, K8s manager), the prepared ``Mutator.mutate`` the server uses, and the whole
   ``review`` (JSON in, AdmissionReview with base64 patch out). Median and p99 per call in µs.
2. Over TLS: ``tasksecrets webhook serve`` in its own process (one worker), loaded by ``wrk --latency``
   (one thread, keep-alive connections, a Lua script posting the review) at each concurrency, beside the
   same server started with the hidden ``--baseline`` flag, which decodes the review and admits it
   without mutating: the same stack doing the least any webhook must. Throughput and p50/p99, and the
   ratio of the webhook's throughput to the baseline's.

Targets (issue 3): mutation <= 100 µs; p99 <= 10 ms at 16 connections; throughput >= 75% of baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# The test suite's server harness builds the same command line; use it rather than restate it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "webhook"))
from serverproc import free_port, serve_command

from tasksecrets.sdk.secret import Secret
from tasksecrets.webhook.config import Config
from tasksecrets.webhook.mutating import Mutator, mutate_pod
from tasksecrets.webhook.reviews import review
from tasksecrets.webhook.server import encode_json
from tasksecrets.webhook.service import build_baseline_review, build_review
from tasksecrets.wire import encode_pod_metadata

SECRETS = [
    Secret(group="db-creds", key="username", mount_requirement=Secret.MountType.ENV_VAR),
    Secret(
        group="db-creds", key="password", mount_requirement=Secret.MountType.ENV_VAR, env_var="DB_PASSWORD"
    ),
    Secret(group="db-creds", key="ca.pem", mount_requirement=Secret.MountType.FILE),
    Secret(
        group="api-keys", key="service_token", mount_requirement=Secret.MountType.FILE, env_var="TOKEN_PATH"
    ),
    Secret(group="api-keys", key="webhook_secret"),
]


def make_review() -> dict[str, Any]:
    labels, annotations = encode_pod_metadata(SECRETS)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "task-a1b2c3",
            "namespace": "flytesnacks-development",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "containers": [
                {
                    "name": "task",
                    "image": "python:3.11-slim",
                    "args": ["python", "-m", "tasksecrets", "execute"],
                    "env": [{"name": "FLYTE_INTERNAL_PROJECT", "value": "flytesnacks"}],
                },
                {"name": "sidecar", "image": "busybox:1.36"},
            ],
            "restartPolicy": "Never",
        },
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "7c0e9b34-8c0b-4e43-a4d3-5a8b2b1f0c11",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": "flytesnacks-development",
            "object": pod,
        },
    }


def time_calls(func: Any, *, rounds: int) -> tuple[float, float]:
    for _ in range(rounds // 10):  # warm up
        func()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        start = clock()
        func()
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000


def bench_pure(rounds: int) -> list[tuple[str, float, float]]:
    config = Config()
    body = make_review()
    pod = body["request"]["object"]
    raw = json.dumps(body).encode()
    mutator = Mutator(config)
    served, baseline = build_review(config), build_baseline_review()
    result = mutate_pod(pod, config)
    assert result.allowed and result.patch, result.reason
    return [
        ("mutate_pod(pod, config)", *time_calls(lambda: mutate_pod(pod, config), rounds=rounds)),
        (
            "Mutator.mutate(pod) (prepared, as served)",
            *time_calls(lambda: mutator.mutate(pod), rounds=rounds),
        ),
        (
            "review(body bytes) (JSON in, review out)",
            *time_calls(lambda: review(raw, mutator), rounds=rounds),
        ),
        (
            "served review + answer JSON (Global + K8s, as serve builds it)",
            *time_calls(lambda: encode_json(served(raw).body), rounds=rounds),
        ),
        (
            "baseline review + answer JSON (decode, echo uid, admit)",
            *time_calls(lambda: encode_json(baseline(raw).body), rounds=rounds),
        ),
    ]


def manager_secrets(manager: str) -> list[Secret]:
    """The 5-secret pod's requests (same mounts and env_vars), named as ``manager`` needs them."""
    groups = {
        "K8s": ("db-creds", "api-keys", None),
        "AWS": ("arn:aws:secretsmanager:us-east-1:123456789012:secret", "team-api", None),
        "GCP": ("db-creds", "projects/p1/secrets/api-keys", "latest"),
        "Vault": ("kv/data/db-creds", "database/creds/api", "kv2"),
        "Azure": ("https://db-kv.vault.azure.net", "https://api-kv.vault.azure.net", "service-token"),
    }
    first, second, version = groups[manager]
    return [
        Secret(
            group=first,
            group_version=version,
            key=s.key,
            mount_requirement=s.mount_requirement,
            env_var=s.env_var,
        )
        if s.group == "db-creds"
        else Secret(
            group=second,
            group_version=version,
            key=s.key,
            mount_requirement=s.mount_requirement,
            env_var=s.env_var,
        )
        for s in SECRETS
    ]


def bench_managers(rounds: int) -> list[tuple[str, float, float]]:
    """``Mutator.mutate`` of the 5-secret pod with each secret manager (ENV_VAR served by export)."""
    from tasksecrets.webhook.config import parse_config

    rows = []
    for manager in ("K8s", "AWS", "GCP", "Vault", "Azure"):
        review_body = make_review()
        pod = review_body["request"]["object"]
        labels, annotations = encode_pod_metadata(manager_secrets(manager))
        pod["metadata"]["labels"], pod["metadata"]["annotations"] = labels, annotations
        mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager}}))
        result = mutator.mutate(pod)
        assert result.allowed and result.patch, result.reason
        rows.append(
            (
                f"Mutator.mutate(pod), {manager}",
                *time_calls(lambda m=mutator, p=pod: m.mutate(p), rounds=rounds),
            )
        )
    return rows


# -- over TLS ------------------------------------------------------------------------------------------


def start_server(workdir: Path, *, baseline: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    extra = ["--baseline"] if baseline else []
    proc = subprocess.Popen(
        serve_command(workdir / "webhook.yaml", "--port", str(port), "--log-level", "warning", *extra),
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=str(workdir / "certs" / "ca.crt"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"https://localhost:{port}/readyz", context=context, timeout=2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(port: int, script: Path, *, connections: int, seconds: int) -> tuple[float, float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*cmd, f"https://localhost:{port}/mutate--v1-pod"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")

    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        assert match, out
        return float(match.group(1)) * _UNITS[match.group(2)]

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    assert rps, out
    return float(rps.group(1)), latency("50"), latency("99")


def bench_tls(
    connections: list[int], seconds: int, rounds: int
) -> list[tuple[int, tuple[float, float, float], tuple[float, float, float]]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="tasksecrets-bench-"))
    try:
        (workdir / "webhook.yaml").write_text(
            f"webhook:\n  certDir: {workdir / 'certs'}\n  disableCreateMutatingWebhookConfig: true\n"
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tasksecrets",
                "webhook",
                "init-certs",
                "--config",
                str(workdir / "webhook.yaml"),
                "--local-only",
            ],
            check=True,
            capture_output=True,
        )
        body = workdir / "review.json"
        body.write_text(json.dumps(make_review()))
        script = workdir / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
        )
        # Both servers run side by side and the runs alternate, so that whatever else the machine is
        # doing weighs on both alike; each figure is the median over the rounds.
        servers = {
            name: start_server(workdir, baseline=name == "baseline") for name in ("webhook", "baseline")
        }
        runs: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        try:
            for _, port in servers.values():
                run_wrk(port, script, connections=16, seconds=2)  # warm up
            for _ in range(rounds):
                for c in connections:
                    for name, (_, port) in servers.items():
                        runs.setdefault((name, c), []).append(
                            run_wrk(port, script, connections=c, seconds=seconds)
                        )
        finally:
            for proc, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)

        def median_of(name: str, c: int) -> tuple[float, float, float]:
            samples = runs[(name, c)]
            return (
                statistics.median(r[0] for r in samples),
                statistics.median(r[1] for r in samples),
                statistics.median(r[2] for r in samples),
            )

        results = {name: {c: median_of(name, c) for c in connections} for name in servers}
        return [(c, results["webhook"][c], results["baseline"][c]) for c in connections]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument(
        "--tls-rounds", type=int, default=3, help="alternating runs per server and concurrency"
    )
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--rounds", type=int, default=20000, help="calls per pure measurement")
    args = parser.parse_args()

    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pod: 2 containers, {len(SECRETS)} secrets\n"
    )
    print("| pure call (in-process) | median µs | p99 µs |")
    print("|---|---:|---:|")
    for name, median, p99 in bench_pure(args.rounds):
        print(f"| {name} | {median:.1f} | {p99:.1f} |")
    for name, median, p99 in bench_managers(args.rounds // 4):
        print(f"| {name} | {median:.1f} | {p99:.1f} |")

    connections = [int(c) for c in args.connections.split(",")]
    print(
        f"\nwrk -t1 --latency, HTTPS (TLS 1.3, keep-alive), one server worker; median of {args.tls_rounds} "
        f"alternating {args.seconds} s runs per cell\n"
    )
    print("| connections | webhook req/s | p50 ms | p99 ms | baseline req/s | p50 ms | p99 ms | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, (rps, p50, p99), (brps, bp50, bp99) in bench_tls(connections, args.seconds, args.tls_rounds):
        cells = [f"{rps:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{brps:,.0f}", f"{bp50:.2f}", f"{bp99:.2f}"]
        print(f"| {c} | {' | '.join(cells)} | {rps / brps:.0%} |")


if __name__ == "__main__":
    main()
