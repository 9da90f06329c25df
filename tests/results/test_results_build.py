"""Building SC, SEG and SR from synthetic source series (no network)."""

from __future__ import annotations

from io import BytesIO

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    Comprehensive3DSRStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
)

from strokealert.results import build_results
from strokealert.results.common import first_time_frame
from strokealert.results.secondary_capture import BAND_HEIGHT_PX, BAND_TEXT_RGB
from strokealert.results.segmentation import to_source_grid
from strokealert.results.structured_report import (
    LVO_PROBABILITY,
    MISMATCH_RATIO,
    TRACK_CORE,
    TRACK_LVO,
    TRACK_MISMATCH,
    VOLUME,
)
from tests.results.sources import CTA_SLICES, CTP_SHAPE, StudySources


def _roundtrip(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_first_time_frame_keeps_earliest_image_per_position(sources: StudySources) -> None:
    frame = first_time_frame(sources.ctp)
    assert len(frame) == CTP_SHAPE[0]
    assert [float(ds.ImagePositionPatient[2]) for ds in frame] == [10.0, 15.0, 20.0, 25.0]
    # the earliest of 3 frames: instance numbers of the last-listed (time index 0) frame
    assert [int(ds.InstanceNumber) for ds in frame] == [1, 2, 3, 4]


def test_build_results_makes_sc_seg_sr_in_the_source_study(sources: StudySources) -> None:
    objects = build_results(
        sources.ctp, sources.cta, core_mask=sources.core,
        hypoperfusion_mask=sources.hypoperfusion, perfusion_block=sources.perfusion,
        lvo_block=sources.lvo, key_images=sources.key_images)
    kinds = [str(ds.SOPClassUID) for ds in objects]
    assert kinds[:2] == [SecondaryCaptureImageStorage] * 2
    assert kinds[2] == SegmentationStorage
    assert kinds[3] == Comprehensive3DSRStorage
    for ds in objects:
        assert ds.StudyInstanceUID == sources.study.study_instance_uid
        assert ds.PatientID == sources.study.patient.patient_id
        assert ds.SeriesInstanceUID not in {sources.ctp[0].SeriesInstanceUID,
                                            sources.cta[0].SeriesInstanceUID}
    summary, mip = objects[0], objects[1]
    assert summary.ReferencedSeriesSequence[0].SeriesInstanceUID == \
        sources.ctp[0].SeriesInstanceUID
    assert mip.ReferencedSeriesSequence[0].SeriesInstanceUID == sources.cta[0].SeriesInstanceUID
    assert len(mip.SourceImageSequence) == CTA_SLICES
    assert summary.SeriesInstanceUID != mip.SeriesInstanceUID


def test_secondary_capture_burns_in_the_disclaimer(sources: StudySources) -> None:
    summary = build_results(sources.ctp, None, key_images={
        "perfusion_summary.png": sources.key_images["perfusion_summary.png"]})[0]
    assert summary.BurnedInAnnotation == "YES"
    pixels = summary.pixel_array
    original = sources.key_images["perfusion_summary.png"]
    assert pixels.shape == (original.shape[0] + BAND_HEIGHT_PX, original.shape[1], 3)
    np.testing.assert_array_equal(pixels[: original.shape[0]], original)
    band = pixels[original.shape[0]:]
    text_pixels = np.all(band == BAND_TEXT_RGB, axis=-1).sum()
    assert text_pixels > 100  # the words are there, not just a black strip
    assert "NOT FOR DIAGNOSTIC USE" in summary.SeriesDescription.upper()


def test_segmentation_segments_and_voxels(sources: StudySources) -> None:
    objects = build_results(sources.ctp, None, core_mask=sources.core,
                            hypoperfusion_mask=sources.hypoperfusion)
    assert len(objects) == 1  # no blocks: SEG only, no SR
    seg = hd.seg.segread(BytesIO(_roundtrip(objects[0])))
    assert seg.SegmentationType == "BINARY"
    labels = {s.SegmentNumber: s.SegmentLabel for s in seg.SegmentSequence}
    assert labels == {1: "Ischemic core (rCBF<30%)", 2: "Hypoperfusion (Tmax>6s)"}
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "55641003"
    assert seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].CodeValue == "52674009"
    frame = first_time_frame(sources.ctp)
    uids = [ds.SOPInstanceUID for ds in frame]
    volume = seg.get_pixels_by_source_instance(uids, segment_numbers=[1, 2])
    np.testing.assert_array_equal(volume[..., 0].astype(bool), sources.core)
    np.testing.assert_array_equal(volume[..., 1].astype(bool), sources.hypoperfusion)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == frame[0].SeriesInstanceUID


