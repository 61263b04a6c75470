"""Reading a task pod's status: Kubernetes' own reasons for what the stand-in kubelet cannot produce.

The statuses are as a kubelet and the scheduler write them (ImagePullBackOff, OOMKilled, evictions);
the cluster tests cover the ones our stand-in kubelet writes for real.
"""

from __future__ import annotations

from typing import Any

import pytest

from tasksecrets.cluster.podstate import PodState, read_pod_state


def _pod(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": status}


def _container(state: dict[str, Any]) -> dict[str, Any]:
    return {"name": "task", "state": state, "ready": False, "restartCount": 0, "image": "i", "imageID": ""}


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ImagePullBackOff", 'Back-off pulling image "nope:1"'),
        ("ErrImagePull", "rpc error: not found"),
        ("InvalidImageName", 'couldn\'t parse image name "UPPER"'),
        ("CreateContainerConfigError", 'secret "user-info" not found'),
    ],
)
def test_a_container_that_cannot_start_is_done_with_its_reason(reason: str, message: str) -> None:
    state = read_pod_state(
        _pod(
            phase="Pending",
            containerStatuses=[_container({"waiting": {"reason": reason, "message": message}})],
        )
    )
    assert state.done and state.failure == f"cannot start its container ({reason}: {message})"


def test_waiting_to_be_created_is_not_done() -> None:
    state = read_pod_state(
        _pod(phase="Pending", containerStatuses=[_container({"waiting": {"reason": "ContainerCreating"}})])
    )
    assert state == PodState()


def test_oom_killed_names_the_memory_limit() -> None:
    ended = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    state = read_pod_state(_pod(phase="Failed", containerStatuses=[_container(ended)]))
    assert state.done and state.exit_code == 137 and "OOMKilled" in (state.failure or "")


def test_unschedulable_gives_the_schedulers_message() -> None:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available",
    }
    state = read_pod_state(_pod(phase="Pending", conditions=[condition]))
    assert state.failure == "cannot be scheduled (Unschedulable): 0/3 nodes are available"


def test_evicted_pod_without_a_container_verdict() -> None:
    state = read_pod_state(
        _pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    )
    assert state.done and state.failure == "failed (Evicted: The node was low on resource: memory.)"


def test_running_then_terminated_with_a_message() -> None:
    assert read_pod_state(_pod(phase="Running", containerStatuses=[_container({"running": {}})])).running
    ended = {"terminated": {"exitCode": 0, "reason": "Completed", "message": '{"v":1}'}}
    state = read_pod_state(_pod(phase="Succeeded", containerStatuses=[_container(ended)]))
    assert state == PodState(done=True, exit_code=0, message='{"v":1}')


def test_only_the_task_container_counts() -> None:
    sidecar = {**_container({"waiting": {"reason": "ImagePullBackOff"}}), "name": "sidecar"}
    assert not read_pod_state(_pod(phase="Pending", containerStatuses=[sidecar])).done
