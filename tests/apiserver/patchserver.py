"""A second webhook for the tests only: an HTTPS server that answers every review with a fixed patch.

It shows the API server applies what a webhook answers and checks it: a patch that does not apply to
the pod makes the creation fail. It is registered as its own MutatingWebhookConfiguration, for pods
carrying :data:`LABEL`, so our webhook is not involved.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controlplane import ControlPlane
from tasksecrets.webhook.certificates.authority import create_bundle

__all__ = ["LABEL", "patching_webhook"]

LABEL = "tasksecrets.test/fixed-patch"


def _handler(patch: list[dict[str, Any]]) -> type[http.server.BaseHTTPRequestHandler]:
    encoded = base64.b64encode(json.dumps(patch).encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            response = {
                "uid": review["request"]["uid"],
                "allowed": True,
                "patchType": "JSONPatch",
                "patch": encoded,
            }
            body = json.dumps(
                {"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": response}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def patching_webhook(
    plane: ControlPlane, workdir: Path, patch: list[dict[str, Any]], name: str
) -> Iterator[None]:
    """Serve ``patch`` and register it for pods labelled :data:`LABEL` = ``name``; unregister at the end."""
    now = datetime.datetime.now(datetime.timezone.utc)
    bundle = create_bundle(dns_names=["localhost"], ip_addresses=["127.0.0.1"], validity_days=1, now=now)
    (workdir / "tls.crt").write_bytes(bundle.tls_cert)
    (workdir / "tls.key").write_bytes(bundle.tls_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "tls.crt", workdir / "tls.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(patch))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    registration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": f"tasksecrets-test-{name}"},
        "webhooks": [
            {
                "name": f"{name}.tasksecrets.test",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{server.server_address[1]}/",
                    "caBundle": base64.b64encode(bundle.ca_cert).decode(),
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
                "objectSelector": {"matchLabels": {LABEL: name}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    plane.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(registration))
    try:
        yield
    finally:
        plane.kubectl("delete", "mutatingwebhookconfiguration", registration["metadata"]["name"])
        server.shutdown()
        server.server_close()
