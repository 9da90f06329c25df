"""Acute intracranial haemorrhage on the working grid of :mod:`strokealert.ncct.brain`:
candidate voxels in an adaptive blood window, mimics rejected by HU, place and shape, the kind
of each bleed from where it lies, volumes (segmentation and ABC/2) and location words.

Rules (HU on the in-plane smoothed volume, each slice first lowered by how far its brain reads
above the whole brain's: beam hardening lifts the slices next to the skull base, :func:`levelled`):

* window: from ``max(BLOOD_LOW_HU, tissue + 3.5 × noise)`` to :data:`BLOOD_HIGH_HU`, where
  ``tissue`` is the 95th percentile of brain tissue: dense cortex after contrast raises it;
* calcification and contrast inside the skull (> :data:`DENSE_HU`, or above the window) and a
  blur rim of :data:`DENSE_RIM_MM` around them, and the voxels over or under them on the next
  slices (partial volume over the slice thickness) are no seed; a thin shell against the
  inner table (:data:`SKULL_RIM_MM`) is no seed either (bone blur);
* streak artefacts are no seed: straight bright lines found per slice by a Hough transform
  (long, thin, empty beside them, crossing the brain; :func:`streak_lines`), except where the
  bright voxels on such a line are thick (a disk 7 mm across fits) and carry no thin arms of
  their own (blood in both occipital horns lies on one straight line; :func:`_thick_parts`);
* a candidate component is blood when it holds at least :data:`MIN_COMPONENT_ML`, spans more than
  one slice or is thick, and is not a tube (hyperdense vessel), a thin or a long straight
  one-slice streak, a thin midline sheet (falx), the superior sagittal sinus (midline, against the
  inner table), a dural venous sinus (a tube along the table at the back of the cavity or along
  the midline: transverse, sigmoid, superior sagittal; blood 45-65 HU with the haematocrit),
  the torcular with both transverse sinuses (thin, across the midline at the back), faint on
  the skull base (streaks; a round seed deep in the brain excepted), nor on the skull base over
  or under bone (the oblique floor's partial volume), nor small and under or
  over bone elsewhere (the vertex curving through the slice); where the skull ring is open (the
  cavity's recovered part: thin squama, foramina), and when small and faint against the table, a
  candidate must also stand :data:`RECOVERED_STEP_HU` above the brain just deeper than it (blood
  has an edge; partial volume of thin bone, the skull base's soft tissue and the cortex over the
  table's blur rise gradually towards the bone), and one set aside for that alone is returned as a
  :class:`Doubt` for manual review; a one-slice candidate on a slice holding metal inside the
  skull, or next to one, is its streak flare (metal streaks lie in the slices through the metal;
  blood continues across slices);
* accepted seeds grow to their half-way contour; against the inner table they grow through
  the table's blur and into the first layer of bone below the half-way HU between blood and
  the table (blood-bone partial volume);
* a bleed's kind comes from where it lies (:func:`_kind`); a deep one read as parenchymal is
  intraventricular when it fills a ventricle (:func:`_ventricle_casts`: the ventricles of both
  sides mirrored onto each other, a mirror partner, or its own mirror image).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from strokealert.contracts.analysis import BLEED_KINDS
from strokealert.ncct.brain import BONE_HU, Head

__all__ = ["BLEED_KINDS"]
BLOOD_LOW_HU = 50.0
BLOOD_HIGH_HU = 100.0
DENSE_RIM_MM = 2.5
SKULL_RIM_MM = 1.6
MIN_COMPONENT_ML = 0.25
SUSPECT_ML = 1.0  # total accepted blood from which a haemorrhage is reported
DARK_RING_SHARE = 0.05  # share of a seed's 3 mm surround below -5 HU: streak artefact
VENTRICLE_EDGE_SHARE = 0.3  # share of a bleed's edge on ventricular fluid: intraventricular
MIRROR_VENTRICLE_SHARE = 0.5  # share of a deep bleed where either side's ventricles (mirrored
# about the skull midline, 3 mm around) lie: a ventricle cast with blood
PARTNER_SHARE = 0.3  # share of a deep bleed whose mirror image lies on another deep bleed:
# blood layered in both occipital horns
CAST_DEPTH_MM = 15.0  # a bleed may be a ventricle cast when its median distance from the inner
# table is at least this
SELF_MIRROR_SHARE = 0.55  # share of a deep bleed whose mirror image lies on itself: blood
# filling both lateral ventricles (a haematoma is one-sided)
BASE_CONTRAST_HU = 9.0  # HU above the window a seed on the skull base needs
COMPACT_ELONGATION = 1.5  # ... unless this round (streaks are lines) and deeper than
COMPACT_DEPTH_MM = 7.0  # ... this from the inner table (a pontine or cerebellar haematoma)
BASE_BONE_SHARE = 0.25  # share of a skull-base seed over or under bone: partial volume of the floor
SINUS_HALF_WIDTH_MM = 10.0  # the superior sagittal sinus: this far either side of the midline,
SINUS_DEPTH_MM = 6.5  # ... against the inner table (median depth below this)
VENOUS_ELONGATION = 2.3  # a dural venous sinus: a tube (at least this elongated) along the table
VENOUS_THICKNESS_MM = 10.0  # ... no thicker than this in-plane,
VENOUS_DEPTH_MM = 9.0  # ... lying against the table (median depth below this),
VENOUS_MAX_ML = 8.0  # ... smaller than this,
VENOUS_BACK = 0.6  # ... in the back of the cavity (transverse, sigmoid sinuses and the
# torcular: median position at least this far from front (0) to back (1) of the cavity on its
# slices) or along the midline (the superior sagittal sinus):
VENOUS_MIDLINE_MM = 12.0  # ... median distance from the skull midline below this
TORCULAR_BACK = 0.8  # the torcular with both transverse sinuses: thin against the table at
# the back of the cavity (median position at least this far back),
TORCULAR_SIDES = 0.15  # ... reaching across the midline (at least this share on either side)
TORCULAR_MAX_ML = 20.0  # ... and smaller than this
CAP_BONE_SHARE = 0.5  # share of a small seed under or over bone: the table curving through
# the slice (vertex, floor)
CAP_MAX_ML = 1.0  # ... below this volume
TABLE_BLUR_MM = 2.0  # dense voxels this close to the cavity's edge: the inner table's blur
GROW_MM = 6.0  # accepted bleeds grow this far, to their half-way contour
BOUNDARY_MIN_HU = 42.0  # never grow below this
STREAK_MIN_MM = 25.0  # a streak: a bright straight line at least this long in one slice
STREAK_FLANK_SHARE = 0.25  # ... with at most this share of its count in the bands beside it
STREAK_DEEP_MM = 15.0  # ... that crosses the brain (reaches this far from the inner table)
STREAK_ELONGATION = 6.0  # a one-slice seed this elongated is a streak piece
STREAK_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 3.0))  # line directions tried
STREAK_MAX_MM = 7.0  # an in-plane bright part at least this thick is no streak piece
RECOVERED_STEP_HU = 24.0  # HU a seed mostly where the skull ring is open must stand above the
# brain 1-4 mm around it and deeper than it
RECOVERED_SHARE = 0.5  # ... share of the seed in that part of the cavity
FAINT_MAX_ML = 0.5  # a seed this small against the table (median depth below FAINT_DEPTH_MM)
FAINT_DEPTH_MM = 4.5  # ... and faint (less than FAINT_CONTRAST_HU above the window) needs the
FAINT_CONTRAST_HU = 10.0  # ... same step: the cortex over the table's partial volume
LEVEL_MIN_ML = 2.0  # brain on a slice from which its own attenuation level is measured


@dataclass
class Bleed:
    """One connected haemorrhage on the working grid."""

    kind: str
    volume_ml: float
    mean_hu: float
    centroid: tuple[float, float, float]  # (z, y, x) voxel indices, working grid
    side: str
    thickness_mm: float
    mask: np.ndarray = field(repr=False)  # (z, y, x) bool


@dataclass
class Doubt:
    """A seed set aside only for want of an edge to the brain deeper than it (where the skull
    ring is open, or small and faint against the table): blood, or the bone's partial volume
    and the skull base's soft tissue; a reader should look."""

    volume_ml: float
    median_hu: float  # smoothed, levelled HU
    slices: tuple[int, int]  # first and last slice index, 0 the lowest
    side: str


