"""Head anatomy the haemorrhage detector needs from an NCCT: a working grid, the skull, the
intracranial cavity, the ventricles and the skull midline.

All arrays are (z, y, x) on the LPS grid (x towards patient left, y posterior, z towards the
vertex); distances in mm, HU for attenuation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokealert.errors import InputError

WORK_PIXEL_MM = 0.9  # in-plane pixel of the working grid (block means of the input pixels)
BONE_HU = 300.0  # skull and calcification
DENSE_HU = 105.0  # calcification, contrast, bone: never acute blood
BASE_BONE_RATIO = 0.5  # skull-base slice: bone area above this share of the cavity area
CSF_HU = 18.0  # below: cerebrospinal fluid (smoothed)
AIR_HU = -300.0  # air around the head
MIN_CAVITY_ML = 300.0  # less intracranial space than this: no head in the series
SUTURE_CLOSING_MM = 3.0  # gaps in the skull ring closed before filling the cavity
ENCLOSED_DIRECTIONS = 7  # of 8 in-plane directions meeting bone: inside the skull, ring open or not
METAL_HU = 2000.0  # input pixels: clips and coils, denser than any calcification


@dataclass
class Head:
    """The working-grid volume and what was found in it."""

    hu: np.ndarray  # (z, y, x) float32, block-mean HU on the working grid
    smooth: np.ndarray  # (z, y, x) float32, in-plane Gaussian of ``hu`` (noise reduced)
    spacing_mm: tuple[float, float, float]  # working grid (z, y, x)
    factor: int  # input pixels per working pixel, in-plane
    bone: np.ndarray  # (z, y, x) bool, HU > BONE_HU
    inside: np.ndarray  # (z, y, x) bool, within the skull ring, bone excluded (rim included)
    cavity: np.ndarray  # (z, y, x) bool, inside the skull, soft tissue away from the bone
    internal_dense: np.ndarray  # (z, y, x) bool, > DENSE_HU and not part of the skull
    base: np.ndarray  # (z,) bool, skull-base slices (more bone than half the cavity area)
    depth_mm: np.ndarray  # (z, y, x) float32, distance from the inner table (0 outside)
    ventricles: np.ndarray  # (z, y, x) bool, CSF deep in the cavity
    midline: np.ndarray  # (z, 2): per slice, x (mm) of the skull midline = a + b·y (a, b)
    noise_hu: float  # noise standard deviation of the smoothed volume in brain tissue
    recovered: np.ndarray | None = None  # (z, y, x) bool, the part of the cavity where the
    # skull ring is open (enclosed by bone, not within a closed ring); None: none
    metal_slices: np.ndarray | None = None  # (z,) bool, slices holding metal inside the skull
    # (a clip, a coil): their streaks lie in these slices; None: none

    @property
    def open_ring_ml(self) -> float:
        """Volume (mL) of the cavity where the skull ring is open (:attr:`recovered`)."""
        return 0.0 if self.recovered is None else float(self.recovered.sum()) * self.voxel_ml

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing_mm)) / 1000.0

    def midline_x_mm(self, z: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        """x (mm, working grid) of the skull midline at slices ``z`` and row positions ``y_mm``."""
        zi = np.clip(np.asarray(z, dtype=int), 0, self.midline.shape[0] - 1)
        return np.asarray(self.midline[zi, 0] + self.midline[zi, 1] * y_mm)


def reduce_in_plane(volume: np.ndarray, factor: int) -> np.ndarray:
    """Block means of ``factor`` × ``factor`` pixels (edges cropped to a multiple)."""
    if factor == 1:
        return np.asarray(volume, dtype=np.float32)
    nz, ny, nx = volume.shape
    ny, nx = ny - ny % factor, nx - nx % factor
    cut = np.asarray(volume[:, :ny, :nx], dtype=np.float32)
    return np.asarray(cut.reshape(nz, ny // factor, factor, nx // factor, factor).mean(axis=(2, 4)))


def expand_in_plane(mask: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour inverse of :func:`reduce_in_plane` onto the input ``shape``."""
    big = np.repeat(np.repeat(mask, factor, axis=1), factor, axis=2) if factor > 1 else mask
    out = np.zeros(shape, dtype=mask.dtype)
    out[:, :big.shape[1], :big.shape[2]] = big[:, :shape[1], :shape[2]]
    return out


