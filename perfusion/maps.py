"""Perfusion maps from residues: CBF, CBV, MTT, Tmax (sub-sample), TTP, and bias correction.

Units: CBF mL/100 g/min, CBV mL/100 g, MTT/Tmax/TTP s. CBF = max(r) * (k_H/rho) * 6000,
CBV = (k_H/rho) * 100 * integral(C_t) / integral(C_a), MTT = 60 * CBV / CBF (central volume).

Bias correction (``PerfusionConfig.bias_correction``): a truncated deconvolution is a low-pass
filter of the residue, so it lowers the CBF of short-MTT tissue and moves the residue's peak
later. For the circulant methods the filter depends only on the AIF, not on the delay, so we
measure it on noise-free curves made with the study's own AIF (MTT 1-40 s; for CBF only the
transits the deconvolution resolves, see ``calibrate``) for every residue shape of
RESIDUE_FAMILY and divide CBF by the measured ratio (exponential, or the geometric
mean over the family: ``cbf_calibration``) and subtract the exponential Tmax shift, looked up by an
MTT (the caller's: ``analyze`` uses the regional CBV over the noise-corrected CBF, because a
single voxel's noisy MTT makes the lookup erratic). oSVD chooses its filter per voxel from the
noise, so it is left as is.

Noise floor (``PerfusionConfig.noise_floor_correction``): the maximum of a noisy residue is
biased upwards, most for low flow. ``noise_floor_table`` measures that lift with pure noise
processed like the study's data, for exponential curves by CBV (linear in the data, so not
biased by the noise), true CBF and delay; ``correct_noise_floor`` inverts it before the
filter calibration. Both work on uncorrected CBF, so the table stays monotonic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from perfusion.config import PerfusionConfig
from perfusion.deconvolve import deconvolve


@dataclass
class Calibration:
    """What the filter makes of noise-free curves, by the estimated MTT (s, increasing): the
    Tmax shift (s) of exponential residues, and the CBF ratio (estimate/truth) of every shape
    of SHAPES over the resolved MTTs (rows; ``family_mtt_s`` holds each shape's MTTs, row 0
    is the exponential, the first len(RESIDUE_FAMILY) rows are RESIDUE_FAMILY)."""

    mtt_s: np.ndarray
    tmax_shift_s: np.ndarray
    family_mtt_s: np.ndarray
    family_cbf_ratio: np.ndarray
    cbf_shape: str = "exponential"


# Gamma shapes of the transit-time distributions the "family" calibration averages over:
# 1 is the exponential residue (one compartment), inf the box (plug flow). Shape 3, the
# reference phantom's gamma residue, is deliberately not among them.
RESIDUE_FAMILY = (1.0, 1.6, 2.5, 4.0, 6.4, 10.0, np.inf)


# The shapes among which perfusion.fit identifies a tissue's residue: the family and the
# linear residue (transit times uniform up to twice the MTT).
SHAPES: tuple[float | str, ...] = (*RESIDUE_FAMILY, "linear")


def family_residue(shape: float | str, t: np.ndarray, mtt_s: np.ndarray) -> np.ndarray:
    """R(t) (rows: ``mtt_s``, s) with R(0) = 1 and area MTT for transit times gamma-distributed
    with ``shape`` (1: exponential; inf: box), or uniform up to 2 MTT ("linear")."""
    if shape == "linear":
        linear: np.ndarray = np.clip(1.0 - t[None, :] / (2.0 * mtt_s[:, None]), 0.0, None)
        return linear
    shape = float(shape)
    if np.isinf(shape):
        return (t[None, :] < mtt_s[:, None]).astype(float)
    survival: np.ndarray = special.gammaincc(shape, shape * t[None, :] / mtt_s[:, None])
    return survival


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
    values: np.ndarray = window[rows, low] * (1 - frac) + window[rows, high] * frac
    return values


def integral(curves: np.ndarray, dt: float) -> np.ndarray:
    """Trapezoidal area along the last axis (HU * s)."""
    area: np.ndarray = dt * (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1]))
    return area


def raw_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
             position_curves: np.ndarray | None = None,
             basis: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Uncorrected cbf, cbv, mtt, tmax, ttp for curves (voxels, N) and the AIF (N,)
    (``single_filter_maps``); with ``config.tmax_svd_threshold`` set, Tmax comes from residues
    truncated by bcSVD at that threshold and everything else from the configured method."""
    maps = single_filter_maps(curves, aif, dt, config, position_curves, basis)
    if config.tmax_svd_threshold is not None:
        steady = replace(config, method="bcsvd", svd_threshold=config.tmax_svd_threshold,
                         tmax_svd_threshold=None)
        maps["tmax"] = single_filter_maps(curves, aif, dt, steady, position_curves,
                                          basis)["tmax"]
    return maps


