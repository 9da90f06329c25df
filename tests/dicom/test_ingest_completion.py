"""The completion tracker on its own: counts, quiet time and re-opening, on a fake clock (no
database, no thread, no sockets); and the one completion fan-out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydicom.dataset import Dataset

from strokealert.dicom.classify import SliceInfo, slice_info
from strokealert.dicom.completion import (
    CompletionFanout,
    CompletionTracker,
    SeriesState,
    StudyState,
)
from strokealert.dicom.records import Completion

SERIES_QUIET_S, STUDY_QUIET_S = 5.0, 15.0


def _slice(z_mm: float, images: int | None) -> SliceInfo:
    ds = Dataset()
    ds.Modality, ds.SliceLocation = "CT", z_mm
    if images is not None:
        ds.ImagesInAcquisition = images
    return slice_info(ds)


def _tracker(*series: tuple[str, str]) -> CompletionTracker:
    """A tracker holding the empty ``(study, series)`` pairs, all last seen at t = 0."""
    tracker = CompletionTracker(SERIES_QUIET_S, STUDY_QUIET_S)
    for number, (study_uid, series_uid) in enumerate(series):
        tracker.add_study(StudyState(1, study_uid, 0.0, False))
        tracker.add_series(SeriesState(number, study_uid, series_uid, 0, 0.0, False, None))
    return tracker


def _receive(tracker: CompletionTracker, series_uid: str, at: float, z_mm: float,
             images: int | None = None) -> tuple[bool, bool]:
    series = tracker.series[series_uid]
    return tracker.received(series, tracker.studies[series.study_uid], at,
                            _slice(z_mm, images))


def test_series_due_by_count_as_soon_as_the_last_image_is_in() -> None:
    tracker = _tracker(("1", "1.1"))
    for n in range(3):
        _receive(tracker, "1.1", 100.0 + n, z_mm=n, images=4)
    assert tracker.series["1.1"].expected == 4
    assert tracker.due_series(103.0) == []
    assert tracker.next_deadline() == 102.0 + SERIES_QUIET_S
    _receive(tracker, "1.1", 103.0, z_mm=3, images=4)
    assert [(s.series_uid, reason) for s, reason in tracker.due_series(103.0)] == \
        [("1.1", "count")]


def test_series_due_by_quiet_then_study_after_its_own_quiet_time() -> None:
    tracker = _tracker(("1", "1.1"), ("1", "1.2"))
    _receive(tracker, "1.1", 10.0, z_mm=0)
    _receive(tracker, "1.2", 12.0, z_mm=0)
    _receive(tracker, "1.2", 13.0, z_mm=1)
    assert tracker.due_series(10.0 + SERIES_QUIET_S - 0.01) == []
    due = tracker.due_series(10.0 + SERIES_QUIET_S)
    assert [(s.series_uid, reason) for s, reason in due] == [("1.1", "quiet")]
    due[0][0].complete = True
    assert tracker.due_studies(100.0) == []  # 1.2 still open
    tracker.series["1.2"].complete = True
    assert tracker.due_studies(13.0 + STUDY_QUIET_S - 0.01) == []
    assert [(s.study_uid, n) for s, n in tracker.due_studies(13.0 + STUDY_QUIET_S)] == \
        [("1", 3)]


def test_late_image_reopens_series_and_study_and_forgetting_drops_complete_ones() -> None:
    tracker = _tracker(("1", "1.1"), ("2", "2.1"))
    _receive(tracker, "1.1", 0.0, z_mm=0)
    _receive(tracker, "2.1", 0.0, z_mm=0)
    for uid in ("1.1", "2.1"):
        tracker.series[uid].complete = True
    for uid in ("1", "2"):
        tracker.studies[uid].complete = True
    assert _receive(tracker, "1.1", 50.0, z_mm=1) == (True, True)
    assert (tracker.series["1.1"].count, tracker.series["1.1"].complete) == (2, False)
    assert _receive(tracker, "1.1", 51.0, z_mm=2) == (False, False)
    tracker.forget_completed_studies()
    assert set(tracker.studies) == {"1"} and set(tracker.series) == {"1.1"}
    assert tracker.next_deadline() == 51.0 + SERIES_QUIET_S


def test_a_changed_copy_is_not_counted_but_restarts_the_quiet_time() -> None:
    tracker = _tracker(("1", "1.1"))
    _receive(tracker, "1.1", 0.0, z_mm=0)
    series = tracker.series["1.1"]
    tracker.received(series, tracker.studies["1"], 4.0, None)
    assert series.count == 1 and tracker.due_series(4.0 + SERIES_QUIET_S - 0.01) == []


def test_fanout_calls_each_callback_of_the_level_once_despite_a_failing_one(
        caplog: pytest.LogCaptureFixture) -> None:
    fanout = CompletionFanout()
    series_seen: list[Completion] = []
    study_seen: list[Completion] = []

    def broken(_done: Completion) -> None:
        raise RuntimeError("callback bug")

    fanout.on_series_complete.extend([broken, series_seen.append])
    fanout.on_study_complete.append(study_seen.append)
    done = Completion(1, "series", "1", "1.1", "count", 4, "ncct", datetime.now(UTC))
    fanout.publish(done)
    assert series_seen == [done] and study_seen == []
    assert "completion callback failed" in caplog.text
