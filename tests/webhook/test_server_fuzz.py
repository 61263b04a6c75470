"""Fuzz of the real server over TLS: generated and mutated reviews over a few keep-alive connections.

10,000 cases by default, 100,000 with ``TASKSECRETS_FUZZ_FULL=1``; the seed is printed and can be set
with ``TASKSECRETS_FUZZ_SEED``, and a failure names the case index (``fuzzgen.make_case(seed, index)``
rebuilds its bytes). Every answer must come (no hang), must not be a 5xx, and must be either a valid
AdmissionReview (apiVersion and uid echoed, ``allowed`` a bool) or a documented 400 ``{"error": ...}``.
The server's memory stays bounded and it still serves at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fuzzgen import Case, make_case
from hostile import MemoryWatch, normal_review
from serverproc import ServerProcess, request, start_server

from tasksecrets.admission.reviews import REVIEW_VERSIONS

SEED = int(os.environ.get("TASKSECRETS_FUZZ_SEED", "20261202"))
COUNT = 100_000 if os.environ.get("TASKSECRETS_FUZZ_FULL") == "1" else 10_000
CONNECTIONS = 4
# The answer memo keeps up to 32 MiB per worker (docs/webhook.md); the rest is headroom for the
# reviews being read and answered. Over 100,000 cases the memo is full and turning over: the objects
# Python holds stay near 36 MiB, the process's RSS levels off near 115 MiB above its start (what the
# allocator keeps of freed memory), so the long run gets a higher bound. Unbounded growth fails both:
# memo keys that kept orjson's buffers grew 148 MiB in 10,000 cases.
RSS_GROWTH_LIMIT_MIB = 160 if COUNT > 10_000 else 64
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory.mktemp("fuzz"))
    yield proc
    assert proc.stop() == 0, proc.log_text()
    assert "Traceback" not in proc.log_text()
    assert "internal error" not in proc.log_text()


def check_answer(case: Case, status: int, body: bytes) -> str | None:
    """What is wrong with the answer to ``case``, or None."""
    try:
        answer = json.loads(body)
    except ValueError:
        return f"status {status}, body not JSON: {body[:120]!r}"
    if status == 400:
        ok = isinstance(answer, dict) and isinstance(answer.get("error"), str) and set(answer) == {"error"}
        return None if ok else f"400 without an error message: {body[:200]!r}"
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    response = answer.get("response") if isinstance(answer, dict) else None
    if answer.get("kind") != "AdmissionReview" or answer.get("apiVersion") not in REVIEW_VERSIONS:
        return f"not an AdmissionReview: {body[:200]!r}"
    if not isinstance(response, dict) or not isinstance(response.get("allowed"), bool):
        return f"no response.allowed: {body[:200]!r}"
    if not isinstance(response.get("uid"), str) or not response["uid"]:
        return f"no uid: {body[:200]!r}"
    if case.uid is not None and response["uid"] != case.uid:
        return f"uid {response['uid'][:40]!r} instead of {case.uid[:40]!r}"
    if case.api_version is not None and answer["apiVersion"] != case.api_version:
        return f"apiVersion {answer['apiVersion']!r} instead of {case.api_version!r}"
    return None


def run_connection(
    server: ServerProcess, indexes: range, problems: list[str], counts: dict[Any, int]
) -> None:
    """Send the cases of ``indexes`` on one keep-alive connection (a new one when the server closes it)."""
    context = server.context()
    conn: http.client.HTTPSConnection | None = None
    for index in indexes:
        case = make_case(SEED, index)
        if conn is None:
            conn = http.client.HTTPSConnection("localhost", server.port, context=context, timeout=60)
        try:
            conn.request("POST", "/mutate--v1-pod", body=case.body, headers=JSON)
            response = conn.getresponse()
            status, body = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:  # a hang is a timeout: it lands here too
            problems.append(f"case {index} {case.mutations}: no answer: {type(exc).__name__}: {exc}")
            conn.close()
            conn = None
            continue
        counts[status] = counts.get(status, 0) + 1
        problem = check_answer(case, status, body)
        if problem is not None:
            problems.append(f"case {index} {case.mutations}: {problem}")
        if response.will_close:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def test_fuzzed_reviews_get_valid_answers(server: ServerProcess) -> None:
    print(f"fuzz: seed {SEED}, {COUNT} cases over {CONNECTIONS} connections")
    watch = MemoryWatch(server.proc.pid)
    problems: list[str] = []
    counts: dict[Any, int] = {}
    threads = [
        threading.Thread(
            target=run_connection, args=(server, range(i, COUNT, CONNECTIONS), problems, counts), daemon=True
        )
        for i in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"fuzz: answers by status {sorted(counts.items())}, RSS growth {watch.growth_mib():.1f} MiB")
    assert not problems, f"seed {SEED}: {len(problems)} problems:\n" + "\n".join(problems[:20])
    assert sum(counts.values()) == COUNT
    assert counts.get(200, 0) > COUNT // 4  # the mutations leave most reviews readable: answers were checked
    assert watch.growth_mib() < RSS_GROWTH_LIMIT_MIB
    status, body = request(server.port, server.context(), body=normal_review(0), headers=JSON)
    assert status == 200 and json.loads(body)["response"]["allowed"] is True
