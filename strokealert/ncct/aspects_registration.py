"""Register the shipped ASPECTS atlas to a head NCCT (SimpleITK, similarity then affine).

The scan is block-averaged in-plane, resampled to ``WORK_MM`` isotropic voxels and clipped to
``CLIP_HU`` (air, CSF, brain, and bone as one bright shell); the atlas template goes through the
same clip. The transform maps scan points to atlas points: its centre and first translation come
from the centroids of the brain-like voxels (10-60 HU, largest connected blob), then a similarity
(rotation, translation, one scale) and an affine stage minimise the mean squared difference
over the atlas's cranial vault, on a two-level pyramid. A translation fitted on the central
brain (ventricles, basal ganglia, insulae) then places the deep regions, and each grey deep
region is moved onto the scan's own grey structure (:func:`place_deep_regions`: the caudate
beside the frontal horn, the lentiform lateral of it across the internal capsule, the insular
ribbon against the Sylvian cistern; the internal capsule between the first two), since heads
differ in where these lie relative to the skull and to each other. The registered region labels
are then pulled onto the scan's own grid (nearest neighbour).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

ATLAS_PATH = Path(__file__).with_name("atlas") / "aspects_atlas.npz"
WORK_MM = 4.0
"""Isotropic voxel size (mm) of the registration."""
CLIP_HU = (-50.0, 100.0)
"""Both images are clipped to this window before the metric."""
BRAIN_HU = (10.0, 60.0)
"""Brain-like attenuation (HU) for the centroid initialisation and the overlap check."""
SAMPLING = 0.2
"""Fraction of the scan voxels sampled by the metric at each iteration."""
MIN_BRAIN_DICE = 0.80
"""Overlap of the registered atlas brain with the scan's brain below which the registration
is reported as failed."""


@dataclass(frozen=True)
class Atlas:
    """The shipped atlas: template HU, region labels, scoring labels and the metric mask, all
    as SimpleITK images in the atlas frame (LPS mm, origin at the AC)."""

    template: sitk.Image
    labels: sitk.Image
    score_labels: sitk.Image
    mask: sitk.Image
    regions: tuple[str, ...]
    deep_template: sitk.Image  # template in DEEP_CLIP_HU at DEEP_MM
    deep_mask: sitk.Image  # the central brain, on the deep template's grid
    grey: DeepGrid  # where the grey deep regions are searched for


@dataclass(frozen=True)
class Registration:
    """A registered atlas: labels on the scan grid (z, y, x) and the quality of the fit."""

    labels: NDArray[np.uint8]
    score_labels: NDArray[np.uint8]
    transform: sitk.AffineTransform  # scan point (LPS mm, volume centred) -> atlas point
    brain_dice: float
    metric: float
    seconds: float
    deep_shifts_mm: dict[str, tuple[float, float, float]]  # region -> (lateral, y, z) moved

    @property
    def ok(self) -> bool:
        """Whether the atlas brain overlaps the scan's brain well enough to score."""
        return self.brain_dice >= MIN_BRAIN_DICE

    def quality(self) -> dict[str, float | bool]:
        """JSON-ready summary: brain overlap (Dice), final metric (HU²), time (s), ok."""
        return {"brain_dice": round(self.brain_dice, 3), "metric": round(self.metric, 1),
                "seconds": round(self.seconds, 2), "ok": self.ok}


def _image(array: NDArray[np.generic], spacing_xyz: tuple[float, float, float],
           origin_xyz: tuple[float, float, float]) -> sitk.Image:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing_xyz)
    img.SetOrigin(origin_xyz)
    return img


