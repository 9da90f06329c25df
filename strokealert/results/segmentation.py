"""Binary DICOM Segmentations: ischaemic core and Tmax>6 s hypoperfusion on the CTP, and the
haemorrhage (one segment per kind of blood) on the NCCT.

The perfusion masks are (z, y, x) booleans on the CTP slice grid: z follows rising table
position (as :func:`strokealert.results.common.first_time_frame` orders the source), y/x are
image rows and columns. Masks computed on a block-averaged grid (perfusion's working resolution,
an integer factor coarser in-plane) are expanded back to the source pixels by nearest neighbour.
The haemorrhage label map is on the NCCT volume's LPS grid (:mod:`strokealert.dicom.volume`:
columns towards patient left, rows towards posterior) and is turned back to the source images'
row/column order here.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from strokealert.results.common import (
    DEVICE_SERIAL,
    MANUFACTURER,
    MODEL_NAME,
    NOT_FOR_DIAGNOSTIC_USE,
    SOFTWARE_VERSION,
    new_uid,
)

# Segmented property category and types (SNOMED CT, CID 7150 / 7151 families).
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = hd.sr.CodedConcept(
    "49755003", "SCT", "Morphologically Abnormal Structure")
INFARCT = hd.sr.CodedConcept("55641003", "SCT", "Infarct")
ISCHEMIA = hd.sr.CodedConcept("52674009", "SCT", "Ischemia")
HEMORRHAGE = hd.sr.CodedConcept("50960005", "SCT", "Hemorrhage")
BRAIN = hd.sr.CodedConcept(codes.SCT.Brain.value, "SCT", codes.SCT.Brain.meaning)

CORE_SEGMENT = 1
HYPOPERFUSION_SEGMENT = 2
CORE_LABEL = "Ischemic core (rCBF<30%)"
HYPOPERFUSION_LABEL = "Hypoperfusion (Tmax>6s)"


def algorithm_identification() -> hd.AlgorithmIdentificationSequence:
    """The algorithm behind the perfusion segments: deconvolution maps, then thresholds."""
    return hd.AlgorithmIdentificationSequence(
        name="strokealert perfusion",
        family=codes.DCM.ImageProcessing,
        parameters={"core": "rCBF < 30 %", "hypoperfusion": "Tmax > 6 s"},
        version=SOFTWARE_VERSION,
    )


def _descriptions(
    algorithm: hd.AlgorithmIdentificationSequence,
    segments: Sequence[tuple[str, hd.sr.CodedConcept, str, tuple[float, float, float]]],
) -> list[hd.seg.SegmentDescription]:
    """Segments numbered from 1: (label, property type, tracking id, CIELab colour) each."""
    return [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
            segmented_property_type=property_type,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=new_uid(),
            tracking_id=tracking_id,
            anatomic_regions=[BRAIN],
            display_color=hd.color.CIELabColor(*lab),
        )
        for number, (label, property_type, tracking_id, lab) in enumerate(segments, start=1)
    ]


def segment_descriptions() -> list[hd.seg.SegmentDescription]:
    """Segment 1: core (Infarct); segment 2: Tmax>6 s hypoperfusion (Ischemia)."""
    return _descriptions(algorithm_identification(), (
        (CORE_LABEL, INFARCT, "ischemic core", (50.0, 70.0, 50.0)),
        (HYPOPERFUSION_LABEL, ISCHEMIA, "hypoperfusion tmax6", (80.0, 0.0, 80.0)),
    ))


def to_source_grid(mask: np.ndarray, slices: int, rows: int, columns: int) -> np.ndarray:
    """``mask`` (z, y, x) as booleans on the (slices, rows, columns) source grid.

    A mask an integer factor coarser in-plane (block averaging that dropped the remainder)
    is repeated back and padded with False; any other mismatch is a ValueError.
    """
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 3 or mask.shape[0] != slices:
        raise ValueError(f"mask shape {mask.shape} does not match {slices} source slices")
    if mask.shape[1:] == (rows, columns):
        return mask
    factor = rows // mask.shape[1] if mask.shape[1] else 0
    if factor < 2 or rows // factor != mask.shape[1] or columns // factor != mask.shape[2]:
        raise ValueError(f"mask shape {mask.shape} does not fit source images {rows}x{columns}")
    expanded = np.zeros((slices, rows, columns), dtype=bool)
    block = np.repeat(np.repeat(mask, factor, axis=1), factor, axis=2)
    expanded[:, : block.shape[1], : block.shape[2]] = block
    return expanded


def build_segmentation(
    source_images: Sequence[Dataset],
    core_mask: np.ndarray,
    hypoperfusion_mask: np.ndarray,
    *,
    series_instance_uid: str,
    series_number: int,
) -> hd.seg.Segmentation:
    """A BINARY SEG with the core and hypoperfusion segments over ``source_images``.

    ``source_images`` are one time frame of the CTP, one dataset per slice, ordered as the
    masks' z axis (see :func:`strokealert.results.common.first_time_frame`); pixel data is not
    needed.
    """
    if not source_images:
        raise ValueError("a segmentation needs its source images")
    rows, columns = int(source_images[0].Rows), int(source_images[0].Columns)
    slices = len(source_images)
    core = to_source_grid(core_mask, slices, rows, columns)
    hypo = to_source_grid(hypoperfusion_mask, slices, rows, columns)
    labels = np.stack([core, hypo], axis=-1)  # (z, y, x, segments)
    return _binary_segmentation(
        source_images, labels, segment_descriptions(), series_instance_uid, series_number,
        label="PERFUSION", content="Core and Tmax>6s", series="Perfusion core/penumbra SEG")


def _binary_segmentation(
    source_images: Sequence[Dataset], labels: np.ndarray,
    descriptions: Sequence[hd.seg.SegmentDescription], series_instance_uid: str,
    series_number: int, *, label: str, content: str, series: str,
) -> hd.seg.Segmentation:
    """A BINARY SEG of ``labels`` (z, y, x, segments) over ``source_images``, by this device,
    marked not for diagnostic use; every (empty) frame is kept when nothing is segmented."""
    caveat = NOT_FOR_DIAGNOSTIC_USE.lower()
    return hd.seg.Segmentation(
        source_images=list(source_images),
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=list(descriptions),
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=new_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL_NAME,
        software_versions=SOFTWARE_VERSION,
        device_serial_number=DEVICE_SERIAL,
        content_label=label,
        content_description=f"{content}, {caveat}",
        series_description=f"{series} ({caveat})",
        transfer_syntax_uid=ExplicitVRLittleEndian,
        omit_empty_frames=bool(labels.any()),
    )


def haemorrhage_label(kind: str) -> str:
    """The segment label of one kind of blood, e.g. ``Intraparenchymal haemorrhage``."""
    return f"{kind[:1].upper()}{kind[1:]} haemorrhage"


def to_source_orientation(volume: np.ndarray, source: Dataset) -> np.ndarray:
    """A (z, y, x) array on the LPS grid (columns towards patient left, rows towards posterior)
    in ``source``'s row/column order: the flips :func:`strokealert.dicom.volume.read_volume`
    made, undone."""
    orientation = [float(v) for v in source.ImageOrientationPatient]
    if orientation[0] < 0:
        volume = volume[:, :, ::-1]
    if orientation[4] < 0:
        volume = volume[:, ::-1, :]
    return np.ascontiguousarray(volume)


def build_haemorrhage_segmentation(
    source_images: Sequence[Dataset],
    blood_labels: np.ndarray,
    kinds: Sequence[str],
    *,
    series_instance_uid: str,
    series_number: int,
) -> hd.seg.Segmentation | None:
    """A BINARY SEG over the NCCT with one segment per kind of blood present, or None when the
    label map holds no blood.

    ``blood_labels`` is (z, y, x) uint8 on the NCCT's LPS grid, 0 for no blood and ``1 + i`` for
    ``kinds[i]``; ``source_images`` one dataset per slice ordered as its z axis (rising
    position, :func:`strokealert.results.common.first_time_frame`).
    """
    if not source_images:
        raise ValueError("a segmentation needs its source images")
    first = source_images[0]
    labels = to_source_orientation(np.asarray(blood_labels), first)
    expected = (len(source_images), int(first.Rows), int(first.Columns))
    if labels.shape != expected:
        raise ValueError(f"blood label map {labels.shape} does not fit the NCCT {expected}")
    present = [index for index in range(1, len(kinds) + 1) if np.any(labels == index)]
    if not present:
        return None
    algorithm = hd.AlgorithmIdentificationSequence(
        name="strokealert ncct", family=codes.DCM.ImageProcessing, version=SOFTWARE_VERSION)
    descriptions = _descriptions(algorithm, [
        (haemorrhage_label(kinds[index - 1]), HEMORRHAGE, f"haemorrhage {kinds[index - 1]}",
         (55.0, 75.0, 45.0)) for index in present])
    return _binary_segmentation(
        source_images, np.stack([labels == index for index in present], axis=-1), descriptions,
        series_instance_uid, series_number, label="HAEMORRHAGE", content="Haemorrhage on NCCT",
        series="NCCT haemorrhage SEG")
