"""Bounded fuzzing (hypothesis) of the receiver's PDU reading and of ``read_header``: never a
crash other than the documented refusal (A-ABORT / closed connection, :class:`BadInstance`),
never more than bounded memory, and the receiver still serves afterwards."""

from __future__ import annotations

import errno
import io
import os
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.dsutils import decode, encode
from pynetdicom.sop_class import CTImageStorage, Verification

from strokealert.dicom.receiver import BadInstance, ReceivedIdentity, read_header

FUZZ = settings(max_examples=60, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
MEMORY_BOUND_BYTES = 16 * 1024 * 1024
SOP_UID = str(generate_uid())


def _pdu(pdu_type: int, declared: int, body: bytes) -> bytes:
    return bytes([pdu_type, 0]) + declared.to_bytes(4, "big") + body


pdu_streams = st.one_of(
    st.binary(max_size=512),
    st.builds(_pdu, st.integers(0, 9), st.integers(0, 2**32 - 1), st.binary(max_size=512)),
    st.builds(_pdu, st.just(0x01), st.sampled_from([68, 205, 65536, 65537, 2**30, 2**32 - 1]),
              st.binary(max_size=2048)),
)


def _echo(port: int) -> None:
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="STROKEALERT")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assoc.release()


ALONE_VARIABLE = "STROKEALERT_FUZZ_ALONE"


def _ran_alone(request: pytest.FixtureRequest) -> bool:
    """Run the requesting test again in a fresh interpreter, unless this is that run; True
    when it ran there and passed. The memory bounds are tracemalloc peaks, and tracemalloc
    counts every thread of the process: in a pytest-xdist worker, work another test left
    behind lifted them from about 6 MB to 19 MB."""
    if os.environ.get(ALONE_VARIABLE):
        return False
    alone = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"{__file__}::{request.node.name}"],
        env={**os.environ, ALONE_VARIABLE: "1"}, capture_output=True, text=True, timeout=300,
        check=False)
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-2000:]
    return True


def test_fuzzed_pdus_are_refused_within_bounded_memory(make_service, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    if _ran_alone(request):
        return
    running = make_service(dicom_acse_timeout_s=1.0)
    tracemalloc.start()
    try:
        @FUZZ
        @given(stream=pdu_streams)
        def send(stream: bytes) -> None:
            with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
                try:
                    sock.sendall(stream)
                    sock.shutdown(socket.SHUT_WR)
                    while sock.recv(4096):  # the receiver answers (RJ/abort) and closes
                        pass
                except (ConnectionResetError, BrokenPipeError):
                    pass
                except OSError as exc:  # the receiver closed first: nothing left to half-close
                    if exc.errno != errno.ENOTCONN:
                        raise

        send()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nPDU fuzz: peak traced allocation {peak / 1e6:.1f} MB")
    assert peak < MEMORY_BOUND_BYTES
    _echo(running.port)


def _valid_dataset(implicit: bool) -> bytes:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, SOP_UID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated, ds.SamplesPerPixel = 16, 1
    ds.PixelData = b"\0" * 32
    data = encode(ds, is_implicit_vr=implicit, is_little_endian=True)
    assert data is not None
    return data


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position:position + 4] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data[:draw(st.integers(0, len(data)))])


@pytest.mark.parametrize("transfer_syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_fuzzed_headers_give_identity_or_bad_instance(transfer_syntax: str,
                                                      request: pytest.FixtureRequest) -> None:
    if _ran_alone(request):
        return
    implicit = transfer_syntax == ImplicitVRLittleEndian
    valid = _valid_dataset(implicit)
    outcomes = {"identity": 0, "bad": 0, "undecodable": 0}
    tracemalloc.start()
    try:
        @FUZZ
        @given(stream=st.one_of(st.just(valid), mutated(valid), st.binary(max_size=256)))
        def check(stream: bytes) -> None:
            try:
                ds = decode(io.BytesIO(stream), implicit, True)
            except Exception:  # the handler answers this "cannot parse" (0xC210)
                outcomes["undecodable"] += 1
                return
            try:
                identity = read_header(ds, transfer_syntax, SOP_UID, CTImageStorage)
            except BadInstance as bad:
                assert 0xA700 <= bad.status <= 0xCFFF
                outcomes["bad"] += 1
            else:
                assert isinstance(identity, ReceivedIdentity)
                outcomes["identity"] += 1

        check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nread_header fuzz ({'implicit' if implicit else 'explicit'} VR): {outcomes}, "
          f"peak {peak / 1e6:.1f} MB")
    assert peak < MEMORY_BOUND_BYTES
    assert outcomes["bad"] > 0 and outcomes["identity"] > 0
