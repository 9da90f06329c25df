"""The "medial" family of synthetic non-contrast head CT: a head built from medial axes and
convolution surfaces.

Model
-----
Every structure is a *skeleton* (3-D medial curves, or sheets ruled between two curves) with a
radius function along it, in the spirit of Blum's medial-axis transform and of the m-rep shape
models of brain structures. Its surface is a level set of a field summed from kernels placed
along the skeleton (a convolution surface, after Bloomenthal and Shoemake): here
``-s log sum_i exp(-(|p - c_i| - r_i) / s)``, the soft union of the medial balls, which behaves
like a signed distance (negative inside) so that ribbons of fixed thickness (cortex, tables of
the skull, subdural layers) can be cut from it. Fields are evaluated on an isotropic head-frame
grid (0.8-2.2 mm, finer for finer matrices; broad smooth fields on a coarse grid, interpolated),
painted into HU with antialiased occupancies, and the reconstruction is sampled from that grid.

Anatomy (head frame: x to the patient's left, y posterior, z up; origin near the foramen of
Monro; all parameters drawn per seed, independent of the label):

* cranial vault: a medial sheet about the vault centre (an egg with random low-order terms)
  whose radius is half the thickness: frontal and occipital bone thick, temporal squama thin,
  an external occipital protuberance; inner and outer tables with diploe between; coronal,
  sagittal, lambdoid and squamosal sutures as thin zig-zag fibrous gaps; the bone plates they
  bound are available as ``_Head.plates``. Skull base: a floor height field (anterior, middle
  and posterior fossae, sella, foramen magnum as a hole) under a thin plate, plus the medial
  curves of the petrous ridges (dense pyramids), clivus, lesser sphenoid wings and the rim of
  the foramen magnum; sphenoid body and mastoid processes. Air: frontal sinus (size drawn,
  sometimes absent) between the tables, sphenoid sinus, mastoid air cells and ethmoid cells
  (honeycomb), nasal cavity, maxillary sinuses, nasopharynx, external auditory canals.
* scalp (skin, subcutaneous fat, galea/soft tissue), temporalis over the temporal fossae, face
  and neck; orbits (fat cones with bony walls), globes with sclera and lens, optic nerves and
  recti at the bottom slices.
* brain: frontal, parietal, temporal and occipital lobes and a deep core, each the convolution
  surface of its own medial curves; the union is made to follow the inner table (a CSF gap that
  widens with a drawn atrophy level), to stay above the tentorium and to split at the
  interhemispheric fissure except across the corpus callosum and diencephalon. Sulci are curves
  on the surface (central, pre/postcentral, superior/inferior frontal, superior/inferior
  temporal, intraparietal, lateral occipital; cingulate, parieto-occipital, calcarine, paracentral
  and subparietal on the medial wall; ~170 random short sulci per hemisphere thrown like darts),
  stored as angular distance maps about each hemisphere's centre and swept inwards to a depth,
  with a CSF cleft whose width grows with atrophy; the Sylvian fissure reaches down to the insula
  with its insular cistern. Cortex is the 2.2-3.4 mm ribbon of the carved surface, white matter
  the rest. Cerebellar hemispheres and vermis (folia as wavy clefts parallel to the surface, a
  horizontal fissure, a white-matter core), brainstem (midbrain, pons, medulla, cord).
* deep structures from medial curves/sheets: lateral ventricles (frontal horns and bodies as
  sheets with the septum pellucidum between, atria, occipital and temporal horns as tubes of
  varying radius along the C), third ventricle, aqueduct, fourth ventricle with lateral recesses,
  caudate along the ventricular wall, putamen and pallidum, thalamus, internal capsule (white
  matter between them), choroid plexus glomus in the atria, pineal; suprasellar, interpeduncular,
  ambient, quadrigeminal and basal Sylvian cisterns, prepontine space, cisterna magna.
* dura: falx (free edge above the callosum) and tentorium (a tent from the straight sinus to
  the transverse sinuses and petrous ridges, open at the incisura) as thin dense sheets; venous
  sinuses (superior sagittal, straight, transverse, sigmoid) slightly denser than brain;
  arteries (ICA, M1 and M2 branches over the insula, A1/A2, PCA, basilar, vertebrals) in the
  cisterns.
* HU per case: grey matter 35-45, white matter 24-32 (8-14 lower), deep grey 0-4 below cortex,
  pallidum 2-5 below, CSF 2-10, cortical bone 1250-1800, diploe 500-850, petrous 1600-2100,
  skin 35-55, muscle 40-58, fat -110 to -85, air -1000, venous blood 45-60, arteries 38-48,
  dura 45-65.

Tissue map codes are the indices of :data:`TISSUES`; the region map holds the ASPECTS regions
(C, L, IC, I, M1..M6 = 1..10 on the patient's left, 11..20 on the right): caudate, putamen and
pallidum, internal capsule, insular ribbon (insular cortex and extreme capsule), and the MCA
cortex and subcortical white matter split into anterior/lateral/posterior sectors at the
ganglionic (M1-M3) and supraganglionic (M4-M6) levels, excluding ACA and PCA territories.

Lesions (drawn from streams keyed by the seed and the lesion kind):

* acute clot attenuation from a drawn haematocrit 0.30-0.50: about 48-82 HU (anaemic cases
  45-55), clipped to 45-85 HU; partial volume with CSF makes subarachnoid and intraventricular
  blood read 25-70 HU.
* intraparenchymal: lobar (at depth in a lobe) or deep (putamen, thalamus, pons, cerebellum),
  a lobulated union of balls scaled to 0.5-80 mL, confined to parenchyma; hyperacute swirl sign
  (islands 15-30 HU lower), fluid-fluid level in anticoagulated cases (a denser dependent layer:
  gravity is posterior in the scanner frame, so tilted heads tilt the level), and a
  perihaematomal oedema rim (5-10 HU) around larger haematomas.
* intraventricular: a cast of several ventricular segments, a dependent layer in the occipital
  horns, or a tiny layer in one horn.
* subarachnoid: blood filling the subarachnoid CSF (sulci, fissures, cisterns) of a basal,
  perimesencephalic or convexity pattern, at 60-95 % of the CSF.
* subdural: a crescent (1.5-20 mm) along the convexity centred on a suture so that it crosses
  it, stopped at the falx; sometimes also along the falx or the tentorium; acute-on-chronic
  cases have a hypodense non-dependent chronic part (tissue "chronic_subdural_fluid", not in the
  blood mask).
* epidural: a biconvex lens under one bone plate, tapering to nothing before the sutures (the
  dura is bound there), often temporal, with a fracture line through the plate above and a scalp
  haematoma; sometimes a swirl.
* early ischaemic change: grey matter (cortex and deep grey) of the requested regions drops by
  delta (2-6 HU) and white matter by 30-60 % of delta: loss of grey-white differentiation,
  insular ribbon sign, lentiform obscuration.
* mimics (never in the blood mask): choroid plexus, pineal, basal ganglia and falx
  calcifications (100-400 HU), a hyperdense MCA (M1 and proximal M2, 55-70 HU, on the ischaemic
  side when there is one), residual contrast in arteries, sinuses and sometimes sulci, and a
  streak artefact from a small metal object on the scalp.

Every requested bleed kind is drawn; a bleed too small to fill half of any voxel at the chosen
matrix is grown (x1.5 per try) until it does.

Acquisition and CT physics (image domain): pose drawn (yaw +-15 deg, roll +-8, pitch -20..+25
with positive = chin down, off-centre up to 15 mm, head size +-8 %), field of view 220-250 mm,
4 or 5 mm contiguous slices from below the foramen magnum (and the globes) to the vertex. Each
slice integrates 3-5 sub-slices with a trapezoidal or Gaussian slice-sensitivity profile, each
pixel averages supersamples at coarse matrices; an in-plane MTF of the drawn kernel (Gaussian
with its MTF50 and some edge enhancement); a slight cupping and a dark interpetrous band
(beam hardening); helical windmill streaks at bone edges that change quickly through z in some
cases; patient motion (doubled or blurred edges) in 1-3 slices of ~15 % of cases; quantum noise
with the power spectrum of filtered back-projection (ramp times kernel squared, correlated over
1-2 pixels), 3-6 HU in brain, higher towards the centre of the head and in slices with more
bone (skull base). Values stay within -1024..3071 HU.

Truth
-----
``blood_mask``: 1 + index in ``BLEED_KINDS`` where at least half of the voxel is acute blood.
``details``: ``ischaemic_delta_hu``, ``kernel``, ``bleed_volumes_ml`` (from the mask),
``blood_hu`` (mean nominal HU of each bleed), ``haematocrit``, ``bleeds`` (site, side, pattern,
thickness ...), ``pose``, ``physics``, ``anatomy``, ``mimics``, ``origin_mm`` (LPS of voxel
(0, 0, 0)) and ``head_from_voxel`` (4x4 affine from voxel (k, j, i) to the head frame).

Sources (descriptions only; no code was copied): H. Blum, "A transformation for extracting new
descriptors of shape" (1967); S. Pizer et al., "Deformable m-reps for 3D medical image
segmentation" (IJCV 2003); J. Bloomenthal and K. Shoemake, "Convolution surfaces" (SIGGRAPH
1991); G. Wyvill et al., "Data structure for soft objects" (1986); J. Hsieh, "Computed
Tomography: principles, design, artifacts" (noise power spectra, helical and beam-hardening
artefacts); J. Barrett and N. Keat, "Artifacts in CT" (RadioGraphics 2004); P. New and
S. Aronow, "Attenuation measurements of whole blood and blood fractions in computed tomography"
(Radiology 1976); N. Al-Nakshabandi, "The swirl sign" (Radiology 2001); P. Barber et al.,
ASPECTS (Lancet 2000); standard neuroanatomy texts for positions and sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

FAMILY = "medial"

TISSUES: tuple[str, ...] = (
    "outside_air", "skin", "fat", "muscle", "cortical_bone", "diploe", "sinus_air",
    "subarachnoid_csf", "ventricular_csf", "grey_matter", "white_matter", "deep_grey_matter",
    "cerebellar_cortex", "cerebellar_white_matter", "brainstem", "dura", "venous_sinus",
    "artery", "choroid_plexus", "globe", "lens", "orbital_soft_tissue", "suture_or_fracture",
    "acute_blood", "chronic_subdural_fluid", "oedema", "calcification", "contrast", "metal",
)
"""Tissue classes of the tissue map: the code of a class is its index here."""

T = {name: i for i, name in enumerate(TISSUES)}

Arr = npt.NDArray[Any]
Vec = Sequence[float] | Arr
Box = tuple[slice, slice, slice]

_PARENCHYMA = (T["grey_matter"], T["white_matter"], T["deep_grey_matter"])


# ----------------------------------------------------------------------------- small helpers

def _sstep(x: Any) -> Arr:
    t = np.clip(x, 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), dtype=np.float32)


def _occ(sdf: Arr, w: float) -> Arr:
    """Occupancy (0..1) of the inside (sdf < 0) of a surface, antialiased over ``w`` mm."""
    return np.asarray(np.clip(0.5 - sdf * (1.0 / w), 0.0, 1.0), dtype=np.float32)


def _relu(x: Any) -> Arr:
    return np.asarray(np.maximum(x, 0.0))


def _unit(v: Vec) -> Arr:
    a = np.asarray(v, dtype=np.float64)
    return np.asarray(a / np.linalg.norm(a))


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) % (2**63), *stream])


def _chaikin(c: Arr, n: int) -> Arr:
    for _ in range(n):
        if len(c) < 3:
            break
        q = 0.75 * c[:-1] + 0.25 * c[1:]
        r = 0.25 * c[:-1] + 0.75 * c[1:]
        mid = np.empty((2 * len(q), c.shape[1]))
        mid[0::2], mid[1::2] = q, r
        c = np.vstack([c[:1], mid[1:-1], c[-1:]])
    return c


def _polyline(ctrl: Sequence[Sequence[float]], step: float, smooth: int = 2) -> tuple[Arr, Arr]:
    """Sample a medial curve given by control points (x, y, z, radius): points and radii."""
    c = _chaikin(np.asarray(ctrl, dtype=np.float64), smooth)
    seg = np.linalg.norm(np.diff(c[:, :3], axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(math.ceil(s[-1] / max(step, 1e-3))) + 1)
    t = np.linspace(0.0, s[-1], n)
    out = np.stack([np.interp(t, s, c[:, k]) for k in range(c.shape[1])], axis=1)
    return out[:, :3], out[:, 3]


def _ribbon(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], step: float
            ) -> tuple[Arr, Arr]:
    """A medial sheet ruled between two medial curves (same number of control points)."""
    pa, ra = _polyline(a, step)
    pb, rb = _polyline(b, step)
    n = min(len(pa), len(pb))
    pa, ra = pa[np.linspace(0, len(pa) - 1, n).astype(int)], ra[np.linspace(0, len(ra) - 1, n)
                                                                 .astype(int)]
    pb, rb = pb[np.linspace(0, len(pb) - 1, n).astype(int)], rb[np.linspace(0, len(rb) - 1, n)
                                                                 .astype(int)]
    width = float(np.max(np.linalg.norm(pa - pb, axis=1)))
    m = max(2, int(math.ceil(width / step)) + 1)
    w = np.linspace(0.0, 1.0, m)[:, None, None]
    pts = (pa[None] * (1 - w) + pb[None] * w).reshape(-1, 3)
    rad = (ra[None] * (1 - w[..., 0]) + rb[None] * w[..., 0]).reshape(-1)
    return pts, rad


def _mirror(pts: Arr) -> Arr:
    out = np.array(pts, dtype=np.float64, copy=True)
    out[:, 0] *= -1.0
    return out


# ----------------------------------------------------------------------------- grids

@dataclass(frozen=True)
class _Grid:
    """An isotropic grid in the head frame (x left, y posterior, z up; mm of anatomy)."""

    x0: float
    y0: float
    z0: float
    h: float
    nx: int
    ny: int
    nz: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.nz, self.ny, self.nx)

    def vecs(self, box: Box | None = None) -> tuple[Arr, Arr, Arr]:
        """1-D coordinate vectors (z, y, x) of ``box``."""
        bz, by, bx = box if box is not None else (slice(None),) * 3
        z = (self.z0 + self.h * np.arange(self.nz, dtype=np.float32))[bz]
        y = (self.y0 + self.h * np.arange(self.ny, dtype=np.float32))[by]
        x = (self.x0 + self.h * np.arange(self.nx, dtype=np.float32))[bx]
        return z.astype(np.float32), y.astype(np.float32), x.astype(np.float32)

    def axes(self, box: Box | None = None) -> tuple[Arr, Arr, Arr]:
        """Broadcastable coordinate arrays Z (n,1,1), Y (1,n,1), X (1,1,n) of ``box``."""
        z, y, x = self.vecs(box)
        return z[:, None, None], y[None, :, None], x[None, None, :]

    def box(self, lo: Vec, hi: Vec) -> Box:
        """Index box covering the head-frame bounds lo=(x, y, z) .. hi=(x, y, z)."""
        org = (self.x0, self.y0, self.z0)
        n = (self.nx, self.ny, self.nz)
        sl = []
        for k in range(3):
            i0 = int(np.clip(math.floor((lo[k] - org[k]) / self.h), 0, n[k]))
            i1 = int(np.clip(math.ceil((hi[k] - org[k]) / self.h) + 1, 0, n[k]))
            sl.append(slice(i0, max(i0, i1)))
        return (sl[2], sl[1], sl[0])


def _box_of_points(g: _Grid, pts: Arr, rad: Arr, pad: float) -> Box:
    lo = (pts - rad[:, None]).min(axis=0) - pad
    hi = (pts + rad[:, None]).max(axis=0) + pad
    return g.box(lo, hi)


def _full(g: _Grid) -> Box:
    return (slice(0, g.nz), slice(0, g.ny), slice(0, g.nx))


def _empty(box: Box) -> bool:
    return any(s.stop <= s.start for s in box)


def _balls(g: _Grid, box: Box, pts: Arr, rad: Arr, s: float) -> Arr:
    """Convolution-surface field of a sampled medial axis: a signed distance-like field
    ``-s log sum_i exp(-(|p - c_i| - r_i) / s)`` (negative inside), i.e. the soft union of the
    medial balls, evaluated on ``box``."""
    z, y, x = g.vecs(box)
    acc = np.zeros((len(z), len(y), len(x)), dtype=np.float32)
    inv = 1.0 / s
    for (px, py, pz), r in zip(pts, rad, strict=True):
        reach = r + 6.0 * s
        iz = np.searchsorted(z, [pz - reach, pz + reach])
        iy = np.searchsorted(y, [py - reach, py + reach])
        ix = np.searchsorted(x, [px - reach, px + reach])
        if iz[1] <= iz[0] or iy[1] <= iy[0] or ix[1] <= ix[0]:
            continue
        dz = (z[iz[0]:iz[1]] - np.float32(pz)) ** 2
        dy = (y[iy[0]:iy[1]] - np.float32(py)) ** 2
        dx = (x[ix[0]:ix[1]] - np.float32(px)) ** 2
        d = np.sqrt(dz[:, None, None] + dy[None, :, None] + dx[None, None, :])
        d -= np.float32(r)
        np.clip(d, -60.0 * s, None, out=d)
        d *= np.float32(-inv)
        np.exp(d, out=d)
        acc[iz[0]:iz[1], iy[0]:iy[1], ix[0]:ix[1]] += d
    out = np.full(acc.shape, 6.0 * s, dtype=np.float32)
    pos = acc > np.float32(math.exp(-6.0))
    out[pos] = -s * np.log(acc[pos])
    return out


def _lin_axis(a: Arr, axis: int, pos: Arr) -> Arr:
    n = a.shape[axis]
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, max(n - 2, 0))
    w = np.clip(pos - i0, 0.0, 1.0).astype(np.float32)
    a0 = np.take(a, i0, axis=axis)
    a1 = np.take(a, np.minimum(i0 + 1, n - 1), axis=axis)
    shape = [1, 1, 1]
    shape[axis] = len(pos)
    return np.asarray(a0 + (a1 - a0) * w.reshape(shape), dtype=np.float32)


def _upsample(coarse: Arr, cg: _Grid, g: _Grid, box: Box, nearest: bool = False) -> Arr:
    """Separable trilinear (or nearest) resampling of a coarse head-frame field onto ``box``."""
    z, y, x = g.vecs(box)
    pz, py, px = (z - cg.z0) / cg.h, (y - cg.y0) / cg.h, (x - cg.x0) / cg.h
    if nearest:
        iz = np.clip(np.rint(pz).astype(np.int64), 0, cg.nz - 1)
        iy = np.clip(np.rint(py).astype(np.int64), 0, cg.ny - 1)
        ix = np.clip(np.rint(px).astype(np.int64), 0, cg.nx - 1)
        return np.asarray(coarse[np.ix_(iz, iy, ix)])
    out = _lin_axis(coarse, 0, pz)
    out = _lin_axis(out, 1, py)
    return _lin_axis(out, 2, px)


# ----------------------------------------------------------------------------- the head

def _U(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(r.uniform(lo, hi))


class _Head:
    """One drawn head: all anatomical parameters and the analytic parts of the model (the
    cranial vault's medial sheet, the skull base, the sutures, the tentorium and falx)."""

    def __init__(self, seed: int) -> None:
        r = _rng(seed, 1)
        self.seed = seed
        self.age = _U(r, 20.0, 92.0)
        base_atr = max(0.0, (self.age - 35.0) / 55.0)
        self.atrophy = float(np.clip(base_atr + r.normal(0.0, 0.15), 0.0, 1.0))
        a = self.atrophy
        # cranial vault: inner-table ellipsoid about the vault centre, with low-order terms
        self.cv = np.array([0.0, _U(r, 3.0, 7.0), _U(r, 3.0, 7.0)])
        self.ax = _U(r, 63.0, 69.0)
        self.ayf = _U(r, 76.0, 82.0)
        self.ayb = _U(r, 80.0, 87.0)
        self.azu = _U(r, 70.0, 77.0)
        self.azd = _U(r, 70.0, 76.0)
        self.shape_c = r.normal(0.0, 0.018, size=6)
        self.t_par = _U(r, 4.5, 6.5)
        self.t_fro = _U(r, 6.5, 9.0)
        self.t_occ = _U(r, 7.0, 10.0)
        self.t_tmp = _U(r, 2.0, 3.5)
        self.t_table = _U(r, 1.3, 2.0)
        self.frontal_sinus = _U(r, 0.0, 1.0)
        self.scalp = _U(r, 3.5, 6.0)
        self.scalp_fat = _U(r, 0.8, 2.5)
        self.temporalis = _U(r, 3.0, 8.0)
        # skull base (heights of the fossae)
        self.z_af = _U(r, -23.0, -18.0)
        self.z_mf = _U(r, -46.0, -41.0)
        self.z_pf = _U(r, -70.0, -64.0)
        self.z_ridge = _U(r, -33.0, -28.0)
        self.fm = (_U(r, 28.0, 33.0), _U(r, 14.0, 16.5), _U(r, 16.5, 19.0))
        # sutures: bregma, pterion, lambda, asterion, squamosal top
        self.bregma_y = _U(r, -16.0, -6.0)
        self.pterion = np.array([0.0, _U(r, -26.0, -18.0), _U(r, -8.0, 0.0)])
        self.lambda_y = _U(r, 60.0, 70.0)
        self.asterion = np.array([0.0, _U(r, 56.0, 64.0), _U(r, -30.0, -24.0)])
        self.squama_top = _U(r, 18.0, 30.0)
        self.suture_w = _U(r, 0.35, 0.7)
        self.suture_zig = (_U(r, 0.5, 1.4), _U(r, 0.6, 1.2), _U(r, 0.0, 6.3))
        # brain
        self.gap = 1.2 + 3.5 * a + _U(r, 0.0, 0.8)
        self.gap_ih = 0.8 + 2.2 * a + _U(r, 0.0, 0.5)
        self.sulc_w = 0.35 + 1.4 * a + _U(r, 0.0, 0.25)
        self.t_gm = _U(r, 2.2, 3.4)
        self.vent = 0.85 + 0.8 * a + _U(r, -0.1, 0.15)
        self.x_ins = _U(r, 40.0, 43.0)
        self.w_ins = 0.6 + 1.8 * a
        self.syl_w = 0.8 + 2.2 * a
        self.tent_apex = np.array([0.0, _U(r, 32.0, 38.0), _U(r, 2.0, 7.0)])
        self.tent_slope = _U(r, 0.40, 0.52)
        self.z_torc = _U(r, -22.0, -14.0)
        self.cm_size = _U(r, 6.0, 14.0) * (1.0 + 0.4 * a)
        self.asym = r.normal(0.0, 1.2, size=8)
        self.jitter = r.normal(0.0, 1.0, size=(64, 4))
        self.r_sulci = r
        # HU of the normal tissues
        h = _rng(seed, 2)
        gm = _U(h, 35.0, 45.0)
        wm = float(np.clip(gm - _U(h, 8.0, 14.0), 24.0, 32.0))
        self.hu = {
            "gm": gm, "wm": wm, "deep": gm - _U(h, 0.0, 4.0), "pallidum": gm - _U(h, 2.0, 5.0),
            "csf": _U(h, 2.0, 10.0), "bone": _U(h, 1250.0, 1800.0), "diploe": _U(h, 500.0, 850.0),
            "petrous": _U(h, 1600.0, 2100.0), "skin": _U(h, 35.0, 55.0),
            "muscle": _U(h, 40.0, 58.0), "fat": _U(h, -110.0, -85.0), "air": -1000.0,
            "venous": _U(h, 45.0, 60.0), "artery": _U(h, 38.0, 48.0), "dura": _U(h, 45.0, 65.0),
            "choroid": _U(h, 28.0, 40.0), "vitreous": _U(h, 4.0, 14.0), "lens": _U(h, 85.0, 120.0),
            "orbit_st": _U(h, 32.0, 48.0), "suture": _U(h, 35.0, 60.0),
            "brainstem": wm + _U(h, 2.0, 5.0), "cb_gm": gm + _U(h, -1.5, 1.0),
            "cb_wm": wm + _U(h, 0.0, 3.0), "sinus_air": _U(h, -1000.0, -900.0),
        }
        self._sutures()

    # -- vault ------------------------------------------------------------------
    def vault_r(self, ux: Arr, uy: Arr, uz: Arr) -> Arr:
        """Inner-table radius along unit direction u from the vault centre."""
        ax = self.ax * (1.0 - 0.10 * _relu(-uy) ** 2 + 0.02 * _relu(uy))
        ay = np.where(uy < 0, np.float32(self.ayf), np.float32(self.ayb))
        az = np.where(uz > 0, np.float32(self.azu), np.float32(self.azd))
        r = 1.0 / np.sqrt((ux / ax) ** 2 + (uy / ay) ** 2 + (uz / az) ** 2)
        c = [float(v) for v in self.shape_c]
        mod = (1.0 + c[0] * (ux * ux - 0.33) + c[1] * uy * uz + c[2] * uy + c[3] * uz
               + c[4] * ux * ux * uy - 0.03 * _relu(-uy) * _relu(uz) + 0.02 * _relu(uy) * _relu(uz)
               + c[5] * uz * uz)
        return np.asarray(r * mod, dtype=np.float32)

    def vault_t(self, ux: Arr, uy: Arr, uz: Arr) -> Arr:
        """Thickness of the vault along u (frontal and occipital thick, temporal squama thin)."""
        t = (self.t_par + (self.t_fro - self.t_par) * _sstep(-uy * 1.6)
             + (self.t_occ - self.t_par) * _sstep((uy - 0.45) * 2.5) * _sstep((0.5 - uz) * 2.0))
        temporal = _sstep((np.abs(ux) - 0.72) * 5.0) * _sstep((0.3 - uz) * 4.0)
        t = t * (1.0 - temporal) + self.t_tmp * temporal
        # frontal sinus: the glabella thickens to hold it
        gl = np.exp(-((ux / 0.22) ** 2) - ((uz + 0.08) / 0.14) ** 2) * _sstep(-uy * 3.0 - 1.8)
        t = t + (2.0 + 12.0 * self.frontal_sinus) * gl
        # external occipital protuberance
        t = t + 4.0 * np.exp(-((ux / 0.15) ** 2) - ((uz + 0.18) / 0.12) ** 2) * _sstep(uy * 4 - 3)
        return np.asarray(t, dtype=np.float32)

    # -- skull base ---------------------------------------------------------------
    def petrous_d(self, x: Arr, y: Arr) -> Arr:
        """Signed distance (mm, posterior positive) to the petrous ridge line."""
        ax = np.abs(x)
        n0, n1 = -0.70 / math.hypot(0.70, 1.0), 1.0 / math.hypot(0.70, 1.0)
        return np.asarray((ax - 9.0) * n0 + (y + 2.0) * n1, dtype=np.float32)

    def floor(self, x: Arr, y: Arr) -> Arr:
        """Height of the cranial floor (anterior, middle, posterior fossae; clivus; sella;
        petrous ridges); the foramen magnum is a hole (-200)."""
        ax = np.abs(x)
        y_lw = -25.0 - 0.14 * ax
        s1 = _sstep((y - y_lw) / 6.0 + 0.5)
        z_a = (self.z_af + 4.0 * np.exp(-((ax - 26.0) / 13.0) ** 2 - ((y + 48.0) / 20.0) ** 2)
               - 5.0 * np.exp(-(x / 6.0) ** 2) * _sstep((-30.0 - y) / 10.0))
        z_sella = -31.0
        z_m = self.z_mf + (z_sella - self.z_mf) * np.exp(-(x / 17.0) ** 2)
        z_m = z_m - 6.0 * np.exp(-(x / 7.0) ** 2 - ((y + 9.0) / 6.0) ** 2)
        dp = self.petrous_d(x, y)
        s2 = _sstep(dp / 8.0 + 0.5)
        yb = 2.0 + self.fm[0] - self.fm[2]
        cl = np.clip((y + 2.0) / (yb + 2.0), 0.0, 1.0)
        z_cl = -26.0 + (self.z_pf + 5.0 + 26.0) * cl
        z_p = self.z_pf + 12.0 * np.exp(-((dp - 6.0) / 14.0) ** 2) * _sstep((ax - 6.0) / 10.0)
        z_p = np.maximum(z_p, z_cl * 1.0 + (self.z_pf - z_cl) * (1.0 - np.exp(-(x / 15.0) ** 2))
                         * 1.0)
        z = z_a * (1.0 - s1) + (z_m * (1.0 - s2) + z_p * s2) * s1
        ridge = self.z_ridge - 0.9 * np.abs(dp) * 1.0
        on_ridge = _sstep((ax - 8.0) / 4.0) * _sstep((58.0 - ax) / 6.0)
        z = np.maximum(z, ridge * on_ridge + (-300.0) * (1.0 - on_ridge))
        # dorsum sellae / clinoids
        z = np.maximum(z, -26.0 - 60.0 * ((x / 9.0) ** 2 + ((y + 2.5) / 2.5) ** 2))
        fm = (x / self.fm[1]) ** 2 + ((y - self.fm[0]) / self.fm[2]) ** 2
        z = np.where(fm < 1.0, -200.0, z)
        return np.asarray(z, dtype=np.float32)

    def base_t(self, x: Arr, y: Arr) -> Arr:
        """Thickness of the plate of bone below the cranial floor (the petrous pyramids, clivus,
        sphenoid and the rim of the foramen magnum are added from their medial curves)."""
        t = 2.6 + 2.4 * _sstep((y - 10.0) / 20.0)
        t = t - 0.8 * _sstep((-28.0 - y) / 6.0)  # orbital roofs
        return np.asarray(t, dtype=np.float32)

    def base_curves(self) -> dict[str, tuple[Arr, Arr]]:
        """Medial curves (points, radii) of the skull base: petrous ridges, clivus, lesser
        sphenoid wings and the rim of the foramen magnum."""
        out: dict[str, tuple[Arr, Arr]] = {}
        zr = self.z_ridge
        for sx, tag in ((1.0, "L"), (-1.0, "R")):
            out["petrous_" + tag] = _polyline(
                [(sx * 9.0, -1.0, zr - 5.0, 4.5), (sx * 22.0, 8.0, zr - 6.5, 7.5),
                 (sx * 38.0, 19.0, zr - 8.5, 9.5), (sx * 52.0, 28.0, zr - 11.0, 10.5)], 1.0)
            out["wing_" + tag] = _polyline(
                [(sx * 8.0, -20.0, self.z_af - 4.0, 2.6), (sx * 25.0, -25.0, self.z_af - 2.5,
                                                          2.4),
                 (sx * 44.0, -31.0, self.z_af - 1.0, 2.2)], 1.0)
        fy, fax, fay = self.fm
        out["clivus"] = _polyline([(0.0, -3.0, -29.0, 5.0), (0.0, 5.0, -44.0, 7.0),
                                   (0.0, fy - fay - 3.0, self.z_pf + 1.0, 5.5)], 1.0)
        th = np.linspace(0.0, 2.0 * math.pi, 48, endpoint=False)
        ring = np.stack([(fax + 3.5) * np.cos(th), fy + (fay + 3.5) * np.sin(th),
                         np.full_like(th, self.z_pf - 2.5)], axis=1)
        out["foramen_magnum"] = (ring, np.full(len(th), 4.0))
        return out

    # -- tentorium ----------------------------------------------------------------
    def tent(self, x: Arr, y: Arr) -> Arr:
        """Height of the tentorium (a tent from the straight sinus down to the transverse
        sinuses and petrous ridges), continued virtually across the incisura."""
        ya, za = float(self.tent_apex[1]), float(self.tent_apex[2])
        back = (self.z_torc - za) / (82.0 - ya)
        zs = np.where(y >= ya, za + back * (y - ya), za + 0.42 * (y - ya))
        k = self.tent_slope + 0.25 * _sstep((ya - y) / 30.0)
        return np.asarray(zs - k * np.abs(x), dtype=np.float32)

    def incisura(self, x: Arr, y: Arr) -> Arr:
        """< 1 inside the tentorial incisura."""
        return np.asarray((x / 15.0) ** 2 + ((y - 4.0) / (self.tent_apex[1] - 4.0)) ** 2)

    # -- sutures and bone plates ---------------------------------------------------
    def _sutures(self) -> None:
        c = self.cv
        ub = _unit((0.0, -0.12, 1.0))
        rb = float(self.vault_r(np.array(ub[0]), np.array(ub[1]), np.array(ub[2])))
        bregma = c + rb * ub
        bregma[1] = self.bregma_y
        ptl = self.pterion.copy()
        ptl[0] = 60.0
        ptr = ptl.copy()
        ptr[0] = -60.0
        n = np.cross(ptl - bregma, ptr - bregma)
        n = n / np.linalg.norm(n)
        if n[1] < 0:
            n = -n
        self.cor_n, self.cor_p = n, bregma
        ul = _unit((0.0, 0.75, 0.66))
        rl = float(self.vault_r(np.array(ul[0]), np.array(ul[1]), np.array(ul[2])))
        lam = c + rl * ul
        lam[1] = self.lambda_y
        ast = self.asterion.copy()
        ast[0] = 55.0
        nl = np.cross(ast - lam, c - lam)
        nl = nl / np.linalg.norm(nl)
        if np.dot(nl, np.array([0.0, 100.0, -20.0]) - lam) < 0:
            nl = -nl
        self.lam_n, self.lam_p = nl, lam

    def suture_fields(self, x: Arr, y: Arr, z: Arr) -> dict[str, Arr]:
        """Signed distances (mm) to the coronal, lambdoid, sagittal and squamosal sutures."""
        ax = np.abs(x)
        cn, cp = [float(v) for v in self.cor_n], [float(v) for v in self.cor_p]
        ln, lp = [float(v) for v in self.lam_n], [float(v) for v in self.lam_p]
        cor = cn[1] * (y - cp[1]) + cn[2] * (z - cp[2])
        lam = ln[0] * (ax - lp[0]) + ln[1] * (y - lp[1]) + ln[2] * (z - lp[2])
        zsq = self.squama_top - 0.010 * (y - 8.0) ** 2
        sq = (z - zsq) * 0.85
        return {"coronal": np.asarray(cor), "lambdoid": np.asarray(lam),
                "sagittal": np.asarray(x), "squamosal": np.asarray(sq)}

    def plates(self, x: Arr, y: Arr, z: Arr) -> tuple[Arr, Arr]:
        """Bone plate of each point (0 frontal, 1/2 parietal L/R, 3/4 temporal L/R,
        5 occipital) and the distance (mm) to the nearest suture bounding that plate."""
        f = self.suture_fields(x, y, z)
        cor, lam, sq = f["coronal"], f["lambdoid"], f["squamosal"]
        ax = np.abs(x)
        left = x >= 0
        temporal = (sq < 0) & (cor > 0) & (lam < 0) & (ax > 25.0)
        plate = np.where(cor < 0, 0, np.where(lam > 0, 5, np.where(
            temporal, np.where(left, 3, 4), np.where(left, 1, 2))))
        big = np.float32(1e3)
        d_front = np.abs(cor)
        d_occ = np.abs(lam)
        d_temp = np.minimum(np.minimum(np.abs(sq), np.abs(cor)), np.abs(lam))
        d_par = np.minimum(np.minimum(np.abs(cor), np.abs(lam)), np.where(
            ax > 25.0, np.abs(sq), big))
        d_par = np.minimum(d_par, ax)
        dist = np.where(plate == 0, d_front, np.where(plate == 5, d_occ, np.where(
            plate >= 3, d_temp, d_par)))
        return np.asarray(plate, dtype=np.int8), np.asarray(dist, dtype=np.float32)


# ----------------------------------------------------------------------------- sulcal maps

_SULCI_LEFT: dict[str, tuple[float, list[tuple[float, float, float]]]] = {
    # name: (depth mm, anchor points on the left convexity)
    "central": (19.0, [(5, 12, 78), (25, 8, 72), (45, 2, 56), (58, -6, 34), (62, -10, 20)]),
    "precentral": (13.0, [(14, -4, 77), (34, -8, 66), (50, -14, 48), (60, -20, 28)]),
    "postcentral": (13.0, [(14, 26, 76), (38, 21, 63), (55, 12, 40), (62, 6, 24)]),
    "superior_frontal": (13.0, [(22, -12, 72), (26, -34, 64), (25, -54, 45), (21, -68, 20)]),
    "inferior_frontal": (12.0, [(50, -16, 40), (49, -36, 34), (41, -56, 20)]),
    "superior_temporal": (15.0, [(50, -20, -20), (63, 0, -12), (63, 25, -2), (55, 46, 14)]),
    "inferior_temporal": (11.0, [(53, -10, -30), (60, 15, -22), (55, 42, -10)]),
    "intraparietal": (17.0, [(38, 22, 62), (46, 40, 48), (40, 60, 34), (26, 76, 20)]),
    "lateral_occipital": (10.0, [(44, 60, 10), (34, 74, 4), (24, 82, -2)]),
}
_SYLVIAN_LEFT = [(40, -28, -13), (58, -16, -4), (63, 4, 5), (60, 24, 14), (52, 38, 28)]
_MEDIAL_SULCI: dict[str, tuple[float, list[tuple[float, float]]]] = {
    # name: (depth mm, anchors (y, z) on the medial wall)
    "cingulate": (14.0, [(-30, -10), (-44, 6), (-38, 30), (-18, 42), (8, 44), (22, 42), (28, 60),
                         (26, 76)]),
    "parieto_occipital": (18.0, [(52, 62), (47, 40), (40, 12)]),
    "calcarine": (17.0, [(88, 4), (66, 4), (46, 8), (38, 10)]),
    "paracentral": (9.0, [(-4, 62), (-6, 76)]),
    "subparietal": (9.0, [(28, 40), (40, 38), (48, 36)]),
}


@dataclass
class _SulcalMap:
    """Sulci as curves on the brain surface, stored as an angular distance map about a
    hemisphere centre (the sulcal sheets are swept along the radial, roughly normal, direction)."""

    centre: Arr
    side: float
    ang: Arr  # (na, nb + 2) radians to the nearest sulcal curve
    depth: Arr  # depth (mm) of that sulcus at the nearest point
    width: Arr  # half-width factor of that sulcus


_NA, _NB = 181, 360


def _map_dirs(side: float) -> Arr:
    a = np.linspace(0.0, math.pi, _NA)
    b = np.linspace(-math.pi, math.pi, _NB, endpoint=False)
    aa, bb = np.meshgrid(a, b, indexing="ij")
    return np.stack([side * np.cos(aa), -np.sin(aa) * np.cos(bb), np.sin(aa) * np.sin(bb)], -1)


def _arc_points(dirs: Arr, step_rad: float) -> Arr:
    out = [dirs[:1]]
    for a, b in zip(dirs[:-1], dirs[1:], strict=True):
        ang = math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0)))
        n = max(1, int(math.ceil(ang / step_rad)))
        t = np.linspace(0.0, 1.0, n + 1)[1:, None]
        p = a[None] * (1 - t) + b[None] * t
        out.append(p / np.linalg.norm(p, axis=1, keepdims=True))
    return np.vstack(out)


