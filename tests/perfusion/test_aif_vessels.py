"""The AIF is an artery: thin arteries are chosen beside a bright sinus."""

from __future__ import annotations

import numpy as np

import perfusion
from perfusion import phantoms
from perfusion.config import PerfusionConfig

TIMES = np.arange(40) * 1.5


def _volume(artery_peak_hu: float, noise_hu: float, seed: int = 0) -> np.ndarray:
    """Frames (t, 4, 64, 64): grey-matter-like tissue (CBF 50, MTT 4 s, 1 s after the
    arteries) with, where ``artery_peak_hu`` > 0, one-voxel-wide arteries (every slice, 24
    voxels long), and a 6 x 6 voxel sinus peaking at 600 HU 5 s after them."""
    fine = np.arange(0.0, TIMES[-1] + 15.0, 0.05)
    arterial_fine = phantoms.arterial_curve(fine, arrival_s=6.0, peak_hu=350.0)
    tissue = np.interp(TIMES, fine, phantoms.tissue_curve(fine, arterial_fine, 50.0, 4.0, 1.0))
    sinus = phantoms.venous_curve(TIMES, phantoms.arterial_curve(TIMES, 6.0, 600.0), 5.0)
    frames = np.full((TIMES.size, 4, 64, 64), 35.0, dtype=np.float32)
    frames += tissue[:, None, None, None].astype(np.float32)
    frames[:, :, 40:46, 40:46] = 40.0 + sinus[:, None, None, None]
    if artery_peak_hu > 0:
        artery = phantoms.arterial_curve(TIMES, 6.0, artery_peak_hu)
        frames[:, :, 20, 10:34] = 40.0 + artery[:, None, None]
    rng = np.random.default_rng(seed)
    frames += rng.normal(0.0, noise_hu, frames.shape).astype(np.float32)
    return frames


def test_thin_arteries_are_chosen_over_a_bright_sinus_at_20_hu() -> None:
    """A one-voxel artery's neighbourhood mean peaks at about a quarter of the artery (here
    near 100 HU): held to five times one voxel's noise (100 HU at 20 HU), it was not a
    candidate, and the sinus became the AIF."""
    frames = _volume(400.0, 20.0)
    analysis = perfusion.analyze_volume(frames, TIMES, (5.0, 1.5, 1.5),
                                        PerfusionConfig(motion_correction=False))
    assert all(y == 20 for _, y, _ in analysis.inputs.aif_voxels), analysis.inputs.aif_voxels
    assert abs(int(np.argmax(analysis.inputs.aif)) - 6) <= 1  # the arteries peak at 9-10 s
