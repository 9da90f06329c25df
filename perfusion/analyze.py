"""The pipeline: 4-D series -> motion -> baseline and mask -> AIF/VOF -> denoise ->
deconvolution -> maps -> lesions -> outputs. ``analyze_files`` never raises for bad data."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from perfusion import io, lesions, mask, motion, outputs
from perfusion.aif import find_input_functions
from perfusion.config import PerfusionConfig
from perfusion.denoise import (
    busiest_slices,
    correlation_factor,
    denoise,
    map_sigma_px,
    model_subspace,
    noise_level,
    processed_noise,
    residual_noise,
    smoothing_sigma_px,
)
from perfusion.errors import PerfusionError
from perfusion.fit import pooled_shape_weights
from perfusion.maps import (
    SHAPES,
    NoiseSamples,
    apply_calibration,
    compute_maps,
    correct_noise_floor,
    mtt_of,
    noise_floor_table,
)
from perfusion.result import PerfusionResult, VolumeAnalysis

log = logging.getLogger(__name__)

RIM_MM = 1.5
# Noise whose smoothing leaves at most this much more than white noise's is taken as white
# (the estimate scatters by about 2 % between noise draws).
WHITE_NOISE_TOLERANCE = 1.1
MAP_NAMES = ("cbf", "cbv", "mtt", "tmax", "ttp")


def _block_average(frames: np.ndarray, factor: int) -> np.ndarray:
    n_t, nz, ny, nx = frames.shape
    ny2, nx2 = ny // factor, nx // factor
    out = np.zeros((n_t, nz, ny2, nx2), dtype=np.float32)
    for dy in range(factor):
        for dx in range(factor):
            out += frames[:, :, dy: ny2 * factor: factor, dx: nx2 * factor: factor]
    out *= np.float32(1.0 / factor**2)
    return out


def _regional_average(values: np.ndarray, tissue: np.ndarray,
                      sigma_px: tuple[float, float]) -> np.ndarray:
    """``values`` of the tissue voxels averaged in-plane over ``sigma_px`` within the tissue."""
    volume = np.zeros(tissue.shape, dtype=np.float32)
    volume[tissue] = values
    averaged: np.ndarray = mask.smooth_in_mask(volume, tissue, sigma_px)[tissue]
    return averaged


def _peak_enhancement(enhancement: np.ndarray) -> np.ndarray:
    """Per-voxel maximum of the [1 2 1]/4 time-smoothed enhancement (HU)."""
    peak = np.full(enhancement.shape[1:], -np.inf, dtype=np.float32)
    for t in range(1, enhancement.shape[0] - 1):
        smoothed = 0.25 * enhancement[t - 1] + 0.5 * enhancement[t] + 0.25 * enhancement[t + 1]
        np.maximum(peak, smoothed, out=peak)
    return peak


def analyze_volume(
    frames: np.ndarray,
    times: npt.ArrayLike,
    spacing: Sequence[float],
    config: PerfusionConfig | None = None,
    affine: np.ndarray | None = None,
) -> VolumeAnalysis:
    """Analyse frames (t, z, y, x) in HU at ``times`` (s) with ``spacing`` (z, y, x) mm.

    ``affine`` maps voxel (x, y, z) indices to LPS mm (default: axial, columns towards
    patient left). Raises PerfusionError with a readable reason when the data cannot be used.
    """
    config = config or PerfusionConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    times_s = np.asarray(times, dtype=float)
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[0] != times_s.size:
        raise PerfusionError("frames must be (time, z, y, x) with one time per frame")
    if times_s.size < config.min_frames:
        raise PerfusionError(f"too few time points ({times_s.size} < {config.min_frames})")
    voxel_mm = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    if affine is None:
        affine = np.diag([voxel_mm[2], voxel_mm[1], voxel_mm[0], 1.0])
    affine = np.array(affine, dtype=float)
    if np.any(np.diff(times_s) <= 0):
        order = np.argsort(times_s)
        times_s, frames = times_s[order], frames[order]
    times_s = times_s - times_s[0]
    if not io.is_regular(times_s):
        grid = io.regular_grid([times_s])
        frames, times_s = io.resample_time(frames, times_s, grid), grid - grid[0]
    dt = float(times_s[1] - times_s[0])
    factor = int(round(config.working_pixel_mm / min(voxel_mm[1:]))) if config.working_pixel_mm \
        else 1
    if factor >= 2:
        frames = _block_average(frames, factor)
        affine = affine.copy()
        affine[:3, 3] += (factor - 1) / 2.0 * (affine[:3, 0] + affine[:3, 1])
        affine[:3, :2] *= factor
        voxel_mm = (voxel_mm[0], voxel_mm[1] * factor, voxel_mm[2] * factor)
    lap("resample")

    report = None
    if config.motion_correction:
        frames, report = motion.correct_motion(frames, voxel_mm, config)

    head = mask.head_region(frames[0])
    frames, report = motion.repair_slices(frames, times_s, head, report)
    if report is not None and any(t == 0 for t, _ in report.repaired):
        head = mask.head_region(frames[0])
    lap("motion")
    arrival = mask.bolus_arrival_frame(frames, head)
    pre = mask.baseline_frames(arrival)
    baseline = frames[pre].mean(axis=0)
    enhancement = frames - baseline
    noise = noise_level(frames, pre, head & (baseline < 150))
    sigma = smoothing_sigma_px(noise, voxel_mm[1:], config)
    map_sigma = map_sigma_px(noise, sigma, config)
    baseline_smooth = mask.smooth_in_mask(baseline, head, (1.0, 1.0))
    peak = _peak_enhancement(enhancement)
    rim = None
    if report is not None and report.corrected_frames:
        # Resampled frames never match the baseline exactly at bone edges (hundreds of HU
        # over a fraction of a mm): leave a rim along the bone out. Its false enhancement
        # is no vessel, so it does not widen the vessel exclusion into the cortex either.
        rim = ndimage.binary_dilation(baseline > mask.BONE_HU, structure=np.ones((1, 3, 3)),
                                      iterations=max(1, int(np.ceil(RIM_MM / voxel_mm[1]))))
    tissue = mask.tissue_mask(baseline_smooth, head, peak, config, exclude=rim)
    unmeasured = None
    if rim is not None:
        low, high = config.tissue_hu
        unmeasured = rim & head & (baseline_smooth >= low) & (baseline_smooth <= high)
    if tissue.sum() < 100:
        raise PerfusionError("no brain tissue found in the perfusion images")
    # The smoothing widths are set for white noise: spatially correlated noise is read as the
    # white noise that smoothing would leave as noisy (within the estimate's few per cent, as
    # white).
    correlation = correlation_factor(enhancement, pre, tissue, sigma)
    if correlation > WHITE_NOISE_TOLERANCE:
        sigma = smoothing_sigma_px(noise * correlation, voxel_mm[1:], config)
        map_sigma = map_sigma_px(noise * correlation, sigma, config)
    lap("mask")

    inputs = find_input_functions(enhancement, baseline, head, peak, dt, noise, config)
    lap("aif")

    # Smoothing (space) and projection (time) are linear and commute: project first, then
    # smooth the few subspace coefficients instead of every frame.
    basis = (model_subspace(inputs.aif, dt, config.subspace_energy)
             if config.temporal_projection else None)
    if basis is not None:
        volumes = np.tensordot(basis.T, enhancement, axes=(1, 0)).astype(np.float32)
    else:
        volumes = enhancement
    smoothed = denoise(volumes, tissue, sigma)
    wider = denoise(smoothed, tissue, sigma)  # sigma * sqrt(2): where the residue peaks
    noise_samples = None
    if config.noise_floor_correction and noise > 0:
        slices = busiest_slices(tissue)
        residual = residual_noise(enhancement, pre, tissue, sigma)
        noise_samples = NoiseSamples(*processed_noise(frames.shape[0], tissue[slices], sigma,
                                                      noise, residual, basis, pre))
    del enhancement, volumes
    shape_weights = None
    if config.bias_correction and config.cbf_calibration == "fitted":
        extra = None
        if noise_samples is not None:
            extra = noise_samples.curves if basis is None else noise_samples.curves @ basis
        shape_weights = pooled_shape_weights(smoothed, tissue, inputs.aif, dt, basis, voxel_mm,
                                             config.shape_pool_mm, config.shape_fit_stride_mm,
                                             extra)
    lap("denoise")

    curves, position_curves = smoothed[:, tissue].T, wider[:, tissue].T
    del smoothed, wider
    values, calibration = compute_maps(curves, inputs.aif, dt, config, position_curves, basis)
    maps = {}
    for name in MAP_NAMES:
        volume = np.zeros(tissue.shape, dtype=np.float32)
        volume[tissue] = values[name]
        maps[name] = volume
    vessel_like = tissue & (maps["cbv"] > config.max_tissue_cbv)
    if vessel_like.any():
        tissue = tissue & ~ndimage.binary_dilation(vessel_like, structure=np.ones((1, 3, 3)))
        for name in MAP_NAMES:
            maps[name][~tissue] = 0
    if config.cbf_smoothing:
        # CBF read at the residue peak is noisy: average it too (denoise.map_sigma_px).
        maps["cbf"] = mask.smooth_in_mask(maps["cbf"], tissue, map_sigma)
    in_tissue = {name: maps[name][tissue] for name in ("cbf", "cbv", "tmax")}
    # The corrections depend on CBV (noise floor) and MTT (filter), which a single voxel's
    # noise makes erratic: both look up CBV averaged over twice the smoothing width.
    regional_cbv = _regional_average(in_tissue["cbv"], tissue, (2.0 * sigma[0],
                                                                2.0 * sigma[1]))
    if noise_samples is not None:
        # The noise lifts the residue's peak; averaged values are corrected by the mean lift,
        # single voxels by the median one (maps.noise_floor_table).
        statistic = "mean" if config.cbf_smoothing else "median"
        # The lift depends on the residue's shape: with fitted shapes, the voxels are
        # corrected by the table of their likeliest shape.
        shapes = np.zeros(regional_cbv.size, dtype=int) if shape_weights is None else \
            np.argmax(shape_weights[:, tissue], axis=0)
        cbf, tmax_lift = np.empty_like(regional_cbv), np.empty_like(regional_cbv)
        for index in np.unique(shapes):
            table = noise_floor_table(inputs.aif, dt, config, noise_samples, statistic,
                                      SHAPES[index])
            chosen = shapes == index
            cbf[chosen], tmax_lift[chosen] = correct_noise_floor(
                in_tissue["cbf"][chosen], in_tissue["tmax"][chosen], regional_cbv[chosen],
                table)
        in_tissue["cbf"] = np.clip(cbf, 0.0, None)
        in_tissue["tmax"] = np.clip(in_tissue["tmax"] - tmax_lift, 0.0, None)
    in_tissue["mtt"] = mtt_of(in_tissue["cbf"], in_tissue["cbv"])
    apply_calibration(in_tissue, calibration, mtt_of(in_tissue["cbf"], regional_cbv),
                      None if shape_weights is None else shape_weights[:, tissue].T)
    for name in ("cbf", "mtt", "tmax"):
        maps[name][tissue] = in_tissue[name]
    if config.tmax_smoothing:
        # Each voxel's Tmax is the lag of a noisy peak (about 1.3 s spread at 10 HU); delay
        # varies slowly across tissue, and a threshold halfway between two tissues' Tmax
        # (6 s between 7.5 and 4.5 s) is not moved by averaging. The noise lift removed
        # above is the median of single voxels: the average of their skewed values sits
        # about 0.1 s later.
        maps["tmax"] = mask.smooth_in_mask(maps["tmax"], tissue, map_sigma)
    lap("deconvolution")

    voxel_ml = float(np.prod(voxel_mm)) / 1000.0
    found = lesions.find_lesions(maps, tissue, voxel_ml, affine, config, unmeasured)
    maps["rcbf"] = found.rcbf
    lap("lesions")
    return VolumeAnalysis(maps=maps, tissue=tissue, lesions=found, inputs=inputs, times=times_s,
                          spacing=voxel_mm, affine=affine, baseline=baseline, motion=report,
                          noise_hu=noise, calibration=calibration, timings_s=timings,
                          residue_shapes=shape_weights)


def repaired_note(repaired: list[tuple[int, int]]) -> str:
    """A readable line for the (frame, slice) pairs ``motion.repair_slices`` interpolated."""
    frames = sorted({t + 1 for t, _ in repaired})
    slices = sorted({z + 1 for _, z in repaired})
    return (f"tissue far below its baseline (through-plane motion) in frames "
            f"{', '.join(map(str, frames))} of slices {', '.join(map(str, slices))}: "
            "interpolated in time")


def analyze_files(paths: Sequence[Path], out_dir: Path,
                  config: PerfusionConfig | None = None) -> PerfusionResult:
    """Analyse one CTP series from its DICOM files, writing maps and key images to ``out_dir``.

    Bad data gives ``status == "failed"`` with a reason; this function does not raise for it.
    """
    config = config or PerfusionConfig()
    started = time.perf_counter()
    result = PerfusionResult(status="failed")
    try:
        series = io.load_series([Path(p) for p in paths])
        result.study_instance_uid = series.study_instance_uid
        result.series_instance_uid = series.series_instance_uid
        result.frame_of_reference_uid = series.frame_of_reference_uid
        result.source_sop_instance_uids = series.sop_instance_uids
        result.notes = list(series.notes)
        read_s = time.perf_counter() - started
        analysis = analyze_volume(series.frames, series.times, series.spacing, config,
                                  affine=series.affine)
        result.analysis, result.status = analysis, "ok"
        if analysis.motion is not None and analysis.motion.repaired:
            note = repaired_note(analysis.motion.repaired)
            result.notes.append(note)
            log.warning("%s", note)
        result.timings_s = {"read": round(read_s, 3), **analysis.timings_s}
        if config.write_outputs:
            out_dir.mkdir(parents=True, exist_ok=True)
            before = time.perf_counter()
            written = outputs.write_all(analysis, out_dir)
            result.map_files, result.key_images = written.maps, written.key_images
            result.key_image_pixels = written.key_image_pixels
            result.timings_s["outputs"] = round(time.perf_counter() - before, 3)
    except PerfusionError as exc:
        result.status, result.error, result.analysis = "failed", str(exc), None
    except Exception as exc:  # noqa: BLE001 - unexpected data must still give a reason
        log.exception("perfusion analysis failed")
        result.status, result.error, result.analysis = (
            "failed", f"the perfusion series could not be analysed ({exc})", None)
    result.timings_s["total"] = round(time.perf_counter() - started, 3)
    return result