def _build_lateral_map(head: _Head, side: float, r: np.random.Generator) -> _SulcalMap:
    centre = np.array([side * 24.0, 8.0, 8.0])
    pts: list[Arr] = []
    depth: list[Arr] = []
    width: list[Arr] = []
    step = math.radians(0.6)
    for k, (_name, (d, anchors)) in enumerate(_SULCI_LEFT.items()):
        a = np.asarray(anchors, dtype=np.float64)
        a[:, 0] *= side
        a = a + r.normal(0.0, 3.0, size=a.shape) + (head.asym[k % 8] if side < 0 else 0.0)
        dirs = a - centre
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        p = _arc_points(dirs, step)
        t = np.linspace(0.0, 1.0, len(p))
        prof = 0.35 + 0.65 * np.sin(np.pi * np.clip(t * 1.15 - 0.07, 0, 1)) ** 0.5
        pts.append(p)
        depth.append(d * _U(r, 0.85, 1.15) * prof)
        width.append(np.full(len(p), _U(r, 0.8, 1.2)))
    for k, (d, anchors2) in enumerate(_MEDIAL_SULCI.values()):
        a2 = np.asarray(anchors2, dtype=np.float64) + r.normal(0.0, 2.0, size=(len(anchors2), 2))
        a = np.concatenate([np.full((len(a2), 1), side * 2.5), a2], axis=1)
        dirs = a - centre
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        p = _arc_points(dirs, step)
        t = np.linspace(0.0, 1.0, len(p))
        pts.append(p)
        depth.append(d * _U(r, 0.85, 1.15) * (0.4 + 0.6 * np.sin(np.pi * np.clip(
            t * 1.1 - 0.05, 0, 1)) ** 0.5))
        width.append(np.full(len(p), _U(r, 0.8, 1.1)))
        del k
    # many short random sulci, thrown like darts so that gyri keep a plausible width
    tree = cKDTree(np.vstack(pts))
    pending = np.zeros((0, 3))

    def gap(q: Arr) -> float:
        d = float(np.min(tree.query(q)[0]))
        if len(pending):
            d = min(d, float(np.sqrt(np.min(((q[:, None] - pending[None]) ** 2).sum(-1)))))
        return d

    accepted = 0
    for _ in range(1600):
        if accepted >= 170:
            break
        v = r.normal(size=3)
        v /= np.linalg.norm(v)
        if v[2] < -0.8 or (v[2] < -0.35 and v[1] > 0.45):
            continue
        if gap(v[None]) * 60.0 < 6.0:
            continue
        length = _U(r, 12.0, 34.0) / 60.0
        tang = np.cross(v, r.normal(size=3))
        tang /= np.linalg.norm(tang)
        bend = np.cross(v, tang) * _U(r, -0.5, 0.5) * length
        ctrl = np.stack([v - tang * length / 2, v + bend * 0.7 - tang * length / 6,
                         v + bend * 0.7 + tang * length / 6, v + tang * length / 2])
        ctrl /= np.linalg.norm(ctrl, axis=1, keepdims=True)
        p = _arc_points(ctrl, step)
        if gap(p) * 60.0 < 3.5:
            continue
        t = np.linspace(0.0, 1.0, len(p))
        pts.append(p)
        depth.append(_U(r, 6.0, 12.0) * (0.45 + 0.55 * np.sin(np.pi * t)))
        width.append(np.full(len(p), _U(r, 0.7, 1.15)))
        pending = np.vstack([pending, p])
        if len(pending) > 250:
            tree = cKDTree(np.vstack(pts))
            pending = np.zeros((0, 3))
        accepted += 1
    tree = cKDTree(np.vstack(pts))
    dep = np.concatenate(depth)
    wid = np.concatenate(width)
    dirs = _map_dirs(side).reshape(-1, 3)
    chord, idx = tree.query(dirs)
    ang = 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))

    def wrap(m: Arr) -> Arr:
        m = m.reshape(_NA, _NB)
        return np.asarray(np.concatenate([m[:, -1:], m, m[:, :1]], axis=1), dtype=np.float32)

    return _SulcalMap(centre, side, wrap(ang), wrap(dep[idx]), wrap(wid[idx]))


