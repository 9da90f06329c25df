"""Template-atlas family of synthetic non-contrast head CT (issue 19: haemorrhage and ASPECTS).

The anatomy is written as data: a coarse label atlas of the intracranial contents and skull base
at ten axial levels from the foramen magnum to the vertex, each level an ASCII grid (one
character per tissue class, one cell 5.5 mm wide and 6.5 mm deep, the patient's right half
drawn and mirrored about the midline column). The grids follow a standard axial neuroradiology
atlas: medulla and cerebellar tonsils, lower posterior fossa with mastoids, pons and temporal
lobes with the petrous ridges and orbits, midbrain with the suprasellar cistern and the Sylvian
fissures, the ganglionic level (caudate head, internal capsule, lentiform nucleus, thalamus,
insula, third ventricle), the upper ganglionic level, the lateral ventricle bodies
(supraganglionic), centrum semiovale, high convexity and vertex.

A continuous atlas comes from signed-distance interpolation: per label and level a signed
distance (bicubic in-plane), monotone cubic (PCHIP) between levels, and the label with the largest
interior distance wins. Each seed then gets atrophy (ventricles and fissures widened), cortical
folding (a band-limited field on the inner table extruded along the surface normal carves thin
sulci; a grey ribbon lines every CSF surface), a procedural skull (tables and diploe, thick
occiput, thin temporal squama), scalp with fat and temporalis, falx, tentorium, venous sinuses and
the MCA and basilar arteries, a diffeomorphic warp (stationary velocity field integrated by
scaling and squaring), petalia asymmetry, global scaling and a head pose.

The CT physics are image-domain, in fan geometry: partial volume over a drawn slice thickness
from 0.6-0.8 mm sub-slices with a trapezoidal profile, an apodisation window as the in-plane
kernel, noise made by fan-beam back-projection of ramp-filtered white noise whose variance
follows the ray attenuation through the head (so it has CT texture and is higher in the centre),
and beam hardening from fan-beam ray sums of the bone map (the quadratic residual that a water
correction leaves, reconstructed with the same filter and back-projector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, sparse
from scipy.interpolate import PchipInterpolator

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

Arr = NDArray[Any]

FAMILY = "template"

TISSUES = ("air", "skin", "fat", "muscle", "bone_cortical", "bone_diploe", "bone_base",
           "sinus_air", "orbit_fat", "csf", "ventricle", "grey", "white", "caudate", "putamen",
           "pallidum", "thalamus", "internal_capsule", "insula", "brainstem", "cerebellum",
           "dura", "venous_sinus", "artery", "choroid_plexus", "blood", "oedema",
           "calcification")
"""Names of the tissue map's values (index = value)."""

_T = {name: i for i, name in enumerate(TISSUES)}
_PARENCHYMA = tuple(_T[n] for n in ("grey", "white", "caudate", "putamen", "pallidum",
                                    "thalamus", "internal_capsule", "insula"))
_INTRACRANIAL_T = tuple(_T[n] for n in ("csf", "ventricle", "grey", "white", "caudate",
                                        "putamen", "pallidum", "thalamus", "internal_capsule",
                                        "insula", "brainstem", "cerebellum", "dura",
                                        "venous_sinus", "artery", "choroid_plexus", "blood",
                                        "oedema", "calcification"))

# --------------------------------------------------------------------------------------------
# The atlas, as data.  Characters:
#   .  outside the head (skull and scalp are added around the cranial cavity)
#   T  extracranial soft tissue (face, neck muscle)   B  skull-base bone   A  air (sinus, mastoid)
#   O  orbital fat   w  cerebral hemisphere (cortex ribbon and sulci added per seed)
#   e  cerebellum   b  brainstem   C  cistern   y  Sylvian fissure   f  interhemispheric fissure
#   V  ventricle   s  septum pellucidum   c  caudate   p  putamen   g  globus pallidus
#   t  thalamus   i  internal capsule   n  insular cortex
# Rows run anterior (row 0, y = -87.75 mm) to posterior (row 27, y = +87.75 mm), 6.5 mm each.
# Each row string is the patient's RIGHT half, lateral (x = -77 mm) to the midline column
# (the 15th character, x = 0); the left half is its mirror image.  Cells are 5.5 mm wide.
# Each level is a list of (first row, last row, row string); missing rows are outside.
# --------------------------------------------------------------------------------------------
_L_FORAMEN = [
    (2, 2, "........TTTTTTT"), (3, 3, "......TTTTTTTTT"), (4, 4, ".....TTBBBBBBBB"),
    (5, 6, "....TTTBAAAABAA"), (7, 7, "...TTTTBAAAABAA"), (8, 8, "...TTTTBBBBBBAA"),
    (9, 10, "..TTTTTTTTTTTAA"), (11, 11, "..TTTTTTTTTTTTT"), (12, 13, "..TTTTTTTTTTBBB"),
    (14, 16, "..TTTTTTTTTBCbb"), (17, 17, "..TTTTTTTTTBCeC"), (18, 18, "..TTTTTTTTTBCCC"),
    (19, 19, "..TTTTTTTTTTBBB"), (20, 22, "...TTTTTTTTTTTT"), (23, 23, "....TTTTTTTTTTT"),
    (24, 24, ".....TTTTTTTTTT"), (25, 25, ".......TTTTTTTT"),
]
_L_MEDULLA = [
    (1, 1, "........TTTTTTT"), (2, 2, "......TTTTTTTTT"), (3, 3, ".....TTBBBBBBBB"),
    (4, 5, "....TTBAAAABAAA"), (6, 6, "...TTTBAAAABAAA"), (7, 7, "...TTTBBBBBBAAA"),
    (8, 8, "..TTTTTTTTTTAAA"), (9, 9, "..TTTTTTTTTTTAA"), (10, 10, "..TTTTTTTTTTTTT"),
    (11, 12, "..TTTTTTTTTBBBB"), (13, 13, "..TBBBBBBBBBCCC"), (14, 14, "..BAABBBBBBCCbb"),
    (15, 15, "..BAABBBeeeeCbb"), (16, 16, "..BBeeeeeeeeebV"), (17, 18, "..Beeeeeeeeeeee"),
    (19, 20, "...eeeeeeeeeeee"), (21, 21, "....eeeeeeeeeee"), (22, 22, ".....eeeeeeeeeC"),
    (23, 23, ".......eeeeeCCC"),
]
_L_PONS = [
    (2, 2, "......TTTTTTTTT"), (3, 3, ".....TBBBBBBBBB"), (4, 6, ".....BOOOOBAAAA"),
    (7, 7, "....TBwwwBBBAAA"), (8, 8, "...TBwwwwwBBAAA"), (9, 9, "...BwwwwwwBBAAA"),
    (10, 10, "...BwwwwwwwCBBB"), (11, 11, "..BwwwwwwwwCBBB"), (12, 12, "..BwwwwwwwwCCCC"),
    (13, 13, "..BwwwwwwwBCbbb"), (14, 14, "..BwwwwwwBBCbbb"), (15, 15, "..BAwwwBBeeCbbb"),
    (16, 16, "..BABBeeeeeeCbb"), (17, 18, "..BBeeeeeeeeeeV"), (19, 21, "...eeeeeeeeeeee"),
    (22, 22, "....eeeeeeeeeee"), (23, 23, ".....eeeeeeeeee"), (24, 24, ".......eeeeeeCC"),
]
_L_MIDBRAIN = [
    (2, 2, ".......wwwwwwwf"), (3, 3, ".....wwwwwwwwwf"), (4, 6, "....wwwwwwwwwwf"),
    (7, 8, "...wwwwwwwwwwwf"), (9, 9, "...wyywwwwwwwwf"), (10, 10, "...wwwyyyywwwww"),
    (11, 11, "...wwwwwwwyyCCC"), (12, 12, "...wwwwwwwwwCCC"), (13, 14, "...wwwwwVwwCbbb"),
    (15, 15, "...wwwwwwwwCbbb"), (16, 16, "...wwwwwwwwwCbb"), (17, 17, "...wwwwwwwwwCCC"),
    (18, 18, "...wwwwwwwweeee"), (19, 20, "...wwwwwwweeeee"), (21, 21, "....wwwwwweeeee"),
    (22, 22, "....wwwwwwwweee"), (23, 23, ".....wwwwwwwwwf"), (24, 24, "......wwwwwwwwf"),
    (25, 25, "........wwwwwwf"),
]
_L_GANGLIONIC = [
    (1, 1, "........wwwwwwf"), (2, 2, "......wwwwwwwwf"), (3, 3, ".....wwwwwwwwwf"),
    (4, 4, "....wwwwwwwwwwf"), (5, 7, "...wwwwwwwwwwwf"), (8, 8, "...wwwwwwwwwwww"),
    (9, 9, "...wwwwwwwwwcVs"), (10, 11, "...wwwynwpicVVs"), (12, 12, "...yyyynwpgicVs"),
    (13, 13, "...wwwynwpgiitV"), (14, 14, "...wwwynwpgittV"), (15, 15, "...wwwynwpitttV"),
    (16, 16, "...wwwwnwwitttV"), (17, 17, "...wwwwwwwwtttC"), (18, 18, "...wwwwwwwVVwww"),
    (19, 19, "...wwwwwwVVwwwf"), (20, 20, "...wwwwwwwVwwwf"), (21, 22, "....wwwwwwwwwwf"),
    (23, 23, ".....wwwwwwwwwf"), (24, 24, "......wwwwwwwwf"), (25, 25, "........wwwwwwf"),
    (26, 26, "..........wwwwf"),
]
_L_UPPER_GANGLIONIC = [
    (1, 1, "........wwwwwwf"), (2, 2, "......wwwwwwwwf"), (3, 3, ".....wwwwwwwwwf"),
    (4, 4, "....wwwwwwwwwwf"), (5, 7, "...wwwwwwwwwwwf"), (8, 8, "...wwwwwwwwwwww"),
    (9, 9, "...wwwwwwwwcVVs"), (10, 12, "...wwwynwpicVVs"), (13, 13, "...wwwynwpiicVs"),
    (14, 15, "...wwwwnwwitttV"), (16, 16, "...wwwwwwwwtttV"), (17, 17, "...wwwwwwwVVwww"),
    (18, 18, "...wwwwwwwVVVww"), (19, 19, "...wwwwwwwVVwwf"), (20, 20, "...wwwwwwwwVwwf"),
    (21, 21, "...wwwwwwwwwwwf"), (22, 23, "....wwwwwwwwwwf"), (24, 24, ".....wwwwwwwwwf"),
    (25, 25, ".......wwwwwwwf"), (26, 26, ".........wwwwwf"),
]
_L_BODIES = [
    (1, 1, ".......wwwwwwwf"), (2, 2, "......wwwwwwwwf"), (3, 3, ".....wwwwwwwwwf"),
    (4, 4, "....wwwwwwwwwwf"), (5, 8, "...wwwwwwwwwwwf"), (9, 9, "...wwwwwwwwwwww"),
    (10, 13, "...wwwwwwwwcVVs"), (14, 16, "...wwwwwwwwwVVs"), (17, 17, "...wwwwwwwwVVww"),
    (18, 18, "...wwwwwwwwVwww"), (19, 19, "...wwwwwwwwwwww"), (20, 21, "...wwwwwwwwwwwf"),
    (22, 23, "....wwwwwwwwwwf"), (24, 24, ".....wwwwwwwwwf"), (25, 25, "......wwwwwwwwf"),
    (26, 26, "........wwwwwwf"),
]
_L_SEMIOVALE = [
    (1, 1, ".........wwwwwf"), (2, 2, ".......wwwwwwwf"), (3, 3, "......wwwwwwwwf"),
    (4, 4, ".....wwwwwwwwwf"), (5, 20, "....wwwwwwwwwwf"), (21, 23, ".....wwwwwwwwwf"),
    (24, 24, "......wwwwwwwwf"), (25, 25, "........wwwwwwf"),
]
_L_CONVEXITY = [
    (3, 3, ".........wwwwwf"), (4, 4, ".......wwwwwwwf"), (5, 5, "......wwwwwwwwf"),
    (6, 20, ".....wwwwwwwwwf"), (21, 21, "......wwwwwwwwf"), (22, 22, ".......wwwwwwwf"),
    (23, 23, ".........wwwwwf"),
]
_L_VERTEX = [(7, 7, "..........wwwwf"), (8, 17, "........wwwwwwf"), (18, 18, "..........wwwwf")]

