"""Compressed transfer syntaxes are accepted, stored as received and decodable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import decoders
from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, RLELossless
from sqlalchemy import select

from strokealert.db.models.ingest import Instance

from .conftest import dataset_bytes, run_cli, storescu, write_series


@pytest.mark.parametrize("decoder", [
    "RLELosslessDecoder", "JPEGLosslessDecoder", "JPEGLosslessSV1Decoder", "JPEGLSLosslessDecoder",
    "JPEG2000LosslessDecoder", "HTJ2KLosslessDecoder", "HTJ2KLosslessRPCLDecoder"])
def test_lossless_decoders_installed(decoder: str) -> None:
    assert getattr(decoders, decoder).is_available


def _compress(tool: str, sources: list[Path], out_dir: Path, *args: str) -> list[Path]:
    out_dir.mkdir(parents=True)
    paths = []
    for source in sources:
        target = out_dir / source.name
        subprocess.run([tool, *args, str(source), str(target)], check=True, capture_output=True)
        paths.append(target)
    return paths


@pytest.mark.parametrize(("tool", "proposal", "syntax"), [
    ("dcmcjpls", "-xt", JPEGLSLossless),
    ("dcmcrle", "-xr", RLELossless),
    ("dcmcjpeg", "-xs", JPEGLosslessSV1),
])
def test_compressed_series_stored_and_decodable(make_service, tmp_path: Path, tool: str,
                                                proposal: str, syntax: str) -> None:
    running = make_service()
    originals = write_series(tmp_path / "native", 4)
    compressed = _compress(tool, originals, tmp_path / "compressed")
    result = storescu(running.port, tmp_path / "compressed", options=(proposal,))
    assert result.returncode == 0, result.stderr
    running.settle()
    with running.service.factory() as session:
        rows = list(session.scalars(select(Instance)))
    assert len(rows) == 4
    by_uid = {pydicom.dcmread(p).SOPInstanceUID: p for p in originals}
    for row in rows:
        assert row.transfer_syntax_uid == syntax
        stored = pydicom.dcmread(row.path)
        assert stored.file_meta.TransferSyntaxUID == syntax
        assert dataset_bytes(Path(row.path)) == dataset_bytes(
            tmp_path / "compressed" / by_uid[row.sop_instance_uid].name)  # stored as received
        expected = pydicom.dcmread(by_uid[row.sop_instance_uid]).pixel_array
        np.testing.assert_array_equal(stored.pixel_array, expected)
    assert len(compressed) == 4


def test_strokealert_send_jpeg2000(make_service, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`strokealert send` proposes each file's own syntax (JPEG 2000 here) and reports counts."""
    running = make_service()
    originals = write_series(tmp_path / "native", 3)
    j2k_dir = tmp_path / "j2k"
    j2k_dir.mkdir()
    for path in originals:
        ds = pydicom.dcmread(path)
        ds.compress(JPEG2000Lossless)
        ds.save_as(j2k_dir / path.name)
    (j2k_dir / "notes.txt").write_text("not DICOM")
    status = run_cli(monkeypatch, "send", str(j2k_dir), "--host", "127.0.0.1",
                     "--port", str(running.port), "--aet", "CT1")
    assert status == 0
    assert "sent 3, failed 0, not DICOM 1" in capsys.readouterr().out
    running.settle()
    with running.service.factory() as session:
        rows = list(session.scalars(select(Instance)))
    assert {r.transfer_syntax_uid for r in rows} == {JPEG2000Lossless}
    for row, original in zip(sorted(rows, key=lambda r: r.instance_number or 0), originals,
                             strict=True):
        np.testing.assert_array_equal(pydicom.dcmread(row.path).pixel_array,
                                      pydicom.dcmread(original).pixel_array)
