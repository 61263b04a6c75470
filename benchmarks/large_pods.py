"""Benchmark of large pods: a review's cost per manager as the number of secret requests grows.

    .venv/bin/python benchmarks/large_pods.py [--rounds 40]

The in-process review function the server calls (``review(body bytes, Mutator)``, JSON in,
AdmissionReview with base64 patch out, as benchmarks/webhook.py builds it), with answers not
remembered, so every call mutates. Pods of 10, 100 and ``maxSecretsPerPod`` (the default cap, 256)
requests, each named as its manager needs (a third ENV_VAR, a third FILE, a third ANY, every other
one with an ``env_var``), two containers; and the pod of 10,000 valid requests (about 1 MB of
annotations) that a review must deny for its count. Median and p99 per review in ms.

Targets: a review at the cap under about 100 ms with every manager; the 10,000-request pod denied
in under 50 ms. Prints the table only (see the README of this directory for where figures go).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

from _stats import percentile

from tasksecrets.admission.config import DEFAULT_MAX_SECRETS_PER_POD, parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import review
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import encode_pod_metadata
from webhook import make_review

MANAGERS = ("K8s", "AWS", "GCP", "Vault", "Azure")
SIZES = (10, 100, DEFAULT_MAX_SECRETS_PER_POD)
FLOOD = 10_000
MOUNTS = (Secret.MountType.ENV_VAR, Secret.MountType.FILE, Secret.MountType.ANY)

# (group, key, group_version) of request i, as each manager needs them.
NAMES: dict[str, Callable[[int], tuple[str, str, str | None]]] = {
    "K8s": lambda i: (f"app-creds-{i % 16}", f"key-{i}", None),
    "AWS": lambda i: ("arn:aws:secretsmanager:us-east-1:123456789012:secret", f"app-key-{i}", None),
    "GCP": lambda i: (f"projects/p1/secrets/app-{i}", "value", "latest"),
    "Vault": lambda i: (f"kv/data/app-{i % 16}", f"key-{i}", "kv2"),
    "Azure": lambda i: ("https://app-kv.vault.azure.net", "value", f"secret-{i}"),
}


def pod_secrets(manager: str, n: int) -> list[Secret]:
    return [
        Secret(
            group=group,
            key=key,
            group_version=version,
            mount_requirement=MOUNTS[i % 3],
            env_var=f"APP_SECRET_{i}" if i % 2 else None,
        )
        for i, (group, key, version) in enumerate(map(NAMES[manager], range(n)))
    ]


def review_body(secrets: list[Secret]) -> bytes:
    """benchmarks/webhook.py's review (two containers), its pod carrying these requests."""
    body = make_review()
    metadata = body["request"]["object"]["metadata"]
    metadata["labels"], metadata["annotations"] = encode_pod_metadata(secrets)
    return json.dumps(body).encode()


def time_reviews(body: bytes, mutator: Mutator, *, rounds: int, allowed: bool) -> tuple[float, float]:
    outcome = review(body, mutator)
    assert outcome.body["response"]["allowed"] is allowed, outcome.body["response"].get("status")
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        review(body, mutator)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples), percentile(samples, 0.99)


def bench(manager: str, rounds: int) -> list[tuple[float, float]]:
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager}}))
    mutator.answers = None  # every review mutates: no answer is remembered
    cells = []
    for n in SIZES:
        body = review_body(pod_secrets(manager, n))
        cells.append(time_reviews(body, mutator, rounds=max(10, rounds * 10 // n), allowed=True))
    flood = review_body(pod_secrets(manager, FLOOD))
    cells.append(time_reviews(flood, mutator, rounds=rounds, allowed=False))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="reviews per cell (more for small pods)")
    args = parser.parse_args()
    flood_bytes = len(review_body(pod_secrets("K8s", FLOOD)))
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; review(body bytes) with answers not "
        f"remembered; the {FLOOD:,}-request pod is {flood_bytes / 1e6:.1f} MB and is denied for its count\n"
    )
    header = " | ".join(f"{n} secrets" for n in SIZES) + f" | {FLOOD:,} (denied)"
    print(f"| manager (median / p99 ms) | {header} |")
    print("|---|" + "---:|" * (len(SIZES) + 1))
    for manager in MANAGERS:
        cells = bench(manager, args.rounds)
        print(f"| {manager} | " + " | ".join(f"{median:.2f} / {p99:.2f}" for median, p99 in cells) + " |")


if __name__ == "__main__":
    main()
