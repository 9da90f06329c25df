"""Slices whose frames show tissue far below its baseline (the slab's edge under through-plane
motion) are interpolated in time, and only those (perfusion.motion.repair_slices)."""

from __future__ import annotations

import numpy as np
import pytest

import perfusion
from perfusion import mask, motion, phantoms
from perfusion.analyze import repaired_note
from perfusion.config import PerfusionConfig


def _tilted_edge(frames: np.ndarray, frame_indices: range, z: int = 0) -> np.ndarray:
    """Frames with slice ``z`` of ``frame_indices`` showing air over the front half of the
    brain, as the slab's last slice does when the head tilts out of it."""
    out = frames.copy()
    half = out.shape[2] // 2
    out[list(frame_indices), z, :half, :] = -1000.0
    return out


def test_sound_studies_are_left_alone() -> None:
    """A moved head (in-plane, corrected) at 20 HU: noise and the resampled bone edges."""
    phantom = phantoms.head_phantom(noise_hu=20.0, motion=True, seed=1)
    frames, _ = motion.correct_motion(phantom.frames, phantom.spacing, PerfusionConfig())
    head = mask.head_region(frames[0])
    assert not motion.unsound_slices(frames, head).any()
    repaired, report = motion.repair_slices(frames, phantom.times, head, None)
    assert repaired is frames and report is None


def test_air_in_the_edge_slice_is_interpolated_and_the_core_kept() -> None:
    phantom = phantoms.head_phantom(noise_hu=10.0, seed=0)
    config = PerfusionConfig(write_outputs=False)
    sound = perfusion.analyze_volume(phantom.frames, phantom.times, phantom.spacing, config)
    broken = _tilted_edge(phantom.frames, range(16, 19))
    analysis = perfusion.analyze_volume(broken, phantom.times, phantom.spacing, config)
    assert analysis.motion is not None
    assert sorted(analysis.motion.repaired) == [(16, 0), (17, 0), (18, 0)]
    assert analysis.motion.to_json()["repaired_frames"] == [[16, 0], [17, 0], [18, 0]]
    assert repaired_note(analysis.motion.repaired) == (
        "tissue far below its baseline (through-plane motion) in frames 17, 18, 19 of slices "
        "1: interpolated in time")
    assert abs(analysis.lesions.core_ml - sound.lesions.core_ml) < 2.0
    assert abs(analysis.lesions.hypoperfusion_ml["tmax6"]
               - sound.lesions.hypoperfusion_ml["tmax6"]) < 5.0


def test_a_broken_first_frame_is_repaired_and_condemns_no_other() -> None:
    """The reference is each slice's median over time, not frame 0."""
    phantom = phantoms.head_phantom(noise_hu=10.0, seed=0)
    broken = _tilted_edge(phantom.frames, range(0, 1))
    head = mask.head_region(phantom.frames[0])
    unsound = motion.unsound_slices(broken, head)
    assert [tuple(map(int, pair)) for pair in np.argwhere(unsound)] == [(0, 0)]
    bright = phantom.frames.copy()
    bright[0, 0, :bright.shape[2] // 2, :] += 400.0  # a streak in the first frame only
    assert not motion.unsound_slices(bright, head).any()


def test_a_slice_broken_in_too_many_frames_fails_the_study() -> None:
    phantom = phantoms.head_phantom(shape=(6, 64, 64), spacing=(5.0, 3.0, 3.0), noise_hu=5.0)
    broken = _tilted_edge(phantom.frames, range(10, 10 + phantom.frames.shape[0] // 3), z=5)
    with pytest.raises(perfusion.PerfusionError, match="motion exceeds correction.*slice 6"):
        perfusion.analyze_volume(broken, phantom.times, phantom.spacing,
                                 PerfusionConfig(write_outputs=False))
