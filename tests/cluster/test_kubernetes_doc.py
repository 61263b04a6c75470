"""docs/kubernetes.md as written: its commands run against the test cluster (tests/kube_cluster.py),
with the kubectl of the same release first on PATH; and its RBAC is all a runner needs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from controlplane import REPO
from kube_cluster import KubeCluster

DOC = REPO / "docs" / "kubernetes.md"


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_docs_commands_run_as_written(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    (block,) = _shell_blocks(DOC.read_text(encoding="utf-8"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(kube_cluster.plane.kubectl_path)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(kube_cluster.plane.kubeconfig),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split(": ", 1) for line in done.stdout.splitlines() if line.startswith("o"))
    assert [outputs.pop(f"o{i}") for i in (0, 1, 2, 4)] == ["********"] * 4
    assert outputs["o3"].endswith("user-info/user_secret")
    assert "mysecret" not in done.stdout + done.stderr


def test_the_runner_role_is_enough_and_reads_no_secret(kube_cluster: KubeCluster) -> None:
    # After the docs' commands: the ServiceAccount they bound runs the seed, and cannot read Secrets.
    plane, ns = kube_cluster.plane, "flytesnacks-development"
    kubeconfig = plane.token_kubeconfig(plane.service_account_token(ns, "tasksecrets-runner"), "runner")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasksecrets",
            "run",
            "examples/use_secrets.py",
            "my_secret_workflow",
            "--cluster",
            "--kubeconfig",
            str(kubeconfig),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    refused = plane.kubectl("get", "secret", "user-info", "-n", ns, kubeconfig=kubeconfig, check=False)
    assert refused.returncode != 0 and 'is forbidden: User "system:serviceaccount:' in refused.stderr
