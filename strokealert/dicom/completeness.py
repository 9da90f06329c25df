"""Is a series whole? What its headers promise against what was received and could be used.

A series is incomplete when it holds fewer images than its headers announce, when a table
position is missing inside its range (a gap in the slice positions), when a dynamic series has
fewer time frames at some positions than at others, or when its temporal position indices skip
a frame, or when images had to be excluded for their geometry. The answer names what is missing
in words a reader can check (``470 of 640 images; slices at z=12.5, 17.5 mm missing in frames
31-40``); it never holds PHI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from strokealert.dicom.classify import SliceInfo, expected_count

GAP_FACTOR = 1.5  # a step between positions this many times the median step is a gap
POSITION_MM = 0.5  # positions closer than this are one table position
LISTED = 6  # positions or frames named before "…"


@dataclass(frozen=True)
class Completeness:
    """What is missing from one series (empty when it is whole)."""

    received: int
    expected: int | None
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self, label: str) -> str:
        """e.g. ``CTP incomplete: 470 of 640 images; slices at z=… missing in frames 31-40``."""
        return f"{label} incomplete: " + "; ".join(self.missing) if self.missing else ""


def ranges(values: Sequence[int]) -> str:
    """``1-3, 7, 9-10`` for [1, 2, 3, 7, 9, 10]."""
    parts: list[str] = []
    ordered = sorted(set(values))
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ", ".join(parts)


def _listed(positions: Sequence[float]) -> str:
    shown = ", ".join(f"{p:.1f}" for p in positions[:LISTED])
    return shown + (", …" if len(positions) > LISTED else "")


def _position_key(z_mm: float) -> float:
    return round(z_mm / POSITION_MM) * POSITION_MM


def _position_gaps(positions: Sequence[float]) -> list[str]:
    steps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    if len(steps) < 2:
        return []
    step = median(steps)
    return [f"no slice between z={a:.1f} and z={b:.1f} mm"
            for a, b, gap in zip(positions, positions[1:], steps, strict=False)
            if gap > GAP_FACTOR * step + POSITION_MM]


def _frame_gaps(slices: Sequence[SliceInfo], positions: Sequence[float]) -> list[str]:
    """Positions with fewer frames than the others, and temporal indices never seen."""
    frames_at: dict[float, set[int]] = defaultdict(set)
    counts: dict[float, int] = defaultdict(int)
    for info in slices:
        if info.z_mm is None:
            continue
        key = _position_key(info.z_mm)
        counts[key] += 1
        if info.temporal_index is not None:
            frames_at[key].add(info.temporal_index)
    missing: list[str] = []
    all_frames = set().union(*frames_at.values()) if frames_at else set()
    if all_frames:
        absent = sorted(set(range(min(all_frames), max(all_frames) + 1)) - all_frames)
        if absent:
            missing.append(f"frames {ranges(absent)} missing at every position")
    most = max(counts.values())
    short = [p for p in positions if counts[p] < most]
    if short and all_frames:
        lacking = sorted(set().union(*(all_frames - frames_at[p] for p in short)))
        missing.append(f"slices at z={_listed(short)} mm missing in frames {ranges(lacking)}"
                       if lacking else f"fewer frames at z={_listed(short)} mm")
    elif short:
        missing.append(f"fewer frames at z={_listed(short)} mm than at the other positions")
    return missing


def assess(slices: Sequence[SliceInfo], dynamic: bool,
           excluded: Mapping[str, int] | None = None) -> Completeness:
    """The completeness of one series from the headers of the images it will be analysed on.

    ``dynamic``: a perfusion series (positions repeat over time); ``excluded``: how many images
    of the series were set aside before, per reason (they count as received, not as usable).
    """
    excluded = excluded or {}
    received = len(slices) + sum(excluded.values())
    if not slices:
        return Completeness(received, None, ("no usable image",))
    first = slices[0]
    acquisitions = {s.acquisition_number for s in slices if s.acquisition_number is not None}
    temporal = {s.temporal_index for s in slices if s.temporal_index is not None}
    expected = expected_count(first, len(acquisitions), len(temporal))
    missing: list[str] = []
    if expected is not None and received < expected:
        missing.append(f"{received} of {expected} images")
    if excluded:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
        missing.append(f"{sum(excluded.values())} image(s) excluded ({reasons})")
    positions = sorted({_position_key(s.z_mm) for s in slices if s.z_mm is not None})
    if first.number_of_frames == 1 and positions:
        missing += _position_gaps(positions)
        if dynamic:
            missing += _frame_gaps(slices, positions)
    return Completeness(received, expected, tuple(missing))
