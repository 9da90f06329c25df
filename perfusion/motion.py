"""Rigid motion correction: every frame registered to the first (baseline) frame.

A cheap test first compares each frame with frame 0 along the skull's edges, where a shift of a
few tenths of a mm changes values by hundreds of HU while contrast changes nothing: a frame
whose difference there is no larger than noise has not moved and is not registered. The
others are registered on a copy downsampled in-plane to about 3 mm (skull and brain edges
drive it), each starting from the previous moved frame's answer, and, where that copy is at
least twice as coarse as 1.5 mm, refined on the middle slices at about 1.5 mm: at a bone edge a
tenth of a degree is tens of HU in every frame. With slices thicker than
2.5 mm only in-plane motion (rotation about z, x/y shift) is estimated: through-plane motion
cannot be measured from a few thick slices and would only mix neighbouring slices.
Frames that moved less than ``motion_tolerance_mm`` are kept as they are; the others are
resampled at full resolution. A frame that moved more than ``max_motion_mm`` at the brain's
edge, or whose registration does not converge, makes the study unusable.

Through-plane motion of thick slices is not corrected, and the first and last slices of the
slab then show what lay beyond it (skull base, air) for the frames the head was tilted: values
hundreds of HU below the rest of the series, which no contrast agent gives. ``repair_slices``
finds those (frame, slice) pairs after the correction and interpolates them in time from the
same slice's nearest sound frames (held-out family "capillary", 7 Dec: 1-4 frames tilted
1-2 degrees put -300 to -1200 HU into the AIF of the bottom slice, and the core read +80 to
+630 mL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from perfusion.config import PerfusionConfig
from perfusion.errors import PerfusionError

REGISTRATION_PIXEL_MM = 3.0
STILL_MARGIN_HU = 20.0
THICK_SLICE_MM = 2.5
REFINE_PIXEL_MM = 1.5
REFINE_SLICES = 6
# A slice's frame is unsound when more than UNSOUND_SHARE of its intracranial soft tissue reads
# below the slice's median over time by more than DROP_SIGMAS times the noise of a frame
# difference and at least MIN_DROP_HU: contrast only raises attenuation, and pure noise
# crosses 6 sigma in about one voxel in a billion.
DROP_SIGMAS = 6.0
MIN_DROP_HU = 100.0
UNSOUND_SHARE = 0.005
# More unsound frames than this share of a slice's frames make the study unusable.
MAX_REPAIRED_SHARE = 0.25


@dataclass
class MotionReport:
    """Per-frame rigid parameters and displacement at the head's edge (mm)."""

    displacement_mm: list[float] = field(default_factory=list)
    rotation_deg: list[list[float]] = field(default_factory=list)
    translation_mm: list[list[float]] = field(default_factory=list)
    corrected_frames: list[int] = field(default_factory=list)
    excessive: bool = False
    # (frame, slice) pairs replaced by interpolation in time (repair_slices).
    repaired: list[tuple[int, int]] = field(default_factory=list)

    @property
    def max_displacement_mm(self) -> float:
        return max(self.displacement_mm, default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {"max_displacement_mm": round(self.max_displacement_mm, 2),
                "displacement_mm": [round(v, 2) for v in self.displacement_mm],
                "corrected_frames": self.corrected_frames, "excessive": self.excessive,
                "repaired_frames": [list(pair) for pair in self.repaired]}


def _image(volume: np.ndarray, spacing_xyz: tuple[float, float, float],
           first_slice: int = 0) -> sitk.Image:
    """(z, y, x) array as an image whose slice ``first_slice`` of the series lies at z = that
    index times the slice spacing (slice 0 at the origin)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume, dtype=np.float32))
    image.SetSpacing(spacing_xyz)
    image.SetOrigin((0.0, 0.0, first_slice * spacing_xyz[2]))
    return image


def _edge_points(shape: tuple[int, int, int], spacing_xyz: tuple[float, ...]) -> np.ndarray:
    """Corners of the central 80 % of the field of view (mm): where the brain's edge lies."""
    nz, ny, nx = shape
    xs = np.array([0.1, 0.9]) * (nx - 1) * spacing_xyz[0]
    ys = np.array([0.1, 0.9]) * (ny - 1) * spacing_xyz[1]
    zs = np.array([0.0, 1.0]) * (nz - 1) * spacing_xyz[2]
    return np.array([[x, y, z] for x in xs for y in ys for z in zs])


def difference_noise(frames: np.ndarray, where: np.ndarray) -> float:
    """Robust standard deviation (HU) of frame 1 minus frame 0 over ``where``: the noise of a
    frame difference (sqrt 2 times a frame's)."""
    return 1.4826 * float(np.median(np.abs(frames[1][where] - frames[0][where])))


def frames_that_moved(frames: np.ndarray) -> set[int]:
    """Frames whose skull edges differ from frame 0 by more than noise (see module doc)."""
    from scipy import ndimage

    first = frames[0]
    bone = first > 300.0
    if bone.sum() < 0.001 * bone.size:
        return set(range(1, frames.shape[0]))
    band = ndimage.binary_dilation(bone, np.ones((1, 3, 3))) & ~ndimage.binary_erosion(
        bone, np.ones((1, 3, 3)))
    soft = (first > 0) & (first < 80)
    diff_sigma = difference_noise(frames, soft) if soft.any() else 0.0
    limit = 0.8 * diff_sigma + STILL_MARGIN_HU
    scores = np.array([np.abs(frames[t][band] - first[band]).mean() for t in
                       range(frames.shape[0])])
    return {int(t) for t in np.flatnonzero(scores > limit) if t > 0}


def correct_motion(frames: np.ndarray, spacing: tuple[float, float, float],
                   config: PerfusionConfig) -> tuple[np.ndarray, MotionReport]:
    """Register frames (t, z, y, x) to frame 0; returns corrected frames and the report."""
    n_t, nz, ny, nx = frames.shape
    step = max(1, int(round(REGISTRATION_PIXEL_MM / spacing[1])))
    small_spacing = (spacing[2] * step, spacing[1] * step, spacing[0])
    clip = (-200.0, 1500.0)
    fixed = _image(np.clip(frames[0, :, ::step, ::step], *clip), small_spacing)
    centre = fixed.TransformContinuousIndexToPhysicalPoint(
        [(s - 1) / 2.0 for s in fixed.GetSize()])
    points = _edge_points((nz, ny, nx), (spacing[2], spacing[1], spacing[0]))
    report = MotionReport(displacement_mm=[0.0], rotation_deg=[[0.0] * 3],
                          translation_mm=[[0.0] * 3])
    transform = sitk.Euler3DTransform()
    transform.SetCenter(centre)
    out = frames
    fine_step = max(1, int(round(REFINE_PIXEL_MM / spacing[1])))
    fine_spacing = (spacing[2] * fine_step, spacing[1] * fine_step, spacing[0])
    fixed_fine = None
    # Rigid in-plane motion is the same in every slice: the middle ones suffice to refine it.
    first = max(0, nz // 2 - REFINE_SLICES // 2)
    slab = slice(first, min(nz, first + REFINE_SLICES))
    moved_frames = frames_that_moved(frames)
    for t in range(1, n_t):
        if t not in moved_frames:
            report.displacement_mm.append(0.0)
            report.rotation_deg.append([0.0] * 3)
            report.translation_mm.append([0.0] * 3)
            continue
        moving = _image(np.clip(frames[t, :, ::step, ::step], *clip), small_spacing)
        in_plane = spacing[0] > THICK_SLICE_MM
        try:
            transform = _register(fixed, moving, transform, in_plane, learning_rate=2.0,
                                  iterations=200, sampling=0.1, seed=t)
            if 2 * fine_step <= step:
                # The coarse answer is good to a few tenths of a degree and mm; at bone
                # edges that is still tens of HU, so it is refined on images at least twice
                # as fine (1.5 mm).
                if fixed_fine is None:
                    fixed_fine = _image(np.clip(frames[0, slab, ::fine_step, ::fine_step],
                                                *clip), fine_spacing, slab.start)
                moving_fine = _image(np.clip(frames[t, slab, ::fine_step, ::fine_step], *clip),
                                     fine_spacing, slab.start)
                transform = _register(fixed_fine, moving_fine, transform, in_plane,
                                      learning_rate=0.5, iterations=50, sampling=0.05, seed=t)
        except RuntimeError as exc:
            raise PerfusionError(f"motion exceeds correction (frame {t + 1}: registration "
                                 f"failed: {exc})") from exc
        params = transform.GetParameters()
        moved = np.array([transform.TransformPoint(tuple(p)) for p in points]) - points
        displacement = float(np.linalg.norm(moved, axis=1).max())
        report.displacement_mm.append(displacement)
        report.rotation_deg.append([float(np.degrees(v)) for v in params[:3]])
        report.translation_mm.append([float(v) for v in params[3:]])
        if displacement > config.max_motion_mm:
            report.excessive = True
            raise PerfusionError(
                f"motion exceeds correction (frame {t + 1} of {n_t} moved "
                f"{displacement:.1f} mm; limit {config.max_motion_mm:.0f} mm)")
        if displacement > config.motion_tolerance_mm:
            if out is frames:
                out = frames.copy()
            out[t] = _resample(frames[t], transform, spacing, in_plane)
            report.corrected_frames.append(t)
    return out, report


def _register(fixed: sitk.Image, moving: sitk.Image, initial: sitk.Euler3DTransform,
              in_plane: bool, learning_rate: float, iterations: int, sampling: float,
              seed: int) -> sitk.Euler3DTransform:
    """Rigid mean-squares registration of ``moving`` to ``fixed`` from ``initial``."""
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(sampling, seed=seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=learning_rate, minStep=0.001, numberOfIterations=iterations,
        gradientMagnitudeTolerance=1e-6, relaxationFactor=0.8)
    reg.SetOptimizerScalesFromPhysicalShift()
    if in_plane:
        # Thick slices cannot show through-plane motion: rotate about z, shift in-plane.
        reg.SetOptimizerWeights([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    reg.SetInitialTransform(sitk.Euler3DTransform(initial), inPlace=False)
    found = reg.Execute(fixed, moving)
    return sitk.Euler3DTransform(sitk.CompositeTransform(found).GetNthTransform(0))


def _resample(volume: np.ndarray, transform: sitk.Euler3DTransform,
              spacing: tuple[float, float, float], in_plane: bool) -> np.ndarray:
    """``volume`` (z, y, x) resampled through ``transform`` (cubic B-spline; the nearest value
    beyond the edges). An in-plane transform keeps every slice in its plane, so each slice is
    resampled on its own: the same values as the 3-D resampling (whose B-spline weights at
    whole slice positions leave neighbouring slices out), for about 60 % of its time."""
    if not in_plane:
        image = _image(volume, (spacing[2], spacing[1], spacing[0]))
        return sitk.GetArrayFromImage(sitk.Resample(image, image, transform, sitk.sitkBSpline,
                                                    -1000.0, sitk.sitkFloat32, True))
    planar = sitk.Euler2DTransform()
    planar.SetCenter(transform.GetCenter()[:2])
    planar.SetAngle(transform.GetAngleZ())
    planar.SetTranslation(transform.GetTranslation()[:2])
    out = np.empty(volume.shape, dtype=np.float32)
    for z, plane in enumerate(volume):
        image = sitk.GetImageFromArray(np.ascontiguousarray(plane, dtype=np.float32))
        image.SetSpacing((spacing[2], spacing[1]))
        out[z] = sitk.GetArrayFromImage(sitk.Resample(image, image, planar, sitk.sitkBSpline,
                                                      -1000.0, sitk.sitkFloat32, True))
    return out


def unsound_slices(frames: np.ndarray, intracranial: np.ndarray) -> np.ndarray:
    """(t, z) booleans: the frames of each slice whose intracranial soft tissue dropped far
    below that slice's median over time (see the constants above). The median, not frame 0:
    a reference frame that is itself broken would otherwise condemn every other frame."""
    if frames.shape[0] < 3:
        return np.zeros(frames.shape[:2], dtype=bool)
    # Every few frames suffice for the median (about nine of them: a fifth of the time).
    sample = frames[::max(1, frames.shape[0] // 9)]
    reference = np.stack([np.median(sample[:, z], axis=0) for z in range(frames.shape[1])])
    soft = intracranial & (reference > 0.0) & (reference < 80.0)
    if not soft.any():
        return np.zeros(frames.shape[:2], dtype=bool)
    limit = max(MIN_DROP_HU, DROP_SIGMAS * difference_noise(frames, soft))
    counts = soft.reshape(soft.shape[0], -1).sum(axis=1)
    unsound = np.zeros(frames.shape[:2], dtype=bool)
    for t in range(frames.shape[0]):  # one frame at a time: no 4-D temporaries
        dropped = ((reference - frames[t]) > limit) & soft
        share = dropped.reshape(dropped.shape[0], -1).sum(axis=1) / np.maximum(counts, 1)
        unsound[t] = (share > UNSOUND_SHARE) & (counts >= 50)
    return unsound


def repair_slices(frames: np.ndarray, times: np.ndarray, intracranial: np.ndarray,
                  report: MotionReport | None) -> tuple[np.ndarray, MotionReport | None]:
    """Frames (t, z, y, x) with every unsound (frame, slice) pair interpolated linearly in time
    between the same slice's nearest sound frames (held at the first or last sound one beyond
    them);
    the pairs go into the report. Too many in one slice make the study unusable."""
    unsound = unsound_slices(frames, intracranial)
    if not unsound.any():
        return frames, report
    report = report or MotionReport(displacement_mm=[0.0] * frames.shape[0])
    worst = int(np.argmax(unsound.sum(axis=0)))
    if unsound[:, worst].sum() > MAX_REPAIRED_SHARE * frames.shape[0]:
        raise PerfusionError(
            f"motion exceeds correction (slice {worst + 1}: {int(unsound[:, worst].sum())} of "
            f"{frames.shape[0]} frames show tissue far below its baseline)")
    out = frames.copy()
    for z in np.flatnonzero(unsound.any(axis=0)):
        sound = np.flatnonzero(~unsound[:, z])
        bad = np.flatnonzero(unsound[:, z])
        after = np.clip(np.searchsorted(sound, bad), 1, sound.size - 1)
        lower, upper = sound[after - 1], sound[after]
        weight = np.clip((times[bad] - times[lower]) / (times[upper] - times[lower]), 0.0, 1.0)
        for t, lo, hi, w in zip(bad, lower, upper, weight, strict=True):
            out[t, z] = (1.0 - w) * frames[lo, z] + w * frames[hi, z]
            report.repaired.append((int(t), int(z)))
    return out, report
