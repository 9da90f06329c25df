"""Perfusion volumes, the LVO finding and the NCCT findings as a TID 1500 Measurement Report
(Comprehensive 3D SR).

Groups (each with a tracking identifier that names it):

- ``ischemic core``: volume (mL), a volumetric ROI on SEG segment 1 when the SEG exists;
- ``hypoperfusion tmax6``: Tmax>6 s volume (mL), on SEG segment 2;
- ``mismatch``: mismatch volume (mL), mismatch ratio, HIR, DEFUSE 3 profile yes/no;
- ``lvo``: LVO probability, suspected yes/no, finding site (ICA/M1/M2/basilar) with laterality;
- ``haemorrhage``: haemorrhage suspected yes/no, kinds, blood volume (mL), ABC/2 of the largest
  intraparenchymal haematoma (mL), midline shift (mm), probability, side;
- ``aspects``: ASPECTS score of the affected side and each region with early ischaemic change.

The observer is the device "strokealert"; concepts with no standard code use the local
coding scheme ``99STRKA`` (declared in the Coding Scheme Identification Sequence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from strokealert.contracts.analysis import LvoBlock, NcctBlock, PerfusionBlock
from strokealert.results.common import (
    MANUFACTURER,
    MODEL_NAME,
    NOT_FOR_DIAGNOSTIC_USE,
    SOFTWARE_VERSION,
    new_uid,
)
from strokealert.results.segmentation import (
    BRAIN,
    CORE_SEGMENT,
    HEMORRHAGE,
    HYPOPERFUSION_SEGMENT,
    INFARCT,
    ISCHEMIA,
)

LOCAL_SCHEME = "99STRKA"
LOCAL_SCHEME_ITEM = hd.coding_schemes.CodingSchemeIdentificationItem(
    designator=LOCAL_SCHEME, name="strokealert local codes", version=SOFTWARE_VERSION,
    responsible_organization="strokealert project")


def _local(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, LOCAL_SCHEME, meaning)


def _code(code: Any) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)


MISMATCH_VOLUME = _local("MISMATCH_ML", "Mismatch volume")
MISMATCH_RATIO = _local("MISMATCH_RATIO", "Mismatch ratio")
HYPOPERFUSION_INTENSITY_RATIO = _local("HIR", "Hypoperfusion intensity ratio")
DEFUSE3_PROFILE = _local("DEFUSE3", "DEFUSE 3 target mismatch profile")
LVO_SUSPECTED = _local("LVO_SUSPECTED", "Large vessel occlusion suspected")
LVO_PROBABILITY = _local("LVO_P", "Large vessel occlusion probability")
CTA_LVO_PROCEDURE = _local("CTA_LVO", "CT angiography large vessel occlusion detection")
ICH_SUSPECTED = _local("ICH_SUSPECTED", "Intracranial haemorrhage suspected")
ICH_KIND = _local("ICH_KIND", "Kind of intracranial haemorrhage")
ICH_PROBABILITY = _local("ICH_P", "Intracranial haemorrhage probability")
ABC2_VOLUME = _local("ABC2_ML", "ABC/2 volume of the largest intraparenchymal haematoma")
MIDLINE_SHIFT = _local("MIDLINE_SHIFT", "Midline shift")
ASPECTS_SCORE = _local("ASPECTS", "Alberta Stroke Program Early CT Score")
ASPECTS_REGION = _local("ASPECTS_REGION", "ASPECTS region with early ischaemic change")
NCCT_PROCEDURE = _local("NCCT_TRIAGE", "Non-contrast head CT haemorrhage and ASPECTS triage")
CTP_PROCEDURE = _code(codes.DCM.PerfusionAnalysisByIVIodinatedContrastCTTechnique)
OCCLUSION_OF_ARTERY = _code(codes.SCT.OcclusionOfArtery)
VOLUME = _code(codes.SCT.Volume)
MILLILITER = hd.sr.CodedConcept("mL", "UCUM", "milliliter")
MILLIMETER = hd.sr.CodedConcept("mm", "UCUM", "millimeter")
NO_UNITS = _code(codes.UCUM.NoUnits)
YES, NO = _code(codes.SCT.Yes), _code(codes.SCT.No)
SIDES = {"left": _code(codes.SCT.Left), "right": _code(codes.SCT.Right)}
SITES = {
    "ICA": _code(codes.SCT.InternalCarotidArtery),
    "M1": _code(codes.SCT.MiddleCerebralArteryM1Segment),
    "M2": _code(codes.SCT.MiddleCerebralArteryM2Segment),
    "basilar": _code(codes.SCT.BasilarArtery),
}

# Tracking identifiers (free text) of the measurement groups; readers look groups up by these.
TRACK_CORE = "ischemic core"
TRACK_HYPOPERFUSION = "hypoperfusion tmax6"
TRACK_MISMATCH = "mismatch"
TRACK_LVO = "lvo"
TRACK_HAEMORRHAGE = "haemorrhage"
TRACK_ASPECTS = "aspects"


def _tracking(identifier: str) -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(uid=new_uid(), identifier=identifier)


def _number(value: Any) -> float | None:
    """A finite float, or None for missing / infinite / not-a-number."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _yes_no(flag: bool) -> hd.sr.CodedConcept:
    return YES if flag else NO


