"""4-D assembly of a CT perfusion series from DICOM files.

Images are grouped by table position (ImagePositionPatient projected on the slice normal) and
ordered by acquisition time, never by instance number (scanners reverse or shuffle those).
The frame time of each image comes from the first of AcquisitionDateTime, AcquisitionTime,
ContentTime, TriggerTime and GE's private (0019,xx24) that varies over the series. Each table
position keeps its own times: shuttle mode (alternating table positions), irregular sampling
and a missing frame are all handled by resampling every position onto one regular time grid
covering the times all positions share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from perfusion.errors import PerfusionError

POSITION_DECIMALS = 2


@dataclass
class Series4D:
    """Frames (t, z, y, x) in HU on a regular time grid, with geometry and provenance."""

    frames: np.ndarray
    times: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray  # voxel (x, y, z) index -> LPS mm, 4x4
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    frame_of_reference_uid: str = ""
    sop_instance_uids: list[str] = field(default_factory=list)
    time_source: str = ""
    notes: list[str] = field(default_factory=list)


def _datetime_seconds(date: str, time: str) -> float | None:
    text = f"{date}{time}".strip()
    if not text:
        return None
    head, _, frac = text.partition(".")
    try:
        moment = datetime.strptime(head[:14].ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return moment.timestamp() + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def _time_only_seconds(time: str) -> float | None:
    text = str(time).strip()
    if len(text) < 2:
        return None
    head, _, frac = text.partition(".")
    head = head.ljust(6, "0")
    try:
        hours, minutes, seconds = int(head[:2]), int(head[2:4]), int(head[4:6])
    except ValueError:
        return None
    return hours * 3600 + minutes * 60 + seconds + (float(f"0.{frac}") if frac.isdigit() else 0)


def _ge_private_time(ds: Dataset) -> float | None:
    """GE's per-image time (s) in (0019,xx24) of private creator GEMS_ACQU_01."""
    for offset in range(0x10, 0x100):
        creator = ds.get((0x0019, offset))
        if creator is not None and str(creator.value).strip() == "GEMS_ACQU_01":
            element = ds.get((0x0019, (offset << 8) | 0x24))
            if element is None:
                return None
            try:
                value = element.value
                if isinstance(value, bytes):
                    value = value.decode("ascii", "ignore").strip("\x00 ")
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def _time_candidates(ds: Dataset) -> dict[str, float | None]:
    acq_dt = ds.get("AcquisitionDateTime")
    date = str(ds.get("AcquisitionDate", "") or ds.get("ContentDate", "") or "")
    trigger = ds.get("TriggerTime")
    return {
        "AcquisitionDateTime": _datetime_seconds(str(acq_dt), "") if acq_dt else None,
        "AcquisitionTime": (_datetime_seconds(date, str(ds.AcquisitionTime)) if date and
                            ds.get("AcquisitionTime") else
                            _time_only_seconds(ds.get("AcquisitionTime", "") or "")),
        "ContentTime": (_datetime_seconds(str(ds.get("ContentDate", "") or date),
                                          str(ds.ContentTime)) if ds.get("ContentTime")
                        else None),
        "TriggerTime": float(trigger) / 1000.0 if trigger not in (None, "") else None,
        "GE private (0019,xx24)": _ge_private_time(ds),
    }


def _pixels_hu(ds: Dataset) -> np.ndarray:
    """The image in HU (float32): stored values with sign and rescale slope/intercept."""
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    rows, cols = int(ds.Rows), int(ds.Columns)
    if syntax is not None and not syntax.is_compressed and int(ds.BitsAllocated) == 16:
        dtype = np.dtype("<i2" if int(ds.PixelRepresentation) == 1 else "<u2")
        if not syntax.is_little_endian:
            dtype = dtype.newbyteorder(">")
        stored = np.frombuffer(ds.PixelData, dtype=dtype, count=rows * cols).reshape(rows, cols)
        bits = int(ds.get("BitsStored", 16))
        if int(ds.PixelRepresentation) == 0 and bits < 16:
            stored = stored & np.uint16((1 << bits) - 1)
        elif int(ds.PixelRepresentation) == 1 and bits < 16:
            shift = 16 - bits
            stored = (stored.astype(np.int16) << shift) >> shift
    else:
        stored = ds.pixel_array
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def read_datasets(paths: Sequence[Path]) -> list[Dataset]:
    """Read the files (with pixels); unreadable ones are skipped, none readable is an error."""
    datasets: list[Dataset] = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path)
        except Exception:  # noqa: BLE001 - any unreadable file is skipped, not fatal
            continue
        if "PixelData" in ds and "ImagePositionPatient" in ds:
            datasets.append(ds)
    if not datasets:
        raise PerfusionError("no readable CT perfusion images in the series")
    return datasets