def single_filter_maps(curves: np.ndarray, aif: np.ndarray, dt: float,
                       config: PerfusionConfig, position_curves: np.ndarray | None = None,
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


def fine_input(aif: np.ndarray, dt: float, upsample: int) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) of a grid ``upsample`` times finer than the sampling ``dt`` and the sampled
    AIF (HU) on it, by a natural cubic spline (held at the last sample beyond it, never below
    the lowest sample).

    The bolus peak is smooth and a few seconds wide: sampled every 1-2 s, a straight line
    between samples cuts its top, and curves made from that AIF are wider and lower than the
    tissue's, which shifts the calibrations by the residue shape (reference phantom, 2-s
    sampling, 10 HU, CBF exponential/linear/box/gamma: +4/-8/+16/+25 % linear, -3/-15/+2/+4 %
    with the spline)."""
    from scipy.interpolate import CubicSpline

    t = np.arange(aif.size) * dt
    fine_t = np.arange(aif.size * upsample) * dt / upsample
    fine = np.asarray(CubicSpline(t, aif, bc_type="natural")(fine_t))
    fine[fine_t > t[-1]] = aif[-1]
    return fine_t, np.maximum(fine, aif.min())


def residue_curves(aif: np.ndarray, dt: float, mtts: np.ndarray, cbf: float,
                   config: PerfusionConfig, shape: float | str = 1.0,
                   delay_s: float = 0.0) -> np.ndarray:
    """Noise-free tissue curves (len(mtts), N) for residues of gamma ``shape`` (1: exponential,
    inf: box; family_residue) with MTTs ``mtts`` (s) and CBF ``cbf`` (mL/100 g/min), arriving
    ``delay_s`` after the AIF."""
    upsample = 10
    fine_t, fine_aif = fine_input(aif, dt, upsample)
    flow = config.density_g_per_ml / config.hematocrit_factor * cbf / 6000.0
    residue = family_residue(shape, fine_t, mtts)
    shift = int(round(delay_s / dt * upsample))
    if shift:
        residue = np.concatenate([np.zeros((mtts.size, shift)), residue[:, :-shift]], axis=1)
    size = 2 * fine_t.size
    fine = np.fft.irfft(np.fft.rfft(residue, size, axis=-1) * np.fft.rfft(fine_aif, size),
                        size, axis=-1)[:, : fine_t.size]
    return (flow * dt / upsample * fine[:, ::upsample]).astype(np.float32)


# True MTTs (s) of the noise-free curves the calibration deconvolves.
CALIBRATION_MTT_S = np.geomspace(1.0, 40.0, 48)


def _by_estimate(estimated: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lookup table: ``estimated`` MTTs sorted (and made non-decreasing) with ``values``."""
    order = np.argsort(estimated, kind="stable")
    return np.maximum.accumulate(estimated[order]), values[order]


