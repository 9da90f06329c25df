"""CTA volume reading leaves out slices whose geometry cannot be placed (issue 14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement

from strokealert.errors import InputError
from strokealert.lvo.preprocess import read_dicom_volume
from strokealert.phantoms import series as syn


def cta_slices(folder: Path, count: int = 12) -> list[Path]:
    volume = np.random.default_rng(1).normal(40, 5, (count, 32, 32))
    return sorted(syn.write_volume(volume, folder, study=syn.StudyInfo(),
                                   series=syn.SeriesInfo(description="CTA head"),
                                   spacing_mm=(1.0, 0.5, 0.5)))


def break_position(path: Path) -> None:
    ds = pydicom.dcmread(path)
    value = b"abcdef\\-115.0"
    ds._dict[0x00200032] = RawDataElement(0x00200032, "DS", len(value), value, 0, False, True)
    ds.save_as(path)


def test_unplaceable_slices_are_left_out(tmp_path: Path) -> None:
    paths = cta_slices(tmp_path)
    break_position(paths[-1])
    other_matrix = pydicom.dcmread(paths[0])
    other_matrix.Rows = 16
    other_matrix.save_as(paths[0])
    volume, spacing = read_dicom_volume(paths)
    assert volume.shape == (10, 32, 32)
    assert spacing == pytest.approx((1.0, 0.5, 0.5))


def test_too_few_usable_slices_is_an_input_error(tmp_path: Path) -> None:
    paths = cta_slices(tmp_path, count=9)
    for path in paths[:3]:
        break_position(path)
    with pytest.raises(InputError, match="only 6 images"):
        read_dicom_volume(paths)
