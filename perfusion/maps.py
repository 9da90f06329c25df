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
    """CBF ratio (estimate/truth) of exponential and of box residues, and the Tmax shift (s)
    of exponential residues, each by estimated MTT (s, increasing)."""

    mtt_s: np.ndarray
    cbf_ratio: np.ndarray
    tmax_shift_s: np.ndarray
    box_mtt_s: np.ndarray
    box_cbf_ratio: np.ndarray
    cbf_shape: str = "exponential"


MIN_LAG_S = -4.0
MAX_LAG_S = 25.0


def lag_window(m: int, n: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Residue columns with lags in [MIN_LAG_S, MAX_LAG_S], in increasing lag, and the lags.

    A circulant residue (m = 2n) holds negative lags (a bolus reaching tissue before the AIF)
    in its second half. Noise peaks at other lags are no residue peak.
    """
    lags = np.arange(m, dtype=float)
    if m == 2 * n:
        lags = np.where(lags >= n, lags - m, lags)
    lags *= dt
    cols = np.flatnonzero((lags >= MIN_LAG_S) & (lags <= MAX_LAG_S))
    cols = cols[np.argsort(lags[cols])]
    return cols, lags[cols]


def residue_peak(window: np.ndarray, lags_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak position (fractional column, parabolic sub-sample) in ``window`` (voxels, W) and
    its time (s; negative lags give 0)."""
    w = window.shape[-1]
    idx = np.argmax(window, axis=-1)
    rows = np.arange(window.shape[0])
    y1 = window[rows, idx]
    y0 = window[rows, np.clip(idx - 1, 0, w - 1)]
    y2 = window[rows, np.clip(idx + 1, 0, w - 1)]
    denom = y0 - 2.0 * y1 + y2
    inner = (idx > 0) & (idx < w - 1) & (denom < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(inner, 0.5 * (y0 - y2) / denom, 0.0)
    position = idx + np.clip(offset, -0.5, 0.5)
    tmax = np.interp(position, np.arange(w), lags_s)
    return position, np.clip(tmax, 0.0, None)


def value_at(window: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Values of ``window`` (voxels, W) at fractional column positions (linear)."""
    w = window.shape[-1]
    rows = np.arange(window.shape[0])
    low = np.clip(np.floor(position).astype(int), 0, w - 1)
    high = np.clip(low + 1, 0, w - 1)
    frac = (position - low).astype(np.float32)
    return window[rows, low] * (1 - frac) + window[rows, high] * frac


def integral(curves: np.ndarray, dt: float) -> np.ndarray:
    """Trapezoidal area along the last axis (HU * s)."""
    return dt * (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1]))


def raw_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
             position_curves: np.ndarray | None = None,
             basis: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Uncorrected cbf, cbv, mtt, tmax, ttp for curves (voxels, N) and the AIF (N,).

    The maximum of a noisy residue is biased upwards (it picks noise), which lifts the CBF
    of low-flow tissue onto the noise floor. With ``position_curves`` (the same voxels,
    smoothed more), the peak is located on their residues and CBF is read from the voxel's
    own residue at that lag, so the noise in the value is not selected for.

    With ``basis`` (N, k), ``curves`` and ``position_curves`` are coefficients (voxels, k)
    of that orthonormal basis: the linear methods then deconvolve the k basis curves once.
    """
    scale = config.hematocrit_factor / config.density_g_per_ml
    n = aif.size
    locate_source = curves if position_curves is None else position_curves
    if basis is not None and config.method != "osvd":
        kernel = deconvolve(basis.T, aif, dt, config)  # (k, M)
        cols, lags = lag_window(kernel.shape[-1], n, dt)
        window = curves @ kernel[:, cols]
        locate = window if position_curves is None else position_curves @ kernel[:, cols]
        area = curves @ integral(basis.T, dt).astype(np.float32)
        ttp_curves = locate_source @ basis.T
    else:
        full = curves if basis is None else curves @ basis.T
        residues = deconvolve(full, aif, dt, config)
        cols, lags = lag_window(residues.shape[-1], n, dt)
        window = residues[:, cols]
        del residues
        if position_curves is None:
            locate = window
        else:
            located = position_curves if basis is None else position_curves @ basis.T
            locate = deconvolve(located, aif, dt, config)[:, cols]
        area = integral(full, dt)
        ttp_curves = locate_source if basis is None else locate_source @ basis.T
    position, tmax = residue_peak(locate, lags)
    del locate
    cbf = np.clip(value_at(window, position), 0.0, None) * scale * 6000.0
    aif_area = max(float(integral(aif, dt)), 1e-6)
    cbv = np.clip(area, 0.0, None) * scale * 100.0 / aif_area
    with np.errstate(divide="ignore", invalid="ignore"):
        mtt = np.where(cbf > 1e-3, 60.0 * cbv / cbf, 0.0)
    ttp = np.argmax(ttp_curves, axis=-1) * dt
    return {"cbf": cbf.astype(np.float32), "cbv": cbv.astype(np.float32),
            "mtt": mtt.astype(np.float32), "tmax": tmax.astype(np.float32),
            "ttp": ttp.astype(np.float32)}


def exponential_curves(aif: np.ndarray, dt: float, mtts: np.ndarray, cbf: float,
                       config: PerfusionConfig, shape: str = "exponential") -> np.ndarray:
    """Noise-free tissue curves (len(mtts), N) for exponential (or box) residues, no delay."""
    upsample = 10
    n = aif.size
    fine_t = np.arange(n * upsample) * dt / upsample
    fine_aif = np.interp(fine_t, np.arange(n) * dt, aif)
    flow = config.density_g_per_ml / config.hematocrit_factor * cbf / 6000.0
    if shape == "box":
        residue = (fine_t[None, :] < mtts[:, None]).astype(float)
    else:
        residue = np.exp(-fine_t[None, :] / mtts[:, None])
    size = 2 * fine_t.size
    fine = np.fft.irfft(np.fft.rfft(residue, size, axis=-1) * np.fft.rfft(fine_aif, size),
                        size, axis=-1)[:, : fine_t.size]
    return (flow * dt / upsample * fine[:, ::upsample]).astype(np.float32)


def calibrate(aif: np.ndarray, dt: float, config: PerfusionConfig) -> Calibration:
    """Deconvolve noise-free exponential and box residue curves made with ``aif``."""
    mtt_true = np.geomspace(1.0, 40.0, 48)
    cbf_true = 60.0  # arbitrary: the filter is linear
    found = []
    for shape in ("exponential", "box"):
        curves = exponential_curves(aif, dt, mtt_true, cbf_true, config, shape)
        raw = raw_maps(curves, aif, dt, config)
        order = np.argsort(raw["mtt"])
        found.append((np.maximum.accumulate(raw["mtt"][order]).astype(float),
                      (raw["cbf"][order] / cbf_true).astype(float),
                      raw["tmax"][order].astype(float)))
    (mtt_e, ratio_e, shift_e), (mtt_b, ratio_b, _) = found
    return Calibration(mtt_s=mtt_e, cbf_ratio=ratio_e, tmax_shift_s=shift_e,
                       box_mtt_s=mtt_b, box_cbf_ratio=ratio_b,
                       cbf_shape=config.cbf_calibration)


def _apply_calibration(maps: dict[str, np.ndarray], calibration: Calibration | None) -> None:
    """Subtract the Tmax shift of exponential residues (a box has no single peak) and divide
    CBF by the ratio of the configured shape: exponential, the geometric mean of exponential
    and box ("mixed"), or none."""
    if calibration is not None:
        shift = np.interp(maps["mtt"], calibration.mtt_s, calibration.tmax_shift_s)
        if calibration.cbf_shape != "none":
            ratio = np.interp(maps["mtt"], calibration.mtt_s, calibration.cbf_ratio)
            if calibration.cbf_shape == "mixed":
                ratio_b = np.interp(maps["mtt"], calibration.box_mtt_s,
                                    calibration.box_cbf_ratio)
                ratio = np.sqrt(np.clip(ratio, 0.05, None) * np.clip(ratio_b, 0.05, None))
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
                      calibration: Calibration | None, noise: NoiseSamples,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Median CBF measured with this study's noise, and without noise, for known curves.

    Both (len(NOISE_FLOOR_MTT_S), len(NOISE_FLOOR_CBF)). The first maps a voxel's measured
    CBF back to what the same estimator gives without noise (the second): only the noise
    bias is removed; the filter's own bias is the calibration's business.
    """
    clean = exponential_curves(aif, dt, NOISE_FLOOR_MTT_S, 1.0, config)
    k = noise.curves.shape[0]
    noisy_table = np.empty((NOISE_FLOOR_MTT_S.size, NOISE_FLOOR_CBF.size))
    clean_table = np.empty_like(noisy_table)
    for i in range(NOISE_FLOOR_MTT_S.size):
        signal = (NOISE_FLOOR_CBF[:, None, None] * clean[i][None, None, :]).astype(np.float32)
        curves = (signal + noise.curves[None]).reshape(-1, aif.size)
        position = (signal + noise.position_curves[None]).reshape(-1, aif.size)
        maps = raw_maps(curves, aif, dt, config, position)
        _apply_calibration(maps, calibration)
        noisy_table[i] = np.median(maps["cbf"].reshape(NOISE_FLOOR_CBF.size, k), axis=1)
        reference = raw_maps(signal[:, 0], aif, dt, config)
        _apply_calibration(reference, calibration)
        clean_table[i] = reference["cbf"]
    return (np.maximum.accumulate(noisy_table, axis=1),
            np.maximum.accumulate(clean_table, axis=1))


def correct_noise_floor(maps: dict[str, np.ndarray],
                        tables: tuple[np.ndarray, np.ndarray]) -> None:
    """Map measured CBF from the noisy to the noise-free column of ``tables`` (by MTT row)."""
    noisy, clean = tables
    row = np.abs(np.log(np.clip(maps["mtt"], 0.5, 60.0))[:, None]
                 - np.log(NOISE_FLOOR_MTT_S)[None, :]).argmin(axis=1)
    corrected = np.empty_like(maps["cbf"])
    ramp = np.arange(NOISE_FLOOR_CBF.size) * 1e-6  # strictly increasing
    for i in range(NOISE_FLOOR_MTT_S.size):
        sel = row == i
        corrected[sel] = np.interp(maps["cbf"][sel], noisy[i] + ramp, clean[i] + ramp,
                                   left=0.0, right=None)
        above = sel & (maps["cbf"] > noisy[i, -1])
        corrected[above] = maps["cbf"][above] - (noisy[i, -1] - clean[i, -1])
    maps["cbf"] = corrected.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        maps["mtt"] = np.where(maps["cbf"] > 1e-3, 60.0 * maps["cbv"] / maps["cbf"],
                               0.0).astype(np.float32)


def compute_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
                 position_curves: np.ndarray | None = None,
                 noise: NoiseSamples | None = None, basis: np.ndarray | None = None,
                 ) -> tuple[dict[str, np.ndarray], Calibration | None]:
    """Maps for curves (voxels, N, or basis coefficients): filter bias corrected (not for
    oSVD) and, given ``noise`` (full curves), the noise-floor bias of CBF too (module doc)."""
    maps = raw_maps(curves, aif, dt, config, position_curves, basis)
    calibration = None
    if config.bias_correction and config.method != "osvd":
        calibration = calibrate(aif, dt, config)
    _apply_calibration(maps, calibration)
    if noise is not None:
        correct_noise_floor(maps, noise_floor_table(aif, dt, config, calibration, noise))
    return maps, calibration
