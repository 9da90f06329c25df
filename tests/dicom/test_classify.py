"""Series kind and expected count from headers, with vendor conventions (no pixel data needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage

from strokealert.dicom.classify import classify_series, expected_count, slice_info
from strokealert.phantoms import series as syn

PIXELS = np.zeros((2, 2))

PerImage = Callable[[int, int], dict[str, Any]]


def headers(n_z: int, n_t: int = 1, *, description: str, manufacturer: str = "SIEMENS",
            thickness: float = 5.0, contrast: bool = False, body_part: str = "HEAD",
            extra: dict[str, Any] | None = None, per_image: PerImage | None = None,
            time_step_s: float = 2.0) -> list[Dataset]:
    """``n_t`` passes over the same ``n_z`` table positions (time-major instance numbers)."""
    study = syn.StudyInfo()
    series = syn.SeriesInfo(description=description, manufacturer=manufacturer,
                            contrast=contrast, body_part=body_part)
    out = []
    for t in range(n_t):
        for z in range(n_z):
            fields = {**(extra or {}), **(per_image(t, z) if per_image else {})}
            out.append(syn.ct_slice(
                PIXELS, study=study, series=series, instance_number=t * n_z + z + 1,
                position_mm=(-120.0, -120.0, z * thickness), pixel_spacing_mm=(0.5, 0.5),
                slice_thickness_mm=thickness,
                acquisition_datetime=study.study_datetime + timedelta(seconds=t * time_step_s),
                extra=fields))
    return out


def test_siemens_vpct_with_temporal_positions() -> None:
    series = headers(8, 6, description="VPCT Neuro 5.0 Hr36", extra={
        "ImagesInAcquisition": 8, "NumberOfTemporalPositions": 6},
        per_image=lambda t, z: {"TemporalPositionIndex": t + 1})
    assert classify_series(series) == "ctp"
    assert expected_count(slice_info(series[0])) == 48


def test_ge_perfusion_4d_without_temporal_count() -> None:
    # GE: ImagesInAcquisition counts one pass, no NumberOfTemporalPositions, time in 0019,1024.
    series = headers(8, 5, description="Perfusion 4D", manufacturer="GE MEDICAL SYSTEMS",
                     extra={"ImagesInAcquisition": 8})
    assert classify_series(series) == "ctp"
    assert expected_count(slice_info(series[0])) is None  # completes by quiet time


def test_philips_brain_perfusion_acquisition_number_per_time_point() -> None:
    series = headers(6, 5, description="Brain Perfusion", manufacturer="Philips",
                     extra={"ImagesInAcquisition": 6},
                     per_image=lambda t, z: {"AcquisitionNumber": t + 1})
    assert classify_series(series) == "ctp"
    first = slice_info(series[0])
    assert expected_count(first, acquisition_numbers=2) is None


def test_canon_dynamic_volume_identified_by_structure_alone() -> None:
    # Canon 320-row "Volume" acquisitions: neutral description, same positions every pass.
    series = headers(10, 4, description="Vol. 0.5 FC43", manufacturer="CANON_MEC",
                     extra={"ImageType": ["ORIGINAL", "PRIMARY", "AXIAL", "VOLUME"]})
    assert classify_series(series) == "ctp"


def test_identical_times_and_no_hint_still_perfusion() -> None:
    series = headers(6, 4, description="Head 5mm", time_step_s=0.0)
    assert classify_series(series) == "ctp"


def test_perfusion_description_on_a_single_volume_is_not_ctp() -> None:
    series = headers(20, 1, description="4D Perfusion", manufacturer="CANON_MEC")
    assert classify_series(series) == "ncct"


def test_cta_thin_contrast_head_neck() -> None:
    series = headers(40, thickness=0.625, description="CTA Head Neck 0.625",
                     contrast=True, body_part="HEADNECK")
    assert classify_series(series) == "cta"
    assert expected_count(slice_info(series[0])) is None  # no count in the headers


def test_cta_from_description_without_contrast_module() -> None:
    series = headers(40, thickness=1.0, description="COW ANGIO", manufacturer="Philips")
    assert classify_series(series) == "cta"


def test_thick_contrast_head_is_not_cta() -> None:
    assert classify_series(headers(20, thickness=5.0, description="Head C+",
                                   contrast=True)) == "other"


def test_ncct_thick_and_thin() -> None:
    assert classify_series(headers(24, description="Head 5mm", manufacturer="GE MEDICAL SYSTEMS",
                                   extra={"ImagesInAcquisition": 24})) == "ncct"
    assert classify_series(headers(120, thickness=0.625, description="Head w/o 0.625")) == "ncct"


@pytest.mark.parametrize("kwargs", [
    {"description": "Thorax 1.0", "body_part": "CHEST", "thickness": 1.0, "contrast": True},
    {"description": "Topogram 0.6 T20f", "extra": {"ImageType": ["ORIGINAL", "PRIMARY",
                                                                  "LOCALIZER"]}},
])
def test_other(kwargs: dict[str, Any]) -> None:
    assert classify_series(headers(20, **kwargs)) == "other"


def test_secondary_capture_is_other() -> None:
    series = headers(10, description="Dose Report")
    for ds in series:
        ds.SOPClassUID = SecondaryCaptureImageStorage
    assert classify_series(series) == "other"


def test_expected_count_rules() -> None:
    plain = headers(1, description="Head", extra={"ImagesInAcquisition": 32})[0]
    assert expected_count(slice_info(plain)) == 32
    nm_style = headers(1, description="Head", extra={"NumberOfSlices": 10,
                                                      "NumberOfTimeSlices": 3})[0]
    assert expected_count(slice_info(nm_style)) == 30
    cardiac = headers(1, description="Heart", extra={"CardiacNumberOfImages": 12})[0]
    assert expected_count(slice_info(cardiac)) == 12
    nothing = headers(1, description="Head")[0]
    assert expected_count(slice_info(nothing)) is None
    second_pass = headers(1, description="Head", extra={"ImagesInAcquisition": 32})[0]
    assert expected_count(slice_info(second_pass), temporal_indices=2) is None
