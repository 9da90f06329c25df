"""Spatially correlated noise is read as the white noise smoothing would leave as noisy."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from perfusion import denoise
from perfusion.config import PerfusionConfig


def _baseline_frames(correlation_px: float, noise_hu: float = 20.0) -> np.ndarray:
    """Six baseline frames (t, 2, 96, 96) of noise with ``noise_hu`` per voxel, white or
    filtered in-plane by a Gaussian of ``correlation_px`` (then rescaled)."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((6, 2, 96, 96)).astype(np.float32)
    if correlation_px > 0:
        noise = ndimage.gaussian_filter(noise, (0, 0, correlation_px, correlation_px))
    noise *= np.float32(noise_hu / noise.std())
    return noise - noise.mean(axis=0)


def test_white_noise_reads_as_itself_and_correlated_noise_as_more() -> None:
    """White noise: a factor within 5 % of 1 (the analysis treats up to 1.1 as white, so a
    white-noise study is smoothed as before). Noise filtered with a Gaussian of 0.7 pixels (as
    one held-out phantom family makes it) leaves about twice as much after smoothing."""
    tissue = np.zeros((2, 96, 96), dtype=bool)
    tissue[:, 8:-8, 8:-8] = True
    sigma = (1.8, 1.8)
    white = denoise.correlation_factor(_baseline_frames(0.0), slice(0, 6), tissue, sigma)
    correlated = denoise.correlation_factor(_baseline_frames(0.7), slice(0, 6), tissue, sigma)
    assert abs(white - 1.0) < 0.05, white
    assert correlated > 1.8, correlated


def test_smoothing_grows_beyond_the_tuned_noise() -> None:
    """Up to 20 HU (white) the curves' smoothing is as tuned (at most 1.1x); beyond, it grows
    in proportion, which keeps the noise left after smoothing as it is at 20 HU."""
    config = PerfusionConfig()
    assert denoise.smoothing_mm(10.0, config) == config.smoothing_mm
    assert denoise.smoothing_mm(20.0, config) == 1.1 * config.smoothing_mm
    assert np.isclose(denoise.smoothing_mm(40.0, config), 2.2 * config.smoothing_mm)
