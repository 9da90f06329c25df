"""Perfusion maps from residues: CBF, CBV, MTT, Tmax (sub-sample), TTP, and bias correction.

Units: CBF mL/100 g/min, CBV mL/100 g, MTT/Tmax/TTP s. CBF = max(r) * (k_H/rho) * 6000,
CBV = (k_H/rho) * 100 * integral(C_t) / integral(C_a), MTT = 60 * CBV / CBF (central volume).

Bias correction (``PerfusionConfig.bias_correction``): a truncated deconvolution is a low-pass
filter of the residue, so it lowers the CBF of short-MTT tissue and moves the residue's peak
later. For the circulant methods the filter depends only on the AIF, not on the delay, so we
measure it on noise-free exponential-residue curves made with the study's own AIF (MTT 1-40 s)
and divide CBF by the measured ratio and subtract the measured Tmax shift, looked up by each
voxel's (uncorrected) MTT. oSVD chooses its filter per voxel from the noise, so it is left as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perfusion.config import PerfusionConfig
from perfusion.deconvolve import deconvolve


@dataclass
class Calibration:
    """CBF ratio (estimate/truth) and Tmax shift (s) by estimated MTT (s), increasing."""

    mtt_s: np.ndarray
    cbf_ratio: np.ndarray
    tmax_shift_s: np.ndarray


def residue_peak(residues: np.ndarray, dt: float, max_lag_s: float = 25.0,
                 min_lag_s: float = -4.0) -> tuple[np.ndarray, np.ndarray]:
    """Peak index (fractional, parabolic sub-sample) and its time (s, negative lags -> 0).

    The peak is searched between ``min_lag_s`` (a bolus reaching tissue before the AIF;
    circulant methods only) and ``max_lag_s``: noise peaks at other lags are no residue peak.
    """
    m = residues.shape[-1]
    lags = np.arange(m, dtype=float)
    if m % 2 == 0:  # circulant: the second half holds negative lags
        lags = np.where(lags >= m / 2, lags - m, lags)
    lags *= dt
    outside = (lags > max_lag_s) | (lags < min_lag_s)
    idx = np.argmax(np.where(outside, -np.inf, residues), axis=-1)
    rows = np.arange(residues.shape[0])
    y1 = residues[rows, idx]
    y0 = residues[rows, (idx - 1) % m]
    y2 = residues[rows, (idx + 1) % m]
    denom = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(denom < 0, 0.5 * (y0 - y2) / denom, 0.0)
    position = idx + np.clip(offset, -0.5, 0.5)
    signed = np.where(position > m / 2.0, position - m, position)
    return position, np.clip(signed * dt, 0.0, None)


def value_at(residues: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Residue value at fractional (circular) sample positions, linearly interpolated."""
    m = residues.shape[-1]
    rows = np.arange(residues.shape[0])
    low = np.floor(position).astype(int)
    frac = (position - low).astype(np.float32)
    return (residues[rows, low % m] * (1 - frac) + residues[rows, (low + 1) % m] * frac)


def integral(curves: np.ndarray, dt: float) -> np.ndarray:
    """Trapezoidal area along the last axis (HU * s)."""
    return dt * (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1]))