@lru_cache(maxsize=1)
def load_atlas(path: Path = ATLAS_PATH) -> Atlas:
    """Read the shipped atlas (cached)."""
    with np.load(path) as data:
        spacing = tuple(float(v) for v in data["spacing_mm"])
        origin = tuple(float(v) for v in data["origin_mm"])
        sp = (spacing[0], spacing[1], spacing[2])
        org = (origin[0], origin[1], origin[2])
        raw = data["template"].astype(np.float32)
        centre = data["deep_mask"]
        deep = _image(np.clip(raw, *DEEP_CLIP_HU), sp, org)
        ref = sitk.Image([int(round(n * s / DEEP_MM)) for n, s in zip(
            deep.GetSize(), sp, strict=True)], sitk.sitkFloat32)
        ref.SetOrigin(org)
        ref.SetSpacing((DEEP_MM,) * 3)
        deep_template = sitk.Resample(deep, ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                                      sitk.sitkFloat32)
        deep_mask = sitk.Resample(_image(centre, sp, org), ref, sitk.Transform(),
                                  sitk.sitkNearestNeighbor, 0)
        labels = _image(data["labels"], sp, org)
        regions = tuple(str(r) for r in data["regions"])
        return Atlas(template=_image(np.clip(raw, *CLIP_HU), sp, org), labels=labels,
                     score_labels=_image(data["score_labels"], sp, org),
                     mask=_image(data["registration_mask"], sp, org),
                     regions=regions, deep_template=deep_template, deep_mask=deep_mask,
                     grey=_deep_grid(labels, regions))


