"""``tasksecrets run --cluster`` against a real API server, scheduler and our webhook (tests/kube_cluster.py).

The pods are run by the stand-in kubelet of tests/stand_ins/node_kubelet.py, which reads the Secrets
from the API server: the secrets are created with kubectl, as the seed's docs say.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane import REPO
from kube_cluster import NODE_NAME, KubeCluster

NS = "flytesnacks-development"
FAKE = {"user_secret": "fake-user-secret-1", "username": "fake-username-2", "password": "fake-password-3"}


@pytest.fixture(scope="module")
def seeded(kube_cluster: KubeCluster) -> KubeCluster:
    kube_cluster.plane.create_namespace(NS)
    literals = [f"--from-literal={k}={v}" for k, v in FAKE.items()]
    # docs/kubernetes.md's commands (test_kubernetes_doc.py) may have made it already, with other values.
    kube_cluster.plane.kubectl("delete", "secret", "user-info", "-n", NS, "--ignore-not-found")
    kube_cluster.plane.kubectl("create", "secret", "generic", "user-info", "-n", NS, *literals)
    return kube_cluster


def run_cli(
    cluster: KubeCluster, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tasksecrets",
            "run",
            *args,
            "--cluster",
            "--kubeconfig",
            str(cluster.plane.kubeconfig),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _run_pods(cluster: KubeCluster, run_id: str) -> list[str]:
    listed = cluster.plane.get_json("pods", "-A", "-l", f"tasksecrets.io/run={run_id}")
    return [item["metadata"]["name"] for item in listed["items"]]


def _outputs(stdout: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in stdout.splitlines() if line.startswith("o"))


def _run_id(stderr: str) -> str:
    return stderr.split("run ", 1)[1].split(":", 1)[0]


def test_seed_workflow_on_the_cluster_gives_the_local_outputs(seeded: KubeCluster, tmp_path: Path) -> None:
    done = run_cli(seeded, "examples/use_secrets.py", "my_secret_workflow")
    assert done.returncode == 0, done.stderr
    outputs = _outputs(done.stdout)
    assert [outputs[f"o{i}"] for i in (0, 1, 2, 4)] == ["********"] * 4
    # The same workflow on the local cluster, from a local store holding the same values.
    home = {"TASKSECRETS_HOME": str(tmp_path / "home")}
    literals = [f"--from-literal={k}={v}" for k, v in FAKE.items()]
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasksecrets",
            "create",
            "secret",
            "generic",
            "user-info",
            "-n",
            NS,
            *literals,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **home},
        check=False,
    )
    assert made.returncode == 0, made.stderr
    local = subprocess.run(
        [sys.executable, "-m", "tasksecrets", "run", "examples/use_secrets.py", "my_secret_workflow"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **home},
        check=False,
    )
    assert local.returncode == 0, local.stderr
    local_outputs = _outputs(local.stdout)
    assert {k: v for k, v in outputs.items() if k != "o3"} == {
        k: v for k, v in local_outputs.items() if k != "o3"
    }
    assert outputs["o3"].endswith("user-info/user_secret") and local_outputs["o3"].endswith(
        "user-info/user_secret"
    )
    # Three pods ran: bound by the scheduler to the Node, mutated by our webhook, deleted after success.
    run_id = _run_id(done.stderr)
    ran = [
        r.pod
        for r in seeded.node.pods.values()
        if r.pod["metadata"]["labels"].get("tasksecrets.io/run") == run_id
    ]
    assert len(ran) == 3
    for pod in ran:
        assert pod["spec"]["nodeName"] == NODE_NAME
        volumes = {v["secret"]["secretName"] for v in pod["spec"].get("volumes", []) if "secret" in v}
        env = {e["name"] for e in pod["spec"]["containers"][0].get("env", [])}
        assert "user-info" in volumes or "_FSEC_USER-INFO_USER_SECRET" in env, pod["spec"]
    assert _run_pods(seeded, run_id) == []
    assert "fake-" not in done.stdout + done.stderr