_LEVELS: tuple[tuple[float, list[tuple[int, int, str]]], ...] = (
    (-14.0, _L_FORAMEN), (0.0, _L_FORAMEN), (14.0, _L_MEDULLA), (28.0, _L_PONS),
    (42.0, _L_MIDBRAIN), (56.0, _L_GANGLIONIC), (66.0, _L_UPPER_GANGLIONIC), (78.0, _L_BODIES),
    (92.0, _L_SEMIOVALE), (106.0, _L_CONVEXITY), (118.0, _L_VERTEX), (128.0, []),
)
"""(height above the foramen magnum in mm, rows) from the foramen magnum to above the vertex."""

_CHARS = ".TBAOwebCyfVscpgtin"
_INTRA = "webCyfVscpgtin"
_SDF_OFFSET = {"f": -2.0, "y": -1.0, "s": -2.0, "n": -0.8}  # thin sheets drawn one cell wide
_CELL_Y, _CELL_X, _ROWS, _COLS = 6.5, 5.5, 28, 29
_H = 1.0  # atlas voxel, mm
_A0 = (-14.0, -108.0, -96.0)  # atlas (z, y, x) mm of voxel 0
_ASHAPE = (164, 217, 193)
_CENTRE = np.array([0.0, 0.0, 60.0])  # atlas (x, y, z) about which the head is posed
_GANGLIONIC_Z, _SUPRAGANGLIONIC_Z = (48.0, 64.0), (72.0, 88.0)

_KERNELS = (("Hr38", "hann"), ("H30s", "hamming"), ("J40s", "shepp_logan"), ("FC21", "cosine"),
            ("UB", "gauss"), ("STANDARD", "hann"), ("Br36", "hamming"), ("SOFT", "gauss"))
_SRC_ISO_MM = 570.0
_MASS = ("intraparenchymal", "subdural", "epidural")


def _ch(c: str) -> int:
    return _CHARS.index(c)


def _level_grid(rows: list[tuple[int, int, str]]) -> Arr:
    grid = np.full((_ROWS, _COLS), ".", dtype="<U1")
    for first, last, half in rows:
        if len(half) != 15:
            raise ValueError(f"atlas row {half!r} must have 15 characters")
        full = half + half[:14][::-1]
        for r in range(first, last + 1):
            grid[r] = list(full)
    return grid


def _round_outline(grid: Arr) -> Arr:
    """Trim the drawn cerebral outline to the superellipse through its extent (the cells are
    too coarse to draw the frontal and occipital curvature)."""
    intra = np.isin(grid, list(_INTRA))
    rows = np.nonzero(intra.any(axis=1))[0]
    if rows.size == 0:
        return grid
    cols = np.nonzero(intra.any(axis=0))[0]
    b = (rows[-1] - rows[0]) / 2.0 + 0.6
    a = (cols[-1] - cols[0]) / 2.0 + 0.6
    rc = (rows[-1] + rows[0]) / 2.0 + 0.4
    r, c = np.meshgrid(np.arange(_ROWS), np.arange(_COLS), indexing="ij")
    a_eff = a * (1.0 + 0.05 * (r - rc) / b)  # a little wider over the parietal bones
    out = (np.abs((r - rc) / b) ** 2.3 + np.abs((c - 14.0) / a_eff) ** 2.3) > 1.0
    grid = grid.copy()
    grid[out & intra] = "."
    return grid


def _coarse_sdf(mask: Arr) -> Arr:
    """Signed distance (mm, positive inside) of a cell mask, zero half-way between cells."""
    if not mask.any():
        return np.full(mask.shape, -40.0)
    if mask.all():
        return np.full(mask.shape, 40.0)
    samp = (_CELL_Y, _CELL_X)
    din = ndimage.distance_transform_edt(mask, sampling=samp)
    dout = ndimage.distance_transform_edt(~mask, sampling=samp)
    return np.asarray(np.where(mask, din - 3.0, -(dout - 3.0)))


@dataclass
class _Atlas:
    lab: Arr  # uint8 index into _CHARS
    sdf_v: Arr
    sdf_csf: Arr
    sdf_e: Arr
    depth: Arr  # inside the cavity: distance to the inner table (mm)
    near: Arr  # flat index of the nearest voxel outside the cavity
    dout: Arr  # outside the cavity: distance to it
    dhead: Arr  # distance to cavity or skull base / face
    region: Arr  # geometric ASPECTS regions (0, 1-10 left, 11-20 right)
    head_pts: Arr  # (3, n) atlas (x, y, z) on the skin
    length: float
    width: float
    marks: dict[str, Arr] = field(default_factory=dict)


_CACHE: dict[Any, Any] = {}


def _axes() -> tuple[Arr, Arr, Arr]:
    nz, ny, nx = _ASHAPE
    return (_A0[0] + np.arange(nz) * _H, _A0[1] + np.arange(ny) * _H,
            _A0[2] + np.arange(nx) * _H)


def _atlas() -> _Atlas:
    cached = _CACHE.get("atlas")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    zs, ys, xs = _axes()
    rr, cc = np.meshgrid(ys / _CELL_Y + 13.5, xs / _CELL_X + 14.0, indexing="ij")
    lev_z = np.array([z for z, _ in _LEVELS])
    grids = [_round_outline(_level_grid(rows)) if z >= 40 else _level_grid(rows)
             for z, rows in _LEVELS]
    zc = np.clip(zs, lev_z[0], lev_z[-1])
    best = np.full(_ASHAPE, -np.inf, np.float32)
    lab = np.zeros(_ASHAPE, np.uint8)
    keep: dict[str, Arr] = {}
    for li, ch in enumerate(_CHARS):
        stack = np.stack([ndimage.map_coordinates(_coarse_sdf(g == ch), [rr, cc], order=3,
                                                  mode="nearest") for g in grids])
        vol = PchipInterpolator(lev_z, stack, axis=0)(zc).astype(np.float32)
        vol += _SDF_OFFSET.get(ch, 0.0)
        upd = vol > best
        best[upd] = vol[upd]
        lab[upd] = li
        if ch in "VeCyf":
            keep[ch] = vol
    sdf_csf = np.maximum(np.maximum(keep["C"], keep["y"]), keep["f"])
    cavity = np.isin(lab, [_ch(c) for c in _INTRA])
    depth, ind = ndimage.distance_transform_edt(cavity, return_indices=True)
    near = np.ravel_multi_index(tuple(ind), _ASHAPE).astype(np.int32)
    del ind
    dout = ndimage.distance_transform_edt(~cavity).astype(np.float32)
    hard = cavity | np.isin(lab, [_ch(c) for c in "TBAO"])
    dhead = ndimage.distance_transform_edt(~hard).astype(np.float32)
    z3, y3, x3 = np.meshgrid(zs, ys, xs, indexing="ij", sparse=True)
    region = _aspects_geometry(lab, depth, z3, y3, x3)
    skin = (dhead > 10.5) & (dhead <= 12.0)
    kz, ky, kx = np.nonzero(skin)
    sel = slice(None, None, 5)
    pts = np.stack([xs[kx[sel]], ys[ky[sel]], zs[kz[sel]]])
    mid = (pts[2] > 45) & (pts[2] < 95)
    marks: dict[str, Arr] = {}
    for side, name in ((1.0, "left"), (-1.0, "right")):
        sidem = (x3 * side) > 0
        for ch, key in (("g", "pallidum"), ("p", "putamen"), ("t", "thalamus"), ("y", "sylvian")):
            m = (lab == _ch(ch)) & sidem & (z3 > 40) & (z3 < 72)
            marks[f"{key}_{name}"] = _centroid(m, zs, ys, xs)
        m = (lab == _ch("V")) & sidem & (z3 > 58) & (z3 < 74) & (y3 > 15)
        marks[f"glomus_{name}"] = _centroid(m, zs, ys, xs)
    atlas = _Atlas(lab=lab, sdf_v=keep["V"], sdf_csf=sdf_csf, sdf_e=keep["e"],
                   depth=depth.astype(np.float32), near=near, dout=dout, dhead=dhead,
                   region=region, head_pts=pts,
                   length=float(np.ptp(pts[1][mid])), width=float(np.ptp(pts[0][mid])),
                   marks=marks)
    _CACHE["atlas"] = atlas
    return atlas


