"""Malformed requests against the real server: each gets the right 4xx, or a denial with a reason,
and the server goes on serving. Requests go over raw TLS sockets where http.client would refuse to
send them (bad headers, oversized bodies the server stops reading)."""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from serverproc import ServerProcess, make_pod, pod_review, post_json, request, start_server

from tasksecrets.sdk.secret import Secret

MUTATE = "/mutate--v1-pod"
JSON = {"Content-Type": "application/json"}
FAKE_VALUE = "fake-bad-input-value-9c1e"
HEAD = f"POST {MUTATE} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory.mktemp("bad-input"), env={"FLYTE_SECRET_TEAM_TOKEN": FAKE_VALUE})
    yield proc
    assert proc.stop() == 0, proc.log_text()
    log = proc.log_text()
    assert FAKE_VALUE not in log
    assert "Traceback" not in log


def raw_exchange(server: ServerProcess, head: bytes, body_chunks: Sequence[bytes] = ()) -> tuple[int, bytes]:
    """Send raw bytes over TLS, tolerate the server closing early, read the status line and body."""
    context = server.context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        try:
            tls.sendall(head)
            for chunk in body_chunks:
                tls.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the server answered and closed before we finished: read what it said
        data = b""
        try:
            while chunk := tls.recv(65536):
                data += chunk
                if _complete(data):
                    break
        except (ConnectionResetError, ssl.SSLError):
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    assert match, data[:200]
    return int(match.group(1)), data.partition(b"\r\n\r\n")[2]


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?i)content-length: (\d+)", head)
    return length is not None and len(body) >= int(length.group(1))


def review_with(**request_fields: Any) -> bytes:
    review = pod_review(make_pod([Secret(group="g", key="k")]))
    review["request"].update(request_fields)
    return json.dumps(review).encode()


def review_with_annotation(value: Any) -> bytes:
    pod = make_pod()
    pod["metadata"]["labels"] = {"inject-flyte-secrets": "true"}
    pod["metadata"]["annotations"] = {"flyte.secrets/s0": value}
    return json.dumps(pod_review(pod)).encode()


def review_without(key: str) -> bytes:
    review = pod_review(make_pod())
    if key == "uid":
        del review["request"]["uid"]
    else:
        del review[key]
    return json.dumps(review).encode()


def review_with_pod(**changes: Any) -> bytes:
    pod = make_pod([Secret(group="g", key="k")])
    pod.update(changes)
    return json.dumps(pod_review(pod)).encode()


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes | None
    headers: dict[str, str]
    status: int
    method: str = "POST"
    path: str = MUTATE
    denied: str | None = None  # a denial (HTTP 200, allowed false): the reason must contain this