@dataclass
class Components:
    """Labelled candidates and per-label measurements."""

    labels: np.ndarray
    count: int
    volume_ml: np.ndarray
    mean_hu: np.ndarray


def blood_window(head: Head) -> tuple[float, float]:
    """(low, high) HU of the blood window for this scan (smoothed HU)."""
    tissue = head.cavity & (head.smooth > 15.0) & (head.smooth < 65.0) & (head.depth_mm > 8.0)
    p95 = float(np.percentile(head.smooth[tissue], 95)) if tissue.any() else 40.0
    low = max(BLOOD_LOW_HU, min(p95, 48.0) + 3.5 * head.noise_hu)
    return min(low, 62.0), BLOOD_HIGH_HU


def levelled(head: Head) -> Head:
    """``head`` with each slice's smoothed HU lowered by how far the brain on it reads above
    the whole brain (its median over the median of all slices; never raised).

    The brain's attenuation is not the same on every slice: next to the skull base and under
    the vertex, beam hardening and the scanner's incomplete correction of it lift the whole
    slice (measured 15-25 HU on the skull-base slices of projection-domain phantoms), which a
    fixed blood window takes for a sheet of blood. The slice median is that of the brain away
    from the table (15-80 HU, deeper than :data:`TABLE_BLUR_MM`), taken over three slices;
    a bleed moves it only where it fills half the brain of a slice."""
    tissue = (head.cavity & (head.smooth > 15.0) & (head.smooth < 80.0)
              & (head.depth_mm > TABLE_BLUR_MM))
    counts = tissue.sum(axis=(1, 2))
    enough = counts * head.voxel_ml >= LEVEL_MIN_ML
    if not enough.any():
        return head
    levels = np.array([float(np.median(head.smooth[z][tissue[z]])) if ok else np.nan
                       for z, ok in enumerate(enough)])
    measured = np.flatnonzero(enough)
    nearest = measured[np.abs(np.arange(levels.size)[:, None] - measured[None, :]).argmin(axis=1)]
    levels = ndimage.median_filter(levels[nearest], size=3, mode="nearest")
    excess = np.clip(levels - float(np.median(head.smooth[tissue])), 0.0, None)
    return replace(head, smooth=(head.smooth - excess[:, None, None]).astype(np.float32))


