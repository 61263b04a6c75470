"""The SDK executor that runs each task call as a Pod on a Kubernetes cluster (docs/kubernetes.md).

For each call it renders the task's pod as ``tasksecrets pod render`` does (label, ``flyte.secrets/s<N>``
annotations, the entrypoint as command), adds the inputs and the run's labels, and creates it. The
cluster's webhook injects the secrets; nothing of a secret value passes through here. The pod is
watched (the watch API), its logs followed and echoed as they come (the entrypoint masks them), and its
outputs read from the container's termination message, or from the data prefix it names
(:mod:`tasksecrets.sdk.messages`). Failures are reported with Kubernetes' own reasons
(:mod:`tasksecrets.cluster.podstate`).

Pods are deleted after success and kept after a failure (``cleanup="always"`` deletes them too); a
pod that is stopped (Ctrl-C, SIGTERM) or runs past the timeout is deleted. Every pod carries the run's
id in the label :data:`RUN_LABEL`.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from tasksecrets.cluster.podstate import PodState, read_pod_state
from tasksecrets.contract import TASK_CONTAINER
from tasksecrets.errors import TaskExecutionError
from tasksecrets.pods import DEFAULT_IMAGE, render_task_pod
from tasksecrets.sdk.messages import INLINE_INPUTS_LIMIT, fit_or_store, read_message
from tasksecrets.sdk.task import Task
from tasksecrets.sdk.values import dump_value

__all__ = ["CALL_ANNOTATION", "RUN_LABEL", "TERMINATION_PATH", "Cleanup", "KubernetesExecutor", "new_run_id"]

RUN_LABEL = "tasksecrets.io/run"
CALL_ANNOTATION = "tasksecrets.io/call"
TERMINATION_PATH = "/dev/termination-log"  # Kubernetes' default terminationMessagePath
Cleanup = Literal["success", "always", "never"]
_LOG_DRAIN_SECONDS = 10.0


def new_run_id() -> str:
    """A run id: short, a valid label value, unlikely to repeat."""
    return f"r{secrets.token_hex(5)}"


class KubernetesExecutor:
    """Runs tasks as pods through ``client`` (a lightkube Client). Use it as a context manager.

    ``namespace`` overrides ``<project>-<domain>``. ``source`` is the workflow file's path as the
    image sees it (relative to the image's working directory, as given on the command line).
    ``echo(task_name, line)`` receives each line the task prints. ``timeout``: seconds per task.
    ``node_selector``: the pods' ``spec.nodeSelector``.
    """

    def __init__(
        self,
        client: Any,
        *,
        source: str,
        project: str = "flytesnacks",
        domain: str = "development",
        namespace: str | None = None,
        image: str = DEFAULT_IMAGE,
        data_prefix: str | None = None,
        timeout: float | None = None,
        cleanup: Cleanup = "success",
        run_id: str | None = None,
        echo: Callable[[str, str], None] | None = None,
        node_selector: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.project, self.domain, self.namespace = project, domain, namespace
        self.image = image
        self.data_prefix = data_prefix.rstrip("/") if data_prefix else None
        self.timeout = timeout
        self.cleanup: Cleanup = cleanup
        self.run_id = run_id or new_run_id()
        self.echo = echo or (lambda _task, line: print(line, end="" if line.endswith("\n") else "\n"))
        self.pods: list[tuple[str, str]] = []  # (namespace, name) of every pod created, in order
        self.node_selector = dict(node_selector or {})
        self._calls = 0
        self._echoed = [""]  # the last log line of the pod followed last
        self._running: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"KubernetesExecutor(run_id={self.run_id!r}, project={self.project!r}, domain={self.domain!r})"

    def __enter__(self) -> KubernetesExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mask(self, text: str) -> str:
        """Values arrive masked by the task's entrypoint: nothing is left to mask here."""
        return text

    mask_output = mask

    def stop(self) -> None:
        """Delete the pod that is running now, if any (Ctrl-C, SIGTERM, a timeout)."""
        if self._running is not None:
            namespace, name = self._running
            self._running = None
            self._delete(namespace, name)

    # -- the Executor protocol ----------------------------------------------------------------

    def run_task(self, task: Task, inputs: dict[str, Any]) -> Any:
        """Run ``task`` as a pod and return its outputs; TaskExecutionError when it fails."""
        pod = self._render(task, inputs)
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._create(task, pod)
        self._running = (namespace, name)
        self.pods.append((namespace, name))
        try:
            state = self._wait(task, namespace, name)
        except BaseException:
            self.stop()
            raise
        self._running = None
        return self._finish(task, namespace, name, state)

    # -- the pod ------------------------------------------------------------------------------

    def _render(self, task: Task, inputs: dict[str, Any]) -> dict[str, Any]:
        self._calls += 1
        pod = render_task_pod(
            task,
            project=self.project,
            domain=self.domain,
            namespace=self.namespace,
            image=self.image,
            file=self._source_of(task),
            labels={RUN_LABEL: self.run_id},
            annotations={CALL_ANNOTATION: str(self._calls)},
        )
        if self.node_selector:
            pod["spec"]["nodeSelector"] = dict(self.node_selector)
        container = pod["spec"]["containers"][0]
        container["terminationMessagePath"] = TERMINATION_PATH
        where = f"{self.data_prefix}/{self.run_id}/{pod['metadata']['name']}" if self.data_prefix else None
        container["command"] += self._input_args(task, inputs, where)
        container["command"] += ["--termination-message", TERMINATION_PATH]
        if where is not None:
            container["command"] += ["--data-prefix", where]
        return pod

    def _source_of(self, task: Task) -> str:
        module_file = task.module_file or self.source
        if os.path.abspath(module_file) == os.path.abspath(self.source):
            return self.source
        return os.path.relpath(module_file)

    def _input_args(self, task: Task, inputs: dict[str, Any], where: str | None) -> list[str]:
        if not inputs:
            return []
        text = json.dumps({key: dump_value(value) for key, value in inputs.items()}, ensure_ascii=False)
        url = fit_or_store(
            text,
            limit=INLINE_INPUTS_LIMIT,
            prefix=where,
            name="inputs.json",
            subject=f"the inputs of task {task.name!r}",
            holder="a pod carries inline",
        )
        if url is None:
            return ["--inputs-json", text]
        return ["--inputs", url]

    def _create(self, task: Task, pod: dict[str, Any]) -> None:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Pod

        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        try:
            self.client.create(Pod.from_dict(pod))
        except ApiError as exc:
            raise TaskExecutionError(
                f"task {task.name!r} cannot run: {_creation_failure(exc, namespace, name)}"
            ) from None

    def _delete(self, namespace: str, name: str) -> None:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Pod

        try:
            self.client.delete(Pod, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    # -- watching -----------------------------------------------------------------------------

    def _wait(self, task: Task, namespace: str, name: str) -> PodState:
        from lightkube.resources.core_v1 import Pod

        events: queue.Queue[dict[str, Any] | BaseException] = queue.Queue()
        finished = threading.Event()

        def watch() -> None:
            # Ends at the first event after the pod is done (its deletion, usually); a kept pod's
            # watch idles until the process ends: it is a daemon thread.
            try:
                for _kind, obj in self.client.watch(Pod, namespace=namespace, fields={"metadata.name": name}):
                    if finished.is_set():
                        return
                    events.put(obj.to_dict())
            except BaseException as exc:  # handed to the waiting thread, which reports it
                events.put(exc)

        threading.Thread(target=watch, name=f"watch-{name}", daemon=True).start()
        try:
            return self._next_states(task, namespace, name, events)
        finally:
            finished.set()

    def _next_states(
        self, task: Task, namespace: str, name: str, events: queue.Queue[dict[str, Any] | BaseException]
    ) -> PodState:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        logs: threading.Thread | None = None
        self._echoed[-1] = ""
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = events.get(timeout=remaining)
            except queue.Empty:
                raise TaskExecutionError(
                    f"task {task.name!r} did not finish within --timeout {self.timeout:g} s; its pod {name} "
                    f"in namespace {namespace} was deleted"
                ) from None
            if isinstance(event, BaseException):
                raise TaskExecutionError(f"watching pod {name} in namespace {namespace} failed: {event}")
            state = read_pod_state(event)
            if logs is None and (state.running or (state.done and state.exit_code is not None)):
                logs = threading.Thread(target=self._follow_logs, args=(task, namespace, name), daemon=True)
                logs.start()
            if state.done:
                if logs is not None:
                    logs.join(_LOG_DRAIN_SECONDS)
                return state

    def _follow_logs(self, task: Task, namespace: str, name: str) -> None:
        from lightkube import ApiError

        try:
            for line in self.client.log(name, namespace=namespace, container=TASK_CONTAINER, follow=True):
                self._echoed[-1] = line
                self.echo(task.name, line)
        except ApiError:
            pass  # no log to show (the container never started): the pod's state says why

    # -- the outcome --------------------------------------------------------------------------

    def _finish(self, task: Task, namespace: str, name: str, state: PodState) -> Any:
        where = f"pod {name} in namespace {namespace}"
        if state.failure is None and state.exit_code == 0:
            ok, result = read_message(state.message, task_name=task.name)
            if ok:
                if self.cleanup != "never":
                    self._delete(namespace, name)
                return result
        if self.cleanup == "always":
            self._delete(namespace, name)
        kept = "" if self.cleanup == "always" else f" (kept: kubectl describe pod {name} -n {namespace})"
        if state.failure is not None:
            raise TaskExecutionError(f"task {task.name!r} failed: its {where} {state.failure}{kept}")
        detail = ""
        if state.message:
            ok, text = read_message(state.message, task_name=task.name)
            # The entrypoint also printed it: when its last line just came with the logs, it is above.
            shown = not ok and self._echoed[-1].rstrip() == text.rstrip().rsplit("\n", 1)[-1]
            detail = "; its traceback is above" if shown else ("" if ok else f"\n{text}")
        raise TaskExecutionError(
            f"task {task.name!r} failed: its process ({where}) exited with code "
            f"{state.exit_code}{kept}{detail}"
        )


def _creation_failure(exc: Any, namespace: str, name: str) -> str:
    status = exc.status
    message = str(status.message or status.reason or exc)
    if "denied the request" in message:
        return f"the webhook denied its pod {name} in namespace {namespace}: {message}"
    if status.code == 403:
        return (
            f"you may not create pods in namespace {namespace} ({message}); ask for the RBAC of "
            "docs/kubernetes.md, or pass -n NAMESPACE"
        )
    if status.code == 404:
        return f"namespace {namespace} does not exist ({message}): create it, or pass -n NAMESPACE"
    return f"creating its pod {name} in namespace {namespace} failed ({status.code}): {message}"
