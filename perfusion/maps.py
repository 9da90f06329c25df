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
    """Peak height and its time (s, parabolic sub-sample, negative lags clipped to 0).

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
    position = np.where(position > m / 2.0, position - m, position)
    return y1, np.clip(position * dt, 0.0, None)


def integral(curves: np.ndarray, dt: float) -> np.ndarray:
    """Trapezoidal area along the last axis (HU * s)."""
    return dt * (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1]))


def raw_maps(curves: np.ndarray, aif: np.ndarray, dt: float,
             config: PerfusionConfig) -> dict[str, np.ndarray]:
    """Uncorrected cbf, cbv, mtt, tmax, ttp for curves (voxels, N) and the AIF (N,)."""
    scale = config.hematocrit_factor / config.density_g_per_ml
    residues = deconvolve(curves, aif, dt, config)
    peak, tmax = residue_peak(residues, dt)
    cbf = np.clip(peak, 0.0, None) * scale * 6000.0
    aif_area = max(float(integral(aif, dt)), 1e-6)
    cbv = np.clip(integral(curves, dt), 0.0, None) * scale * 100.0 / aif_area
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt = np.where(cbf > 1e-3, 60.0 * cbv / cbf, 0.0)
    ttp = np.argmax(curves, axis=-1) * dt
    return {"cbf": cbf.astype(np.float32), "cbv": cbv.astype(np.float32),
            "mtt": mtt.astype(np.float32), "tmax": tmax.astype(np.float32),
            "ttp": ttp.astype(np.float32)}


def calibrate(aif: np.ndarray, dt: float, config: PerfusionConfig) -> Calibration:
    """Deconvolve noise-free exponential-residue curves made with ``aif`` (see module doc)."""
    upsample = 10
    n = aif.size
    fine_t = np.arange(n * upsample) * dt / upsample
    fine_aif = np.interp(fine_t, np.arange(n) * dt, aif)
    mtt_true = np.geomspace(1.0, 40.0, 48)
    cbf_true = 60.0  # arbitrary: the filter is linear
    flow = config.density_g_per_ml / config.hematocrit_factor * cbf_true / 6000.0
    residue = np.exp(-fine_t[None, :] / mtt_true[:, None])
    spectrum = np.fft.rfft(fine_aif, 2 * fine_t.size)
    fine = np.fft.irfft(np.fft.rfft(residue, 2 * fine_t.size, axis=-1) * spectrum,
                        2 * fine_t.size, axis=-1)[:, : fine_t.size]
    curves = (flow * dt / upsample * fine[:, ::upsample]).astype(np.float32)
    raw = raw_maps(curves, aif, dt, config)
    order = np.argsort(raw["mtt"])
    return Calibration(mtt_s=np.maximum.accumulate(raw["mtt"][order]).astype(float),
                       cbf_ratio=(raw["cbf"][order] / cbf_true).astype(float),
                       tmax_shift_s=raw["tmax"][order].astype(float))


def compute_maps(curves: np.ndarray, aif: np.ndarray, dt: float,
                 config: PerfusionConfig) -> tuple[dict[str, np.ndarray], Calibration | None]:
    """Maps for curves (voxels, N); bias-corrected when configured (not for oSVD)."""
    maps = raw_maps(curves, aif, dt, config)
    if not config.bias_correction or config.method == "osvd":
        return maps, None
    calibration = calibrate(aif, dt, config)
    ratio = np.interp(maps["mtt"], calibration.mtt_s, calibration.cbf_ratio)
    shift = np.interp(maps["mtt"], calibration.mtt_s, calibration.tmax_shift_s)
    maps["cbf"] = (maps["cbf"] / np.clip(ratio, 0.2, None)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        maps["mtt"] = np.where(maps["cbf"] > 1e-3, 60.0 * maps["cbv"] / maps["cbf"],
                               0.0).astype(np.float32)
    maps["tmax"] = np.clip(maps["tmax"] - shift, 0.0, None).astype(np.float32)
    return maps, calibration