def _perfusion_algorithm() -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name="strokealert perfusion", version=SOFTWARE_VERSION)


def _sources(source_image: Dataset | None) -> list[hd.sr.SourceImageForMeasurementGroup] | None:
    return [hd.sr.SourceImageForMeasurementGroup.from_source_image(source_image)] \
        if source_image is not None else None


class _VolumeGroupContent(TypedDict):
    """The arguments both volume measurement-group constructors share."""

    tracking_identifier: hd.sr.TrackingIdentifier
    finding_type: hd.sr.CodedConcept
    finding_sites: list[hd.sr.FindingSite]
    measurements: list[hd.sr.Measurement]
    algorithm_id: hd.sr.AlgorithmIdentification


def _volume_group(
    identifier: str, finding: hd.sr.CodedConcept, volume_ml: float,
    segmentation: Dataset | None, segment_number: int, source_image: Dataset | None,
) -> hd.sr.MeasurementsAndQualitativeEvaluations | \
        hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    measurement = hd.sr.Measurement(name=VOLUME, value=volume_ml, unit=MILLILITER,
                                    algorithm_id=_perfusion_algorithm())
    common: _VolumeGroupContent = {
        "tracking_identifier": _tracking(identifier), "finding_type": finding,
        "finding_sites": [hd.sr.FindingSite(BRAIN)], "measurements": [measurement],
        "algorithm_id": _perfusion_algorithm()}
    if segmentation is not None:
        segment = hd.sr.ReferencedSegment.from_segmentation(segmentation, segment_number)
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=segment, **common)
    sources = _sources(source_image)
    return hd.sr.MeasurementsAndQualitativeEvaluations(source_images=sources, **common)


def perfusion_groups(
    perfusion: PerfusionBlock, segmentation: Dataset | None, source_image: Dataset | None,
) -> list[Any]:
    """Core, Tmax>6 s and mismatch groups from a ``strokealert.analysis/1`` perfusion block."""
    groups: list[Any] = []
    core_ml = _number(perfusion.core_ml)
    tmax6_ml = _number((perfusion.hypoperfusion_ml or {}).get("tmax6"))
    if core_ml is not None:
        groups.append(_volume_group(TRACK_CORE, INFARCT, core_ml, segmentation,
                                    CORE_SEGMENT, source_image))
    if tmax6_ml is not None:
        groups.append(_volume_group(TRACK_HYPOPERFUSION, ISCHEMIA, tmax6_ml, segmentation,
                                    HYPOPERFUSION_SEGMENT, source_image))
    measurements = []
    for name, unit, number in ((MISMATCH_VOLUME, MILLILITER, perfusion.mismatch_ml),
                               (MISMATCH_RATIO, NO_UNITS, perfusion.mismatch_ratio),
                               (HYPOPERFUSION_INTENSITY_RATIO, NO_UNITS, perfusion.hir)):
        value = _number(number)
        if value is not None:
            measurements.append(hd.sr.Measurement(name=name, value=value, unit=unit))
    evaluations = []
    if perfusion.defuse3_eligible is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(
            DEFUSE3_PROFILE, _yes_no(perfusion.defuse3_eligible)))
    if measurements or evaluations:
        sources = _sources(source_image)
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(TRACK_MISMATCH), finding_type=ISCHEMIA,
            algorithm_id=_perfusion_algorithm(), measurements=measurements or None,
            qualitative_evaluations=evaluations or None, source_images=sources))
    return groups


