"""The cheap raw-element header view reads what pydicom reads."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian

from strokealert.dicom.header import RawHeader, describe
from strokealert.phantoms import series as syn


@pytest.mark.parametrize(("charset", "name", "implicit"), [
    ("ISO_IR 100", "MÜLLER^JÖRG", False),
    ("ISO_IR 192", "山田^太郎", False),
    ("ISO 2022 IR 100", "MÜLLER^JÖRG", False),
    ("ISO_IR 100", "DOE^JANE", True),
])
def test_raw_header_matches_pydicom(tmp_path: Path, charset: str, name: str | None,
                                    implicit: bool) -> None:
    ds = syn.ct_slice(np.zeros((4, 4)), study=syn.StudyInfo(), series=syn.SeriesInfo(
        contrast=True, image_type=("ORIGINAL",)), instance_number=7,
        position_mm=(-1.5, 2.0, 33.25), pixel_spacing_mm=(0.5, 0.5), slice_thickness_mm=0.625,
        acquisition_datetime=syn.StudyInfo().study_datetime,
        extra={"TemporalPositionIndex": 3, "NumberOfTemporalPositions": 20,
               "ImagesInAcquisition": 16})
    ds.SpecificCharacterSet = charset
    if name is not None:
        ds.PatientName = name
    path = tmp_path / "x.dcm"
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    zone = ZoneInfo("Europe/Berlin")
    fast = describe(RawHeader(pydicom.dcmread(path)), zone)
    slow = describe(pydicom.dcmread(path), zone)
    assert fast == slow
    assert fast.slice.image_type == ("ORIGINAL",)
    assert fast.slice.temporal_index == 3 and fast.slice.z_mm == pytest.approx(33.25)
