"""Cellular NCCT family: a head built from Voronoi / Laguerre (power-diagram) cells.

Reader's manual
===============

What it draws
-------------
A synthetic adult non-contrast head CT, from below the foramen magnum and the orbits to the
vertex, with an optional label (:class:`NcctLabel`): acute haemorrhage of any of the kinds in
``BLEED_KINDS`` (several at once), early ischaemic change in ASPECTS regions of one side, and
the bright mimics of ``MIMICS``. ``render_labelled`` returns the case, the ASPECTS region map and
the tissue map (indices into :data:`TISSUES`); ``render`` returns the case alone.

Axes and geometry
-----------------
Arrays are (z, y, x) in HU (float32), patient LPS: x grows to the patient's LEFT, y to
POSTERIOR, z towards the vertex; ``spacing_mm`` is (slice increment = thickness, pixel, pixel).
``details["origin_mm"]`` is the LPS position (x, y, z) of voxel (0, 0, 0). The head is modelled
in a canonical frame (same axes, millimetres, origin near the foramina of Monro) and posed into
the scanner: ``patient = rotation @ (head_scale * canonical) + translation`` (all in
``details["pose"]``), rotation = yaw (about z, +-10 deg) * roll (about y, +-8 deg) * pitch
(about x, positive chin down: head flexion plus any gantry tilt, rendered as a tilt of the image
planes). The in-plane field of view is 220-250 mm (pixel = FOV / matrix, matrix 64..512).

The cell model
--------------
* Cortex: per hemisphere a few hundred seeds (Poisson-disc, denser at the frontal and occipital
  poles) on the cerebral surface, with random power weights; space is partitioned by the
  Laguerre (power) diagram of the seeds, and cells are chained into gyri (cell groups) along a
  prevailing gyral direction (front-back in the frontal and temporal lobes and on the medial
  surface, top-down in the central region). Sulci are the boundaries between different gyri,
  carved as CSF clefts of varying depth (7-22 mm) and width (0.7-3 mm, wider with atrophy and
  at the surface), the boundaries warped slightly to make them sinuous. The central,
  superior temporal, superior frontal, intraparietal, parieto-occipital, calcarine and
  cingulate sulci are forced by seed pairs mirrored across their course. Grey matter is a
  2.5-3.4 mm ribbon under the carved surface (distance to the nearest CSF), white matter
  beneath. The lateral (Sylvian) fissure is a deep cleft ending on the insula (insular cortex
  under an insular cistern) and opening medially through the vallecula to the suprasellar
  cistern; the interhemispheric fissure (with the falx) reaches down to the corpus callosum.
* Deep grey nuclei are cells of a local Laguerre partition inside their ellipsoidal envelopes:
  the caudate (head and body), the lentiform nucleus (putamen laterally, globus pallidus
  medially) and the thalamus; the internal capsule is the white gap left between the lentiform
  cell and the caudate and thalamic cells.
* Cerebellum: folia are thin cells (laminae) around the fourth ventricle, their boundaries
  carved as shallow fissures, over a white core; brainstem (midbrain, pons, medulla), lateral
  ventricles (frontal, body, atrium, occipital and temporal horns), third and fourth
  ventricles, aqueduct, choroid plexus glomera, pineal, pituitary; basal cisterns
  (suprasellar, ambient, quadrigeminal, prepontine, cisterna magna) are the CSF left around
  them.
* Skull: the cranial cavity is an ellipsoidal vault cut by a skull-base height field (anterior
  fossa with orbital roofs and cribriform plate, sphenoid ridges, middle fossae, sella and
  dorsum, clivus, petrous ridges, posterior fossa bowl, foramen magnum). Inner and outer tables
  with diploe (marrow cells: a Worley cellular texture) whose thickness varies (thin temporal
  squama, thick occipital bone and internal occipital protuberance, frontal sinus in a thick
  glabella). The vault's plates (frontal, parietal, occipital, temporal, sphenoid) are the
  power-diagram cells of their ossification centres: the sutures are the cell boundaries
  (serrated fibrous gaps). Air cells (mastoid, ethmoid, sphenoid, frontal sinuses) are Worley
  cells of air with bony septa; maxillary sinuses, nasal cavity, ear canals, petrous pyramids,
  clinoids, condyles, odontoid, zygomatic arches; orbits (walls, fat, globe, lens, optic nerve,
  recti) in the lowest slices; scalp (skin, fat, galea), temporalis and neck muscles, ears,
  nose; usually a curved head holder behind the head.
* Dura and vessels (after Gray's venous anatomy): falx cerebri and tentorium cerebelli as thin
  dense sheets; the superior sagittal sinus triangular under the vault in the midline, widening
  from front to back; inferior sagittal and straight sinuses, vein of Galen, internal cerebral
  and basal veins, the confluence at the internal occipital protuberance, transverse sinuses in
  their groove along the occipital inner table at the tentorium's attachment (one dominant,
  the other smaller or hypoplastic), sigmoid sinuses down to the jugular foramina, cavernous
  sinuses, cortical veins over the convexity; circle of Willis (internal carotids, A1/A2,
  M1 in the vallecula, M2 over the insula, posterior communicating, basilar, vertebral,
  posterior cerebral arteries) in the cisterns, at blood density.

Everything is evaluated point-wise as signed distances and composited with partial-volume
fractions on a fine object grid (256 samples across the field of view, about 0.9 mm, for
matrices of 256 and more; 128 for the smallest; sub-slices of 1-1.7 mm), so the anatomy does not
depend on the matrix. Anatomy, pose and physics come from the seed only; the
label adds lesions on top (the same seed gives the same head with or without them).

Densities (drawn per case, ``details["hu"]``)
---------------------------------------------
grey matter 34-44 HU, white matter 22-32 (grey - white 6-14), CSF 1-11, deep nuclei about
grey - 0..4 (pallidum lower), brainstem white + 3..7, cerebellar cortex grey - 0..3; venous
blood 12 + 85 * haematocrit (38-66 HU; haematocrit 0.30-0.62, higher with dehydration), arteries
the same blood 0-3 HU lower; dura 45-62; cortical bone 1150-1750 (petrous up to 1900), diploe
350-750, sutures 120-300; skin 30-50, fat -110..-75, muscle 42-60, orbital fat -110..-80,
vitreous 5-15, lens 90-130, sinus air about -1000.

Lesions
-------
* Haemorrhage (``blood_mask``: 0 none, 1 + index in BLEED_KINDS; a voxel is blood where the
  partial-volume fraction of blood in it is at least one half; ``details["bleed_volumes_ml"]``
  are the mask's volumes). Target volumes: a fifth small (1-3 mL), the rest log-uniform to
  60 mL (intraparenchymal; less in the pons, thalamus, cerebellum) or 80 mL (the others; the
  intraventricular volume is limited by the ventricles, the subarachnoid by the CSF around the
  sources). Intraparenchymal: a lobulated blob (union of a few spheres) in the putamen,
  thalamus, pons, cerebellum or lobar white matter, confined to parenchyma, with a rim of
  oedema (3-7 HU lower, not in the mask). Intraventricular: ventricular CSF below a level
  perpendicular to gravity (dependent, so layering in the occipital horns), or a one-sided
  cast. Subarachnoid: the subarachnoid CSF (cisterns, Sylvian fissures, sulci) near sources:
  aneurysmal (suprasellar, Sylvian, anterior interhemispheric), perimesencephalic, convexity or
  traumatic. Subdural: a crescent under the inner table over the convexity (crossing sutures,
  stopped by the falx and tentorium), or a layer along the falx or over the tentorium.
  Epidural: a biconvex lens between the inner table and the dura, tapered to nothing at the
  sutures of its skull plate, mostly temporal. Clots: 55-88 HU, a minority hyperacute or
  anaemic (45-55 HU); sometimes a swirl (unclotted islands 14-24 HU lower) or a haematocrit
  level (dependent 70-90, supernatant 32-48 HU); subarachnoid 50-75 HU.
* Early ischaemic change in the requested regions of one side only: grey matter (cortex,
  caudate) loses 2-6 HU, the insular ribbon and the lentiform nucleus fade towards white
  matter, white matter loses 0.5-1.5 HU, the internal capsule 1.5-3 HU.
* Mimics (only when asked): calcified choroid plexus glomera, pineal, bilateral pallidal
  calcification (200-900 HU before partial volume), falx plaques, a hyperdense M1 (and
  sometimes M2) of 58-80 HU, metal streak artefact from a small metal object on the scalp,
  residual contrast (dense arteries, veins and sinuses, or dependent intrathecal contrast).

ASPECTS regions (region map)
----------------------------
1..10 are ``ASPECTS_REGIONS`` (C, L, IC, I, M1..M6) on the patient's left, 11..20 the same on
the right; only parenchyma carries a region. C is the caudate (head, at or below the ganglionic
level), L the lentiform nucleus, IC the white matter between the lentiform and caudate/thalamic
cells, I the insular cortex; M1-M3 are the MCA cortex and subjacent white matter (within 22 mm of
the surface, lateral to the deep nuclei) at the ganglionic level (canonical z -14..12) in
anterior, lateral and posterior sectors about the insula, M4-M6 the same sectors 12-36 mm
above.

Acquisition (drawn per case, ``details["physics"]``)
----------------------------------------------------
Slice thickness 0.625-5 mm (most 2.5-5 mm; contiguous slices, 30-60 for thick slices; series
thinner than 1 mm are sampled from a 1-mm object), slice sensitivity profile rect(T) smoothed by
a Gaussian (sigma 0.2 T) integrated over the object's sub-slices (partial volume in z);
reconstruction kernel soft / standard / sharp (PSF FWHM 0.55-1.4 mm, edge overshoot for sharp
kernels); noise 2-6 HU with an FBP texture (ramp times apodisation: fine grain) or an
iterative-reconstruction look (power moved to low frequencies: blotchy), higher in the centre of
the head and at the skull base; beam hardening: cupping, a bright rim under the inner table, the
dark Hounsfield bar and streaks between the petrous bones; occasional motion (ghosted slices);
a small calibration offset. The DICOM kernel name is ``details["kernel"]``.

Known limits
------------
No mass effect (haematomas replace tissue instead of displacing it), no vessel tree beyond the
main branches, the face and skull base are schematic, the gyral pattern is a plausible
tessellation rather than a real sulcal map, and the cerebellar folia are laminae rather than a
true arbor vitae.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft
from scipy import ndimage, sparse, special
from scipy.spatial import cKDTree

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

Arr = npt.NDArray[Any]

FAMILY = "cellular"

TISSUES: tuple[str, ...] = (
    "air",                 # 0  outside the head
    "skin",                # 1
    "fat",                 # 2  subcutaneous fat
    "muscle",              # 3  muscle and other soft tissue of scalp, face and skull base
    "bone_cortical",       # 4  inner and outer tables, skull base, petrous bone
    "bone_diploe",         # 5  trabecular bone between the tables
    "suture",              # 6  fibrous sutures between the skull plates
    "sinus_air",           # 7  paranasal sinuses, mastoid cells, ear canals
    "orbital_fat",         # 8
    "globe",               # 9  vitreous
    "lens",                # 10
    "csf",                 # 11 subarachnoid CSF: sulci, fissures, cisterns
    "ventricle",           # 12 ventricular CSF
    "grey_matter",         # 13 cerebral cortex
    "white_matter",        # 14 cerebral white matter, corpus callosum, internal capsule
    "caudate",             # 15
    "putamen",             # 16
    "pallidum",            # 17
    "thalamus",            # 18
    "insula",              # 19 insular cortex
    "brainstem",           # 20
    "cerebellar_cortex",   # 21
    "cerebellar_white",    # 22
    "dura",                # 23 falx cerebri and tentorium cerebelli
    "venous_sinus",        # 24 dural venous sinuses (blood)
    "vein",                # 25 cortical and deep veins (blood)
    "artery",              # 26 circle of Willis and branches (blood)
    "choroid_plexus",      # 27
    "pineal",              # 28
    "pituitary",           # 29
    "calcification",       # 30 mimic: calcified choroid, pineal, basal ganglia, falx
    "thrombus",            # 31 mimic: hyperdense artery
    "contrast",            # 32 mimic: residual iodinated contrast
    "blood",               # 33 acute haemorrhage
    "device",              # 34 head holder, metal
)
_T = {name: i for i, name in enumerate(TISSUES)}

_PARENCHYMA = tuple(_T[n] for n in (
    "grey_matter", "white_matter", "caudate", "putamen", "pallidum", "thalamus", "insula",
    "brainstem", "cerebellar_cortex", "cerebellar_white"))
_CEREBRAL = tuple(_T[n] for n in (
    "grey_matter", "white_matter", "caudate", "putamen", "pallidum", "thalamus", "insula"))

_MIN_MATRIX, _MAX_MATRIX = 64, 512
_F = np.float32


# ----------------------------------------------------------------------------------------------
# small numerical helpers
# ----------------------------------------------------------------------------------------------

def _rng(seed: int, stream: int) -> np.random.Generator:
    """An independent random stream for one purpose (anatomy, physics, noise, each lesion)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (2 ** 32), stream]))


def _f32(a: Any) -> Arr:
    return np.asarray(a, dtype=_F)


def _alpha(sdf: Arr, eps: float) -> Arr:
    """Partial-volume fraction of a structure from its signed distance (negative inside)."""
    return np.clip(0.5 - sdf / _F(eps), 0.0, 1.0).astype(_F, copy=False)


def _alpha_band(s: Arr, lo: Any, hi: Any, eps: float) -> Arr:
    """Partial-volume fraction of a layer lo < s < hi (s a distance coordinate): the overlap
    of the layer with the voxel's extent along s. A layer thinner than a voxel covers only
    its share of it."""
    e = _F(0.5 * eps)
    over = np.minimum(hi, s + e) - np.maximum(lo, s - e)
    return _f32(np.clip(over / _F(eps), 0.0, 1.0))