def _readable_geometry(ds: Dataset) -> tuple[int, int] | None:
    """The image's (Rows, Columns) when its position, orthonormal orientation, positive pixel
    spacing and matrix all parse; None when the image cannot be placed in the volume."""
    try:
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
        spacing = np.array([float(v) for v in ds.PixelSpacing])
        matrix = (int(ds.Rows), int(ds.Columns))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if position.shape != (3,) or orientation.shape != (6,) or spacing.shape != (2,) \
            or not (np.all(np.isfinite(position)) and np.all(np.isfinite(orientation))
                    and np.all(spacing > 0) and min(matrix) > 0):
        return None
    row, col = orientation[:3], orientation[3:]
    if not (abs(np.linalg.norm(row) - 1) < 0.01 and abs(np.linalg.norm(col) - 1) < 0.01
            and abs(float(row @ col)) < 0.01):
        return None
    return matrix


def placeable(datasets: Sequence[Dataset]) -> tuple[list[Dataset], int]:
    """The images whose geometry parses and whose matrix is the series' most common one, and
    how many were left out."""
    matrices = [_readable_geometry(ds) for ds in datasets]
    readable = [m for m in matrices if m is not None]
    if not readable:
        raise PerfusionError("no CT perfusion image has a readable position, orientation and "
                             "pixel spacing")
    matrix = max(set(readable), key=readable.count)
    kept = [ds for ds, m in zip(datasets, matrices, strict=True) if m == matrix]
    return kept, len(datasets) - len(kept)