def _bone_directions(bone: np.ndarray) -> np.ndarray:
    """(z, y, x) uint8: of the eight in-plane directions (along the rows, the columns and both
    diagonals, each way), how many from each voxel meet ``bone`` within its slice."""
    count = np.zeros(bone.shape, dtype=np.uint8)
    for flip in (False, True):
        b = bone[:, ::-1, ::-1] if flip else bone
        total = count[:, ::-1, ::-1] if flip else count  # a view: added to in place
        total += np.logical_or.accumulate(b, axis=1)
        total += np.logical_or.accumulate(b, axis=2)
        for shift in (1, -1):  # rays along the two diagonals, row by row
            diagonal = np.empty_like(b)
            diagonal[:, 0] = b[:, 0]
            for y in range(1, b.shape[1]):
                diagonal[:, y] = b[:, y] | np.roll(diagonal[:, y - 1], shift, axis=1)
                diagonal[:, y, 0 if shift == 1 else -1] = b[:, y, 0 if shift == 1 else -1]
            total += diagonal
    return count


def _cavity(hu: np.ndarray, bone: np.ndarray, pixel_mm: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inside, cavity, recovered): per-slice holes of the (suture-closed) bone ring and the
    soft tissue bone encloses where the ring is open, less the bone; of that the soft tissue a
    pixel away from the bone, its largest 3-D component; and the part of the cavity the ring's
    holes alone would have missed.

    Enclosed where the ring is open: bone met in :data:`ENCLOSED_DIRECTIONS` of the eight
    in-plane directions, and bone or a closed ring's holes straight above (intracranial tissue
    has the vault or the brain of higher slices over it; the temporal muscles and the face
    beside the skull do not)."""
    size = (1, 2 * int(round(SUTURE_CLOSING_MM / pixel_mm)) + 1,
            2 * int(round(SUTURE_CLOSING_MM / pixel_mm)) + 1)
    closed = ndimage.minimum_filter(ndimage.maximum_filter(bone, size=size), size=size)
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    background, _ = ndimage.label(~closed, structure=in_plane)
    # Outside is what reaches the image's edge through air: a head cut by the field of view
    # has its cavity on the edge too, through brain.
    edges = [(background[:, 0], hu[:, 0]), (background[:, -1], hu[:, -1]),
             (background[:, :, 0], hu[:, :, 0]), (background[:, :, -1], hu[:, :, -1])]
    border = np.unique(np.concatenate([labels[values < AIR_HU] for labels, values in edges]))
    outside = np.zeros(int(background.max()) + 1, dtype=bool)
    outside[border[border > 0]] = True
    filled = ~outside[background]
    near_bone = ndimage.maximum_filter(bone, size=(1, 3, 3))
    soft = (hu > -50.0) & (hu < 200.0) & ~near_bone
    # A gap in the ring wider than the closing (thin squama read below BONE_HU at thick
    # slices, a foramen, a burr hole, a craniectomy) joins the brain to the outside on that
    # slice, whose holes then hold no cavity: what bone encloses there is taken with them.
    enclosed = filled | ((_bone_directions(closed) >= ENCLOSED_DIRECTIONS)
                         & np.logical_or.accumulate((closed | filled)[::-1], axis=0)[::-1])
    cavity = _largest(enclosed & soft)
    inside = enclosed & ~bone & ndimage.maximum_filter(cavity, size=(1, 5, 5))
    return inside, cavity, cavity & ~_largest(filled & soft)


def _largest(mask: np.ndarray) -> np.ndarray:
    """The largest 3-D connected component of ``mask`` (all False when there is none)."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(sizes.argmax()))