def _ball(radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    r = [max(0, int(np.floor(radius_mm / s))) for s in spacing]
    zz, yy, xx = np.mgrid[-r[0]:r[0] + 1, -r[1]:r[1] + 1, -r[2]:r[2] + 1]
    dist2 = (zz * spacing[0]) ** 2 + (yy * spacing[1]) ** 2 + (xx * spacing[2]) ** 2
    return np.asarray(dist2 <= radius_mm * radius_mm + 1e-6)


_SLICE_NEIGHBOURS = np.ones((3, 3, 3), dtype=bool)  # a voxel's slices above and below, within a
# pixel: a dense thing's partial volume over the slice thickness


_PAD = 8  # histogram bins kept empty at either end (the widest band reaches 6 away)


def _band_sums(cum: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """From the cumulative sums ``cum`` (a 0 column first) of a histogram with :data:`_PAD`
    empty bins either end, per row the sum over bins ``r + lo`` … ``r + hi`` for each bin
    ``r`` (the padded ends give 0)."""
    width = cum.shape[1] - 1 - 2 * _PAD
    return np.asarray(cum[:, _PAD + 1 + hi:_PAD + 1 + hi + width]
                      - cum[:, _PAD + lo:_PAD + lo + width])


def _line_bins(head: Head, z: int, yy: np.ndarray, xx: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hough bins of the bright voxels ``yy, xx`` of slice ``z``: (rho, first, strong, weak):
    rho (angles, voxels) each voxel's line index per direction, counted from ``first``
    (angles, 1); strong (angles, bins) the streak lines (see :func:`streak_lines`); weak the
    lines half as long, without the depth condition (the same streak through the skull base)."""
    n_angles = STREAK_ANGLES.size
    rows = np.arange(n_angles)[:, None]
    need = 2.0 * STREAK_MIN_MM / head.spacing_mm[1]  # voxels: the length, >= 2 pixels wide
    deep = head.depth_mm[z, yy, xx] >= STREAK_DEEP_MM
    rho = np.rint(np.outer(np.cos(STREAK_ANGLES), yy)
                  + np.outer(np.sin(STREAK_ANGLES), xx)).astype(np.int64)
    first = rho.min(axis=1, keepdims=True) - _PAD
    rho = rho - first
    width = int(rho.max()) + _PAD + 1
    flat = (rows * width + rho).ravel()
    counts = np.bincount(flat, minlength=n_angles * width).reshape(n_angles, width)
    deeps = np.bincount(flat, weights=np.broadcast_to(deep, rho.shape).ravel(),
                        minlength=n_angles * width).reshape(n_angles, width)
    cum = np.cumsum(np.pad(counts, ((0, 0), (1, 0))), axis=1)
    cum_deep = np.cumsum(np.pad(deeps, ((0, 0), (1, 0))), axis=1)
    strong = np.zeros((n_angles, width - 2 * _PAD), dtype=bool)
    weak = np.zeros_like(strong)
    for half in (1, 2, 3):
        strip = _band_sums(cum, -half, half)
        flank = _band_sums(cum, -half - 3, -half - 2) + _band_sums(cum, half + 2, half + 3)
        thin = flank <= STREAK_FLANK_SHARE * strip
        long_deep = (strip >= need) & (_band_sums(cum_deep, -half, half) >= 5)
        size = (1, 2 * half + 1)
        strong |= ndimage.maximum_filter(thin & long_deep, size=size)
        weak |= ndimage.maximum_filter(thin & (strip >= need / 2.0), size=size)
    pad = ((0, 0), (_PAD, _PAD))
    return rho, first, np.pad(strong, pad), np.pad(weak, pad)


def _shifted(lines: np.ndarray, first: np.ndarray, other_first: np.ndarray, width: int
             ) -> np.ndarray:
    """``lines`` (angles, bins counted from ``first``) re-indexed from ``other_first`` onto
    ``width`` bins (lines outside dropped)."""
    out = np.zeros((lines.shape[0], width), dtype=bool)
    rows, bins = np.nonzero(lines)
    bins = bins + (first - other_first)[rows, 0]
    keep = (bins >= 0) & (bins < width)
    out[rows[keep], bins[keep]] = True
    return out


def streak_lines(head: Head, bright: np.ndarray) -> np.ndarray:
    """Voxels of ``bright`` (z, y, x) on streak artefacts: per slice, straight lines (a Hough
    transform of the bright voxels) at least :data:`STREAK_MIN_MM` long, 3 to 7 pixels wide,
    nearly empty in the bands either side, and crossing the brain (reaching
    :data:`STREAK_DEEP_MM` from the inner table); on the next slices, the same lines when at
    least half as long (a streak from bone or metal runs through every slice that holds its
    source). Blood follows anatomy (the inner table, sulci, ventricles) and is never a long
    straight ribbon through the brain."""
    out = np.zeros(bright.shape, dtype=bool)
    slices = np.nonzero(bright.sum(axis=(1, 2)) >= STREAK_MIN_MM / head.spacing_mm[1])[0]
    found = {int(z): np.nonzero(bright[z]) for z in slices}
    bins = {z: _line_bins(head, z, yy, xx) for z, (yy, xx) in found.items()}
    rows = np.arange(STREAK_ANGLES.size)[:, None]
    for z, (rho, first, strong, weak) in bins.items():
        lines = strong.copy()
        for near in (z - 1, z + 1):
            if near in bins:
                _, near_first, near_strong, _ = bins[near]
                lines |= weak & _shifted(near_strong, near_first, first, weak.shape[1])
        on = lines[rows, rho].any(axis=0)
        yy, xx = found[z]
        out[z, yy[on], xx[on]] = True
    return out


def _thick_parts(bright: np.ndarray, streak: np.ndarray,
                 spacing: tuple[float, float, float]) -> np.ndarray:
    """The thick parts of ``bright`` (where a disk :data:`STREAK_MAX_MM` across fits in-plane)
    that are not the crossing of streak lines: in their in-plane connected part of ``bright``,
    fewer ``streak`` voxels lie beyond them (2 mm and further) than in them. Two bleeds side
    by side (blood in both occipital horns) fall on one straight line but are thick with
    nothing thin between; streaks from one source cross in a thick knot with their long thin
    arms attached."""
    disk = _ball(STREAK_MAX_MM / 2.0, (1e3, spacing[1], spacing[2]))
    thick = np.asarray(ndimage.binary_opening(bright, disk))
    if not thick.any():
        return thick
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    labels, count = ndimage.label(bright, structure=in_plane)
    near = ndimage.binary_dilation(thick, _ball(2.0, (1e3, spacing[1], spacing[2])))
    index = np.arange(1, count + 1)
    arms = np.asarray(ndimage.sum(streak & ~near, labels, index))
    knots = np.asarray(ndimage.sum(thick, labels, index))
    kept = np.concatenate([[False], arms < knots])
    return np.asarray(thick & kept[labels])


def candidates(head: Head, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """(seed, space): voxels that may start a bleed, and the voxels a bleed may grow into."""
    inner = ndimage.binary_erosion(head.cavity, _ball(SKULL_RIM_MM, head.spacing_mm))
    bright = inner & (head.smooth >= low)
    window = bright & (head.smooth <= high)
    core = head.internal_dense | (inner & (head.smooth > high))
    dense = ndimage.binary_dilation(core, _ball(DENSE_RIM_MM, head.spacing_mm))
    dense |= ndimage.binary_dilation(core, _SLICE_NEIGHBOURS)
    streak = ndimage.binary_dilation(streak_lines(head, bright), _ball(1.0, head.spacing_mm))
    # A line through compact bright things (blood in both occipital horns, side by side) is
    # no streak: streaks are thin where they cross the brain, a bleed is thick.
    streak &= ~_thick_parts(bright, streak, head.spacing_mm)
    seed = window & ~dense & ~streak
    # bleeds grow up to the bone (blood-bone mixtures), never into calcification
    return seed, _growth_space(head, low)


def _growth_space(head: Head, low: float) -> np.ndarray:
    """Voxels a bleed may grow into: inside the skull and not calcification or contrast, with
    the table's blur counted as what it is: dense voxels within :data:`TABLE_BLUR_MM` of the
    cavity's edge are bone blur over whatever lies against the table, and the first layer of
    bone is blood where it is below the half-way HU between blood and the table (the
    partial-volume contour of a blood-bone edge)."""
    table_hu = float(np.percentile(head.hu[head.bone], 90)) if head.bone.any() else BONE_HU
    half_way = (low + table_hu) / 2.0
    near_table = head.depth_mm < TABLE_BLUR_MM
    edge = ndimage.binary_dilation(head.inside, np.ones((1, 3, 3), dtype=bool))
    layer = head.bone & edge & (head.hu < half_way)
    return np.asarray(((head.inside & (head.hu < BONE_HU)) | layer)
                      & ~(head.internal_dense & ~near_table))


def _shape(coords_mm: np.ndarray) -> tuple[float, float]:
    """(elongation, flatness): sqrt ratios of the principal variances λ1/λ2 and λ2/λ3."""
    if coords_mm.shape[0] < 4:
        return 1.0, 1.0
    ev = np.sort(np.linalg.eigvalsh(np.cov(coords_mm.T)))[::-1] + 1e-3
    return float(np.sqrt(ev[0] / ev[1])), float(np.sqrt(ev[1] / ev[2]))


def _around(coords: tuple[np.ndarray, ...], shape: tuple[int, ...], margin: tuple[int, ...]
            ) -> tuple[tuple[slice, ...], np.ndarray]:
    """A box around voxel ``coords`` grown by ``margin`` (clipped to ``shape``) and the
    voxels as a mask in that box."""
    box = tuple(slice(max(0, int(c.min()) - m), min(n, int(c.max()) + m + 1))
                for c, m, n in zip(coords, margin, shape, strict=True))
    local = np.zeros(tuple(sl.stop - sl.start for sl in box), dtype=bool)
    local[tuple(c - sl.start for c, sl in zip(coords, box, strict=True))] = True
    return box, local


def seed_features(head: Head, coords: tuple[np.ndarray, ...], low_hu: float
                  ) -> dict[str, float]:
    """Measurements of one seed component at voxel ``coords``: volume (mL), in-plane
    thickness (mm), elongation, slices, share near the skull midline, share of dark (streak)
    voxels within 3 mm around it, median distance from the skull midline and from the inner
    table (mm), the share on the lesser side of the midline (over 2 mm off it), median position
    from the front (0) to the back (1) of the cavity on its slices, median HU and its margin
    over the window's ``low_hu``, share on skull-base slices, share with bone on the slice
    above or below, share where the skull ring is open and the step (HU) from the brain 1-4 mm
    around it and over 1 mm deeper (NaN: none), share on or next to a slice holding
    intracranial metal."""
    zz, yy, xx = coords
    sz, sy, sx = head.spacing_mm
    elongation, _ = _shape(np.column_stack([zz * sz, yy * sy, xx * sx]))
    mid = head.midline_x_mm(zz, yy * sy)
    first = int(zz.min())
    rows = np.asarray(head.cavity[first:int(zz.max()) + 1].any(axis=2))  # (z, y) with cavity
    front = np.argmax(rows, axis=1)
    back = rows.shape[1] - 1 - np.argmax(rows[:, ::-1], axis=1)
    ball = _ball(3.0, head.spacing_mm)
    box, local = _around(coords, head.hu.shape, tuple(n // 2 for n in ball.shape))
    ring = ndimage.binary_dilation(local, ball) & ~local
    ring_hu = head.smooth[box][ring]
    depth = float(np.median(head.depth_mm[coords]))
    offset = xx * sx - mid
    return {"volume_ml": float(zz.size) * head.voxel_ml,
            "thickness_mm": _thickness_mm(local, head.spacing_mm),
            "elongation": elongation, "slices": float(np.unique(zz).size),
            "near_midline": float((np.abs(offset) < 3.0).mean()),
            "midline_mm": float(np.median(np.abs(offset))),
            "two_sided": float(min((offset > 2.0).mean(), (offset < -2.0).mean())),
            "depth_mm": depth,
            "back": float(np.median((yy - front[zz - first])
                                    / np.maximum(back[zz - first] - front[zz - first], 1))),
            "dark_ring": float((ring_hu < -5.0).mean()) if ring_hu.size else 0.0,
            "median_hu": float(np.median(head.smooth[coords])),
            "contrast_hu": float(np.median(head.smooth[coords])) - low_hu,
            "base_share": float(head.base[zz].mean()),
            "bone_above_below": _bone_above_below(head, coords),
            "recovered": (float(head.recovered[coords].mean()) if head.recovered is not None
                          else 0.0),
            "step_hu": float(np.median(head.smooth[coords])) - _deeper_hu(head, coords, depth),
            "metal_slice": _metal_share(head, zz)}


def _metal_share(head: Head, zz: np.ndarray) -> float:
    """Share of the voxels on slices ``zz`` that hold intracranial metal or lie next to one."""
    if head.metal_slices is None or not head.metal_slices.any():
        return 0.0
    near = ndimage.binary_dilation(head.metal_slices, np.ones(3, dtype=bool))
    return float(near[zz].mean())


def _deeper_hu(head: Head, coords: tuple[np.ndarray, ...], depth_mm: float) -> float:
    """Median HU of the cavity 1-4 mm around the voxels ``coords`` and over 1 mm deeper than
    their median depth ``depth_mm`` (NaN when there is none)."""
    outer = _ball(4.0, head.spacing_mm)
    box, local = _around(coords, head.hu.shape, tuple(n // 2 for n in outer.shape))
    shell = (ndimage.binary_dilation(local, outer)
             & ~ndimage.binary_dilation(local, _ball(1.0, head.spacing_mm)))
    deeper = shell & head.cavity[box] & (head.depth_mm[box] > depth_mm + 1.0)
    return float(np.median(head.smooth[box][deeper])) if deeper.any() else float("nan")


def _bone_above_below(head: Head, coords: tuple[np.ndarray, ...]) -> float:
    """Share of the voxels ``coords`` with bone on the slice above or below, within a pixel."""
    zz, yy, xx = coords
    last = head.hu.shape[0] - 1
    near = np.zeros(zz.size, dtype=bool)
    for dz in (-1, 1):
        z2 = np.clip(zz + dz, 0, last)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                y2 = np.clip(yy + dy, 0, head.hu.shape[1] - 1)
                x2 = np.clip(xx + dx, 0, head.hu.shape[2] - 1)
                near |= head.bone[z2, y2, x2] & (z2 != zz)
    return float(near.mean())


def is_blood(f: dict[str, float]) -> bool:
    """Shape rules for one seed component (see the module docstring)."""
    if f["volume_ml"] < MIN_COMPONENT_ML:
        return False
    if f["elongation"] > 3.5 and f["thickness_mm"] < 4.5 and f["volume_ml"] < 1.5:
        return False  # tube: hyperdense vessel
    if f["slices"] == 1 and f["thickness_mm"] < 3.0 and f["volume_ml"] < 1.0:
        return False  # in-plane streak
    if f["slices"] == 1 and f["metal_slice"] > 0.5:
        return False  # on the slices through a clip or a coil: its streak flare
    if f["slices"] == 1 and f["elongation"] > STREAK_ELONGATION:
        return False  # a long straight line on one slice: streak (blood continues in 3-D)
    if f["dark_ring"] > DARK_RING_SHARE and f["volume_ml"] < 2.0:
        return False  # between the dark bands of a streak artefact
    if (f["base_share"] > 0.5 and f["contrast_hu"] < BASE_CONTRAST_HU
            and not (f["elongation"] < COMPACT_ELONGATION and f["depth_mm"] > COMPACT_DEPTH_MM)):
        return False  # faint on the skull base: petrous and clival streaks (not a round mass
        # deep in the brainstem or cerebellum)
    if f["base_share"] > 0.5 and f["bone_above_below"] >= BASE_BONE_SHARE:
        return False  # on the skull base over or under bone: the oblique floor's partial volume
    if f["recovered"] > RECOVERED_SHARE and not f["step_hu"] >= RECOVERED_STEP_HU:
        return False  # where the ring is open, no edge: thin bone or the base's soft tissue
    if (f["volume_ml"] < FAINT_MAX_ML and f["depth_mm"] < FAINT_DEPTH_MM
            and f["contrast_hu"] < FAINT_CONTRAST_HU and not f["step_hu"] >= RECOVERED_STEP_HU):
        return False  # small, faint, against the table and no edge: cortex over the table blur
    if f["bone_above_below"] >= CAP_BONE_SHARE and f["volume_ml"] < CAP_MAX_ML:
        return False  # under the vertex or over the floor: the table curving through the slice
    if (f["midline_mm"] < SINUS_HALF_WIDTH_MM and f["depth_mm"] < SINUS_DEPTH_MM
            and f["volume_ml"] < 2.0):
        return False  # superior sagittal sinus: dense with contrast or haemoconcentration
    if (f["elongation"] >= VENOUS_ELONGATION and f["thickness_mm"] <= VENOUS_THICKNESS_MM
            and f["depth_mm"] < VENOUS_DEPTH_MM and f["volume_ml"] < VENOUS_MAX_ML
            and (f["back"] >= VENOUS_BACK or f["midline_mm"] < VENOUS_MIDLINE_MM)):
        return False  # a dural venous sinus: a tube along the table at the back or the midline
    if (f["back"] >= TORCULAR_BACK and f["two_sided"] >= TORCULAR_SIDES
            and f["thickness_mm"] <= VENOUS_THICKNESS_MM and f["depth_mm"] < VENOUS_DEPTH_MM
            and f["volume_ml"] < TORCULAR_MAX_ML):
        return False  # the torcular and both transverse sinuses: thin, across the midline at
        # the back (the falx parts subdural blood; an epidural haematoma there is thick)
    return not (f["near_midline"] > 0.8 and f["thickness_mm"] < 3.5
                and f["volume_ml"] < 2.0)  # falx


def _thickness_mm(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Twice the largest in-plane distance from the component's edge, in mm."""
    if not mask.any():
        return 0.0
    dist = ndimage.distance_transform_edt(mask, sampling=(1e3, spacing[1], spacing[2]))
    return float(2.0 * dist.max())


def _kind(head: Head, near_vent: np.ndarray, mask: np.ndarray, thickness_mm: float) -> str:
    """Kind of one bleed from where it lies: ventricles (a share of its edge on ``near_vent``,
    the ventricular fluid and a 2 mm rim),
    against the inner table (lens or crescent), thin in sulci and cisterns, or in the
    parenchyma."""
    edge = mask & ~ndimage.binary_erosion(mask)
    if near_vent[edge].mean() > VENTRICLE_EDGE_SHARE:
        return "intraventricular"
    depth = head.depth_mm[mask]
    outer = float(np.percentile(depth, 90))
    surface = float((depth < 4.0).mean())
    if surface > 0.15 and outer <= 0.8 * thickness_mm + 6.0:
        zz, yy, xx = np.nonzero(mask & (head.depth_mm < 4.0))
        sz, sy, sx = head.spacing_mm
        coords = np.column_stack([zz * sz, yy * sy, xx * sx])
        extent = float(np.sqrt(np.linalg.eigvalsh(np.cov(coords.T)).max()) * 4.0) \
            if coords.shape[0] > 3 else 1.0
        return "epidural" if thickness_mm / max(extent, 1.0) > 0.17 else "subdural"
    if thickness_mm >= 7.0 and float(np.median(depth)) > 6.0:
        return "intraparenchymal"
    return "subarachnoid"


def _mirrored(head: Head, mask: np.ndarray) -> np.ndarray:
    """``mask`` reflected about the skull midline, slice by slice."""
    zz, yy, xx = np.nonzero(mask)
    sx = head.spacing_mm[2]
    mid = head.midline_x_mm(zz, yy * head.spacing_mm[1])
    x2 = np.clip(np.round((2.0 * mid - xx * sx) / sx).astype(int), 0, mask.shape[2] - 1)
    out = np.zeros(mask.shape, dtype=bool)
    out[zz, yy, x2] = True
    return out


def _ventricle_casts(head: Head, bleeds: list[Bleed]) -> list[Bleed]:
    """Deep bleeds read as intraparenchymal that are intraventricular after all: blood that
    fills a ventricle leaves no fluid beside it, so the place is checked against the ventricles
    of both sides mirrored onto each other (a cast of one lateral ventricle), or the bleed has a
    mirror partner (blood layered in both occipital horns) or is its own mirror image (both
    lateral ventricles filled)."""
    deep = [b.kind == "intraparenchymal"
            and float(np.median(head.depth_mm[b.mask])) >= CAST_DEPTH_MM for b in bleeds]
    if not any(deep):
        return bleeds
    ball = _ball(3.0, head.spacing_mm)
    deep_blood = np.logical_or.reduce([b.mask for b, d in zip(bleeds, deep, strict=True) if d])
    # the slices of the deep bleeds and the ball's reach: mirroring works slice by slice
    zs = np.flatnonzero(deep_blood.any(axis=(1, 2)))
    cut = slice(max(0, int(zs[0]) - ball.shape[0]), int(zs[-1]) + ball.shape[0] + 1)
    vent = head.ventricles | _mirrored(head, head.ventricles)
    expected = ndimage.binary_dilation(vent[cut], ball)
    near = ndimage.binary_dilation(deep_blood[cut], ball)
    out = []
    for bleed, is_deep in zip(bleeds, deep, strict=True):
        if is_deep:
            mask = bleed.mask[cut]
            mirror = _mirrored(head, bleed.mask)[cut]
            itself = ndimage.binary_dilation(mask, ball)
            if (expected[mask].mean() >= MIRROR_VENTRICLE_SHARE
                    or (near & ~itself)[mirror].mean() >= PARTNER_SHARE
                    or itself[mirror].mean() >= SELF_MIRROR_SHARE):
                bleed = replace(bleed, kind="intraventricular")
        out.append(bleed)
    return out


def _side(head: Head, coords: tuple[np.ndarray, ...]) -> str:
    """``left``, ``right`` or ``none`` (within a fifth of even) for voxels ``coords``."""
    zz, yy, xx = coords
    offset = xx * head.spacing_mm[2] - head.midline_x_mm(zz, yy * head.spacing_mm[1])
    left, right = float((offset > 2.0).sum()), float((offset < -2.0).sum())
    if left + right == 0 or abs(left - right) < 0.2 * (left + right):
        return "none"
    return "left" if left > right else "right"


def _grow(head: Head, coords: tuple[np.ndarray, ...], space: np.ndarray,
          tissue_hu: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """An accepted seed grown up to :data:`GROW_MM` into voxels at or above its half-way
    level between surrounding tissue and its own median (the 50 % partial-volume contour),
    in-plane and onto the slices above and below (as far as :data:`GROW_MM` reaches in
    slices: a bleed continues through the slices where it thins below the seed level)."""
    steps = max(1, int(round(GROW_MM / head.spacing_mm[1])))
    z_steps = max(1, int(round(GROW_MM / head.spacing_mm[0])))
    box, local = _around(coords, head.hu.shape, (z_steps, steps, steps))
    level = max(BOUNDARY_MIN_HU, (float(np.median(head.smooth[coords])) + tissue_hu) / 2.0)
    allowed = space[box] & (head.smooth[box] >= level)
    step = _ball(head.spacing_mm[1] * 1.01, head.spacing_mm)
    step[:, step.shape[1] // 2, step.shape[2] // 2] = True
    if step.shape[0] == 1:
        step = np.pad(step, ((1, 1), (0, 0), (0, 0)))
        step[:, step.shape[1] // 2, step.shape[2] // 2] = True
    grown = ndimage.binary_dilation(local, step, iterations=steps, mask=allowed | local)
    return box, grown


def needs_edge_only(f: dict[str, float]) -> bool:
    """A seed the rules reject only for want of a :data:`RECOVERED_STEP_HU` step to the brain
    deeper than it (the open-ring and faint-against-the-table rules)."""
    return not is_blood(f) and is_blood(f | {"recovered": 0.0, "step_hu": float("inf")})


def find_bleeds(head: Head, rules: bool = True
                ) -> tuple[list[Bleed], tuple[float, float], list[Doubt]]:
    """The bleeds of the scan (largest first), the seed window used and the seeds set aside
    only for want of an edge (outside the bleeds); ``rules=False`` keeps every seed component
    of :data:`MIN_COMPONENT_ML` (the ablation without the mimic rules)."""
    head = levelled(head)
    low, high = blood_window(head)
    seed, space = candidates(head, low, high)
    tissue = head.cavity & (head.smooth > 15.0) & (head.smooth < low) & (head.depth_mm > 8.0)
    tissue_hu = float(np.median(head.smooth[tissue])) if tissue.any() else 35.0
    labels, count = ndimage.label(seed)
    accepted = np.zeros(seed.shape, dtype=bool)
    edgeless: list[tuple[tuple[np.ndarray, ...], dict[str, float]]] = []
    sizes = np.bincount(labels.ravel(), minlength=count + 1) * head.voxel_ml
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or sizes[index] < MIN_COMPONENT_ML:
            continue
        coords = _offset_coords(labels[box] == index, box)
        if rules:
            features = seed_features(head, coords, low)
            if not is_blood(features):
                if needs_edge_only(features):
                    edgeless.append((coords, features))
                continue
        grown_box, grown = _grow(head, coords, space, tissue_hu)
        accepted[grown_box] |= grown
    doubts = [_doubt(head, coords, f) for coords, f in edgeless if accepted[coords].mean() < 0.5]
    near_vent = ndimage.binary_dilation(head.ventricles, _ball(2.0, head.spacing_mm))
    labels, count = ndimage.label(accepted)
    bleeds = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mask = np.zeros(seed.shape, dtype=bool)
        mask[box] = labels[box] == index
        thickness = _thickness_mm(mask[box], head.spacing_mm)
        zz, yy, xx = np.nonzero(mask)
        bleeds.append(Bleed(_kind(head, near_vent, mask, thickness),
                            float(zz.size) * head.voxel_ml, float(head.smooth[mask].mean()),
                            (float(zz.mean()), float(yy.mean()), float(xx.mean())),
                            _side(head, (zz, yy, xx)), thickness, mask))
    bleeds = _ventricle_casts(head, bleeds)
    bleeds.sort(key=lambda b: -b.volume_ml)
    return bleeds, (low, high), doubts


def _doubt(head: Head, coords: tuple[np.ndarray, ...], f: dict[str, float]) -> Doubt:
    return Doubt(f["volume_ml"], f["median_hu"], (int(coords[0].min()), int(coords[0].max())),
                 _side(head, coords))


def _offset_coords(part: np.ndarray, box: tuple[slice, ...]) -> tuple[np.ndarray, ...]:
    """Voxel indices of ``part`` (cut out at ``box``) in the whole volume."""
    return tuple(idx + sl.start for idx, sl in zip(np.nonzero(part), box, strict=True))


def abc2_ml(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> float:
    """ABC/2 (mL) of one haematoma as clinicians measure it: A the longest diameter on the
    slice of largest area, B the widest extent perpendicular to A on that slice, C the slice
    thickness times the slices counted 1 (area ≥ 75 % of the largest), ½ (25–75 %) or 0."""
    areas = mask.sum(axis=(1, 2)).astype(float)
    if areas.max() == 0:
        return 0.0
    top = int(areas.argmax())
    yy, xx = np.nonzero(mask[top])
    pts = np.column_stack([yy * spacing_mm[1], xx * spacing_mm[2]])
    pts = pts - pts.mean(axis=0)
    if pts.shape[0] >= 3:
        _, vecs = np.linalg.eigh(np.cov(pts.T))
        proj = pts @ vecs
    else:
        proj = pts
    pixel = spacing_mm[1]
    a_mm = float(np.ptp(proj[:, -1]) + pixel)
    b_mm = float(np.ptp(proj[:, 0]) + pixel)
    share = areas / areas.max()
    c_mm = float(((share >= 0.75).sum() + 0.5 * ((share >= 0.25) & (share < 0.75)).sum())
                 * spacing_mm[0])
    return a_mm * b_mm * c_mm / 2.0 / 1000.0


def location(head: Head, bleed: Bleed) -> str:
    """Words for where a bleed lies: side and lobe, basal ganglia, thalamus, cerebellum or
    brainstem; ventricles and extra-axial bleeds by their kind's place."""
    side = "" if bleed.side == "none" else f"{bleed.side} "
    if bleed.kind == "intraventricular":
        return f"{side}lateral ventricle".strip() if side else "ventricles"
    if bleed.kind in ("subdural", "epidural"):
        return f"{side}convexity".strip()
    z, y, x = bleed.centroid
    sz, sy, sx = head.spacing_mm
    cz, cy, cx = (float(v.mean()) for v in np.nonzero(head.cavity))
    vz, vy = ((float(v.mean()) for v in np.nonzero(head.ventricles)[:2])
              if head.ventricles.any() else (cz, cy))
    dz_mm, dy_mm = (z - vz) * sz, (y - cy) * sy
    dx_mm = abs(x * sx - float(head.midline_x_mm(np.array([int(z)]), np.array([y * sy]))[0]))
    depth = float(head.depth_mm[int(round(z)), int(round(y)), int(round(x))])
    if dz_mm < -35.0 and dy_mm > 0.0:
        return f"{side}cerebellum".strip() if dx_mm > 12.0 else "brainstem"
    if depth > 30.0 and abs(dz_mm) < 25.0 and dx_mm < 35.0:
        if dx_mm < 18.0 and (y - vy) * sy > -5.0:
            return f"{side}thalamus".strip()
        return f"{side}basal ganglia".strip()
    if dy_mm < -20.0:
        lobe = "frontal lobe"
    elif dy_mm > 40.0:
        lobe = "occipital lobe"
    elif dz_mm < -10.0:
        lobe = "temporal lobe"
    else:
        lobe = "parietal lobe"
    return f"{side}{lobe}"