def scan_geometry(shape: tuple[int, ...], spacing_mm: tuple[float, float, float]
                  ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Spacing and origin (x, y, z order, mm) of a (z, y, x) volume centred on the origin."""
    sz, sy, sx = spacing_mm
    nz, ny, nx = shape
    return (sx, sy, sz), (-(nx - 1) / 2 * sx, -(ny - 1) / 2 * sy, -(nz - 1) / 2 * sz)


def _block_average(volume_hu: NDArray[np.floating], f: int) -> NDArray[np.float32]:
    """Mean of in-plane blocks of f x f pixels (edges that do not fill a block dropped)."""
    nz, ny, nx = volume_hu.shape
    ny_, nx_ = ny // f * f, nx // f * f
    vol = np.asarray(volume_hu[:, :ny_, :nx_], dtype=np.float32)
    if f > 1:
        vol = vol.reshape(nz, ny_ // f, f, nx_ // f, f).mean(axis=(2, 4))
    return vol


def _working_image(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float]
                   ) -> sitk.Image:
    """The scan block-averaged in-plane, resampled to WORK_MM isotropic and clipped."""
    sz, sy, sx = spacing_mm
    f = max(1, int(WORK_MM / max(sx, sy) / 1.5))
    vol = _block_average(volume_hu, f)
    block_spacing = (sx * f, sy * f, sz)
    _, origin = scan_geometry(vol.shape, (sz, sy * f, sx * f))
    img = _image(np.clip(vol, *CLIP_HU), block_spacing, origin)
    size = [max(2, int(round(n * s / WORK_MM))) for n, s in zip(img.GetSize(), block_spacing,
                                                                strict=True)]
    return sitk.Resample(img, size, sitk.Transform(), sitk.sitkLinear, origin,
                         (WORK_MM,) * 3, img.GetDirection(), CLIP_HU[0], sitk.sitkFloat32)


def _brain_mask(img: sitk.Image) -> NDArray[np.bool_]:
    """Brain-like voxels of a working image: 10-60 HU, eroded once, largest blob."""
    arr = sitk.GetArrayViewFromImage(img)
    mask = ndimage.binary_erosion((arr > BRAIN_HU[0]) & (arr < BRAIN_HU[1]))
    lab, n = ndimage.label(mask)
    if n == 0:
        return np.asarray(mask)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return np.asarray(lab == int(np.argmax(sizes)))


def _centroid(img: sitk.Image, mask: NDArray[np.bool_]) -> tuple[float, float, float]:
    idx = np.argwhere(mask).mean(axis=0)  # z, y, x
    pt = img.TransformContinuousIndexToPhysicalPoint((float(idx[2]), float(idx[1]),
                                                      float(idx[0])))
    return (pt[0], pt[1], pt[2])


def _run(fixed: sitk.Image, moving: sitk.Image, mask: sitk.Image,
         initial: sitk.Transform, iterations: int) -> tuple[sitk.Transform, float]:
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(SAMPLING, seed=19)
    reg.SetMetricMovingMask(mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=0.02,
                                                 numberOfIterations=iterations,
                                                 relaxationFactor=0.6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([1.0, 0.0])
    reg.SetInitialTransform(initial, inPlace=False)
    out = reg.Execute(fixed, moving)
    return out, float(reg.GetMetricValue())


def register_atlas(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float],
                   atlas: Atlas | None = None) -> Registration:
    """Register the atlas to ``volume_hu`` ((z, y, x) HU, ``spacing_mm`` (z, y, x), axial
    slices in LPS) and return its labels on the scan grid with the fit quality."""
    import time

    started = time.perf_counter()
    atlas = atlas or load_atlas()
    fixed = _working_image(volume_hu, spacing_mm)
    moving = sitk.Resample(atlas.template, _atlas_grid(atlas), sitk.Transform(),
                           sitk.sitkLinear, CLIP_HU[0], sitk.sitkFloat32)
    mask_moving = sitk.Resample(atlas.mask, moving, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    scan_brain = _brain_mask(fixed)
    atlas_brain = _brain_mask(moving)
    c_fixed, c_moving = _centroid(fixed, scan_brain), _centroid(moving, atlas_brain)
    similarity = sitk.Similarity3DTransform()
    similarity.SetCenter(c_fixed)
    similarity.SetTranslation(tuple(m - f for m, f in zip(c_moving, c_fixed, strict=True)))
    sim = _as_affine(_run(fixed, moving, mask_moving, similarity, 60)[0])
    affine = sitk.AffineTransform(3)
    affine.SetCenter(sim.GetCenter())
    affine.SetMatrix(sim.GetMatrix())
    affine.SetTranslation(sim.GetTranslation())
    result, metric = _run(fixed, moving, mask_moving, affine, 40)
    final = _as_affine(result)
    warped_brain = sitk.GetArrayViewFromImage(sitk.Resample(
        _mask_image(moving, atlas_brain), fixed, final, sitk.sitkNearestNeighbor, 0)) > 0
    inter = int(np.count_nonzero(warped_brain & scan_brain))
    total = int(np.count_nonzero(warped_brain)) + int(np.count_nonzero(scan_brain))
    dice = 2.0 * inter / max(1, total)
    fixed_deep = _deep_image(volume_hu, spacing_mm)
    spacing, origin = scan_geometry(volume_hu.shape, spacing_mm)
    ref = sitk.Image([int(n) for n in volume_hu.shape[::-1]], sitk.sitkUInt8)
    ref.SetSpacing(spacing)
    ref.SetOrigin(origin)
    labels, score = (_pull(image, ref, final, keep=_is_deep, drop=True)
                     for image in (atlas.labels, atlas.score_labels))
    deep = _deep_refinement(fixed_deep, atlas, final)
    shifts = place_deep_regions(volume_hu, spacing_mm, atlas, deep)
    for out, image in ((labels, atlas.labels), (score, atlas.score_labels)):
        moved = _shifted_labels(image, atlas.regions, shifts)
        inner = _pull(moved, ref, deep, keep=_is_deep, drop=False)
        out[inner > 0] = inner[inner > 0]
    return Registration(labels=labels, score_labels=score,
                        transform=final, brain_dice=float(dice), metric=metric,
                        seconds=time.perf_counter() - started, deep_shifts_mm={
                            name: tuple(float(v) * atlas.template.GetSpacing()[0] for v in d)
                            for name, d in shifts.items()})


def _pull(image: sitk.Image, ref: sitk.Image, transform: sitk.Transform,
          keep: Callable[[NDArray[np.uint8]], NDArray[np.bool_]], drop: bool
          ) -> NDArray[np.uint8]:
    """Atlas labels on the scan grid under ``transform``: with ``drop``, the labels where
    ``keep`` holds are cleared; without, only those are kept."""
    arr = sitk.GetArrayFromImage(sitk.Resample(image, ref, transform,
                                               sitk.sitkNearestNeighbor, 0)).astype(np.uint8)
    arr[keep(arr) if drop else ~keep(arr)] = 0
    return arr


DEEP_CODES = (1, 2, 3, 4, 11, 12, 13, 14)
"""Labels of the caudate, lentiform, internal capsule and insula (both sides)."""
DEEP_CLIP_HU = (0.0, 45.0)
"""Window of the central refinement: CSF against brain, grey against white."""
DEEP_MM = 2.0
"""Voxel size (mm) of the central refinement."""


def _is_deep(labels: NDArray[np.generic]) -> NDArray[np.bool_]:
    return np.isin(labels, DEEP_CODES)


def _deep_image(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float]
                ) -> sitk.Image:
    """The scan block-averaged in-plane to about DEEP_MM, in the DEEP_CLIP_HU window."""
    sz, sy, sx = spacing_mm
    f = max(1, int(DEEP_MM / max(sx, sy)))
    vol = _block_average(volume_hu, f)
    _, origin = scan_geometry(vol.shape, (sz, sy * f, sx * f))
    return _image(np.clip(vol, *DEEP_CLIP_HU), (sx * f, sy * f, sz), origin)


def _deep_refinement(fixed: sitk.Image, atlas: Atlas, initial: sitk.AffineTransform
                     ) -> sitk.AffineTransform:
    """The whole-head fit shifted (translation only) to fit the central brain (lateral and
    third ventricles, basal ganglia, insulae, Sylvian fissures) in the CSF/brain window: the
    deep regions follow the scan's own internal anatomy rather than the skull."""
    inverse = initial.GetInverse()
    side_mask = atlas.deep_mask
    idx = np.argwhere(sitk.GetArrayViewFromImage(side_mask) > 0)[:, ::-1]  # x, y, z
    corners = [side_mask.TransformIndexToPhysicalPoint((int(i), int(j), int(k)))
               for i in (idx[:, 0].min(), idx[:, 0].max()) for j in (idx[:, 1].min(),
               idx[:, 1].max()) for k in (idx[:, 2].min(), idx[:, 2].max())]
    mapped = np.array([inverse.TransformPoint(c) for c in corners])
    lo = fixed.TransformPhysicalPointToIndex(tuple(float(v) for v in mapped.min(axis=0)))
    hi = fixed.TransformPhysicalPointToIndex(tuple(float(v) for v in mapped.max(axis=0)))
    start = [max(0, min(a, b) - 2) for a, b in zip(lo, hi, strict=True)]
    stop = [min(n, max(a, b) + 3) for n, a, b in zip(fixed.GetSize(), lo, hi, strict=True)]
    crop = sitk.RegionOfInterest(fixed, [b - a for a, b in zip(start, stop, strict=True)], start)
    crop = sitk.Resample(crop, [max(2, int(round(n * s / DEEP_MM))) for n, s in zip(
        crop.GetSize(), crop.GetSpacing(), strict=True)], sitk.Transform(), sitk.sitkLinear,
        crop.GetOrigin(), (DEEP_MM,) * 3, crop.GetDirection(), 0.0, sitk.sitkFloat32)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(SAMPLING, seed=19)
    reg.SetMetricMovingMask(side_mask)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=0.05,
                                                 numberOfIterations=30, relaxationFactor=0.6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetOptimizerWeights([0.0] * 9 + [1.0] * 3)  # translation only
    reg.SetShrinkFactorsPerLevel([1])
    reg.SetSmoothingSigmasPerLevel([1.0])
    reg.SetInitialTransform(sitk.AffineTransform(initial), inPlace=False)
    return _as_affine(reg.Execute(crop, atlas.deep_template))


def _as_affine(transform: sitk.Transform) -> sitk.AffineTransform:
    """The optimised similarity or affine transform as an affine one."""
    t = transform.Downcast()
    if isinstance(t, sitk.CompositeTransform):
        t = t.GetBackTransform().Downcast()
    out = sitk.AffineTransform(3)
    out.SetCenter(t.GetCenter())
    out.SetMatrix(t.GetMatrix())
    out.SetTranslation(t.GetTranslation())
    return out


def _atlas_grid(atlas: Atlas) -> sitk.Image:
    """An empty image on the atlas extent at WORK_MM spacing."""
    size = [int(round(n * s / WORK_MM)) for n, s in zip(atlas.template.GetSize(),
                                                        atlas.template.GetSpacing(),
                                                        strict=True)]
    ref = sitk.Image(size, sitk.sitkFloat32)
    ref.SetOrigin(atlas.template.GetOrigin())
    ref.SetSpacing((WORK_MM,) * 3)
    return ref


def _mask_image(like: sitk.Image, mask: NDArray[np.bool_]) -> sitk.Image:
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.CopyInformation(like)
    return img


GREY_REGIONS = ("C", "L", "I")
"""Deep regions that are grey matter on NCCT (caudate, lentiform, insular cortex): each is moved
onto the grey structure it names. The internal capsule (white, between the caudate and the
lentiform) moves by the mean of their two shifts."""
SEARCH_VOXELS = {"C": ((-2, 2), (-2, 2), (-2, 2)), "L": ((-2, 12), (-4, 4), (-3, 3)),
                 "I": ((-2, 2), (-2, 2), (-2, 2))}
"""Shifts (lateral, y, z; atlas voxels of 1.5 mm) searched for each grey region, the same shift
mirrored on both sides. The caudate and the insula border the frontal horn and the Sylvian
cistern, which the central translation has already fitted: they move by 3 mm at most. Where
the lentiform lies between them varies most between heads: 3 mm medially (it cannot cross the
internal capsule) to 18 mm laterally, 6 mm forward/back and 4.5 mm up/down."""
SHELL_VOXELS = 2
"""Thickness (atlas voxels) of the band around a region against which its grey contrast is
measured; the insula is measured against the band lateral to it only (the Sylvian cistern), so
that it is not taken for the opercular cortex across the fissure."""
MAX_OVERLAP = 0.05
"""The caudate, the lentiform and the insula are placed in this order; a place where more than
this fraction of a region lies on one placed before is ruled out (the internal capsule parts the
caudate from the lentiform, the external and extreme capsules the lentiform from the insula)."""
GREY_CEILING_HU = 45.0
"""Scan values above this (blood, calcification, vessels) count as this for the contrast."""
WHITE_PERCENTILE = 30.0
"""Scan values below this percentile of the tissue voxels (15-45 HU) of the deep box, about the
white-matter level, count as it: CSF beside a region is no more a contrast than white matter."""
DEEP_BOX_MM = ((-62.0, 62.0), (-52.0, 46.0), (-26.0, 42.0))
"""x, y, z extent (atlas frame, mm) of the grid on which the grey regions are searched."""


@dataclass(frozen=True)
class DeepGrid:
    """The atlas deep box: its grid (SimpleITK, atlas spacing) and, per grey region and side
    (+1 left, -1 right), the flat indices of the region's voxels and of the band around it."""

    ref: sitk.Image
    shape: tuple[int, int, int]  # z, y, x
    members: dict[tuple[str, int], tuple[NDArray[np.int64], NDArray[np.int64]]]


def _deep_grid(labels: sitk.Image, regions: tuple[str, ...]) -> DeepGrid:
    """The deep box of the atlas ``labels`` with the grey regions' voxels and bands."""
    start = np.array(labels.TransformPhysicalPointToIndex(tuple(b[0] for b in DEEP_BOX_MM)))
    stop = np.array(labels.TransformPhysicalPointToIndex(tuple(b[1] for b in DEEP_BOX_MM)))
    crop = sitk.RegionOfInterest(labels, [int(v) for v in stop - start], [int(v) for v in start])
    arr = sitk.GetArrayFromImage(crop)
    ball = ndimage.generate_binary_structure(3, 1)
    members = {}
    for name in GREY_REGIONS:
        for side, offset in ((1, 0), (-1, 10)):
            mask = arr == 1 + regions.index(name) + offset
            if name == "I":  # the voxels just lateral to the ribbon
                band = np.zeros_like(mask)
                for k in range(1, SHELL_VOXELS + 1):
                    band |= np.roll(mask, side * k, axis=2)
                band &= ~mask
            else:
                band = ndimage.binary_dilation(mask, ball, iterations=SHELL_VOXELS) & ~mask
            members[(name, side)] = (np.flatnonzero(mask), np.flatnonzero(band))
    ref = sitk.Image(crop.GetSize(), sitk.sitkFloat32)
    ref.CopyInformation(crop)
    nz, ny, nx = arr.shape
    return DeepGrid(ref=ref, shape=(nz, ny, nx), members=members)


def _scan_in_atlas(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float],
                   grid: DeepGrid, transform: sitk.AffineTransform) -> NDArray[np.float32]:
    """The scan on the atlas deep box (block-averaged in-plane to about the atlas spacing,
    smoothed by one voxel), clipped between the white-matter level and GREY_CEILING_HU."""
    sz, sy, sx = spacing_mm
    step = grid.ref.GetSpacing()[0]
    f = max(1, int(step / max(sx, sy)))
    vol = _block_average(volume_hu, f)
    spacing, origin = scan_geometry(vol.shape, (sz, sy * f, sx * f))
    scan = _image(vol, spacing, origin)
    moved = sitk.Resample(scan, grid.ref, transform.GetInverse(), sitk.sitkLinear, 0.0,
                          sitk.sitkFloat32)
    arr = ndimage.gaussian_filter(sitk.GetArrayFromImage(moved), 1.0)
    tissue = arr[(arr > 15.0) & (arr < GREY_CEILING_HU)]
    floor = float(np.percentile(tissue, WHITE_PERCENTILE)) if tissue.size else 15.0
    return np.asarray(np.clip(arr, floor, GREY_CEILING_HU), dtype=np.float32)