def resolved_transits(estimated: np.ndarray, true_mtt: np.ndarray,
                      min_slope: float = 0.0) -> tuple[int, int]:
    """First and last index of the longest run of a table's transits over which the
    estimated MTT (``estimated``, in order of ``true_mtt``) rises at least ``min_slope`` times
    as fast as the true one, on log scales (at 0: rises at all).

    Short transits stall below a few seconds (a box of 1.5-3.8 s reads 3.8-3.9 s at 2-s
    sampling); the longest can stall too, where the curve outlasts the acquisition and the
    AIF's noisy tail decides the estimate (an exponential of 29-40 s read 22.3 s with one
    head phantom's AIF at 20 HU). Where the estimate barely follows the truth, a lookup's
    noise is amplified by the ratio of the two slopes: with a broad bolus the exponential's
    estimates of 1-3.4 s read 6.6-7.9 s while its ratio ran from 0.16 to 0.45, so that a
    voxel whose estimate noise lowered by 10 % had its CBF multiplied by up to 1.5 more."""
    rise = np.diff(np.log(np.maximum(estimated, 1e-6))) / np.diff(np.log(true_mtt))
    stalls = np.flatnonzero(rise < max(min_slope, 1e-9))
    starts = np.concatenate([[0], stalls + 1])
    ends = np.concatenate([stalls, [estimated.size - 1]])
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def calibrate(aif: np.ndarray, dt: float, config: PerfusionConfig) -> Calibration:
    """Deconvolve noise-free curves made with ``aif`` for every shape of SHAPES (true MTT
    1-40 s).

    A shape's CBF ratios are kept only over the transits whose estimated MTT follows the
    true one at least ``config.calibration_min_slope`` times as fast (``resolved_transits``);
    outside them the ratio is the nearest kept transit's. A box residue of 1.5-3.8 s
    deconvolves to an estimated MTT of 3.8-3.9 s at 2-s sampling, 1.7-2.6 s to 3.4 s at
    1.5 s: a table holding them gave ratios of 0.3-0.9 at nearly the same estimate, so that a
    grey-matter voxel whose noise lowered its estimate had its CBF doubled or tripled, and
    with it the normal tissue's mean, which every relative CBF divides by. The smooth shapes
    (exponential, gamma, linear) rise from 1 s on, but with a broad bolus (a held-out
    family's AIF is stretched 1.0-1.6 times) barely: their shortest transits are then held
    too. At the long end, a stall must not cut the table either: cutting at the last stall
    anywhere held a whole table at its longest transit's ratio (about 1, no correction)
    whenever the AIF's tail made the 30-40 s transits stall.
    """
    n = CALIBRATION_MTT_S.size
    cbf_true = 60.0  # arbitrary: the filter is linear
    curves = np.concatenate([residue_curves(aif, dt, CALIBRATION_MTT_S, cbf_true, config, shape)
                             for shape in SHAPES])
    found = raw_maps(curves, aif, dt, config)
    raw = {name: found[name].reshape(len(SHAPES), n) for name in ("mtt", "cbf", "tmax")}
    raw["ratio"] = raw["cbf"] / cbf_true
    tables = []
    for estimated, ratio in zip(raw["mtt"].astype(float), raw["ratio"].astype(float),
                                strict=True):
        first, last = resolved_transits(estimated, CALIBRATION_MTT_S,
                                        config.calibration_min_slope)
        index = np.clip(np.arange(n), first, last)  # outside: the nearest resolved transit
        tables.append(_by_estimate(estimated[index], ratio[index]))
    mtt, ratio = (np.stack(column) for column in zip(*tables, strict=True))
    # Row 0 is the exponential.
    shift_mtt, shift = _by_estimate(raw["mtt"][0].astype(float), raw["tmax"][0].astype(float))
    return Calibration(mtt_s=shift_mtt, tmax_shift_s=shift, family_mtt_s=mtt,
                       family_cbf_ratio=ratio, cbf_shape=config.cbf_calibration)


