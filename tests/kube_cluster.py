"""A Kubernetes cluster for ``run --cluster`` tests: the real control plane, kube-scheduler, our webhook,
and one Node whose kubelet is the stand-in of tests/stand_ins/node_kubelet.py.

Its own control plane, apart from the session's ``control_plane``: a Node there would have the
scheduler bind every pod the other tests create.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controlplane import REPO, ControlPlane, start_control_plane
from stand_ins.node_kubelet import StandInNode, stand_in_node
from webhook_in_cluster import WebhookInCluster, start_registered_webhook

__all__ = ["NODE_NAME", "KubeCluster", "kube_cluster"]

NODE_NAME = "stand-in-node"


@dataclass(frozen=True)
class KubeCluster:
    plane: ControlPlane
    webhook: WebhookInCluster
    node: StandInNode
    client: Any


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    from lightkube import Client, KubeConfig

    plane = start_control_plane(tmp_path_factory.mktemp("cluster-plane"))
    try:
        plane.start_scheduler()
        with start_registered_webhook(plane, tmp_path_factory.mktemp("cluster-webhook")) as webhook:
            client = Client(config=KubeConfig.from_file(plane.kubeconfig).get(), trust_env=False)
            state = tmp_path_factory.mktemp("stand-in-node")
            # The "image" is this checkout, run with this interpreter's venv (its python first on PATH).
            path = os.path.dirname(sys.executable)
            with stand_in_node(client, NODE_NAME, REPO, Path(state), path_prefix=path) as node:
                yield KubeCluster(plane=plane, webhook=webhook, node=node, client=client)
    finally:
        plane.stop()
