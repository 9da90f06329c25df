"""The NCCT's result objects: the haemorrhage SEG (one segment per kind of blood, back in the
source's row/column order), the haemorrhage and ASPECTS groups of the SR, the key image filed
with the NCCT series."""

from __future__ import annotations

from io import BytesIO

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset

from strokealert.phantoms import series as synthetic
from strokealert.phantoms.ncct_families import BLEED_KINDS
from strokealert.results import build_results
from strokealert.results.common import (
    SERIES_NUMBER_SC_NCCT,
    SERIES_NUMBER_SEG_NCCT,
    first_time_frame,
)
from strokealert.results.structured_report import (
    ABC2_VOLUME,
    ASPECTS_SCORE,
    MIDLINE_SHIFT,
    TRACK_ASPECTS,
    TRACK_HAEMORRHAGE,
    VOLUME,
)

SHAPE = (6, 32, 32)
NCCT = {"status": "ok", "error": None,
        "ich": {"suspected": True, "kinds": ["intraparenchymal", "intraventricular"],
                "volume_ml": 23.2, "abc2_ml": 21.0, "side": "left",
                "location": "left basal ganglia", "midline_shift_mm": 3.1, "probability": 0.98},
        "aspects": {"score": 8, "side": "left", "regions": ["M2", "I"]},
        "key_images": ["ncct_ich.png"]}


def ncct_series(flipped_columns: bool = False) -> list[Dataset]:
    """Six 32x32 slices of 5 mm (latest-first order on purpose); columns may run to the right."""
    study = synthetic.StudyInfo()
    series = synthetic.SeriesInfo(series_number=2, description="Head w/o contrast")
    datasets = []
    for z in reversed(range(SHAPE[0])):
        ds = synthetic.ct_slice(np.full(SHAPE[1:], 35.0), study=study, series=series,
                                instance_number=z + 1, position_mm=(-16.0, -16.0, 5.0 * z),
                                pixel_spacing_mm=(1.0, 1.0), slice_thickness_mm=5.0,
                                acquisition_datetime=study.study_datetime)
        if flipped_columns:
            ds.ImageOrientationPatient = [-1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [16.0, -16.0, 5.0 * z]
        datasets.append(ds)
    return datasets


def labels() -> np.ndarray:
    """Intraparenchymal blood (label 1) in slices 2-3 on the patient's left (high x), and
    intraventricular blood (label 2) in slice 4."""
    blood = np.zeros(SHAPE, dtype=np.uint8)
    blood[2:4, 10:14, 24:30] = 1 + BLEED_KINDS.index("intraparenchymal")
    blood[4, 14:16, 14:18] = 1 + BLEED_KINDS.index("intraventricular")
    return blood


def roundtrip(ds: Dataset) -> Dataset:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return hd.seg.segread(buffer) if ds.Modality == "SEG" else hd.sr.srread(buffer)


@pytest.mark.parametrize("flipped", [False, True])
def test_haemorrhage_seg_has_a_segment_per_kind_in_source_order(flipped: bool) -> None:
    source = ncct_series(flipped)
    rgb = np.zeros((40, 40, 3), dtype=np.uint8)
    objects = build_results(None, None, source_datasets_ncct=source, blood_labels=labels(),
                            bleed_kinds=BLEED_KINDS, ncct_block=NCCT,
                            key_images={"ncct_ich.png": rgb})
    assert [o.Modality for o in objects] == ["OT", "SEG", "SR"]
    assert objects[0].SeriesNumber == SERIES_NUMBER_SC_NCCT
    assert objects[0].ReferencedSeriesSequence[0].SeriesInstanceUID == source[0].SeriesInstanceUID
    seg = roundtrip(objects[1])
    assert seg.SeriesNumber == SERIES_NUMBER_SEG_NCCT
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [
        "Intraparenchymal haemorrhage", "Intraventricular haemorrhage"]
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "50960005"
    ordered = first_time_frame(source)  # the NCCT reader's z order: along the slice normal
    pixels = seg.get_pixels_by_source_instance([ds.SOPInstanceUID for ds in ordered],
                                               segment_numbers=[1, 2])
    expected = labels()[:, :, ::-1] if flipped else labels()  # LPS grid -> source columns
    np.testing.assert_array_equal(pixels[..., 0].astype(bool), expected == 1)
    np.testing.assert_array_equal(pixels[..., 1].astype(bool), expected == 2)


def test_the_report_carries_volume_abc2_shift_and_aspects() -> None:
    source = ncct_series()
    objects = build_results(None, None, source_datasets_ncct=source, blood_labels=labels(),
                            bleed_kinds=BLEED_KINDS, ncct_block=NCCT)
    sr = roundtrip(objects[-1])
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    ich, aspects = groups[TRACK_HAEMORRHAGE], groups[TRACK_ASPECTS]
    assert ich.get_measurements(name=VOLUME)[0].value == pytest.approx(23.2)
    assert ich.get_measurements(name=ABC2_VOLUME)[0].value == pytest.approx(21.0)
    shift = ich.get_measurements(name=MIDLINE_SHIFT)[0]
    assert shift.value == pytest.approx(3.1) and shift.unit.value == "mm"
    assert [e.value.meaning for e in ich.get_qualitative_evaluations()] == [
        "Yes", "intraparenchymal", "intraventricular"]
    assert ich.finding_sites[0].laterality.meaning == "Left"
    assert aspects.get_measurements(name=ASPECTS_SCORE)[0].value == 8
    assert [e.value.meaning for e in aspects.get_qualitative_evaluations()] == [
        "ASPECTS region M2", "ASPECTS region I"]
    evidence = {s for _, s in sr.get_evidence_series()}
    assert {source[0].SeriesInstanceUID, objects[0].SeriesInstanceUID} <= evidence


def test_no_blood_no_seg_and_a_misfit_map_is_refused() -> None:
    source = ncct_series()
    clean = {**NCCT, "ich": {"suspected": False, "kinds": [], "volume_ml": 0.0}}
    objects = build_results(None, None, source_datasets_ncct=source,
                            blood_labels=np.zeros(SHAPE, dtype=np.uint8),
                            bleed_kinds=BLEED_KINDS, ncct_block=clean)
    assert [o.Modality for o in objects] == ["SR"]
    with pytest.raises(ValueError, match="does not fit"):
        build_results(None, None, source_datasets_ncct=source,
                      blood_labels=np.zeros((5, 32, 32), dtype=np.uint8), bleed_kinds=BLEED_KINDS)