def _centroid(mask: Arr, zs: Arr, ys: Arr, xs: Arr) -> Arr:
    kz, ky, kx = np.nonzero(mask)
    if kz.size == 0:
        return np.zeros(3)
    return np.array([xs[kx].mean(), ys[ky].mean(), zs[kz].mean()])


def _aspects_geometry(lab: Arr, depth: Arr, z3: Arr, y3: Arr, x3: Arr) -> Arr:
    """ASPECTS regions on the atlas: codes 1-10 on the patient's left (x > 0), 11-20 right."""
    region = np.zeros(_ASHAPE, np.uint8)
    ax = np.abs(x3)
    gz = (z3 >= _GANGLIONIC_Z[0]) & (z3 <= _GANGLIONIC_Z[1])
    sz = (z3 >= _SUPRAGANGLIONIC_Z[0]) & (z3 <= _SUPRAGANGLIONIC_Z[1])
    code = np.zeros(_ASHAPE, np.uint8)
    code[(lab == _ch("c")) & (z3 >= 46) & (z3 <= 72) & (y3 < 0)] = 1  # caudate head
    code[np.isin(lab, [_ch("p"), _ch("g")])] = 2  # lentiform
    code[(lab == _ch("i")) & (y3 > -13) & (z3 >= 44) & (z3 <= 72)] = 3  # genu + posterior limb
    code[lab == _ch("n")] = 4  # insular ribbon
    theta = np.degrees(np.arctan2(-y3, ax - 15.0))
    cortex = (lab == _ch("w")) & (depth <= 22.0) & (ax >= 18.0)
    for lo, hi, off in ((25.0, 80.0, 0), (-25.0, 25.0, 1), (-65.0, -25.0, 2)):
        sector = cortex & (theta >= lo) & (theta < hi)
        code[sector & gz] = 5 + off
        code[sector & sz] = 8 + off
    left = np.broadcast_to(x3 > 0, _ASHAPE)
    region[:] = np.where(code > 0, np.where(left, code, code + 10), 0)
    return region


