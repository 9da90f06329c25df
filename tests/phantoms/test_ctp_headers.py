"""4-D assembly from DICOM written with the header conventions found in the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perfusion.io import load_series
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom

SMALL = {"matrix": 32, "slices": 4, "frames": 12, "noise_hu": 0.0, "interval_s": 2.0}


def _write(tmp: Path, **changes) -> tuple[dict, list[Path]]:
    truth = write_ctp_phantom(tmp, CtpPhantomOptions(**{**SMALL, **changes}))
    return truth, sorted(tmp.glob("*.dcm"))


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory):
    _, paths = _write(tmp_path_factory.mktemp("standard"))
    return load_series(paths)


def test_standard_series_assembles_in_time_and_space(standard) -> None:
    assert standard.frames.shape == (12, 4, 32, 32)
    assert np.allclose(standard.times, np.arange(12) * 2.0, atol=0.01)
    assert standard.spacing == pytest.approx((20.0, 6.0, 6.0))
    # Skull is bone, air is air, and contrast arrives: the sinus enhances over time.
    assert standard.frames[0].max() > 1000 and standard.frames[0].min() < -900
    assert standard.frames[8].max() > standard.frames[0].max() - 5


@pytest.mark.parametrize("convention", ["reversed", "shuffled", "ge-private-time"])
def test_instance_order_and_time_source_do_not_matter(tmp_path: Path, standard,
                                                      convention: str) -> None:
    _, paths = _write(tmp_path, convention=convention)
    series = load_series(paths)
    assert np.allclose(series.times, standard.times, atol=0.01)
    assert np.array_equal(series.frames, standard.frames)
    if convention == "ge-private-time":
        assert series.time_source == "GE private (0019,xx24)"


def test_signed_pixels_give_the_same_hu(tmp_path: Path, standard) -> None:
    _, paths = _write(tmp_path, signed=True)
    assert np.array_equal(load_series(paths).frames, standard.frames)


def test_irregular_sampling_is_resampled_to_a_regular_grid(tmp_path: Path) -> None:
    _, paths = _write(tmp_path, sampling="irregular")
    series = load_series(paths)
    steps = np.diff(series.times)
    assert np.allclose(steps, 1.0, atol=0.01)
    assert series.times[-1] == pytest.approx(62.5, abs=0.6)
    assert any("irregular" in note for note in series.notes)


def test_shuttle_mode_positions_share_one_time_grid(tmp_path: Path, standard) -> None:
    truth, paths = _write(tmp_path, convention="shuttle")
    assert truth["images"] == 12 * 4
    series = load_series(paths)
    assert series.frames.shape[1] == 4
    assert any("shuttle" in note for note in series.notes)
    # Interpolated half a step apart, the slabs still follow the same time course.
    assert np.allclose(np.diff(series.times), np.diff(series.times)[0])
    assert series.frames.shape[0] >= 11


def test_a_missing_frame_is_interpolated_and_reported(tmp_path: Path, standard) -> None:
    _, paths = _write(tmp_path)
    # Drop one image of position 2 in the middle of the acquisition (instance 5*4+3).
    missing = [p for p in paths if p.name != "CT00023.dcm"]
    series = load_series(missing)
    assert series.frames.shape == standard.frames.shape
    assert any("missing frame" in note for note in series.notes)


def test_images_with_unreadable_geometry_are_left_out_and_reported(tmp_path: Path,
                                                                   standard) -> None:
    from pydicom import dcmread
    from pydicom.dataelem import RawDataElement

    _, paths = _write(tmp_path)
    broken = dcmread(paths[5])
    value = b"abcdef\\-115.0\\3 "
    broken._dict[0x00200032] = RawDataElement(0x00200032, "DS", len(value), value, 0, False,
                                              True)
    broken.save_as(paths[5])
    other_matrix = dcmread(paths[9])
    other_matrix.Rows = 16
    other_matrix.save_as(paths[9])
    series = load_series(paths)
    assert series.frames.shape == standard.frames.shape
    assert "2 image(s) with unreadable or inconsistent geometry left out" in series.notes
