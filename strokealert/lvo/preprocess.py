"""CTA preprocessing: read, reduce to ~1.5 mm, find the brain, align the midline, vessel map.

The canonical frame is the head frame: LPS axes with x across the symmetry plane (patient
left positive), origin at the centroid of the brain, 1.5 mm voxels. Yaw and roll are found
from the left-right symmetry of the brain, so off-centre and tilted heads land on the same
grid; pitch is left alone (it moves anatomy up or down but keeps the symmetry plane, and every
feature compares mirrored left/right regions). The brain is the largest soft-tissue body once
thin connections are eroded away, so neck coverage, a cut skull base or an open skull
(foramina, sutures) do not disturb it. Only the deep brain (away from the dural sinuses at its
surface and from bone) takes part in the vessel map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from strokealert.dicom.volume import read_volume
from strokealert.errors import InputError

VOXEL_MM = 1.5
# Canonical crop relative to the brain centroid (mm): x, y, z ranges.
CROP_X = (-78.0, 78.0)
CROP_Y = (-96.0, 96.0)
CROP_Z = (-75.0, 60.0)
MIN_BRAIN_ML = 400.0
SOFT_TISSUE_HU = (-30.0, 150.0)  # brain, CSF-free soft tissue and partial-volumed vessels
DEEP_MM = 3.0  # the vessel map keeps voxels at least this far inside the brain surface
BONE_MARGIN_MM = 3.0  # ... and this far from bone (skull base, calcified dura)
CALCIUM_HU = 700.0  # brighter than any contrast-filled lumen
VESSEL_STEPS = 250  # the vessel map takes values k / VESSEL_STEPS, k = 0..250


@dataclass
class Canonical:
    """The aligned head: HU and vessel map on the canonical grid, plus the pose found."""

    hu: np.ndarray  # (z, y, x) HU, 1.5 mm, canonical crop
    vessel: np.ndarray  # (z, y, x) 0..1 arterial signal × tubularity in the deep brain
    brain: np.ndarray  # (z, y, x) bool
    rotation: np.ndarray  # canonical axes → scanner LPS (columns are the head axes)
    centre_mm: np.ndarray  # brain centroid, scanner voxel-mm (x, y, z)
    tissue_hu: float  # median brain HU
    arterial_hu: float  # robust bright-vessel HU (99.9th percentile in the deep brain)
    brain_ml: float  # brain volume found (mL)
    cut_top: float  # brain area in the top slice / largest slice area (0: vertex covered)
    cut_bottom: float  # the same for the bottom slice (skull base)
    slice_jump: float  # largest normalised head-outline jump between adjacent slices


def block_reduce(volume: np.ndarray, spacing_mm: Sequence[float], target_mm: float = VOXEL_MM
                 ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Mean over integer blocks so that each axis gets close to ``target_mm`` (float32).

    Whole blocks only. Sums of strided slices, 16 output slices at a time (a small copy): exact
    in int32 for 8- and 16-bit input (the stored CTA), float64 otherwise; about three times
    faster than a reshape-and-mean over three axes."""
    factors = [max(1, int(round(target_mm / s))) for s in spacing_mm]
    fz, fy, fx = factors
    nz, ny, nx = (n // f for n, f in zip(volume.shape, factors, strict=True))
    exact = volume.dtype.kind in "iu" and volume.dtype.itemsize <= 2
    accumulator = np.int32 if exact else np.float64
    out = np.empty((nz, ny, nx), dtype=np.float32)
    for z0 in range(0, nz, 16):
        z1 = min(z0 + 16, nz)
        part = volume[z0 * fz:z1 * fz, :ny * fy, :nx * fx]
        along_x = part[..., 0::fx].astype(accumulator)
        for k in range(1, fx):
            np.add(along_x, part[..., k::fx], out=along_x)
        along_y = along_x[:, 0::fy].copy()
        for k in range(1, fy):
            np.add(along_y, along_x[:, k::fy], out=along_y)
        out[z0:z1] = along_y.reshape(z1 - z0, fz, ny, nx).sum(axis=1) / float(fz * fy * fx)
    new_spacing = (float(spacing_mm[0] * fz), float(spacing_mm[1] * fy),
                   float(spacing_mm[2] * fx))
    return out, new_spacing


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest: np.ndarray = labels == int(np.argmax(sizes))
    return largest


def bone_mask(hu: np.ndarray) -> np.ndarray:
    """Skull and other thick bone: above 300 HU after an opening (vessels are thinner)."""
    opened: np.ndarray = ndimage.binary_opening(
        hu > 300, structure=ndimage.generate_binary_structure(3, 1))
    return opened | (hu > 900)


def brain_mask(hu: np.ndarray, spacing_mm: Sequence[float]) -> np.ndarray:
    """The brain: soft tissue eroded by ~3 mm (cutting it from the scalp, face and neck through
    the skull's foramina), largest component, grown back and closed over its vessels."""
    structure = ndimage.generate_binary_structure(3, 1)
    steps = max(1, int(round(3.0 / float(np.mean(spacing_mm[1:])))))
    soft = (hu > SOFT_TISSUE_HU[0]) & (hu < SOFT_TISSUE_HU[1])
    core = _largest_component(ndimage.binary_erosion(soft, structure, iterations=steps))
    grown = ndimage.binary_dilation(core, structure, iterations=steps)
    brain: np.ndarray = ndimage.binary_closing(grown & (hu > -200) & (hu < 300), structure,
                                               iterations=2)
    return brain


def _symmetry_angle(image: np.ndarray, centre_rc: np.ndarray, angles_deg: np.ndarray) -> float:
    """Angle (deg, counter-clockwise in (row, col)) of the vertical symmetry axis of a 2-D image."""
    best, best_score = 0.0, -np.inf
    rows, cols = np.indices(image.shape, dtype=np.float32)
    r0, c0 = centre_rc
    for angle in angles_deg:
        t = np.deg2rad(angle)
        # Reflect each pixel across the line through the centre at angle t from the row axis.
        dr, dc = rows - r0, cols - c0
        u = dr * np.cos(t) + dc * np.sin(t)  # along the axis
        v = -dr * np.sin(t) + dc * np.cos(t)  # across it
        rr = r0 + u * np.cos(t) + v * np.sin(t)
        cc = c0 + u * np.sin(t) - v * np.cos(t)
        mirrored = ndimage.map_coordinates(image, [rr, cc], order=1, mode="constant")
        score = -float(((image - mirrored) ** 2).sum())
        if score > best_score:
            best, best_score = float(angle), score
    return best


def _refine_axis(image: np.ndarray, centre_rc: np.ndarray, limit: float = 24.0) -> float:
    coarse = _symmetry_angle(image, centre_rc, np.arange(-limit, limit + 0.1, 3.0))
    return _symmetry_angle(image, centre_rc, np.arange(coarse - 2.0, coarse + 2.1, 0.5))


def find_pose(inside: np.ndarray, hu: np.ndarray, spacing_mm: Sequence[float]
              ) -> tuple[np.ndarray, np.ndarray]:
    """(rotation, centroid in voxel-mm) of the head from the symmetry of its intracranial space.

    Yaw from the axial projection, roll from the coronal projection of the intracranial space
    weighted by tissue density (so the CSF of the ventricles and sulci counts as a landmark),
    on 4 mm grids, alternated twice. Returns R whose columns are the head's x, y, z axes.
    """
    dz, dy, dx = spacing_mm
    density = inside * np.clip(hu / 40.0, 0.0, 1.2)
    zz, yy, xx = np.nonzero(inside)
    centre = np.array([xx.mean() * dx, yy.mean() * dy, zz.mean() * dz])
    # Resample the mask onto an isotropic 4 mm grid around the centroid for the 2-D searches.
    step, half = 4.0, 100.0
    g = np.arange(-half, half + 0.1, step)
    yaw = roll = 0.0
    for _ in range(2):
        rot = _rotation(yaw, roll)
        # Axial projection in the current frame (sum over head z).
        hx, hy, hz = np.meshgrid(g, g, g, indexing="ij")
        pts = rot @ np.stack([hx.ravel(), hy.ravel(), hz.ravel()]) + centre[:, None]
        coords = [pts[2] / dz, pts[1] / dy, pts[0] / dx]
        sample = ndimage.map_coordinates(density, coords, order=1)
        head = sample.reshape(hx.shape)  # (x, y, z)
        axial = head.sum(axis=2).T  # rows y, cols x
        coronal = head.sum(axis=1).T  # rows z, cols x
        c = np.array([len(g) // 2, len(g) // 2], dtype=np.float32)
        yaw -= _refine_axis(axial, c)
        roll += _refine_axis(coronal, c)
    rot = _rotation(yaw, roll)
    # Re-centre on the symmetric centroid in the aligned frame (x offset only matters).
    return rot, centre


def _rotation(yaw_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation taking head axes to scanner axes: yaw about z, then roll about the AP axis."""
    c, s = np.cos(np.deg2rad(yaw_deg)), np.sin(np.deg2rad(yaw_deg))
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    c, s = np.cos(np.deg2rad(roll_deg)), np.sin(np.deg2rad(roll_deg))
    ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    rotation: np.ndarray = rz @ ry
    return rotation


def canonical_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical voxel-centre coordinates (mm) along x, y, z."""
    return (np.arange(CROP_X[0], CROP_X[1], VOXEL_MM) + VOXEL_MM / 2,
            np.arange(CROP_Y[0], CROP_Y[1], VOXEL_MM) + VOXEL_MM / 2,
            np.arange(CROP_Z[0], CROP_Z[1], VOXEL_MM) + VOXEL_MM / 2)


def to_canonical(volume: np.ndarray, spacing_mm: Sequence[float], rot: np.ndarray,
                 centre: np.ndarray, order: int = 1, cval: float = -1000.0) -> np.ndarray:
    """Resample a (z, y, x) volume (voxel-mm frame) onto the canonical crop (one affine map:
    canonical index → head mm → scanner mm → input index)."""
    gx, gy, gz = canonical_grid()
    flip = np.eye(3)[::-1]  # (z, y, x) ↔ (x, y, z)
    to_index = np.diag(1.0 / np.asarray(spacing_mm, dtype=np.float64))
    matrix = to_index @ flip @ rot @ flip * VOXEL_MM
    offset = to_index @ flip @ (rot @ np.array([gx[0], gy[0], gz[0]]) + centre)
    out: np.ndarray = ndimage.affine_transform(
        volume, matrix, offset, output_shape=(len(gz), len(gy), len(gx)), order=order,
        mode="constant", cval=cval, output=np.float32)
    return out


def canonicalise(volume_hu: np.ndarray, spacing_mm: Sequence[float]) -> Canonical:
    """Full preprocessing of a (z, y, x) HU volume with (z, y, x) spacing in mm."""
    if volume_hu.ndim != 3 or min(volume_hu.shape) < 8:
        raise InputError(f"CTA volume must be 3-D with at least 8 voxels a side, got "
                         f"{volume_hu.shape}")
    work, spacing = block_reduce(volume_hu, spacing_mm)
    # Brain, bone and pose on a ~3 mm copy; only the HU are resampled at 1.5 mm.
    coarse, coarse_spacing = block_reduce(work, spacing, 2 * VOXEL_MM)
    brain = brain_mask(coarse, coarse_spacing)
    brain_ml = float(brain.sum() * np.prod(coarse_spacing) / 1000.0)
    if brain_ml < MIN_BRAIN_ML:
        raise InputError("no head found in the CTA (brain too small or missing)")
    bone = bone_mask(coarse)
    rot, centre = find_pose(brain, coarse, coarse_spacing)
    # A coarse voxel's centre lies half a fine block further than its corner.
    centre += (np.array(coarse_spacing) - np.array(spacing))[::-1] / 2
    structure = ndimage.generate_binary_structure(3, 2)
    steps = max(1, round(DEEP_MM / float(np.mean(coarse_spacing))))
    deep = ndimage.binary_erosion(brain, structure, iterations=steps)
    deep &= ~ndimage.binary_dilation(bone, structure, iterations=max(
        1, round(BONE_MARGIN_MM / float(np.mean(coarse_spacing)))))
    labels = to_canonical(brain.astype(np.float32) + deep, coarse_spacing, rot, centre,
                          order=0, cval=0.0)
    brain_c, deep = labels >= 1.0, labels == 2.0
    hu = to_canonical(work, spacing, rot, centre)
    brain_values = hu[brain_c & (hu > -50) & (hu < 100)]
    tissue = float(np.median(brain_values)) if brain_values.size else 35.0
    bright = hu[deep & (hu < CALCIUM_HU)]
    arterial = float(np.percentile(bright, 99.9)) if bright.size else tissue + 100.0
    vessel = vessel_map(hu, deep, tissue, arterial)
    # The morphology of brain_mask pulls the mask two slices off the volume's ends: the
    # coverage checks look at the last slices it can reach.
    area = brain.sum(axis=(1, 2)).astype(np.float64)
    return Canonical(hu=hu, vessel=vessel, brain=brain_c, rotation=rot, centre_mm=centre,
                     tissue_hu=tissue, arterial_hu=arterial, brain_ml=brain_ml,
                     cut_top=float(area[-3:].max() / area.max()),
                     cut_bottom=float(area[:3].max() / area.max()),
                     slice_jump=_slice_jump(work > -300, spacing))


def vessel_map(hu: np.ndarray, deep: np.ndarray, tissue_hu: float, arterial_hu: float
               ) -> np.ndarray:
    """Arterial signal (0..1: HU window from 40 HU above brain to the lumen reference) times a
    Frangi-type tubularity from the Hessian at 1.5 mm, computed on candidate voxels only.

    Bright tubes have two strongly negative Hessian eigenvalues and one near zero; plates
    (streaks, the falx) and blobs (plaque, noise) score low."""
    reference = max(arterial_hu, tissue_hu + 150.0)
    window = np.clip((hu - tissue_hu - 40.0) / (reference - tissue_hu - 40.0), 0.0, 1.0)
    window[~deep | (hu >= CALCIUM_HU)] = 0.0
    candidates = np.nonzero(window > 0.05)
    out = np.zeros(hu.shape, dtype=np.float32)
    if candidates[0].size == 0:
        return out
    smooth = ndimage.gaussian_filter(np.minimum(hu, CALCIUM_HU).astype(np.float32), 1.0)
    grads = np.gradient(smooth)
    hessian = np.empty((candidates[0].size, 3, 3), dtype=np.float32)
    for i in range(3):
        second = np.gradient(grads[i])
        for j in range(i, 3):
            hessian[:, i, j] = hessian[:, j, i] = second[j][candidates]
    eig = np.linalg.eigvalsh(hessian)  # ascending: eig[:, 0] most negative
    order = np.argsort(np.abs(eig), axis=1)
    l1, l2, l3 = (np.take_along_axis(eig, order[:, k:k + 1], axis=1)[:, 0] for k in range(3))
    tube = (l2 < 0) & (l3 < 0)
    ra = np.abs(l2) / np.maximum(np.abs(l3), 1e-6)  # plate-like → 0
    rb = np.abs(l1) / np.sqrt(np.maximum(np.abs(l2 * l3), 1e-6))  # blob-like → 1
    score = tube * (1 - np.exp(-(ra ** 2) / 0.5)) * np.exp(-(rb ** 2) / 0.5)
    out[candidates] = window[candidates] * score
    # In steps of 1/250: the feature cache stores the map as uint8 without changing it.
    quantised: np.ndarray = np.round(out * VESSEL_STEPS) / VESSEL_STEPS
    return quantised.astype(np.float32)


def _slice_jump(body: np.ndarray, spacing_mm: Sequence[float]) -> float:
    """Largest in-plane jump (mm) of the head outline centroid between neighbouring slices,
    beyond what a smooth neck-to-vertex outline does (motion/misregistration check)."""
    area = body.sum(axis=(1, 2))
    keep = area > 0.2 * area.max()
    if keep.sum() < 5:
        return 0.0
    ys, xs = np.indices(body.shape[1:])
    cy = (body * ys).sum(axis=(1, 2)) / np.maximum(area, 1) * spacing_mm[1]
    cx = (body * xs).sum(axis=(1, 2)) / np.maximum(area, 1) * spacing_mm[2]
    idx = np.nonzero(keep)[0]
    jump = np.hypot(np.diff(cx[idx]), np.diff(cy[idx]))
    smooth = ndimage.median_filter(jump, size=5)
    return float((jump - smooth).max(initial=0.0))


def read_dicom_volume(paths: Sequence[Path]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A (z, y, x) HU volume and its (z, y, x) spacing from the files of one axial CTA series."""
    return read_volume(paths, what="CTA")
