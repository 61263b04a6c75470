"""Our webhook deployed into the real control plane of tests/controlplane.py and registered there.

:func:`apply_deploy` applies everything under ``deploy/webhook`` with server-side apply into one
namespace (a kustomize overlay sets it; the binding subjects follow). :func:`start_registered_webhook`
then does what the deploy's Job and Deployment do, as processes on this machine because no kubelet
runs here: ``webhook init-certs`` with a token of the certificate ServiceAccount (the Secret is
created for real, ``localCert`` also writes ``certDir``), then ``webhook serve`` with a token of the
server's ServiceAccount, which registers the MutatingWebhookConfiguration. Pods cannot reach a
Service here, so ``webhook.url`` points the registration at ``https://127.0.0.1:<port>``.

The fixture ``webhook_in_cluster`` gives the session one such webhook (the deploy's ClusterRoles are
cluster-wide, so there is one deploy per control plane).
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane import REPO, ControlPlane, die_with_us
from services import free_port

__all__ = ["WebhookInCluster", "apply_deploy", "start_registered_webhook", "webhook_in_cluster"]

DEPLOY_DIR = REPO / "deploy" / "webhook"
WEBHOOK_NAMESPACE = "tasksecrets-system"
# The deploy's names (deploy/webhook/*.yaml): the two ServiceAccounts and the objects they may touch.
CERTS_ACCOUNT = "tasksecrets-webhook-certs"
SERVER_ACCOUNT = "tasksecrets-webhook"
SERVICE_NAME = "flyte-pod-webhook"
# A namespace labelled so is left alone by the registration (its namespaceSelector).
SKIP_LABEL = "tasksecrets.test/webhook"
READY_SECONDS = 60.0


def apply_deploy(plane: ControlPlane, namespace: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Server-side apply of ``deploy/webhook`` into ``namespace``; the caller checks the result."""
    workdir.mkdir(parents=True, exist_ok=True)
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": [os.path.relpath(DEPLOY_DIR, workdir)],
    }
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return plane.kubectl(
        "apply", "--server-side", "--field-manager=tasksecrets-tests", "-k", str(workdir), check=False
    )


def webhook_config(*, cert_dir: Path, port: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The deploy's ConfigMap settings, with the paths and URL of this machine."""
    configmap = yaml.safe_load((DEPLOY_DIR / "configmap.yaml").read_text(encoding="utf-8"))
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    config["webhook"].update(
        certDir=str(cert_dir),
        localCert=True,
        listenPort=port,
        url=f"https://127.0.0.1:{port}",
        namespaceSelector={"matchExpressions": [{"key": SKIP_LABEL, "operator": "NotIn", "values": ["off"]}]},
        **(extra or {}),
    )
    return dict(config)


@dataclass
class WebhookInCluster:
    """Our webhook, registered in ``plane``; ``stop()``/``start()`` take it away and bring it back."""

    plane: ControlPlane
    namespace: str
    config_file: Path
    cert_dir: Path
    port: int
    certs_kubeconfig: Path
    server_kubeconfig: Path
    log: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def env(self, kubeconfig: Path) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": self.namespace}

    def cli(self, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``tasksecrets ARGS --config <ours>`` as one of the deploy's ServiceAccounts (certs by default)."""
        return subprocess.run(
            [sys.executable, "-m", "tasksecrets", *args, "--config", str(self.config_file)],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env(kubeconfig or self.certs_kubeconfig),
            check=False,
        )

    def start(self) -> None:
        argv = [sys.executable, "-m", "tasksecrets", "webhook", "serve", "--config", str(self.config_file)]
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                [*argv, "--host", "127.0.0.1"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(self.server_kubeconfig),
                preexec_fn=die_with_us,
            )
        self._wait_ready()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_dir / "ca.crt"))

    def _wait_ready(self) -> None:
        # /readyz turns 200 once the registration is written: the API server calls us from then on.
        deadline = time.monotonic() + READY_SECONDS
        url = f"https://127.0.0.1:{self.port}/readyz"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"webhook serve exited {self._proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(url, context=self.client_context(), timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"webhook serve not ready after {READY_SECONDS:.0f} s:\n{self.log.read_text()[-3000:]}"
        )


@contextlib.contextmanager
def start_registered_webhook(
    plane: ControlPlane, workdir: Path, *, namespace: str = WEBHOOK_NAMESPACE
) -> Iterator[WebhookInCluster]:
    """Deploy, init-certs and serve our webhook in ``plane``; stop the server at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    plane.create_namespace(namespace, labels={SKIP_LABEL: "off"})
    applied = apply_deploy(plane, namespace, workdir / "overlay")
    if applied.returncode != 0:
        raise RuntimeError(f"server-side apply of deploy/webhook failed: {applied.stderr}")
    port = free_port()
    config_file = workdir / "config.yaml"
    config_file.write_text(
        json.dumps(webhook_config(cert_dir=workdir / "certs", port=port)), encoding="utf-8"
    )
    webhook = WebhookInCluster(
        plane=plane,
        namespace=namespace,
        config_file=config_file,
        cert_dir=workdir / "certs",
        port=port,
        certs_kubeconfig=plane.token_kubeconfig(
            plane.service_account_token(namespace, CERTS_ACCOUNT), "certs"
        ),
        server_kubeconfig=plane.token_kubeconfig(
            plane.service_account_token(namespace, SERVER_ACCOUNT), "server"
        ),
        log=workdir / "webhook.log",
    )
    made = webhook.cli("webhook", "init-certs")
    if made.returncode != 0:
        raise RuntimeError(f"webhook init-certs failed: {made.stderr}")
    webhook.start()
    try:
        yield webhook
    finally:
        webhook.stop()


@pytest.fixture(scope="session")
def webhook_in_cluster(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookInCluster]:
    """The session's webhook, deployed and registered in the session's control plane."""
    with start_registered_webhook(control_plane, tmp_path_factory.mktemp("webhook-in-cluster")) as webhook:
        yield webhook
