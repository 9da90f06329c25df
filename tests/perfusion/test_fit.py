"""Residue shape identification (perfusion/fit.py) and the "fitted" CBF calibration."""

from __future__ import annotations

import numpy as np
import pytest

import perfusion
from perfusion import fit, maps, phantoms
from perfusion.config import PerfusionConfig

SHAPE_INDEX = {"exponential": maps.SHAPES.index(1.0), "box": maps.SHAPES.index(np.inf),
               "linear": maps.SHAPES.index("linear")}


@pytest.mark.parametrize("residue", sorted(SHAPE_INDEX))
def test_noise_free_curves_fit_their_own_shape_best(residue: str) -> None:
    """Curves made on the phantom's fine grid (not the dictionary's) with MTTs and delays
    between the dictionary's atoms are fitted best by their own shape. (Below MTT ~8 s the
    shapes differ by less than the dictionary's steps: a linear residue of 7.3 s fits shape
    6.4 best.)"""
    made = [_curves(residue, mtt, delay) for mtt, delay in ((9.3, 0.4), (11.0, 2.1),
                                                             (17.5, 1.3))]
    curves, aif = np.stack([c for c, _ in made]), made[0][1]
    errors = fit.shape_errors(curves, fit.shape_dictionary(aif, 1.0))
    assert errors.shape == (3, len(maps.SHAPES))
    assert np.all(errors >= -1e-3 * np.sum(curves**2, axis=1, keepdims=True))
    np.testing.assert_array_equal(np.argmin(errors, axis=1), SHAPE_INDEX[residue])


def _curves(residue: str, mtt_s: float, delay_s: float, dt: float = 1.0,
            frames: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """A tissue curve made on the phantom's fine grid (CBF 30) and the sampled AIF."""
    times = phantoms.regular_times(frames, dt)
    fine = phantoms._fine_grid(times)
    arterial = phantoms.arterial_curve(fine)
    curve = phantoms._sample(phantoms.tissue_curve(fine, arterial, 30.0, mtt_s, delay_s,
                                                   residue), fine, times)
    return curve.astype(np.float32), np.interp(times, fine, arterial)


def test_pooled_weights_follow_the_regions_or_the_study() -> None:
    """Exponential tissue on the left half, box tissue on the right: a 4-mm pool tells the
    halves apart, the whole-study pool gives every voxel the same weights."""
    exp, aif = _curves("exponential", 12.0, 1.0)
    box, _ = _curves("box", 12.0, 1.0)
    frames = np.empty((aif.size, 2, 24, 48), dtype=np.float32)
    frames[..., :24] = exp[:, None, None, None]
    frames[..., 24:] = box[:, None, None, None]
    tissue = np.ones(frames.shape[1:], dtype=bool)
    local = fit.pooled_shape_weights(frames, tissue, aif, 1.0, None, (5.0, 1.0, 1.0), 4.0, 2.0)
    assert local.shape == (len(maps.SHAPES), *tissue.shape)
    np.testing.assert_allclose(local.sum(axis=0), 1.0, rtol=1e-5)
    assert np.all(np.argmax(local[..., :12], axis=0) == SHAPE_INDEX["exponential"])
    assert np.all(np.argmax(local[..., 36:], axis=0) == SHAPE_INDEX["box"])
    study = fit.pooled_shape_weights(frames, tissue, aif, 1.0, None, (5.0, 1.0, 1.0), None,
                                     2.0)
    assert np.ptp(study, axis=(1, 2, 3)).max() == 0.0


@pytest.mark.parametrize("residue", ["exponential", "linear", "box"])
def test_fitted_calibration_recovers_cbf_whatever_the_shape(residue: str) -> None:
    """Noise-free tiles (CBV 3, MTT 6 and 12 s, delays 0 and 2 s): with the shape fitted
    from the curves, the tile medians of CBF are within 15 % of the truth for exponential,
    linear and box residues alike (measured +4..+12 %), and the study's shape is the
    phantom's."""
    phantom = phantoms.tile_phantom(noise_hu=0.0, mtt_values=(6.0, 12.0), cbv_values=(3.0,),
                                    delays_s=(0.0, 2.0), residue=residue, tile_px=24)
    config = PerfusionConfig(motion_correction=False, cbf_calibration="fitted")
    analysis = perfusion.analyze_volume(phantom.frames, phantom.times, phantom.spacing, config)
    assert analysis.residue_shapes is not None
    chosen = analysis.residue_shapes[:, analysis.tissue].mean(axis=1)
    assert np.argmax(chosen) == SHAPE_INDEX[residue] and chosen.max() > 0.99, chosen
    truth = phantom.truth_maps["cbf"]
    for z in range(2):
        for c in range(2):
            centre = (z, slice(8, 16), slice(c * 24 + 8, c * 24 + 16))
            ratio = np.median(analysis.maps["cbf"][centre]) / np.median(truth[centre])
            assert abs(ratio - 1.0) < 0.15, (residue, z, c, ratio)


def test_fitted_calibration_needs_the_shapes() -> None:
    aif = phantoms.arterial_curve(np.arange(30.0) * 2.0)
    calibration = maps.calibrate(aif, 2.0, PerfusionConfig(cbf_calibration="fitted"))
    values = {"cbf": np.array([30.0]), "cbv": np.array([3.0]), "mtt": np.array([6.0]),
              "tmax": np.array([1.0])}
    with pytest.raises(ValueError, match="fitted"):
        maps.apply_calibration(values, calibration)
    box = np.eye(len(maps.SHAPES), dtype=np.float32)[[SHAPE_INDEX["box"]]]
    exponential = np.eye(len(maps.SHAPES), dtype=np.float32)[[0]]
    as_box = {k: v.copy() for k, v in values.items()}
    maps.apply_calibration(as_box, calibration, fitted=box)
    maps.apply_calibration(values, calibration, fitted=exponential)
    # The filter blunts an exponential residue's peak more: its CBF is raised more.
    assert values["cbf"][0] > as_box["cbf"][0] > 0