def _smoothstep(t: Arr) -> Arr:
    t = np.clip(t, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(_F, copy=False)


def _sigmoid(t: Arr) -> Arr:
    return _f32(1.0 / (1.0 + np.exp(-np.clip(t, -30.0, 30.0))))


def _ellipsoid_sdf(x: Arr, y: Arr, z: Arr, c: Any, r: Any) -> Arr:
    """Approximate signed distance (mm) to an axis-aligned ellipsoid (first-order, exact on the
    surface, good near it)."""
    qx = (x - _F(c[0])) / _F(r[0])
    qy = (y - _F(c[1])) / _F(r[1])
    qz = (z - _F(c[2])) / _F(r[2])
    g = np.sqrt(qx * qx + qy * qy + qz * qz)
    gx, gy, gz = qx / _F(r[0]), qy / _F(r[1]), qz / _F(r[2])
    gg = np.sqrt(gx * gx + gy * gy + gz * gz)
    return _f32((g - 1.0) * g / np.maximum(gg, _F(1e-6)))


def _segment(x: Arr, y: Arr, z: Arr, a: Arr, b: Arr) -> tuple[Arr, Arr]:
    """Distance from points to the segment a-b and the projection parameter t in [0, 1]."""
    d = b - a
    ll = float(d @ d) or 1e-9
    t = ((x - _F(a[0])) * _F(d[0]) + (y - _F(a[1])) * _F(d[1]) + (z - _F(a[2])) * _F(d[2]))
    t = np.clip(t / _F(ll), 0.0, 1.0)
    px = x - (_F(a[0]) + t * _F(d[0]))
    py = y - (_F(a[1]) + t * _F(d[1]))
    pz = z - (_F(a[2]) + t * _F(d[2]))
    return np.sqrt(px * px + py * py + pz * pz).astype(_F, copy=False), t.astype(_F, copy=False)


@dataclass
class _Tube:
    """A chain of tapered capsules: vessels, ventricles, brainstem, callosum, folds."""

    name: str
    nodes: Arr  # (M, 3) canonical mm
    radii: Arr  # (M,)
    kind: str = ""
    stretch: tuple[float, float, float] = (1.0, 1.0, 1.0)  # metric scaling of (x, y, z)

    def bbox(self, margin: float = 0.0) -> tuple[Arr, Arr]:
        s = np.asarray(self.stretch)
        r = float(np.max(self.radii)) / float(np.min(s)) + margin
        return self.nodes.min(axis=0) - r, self.nodes.max(axis=0) + r

    def sdf(self, x: Arr, y: Arr, z: Arr) -> Arr:
        sx, sy, sz = (_F(v) for v in self.stretch)
        xs, ys, zs = x * sx, y * sy, z * sz
        n = self.nodes * np.asarray(self.stretch)
        best = np.full(x.shape, np.inf, dtype=_F)
        for i in range(len(n) - 1):
            d, t = _segment(xs, ys, zs, n[i], n[i + 1])
            r = _F(self.radii[i]) + t * _F(self.radii[i + 1] - self.radii[i])
            np.minimum(best, d - r, out=best)
        return best


_LATTICE = np.random.default_rng(20240519).random((32 * 32 * 32, 4)).astype(np.float32)


def _lattice(ix: Arr, iy: Arr, iz: Arr, salt: int) -> Arr:
    """Four deterministic pseudo-random numbers in [0, 1) per integer lattice cell (a fixed
    random table, tiled with period 32 and shifted by the salt): (N, 4)."""
    o = (salt * 7) % 32
    i = ((((ix + o) & 31) << 10) | (((iy + 3 * o + salt // 32) & 31) << 5)
         | ((iz + 5 * o + salt // 1024) & 31))
    return np.asarray(_LATTICE[i])


def _worley(x: Arr, y: Arr, z: Arr, cell: tuple[float, float, float], salt: int,
            jitter: float = 0.8) -> tuple[Arr, Arr]:
    """Cellular (Worley) partition of space: jittered lattice seeds, anisotropic cell sizes.

    Returns the approximate distance (mm, along the finest axis) to the nearest cell boundary
    (half the difference of the distances to the two nearest seeds) and a uniform random value
    per cell (the nearest seed's).
    """
    cx, cy, cz = (_F(c) for c in cell)
    px, py, pz = x / cx, y / cy, z / cz
    fx, fy, fz = np.floor(px), np.floor(py), np.floor(pz)
    bx = (fx - (px - fx < 0.5)).astype(np.int64)
    by = (fy - (py - fy < 0.5)).astype(np.int64)
    bz = (fz - (pz - fz < 0.5)).astype(np.int64)
    rx, ry, rz = px - bx, py - by, pz - bz
    n = x.shape[0]
    d1 = np.full(n, np.inf, _F)
    d2 = np.full(n, np.inf, _F)
    v1 = np.zeros(n, _F)
    off = _F(0.5 * (1.0 - jitter))
    jt = _F(jitter)
    for ox in (0, 1):
        for oy in (0, 1):
            for oz in (0, 1):
                r = _lattice(bx + ox, by + oy, bz + oz, salt)
                d = ((rx - (ox + off + jt * r[:, 0])) ** 2 + (ry - (oy + off + jt * r[:, 1])) ** 2
                     + (rz - (oz + off + jt * r[:, 2])) ** 2)
                closer = d < d1
                d2 = np.where(closer, d1, np.minimum(d2, d))
                v1 = np.where(closer, r[:, 3], v1)
                d1 = np.where(closer, d, d1)
    bis = 0.5 * (np.sqrt(d2) - np.sqrt(d1))
    return (bis * min(cx, cy, cz)).astype(_F), v1.astype(_F)


def _trilinear(grids: list[Arr], origin: Arr, step: float, x: Arr, y: Arr, z: Arr
               ) -> list[Arr]:
    """Trilinear interpolation of grids (nx, ny, nz) sharing one lattice, at points."""
    st = _F(step)
    coords = np.stack([(x - _F(origin[0])) / st, (y - _F(origin[1])) / st,
                       (z - _F(origin[2])) / st])
    return [ndimage.map_coordinates(g, coords, order=1, mode="nearest").astype(_F, copy=False)
            for g in grids]


class _Index:
    """A coarse spatial index over a point set: the points of a bounding box, fast."""

    def __init__(self, x: Arr, y: Arr, z: Arr, cell: float = 12.0) -> None:
        self.cell = cell
        self.lo = np.array([x.min(), y.min(), z.min()]) if x.size else np.zeros(3)
        ijk = [np.floor((c - lo) / cell).astype(np.int64)
               for c, lo in zip((x, y, z), self.lo, strict=True)]
        self.shape = tuple(int(a.max()) + 1 if a.size else 1 for a in ijk)
        key = (ijk[0] * self.shape[1] + ijk[1]) * self.shape[2] + ijk[2]
        if self.shape[0] * self.shape[1] * self.shape[2] < 32000:
            key = key.astype(np.int16)
        self.order = np.argsort(key, kind="stable")
        sk = key[self.order]
        ncell = self.shape[0] * self.shape[1] * self.shape[2]
        self.start = np.searchsorted(sk, np.arange(ncell), side="left")
        self.end = np.searchsorted(sk, np.arange(ncell), side="right")

    def query(self, lo: Arr, hi: Arr) -> Arr:
        a = np.floor((np.asarray(lo) - self.lo) / self.cell).astype(int)
        b = np.floor((np.asarray(hi) - self.lo) / self.cell).astype(int)
        a = np.maximum(a, 0)
        b = np.minimum(b, np.asarray(self.shape) - 1)
        if np.any(b < a):
            return np.zeros(0, np.int64)
        parts = []
        for i in range(a[0], b[0] + 1):
            for j in range(a[1], b[1] + 1):
                base = (i * self.shape[1] + j) * self.shape[2]
                s = self.start[base + a[2]]
                e = self.end[base + b[2]]
                if e > s:
                    parts.append(self.order[s:e])
        if not parts:
            return np.zeros(0, np.int64)
        return np.concatenate(parts)


# ----------------------------------------------------------------------------------------------
# the anatomy: per-seed parameters (label independent)
# ----------------------------------------------------------------------------------------------

@dataclass
class _Anat:
    """Everything about one head, in canonical millimetres (x left, y posterior, z up; origin
    near the foramina of Monro). Built from the anatomy stream of the seed only."""

    scale: Arr
    atrophy: float
    hu: dict[str, float]
    ell_c: Arr
    ell_a: Arr  # (ax, ay, az_up, az_low)
    af_level: float
    mf_level: float
    pf_level: float
    ridge_z: float
    sr_y: float
    pet_apex: Arr  # (u, y)
    pet_base: Arr
    t_vault: float
    t_occ: float
    t_temp: float
    t_front: float
    skull_bumps: Arr  # (K, 5): x, y, z, amplitude, width
    t_in: float
    t_out: float
    t_skin: float
    t_fat: float
    t_scalp: float
    plate_seeds: Arr  # (P, 3)
    plate_w: Arr
    plate_id: Arr
    suture_hw: float
    suture_amp: float
    mid_amp: float
    gap: float
    hw_if: float
    sulc_hw: float
    ribbon: float
    ins_u: float
    ins_w: float
    syl_hw: float
    syl_z0: float
    syl_slope: float
    vent_scale: tuple[float, float]
    third_hw: float
    nuclei_shift: Arr  # (2, 3) per side jitter
    cb_salt: int
    bone_salt: int
    air_salt: int
    mastoid_pneum: float
    transverse_r: tuple[float, float]  # (left, right)
    sss_w: tuple[float, float]
    tubes: list[_Tube] = field(default_factory=list)
    vent_tubes: list[_Tube] = field(default_factory=list)
    cortex_origin: Arr = field(default_factory=lambda: np.zeros(3))
    cortex_step: float = 2.0
    cortex_nn: Arr = field(default_factory=lambda: np.zeros((1, 1, 1, 5), np.int16))
    cortex_seeds: Arr = field(default_factory=lambda: np.zeros((1, 3), _F))
    cortex_w: Arr = field(default_factory=lambda: np.zeros(1, _F))
    cortex_group: Arr = field(default_factory=lambda: np.zeros(1, np.int32))
    cortex_gdepth: Arr = field(default_factory=lambda: np.zeros(1, _F))
    cortex_named: Arr = field(default_factory=lambda: np.zeros((0, 3)))
    n_gyri: tuple[int, int] = (0, 0)
    torcular: Arr = field(default_factory=lambda: np.zeros(3))
    lk_origin: Arr = field(default_factory=lambda: np.zeros(3))
    lk_step: float = 2.5
    lk: dict[str, Arr] = field(default_factory=dict)
    floor_origin: Arr = field(default_factory=lambda: np.zeros(2))
    floor_grid: Arr = field(default_factory=lambda: np.zeros((1, 1), _F))
    notes: dict[str, Any] = field(default_factory=dict)


_PLATES = ("frontal", "parietal_left", "parietal_right", "occipital", "temporal_left",
           "temporal_right", "sphenoid_left", "sphenoid_right")


def _cranium_exact(an: _Anat, x: Arr, y: Arr, z: Arr) -> Arr:
    """Signed distance to the inner table (negative inside the cranial cavity): an ellipsoidal
    vault, cut by the skull-base height field, joined by the foramen magnum to the canal."""
    c = an.ell_c
    ax, ay, azu, azl = (float(v) for v in an.ell_a)
    az = np.where(z > _F(c[2]), _F(azu), _F(azl))
    qx = (x - _F(c[0])) / _F(ax)
    qy = (y - _F(c[1])) / _F(ay)
    qz = (z - _F(c[2])) / az
    g = np.sqrt(qx * qx + qy * qy + qz * qz)
    gg = np.sqrt((qx / _F(ax)) ** 2 + (qy / _F(ay)) ** 2 + (qz / az) ** 2)
    d_ell = (g - 1.0) * g / np.maximum(gg, _F(1e-6))
    canal = np.maximum(np.sqrt(x * x + (y - _F(24.0)) ** 2) - _F(14.5), z + _F(50.0))
    d_ell = np.minimum(d_ell, canal)
    d_floor = (_floor_exact(an, x, y) - z) / _F(1.2)
    return np.maximum(d_ell, d_floor).astype(_F, copy=False)


def _lookup(an: _Anat, name: str, x: Arr, y: Arr, z: Arr) -> Arr:
    """A smooth anatomical field, tabulated once per head, interpolated at points."""
    return _trilinear([an.lk[name]], an.lk_origin, an.lk_step, x, y, z)[0]


def _cranium(an: _Anat, x: Arr, y: Arr, z: Arr) -> Arr:
    """Signed distance to the inner table (tabulated)."""
    return _lookup(an, "dic", x, y, z)


def _floor(an: _Anat, x: Arr, y: Arr) -> Arr:
    """Height of the cranial floor (tabulated)."""
    coords = np.stack([(x - _F(an.floor_origin[0])), (y - _F(an.floor_origin[1]))])
    return _f32(ndimage.map_coordinates(an.floor_grid, coords, order=1, mode="nearest"))


_SELLA_Y = np.array([-400.0, -17.0, -14.5, -4.5, -2.6, -1.2, 9.0, 400.0])
_SELLA_Z = np.array([-24.0, -24.0, -33.0, -33.0, -21.0, -22.0, -62.0, -62.0])


def _petrous_frame(an: _Anat, u: Arr, y: Arr) -> tuple[Arr, Arr, float]:
    """Signed distance from the petrous ridge line (positive behind it, in the posterior fossa)
    and the position along it, in the axial plane (u = |x|)."""
    a, b = an.pet_apex, an.pet_base
    d = b - a
    length = float(np.hypot(d[0], d[1]))
    dx, dy = d[0] / length, d[1] / length
    behind = (u - _F(a[0])) * _F(-dy) + (y - _F(a[1])) * _F(dx)
    along = (u - _F(a[0])) * _F(dx) + (y - _F(a[1])) * _F(dy)
    return behind.astype(_F), along.astype(_F), length


def _floor_exact(an: _Anat, x: Arr, y: Arr) -> Arr:
    """Height (z) of the floor of the cranial cavity: anterior fossa (orbital roofs, cribriform
    plate), sphenoid ridge, middle fossa, sella and clivus, petrous ridges, posterior fossa, and
    the foramen magnum."""
    u = np.abs(x)
    af = _F(an.af_level) + 5.0 * np.exp(-((u - 24.0) / 13.0) ** 2) - 5.0 * np.exp(-(x / 5.0) ** 2)
    wc = np.exp(-((u / 13.0) ** 4))
    centre = _f32(np.interp(y, _SELLA_Y, _SELLA_Z))
    behind, along, length = _petrous_frame(an, u, y)
    w_mp = _sigmoid(behind / 2.5)
    # the posterior fossa is a bowl, deepest at the foramen magnum; the middle fossa a basin
    pf = (_F(an.pf_level) - 4.0 * np.exp(-((u / 20.0) ** 2)) + 0.9 * np.maximum(y - 38.0, 0.0)
          + 0.45 * np.maximum(u - 25.0, 0.0))
    mf = _F(an.mf_level) + 6.0 * ((y + 6.0) / 26.0) ** 2 + 4.0 * np.clip((u - 45.0) / 15.0, 0.0,
                                                                         None) ** 2
    lateral = mf * (1.0 - w_mp) + pf * w_mp
    ridge = (_F(an.ridge_z) - 0.08 * along - 1.4 * np.abs(behind)
             - 3.0 * np.maximum(0.0, -along) - 3.0 * np.maximum(0.0, along - length))
    lateral = np.maximum(lateral, ridge)
    mid = centre * wc + lateral * (1.0 - wc)
    w_sr = _sigmoid((y - (_F(an.sr_y) + 0.1 * u - 7.0 * np.exp(-(((u - 38.0) / 14.0) ** 2))))
                    / 2.0)
    floor = af * (1.0 - w_sr) + mid * w_sr
    hole = (x * x + (y - 24.0) ** 2) < 14.5 ** 2
    return np.where(hole, _F(-300.0), floor).astype(_F, copy=False)


def _mid_x(an: _Anat, y: Arr, z: Arr) -> Arr:
    """The midsagittal plane's slight curvature (falx position)."""
    return (_F(an.mid_amp) * np.sin((y + 90.0) * _F(math.pi / 190.0))
            * np.clip((z + 40.0) / 100.0, 0.0, 1.0)).astype(_F)


def _tentorium(an: _Anat, u: Arr, y: Arr) -> tuple[Arr, Arr]:
    """Height of the tentorium cerebelli over (u, y) and where it exists (behind the petrous
    ridges, outside the incisura)."""
    tz = float(an.torcular[2])
    ty = float(an.torcular[1])
    zmid = _f32(np.interp(y, [36.0, ty], [5.0, tz]))
    k = _f32(np.interp(y, [10.0, 36.0, 60.0, ty], [1.0, 0.6, 0.24, 0.05]))
    zt = zmid - k * u
    behind, _, _ = _petrous_frame(an, u, y)
    notch_w = 15.0 * np.clip((38.0 - y) / 14.0, 0.0, 1.0)
    exists = (((behind > 0) | ((u < 14.0) & (y > -1.0))) & (u >= notch_w))
    return zt.astype(_F), exists


def _posterior_fossa(an: _Anat, u: Arr, y: Arr) -> Arr:
    """Positive behind the petrous ridges and dorsum sellae (the posterior fossa side)."""
    behind, _, _ = _petrous_frame(an, u, y)
    return np.where(u < 14.0, y + 1.0, behind).astype(_F)


_CC_Y = np.array([-24.0, -14.0, 4.0, 18.0, 26.0])
_CC_Z = np.array([8.0, 19.0, 22.0, 19.0, 12.0])


def _falx_edge(y: Arr) -> Arr:
    """Height of the free edge of the falx cerebri."""
    return _f32(np.interp(y, [-90.0, -62.0, -30.0, 0.0, 20.0, 32.0, 38.0, 120.0],
                          [-22.0, -18.0, 16.0, 34.0, 32.0, 12.0, -40.0, -40.0]))


def _hemisphere(an: _Anat, x: Arr, y: Arr, z: Arr, dic: Arr) -> Arr:
    """Signed distance to the surface of the cerebral hemispheres (negative inside): the brain
    surface under the subarachnoid space, minus the interhemispheric fissure above the corpus
    callosum, the tentorium, and the basal cisterns around the midbrain and above the sella."""
    u = np.abs(x)
    gap = _F(an.gap) * (1.0 + 0.6 * _sigmoid(-(y + 40.0) / 8.0))
    d = dic + gap
    # interhemispheric fissure (above the callosal arch, everywhere outside its span)
    zc = _f32(np.interp(y, _CC_Y, _CC_Z))
    sub = (y > -24.0) & (y < 26.0) & (z < zc + 6.0)
    xm = _mid_x(an, y, z)
    d_if = np.where(sub, _F(-99.0), _F(an.hw_if) - np.abs(x - xm))
    d = np.maximum(d, d_if)
    # tentorium: the hemispheres lie above it
    zt, exists = _tentorium(an, u, y)
    d_t = np.where(exists, zt + 1.2 + 0.8 * _F(an.atrophy) - z, _F(-99.0))
    d = np.maximum(d, d_t)
    # below the incisura (no tentorium there), the posterior fossa is not cerebrum
    pf = _posterior_fossa(an, u, y)
    d = np.maximum(d, np.where((pf > 0) & ~exists & (z < -12.0), _F(1.0) + (-12.0 - z),
                               _F(-99.0)))
    # basal cisterns: ambient/interpeduncular around the midbrain, suprasellar, quadrigeminal
    a = _F(an.atrophy)
    r_amb = 14.0 + 3.0 * a
    d_amb = np.where((z < 5.0) & (z > -40.0),
                     r_amb - np.sqrt((x * 0.85) ** 2 + (y - 14.0) ** 2), _F(-99.0))
    d = np.maximum(d, d_amb)
    d_ss = -_ellipsoid_sdf(x, y, z, (0.0, -11.0, -18.0), (11.0 + 3 * a, 9.0 + 2 * a, 6.0 + 2 * a))
    d = np.maximum(d, d_ss)
    d_q = -_ellipsoid_sdf(x, y, z, (0.0, 34.0, 2.0), (8.0 + 2 * a, 6.0 + a, 6.0))
    return np.maximum(d, d_q).astype(_F, copy=False)


def _insula_u(an: _Anat, y: Arr, z: Arr) -> tuple[Arr, Arr]:
    """Lateral position of the insular surface and the elliptic parameter of its extent."""
    e = ((y + 4.0) / 22.0) ** 2 + ((z - 3.0) / 16.0) ** 2
    ui = _F(an.ins_u) - 3.0 * ((y + 4.0) / 22.0) ** 2 - 2.0 * ((z - 3.0) / 16.0) ** 2
    return ui.astype(_F), e.astype(_F)


def _sylvian(an: _Anat, x: Arr, y: Arr, z: Arr) -> Arr:
    """Signed distance to the CSF of the lateral (Sylvian) fissure: the insular cistern over
    the insula, the fissure's stem out to the surface and the vallecula towards the suprasellar
    cistern."""
    u = np.abs(x)
    ui, e = _insula_u(an, y, z)
    w = _F(an.ins_w)
    d1 = np.abs(u - (ui + 0.5 * w)) - 0.5 * w + 20.0 * np.maximum(e - 1.0, 0.0)
    zs = (_F(an.syl_z0) + _F(an.syl_slope) * (y + 4.0) + 0.006 * np.maximum(y - 10.0, 0.0) ** 2
          + 0.22 * (u - ui) + 1.2 * np.sin(0.35 * u + 0.25 * y))
    d2 = (np.abs(z - zs) - _F(an.syl_hw)) * _F(0.85)
    d2 = np.maximum(d2, ui - 1.0 - u)
    d2 = np.maximum(d2, np.maximum(-38.0 - y, y - 32.0))
    d3 = np.full(x.shape, _F(99.0))
    near = (u < 42.0) & (z < 0.0) & (y < 4.0)
    if np.any(near):
        ids = np.nonzero(near)[0]
        r = 2.5 + 1.5 * an.atrophy
        tube = _Tube("vallecula", np.array([[14.0, -11.0, -17.0], [24.0, -10.0, -15.0],
                                            [an.ins_u - 2.0, -8.0, -9.0]]),
                     np.array([r, r, r + 0.5]))
        d3[ids] = tube.sdf(u[ids], y[ids], z[ids])
    return _f32(np.minimum(np.minimum(d1, d2), d3))


# ----------------------------------------------------------------------------------------------
# building one head
# ----------------------------------------------------------------------------------------------

def _draw_hu(rng: np.random.Generator) -> dict[str, float]:
    """Tissue densities of one head (HU), within normal adult ranges."""
    grey = rng.uniform(34.0, 44.0)
    white = rng.uniform(max(22.0, grey - 14.0), min(32.0, grey - 6.0))
    csf = rng.uniform(1.0, 11.0)
    hct = float(np.clip(rng.normal(0.42, 0.045), 0.30, 0.52))
    if rng.random() < 0.15:  # haemoconcentration / dehydration / polycythaemia
        hct = rng.uniform(0.52, 0.62)
    venous = float(np.clip(12.0 + 85.0 * hct, 38.0, 66.0))
    cortical = rng.uniform(1150.0, 1750.0)
    hu = {
        "grey": grey, "white": white, "csf": csf, "ventricle": csf + rng.uniform(-0.5, 1.0),
        "caudate": grey - rng.uniform(0.0, 2.0), "putamen": grey - rng.uniform(0.0, 2.0),
        "thalamus": grey - rng.uniform(1.0, 4.0), "brainstem": white + rng.uniform(3.0, 7.0),
        "cerebellar_cortex": grey - rng.uniform(0.0, 3.0),
        "cerebellar_white": white + rng.uniform(2.0, 6.0),
        "haematocrit": hct, "venous": venous, "arterial": venous - rng.uniform(0.0, 3.0),
        "dura": rng.uniform(45.0, 62.0), "bone": cortical,
        "petrous": min(1900.0, cortical + rng.uniform(100.0, 250.0)),
        "diploe": rng.uniform(350.0, 750.0), "suture": rng.uniform(120.0, 300.0),
        "skin": rng.uniform(30.0, 50.0), "fat": rng.uniform(-110.0, -75.0),
        "muscle": rng.uniform(42.0, 60.0), "orbital_fat": rng.uniform(-110.0, -80.0),
        "globe": rng.uniform(5.0, 15.0), "lens": rng.uniform(90.0, 130.0),
        "sinus_air": rng.uniform(-1000.0, -950.0), "air": -1000.0,
        "choroid": csf + rng.uniform(18.0, 28.0), "pineal": rng.uniform(30.0, 42.0),
        "pituitary": rng.uniform(38.0, 50.0), "device": rng.uniform(150.0, 350.0),
    }
    hu["pallidum"] = hu["putamen"] - rng.uniform(1.0, 4.0)
    return {k: float(v) for k, v in hu.items()}


def _ray_to(fn: Any, origin: Arr, dirs: Arr, t_max: float = 160.0) -> Arr:
    """Points where fn (negative inside, increasing outwards) crosses zero along rays."""
    dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    lo = np.zeros(len(dirs))
    hi = np.full(len(dirs), t_max)
    for _ in range(36):
        mid = 0.5 * (lo + hi)
        p = origin[None, :] + mid[:, None] * dirs
        v = fn(_f32(p[:, 0]), _f32(p[:, 1]), _f32(p[:, 2]))
        inside = v < 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    t = 0.5 * (lo + hi)
    return np.asarray(origin[None, :] + t[:, None] * dirs)


def _poly_resample(nodes: Arr, step: float) -> Arr:
    """Points every ``step`` mm along a polyline."""
    seg = np.linalg.norm(np.diff(nodes, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(round(s[-1] / step)) + 1)
    q = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(q, s, nodes[:, k]) for k in range(3)], axis=1)


# Named sulci: (name, medial?, control points (u, y, z) or (y, z) for medial, depth range)
_NAMED_SULCI: tuple[tuple[str, bool, tuple[tuple[float, ...], ...], tuple[float, float]], ...] = (
    ("central", False, ((6, 0, 70), (25, -2, 66), (42, -6, 53), (54, -9, 37), (58, -12, 24)),
     (18.0, 22.0)),
    ("superior_temporal", False, ((60, -34, -24), (62, -14, -16), (62, 6, -8), (58, 26, 0)),
     (13.0, 16.0)),
    ("intraparietal", False, ((32, 12, 60), (42, 28, 51), (42, 44, 41), (34, 58, 31)),
     (13.0, 16.0)),
    ("superior_frontal", False, ((20, -64, 46), (22, -44, 58), (22, -22, 65)), (11.0, 14.0)),
    ("parieto_occipital", True, ((64, 46), (55, 28), (44, 10)), (17.0, 20.0)),
    ("calcarine", True, ((44, 8), (60, 4), (76, 2), (86, 2)), (15.0, 18.0)),
    ("cingulate", True, ((-44, 2), (-37, 22), (-18, 35), (4, 39), (22, 41), (30, 54)),
     (10.0, 13.0)),
)


def _gyral_direction(p: Arr, hc: Arr, side: float) -> Arr:
    """Prevailing direction of the gyri on the surface: front to back in the frontal and
    temporal lobes and on the medial surface, top to bottom (down and forwards) in the
    central region, tangent to the surface."""
    y, z = p[:, 1], p[:, 2]
    w_c = np.exp(-((y + 2.0) / 22.0) ** 2) * (1.0 / (1.0 + np.exp(-(z - 12.0) / 6.0)))
    w_m = np.exp(-((np.abs(p[:, 0]) - 3.0) / 6.0) ** 2)
    ap = np.array([0.0, 1.0, 0.1])
    cv = np.array([side * 0.7, -0.2, -0.7])
    d = (1.0 - w_c)[:, None] * ap + w_c[:, None] * cv
    d = (1.0 - w_m)[:, None] * d + w_m[:, None] * ap
    nrm = p - hc
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    d -= (d * nrm).sum(axis=1, keepdims=True) * nrm
    return np.asarray(d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6))


def _find(parent: list[int], i: int) -> int:
    """Union-find root (with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _build_cortex(an: _Anat, rng: np.random.Generator) -> None:
    """Gyri as a Laguerre (power) partition of seeds scattered on each hemisphere's surface,
    denser at the frontal and occipital poles; named sulci forced by mirrored seed pairs. The
    distance to the nearest boundary between different gyri and that boundary's depth are
    tabulated on a 2-mm lookup grid."""
    step = 2.0
    lo = np.array([-76.0, -96.0, -58.0])
    hi = np.array([76.0, 100.0, 82.0])
    shape = tuple(int(v) for v in np.floor((hi - lo) / step) + 1)
    gx, gy, gz = (lo[k] + step * np.arange(shape[k]) for k in range(3))
    X, Y, Z = np.meshgrid(_f32(gx), _f32(gy), _f32(gz), indexing="ij")
    x, y, z = X.ravel(), Y.ravel(), Z.ravel()
    dic = _cranium(an, x, y, z)
    dh = np.full(x.shape, _F(99.0))
    keep = dic < 4.0
    dh[keep] = _hemisphere(an, x[keep], y[keep], z[keep], dic[keep])

    dh_grid = dh.reshape(shape)

    def surface(origin: Arr, pts: Arr) -> Arr:
        """Where rays from ``origin`` through ``pts`` leave the hemisphere (1.5 mm deep)."""
        d = pts - origin
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        t = np.arange(0.0, 110.0, 0.5)
        q = origin[None, None, :] + t[None, :, None] * d[:, None, :]
        v = ndimage.map_coordinates(dh_grid, ((q - lo) / step).reshape(-1, 3).T, order=1,
                                    mode="nearest").reshape(q.shape[:2]) + 1.5
        out = np.argmax(v > 0, axis=1)
        out = np.where(v[np.arange(len(d)), out] > 0, out, len(t) - 1)
        i0 = np.maximum(out - 1, 0)
        v0, v1 = v[np.arange(len(d)), i0], v[np.arange(len(d)), out]
        f = np.clip(-v0 / np.maximum(v1 - v0, 1e-6), 0.0, 1.0)
        tt = t[i0] + f * (t[out] - t[i0])
        return np.asarray(origin[None, :] + tt[:, None] * d)

    seeds: list[Arr] = []
    groups: list[int] = []
    weights: list[float] = []
    depth_of_group: list[float] = []
    named_pairs: list[tuple[int, int, float]] = []
    n_gyri = []
    next_group = 0
    for side in (1.0, -1.0):
        hc = np.array([side * 30.0, 0.0, 6.0])
        side_seeds: list[Arr] = []
        side_groups: list[int] = []
        draws = []
        for _name, medial, pts, (dlo, dhi) in _NAMED_SULCI:
            ctrl = np.asarray(pts, dtype=float) + rng.normal(0.0, 2.0, (len(pts), len(pts[0])))
            draws.append((medial, ctrl, rng.uniform(5.0, 6.5), rng.uniform(8.0, 13.0),
                          rng.uniform(8.0, 13.0), rng.uniform(dlo, dhi)))
        lat = [np.stack([side * c[:, 0], c[:, 1], c[:, 2]], axis=1) for m, c, *_ in draws
               if not m]
        lat_s = surface(hc, np.concatenate(lat))
        curves, k = [], 0
        for medial, ctrl, *_ in draws:
            if medial:
                curves.append(np.stack([np.full(len(ctrl), side * (an.hw_if + 1.5)),
                                        ctrl[:, 0], ctrl[:, 1]], axis=1))
            else:
                curves.append(lat_s[k:k + len(ctrl)])
                k += len(ctrl)
        pairs = []
        for (medial, _c, off, da, db, dd), curve in zip(draws, curves, strict=True):
            curve = _poly_resample(curve, 9.0)
            tang = np.gradient(curve, axis=0)
            tang /= np.linalg.norm(tang, axis=1, keepdims=True)
            if medial:
                normal = np.tile(np.array([side, 0.0, 0.0]), (len(curve), 1))
            else:
                normal = curve - hc
                normal /= np.linalg.norm(normal, axis=1, keepdims=True)
            perp = np.cross(tang, normal)
            perp /= np.linalg.norm(perp, axis=1, keepdims=True)
            ga, gb = next_group, next_group + 1
            next_group += 2
            depth_of_group += [da, db]
            named_pairs.append((ga, gb, dd))
            for sgn, g in ((1.0, ga), (-1.0, gb)):
                pairs.append((medial, curve + sgn * off * perp, g))
        lat_p = [p for m, p, _ in pairs if not m]
        lat_ps = surface(hc, np.concatenate(lat_p)) if lat_p else np.zeros((0, 3))
        k = 0
        for medial, p, g in pairs:
            if medial:
                p = p.copy()
                p[:, 0] = side * (an.hw_if + 1.5)
            else:
                p = lat_ps[k:k + len(p)]
                k += len(p)
            for q in p:
                side_seeds.append(q)
                side_groups.append(g)
        # random seeds on the surface, Poisson-disc thinned with a density-dependent radius
        cand = np.nonzero((dh > -2.6) & (dh < -0.4) & (np.sign(x) == side))[0]
        cand = rng.permutation(cand)[:3500]
        cp = np.stack([x[cand], y[cand], z[cand]], axis=1).astype(float)
        dens = (1.0 + 0.9 * np.exp(-((cp[:, 1] + 80.0) / 22.0) ** 2)
                + 0.8 * np.exp(-((cp[:, 1] - 86.0) / 22.0) ** 2))
        r0 = rng.uniform(10.5, 12.5)
        rad = r0 / np.sqrt(dens)
        acc = np.zeros((len(side_seeds) + len(cp), 3))
        acc[:len(side_seeds)] = np.asarray(side_seeds)
        n_acc = len(side_seeds)
        first_random = n_acc
        for i in range(len(cp)):
            d2 = ((acc[:n_acc] - cp[i]) ** 2).sum(axis=1)
            if d2.min() >= rad[i] ** 2:
                acc[n_acc] = cp[i]
                n_acc += 1
        rand = acc[first_random:n_acc]
        # cell groups: chain cells along the local gyral direction into elongated gyri
        parent = list(range(len(rand)))
        size = [1] * len(rand)
        if len(rand) > 6:
            gdir = _gyral_direction(rand, hc, side)
            _, nn = cKDTree(rand).query(rand, k=7)
            for i in rng.permutation(len(rand)):
                if rng.random() > 0.8:
                    continue
                off_ = rand[nn[i, 1:]] - rand[i]
                dist = np.linalg.norm(off_, axis=1)
                score = np.abs(off_ @ gdir[i]) / dist ** 2
                j = int(nn[i, 1 + int(np.argmax(score))])
                a_, b_ = _find(parent, int(i)), _find(parent, j)
                if a_ != b_ and size[a_] + size[b_] <= 5:
                    parent[a_] = b_
                    size[b_] += size[a_]
        roots = {r: k for k, r in enumerate(sorted({_find(parent, i) for i in range(len(rand))}))}
        for i in range(len(rand)):
            side_seeds.append(rand[i])
            side_groups.append(next_group + roots[_find(parent, i)])
        depth_of_group += list(rng.uniform(7.0, 14.0, len(roots)) * (1.0 + 0.15 * an.atrophy))
        next_group += len(roots)
        n_gyri.append(len(set(side_groups)))
        seeds += side_seeds
        groups += side_groups
        weights += list(rng.uniform(-20.0, 20.0, len(side_seeds)))
    s = np.asarray(seeds)
    gr = np.asarray(groups)
    w = np.asarray(weights)
    wmax = float(w.max()) + 1.0
    tree = cKDTree(np.concatenate([s, np.sqrt(wmax - w)[:, None]], axis=1))
    shell = np.nonzero((dh > -32.0) & (dh < 3.0))[0]
    qp = np.stack([x[shell], y[shell], z[shell], np.zeros(len(shell), _F)], axis=1)
    _, idx = tree.query(qp, k=5)
    nn = np.full((x.size, 5), -1, np.int16)
    nn[shell] = idx.astype(np.int16)
    an.cortex_origin = lo
    an.cortex_step = step
    an.cortex_nn = nn.reshape(shape + (5,))
    an.cortex_seeds = s.astype(_F)
    an.cortex_w = w.astype(_F)
    an.cortex_group = gr.astype(np.int32)
    an.cortex_gdepth = np.asarray(depth_of_group, _F)
    an.cortex_named = np.asarray(named_pairs, float).reshape(-1, 3)
    an.n_gyri = (int(n_gyri[0]), int(n_gyri[1]))


_VENT_NODES = np.array([  # lateral ventricle (u, y, z, r): frontal horn to occipital horn
    [8.5, -32.0, 8.0, 3.0], [9.0, -22.0, 12.0, 5.0], [9.5, -8.0, 14.0, 5.0],
    [11.5, 8.0, 18.0, 4.6], [15.0, 22.0, 16.0, 5.6], [21.0, 30.0, 9.0, 7.0],
    [19.5, 44.0, 7.0, 4.0], [16.0, 54.0, 7.0, 1.4]])
_TEMPORAL_HORN = np.array([
    [21.0, 30.0, 9.0, 5.5], [27.0, 20.0, -4.0, 3.4], [29.0, 6.0, -16.0, 2.5],
    [28.0, -10.0, -22.0, 1.7], [27.0, -18.0, -23.0, 1.0]])
_NUCLEI = {  # canonical (u, y, z) centre and radii, per side
    "caudate": ((15.0, -14.0, 10.0), (5.0, 10.0, 8.0)),
    "lentiform": ((23.5, -3.0, 1.0), (6.5, 15.0, 10.5)),
    "thalamus": ((10.5, 11.0, 4.0), (8.5, 14.0, 9.0)),
}
_BRAINSTEM = np.array([[0.0, 17.0, 6.0, 10.5], [0.0, 16.0, -8.0, 10.0], [0.0, 16.0, -24.0, 12.0],
                       [0.0, 17.0, -38.0, 10.0], [0.0, 19.0, -50.0, 8.0], [0.0, 22.0, -62.0, 7.0],
                       [0.0, 24.0, -100.0, 6.0]])
_CALLOSUM = np.array([[0.0, -16.0, -2.0, 2.5], [0.0, -24.0, 8.0, 5.0], [0.0, -14.0, 19.0, 4.0],
                      [0.0, 4.0, 22.0, 3.5], [0.0, 18.0, 19.5, 4.0], [0.0, 26.0, 12.0, 5.5]])


def _tube(name: str, kind: str, pts: Any, radii: Any,
          stretch: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> _Tube:
    return _Tube(name, np.asarray(pts, dtype=float), np.asarray(radii, dtype=float), kind,
                 stretch)


def _build_anatomy(seed: int) -> _Anat:
    """Draw one head from the seed's anatomy stream (never from the label)."""
    rng = _rng(seed, 1)
    atrophy = float(rng.beta(1.6, 3.5))
    a = atrophy
    hu = _draw_hu(rng)
    dominant = "right" if rng.random() < 0.6 else "left"
    r_dom = rng.uniform(4.0, 5.5)
    r_min = rng.uniform(1.2, 2.2) if rng.random() < 0.2 else rng.uniform(2.5, 4.0)
    tr = (r_dom, r_min) if dominant == "left" else (r_min, r_dom)
    an = _Anat(
        scale=np.array([rng.uniform(0.93, 1.06), rng.uniform(0.93, 1.06),
                        rng.uniform(0.95, 1.05)]),
        atrophy=atrophy, hu=hu,
        ell_c=np.array([0.0, 4.0, -2.0]) + rng.normal(0.0, 0.7, 3) * np.array([0.3, 1, 1]),
        ell_a=np.array([67.0, 86.0, 74.0, 66.0]) * (1.0 + rng.normal(0.0, 0.02, 4)),
        af_level=-24.0 + rng.uniform(-2, 2), mf_level=-47.0 + rng.uniform(-2, 2),
        pf_level=-58.0 + rng.uniform(-2, 2), ridge_z=-27.0 + rng.uniform(-2, 2),
        sr_y=-30.0 + rng.uniform(-2, 2),
        pet_apex=np.array([14.0, -4.0]) + rng.normal(0, 1.0, 2),
        pet_base=np.array([52.0, 28.0]) + rng.normal(0, 1.5, 2),
        t_vault=rng.uniform(4.5, 6.5), t_occ=rng.uniform(6.0, 8.5),
        t_temp=rng.uniform(1.8, 3.0), t_front=rng.uniform(6.0, 8.0),
        skull_bumps=np.concatenate([rng.normal(0, 1, (6, 3)) / 1.0, rng.uniform(-1.2, 1.2, (6, 1)),
                                    rng.uniform(20.0, 40.0, (6, 1))], axis=1),
        t_in=rng.uniform(1.0, 1.6), t_out=rng.uniform(1.4, 2.2),
        t_skin=rng.uniform(1.5, 2.2), t_fat=rng.uniform(1.5, 4.0), t_scalp=0.0,
        plate_seeds=np.zeros((0, 3)), plate_w=np.zeros(0), plate_id=np.zeros(0, int),
        suture_hw=rng.uniform(0.25, 0.5), suture_amp=rng.uniform(0.8, 2.0),
        mid_amp=rng.uniform(-2.0, 2.0),
        gap=1.0 + 2.2 * a + rng.uniform(0.0, 0.5), hw_if=0.8 + 1.5 * a,
        sulc_hw=0.35 + 1.0 * a, ribbon=rng.uniform(2.5, 3.4),
        ins_u=37.5 + rng.uniform(-1.5, 1.5), ins_w=1.2 + 2.5 * a, syl_hw=0.55 + 1.5 * a,
        syl_z0=2.0 + rng.uniform(-2.0, 2.0), syl_slope=0.45 + rng.uniform(-0.08, 0.08),
        vent_scale=(float((0.95 + 0.8 * a) * rng.uniform(0.9, 1.1)),
                    float((0.95 + 0.8 * a) * rng.uniform(0.9, 1.1))),
        third_hw=1.5 + 2.5 * a, nuclei_shift=rng.normal(0.0, 1.0, (2, 3)),
        cb_salt=int(rng.integers(1, 2 ** 20)), bone_salt=int(rng.integers(1, 2 ** 20)),
        air_salt=int(rng.integers(1, 2 ** 20)),
        mastoid_pneum=float(rng.uniform(0.05, 0.25) if rng.random() < 0.1
                            else rng.uniform(0.5, 1.0)),
        transverse_r=(float(tr[0]), float(tr[1])),
        sss_w=(rng.uniform(3.0, 5.0), rng.uniform(8.0, 11.0)),
    )
    # skull bumps: positions on the vault (directions scaled to the inner table)
    dirs = an.skull_bumps[:, :3] / np.linalg.norm(an.skull_bumps[:, :3], axis=1, keepdims=True)
    dirs[:, 2] = np.abs(dirs[:, 2])
    an.skull_bumps[:, :3] = an.ell_c + dirs * an.ell_a[:3]
    an.t_scalp = an.t_skin + an.t_fat + float(rng.uniform(1.0, 2.0))
    # skull plates: ossification centres, a power diagram of the vault (sutures = boundaries)
    base = np.array([[0.0, -70.0, 35.0], [28.0, -62.0, 38.0], [-28.0, -62.0, 38.0],
                     [55.0, 15.0, 48.0], [-55.0, 15.0, 48.0], [0.0, 80.0, 20.0],
                     [0.0, 86.0, -20.0], [68.0, 5.0, -20.0], [-68.0, 5.0, -20.0],
                     [55.0, -45.0, -20.0], [-55.0, -45.0, -20.0]])
    an.plate_seeds = base + rng.normal(0.0, 3.0, base.shape)
    an.plate_w = rng.normal(0.0, 60.0, len(base))
    an.plate_id = np.array([0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7])
    _build_lookups(an)

    # venous confluence at the internal occipital protuberance
    def dic_fn(px: Arr, py: Arr, pz: Arr) -> Arr:
        return _cranium(an, px, py, pz)

    p_t = _ray_to(dic_fn, an.ell_c, np.array([[0.0, 84.0, -16.0]]) - an.ell_c)[0]
    an.torcular = p_t - 3.5 * (p_t - an.ell_c) / np.linalg.norm(p_t - an.ell_c)
    _build_tubes(an, rng, dic_fn)
    _build_cortex(an, rng)
    an.notes = {"dominant_transverse_sinus": dominant}
    return an


def _build_lookups(an: _Anat) -> None:
    """Tabulate the smooth fields of the head (inner-table distance, skull thickness, skin
    distance) on a 2.5-mm grid and the cranial floor on a 1-mm grid."""
    fo = np.array([-100.0, -125.0])
    fx = np.arange(201, dtype=np.float32) + _F(fo[0])
    fy = np.arange(251, dtype=np.float32) + _F(fo[1])
    FX, FY = np.meshgrid(fx, fy, indexing="ij")
    an.floor_origin = fo
    an.floor_grid = _floor_exact(an, FX.ravel(), FY.ravel()).reshape(FX.shape)
    step = 2.5
    lo = np.array([-97.5, -125.0, -132.5])
    shape = (79, 101, 95)
    gx, gy, gz = (_f32(lo[k] + step * np.arange(shape[k])) for k in range(3))
    X, Y, Z = np.meshgrid(gx, gy, gz, indexing="ij")
    x, y, z = X.ravel(), Y.ravel(), Z.ravel()
    dic = _cranium_exact(an, x, y, z)
    tsk = _skull_thickness(an, x, y, z)
    head = _head(an, x, y, z, dic, tsk)
    an.lk_origin = lo
    an.lk_step = step
    an.lk = {"dic": dic.reshape(shape), "tsk": tsk.reshape(shape), "head": head.reshape(shape)}


def _build_tubes(an: _Anat, rng: np.random.Generator, dic_fn: Any) -> None:
    """Ventricles, brainstem, callosum, arteries, veins and dural sinuses as capsule chains."""
    tubes: list[_Tube] = []
    vents: list[_Tube] = []
    for k, side in enumerate((1.0, -1.0)):
        sc = an.vent_scale[k]
        for name, nodes in (("lateral", _VENT_NODES), ("temporal_horn", _TEMPORAL_HORN)):
            p = nodes[:, :3].copy()
            p[:, 0] *= side
            p[:, 0] += side * 1.5 * (sc - 1.0)
            vents.append(_tube(f"{name}_{'left' if side > 0 else 'right'}", "ventricle",
                               p, nodes[:, 3] * sc, (1.0, 1.0, 1.25)))
    vents.append(_tube("aqueduct", "ventricle", [[0, 22, 2], [0, 24, -14], [0, 29, -26]],
                       [1.0, 1.0, 1.2]))
    an.vent_tubes = vents
    tubes.append(_tube("brainstem", "brainstem", _BRAINSTEM[:, :3], _BRAINSTEM[:, 3],
                       (0.82, 1.0, 1.0)))
    tubes.append(_tube("callosum", "callosum", _CALLOSUM[:, :3], _CALLOSUM[:, 3],
                       (0.3, 1.0, 1.0)))
    iu = an.ins_u
    for side in (1.0, -1.0):
        sn = "left" if side > 0 else "right"

        def s3(pts: list[list[float]], sd: float = side) -> Arr:
            arr = np.asarray(pts, dtype=float)
            arr[:, 0] *= sd
            return arr

        tubes += [
            _tube(f"ica_{sn}", "artery", s3([[13.5, -11, -40], [14, -13, -30], [13, -12, -19]]),
                  [2.2, 2.1, 1.9]),
            _tube(f"m1_{sn}", "artery", s3([[13, -12, -19], [22, -10, -16], [30, -9, -12],
                                            [iu - 3, -8, -9]]), [1.6, 1.5, 1.4, 1.3]),
            _tube(f"m2_superior_{sn}", "artery",
                  s3([[iu - 3, -8, -9], [iu + 0.8, -2, 4], [iu + 1.0, 10, 12],
                      [iu + 8, 18, 18]]), [1.1, 1.0, 0.9, 0.8]),
            _tube(f"m2_inferior_{sn}", "artery",
                  s3([[iu - 3, -8, -9], [iu + 0.8, 4, -4], [iu + 1.0, 18, 2], [iu + 8, 26, 6]]),
                  [1.0, 0.9, 0.9, 0.8]),
            _tube(f"a1_{sn}", "artery", s3([[13, -12, -19], [6, -17, -16], [1.5, -21, -14]]),
                  [1.2, 1.1, 1.1]),
            _tube(f"a2_{sn}", "artery", s3([[1.5, -21, -14], [1.5, -31, -2], [1.5, -31, 10],
                                            [1.5, -21, 25], [1.5, 0, 28.5], [1.5, 20, 26]]),
                  [1.1, 1.0, 1.0, 0.9, 0.9, 0.8]),
            _tube(f"pcom_{sn}", "artery", s3([[13, -12, -19], [10, -4, -18], [6, 3, -16]]),
                  [0.7, 0.7, 0.7]),
            _tube(f"pca_{sn}", "artery", s3([[0.5, 2, -18], [6, 3, -16], [12, 10, -12],
                                             [13, 20, -8], [10, 30, -4], [12, 44, 0],
                                             [10, 60, 2]]), [1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8]),
            _tube(f"vertebral_{sn}", "artery", s3([[10, 16, -70], [4, 9, -56], [0.5, 6, -50]]),
                  [1.5, 1.4, 1.4]),
            _tube(f"icv_{sn}", "vein", s3([[2.5, -6, 13], [2, 10, 13], [1.5, 24, 7],
                                           [0.3, 30, 4]]), [1.0, 1.0, 1.1, 1.2]),
            _tube(f"rosenthal_{sn}", "vein", s3([[12, -8, -15], [14, 6, -10], [13, 20, -6],
                                                 [8, 30, 0], [0.5, 32, 4]]),
                  [1.0, 1.0, 1.0, 1.0, 1.1]),
        ]
    tubes.append(_tube("basilar", "artery", [[0, 6, -50], [0, 4, -38], [0, 2.5, -26],
                                             [0, 2, -18]], [1.6, 1.6, 1.5, 1.4]))
    tubes.append(_tube("galen", "vein", [[0, 30, 4], [0, 36, 5]], [2.6, 2.6]))
    tubes.append(_tube("straight_sinus", "sinus", [[0, 36, 5], list(an.torcular)], [2.6, 2.8]))
    ys = np.linspace(-22.0, 30.0, 8)
    iss = np.stack([np.zeros_like(ys), ys, _falx_edge(_f32(ys)).astype(float) + 0.6], axis=1)
    tubes.append(_tube("inferior_sagittal_sinus", "sinus", iss, np.full(len(ys), 0.9)))
    tubes.append(_tube("torcular", "sinus", [list(an.torcular), list(an.torcular)], [5.5, 5.5]))
    # transverse and sigmoid sinuses, against the inner table (partly in their bony groove)
    for k, side in enumerate((1.0, -1.0)):
        sn = "left" if side > 0 else "right"
        r = an.transverse_r[k]
        tz = float(an.torcular[2])
        targets = np.array([[14, 84, tz - 1], [30, 78, tz - 3], [44, 66, tz - 6],
                            [52, 50, tz - 9], [54, 38, -28.0]])
        pts = []
        for q in targets:
            o = np.array([0.0, 4.0, q[2]])
            d = np.array([side * q[0], q[1], q[2]]) - o
            p = _ray_to(dic_fn, o, d[None, :])[0]
            pts.append(p - 0.45 * r * (p - o) / np.linalg.norm(p - o))
        sig = np.array([[52, 32, -34], [47, 27, -43], [40, 23, -50], [33, 20, -57]])
        for q in sig:
            o = np.array([0.0, 20.0, q[2]])
            d = np.array([side * q[0], q[1], q[2]]) - o
            p = _ray_to(dic_fn, o, d[None, :])[0]
            pts.append(p - 0.45 * r * (p - o) / np.linalg.norm(p - o))
        pts = [list(an.torcular)] + [list(p) for p in pts]
        tubes.append(_tube(f"transverse_sigmoid_{sn}", "sinus", pts,
                           [r + 1.0] + [r] * (len(pts) - 1)))
    # cortical veins over the convexity, draining up to the superior sagittal sinus
    def sub_fn(px: Arr, py: Arr, pz: Arr) -> Arr:
        return _cranium(an, px, py, pz) + _F(0.45 * an.gap)

    for _ in range(int(rng.integers(4, 9))):
        side = 1.0 if rng.random() < 0.5 else -1.0
        y0 = rng.uniform(-50.0, 50.0)
        start = np.array([side * 60.0, y0, rng.uniform(0.0, 35.0)])
        end = np.array([side * 8.0, y0 + rng.uniform(-10.0, 15.0), 80.0])
        ctrl = np.stack([start + t * (end - start) for t in np.linspace(0, 1, 7)])
        o = an.ell_c + np.array([0.0, 0.0, 6.0])
        pts3 = _ray_to(sub_fn, o, ctrl - o)
        tubes.append(_tube("cortical_vein", "vein", pts3[:-1], np.full(len(pts3) - 1,
                                                                         rng.uniform(1.0, 1.5))))
    an.tubes = tubes


# ----------------------------------------------------------------------------------------------
# evaluating the head at points: HU, tissue, ASPECTS region (partial-volume composited)
# ----------------------------------------------------------------------------------------------

class _Painter:
    """Front-to-back compositing of structures given as signed distances: each layer covers
    what lies under it by its partial-volume fraction; the tissue label goes to the layer that
    covers more than half of the voxel."""

    def __init__(self, n: int, eps: float) -> None:
        self.hu = np.full(n, _F(-1000.0), _F)
        self.tis = np.zeros(n, np.uint8)
        self.eps = eps

    def paint(self, idx: Arr, sdf: Arr, value: Any, code: Any) -> Arr:
        a = _alpha(sdf, self.eps)
        sel = np.nonzero(a > 0)[0]
        if sel.size == 0:
            return sel
        ids = idx[sel]
        a = a[sel]
        v = value[sel] if isinstance(value, np.ndarray) else _F(value)
        self.hu[ids] += a * (v - self.hu[ids])
        full = a > 0.5
        self.tis[ids[full]] = code[sel][full] if isinstance(code, np.ndarray) else code
        return sel


def _skull_thickness(an: _Anat, x: Arr, y: Arr, z: Arr) -> Arr:
    """Thickness of the vault and base (mm): frontal and occipital thick, temporal squama thin,
    the internal occipital protuberance, the glabella over the frontal sinus, thin orbital
    roofs, smooth individual variation."""
    u = np.abs(x)
    t = (_F(an.t_vault) + _F(an.t_front - an.t_vault) * _sigmoid(-(y + 40.0) / 12.0)
         + _F(an.t_occ - an.t_vault) * _sigmoid((y - 60.0) / 10.0))
    tz = _F(an.torcular[2])
    t += 5.0 * np.exp(-((x / 12.0) ** 2 + ((z - tz) / 9.0) ** 2)) * _sigmoid((y - 60.0) / 5.0)
    temporal = np.exp(-(((u - 60.0) / 16.0) ** 2 + (y / 30.0) ** 2 + ((z + 18.0) / 22.0) ** 2)
                      * 1.5)
    temporal = np.minimum(temporal, 1.0)
    t = t * (1.0 - temporal) + _F(an.t_temp) * temporal
    t += 7.0 * np.exp(-((x / 20.0) ** 2 + ((z + 8.0) / 14.0) ** 2)) * _sigmoid(-(y + 70.0) / 4.0)
    orbit_roof = (z < an.af_level + 8.0) & (y < -32.0) & (u > 12.0)
    t = np.where(orbit_roof, np.minimum(t, _F(1.8)), t)
    for b in an.skull_bumps:
        d2 = (x - _F(b[0])) ** 2 + (y - _F(b[1])) ** 2 + (z - _F(b[2])) ** 2
        t += _F(b[3]) * np.exp(-d2 / _F(b[4] ** 2))
    return np.maximum(t, _F(1.6)).astype(_F, copy=False)


def _ellipse2d(x: Arr, y: Arr, ax: Arr, ay: Arr) -> Arr:
    qx, qy = x / ax, y / ay
    g = np.sqrt(qx * qx + qy * qy)
    gg = np.sqrt((qx / ax) ** 2 + (qy / ay) ** 2)
    return ((g - 1.0) * g / np.maximum(gg, _F(1e-6))).astype(_F, copy=False)


_LOW_Z = [-120.0, -70.0, -45.0, -25.0, -12.0]


def _head(an: _Anat, x: Arr, y: Arr, z: Arr, dic: Arr, tsk: Arr) -> Arr:
    """Signed distance to the skin: scalp over the vault (temporalis and neck muscles where
    they are thick), the face and neck below, the nose and the ears."""
    u = np.abs(x)
    temporalis = 6.0 * np.exp(-(((y + 10.0) / 30.0) ** 2 + ((z + 15.0) / 22.0) ** 2)) \
        * _sigmoid((u - 40.0) / 5.0)
    neck = 14.0 * _sigmoid((y - 30.0) / 10.0) * _sigmoid(-(z + 35.0) / 8.0)
    d = dic - tsk - (_F(an.t_scalp) + temporalis + neck)
    ax = _f32(np.interp(z, _LOW_Z, [58.0, 62.0, 67.0, 67.0, 62.0]))
    ay = _f32(np.interp(z, _LOW_Z, [82.0, 88.0, 88.0, 90.0, 84.0]))
    cy = _f32(np.interp(z, _LOW_Z, [8.0, 4.0, -1.0, -3.0, 0.0]))
    low = np.maximum(_ellipse2d(x, y - cy, ax, ay), z + 12.0)
    d = np.minimum(d, low)
    nose = _Tube("nose", np.array([[0.0, -86.0, -34.0], [0.0, -100.0, -62.0]]),
                 np.array([6.0, 11.0]), stretch=(1.0, 1.0, 1.0)).sdf(x, y, z)
    d = np.minimum(d, np.maximum(nose, z + 30.0))
    for side in (1.0, -1.0):
        ear = _ellipsoid_sdf(x, y, z, (side * 74.0, 8.0, -40.0), (3.5, 14.0, 24.0))
        d = np.minimum(d, ear)
    return d.astype(_F, copy=False)


def _plates(an: _Anat, x: Arr, y: Arr, z: Arr) -> tuple[Arr, Arr]:
    """Skull plate of each point (power diagram of the ossification centres) and the signed
    distance to the nearest suture (its cell boundary), positive inside the plate."""
    s = an.plate_seeds
    pw = np.stack([(x - _F(c[0])) ** 2 + (y - _F(c[1])) ** 2 + (z - _F(c[2])) ** 2 - _F(w)
                   for c, w in zip(s, an.plate_w, strict=True)], axis=0)
    i1 = np.argmin(pw, axis=0)
    p1 = np.take_along_axis(pw, i1[None, :], axis=0)[0]
    pid = an.plate_id[i1]
    other = np.where(an.plate_id[:, None] == pid[None, :], np.inf, pw)
    i2 = np.argmin(other, axis=0)
    p2 = np.take_along_axis(other, i2[None, :], axis=0)[0]
    sep = np.linalg.norm(s[i1] - s[i2], axis=1).astype(_F)
    return pid.astype(np.uint8), ((p2 - p1) / (2.0 * sep)).astype(_F)


def _cortex_lookup(an: _Anat, x: Arr, y: Arr, z: Arr) -> tuple[Arr, Arr]:
    """Distance to the nearest boundary between two different gyri (power-diagram bisector,
    exact, from the candidate seeds tabulated at the nearest lookup node) and that sulcus's
    depth."""
    nx, ny, nz, kk = an.cortex_nn.shape
    st = _F(an.cortex_step)
    o = an.cortex_origin
    # a smooth warp makes the straight cell boundaries sinuous
    x, y, z = (x + _F(2.2) * np.sin(0.23 * y + 0.9) * np.cos(0.19 * z + 0.3),
               y + _F(2.2) * np.sin(0.21 * z + 2.1) * np.cos(0.17 * x + 1.3),
               z + _F(2.2) * np.sin(0.2 * x + 0.4) * np.cos(0.22 * y + 2.7))
    ix = np.clip(np.rint((x - _F(o[0])) / st), 0, nx - 1).astype(np.int64)
    iy = np.clip(np.rint((y - _F(o[1])) / st), 0, ny - 1).astype(np.int64)
    iz = np.clip(np.rint((z - _F(o[2])) / st), 0, nz - 1).astype(np.int64)
    cand = an.cortex_nn.reshape(-1, kk)[(ix * ny + iy) * nz + iz].astype(np.int64)
    valid = cand[:, 0] >= 0
    c = np.maximum(cand, 0)
    sd = an.cortex_seeds
    sx, sy, sz = sd[c, 0], sd[c, 1], sd[c, 2]
    pw = (x[:, None] - sx) ** 2 + (y[:, None] - sy) ** 2 + (z[:, None] - sz) ** 2 - an.cortex_w[c]
    rows = np.arange(x.size)
    j0 = np.argmin(pw, axis=1)
    n0 = c[rows, j0]
    p0 = pw[rows, j0]
    grp = an.cortex_group
    g0 = grp[n0]
    best = np.full(x.size, _F(99.0))
    other = np.full(x.size, -1, np.int64)
    for j in range(kk):
        nj = c[:, j]
        gj = grp[nj]
        sep = np.sqrt((sx[:, j] - sd[n0, 0]) ** 2 + (sy[:, j] - sd[n0, 1]) ** 2
                      + (sz[:, j] - sd[n0, 2]) ** 2)
        bj = (pw[:, j] - p0) / (2.0 * np.maximum(sep, _F(1e-3)))
        ok = (gj != g0) & (bj < best)
        best = np.where(ok, bj, best)
        other = np.where(ok, gj, other)
    dg = an.cortex_gdepth
    dep = np.where(other >= 0, 0.5 * (dg[g0] + dg[np.maximum(other, 0)]), _F(0.0))
    lo_g, hi_g = np.minimum(g0, other), np.maximum(g0, other)
    for ga, gb, dd in an.cortex_named:
        dep = np.where((lo_g == int(ga)) & (hi_g == int(gb)), _F(dd), dep)
    best = np.where(valid, best, _F(99.0))
    return best.astype(_F), dep.astype(_F)


def _nucleus_sdfs(an: _Anat, x: Arr, y: Arr, z: Arr, side: float) -> dict[str, Arr]:
    """Deep grey nuclei of one side as cells of a Laguerre partition inside their envelopes:
    the internal capsule is the gap left between the lentiform cell and the caudate and
    thalamus cells."""
    k = 0 if side > 0 else 1
    sh = an.nuclei_shift[k]
    cen: dict[str, Arr] = {}
    rad: dict[str, Arr] = {}
    env: dict[str, Arr] = {}
    for name, (c, r) in _NUCLEI.items():
        cc = np.array([side * c[0], c[1], c[2]]) + sh
        cen[name] = cc
        rad[name] = np.asarray(r)
        env[name] = _ellipsoid_sdf(x, y, z, cc, r)
    pw = {n: (x - _F(c[0])) ** 2 + (y - _F(c[1])) ** 2 + (z - _F(c[2])) ** 2
          - _F(float(np.prod(rad[n])) ** (2.0 / 3.0)) for n, c in cen.items()}

    def bis(i: str, j: str) -> Arr:  # positive on i's side
        return (pw[j] - pw[i]) / _F(2.0 * np.linalg.norm(cen[i] - cen[j]))

    gap = 3.0
    body = _Tube("caudate_body", np.array([[side * 15.0, -5.0, 16.0], [side * 17.0, 8.0, 20.0],
                                           [side * 20.0, 20.0, 18.0]]) + sh,
                 np.array([3.0, 2.2, 1.5])).sdf(x, y, z)
    d_lc = bis("lentiform", "caudate")
    d_lt = bis("lentiform", "thalamus")
    out = {
        "caudate": np.maximum(np.minimum(env["caudate"], body), gap + d_lc),
        "lentiform": np.maximum(env["lentiform"], gap - np.minimum(d_lc, d_lt)),
        "thalamus": np.maximum(np.maximum(env["thalamus"], gap + d_lt),
                               0.5 - bis("thalamus", "caudate")),
        "capsule": np.maximum(np.abs(np.minimum(d_lc, d_lt)) - gap - 1.0,
                              np.maximum(env["lentiform"] - 8.0,
                                         np.minimum(env["caudate"], env["thalamus"]) - 6.0)),
        "pallidum_u": np.full(x.shape, _F(cen["lentiform"][0] * side - 3.0)),
    }
    return {n: v.astype(_F, copy=False) for n, v in out.items()}


def _cerebellum(an: _Anat, x: Arr, y: Arr, z: Arr, dic: Arr) -> tuple[Arr, Arr, Arr]:
    """The cerebellum under the tentorium: its surface, folia as thin anisotropic cells (long
    across, thin front to back around the fourth ventricle) carved by fissures, cortex over a
    white core. Returns (parenchyma sdf, distance to CSF, core sdf)."""
    u = np.abs(x)
    a = _F(an.atrophy)
    zt, exists = _tentorium(an, u, y)
    ztop = np.where(exists, zt - 1.0 - 0.8 * a, _F(-13.0))
    d = np.maximum(dic + _F(an.gap) * 0.8, z - ztop)
    d = np.maximum(d, -_posterior_fossa(an, u, y))
    bs = _Tube("bs", _BRAINSTEM[:, :3], _BRAINSTEM[:, 3], stretch=(0.82, 1.0, 1.0)).sdf(x, y, z)
    d = np.maximum(d, 2.5 + 2.0 * a - bs)
    d = np.maximum(d, -_ellipsoid_sdf(x, y, z, (0.0, 31.0, -32.0), (11.0, 7.0, 11.0)))
    d = np.maximum(d, -_ellipsoid_sdf(x, y, z, (0.0, 52.0, -56.0),
                                      (8.0 + 5.0 * a, 12.0 + 4.0 * a, 7.0 + 3.0 * a)))
    cy, cz = 34.0, -30.0
    r = np.sqrt((y - cy) ** 2 + (z - cz) ** 2 + (0.5 * x) ** 2)
    # folia: thin cells along the sagittal angle around the fourth ventricle (each a lamina
    # running across), their boundaries gently warped; a random depth per cell
    period = 4.2
    phase = (np.arctan2(z - cz, y - cy) * _F(42.0 / period)
             + 0.7 * np.sin(0.13 * x + 0.04 * r + _F(an.cb_salt % 7))
             + 0.35 * np.sin(0.29 * x - 0.07 * r))
    cell = np.floor(phase)
    fr = phase - cell
    bis = (np.minimum(fr, 1.0 - fr) * _F(period)).astype(_F)
    val = _lattice(cell.astype(np.int64), np.floor(x / 25.0).astype(np.int64),
                   np.zeros(x.shape, np.int64), an.cb_salt)[:, 0]
    s = -d
    dep = np.where(val < 0.45, _F(0.0), 2.0 + 6.0 * val)
    cleft = np.maximum(bis - (0.15 + 0.4 * a), s - dep)
    dcsf = np.minimum(s, cleft)
    core = np.minimum(_ellipsoid_sdf(x, y, z, (15.0, 40.0, -31.0), (12.0, 11.0, 9.0)),
                      _ellipsoid_sdf(x, y, z, (-15.0, 40.0, -31.0), (12.0, 11.0, 9.0)))
    return np.maximum(d, -cleft).astype(_F), dcsf.astype(_F), core.astype(_F)


def _sss(an: _Anat, x: Arr, y: Arr, z: Arr, dic: Arr) -> Arr:
    """Superior sagittal sinus: triangular in section, base on the inner table in the midline,
    widening from front to back down to the torcular."""
    c = an.ell_c
    phi = np.degrees(np.arctan2(y - _F(c[1]), z - _F(c[2])))
    p_t = an.torcular - c
    phi_t = float(np.degrees(np.arctan2(p_t[1], p_t[2])))
    f = np.clip((phi + 110.0) / (phi_t + 110.0), 0.0, 1.0)
    w = _F(an.sss_w[0]) + f * _F(an.sss_w[1] - an.sss_w[0])
    h = 0.8 * w
    t = -dic
    lat = np.abs(x - _mid_x(an, y, z)) - 0.5 * w * (1.0 - t / h)
    sdf = np.maximum(-t - 0.4, np.maximum(lat * 0.8, t - h))
    return np.where((phi > -110.0) & (phi < phi_t + 2.0), sdf, _F(99.0)).astype(_F)


@dataclass
class _Fields:
    hu: Arr
    tis: Arr
    reg: Arr
    dic: Arr


def _evaluate(an: _Anat, x: Arr, y: Arr, z: Arr, eps: float,
              pre: tuple[Arr, Arr, Arr] | None = None) -> _Fields:
    """The head at canonical points: HU (partial-volume composited), tissue code, ASPECTS
    region code and distance to the inner table. ``pre`` may give the smooth
    fields (skin distance, inner-table distance, skull thickness) at the points."""
    n = x.size
    pt = _Painter(n, eps)
    hu = an.hu
    reg = np.zeros(n, np.uint8)
    dic = np.full(n, _F(99.0))
    if pre is None:
        box = ((x / 92.0) ** 2 + ((y - 2.0) / 118.0) ** 2 + ((z - 5.0) / 122.0) ** 2 < 1.0)
        H = np.nonzero(box)[0]
        hx, hy, hz = x[H], y[H], z[H]
        dhead = _lookup(an, "head", hx, hy, hz)
        keep = dhead < eps
        H, hx, hy, hz, dhead = (v[keep] for v in (H, hx, hy, hz, dhead))
        d_ic = _lookup(an, "dic", hx, hy, hz)
        tsk = np.full(d_ic.shape, _F(6.0))
        nb = np.nonzero((d_ic > -2.0) & (d_ic < 30.0))[0]
        tsk[nb] = _lookup(an, "tsk", hx[nb], hy[nb], hz[nb])
    else:
        H = np.nonzero(pre[0] < eps)[0]
        hx, hy, hz = x[H], y[H], z[H]
        dhead, d_ic, tsk = pre[0][H], pre[1][H], pre[2][H]
    if H.size == 0:
        return _Fields(pt.hu, pt.tis, reg, dic)
    dic[H] = d_ic
    # soft tissues by depth under the skin
    depth = -dhead
    t_fat = _F(an.t_skin + an.t_fat)
    val = np.where(depth < an.t_skin, _F(hu["skin"]),
                   np.where(depth < t_fat, _F(hu["fat"]), _F(hu["muscle"])))
    code = np.where(depth < an.t_skin, _T["skin"],
                    np.where(depth < t_fat, _T["fat"], _T["muscle"])).astype(np.uint8)
    pt.paint(H, dhead, val, code)
    idx = _Index(hx, hy, hz)
    # skull: tables, diploe (marrow cells), plates and sutures
    sh = np.nonzero((d_ic > -eps) & (d_ic < tsk + eps))[0]
    if sh.size:
        sd, st = d_ic[sh], tsk[sh]
        cortical = (sd < an.t_in) | (sd > st - an.t_out) | (st < an.t_in + an.t_out + 0.6)
        val = np.full(sh.size, _F(hu["bone"]))
        dp = np.nonzero(~cortical)[0]
        if dp.size:
            q = sh[dp]
            bis, cellv = _worley(hx[q], hy[q], hz[q], (2.2, 2.2, 2.2), an.bone_salt)
            val[dp] = _F(hu["diploe"]) * (0.7 + 0.6 * cellv) + 350.0 * np.exp(-bis / 0.35)
        code = np.where(cortical, _T["bone_cortical"], _T["bone_diploe"]).astype(np.uint8)
        pt.paint(H[sh], np.maximum(-sd, sd - st), val, code)
    vault = sh[hz[sh] > _floor(an, hx[sh], hy[sh]) + 4.0]
    if vault.size:
        vx, vy, vz = hx[vault], hy[vault], hz[vault]
        _, b = _plates(an, vx, vy, vz)
        serr = _F(an.suture_amp) * (np.sin(1.5 * vx + 1.3) + np.sin(1.4 * vy + 0.7)
                                     + np.sin(1.45 * vz + 2.1)) / 3.0
        sd = np.abs(b + serr) - _F(an.suture_hw)
        sd = np.maximum(sd, np.maximum(-d_ic[vault], d_ic[vault] - tsk[vault]))
        pt.paint(H[vault], sd, hu["suture"], _T["suture"])
    _paint_base(an, pt, H, hx, hy, hz, d_ic, idx)
    # the cranial cavity
    ic = np.nonzero(d_ic < eps)[0]
    if ic.size:
        _paint_intracranial(an, pt, reg, H[ic], hx[ic], hy[ic], hz[ic], d_ic[ic])
    # venous sinuses reach into their bony grooves
    near = np.nonzero(d_ic < 7.0)[0]
    if near.size:
        nx_, ny_, nz_ = hx[near], hy[near], hz[near]
        nidx = _Index(nx_, ny_, nz_)
        vhu = hu["venous"]
        for tb in an.tubes:
            if tb.kind != "sinus":
                continue
            lo, hi = tb.bbox(2.0)
            q = nidx.query(lo, hi)
            if q.size:
                pt.paint(H[near[q]], tb.sdf(nx_[q], ny_[q], nz_[q]), vhu, _T["venous_sinus"])
        top = np.nonzero((np.abs(nx_) < 9.0) & (d_ic[near] > -14.0))[0]
        if top.size:
            pt.paint(H[near[top]], _sss(an, nx_[top], ny_[top], nz_[top], d_ic[near][top]),
                     vhu, _T["venous_sinus"])
    reg[~np.isin(pt.tis, _CEREBRAL)] = 0
    return _Fields(pt.hu, pt.tis, reg, dic)


def _paint_base(an: _Anat, pt: _Painter, H: Arr, x: Arr, y: Arr, z: Arr, dic: Arr,
                idx: _Index) -> None:
    """Skull base and face: petrous pyramids, clinoids and dorsum sellae, orbits (walls, fat,
    globe, lens, nerve, recti), the paranasal sinuses, mastoid air cells (cells of air with
    bony septa), ear canals, condyles, odontoid, zygomatic arches."""
    hu = an.hu

    def draw(shape: Any, lo: Any, hi: Any, value: Any, code: int,
             cond: Any = None) -> None:
        q = idx.query(np.asarray(lo, float), np.asarray(hi, float))
        if q.size == 0:
            return
        sdf = shape(x[q], y[q], z[q])
        if cond is not None:
            sdf = np.maximum(sdf, cond(q))
        v = value(x[q], y[q], z[q]) if callable(value) else value
        pt.paint(H[q], sdf, v, code)

    def outside(q: Arr) -> Arr:
        return -dic[q] + 0.3

    def ell(c: Any, r: Any) -> Any:
        return lambda px, py, pz: _ellipsoid_sdf(px, py, pz, c, r)

    def tube(pts: Any, radii: Any) -> Any:
        tb = _Tube("t", np.asarray(pts, float), np.asarray(radii, float))
        return tb.sdf

    def cells(shape: Any, cell: float, salt: int, frac: float, wall: float = 0.35) -> Any:
        def f(px: Arr, py: Arr, pz: Arr) -> Arr:
            bis, v = _worley(px, py, pz, (cell, cell, cell), salt)
            return _f32(np.maximum(np.maximum(shape(px, py, pz), wall - bis),
                                   np.where(v < frac, _F(-99.0), _F(99.0))))
        return f

    bone, cort = hu["bone"], _T["bone_cortical"]
    air, acode = hu["sinus_air"], _T["sinus_air"]
    for side in (1.0, -1.0):
        s = side
        pet = tube([[s * 15, -4, -34], [s * 50, 26, -40]], [5.0, 11.0])
        draw(pet, (min(s * 15, s * 50) - 12, -16, -52), (max(s * 15, s * 50) + 12, 38, -22),
             hu["petrous"], cort, outside)
        mast = ell((s * 50, 28, -46), (11, 13, 12))
        draw(mast, (s * 50 - 12, 14, -59), (s * 50 + 12, 42, -33), bone, cort, outside)
        draw(cells(mast, 3.0, an.air_salt + 11, an.mastoid_pneum, 0.3),
             (s * 50 - 12, 14, -59), (s * 50 + 12, 42, -33), air, acode, outside)
        draw(tube([[s * 78, 12, -44], [s * 54, 12, -42]], [3.5, 3.0]),
             (min(s * 78, s * 54) - 5, 7, -49), (max(s * 78, s * 54) + 5, 17, -37), air, acode,
             lambda q: -dic[q] + 0.3)
        draw(ell((s * 44, 10, -40), (3.0, 3.0, 3.0)), (s * 44 - 4, 6, -44), (s * 44 + 4, 14, -36),
             air, acode, outside)
        # orbit: walls, fat, globe, lens, optic nerve, recti
        cone = tube([[s * 13, -40, -36], [s * 32, -80, -38]], [3.0, 17.0])
        olo = (min(s * 13, s * 32) - 20, -100, -58)
        ohi = (max(s * 13, s * 32) + 20, -34, -18)
        draw(cone, olo, ohi, bone, cort, lambda q: np.maximum(outside(q), -75.0 - y[q]))
        draw(lambda px, py, pz, c=cone: c(px, py, pz) + 1.6, olo, ohi, hu["orbital_fat"],
             _T["orbital_fat"], outside)
        for a_, b_, r_ in (((s * 16, -42, -36), (s * 43, -70, -38), 2.3),
                           ((s * 12, -42, -36), (s * 21, -70, -38), 2.3),
                           ((s * 14, -42, -32), (s * 32, -70, -27), 2.0),
                           ((s * 14, -42, -40), (s * 32, -70, -49), 2.0),
                           ((s * 30, -63, -38), (s * 15, -42, -36), 2.2)):
            draw(tube([a_, b_], [r_, r_]), olo, ohi, hu["muscle"], _T["muscle"], outside)
        draw(ell((s * 32, -74, -38), (11.5, 11.5, 11.5)), olo, ohi, hu["globe"], _T["globe"])
        draw(ell((s * 32, -84.5, -38), (4.2, 1.8, 4.2)), olo, ohi, hu["lens"], _T["lens"])
        # maxillary sinus
        mx = ell((s * 28, -62, -66), (13, 16, 15))
        draw(lambda px, py, pz, m=mx: m(px, py, pz) - 1.5, (s * 28 - 16, -80, -83),
             (s * 28 + 16, -44, -49), bone, cort, outside)
        draw(mx, (s * 28 - 16, -80, -83), (s * 28 + 16, -44, -49), air, acode, outside)
        # occipital condyles, C1 lateral masses, zygomatic arch, mandibular condyle
        draw(ell((s * 17, 10, -66), (7, 8, 6)), (s * 17 - 8, 0, -74), (s * 17 + 8, 20, -58),
             bone, cort, outside)
        draw(ell((s * 22, 8, -78), (8, 9, 5)), (s * 22 - 9, -2, -85), (s * 22 + 9, 18, -71),
             bone, cort, outside)
        draw(tube([[s * 60, -40, -48], [s * 66, -2, -46]], [3.5, 3.5]),
             (min(s * 60, s * 66) - 5, -45, -53), (max(s * 60, s * 66) + 5, 3, -41), bone, cort)
        draw(ell((s * 52, 6, -52), (5, 6, 8)), (s * 52 - 6, -1, -61), (s * 52 + 6, 13, -43),
             bone, cort, outside)
        for c_ in ((s * 7, -2.2, -21.0), (s * 11, -17.0, -24.0)):
            draw(ell(c_, (2.2, 2.4, 2.0)), (c_[0] - 4, c_[1] - 4, c_[2] - 4),
                 (c_[0] + 4, c_[1] + 4, c_[2] + 4), bone, cort)
    draw(lambda px, py, pz: np.maximum(np.maximum(np.abs(px) - 8.0, np.abs(py + 2.2) - 1.3),
                                       np.abs(pz + 27.0) - 6.0),
         (-9, -4, -34), (9, 0, -20), bone, cort)
    # frontal sinus (within the thickened frontal bone), ethmoid cells, sphenoid, nasal cavity
    fs = ell((0.0, -89.0, -6.0), (16.0, 4.5, 11.0))
    draw(cells(fs, 6.0, an.air_salt + 1, 1.0, 0.25), (-17, -95, -18), (17, -83, 6), air, acode,
         lambda q: 1.4 - dic[q])
    def eth(px: Arr, py: Arr, pz: Arr) -> Arr:
        return np.maximum(np.maximum(np.abs(px) - 11.0, np.abs(py + 63.0) - 17.0),
                          np.abs(pz + 40.5) - 13.5)

    draw(eth, (-12, -81, -55), (12, -45, -26), bone, cort, outside)
    draw(cells(eth, 4.0, an.air_salt + 2, 0.92, 0.3), (-12, -81, -55), (12, -45, -26), air, acode,
         lambda q: -dic[q] + 1.0)
    sph = ell((0.0, -20.0, -44.0), (13.0, 11.0, 9.0))
    draw(lambda px, py, pz: sph(px, py, pz) - 1.5, (-15, -33, -55), (15, -7, -33), bone, cort,
         outside)
    draw(cells(sph, 8.0, an.air_salt + 3, 1.0, 0.35), (-15, -33, -55), (15, -7, -33), air, acode,
         lambda q: -dic[q] + 1.0)
    def nasal(px: Arr, py: Arr, pz: Arr) -> Arr:
        return np.maximum(np.maximum(np.maximum(np.abs(px) - 12.0, np.abs(py + 68.0) - 24.0),
                                     np.maximum(pz + 54.0, -95.0 - pz)), 1.2 - np.abs(px))

    draw(nasal, (-13, -93, -96), (13, -43, -53), air, acode, outside)
    draw(ell((0.0, -12.0, -72.0), (11.0, 8.0, 8.0)), (-12, -21, -81), (12, -3, -63), air, acode,
         outside)
    draw(ell((0.0, 6.0, -74.0), (5.0, 5.5, 8.0)), (-6, 0, -83), (6, 12, -65), bone, cort, outside)
    draw(ell((0.0, -5.0, -73.0), (9.0, 4.0, 4.0)), (-10, -10, -78), (10, 0, -68), bone, cort,
         outside)


def _paint_intracranial(an: _Anat, pt: _Painter, reg: Arr, gi: Arr, x: Arr, y: Arr, z: Arr,
                        dic: Arr) -> None:
    """Contents of the cranial cavity, back to front: CSF, dura, cerebral gyri (cortical cells
    carved by sulci), corpus callosum, brainstem, deep nuclei, cerebellum, ventricles, choroid
    plexus, pineal, pituitary, arteries and veins; and the ASPECTS regions."""
    hu = an.hu
    eps = pt.eps
    u = np.abs(x)
    pt.paint(gi, dic, hu["csf"], _T["csf"])
    idx = _Index(x, y, z)
    # dura: falx cerebri and tentorium cerebelli
    xm = _mid_x(an, y, z)
    zt, exists = _tentorium(an, u, y)
    zt0, _ = _tentorium(an, np.zeros_like(u), y)
    falx = np.maximum(np.abs(x - xm) - 0.5, _falx_edge(y) - z)
    falx = np.where(y > 30.0, np.maximum(falx, zt0 - z), falx)
    tent = np.where(exists, np.abs(z - zt) - 0.5, _F(99.0))
    pt.paint(gi, np.minimum(falx, tent), hu["dura"], _T["dura"])
    # cerebral hemispheres: gyral cells, sulci at their boundaries, grey ribbon, white core
    dh = _hemisphere(an, x, y, z, dic)
    C = np.nonzero(dh < eps)[0]
    if C.size:
        cx, cy, cz = x[C], y[C], z[C]
        b, dep = _cortex_lookup(an, cx, cy, cz)
        s = -dh[C]
        hw = _F(an.sulc_hw) + 0.5 * np.clip(1.0 - s / 4.0, 0.0, 1.0)
        cleft = np.maximum(b - hw, s - dep)
        syl = _sylvian(an, cx, cy, cz)
        dcsf = np.minimum(np.minimum(s, cleft), syl)
        sdf = np.maximum(np.maximum(dh[C], -cleft), -syl)
        t = _smoothstep((dcsf - _F(an.ribbon)) / _F(eps) + 0.5)
        val = _F(hu["grey"]) + _F(hu["white"] - hu["grey"]) * t
        code = np.where(dcsf < an.ribbon, _T["grey_matter"], _T["white_matter"]).astype(np.uint8)
        ui, e = _insula_u(an, cy, cz)
        cu = np.abs(cx)
        ins = (code == _T["grey_matter"]) & (cu < ui + 0.5) & (cu > ui - 7.0) & (e < 1.1)
        code[ins] = _T["insula"]
        pt.paint(gi[C], sdf, val, code)
        # ASPECTS cortical regions M1-M6: MCA cortex and subjacent white matter by sector
        theta = np.degrees(np.arctan2(cy + 4.0, cu - 18.0))
        sector = np.where(theta < -28.0, 0, np.where(theta <= 28.0, 1, 2))
        in_mca = (theta > -75.0) & (theta < 72.0) & (s < 22.0) & (cu > 20.0)
        gang = (cz >= -14.0) & (cz <= 12.0)
        supra = (cz > 12.0) & (cz <= 36.0)
        rcode = np.where(gang, 5 + sector, 8 + sector)  # M1=5.. M4=8 (1-based in ASPECTS)
        side_off = np.where(cx > 0, 0, 10)
        mreg = in_mca & (gang | supra)
        reg[gi[C][mreg]] = (rcode[mreg] + side_off[mreg]).astype(np.uint8)
        ins_i = np.nonzero(ins & (cz > -16.0) & (cz < 18.0))[0]
        reg[gi[C][ins_i]] = (4 + side_off[ins_i]).astype(np.uint8)

    def draw(tb: _Tube, value: float, code: int) -> None:
        lo, hi = tb.bbox(2.0)
        q = idx.query(lo, hi)
        if q.size:
            pt.paint(gi[q], tb.sdf(x[q], y[q], z[q]), value, code)

    for tb in an.tubes:
        if tb.kind == "callosum":
            draw(tb, hu["white"], _T["white_matter"])
    for tb in an.tubes:
        if tb.kind == "brainstem":
            draw(tb, hu["brainstem"], _T["brainstem"])
    # deep grey nuclei (Laguerre cells) and the internal capsule between them
    q = idx.query(np.array([-36.0, -32.0, -16.0]), np.array([36.0, 34.0, 28.0]))
    for side in (1.0, -1.0):
        qs = q[(x[q] > 0) == (side > 0)]
        if qs.size == 0:
            continue
        qx, qy, qz = x[qs], y[qs], z[qs]
        nd = _nucleus_sdfs(an, qx, qy, qz, side)
        pt.paint(gi[qs], nd["caudate"], hu["caudate"], _T["caudate"])
        pal = np.abs(qx) < nd["pallidum_u"]
        pt.paint(gi[qs], nd["lentiform"], np.where(pal, _F(hu["pallidum"]), _F(hu["putamen"])),
                 np.where(pal, _T["pallidum"], _T["putamen"]).astype(np.uint8))
        pt.paint(gi[qs], nd["thalamus"], hu["thalamus"], _T["thalamus"])
        off = 0 if side > 0 else 10
        tis = pt.tis[gi[qs]]
        reg[gi[qs][(tis == _T["white_matter"]) & (nd["capsule"] < 0) & (qz > -9.0)
                  & (qz < 14.0)]] = 3 + off
        reg[gi[qs][(tis == _T["caudate"]) & (qz < 14.0)]] = 1 + off
        reg[gi[qs][(tis == _T["putamen"]) | (tis == _T["pallidum"])]] = 2 + off
        reg[gi[qs][tis == _T["thalamus"]]] = 0
    # cerebellum
    qc = idx.query(np.array([-75.0, -5.0, -80.0]), np.array([75.0, 100.0, 10.0]))
    qc = qc[_posterior_fossa(an, u[qc], y[qc]) > -3.0]
    if qc.size:
        sdf, dcsf, core = _cerebellum(an, x[qc], y[qc], z[qc], dic[qc])
        inner = _smoothstep((dcsf - 3.5) / _F(eps) + 0.5) * _alpha(core, eps)
        val = _F(hu["cerebellar_cortex"]) \
            + _F(hu["cerebellar_white"] - hu["cerebellar_cortex"]) * inner
        code = np.where((dcsf > 3.5) & (core < 0), _T["cerebellar_white"],
                        _T["cerebellar_cortex"]).astype(np.uint8)
        pt.paint(gi[qc], sdf, val, code)
    # ventricles
    vh = hu["ventricle"]
    for tb in an.vent_tubes:
        lo, hi = tb.bbox(2.0)
        qv = idx.query(lo, hi)
        if qv.size:
            sdf = tb.sdf(x[qv], y[qv], z[qv])
            if tb.name.startswith("lateral"):
                sdf = np.maximum(sdf, 1.0 - np.abs(x[qv] - xm[qv]))
            pt.paint(gi[qv], sdf, vh, _T["ventricle"])
    for c_, r_ in (((0.0, 3.0, -1.0), (an.third_hw, 14.0, 10.0)),
                   ((0.0, 31.0, -32.0), (8.0, 3.5, 8.0))):
        qv = idx.query(np.asarray(c_) - np.asarray(r_) - 2, np.asarray(c_) + np.asarray(r_) + 2)
        if qv.size:
            pt.paint(gi[qv], _ellipsoid_sdf(x[qv] - xm[qv], y[qv], z[qv], c_, r_), vh,
                     _T["ventricle"])
    # choroid plexus glomera, pineal, pituitary
    for k, side in enumerate((1.0, -1.0)):
        c_ = (side * (21.0 + 1.5 * (an.vent_scale[k] - 1.0)), 30.0, 9.0)
        qv = idx.query(np.asarray(c_) - 6, np.asarray(c_) + 6)
        if qv.size:
            pt.paint(gi[qv], _ellipsoid_sdf(x[qv], y[qv], z[qv], c_, (3.5, 5.0, 3.0)),
                     hu["choroid"], _T["choroid_plexus"])
    for c_, r_, v_, code_ in (((0.0, 28.0, 1.0), (3.5, 4.0, 3.0), hu["pineal"], _T["pineal"]),
                              ((0.0, -9.0, -30.0), (6.0, 4.5, 3.0), hu["pituitary"],
                               _T["pituitary"])):
        qv = idx.query(np.asarray(c_) - 7, np.asarray(c_) + 7)
        if qv.size:
            pt.paint(gi[qv], _ellipsoid_sdf(x[qv] - xm[qv], y[qv], z[qv], c_, r_), v_, code_)
    # vessels in the cisterns and sulci; cavernous sinuses beside the sella
    for tb in an.tubes:
        if tb.kind == "artery":
            draw(tb, hu["arterial"], _T["artery"])
        elif tb.kind == "vein":
            draw(tb, hu["venous"], _T["vein"])
    for side in (1.0, -1.0):
        c_ = (side * 12.0, -10.0, -34.0)
        qv = idx.query(np.asarray(c_) - 11, np.asarray(c_) + 11)
        if qv.size:
            pt.paint(gi[qv], _ellipsoid_sdf(x[qv], y[qv], z[qv], c_, (4.0, 9.0, 5.0)),
                     hu["venous"], _T["venous_sinus"])


# ----------------------------------------------------------------------------------------------
# acquisition: pose, geometry, reconstruction, artefacts (label independent)
# ----------------------------------------------------------------------------------------------

_KERNELS = {  # class: (names, PSF FWHM range mm, NPS cut-off range cycles/mm)
    "soft": (("Hr32", "H31s", "FC21", "SOFT", "J30s"), (1.05, 1.40), (0.26, 0.36)),
    "standard": (("Hr38", "H40s", "FC26", "STANDARD", "UB", "Br38"), (0.80, 1.05), (0.38, 0.50)),
    "sharp": (("Hr49", "H60s", "FC35", "DETAIL", "Hr56"), (0.55, 0.75), (0.65, 0.95)),
}
_THICKNESSES = (0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 4.0, 5.0)
_THICKNESS_P = (0.04, 0.04, 0.07, 0.05, 0.25, 0.15, 0.10, 0.30)


@dataclass
class _Physics:
    fov: float
    thickness: float
    kernel: str
    kernel_class: str
    psf_fwhm: float
    nps_fc: float
    recon: str
    ir_level: float
    noise_sd: float
    yaw: float
    roll: float
    head_pitch: float
    gantry_tilt: float
    shift: Arr
    table_z: float
    cupping: float
    rim: float
    hounsfield_bar: float
    streaks: int
    overshoot: float
    offset: float
    motion: dict[str, float] | None
    headrest: dict[str, float] | None
    bottom_margin: float


def _draw_physics(seed: int) -> _Physics:
    """Scanner, protocol and patient positioning of one case (never from the label)."""
    rng = _rng(seed, 2)
    t = float(rng.choice(_THICKNESSES, p=_THICKNESS_P))
    kc = str(rng.choice(["soft", "standard", "sharp"], p=[0.35, 0.5, 0.15]))
    names, fw, fc = _KERNELS[kc]
    recon = "IR" if rng.random() < 0.45 else "FBP"
    sd_lo, sd_hi = {"soft": (2.0, 4.0), "standard": (2.5, 5.0), "sharp": (4.0, 6.0)}[kc]
    tilt = 0.0 if rng.random() < 0.5 else float(rng.uniform(-5.0, 20.0))
    head_pitch = float(np.clip(rng.normal(3.0, 6.0), -12.0, 15.0))
    if abs(head_pitch + tilt) > 22.0:
        tilt = float(np.sign(tilt) * max(0.0, 22.0 - abs(head_pitch)))
    motion = None
    if rng.random() < 0.08:
        motion = {"start_fraction": float(rng.uniform(0.05, 0.8)),
                  "slices": float(rng.integers(1, 5)), "shift_mm": float(rng.uniform(1.5, 4.0)),
                  "angle_deg": float(rng.uniform(0.0, 360.0)),
                  "weight": float(rng.uniform(0.25, 0.45))}
    headrest = None
    if rng.random() < 0.8:
        headrest = {"gap_mm": float(rng.uniform(2.0, 9.0)), "wall_mm": float(rng.uniform(2.5, 5.0))}
    return _Physics(
        fov=float(rng.uniform(220.0, 250.0)), thickness=t, kernel=str(rng.choice(names)),
        kernel_class=kc, psf_fwhm=float(rng.uniform(*fw)), nps_fc=float(rng.uniform(*fc)),
        recon=recon, ir_level=float(rng.uniform(0.4, 1.0)) if recon == "IR" else 0.0,
        noise_sd=float(rng.uniform(sd_lo, sd_hi)),
        yaw=float(rng.uniform(-10.0, 10.0)), roll=float(rng.uniform(-8.0, 8.0)),
        head_pitch=head_pitch, gantry_tilt=tilt,
        shift=np.array([rng.uniform(-8.0, 8.0), rng.uniform(-10.0, 12.0), 0.0]),
        table_z=float(rng.uniform(-60.0, 60.0)),
        cupping=float(rng.uniform(0.0, 2.5)), rim=float(rng.uniform(0.0, 5.0)),
        hounsfield_bar=float(rng.uniform(0.0, 28.0) if rng.random() < 0.85 else 0.0),
        streaks=int(rng.integers(0, 5)), overshoot=float(rng.uniform(0.2, 0.45))
        if kc == "sharp" else 0.0,
        offset=float(rng.uniform(-1.5, 1.5)), motion=motion, headrest=headrest,
        bottom_margin=float(rng.uniform(0.0, 5.0)))


def _rotation(yaw: float, roll: float, pitch: float) -> Arr:
    """Head rotation: yaw about z, roll about y, pitch about x (positive = chin down)."""
    a, b, c = np.radians([yaw, roll, pitch])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return np.asarray(rz @ ry @ rx)


@dataclass
class _Geometry:
    """Scanner geometry: canonical -> patient LPS is p = R (scale * c) + t."""

    rot: Arr
    t: Arr
    scale: Arr
    fov: float
    matrix: int
    n_obj: int
    thickness: float
    n_sub: int
    margin: int
    n_out: int
    z0: float  # LPS z of the first output slice
    x0: float  # LPS x of the first column (pixel centre)
    y0: float

    @property
    def pixel(self) -> float:
        return self.fov / self.matrix

    @property
    def obj_pixel(self) -> float:
        return self.fov / self.n_obj

    @property
    def dz_obj(self) -> float:
        """Object sub-slice spacing: the slice split in n_sub, and never under 1 mm (thinner
        series are sampled from a 1-mm object)."""
        return max(self.thickness / self.n_sub, 1.0)

    @property
    def nz_obj(self) -> int:
        span = (self.n_out - 1) * self.thickness + (self.n_sub - 1) * self.dz_obj
        return int(round(span / self.dz_obj)) + 1 + 2 * self.margin

    def obj_z(self) -> Arr:
        first = self.z0 - 0.5 * (self.n_sub - 1) * self.dz_obj - self.margin * self.dz_obj
        return first + self.dz_obj * np.arange(self.nz_obj)

    def centre_slices(self) -> Arr:
        """Object sub-slice nearest to the centre of each output slice."""
        zc = self.z0 + self.thickness * np.arange(self.n_out)
        k = np.rint((zc - self.obj_z()[0]) / self.dz_obj - 1e-6).astype(int)
        return np.asarray(np.clip(k, 0, self.nz_obj - 1))

    def obj_xy(self) -> tuple[Arr, Arr]:
        p = self.obj_pixel
        c = (np.arange(self.n_obj) + 0.5) * p - 0.5 * self.fov
        return c + (self.x0 - (0.5 * self.pixel - 0.5 * self.fov)), \
            c + (self.y0 - (0.5 * self.pixel - 0.5 * self.fov))

    def to_canonical(self, xs: Arr, ys: Arr, zs: Arr) -> tuple[Arr, Arr, Arr]:
        """Patient LPS (mm) to canonical head coordinates."""
        r = (self.rot / self.scale[None, :]).astype(_F)
        dx, dy, dz = xs - _F(self.t[0]), ys - _F(self.t[1]), zs - _F(self.t[2])
        cx = r[0, 0] * dx + r[1, 0] * dy + r[2, 0] * dz
        cy = r[0, 1] * dx + r[1, 1] * dy + r[2, 1] * dz
        cz = r[0, 2] * dx + r[1, 2] * dy + r[2, 2] * dz
        return _f32(cx), _f32(cy), _f32(cz)

    def to_patient(self, c: Arr) -> Arr:
        """Canonical (N, 3) to patient LPS (N, 3)."""
        return np.asarray((self.rot @ (np.atleast_2d(c) * self.scale).T).T + self.t)


def _geometry(an: _Anat, ph: _Physics, matrix: int) -> _Geometry:
    """Place the posed head in the field of view and choose the slices: from below the
    foramen magnum and the orbits to just above the vertex."""
    rot = _rotation(ph.yaw, ph.roll, ph.head_pitch + ph.gantry_tilt)
    g = an.lk["head"]
    st = an.lk_step
    ii = np.argwhere(g < 0)
    pts = an.lk_origin + st * ii
    geo0 = _Geometry(rot, np.zeros(3), an.scale, ph.fov, matrix, 1, ph.thickness, 1, 0, 1, 0.0,
                     0.0, 0.0)
    posed = geo0.to_patient(pts)
    land = np.array([[0.0, 24.0, -62.0], [32.0, -74.0, -50.0], [-32.0, -74.0, -50.0],
                     [0.0, 30.0, -66.0]])
    bottom = float(geo0.to_patient(land)[:, 2].min()) - ph.bottom_margin
    top = float(posed[:, 2].max()) - 2.0
    inside = posed[(posed[:, 2] > bottom - 5.0)]
    lo, hi = inside.min(axis=0), inside.max(axis=0)
    centre = 0.5 * (lo + hi)
    extent = hi - lo
    fov = float(min(250.0, max(ph.fov, max(extent[0], extent[1]) + 14.0)))
    room = np.maximum(0.0, 0.5 * (fov - extent[:2]) - 5.0)
    shift = np.clip(ph.shift[:2], -room, room)
    t = np.array([shift[0] - centre[0], shift[1] - centre[1], ph.table_z])
    bottom += t[2]
    top += t[2]
    tk = ph.thickness
    n_out = int(math.ceil((top - bottom) / tk)) + 1
    n_out = min(n_out, 256)
    n_sub = max(1, int(math.ceil(tk / 1.7 - 1e-6)))
    n_obj = int(min(256, max(128, matrix)))
    pixel = fov / matrix
    x0 = -0.5 * fov + 0.5 * pixel
    return _Geometry(rot, t, an.scale, fov, matrix, n_obj, tk, n_sub, n_sub // 2 + 2, n_out,
                     bottom, x0, x0)


def _ssp_matrix(geo: _Geometry) -> sparse.csr_matrix:
    """Slice sensitivity profile: a rectangle of the slice thickness smoothed by a Gaussian
    (sigma 0.2 T), integrated over each thin object slab."""
    zo = geo.obj_z()
    dz = geo.dz_obj
    tk = geo.thickness
    sig = 0.2 * tk
    zc = geo.z0 + tk * np.arange(geo.n_out)
    sub = (np.arange(8) + 0.5) / 8.0 - 0.5
    v = zo[None, :, None] + sub[None, None, :] * dz - zc[:, None, None]
    s2 = math.sqrt(2.0) * sig
    w = 0.5 * (special.erf((v + tk / 2) / s2) - special.erf((v - tk / 2) / s2))
    w = w.mean(axis=2)
    w[w < 1e-4] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return sparse.csr_matrix(w.astype(np.float32))


# ----------------------------------------------------------------------------------------------
# lesions: acute haemorrhage, early ischaemic change, mimics (drawn from the label's streams)
# ----------------------------------------------------------------------------------------------

@dataclass
class _Cavity:
    """The object-grid voxels inside the cranial cavity, where lesions are drawn."""

    gidx: Arr  # flat index into the object grid
    x: Arr
    y: Arr
    z: Arr
    dic: Arr
    tis: Arr  # tissue after the anatomy (before lesions)
    ys: Arr  # patient y (posterior): gravity points along +y in a supine patient
    vox_ml: float
    eps: float

    def sub(self, q: Arr) -> tuple[Arr, Arr, Arr]:
        return self.x[q], self.y[q], self.z[q]


@dataclass
class _Blood:
    kind: str
    q: Arr  # indices into the cavity arrays
    alpha: Arr
    hu: Arr
    info: dict[str, Any]
    oedema_q: Arr | None = None
    oedema_drop: Arr | None = None


def _target_ml(rng: np.random.Generator, cap: float) -> float:
    """Bleed volume: about a fifth small (1-3 mL), the rest log-uniform from 3 mL to the cap."""
    if rng.random() < 0.22:
        return float(rng.uniform(1.0, 3.0))
    return float(np.exp(rng.uniform(np.log(3.0), np.log(cap))))


def _clot_draw(rng: np.random.Generator) -> dict[str, Any]:
    """Density of an acute clot and its texture: most 55-88 HU, a minority hyperacute or
    anaemic (45-55 HU); sometimes a swirl (unclotted islands) or a haematocrit level."""
    hyper = rng.random() < 0.15
    return {"hu": float(rng.uniform(45.0, 55.0) if hyper else rng.uniform(55.0, 88.0)),
            "hyperacute_or_anaemic": bool(hyper),
            "swirl": bool(rng.random() < (0.45 if hyper else 0.15)),
            "swirl_drop": float(rng.uniform(14.0, 24.0)),
            "fluid_level": bool(rng.random() < 0.1),
            "level_high": float(rng.uniform(70.0, 90.0)),
            "level_low": float(rng.uniform(32.0, 48.0)),
            "level_fraction": float(rng.uniform(0.3, 0.6)), "salt": int(rng.integers(1, 2 ** 20))}


def _clot_hu(cav: _Cavity, q: Arr, alpha: Arr, c: dict[str, Any]) -> Arr:
    x, y, z = cav.sub(q)
    _, v = _worley(x, y, z, (4.0, 4.0, 4.0), c["salt"])
    hu = _F(c["hu"]) + 6.0 * (v - 0.5)
    if c["swirl"]:
        _, v2 = _worley(x, y, z, (5.0, 5.0, 5.0), c["salt"] + 5)
        hu = np.where(v2 < 0.3, hu - _F(c["swirl_drop"]), hu)
    if c["fluid_level"]:
        inside = alpha > 0.5
        if np.any(inside):
            lvl = float(np.quantile(cav.ys[q][inside], 1.0 - c["level_fraction"]))
            c["level_patient_y_mm"] = lvl
            hu = np.where(cav.ys[q] > lvl, _F(c["level_high"]), _F(c["level_low"])) \
                + 3.0 * (v - 0.5)
    return hu.astype(_F)


def _calibrate(vol: Any, target: float, lo: float, hi: float, log: bool = True,
               increasing: bool = True) -> float:
    """Bisection for the shape parameter giving the target volume."""
    def f(s: float) -> float:
        v = float(vol(s))
        return v - target if increasing else target - v
    if f(hi) <= 0:
        return hi
    if f(lo) >= 0:
        return lo
    for _ in range(20):
        mid = math.sqrt(lo * hi) if log else 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi) if log else 0.5 * (lo + hi)


def _pick_point(an: _Anat, rng: np.random.Generator, lo: Any, hi: Any, tissues: tuple[int, ...],
                max_dic: float = -6.0, tries: int = 96) -> Arr | None:
    """A random canonical point in a box whose tissue is one of ``tissues`` (grid independent)."""
    a, b = np.asarray(lo, float), np.asarray(hi, float)
    p = rng.uniform(np.minimum(a, b), np.maximum(a, b), (tries, 3))
    f = _evaluate(an, _f32(p[:, 0]), _f32(p[:, 1]), _f32(p[:, 2]), 0.5)
    ok = np.nonzero(np.isin(f.tis, tissues) & (f.dic < max_dic))[0]
    return None if ok.size == 0 else np.asarray(p[ok[0]])


def _ray_dic(an: _Anat, d: Arr, offset: float = 0.0) -> Arr:
    def fn(px: Arr, py: Arr, pz: Arr) -> Arr:
        return _cranium(an, px, py, pz) + _F(offset)
    return np.asarray(_ray_to(fn, an.ell_c, np.atleast_2d(d))[0])


def _bleed_intraparenchymal(an: _Anat, cav: _Cavity, rng: np.random.Generator) -> _Blood:
    loc = str(rng.choice(["putamen", "thalamus", "lobar", "cerebellum", "pons"],
                         p=[0.32, 0.14, 0.32, 0.12, 0.10]))
    side = 1.0 if rng.random() < 0.5 else -1.0
    k = 0 if side > 0 else 1
    cerebral = _CEREBRAL
    if loc == "putamen":
        c = np.array([side * 24.0, -3.0, 1.0]) + an.nuclei_shift[k] + rng.normal(0, 1.5, 3)
        allowed, cap = _PARENCHYMA, 60.0
    elif loc == "thalamus":
        c = np.array([side * 10.5, 11.0, 4.0]) + an.nuclei_shift[k] + rng.normal(0, 1.2, 3)
        allowed, cap = _PARENCHYMA, 30.0
    elif loc == "cerebellum":
        p = _pick_point(an, rng, (side * 10, 40, -44), (side * 34, 64, -22),
                        (_T["cerebellar_cortex"], _T["cerebellar_white"]))
        c = p if p is not None else np.array([side * 20.0, 48.0, -32.0])
        allowed, cap = (_T["cerebellar_cortex"], _T["cerebellar_white"]), 40.0
    elif loc == "pons":
        c = np.array([rng.normal(0, 1.5), 16.0, -24.0 + rng.normal(0, 3.0)])
        allowed, cap = (_T["brainstem"],), 10.0
    else:
        p = _pick_point(an, rng, (side * 22, -55, -10), (side * 52, 55, 50),
                        (_T["white_matter"],), max_dic=-12.0)
        c = p if p is not None else np.array([side * 30.0, 10.0, 25.0])
        allowed, cap = cerebral, 60.0
    target = _target_ml(rng, cap)
    nl = int(rng.integers(3, 7))
    off = rng.normal(0, 1, (nl, 3))
    off *= (rng.uniform(0.0, 0.55, nl) / np.linalg.norm(off, axis=1))[:, None]
    rad = rng.uniform(0.55, 1.0, nl)
    aniso = np.exp(rng.normal(0.0, 0.15, 3))
    if loc == "putamen":
        aniso[1] *= 1.3
    aniso /= np.prod(aniso) ** (1.0 / 3.0)
    clot = _clot_draw(rng)
    w_oed = float(rng.uniform(2.0, 5.0))
    drop_oed = float(rng.uniform(3.0, 7.0))
    q = np.nonzero((np.abs(cav.x - c[0]) < 50) & (np.abs(cav.y - c[1]) < 50)
                   & (np.abs(cav.z - c[2]) < 50))[0]
    ok = np.isin(cav.tis[q], allowed)
    x, y, z = cav.sub(q)
    qx, qy, qz = (x - _F(c[0])) / _F(aniso[0]), (y - _F(c[1])) / _F(aniso[1]), \
        (z - _F(c[2])) / _F(aniso[2])
    base_r = 10.0

    def sdf(s: float) -> Arr:
        d = np.full(q.size, np.inf, _F)
        for o, r in zip(off, rad, strict=True):
            dd = np.sqrt((qx - _F(s * base_r * o[0])) ** 2 + (qy - _F(s * base_r * o[1])) ** 2
                         + (qz - _F(s * base_r * o[2])) ** 2) - _F(s * base_r * r)
            np.minimum(d, dd, out=d)
        return d * _F(aniso.min())

    def vol(s: float) -> float:
        return float(np.sum(_alpha(sdf(s), cav.eps)[ok])) * cav.vox_ml

    s = _calibrate(vol, target, 0.03, 6.0)
    d = sdf(s)
    alpha = np.where(ok, _alpha(d, cav.eps), _F(0.0))
    hu = _clot_hu(cav, q, alpha, clot)
    rim = ok & (d > 0) & (d < w_oed * (0.6 + 0.2 * s))
    info = {"location": loc, "side": "left" if side > 0 else "right",
            "centre_canonical_mm": [round(float(v), 1) for v in c], "target_ml": target,
            "oedema_rim_mm": w_oed, "oedema_drop_hu": drop_oed, **clot}
    return _Blood("intraparenchymal", q, alpha, hu, info, q[rim],
                  _F(drop_oed) * (1.0 - d[rim] / _F(w_oed * (0.6 + 0.2 * s))))


def _bleed_intraventricular(an: _Anat, cav: _Cavity, rng: np.random.Generator) -> _Blood:
    variant = "layering" if rng.random() < 0.6 else "cast"
    side = 1.0 if rng.random() < 0.5 else -1.0
    target = _target_ml(rng, 80.0)
    clot = _clot_draw(rng)
    clot["fluid_level"] = False
    clot["swirl"] = False
    vent = np.isin(cav.tis, (_T["ventricle"], _T["choroid_plexus"]))
    if variant == "cast":
        vent &= (cav.x * side > -2.0) | (np.abs(cav.x) < 6.0)
    q = np.nonzero(vent)[0]
    ys = cav.ys[q]
    if q.size == 0:
        return _Blood("intraventricular", q, np.zeros(0, _F), np.zeros(0, _F),
                      {"variant": variant, "target_ml": target})
    lo, hi = float(ys.min()) - 3.0, float(ys.max()) + 3.0

    def vol(level: float) -> float:
        return float(np.sum(_alpha(_F(level) - ys, cav.eps))) * cav.vox_ml

    level = _calibrate(vol, min(target, 0.95 * vol(lo)), lo, hi, log=False, increasing=False)
    alpha = _alpha(_F(level) - ys, cav.eps)
    hu = _clot_hu(cav, q, alpha, clot)
    info = {"variant": variant, "side": ("left" if side > 0 else "right") if variant == "cast"
            else "both", "target_ml": target, "level_patient_y_mm": level, **clot}
    return _Blood("intraventricular", q, alpha, hu, info)


def _bleed_subarachnoid(an: _Anat, cav: _Cavity, rng: np.random.Generator) -> _Blood:
    variant = str(rng.choice(["aneurysmal", "perimesencephalic", "convexity", "traumatic"],
                             p=[0.55, 0.15, 0.2, 0.1]))
    side = 1.0 if rng.random() < 0.5 else -1.0
    src: list[tuple[Arr, float, float]] = []
    if variant == "aneurysmal":
        src.append((np.array([0.0, -11.0, -17.0]), 10.0, 1.0))
        src.append((np.array([side * 30.0, -8.0, -8.0]), 11.0, 0.9))
        if rng.random() < 0.6:
            src.append((np.array([-side * 30.0, -8.0, -8.0]), 9.0, 0.7))
        if rng.random() < 0.6:
            src.append((np.array([0.0, -36.0, 0.0]), 9.0, 0.8))
    elif variant == "perimesencephalic":
        src.append((np.array([0.0, 4.0, -20.0]), 7.0, 1.0))
        src.append((np.array([side * 13.0, 14.0, -8.0]), 6.0, 0.8))
    else:
        d = np.array([side * rng.uniform(0.5, 1.0), rng.uniform(-0.7, 0.6), rng.uniform(0.1, 0.9)])
        p = _ray_dic(an, d, an.gap)
        src.append((p, 10.0, 1.0))
        if variant == "traumatic":
            src.append((np.array([side * 32.0, -6.0, -6.0]), 8.0, 0.8))
            p2 = _ray_dic(an, d * np.array([1.0, -1.0, 0.5]) + np.array([0, 0, 0.3]), an.gap)
            src.append((p2, 8.0, 0.7))
    target = _target_ml(rng, 80.0)
    clot = _clot_draw(rng)
    clot["hu"] = float(rng.uniform(50.0, 75.0))
    clot["fluid_level"] = False
    clot["swirl"] = False
    q = np.nonzero(cav.tis == _T["csf"])[0]
    x, y, z = cav.sub(q)
    d2 = [((x - _F(c[0])) ** 2 + (y - _F(c[1])) ** 2 + (z - _F(c[2])) ** 2, sg, amp)
          for c, sg, amp in src]

    def alpha_of(s: float) -> Arr:
        w = np.zeros(q.size, _F)
        for dd, sg, amp in d2:
            w += _F(amp) * np.exp(-dd / _F(2.0 * (s * sg) ** 2))
        return (w > 0.5).astype(_F)

    def vol(s: float) -> float:
        return float(np.sum(alpha_of(s))) * cav.vox_ml

    s = _calibrate(vol, target, 0.05, 12.0)
    alpha = alpha_of(s)
    hu = _clot_hu(cav, q, alpha, clot)
    info = {"variant": variant, "side": "left" if side > 0 else "right", "target_ml": target,
            "sources_canonical_mm": [[round(float(v), 1) for v in c] for c, _, _ in src], **clot}
    return _Blood("subarachnoid", q, alpha, hu, info)


def _angle_dist(an: _Anat, x: Arr, y: Arr, z: Arr, p0: Arr) -> Arr:
    """Distance along the cranial surface from p0 (great-circle angle times radius)."""
    c = an.ell_c
    v0 = p0 - c
    r0 = float(np.linalg.norm(v0))
    v0 = v0 / r0
    vx, vy, vz = x - _F(c[0]), y - _F(c[1]), z - _F(c[2])
    nrm = np.sqrt(vx * vx + vy * vy + vz * vz) + _F(1e-6)
    cosang = np.clip((vx * _F(v0[0]) + vy * _F(v0[1]) + vz * _F(v0[2])) / nrm, -1.0, 1.0)
    return _f32(np.arccos(cosang) * _F(r0))


def _bleed_subdural(an: _Anat, cav: _Cavity, rng: np.random.Generator) -> _Blood:
    variant = str(rng.choice(["convexity", "falx", "tentorium"], p=[0.75, 0.15, 0.10]))
    side = 1.0 if rng.random() < 0.5 else -1.0
    target = _target_ml(rng, 80.0)
    k = float(rng.uniform(0.10, 0.20))
    clot = _clot_draw(rng)
    x, y, z = cav.x, cav.y, cav.z
    xm = _mid_x(an, y, z)
    zt, exists = _tentorium(an, np.abs(x), y)
    if variant == "convexity":
        d = np.array([side * rng.uniform(0.6, 1.0), rng.uniform(-0.7, 0.6), rng.uniform(-0.1, 0.8)])
        p0 = _ray_dic(an, d)
        q = np.nonzero((cav.dic > -30.0) & (side * (x - xm) > 0))[0]
        rho = _angle_dist(an, x[q], y[q], z[q], p0)
        coord = -cav.dic[q]  # depth under the inner table
        extra = np.maximum(_F(an.hw_if + 0.6) - side * (x[q] - xm[q]),
                           np.where(exists[q] & (z[q] < zt[q] + 0.6), _F(99.0), _F(-99.0)))
    elif variant == "falx":
        p0 = np.array([side * (an.hw_if + 0.6), rng.uniform(-40.0, 35.0), rng.uniform(20.0, 50.0)])
        q = np.nonzero((side * (x - xm) > 0) & (side * (x - xm) < 30.0))[0]
        rho = np.sqrt((y[q] - _F(p0[1])) ** 2 + (z[q] - _F(p0[2])) ** 2)
        coord = side * (x[q] - xm[q]) - _F(0.6)  # distance from the falx
        extra = np.maximum(_falx_edge(y[q]) - z[q], cav.dic[q])
    else:
        yy = rng.uniform(45.0, 65.0)
        xx = side * rng.uniform(18.0, 40.0)
        zz = float(_tentorium(an, _f32([abs(xx)]), _f32([yy]))[0][0])
        p0 = np.array([xx, yy, zz])
        q = np.nonzero(exists & (side * x > 2.0) & (z > zt) & (z < zt + 30.0))[0]
        rho = np.sqrt((x[q] - _F(xx)) ** 2 + (y[q] - _F(yy)) ** 2)
        coord = z[q] - zt[q] - _F(0.6)  # height above the tentorium
        extra = cav.dic[q]
    lim = _alpha(extra, cav.eps)

    def alpha_of(r: float) -> Arr:
        h = _F(k * r) * (1.0 - (rho / _F(r)) ** 2)
        h = np.where(h < 0.3 * cav.eps, _F(0.0), h)  # no film thinner than a third of a voxel
        return np.minimum(_alpha_band(coord, _F(0.0), h, cav.eps), lim)

    def vol(r: float) -> float:
        return float(np.sum(alpha_of(r))) * cav.vox_ml

    r = _calibrate(vol, target, 4.0, 160.0)
    alpha = alpha_of(r)
    hu = _clot_hu(cav, q, alpha, clot)
    info = {"variant": variant, "side": "left" if side > 0 else "right", "target_ml": target,
            "radius_mm": r, "max_thickness_mm": k * r,
            "centre_canonical_mm": [round(float(v), 1) for v in p0], **clot}
    return _Blood("subdural", q, alpha, hu, info)


_EDH_SITES = {"temporal": 0.6, "frontal": 0.15, "parietal": 0.15, "occipital": 0.10}


def _plate_margin(an: _Anat, x: Arr, y: Arr, z: Arr, plate: int) -> Arr:
    """Signed distance to the boundary (sutures) of one skull plate, positive inside it."""
    s = an.plate_seeds
    pw = np.stack([(x - _F(c[0])) ** 2 + (y - _F(c[1])) ** 2 + (z - _F(c[2])) ** 2 - _F(w)
                   for c, w in zip(s, an.plate_w, strict=True)], axis=0)
    own = an.plate_id == plate
    po = np.where(own[:, None], pw, np.inf)
    pn = np.where(own[:, None], np.inf, pw)
    i1, i2 = np.argmin(po, axis=0), np.argmin(pn, axis=0)
    p1 = np.take_along_axis(po, i1[None, :], axis=0)[0]
    p2 = np.take_along_axis(pn, i2[None, :], axis=0)[0]
    sep = np.linalg.norm(s[i1] - s[i2], axis=1).astype(_F)
    return _f32((p2 - p1) / (2.0 * sep))


def _bleed_epidural(an: _Anat, cav: _Cavity, rng: np.random.Generator) -> _Blood:
    site = str(rng.choice(list(_EDH_SITES), p=list(_EDH_SITES.values())))
    side = 1.0 if rng.random() < 0.5 else -1.0
    d = {"temporal": np.array([side, rng.uniform(-0.35, 0.3), rng.uniform(-0.45, 0.05)]),
         "frontal": np.array([side * rng.uniform(0.2, 0.5), -1.0, rng.uniform(0.0, 0.5)]),
         "parietal": np.array([side * 0.8, rng.uniform(0.0, 0.4), rng.uniform(0.4, 0.8)]),
         "occipital": np.array([side * rng.uniform(0.2, 0.5), 1.0, rng.uniform(-0.5, 0.1)]),
         }[site]
    p0 = _ray_dic(an, d)
    pid, _ = _plates(an, _f32([p0[0]]), _f32([p0[1]]), _f32([p0[2]]))
    plate = int(pid[0])
    target = _target_ml(rng, 80.0)
    k = float(rng.uniform(0.28, 0.42))
    clot = _clot_draw(rng)
    clot["swirl"] = bool(rng.random() < 0.25)
    clot["fluid_level"] = False
    q = np.nonzero((cav.dic > -32.0) & (np.abs(cav.x - _F(p0[0])) < 110.0))[0]
    x, y, z = cav.sub(q)
    rho = _angle_dist(an, x, y, z, p0)
    marg = np.clip(_plate_margin(an, x, y, z, plate) / 3.0, 0.0, 1.0)
    coord = -cav.dic[q]  # depth under the inner table

    def alpha_of(r: float) -> Arr:
        h = _F(k * r) * (1.0 - (rho / _F(r)) ** 2) * marg
        h = np.where(h < 0.3 * cav.eps, _F(0.0), h)
        return _alpha_band(coord, _F(0.0), h, cav.eps)

    def vol(r: float) -> float:
        return float(np.sum(alpha_of(r))) * cav.vox_ml

    r = _calibrate(vol, target, 3.0, 120.0)
    alpha = alpha_of(r)
    hu = _clot_hu(cav, q, alpha, clot)
    info = {"site": site, "side": "left" if side > 0 else "right", "plate": _PLATES[plate],
            "target_ml": target, "radius_mm": r, "max_thickness_mm": k * r,
            "centre_canonical_mm": [round(float(v), 1) for v in p0], **clot}
    return _Blood("epidural", q, alpha, hu, info)


_BLEED_FUNCS = {"intraparenchymal": _bleed_intraparenchymal,
                "intraventricular": _bleed_intraventricular,
                "subarachnoid": _bleed_subarachnoid, "subdural": _bleed_subdural,
                "epidural": _bleed_epidural}


def _paint_cavity(hu_obj: Arr, tis_obj: Arr, cav: _Cavity, q: Arr, sdf: Arr, value: Any,
                  code: int) -> Arr:
    """Composite a structure into the object grid at cavity points; returns its fraction."""
    a = _alpha(sdf, cav.eps)
    g = cav.gidx[q]
    v = value if isinstance(value, np.ndarray) else _F(value)
    hu_obj[g] += a * (v - hu_obj[g])
    tis_obj[g[a > 0.5]] = code
    return a


def _mimics(an: _Anat, cav: _Cavity, hu_obj: Arr, tis_obj: Arr, label: NcctLabel,
            seed: int) -> dict[str, Any]:
    """Bright things that are not acute blood, drawn only when the label asks for them."""
    out: dict[str, Any] = {}
    x, y, z = cav.x, cav.y, cav.z
    calc = _T["calcification"]

    def near(c: Any, r: float) -> Arr:
        return np.nonzero((np.abs(x - _F(c[0])) < r) & (np.abs(y - _F(c[1])) < r)
                          & (np.abs(z - _F(c[2])) < r))[0]

    def sphere(c: Any, r: float, value: float, code: int) -> None:
        q = near(c, r + 3.0)
        if q.size:
            d = np.sqrt((x[q] - _F(c[0])) ** 2 + (y[q] - _F(c[1])) ** 2
                        + (z[q] - _F(c[2])) ** 2) - _F(r)
            _paint_cavity(hu_obj, tis_obj, cav, q, d, value, code)

    for m in MIMICS:
        if m not in label.mimics:
            continue
        rng = _rng(seed, 30 + MIMICS.index(m))
        if m == "choroid_plexus_calcification":
            sides = [1.0, -1.0] if rng.random() < 0.8 else [1.0 if rng.random() < 0.5 else -1.0]
            hu_c = float(rng.uniform(250.0, 800.0))
            rr = []
            for sd in sides:
                k = 0 if sd > 0 else 1
                c = np.array([sd * (21.0 + 1.5 * (an.vent_scale[k] - 1.0)), 30.0, 9.0])
                r = float(rng.uniform(2.0, 3.5))
                rr.append(r)
                sphere(c + rng.normal(0, 0.7, 3), r, hu_c, calc)
            out[m] = {"sides": ["left" if s > 0 else "right" for s in sides], "hu": hu_c,
                      "radius_mm": rr}
        elif m == "pineal_calcification":
            hu_c = float(rng.uniform(300.0, 900.0))
            r = float(rng.uniform(2.0, 3.5))
            sphere((0.0, 28.0 + rng.normal(0, 0.6), 1.0 + rng.normal(0, 0.6)), r, hu_c, calc)
            out[m] = {"hu": hu_c, "radius_mm": r}
        elif m == "basal_ganglia_calcification":
            hu_c = float(rng.uniform(200.0, 600.0))
            for sd in (1.0, -1.0):
                k = 0 if sd > 0 else 1
                base = np.array([sd * 20.0, -3.0, 1.0]) + an.nuclei_shift[k]
                for _ in range(int(rng.integers(2, 5))):
                    sphere(base + rng.normal(0, [1.2, 3.0, 2.5]), float(rng.uniform(1.6, 3.0)),
                           hu_c, calc)
            out[m] = {"hu": hu_c, "site": "globus pallidus, bilateral"}
        elif m == "falx_calcification":
            hu_c = float(rng.uniform(250.0, 800.0))
            plaques = []
            for _ in range(int(rng.integers(1, 4))):
                yc = float(rng.uniform(-50.0, 25.0))
                zc = float(_falx_edge(_f32([yc]))[0]) + float(rng.uniform(8.0, 28.0))
                ry, rz = float(rng.uniform(5.0, 13.0)), float(rng.uniform(3.0, 6.0))
                th = float(rng.uniform(1.8, 3.0))
                q = near((0.0, yc, zc), max(ry, rz) + 3.0)
                if q.size:
                    xm = _mid_x(an, y[q], z[q])
                    e = np.sqrt(((y[q] - _F(yc)) / _F(ry)) ** 2 + ((z[q] - _F(zc)) / _F(rz)) ** 2)
                    d = np.maximum(np.abs(x[q] - xm) - _F(th / 2), (e - 1.0) * _F(min(ry, rz)))
                    d = np.maximum(d, cav.dic[q] + 3.0)
                    _paint_cavity(hu_obj, tis_obj, cav, q, d, hu_c, calc)
                plaques.append({"y": yc, "z": zc, "length_mm": 2 * ry, "height_mm": 2 * rz})
            out[m] = {"hu": hu_c, "plaques": plaques}
        elif m == "hyperdense_vessel":
            sname = "left" if rng.random() < 0.5 else "right"
            hu_c = float(rng.uniform(58.0, 80.0))
            names = [f"m1_{sname}"] + ([f"m2_superior_{sname}"] if rng.random() < 0.4 else [])
            for tb in an.tubes:
                if tb.name in names:
                    dense = _Tube(tb.name, tb.nodes[:3] if tb.name.startswith("m2") else tb.nodes,
                                  (tb.radii[:3] if tb.name.startswith("m2") else tb.radii) + 0.3)
                    lo, hi = dense.bbox(2.0)
                    q = np.nonzero((x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1])
                                   & (z > lo[2]) & (z < hi[2]))[0]
                    if q.size:
                        _paint_cavity(hu_obj, tis_obj, cav, q, dense.sdf(x[q], y[q], z[q]), hu_c,
                                      _T["thrombus"])
            out[m] = {"side": sname, "segments": names, "hu": hu_c}
        elif m == "residual_contrast":
            variant = "intravascular" if rng.random() < 0.6 else "intrathecal"
            if variant == "intravascular":
                art, ven = float(rng.uniform(150.0, 300.0)), float(rng.uniform(100.0, 200.0))
                for tb in an.tubes:
                    if tb.kind not in ("artery", "vein", "sinus"):
                        continue
                    lo, hi = tb.bbox(2.0)
                    q = np.nonzero((x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1])
                                   & (z > lo[2]) & (z < hi[2]))[0]
                    if q.size:
                        _paint_cavity(hu_obj, tis_obj, cav, q, tb.sdf(x[q], y[q], z[q]),
                                      art if tb.kind == "artery" else ven, _T["contrast"])
                q = np.nonzero((np.abs(x) < 9.0) & (cav.dic > -14.0))[0]
                if q.size:
                    _paint_cavity(hu_obj, tis_obj, cav, q, _sss(an, x[q], y[q], z[q], cav.dic[q]),
                                  ven, _T["contrast"])
                out[m] = {"variant": variant, "arterial_hu": art, "venous_hu": ven}
            else:
                hu_c = float(rng.uniform(150.0, 400.0))
                q = np.nonzero((cav.tis == _T["csf"]) & (z < 0.0) & (cav.dic < -1.0))[0]
                if q.size:
                    lvl = float(np.quantile(cav.ys[q], 0.45))
                    _paint_cavity(hu_obj, tis_obj, cav, q, _F(lvl) - cav.ys[q], hu_c,
                                  _T["contrast"])
                    out[m] = {"variant": variant, "hu": hu_c, "level_patient_y_mm": lvl}
        elif m == "streak_artefact":
            out[m] = {"source": "metal on the scalp", "rays": int(rng.integers(7, 14)),
                      "amplitude_hu": float(rng.uniform(60.0, 140.0)),
                      "direction": [float(v) for v in rng.normal(0, 1, 3)],
                      "phase": float(rng.uniform(0.0, 2 * np.pi)),
                      "seed": int(rng.integers(1, 2 ** 30))}
    return out


def _ischaemia(hu_obj: Arr, reg_obj: Arr, tis_obj: Arr, an: _Anat, label: NcctLabel,
               seed: int) -> dict[str, Any]:
    """Early ischaemic change in the requested ASPECTS regions of one side: grey matter loses
    2-6 HU; the insular ribbon and the lentiform nucleus fade into white matter; the white
    matter of the regions (and the internal capsule) loses a little."""
    if not label.ischaemic_regions:
        return {}
    rng = _rng(seed, 50)
    off = 0 if label.ischaemic_side == "left" else 10
    codes = [ASPECTS_REGIONS.index(r) + 1 + off for r in set(label.ischaemic_regions)]
    drop = float(rng.uniform(2.0, 6.0))
    fade = float(rng.uniform(0.6, 0.9))
    wm_drop = float(rng.uniform(0.5, 1.5))
    ic_drop = float(rng.uniform(1.5, 3.0))
    sel = np.nonzero(np.isin(reg_obj, codes))[0]
    t = tis_obj[sel]
    h = hu_obj[sel]
    white = _F(an.hu["white"])
    grey_like = np.isin(t, (_T["grey_matter"], _T["caudate"]))
    fading = np.isin(t, (_T["insula"], _T["putamen"], _T["pallidum"]))
    wm = t == _T["white_matter"]
    ic = wm & np.isin(reg_obj[sel], (3 + off,))
    new = np.where(grey_like, h - _F(drop), h)
    faded = np.minimum(h - _F(drop), white + (h - white) * _F(1.0 - fade))
    new = np.where(fading, faded, new)
    new = np.where(wm & ~ic, h - _F(wm_drop), new)
    new = np.where(ic, h - _F(ic_drop), new)
    hu_obj[sel] = new
    return {"grey_drop_hu": drop, "fade_fraction": fade, "white_drop_hu": wm_drop,
            "capsule_drop_hu": ic_drop, "side": label.ischaemic_side,
            "regions": sorted(set(label.ischaemic_regions), key=ASPECTS_REGIONS.index)}


_PETROUS_AXIS = ((15.0, -4.0, -34.0, 5.0), (50.0, 26.0, -40.0, 11.0))


def _petrous_tracks(geo: _Geometry) -> list[tuple[Arr, Arr]]:
    """Samples along each petrous pyramid in patient coordinates, with their radii."""
    out = []
    t = np.linspace(0.0, 1.0, 16)[:, None]
    a, b = np.asarray(_PETROUS_AXIS[0][:3]), np.asarray(_PETROUS_AXIS[1][:3])
    r = _PETROUS_AXIS[0][3] + t[:, 0] * (_PETROUS_AXIS[1][3] - _PETROUS_AXIS[0][3])
    for side in (1.0, -1.0):
        s = np.array([side, 1.0, 1.0])
        out.append((geo.to_patient((a + t * (b - a)) * s), r))
    return out


def _beam_hardening(geo: _Geometry, ph: _Physics, rng: np.random.Generator
                    ) -> tuple[dict[int, Arr], Arr]:
    """Dark Hounsfield bar between the petrous bones (and thin dark streaks from them) in the
    slices that cross them; returns the additive images by slice and a per-slice bone load
    (0..1)."""
    m = geo.matrix
    px = geo.x0 + geo.pixel * np.arange(m)
    py = geo.y0 + geo.pixel * np.arange(m)
    tracks = _petrous_tracks(geo)
    cents: list[list[Arr | None]] = [[None, None] for _ in range(geo.n_out)]
    amounts = np.zeros((geo.n_out, 2))
    for k in range(geo.n_out):
        zc = geo.z0 + k * geo.thickness
        for s, (p, r) in enumerate(tracks):
            w = np.clip(1.0 - np.abs(p[:, 2] - zc) / (r + 0.5 * geo.thickness), 0.0, None) * r
            if w.sum() > 0:
                amounts[k, s] = w.sum()
                cents[k][s] = (w[:, None] * p[:, :2]).sum(axis=0) / w.sum()
    mx = max(1e-6, float(amounts.min(axis=1).max()))
    load = amounts.min(axis=1) / mx
    width = float(rng.uniform(4.0, 8.0))
    lam = float(rng.uniform(3.0, 6.0))
    phase = float(rng.uniform(0, 2 * np.pi))
    angles = rng.uniform(0.0, np.pi, (ph.streaks, 2))
    out: dict[int, Arr] = {}
    if ph.hounsfield_bar <= 0:
        return out, load
    X, Y = np.meshgrid(px.astype(_F), py.astype(_F))
    for k in range(geo.n_out):
        cl, cr = cents[k]
        if cl is None or cr is None or load[k] < 0.05:
            continue
        d = cr - cl
        ln = float(np.linalg.norm(d)) or 1.0
        u = d / ln
        t = ((X - _F(cl[0])) * _F(u[0]) + (Y - _F(cl[1])) * _F(u[1])) / _F(ln)
        perp = -(X - _F(cl[0])) * _F(u[1]) + (Y - _F(cl[1])) * _F(u[0])
        taper = np.sqrt(np.clip(np.sin(np.pi * np.clip(t * 0.8 + 0.1, 0.0, 1.0)), 0.0, 1.0))
        img = np.exp(-(perp / _F(width)) ** 2) * taper \
            * (1.0 + 0.35 * np.sin(2 * np.pi * perp / _F(lam) + _F(phase)))
        for a1, a2 in angles:
            for c, ang in ((cl, a1), (cr, a2)):
                e = np.array([np.cos(ang), np.sin(ang)])
                pp = -(X - _F(c[0])) * _F(e[1]) + (Y - _F(c[1])) * _F(e[0])
                along = np.abs((X - _F(c[0])) * _F(e[0]) + (Y - _F(c[1])) * _F(e[1]))
                img += 0.4 * np.exp(-(pp / _F(1.0)) ** 2) * np.exp(-along / _F(50.0))
        out[k] = _f32(-_F(ph.hounsfield_bar * load[k]) * img)
    return out, load


class _Noise:
    """Correlated quantum noise, slice by slice: FBP texture (ramp times kernel apodisation:
    fine grain) or an iterative-reconstruction look (power shifted to low frequencies:
    blotchy), scaled to the case's noise level, higher in the centre of the head and in the
    skull-base slices. Each slice has its own random stream (chunking does not matter)."""

    def __init__(self, geo: _Geometry, ph: _Physics, seed: int, load: Arr) -> None:
        m = geo.matrix
        fy = np.fft.fftfreq(m, d=geo.pixel)
        fx = np.fft.rfftfreq(m, d=geo.pixel)
        f = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
        fc = ph.nps_fc
        fbp = f * np.exp(-(f / fc) ** 2)
        shape = fbp / np.sqrt(np.mean(fbp ** 2) + 1e-12)
        if ph.recon == "IR":
            ir = np.sqrt(f) * np.exp(-(f / (0.55 * fc)) ** 2) + 0.35 * np.exp(-(f / 0.05) ** 2)
            ir = ir / np.sqrt(np.mean(ir ** 2) + 1e-12)
            shape = (1.0 - ph.ir_level) * shape + ph.ir_level * ir
        self.h = np.sqrt(shape).astype(np.float32).ravel()
        self.support = np.nonzero(self.h > 1e-3 * float(self.h.max()))[0]
        self.geo, self.seed = geo, seed
        self.thin = geo.thickness < 1.5 and geo.n_out > 2
        px = geo.x0 + geo.pixel * np.arange(m)
        r2 = ((px[None, :] - geo.t[0]) ** 2 + (px[:, None] - geo.t[1]) ** 2) / 75.0 ** 2
        self.radial = (ph.noise_sd * (1.0 + 0.2 * np.clip(1.0 - r2, 0.0, None))).astype(_F)
        self.slice_f = (1.0 + 0.5 * load).astype(_F)
        self.norm = 1.0
        self.norm = float(self._raw([-1]).std()) * (math.sqrt(0.375) if self.thin else 1.0)

    def _raw(self, ks: list[int]) -> Arr:
        m = self.geo.matrix
        mh = m // 2 + 1
        spec = np.zeros((len(ks), m * mh), np.complex64)
        for i, k in enumerate(ks):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed % (2 ** 32), 3, k + 1]))
            part = np.empty(self.support.size, np.complex64)
            part.real = rng.standard_normal(self.support.size, dtype=np.float32)
            part.imag = rng.standard_normal(self.support.size, dtype=np.float32)
            spec[i, self.support] = part * self.h[self.support]
        out = sfft.irfft2(spec.reshape(len(ks), m, mh), s=(m, m), workers=2)
        return np.asarray(out, dtype=_F) / _F(self.norm)

    def chunk(self, k0: int, k1: int) -> Arr:
        n = self.geo.n_out
        if self.thin:
            lo, hi = max(0, k0 - 1), min(n, k1 + 1)
            raw = self._raw(list(range(lo, hi)))
            out = raw[k0 - lo:k1 - lo].copy()
            for k in range(k0, k1):
                if 0 < k < n - 1:
                    i = k - lo
                    out[k - k0] = 0.5 * raw[i] + 0.25 * (raw[i - 1] + raw[i + 1])
        else:
            out = self._raw(list(range(k0, k1)))
        out *= self.radial[None]
        out *= self.slice_f[k0:k1, None, None]
        return out