def _lookup(m: _SulcalMap, px: Arr, py: Arr, pz: Arr) -> tuple[Arr, Arr, Arr, Arr]:
    """Distance (mm) to the nearest sulcal sheet, its depth and width factor, and the radius."""
    dx, dy, dz = px - m.centre[0], py - m.centre[1], pz - m.centre[2]
    rho = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-6
    a = np.arccos(np.clip(m.side * dx / rho, -1.0, 1.0))
    b = np.arctan2(dz, -dy)
    ia = a * ((_NA - 1) / math.pi)
    ib = (b + math.pi) * (_NB / (2.0 * math.pi)) + 1.0
    c = np.stack([ia, ib])
    ang = ndimage.map_coordinates(m.ang, c, order=1, mode="nearest", prefilter=False)
    dep = ndimage.map_coordinates(m.depth, c, order=1, mode="nearest", prefilter=False)
    wid = ndimage.map_coordinates(m.width, c, order=0, mode="nearest", prefilter=False)
    return (np.asarray(ang * rho, dtype=np.float32), np.asarray(dep, dtype=np.float32),
            np.asarray(wid, dtype=np.float32), np.asarray(rho, dtype=np.float32))


# ----------------------------------------------------------------------------- skeletons

_LOBES_LEFT: dict[str, list[list[tuple[float, float, float, float]]]] = {
    "frontal": [
        [(10, -58, 10, 14), (10, -44, 40, 16), (10, -20, 58, 16)],
        [(14, -64, -12, 13), (18, -62, 6, 20), (22, -50, 28, 24), (24, -32, 46, 26),
         (24, -14, 56, 26), (26, 0, 58, 24)],
        [(34, -54, -10, 15), (44, -38, 2, 20), (48, -22, 14, 22), (46, -8, 28, 22)],
    ],
    "parietal": [
        [(24, 14, 58, 26), (30, 30, 50, 26), (30, 46, 42, 24)],
        [(11, 0, 62, 16), (11, 24, 60, 16), (11, 44, 50, 16)],
        [(46, 14, 32, 22), (48, 30, 26, 22), (42, 46, 28, 22)],
    ],
    "temporal": [
        [(33, -30, -28, 11), (44, -18, -26, 15), (48, 0, -22, 18), (47, 22, -16, 19),
         (40, 42, -8, 19)],
    ],
    "occipital": [
        [(32, 56, 14, 20), (28, 70, 6, 18), (18, 84, 2, 12)],
        [(16, 62, 24, 18), (12, 76, 14, 14)],
        [(11, 50, 40, 16), (11, 66, 30, 16), (10, 80, 14, 12)],
    ],
    "core": [
        [(18, -32, 6, 18), (22, -12, 8, 20), (24, 10, 10, 20), (26, 30, 10, 18)],
        [(10, -30, 14, 14), (10, 0, 24, 14), (10, 30, 18, 14)],
    ],
}
_LOBE_CODES = {"frontal": 1, "parietal": 2, "temporal": 3, "occipital": 4, "core": 5}


def _jit(head: _Head, ctrl: list[tuple[float, float, float, float]], k: int, scale: float
         ) -> list[list[float]]:
    out = []
    for i, (x, y, z, r) in enumerate(ctrl):
        j = head.jitter[(k * 7 + i) % 64]
        out.append([x + scale * j[0], y + scale * j[1], z + scale * j[2],
                    r * (1.0 + 0.04 * j[3])])
    return out


# ----------------------------------------------------------------------------- the model

@dataclass
class _Model:
    """The head rendered on a head-frame grid: HU, tissue classes, tissue fractions, and the
    fields the lesions need."""

    head: _Head
    g: _Grid
    hu: Arr = field(init=False)
    tissue: Arr = field(init=False)
    ch: dict[str, Arr] = field(init=False)
    f: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        shape = self.g.shape
        self.hu = np.full(shape, -1000.0, dtype=np.float32)
        self.tissue = np.zeros(shape, dtype=np.uint8)
        self.ch = {k: np.zeros(shape, dtype=np.float32) for k in ("gm", "wm", "csf", "vent")}
        self.f = {}

    def paint(self, box: Box, frac: Arr, hu: Any, code: int, ch: str | None = None,
              keep: bool = False) -> None:
        """Replace a fraction ``frac`` of each voxel of ``box`` by a tissue (``keep`` leaves the
        tracked tissue fractions alone: for small features inside a tissue)."""
        if _empty(box):
            return
        frac = np.asarray(frac, dtype=np.float32)
        sub = self.hu[box]
        sub += (np.asarray(hu, dtype=np.float32) - sub) * frac
        t = self.tissue[box]
        t[frac >= 0.5] = code
        if keep:
            return
        keepf = 1.0 - frac
        for name, arr in self.ch.items():
            a = arr[box]
            a *= keepf
            if name == ch:
                a += frac


def _fourier_noise(r: np.random.Generator, n: int, kmin: float, kmax: float
                   ) -> Callable[[Arr, Arr, Arr], Arr]:
    """A smooth random field (sum of random plane waves) defined in continuous space."""
    k = r.normal(size=(n, 3))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    k *= r.uniform(kmin, kmax, size=(n, 1))
    ph = r.uniform(0.0, 2.0 * math.pi, size=n)

    def f(x: Arr, y: Arr, z: Arr) -> Arr:
        out = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)),
                       dtype=np.float32)
        for i in range(n):
            out += np.cos(x * k[i, 0] + y * k[i, 1] + z * k[i, 2] + ph[i]).astype(np.float32)
        return np.asarray(out * np.float32(math.sqrt(2.0 / n)))

    return f


def _ellipsoid(X: Arr, Y: Arr, Z: Arr, c: Vec, r: Vec) -> Arr:
    """Approximate signed distance to an axis-aligned ellipsoid."""
    q = np.sqrt(((X - c[0]) / r[0]) ** 2 + ((Y - c[1]) / r[1]) ** 2 + ((Z - c[2]) / r[2]) ** 2)
    return np.asarray((q - 1.0) * min(r), dtype=np.float32)


def _smin(a: Arr, b: Arr, k: float) -> Arr:
    hh = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return np.asarray(b * (1 - hh) + a * hh - k * hh * (1 - hh), dtype=np.float32)


def _seg_dist(X: Arr, Y: Arr, Z: Arr, a: Vec, b: Vec) -> Arr:
    av, bv = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    d = bv - av
    L2 = float(np.dot(d, d))
    t = np.clip(((X - av[0]) * d[0] + (Y - av[1]) * d[1] + (Z - av[2]) * d[2]) / L2, 0.0, 1.0)
    return np.asarray(np.sqrt((X - av[0] - t * d[0]) ** 2 + (Y - av[1] - t * d[1]) ** 2
                              + (Z - av[2] - t * d[2]) ** 2), dtype=np.float32)