def raw_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
             position_curves: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Uncorrected cbf, cbv, mtt, tmax, ttp for curves (voxels, N) and the AIF (N,).

    The maximum of a noisy residue is biased upwards (it picks noise), which lifts the CBF
    of low-flow tissue onto the noise floor. With ``position_curves`` (the same voxels,
    smoothed more), the peak is located on their residues and CBF is read from the voxel's
    own residue at that lag, so the noise in the value is not selected for.
    """
    scale = config.hematocrit_factor / config.density_g_per_ml
    residues = deconvolve(curves, aif, dt, config)
    locate = residues if position_curves is None else deconvolve(position_curves, aif, dt,
                                                                 config)
    position, tmax = residue_peak(locate, dt)
    del locate
    cbf = np.clip(value_at(residues, position), 0.0, None) * scale * 6000.0
    aif_area = max(float(integral(aif, dt)), 1e-6)
    cbv = np.clip(integral(curves, dt), 0.0, None) * scale * 100.0 / aif_area
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt = np.where(cbf > 1e-3, 60.0 * cbv / cbf, 0.0)
    ttp = np.argmax(curves if position_curves is None else position_curves, axis=-1) * dt
    return {"cbf": cbf.astype(np.float32), "cbv": cbv.astype(np.float32),
            "mtt": mtt.astype(np.float32), "tmax": tmax.astype(np.float32),
            "ttp": ttp.astype(np.float32)}


def exponential_curves(aif: np.ndarray, dt: float, mtts: np.ndarray, cbf: float,
                       config: PerfusionConfig) -> np.ndarray:
    """Noise-free tissue curves (len(mtts), N) for exponential residues, no delay."""
    upsample = 10
    n = aif.size
    fine_t = np.arange(n * upsample) * dt / upsample
    fine_aif = np.interp(fine_t, np.arange(n) * dt, aif)
    flow = config.density_g_per_ml / config.hematocrit_factor * cbf / 6000.0
    residue = np.exp(-fine_t[None, :] / mtts[:, None])
    size = 2 * fine_t.size
    fine = np.fft.irfft(np.fft.rfft(residue, size, axis=-1) * np.fft.rfft(fine_aif, size),
                        size, axis=-1)[:, : fine_t.size]
    return (flow * dt / upsample * fine[:, ::upsample]).astype(np.float32)


def calibrate(aif: np.ndarray, dt: float, config: PerfusionConfig) -> Calibration:
    """Deconvolve noise-free exponential-residue curves made with ``aif`` (see module doc)."""
    mtt_true = np.geomspace(1.0, 40.0, 48)
    cbf_true = 60.0  # arbitrary: the filter is linear
    raw = raw_maps(exponential_curves(aif, dt, mtt_true, cbf_true, config), aif, dt, config)
    order = np.argsort(raw["mtt"])
    return Calibration(mtt_s=np.maximum.accumulate(raw["mtt"][order]).astype(float),
                       cbf_ratio=(raw["cbf"][order] / cbf_true).astype(float),
                       tmax_shift_s=raw["tmax"][order].astype(float))


def _apply_calibration(maps: dict[str, np.ndarray], calibration: Calibration | None) -> None:
    if calibration is not None:
        ratio = np.interp(maps["mtt"], calibration.mtt_s, calibration.cbf_ratio)
        shift = np.interp(maps["mtt"], calibration.mtt_s, calibration.tmax_shift_s)
        maps["cbf"] = (maps["cbf"] / np.clip(ratio, 0.2, None)).astype(np.float32)
        maps["tmax"] = np.clip(maps["tmax"] - shift, 0.0, None).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        maps["mtt"] = np.where(maps["cbf"] > 1e-3, 60.0 * maps["cbv"] / maps["cbf"],
                               0.0).astype(np.float32)


@dataclass
class NoiseSamples:
    """Pure-noise curves processed exactly like the tissue curves (voxels, N), both versions."""

    curves: np.ndarray
    position_curves: np.ndarray


NOISE_FLOOR_MTT_S = np.array([3.0, 5.0, 8.0, 12.0, 18.0])
NOISE_FLOOR_CBF = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0,
                            40.0, 55.0, 75.0, 100.0, 140.0])


def noise_floor_table(aif: np.ndarray, dt: float, config: PerfusionConfig,
                      calibration: Calibration | None, noise: NoiseSamples) -> np.ndarray:
    """Median measured CBF (len(NOISE_FLOOR_MTT_S), len(NOISE_FLOOR_CBF)) for known CBF.

    Known curves plus this study's processed noise go through the same estimator; a voxel's
    measured CBF is then mapped back to the CBF whose median measurement it equals.
    """
    clean = exponential_curves(aif, dt, NOISE_FLOOR_MTT_S, 1.0, config)
    k = noise.curves.shape[0]
    table = np.empty((NOISE_FLOOR_MTT_S.size, NOISE_FLOOR_CBF.size))
    for i in range(NOISE_FLOOR_MTT_S.size):
        signal = (NOISE_FLOOR_CBF[:, None, None] * clean[i][None, None, :]).astype(np.float32)
        curves = (signal + noise.curves[None]).reshape(-1, aif.size)
        position = (signal + noise.position_curves[None]).reshape(-1, aif.size)
        maps = raw_maps(curves, aif, dt, config, position)
        _apply_calibration(maps, calibration)
        table[i] = np.median(maps["cbf"].reshape(NOISE_FLOOR_CBF.size, k), axis=1)
    return np.maximum.accumulate(table, axis=1)


def correct_noise_floor(maps: dict[str, np.ndarray], table: np.ndarray) -> None:
    """Map measured CBF back through ``table`` (by the voxel's MTT row, nearest)."""
    row = np.abs(np.log(np.clip(maps["mtt"], 0.5, 60.0))[:, None]
                 - np.log(NOISE_FLOOR_MTT_S)[None, :]).argmin(axis=1)
    corrected = np.empty_like(maps["cbf"])
    for i in range(NOISE_FLOOR_MTT_S.size):
        sel = row == i
        expected = table[i] + np.arange(NOISE_FLOOR_CBF.size) * 1e-6  # strictly increasing
        corrected[sel] = np.interp(maps["cbf"][sel], expected, NOISE_FLOOR_CBF,
                                   left=0.0, right=None)
        above = sel & (maps["cbf"] > expected[-1])
        corrected[above] = maps["cbf"][above] - (expected[-1] - NOISE_FLOOR_CBF[-1])
    maps["cbf"] = corrected.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        maps["mtt"] = np.where(maps["cbf"] > 1e-3, 60.0 * maps["cbv"] / maps["cbf"],
                               0.0).astype(np.float32)


def compute_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
                 position_curves: np.ndarray | None = None,
                 noise: NoiseSamples | None = None,
                 ) -> tuple[dict[str, np.ndarray], Calibration | None]:
    """Maps for curves (voxels, N): filter bias corrected (not for oSVD) and, given
    ``noise``, the noise-floor bias of CBF too (see module doc)."""
    maps = raw_maps(curves, aif, dt, config, position_curves)
    calibration = None
    if config.bias_correction and config.method != "osvd":
        calibration = calibrate(aif, dt, config)
    _apply_calibration(maps, calibration)
    if noise is not None:
        correct_noise_floor(maps, noise_floor_table(aif, dt, config, calibration, noise))
    return maps, calibration