def _metal_slices(volume_hu: np.ndarray, factor: int, skull: np.ndarray,
                  cavity: np.ndarray) -> np.ndarray:
    """(z,) bool: slices holding metal inside the skull (a clip, a coil): input pixels above
    :data:`METAL_HU` that are not part of the skull (petrous bone is) and lie within its ring
    or the cavity in-plane, on the working grid of ``factor``. The metal's own dark streaks
    may cut it off from the cavity, hence the ring."""
    nz, ny, nx = cavity.shape
    above = np.asarray(volume_hu[:, :ny * factor, :nx * factor] > METAL_HU)
    metal = above.reshape(nz, ny, factor, nx, factor).any(axis=(2, 4)) & ~skull
    if not metal.any():
        return np.zeros(nz, dtype=bool)
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    within = ndimage.binary_fill_holes(skull | cavity, structure=in_plane)
    return np.asarray((metal & within).any(axis=(1, 2)))


def _internal_dense(hu: np.ndarray, skull: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Dense voxels (> DENSE_HU) within the skull ring, less the skull and a pixel around
    it: calcifications, contrast-filled vessels and sinuses."""
    around_skull = ndimage.maximum_filter(skull, size=(1, 3, 3))
    ring = ndimage.maximum_filter(inside, size=(1, 3, 3))
    return np.asarray((hu > DENSE_HU) & ring & ~around_skull)


def _base_slices(bone: np.ndarray, cavity: np.ndarray) -> np.ndarray:
    """(z,) bool: skull-base slices, below the widest cavity slice, where the bone within
    the head outweighs half the intracranial area (petrous and clival streaks live there)."""
    head = ndimage.binary_fill_holes(cavity.any(axis=0))
    bone_area = (bone & ndimage.binary_dilation(head, iterations=10)[None]).sum(axis=(1, 2))
    area = cavity.sum(axis=(1, 2))
    below_widest = np.arange(area.size) < int(area.argmax())
    return np.asarray((bone_area > BASE_BONE_RATIO * np.maximum(area, 1)) & below_widest)


def _midline(cavity: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Per slice, the line x = a + b·y (mm) through the centres of the cavity's rows, fitted
    over all slices with a cavity (one yaw for the head), offset per slice."""
    nz, ny, nx = cavity.shape
    xs = np.arange(nx) * pixel_mm
    ys = np.arange(ny) * pixel_mm
    rows = cavity.sum(axis=2)
    # left/right extent of each row: first and last True
    first = np.where(rows > 0, cavity.argmax(axis=2), 0)
    last = np.where(rows > 0, nx - 1 - cavity[:, :, ::-1].argmax(axis=2), 0)
    centre = (xs[first] + xs[last]) / 2.0
    width = (last - first + 1) * pixel_mm
    good = rows > 0
    # rows of the wide part of each slice (the cavity's outline is least ragged there)
    good &= width >= 0.6 * np.max(np.where(good, width, 0.0), axis=1, keepdims=True)
    zz, yy = np.nonzero(good)
    if zz.size < 10:
        return np.column_stack([np.full(nz, xs.mean()), np.zeros(nz)])
    # common slope, per-slice intercepts: regress centre − b·y per slice
    y_rel = ys[yy] - np.array([ys[yy[zz == z]].mean() if np.any(zz == z) else 0.0
                               for z in range(nz)])[zz]
    b = float(np.dot(y_rel, centre[zz, yy]) / max(float(np.dot(y_rel, y_rel)), 1e-6))
    b = float(np.clip(b, -0.5, 0.5))
    a = np.full(nz, np.nan)
    for z in np.unique(zz):
        a[z] = float(np.median(centre[z][good[z]] - b * ys[good[z]]))
    known = np.nonzero(~np.isnan(a))[0]
    a = np.interp(np.arange(nz), known, a[known])
    return np.column_stack([a, np.full(nz, b)])


def _depth_mm(cavity: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) from the cavity's edge, computed on a grid twice as coarse in-plane (the
    transform dominates the run time otherwise) and brought back by nearest neighbour."""
    coarse = reduce_in_plane(cavity, 2) >= 0.5
    depth = ndimage.distance_transform_edt(coarse, sampling=(spacing[0], spacing[1] * 2,
                                                             spacing[2] * 2))
    return np.asarray(expand_in_plane(np.asarray(depth, dtype=np.float32), 2, cavity.shape)
                      * cavity)


def find_head(volume_hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> Head:
    """Reduce ``volume_hu`` to the working grid and find skull, cavity, ventricles and midline.
    Raises :class:`InputError` when there is no head (too little intracranial space)."""
    if volume_hu.ndim != 3 or min(volume_hu.shape) < 4:
        raise InputError(f"NCCT volume must be 3-D with at least 4 voxels a side, got "
                         f"{volume_hu.shape}")
    factor = max(1, int(round(WORK_PIXEL_MM / spacing_mm[1])))
    hu = reduce_in_plane(volume_hu, factor)
    spacing = (float(spacing_mm[0]), spacing_mm[1] * factor, spacing_mm[2] * factor)
    pixel = spacing[1]
    sigma = 0.9 / pixel
    smooth = ndimage.gaussian_filter(hu, (0.0, sigma, sigma))
    bone = hu > BONE_HU
    inside, cavity, recovered = _cavity(smooth, bone, pixel)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    if float(cavity.sum()) * voxel_ml < MIN_CAVITY_ML:
        raise InputError("no head found in the NCCT (intracranial space too small or missing)")
    depth = _depth_mm(cavity, spacing)
    csf = cavity & (smooth < CSF_HU) & (smooth > -20.0) & (depth > 12.0)
    labels, count = ndimage.label(csf)
    ventricles = np.zeros_like(csf)
    if count:
        sizes = np.bincount(labels.ravel()) * voxel_ml
        sizes[0] = 0
        ventricles = (sizes >= max(1.0, 0.1 * float(sizes.max())))[labels]
    tissue = cavity & (smooth > 20.0) & (smooth < 50.0) & (depth > 10.0)
    residual = hu - ndimage.gaussian_filter(hu, (0.0, 2.5 / pixel, 2.5 / pixel))
    noise = float(np.std(ndimage.gaussian_filter(residual, (0.0, sigma, sigma))[tissue])) \
        if tissue.any() else 0.0
    skull = _largest(bone)  # the skull: the largest connected bone component
    return Head(hu, smooth, spacing, factor, bone, inside, cavity,
                _internal_dense(hu, skull, inside), _base_slices(bone, cavity),
                depth, ventricles, _midline(cavity, pixel), noise, recovered,
                _metal_slices(volume_hu, factor, skull, cavity))


MAX_SEPTUM_GAP_MM = 9.0  # widest tissue gap between the frontal horns taken for the septum
SEPTUM_SEARCH_MM = 25.0  # septum sought this far either side of the skull midline


def midline_shift_mm(head: Head) -> float:
    """Signed shift (mm, + towards patient left) of the septum pellucidum from the skull
    midline, at the slices where the lateral ventricles are largest; the frontal horns' rows
    give the septum as the tissue gap between them. 0.0 when no ventricles are found."""
    vent = head.ventricles
    areas = vent.sum(axis=(1, 2))
    if areas.max() == 0:
        return 0.0
    sy, sx = head.spacing_mm[1], head.spacing_mm[2]
    offsets = []
    for z in np.argsort(areas)[::-1][:3]:
        rows = np.nonzero(vent[z].any(axis=1))[0]
        centre_row = float(np.nonzero(vent[z])[0].mean())
        for r in rows[rows < centre_row]:  # anterior half: the frontal horns
            xs = np.nonzero(vent[z, r])[0] * sx
            mid = float(head.midline_x_mm(np.array([z]), np.array([r * sy]))[0])
            gaps = np.diff(xs)
            centres = (xs[:-1] + xs[1:]) / 2.0
            ok = (gaps > 1.5 * sx) & (gaps <= MAX_SEPTUM_GAP_MM) \
                & (np.abs(centres - mid) < SEPTUM_SEARCH_MM)
            if ok.any():
                best = np.argmin(np.abs(centres[ok] - mid))
                offsets.append(float(centres[ok][best] - mid))
    if not offsets:
        zz, yy, xx = np.nonzero(vent)
        return float(np.median(xx * sx - head.midline_x_mm(zz, yy * sy)))
    return float(np.median(offsets))
