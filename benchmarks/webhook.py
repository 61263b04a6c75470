"""Benchmark of the pod webhook: the pure mutation per call, and the HTTPS server under wrk.

    .venv/bin/python benchmarks/webhook.py [--seconds 3] [--tls-rounds 12] [--connections 1,16,64]

1. The pure part, in-process: ``mutate_pod`` of a pod with 2 containers and 5 secrets (2 groups,
   ENV_VAR and FILE mounts, K8s manager), the prepared ``Mutator.mutate`` the server uses, and the whole
   ``review`` (JSON in, AdmissionReview with base64 patch out), for a pod whose shape was not seen
   before and for one whose answer is remembered (see ``tasksecrets.admission.memo``). Median and p99
   per call in µs.
2. Over TLS: ``tasksecrets webhook serve`` in its own process (one worker), loaded by ``wrk --latency``
   (one thread, keep-alive connections, a Lua script posting reviews) at each concurrency, beside the
   same server started with the hidden ``--baseline`` flag, which decodes the review and admits it
   without mutating: the same stack doing the least any webhook must. Every request is a new pod (new
   uid, pod name and env value). Load "template": the pods of one task, as a cluster sends them; load
   "new-shape": an env var name is new in every pod too, so no answer is ever remembered. Throughput
   and p50/p99, and the ratio of the webhook's throughput to the baseline's.

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

from tasksecrets.admission.config import Config
from tasksecrets.admission.jsoncodec import encode_json
from tasksecrets.admission.mutator import Mutator, mutate_pod
from tasksecrets.admission.reviews import review
from tasksecrets.sdk.secret import Secret
from tasksecrets.webhook.wiring import build_baseline_review, build_review
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
    mutator, computing = Mutator(config), Mutator(config)
    memo = computing.answers
    assert memo is not None

    def first_of_its_view() -> None:
        memo.clear()  # as if every pod had a view not seen before
        review(raw, computing)

    served, baseline = build_review(config), build_baseline_review()
    result = mutate_pod(pod, config)
    assert result.allowed and result.patch, result.reason
    review(raw, mutator)  # remembered from now on
    assert review(raw, mutator).body == review(raw, computing).body
    return [
        ("mutate_pod(pod, config)", *time_calls(lambda: mutate_pod(pod, config), rounds=rounds)),
        (
            "Mutator.mutate(pod) (prepared, as served)",
            *time_calls(lambda: mutator.mutate(pod), rounds=rounds),
        ),
        (
            "review(body bytes), a pod view not seen before (mutated and encoded)",
            *time_calls(first_of_its_view, rounds=rounds),
        ),
        (
            "review(body bytes), a pod view seen before (answer remembered)",
            *time_calls(lambda: review(raw, mutator), rounds=rounds),
        ),
        (
            "served review + answer JSON (as serve builds it; view seen before)",
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
    from tasksecrets.admission.config import parse_config

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


# The servers run on the first CPU and wrk on the others (when there are two or more), so that the
# client's work (decrypting and reading the answers, larger for the webhook than for the baseline)
# does not take the server's CPU: in a cluster the client is the API server, on another machine.
_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS, CLIENT_CPUS = (_CPUS[:1], _CPUS[1:]) if len(_CPUS) > 1 else (_CPUS, _CPUS)


def _pinned(cpus: list[int]) -> Any:
    return lambda: os.sched_setaffinity(0, cpus)


def start_server(workdir: Path, *, baseline: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    extra = ["--baseline"] if baseline else []
    proc = subprocess.Popen(
        serve_command(workdir / "webhook.yaml", "--port", str(port), "--log-level", "warning", *extra),
        stderr=subprocess.DEVNULL,
        preexec_fn=_pinned(SERVER_CPUS),
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
        [*cmd, f"https://localhost:{port}/mutate--v1-pod"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_pinned(CLIENT_CPUS),
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


# Each request is a new pod of the same task: its uid, pod name and env value are new (wrk numbers
# them), so nothing can key on the body. In the "new shape" load an env var *name* is new as well,
# so no two pods have the same shape and no answer is ever remembered (the cost of a first pod).
_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{path}", "rb")
local template = f:read("*a")
f:close()
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, (template:gsub("@N@", tostring(n))))
end
"""