# --------------------------------------------------------------------------------------------
# Per-seed anatomy on the atlas grid
# --------------------------------------------------------------------------------------------
def _smooth(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> Arr:
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return np.asarray(f / max(float(f.std()), 1e-6))


def _bandpass(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> Arr:
    n = rng.standard_normal(shape).astype(np.float32)
    f = ndimage.gaussian_filter(n, sigma) - ndimage.gaussian_filter(n, 2.0 * sigma)
    return np.asarray(f / max(float(f.std()), 1e-6))


def _coarse_at(fld: Arr, kz: Arr, ky: Arr, kx: Arr, step: float = 2.0) -> Arr:
    return np.asarray(ndimage.map_coordinates(fld, [kz / step, ky / step, kx / step], order=1,
                                   mode="nearest"))


def _skull_thickness(x: Arr, y: Arr, z: Arr, t0: float) -> Arr:
    occ = np.clip((y - 35.0) / 40.0, 0.0, 1.0)
    temporal = (np.exp(-((z - 50.0) / 16.0) ** 2) * np.clip((np.abs(x) - 38.0) / 15.0, 0, 1)
                * np.exp(-(y / 32.0) ** 2))
    return t0 * (1.0 + 0.4 * occ) * (1.0 - 0.55 * temporal)


@dataclass
class _Anatomy:
    tissue: Arr
    hu: Arr
    region: Arr
    blood: Arr
    hu_table: dict[str, float]
    info: dict[str, Any]


def _anatomy(at: _Atlas, rng: np.random.Generator) -> _Anatomy:
    zs, ys, xs = _axes()
    age = float(rng.uniform(20, 90))
    atrophy = float(np.clip((age - 45.0) / 40.0, 0.0, 1.0))
    dv = max(0.0, 4.5 * atrophy + rng.uniform(-0.5, 0.8))
    dc = 1.5 * atrophy
    s_csf = 0.6 + 2.0 * atrophy
    w_sulc = 0.7 + 2.0 * atrophy + rng.uniform(0, 0.3)
    ribbon = float(rng.uniform(2.0, 4.0))
    wavelength = float(rng.uniform(18.0, 26.0))
    sulc_depth = float(rng.uniform(7.0, 13.0))
    t0 = float(rng.uniform(5.5, 7.5))
    scalp = float(rng.uniform(4.5, 7.0))

    lab = at.lab.copy()
    w_, v_ = _ch("w"), _ch("V")
    lab[(at.sdf_v > -dv) & np.isin(lab, [w_, _ch("c"), _ch("t")])] = v_
    lab[(at.sdf_csf > -dc) & (lab == w_)] = _ch("C")
    lut = np.zeros(len(_CHARS), np.uint8)
    for ch, name in zip(_CHARS, ("air", "muscle", "bone_base", "sinus_air", "orbit_fat",
                                 "white", "cerebellum", "brainstem", "csf", "csf", "csf",
                                 "ventricle", "white", "caudate", "putamen", "pallidum",
                                 "thalamus", "internal_capsule", "insula"), strict=True):
        lut[_ch(ch)] = _T[name]
    tissue = lut[lab]
    cavity = np.isin(at.lab, [_ch(c) for c in _INTRA])

    # skull: inner and outer tables with diploe between; thick occiput, thin temporal squama
    kz, ky, kx = np.nonzero((~cavity) & (at.dout <= 12.0))
    x, y, z = xs[kx], ys[ky], zs[kz]
    th = _skull_thickness(x, y, z, t0)
    d = at.dout[kz, ky, kx]
    lb = lab[kz, ky, kx]
    bone = (d <= th) & np.isin(lb, [_ch("."), _ch("T"), _ch("O")])
    bone |= (d <= 1.2) & (lb == _ch("A"))
    frac = d / th
    diploe = bone & (frac > 0.3) & (frac < 0.72) & (th > 3.5)
    tissue[kz[bone], ky[bone], kx[bone]] = _T["bone_cortical"]
    tissue[kz[diploe], ky[diploe], kx[diploe]] = _T["bone_diploe"]

    # scalp: skin, subcutaneous fat, galea; temporalis muscle over the squama
    kz, ky, kx = np.nonzero((lab == _ch(".")) & (at.dhead <= 25.0))
    x, y, z = xs[kx], ys[ky], zs[kz]
    keep = tissue[kz, ky, kx] == _T["air"]
    kz, ky, kx, x, y, z = kz[keep], ky[keep], kx[keep], x[keep], y[keep], z[keep]
    dh = at.dhead[kz, ky, kx]
    near_cavity = (at.dout[kz, ky, kx] - dh) < 3.0
    base = np.where(near_cavity, _skull_thickness(x, y, z, t0), 0.0)
    temporal = (np.exp(-((z - 55.0) / 22.0) ** 2) * np.clip((np.abs(x) - 35.0) / 15.0, 0, 1)
                * np.exp(-((y + 5.0) / 40.0) ** 2))
    outer = base + scalp + 8.0 * temporal
    inside = dh <= outer
    from_skin = outer - dh
    from_bone = dh - base
    sc = np.full(dh.shape, _T["fat"], np.uint8)
    sc[(from_skin < 1.6) | (from_bone < 1.2)] = _T["skin"]
    sc[(from_bone < 8.0 * temporal) & (from_skin >= 1.6)] = _T["muscle"]
    tissue[kz[inside], ky[inside], kx[inside]] = sc[inside]

    # mastoid air cells: honeycomb of bony septa
    coarse = tuple(s // 2 + 1 for s in _ASHAPE)
    honey = _bandpass(rng, coarse, 0.8)
    kz, ky, kx = np.nonzero(lab == _ch("A"))
    mast = (np.abs(xs[kx]) > 30) & (ys[ky] > -5)
    sept = mast & (np.abs(_coarse_at(honey, kz, ky, kx)) < 0.45)
    tissue[kz[sept], ky[sept], kx[sept]] = _T["bone_base"]

    # cortical folding: sulci carved along the normal of the inner table, grey ribbon under
    # every CSF surface
    sulc = _bandpass(rng, coarse, wavelength / 6.5 / 2.0)
    gz_, gy_, gx_ = np.gradient(sulc, 2.0)
    gmag = np.sqrt(gz_ ** 2 + gy_ ** 2 + gx_ ** 2)
    del gz_, gy_, gx_
    brain_w = (lab == w_) | (lab == _ch("e"))
    kz, ky, kx = np.nonzero(brain_w & (at.depth < sulc_depth + ribbon + 4.0))
    dep = at.depth[kz, ky, kx]
    nz_, ny_, nx_ = np.unravel_index(at.near[kz, ky, kx], _ASHAPE)
    fv = _coarse_at(sulc, nz_.astype(np.float32), ny_.astype(np.float32),
                    nx_.astype(np.float32))
    gv = _coarse_at(gmag, nz_.astype(np.float32), ny_.astype(np.float32),
                    nx_.astype(np.float32))
    dist = np.abs(fv) / np.maximum(gv, 1e-3)
    half = 0.5 * w_sulc * (0.3 + 1.1 * np.clip(1.0 - dep / sulc_depth, 0, 1))
    is_w = lab[kz, ky, kx] == w_
    csf = (dep < s_csf) | (is_w & (dist < half) & (dep < sulc_depth))
    grey = is_w & ~csf & ((dep < s_csf + ribbon)
                          | ((dist < half + ribbon) & (dep < sulc_depth + ribbon)))
    tissue[kz[csf], ky[csf], kx[csf]] = _T["csf"]
    tissue[kz[grey], ky[grey], kx[grey]] = _T["grey"]
    kz, ky, kx = np.nonzero((lab == w_) & (tissue == _T["white"])
                            & (((at.sdf_csf + dc) > -ribbon) | (at.sdf_e > -ribbon)))
    tissue[kz, ky, kx] = _T["grey"]
    # cerebellar folia
    folia = _bandpass(rng, coarse, 0.8)
    fz, fy, fx = np.gradient(folia, 2.0)
    fmag = np.sqrt(fz ** 2 + fy ** 2 + fx ** 2)
    kz, ky, kx = np.nonzero((tissue == _T["cerebellum"]) & (at.sdf_e < 9.0))
    fd = np.abs(_coarse_at(folia, kz, ky, kx)) / np.maximum(_coarse_at(fmag, kz, ky, kx), 1e-3)
    fol = fd < 0.35 + 0.5 * atrophy
    tissue[kz[fol], ky[fol], kx[fol]] = _T["csf"]

    # dura: falx in the interhemispheric fissure, tentorium over the cerebellum
    z3, y3, x3 = np.meshgrid(zs, ys, xs, indexing="ij", sparse=True)
    falx = (np.abs(x3) < 0.6) & (tissue == _T["csf"]) & (z3 > 45) & cavity
    tissue[falx] = _T["dura"]
    tent = (np.isin(tissue, [_T["grey"], _T["white"], _T["csf"]]) & (at.sdf_e > -1.6)
            & (at.sdf_e < 0.0) & (y3 > -5) & (lab != _ch("b")) & (lab != _ch("e")))
    tissue[tent] = _T["dura"]
    # venous sinuses: superior sagittal (triangle at the inner table), transverse
    sss = cavity & (at.depth < 6.0) & (np.abs(x3) < 0.75 * (6.0 - at.depth)) & (z3 > 50) & (
        y3 > -75)
    tissue[sss] = _T["venous_sinus"]
    trans = cavity & (at.depth < 4.5) & (y3 > 45) & (z3 > 27) & (z3 < 35) & (np.abs(x3) < 62)
    tissue[trans] = _T["venous_sinus"]
    # arteries: both MCAs (M1 in the Sylvian cistern, M2 up the insula) and the basilar
    for pts, radius in _vessel_paths():
        m = _tube(pts, radius)
        ok = np.isin(tissue[m], [_T["csf"], _T["grey"], _T["white"], _T["insula"]])
        kz, ky, kx = (a[ok] for a in np.nonzero(m))
        tissue[kz, ky, kx] = _T["artery"]
    # choroid plexus glomus in each atrium
    for side in ("left", "right"):
        blob = _ball(at.marks[f"glomus_{side}"], 3.5) & (tissue == _T["ventricle"])
        tissue[blob] = _T["choroid_plexus"]

    # HU
    white = float(rng.uniform(22.0, 30.0))
    diff = float(rng.uniform(max(7.0, 34.0 - white), min(13.0, 44.0 - white)))
    grey_hu = white + diff
    csf_hu = float(rng.uniform(2.0, 10.0))
    table = {
        "air": -1000.0, "skin": rng.uniform(30, 50), "fat": rng.uniform(-110, -85),
        "muscle": rng.uniform(40, 55), "bone_cortical": rng.uniform(1500, 1900),
        "bone_diploe": rng.uniform(700, 1000), "bone_base": rng.uniform(1000, 1400),
        "sinus_air": -990.0, "orbit_fat": rng.uniform(-100, -80), "csf": csf_hu,
        "ventricle": csf_hu + rng.uniform(0, 1), "grey": grey_hu, "white": white,
        "caudate": grey_hu - rng.uniform(1, 3), "putamen": grey_hu - rng.uniform(1, 3),
        "pallidum": max(white + 2.0, grey_hu - rng.uniform(3, 6)),
        "thalamus": grey_hu - rng.uniform(2, 4), "internal_capsule": white + rng.uniform(0, 2),
        "insula": grey_hu, "brainstem": white + rng.uniform(2, 5),
        "cerebellum": grey_hu - rng.uniform(0, 3), "dura": rng.uniform(45, 60),
        "venous_sinus": rng.uniform(42, 55), "artery": rng.uniform(38, 48),
        "choroid_plexus": rng.uniform(32, 42), "blood": 65.0, "oedema": white - 6.0,
        "calcification": 300.0,
    }
    hu_table = {k: float(v) for k, v in table.items()}
    lut_hu = np.array([hu_table[n] for n in TISSUES], np.float32)
    hu = lut_hu[tissue]
    tex = ndimage.zoom(_smooth(rng, coarse, 1.5), 2.0, order=1)[:_ASHAPE[0], :_ASHAPE[1],
                                                                 :_ASHAPE[2]]
    brain = np.isin(tissue, _PARENCHYMA + (_T["brainstem"], _T["cerebellum"]))
    hu[brain] += 0.8 * tex[brain]
    bone_m = np.isin(tissue, [_T["bone_cortical"], _T["bone_diploe"], _T["bone_base"]])
    hu[bone_m] += 120.0 * tex[bone_m]
    region = np.where(np.isin(tissue, _PARENCHYMA), at.region, 0).astype(np.uint8)
    info = {"age_years": round(age, 1), "atrophy": round(atrophy, 3),
            "ventricle_dilation_mm": round(dv, 2), "sulcal_width_mm": round(w_sulc, 2),
            "grey_ribbon_mm": round(ribbon, 2), "skull_thickness_mm": round(t0, 2)}
    return _Anatomy(tissue=tissue, hu=hu, region=region, blood=np.zeros(_ASHAPE, np.uint8),
                    hu_table=hu_table, info=info)


def _vessel_paths() -> list[tuple[Arr, float]]:
    out = []
    for s in (1.0, -1.0):
        out.append((np.array([[6 * s, -12, 42], [20 * s, -18, 43], [36 * s, -20, 46],
                              [42 * s, -14, 54], [44 * s, -6, 62]], float), 1.6))
    out.append((np.array([[0, -2, 4], [0, -6, 20], [0, -10, 36], [0, -11, 41]], float), 2.0))
    return out


def _index_box(lo: Arr, hi: Arr) -> tuple[slice, slice, slice]:
    """Atlas index box covering atlas (x, y, z) from lo to hi (mm)."""
    sl = []
    for ax, dim in ((2, 0), (1, 1), (0, 2)):
        a = int(math.floor((lo[ax] - _A0[dim]) / _H))
        b = int(math.ceil((hi[ax] - _A0[dim]) / _H)) + 1
        sl.append(slice(max(a, 0), min(max(b, 0), _ASHAPE[dim])))
    return sl[0], sl[1], sl[2]


def _box_coords(box: tuple[slice, slice, slice]) -> tuple[Arr, Arr, Arr]:
    zs, ys, xs = _axes()
    return (zs[box[0]][:, None, None], ys[box[1]][None, :, None], xs[box[2]][None, None, :])


def _tube(pts: Arr, radius: float) -> Arr:
    mask = np.zeros(_ASHAPE, bool)
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        box = _index_box(np.minimum(a, b) - radius - 1, np.maximum(a, b) + radius + 1)
        z, y, x = _box_coords(box)
        ab = b - a
        t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / float(ab @ ab)
        t = np.clip(t, 0, 1)
        d2 = (x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (
            z - a[2] - t * ab[2]) ** 2
        mask[box] |= d2 <= radius ** 2
    return mask


def _ball(c: Arr, radius: float, aniso: Arr | None = None) -> Arr:
    mask = np.zeros(_ASHAPE, bool)
    box = _index_box(c - radius - 1, c + radius + 1)
    z, y, x = _box_coords(box)
    s = np.ones(3) if aniso is None else aniso
    d2 = ((x - c[0]) / s[0]) ** 2 + ((y - c[1]) / s[1]) ** 2 + ((z - c[2]) / s[2]) ** 2
    mask[box] = d2 <= radius ** 2
    return mask


# --------------------------------------------------------------------------------------------
# Haemorrhage, ischaemia, mimics (on the atlas grid)
# --------------------------------------------------------------------------------------------
def _pick(score: Arr, allowed: Arr, k: int) -> Arr:
    score, allowed = np.broadcast_arrays(score, allowed)
    out = np.zeros(score.shape, bool)
    n = int(allowed.sum())
    k = min(k, n)
    if k <= 0:
        return out
    s = np.where(allowed, score, np.inf).ravel()
    idx = np.argpartition(s, k - 1)[:k]
    out.ravel()[idx] = True
    return out


def _random_voxel(rng: np.random.Generator, mask: Arr) -> Arr:
    kz, ky, kx = np.nonzero(mask)
    if kz.size == 0:
        raise ValueError("no candidate voxel")
    i = int(rng.integers(kz.size))
    zs, ys, xs = _axes()
    return np.array([xs[kx[i]], ys[ky[i]], zs[kz[i]]])


def _place_bleed(kind: str, target_ml: float, an: _Anatomy, at: _Atlas,
                 rng: np.random.Generator, vox_ml: float) -> dict[str, Any]:
    """Put ``kind`` of ``target_ml`` (output mL) into the anatomy; return what was done."""
    tis = an.tissue
    k = max(int(round(target_ml / vox_ml)), 8)
    side = 1.0 if rng.random() < 0.5 else -1.0
    zs, ys, xs = _axes()
    z3, y3, x3 = np.meshgrid(zs, ys, xs, indexing="ij", sparse=True)
    cavity = np.isin(tis, _INTRACRANIAL_T)
    free = tis != _T["blood"]
    rec: dict[str, Any] = {"kind": kind, "target_ml": round(target_ml, 2),
                           "side": "left" if side > 0 else "right"}
    r_eq = (3.0 * k * 1000.0 * vox_ml / (4.0 * math.pi)) ** (1 / 3)  # mm on the atlas
    mm3 = k * 1.0  # atlas voxels are 1 mm^3
    hu = float(rng.uniform(55, 80))
    oedema: Arr | None = None
    if kind == "intraparenchymal":
        deep = rng.random() < 0.5
        if deep:
            which = "putamen" if rng.random() < 0.6 else "thalamus"
            c = at.marks[f"{which}_{'left' if side > 0 else 'right'}"] + rng.normal(0, 2, 3)
            rec["site"] = which
        else:
            c = _random_voxel(rng, (tis == _T["white"]) & (at.depth > 12) & (at.depth < 30)
                              & (z3 > 45) & (z3 < 100) & (x3 * side > 10))
            rec["site"] = "lobar"
        half = 2.4 * r_eq + 10
        box = _index_box(c - half, c + half)
        z, y, x = _box_coords(box)
        rot = _rotation(*rng.uniform(-np.pi, np.pi, 3))
        ax = np.array([1.0, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)])
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        q = [(rot[i, 0] * dx + rot[i, 1] * dy + rot[i, 2] * dz) / ax[i] for i in range(3)]
        score = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2)
        score = score + 0.2 * r_eq * _smooth(rng, score.shape, 4.0)
        allowed = np.isin(tis[box], _PARENCHYMA) & free[box]
        clot = _pick(score, allowed, k)
        dist = ndimage.distance_transform_edt(~clot)
        rim = float(rng.uniform(1.5, 4.0))
        oedema = (dist <= rim) & ~clot & allowed
        rec["oedema_mm"] = round(rim, 1)
    elif kind == "intraventricular":
        box = _index_box(np.array([-45.0, -55.0, 30.0]), np.array([45.0, 65.0, 95.0]))
        z, y, x = _box_coords(box)
        vent = np.isin(tis[box], [_T["ventricle"], _T["choroid_plexus"]]) & free[box]
        if target_ml < 12:
            rec["pattern"] = "layering"
            allowed = vent & (z > 45) & (y > 5)
            score = -y + 0.01 * np.abs(x) + 0.0 * z
        else:
            rec["pattern"] = "cast"
            c = at.marks[f"glomus_{'left' if side > 0 else 'right'}"] + np.array([0, -25.0, 8])
            allowed = vent
            score = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
        clot = _pick(score, allowed, k)
        hu = float(rng.uniform(55, 75))
    elif kind == "subarachnoid":
        pattern = str(rng.choice(["convexity", "sylvian", "basal"]))
        rec["pattern"] = pattern
        if pattern == "convexity":
            c = _random_voxel(rng, (tis == _T["csf"]) & (at.depth < 3) & (z3 > 65)
                              & (z3 < 105) & (x3 * side > 20))
        elif pattern == "sylvian":
            c = at.marks[f"sylvian_{'left' if side > 0 else 'right'}"]
        else:
            c = np.array([0.0, -10.0, 42.0])
        half = 55.0
        box = _index_box(c - half, c + half)
        z, y, x = _box_coords(box)
        allowed = (tis[box] == _T["csf"]) & free[box]
        score = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
        score = score + 6.0 * _smooth(rng, score.shape, 3.0)
        clot = _pick(score, allowed, k)
        hu = float(rng.uniform(50, 68))
    elif kind in ("subdural", "epidural"):
        epi = kind == "epidural"
        t_max = float(rng.uniform(6, 20) if epi else rng.uniform(3, 13))
        t_max = min(t_max, 15.0) if not epi else t_max
        mean_t = t_max * (0.5 if epi else 0.6)
        radius = float(np.clip(math.sqrt(mm3 / (math.pi * mean_t)), 10.0, 95.0))
        where = "convexity"
        if not epi:
            u = rng.random()
            where = "falx" if u < 0.15 else ("tentorium" if u < 0.22 else "convexity")
        elif rng.random() < 0.6:
            where = "temporal"
        rec["site"] = where
        if where == "falx":
            c = np.array([0.0, rng.uniform(-40, 30), rng.uniform(75, 100)])
            box = _index_box(c - np.array([25, radius + 2, radius + 2]),
                             c + np.array([25, radius + 2, radius + 2]))
            z, y, x = _box_coords(box)
            ds = np.sqrt((y - c[1]) ** 2 + (z - c[2]) ** 2)
            thick = np.abs(x)
            allowed = (x * side > 0.6) & (z > 55)
        elif where == "tentorium":
            c = np.array([side * 25.0, 50.0, 38.0])
            box = _index_box(c - radius - 20, c + radius + 20)
            z, y, x = _box_coords(box)
            ds = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
            thick = -at.sdf_e[box]
            allowed = (x * side > 1.0) & (y > 0) & (thick > 0) & (at.lab[box] != _ch("e"))
        else:
            if where == "temporal":
                cand = (at.depth < 1.5) & (z3 > 38) & (z3 < 58) & (y3 > -30) & (y3 < 15)
            else:
                cand = (at.depth < 1.5) & (z3 > 55) & (z3 < 100) & (y3 > -55) & (y3 < 45)
            c = _random_voxel(rng, cand & cavity & (x3 * side > 35))
            box = _index_box(c - radius - 25, c + radius + 25)
            z, y, x = _box_coords(box)
            nz_, ny_, nx_ = np.unravel_index(at.near[box], _ASHAPE)
            ds = np.sqrt((xs[nx_] - c[0]) ** 2 + (ys[ny_] - c[1]) ** 2 + (zs[nz_] - c[2]) ** 2)
            thick = at.depth[box]
            allowed = (x * side > 1.5) & (thick < 30)
        prof = np.clip(1.0 - (ds / radius) ** 2, 1e-3, None)
        score = thick / (prof if epi else np.sqrt(prof))
        allowed = allowed & cavity[box] & free[box] & (tis[box] != _T["ventricle"]) & (
            tis[box] != _T["venous_sinus"])
        clot = _pick(score, allowed, k)
        picked = score[clot]
        rec["max_thickness_mm"] = round(float(picked.max()) if picked.size else 0.0, 1)
        hu = float(rng.uniform(50, 80))
    else:  # pragma: no cover - NcctLabel validates kinds
        raise ValueError(kind)
    hu_vol = hu + 2.5 * _smooth(rng, clot.shape, 2.0)
    sub_t, sub_h, sub_b = an.tissue[box], an.hu[box], an.blood[box]
    if oedema is not None:
        sub_t[oedema] = _T["oedema"]
        sub_h[oedema] = sub_h[oedema] - float(rng.uniform(5, 9))
    sub_t[clot] = _T["blood"]
    sub_h[clot] = hu_vol[clot]
    sub_b[clot] = BLEED_KINDS.index(kind) + 1
    kz, ky, kx = np.nonzero(clot)
    rec["hu"] = round(hu, 1)
    rec["centre_atlas_mm"] = [float(xs[box[2]][kx].mean()), float(ys[box[1]][ky].mean()),
                              float(zs[box[0]][kz].mean())] if kz.size else [0.0, 0.0, 0.0]
    rec["atlas_voxels"] = int(kz.size)
    return rec


def _mimics(names: tuple[str, ...], an: _Anatomy, at: _Atlas,
            rng: np.random.Generator) -> dict[str, Any]:
    tis, hu = an.tissue, an.hu
    out: dict[str, Any] = {}
    calc = _T["calcification"]
    if "choroid_plexus_calcification" in names:
        for side in ("left", "right"):
            c = at.marks[f"glomus_{side}"] + rng.normal(0, 1.0, 3)
            m = _ball(c, float(rng.uniform(2.5, 4.0))) & np.isin(
                tis, [_T["choroid_plexus"], _T["ventricle"]])
            tis[m], hu[m] = calc, float(rng.uniform(250, 500))
        out["choroid_plexus_calcification"] = "both atria"
    if "pineal_calcification" in names:
        m = _ball(np.array([0.0, 20.0, 58.0]) + rng.normal(0, 0.8, 3), float(rng.uniform(2.5, 4)))
        tis[m], hu[m] = calc, float(rng.uniform(200, 450))
        out["pineal_calcification"] = "pineal"
    if "basal_ganglia_calcification" in names:
        for side in ("left", "right"):
            pal = _ball(at.marks[f"pallidum_{side}"], 7.0) & (tis == _T["pallidum"])
            sc = _ball(at.marks[f"pallidum_{side}"] + rng.normal(0, 1.0, 3), 3.5) & pal
            tis[sc], hu[sc] = calc, float(rng.uniform(150, 350))
        out["basal_ganglia_calcification"] = "both globi pallidi"
    if "falx_calcification" in names:
        for _ in range(int(rng.integers(1, 4))):
            c = np.array([0.0, rng.uniform(-50, 40), rng.uniform(70, 105)])
            m = _ball(c, float(rng.uniform(5, 9)), np.array([0.25, 1.0, 1.0])) & (
                np.isin(tis, [_T["dura"], _T["csf"]]))
            tis[m], hu[m] = calc, float(rng.uniform(250, 600))
        out["falx_calcification"] = "plaques"
    vessels = _vessel_paths()
    if "hyperdense_vessel" in names:
        which = int(rng.integers(0, 3)) if rng.random() < 0.3 else int(rng.integers(0, 2))
        m = _tube(*vessels[which]) & (tis == _T["artery"])
        hu[m] = float(rng.uniform(60, 80))
        out["hyperdense_vessel"] = ("left MCA", "right MCA", "basilar")[which]
    if "residual_contrast" in names:
        for t, lo, hi in (("artery", 120, 250), ("venous_sinus", 100, 200),
                          ("choroid_plexus", 100, 200)):
            m = tis == _T[t]
            hu[m] = float(rng.uniform(lo, hi))
        out["residual_contrast"] = "arteries, sinuses, choroid plexus"
    if "streak_artefact" in names:
        out["streak_artefact"] = "posterior fossa beam hardening"
    return out


# --------------------------------------------------------------------------------------------
# Geometry: pose, scaling, diffeomorphic warp, mass effect
# --------------------------------------------------------------------------------------------
def _rotation(pitch: float, roll: float, yaw: float) -> Arr:
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(roll), math.sin(roll)
    cz, sz = math.cos(yaw), math.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


_SVF_STEP, _SVF_ORIGIN, _SVF_SHAPE = 12.0, np.array([-108.0, -120.0, -24.0]), (16, 21, 19)


def _svf_displacement(rng: np.random.Generator, amp: float, petalia: tuple[float, float]) -> Arr:
    """Backward displacement (3 comps x,y,z; mm) on the SVF grid: exp of a smooth velocity."""
    v = rng.standard_normal((3, *_SVF_SHAPE))
    v = ndimage.gaussian_filter(v, (0, 1.4, 1.4, 1.4))
    v = v / v.reshape(3, -1).std(axis=1)[:, None, None, None] * amp
    gz, gy, gx = np.meshgrid(*(np.arange(n) for n in _SVF_SHAPE), indexing="ij")
    x = _SVF_ORIGIN[0] + gx * _SVF_STEP
    y = _SVF_ORIGIN[1] + gy * _SVF_STEP
    # petalia: the right frontal and left occipital poles protrude
    v[0] -= petalia[0] * np.minimum(x, 0) / 65.0 * np.exp(-((y + 45.0) / 45.0) ** 2)
    v[0] -= petalia[1] * np.maximum(x, 0) / 65.0 * np.exp(-((y - 50.0) / 40.0) ** 2)
    d = v / 64.0
    for _ in range(6):
        idx = [gz + d[2] / _SVF_STEP, gy + d[1] / _SVF_STEP, gx + d[0] / _SVF_STEP]
        d = d + np.stack([ndimage.map_coordinates(d[c], idx, order=1, mode="nearest")
                          for c in range(3)])
    return np.asarray(d)


@dataclass
class _Geom:
    rot: Arr
    scale: Arr
    centre: Arr  # patient mm of the atlas centre
    svf: Arr
    mass: tuple[Arr, float, float] | None = None  # centre (atlas mm), radius, amplitude
    subfalcine: float = 0.0  # lateral shift of the midline structures, atlas mm (+x = left)


def _mass_field(q: Arr, c: Arr, radius: float) -> Arr:
    d = q - c[:, None]
    r = np.maximum(np.sqrt((d ** 2).sum(axis=0)), 1e-3)
    g = np.minimum(r / radius, 1.0) * np.exp(-(np.maximum(r - radius, 0.0) / 45.0) ** 2)
    return d / r * g  # type: ignore[no-any-return]


def _backward(p: Arr, g: _Geom, at: _Atlas) -> Arr:
    """Patient LPS mm (3, n) -> atlas index coordinates (z, y, x) (3, n)."""
    h = g.rot.T @ (p - g.centre[:, None])
    a = h / g.scale[:, None] + _CENTRE[:, None]
    idx = [(a[2] - _SVF_ORIGIN[2]) / _SVF_STEP, (a[1] - _SVF_ORIGIN[1]) / _SVF_STEP,
           (a[0] - _SVF_ORIGIN[0]) / _SVF_STEP]
    a = a + np.stack([ndimage.map_coordinates(g.svf[c], idx, order=1, mode="nearest")
                      for c in range(3)])
    out = np.stack([(a[2] - _A0[0]) / _H, (a[1] - _A0[1]) / _H, (a[0] - _A0[2]) / _H])
    if g.mass is not None:
        c, radius, amp = g.mass
        depth = ndimage.map_coordinates(at.depth, out, order=1, mode="constant", cval=0.0)
        taper = np.clip(depth / 14.0, 0.0, 1.0)
        u = _mass_field(a, c, radius) * (amp * taper)
        u[0] += g.subfalcine * taper * (np.exp(-(a[0] / 35.0) ** 2)
                                        * np.exp(-((a[2] - 64.0) / 30.0) ** 2)
                                        * np.exp(-((a[1] + 5.0) / 60.0) ** 2))
        a = a - u
        out = np.stack([(a[2] - _A0[0]) / _H, (a[1] - _A0[1]) / _H, (a[0] - _A0[2]) / _H])
    return out


def _forward(a: Arr, g: _Geom) -> Arr:
    """Atlas (x, y, z) mm (3, n) -> patient mm, ignoring the small warp."""
    return g.rot @ ((a - _CENTRE[:, None]) * g.scale[:, None]) + g.centre[:, None]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# CT physics (fan geometry)
# --------------------------------------------------------------------------------------------
def _window(f_mm: Arr, name: str, fc: float) -> Arr:
    u = np.clip(np.abs(f_mm) / fc, 0.0, None)
    if name == "hann":
        w = 0.5 * (1 + np.cos(np.pi * np.minimum(u, 1)))
    elif name == "hamming":
        w = 0.54 + 0.46 * np.cos(np.pi * np.minimum(u, 1))
    elif name == "cosine":
        w = np.cos(0.5 * np.pi * np.minimum(u, 1))
    elif name == "shepp_logan":
        w = np.sinc(0.5 * np.minimum(u, 1))
    else:
        w = np.exp(-2.0 * u ** 2)
    return np.where(u <= 1.0, w, 0.0) if name != "gauss" else w


def _lerp_matrix(n_out: int, n_in: int, step: float) -> Arr:
    u = np.arange(n_out) * step
    j0 = np.clip(np.floor(u).astype(int), 0, max(n_in - 2, 0))
    w = np.clip(u - j0, 0.0, 1.0).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    m[rows, j0] += 1 - w
    if n_in > 1:
        m[rows, j0 + 1] += w
    return m


def _ellipse_chord(sx: float, sy: float, dx: Arr, dy: Arr, ell: tuple[float, ...]) -> Arr:
    cx, cy, ax, ay = ell
    px, py = (sx - cx) / ax, (sy - cy) / ay
    ux, uy = dx / ax, dy / ay
    a = ux ** 2 + uy ** 2
    b = 2 * (px * ux + py * uy)
    c = px ** 2 + py ** 2 - 1
    disc = np.maximum(b ** 2 - 4 * a * c, 0.0)
    return np.sqrt(disc) / a


def _fan_noise_bases(rng: np.random.Generator, n: int, px: float, fov: float, n_views: int,
                     ell: tuple[float, ...], win: str, fc: float, k: int = 2,
                     groups: int = 16) -> Arr:
    """Images from fan-beam filtered back-projection of white noise, one per (sinogram, view
    group): any signed sum of them is one noise realisation. Shape (k*groups, n, n)."""
    r_src = _SRC_ISO_MM
    coord = (np.arange(n) - (n - 1) / 2.0) * px
    yy, xx = np.meshgrid(coord, coord, indexing="ij")
    r_fov = fov / 2.0
    inside = (xx ** 2 + yy ** 2) <= r_fov ** 2
    xi = xx[inside].astype(np.float32)
    yi = yy[inside].astype(np.float32)
    gmax = math.asin(min(r_fov * 1.03 / r_src, 0.99))
    dg = px / r_src
    n_det = 2 * int(math.ceil(gmax / dg)) + 3
    gam = (np.arange(n_det) - (n_det - 1) / 2.0) * dg
    betas = 2 * np.pi * np.arange(n_views) / n_views
    sino = rng.standard_normal((k, n_views, n_det)).astype(np.float32)
    mu = 0.012  # effective water attenuation with a bowtie, 1/mm
    for v, b in enumerate(betas):
        sx, sy = r_src * math.cos(b), r_src * math.sin(b)
        ang = b + np.pi + gam
        chord = _ellipse_chord(sx, sy, np.cos(ang), np.sin(ang), ell)
        sino[:, v] *= np.exp(0.5 * mu * chord).astype(np.float32)
    sino *= np.cos(gam).astype(np.float32)
    npad = 1 << int(math.ceil(math.log2(2 * n_det)))
    f = np.fft.rfftfreq(npad)
    filt = (np.abs(f) * _window(f / (r_src * dg), win, fc)).astype(np.float32)
    q = sfft.irfft(sfft.rfft(sino, npad, axis=-1) * filt, npad, axis=-1)[..., :n_det]
    q = np.concatenate([q, np.zeros((k, n_views, 1), np.float32)], axis=-1).astype(np.float32)
    acc = np.zeros((k, groups, xi.size), np.float32)
    centre_idx = (n_det - 1) / 2.0
    for v, b in enumerate(betas):
        cb, sb = math.cos(b), math.sin(b)
        vx = xi - np.float32(r_src * cb)
        vy = yi - np.float32(r_src * sb)
        dot = -(vx * cb + vy * sb)
        crs = -cb * vy + sb * vx
        u = np.arctan2(crs, dot) / np.float32(dg) + np.float32(centre_idx)
        u0 = np.clip(u.astype(np.int32), 0, n_det - 1)
        w = u - u0
        wt = np.float32(r_src ** 2) / (vx * vx + vy * vy)
        g = v * groups // n_views
        for kk in range(k):
            row = q[kk, v]
            acc[kk, g] += wt * (row[u0] * (1 - w) + row[u0 + 1] * w)
    out = np.zeros((k * groups, n, n), np.float32)
    out[:, inside] = acc.reshape(k * groups, -1)
    return out


def _bh_projector(m: int = 128, n_views: int = 120, n_det: int = 160) -> Any:
    """Sparse fan-beam ray-sum matrix (bilinear, ray-driven) on an m x m grid of a 240 mm FOV."""
    cached = _CACHE.get(("bh", m, n_views, n_det))
    if cached is not None:
        return cached
    r_src, fov = _SRC_ISO_MM, 240.0
    px = fov / m
    r = fov / 2.0
    gmax = math.asin(r / r_src)
    gam = np.linspace(-gmax, gmax, n_det)
    step = 0.9 * px
    ns = int(math.ceil(2 * r / step))
    t = r_src - r + (np.arange(ns) + 0.5) * step
    rows_l, cols_l, vals_l = [], [], []
    for v in range(n_views):
        b = 2 * np.pi * v / n_views
        sx, sy = r_src * math.cos(b), r_src * math.sin(b)
        ang = b + np.pi + gam
        x = sx + np.cos(ang)[:, None] * t[None, :]
        y = sy + np.sin(ang)[:, None] * t[None, :]
        fx = x / px + (m - 1) / 2.0
        fy = y / px + (m - 1) / 2.0
        ix, iy = np.floor(fx).astype(int), np.floor(fy).astype(int)
        wx, wy = fx - ix, fy - iy
        ray = (v * n_det + np.arange(n_det))[:, None] * np.ones((1, ns), int)
        for ox, oy, wgt in ((0, 0, (1 - wx) * (1 - wy)), (1, 0, wx * (1 - wy)),
                            (0, 1, (1 - wx) * wy), (1, 1, wx * wy)):
            jx, jy = ix + ox, iy + oy
            ok = (jx >= 0) & (jx < m) & (jy >= 0) & (jy < m) & (wgt > 0)
            rows_l.append(ray[ok])
            cols_l.append((jy * m + jx)[ok])
            vals_l.append((wgt * step)[ok])
    mat = sparse.csr_matrix((np.concatenate(vals_l).astype(np.float32),
                             (np.concatenate(rows_l), np.concatenate(cols_l))),
                            shape=(n_views * n_det, m * m))
    _CACHE[("bh", m, n_views, n_det)] = mat
    return mat


def _beam_hardening(bone: Arr, win: str, fc: float) -> Arr:
    """Artefact image (unnormalised) from the quadratic bone residual after water correction."""
    m = bone.shape[-1]
    n_views, n_det = 120, 160
    a = _bh_projector(m, n_views, n_det)
    nz = bone.shape[0]
    p = a @ bone.reshape(nz, -1).T  # (rays, nz) bone path in pixel-weighted mm
    err = -(p * 0.05) ** 2
    err = err.reshape(n_views, n_det, nz)
    npad = 512
    f = np.fft.rfftfreq(npad)
    dg_mm = 240.0 / n_det
    filt = (np.abs(f) * _window(f / dg_mm, win, fc))[None, :, None]
    q = sfft.irfft(sfft.rfft(err, npad, axis=1) * filt, npad, axis=1)[:, :n_det, :]
    img = a.T @ q.reshape(n_views * n_det, nz)
    return np.asarray(img.T.reshape(nz, m, m), np.float32)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, Arr, Arr]:
    """Render one case: (case, ASPECTS region map, tissue map), maps the volume's shape."""
    return _render(seed, label, matrix=matrix)


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case of the template family."""
    return render_labelled(seed, label, matrix=matrix)[0]


def _render(seed: int, label: NcctLabel, *, matrix: int = 512,
            bleed_ml: dict[str, float] | None = None) -> tuple[NcctCase, Arr, Arr]:
    if matrix < 48:
        raise ValueError("matrix must be at least 48")
    at = _atlas()
    rng = np.random.default_rng([seed, 101])  # anatomy, pose, warp
    rng_phys = np.random.default_rng([seed, 202])
    rng_bleed = np.random.default_rng([seed, 303])
    rng_isch = np.random.default_rng([seed, 404])
    rng_mim = np.random.default_rng([seed, 505])

    an = _anatomy(at, rng)
    head_len = float(rng.uniform(170, 200))
    head_wid = float(rng.uniform(135, 155))
    sx, sy = head_wid / at.width, head_len / at.length
    scale = np.array([sx, sy, 0.5 * (sx + sy) * rng.uniform(0.95, 1.05)])
    pitch, roll, yaw = (float(v) for v in rng.uniform(-15, 15, 3))
    rot = _rotation(math.radians(pitch), math.radians(roll), math.radians(yaw))
    svf = _svf_displacement(rng, float(rng.uniform(1.0, 2.2)),
                            (float(rng.uniform(1, 4)), float(rng.uniform(1, 4))))
    off_r, off_a = float(rng.uniform(0, 10)), float(rng.uniform(0, 2 * np.pi))
    offset = np.array([off_r * math.cos(off_a), off_r * math.sin(off_a)])

    thick = float(rng_phys.choice([2.5, 3.0, 4.0, 5.0]))
    fov = float(rng_phys.uniform(220, 260))
    kernel, win = _KERNELS[int(rng_phys.integers(len(_KERNELS)))]
    fc = float(rng_phys.uniform(0.55, 0.85))
    noise_sd = float(rng_phys.uniform(2.5, 6.0))
    bh_amp = float(rng_phys.uniform(1.0, 2.5))

    # ischaemia, then mimics, then haemorrhage (each its own random stream)
    delta: float | None = None
    if label.ischaemic_regions:
        delta = float(rng_isch.uniform(2.0, 6.0))
        base = 0 if label.ischaemic_side == "left" else 10
        isch = [base + 1 + ASPECTS_REGIONS.index(r) for r in set(label.ischaemic_regions)]
        m = np.isin(an.region, isch)
        an.hu[m] -= delta
    placed = _mimics(label.mimics, an, at, rng_mim)
    vox_ml = float(np.prod(scale)) / 1000.0
    bleeds = []
    for kind in label.bleeds:
        target = (bleed_ml or {}).get(kind)
        if target is None:
            target = float(math.exp(rng_bleed.uniform(math.log(1.0), math.log(60.0))))
        # a large haematoma displaces brain: it is placed smaller and the mass effect below
        # (a radial push that magnifies it by 1/(1 - eps)) brings it back to the target
        eps = min(0.45, 0.008 * (target - 8.0)) if target > 8.0 and kind in _MASS else 0.0
        rec = _place_bleed(kind, target * (1.0 - eps), an, at, rng_bleed, vox_ml)
        rec["target_ml"], rec["mass_eps"] = round(target, 2), round(eps, 3)
        bleeds.append(rec)

    geom = _Geom(rot=rot, scale=scale, centre=np.array([offset[0], offset[1], 0.0]), svf=svf)
    shift = 0.0
    masses = [b for b in bleeds if b["kind"] in _MASS and b["mass_eps"] > 0]
    if masses:
        big = max(masses, key=lambda b: float(b["target_ml"]))
        c = np.array(big["centre_atlas_mm"])
        radius = (3.0 * big["atlas_voxels"] / (4 * np.pi)) ** (1 / 3)
        amp = radius * (1.0 - (1.0 - big["mass_eps"]) ** (1 / 3))
        side = 1.0 if c[0] > 0 else -1.0
        gx = float(_mass_field(np.array([[0.0], [-6.0], [68.0]]), c, radius)[0, 0])
        want = min(0.12 * (float(big["target_ml"]) - 8.0) + 1.0, 12.0)  # mm at the septum
        geom.subfalcine = -side * max(want / sx - abs(gx) * amp, 0.0)
        shift = (abs(gx) * amp + abs(geom.subfalcine)) * sx
        geom.mass = (c, radius, amp)
        comp = min(4.0, 0.07 * float(big["target_ml"]))
        zs, ys, xs = _axes()
        squeeze = (an.tissue == _T["ventricle"]) & (at.sdf_v < comp) & (
            xs[None, None, :] * side > 0)
        an.tissue[squeeze] = _T["white"]
        an.hu[squeeze] = an.hu_table["white"]

    # coverage and field of view
    pts = _forward(at.head_pts, geom)
    fm = _forward(np.array([[0.0], [12.0], [0.0]]), geom)[:, 0]
    z_lo = float(fm[2] - 4.0)
    z_hi = float(pts[2].max() + 2.0)
    inz = pts[:, (pts[2] >= z_lo) & (pts[2] <= z_hi)]
    ext = float(np.abs(inz[:2] - geom.centre[:2, None]).max())
    need = 2 * (ext + float(np.abs(offset).max())) + 4.0
    if need > fov:
        fov = min(need, 260.0)
        if need > fov:
            geom.centre[:2] *= 0.0
            offset[:] = 0.0
    n = matrix
    px = fov / n
    ns = n if n <= 256 else n // 2
    step_s = n / ns
    nzo = int(math.ceil((z_hi - z_lo) / thick)) + 1
    z0 = z_lo
    n_sub = int(math.ceil(thick / 0.8))
    ds = thick / n_sub
    ramp = 0.4 * thick
    kpad = int(math.ceil((thick + ramp) / 2 / ds))
    zf0 = z0 - kpad * ds
    mf = 2 * kpad + (nzo - 1) * n_sub + 1
    x0 = -(n - 1) / 2.0 * px
    # backward map on a coarse lattice, then separable linear upsampling
    lat = 4
    cx = int(math.ceil((ns - 1) / lat)) + 1
    cz = int(math.ceil((mf - 1) / 2)) + 1
    lx = x0 + np.arange(cx) * lat * step_s * px
    lz = zf0 + np.arange(cz) * 2 * ds
    pz, py_, pxx = np.meshgrid(lz, lx, lx, indexing="ij")
    coords = _backward(np.stack([pxx.ravel(), py_.ravel(), pz.ravel()]), geom, at)
    coords = coords.reshape(3, cz, cx, cx).astype(np.float32)
    uu = np.arange(ns) / lat
    j0 = np.clip(np.floor(uu).astype(int), 0, cx - 2)
    wj = (uu - j0).astype(np.float32)

    def plane_coords(mi: int) -> Arr:
        l0 = min(mi // 2, cz - 2)
        w = np.float32(mi / 2.0 - l0)
        c2 = (1 - w) * coords[:, l0] + w * coords[:, l0 + 1]
        c2 = c2[:, :, j0] * (1 - wj) + c2[:, :, j0 + 1] * wj
        return c2[:, j0, :] * (1 - wj)[:, None] + c2[:, j0 + 1, :] * wj[:, None]  # type: ignore[no-any-return]

    code = (an.tissue.astype(np.uint16) | (an.region.astype(np.uint16) << 5)
            | (an.blood.astype(np.uint16) << 10))
    hu_s = np.zeros((nzo, ns, ns), np.float32)
    fine_z = zf0 + np.arange(mf) * ds
    centres = z0 + np.arange(nzo) * thick
    for mi in range(mf):
        wts = np.clip(((thick + ramp) / 2 - np.abs(centres - fine_z[mi])) / ramp, 0, 1)
        hit = np.nonzero(wts > 0)[0]
        if hit.size == 0:
            continue
        plane = ndimage.map_coordinates(an.hu, plane_coords(mi), order=1, mode="constant",
                                        cval=-1000.0, prefilter=False, output=np.float32)
        for hj in hit:
            hu_s[hj] += wts[hj] * plane
    norm = np.zeros(nzo)
    for mj in range(mf):
        norm += np.clip(((thick + ramp) / 2 - np.abs(centres - fine_z[mj])) / ramp, 0, 1)
    hu_s /= norm[:, None, None].astype(np.float32)
    codes_s = np.zeros((nzo, ns, ns), np.uint16)
    for ni in range(nzo):
        codes_s[ni] = ndimage.map_coordinates(code, plane_coords(kpad + ni * n_sub), order=0,
                                              mode="constant", cval=0, prefilter=False)
    # to the output matrix
    if ns != n:
        up = _lerp_matrix(n, ns, 1.0 / step_s)
        hu = np.einsum("ij,zjk,lk->zil", up, hu_s, up, optimize=True).astype(np.float32)
        rep = (np.arange(n) // int(step_s)).clip(0, ns - 1)
        codes = codes_s[:, rep][:, :, rep]
    else:
        hu, codes = hu_s, codes_s
    tissue = (codes & 31).astype(np.uint8)
    region = ((codes >> 5) & 31).astype(np.uint8)
    blood = ((codes >> 10) & 7).astype(np.uint8)

    # beam hardening from fan-beam ray sums of the bone map
    m_bh = 128
    bone = np.clip((hu_s - 150.0) / 1000.0, 0.0, 3.0)
    dn = _lerp_matrix(m_bh, ns, ns / m_bh)
    bone_c = np.einsum("ij,zjk,lk->zil", dn, bone, dn, optimize=True)
    art_c = _beam_hardening(bone_c, win, fc)
    upb = _lerp_matrix(n, m_bh, m_bh / n)
    art = np.einsum("ij,zjk,lk->zil", upb, art_c, upb, optimize=True).astype(np.float32)
    intra = np.isin(tissue, _INTRACRANIAL_T)
    if intra.any():
        sd = float(np.std(art[intra])) or 1.0
        art *= bh_amp / sd
        tent_z = float(_forward(np.array([[0.0], [40.0], [34.0]]), geom)[2, 0])
        if "streak_artefact" in label.mimics:
            pf = centres < tent_z
            art[pf] *= float(rng_mim.uniform(4.0, 7.0))
        for zi in range(nzo):
            if intra[zi].any():
                art[zi] -= float(np.median(art[zi][intra[zi]]))
    # kernel (apodisation window as the in-plane MTF)
    fy = np.fft.fftfreq(n, d=px)[:, None]
    fxx = np.fft.rfftfreq(n, d=px)[None, :]
    mtf = _window(np.sqrt(fy ** 2 + fxx ** 2), win, fc).astype(np.float32)
    hu = sfft.irfft2(sfft.rfft2(hu, workers=2) * mtf, s=(n, n), workers=2).astype(np.float32)
    # noise: fan-beam back-projection of filtered white noise
    ell = (float(offset[0]), float(offset[1]), head_wid / 2.0, head_len / 2.0)
    n_views = 360 if n <= 256 else 480
    bases = _fan_noise_bases(rng_phys, n, px, fov, n_views, ell, win, fc)
    var = (bases ** 2).sum(axis=0)
    coord = (np.arange(n) - (n - 1) / 2.0) * px
    yy, xx = np.meshgrid(coord, coord, indexing="ij")
    brain_ell = (((xx - ell[0]) / (0.6 * ell[2])) ** 2 + ((yy - ell[1]) / (0.6 * ell[3])) ** 2
                 ) <= 1
    gain = noise_sd / math.sqrt(float(var[brain_ell].mean()))
    signs = rng_phys.choice(np.array([-1.0, 1.0], np.float32), size=(nzo, bases.shape[0]))
    noise = (signs @ bases.reshape(bases.shape[0], -1)).reshape(nzo, n, n) * np.float32(gain)
    flips = rng_phys.integers(0, 2, size=(nzo, 2))
    for zi in range(nzo):
        if flips[zi, 0]:
            noise[zi] = noise[zi, :, ::-1]
    volume = (hu + art + noise).astype(np.float32)
    np.clip(volume, -1024.0, 3071.0, out=volume)

    spacing = (thick, px, px)
    voxel_ml = thick * px * px / 1000.0
    vols = {k: round(float(np.count_nonzero(blood == i + 1)) * voxel_ml, 3)
            for i, k in enumerate(BLEED_KINDS) if k in label.bleeds}
    details: dict[str, Any] = {
        "kernel": kernel, "apodisation": win, "apodisation_cutoff_lpmm": round(fc, 3),
        "slice_thickness_mm": thick, "slice_profile": "trapezoid",
        "sub_slice_mm": round(ds, 3), "fov_mm": round(fov, 2), "matrix": n,
        "ischaemic_delta_hu": delta, "bleed_volumes_ml": vols, "bleeds": bleeds,
        "midline_shift_mm": round(float(shift), 2), "noise_sd_hu": round(noise_sd, 2),
        "beam_hardening_sd_hu": round(bh_amp, 2),
        "pitch_deg": round(pitch, 2), "roll_deg": round(roll, 2), "yaw_deg": round(yaw, 2),
        "head_length_mm": round(head_len, 1), "head_width_mm": round(head_wid, 1),
        "head_offset_mm": [round(float(v), 2) for v in offset],
        "head_centre_mm": [float(v) for v in geom.centre],
        "rotation": rot.tolist(),
        "origin_mm": (float(x0), float(x0), float(z0)),
        "mimics_placed": sorted(placed), "mimic_sites": placed,
        "hu": {k: round(v, 2) for k, v in an.hu_table.items()},
        "fan_beam": {"source_iso_mm": _SRC_ISO_MM, "views": n_views,
                     "detector": "equiangular"},
        **an.info,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=spacing, blood_mask=blood, details=details)
    return case, region, tissue


__all__ = ["FAMILY", "TISSUES", "render", "render_labelled", "MIMICS"]
