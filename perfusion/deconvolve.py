"""Deconvolution of tissue curves by the AIF, vectorised over voxels.

All methods solve dt * A r = c for the flow-scaled residue r(t) = (rho/k_H) * CBF * R(t).
Block-circulant methods zero-pad to 2N so that a bolus arriving after the AIF wraps around
instead of being cut: the circulant matrix is diagonalised by the DFT, so its SVD is the
spectrum of the padded AIF and truncation is a per-frequency filter (one FFT per voxel).
"""

from __future__ import annotations

import numpy as np

from perfusion.config import PerfusionConfig


def _padded_length(n: int) -> int:
    return 2 * n


def circulant_spectrum(aif: np.ndarray, dt: float) -> np.ndarray:
    """DFT of the zero-padded AIF times dt: the singular values are its magnitudes."""
    n = aif.size
    padded = np.zeros(_padded_length(n))
    padded[:n] = aif * dt
    return np.fft.rfft(padded)


def _circulant_filter(spectrum: np.ndarray, threshold: float, kind: str) -> np.ndarray:
    """Inverse filter of the circulant AIF: truncated SVD or Tikhonov (relative thresholds)."""
    magnitude = np.abs(spectrum)
    top = magnitude.max()
    if kind == "svd":
        keep = magnitude >= threshold * top
        inverse = np.zeros_like(spectrum)
        inverse[keep] = 1.0 / spectrum[keep]
        return inverse
    lam = threshold * top
    regularised: np.ndarray = np.conj(spectrum) / (magnitude**2 + lam**2)
    return regularised


def circulant_deconvolve(curves: np.ndarray, aif: np.ndarray, dt: float, threshold: float,
                         kind: str = "svd") -> np.ndarray:
    """Residues (voxels, 2N) from curves (voxels, N) by block-circulant SVD or Tikhonov."""
    n = aif.size
    spectrum = circulant_spectrum(aif, dt)
    inverse = _circulant_filter(spectrum, threshold, kind)
    padded = np.fft.rfft(curves, n=_padded_length(n), axis=-1)
    padded *= inverse.astype(np.complex64)
    return np.fft.irfft(padded, n=_padded_length(n), axis=-1).astype(np.float32)


def oscillation_index(residues: np.ndarray) -> np.ndarray:
    """Wu's oscillation index: sum of |second differences| over N * max (per voxel)."""
    second = np.abs(np.diff(residues, n=2, axis=-1)).sum(axis=-1)
    peak = np.maximum(residues.max(axis=-1), 1e-12)
    index: np.ndarray = second / (residues.shape[-1] * peak)
    return index


def osvd_deconvolve(curves: np.ndarray, aif: np.ndarray, dt: float,
                    thresholds: tuple[float, ...], limit: float) -> np.ndarray:
    """Oscillation-index block-circulant SVD: per voxel, the least truncation with OI < limit."""
    chosen = None
    undecided = np.ones(curves.shape[0], dtype=bool)
    for threshold in sorted(thresholds):
        residues = circulant_deconvolve(curves, aif, dt, threshold)
        if chosen is None:
            chosen = residues
        ok = oscillation_index(residues) < limit
        take = undecided & ok
        chosen[take] = residues[take]
        undecided &= ~ok
        # Voxels never below the limit keep the strongest truncation tried last.
        if threshold == max(thresholds):
            chosen[undecided] = residues[undecided]
    assert chosen is not None
    return chosen


def standard_svd_deconvolve(curves: np.ndarray, aif: np.ndarray, dt: float,
                            threshold: float) -> np.ndarray:
    """Standard (lower-triangular Toeplitz) truncated SVD: delay-sensitive, for comparison."""
    n = aif.size
    idx = np.arange(n)
    lag = idx[:, None] - idx[None, :]
    matrix = np.where(lag >= 0, aif[np.clip(lag, 0, None)], 0.0) * dt
    u, s, vt = np.linalg.svd(matrix)
    s_inv = np.where(s >= threshold * s.max(), 1.0 / s, 0.0)
    pseudo = (vt.T * s_inv) @ u.T
    residues: np.ndarray = (curves @ pseudo.T.astype(np.float32)).astype(np.float32)
    return residues


def deconvolve(curves: np.ndarray, aif: np.ndarray, dt: float,
               config: PerfusionConfig) -> np.ndarray:
    """Residues (voxels, M) by the configured method; M = 2N for circulant methods, else N."""
    curves = np.ascontiguousarray(curves, dtype=np.float32)
    aif = np.asarray(aif, dtype=float)
    if config.method == "bcsvd":
        return circulant_deconvolve(curves, aif, dt, config.svd_threshold)
    if config.method == "osvd":
        return osvd_deconvolve(curves, aif, dt, config.osvd_thresholds,
                               config.osvd_oscillation_limit)
    if config.method == "tikhonov":
        return circulant_deconvolve(curves, aif, dt, config.tikhonov_lambda, kind="tikhonov")
    return standard_svd_deconvolve(curves, aif, dt, config.svd_threshold)