def place_deep_regions(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float],
                       atlas: Atlas, transform: sitk.AffineTransform
                       ) -> dict[str, tuple[int, int, int]]:
    """Shift (lateral, y, z in atlas voxels) of each deep region that puts the grey regions on
    the scan's own grey structures: the shift, mirrored between the sides, at which the region
    is brightest against the band around it (mean of both sides)."""
    grid = atlas.grey
    values = _scan_in_atlas(volume_hu, spacing_mm, grid, transform).ravel()
    nz, ny, nx = grid.shape
    size = nz * ny * nx
    placed = np.zeros(size, dtype=np.float32)  # 1 where a region already placed lies
    shifts: dict[str, tuple[int, int, int]] = {}
    for name in GREY_REGIONS:
        g_lat, g_y, g_z = (a.ravel() for a in np.meshgrid(
            *(np.arange(lo, hi + 1) for lo, hi in SEARCH_VOXELS[name]), indexing="ij"))
        contrast = np.zeros(g_lat.size)
        overlap = np.zeros(g_lat.size)
        for side in (1, -1):
            inside, band = grid.members[(name, side)]
            offset = g_z * ny * nx + g_y * nx + side * g_lat
            contrast += (_mean_at(values, inside, offset, size)
                         - _mean_at(values, band, offset, size))
            overlap = np.maximum(overlap, _mean_at(placed, inside, offset, size))
        contrast[overlap > MAX_OVERLAP] = -np.inf
        best = int(np.argmax(contrast))
        shifts[name] = (int(g_lat[best]), int(g_y[best]), int(g_z[best]))
        lat, dy, dz = shifts[name]
        for side in (1, -1):
            placed[(grid.members[(name, side)][0] + dz * ny * nx + dy * nx + side * lat)
                   % size] = 1.0
    c, lentiform = np.array(shifts["C"]), np.array(shifts["L"])
    lat, dy, dz = (int(v) for v in np.round((c + lentiform) / 2.0))
    shifts["IC"] = (lat, dy, dz)
    return shifts