def _build_skull(m: _Model) -> None:
    """Scalp, temporalis, skull vault (tables, diploe, sutures), skull base, sinuses, orbits."""
    hd, g, hu = m.head, m.g, m.head.hu
    h = g.h
    # the vault is a medial sheet (inner table + t/2) with radius t/2 about the vault centre;
    # its smooth radial fields are evaluated on a coarse grid and interpolated
    hc = max(2.0, min(3.0, 2.5 * h))
    cg = _Grid(g.x0, g.y0, g.z0, hc, int((g.nx - 1) * h / hc) + 2, int((g.ny - 1) * h / hc) + 2,
               int((g.nz - 1) * h / hc) + 2)
    cz, cy, cx = cg.axes()
    c = [float(v) for v in hd.cv]
    dx, dy, dz = cx - np.float32(c[0]), cy - np.float32(c[1]), cz - np.float32(c[2])
    rho = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
    ux, uy, uz = dx / rho, dy / rho, dz / rho
    r_in = hd.vault_r(ux, uy, uz)
    t_c = hd.vault_t(ux, uy, uz)
    temporalis = hd.temporalis * (_sstep((np.abs(ux) - 0.55) * 6.0)
                                  * np.exp(-((uz - 0.02) / 0.33) ** 2)
                                  * np.exp(-((uy + 0.12) / 0.42) ** 2))
    scalp = hd.scalp * (1.0 + 0.25 * _sstep(uy * 2.0) - 0.2 * _sstep(-uy * 3 - 2))
    full = _full(g)
    d_in = _upsample((rho - r_in) * np.float32(0.97), cg, g, full)
    t_v = _upsample(t_c, cg, g, full)
    d_head = _upsample((rho - r_in - t_c - temporalis - scalp) * np.float32(0.97), cg, g, full)
    del rho, ux, uy, uz, r_in, t_c, temporalis, scalp, dx, dy, dz
    d_out = d_in - t_v * np.float32(0.97)
    Z, Y, X = g.axes()
    d_skin = d_head.copy()
    fb = g.box((-64.0, -96.0, -110.0), (64.0, -8.0, -12.0))
    zb, yb, xb = g.axes(fb)
    d_skin[fb] = _smin(d_skin[fb], _ellipsoid(xb, yb, zb, (0.0, -52.0, -56.0), (60.0, 40.0, 40.0)),
                       10.0)
    nb = g.box((-100.0, -120.0, -120.0), (100.0, 120.0, -20.0))
    zb, yb, xb = g.axes(nb)
    neck = np.sqrt((xb / 52.0) ** 2 + ((yb - 22.0) / 50.0) ** 2) * 50.0 - 50.0 + _relu(zb + 40.0)
    d_skin[nb] = _smin(d_skin[nb], neck.astype(np.float32), 14.0)
    del d_head, neck
    # soft tissue everywhere inside the skin, subcutaneous fat under the skin (nothing of this
    # is intracranial: the tracked fractions are left alone)
    m.paint(full, _occ(d_skin, h), hu["skin"], T["skin"], keep=True)
    fat_t = hd.scalp_fat
    m.paint(full, _occ(d_skin + 1.6, h), hu["fat"], T["fat"], keep=True)
    m.paint(full, _occ(d_skin + 1.6 + fat_t, h), hu["muscle"], T["muscle"], keep=True)
    # skull base floor
    zf = hd.floor(X[0], Y[0])[None]
    tb = hd.base_t(X[0], Y[0])[None]
    fm_y, fm_ax, fm_ay = hd.fm
    canal = (np.sqrt((X / fm_ax) ** 2 + ((Y - fm_y) / fm_ay) ** 2) - 1.0) * min(fm_ax, fm_ay)
    canal_sdf = np.maximum(canal, Z - np.float32(hd.z_pf + 6.0))
    d_cav = np.minimum(np.maximum(d_in, zf - Z), canal_sdf).astype(np.float32)
    # bone: vault shell (medial sheet r_in + t/2, radius t/2) and the base below the floor
    low = 2.0 + 3.0 * _sstep((-Y - 50.0) / 10.0) + 8.0 * _sstep((np.abs(X) - 54.0) / 6.0)
    shell = np.maximum(np.maximum(-d_in, d_out), (zf - tb - low) - Z)
    base = np.maximum(np.maximum(Z - zf, (zf - tb) - Z), d_out + 1.0)
    bone = np.minimum(shell, base)
    pet = np.full(g.shape, 20.0, dtype=np.float32)
    for name, (pp, pr) in hd.base_curves().items():
        bb, bf = _field(g, pp, pr, 1.2)
        bone[bb] = np.minimum(bone[bb], bf)
        if name.startswith("petrous"):
            pet[bb] = np.minimum(pet[bb], bf)
    # sphenoid body and mastoid processes
    for cen, rad in (((0.0, -15.0, -47.0), (17.0, 16.0, 14.0)),
                     ((50.0, 30.0, -55.0), (9.0, 12.0, 14.0)),
                     ((-50.0, 30.0, -55.0), (9.0, 12.0, 14.0))):
        eb = g.box(np.subtract(cen, rad) - 2, np.add(cen, rad) + 2)
        zb, yb, xb = g.axes(eb)
        bone[eb] = np.minimum(bone[eb], _ellipsoid(xb, yb, zb, cen, rad))
    bone = np.maximum(bone, -canal)
    f_bone = _occ(bone, h)
    # tables and diploe, evaluated on the bone voxels only
    sel = np.flatnonzero(f_bone > 0)
    iz, iy, ix = np.unravel_index(sel, g.shape)
    tv = t_v.ravel()[sel]
    lam = np.clip(d_in.ravel()[sel] / np.maximum(tv, 0.5), 0.0, 1.0)
    tt = hd.t_table / np.maximum(tv, 0.5)
    dip = _sstep((lam - tt) / 0.12) * _sstep((1.0 - tt - lam) / 0.12) * _sstep(
        (tv - 2.0 * hd.t_table - 0.6) / 1.0)
    in_shell = (shell.ravel()[sel] < base.ravel()[sel]).astype(np.float32)
    dip = dip * in_shell
    bone_hu = hu["bone"] * (1.0 - dip) + hu["diploe"] * dip
    w_pet = _occ(pet.ravel()[sel] + 1.5, 3.0)
    bone_hu = bone_hu * (1.0 - w_pet) + hu["petrous"] * w_pet
    fb_s = f_bone.ravel()[sel]
    hv = m.hu.ravel()
    hv[sel] += (bone_hu - hv[sel]) * fb_s
    tv_ = m.tissue.ravel()
    tv_[sel[fb_s >= 0.5]] = T["cortical_bone"]
    tv_[sel[(fb_s >= 0.5) & (dip > 0.5)]] = T["diploe"]
    del lam, tt, dip, bone_hu, base, tv, in_shell, pet
    # sutures: thin fibrous gaps of the vault, zig-zagging (on the vault voxels only)
    sel = np.flatnonzero(shell < h)
    iz, iy, ix = np.unravel_index(sel, g.shape)
    px_, py_, pz_ = X[0, 0, ix], Y[0, iy, 0], Z[iz, 0, 0]
    sf = hd.suture_fields(px_, py_, pz_)
    za, zk, zp = hd.suture_zig
    zig_c = za * np.sin(np.arctan2(px_, pz_ - 10.0) * 40.0 * zk + zp)
    zig_y = za * np.sin(py_ * 0.9 * zk + zp)
    zig_l = za * np.sin(pz_ * 0.8 * zk + zp)
    w2 = hd.suture_w / 2.0
    s_cor = np.maximum(np.abs(sf["coronal"] + zig_c) - w2, float(hd.pterion[2]) - 12.0 - pz_)
    s_sag = np.maximum(np.abs(sf["sagittal"] + zig_y * 0.6) - w2,
                       np.maximum(-sf["coronal"], sf["lambdoid"]))
    s_lam = np.maximum(np.abs(sf["lambdoid"] + zig_l) - w2, float(hd.asterion[2]) - 4.0 - pz_)
    s_sq = np.maximum(np.maximum(np.abs(sf["squamosal"]) - w2 * 0.8, 25.0 - np.abs(px_)),
                      np.maximum(-sf["coronal"], sf["lambdoid"]))
    sut = np.minimum(np.minimum(s_cor, s_sag), np.minimum(s_lam, s_sq))
    sh = shell.ravel()[sel]
    f_sut = _occ(np.maximum(sut, sh), h) * (sh < 0)
    hv[sel] += (hu["suture"] - hv[sel]) * f_sut
    tv_[sel[f_sut >= 0.5]] = T["suture_or_fracture"]
    del sf, zig_c, zig_y, zig_l, s_cor, s_sag, s_lam, s_sq, sut, f_sut, sh
    # air: frontal sinus, sphenoid sinus, mastoid cells, ethmoid cells, nasal cavity,
    # maxillary sinuses, nasopharynx, external auditory canals
    r = _rng(hd.seed, 4)
    cells = _fourier_noise(r, 24, 0.55, 1.1)

    def air(lo: Vec, hi: Vec,
            fn: Callable[[Arr, Arr, Arr, Box], Arr]) -> None:
        bx = g.box(lo, hi)
        if _empty(bx):
            return
        zb, yb, xb = g.axes(bx)
        sdf = np.maximum(fn(xb, yb, zb, bx), np.maximum(-d_cav[bx] + 1.0, d_skin[bx] + 2.0))
        m.paint(bx, _occ(sdf, h), hu["sinus_air"], T["sinus_air"], keep=True)

    if hd.frontal_sinus > 0.15:
        sz = 0.45 + 0.75 * hd.frontal_sinus
        for sx in (-1.0, 1.0):
            u = _unit((sx * 0.13, -1.0, -0.04))
            rr = float(hd.vault_r(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            tt0 = float(hd.vault_t(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            fcen = np.asarray(c) + (rr + tt0 * 0.5) * u
            frad = np.array([10.0 * sz, 0.3 * tt0, 13.0 * sz])

            def fs(xb: Arr, yb: Arr, zb: Arr, bx: Box, fcen: Arr = fcen,
                   frad: Arr = frad) -> Arr:
                return np.maximum(_ellipsoid(xb, yb, zb, fcen, frad), shell[bx] + 1.3)

            air(fcen - frad - 2, fcen + frad + 2, fs)
    Fn = Callable[[Arr, Arr, Arr, Box], Arr]

    def ell(cen: Vec, rad: Vec, honeycomb: float | None = None, septum: float | None = None
            ) -> Fn:
        def f(xb: Arr, yb: Arr, zb: Arr, bx: Box) -> Arr:
            e = _ellipsoid(xb, yb, zb, cen, rad)
            if honeycomb is not None:
                e = np.maximum(e, cells(xb, yb, zb) * 2.5 - honeycomb)
            if septum is not None:
                e = np.maximum(e, septum - np.abs(xb))
            return e
        return f

    def tube(a0: Vec, b0: Vec, rad: float) -> Fn:
        def f(xb: Arr, yb: Arr, zb: Arr, bx: Box) -> Arr:
            return _seg_dist(xb, yb, zb, a0, b0) - rad
        return f

    air((-16, -29, -60), (16, -2, -36), ell((0.0, -15.0, -48.0), (13.0, 11.0, 9.5)))
    for sx in (-1.0, 1.0):
        air((sx * 48 - 11, 15, -66), (sx * 48 + 11, 45, -34),
            ell((sx * 48.0, 30.0, -50.0), (9.0, 13.0, 14.0), honeycomb=0.6))
        air((min(sx * 44, sx * 80) - 5, 4, -49), (max(sx * 44, sx * 80) + 5, 17, -37),
            tube((sx * 44.0, 9.0, -44.0), (sx * 80.0, 12.0, -42.0), 3.5))
        air((sx * 29 - 15, -74, -87), (sx * 29 + 15, -40, -53),
            ell((sx * 29.0, -57.0, -70.0), (13.0, 15.0, 15.0)))
    air((-15, -74, -50), (15, -30, -26),
        ell((0.0, -52.0, -38.0), (13.0, 20.0, 10.0), honeycomb=0.3, septum=0.9))
    air((-16, -92, -100), (16, -32, -44), ell((0.0, -62.0, -72.0), (14.0, 28.0, 26.0),
                                               septum=1.0))
    air((-16, -34, -87), (16, -10, -65), ell((0.0, -22.0, -76.0), (14.0, 10.0, 9.0)))
    _build_orbits(m, X, Y, Z, zf)
    m.f["d_cav"] = d_cav
    m.f["d_skin"] = d_skin
    m.f["shell"] = shell
    m.f["zf"] = zf
    # intracranial space: CSF
    m.paint(full, _occ(d_cav, h), hu["csf"], T["subarachnoid_csf"], "csf")


def _build_orbits(m: _Model, X: Arr, Y: Arr, Z: Arr, zf: Arr) -> None:
    g, hu = m.g, m.head.hu
    h = g.h
    box = g.box((-60, -100, -62), (60, -20, -14))
    if _empty(box):
        return
    Zb, Yb, Xb = g.axes(box)
    zfb = zf[:, box[1], box[2]]
    for sx in (-1.0, 1.0):
        apex = np.array([sx * 13.0, -33.0, -37.0])
        rim = np.array([sx * 33.0, -77.0, -38.0])
        axis = rim - apex
        L = float(np.linalg.norm(axis))
        a = axis / L
        t = ((Xb - apex[0]) * a[0] + (Yb - apex[1]) * a[1] + (Zb - apex[2]) * a[2]) / L
        px = Xb - apex[0] - t * L * a[0]
        py = Yb - apex[1] - t * L * a[1]
        pz = Zb - apex[2] - t * L * a[2]
        rr = 2.5 + 15.0 * np.clip(t, 0, 1)
        radial = np.sqrt(px * px + py * py + (pz * 1.08) ** 2)
        cone = np.maximum(np.maximum(radial - rr, -t * L), (t - 1.0) * L)
        wall = np.maximum(np.maximum(radial - rr - 2.0, -(radial - rr)),
                          np.maximum(-t * L, (t - 0.92) * L))
        wall = np.maximum(wall, Zb - zfb)
        m.paint(box, _occ(wall, h), hu["bone"] * 0.8, T["cortical_bone"], keep=True)
        cone = np.maximum(cone, Zb - zfb + 0.5)
        m.paint(box, _occ(cone, h), hu["fat"], T["fat"], keep=True)
        gc = (sx * 31.0, -68.5, -38.0)
        rg = 11.8
        glob = np.sqrt((Xb - gc[0]) ** 2 + (Yb - gc[1]) ** 2 + (Zb - gc[2]) ** 2) - rg
        m.paint(box, _occ(glob, h), hu["orbit_st"], T["globe"], keep=True)
        m.paint(box, _occ(glob + 1.0, h), hu["vitreous"], T["globe"], keep=True)
        lens = _ellipsoid(Xb, Yb, Zb, (sx * 31.0, -77.8, -38.0), (4.5, 2.0, 4.5))
        m.paint(box, _occ(lens, h), hu["lens"], T["lens"], keep=True)
        for a0, b0, rad in (((sx * 29.0, -58.0, -38.0), (sx * 14.0, -34.0, -37.0), 2.2),
                            ((sx * 21.0, -62.0, -38.5), (sx * 15.0, -36.0, -37.0), 2.4),
                            ((sx * 42.0, -60.0, -38.0), (sx * 17.0, -36.0, -37.0), 2.4),
                            ((sx * 31.0, -60.0, -26.5), (sx * 16.0, -36.0, -33.0), 2.2),
                            ((sx * 31.0, -60.0, -49.5), (sx * 16.0, -36.0, -41.0), 2.2)):
            tube = _seg_dist(Xb, Yb, Zb, a0, b0) - rad
            tube = np.maximum(tube, glob)
            m.paint(box, _occ(tube, h) * (glob > 0), hu["orbit_st"],
                    T["orbital_soft_tissue"], keep=True)


def _skel(head: _Head, parts: Sequence[tuple[str, Any]], step: float, k0: int,
          jit: float = 0.0) -> tuple[Arr, Arr]:
    """Sample medial curves (``("c", ctrl)``) and sheets (``("s", (ctrlA, ctrlB))``) of the left
    side; returns points and radii."""
    pts, rad = [], []
    for i, (kind, ctrl) in enumerate(parts):
        if kind == "c":
            p, r = _polyline(_jit(head, ctrl, k0 + i, jit), step)
        else:
            p, r = _ribbon(_jit(head, ctrl[0], k0 + i, jit), _jit(head, ctrl[1], k0 + i, jit),
                           step)
        pts.append(p)
        rad.append(r)
    return np.vstack(pts), np.concatenate(rad)


def _both(pts: Arr, rad: Arr) -> tuple[Arr, Arr]:
    return np.vstack([pts, _mirror(pts)]), np.concatenate([rad, rad])


def _field(g: _Grid, pts: Arr, rad: Arr, s: float, pad: float = 0.0) -> tuple[Box, Arr]:
    box = _box_of_points(g, pts, rad, 6.0 * s + pad)
    return box, _balls(g, box, pts, rad, s)


def _min_into(dst: Arr, dst_box: Box, src_box: Box, src: Arr) -> None:
    """dst[src region] = min(dst, src) where src_box lies inside dst_box (both grid boxes)."""
    sl = []
    for a, b in zip(dst_box, src_box, strict=True):
        lo = max(a.start, b.start)
        hi = min(a.stop, b.stop)
        sl.append((slice(lo - a.start, max(lo, hi) - a.start), slice(lo - b.start,
                                                                    max(lo, hi) - b.start)))
    d = dst[sl[0][0], sl[1][0], sl[2][0]]
    np.minimum(d, src[sl[0][1], sl[1][1], sl[2][1]], out=d)


def _deep_parts(hd: _Head) -> dict[str, list[tuple[str, Any]]]:
    v = hd.vent
    rv = 2.1 * v
    a = hd.atrophy
    return {
        "caudate": [("c", [(14, -18, 6, 7.0), (16, -8, 11, 6.0), (18, 3, 15, 4.5),
                           (21, 14, 17, 3.2), (24, 25, 16, 2.4)])],
        "putamen": [("s", ([(28.5, -16, 8, 4.2), (30.5, -2, 9, 4.8), (29.5, 12, 7, 4.0)],
                           [(28.5, -14, -6, 4.2), (30.5, -2, -7, 4.8), (29.5, 10, -4, 4.0)]))],
        "pallidum": [("c", [(21.5, -8, 1, 3.3), (22.5, 2, 0, 3.7), (23.5, 8, -1, 2.8)])],
        "thalamus": [("c", [(8, 2, 5, 6.5), (10, 12, 5, 7.5), (12, 22, 5, 6.5)])],
        "ic": [("s", ([(19, -22, 16, 3.0), (21.5, -3, 16, 3.0), (25, 20, 16, 3.0)],
                      [(19, -22, -6, 3.0), (21.5, -3, -6, 3.0), (25, 20, -6, 3.0)]))],
        "frontal_horn": [("s", ([(4.0, -25, 12, rv), (4.2, -12, 16, rv), (4.5, 0, 18, rv)],
                                [(9.5, -23, 7, rv), (11, -10, 12, rv), (12.5, 2, 15, rv)]))],
        "body": [("s", ([(4.5, 0, 18, rv), (5.5, 14, 19, rv), (9, 24, 17, rv)],
                        [(12.5, 2, 15, rv), (14, 14, 15, rv), (18, 24, 13, rv)]))],
        "atrium": [("c", [(14, 25, 15, rv * 1.2), (20, 29, 11, 4.3 * v), (23, 32, 9, 4.6 * v)])],
        "occipital_horn": [("c", [(23, 32, 9, 4.0 * v), (23, 44, 6, 2.4 * v),
                                  (20, 55, 4, 1.3 * v)])],
        "temporal_horn": [("c", [(25, 31, 8, 3.2 * v), (31, 24, -2, 2.0 * v),
                                 (33, 12, -12, 1.7 * v), (31, 0, -19, 1.4 * v),
                                 (28, -10, -22, 1.1 * v)])],
        "third": [("s", ([(0, -6, 8, 1.2 + 2.5 * a), (0, 6, 10, 1.2 + 2.5 * a),
                          (0, 16, 6, 1.2 + 2.5 * a)],
                         [(0, -8, -8, 1.2 + 2.5 * a), (0, 4, -11, 1.2 + 2.5 * a),
                          (0, 16, -3, 1.2 + 2.5 * a)]))],
        "aqueduct": [("c", [(0, 18, -4, 1.2), (0, 23, -14, 1.0), (0, 30, -24, 1.2)])],
        "fourth": [("c", [(0, 30, -24, 2.0), (0, 35, -32, 4.5 * v), (0, 37, -40, 3.0),
                          (0, 36, -48, 1.3)]),
                   ("c", [(0, 35, -33, 3.0), (12, 32, -36, 1.8)]),
                   ("c", [(0, 35, -33, 3.0), (-12, 32, -36, 1.8)])],
        "brainstem": [("s", ([(6, 11, -9, 8.0), (6, 13, -17, 9.0), (5, 19, -26, 11.5),
                              (5, 21, -34, 12.5), (4, 23, -42, 10.0)],
                             [(-6, 11, -9, 8.0), (-6, 13, -17, 9.0), (-5, 19, -26, 11.5),
                              (-5, 21, -34, 12.5), (-4, 23, -42, 10.0)])),
                      ("c", [(0, 23, -42, 10.0), (0, 26, -50, 8.6), (0, 29, -60, 7.6),
                             (0, 31, -72, 6.4), (0, 33, -95, 6.0)])],
        "cerebellum": [("c", [(20, 42, -30, 15), (30, 54, -35, 19), (26, 67, -40, 18),
                              (14, 64, -50, 14)]),
                       ("c", [(0, 40, -20, 9), (0, 52, -22, 12), (0, 65, -32, 12),
                              (0, 58, -47, 10), (0, 46, -50, 8)])],
    }


_VENT_PARTS = ("frontal_horn", "body", "atrium", "occipital_horn", "temporal_horn", "third",
               "aqueduct", "fourth")
_MIDLINE_PARTS = ("third", "aqueduct", "fourth", "brainstem")


def _part(hd: _Head, g: _Grid, name: str, s: float = 1.0, pad: float = 0.0,
          step: float | None = None) -> tuple[Box, Arr]:
    parts = _deep_parts(hd)[name]
    st = step if step is not None else max(0.9, g.h)
    p, r = _skel(hd, parts, st, 40 + len(name), jit=0.6)
    if name not in _MIDLINE_PARTS and name != "cerebellum":
        p, r = _both(p, r)
    return _field(g, p, r, s, pad)


def _build_brain(m: _Model) -> None:
    hd, g = m.head, m.g
    h = g.h
    a = hd.atrophy
    d_cav = m.f["d_cav"]
    box = g.box((-76.0, -92.0, -80.0), (76.0, 102.0, 92.0))
    m.f["cav_box"] = box
    Z, Y, X = g.axes(box)
    dcb = d_cav[box]
    # --- lobes on a coarse grid: each lobe is the convolution surface of its medial curves
    hc = max(2.5, h)
    cg = _Grid(-78.0, -94.0, -82.0, hc, int(156 / hc) + 2, int(198 / hc) + 2, int(176 / hc) + 2)
    full = _full(cg)
    lobe_f = []
    for k, (name, curves) in enumerate(_LOBES_LEFT.items()):
        p, r = _skel(hd, [("c", c) for c in curves], 3.0, 10 * k, jit=2.0)
        pl, rl = _both(p, r)
        lobe_f.append(_balls(cg, full, pl, rl, 3.0))
        del name
    stack = np.stack(lobe_f)
    lobe_c = (np.argmin(stack, axis=0) + 1).astype(np.uint8)
    union = -3.0 * np.log(np.sum(np.exp(-stack / 3.0), axis=0))
    del stack, lobe_f
    cbp = _deep_parts(hd)["cerebellum"]
    hp, hr = _both(*_skel(hd, cbp[:1], 3.0, 90, jit=1.0))
    vp, vr = _skel(hd, cbp[1:], 3.0, 95, jit=1.0)
    cb_p, cb_r = np.vstack([hp, vp]), np.concatenate([hr, vr])
    cb_c = _balls(cg, full, cb_p, cb_r, 3.0)
    env = _upsample(union.astype(np.float32), cg, g, box)
    m.f["lobe"] = _upsample(lobe_c, cg, g, box, nearest=True)
    cb_env = _upsample(cb_c.astype(np.float32), cg, g, box)
    del union, cb_c, lobe_c
    # --- the cerebrum follows the inner table, stays above the tentorium, and is split at the
    # interhemispheric fissure except across the corpus callosum and diencephalon
    env = np.maximum(env, dcb + hd.gap)
    tz = hd.tent(X[0], Y[0])[None]
    gap_t = 0.8 + 1.2 * a
    clip_t = (tz + gap_t) - Z - 300.0 * (1.0 - _sstep((Y + 26.0) / 6.0))
    env = np.maximum(env, clip_t)
    bq = ((Y - 2.0) / 35.0) ** 2 + ((Z - 2.0) / 24.0) ** 2
    fis = hd.gap_ih - np.abs(X) - 60.0 * np.clip(1.0 - bq, 0.0, 1.0)
    env = np.maximum(env, fis)
    del fis, bq
    # --- cisterns and the brainstem
    bs_box, bs = _part(hd, g, "brainstem", 1.0, 4.0)
    m.f["bs"] = (bs_box, bs)
    cist = np.full(env.shape, 50.0, dtype=np.float32)
    ip = np.array([[0.0, 3.0, -13.0]]), np.array([3.5 + a])
    cis_parts = [
        (np.array([[8.0, -12.0, -19.0], [-8.0, -12.0, -19.0], [0.0, -6.0, -19.0],
                   [0.0, -19.0, -19.0], [4, -14, -19], [-4, -14, -19]]),
         np.full(6, 4.5 + 1.5 * a)),
        ip,
        (np.array([[0.0, 27.0, -5.0], [0.0, 32.0, -2.0]]), np.array([3.0 + 1.5 * a,
                                                                     2.5 + 1.5 * a])),
    ]
    syl = []
    for sx in (-1.0, 1.0):
        p, r = _polyline([(sx * 10, -10, -16, 3.0 + 1.5 * a), (sx * 22, -9, -14, 3.4 + 1.5 * a),
                          (sx * 36, -7, -10, 3.0 + 1.5 * a)], max(0.8, h))
        cis_parts.append((p, r))
        syl.append(p)
    m.f["sylvian_basal"] = np.vstack(syl)
    for p, r in cis_parts:
        cb_box, cf = _field(g, p, r, 1.0)
        _min_into(cist, box, cb_box, cf)
    # ambient cistern: a shell around the midbrain
    amb_w = 1.8 + 1.8 * a
    amb = np.full(env.shape, 50.0, dtype=np.float32)
    _min_into(amb, box, bs_box, bs)
    amb = np.abs(amb - amb_w * 0.5) - amb_w * 0.5
    amb = np.maximum(amb, np.maximum(np.maximum(Z + 4.0, -22.0 - Z), 8.0 - Y))
    cist = np.minimum(cist, amb)
    del amb
    env = np.maximum(env, -cist)
    m.f["cist"] = cist
    del cist
    # --- sulci: clefts swept from surface curves (lateral maps), medial wall curves, the Sylvian
    # fissure down to the insula, and the insular cistern
    r_s = hd.r_sulci
    maps = {1.0: _build_lateral_map(hd, 1.0, r_s), -1.0: _build_lateral_map(hd, -1.0, r_s)}
    sylm = {}
    for sx in (1.0, -1.0):
        anchors = np.asarray(_SYLVIAN_LEFT, dtype=np.float64)
        anchors[:, 0] *= sx
        anchors += r_s.normal(0.0, 2.0, size=anchors.shape)
        cen = np.array([sx * 24.0, 8.0, 8.0])
        dirs = anchors - cen
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        p = _arc_points(dirs, math.radians(0.5))
        chord, _i = cKDTree(p).query(_map_dirs(sx).reshape(-1, 3))
        ang = (2.0 * np.arcsin(np.clip(chord / 2.0, 0, 1))).reshape(_NA, _NB)
        ang = np.concatenate([ang[:, -1:], ang, ang[:, :1]], axis=1).astype(np.float32)
        sylm[sx] = _SulcalMap(cen, sx, ang, np.zeros_like(ang), np.ones_like(ang))
    sel = np.flatnonzero((env < 1.5) & (env > -34.0))
    iz, iy, ix = np.unravel_index(sel, env.shape)
    pz, py, px = Z[iz, 0, 0], Y[0, iy, 0], X[0, 0, ix]
    e = env.ravel()[sel]
    big = np.float32(50.0)
    s_lat = np.full(sel.shape, big, dtype=np.float32)
    s_syl = np.full(sel.shape, big, dtype=np.float32)
    axp = np.abs(px)
    for sx in (1.0, -1.0):
        on = (px >= 0) if sx > 0 else (px < 0)
        q, dep, wid, _rho = _lookup(maps[sx], px[on], py[on], pz[on])
        depth_frac = np.clip(-e[on] / np.maximum(dep, 1.0), 0.0, 1.0)
        w = hd.sulc_w * wid * (1.0 - 0.55 * depth_frac) + 0.15
        s_lat[on] = np.maximum(q - w, -(e[on] + dep))
        qs, _d, _w, _r = _lookup(sylm[sx], px[on], py[on], pz[on])
        xi = hd.x_ins + 2.5 * ((py[on] - 1.0) / 21.0) ** 2
        s_syl[on] = np.maximum(qs - hd.syl_w, xi - axp[on] + 0.5)
    # no sulci through the deep midline (callosum, septum, diencephalon)
    s_lat += 40.0 * np.clip(1.15 - ((py - 2.0) / 35.0) ** 2 - ((pz - 2.0) / 24.0) ** 2, 0, 1) * (
        axp < 14.0)
    xi = hd.x_ins + 2.5 * ((py - 1.0) / 21.0) ** 2
    ell = np.sqrt(((py - 1.0) / 21.0) ** 2 + ((pz - 5.0) / 15.0) ** 2)
    s_ins = np.maximum(np.maximum(xi - axp, axp - (xi + hd.w_ins + 0.4)), (ell - 1.0) * 12.0)
    cleft = np.minimum(s_lat, np.minimum(s_syl, s_ins))
    b = env.copy()
    b.ravel()[sel] = np.maximum(e, -cleft)
    m.f["env"] = env
    m.f["sulcal"] = (sel, cleft)
    del s_lat, s_syl, s_ins, cleft, e, pz, py, px, iz, iy, ix, axp
    # --- cortex and white matter
    m.paint(box, _occ(b, h), hd.hu["gm"], T["grey_matter"], "gm")
    m.paint(box, _occ(b + hd.t_gm, h), hd.hu["wm"], T["white_matter"], "wm")
    m.f["b"] = b
    # --- cerebellum below the tentorium: cortex with folia, a white-matter core
    cbe = np.maximum(cb_env, dcb + hd.gap * 0.8)
    cbe = np.maximum(cbe, Z - (tz - gap_t))
    bsb = np.full(env.shape, 50.0, dtype=np.float32)
    _min_into(bsb, box, bs_box, bs)
    cbe = np.maximum(cbe, -(bsb - 1.2 - 1.0 * a))
    cm = np.sqrt(X ** 2 + ((Y - 58.0) / 1.2) ** 2 + (Z + 60.0) ** 2) - hd.cm_size
    cbe = np.maximum(cbe, -cm)
    del cb_env
    cb_sel = np.flatnonzero((cbe < 1.0) & (cbe > -10.0))
    iz, iy, ix = np.unravel_index(cb_sel, cbe.shape)
    pz, py, px = Z[iz, 0, 0], Y[0, iy, 0], X[0, 0, ix]
    ec = cbe.ravel()[cb_sel]
    lam = 3.4 + 0.8 * a
    rn = _rng(hd.seed, 8)
    wav = _fourier_noise(rn, 8, 0.05, 0.14)(px, py, pz)
    gate = _fourier_noise(rn, 8, 0.08, 0.2)(px, py, pz)
    qf = lam * np.abs(((-ec) / lam + 0.9 * wav) % 1.0 - 0.5)
    wf = 0.2 + 0.45 * a
    s_f = np.maximum(np.maximum(qf - wf, -(ec + 5.0 + 2.0 * a)), 0.3 - 3.0 * gate)
    rho = qf
    zh = -41.0 + 0.3 * (py - 50.0)
    s_h = np.maximum(np.abs(pz - zh) - (wf + 0.3), np.maximum(-(ec + 14.0), 9.0 - np.abs(px)))
    bc = cbe.copy()
    bc.ravel()[cb_sel] = np.maximum(ec, -np.minimum(s_f, s_h))
    pfb = g.box((-76.0, 0.0, -80.0), (76.0, 100.0, 15.0))
    bcp = _sub(bc, box, pfb)
    m.paint(pfb, _occ(bcp, h), hd.hu["cb_gm"], T["cerebellar_cortex"], "gm")
    m.paint(pfb, _occ(bcp + 8.0, h), hd.hu["cb_wm"], T["cerebellar_white_matter"], "wm")
    m.f["cb"] = bc
    del cbe, bsb, cm, ec, rho, qf, s_f, s_h
    # --- brainstem, deep grey nuclei
    m.paint(bs_box, _occ(bs, h), hd.hu["brainstem"], T["brainstem"], "wm")
    for name, key in (("thalamus", "deep"), ("caudate", "deep"), ("putamen", "deep"),
                      ("pallidum", "pallidum")):
        pb, pf = _part(hd, g, name, 1.0)
        # nuclei stay inside the cerebral white matter
        m.paint(pb, _occ(pf, h), hd.hu[key], T["deep_grey_matter"], "gm")
        m.f[name] = (pb, pf)
    m.f["ic"] = _part(hd, g, "ic", 1.0)
    # pineal gland
    pb, pf = _field(g, np.array([[0.0, 24.0, 3.0]]), np.array([3.0]), 0.8)
    m.paint(pb, _occ(pf, h), hd.hu["deep"], T["deep_grey_matter"], "gm")
    m.f["pineal"] = (pb, pf)
    # --- ventricles (CSF) and choroid plexus
    vparts = []
    for name in _VENT_PARTS:
        vparts.append((name, *_part(hd, g, name, 0.8)))
    vbox = g.box((-45.0, -40.0, -60.0), (45.0, 70.0, 32.0))
    vs = np.full(tuple(s.stop - s.start for s in vbox), 50.0, dtype=np.float32)
    vlab = np.zeros(vs.shape, dtype=np.uint8)
    for k, (_name, pb, pf) in enumerate(vparts):
        tmp = np.full(vs.shape, 50.0, dtype=np.float32)
        _min_into(tmp, vbox, pb, pf)
        vlab[tmp < vs] = k + 1
        np.minimum(vs, tmp, out=vs)
    # the septum pellucidum separates the frontal horns and bodies
    lat_v = (vlab >= 1) & (vlab <= 5)
    _vz, _vy, vx = g.axes(vbox)
    vs = np.where(lat_v, np.maximum(vs, (0.9 + 0.3 * hd.atrophy) - np.abs(vx)), vs)
    m.paint(vbox, _occ(vs, h), hd.hu["csf"], T["ventricular_csf"], "vent")
    m.f["vent"] = (vbox, vs, vlab)
    chp = np.array([[24.0, 31.0, 10.5], [-24.0, 31.0, 10.5], [19.0, 27.0, 13.0],
                    [-19.0, 27.0, 13.0]])
    chr_ = np.array([3.4, 3.4, 2.0, 2.0]) * (0.8 + 0.25 * hd.vent)
    cbx, cfx = _field(g, chp, chr_, 0.8)
    m.paint(cbx, _occ(cfx, h), hd.hu["choroid"], T["choroid_plexus"])
    m.f["choroid"] = (cbx, cfx, chp)


def _artery_tree(hd: _Head) -> dict[str, list[tuple[float, float, float, float]]]:
    xi = hd.x_ins + hd.w_ins * 0.5 + 0.4
    t: dict[str, list[tuple[float, float, float, float]]] = {}
    for sx, tag in ((1.0, "L"), (-1.0, "R")):
        t["ica_" + tag] = [(sx * 15, -12, -40, 2.0), (sx * 15, -12, -26, 2.0),
                           (sx * 13, -11, -18, 1.8)]
        t["m1_" + tag] = [(sx * 13, -11, -18, 1.6), (sx * 24, -10, -15, 1.5),
                          (sx * 34, -8, -11, 1.4), (sx * (xi - 1.0), -7, -8, 1.3)]
        t["m2a_" + tag] = [(sx * (xi - 1.0), -7, -8, 1.2), (sx * xi, -4, 6, 1.1),
                           (sx * (xi + 1.5), 0, 20, 1.0)]
        t["m2b_" + tag] = [(sx * (xi - 1.0), -7, -8, 1.2), (sx * xi, 8, 4, 1.1),
                           (sx * (xi + 1.0), 20, 14, 1.0)]
        t["a1_" + tag] = [(sx * 13, -11, -18, 1.2), (sx * 6, -18, -15, 1.1),
                          (sx * 1.6, -22, -13, 1.1)]
        t["a2_" + tag] = [(sx * 1.6, -22, -13, 1.0), (sx * 1.6, -36, 2, 1.0),
                          (sx * 1.6, -32, 20, 0.9), (sx * 1.6, -10, 30, 0.8)]
        t["pca_" + tag] = [(0, 4, -18, 1.2), (sx * 8, 4, -17, 1.1), (sx * 16, 14, -14, 1.0),
                           (sx * 20, 28, -10, 0.9)]
        t["vert_" + tag] = [(sx * 6, 16, -70, 1.5), (sx * 5, 10, -58, 1.5), (0, 4, -46, 1.6)]
    t["basilar"] = [(0, 4, -46, 1.8), (0, 2, -32, 1.8), (0, 4, -18, 1.6)]
    return t


def _sinus_tree(hd: _Head) -> dict[str, tuple[Arr, Arr]]:
    c = hd.cv
    out: dict[str, tuple[Arr, Arr]] = {}

    def on_table(u: Arr, depth: float) -> Arr:
        rr = float(hd.vault_r(np.array(u[0]), np.array(u[1]), np.array(u[2])))
        return np.asarray(c + (rr - depth) * u)

    torc = np.array([0.0, 0.0, hd.z_torc])
    ut = _unit((0.0, 1.0, (hd.z_torc - c[2]) / 80.0))
    torc = on_table(ut, 4.0)
    ctrl = []
    phis = np.linspace(-58.0, 0.0, 2)
    for phi in np.concatenate([phis, np.linspace(15.0, 95.0, 9)]):
        u = np.array([0.0, math.sin(math.radians(phi)), math.cos(math.radians(phi))])
        rs = 2.0 + 2.5 * (phi + 58.0) / 153.0
        p = on_table(u, rs * 0.9)
        ctrl.append([p[0], p[1], p[2], rs])
    ctrl.append([torc[0], torc[1], torc[2], 4.5])
    out["sss"] = _polyline(ctrl, 1.0, smooth=1)
    ap = hd.tent_apex
    out["straight"] = _polyline([(0, ap[1] - 2, ap[2] + 1.5, 2.6),
                                 (torc[0], torc[1] - 2, torc[2] + 1, 3.0)], 1.0)
    for sx, tag, rf in ((1.0, "L", 0.9), (-1.0, "R", 1.15)):
        tc = []
        for al in np.linspace(0.0, 78.0, 8):
            z = hd.z_torc - 12.0 * al / 78.0
            u = _unit((sx * math.sin(math.radians(al)), math.cos(math.radians(al)),
                       (z - c[2]) / 75.0))
            p = on_table(u, 3.6 * rf)
            tc.append([p[0], p[1], p[2], 3.8 * rf])
        e = tc[-1]
        tc += [[sx * 47.0, e[1] - 10.0, -47.0, 3.8 * rf], [sx * 40.0, 24.0, -58.0, 3.4 * rf],
               [sx * 36.0, 22.0, -66.0, 4.0 * rf]]
        out["transverse_" + tag] = _polyline(tc, 1.0, smooth=1)
    return out


def _build_dura_vessels(m: _Model) -> None:
    hd, g = m.head, m.g
    h = g.h
    box = m.f["cav_box"]
    Z, Y, X = g.axes(box)
    dc = m.f["d_cav"][box]
    inside = _occ(dc + 0.3, h)
    tf = 0.5 + 0.4 * _U(_rng(hd.seed, 6), 0.0, 1.0)
    tzf = hd.tent(X[0], Y[0])[None]
    tz0 = hd.tent(np.zeros_like(Y[0]), Y[0])[None]
    q = ((Y - 2.0) / 39.0) ** 2 + ((Z - 3.0) / 29.0) ** 2
    valid_f = _sstep((q - 1.0) * 4.0) * _sstep((Z - tz0) / 1.5 + 0.5) * _sstep(
        (Y + 64.0) / 3.0)
    falx = _occ(np.abs(X) - tf, h) * valid_f * inside
    m.paint(box, falx, hd.hu["dura"], T["dura"])
    inc = hd.incisura(X[0], Y[0])[None]
    dp = hd.petrous_d(X[0], Y[0])[None]
    valid_t = _sstep((inc - 1.0) * 3.0) * _sstep((dp + 3.0) / 3.0)
    tent = _occ(np.abs(Z - tzf) * 0.85 - tf, h) * valid_t * inside
    m.paint(box, tent, hd.hu["dura"], T["dura"])
    m.f["falx_tent"] = (falx, tent)
    del falx, tent, q, valid_f, valid_t
    sin = _sinus_tree(hd)
    m.f["sinuses"] = sin
    for p, r in sin.values():
        sb, sf = _field(g, p, r, 0.7)
        m.paint(sb, _occ(sf, h), hd.hu["venous"], T["venous_sinus"])
    art = _artery_tree(hd)
    m.f["arteries"] = art
    for ctrl in art.values():
        p, r = _polyline(ctrl, max(0.5, h * 0.7))
        ab, af = _field(g, p, r, 0.5)
        m.paint(ab, _occ(af, h), hd.hu["artery"], T["artery"])


def _build_regions(m: _Model) -> Arr:
    """ASPECTS regions on the head-frame grid: 1..10 left, 11..20 right (C, L, IC, I, M1..M6)."""
    hd, g = m.head, m.g
    region = np.zeros(g.shape, dtype=np.uint8)
    box = m.f["cav_box"]
    Z, Y, X = g.axes(box)
    tis = m.tissue[box]
    par = np.isin(tis, _PARENCHYMA)
    lobe = m.f["lobe"]
    env = m.f["env"]
    sub = np.zeros(tis.shape, dtype=np.uint8)

    def occ_of(name: str) -> Arr:
        pb, pf = m.f[name]
        out = np.full(tis.shape, 50.0, dtype=np.float32)
        _min_into(out, box, pb, pf)
        return out

    caud, put, pal, thal, ic = (occ_of(n) for n in ("caudate", "putamen", "pallidum",
                                                    "thalamus", "ic"))
    ax = np.abs(X)
    xi = hd.x_ins + 2.5 * ((Y - 1.0) / 21.0) ** 2
    ell = ((Y - 1.0) / 21.0) ** 2 + ((Z - 5.0) / 15.0) ** 2
    insula = (ell < 1.05) & (ax > xi - 6.0) & (ax < xi + 1.0)
    deep = (caud < 0) | (put < 0) | (pal < 0) | (thal < 0.5)
    z_mid = 14.0
    ang = np.degrees(np.arctan2(Y - 3.0, np.maximum(ax - 10.0, 0.1)))
    mca = ((ax > 20.0 + 0.12 * _relu(Z - 20.0)) & (lobe != 4) & ~((lobe == 3) & (
        (ax < 30.0) | (Z < -24.0))) & (env > -30.0) & (ang > -78.0) & (ang < 72.0)
        & (Z > -24.0) & (Z < z_mid + 32.0))
    sector = np.where(ang < -26.0, 0, np.where(ang <= 26.0, 1, 2))
    level = np.where(Z < z_mid, 0, 1)
    mreg = 5 + sector + 3 * level  # M1..M6 -> codes 5..10
    sub[:] = np.where(mca & par & ~deep & ~insula, mreg, 0).astype(np.uint8)
    sub[par & insula & ~deep & (ax > xi - 6.0)] = 4
    sub[par & (ic < 0) & ~(caud < 0) & ~(put < 0) & ~(pal < 0) & ~(thal < 0)] = 3
    sub[par & ((put < 0) | (pal < 0))] = 2
    sub[par & (caud < 0)] = 1
    right = (X < 0) & (sub > 0)
    sub[right] += 10
    region[box] = sub
    return region


# ----------------------------------------------------------------------------- acquisition

_KERNELS = {  # name: (MTF50 in line pairs per cm, edge enhancement)
    "H30s": (3.4, 0.0), "H31s": (3.7, 0.0), "J30s": (3.6, 0.05), "Hr36": (4.2, 0.08),
    "H40s": (4.9, 0.15), "FC21": (3.5, 0.0), "FC26": (4.0, 0.08), "SOFT": (3.1, 0.0),
    "STANDARD": (4.5, 0.1), "UB": (4.0, 0.05),
}


def _rot(yaw: float, roll: float, pitch: float) -> Arr:
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cr, sr = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cr, 0.0, sr], [0.0, 1.0, 0.0], [-sr, 0.0, cr]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    return np.asarray(rz @ ry @ rx)


@dataclass
class _Scan:
    """Pose of the head in the scanner (patient LPS) and the reconstruction geometry."""

    R: Arr
    t: Arr
    scale: float
    n: int
    px: float
    thick: float
    nz: int
    z0: float
    ns: int
    ss: int
    ssp: Arr
    pose: dict[str, float]

    def to_scanner(self, u: Arr) -> Arr:
        return np.asarray((np.asarray(u) * self.scale) @ self.R.T + self.t)

    def to_head(self, p: Arr) -> Arr:
        return np.asarray(((np.asarray(p) - self.t) @ self.R) / self.scale)

    def sub_z(self, m: Arr) -> Arr:
        """Scanner z of sub-slice m (0 .. ns*nz+1)."""
        return np.asarray(self.z0 - self.thick / 2 + self.thick / (2 * self.ns)
                          + (np.asarray(m) - 1) * self.thick / self.ns)

    def head_from_voxel(self) -> Arr:
        """4x4 affine from voxel index (k, j, i, 1) to head-frame mm (x, y, z, 1)."""
        c = (self.n - 1) / 2.0
        a = np.zeros((4, 4))
        # scanner p = (px*(i - c), px*(j - c), z0 + thick*k)
        sc = np.array([[0.0, 0.0, self.px], [0.0, self.px, 0.0], [self.thick, 0.0, 0.0]])
        off = np.array([-self.px * c, -self.px * c, self.z0])
        a[:3, :3] = (self.R.T @ sc) / self.scale
        a[:3, 3] = (self.R.T @ (off - self.t)) / self.scale
        a[3, 3] = 1.0
        return a


def _draw_scan(seed: int, head: _Head, matrix: int) -> _Scan:
    r = _rng(seed, 3)
    yaw, roll, pitch = _U(r, -15.0, 15.0), _U(r, -8.0, 8.0), _U(r, -20.0, 25.0)
    rad, ang = 15.0 * math.sqrt(_U(r, 0.0, 1.0)), _U(r, 0.0, 2.0 * math.pi)
    scale = _U(r, 0.92, 1.08)
    fov = _U(r, 220.0, 250.0)
    thick = float(r.choice([4.0, 5.0]))
    t = np.array([rad * math.cos(ang), rad * math.sin(ang), _U(r, -20.0, 20.0)])
    R = _rot(yaw, roll, pitch)
    px = fov / matrix
    ns = 3 if matrix >= 192 else 5
    ss = max(1, int(round(px / 1.6)))
    if r.uniform() < 0.5:
        a = _U(r, 0.15, 0.4)
        w = np.array([a] + [1.0] * ns + [a])
        ssp_kind = 1.0
    else:
        off = (np.arange(ns + 2) - (ns + 1) / 2.0) * thick / ns
        w = np.exp(-4.0 * math.log(2.0) * off ** 2 / thick ** 2)
        ssp_kind = 2.0
    w = w / w.sum()
    sc = _Scan(R, t, scale, matrix, px, thick, 1, 0.0, ns, ss, w,
               {"yaw_deg": yaw, "roll_deg": roll, "pitch_deg": pitch, "offset_x_mm": t[0],
                "offset_y_mm": t[1], "offset_z_mm": t[2], "scale": scale, "fov_mm": fov,
                "ssp": ssp_kind})
    # coverage: from below the foramen magnum (and the globes) to the vertex
    fm = np.array([0.0, head.fm[0], head.z_pf - 2.0])
    globes = np.array([[31.0, -68.5, -38.0], [-31.0, -68.5, -38.0]])
    lows = sc.to_scanner(np.vstack([fm[None], globes]))[:, 2]
    top = []
    for th in np.linspace(0.0, 1.2, 7):
        for ph in np.linspace(0.0, 2 * math.pi, 13):
            u = np.array([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
            rr = float(head.vault_r(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            tt = float(head.vault_t(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            top.append(head.cv + (rr + tt + head.scalp) * u)
    zt = float(sc.to_scanner(np.asarray(top))[:, 2].max())
    zb = float(lows.min()) - _U(r, 6.0, 14.0)
    zt = zt + _U(r, 0.0, 4.0)
    sc.nz = int(math.ceil((zt - zb) / thick)) + 1
    sc.z0 = zb
    return sc


class _Sampler:
    """Samples head-frame volumes on the reconstruction grid: sub-slices through z combined with
    the slice-sensitivity profile, in-plane supersampling averaged over the pixel."""

    def __init__(self, g: _Grid, sc: _Scan, head_pts: Arr) -> None:
        self.g, self.sc = g, sc
        A = sc.R.T / sc.scale
        b = -(sc.R.T @ sc.t) / sc.scale
        org = np.array([g.x0, g.y0, g.z0])
        self.A, self.b = A / g.h, (b - org) / g.h  # index (x, y, z order) = A p + b
        self.head_sc = sc.to_scanner(head_pts)

    def _pix(self, i0: int, i1: int, ss: int) -> Arr:
        sc = self.sc
        c = (sc.n - 1) / 2.0
        off = (np.arange(ss) + 0.5) / ss - 0.5
        return np.asarray(((np.arange(i0, i1)[:, None] + off[None]).ravel() - c) * sc.px)

    def _coords(self, zs: Arr, ys: Arr, xs: Arr) -> list[Arr]:
        A, b = self.A, self.b
        out = []
        for c in (2, 1, 0):  # grid axes z, y, x
            out.append((A[c, 0] * xs[None, None, :] + A[c, 1] * ys[None, :, None]
                        + A[c, 2] * zs[:, None, None] + b[c]).astype(np.float64))
        return out

    def region_of(self, lo: Arr, hi: Arr, pad: float) -> tuple[int, int, int, int, int, int]:
        """Output index region (k0, k1, j0, j1, i0, i1) covering a head-frame box."""
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                            for z in (lo[2], hi[2])])
        p = self.sc.to_scanner(corners)
        sc = self.sc
        c = (sc.n - 1) / 2.0
        i0 = int(np.clip(math.floor((p[:, 0].min() - pad) / sc.px + c), 0, sc.n))
        i1 = int(np.clip(math.ceil((p[:, 0].max() + pad) / sc.px + c) + 1, 0, sc.n))
        j0 = int(np.clip(math.floor((p[:, 1].min() - pad) / sc.px + c), 0, sc.n))
        j1 = int(np.clip(math.ceil((p[:, 1].max() + pad) / sc.px + c) + 1, 0, sc.n))
        k0 = int(np.clip(math.floor((p[:, 2].min() - pad - sc.z0) / sc.thick), 0, sc.nz))
        k1 = int(np.clip(math.ceil((p[:, 2].max() + pad - sc.z0) / sc.thick) + 1, 0, sc.nz))
        return k0, k1, j0, j1, i0, i1

    def slices(self, vol: Arr, vbox: Box, cval: float,
               region: tuple[int, int, int, int, int, int] | None = None,
               chunk: int = 6) -> Arr:
        """SSP- and pixel-averaged samples of ``vol`` (a head-grid array on ``vbox``)."""
        sc, g = self.sc, self.g
        k0, k1, j0, j1, i0, i1 = region if region is not None else (0, sc.nz, 0, sc.n, 0, sc.n)
        out = np.full((max(k1 - k0, 0), max(j1 - j0, 0), max(i1 - i0, 0)), cval,
                      dtype=np.float32)
        if out.size == 0:
            return out
        ss, ns = sc.ss, sc.ns
        shift = np.array([vbox[2].start, vbox[1].start, vbox[0].start], dtype=np.float64)
        m_all = np.arange(k0 * ns, k1 * ns + 2)
        subs = np.full((len(m_all), j1 - j0, i1 - i0), cval, dtype=np.float32)
        zall = sc.sub_z(m_all)
        for c0 in range(0, len(m_all), chunk):
            zs = zall[c0:c0 + chunk]
            # restrict to the head's in-plane footprint at these heights
            hz = self.head_sc[:, 2]
            near = (hz > zs.min() - 3 * g.h - 2) & (hz < zs.max() + 3 * g.h + 2)
            if not np.any(near):
                continue
            hp = self.head_sc[near]
            cpx = (sc.n - 1) / 2.0
            ja = max(j0, int(math.floor(hp[:, 1].min() / sc.px + cpx)) - 2)
            jb = min(j1, int(math.ceil(hp[:, 1].max() / sc.px + cpx)) + 3)
            ia = max(i0, int(math.floor(hp[:, 0].min() / sc.px + cpx)) - 2)
            ib = min(i1, int(math.ceil(hp[:, 0].max() / sc.px + cpx)) + 3)
            if ja >= jb or ia >= ib:
                continue
            ys, xs = self._pix(ja, jb, ss), self._pix(ia, ib, ss)
            cz, cy, cx = self._coords(zs, ys, xs)
            cz -= shift[2]
            cy -= shift[1]
            cx -= shift[0]
            v = ndimage.map_coordinates(vol, [cz, cy, cx], order=1, mode="constant", cval=cval,
                                        prefilter=False).astype(np.float32)
            if ss > 1:
                v = v.reshape(len(zs), jb - ja, ss, ib - ia, ss).mean(axis=(2, 4))
            subs[c0:c0 + len(zs), ja - j0:jb - j0, ia - i0:ib - i0] = v
        w = sc.ssp.astype(np.float32)
        for k in range(k1 - k0):
            seg = subs[k * ns:k * ns + ns + 2]
            out[k] = np.tensordot(w, seg, axes=(0, 0))
        return out

    def nearest(self, vol: Arr, cval: int) -> Arr:
        """Nearest-neighbour samples of a label volume at the voxel centres."""
        sc = self.sc
        out = np.full((sc.nz, sc.n, sc.n), cval, dtype=vol.dtype)
        xs = self._pix(0, sc.n, 1)
        zs = sc.z0 + sc.thick * np.arange(sc.nz)
        for k0 in range(0, sc.nz, 8):
            cz, cy, cx = self._coords(zs[k0:k0 + 8], xs, xs)
            out[k0:k0 + 8] = ndimage.map_coordinates(vol, [cz, cy, cx], order=0,
                                                     mode="constant", cval=cval,
                                                     prefilter=False)
        return out


# ----------------------------------------------------------------------------- lesions

def _clot_hu(hct: float, r: np.random.Generator) -> float:
    """Attenuation of retracted acute clot for a haematocrit (0.30 -> ~50 HU, 0.50 -> ~80)."""
    return float(np.clip(48.0 + (hct - 0.30) / 0.20 * 33.0 + r.normal(0.0, 2.0), 45.0, 85.0))


@dataclass
class _Blood:
    """One bleed on the head grid: blood fraction and HU of the blood in ``box``."""

    kind: str
    box: Box
    frac: Arr
    hu: Arr
    info: dict[str, Any]
    extra: list[tuple[Box, Arr, Any, int]] = field(default_factory=list)  # non-blood paints


def _sub(a: Arr, outer: Box, inner: Box) -> Arr:
    """View of ``a`` (defined on ``outer``) restricted to ``inner`` (inside ``outer``)."""
    return a[tuple(slice(i.start - o.start, i.stop - o.start)
                   for i, o in zip(inner, outer, strict=True))]


def _log_u(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(r.uniform(math.log(lo), math.log(hi))))


class _LesionMaker:
    def __init__(self, m: _Model, sc: _Scan, seed: int, hct: float) -> None:
        self.m, self.sc, self.seed = m, sc, seed
        self.hct = hct
        self.gdir = sc.R.T @ np.array([0.0, 1.0, 0.0])  # gravity (supine: posterior) in head
        self.g = m.g

    def _ball_union(self, pts: Arr, rad: Arr, s: float = 1.2) -> tuple[Box, Arr]:
        return _field(self.g, pts, rad, s, 2.0)

    def _within(self, box: Box) -> tuple[Arr, Arr, Arr, Arr, Arr]:
        m = self.m
        return (m.ch["gm"][box], m.ch["wm"][box], m.ch["csf"][box], m.ch["vent"][box],
                _occ(m.f["d_cav"][box] + 0.2, self.g.h))

    # -- intraparenchymal ---------------------------------------------------------
    def intraparenchymal(self, r: np.random.Generator, grow: float) -> _Blood:
        m = self.m
        site = str(r.choice(["lobar", "putamen", "thalamus", "pons", "cerebellum"],
                            p=[0.36, 0.3, 0.14, 0.08, 0.12]))
        side = float(r.choice([-1.0, 1.0]))
        vol = {"lobar": _log_u(r, 5.0, 80.0), "putamen": _log_u(r, 3.0, 60.0),
               "thalamus": _log_u(r, 1.5, 20.0), "pons": _log_u(r, 0.5, 8.0),
               "cerebellum": _log_u(r, 2.0, 25.0)}[site] * grow
        vol = min(vol, 95.0)
        r_eq = (3.0 * vol * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0) / self.sc.scale
        lobe_name = ""
        if site == "lobar":
            lobe_name = str(r.choice(["frontal", "parietal", "temporal", "occipital"]))
            lobe = m.f["lobe"]
            env = m.f["env"]
            code = _LOBE_CODES[lobe_name]
            Z, Y, X = self.g.axes(m.f["cav_box"])
            ok = (lobe == code) & (env < -(0.7 * r_eq + 4.0)) & (env > -(0.7 * r_eq + 14.0)) & (
                (X * side) > 12.0) & (m.tissue[m.f["cav_box"]] != T["ventricular_csf"])
            idx = np.flatnonzero(ok)
            if len(idx) == 0:
                ok = (env < -(0.5 * r_eq + 3.0)) & ((X * side) > 12.0)
                idx = np.flatnonzero(ok)
            pick = idx[int(r.integers(len(idx)))]
            iz, iy, ix = np.unravel_index(pick, env.shape)
            centre = np.array([X[0, 0, ix], Y[0, iy, 0], Z[iz, 0, 0]], dtype=np.float64)
        else:
            centre = {"putamen": np.array([side * 28.0, -1.0, 1.0]),
                      "thalamus": np.array([side * 10.0, 12.0, 5.0]),
                      "pons": np.array([side * 2.0, 21.0, -32.0]),
                      "cerebellum": np.array([side * 18.0, 53.0, -38.0])}[site]
            centre = centre + r.normal(0.0, 1.5, size=3)
        nb = int(r.integers(3, 7))
        axis = _unit(r.normal(size=3))
        aspect = _U(r, 1.0, 1.8)
        offs = (r.normal(size=(nb, 3)) * 0.25 + axis[None] * r.uniform(-0.45, 0.45, (nb, 1))
                * aspect) * r_eq
        rads = r_eq * r.uniform(0.55, 0.85, nb)
        pts = centre[None] + offs
        box, sdf = self._ball_union(pts, rads, 1.5)
        cur = float(np.count_nonzero(sdf < 0)) * self.g.h ** 3 / 1000.0
        if cur > 0:
            k = (vol / self.sc.scale ** 3 / cur) ** (1.0 / 3.0)
            rads = rads * k
            pts = centre[None] + offs * k
            box, sdf = self._ball_union(pts, rads, 1.5)
        gm, wm, csf, _vent, cav = self._within(box)
        par = gm + wm
        core = _occ(sdf + 3.5, self.g.h)
        frac = _occ(sdf, self.g.h) * np.clip(par + csf * core, 0.0, 1.0) * cav
        base = _clot_hu(self.hct, r) + _U(r, -1.0, 4.0)
        Z, Y, X = self.g.axes(box)
        tex = _fourier_noise(r, 6, 0.15, 0.5)(X, Y, Z) * 2.5
        hu = np.full(frac.shape, base, dtype=np.float32) + tex
        info: dict[str, Any] = {"site": site, "side": "left" if side > 0 else "right",
                                "lobe": lobe_name, "target_ml": vol}
        if r.uniform() < 0.3:  # hyperacute: swirl sign
            k = int(r.integers(3, 7))
            sp = pts[r.integers(0, nb, k)] + r.normal(size=(k, 3)) * r_eq * 0.25
            sr = r_eq * r.uniform(0.12, 0.3, k)
            _b, sw = _field(self.g, sp, sr, 0.8)
            swb = np.full(frac.shape, 20.0, dtype=np.float32)
            _min_into(swb, box, _b, sw)
            hu -= _occ(swb, self.g.h) * _U(r, 15.0, 30.0)
            info["swirl"] = True
        if r.uniform() < 0.22:  # anticoagulated: fluid-fluid level
            hu += self._level(r, box, frac, 0.35, 0.7)
            info["fluid_level"] = True
        b = _Blood("intraparenchymal", box, frac.astype(np.float32), hu, info)
        if vol > 8.0 or r.uniform() < 0.3:
            w = _U(r, 2.0, 6.0) * min(1.5, (vol / 20.0) ** 0.25)
            drop = _U(r, 5.0, 10.0)
            ob = _box_of_points(self.g, pts, rads, w + 8.0)
            _bb, sd2 = self._ball_union(pts, rads, 1.5)
            od = np.full(tuple(s.stop - s.start for s in ob), 30.0, dtype=np.float32)
            _min_into(od, ob, _bb, sd2)
            rim = np.clip(1.0 - od / w, 0.0, 1.0) * (od > 0)
            b.extra.append((ob, rim * drop, "oedema", T["oedema"]))
            info["oedema_rim_mm"] = w
        return b

    def _level(self, r: np.random.Generator, box: Box, frac: Arr, q0: float, q1: float) -> Arr:
        Z, Y, X = self.g.axes(box)
        gd = [float(v) for v in self.gdir]
        dep = X * gd[0] + Y * gd[1] + Z * gd[2]
        inside = frac > 0.5
        if not np.any(inside):
            return np.zeros(frac.shape, dtype=np.float32)
        lev = float(np.quantile(np.broadcast_to(dep, frac.shape)[inside], _U(r, q0, q1)))
        dense = _sstep((dep - lev) / 1.0 + 0.5)
        return np.asarray(dense * _U(r, 8.0, 15.0) - (1.0 - dense) * _U(r, 10.0, 20.0),
                          dtype=np.float32)

    # -- intraventricular ---------------------------------------------------------
    def intraventricular(self, r: np.random.Generator, grow: float) -> _Blood:
        m = self.m
        vbox, vs, vlab = m.f["vent"]
        mode = str(r.choice(["cast", "layer", "tiny"], p=[0.45, 0.4, 0.15]))
        side = float(r.choice([-1.0, 1.0]))
        Z, Y, X = self.g.axes(vbox)
        occ = _occ(vs, self.g.h)
        phi = min(1.0, _U(r, 0.85, 1.0) + 0.05 * (grow - 1.0))
        gd = [float(v) for v in self.gdir]
        dep = X * gd[0] + Y * gd[1] + Z * gd[2]
        idx = {n: i + 1 for i, n in enumerate(_VENT_PARTS)}
        info_t = 0.0
        if mode == "cast":
            parts = ["atrium", "occipital_horn", "body"]
            if r.uniform() < 0.5 or grow > 1.0:
                parts += ["frontal_horn"]
            if r.uniform() < 0.5:
                parts += ["third", "fourth", "aqueduct"]
            both = r.uniform() < 0.4 or grow > 1.5
            sel = np.isin(vlab, [idx[p] for p in parts])
            if not both:
                sel &= (X * side > 0) | np.isin(vlab, [idx["third"], idx["fourth"],
                                                       idx["aqueduct"]])
            frac = occ * sel * phi
        else:
            # a dependent layer of a target volume in the atria and occipital horns
            target = (_U(r, 0.3, 2.0) if mode == "tiny" else _log_u(r, 1.0, 10.0)) * grow
            sel = np.isin(vlab, [idx["atrium"], idx["occipital_horn"]])
            if mode == "tiny" or r.uniform() < 0.4:
                sel &= X * side > 0
            depb = np.broadcast_to(dep, vs.shape)
            w = (occ * sel).ravel() * (self.g.h * self.sc.scale) ** 3 / 1000.0
            order = np.argsort(-depb.ravel(), kind="stable")
            cum = np.cumsum(w[order])
            i = int(np.searchsorted(cum, target))
            level = float(depb.ravel()[order[min(i, len(order) - 1)]])
            frac = occ * sel * _sstep((depb - level) / 1.0 + 0.5) * phi
            info_t = target
        hu = np.full(vs.shape, _clot_hu(self.hct, r) - _U(r, 0.0, 8.0), dtype=np.float32)
        info: dict[str, Any] = {"mode": mode, "side": "left" if side > 0 else "right"}
        if info_t:
            info["target_ml"] = info_t
        return _Blood("intraventricular", vbox, frac.astype(np.float32), hu, info)

    # -- subarachnoid ---------------------------------------------------------------
    def subarachnoid(self, r: np.random.Generator, grow: float) -> _Blood:
        m, hd = self.m, self.m.head
        pattern = str(r.choice(["basal", "convexity", "perimesencephalic"], p=[0.45, 0.35, 0.2]))
        side = float(r.choice([-1.0, 1.0]))
        pts: list[list[float]] = []
        rad: list[float] = []
        if pattern == "basal":
            pts += [[0, -12, -19], [0, -34, -2], [0, 6, -20]]
            rad += [15.0, 11.0, 10.0]
            for sx in ((-1.0, 1.0) if r.uniform() < 0.7 else (side,)):
                for p in m.f["sylvian_basal"][::6]:
                    if p[0] * sx > 0:
                        pts.append(list(p))
                        rad.append(9.0)
                for yy, zz in ((-5, -2), (8, 6), (20, 14)):
                    pts.append([sx * (hd.x_ins + 6.0), yy, zz])
                    rad.append(11.0)
        elif pattern == "perimesencephalic":
            pts += [[0, 6, -20], [0, 6, -32], [12, 12, -12], [-12, 12, -12], [0, -8, -19]]
            rad += [12.0, 9.0, 8.0, 8.0, 7.0]
        else:
            u = _unit((side * _U(r, 0.5, 0.9), _U(r, -0.5, 0.5), _U(r, 0.2, 0.8)))
            c0 = np.array([side * 24.0, 8.0, 8.0])
            pts.append(list(c0 + u * 62.0))
            rad.append(_U(r, 18.0, 30.0))
            pts.append(list(c0 + _unit(u + r.normal(0, 0.25, 3)) * 60.0))
            rad.append(_U(r, 12.0, 22.0))
        if grow > 1.0:  # too thin to fill half a voxel: the blood reaches the nearest fissure
            for p in m.f["sylvian_basal"][::6]:
                if p[0] * side > 0:
                    pts.append(list(p))
                    rad.append(9.0)
            for yy, zz in ((-5, -2), (8, 6), (20, 14)):
                pts.append([side * (hd.x_ins + 6.0), yy, zz])
                rad.append(11.0)
        if grow > 2.0:
            pts += [[0, -12, -19], [0, 6, -20]]
            rad += [15.0, 10.0]
        pa = np.asarray(pts, dtype=np.float64)
        ra = np.asarray(rad) * (0.85 + 0.15 * min(grow, 3.0))
        box, env = self._ball_union(pa, ra, 3.0)
        _gm, _wm, csf, _vent, cav = self._within(box)
        phi = min(1.0, _U(r, 0.6, 0.95) + 0.15 * (grow - 1.0))
        frac = _occ(env, 3.0) * csf * phi
        frac = frac * cav
        hu = np.full(frac.shape, _clot_hu(self.hct, r) - _U(r, 0.0, 6.0), dtype=np.float32)
        return _Blood("subarachnoid", box, frac.astype(np.float32), hu,
                      {"pattern": pattern, "side": "left" if side > 0 else "right"})

    # -- subdural -------------------------------------------------------------------
    def _table_point(self, u: Arr) -> Arr:
        hd = self.m.head
        rr = float(hd.vault_r(np.array(u[0]), np.array(u[1]), np.array(u[2])))
        return np.asarray(hd.cv + rr * u)

    def subdural(self, r: np.random.Generator, grow: float) -> _Blood:
        m, hd, g = self.m, self.m.head, self.g
        side = float(r.choice([-1.0, 1.0]))
        suture = str(r.choice(["coronal", "lambdoid", "squamosal"], p=[0.5, 0.2, 0.3]))
        best, bu = 1e9, _unit((side, 0.0, 0.3))
        for _ in range(300):
            u = _unit((side * _U(r, 0.35, 1.0), _U(r, -0.8, 0.8), _U(r, -0.25, 0.85)))
            p = self._table_point(u)
            f = hd.suture_fields(p[0:1], p[1:2], p[2:3])[suture]
            if suture == "squamosal" and abs(p[0]) < 40:
                continue
            d = abs(float(f[0]))
            if d < best:
                best, bu = d, u
        ext = math.radians(_U(r, 38.0, 60.0)) * grow ** 0.3
        tmax = min(_U(r, 1.5, 20.0) * grow, 26.0) / self.sc.scale
        c = hd.cv
        box = g.box((-80.0, -95.0, -40.0), (80.0, 100.0, 90.0))
        Z, Y, X = g.axes(box)
        dx, dy, dz = X - float(c[0]), Y - float(c[1]), Z - float(c[2])
        rho = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3
        cosang = (dx * float(bu[0]) + dy * float(bu[1]) + dz * float(bu[2])) / rho
        ang = np.arccos(np.clip(cosang, -1.0, 1.0))
        th = tmax * np.clip(1.0 - (ang / ext) ** 2, 0.0, 1.0) ** 0.6
        dcav = m.f["d_cav"][box]
        tz = hd.tent(X[0], Y[0])[None]
        tf = 0.9
        sdf = np.maximum(dcav, -dcav - th)
        sdf = np.maximum(sdf, (tf + 0.4) - X * side)
        sdf = np.maximum(sdf, (tz + 1.5) - Z)
        frac = _occ(sdf, g.h) * (th > 0.3)
        info: dict[str, Any] = {"side": "left" if side > 0 else "right", "suture": suture,
                                "max_thickness_mm": tmax * self.sc.scale,
                                "extent_deg": math.degrees(ext)}
        variant = r.uniform()
        if variant < 0.2:  # along the falx
            tfl = _U(r, 2.0, 5.0) * grow ** 0.5
            yc, zc, rr = _U(r, -30.0, 40.0), _U(r, 30.0, 55.0), _U(r, 25.0, 40.0)
            q = ((Y - 2.0) / 39.0) ** 2 + ((Z - 3.0) / 29.0) ** 2
            s2 = np.maximum(np.abs(X * side - (tf + tfl / 2 + 0.3)) - tfl / 2,
                            np.sqrt((Y - yc) ** 2 + (Z - zc) ** 2) - rr)
            s2 = np.maximum(np.maximum(s2, 1.0 - q * 1.0), dcav)
            frac = np.maximum(frac, _occ(s2, g.h))
            info["falx"] = True
        elif variant < 0.35:  # along the tentorium
            ttl = _U(r, 2.0, 5.0) * grow ** 0.5
            inc = hd.incisura(X[0], Y[0])[None]
            s2 = np.maximum(np.abs(Z - (tz + 1.0 + ttl / 2)) - ttl / 2, 1.0 - inc)
            s2 = np.maximum(np.maximum(s2, (tf + 0.4) - X * side), dcav)
            s2 = np.maximum(s2, 20.0 - Y)
            frac = np.maximum(frac, _occ(s2, g.h))
            info["tentorium"] = True
        gm, wm, csf, vent, cav = self._within(box)
        frac = frac * (1.0 - vent) * cav
        hu = np.full(frac.shape, _clot_hu(self.hct, r) + _U(r, 0.0, 4.0), dtype=np.float32)
        b = _Blood("subdural", box, frac.astype(np.float32), hu, info)
        if r.uniform() < 0.22:  # acute-on-chronic: a hypodense non-dependent component
            gd = [float(v) for v in self.gdir]
            dep = X * gd[0] + Y * gd[1] + Z * gd[2]
            inside = frac > 0.5
            if np.any(inside):
                lev = float(np.quantile(np.broadcast_to(dep, frac.shape)[inside],
                                        _U(r, 0.3, 0.55)))
                chronic = (1.0 - _sstep((dep - lev) / 1.5 + 0.5)) * frac
                b.frac = (frac - chronic).astype(np.float32)
                b.extra.append((box, chronic, _U(r, 12.0, 28.0), T["chronic_subdural_fluid"]))
                info["acute_on_chronic"] = True
        return b

    # -- epidural -------------------------------------------------------------------
    def epidural(self, r: np.random.Generator, grow: float) -> _Blood:
        m, hd, g = self.m, self.m.head, self.g
        plate_name = str(r.choice(["temporal", "frontal", "parietal", "occipital"],
                                  p=[0.5, 0.2, 0.2, 0.1]))
        side = float(r.choice([-1.0, 1.0]))
        want = {"frontal": 0, "occipital": 5, "parietal": 1 if side > 0 else 2,
                "temporal": 3 if side > 0 else 4}[plate_name]
        best, bu, bp = -1.0, _unit((side, 0.0, 0.2)), np.zeros(3)
        for _ in range(400):
            u = _unit((side * _U(r, 0.15, 1.0), _U(r, -1.0, 1.0), _U(r, -0.3, 0.95)))
            p = self._table_point(u)
            pl, dist = hd.plates(p[0:1], p[1:2], p[2:3])
            if int(pl[0]) != want:
                continue
            if p[2] < float(hd.floor(p[0:1], p[1:2])[0]) + 8.0:
                continue
            d = float(dist[0])
            if d > best:
                best, bu, bp = d, u, p
        rext = float(np.clip(_U(r, 22.0, 40.0), 10.0, max(12.0, best - 2.0)))
        tmax = min(_U(r, 6.0, 26.0) * grow, 34.0) / self.sc.scale
        lo, hi = bp - rext - 6.0, bp + rext + 6.0
        box = g.box(lo, hi)
        Z, Y, X = g.axes(box)
        c = hd.cv
        dx, dy, dz = X - float(c[0]), Y - float(c[1]), Z - float(c[2])
        rho = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3
        ang = np.arccos(np.clip((dx * float(bu[0]) + dy * float(bu[1]) + dz * float(bu[2]))
                                / rho, -1.0, 1.0))
        arc = ang * float(np.linalg.norm(bp - c))
        th = tmax * np.clip(1.0 - (arc / rext) ** 2, 0.0, 1.0)
        pl, dist = hd.plates(np.broadcast_to(X, th.shape), np.broadcast_to(Y, th.shape),
                             np.broadcast_to(Z, th.shape))
        th = np.minimum(th, 1.5 * (dist - 2.5)) * (pl == want)
        dcav = m.f["d_cav"][box]
        sdf = np.maximum(dcav, -dcav - th)
        frac = _occ(sdf, g.h) * (th > 0.2)
        gm, wm, csf, vent, cav = self._within(box)
        frac = frac * cav
        base = _clot_hu(self.hct, r) + _U(r, 0.0, 6.0)
        hu = np.full(frac.shape, base, dtype=np.float32)
        info: dict[str, Any] = {"plate": plate_name, "side": "left" if side > 0 else "right",
                                "max_thickness_mm": tmax * self.sc.scale,
                                "radius_mm": rext * self.sc.scale}
        if r.uniform() < 0.3:  # swirl: actively bleeding
            k = int(r.integers(2, 5))
            sp = bp[None] - bu[None] * tmax * 0.4 + r.normal(size=(k, 3)) * rext * 0.25
            _b, sw = _field(g, sp, np.full(k, max(2.0, tmax * 0.2)), 0.8)
            swb = np.full(frac.shape, 20.0, dtype=np.float32)
            _min_into(swb, box, _b, sw)
            hu -= _occ(swb, g.h) * _U(r, 15.0, 28.0)
            info["swirl"] = True
        b = _Blood("epidural", box, frac.astype(np.float32), hu, info)
        # the fracture line through the overlying plate, and a scalp haematoma
        nrm = _unit(np.cross(bu, r.normal(size=3)))
        plane = np.abs((X - float(bp[0])) * float(nrm[0]) + (Y - float(bp[1])) * float(nrm[1])
                       + (Z - float(bp[2])) * float(nrm[2])) - _U(r, 0.35, 0.7)
        plane = np.maximum(plane, arc - rext * 1.1)
        shell = m.f["shell"][box]
        fr = _occ(np.maximum(plane, shell), g.h) * (pl == want)
        b.extra.append((box, fr, _U(r, 30.0, 60.0), T["suture_or_fracture"]))
        dsk = m.f["d_skin"][box]
        sw_t = _U(r, 3.0, 6.0)
        scalp = _occ(np.maximum(np.maximum(dsk + 0.6, -(dsk + sw_t)), arc - rext * 1.2), g.h)
        scalp = scalp * (shell > 0.5) * (dcav > 0)
        b.extra.append((box, scalp, _U(r, 45.0, 65.0), T["skin"]))
        info["fracture"] = True
        return b


# ----------------------------------------------------------------------------- mimics

def _paint_mimics(m: _Model, sc: _Scan, label: NcctLabel, seed: int) -> dict[str, Any]:
    hd, g = m.head, m.g
    h = g.h
    info: dict[str, Any] = {}
    for name in dict.fromkeys(label.mimics):
        r = _rng(seed, 20, MIMICS.index(name))
        if name == "choroid_plexus_calcification":
            _cb, _cf, chp = m.f["choroid"]
            sides = [0, 1] if r.uniform() < 0.75 else [int(r.integers(2))]
            pts = chp[sides] + r.normal(0.0, 0.6, size=(len(sides), 3))
            rad = r.uniform(1.8, 3.5, len(sides))
            hu = _U(r, 120.0, 400.0)
            b, f = _field(g, pts, rad, 0.6)
            m.paint(b, _occ(f, h), hu, T["calcification"])
            info[name] = {"hu": hu, "radius_mm": rad.tolist()}
        elif name == "pineal_calcification":
            rp = _U(r, 1.8, 3.2)
            b, f = _field(g, np.array([[0.0, 24.0, 3.0]]), np.array([rp]), 0.6)
            hu = _U(r, 120.0, 400.0)
            m.paint(b, _occ(f, h), hu, T["calcification"])
            info[name] = {"hu": hu, "radius_mm": rp}
        elif name == "basal_ganglia_calcification":
            k = int(r.integers(1, 4))
            pts = []
            for sx in (-1.0, 1.0):
                for _ in range(k):
                    pts.append([sx * _U(r, 20.0, 24.0), _U(r, -6.0, 7.0), _U(r, -3.0, 3.0)])
            rad = r.uniform(1.2, 2.6, len(pts))
            hu = _U(r, 100.0, 320.0)
            b, f = _field(g, np.asarray(pts), rad, 0.6)
            m.paint(b, _occ(f, h), hu, T["calcification"])
            info[name] = {"hu": hu, "count": len(pts)}
        elif name == "falx_calcification":
            k = int(r.integers(2, 5))
            hu = _U(r, 150.0, 400.0)
            for _ in range(k):
                yc, zc = _U(r, -40.0, 40.0), _U(r, 40.0, 62.0)
                ln = _U(r, 4.0, 12.0)
                box = g.box((-3.0, yc - ln - 2, zc - ln - 2), (3.0, yc + ln + 2, zc + ln + 2))
                Z, Y, X = g.axes(box)
                sdf = np.maximum(np.abs(X) - _U(r, 0.6, 1.3),
                                 np.sqrt((Y - yc) ** 2 + ((Z - zc) * 1.6) ** 2) - ln)
                sdf = np.maximum(sdf, m.f["d_cav"][box] + 3.0)
                m.paint(box, _occ(sdf, h), hu, T["calcification"])
            info[name] = {"hu": hu, "plaques": k}
        elif name == "hyperdense_vessel":
            side = label.ischaemic_side if label.ischaemic_side in ("left", "right") else str(
                r.choice(["left", "right"]))
            tag = "L" if side == "left" else "R"
            hu = _U(r, 55.0, 70.0)
            art = m.f["arteries"]
            for key in ("m1_" + tag, "m2a_" + tag):
                ctrl = [(a, b_, c, rr + 0.2) for a, b_, c, rr in art[key]]
                p, rad = _polyline(ctrl, max(0.5, h * 0.7))
                bx, f = _field(g, p, rad, 0.5)
                m.paint(bx, _occ(f, h), hu, T["artery"])
            info[name] = {"side": side, "hu": hu, "segment": "M1"}
        elif name == "residual_contrast":
            hu_a, hu_v = _U(r, 110.0, 250.0), _U(r, 90.0, 170.0)
            for ctrl in m.f["arteries"].values():
                p, rad = _polyline(ctrl, max(0.5, h * 0.7))
                bx, f = _field(g, p, rad, 0.5)
                m.paint(bx, _occ(f, h), hu_a, T["contrast"])
            for p, rad in m.f["sinuses"].values():
                bx, f = _field(g, p, rad, 0.7)
                m.paint(bx, _occ(f, h), hu_v, T["contrast"])
            sulcal = bool(r.uniform() < 0.5)
            if sulcal:
                sgn = float(r.choice([-1.0, 1.0]))
                u = _unit((sgn * _U(r, 0.5, 0.9), _U(r, -0.5, 0.5), _U(r, 0.1, 0.7)))
                cen = np.array([sgn * 24.0, 8.0, 8.0]) + u * 62.0
                rr = _U(r, 15.0, 25.0)
                bx, env = _field(g, cen[None], np.array([rr]), 3.0)
                f = _occ(env, 3.0) * m.ch["csf"][bx] * _U(r, 0.5, 0.8)
                m.paint(bx, f, _U(r, 60.0, 110.0), T["contrast"])
            info[name] = {"arterial_hu": hu_a, "venous_hu": hu_v, "sulcal": sulcal}
        elif name == "streak_artefact":
            u = _unit((_U(r, -1.0, 1.0), _U(r, -1.0, 1.0), _U(r, 0.1, 0.8)))
            rr = float(hd.vault_r(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            tt = float(hd.vault_t(np.array(u[0]), np.array(u[1]), np.array(u[2])))
            p = hd.cv + (rr + tt + 2.0) * u
            b, f = _field(g, p[None], np.array([1.6]), 0.4)
            m.paint(b, _occ(f, h), 3000.0, T["metal"])
            info[name] = {"source_head_mm": p.tolist(),
                          "source_scanner_mm": sc.to_scanner(p[None])[0].tolist(),
                          "lines": int(r.integers(4, 9)), "amplitude_hu": _U(r, 40.0, 110.0),
                          "angle0": _U(r, 0.0, math.pi)}
    return info


def _ischaemia(m: _Model, region: Arr, label: NcctLabel, seed: int) -> tuple[float | None,
                                                                             float | None]:
    if not label.ischaemic_regions:
        return None, None
    r = _rng(seed, 30)
    delta = _U(r, 2.0, 6.0)
    kw = _U(r, 0.3, 0.6)
    off = 0 if label.ischaemic_side == "left" else 10
    codes = [ASPECTS_REGIONS.index(x) + 1 + off for x in dict.fromkeys(label.ischaemic_regions)]
    box = m.f["cav_box"]
    sel = np.isin(region[box], codes)
    hu = m.hu[box]
    hu[sel] -= delta * m.ch["gm"][box][sel] + delta * kw * m.ch["wm"][box][sel]
    return delta, kw


# ----------------------------------------------------------------------------- physics

def _mtf(f_lpcm: Arr, kernel: str) -> Arr:
    f50, edge = _KERNELS[kernel]
    q = f_lpcm / f50
    return np.asarray(np.exp(-math.log(2.0) * q * q) + edge * q * q * np.exp(-q * q),
                      dtype=np.float32)


def _freq(n: int, px: float) -> Arr:
    fy = np.fft.fftfreq(n, d=px)[:, None]
    fx = np.fft.rfftfreq(n, d=px)[None, :]
    return np.asarray(np.sqrt(fx * fx + fy * fy) * 10.0)  # line pairs per cm


def _physics(vol: Arr, sc: _Scan, seed: int, head: _Head, mimic: dict[str, Any]
             ) -> dict[str, Any]:
    """Image-domain CT physics on the reconstructed volume (in place)."""
    r = _rng(seed, 50)
    n, px = sc.n, sc.px
    nz = vol.shape[0]
    kernel = str(r.choice(sorted(_KERNELS)))
    c = (n - 1) / 2.0
    yy = ((np.arange(n) - c) * px)[:, None].astype(np.float32)
    xx = ((np.arange(n) - c) * px)[None, :].astype(np.float32)
    cup = _U(r, 2.0, 6.0)
    bh_amp = _U(r, 8.0, 25.0)
    bh_w = _U(r, 2.5, 5.0)
    windmill = bool(r.uniform() < 0.35)
    wm_amp, wm_n, wm_ph, wm_step = _U(r, 15.0, 40.0), int(r.integers(5, 11)), _U(
        r, 0.0, 6.3), _U(r, 0.3, 0.9)
    motion_slices: list[int] = []
    if r.uniform() < 0.15:
        k0 = int(r.integers(max(1, nz // 4), max(2, 3 * nz // 4)))
        motion_slices = list(range(k0, min(nz, k0 + int(r.integers(1, 4)))))
    motion: dict[str, Any] = {"shift_mm": [_U(r, -4.0, 4.0), _U(r, -4.0, 4.0)],
                              "rot_deg": _U(r, -3.0, 3.0), "mix": _U(r, 0.3, 0.5),
                              "doubled": bool(r.uniform() < 0.6)}
    sigma0 = _U(r, 3.0, 6.0)
    gc, gb = _U(r, 0.1, 0.35), _U(r, 0.2, 0.6)
    # petrous ridges in the scanner frame, for the interpetrous beam-hardening band
    ridge = []
    for sx in (-1.0, 1.0):
        t = np.linspace(0.0, 1.0, 30)[:, None]
        a = np.array([sx * 11.0, 1.0, head.z_ridge - 3.0])
        b = np.array([sx * 52.0, 29.0, head.z_ridge - 4.0])
        ridge.append(sc.to_scanner(a[None] * (1 - t) + b[None] * t))
    head_mask = vol > -400.0
    bone = np.clip((vol - 300.0) / 700.0, 0.0, 1.0)
    bone_frac = np.array([float(bone[k][head_mask[k]].mean()) if head_mask[k].any() else 0.0
                          for k in range(nz)])
    bref = float(np.median(bone_frac)) if nz else 0.0
    for k in range(nz):
        sl = vol[k]
        hm = head_mask[k]
        if not hm.any():
            continue
        zk = sc.z0 + k * sc.thick
        cyx = np.argwhere(hm).mean(axis=0)
        ry = yy - (cyx[0] - c) * px
        rx = xx - (cyx[1] - c) * px
        rr2 = rx * rx + ry * ry
        rh2 = float(hm.sum()) * px * px / math.pi
        soft = (sl < 150.0) & hm
        sl -= np.where(soft, cup * np.clip(1.0 - rr2 / rh2, 0.0, 1.0), 0.0).astype(np.float32)
        pl, pr = ridge[0], ridge[1]
        inl = pl[np.abs(pl[:, 2] - zk) < sc.thick / 2 + 3.0]
        inr = pr[np.abs(pr[:, 2] - zk) < sc.thick / 2 + 3.0]
        if len(inl) and len(inr):
            a, b = inl[:, :2].mean(axis=0), inr[:, :2].mean(axis=0)
            d = b - a
            L2 = float(d @ d) + 1e-6
            tt = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / L2, 0.0, 1.0)
            dist2 = (xx - a[0] - tt * d[0]) ** 2 + (yy - a[1] - tt * d[1]) ** 2
            wgt = min(1.0, (len(inl) + len(inr)) / 30.0)
            sl -= np.where(soft, bh_amp * wgt * np.exp(-dist2 / (2 * bh_w ** 2)), 0.0).astype(
                np.float32)
        if windmill and 0 < k < nz - 1:
            gz = np.abs(bone[k + 1] - bone[k - 1])
            gz = ndimage.gaussian_filter(gz, 2.5 / px)
            th = np.arctan2(yy, xx)
            sl += (wm_amp * gz * np.cos(wm_n * th + wm_ph + k * wm_step)).astype(np.float32)
    if "streak_artefact" in mimic:
        s = mimic["streak_artefact"]
        p = np.asarray(s["source_scanner_mm"])
        for k in range(nz):
            zk = sc.z0 + k * sc.thick
            dz = abs(zk - p[2])
            if dz > sc.thick * 1.2:
                continue
            fall = max(0.0, 1.0 - dz / (sc.thick * 1.2))
            for li in range(s["lines"]):
                ang = s["angle0"] + li * math.pi / s["lines"]
                nx_, ny_ = -math.sin(ang), math.cos(ang)
                d = np.abs((xx - p[0]) * nx_ + (yy - p[1]) * ny_)
                along = np.sqrt((xx - p[0]) ** 2 + (yy - p[1]) ** 2)
                sign = 1.0 if li % 2 == 0 else -0.7
                vol[k] += (sign * s["amplitude_hu"] * fall * np.exp(-d / max(0.6, px))
                           * np.exp(-along / 90.0)).astype(np.float32)
    for k in motion_slices:
        sl = vol[k]
        rt = math.radians(motion["rot_deg"])
        rot = np.array([[math.cos(rt), -math.sin(rt)], [math.sin(rt), math.cos(rt)]])
        sh = np.array(motion["shift_mm"][::-1]) / px
        centre = np.array([c, c])
        offset = centre - rot @ centre + sh
        moved = ndimage.affine_transform(sl, rot, offset=offset, order=1, mode="nearest")
        if motion["doubled"]:
            vol[k] = (1 - motion["mix"]) * sl + motion["mix"] * moved
        else:  # blurred along the path of the motion
            acc = sl.copy()
            for frac in (0.25, 0.5, 0.75, 1.0):
                acc += ndimage.shift(sl, sh * frac, order=1, mode="nearest")
            vol[k] = acc / 5.0
    # in-plane MTF of the reconstruction kernel
    f = _freq(n, px)
    H = _mtf(f, kernel)
    for k0 in range(0, nz, 8):
        blk = np.fft.rfft2(vol[k0:k0 + 8])
        vol[k0:k0 + 8] = np.fft.irfft2(blk * H[None], s=(n, n)).astype(np.float32)
    # quantum noise: filtered back-projection power spectrum (ramp x kernel^2), level rising
    # towards the centre of the head and towards the skull base
    filt = np.sqrt(f) * H
    norm = float(np.sqrt(np.mean(np.concatenate([filt[:, :1], filt[:, 1:], filt[:, 1:]],
                                                axis=1) ** 2)))
    filt = (filt / max(norm, 1e-6)).astype(np.float32)
    nr = _rng(seed, 51)
    for k0 in range(0, nz, 8):
        kk = min(nz, k0 + 8) - k0
        white = nr.standard_normal((kk, n, n), dtype=np.float32)
        nz_img = np.fft.irfft2(np.fft.rfft2(white) * filt[None], s=(n, n)).astype(np.float32)
        for j in range(kk):
            k = k0 + j
            hm = head_mask[k]
            if hm.any():
                cyx = np.argwhere(hm).mean(axis=0)
                rr2 = (yy - (cyx[0] - c) * px) ** 2 + (xx - (cyx[1] - c) * px) ** 2
            else:
                rr2 = yy * yy + xx * xx
            base = 1.0 + gb * float(np.clip((bone_frac[k] - bref) / 0.12, 0.0, 1.5))
            sig = sigma0 * base * (1.0 + gc * np.exp(-rr2 / (2.0 * 45.0 ** 2)))
            vol[k] += (nz_img[j] * sig).astype(np.float32)
    np.clip(vol, -1024.0, 3071.0, out=vol)
    return {"kernel": kernel, "mtf50_lp_per_cm": _KERNELS[kernel][0],
            "noise_sigma_hu": sigma0, "noise_centre_gain": gc, "noise_base_gain": gb,
            "cupping_hu": cup, "interpetrous_band_hu": bh_amp, "interpetrous_band_mm": bh_w,
            "windmill": windmill, "motion_slices": motion_slices,
            "motion": motion if motion_slices else None}


# ----------------------------------------------------------------------------- cases

_GRID_LO = (-90.0, -104.0, -92.0)
_GRID_SIZE = (180.0, 220.0, 194.0)


def _make_bleeds(m: _Model, sc: _Scan, sampler: _Sampler, label: NcctLabel, seed: int,
                 hct: float) -> tuple[list[_Blood], Arr]:
    lm = _LesionMaker(m, sc, seed, hct)
    out: list[tuple[_Blood, tuple[int, int, int, int, int, int], Arr]] = []
    g = m.g
    for kind in dict.fromkeys(label.bleeds):
        grow = 1.0
        for _attempt in range(7):
            r = _rng(seed, 40, BLEED_KINDS.index(kind))
            b: _Blood = getattr(lm, kind)(r, grow)
            lo = np.array([g.x0 + b.box[2].start * g.h, g.y0 + b.box[1].start * g.h,
                           g.z0 + b.box[0].start * g.h])
            hi = np.array([g.x0 + b.box[2].stop * g.h, g.y0 + b.box[1].stop * g.h,
                           g.z0 + b.box[0].stop * g.h])
            reg = sampler.region_of(lo, hi, 2.0 * sc.px + 2.0)
            fk = sampler.slices(b.frac, b.box, 0.0, reg)
            if np.count_nonzero(fk >= 0.5) >= 4:
                break
            grow *= 1.5
        b.info["growth"] = grow
        out.append((b, reg, fk))
    shape = (sc.nz, sc.n, sc.n)
    total = np.zeros(shape, dtype=np.float32)
    best = np.zeros(shape, dtype=np.float32)
    kind_map = np.zeros(shape, dtype=np.uint8)
    for b, reg, fk in out:
        k0, k1, j0, j1, i0, i1 = reg
        sl = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
        total[sl] += fk
        better = fk > best[sl]
        best[sl] = np.where(better, fk, best[sl])
        kind_map[sl] = np.where(better, BLEED_KINDS.index(b.kind) + 1, kind_map[sl])
    mask = np.where(total >= 0.5, kind_map, 0).astype(np.uint8)
    for b, reg, fk in out:
        code = BLEED_KINDS.index(b.kind) + 1
        if not np.any(mask == code):
            k0, k1, j0, j1, i0, i1 = reg
            sub = mask[k0:k1, j0:j1, i0:i1]
            sub[fk >= 0.5] = code
    return [b for b, _r, _f in out], mask


def _apply_bleeds(m: _Model, bloods: list[_Blood]) -> dict[str, float]:
    nominal: dict[str, float] = {}
    for b in bloods:
        for box, f, hu, code in b.extra:
            if hu == "oedema":
                par = m.ch["gm"][box] + m.ch["wm"][box]
                m.hu[box] -= f * par
                t = m.tissue[box]
                t[(f > 2.5) & (par >= 0.5)] = code
            else:
                m.paint(box, f, hu, code)
    for b in bloods:
        m.paint(b.box, b.frac, b.hu, T["acute_blood"])
        sel = b.frac >= 0.5
        nominal[b.kind] = float(b.hu[sel].mean()) if np.any(sel) else float(b.hu.mean())
    return nominal


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """Render one case: the volume with its truth, the ASPECTS region map (1..10 left,
    11..20 right) and the tissue map (codes: indices in :data:`TISSUES`), on the volume's grid."""
    if not 64 <= int(matrix) <= 512:
        raise ValueError("matrix must lie in 64..512")
    matrix = int(matrix)
    head = _Head(seed)
    sc = _draw_scan(seed, head, matrix)
    h = float(np.clip(sc.px * 1.15, 0.85, 2.2))
    g = _Grid(_GRID_LO[0], _GRID_LO[1], _GRID_LO[2], h, int(_GRID_SIZE[0] / h) + 2,
              int(_GRID_SIZE[1] / h) + 2, int(_GRID_SIZE[2] / h) + 2)
    m = _Model(head, g)
    _build_skull(m)
    _build_brain(m)
    _build_dura_vessels(m)
    region = _build_regions(m)
    mim = _paint_mimics(m, sc, label, seed)
    delta, kw = _ischaemia(m, region, label, seed)
    hr = _rng(seed, 31)
    hct = _U(hr, 0.30, 0.50)
    step = 3
    nzi = np.argwhere(m.tissue[::step, ::step, ::step] > 0).astype(np.float64) * step * h
    head_pts = np.stack([nzi[:, 2] + g.x0, nzi[:, 1] + g.y0, nzi[:, 0] + g.z0], axis=1)
    sampler = _Sampler(g, sc, head_pts)
    bloods, mask = _make_bleeds(m, sc, sampler, label, seed, hct)
    nominal = _apply_bleeds(m, bloods)
    vol = sampler.slices(m.hu, _full(g), -1000.0)
    lab = sampler.nearest(m.tissue.astype(np.uint16) * 32 + region.astype(np.uint16), 0)
    tissue = (lab // 32).astype(np.uint8)
    regions = (lab % 32).astype(np.uint8)
    phys = _physics(vol, sc, seed, head, mim)
    spacing = (float(sc.thick), float(sc.px), float(sc.px))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    volumes = {k: float(np.count_nonzero(mask == i + 1)) * voxel_ml
               for i, k in enumerate(BLEED_KINDS)}
    c = (sc.n - 1) / 2.0
    details: dict[str, Any] = {
        "ischaemic_delta_hu": delta,
        "ischaemic_white_matter_fraction": kw,
        "kernel": phys["kernel"],
        "bleed_volumes_ml": volumes,
        "blood_hu": {k: round(v, 1) for k, v in nominal.items()},
        "haematocrit": hct,
        "bleeds": {b.kind: b.info for b in bloods},
        "pose": {k: float(v) for k, v in sc.pose.items()},
        "physics": {**phys, "slice_thickness_mm": sc.thick, "pixel_mm": sc.px,
                    "ssp_weights": [float(v) for v in sc.ssp], "sub_slices": sc.ns,
                    "in_plane_supersampling": sc.ss, "model_grid_mm": h},
        "anatomy": {"age": head.age, "atrophy": head.atrophy, "grey_hu": head.hu["gm"],
                    "white_hu": head.hu["wm"], "csf_hu": head.hu["csf"],
                    "bone_hu": head.hu["bone"], "venous_hu": head.hu["venous"]},
        "mimics": mim,
        "origin_mm": [-c * sc.px, -c * sc.px, float(sc.z0)],
        "head_from_voxel": sc.head_from_voxel().tolist(),
        "tissues": list(TISSUES),
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=vol, spacing_mm=spacing,
                    blood_mask=mask, details=details)
    return case, regions, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