def test_empty_masks_still_make_a_valid_segmentation(sources: StudySources) -> None:
    empty = np.zeros_like(sources.core)
    [seg] = build_results(sources.ctp, None, core_mask=empty, hypoperfusion_mask=empty)
    parsed = hd.seg.segread(BytesIO(_roundtrip(seg)))
    uids = [ds.SOPInstanceUID for ds in first_time_frame(sources.ctp)]
    assert not parsed.get_pixels_by_source_instance(uids, segment_numbers=[1, 2]).any()


def test_coarse_masks_are_expanded_to_source_pixels() -> None:
    coarse = np.zeros((2, 21, 21), dtype=bool)
    coarse[0, 1, 2] = True
    full = to_source_grid(coarse, 2, 64, 64)  # factor 3, one row/column padded
    assert full.shape == (2, 64, 64)
    assert full.sum() == 9 and full[0, 3:6, 6:9].all()
    with pytest.raises(ValueError, match="does not fit"):
        to_source_grid(np.zeros((2, 30, 30), dtype=bool), 2, 64, 64)
    with pytest.raises(ValueError, match="source slices"):
        to_source_grid(np.zeros((3, 64, 64), dtype=bool), 2, 64, 64)


def test_structured_report_values(sources: StudySources) -> None:
    objects = build_results(
        sources.ctp, sources.cta, core_mask=sources.core,
        hypoperfusion_mask=sources.hypoperfusion, perfusion_block=sources.perfusion,
        lvo_block=sources.lvo)
    sr = hd.sr.srread(BytesIO(_roundtrip(objects[-1])))
    report = sr.content
    core = report.get_volumetric_roi_measurement_groups(tracking_uid=None)
    by_name = {g.tracking_identifier: g for g in core}
    assert by_name[TRACK_CORE].get_measurements(name=VOLUME)[0].value == pytest.approx(21.4)
    segment = by_name[TRACK_CORE].referenced_segment
    assert segment.referenced_segment_numbers == [1]
    assert segment.referenced_sop_instance_uid == objects[0].SOPInstanceUID
    groups = {g.tracking_identifier: g for g in report.get_image_measurement_groups()}
    assert groups[TRACK_MISMATCH].get_measurements(name=MISMATCH_RATIO)[0].value == \
        pytest.approx(4.77)
    lvo = groups[TRACK_LVO]
    assert lvo.get_measurements(name=LVO_PROBABILITY)[0].value == pytest.approx(0.97)
    assert lvo.get_qualitative_evaluations()[0].value.meaning == "Yes"
    site = lvo.finding_sites[0]
    assert site.value.meaning == "Middle Cerebral Artery M1 Segment"
    assert site.laterality.meaning == "Left"
    evidence_series = {s for _, s in sr.get_evidence_series()}
    assert {sources.ctp[0].SeriesInstanceUID, sources.cta[0].SeriesInstanceUID,
            objects[0].SeriesInstanceUID} <= evidence_series


def test_failed_blocks_are_left_out(sources: StudySources) -> None:
    failed = {"status": "failed", "error": "motion"}
    objects = build_results(sources.ctp, sources.cta, perfusion_block=failed,
                            lvo_block=sources.lvo)
    assert len(objects) == 1
    sr = hd.sr.srread(BytesIO(_roundtrip(objects[0])))
    assert [g.tracking_identifier for g in sr.content.get_image_measurement_groups()] == \
        [TRACK_LVO]
    assert build_results(sources.ctp, None, perfusion_block=failed) == []
    with pytest.raises(ValueError, match="no source series"):
        build_results(None, None, key_images=sources.key_images)