def lvo_group(lvo: LvoBlock, source_image: Dataset | None
              ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The LVO finding from a ``strokealert.analysis/1`` lvo block (model ``name@version``)."""
    name, _, version = (lvo.model or "strokealert lvo").partition("@")
    algorithm = hd.sr.AlgorithmIdentification(name=name, version=version or SOFTWARE_VERSION)
    suspected = bool(lvo.suspected)
    measurements = []
    probability = _number(lvo.probability)
    if probability is not None:
        measurements.append(hd.sr.Measurement(name=LVO_PROBABILITY, value=probability,
                                              unit=NO_UNITS, algorithm_id=algorithm))
    sites = None
    site = SITES.get(str(lvo.site))
    if suspected and site is not None:
        sites = [hd.sr.FindingSite(site, laterality=SIDES.get(str(lvo.side)))]
    sources = _sources(source_image)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(TRACK_LVO), finding_type=OCCLUSION_OF_ARTERY,
        algorithm_id=algorithm, finding_sites=sites, measurements=measurements or None,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(LVO_SUSPECTED, _yes_no(suspected))],
        source_images=sources)


def ncct_groups(ncct: NcctBlock, source_image: Dataset | None) -> list[Any]:
    """The haemorrhage and ASPECTS groups from a ``strokealert.analysis/1`` ncct block."""
    algorithm = hd.sr.AlgorithmIdentification(name="strokealert ncct", version=SOFTWARE_VERSION)
    groups: list[Any] = []
    if ncct.ich is not None:
        ich = ncct.ich
        measurements = [
            hd.sr.Measurement(name=name, value=value, unit=unit, algorithm_id=algorithm)
            for name, number, unit in ((VOLUME, ich.volume_ml, MILLILITER),
                                       (ABC2_VOLUME, ich.abc2_ml, MILLILITER),
                                       (MIDLINE_SHIFT, ich.midline_shift_mm, MILLIMETER),
                                       (ICH_PROBABILITY, ich.probability, NO_UNITS))
            if (value := _number(number)) is not None]
        suspected = bool(ich.suspected)
        evaluations = [hd.sr.QualitativeEvaluation(ICH_SUSPECTED, _yes_no(suspected))]
        evaluations += [hd.sr.QualitativeEvaluation(ICH_KIND, _local(kind.upper(), kind))
                        for kind in (ich.kinds or [])] if suspected else []
        laterality = SIDES.get(str(ich.side))
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(TRACK_HAEMORRHAGE), finding_type=HEMORRHAGE,
            algorithm_id=algorithm, measurements=measurements or None,
            finding_sites=[hd.sr.FindingSite(BRAIN, laterality=laterality)]
            if suspected and laterality is not None else None,
            qualitative_evaluations=evaluations, source_images=_sources(source_image)))
    aspects = ncct.aspects
    if aspects is not None and aspects.score is not None:
        regions = [hd.sr.QualitativeEvaluation(
            ASPECTS_REGION, _local(f"ASPECTS_{region.upper()}", f"ASPECTS region {region}"))
            for region in (aspects.regions or [])]
        laterality = SIDES.get(str(aspects.side))
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(TRACK_ASPECTS), finding_type=ISCHEMIA,
            algorithm_id=algorithm,
            measurements=[hd.sr.Measurement(name=ASPECTS_SCORE, value=float(aspects.score),
                                            unit=NO_UNITS, algorithm_id=algorithm)],
            finding_sites=[hd.sr.FindingSite(BRAIN, laterality=laterality)]
            if laterality is not None else None,
            qualitative_evaluations=regions or None, source_images=_sources(source_image)))
    return groups


def _observation_context() -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=new_uid(), name="strokealert", manufacturer_name=MANUFACTURER,
        model_name=f"{MODEL_NAME} {SOFTWARE_VERSION}")
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=_code(codes.cid270.Device), observer_identifying_attributes=device))


def build_structured_report(
    *,
    perfusion: Mapping[str, Any] | None,
    lvo: Mapping[str, Any] | None,
    ctp_images: Sequence[Dataset],
    cta_images: Sequence[Dataset],
    segmentation: Dataset | None,
    series_instance_uid: str,
    series_number: int,
    ncct: Mapping[str, Any] | None = None,
    ncct_images: Sequence[Dataset] = (),
    haemorrhage_segmentation: Dataset | None = None,
) -> hd.sr.Comprehensive3DSR | None:
    """The TID 1500 report, or None when no block has status ``ok``.

    ``ctp_images`` / ``cta_images`` / ``ncct_images`` are the source images (one time frame for
    the CTP); all of them are recorded as evidence, the middle one is the group's source image.
    ``segmentation`` (the SEG built from the same CTP images) is referenced segment by segment;
    ``haemorrhage_segmentation`` (the NCCT's SEG) is recorded as evidence.
    The blocks are read through the typed contract (:mod:`strokealert.contracts.analysis`).
    """
    groups: list[Any] = []
    procedures: list[hd.sr.CodedConcept] = []
    evidence: list[Dataset] = []
    if perfusion is not None and perfusion.get("status") == "ok" and ctp_images:
        middle = ctp_images[len(ctp_images) // 2]
        groups += perfusion_groups(PerfusionBlock.model_validate(perfusion), segmentation,
                                   middle)
        procedures.append(CTP_PROCEDURE)
        evidence += ([segmentation] if segmentation is not None else []) + list(ctp_images)
    if lvo is not None and lvo.get("status") == "ok" and cta_images:
        groups.append(lvo_group(LvoBlock.model_validate(lvo), cta_images[len(cta_images) // 2]))
        procedures.append(CTA_LVO_PROCEDURE)
        evidence += list(cta_images)
    if ncct is not None and ncct.get("status") == "ok" and ncct_images:
        ncct_found = ncct_groups(NcctBlock.model_validate(ncct),
                                 ncct_images[len(ncct_images) // 2])
        if ncct_found:
            groups += ncct_found
            procedures.append(NCCT_PROCEDURE)
            evidence += ([haemorrhage_segmentation] if haemorrhage_segmentation is not None
                         else []) + list(ncct_images)
    if not groups:
        return None
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(),
        procedure_reported=procedures,
        imaging_measurements=groups,
        title=_code(codes.cid7021.ImagingMeasurementReport),
    )
    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=new_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        series_description=f"Stroke measurements ({NOT_FOR_DIAGNOSTIC_USE.lower()})",
        coding_schemes=[LOCAL_SCHEME_ITEM],
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )
