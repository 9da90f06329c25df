"""SC, SEG and SR C-STOREd to a real Orthanc, fetched back over REST and parsed with highdicom."""

from __future__ import annotations

import time
from io import BytesIO

import highdicom as hd
import numpy as np
import pydicom
import pytest

from strokealert.config import Settings
from strokealert.results import build_results, send_to_pacs
from strokealert.results.common import first_time_frame
from strokealert.results.structured_report import (
    DEFUSE3_PROFILE,
    MISMATCH_VOLUME,
    TRACK_CORE,
    TRACK_HYPOPERFUSION,
    TRACK_LVO,
    TRACK_MISMATCH,
    VOLUME,
)
from tests.orthanc import Orthanc
from tests.results.sources import StudySources


def _settings(host: str, port: int, aet: str, attempts: int = 3) -> Settings:
    return Settings(pacs_enabled=True, pacs_host=host, pacs_port=port, pacs_ae_title=aet,
                    pacs_attempts=attempts, pacs_retry_wait_s=0.05, pacs_timeout_s=5.0)


def test_results_arrive_in_orthanc_and_parse(orthanc: Orthanc, sources: StudySources) -> None:
    objects = build_results(
        sources.ctp, sources.cta, core_mask=sources.core,
        hypoperfusion_mask=sources.hypoperfusion, perfusion_block=sources.perfusion,
        lvo_block=sources.lvo, key_images=sources.key_images)
    report = send_to_pacs(objects, _settings("127.0.0.1", orthanc.dicom_port, orthanc.aet))
    assert report.ok, report.summary()
    assert len(report.stored) == 4 and report.attempts == 1

    fetched = {}
    for orthanc_id in orthanc.instances():
        ds = pydicom.dcmread(BytesIO(orthanc.instance_file(orthanc_id)))
        fetched[str(ds.SOPInstanceUID)] = ds
    by_class = {}
    for original in objects:
        ds = fetched[str(original.SOPInstanceUID)]
        by_class.setdefault(ds.Modality, []).append(ds)
        assert ds.StudyInstanceUID == sources.study.study_instance_uid
        assert ds.PatientID == sources.study.patient.patient_id
    # one study in the PACS: the results sit beside the (not sent) source series
    studies = orthanc.get("/studies?expand")
    matching = [s for s in studies
                if s["MainDicomTags"]["StudyInstanceUID"] == sources.study.study_instance_uid]
    assert len(matching) == 1 and len(matching[0]["Series"]) == 4

    # SC: RGB key images with the burned-in disclaimer, referencing their source series
    screenshots = sorted(by_class["OT"], key=lambda ds: int(ds.SeriesNumber))
    assert [ds.ReferencedSeriesSequence[0].SeriesInstanceUID for ds in screenshots] == \
        [sources.ctp[0].SeriesInstanceUID, sources.cta[0].SeriesInstanceUID]
    assert all(ds.BurnedInAnnotation == "YES" and ds.PhotometricInterpretation == "RGB"
               for ds in screenshots)

    # SEG: labels and voxels survive the round trip through the PACS
    seg = hd.seg.Segmentation.from_dataset(by_class["SEG"][0])
    assert [s.SegmentLabel for s in seg.SegmentSequence] == \
        ["Ischemic core (rCBF<30%)", "Hypoperfusion (Tmax>6s)"]
    frame = first_time_frame(sources.ctp)
    volume = seg.get_pixels_by_source_instance([ds.SOPInstanceUID for ds in frame],
                                               segment_numbers=[1, 2])
    np.testing.assert_array_equal(volume[..., 0].astype(bool), sources.core)
    np.testing.assert_array_equal(volume[..., 1].astype(bool), sources.hypoperfusion)
    assert int(volume[..., 0].sum()) == int(sources.core.sum()) == 200
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == sources.ctp[0].SeriesInstanceUID

    # SR: TID 1500 values, the SEG referenced, the source series as evidence
    sr = hd.sr.Comprehensive3DSR.from_dataset(by_class["SR"][0])
    volumetric = {g.tracking_identifier: g
                  for g in sr.content.get_volumetric_roi_measurement_groups()}
    assert volumetric[TRACK_CORE].get_measurements(name=VOLUME)[0].value == pytest.approx(21.4)
    assert volumetric[TRACK_HYPOPERFUSION].get_measurements(name=VOLUME)[0].value == \
        pytest.approx(102.0)
    assert volumetric[TRACK_HYPOPERFUSION].referenced_segment.referenced_segment_numbers == [2]
    assert volumetric[TRACK_CORE].referenced_segment.referenced_sop_instance_uid == \
        seg.SOPInstanceUID
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    mismatch = groups[TRACK_MISMATCH]
    assert mismatch.get_measurements(name=MISMATCH_VOLUME)[0].value == pytest.approx(80.6)
    assert mismatch.get_qualitative_evaluations(name=DEFUSE3_PROFILE)[0].value.meaning == "Yes"
    lvo = groups[TRACK_LVO]
    assert lvo.finding_sites[0].laterality.meaning == "Left"
    assert lvo.get_qualitative_evaluations()[0].value.meaning == "Yes"
    evidence = {series for _, series in sr.get_evidence_series()}
    assert {sources.ctp[0].SeriesInstanceUID, sources.cta[0].SeriesInstanceUID,
            seg.SeriesInstanceUID} <= evidence
    [observer] = sr.content.get_observer_contexts()
    assert observer.observer_type.meaning == "Device"
    assert observer.observer_identifying_attributes.name == "strokealert"


def test_pacs_down_reports_failures_without_raising(free_port: int,
                                                    sources: StudySources) -> None:
    objects = build_results(sources.ctp, sources.cta, lvo_block=sources.lvo)
    started = time.monotonic()
    report = send_to_pacs(objects, _settings("127.0.0.1", free_port, "NOBODY", attempts=2))
    assert time.monotonic() - started < 10
    assert not report.ok and report.attempts == 2
    assert len(report.failed) == 1 and "no association" in report.failed[0].error
    assert "0/1 stored" in report.summary()


def test_disabled_pacs_sends_nothing(sources: StudySources) -> None:
    objects = build_results(sources.ctp, None, lvo_block=None, key_images={
        "perfusion_summary.png": sources.key_images["perfusion_summary.png"]})
    report = send_to_pacs(objects, Settings(pacs_enabled=False))
    assert report.ok and not report.enabled and report.objects == []
    assert report.summary() == "PACS export disabled"
