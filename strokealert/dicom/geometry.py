"""Slice geometry screening: which images of a series can be placed in its volume, and why not.

An image is excluded when its geometry is unreadable (ImagePositionPatient not three numbers,
ImageOrientationPatient not two orthonormal direction cosines, PixelSpacing not two positive
numbers, Rows/Columns not positive) or inconsistent with the rest of its series (another matrix,
orientation or pixel spacing than most of its images; two different images at one position and
time). Headers only: pixel data is read solely to tell a re-sent copy from a conflicting image.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strokealert.dicom.classify import Header, SliceInfo, numbers, safe_get, slice_info

ORTHONORMAL_TOLERANCE = 0.01  # |norm − 1| and |row·col| allowed for the direction cosines
ORIENTATION_TOLERANCE = 0.01  # largest cosine difference to the series' orientation
SPACING_TOLERANCE = 0.01  # relative pixel-spacing difference to the series'
POSITION_DECIMALS = 2  # mm: two images closer than this share a position


def positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@dataclass(frozen=True)
class SliceGeometry:
    """The geometry of one image: position and direction cosines (LPS mm), spacing, matrix."""

    position: tuple[float, ...]
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, ...]
    rows: int
    columns: int


def read_geometry(header: Header) -> SliceGeometry | str:
    """The image's geometry, or the reason it cannot be placed (e.g. ``unreadable PixelSpacing``).
    """
    position = numbers(safe_get(header, "ImagePositionPatient"), 3)
    if position is None:
        return "unreadable ImagePositionPatient"
    orientation = numbers(safe_get(header, "ImageOrientationPatient"), 6)
    if orientation is None or not orthonormal(orientation):
        return "unreadable ImageOrientationPatient"
    spacing = numbers(safe_get(header, "PixelSpacing"), 2)
    if spacing is None or min(spacing) <= 0:
        return "unreadable PixelSpacing"
    rows = positive_int(safe_get(header, "Rows"))
    columns = positive_int(safe_get(header, "Columns"))
    if rows is None or columns is None:
        return "unreadable Rows/Columns"
    return SliceGeometry(position, orientation, spacing, rows, columns)


def orthonormal(orientation: Sequence[float]) -> bool:
    """True when the row and column cosines are unit vectors at right angles."""
    row, col = orientation[:3], orientation[3:]
    dot = sum(a * b for a, b in zip(row, col, strict=True))
    return (abs(math.hypot(*row) - 1) <= ORTHONORMAL_TOLERANCE
            and abs(math.hypot(*col) - 1) <= ORTHONORMAL_TOLERANCE
            and abs(dot) <= ORTHONORMAL_TOLERANCE)


@dataclass
class Screening:
    """Indices of the images kept (in input order), and the excluded count per reason."""

    kept: list[int] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    copies: int = 0  # re-sent copies of a kept image, set aside (not a loss)


def _majority(values: Sequence[Any]) -> Any:
    return Counter(values).most_common(1)[0][0]


def _same_time_key(info: SliceInfo) -> tuple[Any, ...]:
    return (info.temporal_index, info.acquisition_number, info.time_s)


def screen_series(headers: Sequence[Header],
                  pixel_digest: Callable[[int], str | None] | None = None) -> Screening:
    """Decide which images of one series the analysis may use (see the module docstring).

    ``pixel_digest(i)`` (a hash of image ``i``'s pixel data, None if unreadable) tells a
    re-sent copy (kept once) from a conflicting image at the same position and time (both
    excluded); without it every such pair counts as conflicting. Single-frame images only:
    an enhanced multi-frame object is kept as it is.
    """
    screening = Screening()
    placed: list[tuple[int, SliceGeometry]] = []
    for index, header in enumerate(headers):
        if (positive_int(safe_get(header, "NumberOfFrames")) or 1) > 1:
            screening.kept.append(index)
            continue
        geometry = read_geometry(header)
        if isinstance(geometry, str):
            screening.excluded[geometry] += 1
        else:
            placed.append((index, geometry))
    if not placed:
        return screening
    matrix = _majority([(g.rows, g.columns) for _, g in placed])
    orientation = _majority([tuple(round(v, 3) for v in g.orientation) for _, g in placed])
    spacing = _majority([tuple(round(v, 3) for v in g.pixel_spacing) for _, g in placed])
    consistent: list[tuple[int, SliceGeometry]] = []
    for index, geometry in placed:
        if (geometry.rows, geometry.columns) != matrix:
            screening.excluded["other matrix (Rows/Columns) than the series"] += 1
        elif max(abs(a - b) for a, b in zip(geometry.orientation, orientation,
                                            strict=True)) > ORIENTATION_TOLERANCE:
            screening.excluded["other orientation than the series"] += 1
        elif max(abs(a - b) / b for a, b in zip(geometry.pixel_spacing, spacing,
                                                strict=True)) > SPACING_TOLERANCE:
            screening.excluded["other pixel spacing than the series"] += 1
        else:
            consistent.append((index, geometry))
    screening.kept.extend(_without_conflicts(headers, consistent, screening, pixel_digest))
    screening.kept.sort()
    return screening


def _without_conflicts(headers: Sequence[Header], placed: Sequence[tuple[int, SliceGeometry]],
                       screening: Screening,
                       pixel_digest: Callable[[int], str | None] | None) -> list[int]:
    """Indices left once images sharing a position and a time are resolved."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, geometry in placed:
        info = slice_info(headers[index])
        key = (tuple(round(v, POSITION_DECIMALS) for v in geometry.position),
               *_same_time_key(info))
        groups.setdefault(key, []).append(index)
    kept: list[int] = []
    for members in groups.values():
        if len(members) == 1:
            kept.append(members[0])
            continue
        digests = {pixel_digest(i) for i in members} if pixel_digest is not None else {None}
        if len(digests) == 1 and None not in digests:
            kept.append(members[0])  # copies of one image: keep one
            screening.copies += len(members) - 1
        else:
            screening.excluded["other image at the same position and time"] += len(members)
    return kept