def mtt_of(cbf: np.ndarray, cbv: np.ndarray) -> np.ndarray:
    """MTT (s) = 60 * CBV / CBF by the central volume theorem; 0 where there is no flow."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cbf > 1e-3, 60.0 * cbv / cbf, 0.0).astype(np.float32)


def shape_weights(calibration: Calibration, voxels: int,
                  fitted: np.ndarray | None = None) -> np.ndarray:
    """Weights (voxels, shapes of SHAPES) of the shapes' CBF ratios in the calibration:
    row 0 (the exponential) for "exponential", the RESIDUE_FAMILY rows alike for "family",
    ``fitted`` (the voxels' weights of the shapes, perfusion.fit) for "fitted"."""
    if calibration.cbf_shape == "fitted":
        if fitted is None:
            raise ValueError('the "fitted" CBF calibration needs the voxels\' shape weights')
        return fitted
    weights = np.zeros((voxels, len(SHAPES)), dtype=np.float32)
    if calibration.cbf_shape == "family":
        weights[:, : len(RESIDUE_FAMILY)] = 1.0 / len(RESIDUE_FAMILY)
    else:
        weights[:, 0] = 1.0
    return weights


def apply_calibration(maps: dict[str, np.ndarray], calibration: Calibration | None,
                      lookup_mtt: np.ndarray | None = None,
                      fitted: np.ndarray | None = None) -> None:
    """Subtract the Tmax shift of exponential residues (a box has no single peak) and divide
    CBF by the filter's ratio, both looked up by ``lookup_mtt`` (s; default the voxel's own
    uncorrected MTT): the weighted geometric mean of the ratios of the shapes of SHAPES, each
    shape's table read at the same estimated MTT, with ``shape_weights`` (``fitted``: the
    voxels' weights of the shapes, for the "fitted" calibration); "none": no CBF correction."""
    if calibration is not None:
        mtt = maps["mtt"] if lookup_mtt is None else lookup_mtt
        shift = np.interp(mtt, calibration.mtt_s, calibration.tmax_shift_s)
        if calibration.cbf_shape != "none":
            weights = shape_weights(calibration, mtt.size, fitted)
            logs = np.stack([np.log(np.clip(np.interp(mtt, mtt_s, ratio_s), 0.05, None))
                             for mtt_s, ratio_s in zip(calibration.family_mtt_s,
                                                       calibration.family_cbf_ratio,
                                                       strict=True)], axis=-1)
            ratio = np.exp(np.sum(weights * logs, axis=-1))
            maps["cbf"] = (maps["cbf"] / np.clip(ratio, 0.2, None)).astype(np.float32)
        maps["tmax"] = np.clip(maps["tmax"] - shift, 0.0, None).astype(np.float32)
    maps["mtt"] = mtt_of(maps["cbf"], maps["cbv"])


@dataclass
class NoiseSamples:
    """Pure-noise curves processed exactly like the tissue curves (voxels, N), both versions."""

    curves: np.ndarray
    position_curves: np.ndarray


NOISE_FLOOR_CBV = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0])
NOISE_FLOOR_DELAY_S = np.array([0.0, 4.0, 8.0, 12.0])
NOISE_FLOOR_CBF = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0,
                            40.0, 55.0, 75.0, 100.0, 140.0])


@dataclass
class NoiseFloor:
    """Uncorrected CBF of exponential-residue curves with the study's noise, ``noisy``
    (delays, CBV rows, CBF columns), and without it, ``clean`` (CBV rows, CBF columns), for
    CBV NOISE_FLOOR_CBV (mL/100 g), true CBF NOISE_FLOOR_CBF (mL/100 g/min) and delays
    NOISE_FLOOR_DELAY_S (s)."""

    noisy: np.ndarray
    clean: np.ndarray
    tmax_lift_s: np.ndarray


def noise_floor_table(aif: np.ndarray, dt: float, config: PerfusionConfig,
                      noise: NoiseSamples, statistic: str = "mean",
                      shape: float | str = 1.0) -> NoiseFloor:
    """Uncorrected CBF of known curves (residues of ``shape``, family_residue) with this
    study's noise (mean or median over the noise samples) and without it.

    The table maps a measured CBF back to what the same estimator gives without noise: only
    the noise bias is removed; the filter's own bias is the calibration's business, applied
    afterwards. Rows are by CBV, which is linear in the data and so unbiased by noise (an
    MTT would be shortened by the very lift it should correct). The lift depends on the
    delay (how many lags of a late residue compete with its peak), so it is measured at
    several. Use the mean for a CBF map that is averaged over neighbouring voxels before the
    correction, the median for single voxels. The noise also moves the peak of a flat residue
    later: ``tmax_lift_s`` is the median Tmax with noise minus the Tmax without. The lift
    of CBF depends on the shape too: noise raises the maximum of a flat top, where many lags
    compete, more than that of a sharp peak.
    """
    k = noise.curves.shape[0]
    reduce = np.mean if statistic == "mean" else np.median
    rows, columns = NOISE_FLOOR_CBV.size, NOISE_FLOOR_CBF.size
    flowing = NOISE_FLOOR_CBF > 0
    noisy_table = np.empty((NOISE_FLOOR_DELAY_S.size, rows, columns))
    clean_table = np.zeros((rows, columns))
    tmax_lift = np.zeros_like(noisy_table)
    for d, delay in enumerate(NOISE_FLOOR_DELAY_S):
        for i, cbv in enumerate(NOISE_FLOOR_CBV):
            mtts = 60.0 * cbv / NOISE_FLOOR_CBF[flowing]
            signal = np.zeros((columns, aif.size), dtype=np.float32)
            signal[flowing] = (residue_curves(aif, dt, mtts, 1.0, config, shape, delay)
                               * NOISE_FLOOR_CBF[flowing, None])
            curves = (signal[:, None, :] + noise.curves[None]).reshape(-1, aif.size)
            position = (signal[:, None, :] + noise.position_curves[None]).reshape(-1, aif.size)
            maps = raw_maps(curves, aif, dt, config, position)
            noisy_table[d, i] = reduce(maps["cbf"].reshape(columns, k), axis=1)
            clean = raw_maps(signal[flowing], aif, dt, config)
            if d == 0:
                clean_table[i, flowing] = clean["cbf"]
            tmax_lift[d, i, flowing] = (np.median(maps["tmax"].reshape(columns, k), axis=1)
                                        [flowing] - clean["tmax"])
    # Keep the table monotonic (lower envelope of the noisy values).
    lower = np.minimum.accumulate(noisy_table[..., ::-1], axis=-1)[..., ::-1]
    # Noise alone has no Tmax to lift: the lowest flow stands for it.
    tmax_lift[..., 0] = tmax_lift[..., 1]
    return NoiseFloor(lower, np.maximum.accumulate(clean_table, axis=1), tmax_lift)


