"""Synthetic DICOM writer: realistic CT Image Storage files from arrays in HU.

Used by the phantoms (perfusion, LVO, whole study) and by the tests. Files carry a full CT
tag set: patient/study/series/frame-of-reference modules, geometry (LPS, mm), rescale,
acquisition and content times (local time with TimezoneOffsetFromUTC) and, when asked, the
vendor conventions the receiver and the perfusion reader must cope with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

UID_ROOT = "1.2.826.0.1.3680043.10.1456."  # strokealert synthetic data


def new_uid() -> UID:
    """A fresh UID under the strokealert synthetic-data root."""
    return generate_uid(prefix=UID_ROOT)


@dataclass(frozen=True)
class Patient:
    """Synthetic identity: every field is PHI as far as the alert path is concerned."""

    name: str = "DOE^JANE"
    patient_id: str = "MRN0012345"
    birth_date: str = "19510314"
    sex: str = "F"


@dataclass(frozen=True)
class StudyInfo:
    """Study-level attributes; ``study_datetime`` is scanner local time."""

    study_instance_uid: str = field(default_factory=new_uid)
    study_datetime: datetime = field(default_factory=lambda: datetime(2026, 3, 14, 2, 41, 7))
    accession_number: str = "ACC20260314001"
    description: str = "CT STROKE PROTOCOL"
    patient: Patient = field(default_factory=Patient)
    institution: str = "Synthetic General Hospital"
    timezone_offset: str | None = "+0000"
    frame_of_reference_uid: str = field(default_factory=new_uid)


@dataclass(frozen=True)
class SeriesInfo:
    """Series-level attributes. ``contrast`` adds the contrast/bolus module."""

    series_instance_uid: str = field(default_factory=new_uid)
    series_number: int = 1
    description: str = "Head"
    manufacturer: str = "SIEMENS"
    model: str = "SOMATOM Force"
    protocol_name: str = "Stroke"
    kvp: float = 80.0
    kernel: str = "Hr36"
    contrast: bool = False
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    body_part: str = "HEAD"


def _da_tm(moment: datetime) -> tuple[str, str]:
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S.%f")


def ct_slice(
    pixels_hu: np.ndarray,
    *,
    study: StudyInfo,
    series: SeriesInfo,
    instance_number: int,
    position_mm: Sequence[float],
    pixel_spacing_mm: Sequence[float],
    slice_thickness_mm: float,
    acquisition_datetime: datetime,
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    signed: bool = False,
    sop_instance_uid: str | None = None,
    extra: dict[str, Any] | None = None,
    private: Sequence[tuple[int, str, Any]] = (),
) -> Dataset:
    """One CT Image Storage dataset from a 2-D array in HU (rows, columns).

    ``signed=False`` stores uint16 with RescaleIntercept −1024; ``signed=True`` stores int16
    with intercept 0. ``extra`` sets further keywords; ``private`` adds (tag, VR, value) elements
    (a private creator must be among them where a vendor uses one).
    """
    if pixels_hu.ndim != 2:
        raise ValueError("pixels_hu must be 2-D (rows, columns)")
    sop_uid = sop_instance_uid or new_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta

    study_date, study_time = _da_tm(study.study_datetime)
    acq_date, acq_time = _da_tm(acquisition_datetime)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(series.image_type)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate, ds.StudyTime = study_date, study_time
    ds.SeriesDate, ds.SeriesTime = acq_date, acq_time
    ds.AcquisitionDate, ds.AcquisitionTime = acq_date, acq_time
    ds.ContentDate, ds.ContentTime = acq_date, acq_time
    ds.AcquisitionDateTime = acquisition_datetime.strftime("%Y%m%d%H%M%S.%f")
    if study.timezone_offset is not None:
        ds.TimezoneOffsetFromUTC = study.timezone_offset
    ds.AccessionNumber = study.accession_number
    ds.Modality = "CT"
    ds.Manufacturer = series.manufacturer
    ds.InstitutionName = study.institution
    ds.ReferringPhysicianName = "REFERRER^SYNTHETIC"
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.ManufacturerModelName = series.model
    ds.PatientName = study.patient.name
    ds.PatientID = study.patient.patient_id
    ds.PatientBirthDate = study.patient.birth_date
    ds.PatientSex = study.patient.sex
    ds.BodyPartExamined = series.body_part
    ds.SliceThickness = f"{slice_thickness_mm:.3f}"
    ds.KVP = f"{series.kvp:g}"
    ds.ProtocolName = series.protocol_name
    ds.ConvolutionKernel = series.kernel
    ds.PatientPosition = "HFS"
    if series.contrast:
        ds.ContrastBolusAgent = "IOPAMIDOL 370"
        ds.ContrastBolusRoute = "IV"
    ds.StudyInstanceUID = study.study_instance_uid
    ds.SeriesInstanceUID = series.series_instance_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series.series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [f"{v:.4f}" for v in position_mm]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = f"{float(position_mm[2]):.4f}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels_hu.shape[0]), int(pixels_hu.shape[1])
    ds.PixelSpacing = [f"{float(v):.6f}" for v in pixel_spacing_mm]
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "80"
    ds.RescaleIntercept = "0" if signed else "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    for tag, vr, value in private:
        ds.add_new(tag, vr, value)

    if signed:
        stored = np.clip(np.rint(pixels_hu), -32768, 32767).astype("<i2")
    else:
        stored = np.clip(np.rint(pixels_hu) + 1024, 0, 4095).astype("<u2")
    ds.PixelData = stored.tobytes()
    return ds


def save(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (explicit VR little endian)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_volume(
    volume_hu: np.ndarray,
    out_dir: Path,
    *,
    study: StudyInfo,
    series: SeriesInfo,
    spacing_mm: Sequence[float],
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
    acquisition_datetime: datetime | None = None,
    seconds_per_slice: float = 0.0,
    signed: bool = False,
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a (z, y, x) volume as one file per slice; z rises towards the head (LPS +z).

    ``spacing_mm`` is (z, row, column); ``origin_mm`` the LPS position of voxel (0, 0, 0).
    """
    acquired = acquisition_datetime or study.study_datetime
    paths = []
    for z in range(volume_hu.shape[0]):
        position = (origin_mm[0], origin_mm[1], origin_mm[2] + z * spacing_mm[0])
        ds = ct_slice(
            volume_hu[z],
            study=study,
            series=series,
            instance_number=z + 1,
            position_mm=position,
            pixel_spacing_mm=(spacing_mm[1], spacing_mm[2]),
            slice_thickness_mm=float(spacing_mm[0]),
            acquisition_datetime=acquired + timedelta(seconds=z * seconds_per_slice),
            signed=signed,
            extra={"ImagesInAcquisition": volume_hu.shape[0], **(extra or {})},
        )
        paths.append(save(ds, out_dir / f"CT{z + 1:05d}.dcm"))
    return paths


