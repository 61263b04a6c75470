"""Values too big for a pod, through ``--data-prefix`` on moto's real S3 server (tests/services.py).

Outputs over the 4 KiB termination message and inputs over 64 KiB go to objects under the prefix;
without a prefix the run fails before or after the task with a message naming the task and the fix.
The stand-in kubelet gives task pods moto's credentials, as a platform gives pods a cloud identity.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane import REPO
from kube_cluster import KubeCluster
from services import MotoServer

NS = "data-prefix"
BUCKET = "tasksecrets-runs"
SIZE = 100_000

WORKFLOW = f"""
from tasksecrets import task, workflow

@task
def big() -> str:
    return "x" * {SIZE}

@task
def measure(text: str) -> int:
    return len(text)

@workflow
def flow() -> int:
    return measure(text=big())
"""


@pytest.fixture(scope="module")
def cluster(kube_cluster: KubeCluster, moto_server: MotoServer) -> Iterator[KubeCluster]:
    import boto3

    kube_cluster.plane.create_namespace(NS)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint_url,
        region_name=moto_server.region,
        aws_access_key_id=moto_server.access_key_id,
        aws_secret_access_key=moto_server.secret_access_key,
    )
    s3.create_bucket(Bucket=BUCKET)
    kube_cluster.node.environment.update(moto_server.env())
    try:
        yield kube_cluster
    finally:
        for key in moto_server.env():
            kube_cluster.node.environment.pop(key, None)


def _run(cluster: KubeCluster, moto: MotoServer, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tasksecrets", "run", str(path), "flow", "--cluster", "-n", NS]
    argv += ["--kubeconfig", str(cluster.plane.kubeconfig), *extra]
    env = {**os.environ, **moto.env()}
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=180, check=False)


def test_big_values_travel_through_the_data_prefix(
    cluster: KubeCluster, moto_server: MotoServer, tmp_path: Path
) -> None:
    import boto3

    path = tmp_path / "big.py"
    path.write_text(WORKFLOW)
    done = _run(cluster, moto_server, path, "--data-prefix", f"s3://{BUCKET}/runs")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"o0: {SIZE}"
    run_id = done.stderr.split("run ", 1)[1].split(":", 1)[0]
    s3 = boto3.client(
        "s3",
        **{
            "endpoint_url": moto_server.endpoint_url,
            "region_name": moto_server.region,
            "aws_access_key_id": moto_server.access_key_id,
            "aws_secret_access_key": moto_server.secret_access_key,
        },
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{run_id}/")["Contents"])
    # big's outputs (100 kB > 4 KiB) and measure's inputs (the same, > 64 KiB); measure's output fits inline.
    # big's outputs (over 4 KiB) and measure's inputs (over 64 KiB), each under its pod's name;
    # measure's output fits in its termination message.
    names = sorted((k.split("/")[2].split("-")[0], k.rsplit("/", 1)[1]) for k in keys)
    assert names == [("big", "outputs.json"), ("measure", "inputs.json")], keys


def test_without_a_prefix_the_task_and_the_fix_are_named(
    cluster: KubeCluster, moto_server: MotoServer, tmp_path: Path
) -> None:
    path = tmp_path / "big.py"
    path.write_text(WORKFLOW)
    done = _run(cluster, moto_server, path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        f"the outputs of task 'big' are {SIZE + 27} bytes" in done.stderr
        or "the outputs of task 'big' are" in done.stderr
    )
    assert "run with --data-prefix URL" in done.stderr
