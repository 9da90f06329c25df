"""The automatic AIF and VOF: chosen without favouring or disfavouring any voxel's own noise."""

from __future__ import annotations

import numpy as np

import perfusion
from perfusion import phantoms
from perfusion.config import PerfusionConfig

BASELINE_HU = 35.0


def _chosen_baseline_error(seed: int) -> tuple[float, float]:
    """Mean baseline error (HU) of the voxels the analysis chose for the AIF and for the VOF:
    their own pre-bolus mean minus the noise-free baseline, on two tiles of tissue with an
    artery and a vein at 20 HU and 2-s sampling (three baseline frames)."""
    ph = phantoms.cell_phantom([(4.0, 40.0), (2.0, 20.0)], 2, delays_s=(0.0,), noise_hu=20.0,
                               times=phantoms.regular_times(30, 2.0), tile_px=24,
                               baseline_hu=BASELINE_HU, seed=seed)
    # The input functions are chosen before any bias correction: those are left out (their
    # noise-floor table is 90 % of this small analysis's time).
    config = PerfusionConfig(motion_correction=False, noise_floor_correction=False,
                             bias_correction=False)
    analysis = perfusion.analyze_volume(ph.frames, ph.times, ph.spacing, config)
    errors = []
    for voxels in (analysis.inputs.aif_voxels, analysis.inputs.vof_voxels):
        z, y, x = (np.array(a) for a in zip(*voxels, strict=True))
        errors.append(float(np.mean(analysis.baseline[z, y, x] - BASELINE_HU)))
    return errors[0], errors[1]


def test_chosen_voxels_carry_no_selected_noise() -> None:
    """Over 40 noise draws the chosen voxels' own baseline noise averages out (one draw: about
    3.3 HU for 12 voxels of 3 frames at 20 HU; the mean of 40 within 1.8 HU). Chosen so that no
    two were neighbours, the AIF's voxels had a baseline 3-4 HU high on average, and the AIF,
    less that baseline, read low at every frame."""
    errors = np.array([_chosen_baseline_error(seed) for seed in range(40)])
    assert np.all(np.abs(errors.mean(axis=0)) < 1.8), errors.mean(axis=0)