def _mean_at(values: NDArray[np.float32], index: NDArray[np.int64], offset: NDArray[np.int64],
             size: int) -> NDArray[np.float64]:
    """Mean of ``values`` over ``index`` moved by each ``offset`` (wrapping at the box edge,
    which the search range keeps clear of the regions)."""
    picked = values[(index[None, :] + offset[:, None]) % size]
    return np.asarray(picked.mean(axis=1), dtype=np.float64)


def _shifted_labels(image: sitk.Image, regions: tuple[str, ...],
                    shifts: dict[str, tuple[int, int, int]]) -> sitk.Image:
    """Atlas ``image`` with each deep region moved by its shift (atlas voxels; lateral mirrored
    between the sides); the internal capsule first, so the grey regions win where they meet."""
    arr = sitk.GetArrayFromImage(image)
    out = arr.copy()
    where = np.flatnonzero(_is_deep(arr))
    codes = arr.ravel()[where]
    out.ravel()[where] = 0
    z, y, x = np.unravel_index(where, arr.shape)
    for name in ("IC", "C", "L", "I"):
        lat, dy, dz = shifts[name]
        for side, offset in ((1, 0), (-1, 10)):
            code = 1 + regions.index(name) + offset
            sel = codes == code
            out[z[sel] + dz, y[sel] + dy, x[sel] + side * lat] = code
    moved = sitk.GetImageFromArray(out)
    moved.CopyInformation(image)
    return moved
