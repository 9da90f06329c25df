"""Key images (RGB) as DICOM Secondary Capture in the patient's study.

The image gets a "NOT FOR DIAGNOSTIC USE" band burned into its pixels (so Burned In
Annotation is truthfully YES) and references the source series it was derived from, with the
source's patient and study modules copied so PACS files it under the same study.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from strokealert.results.common import (
    MANUFACTURER,
    MODEL_NAME,
    NOT_FOR_DIAGNOSTIC_USE,
    SOFTWARE_VERSION,
    new_uid,
)

BAND_HEIGHT_PX = 24
BAND_TEXT_RGB = (255, 200, 0)


def burn_in_disclaimer(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (rows, columns, 3) uint8 with a black band below it saying NOT FOR DIAGNOSTIC USE."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"key image must be (rows, columns, 3) RGB, got shape {rgb.shape}")
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    rows, columns = image.shape[:2]
    band = Image.new("RGB", (columns, BAND_HEIGHT_PX), (0, 0, 0))
    draw = ImageDraw.Draw(band)
    font = ImageFont.load_default(size=14)
    text = f"{NOT_FOR_DIAGNOSTIC_USE} - strokealert {SOFTWARE_VERSION}"
    width = draw.textlength(text, font=font)
    draw.text((max(2.0, (columns - width) / 2), 4), text, fill=BAND_TEXT_RGB, font=font)
    return np.concatenate([image, np.asarray(band, dtype=np.uint8)], axis=0)


def build_secondary_capture(
    rgb: np.ndarray,
    source_images: Sequence[Dataset],
    *,
    description: str,
    series_instance_uid: str,
    series_number: int,
    instance_number: int = 1,
) -> hd.sc.SCImage:
    """One SC image of ``rgb`` (uint8 RGB) derived from ``source_images`` (one series).

    Patient and study attributes come from ``source_images[0]``; every source image is listed
    in the Source Image Sequence. ``description`` becomes the series description.
    """
    if not source_images:
        raise ValueError("a secondary capture needs its source images")
    reference = source_images[0]
    pixels = burn_in_disclaimer(rgb)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=reference,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series_instance_uid,
        series_number=series_number,
        sop_instance_uid=new_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "P"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=f"{description} ({NOT_FOR_DIAGNOSTIC_USE.lower()})",
        manufacturer_model_name=MODEL_NAME,
        software_versions=SOFTWARE_VERSION,
    )
    sc.BurnedInAnnotation = "YES"
    sc.RecognizableVisualFeatures = "NO"
    sc.ImageComments = NOT_FOR_DIAGNOSTIC_USE
    sc.DerivationDescription = f"{description}, computed by strokealert {SOFTWARE_VERSION}"
    if "FrameOfReferenceUID" in reference:
        sc.FrameOfReferenceUID = reference.FrameOfReferenceUID
    sc.SourceImageSequence = [_instance_reference(source) for source in source_images]
    # Common Instance Reference module: the source series, so a viewer can open it.
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = reference.SeriesInstanceUID
    series_ref.ReferencedInstanceSequence = [_instance_reference(s) for s in source_images]
    sc.ReferencedSeriesSequence = [series_ref]
    return sc


def _instance_reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item
