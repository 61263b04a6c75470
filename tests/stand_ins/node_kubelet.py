"""A stand-in kubelet for one Node of the test control plane: the only part of the cluster we play.

No kubelet can run on this machine (no container runtime), so this helper does, for the pods the
real kube-scheduler binds to its Node, what a kubelet does, through the real API server:

- it registers the Node (Ready, with capacity, its "kubelet" endpoint on 127.0.0.1);
- it watches the pods bound to the Node; for each tasksecrets pod (label ``tasksecrets.io/run``) it
  reads the Secrets the pod refers to from the API server (as a kubelet does), materializes the pod
  with tasksecrets' local kubelet and runs the task container's command as a process on this
  machine, in ``workdir`` (the "image": this checkout), with the venv's ``python`` first on PATH;
- the container's ``terminationMessagePath`` is a file of its own that the command's argument is
  pointed at (a kubelet bind-mounts such a file; a process on the host cannot have one at
  ``/dev/termination-log``);
- it writes the pod's status through the status subresource: Running, then Succeeded or Failed with
  the exit code and the termination message (at most 4096 bytes, as a kubelet keeps), or the waiting
  reason ``CreateContainerConfigError`` when a Secret or key is missing;
- it serves the container's log at the kubelet's ``/containerLogs/...`` path over TLS, so
  ``kubectl logs -f`` and the API's log endpoint reach it through the API server;
- a pod being deleted is stopped and then removed (grace period 0), as a kubelet confirms a deletion.

It never runs an image, pulls nothing, enforces no resource limit and mounts no service-account
token (the tasks here do not call the API server). It is test code, never part
of tasksecrets.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tasksecrets.cluster.executor import RUN_LABEL, TERMINATION_PATH
from tasksecrets.errors import StoredSecretNotFoundError, TaskExecutionError
from tasksecrets.local.kubelet import materialize_pod, remove_tree
from tasksecrets.local.runner import scrub_environ
from tasksecrets.sdk.messages import MESSAGE_LIMIT
from tasksecrets.webhook.certificates.authority import create_bundle

__all__ = ["StandInNode", "stand_in_node"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _ApiSecrets:
    """The local kubelet's store interface, served from the API server's Secrets (a kubelet's source)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.not_found: list[str] = []

    def get(self, namespace: str, name: str) -> dict[str, bytes]:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Secret

        try:
            secret = self._client.get(Secret, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                self.not_found.append(name)
                raise StoredSecretNotFoundError(f'secret "{name}" not found') from None
            raise
        return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}


class _Running:
    """One pod's process and files."""

    def __init__(self, root: Path, pod: dict[str, Any]) -> None:
        self.root = root
        self.pod = pod  # as first seen bound to the Node
        self.log = root.parent / f"{root.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.done = threading.Event()


class StandInNode:
    """A Node named ``name`` whose kubelet this object plays (see the module docstring)."""

    def __init__(self, client: Any, name: str, workdir: Path, state: Path, *, path_prefix: str) -> None:
        self.client, self.name, self.workdir, self.state = client, name, workdir, state
        self.path_prefix = path_prefix
        # What the platform gives every task pod besides its secrets (a cloud identity for the data
        # prefix, as IRSA or workload identity would): the tests set it.
        self.environment: dict[str, str] = {}
        self.pods: dict[str, _Running] = {}  # by "namespace/name"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None

    # -- the Node ------------------------------------------------------------------------------

    def start(self) -> None:
        self._serve_logs()
        self._register()
        threading.Thread(target=self._watch, name="stand-in-kubelet", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            running = list(self.pods.values())
        for pod in running:
            if pod.proc is not None and pod.proc.poll() is None:
                os.killpg(pod.proc.pid, signal.SIGKILL)
        if self._server is not None:
            self._server.shutdown()

    def _register(self) -> None:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Node
        from lightkube.types import PatchType

        assert self._server is not None
        self.client.create(
            Node(metadata=ObjectMeta(name=self.name, labels={"kubernetes.io/hostname": self.name}))
        )
        resources = {"cpu": "8", "memory": "16Gi", "pods": "110"}
        status = {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "stand-in kubelet",
                    "lastHeartbeatTime": _now(),
                    "lastTransitionTime": _now(),
                }
            ],
            # InternalIP only: the API server reaches the "kubelet" at that address.
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "capacity": resources,
            "allocatable": resources,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self._server.server_address[1]}},
        }
        self.client.patch(Node.Status, self.name, {"status": status}, patch_type=PatchType.MERGE)
        # The API server taints a new Node not-ready; the controller-manager's node lifecycle
        # controller (absent here) lifts it once the Node reports Ready. We do it in its stead.
        self.client.patch(Node, self.name, {"spec": {"taints": None}}, patch_type=PatchType.MERGE)

    # -- the pods ------------------------------------------------------------------------------

    def _watch(self) -> None:
        try:
            self._watch_pods()
        except Exception:
            if not self._stop.is_set():  # the API server going away at the end is expected
                raise

    def _watch_pods(self) -> None:
        from lightkube.resources.core_v1 import Pod

        for _kind, obj in self.client.watch(Pod, namespace="*", fields={"spec.nodeName": self.name}):
            if self._stop.is_set():
                return
            pod = obj.to_dict()
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            if pod["metadata"].get("deletionTimestamp"):
                threading.Thread(target=self._remove, args=(pod, key), daemon=True).start()
                continue
            if RUN_LABEL not in (pod["metadata"].get("labels") or {}):
                continue
            with self._lock:
                if key in self.pods:
                    continue
                self.pods[key] = _Running(self.state / pod["metadata"]["uid"], pod)
            threading.Thread(target=self._run, args=(pod, self.pods[key]), daemon=True).start()

    def _set_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Pod
        from lightkube.types import PatchType

        meta = pod["metadata"]
        with contextlib.suppress(ApiError):  # a pod deleted meanwhile: nothing to report to
            self.client.patch(
                Pod.Status,
                meta["name"],
                {"status": status},
                namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )

    def _container_status(self, pod: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        container = pod["spec"]["containers"][0]
        running = "running" in state
        return {
            "name": container["name"],
            "image": container["image"],
            "imageID": "",
            "ready": running,
            "started": running,
            "restartCount": 0,
            "state": state,
        }

    def _run(self, pod: dict[str, Any], running: _Running) -> None:
        secrets = _ApiSecrets(self.client)
        try:
            materialized = materialize_pod(_without_token_volume(pod), root=running.root, store=secrets)
        except TaskExecutionError as exc:
            # A kubelet's words for a missing Secret; other refusals keep the local kubelet's.
            message = f'secret "{secrets.not_found[0]}" not found' if secrets.not_found else str(exc)
            waiting = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
            self._set_status(
                pod, {"phase": "Pending", "containerStatuses": [self._container_status(pod, waiting)]}
            )
            running.done.set()
            return
        with materialized:
            message_file = running.root / "termination-log"
            message_file.touch()
            command = [
                str(message_file) if part == TERMINATION_PATH else part for part in materialized.command
            ]
            env = {**scrub_environ(os.environ), **self.environment, **materialized.env}
            env["PATH"] = f"{self.path_prefix}{os.pathsep}{env.get('PATH', '')}"
            started = _now()
            with open(running.log, "wb") as log:
                running.proc = subprocess.Popen(
                    command,
                    cwd=self.workdir,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            state = {"running": {"startedAt": started}}
            self._set_status(
                pod, {"phase": "Running", "containerStatuses": [self._container_status(pod, state)]}
            )
            code = running.proc.wait()
            message = message_file.read_bytes()[:MESSAGE_LIMIT].decode("utf-8", "replace")
        ended = {
            "exitCode": code if code >= 0 else 128 - code,
            "reason": "Completed" if code == 0 else "Error",
            "message": message,
            "startedAt": started,
            "finishedAt": _now(),
        }
        phase = "Succeeded" if code == 0 else "Failed"
        self._set_status(
            pod, {"phase": phase, "containerStatuses": [self._container_status(pod, {"terminated": ended})]}
        )
        running.done.set()

    def _remove(self, pod: dict[str, Any], key: str) -> None:
        from lightkube import ApiError
        from lightkube.resources.core_v1 import Pod

        with self._lock:
            running = self.pods.get(key)
        if running is not None and running.proc is not None and running.proc.poll() is None:
            os.killpg(running.proc.pid, signal.SIGTERM)
            running.done.wait(10)
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            self.client.delete(Pod, meta["name"], namespace=meta["namespace"], grace_period=0)
        if running is not None and running.root.exists():
            remove_tree(running.root)

    # -- logs ----------------------------------------------------------------------------------

    def _serve_logs(self) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        bundle = create_bundle(dns_names=["localhost"], ip_addresses=["127.0.0.1"], validity_days=1, now=now)
        (self.state / "kubelet.crt").write_bytes(bundle.tls_cert)
        (self.state / "kubelet.key").write_bytes(bundle.tls_key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.state / "kubelet.crt", self.state / "kubelet.key")
        node = self

        class Logs(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) != 4 or parts[0] != "containerLogs":
                    self.send_error(404)
                    return
                with node._lock:
                    running = node.pods.get(f"{parts[1]}/{parts[2]}")
                if running is None or not running.log.exists():
                    self.send_error(404, "no such container")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                for chunk in _follow(running, follow="follow=true" in self.path):
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Logs)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


def _without_token_volume(pod: dict[str, Any]) -> dict[str, Any]:
    # The ServiceAccount admission plugin's projected token volume: a kubelet would ask the API
    # for a token; the tasks here do not talk to the API server, so it is left out.
    spec = dict(pod["spec"])
    token = {v["name"] for v in spec.get("volumes", []) if v["name"].startswith("kube-api-access-")}
    spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] not in token]
    spec["containers"] = [
        {**c, "volumeMounts": [m for m in c.get("volumeMounts", []) if m["name"] not in token]}
        for c in spec["containers"]
    ]
    return {**pod, "spec": spec}


def _follow(running: _Running, *, follow: bool) -> Iterator[bytes]:
    with open(running.log, "rb") as log:
        while True:
            chunk = log.read(65536)
            if chunk:
                yield chunk
                continue
            if not follow or running.done.is_set():
                yield log.read()  # what the process wrote before it ended and we looked
                return
            time.sleep(0.05)


@contextlib.contextmanager
def stand_in_node(
    client: Any, name: str, workdir: Path, state: Path, *, path_prefix: str
) -> Iterator[StandInNode]:
    """Register the Node and play its kubelet until the block ends."""
    node = StandInNode(client, name, workdir, state, path_prefix=path_prefix)
    node.start()
    try:
        yield node
    finally:
        node.stop()
