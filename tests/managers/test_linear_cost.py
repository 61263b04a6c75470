"""Mutation cost grows linearly with the number of secrets, for every manager: counted, not timed.

The count is the Python lines executed while mutating (``sys.settrace`` line events: every loop
iteration is one), for pods of n and 4n secrets whose answers grow linearly (FILE requests without
``env_var``: a pull manager's env vars are then the same few names in every container). A
per-secret scan of the pod (of its containers, volumes or annotations) makes 4n cost about 16
times n; linear work costs 4 times, plus what does not depend on n. Scans done in C in one
operation (``x in some_list``) make no line events: tests/managers/test_editor_indexes.py checks
the indexes that replaced them against the scans they replace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from managers.conformance import make_pod
from tasksecrets.admission.config import parse_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.sdk.secret import MountType, Secret

N = 60
# 4n over n: 4 for linear work (some fixed work makes it less); a scan per secret makes it near 16.
MAX_RATIO = 4.6


def _secrets(manager: str, n: int, tag: str) -> list[Secret]:
    """n FILE requests, distinct (``tag`` keeps the runs apart: nothing remembered helps)."""
    names: dict[str, Callable[[int], tuple[str, str, str | None]]] = {
        "K8s": lambda i: (f"{tag}-group-{i % 7}-{i}", f"key{i}", None),
        "AWS": lambda i: ("arn:aws:secretsmanager:us-east-1:123456789012:secret", f"{tag}-key{i}", None),
        "GCP": lambda i: (f"projects/p/secrets/{tag}-s{i}", "value", "latest"),
        "Vault": lambda i: (f"kv/data/{tag}-g{i % 7}", f"key{i}", "kv2"),
        "Azure": lambda i: ("https://kv.vault.azure.net", "value", f"{tag}-s{i}"),
    }
    return [
        Secret(group=g, key=k, group_version=v, mount_requirement=MountType.FILE)
        for g, k, v in map(names[manager], range(n))
    ]


def lines_to_mutate(mutator: Mutator, pod: dict[str, Any]) -> int:
    """The Python lines executed by ``mutator.mutate(pod)`` and its answer's mutated pod."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        result = mutator.mutate(pod)
        assert result.allowed, result.reason
        assert result.pod
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("manager", ["K8s", "AWS", "GCP", "Vault", "Azure"])
def test_mutation_cost_grows_linearly_with_the_secrets(manager: str) -> None:
    mutator = Mutator(parse_config({"webhook": {"secretManagerType": manager}}))
    mutator.mutate(make_pod(_secrets(manager, 3, "warm")))  # imports and first-use work out of the count
    small = lines_to_mutate(mutator, make_pod(_secrets(manager, N, "small")))
    large = lines_to_mutate(mutator, make_pod(_secrets(manager, 4 * N, "large")))
    assert large / small <= MAX_RATIO, f"{manager}: {small} lines for {N} secrets, {large} for {4 * N}"


def test_the_count_sees_a_scan_per_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: an injector that scans the pod's annotations for each secret is caught."""
    from tasksecrets.managers.k8s.injector import K8sInjector

    real = K8sInjector.inject

    def scanning(self: K8sInjector, secret: Secret, editor: Any) -> bool:
        for key in editor.original_annotations:  # the per-secret scan Vault's next-id search made
            key.startswith("vault.hashicorp.com/")
        return real(self, secret, editor)

    monkeypatch.setattr(K8sInjector, "inject", scanning)
    mutator = Mutator(parse_config({}))
    small = lines_to_mutate(mutator, make_pod(_secrets("K8s", N, "small")))
    large = lines_to_mutate(mutator, make_pod(_secrets("K8s", 4 * N, "large")))
    assert large / small > MAX_RATIO
