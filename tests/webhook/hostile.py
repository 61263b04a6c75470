"""Hostile clients for the real server, and the server's memory as the kernel reports it.

The clients are plain asyncio TLS connections (asyncio's own loop, not the server's uvloop) that send
what no well-behaved client sends: endless headers, headers a byte at a time, bodies that stop.
Each returns what the server did to it, so that a test can check the server ended it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serverproc import ServerProcess, client_context, make_pod, pod_review, request

from tasksecrets.sdk.secret import Secret

__all__ = [
    "HEAD",
    "MemoryWatch",
    "NormalTraffic",
    "Outcome",
    "open_tls",
    "read_answer",
    "rss_kib",
]

HEAD = b"POST /mutate--v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
MUTATE = "/mutate--v1-pod"


def _status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field_name} in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


class MemoryWatch:
    """The server's peak RSS from now on: the kernel's high-water mark, reset to the current RSS.

    Writing 5 to ``clear_refs`` resets ``VmHWM`` (Documentation/filesystems/proc.rst), so the peak is
    exact, not sampled.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.start_kib = rss_kib(pid)

    def growth_mib(self) -> float:
        return (_status_kib(self.pid, "VmHWM") - self.start_kib) / 1024


@functools.cache
def _context(ca_file: Path) -> ssl.SSLContext:
    # Made once: loading the system's trust store for each of a thousand connections takes seconds.
    return client_context([ca_file])


async def open_tls(server: ServerProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = _context(server.cert_dir / "ca.crt")
    return await asyncio.open_connection("127.0.0.1", server.port, ssl=context, server_hostname="localhost")


@dataclass
class Outcome:
    """What the server did to one hostile connection: the status it answered, or that it closed."""

    status: int | None = None
    closed: bool = False
    sent: int = 0


async def read_answer(reader: asyncio.StreamReader, outcome: Outcome) -> None:
    """Read until the server closes; note the status line if one came."""
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    outcome.closed = True
    if data.startswith(b"HTTP/1.1 "):
        outcome.status = int(data[9:12])


async def send_until_closed(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, chunks: Callable[[], bytes | None]
) -> Outcome:
    """Send ``chunks()`` until it returns None or the server ends the connection; then read its answer."""
    outcome = Outcome()
    answer = asyncio.ensure_future(read_answer(reader, outcome))
    try:
        while not answer.done() and (chunk := chunks()) is not None:
            writer.write(chunk)
            await asyncio.wait(
                [answer, asyncio.ensure_future(writer.drain())],
                timeout=60,
                return_when=asyncio.FIRST_COMPLETED,
            )
            outcome.sent += len(chunk)
    except (ConnectionError, ssl.SSLError, RuntimeError):
        pass
    await asyncio.wait_for(answer, timeout=120)
    writer.close()
    return outcome


def normal_review(index: int) -> bytes:
    pod = make_pod([Secret(group="db", key="password")], name=f"normal-{index}")
    return json.dumps(pod_review(pod, uid=f"uid-normal-{index}")).encode()


@dataclass
class NormalTraffic:
    """Well-formed reviews sent one after another, each on a new connection, while an attack runs."""

    server: ServerProcess
    minimum: int = 5  # sent at least, even when the attack ends sooner
    statuses: list[tuple[int, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> NormalTraffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        context = self.server.context()
        index = 0
        while not self._stop.is_set() or index < self.minimum:
            index += 1
            try:
                status, body = request(
                    self.server.port,
                    context,
                    body=normal_review(index),
                    headers={"Content-Type": "application/json"},
                )
                response = json.loads(body)["response"]
                self.statuses.append((status, f"{response['uid']} allowed={response['allowed']}"))
            except Exception as exc:  # any failure of a normal review is what the test looks for
                self.failures.append(f"review {index}: {type(exc).__name__}: {exc}")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=120)

    def check(self) -> None:
        """Every review got its answer: 200, allowed, its own uid; and there were some."""
        assert not self.failures, self.failures[:5]
        assert len(self.statuses) >= self.minimum, self.statuses
        bad = [s for s in self.statuses if s[0] != 200 or not s[1].endswith("allowed=True")]
        assert not bad, bad[:5]
