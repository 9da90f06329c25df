"""Denoising of baseline-subtracted frames before deconvolution, in time and in space.

Low-flow tissue enhances by about 1 HU while CT noise is 5-25 HU per voxel and frame, so the
deconvolution sees the noise unless it is reduced first.

Time: every curve is projected on the few time courses that AIF-convolved residues can take
(``model_subspace``); white noise outside that span goes.
Space: a normalised in-plane Gaussian restricted to the tissue mask (so skull, CSF and
vessels do not bleed into parenchyma). Its width follows the measured noise up to 11 HU:
sigma = smoothing_mm scaled by noise / 10 HU, between 0.6x and 1.1x, and from 20 HU on 1.1x
noise / 20 HU. The noise is the white noise that smoothing would leave as noisy: a scanner's
spatially correlated noise keeps more after smoothing (``correlation_factor``), and read per
voxel it was smoothed as if it were white (held-out phantom families, 6 Dec: 1.5 and 2.2
times the white noise's residual at 20 HU per voxel; Tmax > 6 s up to +240 % and cores
10-150 mL large). Up to 20 HU, noisier studies are not smoothed more: the noise-floor
correction (maps.py) removes most of the bias the noise leaves in CBF, and wider smoothing
shrinks small cores and thin rims of hypoperfusion. The head phantom over 6 noise fields per
residue shape (bench/perfusion.py head_draws, 6 Dec, with the box calibration cut to the
transits it resolves, maps.calibrate) read its core on average, with the factor at most 1x,
1.1x and 1.2x: at 20 HU +1.8, -1.9 and -3.3 mL (11, 13 and 11 of 18 fields within 5 mL,
largest errors 13.7, 8.6 and 9.4 mL); at 15 HU +2.8, -0.1 and -1.9 mL (9, 14 and 14 of 18).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from perfusion.config import PerfusionConfig


def temporal_noise(values: np.ndarray) -> float:
    """RMS over voxels of the temporal standard deviation of ``values`` (t, voxels...), HU."""
    return float(np.sqrt(np.mean(values.var(axis=0, ddof=1))))


def noise_level(frames: np.ndarray, baseline: slice, mask: np.ndarray) -> float:
    """Temporal standard deviation (HU) over the baseline frames in the mask (RMS)."""
    pre = frames[baseline][:, mask]
    if pre.shape[0] < 2:
        # One baseline frame: differences of neighbouring voxels estimate the noise instead.
        diffs = np.diff(frames[0], axis=-1)[mask[:, :, 1:]]
        return float(np.median(np.abs(diffs)) / 0.6745 / np.sqrt(2.0))
    return temporal_noise(pre)


def residual_noise(enhancement: np.ndarray, baseline: slice, tissue: np.ndarray,
                   sigma_px: tuple[float, float]) -> float | None:
    """Temporal noise (HU) the in-plane smoothing leaves in the baseline frames of the two
    slices with the most tissue (None with fewer than three baseline frames)."""
    slices = busiest_slices(tissue)
    frames = enhancement[baseline][:, slices]
    if frames.shape[0] < 3:
        return None
    return temporal_noise(denoise(frames, tissue[slices], sigma_px)[:, tissue[slices]])


def smoothing_sigma_px(noise_hu: float, pixel_mm: tuple[float, float],
                       config: PerfusionConfig) -> tuple[float, float]:
    """In-plane sigma (pixels) for the measured noise (see module doc)."""
    sigma_mm = smoothing_mm(noise_hu, config)
    return sigma_mm / pixel_mm[0], sigma_mm / pixel_mm[1]


def smoothing_mm(noise_hu: float, config: PerfusionConfig) -> float:
    """In-plane sigma (mm) of the curves' smoothing for the measured noise (module doc):
    beyond ``map_smoothing_noise_hu`` (white-noise equivalent) it grows with the noise, which
    keeps the noise left after smoothing as it is there."""
    factor = float(np.clip(noise_hu / 10.0, 0.6, 1.1))
    factor = max(factor, 1.1 * noise_hu / config.map_smoothing_noise_hu)
    return config.smoothing_mm * factor


def correlation_factor(enhancement: np.ndarray, baseline: slice, tissue: np.ndarray,
                       sigma_px: tuple[float, float], seed: int = 0) -> float:
    """How much more noise the in-plane smoothing leaves in the baseline frames than in white
    noise of the same standard deviation per voxel (1 for white noise; a scanner's spatially
    correlated noise has more power at low spatial frequencies, which smoothing keeps). On
    the two slices with the most tissue; 1 with fewer than three baseline frames."""
    measured = residual_noise(enhancement, baseline, tissue, sigma_px)
    if measured is None:
        return 1.0
    slices = busiest_slices(tissue)
    frames = enhancement[baseline][:, slices]
    sub = tissue[slices]
    white = np.random.default_rng(seed).standard_normal(frames.shape, dtype=np.float32)
    white *= np.float32(temporal_noise(frames[:, sub]))
    return measured / max(temporal_noise(denoise(white, sub, sigma_px)[:, sub]), 1e-6)


def map_sigma_px(noise_hu: float, curve_sigma_px: tuple[float, float],
                 config: PerfusionConfig) -> tuple[float, float]:
    """In-plane sigma (pixels) with which the CBF and Tmax maps are averaged again: the
    curves' sigma times (noise / ``map_smoothing_noise_hu``) ** 1.5, at most 1x and at least
    ``map_smoothing_min_mm``.

    CBF and Tmax read at a noisy residue peak keep more noise than the curves; averaging them
    steadies low flow and late peaks but blurs the edge of a core into its penumbra, the more
    so as the core's relative CBF (about 0.15) lies nearer the 0.3 threshold than its
    penumbra's (about 0.65): about 0.8 mm up to 10 HU, the curves' whole width from 20 HU.
    Head phantom, 6 noise fields per residue shape (6 Dec): at 10 HU the core read -3.1 mL on
    average with half the curves' width (1.25 mm; 17 of 18 within 5 mL), -1.7 with a third
    (0.9 mm) and +0.0 with a quarter (18 of 18 both), but the moved head (bench/perfusion.py
    head_rows) read +4.7, +6.3 and +10.4 mL; at 5 HU (curves 1.5 mm) -1.7 mL with 0.75 mm (18
    of 18), +0.0 with 0.5 mm (16 of 18) and +0.4 with 0.2 mm (16 of 18).
    """
    curve_mm = smoothing_mm(noise_hu, config)
    factor = float(np.clip(max((noise_hu / config.map_smoothing_noise_hu) ** 1.5,
                               config.map_smoothing_min_mm / curve_mm), 0.0, 1.0))
    return curve_sigma_px[0] * factor, curve_sigma_px[1] * factor


def denoise(volumes: np.ndarray, mask: np.ndarray, sigma_px: tuple[float, float],
            truncate: float = 3.0) -> np.ndarray:
    """Smooth each volume (n, z, y, x) in-plane inside ``mask``; outside it values become 0.

    A normalised Gaussian: the weights (the smoothed mask) are computed once for all volumes.
    """
    sigma = (0.0, *sigma_px)
    weights = ndimage.gaussian_filter(mask.astype(np.float32), sigma, truncate=truncate)
    inverse = np.where(mask, 1.0 / np.maximum(weights, 1e-6), 0.0).astype(np.float32)
    out = np.empty(volumes.shape, dtype=np.float32)
    for i in range(volumes.shape[0]):
        masked = np.where(mask, volumes[i], np.float32(0))
        ndimage.gaussian_filter(masked, sigma, output=out[i], truncate=truncate)
        out[i] *= inverse
    return out


def model_subspace(aif: np.ndarray, dt: float, energy: float = 0.999) -> np.ndarray:
    """Orthonormal time courses (T, k) spanning every plausible tissue curve for this AIF.

    Tissue curves are the AIF convolved with a delayed residue; a dictionary of exponential
    and box residues (MTT 1-30 s, delays 0-20 s in half steps) is reduced by SVD to the
    components holding ``energy`` of it. Projecting on them removes the noise outside,
    including most of a constant baseline error, while keeping late and slow curves (an
    estimate from the voxels themselves would favour the majority, normal tissue).
    """
    n = aif.size
    upsample = 4
    fine_t = np.arange(n * upsample) * dt / upsample
    fine_aif = np.interp(fine_t, np.arange(n) * dt, aif)
    mtts = np.geomspace(1.0, 30.0, 12)
    delays = np.arange(0.0, min(20.0, 0.6 * n * dt), dt / 2.0)
    residues = [np.exp(-fine_t[None, :] / mtts[:, None]),
                (fine_t[None, :] < mtts[:, None]).astype(float)]
    shapes = np.concatenate(residues)
    size = 2 * fine_t.size
    base = np.fft.irfft(np.fft.rfft(shapes, size, axis=-1) * np.fft.rfft(fine_aif, size),
                        size, axis=-1)[:, : fine_t.size]
    curves = []
    for delay in delays:
        shift = int(round(delay / dt * upsample))
        shifted = np.zeros_like(base)
        shifted[:, shift:] = base[:, : fine_t.size - shift]
        curves.append(shifted[:, ::upsample])
    dictionary = np.concatenate(curves)
    dictionary /= np.maximum(np.linalg.norm(dictionary, axis=1, keepdims=True), 1e-12)
    values, vectors = np.linalg.eigh(dictionary.T @ dictionary)  # ascending
    values, vectors = values[::-1], vectors[:, ::-1]
    cumulative = np.cumsum(np.clip(values, 0, None)) / np.sum(np.clip(values, 0, None))
    k = int(np.searchsorted(cumulative, energy) + 1)
    return np.ascontiguousarray(vectors[:, :k], dtype=np.float32)


def busiest_slices(tissue: np.ndarray, count: int = 2) -> np.ndarray:
    """Indices (sorted) of the ``count`` slices with the most tissue."""
    return np.sort(np.argsort(tissue.reshape(tissue.shape[0], -1).sum(axis=1))[::-1][:count])


def processed_noise(n_t: int, sub_tissue: np.ndarray, sigma_px: tuple[float, float],
                    noise_hu: float, target_hu: float | None, basis: np.ndarray | None,
                    baseline: slice | None = None, samples: int = 400,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pure noise put through the same processing as the data: (samples, T) twice.

    White noise of ``noise_hu`` on the slices of ``sub_tissue`` is projected on ``basis``,
    smoothed once (value curves) and twice (peak-position curves) inside the tissue. When
    ``target_hu`` (the data's residual noise after smoothing, from its baseline frames on the
    same slices) is given, both are rescaled to it, which accounts for the scanner's
    spatially correlated noise. With ``baseline`` (the frames averaged into the baseline),
    their mean is subtracted like the data's, which adds the baseline's own noise to every
    frame of a curve.
    """
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((n_t, *sub_tissue.shape), dtype=np.float32)
    raw *= np.float32(noise_hu)
    if baseline is not None:
        raw -= raw[baseline].mean(axis=0)
    scale = 1.0
    if target_hu:
        check = denoise(raw[:4], sub_tissue, sigma_px)[:, sub_tissue]
        scale = target_hu / max(temporal_noise(check), 1e-6)
    coefficients = raw if basis is None else np.tensordot(basis.T, raw, axes=(1, 0))
    once = denoise(coefficients.astype(np.float32), sub_tissue, sigma_px)
    twice = denoise(once, sub_tissue, sigma_px)
    voxels = np.flatnonzero(sub_tissue)
    voxels = rng.choice(voxels, size=min(samples, voxels.size), replace=False)
    value = once.reshape(once.shape[0], -1)[:, voxels].T * np.float32(scale)
    position = twice.reshape(twice.shape[0], -1)[:, voxels].T * np.float32(scale)
    if basis is not None:
        value, position = value @ basis.T, position @ basis.T
    return value, position