def numbered_review(*, new_shape: bool) -> str:
    body = make_review()
    body["request"]["uid"] = "7c0e9b34-8c0b-4e43-a4d3-@N@"
    pod = body["request"]["object"]
    pod["metadata"]["name"] = "task-a1b2c3-@N@"
    env = pod["spec"]["containers"][0]["env"][0]
    env["value"] = "flytesnacks-@N@"
    if new_shape:
        env["name"] = "FLYTE_INTERNAL_PROJECT_@N@"
    return json.dumps(body)


Cell = tuple[float, float, float]  # req/s, p50 ms, p99 ms
LOADS = (("webhook", "template"), ("baseline", "template"), ("webhook", "new-shape"))


def bench_tls(connections: list[int], seconds: int, rounds: int) -> dict[tuple[str, str, int], list[Cell]]:
    """Every (server, load, connections) cell's runs, in round order; the runs of a round are adjacent."""
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
        scripts = {}
        for load in ("template", "new-shape"):
            (workdir / f"{load}.json").write_text(numbered_review(new_shape=load == "new-shape"))
            scripts[load] = workdir / f"{load}.lua"
            scripts[load].write_text(_LUA.format(path=workdir / f"{load}.json"))
        # Both servers run side by side and the runs of a round are adjacent (their order alternates
        # from round to round), so whatever else the machine does weighs on a round's runs alike.
        servers = {
            name: start_server(workdir, baseline=name == "baseline") for name in ("webhook", "baseline")
        }
        runs: dict[tuple[str, str, int], list[Cell]] = {}
        try:
            for name, load in LOADS:
                run_wrk(servers[name][1], scripts[load], connections=16, seconds=2)  # warm up
            for r in range(rounds):
                for c in connections:
                    for name, load in LOADS if r % 2 == 0 else LOADS[::-1]:
                        cell = run_wrk(servers[name][1], scripts[load], connections=c, seconds=seconds)
                        runs.setdefault((name, load, c), []).append(cell)
        finally:
            for proc, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        return runs
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def summarize(runs: list[Cell]) -> Cell:
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        statistics.median(r[2] for r in runs),
    )


def paired_ratios(runs: list[Cell], baseline: list[Cell]) -> list[float]:
    """Each round's throughput over the same round's baseline throughput."""
    return [a[0] / b[0] for a, b in zip(runs, baseline, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per run")
    parser.add_argument(
        "--tls-rounds", type=int, default=12, help="alternating runs per server and concurrency"
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
    runs = bench_tls(connections, args.seconds, args.tls_rounds)
    print(
        f"\nwrk -t1 --latency on CPUs {CLIENT_CPUS}, HTTPS (TLS 1.3, keep-alive), one server worker on CPUs "
        f"{SERVER_CPUS}; {args.tls_rounds} rounds of "
        f"{args.seconds} s runs per cell, the runs of a round adjacent; req/s and latencies are medians over "
        "rounds, a ratio is the median over rounds of req/s over the same round's baseline req/s\n"
    )
    header = "req/s | p50 ms | p99 ms"
    print(f"| load | connections | webhook {header} | baseline {header} | ratio | rounds' ratios |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for load in ("template", "new-shape"):
        for c in connections:
            ours, base = runs[("webhook", load, c)], runs[("baseline", "template", c)]
            cells = [f"{summarize(ours)[0]:,.0f}", *(f"{v:.2f}" for v in summarize(ours)[1:])]
            cells += [f"{summarize(base)[0]:,.0f}", *(f"{v:.2f}" for v in summarize(base)[1:])]
            ratios = paired_ratios(ours, base)
            spread = " ".join(f"{r:.0%}" for r in sorted(ratios))
            print(f"| {load} | {c} | {' | '.join(cells)} | {statistics.median(ratios):.0%} | {spread} |")


if __name__ == "__main__":
    main()