def write_centred_volume(
    volume_hu: np.ndarray,
    out_dir: Path,
    *,
    series: SeriesInfo,
    spacing_mm: Sequence[float],
    origin_mm: Sequence[float] | None = None,
) -> list[Path]:
    """Write a (z, y, x) HU volume as signed 16-bit slices of a new synthetic study, centred
    on the scanner's isocentre unless ``origin_mm`` (LPS of voxel (0, 0, 0)) places it."""
    dz, dy, dx = (float(v) for v in spacing_mm)
    nz, ny, nx = volume_hu.shape
    origin = origin_mm if origin_mm is not None else (
        -(nx - 1) * dx / 2, -(ny - 1) * dy / 2, -(nz - 1) * dz / 2)
    return write_volume(np.asarray(np.round(volume_hu), dtype=np.int16), out_dir,
                        study=StudyInfo(), series=series, spacing_mm=(dz, dy, dx),
                        origin_mm=tuple(float(v) for v in origin), signed=True)


def write_dynamic(
    frames_hu: np.ndarray,
    frame_times_s: Sequence[float] | np.ndarray,
    out_dir: Path,
    *,
    study: StudyInfo,
    series: SeriesInfo,
    spacing_mm: Sequence[float],
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
    start: datetime | None = None,
    signed: bool = False,
    extra: dict[str, Any] | None = None,
    private_time_tag: bool = False,
) -> list[Path]:
    """Write a (t, z, y, x) perfusion series: the same table positions repeated over time.

    Instance numbers run time-major (1..T*Z). Headers carry NumberOfTemporalPositions,
    TemporalPositionIndex and ImagesInAcquisition = Z, so the expected count is T*Z.
    ``private_time_tag`` adds GE's private per-image time (0019,xx24) in seconds.
    """
    n_t, n_z = frames_hu.shape[:2]
    if len(frame_times_s) != n_t:
        raise ValueError("one time per frame is needed")
    t0 = start or study.study_datetime
    paths = []
    for t in range(n_t):
        moment = t0 + timedelta(seconds=float(frame_times_s[t]))
        for z in range(n_z):
            number = t * n_z + z + 1
            private: list[tuple[int, str, Any]] = []
            if private_time_tag:
                private = [(0x00190010, "LO", "GEMS_ACQU_01"),
                           (0x00191024, "DS", f"{float(frame_times_s[t]):.3f}")]
            ds = ct_slice(
                frames_hu[t, z],
                study=study,
                series=series,
                instance_number=number,
                position_mm=(origin_mm[0], origin_mm[1], origin_mm[2] + z * spacing_mm[0]),
                pixel_spacing_mm=(spacing_mm[1], spacing_mm[2]),
                slice_thickness_mm=float(spacing_mm[0]),
                acquisition_datetime=moment,
                signed=signed,
                extra={
                    "ImagesInAcquisition": n_z,
                    "NumberOfTemporalPositions": n_t,
                    "TemporalPositionIndex": t + 1,
                    "TemporalPositionIdentifier": t + 1,
                    **(extra or {}),
                },
                private=private,
            )
            paths.append(save(ds, out_dir / f"CT{number:05d}.dcm"))
    return paths
