"""Geometry screening, completeness and the rules on incomplete data (headers only, no files)."""

from __future__ import annotations

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage

from strokealert.dicom.classify import slice_info
from strokealert.dicom.completeness import assess, ranges
from strokealert.dicom.geometry import screen_series
from strokealert.pipeline.rules import decide


def header(z: float, frame: int | None = None, **raw: str) -> Dataset:
    """A CT slice header at table position ``z`` mm; ``raw`` sets elements to raw text."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.SeriesDescription = "CT PERFUSION 4D" if frame is not None else "CTA head"
    ds.ImagePositionPatient = [-96.0, -96.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.Rows = ds.Columns = 64
    ds.SliceThickness = 5.0 if frame is not None else 1.0
    if frame is not None:
        ds.TemporalPositionIndex = frame
        ds.ImagesInAcquisition = 4
        ds.NumberOfTemporalPositions = 10
    for keyword, text in raw.items():
        tag = tag_for_keyword(keyword)
        value = text.encode() + (b" " if len(text) % 2 else b"")
        ds._dict[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False,
                                       True)
    return ds


def ctp(frames: int = 10, positions: tuple[float, ...] = (0, 5, 10, 15)) -> list[Dataset]:
    return [header(z, t) for t in range(1, frames + 1) for z in positions]


def test_unreadable_geometry_is_excluded_with_its_reason_and_never_raises() -> None:
    headers = ctp()
    headers[3] = header(15, 1, ImagePositionPatient=r"abcdef\-115.0\3")
    headers[7] = header(15, 2, ImageOrientationPatient=r"1\0\0\0\0\0")
    headers[11] = header(15, 3, PixelSpacing=r"0\0.5")
    headers[12].Rows = 128
    headers[13].ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    headers[14].PixelSpacing = [0.7, 0.7]
    assert slice_info(headers[3]).z_mm is None  # was a ValueError in classify
    screening = screen_series(headers)
    assert dict(screening.excluded) == {
        "unreadable ImagePositionPatient": 1, "unreadable ImageOrientationPatient": 1,
        "unreadable PixelSpacing": 1, "other matrix (Rows/Columns) than the series": 1,
        "other orientation than the series": 1, "other pixel spacing than the series": 1}
    assert len(screening.kept) == len(headers) - 6


def test_two_images_at_one_position_and_time_copies_and_conflicts() -> None:
    headers = [header(z) for z in range(0, 40, 1)] + [header(5.0), header(6.0)]
    digests = {i: "same" for i in range(len(headers))}
    digests[len(headers) - 1] = "different"
    screening = screen_series(headers, digests.get)
    assert screening.copies == 1  # z=5 sent twice: one kept
    assert dict(screening.excluded) == {"other image at the same position and time": 2}
    assert screen_series(headers).excluded.total() == 4  # without pixels: all conflicting


def test_a_whole_ctp_is_complete() -> None:
    done = assess([slice_info(h) for h in ctp()], dynamic=True)
    assert done.complete and done.expected == 40 and done.describe("CTP") == ""


def test_a_ctp_lacking_frames_at_two_positions_says_which() -> None:
    headers = [h for h in ctp() if not (h.TemporalPositionIndex in (4, 5, 6)
                                        and h.ImagePositionPatient[2] in (5.0, 10.0))]
    done = assess([slice_info(h) for h in headers], dynamic=True)
    assert done.describe("CTP") == ("CTP incomplete: 34 of 40 images; "
                                    "slices at z=5.0, 10.0 mm missing in frames 4-6")


def test_missing_frames_everywhere_and_a_missing_table_position() -> None:
    frames_gone = [h for h in ctp() if h.TemporalPositionIndex not in (3, 4)]
    assert "frames 3-4 missing at every position" in assess(
        [slice_info(h) for h in frames_gone], dynamic=True).missing
    volume = [header(z) for z in range(0, 40, 1) if z not in (20, 21, 22)]
    assert assess([slice_info(h) for h in volume], dynamic=False).missing == (
        "no slice between z=19.0 and z=23.0 mm",)


def test_excluded_images_make_a_series_incomplete() -> None:
    done = assess([slice_info(h) for h in ctp()][1:], dynamic=True,
                  excluded={"unreadable ImagePositionPatient": 1})
    assert done.missing[0] == "1 image(s) excluded (1 unreadable ImagePositionPatient)"


def test_ranges() -> None:
    assert ranges([9, 1, 2, 3, 7, 10]) == "1-3, 7, 9-10"


def test_findings_on_incomplete_data_ask_for_manual_review_first() -> None:
    perfusion = {"status": "ok", "error": None, "core_ml": 21.0, "defuse3_eligible": True,
                 "hypoperfusion_ml": {"tmax6": 102.0}, "mismatch_ratio": 4.8,
                 "incomplete": "CTP incomplete: 470 of 640 images"}
    decision = decide(perfusion, None)
    assert decision.level == "manual_review"
    assert decision.rule_names == ["perfusion_incomplete", "defuse3_mismatch"]
    assert decision.title == "CTP incomplete: 470 of 640 images"
    assert decision.reasons[1].endswith("(on incomplete data)")
    complete = {key: value for key, value in perfusion.items() if key != "incomplete"}
    assert decide(complete, None).level == "critical"
    # A complete CTA's suspected LVO still pages critically beside an incomplete CTP.
    lvo = {"status": "ok", "error": None, "suspected": True, "probability": 0.9,
           "side": "left", "site": "M1"}
    assert decide(perfusion, lvo).level == "critical"