def _slice_geometry(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    return row_dir, col_dir, normal


def _choose_time_source(candidates: list[dict[str, float | None]],
                        positions: np.ndarray) -> tuple[str, np.ndarray]:
    """The first source that is present everywhere and varies at one table position."""
    some_position = positions == positions[0]
    for name in candidates[0]:
        values = [c[name] for c in candidates]
        if any(v is None for v in values):
            continue
        times = np.array(values, dtype=float)
        if np.ptp(times[some_position]) > 1e-3:
            return name, times
    raise PerfusionError("the images carry no usable acquisition times (all identical or "
                         "missing), so the time course cannot be rebuilt")


def regular_grid(times_per_position: Sequence[np.ndarray]) -> np.ndarray:
    """One regular grid over the times all positions share; step = the shortest typical step."""
    start = max(float(t[0]) for t in times_per_position)
    stop = min(float(t[-1]) for t in times_per_position)
    steps = np.concatenate([np.diff(t) for t in times_per_position])
    steps = steps[steps > 1e-3]
    if stop <= start or steps.size == 0:
        raise PerfusionError("the table positions share no common time span")
    step = float(np.percentile(steps, 10))
    step = max(step, (stop - start) / 200.0)
    count = int(np.floor((stop - start) / step + 1e-6)) + 1
    return start + step * np.arange(count)


def resample_time(frames: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of frames (t, ...) from ``times`` onto ``grid`` (vectorised)."""
    idx = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, times.size - 2)
    weight = ((grid - times[idx]) / (times[idx + 1] - times[idx])).astype(np.float32)
    shape = (-1,) + (1,) * (frames.ndim - 1)
    resampled: np.ndarray = (frames[idx] * (1 - weight.reshape(shape))
                             + frames[idx + 1] * weight.reshape(shape)).astype(np.float32)
    return resampled


def is_regular(times: np.ndarray, tolerance: float = 0.05) -> bool:
    """True when all steps equal the median step within ``tolerance`` (relative)."""
    steps = np.diff(times)
    median = np.median(steps) if steps.size else 0.0
    return bool(steps.size and np.all(np.abs(steps - median) <= tolerance * median))


def assemble(datasets: Sequence[Dataset]) -> Series4D:
    """Build the 4-D series from the datasets of one CTP series (see module doc)."""
    notes: list[str] = []
    datasets, unplaceable = placeable(datasets)
    if unplaceable:
        notes.append(f"{unplaceable} image(s) with unreadable or inconsistent geometry left out")
    series_uids = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series_uids) > 1:
        notes.append(f"{len(series_uids)} series given; each image placed by position and time")
    row_dir, col_dir, normal = _slice_geometry(datasets[0])
    positions = np.array([np.dot(normal, [float(v) for v in ds.ImagePositionPatient])
                          for ds in datasets]).round(POSITION_DECIMALS)
    candidates = [_time_candidates(ds) for ds in datasets]
    source, image_times = _choose_time_source(candidates, positions)

    unique_positions = np.unique(positions)
    per_position: list[tuple[np.ndarray, list[int]]] = []
    for position in unique_positions:
        members = np.flatnonzero(positions == position)
        order = members[np.argsort(image_times[members], kind="stable")]
        times = image_times[order]
        keep = np.concatenate([[True], np.diff(times) > 1e-3])  # duplicates of one time
        if not keep.all():
            notes.append(f"{int((~keep).sum())} duplicate image(s) at {position:.1f} mm ignored")
        per_position.append((times[keep], list(order[keep])))
    counts = [t.size for t, _ in per_position]
    if max(counts) < 2:
        raise PerfusionError("the series has a single time point: it is not a perfusion series")
    if min(counts) != max(counts):
        short = [f"{p:.1f} mm" for p, c in zip(unique_positions, counts, strict=True)
                 if c < max(counts)]
        notes.append(f"missing frame(s) at {', '.join(short)}: interpolated in time")
    sparse = [i for i, c in enumerate(counts) if c < max(2, max(counts) // 2)]
    if sparse:
        raise PerfusionError(f"{len(sparse)} table position(s) have too few time points "
                             f"(fewer than half of {max(counts)}): incomplete series")
    t0 = min(float(t[0]) for t, _ in per_position)
    rel_times = [t - t0 for t, _ in per_position]
    starts = np.array([t[0] for t in rel_times])
    if np.ptp(starts) > 0.25 * np.median(np.diff(rel_times[0])):
        notes.append("table positions sampled at different times (shuttle mode): "
                     "each position resampled onto a common time grid")
    grid = regular_grid(rel_times)
    if not all(is_regular(t) for t in rel_times):
        notes.append(f"irregular sampling resampled to a regular {grid[1] - grid[0]:.2f} s grid")

    rows, cols = int(datasets[0].Rows), int(datasets[0].Columns)
    frames = np.empty((grid.size, unique_positions.size, rows, cols), dtype=np.float32)
    for z, (times, in_time) in enumerate(per_position):
        if times.size == grid.size and np.allclose(times - t0, grid, atol=1e-3):
            for k, i in enumerate(in_time):  # already on the grid: no interpolation
                frames[k, z] = _pixels_hu(datasets[i])
        else:
            images = np.stack([_pixels_hu(datasets[i]) for i in in_time])
            frames[:, z] = resample_time(images, times - t0, grid)

    pixel = [float(v) for v in datasets[0].PixelSpacing]  # row spacing, column spacing
    slice_gap = float(np.median(np.diff(unique_positions))) if unique_positions.size > 1 else \
        float(datasets[0].get("SliceThickness", 5.0) or 5.0)
    gaps = np.diff(unique_positions)
    if gaps.size and np.any(gaps > 1.5 * slice_gap):
        notes.append("a table position is missing (gap in slice positions)")
    first = np.flatnonzero(positions == unique_positions[0])[0]
    origin = np.array([float(v) for v in datasets[first].ImagePositionPatient])
    affine = np.eye(4)
    affine[:3, 0] = row_dir * pixel[1]
    affine[:3, 1] = col_dir * pixel[0]
    affine[:3, 2] = normal * slice_gap
    affine[:3, 3] = origin
    ref = datasets[first]
    return Series4D(
        frames=frames, times=grid - grid[0], spacing=(slice_gap, pixel[0], pixel[1]),
        affine=affine, study_instance_uid=str(ref.get("StudyInstanceUID", "")),
        series_instance_uid=str(ref.get("SeriesInstanceUID", "")),
        frame_of_reference_uid=str(ref.get("FrameOfReferenceUID", "")),
        sop_instance_uids=[str(ds.SOPInstanceUID) for ds in datasets], time_source=source,
        notes=notes,
    )


def load_series(paths: Sequence[Path]) -> Series4D:
    """Read and assemble the DICOM files of one CT perfusion series."""
    return assemble(read_datasets(paths))
