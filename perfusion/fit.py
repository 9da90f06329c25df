"""Residue shape identification: which transit-time shape the tissue curves follow.

CBV (the curve's area over the AIF's) does not depend on the residue's shape, but the CBF
read at a deconvolved residue's peak does: a regularised deconvolution blunts a sharp peak
(exponential residue) far more than a flat top (box). The shape can be told from the curves
themselves: a tissue curve is CBF * dt * (AIF (*) R)(t - delay), and only one shape makes
every curve of a region fit with some MTT and delay. A single voxel is too noisy to say which,
but the shape is a property of the tissue that varies slowly, so each shape's fitting error is
pooled over a neighbourhood (``PerfusionConfig.shape_pool_mm``; by default the whole study)
and turned into likelihood weights of the shapes; the deconvolved CBF is then divided by the
weighted shapes' filter loss (maps.apply_calibration) after the noise-floor correction of the
likeliest shape (analyze.py).

The fit is a dictionary search: curves of every shape of SHAPES (maps.family_residue) over
log-spaced MTTs and sub-sample delays are projected on the curves' temporal basis, so a voxel
is scored by a small matrix product; the least-squares error of the best atom of a shape is
|c|^2 - max(<c, a>, 0)^2 over unit atoms a. The fit runs on every ``stride``-th voxel in-plane:
the pooling averages far wider than that.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from perfusion.maps import SHAPES, family_residue, fine_input

DICTIONARY_MTT_S = np.geomspace(1.0, 40.0, 28)
DICTIONARY_DELAY_STEP_S = 0.25
DICTIONARY_DELAYS_S = (-3.0, 16.0)
CHUNK_VOXELS = 2048


def shape_dictionary(aif: np.ndarray, dt: float, basis: np.ndarray | None = None,
                     upsample: int = 10) -> np.ndarray:
    """Unit-norm tissue curves (shapes, atoms, k) of every shape of SHAPES over
    DICTIONARY_MTT_S and DICTIONARY_DELAYS_S, as coefficients of ``basis`` (N, k) or, without
    it, as the N samples themselves."""
    n = aif.size
    fine_t, fine_aif = fine_input(aif, dt, upsample)
    size = 2 * fine_t.size
    aif_spectrum = np.fft.rfft(fine_aif, size)
    low, high = DICTIONARY_DELAYS_S
    shifts = np.round(np.arange(low, min(high, 0.6 * n * dt) + 1e-9, DICTIONARY_DELAY_STEP_S)
                      / dt * upsample).astype(int)
    atoms = []
    for shape in SHAPES:
        residue = family_residue(shape, fine_t, DICTIONARY_MTT_S)
        fine = np.fft.irfft(np.fft.rfft(residue, size, axis=-1) * aif_spectrum, size,
                            axis=-1)[:, : fine_t.size]
        padded = np.concatenate([np.zeros((fine.shape[0], max(shifts.max(), 0))), fine,
                                 np.repeat(fine[:, -1:], max(-shifts.min(), 0), axis=1)],
                                axis=1)
        start = max(shifts.max(), 0) - shifts
        columns = start[:, None] + np.arange(0, fine_t.size, upsample)[None, :]
        curves = padded[:, columns].reshape(-1, n)  # (MTT x delay, N)
        atoms.append(curves if basis is None else curves @ basis)
    dictionary = np.stack(atoms)
    dictionary /= np.maximum(np.linalg.norm(dictionary, axis=-1, keepdims=True), 1e-12)
    return dictionary.astype(np.float32)


def shape_errors(curves: np.ndarray, dictionary: np.ndarray) -> np.ndarray:
    """Least-squares error (voxels, shapes) of the best non-negative multiple of one atom of
    each shape, for ``curves`` (voxels, k) in the dictionary's coordinates (HU^2)."""
    shapes, atoms, k = dictionary.shape
    flat = dictionary.reshape(shapes * atoms, k).T
    energy = np.einsum("vk,vk->v", curves, curves)
    errors = np.empty((curves.shape[0], shapes), dtype=np.float32)
    for start in range(0, curves.shape[0], CHUNK_VOXELS):
        block = curves[start:start + CHUNK_VOXELS] @ flat
        best = np.clip(block.reshape(-1, shapes, atoms).max(axis=-1), 0.0, None)
        errors[start:start + CHUNK_VOXELS] = energy[start:start + CHUNK_VOXELS, None] - best**2
    return errors


