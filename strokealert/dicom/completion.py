"""Completion tracking: when a series or a study has arrived, from counts and quiet time.

Pure bookkeeping, no database and no clock of its own (every ``now`` is passed in, epoch
seconds): a series is due by ``count`` once the images its headers announce are in, else by
``quiet`` after ``series_quiet_s`` without a new image; a study is due ``study_quiet_s`` after
its last image once all its series are complete. An image for a complete series re-opens it and
its study. :class:`CompletionFanout` hands each written completion to the in-process callbacks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from strokealert.dicom.classify import SliceInfo, expected_count
from strokealert.dicom.records import Completion, CompletionCallback

log = logging.getLogger(__name__)


@dataclass
class SeriesState:
    """What the tracker knows of a series (``slices`` None: not in memory, read from files)."""

    series_id: int
    study_uid: str
    series_uid: str
    count: int
    last_received: float  # epoch seconds of the last image (or of the quiet time's start)
    complete: bool
    expected: int | None
    first: SliceInfo | None = None
    slices: list[SliceInfo] | None = field(default_factory=list)
    acquisition_numbers: set[int] = field(default_factory=set)
    temporal_indices: set[int] = field(default_factory=set)


@dataclass
class StudyState:
    """What the tracker knows of a study: its series (all of them, complete or not)."""

    study_id: int
    study_uid: str
    last_received: float  # epoch seconds
    complete: bool
    series: set[str] = field(default_factory=set)


class CompletionTracker:
    """Open series and studies and their completion deadlines (see the module docstring)."""

    def __init__(self, series_quiet_s: float, study_quiet_s: float) -> None:
        self.series_quiet_s = series_quiet_s
        self.study_quiet_s = study_quiet_s
        self.series: dict[str, SeriesState] = {}
        self.studies: dict[str, StudyState] = {}

    def clear(self) -> None:
        self.series.clear()
        self.studies.clear()

    def add_study(self, state: StudyState) -> StudyState:
        """Track ``state`` (a study already tracked is kept as it is)."""
        return self.studies.setdefault(state.study_uid, state)

    def add_series(self, state: SeriesState) -> SeriesState:
        """Track ``state`` under its study, which must be tracked (an existing one is kept)."""
        self.studies[state.study_uid].series.add(state.series_uid)
        return self.series.setdefault(state.series_uid, state)

    def received(self, series: SeriesState, study: StudyState, received: float,
                 new_slice: SliceInfo | None) -> tuple[bool, bool]:
        """An image of ``series`` received at ``received`` (epoch s); ``new_slice`` for an
        image not counted before (None for a changed copy). Returns whether the series and
        the study were re-opened by it."""
        if new_slice is not None:
            series.count += 1
            self._add_slice(series, new_slice)
        series.last_received = max(series.last_received, received)
        study.last_received = max(study.last_received, received)
        reopened = (series.complete, study.complete)
        series.complete = study.complete = False
        return reopened

    @staticmethod
    def _add_slice(series: SeriesState, info: SliceInfo) -> None:
        if series.slices is not None:
            series.slices.append(info)
        if info.acquisition_number is not None:
            series.acquisition_numbers.add(info.acquisition_number)
        if info.temporal_index is not None:
            series.temporal_indices.add(info.temporal_index)
        if series.first is None:
            series.first = info
        series.expected = expected_count(series.first, len(series.acquisition_numbers),
                                         len(series.temporal_indices))

    def due_series(self, now: float) -> list[tuple[SeriesState, str]]:
        """Open series due now, each with its reason (``count`` or ``quiet``)."""
        due: list[tuple[SeriesState, str]] = []
        for series in self.series.values():
            if series.complete or series.count == 0:
                continue
            if series.expected is not None and series.count >= series.expected:
                due.append((series, "count"))
            elif now - series.last_received >= self.series_quiet_s:
                due.append((series, "quiet"))
        return due

    def due_studies(self, now: float) -> list[tuple[StudyState, int]]:
        """Open studies due now (all series complete, quiet long enough), with their image
        counts; call after the due series are marked complete."""
        due: list[tuple[StudyState, int]] = []
        for study in self.studies.values():
            if study.complete or not study.series:
                continue
            states = [self.series.get(uid) for uid in study.series]
            if all(s is not None and s.complete for s in states) \
                    and now - study.last_received >= self.study_quiet_s:
                due.append((study, sum(s.count for s in states if s)))
        return due

    def next_deadline(self) -> float | None:
        """The earliest quiet-time deadline of an open series or study (epoch s), if any."""
        deadlines = [s.last_received + self.series_quiet_s
                     for s in self.series.values() if not s.complete and s.count]
        deadlines += [s.last_received + self.study_quiet_s
                      for s in self.studies.values() if not s.complete and s.series]
        return min(deadlines, default=None)

    def forget_completed_studies(self) -> None:
        """Drop complete studies and their series; a late image brings them back."""
        for uid in [u for u, s in self.studies.items() if s.complete]:
            for series_uid in self.studies.pop(uid).series:
                self.series.pop(series_uid, None)


class CompletionFanout:
    """The in-process completion callbacks: each completion goes to every callback of its
    level once; a failing callback is logged and does not stop the others."""

    def __init__(self) -> None:
        self.on_series_complete: list[CompletionCallback] = []
        self.on_study_complete: list[CompletionCallback] = []

    def publish(self, completion: Completion) -> None:
        callbacks = (self.on_series_complete if completion.level == "series"
                     else self.on_study_complete)
        for callback in callbacks:
            try:
                callback(completion)
            except Exception:
                log.exception("completion callback failed")


class CompletionHooks:
    """``on_series_complete`` / ``on_study_complete`` of a component, from its ``fanout``."""

    fanout: CompletionFanout

    @property
    def on_series_complete(self) -> list[CompletionCallback]:
        return self.fanout.on_series_complete

    @property
    def on_study_complete(self) -> list[CompletionCallback]:
        return self.fanout.on_study_complete