def _up2(a: Arr, axis: int) -> Arr:
    """Linear upsampling by two along an axis (pixel-area grid), with edge replication."""
    a = np.moveaxis(a, axis, -1)
    prev = np.concatenate([a[..., :1], a[..., :-1]], axis=-1)
    nxt = np.concatenate([a[..., 1:], a[..., -1:]], axis=-1)
    out = np.empty(a.shape[:-1] + (2 * a.shape[-1],), _F)
    out[..., 0::2] = 0.75 * a + 0.25 * prev
    out[..., 1::2] = 0.75 * a + 0.25 * nxt
    return np.moveaxis(out, -1, axis)


def _upsample_linear(vol: Arr, m: int) -> Arr:
    """Separable linear interpolation of (z, n, n) onto (z, m, m) over the same field of view
    (pixel-area grid: centres at (i + 0.5) / m)."""
    n = vol.shape[1]
    if m == 2 * n:
        return _up2(_up2(vol, 2), 1)
    pos = (np.arange(m) + 0.5) * n / m - 0.5
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    i1 = np.clip(i0 + 1, 0, n - 1)
    fr = np.clip(pos - i0, 0.0, 1.0).astype(_F)
    a = np.take(vol, i0, axis=2)
    a += (np.take(vol, i1, axis=2) - a) * fr[None, None, :]
    b = np.take(a, i0, axis=1)
    b += (np.take(a, i1, axis=1) - b) * fr[None, :, None]
    return np.asarray(b)