def pooled_shape_weights(coefficients: np.ndarray, tissue: np.ndarray, aif: np.ndarray,
                         dt: float, basis: np.ndarray | None,
                         voxel_mm: tuple[float, float, float], pool_mm: float | None,
                         stride_mm: float, noise: np.ndarray | None = None,
                         seed: int = 0) -> np.ndarray:
    """Weights (shapes of SHAPES, z, y, x) of the residue shapes around each voxel: their
    likelihoods from the fitting errors summed over the tissue within a Gaussian of
    ``pool_mm`` (sigma; None: over the whole study), normalised to sum 1.

    ``coefficients`` (k, z, y, x) are the denoised curves (on ``basis``, else the frames);
    the errors are computed every ``stride_mm`` in-plane (voxels that far apart are about
    independent) and the pooled weights are spread back to the voxels of each coarse cell.
    A shape's log-likelihood is minus its summed error over twice the noise variance of one
    coefficient, estimated from the data as the median best error over its k - 3 degrees of
    freedom (scale, MTT and delay are fitted): model mismatch counts as noise, so the weights
    stay soft where the shapes are hard to tell apart.

    Noise does not raise every shape's error alike (smoothed noise is fitted better by some
    shapes than by others), which favours one shape more the noisier the study. With
    ``noise`` (curves of pure noise processed like the data, in the same coordinates), the
    errors are also computed with one more draw of it added to every curve and extrapolated
    back to no noise (SIMEX): 2 * E(data) - E(data + noise).
    """
    stride = (max(1, int(round(stride_mm / voxel_mm[1]))),
              max(1, int(round(stride_mm / voxel_mm[2]))))
    coarse = tissue[:, :: stride[0], :: stride[1]]
    curves = np.ascontiguousarray(coefficients[:, :, :: stride[0], :: stride[1]][:, coarse].T)
    dictionary = shape_dictionary(aif, dt, basis)
    errors = shape_errors(curves, dictionary)
    variance = max(float(np.median(errors.min(axis=1))) / max(curves.shape[1] - 3, 1), 1e-6)
    if noise is not None:
        draw = np.random.default_rng(seed).integers(0, noise.shape[0], curves.shape[0])
        errors = 2.0 * errors - shape_errors(curves + noise[draw].astype(np.float32),
                                             dictionary)
    if pool_mm is None:
        pooled = errors.mean(axis=0)
        study = np.exp(-(pooled - pooled.min()) * errors.shape[0] / (2.0 * variance))
        return np.ascontiguousarray(np.broadcast_to(
            (study / study.sum())[:, None, None, None], (len(SHAPES), *tissue.shape)),
            dtype=np.float32)
    sigma = (pool_mm / voxel_mm[0], pool_mm / (voxel_mm[1] * stride[0]),
             pool_mm / (voxel_mm[2] * stride[1]))
    count = ndimage.gaussian_filter(coarse.astype(np.float32), sigma, mode="constant")
    pooled_volumes = np.zeros((len(SHAPES), *coarse.shape), dtype=np.float32)
    for s in range(len(SHAPES)):
        pooled_volumes[s][coarse] = errors[:, s]
        pooled_volumes[s] = (ndimage.gaussian_filter(pooled_volumes[s], sigma, mode="constant")
                             / np.maximum(count, 1e-6))
    # Voxels in a normalised Gaussian window: 1 / the sum of its squared weights.
    window = float(np.prod([max(1.0, 2.0 * np.sqrt(np.pi) * s) for s in sigma]))
    voxels = window * np.clip(count, 0.0, 1.0)
    weights = np.exp(-(pooled_volumes - pooled_volumes.min(axis=0)) * voxels
                     / (2.0 * variance))
    weights /= weights.sum(axis=0)
    full = np.repeat(np.repeat(weights, stride[0], axis=2), stride[1], axis=3)
    return np.ascontiguousarray(full[:, :, : tissue.shape[1], : tissue.shape[2]])
