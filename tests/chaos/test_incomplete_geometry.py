"""Slices with malformed geometry through ``strokealert analyze --json`` (issue 14).

A slice with ImagePositionPatient ``abcdef\\-115.0`` made ``analyze`` die with a traceback in
``dicom/classify.py``. Now such slices are excluded, counted and named, the result asks for a
manual review, and a series with nothing usable is a one-line input error (exit 2).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement

from strokealert.demo import CLI
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom

SMALL_CTP = {"matrix": 64, "slices": 4, "frames": 16, "interval_s": 2.0, "noise_hu": 5.0}


def set_raw(path: Path, keyword: str, text: str) -> None:
    """Write ``text`` as the element's raw value, bypassing pydicom's validation."""
    ds = pydicom.dcmread(path)
    tag = tag_for_keyword(keyword)
    value = text.encode() + (b" " if len(text) % 2 else b"")
    ds._dict[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False, True)
    ds.save_as(path)


def analyze(folder: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "analyze", str(folder), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)


def test_malformed_slices_are_excluded_counted_and_reviewed(tmp_path: Path) -> None:
    write_ctp_phantom(tmp_path / "in", CtpPhantomOptions(**SMALL_CTP, seed=2))
    paths = sorted((tmp_path / "in").glob("*.dcm"))
    set_raw(paths[5], "ImagePositionPatient", r"abcdef\-115.0")
    set_raw(paths[6], "ImageOrientationPatient", r"1\0\0\0\nan\0")
    set_raw(paths[7], "PixelSpacing", r"-0.5\0.5")
    other_matrix = pydicom.dcmread(paths[8])
    other_matrix.Rows = 32
    other_matrix.save_as(paths[8])

    done = analyze(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    (series,) = result["series"]
    assert series["kind"] == "ctp" and series["images"] == 64 and series["excluded"] == 4
    perfusion = result["perfusion"]
    assert perfusion["status"] == "ok"  # the numbers stand, computed on what was usable
    assert perfusion["incomplete"].startswith(
        "CTP incomplete: 4 image(s) excluded (1 other matrix (Rows/Columns) than the series, "
        "1 unreadable ImageOrientationPatient, 1 unreadable ImagePositionPatient, "
        "1 unreadable PixelSpacing)")
    assert result["alert"]["level"] == "manual_review"
    assert result["alert"]["reasons"][0] == perfusion["incomplete"]


def test_a_series_with_no_usable_slice_is_a_one_line_input_error(tmp_path: Path) -> None:
    write_ctp_phantom(tmp_path / "in", CtpPhantomOptions(**SMALL_CTP, seed=3))
    for path in sorted((tmp_path / "in").glob("*.dcm")):
        set_raw(path, "ImagePositionPatient", r"abcdef\-115.0")
    done = analyze(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip() == ("strokealert: no usable image: all 64 excluded "
                                   "(64 unreadable ImagePositionPatient)")