def correct_noise_floor(cbf: np.ndarray, tmax: np.ndarray, cbv: np.ndarray,
                        table: NoiseFloor) -> tuple[np.ndarray, np.ndarray]:
    """CBF (voxels) mapped from the noisy to the noise-free values of ``table``, and the Tmax
    lift (s) of the noise, interpolated between the rows that bracket ``cbv`` (mL/100 g) and
    the delays that bracket ``tmax`` (s). Below the table's floor CBF may come out negative
    (see below)."""
    delay_weights = _bracket(tmax, NOISE_FLOOR_DELAY_S)
    row_weights = _bracket(cbv, NOISE_FLOOR_CBV)
    corrected = np.zeros_like(cbf)
    lift = np.zeros_like(cbf)
    columns = np.arange(NOISE_FLOOR_CBF.size, dtype=float)
    ramp = columns * 1e-6  # strictly increasing
    for d, delay_share in delay_weights:
        for i, row_share in row_weights:
            share = delay_share * row_share
            used = share > 0
            if not used.any():
                continue
            values = cbf[used]
            noisy, clean = table.noisy[d, i], table.clean[i]
            row = np.interp(values, noisy + ramp, clean + ramp)
            # Outside the table, continue its end segments: a clamp at 0 below the floor
            # would turn the noise around a low CBF into an upward bias of averages.
            low = values < noisy[0]
            slope = (clean[1] - clean[0]) / max(noisy[1] - noisy[0], 1e-3)
            row[low] = clean[0] + (values[low] - noisy[0]) * min(slope, 20.0)
            above = values > noisy[-1]
            row[above] = values[above] - (noisy[-1] - clean[-1])
            corrected[used] += share[used] * row
            column = np.interp(values, noisy + ramp, columns)
            lift[used] += share[used] * np.interp(column, columns, table.tmax_lift_s[d, i])
    return corrected.astype(np.float32), lift.astype(np.float32)


def _bracket(values: np.ndarray, nodes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Linear-interpolation weights of ``values`` on increasing ``nodes`` (clamped at the
    ends): one (node index, weight per value) pair per node."""
    position = np.interp(values, nodes, np.arange(nodes.size))
    below = np.clip(np.floor(position).astype(int), 0, nodes.size - 2)
    upper = (position - below).astype(np.float32)
    return [(i, np.where(below == i, 1.0 - upper, 0.0) + np.where(below + 1 == i, upper, 0.0))
            for i in range(nodes.size)]


def compute_maps(curves: np.ndarray, aif: np.ndarray, dt: float, config: PerfusionConfig,
                 position_curves: np.ndarray | None = None, basis: np.ndarray | None = None,
                 ) -> tuple[dict[str, np.ndarray], Calibration | None]:
    """Uncorrected maps for curves (voxels, N, or basis coefficients) and the filter's
    calibration (None for oSVD or without bias correction; module doc).

    The caller averages CBF if it wants, corrects the noise floor (``correct_noise_floor``)
    and then the filter bias (``apply_calibration``), in that order.
    """
    maps = raw_maps(curves, aif, dt, config, position_curves, basis)
    calibration = None
    if config.bias_correction and config.method != "osvd":
        calibration = calibrate(aif, dt, config)
    return maps, calibration
