"""Certificate reload under load: the serving certificate is replaced twice while clients send
requests without pause; no request fails, and new connections get the new certificate.

The certificate directory is laid out as the kubelet mounts a Secret (``tls.crt -> ..data/tls.crt``,
``..data -> ..<timestamp>``): the first replacement swaps ``..data`` the way the kubelet does (a
renewal by the same CA), the second writes plain files over the links with ``write_cert_files`` (a new
CA, which the clients trust from the start, as an API server would after the caBundle update).
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import threading
import time
from pathlib import Path

from cryptography import x509
from serverproc import ServerProcess, client_context, make_pod, pod_review, start_server

from tasksecrets.sdk.secret import Secret
from tasksecrets.webhook.certificates.authority import (
    CertBundle,
    create_bundle,
    issue_serving_cert,
    read_cert_files,
    write_cert_files,
)

FILES = ("ca.crt", "tls.crt", "tls.key")
BODY = json.dumps(pod_review(make_pod([Secret(group="db", key="password")]))).encode()
REQUESTS_PER_CONNECTION = 20
WAIT_SECONDS = 60.0


def mount_like_kubelet(cert_dir: Path) -> None:
    """Turn plain files into the kubelet's layout of a mounted Secret."""
    publish(cert_dir, {name: (cert_dir / name).read_bytes() for name in FILES}, first=True)


def publish(cert_dir: Path, files: dict[str, bytes], *, first: bool = False) -> None:
    """Write a new timestamped directory and swap ``..data`` to it atomically, as the kubelet does."""
    stamp = cert_dir / f"..{time.time_ns()}"
    stamp.mkdir()
    for name, content in files.items():
        (stamp / name).write_bytes(content)
        if first:
            (cert_dir / name).unlink()
            (cert_dir / name).symlink_to(Path("..data") / name)
    tmp_link = cert_dir / "..data_tmp"
    tmp_link.symlink_to(stamp.name)
    os.replace(tmp_link, cert_dir / "..data")


class Load:
    """Client threads: each opens a connection, notes the peer certificate's serial, sends a batch."""

    def __init__(self, port: int, ca_files: list[Path], threads: int = 2) -> None:
        self.port = port
        self.context = client_context(ca_files)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.serials: list[list[int]] = [[] for _ in range(threads)]
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, index: int) -> None:
        while not self.stop.is_set():
            conn = http.client.HTTPSConnection("localhost", self.port, context=self.context, timeout=30)
            try:
                conn.connect()
                assert conn.sock is not None
                der = conn.sock.getpeercert(binary_form=True)
                assert der is not None
                self.serials[index].append(x509.load_der_x509_certificate(der).serial_number)
                for _ in range(REQUESTS_PER_CONNECTION):
                    conn.request(
                        "POST", "/mutate--v1-pod", body=BODY, headers={"Content-Type": "application/json"}
                    )
                    response = conn.getresponse()
                    answer = response.read()
                    if response.status != 200 or not json.loads(answer)["response"]["allowed"]:
                        raise AssertionError(f"HTTP {response.status}: {answer[:200]!r}")
                    with self.lock:
                        self.ok += 1
            except Exception as exc:
                with self.lock:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
            finally:
                conn.close()

    def wait(self, condition: str, check: object) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not check():  # type: ignore[operator]
            assert time.monotonic() < deadline, (
                f"timed out waiting for {condition}; failures: {self.failures[:3]}"
            )
            assert not self.failures, self.failures[:3]
            time.sleep(0.05)

    def seen(self, serial: int) -> bool:
        return any(serial in serials for serials in self.serials)


def serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def test_certificate_reload_under_load(tmp_path: Path) -> None:
    server: ServerProcess = start_server(tmp_path, prepare=mount_like_kubelet)
    try:
        first = read_cert_files(server.cert_dir)
        assert first is not None and first.ca_key is not None
        now = datetime.datetime.now(datetime.timezone.utc)
        names = ["localhost"]
        renewed_cert, renewed_key = issue_serving_cert(
            first.ca_cert,
            ca_key=first.ca_key,
            dns_names=names,
            ip_addresses=["127.0.0.1"],
            validity_days=30,
            now=now,
        )
        new_ca: CertBundle = create_bundle(
            dns_names=names, ip_addresses=["127.0.0.1"], validity_days=30, now=now
        )
        (tmp_path / "new-ca.crt").write_bytes(new_ca.ca_cert)
        serials = [serial_of(first.tls_cert), serial_of(renewed_cert), serial_of(new_ca.tls_cert)]

        load = Load(server.port, [server.cert_dir / "ca.crt", tmp_path / "new-ca.crt"])
        old_conn = http.client.HTTPSConnection("localhost", server.port, context=load.context, timeout=30)
        old_conn.connect()
        for thread in load.threads:
            thread.start()
        load.wait("the first requests", lambda: load.ok >= 50)

        publish(server.cert_dir, {"ca.crt": first.ca_cert, "tls.crt": renewed_cert, "tls.key": renewed_key})
        load.wait("a connection with the renewed certificate", lambda: load.seen(serials[1]))
        count = load.ok
        load.wait("more requests", lambda: load.ok >= count + 50)

        write_cert_files(server.cert_dir, new_ca, include_ca_key=False)
        load.wait("a connection with the new CA's certificate", lambda: load.seen(serials[2]))
        count = load.ok
        load.wait("more requests", lambda: load.ok >= count + 50)
        load.stop.set()
        for thread in load.threads:
            thread.join(timeout=WAIT_SECONDS)

        assert load.failures == []
        for per_thread in load.serials:
            # Connections opened later never go back to an older certificate.
            order = [serials.index(s) for s in per_thread]
            assert order == sorted(order), order
        # A connection opened before both swaps still works, with the certificate it started with.
        old_conn.request("POST", "/mutate--v1-pod", body=BODY, headers={"Content-Type": "application/json"})
        assert old_conn.getresponse().status == 200
        assert old_conn.sock is not None
        der = old_conn.sock.getpeercert(binary_form=True)
        assert der is not None and x509.load_der_x509_certificate(der).serial_number == serials[0]
        old_conn.close()
        assert server.log_text().count("serving certificate loaded") == 3
    finally:
        assert server.stop() == 0, server.log_text()


def test_a_pair_that_does_not_match_is_refused_and_the_old_one_stays(tmp_path: Path) -> None:
    from tasksecrets.webhook.certificates.reload import CertReloader

    now = datetime.datetime.now(datetime.timezone.utc)
    first = create_bundle(dns_names=["localhost"], validity_days=30, now=now)
    second = create_bundle(dns_names=["localhost"], validity_days=30, now=now)
    write_cert_files(tmp_path, first, include_ca_key=False)
    loaded: list[int] = []
    failures: list[str] = []
    reloader = CertReloader(
        tmp_path,
        on_reload=lambda cert: loaded.append(serial_of(cert)),
        on_failure=lambda: failures.append("x"),
    )
    assert reloader.serial == serial_of(first.tls_cert) and loaded == [reloader.serial]

    (tmp_path / "tls.key").write_bytes(second.tls_key)  # half-way through a non-atomic update
    assert reloader.check() is False and reloader.serial == serial_of(first.tls_cert)
    assert reloader.check() is False  # the same bad pair is not tried again until the files change
    assert failures == ["x"]

    (tmp_path / "tls.crt").write_bytes(second.tls_cert)
    assert reloader.check() is True and reloader.serial == serial_of(second.tls_cert)
    assert loaded == [serial_of(first.tls_cert), serial_of(second.tls_cert)]
    assert reloader.check() is False  # nothing changed since


def test_missing_certificate_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from tasksecrets.errors import ConfigError
    from tasksecrets.webhook.certificates.reload import CertReloader

    with pytest.raises(ConfigError, match="init-certs"):
        CertReloader(tmp_path)