def _resample(vol: Arr, m: int, order: int = 1) -> Arr:
    """In-plane resampling of (z, n, n) to (z, m, m) over the same field of view."""
    n = vol.shape[1]
    if n == m:
        return vol
    if order == 0:
        ii = np.minimum(((np.arange(m) + 0.5) * n / m).astype(int), n - 1)
        return vol[:, ii[:, None], ii[None, :]]
    if n > m:
        vol = ndimage.gaussian_filter(vol, (0, 0.42 * n / m, 0.42 * n / m), mode="nearest")
    return _upsample_linear(np.asarray(vol, dtype=_F), m)


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------

_ANAT_CACHE: dict[int, _Anat] = {}


def _anatomy(seed: int) -> _Anat:
    """The head of a seed (cached: building the gyral cells takes a moment)."""
    an = _ANAT_CACHE.get(seed)
    if an is None:
        an = _build_anatomy(seed)
        if len(_ANAT_CACHE) >= 4:
            _ANAT_CACHE.pop(next(iter(_ANAT_CACHE)))
        _ANAT_CACHE[seed] = an
    return an


def _object_grid(an: _Anat, ph: _Physics, geo: _Geometry
                 ) -> tuple[Arr, Arr, Arr, _Cavity]:
    """Evaluate the head on the fine object grid (thin sub-slices of each slice), slice by
    slice within the head's bounding rectangle; collect the voxels of the cranial cavity for
    the lesions."""
    n, nz = geo.n_obj, geo.nz_obj
    hu = np.full((nz, n, n), _F(-1000.0), _F)
    tis = np.zeros((nz, n, n), np.uint8)
    reg = np.zeros((nz, n, n), np.uint8)
    hf, tf, rf = hu.reshape(-1), tis.reshape(-1), reg.reshape(-1)
    xs, ys = geo.obj_xy()
    zo = geo.obj_z()
    px = geo.obj_pixel
    eps = px / float(np.mean(an.scale))
    # coarse pass (every 4th pixel): the smooth fields, bilinearly upsampled in-plane (two
    # small matrix products per slice); the fine pass then only visits the head
    cs = 4
    xc, yc = xs[::cs], ys[::cs]
    nc = xc.size
    Zc, Yc, Xc = np.meshgrid(_f32(zo), _f32(yc), _f32(xc), indexing="ij")
    ccx, ccy, ccz = geo.to_canonical(Xc.ravel(), Yc.ravel(), Zc.ravel())
    coarse = _trilinear([an.lk["head"], an.lk["dic"], an.lk["tsk"]], an.lk_origin, an.lk_step,
                        ccx, ccy, ccz)
    pos = np.arange(n) / cs
    i0 = np.minimum(pos.astype(int), nc - 1)
    i1 = np.minimum(i0 + 1, nc - 1)
    fr = (pos - i0).astype(_F)
    up = np.zeros((n, nc), _F)
    up[np.arange(n), i0] += 1.0 - fr
    up[np.arange(n), i1] += fr
    coarse3 = [c.reshape(nz, nc, nc) for c in coarse]
    headc = coarse[0].reshape(nz, nc, nc) < 2.0 * cs * px
    headc = ndimage.binary_dilation(headc, np.ones((1, 3, 3), bool))
    keep = np.repeat(np.repeat(headc, cs, axis=1), cs, axis=2)[:, :n, :n]
    per_slice = keep.reshape(nz, -1).sum(axis=1)
    parts: dict[str, list[Arr]] = {k: [] for k in ("g", "x", "y", "z", "dic", "ys")}
    k0 = 0
    while k0 < nz:
        k1, count = k0, 0
        while k1 < nz and count < 1_200_000:
            count += int(per_slice[k1])
            k1 += 1
        loc = np.flatnonzero(keep[k0:k1])
        g = loc + k0 * n * n
        if g.size == 0:
            k0 = k1
            continue
        fine = [np.einsum("ij,kjl,ml->kim", up, c3[k0:k1], up, optimize=True).reshape(-1)[loc]
                for c3 in coarse3]
        k0 = k1
        X = _f32(xs[g % n])
        Y = _f32(ys[(g // n) % n])
        Z = _f32(zo[g // (n * n)])
        cx, cy, cz = geo.to_canonical(X, Y, Z)
        f = _evaluate(an, cx, cy, cz, eps, (_f32(fine[0]), _f32(fine[1]), _f32(fine[2])))
        hf[g] = f.hu
        tf[g] = f.tis
        rf[g] = f.reg
        ic = np.nonzero(f.dic < eps)[0]
        parts["g"].append(g[ic])
        parts["x"].append(cx[ic])
        parts["y"].append(cy[ic])
        parts["z"].append(cz[ic])
        parts["dic"].append(f.dic[ic])
        parts["ys"].append(Y[ic])
    if ph.headrest is not None:
        _headrest(an, ph, geo, hu, tis, xs, ys)
    cat = {k: np.concatenate(v) if v else np.zeros(0, _F) for k, v in parts.items()}
    vox_ml = px * px * geo.dz_obj / 1000.0
    cav = _Cavity(cat["g"].astype(np.int64), cat["x"], cat["y"], cat["z"], cat["dic"],
                  tf[cat["g"].astype(np.int64)].copy(), cat["ys"], vox_ml, eps)
    return hu, tis, reg, cav


def _headrest(an: _Anat, ph: _Physics, geo: _Geometry, hu: Arr, tis: Arr, xs: Arr,
              ys: Arr) -> None:
    """A curved carbon/plastic head holder behind the occiput (patient frame)."""
    assert ph.headrest is not None
    head = tis > 0
    prof = head.any(axis=0)
    if not prof.any():
        return
    jj, ii = np.nonzero(prof)
    cx = 0.5 * float(xs[ii].min() + xs[ii].max())
    cy = 0.5 * float(ys[jj].min() + ys[jj].max())
    ax_ = 0.5 * float(xs[ii].max() - xs[ii].min()) + ph.headrest["gap_mm"]
    ay_ = 0.5 * float(ys[jj].max() - ys[jj].min()) + ph.headrest["gap_mm"]
    X, Y = np.meshgrid(_f32(xs), _f32(ys))
    e = _ellipse2d(X - _F(cx), Y - _F(cy), np.full_like(X, _F(ax_)), np.full_like(X, _F(ay_)))
    sdf = np.maximum(np.maximum(-e, e - _F(ph.headrest["wall_mm"])), _F(cy + 0.3 * ay_) - Y)
    a = _alpha(_f32(sdf), geo.obj_pixel)
    val = _F(an.hu["device"])
    sel = a > 0
    for k in range(hu.shape[0]):
        air = tis[k] == 0
        w = np.where(sel & air, a, _F(0.0))
        hu[k] += w * (val - hu[k])
        tis[k][(w > 0.5)] = _T["device"]


def _metal(geo: _Geometry, an: _Anat, hu: Arr, tis: Arr, info: dict[str, Any]) -> Arr:
    """A small metal object on the scalp (the source of the streak artefact)."""
    d = np.asarray(info["direction"], float)
    d = np.array([d[0], -abs(d[1]) * 0.5, abs(d[2]) * 0.3 + 0.2])
    if abs(d[0]) < 0.4:
        d[0] = 0.6 if d[0] >= 0 else -0.6

    def head_fn(px: Arr, py: Arr, pz: Arr) -> Arr:
        return _lookup(an, "head", px, py, pz)

    p = _ray_to(head_fn, an.ell_c + np.array([0.0, 0.0, 10.0]), d[None, :])[0]
    pp = np.asarray(geo.to_patient(p)[0])
    xs, ys = geo.obj_xy()
    zo = geo.obj_z()
    r = 1.6
    kk = np.nonzero(np.abs(zo - pp[2]) < r + 1.0)[0]
    jj = np.nonzero(np.abs(ys - pp[1]) < r + 2.0)[0]
    ii = np.nonzero(np.abs(xs - pp[0]) < r + 2.0)[0]
    if kk.size and jj.size and ii.size:
        Z, Y, X = np.meshgrid(zo[kk], ys[jj], xs[ii], indexing="ij")
        dd = np.sqrt((X - pp[0]) ** 2 + (Y - pp[1]) ** 2 + (Z - pp[2]) ** 2) - r
        a = _alpha(_f32(dd), geo.obj_pixel)
        sub = hu[np.ix_(kk, jj, ii)]
        sub += a * (_F(3000.0) - sub)
        hu[np.ix_(kk, jj, ii)] = sub
        t = tis[np.ix_(kk, jj, ii)]
        t[a > 0.5] = _T["device"]
        tis[np.ix_(kk, jj, ii)] = t
    return pp


def _streaks(geo: _Geometry, img: Arr, k0: int, src: Arr, info: dict[str, Any]) -> None:
    """Metal streaks: alternating bright and dark lines through the metal, in the slices near
    it, within the head (``img`` holds slices from ``k0``)."""
    m = geo.matrix
    px = geo.x0 + geo.pixel * np.arange(m)
    X, Y = np.meshgrid(px.astype(_F), px.astype(_F))
    nray = int(info["rays"])
    amp = float(info["amplitude_hu"])
    wid = max(1.1, 0.9 * geo.pixel)  # streaks are about a pixel wide at any matrix
    for k in range(k0, k0 + img.shape[0]):
        dz = abs(geo.z0 + k * geo.thickness - float(src[2]))
        fz = max(0.0, 1.0 - dz / (0.5 * geo.thickness + 4.0))
        if fz <= 0:
            continue
        rng = np.random.default_rng([int(info["seed"]), k])
        add = np.zeros((m, m), _F)
        for j in range(nray):
            ang = float(info["phase"]) + j * np.pi / nray + rng.normal(0, 0.05)
            e = (math.cos(ang), math.sin(ang))
            perp = -(X - _F(src[0])) * _F(e[1]) + (Y - _F(src[1])) * _F(e[0])
            along = np.abs((X - _F(src[0])) * _F(e[0]) + (Y - _F(src[1])) * _F(e[1]))
            sign = 1.0 if j % 2 == 0 else -0.6
            a = amp * sign * rng.uniform(0.6, 1.0) * fz
            add += _F(a) * np.exp(-(perp / _F(wid)) ** 2) / (1.0 + along / _F(90.0))
        img[k - k0] += np.where(img[k - k0] > -300.0, add, _F(0.0))


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, Arr, Arr]:
    """Render one case: the NCCT volume with its blood mask and details, the ASPECTS region
    map (uint8: 1..10 left, 11..20 right) and the tissue map (uint8 indices into TISSUES)."""
    if not isinstance(matrix, (int, np.integer)) or not _MIN_MATRIX <= matrix <= _MAX_MATRIX:
        raise ValueError(f"matrix must be an integer in {_MIN_MATRIX}..{_MAX_MATRIX}")
    matrix = int(matrix)
    an = _anatomy(seed)
    ph = _draw_physics(seed)
    geo = _geometry(an, ph, matrix)
    hu, tis, reg, cav = _object_grid(an, ph, geo)
    hf, tf, rf = hu.reshape(-1), tis.reshape(-1), reg.reshape(-1)
    # lesions, in a fixed order: ischaemia, mimics, haemorrhage
    isch = _ischaemia(hf, rf, tf, an, label, seed)
    mim = _mimics(an, cav, hf, tf, label, seed)
    metal = None
    if "streak_artefact" in mim:
        metal = _metal(geo, an, hu, tis, mim["streak_artefact"])
        mim["streak_artefact"]["patient_mm"] = [round(float(v), 1) for v in metal]
    alphas: dict[str, tuple[Arr, Arr]] = {}
    bleeds: dict[str, Any] = {}
    scratch = np.zeros(hf.size, _F)
    for kind in BLEED_KINDS:
        if kind not in label.bleeds:
            continue
        b = _BLEED_FUNCS[kind](an, cav, _rng(seed, 10 + BLEED_KINDS.index(kind)))
        if b.oedema_q is not None and b.oedema_drop is not None and b.oedema_q.size:
            go = cav.gidx[b.oedema_q]
            par = np.isin(tf[go], _PARENCHYMA)
            hf[go[par]] -= b.oedema_drop[par]
        keep = b.alpha > 0
        g, a = cav.gidx[b.q][keep], b.alpha[keep]
        hf[g] += a * (b.hu[keep] - hf[g])
        tf[g[a > 0.5]] = _T["blood"]
        scratch[g] = a
        for og, oa in alphas.values():  # a later bleed covers an earlier one
            oa *= 1.0 - scratch[og]
        scratch[g] = 0.0
        order = np.argsort(g)
        alphas[kind] = (g[order], a[order])
        bleeds[kind] = b.info
    del scratch
    # beam hardening near the inner table and cupping (object level, anatomy only)
    xs_c = cav.gidx % geo.n_obj
    ys_c = (cav.gidx // geo.n_obj) % geo.n_obj
    xo, yo = geo.obj_xy()
    r2 = ((xo[xs_c] - geo.t[0]) ** 2 + (yo[ys_c] - geo.t[1]) ** 2) / 70.0 ** 2
    hf[cav.gidx] += _F(ph.rim) * np.exp(np.minimum(cav.dic, 0.0) / _F(2.0)) \
        - _F(ph.cupping) * np.clip(1.0 - r2, 0.0, None).astype(_F)
    volume, mask, region, tissue = _acquire(geo, ph, hu, tis, reg, alphas, seed, mim, metal)
    vox_ml = float(geo.thickness * geo.pixel * geo.pixel) / 1000.0
    vols = {k: float(np.count_nonzero(mask == 1 + BLEED_KINDS.index(k))) * vox_ml
            for k in label.bleeds}
    details = _details(an, ph, geo, label, vols, bleeds, mim, isch)
    case = NcctCase(family=FAMILY, seed=int(seed), label=label, volume_hu=volume,
                    spacing_mm=(float(geo.thickness), float(geo.pixel), float(geo.pixel)),
                    blood_mask=mask, details=details)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]


def _acquire(geo: _Geometry, ph: _Physics, hu: Arr, tis: Arr, reg: Arr,
             alphas: dict[str, tuple[Arr, Arr]], seed: int, mim: dict[str, Any],
             metal: Arr | None) -> tuple[Arr, Arr, Arr, Arr]:
    """From the object to the image, a few slices at a time: slice sensitivity profile
    (partial volume in z), in-plane point-spread function of the kernel, sampling on the
    matrix, edge overshoot of sharp kernels, beam hardening, metal streaks, noise, motion,
    calibration offset; the labels at the centre of each slice, the blood mask from the
    partial-volume fraction of blood."""
    n, m = geo.n_obj, geo.matrix
    w = _ssp_matrix(geo)
    bh, load = _beam_hardening(geo, ph, _rng(seed, 3))
    noise = _Noise(geo, ph, seed, load)
    volume = np.empty((geo.n_out, m, m), _F)
    tissue = np.empty((geo.n_out, m, m), np.uint8)
    region = np.empty((geo.n_out, m, m), np.uint8)
    mask = np.zeros((geo.n_out, m, m), np.uint8)
    sig = ph.psf_fwhm / 2.355 / geo.obj_pixel
    centre = geo.centre_slices()
    zo = geo.obj_z()
    foot = max(1, int(math.ceil(n / m)))
    kinds = [k for k in BLEED_KINDS if k in alphas]
    codes = np.asarray([1 + BLEED_KINDS.index(k) for k in kinds], np.uint8)
    wd = w.toarray()
    step = max(1, int(6_000_000 // (m * m)))
    for k0 in range(0, geo.n_out, step):
        k1 = min(geo.n_out, k0 + step)
        cols = np.nonzero(wd[k0:k1].any(axis=0))[0]
        m0, m1 = int(cols.min()), int(cols.max()) + 1
        wc = wd[k0:k1, m0:m1].astype(_F)
        img = (wc @ hu[m0:m1].reshape(m1 - m0, -1)).reshape(k1 - k0, n, n)
        if sig > 0.15:
            img = ndimage.gaussian_filter(img, (0, sig, sig), mode="nearest", truncate=3.0)
        img = np.asarray(_resample(img, m, 1), dtype=_F)
        if ph.overshoot > 0:
            blur = ndimage.gaussian_filter(img, (0, 1.2 / geo.pixel, 1.2 / geo.pixel),
                                           mode="nearest")
            img += _F(ph.overshoot) * (img - blur)
            del blur
        for k in range(k0, k1):
            if k in bh:
                img[k - k0] += bh[k]
        if metal is not None:
            _streaks(geo, img, k0, metal, mim["streak_artefact"])
        img += noise.chunk(k0, k1)
        if ph.motion is not None:
            mo = ph.motion
            ka = int(mo["start_fraction"] * geo.n_out)
            ang = math.radians(mo["angle_deg"])
            px_shift = mo["shift_mm"] / geo.pixel
            sh = (px_shift * math.sin(ang), px_shift * math.cos(ang))
            for k in range(max(k0, ka), min(k1, ka + int(mo["slices"]))):
                ghost = ndimage.shift(img[k - k0], sh, order=1, mode="nearest")
                img[k - k0] = (1.0 - mo["weight"]) * img[k - k0] + mo["weight"] * ghost
        img += _F(ph.offset)
        np.clip(img, -1024.0, 3071.0, out=img)
        volume[k0:k1] = img
        del img
        # labels: the centre sub-slice; small lesions and mimics keep their label if any
        # sub-slice or object pixel under the voxel holds them
        tis_c = tis[centre[k0:k1]].copy()
        for name in ("device", "contrast", "thrombus", "calcification"):
            code = np.uint8(_T[name])
            for k in range(k0, k1):
                mem = np.nonzero(np.abs(zo - (geo.z0 + k * geo.thickness))
                                 <= 0.5 * geo.thickness + 1e-6)[0]
                has = (tis[mem] == code).any(axis=0) if mem.size else tis[centre[k]] == code
                if not has.any():
                    continue
                if foot > 1:
                    has = ndimage.maximum_filter(has, size=foot)
                tis_c[k - k0][has] = code
        tissue[k0:k1] = _resample(tis_c, m, 0)
        region[k0:k1] = _resample(reg[centre[k0:k1]], m, 0)
        if kinds:
            fr = np.zeros((len(kinds), k1 - k0, n * n), _F)
            lo_g, hi_g = m0 * n * n, m1 * n * n
            for i, kind in enumerate(kinds):
                g, a = alphas[kind]
                s0, s1 = np.searchsorted(g, lo_g), np.searchsorted(g, hi_g)
                if s1 <= s0:
                    continue
                dense = np.zeros((m1 - m0) * n * n, _F)
                dense[g[s0:s1] - lo_g] = a[s0:s1]
                fr[i] = wc @ dense.reshape(m1 - m0, -1)
            best = codes[np.argmax(fr, axis=0)].reshape(k1 - k0, n, n)
            total = fr.sum(axis=0).reshape(k1 - k0, n, n)
            total_m = _resample(total, m, 1)
            best_m = _resample(best, m, 0)
            mask[k0:k1] = np.where(total_m >= 0.5, best_m, np.uint8(0))
    return volume, mask, region, tissue


def _details(an: _Anat, ph: _Physics, geo: _Geometry, label: NcctLabel, vols: dict[str, float],
             bleeds: dict[str, Any], mim: dict[str, Any], isch: dict[str, Any]
             ) -> dict[str, Any]:
    """What documents the draw: geometry, pose, physics, densities, anatomy, lesions."""
    def r(v: float, d: int = 3) -> float:
        return round(float(v), d)

    return {
        "generator": "cellular: Laguerre/Voronoi cell model of the head",
        "origin_mm": [r(geo.x0), r(geo.y0), r(geo.z0)],
        "kernel": ph.kernel,
        "bleed_volumes_ml": {k: r(v, 4) for k, v in vols.items()},
        "bleeds": bleeds,
        "mimics": mim,
        "ischaemia": isch,
        "ischaemic_delta_hu": isch.get("grey_drop_hu"),
        "pose": {"yaw_deg": r(ph.yaw, 2), "roll_deg": r(ph.roll, 2),
                 "head_pitch_deg": r(ph.head_pitch, 2), "gantry_tilt_deg": r(ph.gantry_tilt, 2),
                 "effective_pitch_deg": r(ph.head_pitch + ph.gantry_tilt, 2),
                 "translation_mm": [r(v, 2) for v in geo.t], "rotation": geo.rot.round(6).tolist(),
                 "head_scale": [r(v, 4) for v in an.scale],
                 "note": "patient LPS = rotation @ (head_scale * canonical) + translation; a "
                         "gantry tilt is rendered as pitch of the head in the image planes"},
        "physics": {"slice_thickness_mm": geo.thickness, "slice_increment_mm": geo.thickness,
                    "pixel_mm": r(geo.pixel, 5), "fov_mm": r(geo.fov, 2), "matrix": geo.matrix,
                    "ssp": "rect(T) * gauss(0.2 T)", "subslices": geo.n_sub,
                    "object_dz_mm": r(geo.dz_obj),
                    "object_grid": geo.n_obj, "kernel_class": ph.kernel_class,
                    "psf_fwhm_mm": r(ph.psf_fwhm), "edge_overshoot": r(ph.overshoot),
                    "reconstruction": ph.recon, "ir_level": r(ph.ir_level),
                    "noise_sd_hu": r(ph.noise_sd), "nps_cutoff_per_mm": r(ph.nps_fc),
                    "cupping_hu": r(ph.cupping), "inner_table_rim_hu": r(ph.rim),
                    "hounsfield_bar_hu": r(ph.hounsfield_bar), "petrous_streaks": ph.streaks,
                    "calibration_offset_hu": r(ph.offset), "motion": ph.motion,
                    "headrest": ph.headrest},
        "hu": {k: r(v, 2) for k, v in an.hu.items()},
        "anatomy": {"atrophy": r(an.atrophy), "gyri_per_hemisphere": list(an.n_gyri),
                    "ventricle_scale": [r(v) for v in an.vent_scale],
                    "transverse_sinus_radius_mm": {"left": r(an.transverse_r[0], 2),
                                                   "right": r(an.transverse_r[1], 2)},
                    "skull_mm": {"vault": r(an.t_vault, 2), "occipital": r(an.t_occ, 2),
                                 "temporal": r(an.t_temp, 2), "frontal": r(an.t_front, 2)},
                    "mastoid_pneumatisation": r(an.mastoid_pneum), **an.notes},
        "tissues": list(TISSUES),
        "regions": {"left": {r_: i + 1 for i, r_ in enumerate(ASPECTS_REGIONS)},
                    "right": {r_: i + 11 for i, r_ in enumerate(ASPECTS_REGIONS)}},
        "label": {"bleeds": list(label.bleeds), "mimics": list(label.mimics),
                  "ischaemic_regions": list(label.ischaemic_regions),
                  "ischaemic_side": label.ischaemic_side},
    }