CASES = [
    Case("wrong content type", review_with(), {"Content-Type": "text/plain"}, 400),
    Case("no content type", review_with(), {}, 400),
    Case("json-patch content type", review_with(), {"Content-Type": "application/json-patch+json"}, 400),
    Case("form content type", b"a=b", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    Case("empty body", b"", JSON, 400),
    Case("blank body", b"  \n ", JSON, 400),
    Case("not json", b"hello", JSON, 400),
    Case("truncated json", review_with()[:-5], JSON, 400),
    Case("json array", b"[1, 2]", JSON, 400),
    Case("json string", b'"AdmissionReview"', JSON, 400),
    Case("json null", b"null", JSON, 400),
    Case("NaN", b'{"apiVersion": NaN}', JSON, 400),
    Case("no request", review_without("request"), JSON, 400),
    Case("no uid", review_without("uid"), JSON, 400),
    Case("uid a number", review_with(uid=42), JSON, 400),
    Case("lone surrogate uid", review_with(uid="\ud800"), JSON, 400),
    Case(
        "unknown apiVersion", review_with().replace(b"admission.k8s.io/v1", b"admission.k8s.io/v2"), JSON, 400
    ),
    Case("wrong kind", review_with().replace(b'"kind": "AdmissionReview"', b'"kind": "Pod"'), JSON, 400),
    Case("invalid utf-8", b'{"apiVersion": "\xff\xfe"}', JSON, 400),
    Case("deep nesting", b"[" * 200_000 + b"]" * 200_000, JSON, 400),
    Case(
        "deep nesting in the pod",
        review_with(object="DEEP").replace(b'"DEEP"', b"[" * 5000 + b"]" * 5000),
        JSON,
        400,
    ),
    Case(
        "not a pod: a Deployment",
        review_with(kind={"group": "apps", "version": "v1", "kind": "Deployment"}),
        JSON,
        200,
        denied="not a Pod",
    ),
    Case(
        "not a pod: resource",
        review_with(resource={"group": "", "version": "v1", "resource": "secrets"}),
        JSON,
        200,
        denied="not pods",
    ),
    Case("no object", review_with(object=None), JSON, 200, denied="no object"),
    Case("object a list", review_with(object=[1]), JSON, 200, denied="no object"),
    Case("broken base32", review_with_annotation("!!!not-base32!!!"), JSON, 200, denied="flyte.secrets/s0"),
    Case(
        "unknown text field",
        review_with_annotation("mjxwo3lvom5ceylcmmrau==="),
        JSON,
        200,
        denied="flyte.secrets/s0",
    ),
    Case("annotation not text", review_with_annotation(12), JSON, 200, denied="flyte.secrets/s0"),
    Case(
        "lone surrogate in an annotation",
        review_with_annotation("\ud800abc"),
        JSON,
        200,
        denied="flyte.secrets/s0",
    ),
    Case(
        "lone surrogate in an annotation key",
        review_with_pod(
            metadata={"name": "p", "namespace": "n", "annotations": {"flyte.secrets/s\udfff": "x"}}
        ),
        JSON,
        200,
    ),
    Case(
        "containers not a list", review_with_pod(spec={"containers": "main"}), JSON, 200, denied="containers"
    ),
    Case("GET on the webhook", None, {}, 405, method="GET"),
    Case("PUT on the webhook", review_with(), JSON, 405, method="PUT"),
    Case("POST on healthz", b"{}", JSON, 405, path="/healthz"),
    Case("unknown path", review_with(), JSON, 404, path="/mutate"),
    Case(
        "path with a query is still the webhook",
        review_with(),
        {"Content-Type": "text/html"},
        400,
        path=MUTATE + "?x=1",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_request(server: ServerProcess, case: Case) -> None:
    status, body = request(
        server.port, server.context(), case.path, method=case.method, body=case.body, headers=case.headers
    )
    assert status == case.status, body[:300]
    if case.denied is not None:
        response = json.loads(body)["response"]
        assert response["allowed"] is False
        assert response["status"]["code"] == 400
        assert case.denied in response["status"]["message"]
    elif status >= 400:
        assert json.loads(body)["error"]  # a message saying what was wrong


def test_oversized_body_with_length_is_refused_unread(server: ServerProcess) -> None:
    size = 8 * 1024 * 1024
    head = f"{HEAD}Content-Length: {size}\r\n\r\n"
    status, body = raw_exchange(server, head.encode(), [b"{" + b" " * 65535])  # the rest is never sent
    assert status == 413 and b"7 MiB" in body


def test_oversized_chunked_body_is_cut_off(server: ServerProcess) -> None:
    head = f"{HEAD}Transfer-Encoding: chunked\r\n\r\n"
    piece = b" " * (1024 * 1024)
    chunks = [b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(9)] + [b"0\r\n\r\n"]
    status, body = raw_exchange(server, head.encode(), chunks)
    assert status == 413 and b"7 MiB" in body


def test_bad_content_length_is_refused(server: ServerProcess) -> None:
    head = f"{HEAD}Content-Length: abc\r\n\r\n"
    status, _ = raw_exchange(server, head.encode())
    assert status == 400


def test_garbage_instead_of_http_is_refused(server: ServerProcess) -> None:
    status, _ = raw_exchange(server, b"\x00\x01 definitely not HTTP\r\n\r\n")
    assert status == 400


def test_still_serving_and_counting_after_all_that(server: ServerProcess) -> None:
    for case in CASES[:5]:
        request(
            server.port, server.context(), case.path, method=case.method, body=case.body, headers=case.headers
        )
    status, answer = post_json(
        server.port, server.context(), pod_review(make_pod([Secret(group="team", key="token")]))
    )
    assert status == 200 and answer["response"]["allowed"] is True
    _, text = request(server.port, server.context(), "/metrics", method="GET")
    bad = re.search(
        r'^tasksecrets_webhook_requests_total\{outcome="bad_request"\} (\S+)$', text.decode(), re.M
    )
    denied = re.search(r'^tasksecrets_webhook_denials_total\{code="400"\} (\S+)$', text.decode(), re.M)
    assert bad and float(bad.group(1)) >= 5
    assert denied and float(denied.group(1)) >= 1
    assert server.proc.poll() is None
