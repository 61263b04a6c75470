"""``run --cluster`` failures, each with Kubernetes' reason, its exit code, no traceback and no value.

Against the real API server, scheduler and our webhook; pods run by the stand-in kubelet
(tests/kube_cluster.py). The workflows live in a temporary file the stand-in reads by its path.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane import REPO
from kube_cluster import KubeCluster

NS = "failures"
VALUE = "fake-failure-secret-7"

WORKFLOWS = """
import os, sys, time
import tasksecrets
from tasksecrets import Secret, task, workflow

@task(secret_requests=[Secret(group="creds", key=f"k{i}") for i in range(300)])
def greedy() -> str:
    return "never"

@task(secret_requests=[Secret(group="nowhere", key="token")])
def missing() -> str:
    return tasksecrets.current_context().secrets.get("nowhere", "token")

@task(secret_requests=[Secret(group="creds", key="token")])
def raises() -> str:
    value = tasksecrets.current_context().secrets.get("creds", "token")
    raise RuntimeError(f"the token was {value}")

@task
def sleeps(marker: str) -> str:
    print("started", flush=True)
    open(marker, "w").close()
    time.sleep(120)
    return "late"

@task
def plain() -> str:
    return "fine"

@workflow
def chatty(marker: str) -> str:
    plain()
    return sleeps(marker=marker)
"""


@pytest.fixture(scope="module")
def cluster(kube_cluster: KubeCluster) -> KubeCluster:
    kube_cluster.plane.create_namespace(NS)
    kube_cluster.plane.kubectl(
        "create", "secret", "generic", "creds", "-n", NS, f"--from-literal=token={VALUE}"
    )
    return kube_cluster


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("workflows") / "failing.py"
    path.write_text(WORKFLOWS)
    return path


def _argv(cluster: KubeCluster, workflows: Path, name: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tasksecrets",
        "run",
        str(workflows),
        name,
        "--cluster",
        "--kubeconfig",
        str(cluster.plane.kubeconfig),
        "-n",
        NS,
        *extra,
    ]


def _run(cluster: KubeCluster, workflows: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(cluster, workflows, name, *extra),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
    )


def _assert_clean_failure(done: subprocess.CompletedProcess[str], code: int, *expected: str) -> str:
    out = done.stdout + done.stderr
    assert done.returncode == code, out
    assert "Traceback" not in out or "RuntimeError" in out  # only the task's own, masked
    assert VALUE not in out
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert error, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr
    return done.stderr


def _pods(cluster: KubeCluster, stderr: str) -> list[dict[str, object]]:
    run_id = stderr.split("run ", 1)[1].split(":", 1)[0]
    return list(cluster.plane.get_json("pods", "-n", NS, "-l", f"tasksecrets.io/run={run_id}")["items"])


def test_webhook_denial_shows_our_reason(cluster: KubeCluster, workflows: Path) -> None:
    done = _run(cluster, workflows, "greedy")
    stderr = _assert_clean_failure(
        done, 1, 'admission webhook "flyte-pod-webhook.flyte.org" denied the request', "maxSecretsPerPod"
    )
    assert _pods(cluster, stderr) == []  # never created


def test_unschedulable_pod_shows_the_schedulers_reason(cluster: KubeCluster, workflows: Path) -> None:
    done = _run(cluster, workflows, "plain", "--node-selector", "disktype=nvme")
    stderr = _assert_clean_failure(
        done, 1, "cannot be scheduled (Unschedulable): 0/1 nodes are available", "node affinity/selector"
    )
    assert len(_pods(cluster, stderr)) == 1  # kept after a failure


def test_missing_secret_is_create_container_config_error(cluster: KubeCluster, workflows: Path) -> None:
    done = _run(cluster, workflows, "missing", "--cleanup", "always")
    stderr = _assert_clean_failure(done, 1, 'CreateContainerConfigError: secret "nowhere" not found')
    assert _pods(cluster, stderr) == []  # --cleanup always


def test_task_that_raises_shows_its_masked_traceback(cluster: KubeCluster, workflows: Path) -> None:
    done = _run(cluster, workflows, "raises")
    stderr = _assert_clean_failure(done, 1, "exited with code 1", "RuntimeError: the token was ********")
    assert len(_pods(cluster, stderr)) == 1
    assert stderr.count("RuntimeError: the token") == 1 and "its traceback is above" in stderr


def test_timeout_deletes_the_pod(cluster: KubeCluster, workflows: Path, tmp_path: Path) -> None:
    done = _run(cluster, workflows, "sleeps", "-i", f"marker={tmp_path / 'm'}", "--timeout", "8")
    stderr = _assert_clean_failure(done, 1, "did not finish within --timeout 8 s", "was deleted")
    _wait_gone(cluster, stderr)


def test_ctrl_c_deletes_the_running_pod_and_exits_130(
    cluster: KubeCluster, workflows: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        _argv(cluster, workflows, "chatty", "-i", f"marker={marker}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    time.sleep(1.0)  # the log line reaches us through the API server's log endpoint
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopped by SIGINT" in stderr and "Traceback" not in stdout + stderr
    # What the task printed came live, prefixed with its name; the first task had finished before.
    assert "[sleeps] started" in stderr
    _wait_gone(cluster, stderr)


def _wait_gone(cluster: KubeCluster, stderr: str) -> None:
    deadline = time.monotonic() + 30
    while _pods(cluster, stderr):
        assert time.monotonic() < deadline, "the pod was not deleted"
        time.sleep(0.2)


def test_get_runs_lists_kept_pods_and_delete_run_removes_them(cluster: KubeCluster, workflows: Path) -> None:
    # After the failures above: their kept pods are listed by run, and one run can be deleted whole.
    done = _run(cluster, workflows, "raises")
    run_id = done.stderr.split("run ", 1)[1].split(":", 1)[0]
    base = [sys.executable, "-m", "tasksecrets"]
    where = ["-n", NS, "--kubeconfig", str(cluster.plane.kubeconfig)]
    listed = subprocess.run(
        [*base, "get", "runs", *where], capture_output=True, text=True, timeout=60, check=False
    )
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith(run_id))
    assert row[1:5] == [NS, "1", "1", "Failed"]
    deleted = subprocess.run(
        [*base, "delete", "run", run_id, *where], capture_output=True, text=True, timeout=60, check=False
    )
    assert deleted.returncode == 0 and "deleted" in deleted.stdout, deleted.stderr
    _wait_gone(cluster, done.stderr)
    again = subprocess.run(
        [*base, "delete", "run", run_id, *where], capture_output=True, text=True, timeout=60, check=False
    )
    assert (
        again.returncode == 1
        and f"no pod of run '{run_id}'" in again.stderr
        and "Traceback" not in again.stderr
    )
