"""The real server under hostile connections: endless headers, slowloris, stalled bodies.

Each attack runs against ``tasksecrets webhook serve`` over TLS on 127.0.0.1 while well-formed
reviews are sent on new connections. The server must end every hostile connection (by a status
or by closing it), keep its memory growth (the kernel's high-water mark of its RSS) under 20 MiB,
and answer every normal review. Timeouts are configured small so that each test takes seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from hostile import HEAD, MemoryWatch, NormalTraffic, Outcome, open_tls, read_answer, send_until_closed
from serverproc import ServerProcess, start_server

RSS_GROWTH_LIMIT_MIB = 20
MiB = 1024 * 1024


def run_attack(
    server: ServerProcess,
    attack: Callable[[], Coroutine[Any, Any, list[Outcome]]],
    *,
    name: str,
    statuses: set[int | None],
) -> list[Outcome]:
    """Run ``attack`` while normal reviews are sent; every hostile connection ended by the server with
    one of ``statuses`` (None: closed without one), memory bounded, every normal review answered."""
    watch = MemoryWatch(server.proc.pid)
    with NormalTraffic(server) as normal:
        outcomes = asyncio.run(attack())
    seen = {o.status for o in outcomes}
    print(f"{name}: {len(outcomes)} connections, statuses {seen}, RSS growth {watch.growth_mib():.1f} MiB")
    assert all(o.closed for o in outcomes)
    assert seen <= statuses, seen
    assert watch.growth_mib() < RSS_GROWTH_LIMIT_MIB
    normal.check()
    return outcomes


def serve(tmp_path_factory: pytest.TempPathFactory, name: str, http: str) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp(name), extra_config="  http:\n" + http)
    yield server
    assert server.stop() == 0, server.log_text()
    assert "Traceback" not in server.log_text()


@pytest.fixture
def header_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serve(tmp_path_factory, "headers", "    headerTimeoutSeconds: 30\n")


@pytest.fixture
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serve(tmp_path_factory, "slowloris", "    headerTimeoutSeconds: 3\n    maxConnections: 100\n")


@pytest.fixture
def body_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serve(tmp_path_factory, "bodies", "    bodyTimeoutSeconds: 3\n")


def test_endless_headers_are_cut_off(header_server: ServerProcess) -> None:
    total = 128 * MiB
    chunk = b"a" * (64 * 1024)

    async def attack() -> list[Outcome]:
        reader, writer = await open_tls(header_server)
        sent = 0

        def chunks() -> bytes | None:
            nonlocal sent
            if sent == 0:
                sent = 1
                return HEAD + b"X-Big: "
            sent += len(chunk)
            return chunk if sent <= total else None

        return [await send_until_closed(writer, reader, chunks)]

    # The answer is 431, unless the reset of a connection dropped with unread bytes overtakes it.
    [outcome] = run_attack(header_server, attack, name="endless headers", statuses={431, None})
    assert outcome.sent < total


def test_slowloris_connections_are_cut_off(slow_server: ServerProcess) -> None:
    count = 1000

    async def one() -> Outcome:
        reader, writer = await open_tls(slow_server)
        outcome = Outcome()
        answer = asyncio.ensure_future(read_answer(reader, outcome))
        head = HEAD + b"X-Slow: " + b"s" * 1000  # at a byte a second, far longer than any timeout
        for index in range(len(head)):
            if answer.done():
                break
            writer.write(head[index : index + 1])
            outcome.sent += 1
            await asyncio.wait([answer], timeout=1.0)
        await asyncio.wait_for(answer, timeout=60)
        writer.close()
        return outcome

    async def attack() -> list[Outcome]:
        # Open in waves so that the client's own handshakes do not starve the normal reviews' client.
        tasks = []
        for _wave in range(0, count, 100):
            tasks += [asyncio.ensure_future(one()) for _ in range(100)]
            await asyncio.sleep(0.2)
        return list(await asyncio.gather(*tasks))

    run_attack(slow_server, attack, name="slowloris", statuses={408, None})


def test_stalled_bodies_are_cut_off(body_server: ServerProcess) -> None:
    count, length = 30, 7 * MiB
    part = b" " * (256 * 1024)

    async def one() -> Outcome:
        reader, writer = await open_tls(body_server)
        sent = -1

        def chunks() -> bytes | None:
            nonlocal sent
            if sent < 0:
                sent = 0
                return HEAD + f"Content-Length: {length}\r\n\r\n".encode()
            if sent >= length - MiB // 2:
                return None  # most of it sent: stall
            sent += len(part)
            return part

        return await send_until_closed(writer, reader, chunks)

    async def attack() -> list[Outcome]:
        return list(await asyncio.gather(*(one() for _ in range(count))))

    run_attack(body_server, attack, name="stalled bodies", statuses={408, None})


def test_handshakes_never_finished_are_cut_off(slow_server: ServerProcess) -> None:
    # TCP connections that never send a ClientHello, or only part of one: before the handshake the
    # connection is the event loop's, which would hold it for 60 s; ours ends it at the header timeout.
    count = 300

    async def one(partial: bool) -> Outcome:
        reader, writer = await asyncio.open_connection("127.0.0.1", slow_server.port)
        outcome = Outcome()
        if partial:
            writer.write(b"\x16\x03\x01\x02")  # the start of a TLS record header
            outcome.sent = 4
        try:
            outcome.closed = await asyncio.wait_for(reader.read(1), timeout=30) == b""
        except ConnectionResetError:
            outcome.closed = True
        writer.close()
        return outcome

    async def attack() -> list[Outcome]:
        return list(await asyncio.gather(*(one(i % 2 == 1) for i in range(count))))

    run_attack(slow_server, attack, name="unfinished handshakes", statuses={None})
