"""What a task pod's status says: still going, done with a termination message, or failed and why.

The reasons are Kubernetes' own, as ``kubectl describe`` shows them: the scheduler's ``Unschedulable``
message, a container waiting on ``ImagePullBackOff``, ``ErrImagePull``, ``InvalidImageName``,
``CreateContainerConfigError`` (a missing Secret or key) or ``CreateContainerError``, a container
terminated by ``OOMKilled``, a non-zero exit. Pure: it reads a pod object (a dict) and calls nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasksecrets.contract import TASK_CONTAINER

__all__ = ["PodState", "read_pod_state"]

# Waiting reasons that do not go away by waiting: the pod cannot start as it is.
_STUCK = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class PodState:
    """``running``: the task container has started (its logs can be followed). ``done``: nothing more
    will happen; then ``exit_code``/``message`` (the termination message) or ``failure`` (why)."""

    running: bool = False
    done: bool = False
    exit_code: int | None = None
    message: str = ""
    failure: str | None = None


def _task_status(status: dict[str, Any]) -> dict[str, Any] | None:
    for container in status.get("containerStatuses") or []:
        if container.get("name") == TASK_CONTAINER:
            return dict(container)
    return None


def _reason(reason: str | None, message: str | None) -> str:
    return f"{reason}: {message}" if message else str(reason)


def read_pod_state(pod: dict[str, Any]) -> PodState:
    """The state of the task pod ``pod`` (as the API returns it)."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message = condition.get("message") or "no node fits it"
            return PodState(done=True, failure=f"cannot be scheduled (Unschedulable): {message}")
    container = _task_status(status)
    state = (container or {}).get("state") or {}
    if "waiting" in state and state["waiting"].get("reason") in _STUCK:
        waiting = state["waiting"]
        return PodState(
            done=True,
            failure=f"cannot start its container ({_reason(waiting['reason'], waiting.get('message'))})",
        )
    if "terminated" in state:
        ended = state["terminated"]
        code = int(ended.get("exitCode", -1))
        message = str(ended.get("message") or "")
        if ended.get("reason") == "OOMKilled":
            return PodState(
                done=True,
                exit_code=code,
                message=message,
                failure="was stopped: its container used more memory than its limit (OOMKilled)",
            )
        return PodState(done=True, exit_code=code, message=message)
    if status.get("phase") == "Failed":  # evicted, deadline exceeded, ...: no container verdict
        return PodState(done=True, failure=f"failed ({_reason(status.get('reason'), status.get('message'))})")
    return PodState(running="running" in state)
