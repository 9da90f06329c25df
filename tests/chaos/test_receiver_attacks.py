"""Issue 14, receiver rows, against a real ``strokealert serve`` on loopback: huge PDU headers,
a flood of slow partial PDUs, an idle TCP peer on the TLS port, 50 concurrent associations."""

from __future__ import annotations

import socket
import ssl
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from .receiver_helpers import SCANNERS, Service, closed_by_peer, echo, serve

GIB = 1 << 30
A_ABORT = 0x07
FLOOD_HOST = ("127.0.0.2", 0)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with serve(tmp_path_factory.mktemp("chaos-receiver"),
               dicom_max_associations_per_aet="20") as running:
        yield running


def _pdu_header(pdu_type: int, length: int) -> bytes:
    return bytes([pdu_type, 0]) + length.to_bytes(4, "big")


def test_huge_pdu_headers_abort_with_bounded_memory(service: Service) -> None:
    echo(service.port)  # warm: the receiver's threads and buffers exist
    before = service.receiver_rss_mb()
    for declared in (GIB, 4 * GIB - 1):  # before any association: an A-ASSOCIATE-RQ header
        with socket.create_connection(("127.0.0.1", service.port)) as sock:
            sock.sendall(_pdu_header(0x01, declared) + b"\0" * 65536)
            answer = closed_by_peer(sock, 10)
        assert answer is not None and answer[:1] == bytes([A_ABORT]), answer
    ae = AE(ae_title="SCANNER")  # after the association: a P-DATA above the negotiated 256 KiB
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", service.port, ae_title="STROKEALERT")
    assert assoc.is_established
    assert assoc.acceptor.maximum_length == 262144
    assert assoc.dul.socket is not None and assoc.dul.socket.socket is not None
    assoc.dul.socket.socket.sendall(_pdu_header(0x04, 4 * GIB - 1) + b"\0" * 65536)
    deadline = time.monotonic() + 10
    while not assoc.is_aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted
    after = service.receiver_rss_mb()
    print(f"\nreceiver RSS {before:.0f} MB before, {after:.0f} MB after 1 GiB and 4 GiB PDU "
          f"headers (pre- and post-association): A-ABORT each time")
    assert after - before < 64
    assert echo(service.port) < 10  # and it still serves


class SlowFlood:
    """Keeps ``size`` connections open from another host (127.0.0.2) that each sent 8 bytes of
    an A-ASSOCIATE-RQ and stopped, opening a new one whenever the receiver drops one."""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.closed_by_receiver = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), source_address=FLOOD_HOST)
        sock.sendall(_pdu_header(0x01, 205) + b"\x00\x01")
        sock.setblocking(False)
        return sock

    def _run(self) -> None:
        socks = [self._open() for _ in range(self.size)]
        while not self._stop.is_set():
            for index, sock in enumerate(socks):
                try:
                    if sock.recv(4096) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    continue
                except OSError:
                    sock.close()
                    self.closed_by_receiver += 1
                    socks[index] = self._open()
            time.sleep(0.05)
        for sock in socks:
            sock.close()

    def __enter__(self) -> SlowFlood:
        self._thread.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_scanner_echo_succeeds_during_slow_pdu_flood(service: Service) -> None:
    with SlowFlood(service.port, 100) as flood:
        latencies = []
        for _ in range(10):
            latencies.append(echo(service.port))
            time.sleep(0.2)
        time.sleep(4)  # past the 3-s ACSE timeout: nothing of the flood may linger
        churned = flood.closed_by_receiver
    print(f"\nscanner C-ECHO during a flood of 100 slow partial PDUs: median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          f"(10 of 10 succeeded); receiver dropped {churned} flood connections")
    assert churned >= 100  # every flood connection was closed (pool eviction or ACSE timeout)
    assert max(latencies) < 10
    log = service.log_path.read_text()
    assert log.count("pynetdicom.dul") < 20  # a count now and then, not a traceback each
    assert "DICOM connection read failures" in log


def test_silent_connection_closed_after_acse_timeout(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        started = time.monotonic()
        sock.sendall(b"\x01\x00")  # half a header, then nothing
        assert closed_by_peer(sock, 15) is not None
        waited = time.monotonic() - started
    print(f"\nsilent connection closed by the receiver after {waited:.1f} s (ACSE timeout 3 s)")
    assert 2 < waited < 10


def _hold_association(port: int, calling_aet: str, ready: threading.Barrier,
                      release: threading.Event) -> tuple[bool, int | None]:
    """Associate as ``calling_aet``, C-ECHO, wait for ``release``; (established, RJ diag)."""
    ae = AE(ae_title=calling_aet)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = 30
    assoc = ae.associate("127.0.0.1", port, ae_title="STROKEALERT")
    try:
        ready.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    if not assoc.is_established:
        rejection = assoc.acceptor.primitive
        return False, None if rejection is None else rejection.diagnostic
    ok = assoc.send_c_echo().Status == 0
    release.wait(timeout=60)
    assoc.release()
    return ok, None


def test_fifty_concurrent_associations_and_per_ae_cap(service: Service) -> None:
    callers = [aet for aet in SCANNERS[1:] for _ in range(10)]  # 5 scanners × 10
    callers += ["CT1"] * 11 + ["INTRUDER"]  # CT1 beyond its 20; a stranger
    ready, release = threading.Barrier(len(callers)), threading.Event()
    with ThreadPoolExecutor(len(callers)) as pool:
        futures = [pool.submit(_hold_association, service.port, aet, ready, release)
                   for aet in callers]
        time.sleep(2)
        during = echo(service.port)  # the 6th scanner still gets in
        release.set()
        results = [future.result(timeout=90) for future in futures]
    established = sum(ok for ok, _ in results[:50])
    ct1_extra = results[50:61]
    refused_ct1 = [diag for ok, diag in ct1_extra if not ok]
    print(f"\n50 concurrent associations from 5 AEs: {established} established; CT1 beyond its "
          f"cap of 20: {len(refused_ct1)} of 11 refused (local limit exceeded); SCANNER C-ECHO "
          f"meanwhile {during * 1000:.0f} ms")
    assert established == 50
    assert refused_ct1 == [0x02]  # exactly one over the cap: 10 + 10 admitted
    assert results[61] == (False, 0x03)  # calling AE not recognised


def test_tls_idle_connection_does_not_block_others(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    context.check_hostname = False
    with serve(tmp_path, dicom_tls_cert=str(cert), dicom_tls_key=str(key)) as running:
        idle = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(3)]
        time.sleep(0.5)
        latencies = [echo(running.port, tls_args=(context, None)) for _ in range(3)]
        closed = [closed_by_peer(sock, 10) is not None for sock in idle]
        for sock in idle:
            sock.close()
    print(f"\nTLS: 3 idle TCP connections open, TLS C-ECHO in "
          f"{max(latencies) * 1000:.0f} ms (max of 3); idle sockets closed by the ACSE "
          f"timeout: {sum(closed)} of 3")
    assert max(latencies) < 5
    assert all(closed)
