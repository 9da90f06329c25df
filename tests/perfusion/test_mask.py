"""Bolus arrival and baseline frames (perfusion/mask.py)."""

from __future__ import annotations

import numpy as np

from perfusion import mask, phantoms


def test_arrival_is_the_arteries_when_the_sinus_outshines_them() -> None:
    """Arteries thinned by partial volume (peak 150 HU, 40 voxels) arrive at 6 s; the sinus
    (peak 400 HU, 400 voxels) 7.5 s later. The arrival is the arteries' rise: the mean of
    every strong vessel rose with the sinus, and its baseline held the arterial peak."""
    times = np.arange(40) * 1.5
    rng = np.random.default_rng(0)
    frames = 30.0 + rng.normal(0.0, 10.0, (40, 4, 40, 40)).astype(np.float32)
    artery = phantoms.arterial_curve(times, arrival_s=6.0, peak_hu=150.0)
    sinus = phantoms.arterial_curve(times, arrival_s=13.5, peak_hu=400.0)
    frames[:, :, :10, :1] += artery[:, None, None, None]
    frames[:, :, :10, 10:20] += sinus[:, None, None, None]
    head = np.ones(frames.shape[1:], dtype=bool)
    arrival = mask.bolus_arrival_frame(frames, head)
    first_rise = int(np.flatnonzero(artery > 0.1 * artery.max())[0])
    assert arrival == first_rise, (arrival, first_rise)
    assert np.all(artery[mask.baseline_frames(arrival)] < 0.1 * artery.max())
