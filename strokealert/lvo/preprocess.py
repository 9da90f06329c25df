"""CTA preprocessing: read, reduce to ~2 mm, find the head, align the midline, build MIPs.

The canonical frame is the head frame: LPS axes with x across the symmetry plane (patient
left positive), origin at the centroid of the intracranial space, 2 mm voxels. Yaw and roll
are found from the left-right symmetry of the skull, so off-centre and tilted heads (±15° or
more) land on the same grid; pitch is left to augmentation. Neck coverage does not disturb
the head search: only the intracranial space inside the skull counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from strokealert.dicom.volume import read_volume
from strokealert.errors import InputError

VOXEL_MM = 2.0
# Canonical crop relative to the intracranial centroid (mm): x, y, z ranges.
CROP_X = (-80.0, 80.0)
CROP_Y = (-80.0, 80.0)
CROP_Z = (-72.0, 24.0)
AXIAL_SLAB_Z = (-56.0, 12.0)  # axial MIP: circle of Willis, M1, M2 and insular branches
CORONAL_SLAB_Y = (-44.0, 36.0)  # coronal MIP: ICAs, M1, basilar
MIN_INTRACRANIAL_ML = 400.0


@dataclass
class Canonical:
    """The aligned head: HU and vessel map on the canonical grid, plus the pose found."""

    hu: np.ndarray  # (z, y, x) HU, 2 mm, canonical crop
    vessel: np.ndarray  # (z, y, x) 0..1.5 normalised arterial signal inside the skull
    intracranial: np.ndarray  # (z, y, x) bool
    rotation: np.ndarray  # canonical axes → scanner LPS (columns are the head axes)
    centre_mm: np.ndarray  # intracranial centroid, scanner LPS (x, y, z)
    tissue_hu: float  # median brain HU
    arterial_hu: float  # robust bright-vessel HU (99.95th percentile inside the skull)
    cut_top: float  # intracranial area in the top slice / largest slice area (0: vertex covered)
    cut_bottom: float  # the same for the bottom slice (skull base)
    slice_jump: float  # largest normalised head-outline jump between adjacent slices


def block_reduce(volume: np.ndarray, spacing_mm: Sequence[float], target_mm: float = VOXEL_MM
                 ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Mean over integer blocks so that each axis gets close to ``target_mm`` (float32)."""
    factors = [max(1, int(round(target_mm / s))) for s in spacing_mm]
    shape = [n // f * f for n, f in zip(volume.shape, factors, strict=True)]
    trimmed = volume[: shape[0], : shape[1], : shape[2]]
    out = np.empty([n // f for n, f in zip(shape, factors, strict=True)], dtype=np.float32)
    fz, fy, fx = factors
    for z0 in range(0, out.shape[0], 16):  # chunks keep the float copy small
        part = trimmed[z0 * fz:(z0 + 16) * fz].astype(np.float32)
        out[z0:z0 + 16] = part.reshape(-1, fz, out.shape[1], fy, out.shape[2], fx).mean((1, 3, 5))
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


def intracranial_mask(hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intracranial space, bone): per-slice filled skull minus bone, largest component."""
    bone = bone_mask(hu)
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    filled = ndimage.binary_fill_holes(bone, structure=in_plane)
    inside = filled & ~ndimage.binary_dilation(bone, iterations=1) & (hu > -200)
    inside = ndimage.binary_opening(inside)
    return _largest_component(inside), bone


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
    """Resample a (z, y, x) volume (voxel-mm frame) onto the canonical crop."""
    dz, dy, dx = spacing_mm
    gx, gy, gz = canonical_grid()
    hz, hy, hx = np.meshgrid(gz, gy, gx, indexing="ij")
    pts = rot @ np.stack([hx.ravel(), hy.ravel(), hz.ravel()]) + centre[:, None]
    coords = [pts[2] / dz, pts[1] / dy, pts[0] / dx]
    out: np.ndarray = ndimage.map_coordinates(volume, coords, order=order, mode="constant",
                                              cval=cval)
    return out.reshape(hz.shape).astype(np.float32)


def canonicalise(volume_hu: np.ndarray, spacing_mm: Sequence[float]) -> Canonical:
    """Full preprocessing of a (z, y, x) HU volume with (z, y, x) spacing in mm."""
    if volume_hu.ndim != 3 or min(volume_hu.shape) < 8:
        raise InputError(f"CTA volume must be 3-D with at least 8 voxels a side, got "
                         f"{volume_hu.shape}")
    work, spacing = block_reduce(volume_hu, spacing_mm)
    inside, bone = intracranial_mask(work)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    if inside.sum() * voxel_ml < MIN_INTRACRANIAL_ML:
        raise InputError("no head found in the CTA (intracranial space too small or missing)")
    rot, centre = find_pose(inside, work, spacing)
    hu = to_canonical(work, spacing, rot, centre)
    labels = to_canonical(inside + 2.0 * bone, spacing, rot, centre, order=0, cval=0.0)
    ic, bone_c = labels == 1.0, labels == 2.0
    brain_values = hu[ic & (hu > -50) & (hu < 100)]
    tissue = float(np.median(brain_values)) if brain_values.size else 35.0
    # Arterial lumen: the brightest 0.05 % well inside the skull, calcium (> 700 HU) excluded.
    bright = hu[ndimage.binary_erosion(ic) & (hu < 700)]
    arterial = float(np.percentile(bright, 99.95)) if bright.size else tissue + 100.0
    reference = max(arterial, tissue + 150.0)
    region = ic & ~ndimage.binary_dilation(bone_c)
    vessel = np.clip((hu - tissue - 30.0) / (reference - tissue - 30.0), 0.0, 1.5)
    vessel *= region
    area = inside.sum(axis=(1, 2)).astype(np.float64)
    cut_top, cut_bottom = float(area[-1] / area.max()), float(area[0] / area.max())
    return Canonical(hu=hu, vessel=vessel.astype(np.float32), intracranial=ic, rotation=rot,
                     centre_mm=centre, tissue_hu=tissue, arterial_hu=arterial,
                     cut_top=cut_top, cut_bottom=cut_bottom,
                     slice_jump=_slice_jump(work > -300, spacing))


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


def mips(vessel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(axial MIP rows y × cols x, coronal MIP rows z (top = superior) × cols x)."""
    gx, gy, gz = canonical_grid()
    zsel = (gz >= AXIAL_SLAB_Z[0]) & (gz < AXIAL_SLAB_Z[1])
    ysel = (gy >= CORONAL_SLAB_Y[0]) & (gy < CORONAL_SLAB_Y[1])
    axial = vessel[zsel].max(axis=0)
    coronal = vessel[:, ysel].max(axis=1)[::-1]
    return axial, coronal


def canvas(vessel: np.ndarray) -> np.ndarray:
    """The CNN input: axial MIP above coronal MIP, (H, W) float32, x = patient left → right."""
    axial, coronal = mips(vessel)
    return np.concatenate([axial, coronal], axis=0).astype(np.float32)


def read_dicom_volume(paths: Sequence[Path]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A (z, y, x) HU volume and its (z, y, x) spacing from the files of one axial CTA series."""
    return read_volume(paths, what="CTA")
