"""Harmonic family: synthetic non-contrast head CT built from spherical-harmonic surfaces.

Methods
-------
**Frames.** Anatomy lives in a head frame in millimetres with patient LPS axes (x to the
patient's left, y posterior, z to the vertex), origin at the foramen of Monro, horizontal plane
the AC-PC plane. A pose (pitch, yaw, roll, table offset) carries it into the scanner frame, which
is the frame of the returned volume.

**Measurements.** Each seed draws a patient (sex, age 20-90, haematocrit) and the axial-CT
measurements of the normative literature: glabello-opisthocranial length (186/178 mm, sd 6.5)
and cephalic index (79, sd 4.2), hence biparietal breadth; vault height; calvarial thickness by
site (frontal ~6.6-7.1 mm, parietal ~5.6, temporal squama ~2.6, occipital ~7.4; outer and inner
tables 1.3-2.0 / 0.9-1.5 mm around diploe; frontal-sinus pneumatisation); scalp, temporalis and
nuchal muscle. Age sets an atrophy score that widens the extra-axial space (1-5 mm), cortical
sulci (0.7-3.5 mm), sylvian fissures (2.5-8 mm) and interhemispheric fissure, enlarges the
ventricles (Evans index ~0.24 young to ~0.32 old, bicaudate index ~0.12-0.2, third ventricle
2-8 mm, temporal horns), the interuncal distance (24-30 mm) and cisterns, thins the cortex and
lowers grey-white contrast; older heads get periventricular/deep leukoaraiosis (graded) and
lacunes. The achieved values (length, breadth, cephalic index, Evans and bicaudate indices,
insular depth, pons, fourth ventricle, cerebellar width, tentorial angle...) are measured on the
built geometry and reported in ``details["measurements"]``.

**Surfaces.** Every closed surface is star-shaped about its own centre: r(u) = sum c_lm Y_lm(u)
with real spherical harmonics. The cranial shells share the cranial centre C0: the inner table
(degree 10) is fitted by ridge least squares on 1500 directions to an ellipsoidal vault (frontal
narrowing, petalia) cut by flat anterior, middle and posterior fossa floors (bowl-shaped below),
then refitted twice so its length and breadth equal the drawn values; calvarial thickness
(degree 8), muscle (8), subcutis (6) and the extra-axial gap (6) are fits to site-weighted
targets; the skin (degree 12) is the vault scalp blended into a face/neck column below the brow,
zygoma and inion. Per-seed coefficient noise gives head-shape variation and asymmetry. Deep
structures are harmonic solids in their own normalised frames, fitted (degree 6; brainstem 10,
cerebellum 8) to shape targets and jittered per seed and per side: frontal horns/bodies with a
flat septal wall, atria with occipital horns, temporal horns, third and fourth (tent-shaped)
ventricles, caudate head and body, a wedge-shaped lentiform (polyhedral target; its medial part
is the pallidum), thalami (set apart by the third ventricle), hippocampus, amygdala, a
midbrain-pons-medulla profile, a bilobed cerebellum with vermian notches, the suprasellar,
perimesencephalic, quadrigeminal and interpeduncular cisterns, orbits, sinuses, petrous pyramids,
clivus, sphenoid body, pituitary, choroid plexus, pineal.

**Cortex.** A grey ribbon (2.2-3 mm) lines the brain surface. Sulci are the zero set of a
band-limited random field on the cranial sphere (gyral period ~12-16 mm): CSF sheets 5-18 mm
deep, curving with depth, opening towards the surface, lined by grey matter; a cone under the
diencephalon is left without cortex. The interhemispheric fissure (with its own medial sulci
down to the callosum), the sylvian fissure (stem from the suprasellar cistern, deep cistern over
an insula curved at its ends, wavy opercular cleft), the insular cortex, claustrum and capsules
are explicit. The tentorium is a thin-plate spline through the straight sinus (tentorial angle
~32 +/- 5 degrees), the free edge around the incisura, the petrous ridges and the transverse
sinuses; it divides cerebrum from cerebellum; the falx descends to a free edge above the callosum.

**Skull base and extracranial tissue.** Fossa floors come from the endocranial expansion; on them
sit the sphenoid body and sinus, planum, sella with pituitary, dorsum, clinoids, lesser wings,
crista galli, clivus (marrow core), dense petrous pyramids with internal auditory canal, cochlea,
vestibule, middle ear, ossicles and carotid canal, pneumatised mastoids, the foramen magnum with
spinal canal and cord, occipital condyles, atlas and dens. The face has orbits (walls, fat, globe,
lens, recti, optic nerve), ethmoid cells, frontal, sphenoid and maxillary sinuses, nasal cavity
with septum and turbinates, nasopharynx, external auditory canals, pinnae, nose, zygomatic
arches and mandibular condyles; the scalp has skin, subcutaneous fat, galea, temporalis and
nuchal muscle. Venous sinuses (superior sagittal following the inner table, straight, transverse,
sigmoid to the jugular bulb, vein of Galen, internal cerebral veins, cavernous) and the circle of
Willis (ICA, M1, M2 trunks, A1/A2, AComm, PComm, P1/P2, SCA, basilar, vertebrals) are tubes of
flowing blood whose HU follows the haematocrit (12 + 0.85 Hct).

**Acquisition.** Pitch up to +/-20 degrees (sd 7.5), yaw +/-15, roll +/-12, off-centre table;
the head rests on a plastic cradle with a foam pad. Axial slices 2.5-5 mm, contiguous, cover
from 6-14 mm below the foramen magnum to the vertex (30-64 slices; a long head is cut at the
vertex, some scans are cut short); display field of view 205-255 mm at the requested matrix.
Each slice averages three sub-slice samples (slice profile); every surface is anti-aliased
in-plane with a one-pixel ramp on its signed radial distance (painter's algorithm). Beam
hardening and metal use a parallel-beam projector on a grid of at most 128 pixels: the residual
bone error -beta p_bone^2 (after a vendor correction that removes its broad offset) and, for
metal, -beta_m p_metal^2 plus photon-starvation noise growing with exp(p) are reconstructed by
filtered back-projection and added (dark bands between petrous bones, streaks from clips, coils,
electrodes). The kernel (vendor names H31s, H40s, Hr38, Hr40, J40s, STANDARD, SOFT, UB, UC, FC21,
FC26) sets a Gaussian point spread (0.35-0.7 mm) and edge sharpening; noise is coloured
(NPS ~ f^a exp(-(f/fc)^2): a = 1 filtered back-projection, 0.6 iterative), 2.5-6.5 HU in brain
(thinner slices, sharper kernels noisier), its level modulated by the back-projected
transmission. Values are rounded to int16 HU in [-1024, 3071].

**Pathology.** Acute clot HU = 12 + 0.85 Hct_eff (retraction 1.35-2.0, clipped to 50-90).
Intraparenchymal haematomas (putaminal, thalamic, lobar, cerebellar, pontine) are irregular
harmonic solids with heterogeneity, sometimes a swirl or a fluid level (gravity in the scanner
frame), and an oedema rim. Intraventricular blood layers dependently, casts a lateral ventricle
or fills the third/fourth ventricles; subarachnoid blood fills cisternal and sulcal CSF around an
aneurysmal (ACom, MCA, PCom, basilar tip), perimesencephalic or convexity source; subdural blood
is a crescent over one convexity, epidural blood a biconvex lens (with fracture and scalp
swelling at times). Volumes are log-normal (0.5-80 mL, skewed small), calibrated on the anatomy;
blood over ~8 mL displaces tissue by a volume-conserving radial warp that vanishes at the inner
table (midline shift, ventricular effacement), and extra-axial blood compresses the cortex under
it. Early ischaemia lowers grey matter (and the internal capsule) by a per-seed 2-6 HU and white
matter by 40% of that in the labelled ASPECTS regions. Mimics: choroid plexus, pineal, pallidal
and falx calcification, hyperdense MCA/ICA/basilar thrombus, metal with streaks, residual
iodinated contrast (vessels, sinuses, choroid, pituitary, dura).

**Outputs.** The tissue map is the mode of the three sub-slice samples; the blood mask marks
voxels where at least two are blood; ASPECTS regions (caudate, lentiform, internal capsule,
insular ribbon, M1-M3 at the ganglionic level and M4-M6 above, MCA territory only) are assigned
at voxel centres in the anatomical (warped) frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, sparse, special
from scipy.interpolate import RBFInterpolator

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

Arr = NDArray[Any]
Slices = tuple[slice, slice, slice]

FAMILY: str = "harmonic"

TISSUES: tuple[str, ...] = (
    "air", "fat", "soft_tissue", "muscle", "cortical_bone", "diploe", "petrous_bone",
    "vitreous", "lens", "dura", "vessel", "csf", "ventricle", "grey_matter", "white_matter",
    "caudate", "putamen", "pallidum", "thalamus", "brainstem", "cerebellar_cortex",
    "cerebellar_white", "choroid_plexus", "gland", "blood", "oedema", "calcification",
    "thrombus", "contrast", "metal", "plastic", "foam",
)
"""Tissue classes of the tissue map (uint8 index into this tuple)."""

T: dict[str, int] = {name: i for i, name in enumerate(TISSUES)}
_BRAIN = np.array([T[n] for n in ("grey_matter", "white_matter", "caudate", "putamen",
                                  "pallidum", "thalamus", "brainstem", "cerebellar_cortex",
                                  "cerebellar_white")], dtype=np.uint8)
_GREYISH = np.array([T[n] for n in ("grey_matter", "caudate", "putamen", "pallidum",
                                    "thalamus")], dtype=np.uint8)
_HARD = np.array([T[n] for n in ("cortical_bone", "diploe", "petrous_bone", "air", "fat",
                                   "muscle", "soft_tissue", "metal")], dtype=np.uint8)
_MU_WATER = 0.0192  # 1/mm, effective linear attenuation of water at 120 kVp


def _ramp(d: Arr, h: float) -> Arr:
    """Soft coverage in [0, 1] from a signed distance ``d`` (mm, positive inside) over width h."""
    return np.clip(0.5 + d * (1.0 / h), 0.0, 1.0).astype(np.float32)


def _smooth(x: Arr, a: float, b: float) -> Arr:
    """Smoothstep from 0 at ``a`` to 1 at ``b``."""
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rot(rx: float, ry: float, rz: float) -> Arr:
    """Rotation matrix (degrees) Rz @ Ry @ Rx; rows of the result used as local axes."""
    a, b, c = (math.radians(v) for v in (rx, ry, rz))
    mx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    my = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    mz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(mz @ my @ mx, dtype=float)


def _frame(long_axis: Arr, axis_index: int = 1) -> Arr:
    """Orthonormal rows with row ``axis_index`` along ``long_axis`` (others near head axes)."""
    d = np.asarray(long_axis, float)
    d = d / np.linalg.norm(d)
    base = np.eye(3)
    rows = [base[i] for i in range(3)]
    rows[axis_index] = d
    out = np.zeros((3, 3))
    out[axis_index] = d
    for i in range(3):
        if i == axis_index:
            continue
        v = rows[i] - np.dot(rows[i], d) * d
        for j in range(3):
            if j != axis_index and j < i:
                v = v - np.dot(v, out[j]) * out[j]
        out[i] = v / np.linalg.norm(v)
    return out


# ----------------------------------------------------------------------------- harmonics

_NT, _NP = 41, 80      # tables of local solids (4.5 degree steps)
_CT, _CP = 121, 240    # cranial tables about C0 (1.5 degree steps)


@lru_cache(maxsize=8)
def _lm(lmax: int) -> tuple[Arr, Arr]:
    ls = [deg for deg in range(lmax + 1) for _ in range(2 * deg + 1)]
    ms = [m for deg in range(lmax + 1) for m in range(-deg, deg + 1)]
    return np.array(ls), np.array(ms)


def _legendre(lmax: int, theta: Arr) -> Arr:
    """Normalised associated-Legendre factors of the real harmonics, (ncoef, n)."""
    ls, ms = _lm(lmax)
    out = np.empty((len(ls), theta.size))
    for i, (deg, m) in enumerate(zip(ls, ms, strict=True)):
        v = special.sph_harm_y(int(deg), int(abs(m)), theta, 0.0).real
        out[i] = v * (math.sqrt(2.0) if m != 0 else 1.0)
    return out


def _trig(lmax: int, phi: Arr) -> Arr:
    _, ms = _lm(lmax)
    out = np.empty((len(ms), phi.size))
    for i, m in enumerate(ms):
        out[i] = np.cos(m * phi) if m > 0 else (np.sin(-m * phi) if m < 0 else 1.0)
    return out


@lru_cache(maxsize=4)
def _fib(n: int) -> Arr:
    """``n`` near-uniform unit directions (Fibonacci sphere), (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    rxy = np.sqrt(1.0 - z * z)
    return np.stack([rxy * np.cos(phi), rxy * np.sin(phi), z], axis=1)


@lru_cache(maxsize=16)
def _fib_basis(lmax: int, n: int) -> Arr:
    d = _fib(n)
    theta = np.arccos(np.clip(d[:, 2], -1, 1))
    phi = np.arctan2(d[:, 1], d[:, 0])
    return _legendre(lmax, theta) * _trig(lmax, phi)


@lru_cache(maxsize=16)
def _grid_factors(lmax: int, nt: int, np_: int) -> tuple[Arr, Arr]:
    theta = np.linspace(0.0, math.pi, nt)
    phi = -math.pi + 2.0 * math.pi * np.arange(np_) / np_
    return _legendre(lmax, theta), _trig(lmax, phi)


@lru_cache(maxsize=16)
def _fit_matrix(lmax: int, n: int, ridge: float) -> Arr:
    """Ridge least-squares operator mapping samples on ``_fib(n)`` to coefficients."""
    b = _fib_basis(lmax, n)
    ls, _ = _lm(lmax)
    reg = ridge * n * (ls * (ls + 1.0)) ** 2
    out: Arr = np.linalg.solve(b @ b.T + np.diag(reg), b)
    return out


def _fit_sh(target: Arr, lmax: int, n: int, ridge: float = 1e-5) -> Arr:
    """Least-squares real-harmonic coefficients of ``target`` sampled on ``_fib(n)``."""
    out: Arr = _fit_matrix(lmax, n, ridge) @ target
    return out


def _sh_eval(coef: Arr, lmax: int, n: int) -> Arr:
    """The expansion at the ``_fib(n)`` directions."""
    out: Arr = coef @ _fib_basis(lmax, n)
    return out


def _sh_table(coef: Arr, lmax: int, nt: int, np_: int) -> Arr:
    """The expansion on a (theta, phi) table: theta 0..pi, phi -pi..pi (periodic)."""
    leg, trig = _grid_factors(lmax, nt, np_)
    return np.asarray((leg * coef[:, None]).T @ trig, dtype=np.float32)


def _jitter(coef: Arr, lmax: int, rng: np.random.Generator, amp: float, slope: float = 1.2,
            lmin: int = 2) -> Arr:
    """Random relative perturbation of degree >= ``lmin`` coefficients (rms ~ amp * l^-slope)."""
    ls, _ = _lm(lmax)
    scale = float(coef[0]) / math.sqrt(4 * math.pi) if coef[0] != 0 else 1.0
    sd = np.where(ls >= lmin, amp * np.maximum(ls, 1.0) ** (-slope)
                  * math.sqrt(4 * math.pi) / np.sqrt(2 * ls + 1.0), 0.0)
    return coef + scale * sd * rng.standard_normal(coef.size)


class _Sph:
    """Bilinear lookup of directions (vx, vy, vz) into (theta, phi) tables of shape (nt, np)."""

    def __init__(self, vx: Arr, vy: Arr, vz: Arr, nt: int, np_: int,
                 norm: Arr | None = None) -> None:
        if norm is None:
            norm = np.sqrt(vx * vx + vy * vy + vz * vz) + np.float32(1e-6)
        theta = np.arccos(np.clip(vz / norm, -1.0, 1.0))
        phi = np.arctan2(vy, vx)
        ft = theta * np.float32((nt - 1) / math.pi)
        fp = (phi + np.float32(math.pi)) * np.float32(np_ / (2 * math.pi))
        t0 = np.minimum(ft.astype(np.int32), nt - 2)
        self.wt = (ft - t0).astype(np.float32)
        p0f = np.floor(fp)
        self.wp = (fp - p0f).astype(np.float32)
        p0 = p0f.astype(np.int32) % np_
        p1 = (p0 + 1) % np_
        self.i00 = t0 * np_ + p0
        self.i01 = t0 * np_ + p1
        self.i10 = self.i00 + np_
        self.i11 = self.i01 + np_

    def __call__(self, table: Arr) -> Arr:
        f = table.ravel()
        a = f[self.i00]
        a = a + self.wp * (f[self.i01] - a)
        b = f[self.i10]
        b = b + self.wp * (f[self.i11] - b)
        out: Arr = a + self.wt * (b - a)
        return out

    def at(self, table: Arr, sl: Slices) -> Arr:
        """Lookup for the sub-block ``sl`` of the arrays this object was built from."""
        f = table.ravel()
        wp = self.wp[sl]
        a = f[self.i00[sl]]
        a = a + wp * (f[self.i01[sl]] - a)
        b = f[self.i10[sl]]
        b = b + wp * (f[self.i11[sl]] - b)
        out: Arr = a + self.wt[sl] * (b - a)
        return out


def _table_dirs(nt: int, np_: int) -> Arr:
    """Unit directions of a (theta, phi) table, (nt, np, 3)."""
    theta = np.linspace(0.0, math.pi, nt)[:, None]
    phi = (-math.pi + 2.0 * math.pi * np.arange(np_) / np_)[None, :]
    return np.stack(np.broadcast_arrays(np.sin(theta) * np.cos(phi),
                                        np.sin(theta) * np.sin(phi),
                                        np.cos(theta) + 0 * phi), axis=-1)


class _Solid:
    """Star-shaped solid: inside where |v| < rho(v/|v|), v = M (q - c) in normalised units."""

    def __init__(self, centre: Arr, semi: Arr, axes: Arr, table: Arr) -> None:
        self.c = np.asarray(centre, float)
        self.semi = np.asarray(semi, float)
        self.axes = np.asarray(axes, float)
        self.m = (self.axes / self.semi[:, None]).astype(np.float32)
        self.table = np.asarray(table, np.float32)
        ext = float(self.table.max()) * np.sqrt(((self.axes * self.semi[:, None]) ** 2).sum(0))
        self.lo = self.c - ext
        self.hi = self.c + ext

    def box(self, scale: float = 1.0, pad: float = 0.0) -> tuple[Arr, Arr]:
        """Bounding box (mm) of the solid dilated by ``scale`` and ``pad``."""
        half = (self.hi - self.lo) / 2 * scale + pad
        return self.c - half, self.c + half

    def depth(self, x: Arr, y: Arr, z: Arr, scale: float = 1.0) -> Arr:
        """Signed radial distance (mm, positive inside) to the surface scaled by ``scale``."""
        return self.depths(x, y, z, (scale,))[0]

    def depths(self, x: Arr, y: Arr, z: Arr, scales: tuple[float, ...]) -> list[Arr]:
        """Signed radial distances (mm) to the surface scaled by each of ``scales``."""
        dx = x - np.float32(self.c[0])
        dy = y - np.float32(self.c[1])
        dz = z - np.float32(self.c[2])
        m = self.m
        vx = m[0, 0] * dx + m[0, 1] * dy + m[0, 2] * dz
        vy = m[1, 0] * dx + m[1, 1] * dy + m[1, 2] * dz
        vz = m[2, 0] * dx + m[2, 1] * dy + m[2, 2] * dz
        n = np.sqrt(vx * vx + vy * vy + vz * vz) + np.float32(1e-6)
        rho = _Sph(vx, vy, vz, self.table.shape[0], self.table.shape[1], n)(self.table) / n
        d = np.sqrt(dx * dx + dy * dy + dz * dz)
        return [d * (np.float32(s) * rho - np.float32(1.0)) for s in scales]

    def volume_ml(self) -> float:
        """Volume of the solid in mL (integral of rho^3 / 3 over the sphere)."""
        nt, np_ = self.table.shape
        theta = np.linspace(0.0, math.pi, nt)
        w = np.sin(theta)[:, None] * (math.pi / (nt - 1)) * (2 * math.pi / np_)
        integral = float((self.table.astype(float) ** 3 * w).sum()) / 3.0
        return integral * float(np.prod(self.semi)) / 1000.0


def _solid(centre: Arr, semi: Arr, rng: np.random.Generator, *, axes: Arr | None = None,
           shape: Callable[[Arr], Arr] | None = None, jitter: float = 0.04,
           lmax: int = 6) -> _Solid:
    """A harmonic solid fitted to the shape target ``shape(u)`` (radius on the unit sphere of
    the normalised frame), jittered per seed."""
    n = 700
    target = np.ones(n) if shape is None else shape(_fib(n))
    coef = _fit_sh(target, lmax, n)
    if jitter > 0:
        coef = _jitter(coef, lmax, rng, jitter)
    table = np.maximum(_sh_table(coef, lmax, _NT, _NP), 0.05)
    return _Solid(centre, semi, np.eye(3) if axes is None else axes, table)


def _planes(normals: list[tuple[float, float, float]], dists: list[float]) -> Callable[[Arr], Arr]:
    """Shape target of a convex polyhedron {u . n_i <= d_i} intersected with the unit sphere."""
    ns = np.array([np.asarray(v, float) / np.linalg.norm(v) for v in normals])
    ds = np.array(dists, float)

    def f(u: Arr) -> Arr:
        proj = u @ ns.T
        with np.errstate(divide="ignore"):
            cand = np.where(proj > 1e-6, ds[None, :] / np.maximum(proj, 1e-6), 10.0)
        out: Arr = np.minimum(cand.min(axis=1), 1.0)
        return out
    return f


class _Tile:
    """Periodic band-limited 3-D noise (unit variance) sampled at head coordinates (mm)."""

    def __init__(self, rng: np.random.Generator, step: float, n: int = 32,
                 band: float = 0.25) -> None:
        f = np.fft.rfftn(rng.standard_normal((n, n, n)))
        k = np.sqrt(np.fft.fftfreq(n)[:, None, None] ** 2 + np.fft.fftfreq(n)[None, :, None] ** 2
                    + np.fft.rfftfreq(n)[None, None, :] ** 2)
        f *= np.exp(-(((k - band) / (0.5 * band)) ** 2))
        g = np.fft.irfftn(f, s=(n, n, n), axes=(0, 1, 2))
        self.g = ((g - g.mean()) / (g.std() + 1e-9)).astype(np.float32)
        self.step = step
        self.n = n

    def __call__(self, x: Arr, y: Arr, z: Arr) -> Arr:
        s = np.float32(1.0 / self.step)
        n = self.n
        f = self.g.ravel()
        fx, fy, fz = np.ravel(x) * s, np.ravel(y) * s, np.ravel(z) * s
        ix, iy, iz = np.floor(fx), np.floor(fy), np.floor(fz)
        wx, wy, wz = fx - ix, fy - iy, fz - iz
        ix0 = ix.astype(np.int32) % n
        iy0 = iy.astype(np.int32) % n
        iz0 = iz.astype(np.int32) % n
        ix1, iy1, iz1 = (ix0 + 1) % n, (iy0 + 1) % n, (iz0 + 1) % n
        a0, a1 = ix0 * (n * n), ix1 * (n * n)
        b0, b1 = iy0 * n, iy1 * n
        c00 = f[a0 + b0 + iz0] + wz * (f[a0 + b0 + iz1] - f[a0 + b0 + iz0])
        c01 = f[a0 + b1 + iz0] + wz * (f[a0 + b1 + iz1] - f[a0 + b1 + iz0])
        c10 = f[a1 + b0 + iz0] + wz * (f[a1 + b0 + iz1] - f[a1 + b0 + iz0])
        c11 = f[a1 + b1 + iz0] + wz * (f[a1 + b1 + iz1] - f[a1 + b1 + iz0])
        c0 = c00 + wy * (c01 - c00)
        c1 = c10 + wy * (c11 - c10)
        out = c0 + wx * (c1 - c0)
        return np.asarray(out, np.float32).reshape(np.shape(x))


def _sphere_field(rng: np.random.Generator, nt: int, np_: int, k0: float,
                  stretch: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Arr:
    """Band-limited Gaussian field on the unit sphere (unit sd), ``k0`` cycles per radius."""
    n = 48
    span = 2.4
    f = np.fft.rfftn(rng.standard_normal((n, n, n)))
    fx = np.fft.fftfreq(n, d=span / n)[:, None, None] * stretch[0]
    fy = np.fft.fftfreq(n, d=span / n)[None, :, None] * stretch[1]
    fz = np.fft.rfftfreq(n, d=span / n)[None, None, :] * stretch[2]
    k = np.sqrt(fx ** 2 + fy ** 2 + fz ** 2)
    f *= np.exp(-(((k - k0) / (0.35 * k0)) ** 2))
    g = np.fft.irfftn(f, s=(n, n, n), axes=(0, 1, 2))
    d = _table_dirs(nt, np_).reshape(-1, 3)
    coords = ((d + span / 2) / span * n - 0.5).T
    v = np.asarray(ndimage.map_coordinates(g, coords, order=3, mode="wrap")).reshape(nt, np_)
    return np.asarray((v - v.mean()) / (v.std() + 1e-9), np.float32)


def _gradient_norm(field_tab: Arr) -> Arr:
    """Angular gradient magnitude (per radian) of a (theta, phi) table, floored at 1."""
    nt, np_ = field_tab.shape
    dt = math.pi / (nt - 1)
    dp = 2 * math.pi / np_
    gt = np.gradient(field_tab, dt, axis=0)
    gp = (np.roll(field_tab, -1, axis=1) - np.roll(field_tab, 1, axis=1)) / (2 * dp)
    sin_t = np.maximum(np.sin(np.linspace(0, math.pi, nt)), 0.05)[:, None]
    return np.asarray(np.maximum(np.sqrt(gt ** 2 + (gp / sin_t) ** 2), 1.0), np.float32)


def _sh_at(coef: Arr, lmax: int, dirs: Arr) -> Arr:
    """The expansion at arbitrary unit directions ``dirs`` (n, 3)."""
    d = np.atleast_2d(dirs)
    theta = np.arccos(np.clip(d[:, 2], -1.0, 1.0))
    phi = np.arctan2(d[:, 1], d[:, 0])
    out: Arr = coef @ (_legendre(lmax, theta) * _trig(lmax, phi))
    return out


def _sites(u: Arr, sites: list[tuple[tuple[float, float, float], float, float]]) -> Arr:
    """Smooth blend of site values over directions ``u`` (von Mises weights, kappa each)."""
    num = np.zeros(len(u))
    den = np.zeros(len(u))
    for d, value, kappa in sites:
        dv = np.asarray(d, float)
        dv = dv / np.linalg.norm(dv)
        w = np.exp(kappa * (u @ dv - 1.0))
        num += w * value
        den += w
    out: Arr = num / np.maximum(den, 1e-12)
    return out


def _mirror(sites: list[tuple[tuple[float, float, float], float, float]]
            ) -> list[tuple[tuple[float, float, float], float, float]]:
    """Add the left-right mirror image of every lateral site."""
    out = list(sites)
    for (x, y, z), v, k in sites:
        if abs(x) > 1e-9:
            out.append(((-x, y, z), v, k))
    return out


def _draw_hu(rng: np.random.Generator, age: float, hct: float) -> dict[str, float]:
    """Per-seed tissue attenuation (HU at 120 kVp) within physiological ranges."""
    u = rng.uniform
    wm = u(25.0, 31.0)
    gm = wm + u(8.5, 12.5) - 0.03 * max(age - 40.0, 0.0)
    csf = u(3.0, 11.0)
    return {
        "air": -1000.0, "fat": u(-112.0, -82.0), "soft_tissue": u(32.0, 50.0),
        "muscle": u(46.0, 62.0), "cortical_bone": u(1300.0, 1850.0),
        "diploe": u(380.0, 760.0), "petrous_bone": u(1850.0, 2350.0),
        "vitreous": u(5.0, 14.0), "lens": u(85.0, 125.0), "dura": u(48.0, 64.0),
        "vessel": 12.0 + 0.85 * hct + rng.normal(0.0, 1.5), "csf": csf, "ventricle": csf,
        "grey_matter": gm, "white_matter": wm, "caudate": gm - u(0.5, 2.5),
        "putamen": gm - u(0.0, 2.0), "pallidum": wm + u(4.0, 7.0), "thalamus": wm + u(4.0, 7.0),
        "brainstem": wm + u(2.0, 5.0), "cerebellar_cortex": gm + u(-1.5, 1.5),
        "cerebellar_white": wm + u(0.5, 3.0), "choroid_plexus": u(28.0, 40.0),
        "gland": u(36.0, 50.0), "blood": float(np.clip(12.0 + 0.85 * min(90.0, hct * 1.65),
                                                       50.0, 90.0)),
        "oedema": wm - u(6.0, 10.0), "calcification": u(160.0, 480.0),
        "thrombus": u(60.0, 86.0), "contrast": u(110.0, 230.0), "metal": 3071.0,
        "plastic": u(90.0, 240.0), "foam": u(-900.0, -760.0),
    }


def _tube_depth(x: Arr, y: Arr, z: Arr, a: Arr, b: Arr, ra: float, rb: float) -> Arr:
    """Signed distance (mm, positive inside) to a capsule from ``a`` to ``b`` (radii ra..rb)."""
    ab = (b - a).astype(np.float32)
    ll = float(ab @ ab) + 1e-9
    px = x - np.float32(a[0])
    py = y - np.float32(a[1])
    pz = z - np.float32(a[2])
    t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) * np.float32(1.0 / ll), 0.0, 1.0)
    dx = px - t * ab[0]
    dy = py - t * ab[1]
    dz = pz - t * ab[2]
    out: Arr = np.float32(ra) + t * np.float32(rb - ra) - np.sqrt(dx * dx + dy * dy + dz * dz)
    return out


@dataclass
class _Tube:
    """A polyline tube: points (k, 3) mm and radii (k,) mm."""

    pts: Arr
    radii: Arr

    def segments(self) -> list[tuple[Arr, Arr, float, float]]:
        """Capsule segments (a, b, ra, rb)."""
        return [(self.pts[i], self.pts[i + 1], float(self.radii[i]), float(self.radii[i + 1]))
                for i in range(len(self.pts) - 1)]


class _Anatomy:
    """One seed's head: measurements, cranial harmonic shells and deep harmonic solids (mm)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 101])
        male = bool(rng.random() < 0.5)
        self.sex = "M" if male else "F"
        self.age = float(20.0 + 70.0 * rng.beta(2.2, 1.5))
        at = float(np.clip(np.clip((self.age - 25.0) / 60.0, 0.0, 1.15) ** 1.5
                           * rng.uniform(0.6, 1.35), 0.0, 1.3))
        self.atrophy = at
        self.hct = float(np.clip(rng.normal(43.0 if male else 39.5, 3.5), 28.0, 54.0))
        self.hu = _draw_hu(rng, self.age, self.hct)

        # ---------------------------------------------------------- normative measurements
        length = float(rng.normal(186.0 if male else 178.0, 6.5))
        ci = float(np.clip(rng.normal(79.0, 4.2), 69.0, 92.0))
        breadth = ci * length / 100.0
        t_f = float(np.clip(rng.normal(6.6 + (0.0 if male else 0.5), 1.0), 4.0, 10.0))
        t_p = float(np.clip(rng.normal(5.6, 0.9), 3.5, 8.5))
        t_t = float(np.clip(rng.normal(2.6, 0.55), 1.4, 4.5))
        t_o = float(np.clip(rng.normal(7.4, 1.2), 4.5, 11.0))
        fs = 0.0 if rng.random() < 0.06 else float(rng.uniform(0.25, 1.0))
        glab = 2.0 + 7.0 * fs
        l_in = length - t_f - t_o - 0.6 * glab
        b_in = breadth - (t_p + t_t)
        h_up = 62.0 * (l_in / 170.0) ** 0.4 * (b_in / 134.0) ** 0.3 * float(rng.normal(1, 0.035))
        sx, sy, sz = b_in / 134.0, l_in / 170.0, h_up / 62.0
        self.scale = (sx, sy, sz)
        self.frontal_sinus = fs

        def p(x: float, y: float, z: float) -> Arr:
            return np.array([x * sx, y * sy, z * sz])

        self.p = p
        c0 = p(0.0, 13.0, 12.0)
        self.c0 = c0

        # ---------------------------------------------------------- inner table (endocranium)
        n = 1500
        u = _fib(n)
        pet = float(rng.uniform(0.0, 0.035)) * (1.0 if rng.random() < 0.75 else -1.0)
        d_af, d_mf, d_pf = (v * sz * float(rng.normal(1.0, 0.04)) for v in (33.0, 59.0, 76.0))
        lmax_in = 10
        ls, _ = _lm(lmax_in)
        noise_in = rng.standard_normal(ls.size)

        def inner_target(a: float, b: float) -> Arr:
            ux, uy, uz = u[:, 0], u[:, 1], u[:, 2]
            bb = b * (1.0 - 0.13 * np.clip(-uy, 0, 1) ** 2 - 0.04 * np.clip(uy, 0, 1) ** 2)
            az = np.arctan2(uy, np.abs(ux))
            w_a = 1.0 / (1.0 + np.exp((az + 0.95) / 0.12))
            w_p = 1.0 / (1.0 + np.exp(-(az - 0.30) / 0.12))
            w_m = np.clip(1.0 - w_a - w_p, 0.0, 1.0)
            dz = w_a * d_af + w_m * d_mf + w_p * d_pf
            cc = np.where(uz >= 0, h_up, dz * (1.6 * w_a + 1.45 * w_m + 1.15 * w_p))
            r_e = 1.0 / np.sqrt((ux / bb) ** 2 + (uy / a) ** 2 + (uz / cc) ** 2)
            r_f = np.where(uz < -1e-3, dz / np.maximum(-uz, 1e-3), 1e3)
            lo = np.minimum(r_e, r_f)
            r = lo - 3.0 * np.log(np.exp(-(r_e - lo) / 3.0) + np.exp(-(r_f - lo) / 3.0))
            out: Arr = r * (1.0 + 1.5 * pet * ux * uy)
            return out

        def fit_inner(a: float, b: float) -> Arr:
            coef = _fit_sh(inner_target(a, b), lmax_in, n)
            sd = np.where(ls >= 2, 0.018 * np.maximum(ls, 1) ** -1.3, 0.0) * math.sqrt(4 * math.pi)
            out: Arr = coef + coef[0] / math.sqrt(4 * math.pi) * sd / np.sqrt(2 * ls + 1) * noise_in
            return out

        def extents(coef: Arr) -> tuple[float, float]:
            pts = u * _sh_eval(coef, lmax_in, n)[:, None]
            up = pts[:, 2] > -20.0 * sz
            return float(np.ptp(pts[up, 1])), float(np.ptp(pts[up, 0]))

        a0, b0 = l_in / 2.0, b_in / 2.0
        coef_in = fit_inner(a0, b0)
        for _ in range(2):
            la, ba = extents(coef_in)
            a0 *= l_in / la
            b0 *= b_in / ba
            coef_in = fit_inner(a0, b0)
        self.coef_in = coef_in
        self.lmax_in = lmax_in
        self.t_in = _sh_table(coef_in, lmax_in, _CT, _CP)

        # ---------------------------------------------------------- calvarial thickness
        base_t = float(rng.uniform(6.0, 9.0))
        t_sites = _mirror([
            ((0, -0.95, 0.3), t_f, 5.0), ((0, -0.92, -0.38), t_f + glab, 25.0),
            ((0, 0.0, 1.0), 0.5 * (t_f + t_p), 5.0), ((0.72, 0.15, 0.65), t_p, 5.0),
            ((1.0, -0.05, -0.2), t_t, 9.0), ((0.75, -0.6, -0.2), 0.5 * (t_f + t_t) + 0.5, 6.0),
            ((0, 0.97, -0.2), t_o, 6.0), ((0.6, 0.75, -0.2), 0.85 * t_o, 5.0),
            ((0, 0.75, 0.65), 0.5 * (t_p + t_o), 5.0), ((0, -0.5, -0.85), 3.0, 8.0),
            ((0.6, -0.2, -0.75), base_t, 5.0), ((0.45, 0.55, -0.7), base_t + 1.0, 5.0),
            ((0, 0.2, -1.0), 10.0, 4.0)])
        coef_t = _jitter(_fit_sh(_sites(u, t_sites), 8, n), 8, rng, 0.05)
        thick = np.maximum(_sh_table(coef_t, 8, _CT, _CP), 1.2)
        self.t_thick = thick.astype(np.float32)
        self.t_out = self.t_in + self.t_thick
        self.thickness = {"frontal": t_f, "parietal": t_p, "temporal_squama": t_t,
                          "occipital": t_o, "glabella": t_f + glab}
        self.outer_table_mm = float(rng.uniform(1.3, 2.0))
        self.inner_table_mm = float(rng.uniform(0.9, 1.5))

        # ---------------------------------------------------------- muscle, scalp, skin
        m_t = float(np.clip(rng.normal(5.0, 1.3), 2.5, 9.0))
        mus_sites = _mirror([
            ((0, 0, 1), 1.0, 4.0), ((0, -1, 0.2), 1.2, 5.0), ((0.7, -0.7, 0.2), 1.5, 6.0),
            ((1.0, 0.3, 0.45), 1.2, 7.0), ((0, 0.9, 0.35), 1.5, 6.0), ((0.7, 0.7, 0.2), 1.5, 6.0),
            ((0.95, -0.1, 0.0), m_t, 8.0), ((0.9, -0.1, -0.35), m_t, 9.0),
            ((0, 0.85, -0.5), 18.0, 8.0), ((0.6, 0.65, -0.45), 15.0, 8.0), ((0, 0, -1), 70.0, 6.0),
            ((0.7, 0.0, -0.7), 45.0, 7.0), ((0, -0.7, -0.7), 6.0, 8.0)])
        coef_m = _jitter(_fit_sh(_sites(u, mus_sites), 8, n), 8, rng, 0.05)
        mus = np.maximum(_sh_table(coef_m, 8, _CT, _CP), 0.6)
        sc_sites = _mirror([
            ((0, -1, 0.2), float(rng.uniform(3.5, 6.0)), 4.0), ((0, 0, 1), 5.0, 3.0),
            ((0.8, 0.1, 0.4), 4.5, 3.0), ((0.95, 0.0, -0.2), 3.0, 5.0),
            ((0, 0.9, -0.3), float(rng.uniform(5.0, 8.0)), 4.0), ((0, 0, -1), 6.0, 2.0)])
        subcut = np.maximum(_sh_table(_fit_sh(_sites(u, sc_sites), 6, n), 6, _CT, _CP), 2.5)
        # the skin: vault = bone + muscle + subcutis; below, a face/neck column
        dirs = _table_dirs(_CT, _CP)
        ux, uy, uz = dirs[..., 0], dirs[..., 1], dirs[..., 2]
        upper = self.t_out + mus + subcut
        a_col = 72.0 * sx * float(rng.normal(1.0, 0.04))
        b_ant = 105.0 * sy * float(rng.normal(1.0, 0.03))
        b_post = 78.0 * sy * float(rng.normal(1.0, 0.05))
        bb = np.where(uy < 0, b_ant, b_post)
        r_col = np.minimum(1.0 / np.sqrt((ux / a_col) ** 2 + (uy / bb) ** 2 + 1e-9), 160.0)
        for _ in range(3):
            # the face narrows below the maxilla (mouth, mandible), the neck below the occiput
            z_col = c0[2] + r_col * uz
            taper = 1.0 - 0.45 * np.clip((-68.0 * sz - z_col) / 60.0, 0.0, 1.0)
            r_col = np.minimum(1.0 / np.sqrt((ux / (a_col * (0.85 + 0.15 * taper))) ** 2
                                             + (uy / (bb * taper)) ** 2 + 1e-9), 160.0)
        # the face and neck column starts below the brow (front), the zygoma (sides) and the
        # inion (back); above that the scalp covers the calvarium
        az = np.arctan2(uy, np.abs(ux))
        z_top = np.interp(az, [-math.pi / 2, -0.9, 0.0, 0.9, math.pi / 2],
                          [-24.0, -28.0, -42.0, -38.0, -36.0]) * sz
        z_col = c0[2] + r_col * uz
        w_low = 1.0 / (1.0 + np.exp(-(z_top - z_col) / 5.0))
        target_tab = (1.0 - w_low) * upper + w_low * np.maximum(r_col, self.t_out + 8.0)
        # fit the skin harmonic expansion to the tabulated target (degree 12)
        theta = np.arccos(np.clip(u[:, 2], -1, 1))
        phi = np.arctan2(u[:, 1], u[:, 0])
        ft = theta / math.pi * (_CT - 1)
        fp = (phi + math.pi) / (2 * math.pi) * _CP
        samp = ndimage.map_coordinates(np.concatenate([target_tab, target_tab[:, :1]], axis=1),
                                       np.stack([ft, fp]), order=1, mode="nearest")
        coef_s = _jitter(_fit_sh(samp, 12, n, ridge=1e-7), 12, rng, 0.01)
        self.t_skin = np.maximum(_sh_table(coef_s, 12, _CT, _CP), self.t_out + 3.0)
        # face and neck: muscle and glands fill the column, under a few mm of subcutaneous fat
        face_fat = float(rng.uniform(3.0, 7.0))
        filled = np.maximum(self.t_out + mus, self.t_skin - face_fat)
        self.t_mus = np.minimum((1 - w_low) * (self.t_out + mus) + w_low * filled,
                                self.t_skin - 1.8).astype(np.float32)
        self.dermis = float(rng.uniform(1.2, 2.0))

        # ---------------------------------------------------------- brain surface
        g0 = float(rng.uniform(0.8, 1.8))
        ga = 2.6 * at
        gap_sites = _mirror([((0, -1, 0.1), g0 + ga * 1.6, 3.0),
                             ((1, 0, -0.3), g0 + ga * 1.35, 4.0), ((0, 0, 1), g0 + ga, 2.0),
                             ((0, 1, 0), g0 + ga * 0.8, 3.0),
                             ((0, 0.3, -1), g0 + 1.0, 3.0)])
        gap = np.maximum(_sh_table(_fit_sh(_sites(u, gap_sites), 6, n), 6, _CT, _CP), 0.5)
        self.t_brain = self.t_in - gap
        self.extra_axial_mm = float(g0 + ga)

        # ---------------------------------------------------------- cortical folding tables
        fold = _sphere_field(rng, _CT, _CP, k0=float(rng.uniform(2.8, 3.4)),
                             stretch=(1.0, 1.0, float(rng.uniform(0.8, 1.3))))
        wmod = np.clip(1.0 + 0.3 * _sphere_field(rng, _CT, _CP, 1.0), 0.5, 1.6)
        grad = _gradient_norm(fold)
        self.t_sulc = (fold / grad / wmod).astype(np.float32)
        self.t_bend = (0.06 * _sphere_field(rng, _CT, _CP, 2.0) / grad / wmod).astype(np.float32)
        down = np.array([0.0, 0.15, -1.0]) / math.hypot(0.15, 1.0)
        ang = np.degrees(np.arccos(np.clip(dirs @ down, -1, 1)))
        cmask = _smooth(ang, 26.0, 40.0)
        self.t_sdep = (np.clip(10.0 + 3.5 * _sphere_field(rng, _CT, _CP, 1.2), 5.0, 18.0)
                       * cmask).astype(np.float32)
        self.t_gm = ((2.75 - 0.45 * min(at, 1.0)) * cmask
                     * (1.0 + 0.12 * _sphere_field(rng, _CT, _CP, 1.5))).astype(np.float32)
        self.sulcal_width = float((0.7 + 2.8 * at) * rng.uniform(0.8, 1.2))
        self.sylvian_width = float((2.5 + 5.5 * at) * rng.uniform(0.8, 1.2))
        self.ih_width = float(1.2 + 3.0 * at)
        self.medial_fold = _Tile(rng, step=3.2, n=32, band=0.22)

        self._build_deep(rng, at)
        self._build_tentorium(rng)
        self._build_vessels(rng)
        self._build_base(rng)
        self.brain_texture = _Tile(rng, step=4.0, n=32, band=0.18)
        self.bone_texture = _Tile(rng, step=1.1, n=32, band=0.3)
        self.cells = _Tile(rng, step=0.9, n=32, band=0.3)
        self._build_ageing(rng, at)

    # ------------------------------------------------------------------ inner-table points
    def inner_radius(self, dirs: Arr) -> Arr:
        """Inner-table radius (mm from C0) along unit directions (n, 3)."""
        return _sh_at(self.coef_in, self.lmax_in, dirs)

    def on_inner(self, point: Arr, inset: float) -> Arr:
        """Project ``point`` along its C0 ray to ``inset`` mm inside the inner table."""
        d = np.asarray(point, float) - self.c0
        dn = d / np.linalg.norm(d)
        r = float(self.inner_radius(dn[None, :])[0])
        out: Arr = self.c0 + dn * (r - inset)
        return out

    # ------------------------------------------------------------------ deep structures
    def _build_deep(self, rng: np.random.Generator, at: float) -> None:
        p = self.p
        sx, sy, sz = self.scale
        vs = float(1.0 + 0.42 * at * rng.uniform(0.75, 1.25) + rng.normal(0.0, 0.06))
        self.vent_scale = vs
        w3 = float(np.clip(2.5 + 5.0 * at + rng.normal(0.0, 0.6), 1.8, 10.0))
        self.third_width = w3
        self.vent: list[_Solid] = []
        self.caudate: dict[int, list[_Solid]] = {}
        self.lent: dict[int, _Solid] = {}
        self.thal: dict[int, _Solid] = {}
        self.grey_extra: list[_Solid] = []
        self.horns: dict[int, _Solid] = {}
        self.temporal_horn: dict[int, _Solid] = {}
        self.atrium: dict[int, _Solid] = {}
        hx = 6.9 * sx * vs
        for s in (1, -1):
            mir = np.diag([float(s), 1.0, 1.0])
            ax = _rot(8.0 + rng.normal(0, 2), 0.0, 0.0).T @ mir
            self.horns[s] = _solid(
                p(0, -2, 12) + np.array([s * (hx + 1.2 * sx), 0, 0]),
                np.array([hx, 30.0 * sy * (0.93 + 0.07 * vs), 7.2 * sz * (0.8 + 0.2 * vs)]), rng,
                axes=ax, shape=lambda v: np.minimum(1.0, 0.8 / np.maximum(-v[:, 0], 1e-6)),
                jitter=0.05)
            a1, a2 = p(s * 24, 27, 9), p(s * 14, 55, 3)
            self.atrium[s] = _solid(
                (a1 + a2) / 2, np.array([6.0 * sx * vs, np.linalg.norm(a2 - a1) / 2 + 4.0,
                                         6.5 * sz * vs]), rng,
                axes=_frame(a2 - a1) @ mir if s < 0 else _frame(a2 - a1),
                shape=lambda v: 1.0 - 0.35 * np.clip(v[:, 1], 0, 1) ** 2, jitter=0.06)
            t1, t2 = p(s * 27, 25, 3), p(s * 29, -9, -22)
            self.temporal_horn[s] = _solid(
                (t1 + t2) / 2, np.array([(1.6 + 4.0 * (vs - 1.0)) * sx, np.linalg.norm(t2 - t1) / 2,
                                         (2.6 + 4.0 * (vs - 1.0)) * sz]), rng,
                axes=_frame(t2 - t1), jitter=0.06)
            self.vent += [self.horns[s], self.atrium[s], self.temporal_horn[s],
                          _solid(p(s * 3.2, 0.5, 3), p(3.2, 2.4, 2.4), rng, jitter=0.0)]
            cx = (13.5 + 3.0 * (vs - 1.0)) * sx
            self.caudate[s] = [
                _solid(p(0, -14, 8) + np.array([s * cx, 0, 0]),
                       p(5.4 * (1 - 0.12 * min(at, 1)), 10, 9), rng, jitter=0.05),
                _solid(p(0, 10, 17) + np.array([s * (cx + 1.0 * sx), 0, 0]), p(3.2, 15, 3.2), rng,
                       axes=_rot(-6.0, 0, 0).T, jitter=0.05)]
            wedge = _planes([(1, 0, 0), (-0.55, -0.83, 0), (-0.55, 0.83, 0), (0, 0, 1), (0, 0, -1)],
                            [0.8, 0.66, 0.66, 1.0, 0.85])
            self.lent[s] = _solid(p(s * 24.5, -3, -1), p(8.0, 16.5, 10.5), rng,
                                  axes=_rot(0, 0, s * 4.0).T @ mir, shape=wedge, jitter=0.04)
            self.thal[s] = _solid(p(0, 15.5, 1.5) + np.array([s * (w3 / 2 + 8.3 * sx), 0, 0]),
                                  p(8.3, 15, 9.5), rng,
                                  shape=lambda v: 1.0 + 0.1 * v[:, 1], jitter=0.04)
            h1, h2 = p(s * 24, 26, -5), p(s * 22.5, -2, -20)
            self.grey_extra += [
                _solid((h1 + h2) / 2, np.array([4.6 * sx, np.linalg.norm(h2 - h1) / 2, 4.2 * sz]),
                       rng, axes=_frame(h2 - h1), jitter=0.05),
                _solid(p(s * 21, -8, -21), p(7.0, 7.5, 6.5), rng, jitter=0.05)]
        self.vent.append(_solid(p(0, 10, -3), np.array([w3 / 2 + 1.2 * sx, 15 * sy, 9.5 * sz]), rng,
                                jitter=0.03))
        self.third = self.vent[-1]
        self.aqueduct = _Tube(np.array([p(0, 24, -9), p(0, 30, -18), p(0, 37, -28)]),
                              np.array([1.3, 1.1, 1.3]) * (0.9 + 0.3 * (vs - 1)))
        self.fourth = _solid(p(0, 40.5, -37), np.array([6.5 * sx * (0.85 + 0.15 * vs), 4.5 * sy,
                                                        8.0 * sz]), rng,
                             shape=lambda v: 1.0 + 0.35 * np.clip(v[:, 1], 0, 1) ** 2
                             - 0.3 * np.clip(-v[:, 1], 0, 1), jitter=0.04)
        self.cavum = (_solid(p(0, -12, 12), np.array([1.3, 13 * sy, 6.5 * sz]), rng, jitter=0.05)
                      if rng.random() < 0.08 else None)
        # insula, claustrum, sylvian fissure (per side, mirror-symmetric parameters)
        self.ins = {"x": 36.5 * sx + rng.normal(0, 0.8), "y": -3.0 * sy, "z": 2.0 * sz,
                    "a": 21.0 * sy, "b": 14.0 * sz, "slope": -0.08, "t": 3.0,
                    "wave": float(rng.uniform(1.0, 3.0)), "phase": float(rng.uniform(0, 6.3))}
        # basal cisterns (CSF solids)
        interuncal = float((24.0 + 5.0 * at) * rng.uniform(0.92, 1.08))
        self.interuncal = interuncal
        self.cisterns = [
            _solid(p(0, 18, -21), np.array([(16.5 + 3.0 * at) * sx, 22 * sy, 10 * sz]), rng,
                   shape=lambda v: 1.0 - 0.2 * np.clip(-v[:, 1], 0, 1) ** 2, jitter=0.03),
            _solid(p(0, -6, -18.5), np.array([interuncal / 2, 12.0 * sy, 6.0 * sz]), rng,
                   shape=lambda v: 1.0 + 0.08 * np.cos(5 * np.arctan2(v[:, 1], v[:, 0]) + 1.57),
                   jitter=0.03),
            _solid(p(0, 37, -5), np.array([9.0 * sx, (6 + 2.5 * at) * sy, 6.5 * sz]), rng,
                   jitter=0.04)]
        self.interped = _solid(p(0, 9, -14), p(3.5, 5, 5.5), rng, jitter=0.03)
        self.sylvian_stem = {s: _Tube(np.array([p(s * 10.5, -7, -18),
                                                p(s * (self.ins["x"] / sx - 3.0), -10, -13)]),
                                      np.full(2, 1.8 + 1.7 * at)) for s in (1, -1)}
        # brainstem: harmonic fit to a midbrain-pons-medulla profile
        top, bot = p(0, 13, -5), p(0, 35, -70)
        semi_bs = np.array([17.0 * sx, 13.5 * sy, np.linalg.norm(top - bot) / 2])
        knots = np.array([-1.0, -0.6, -0.35, -0.1, 0.3, 0.5, 0.65, 1.0])
        wk = np.array([0.5, 0.52, 0.85, 1.0, 1.0, 0.86, 0.8, 0.8]) * (1 - 0.05 * min(at, 1))
        dk = np.array([0.55, 0.58, 0.9, 1.0, 0.95, 0.8, 0.85, 0.85])
        ok = np.array([0.1, 0.1, -0.05, -0.12, -0.1, 0.0, 0.05, 0.05])

        def profile(v: Arr) -> Arr:
            lo = np.zeros(len(v))
            hi = np.full(len(v), 1.6)
            for _ in range(40):
                mid = (lo + hi) / 2
                t = mid * v[:, 2]
                w = np.interp(t, knots, wk)
                d = np.interp(t, knots, dk)
                o = np.interp(t, knots, ok)
                inside = ((mid * v[:, 0] / w) ** 2 + ((mid * v[:, 1] - o) / d) ** 2 < 1) & (
                    np.abs(t) < 1)
                lo = np.where(inside, mid, lo)
                hi = np.where(inside, hi, mid)
            return lo

        self.brainstem = _solid((top + bot) / 2, semi_bs, rng, axes=_frame(top - bot, 2),
                                shape=profile, jitter=0.02, lmax=10)
        self.cord = _Tube(np.array([p(0, 34, -64), p(0, 37, -90), p(0, 40, -130)]),
                          np.array([5.8, 5.2, 5.0]))
        cb_scale = 1.0 - 0.06 * min(at, 1.0)

        def cereb(v: Arr) -> Arr:
            out: Arr = (1.0 - 0.12 * np.exp(-(v[:, 0] / 0.16) ** 2) * np.clip(v[:, 1], 0, 1)
                        - 0.3 * np.exp(-(v[:, 0] / 0.3) ** 2) * np.clip(-v[:, 1], 0, 1) ** 1.5
                        - 0.25 * np.exp(-(v[:, 0] / 0.3) ** 2) * np.clip(v[:, 1], 0, 1)
                        * np.clip(-v[:, 2], 0, 1))
            return out

        self.cerebellum = _solid(p(0, 52, -40), p(55, 38, 33) * cb_scale, rng, shape=cereb,
                                 jitter=0.03, lmax=8)
        lat = np.degrees(np.arcsin(np.clip(_table_dirs(_NT * 3, _NP * 3)[..., 2], -1, 1)))
        eta = _sphere_field(rng, _NT * 3, _NP * 3, 1.5)
        spacing = float(rng.uniform(5.5, 7.0))
        phase = lat / spacing + 0.6 * eta
        self.folia = (np.abs(phase - np.round(phase)) * spacing * math.pi / 180.0).astype(
            np.float32)
        self.folia_width = float(0.5 + 1.2 * at)
        # choroid plexus glomera, pineal gland
        self.choroid = [_solid(p(s * 22, 31, 9.5), p(3.8, 6, 3.2), rng, jitter=0.08)
                        for s in (1, -1)]
        self.pineal = _solid(p(0, 33.5, -0.5), p(3.2, 4, 2.8), rng, jitter=0.05)
        # callosal top and falx edge (sagittal height functions, knots in mm)
        self.cc_y = np.array([-120, -42, -38, -34, -30, -15, 5, 25, 38, 43, 47, 150]) * sy
        self.cc_z = np.array([-100, -100, 0, 13, 20, 26, 27.5, 25, 19, 10, -100, -100]) * sz
        self.cc_z = np.where(self.cc_z > -99, self.cc_z - 1.5 * at, self.cc_z)

    # ------------------------------------------------------------------ tentorium
    def _build_tentorium(self, rng: np.random.Generator) -> None:
        p = self.p
        sx, sy, sz = self.scale
        alpha = float(np.clip(rng.normal(32.0, 5.0), 20.0, 45.0))
        self.tentorial_angle = alpha
        ta = math.tan(math.radians(alpha))
        g = p(0, 37, 1.5)
        self.galen = g
        zt = g[2] - (97 * sy - g[1]) * ta
        anchors = [(0.0, y * sy, g[2] - (y * sy - g[1]) * ta) for y in (37, 50, 65, 80, 95, 105)]
        for s in (1, -1):
            anchors += [(s * x * sx, y * sy, z * sz) for x, y, z in (
                (8, 34, -2), (13, 26, -6), (15, 15, -11), (14, 5, -16), (12, -3, -20),
                (19, 2, -25), (30, 9, -25), (40, 17, -25.5), (52, 27, -28), (58, 35, -31))]
            anchors += [(s * x * sx, y * sy, zt + dz * sz) for x, y, dz in (
                (20, 93, -1), (35, 88, -2), (48, 76, -4), (56, 60, -6), (60, 45, -10))]
        a = np.array(anchors)
        xs = np.arange(-90.0, 90.01, 1.0)
        ys = np.arange(-40.0, 135.01, 1.0)
        gx, gy = np.meshgrid(xs, ys)
        rbf = RBFInterpolator(a[:, :2], a[:, 2], kernel="thin_plate_spline", smoothing=2.0)
        zz = rbf(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gx.shape)
        ridge = np.array([(0.0, -3.0), (12, -3), (19, 2), (40, 17), (58, 35), (90, 60)])
        y_r = np.interp(np.abs(gx) / sx, ridge[:, 0], ridge[:, 1]) * sy
        dom = 1.0 / (1.0 + np.exp(np.clip((y_r - gy) / 2.0, -30, 30)))
        self.tent_tab = (zz * dom - 200.0 * (1 - dom)).astype(np.float32)
        self.tent_origin = (float(xs[0]), float(ys[0]))
        self.incisura = (15.5 * sx, 16.0 * sy, 21.5 * sy)
        # torcula: where the straight-sinus line meets the inner table
        lo_y, hi_y = g[1] + 10.0, g[1] + 120.0
        for _ in range(40):
            mid = (lo_y + hi_y) / 2
            pt = np.array([0.0, mid, g[2] - (mid - g[1]) * ta])
            d = pt - self.c0
            r = float(self.inner_radius((d / np.linalg.norm(d))[None, :])[0])
            lo_y, hi_y = (mid, hi_y) if np.linalg.norm(d) < r else (lo_y, mid)
        self.torcula = np.array([0.0, lo_y, g[2] - (lo_y - g[1]) * ta])
        self.falx_y = np.array([-130, -60, -34, -10, 10, 30, 37, 160]) * sy
        self.falx_z = np.array([-40 * sz, -22 * sz, 16 * sz, 32 * sz, 33 * sz, 24 * sz, g[2],
                                g[2] - (160 * sy - g[1]) * ta])

    def tent_z(self, x: Arr, y: Arr) -> Arr:
        """Height (mm) of the tentorium (tabulated thin-plate fit through the straight sinus,
        free edge, petrous ridges and transverse sinuses); far below in front of the ridges."""
        tab = self.tent_tab
        ny, nx = tab.shape
        fx = np.clip(x - np.float32(self.tent_origin[0]), 0, nx - 1.001)
        fy = np.clip(y - np.float32(self.tent_origin[1]), 0, ny - 1.001)
        ix = fx.astype(np.int32)
        iy = fy.astype(np.int32)
        wx = fx - ix
        wy = fy - iy
        f = tab.ravel()
        i0 = iy * nx + ix
        a = f[i0] + wx * (f[i0 + 1] - f[i0])
        b = f[i0 + nx] + wx * (f[i0 + nx + 1] - f[i0 + nx])
        out: Arr = a + wy * (b - a)
        return out

    def in_incisura(self, x: Arr, y: Arr) -> Arr:
        """Ellipse value (< 1 inside the tentorial incisura)."""
        a, yc, b = self.incisura
        out: Arr = (x / np.float32(a)) ** 2 + ((y - np.float32(yc)) / np.float32(b)) ** 2
        return out

    # ------------------------------------------------------------------ vessels and sinuses
    def _build_vessels(self, rng: np.random.Generator) -> None:
        p = self.p
        self.arteries: dict[str, _Tube] = {}
        for s, side in ((1, "left"), (-1, "right")):
            def t(pts: list[tuple[float, float, float]], r: list[float], _s: int = s) -> _Tube:
                return _Tube(np.array([p(_s * a, b, c) for a, b, c in pts]), np.array(r))
            self.arteries[f"ica_{side}"] = t([(15, -4, -40), (14, -10, -30), (13, -7, -22),
                                              (13, -5, -18)], [2.3, 2.2, 2.1, 2.0])
            self.arteries[f"m1_{side}"] = t([(13, -5, -18), (24, -5, -15), (34, -3, -12),
                                             (39, -1, -9)], [1.6, 1.5, 1.45, 1.4])
            self.arteries[f"m2s_{side}"] = t([(39, -1, -9), (40.5, -10, 5), (41, -12, 16)],
                                             [1.1, 1.0, 0.9])
            self.arteries[f"m2i_{side}"] = t([(39, -1, -9), (41, 10, -3), (42, 20, 8)],
                                             [1.1, 1.0, 0.9])
            self.arteries[f"a1_{side}"] = t([(13, -5, -18), (6, -17, -14), (1.2, -19, -14)],
                                            [1.1, 1.0, 0.9])
            self.arteries[f"a2_{side}"] = t([(1.2, -19, -14), (1.2, -30, -4), (1.2, -36, 12),
                                             (1.2, -26, 29)], [1.0, 1.0, 0.9, 0.8])
            self.arteries[f"pcom_{side}"] = t([(13, -5, -18), (10, 6, -19)], [0.7, 0.7])
            self.arteries[f"p_{side}"] = t([(0, 8, -23), (8, 8, -21), (15, 16, -18), (20, 30, -12),
                                            (16, 45, -4)], [1.2, 1.1, 1.1, 1.0, 0.9])
            self.arteries[f"sca_{side}"] = t([(0, 8, -26), (12, 16, -27), (18, 32, -22)],
                                             [0.8, 0.7, 0.7])
            self.arteries[f"va_{side}"] = t([(12, 30, -92), (9, 28, -72), (5, 20, -62),
                                             (0.5, 14, -60)], [1.8, 1.7, 1.6, 1.6])
        self.arteries["basilar"] = _Tube(np.array([p(0, 14, -60), p(0, 10, -42), p(0, 8, -23)]),
                                         np.array([1.7, 1.6, 1.5]))
        # venous sinuses
        c0 = self.c0
        u_t = (self.torcula - c0) / np.linalg.norm(self.torcula - c0)
        beta_t = math.atan2(u_t[2], -u_t[1]) % (2 * math.pi)
        betas = np.linspace(math.radians(18.0), beta_t, 16)
        sss = []
        rad = []
        for i, b in enumerate(betas):
            f = i / (len(betas) - 1)
            r_s = 1.6 + 3.0 * f
            sss.append(self.on_inner(c0 + np.array([0.0, -math.cos(b), math.sin(b)]), r_s + 0.3))
            rad.append(r_s)
        self.sinuses: list[_Tube] = [_Tube(np.array(sss), np.array(rad))]
        zt = float(self.torcula[2])
        dom = 1.0 if rng.random() < 0.65 else -1.0
        for s in (1, -1):
            r_tr = 4.6 if s == -dom else 3.4
            pts = [self.torcula]
            for x, y, dz in ((22, 93, -1), (42, 82, -3), (54, 62, -6), (54, 48, -12)):
                pts.append(self.on_inner(np.array([s * x * self.scale[0], y * self.scale[1],
                                                   zt + dz * self.scale[2]]), r_tr + 0.5))
            pts += [p(s * 46, 40, -54), p(s * 40, 34, -62), p(s * 34, 30, -68)]
            self.sinuses.append(_Tube(np.array(pts), np.array([4.5] + [r_tr] * 7)))
        self.sinuses.append(_Tube(np.array([p(0, 31, 5), self.galen, self.torcula]),
                                  np.array([2.6, 2.6, 3.0])))
        for s in (1, -1):
            self.sinuses.append(_Tube(np.array([p(s * 1.8, 6, 9), p(s * 1.8, 28, 5)]),
                                      np.array([1.1, 1.3])))
        self.cavernous = [_solid(p(s * 13.5, -7, -33), p(4.5, 9, 5.5), rng, jitter=0.05)
                          for s in (1, -1)]

    # ------------------------------------------------------------------ skull base and face
    def _build_base(self, rng: np.random.Generator) -> None:
        p = self.p
        sx, sy, sz = self.scale
        b: list[tuple[str, _Solid]] = []   # bone solids painted after the brain (CSF margin)
        b.append(("cortical_bone", _solid(p(0, -16, -44), p(14, 14, 12.5), rng, jitter=0.04)))
        b.append(("cortical_bone", _solid(p(0, -24, -29.5), p(11, 9, 2.3), rng, jitter=0.03)))
        d1, d2 = p(0, -1, -30), p(0, 17, -64)
        self.clivus = _solid((d1 + d2) / 2,
                             np.array([12 * sx, 6 * sy, np.linalg.norm(d2 - d1) / 2]),
                             rng, axes=_frame(d1 - d2, 2), jitter=0.03)
        b.append(("cortical_bone", self.clivus))
        b.append(("cortical_bone", _solid(p(0, -1, -29.5), p(6.5, 1.7, 6), rng, jitter=0.03)))
        b.append(("cortical_bone", _solid(p(0, -57, -21), p(1.6, 7, 5), rng, jitter=0.03)))
        self.petrous: dict[int, _Solid] = {}
        self.mastoid: dict[int, _Solid] = {}
        for s in (1, -1):
            b.append(("cortical_bone", _solid(p(s * 10.5, -14, -26.5), p(3, 6, 2), rng,
                                              jitter=0.05)))
            a1, a2 = p(s * 16, 0, -35), p(s * 60, 33, -48)
            self.petrous[s] = _solid((a1 + a2) / 2, np.array([9.5 * sx, np.linalg.norm(a2 - a1) / 2,
                                                              14.5 * sz]), rng,
                                     axes=_frame(a2 - a1), jitter=0.04)
            b.append(("petrous_bone", self.petrous[s]))
            b.append(("cortical_bone", _solid(p(s * 14, 28, -71), p(7, 11, 6), rng, jitter=0.04)))
            self.mastoid[s] = _solid(p(s * 48, 36, -52), p(11.5, 13, 16.5), rng, jitter=0.06)
        self.base_bones = b
        self.ridges = [_Tube(np.array([p(s * 10.5, -14, -26.5), p(s * 30, -22, -27),
                                       p(s * 50, -23, -31)]), np.array([3.0, 3.4, 3.6]))
                       for s in (1, -1)]
        self.sphenoid_sinus = _solid(p(0, -17, -45), np.array(
            [11.0 * sx * rng.uniform(0.6, 1.0), 11 * sy, 9 * sz]), rng,
            shape=lambda v: 1.0 - 0.3 * np.exp(-(v[:, 0] / 0.15) ** 2), jitter=0.08)
        self.pituitary = _solid(p(0, -7.5, -31), p(6, 5, 4), rng, jitter=0.04)
        self.atlas = [_solid(p(0, 12, -82), p(5.5, 5.5, 10), rng, jitter=0.03),
                      _solid(p(0, 3, -81), p(8, 3.2, 5), rng, jitter=0.03)]
        self.atlas += [_solid(p(s * 19, 20, -82), p(7.5, 9, 6.5), rng, jitter=0.04)
                       for s in (1, -1)]
        self.atlas_arch = [_Tube(np.array([p(s * 15, 40, -80), p(s * 6, 49, -79), p(0, 50, -79)]),
                                 np.full(3, 3.5)) for s in (1, -1)]
        self.fm = (15.0 * sx, 35.0 * sy, 17.5 * sy, -63.0 * sz)   # half-width, centre y, half-AP, z
        # face
        self.orbits: dict[int, dict[str, Any]] = {}
        for s in (1, -1):
            ap, rim = p(s * 14, -27, -37), p(s * 31, -74, -40)
            ax = _frame(rim - ap)
            orb = _solid(ap + 0.62 * (rim - ap), np.array([15 * sx, 0.62 * np.linalg.norm(rim - ap),
                                                           15.5 * sz]), rng,
                         axes=ax if s > 0 else ax @ np.diag([-1.0, 1, 1]),
                         shape=lambda v: np.where(v[:, 1] < 0, 1 - 0.55 * np.clip(-v[:, 1], 0, 1)
                                                  ** 1.3, np.minimum(1.0, 0.62 / np.maximum(
                                                      v[:, 1], 1e-6))), jitter=0.03)
            globe_c = p(s * 32, -61, -40.5)
            r_g = float(rng.normal(11.8, 0.4))
            self.orbits[s] = {
                "orbit": orb,
                "globe": _solid(globe_c, np.full(3, r_g), rng, jitter=0.0),
                "lens": _solid(globe_c + np.array([0, -r_g + 1.7, 0]), np.array([4.5, 1.9, 4.5]),
                               rng, jitter=0.0),
                "nerve": _Tube(np.array([globe_c + np.array([0, r_g - 1.0, 0]), p(s * 22, -40, -38),
                                         p(s * 15, -30, -36)]), np.full(3, 2.2)),
                "recti": [_Tube(np.array([p(s * a, -32, c), p(s * d, -64, e)]), np.full(2, 2.3))
                          for a, c, d, e in ((15, -38, 21, -40), (18, -38, 44, -40),
                                             (16, -34, 32, -28.5), (16, -41, 32, -52.5))],
            }
        self.face: list[tuple[str, _Solid]] = []
        for s in (1, -1):
            self.face += [("cortical_bone", _solid(p(s * 22, -59, -76), p(15.5, 19, 18), rng,
                                                   jitter=0.04)),
                          ("air", _solid(p(s * 22, -58, -76), p(12.5, 16, 15.5), rng, jitter=0.06)),
                          ("cortical_bone", _solid(p(s * 46, -58, -56), p(9, 9, 11), rng,
                                                   jitter=0.05)),
                          ("cortical_bone", _solid(p(s * 51, 7, -55), p(5, 8, 4.5), rng,
                                                   jitter=0.04)),
                          ("cortical_bone", _solid(p(s * 49, 0, -78), p(3.2, 11, 16), rng,
                                                   jitter=0.04))]
        self.nasal = _solid(p(0, -58, -66), p(11, 27, 21), rng, jitter=0.04)
        self.turbinates = [_solid(p(s * 8.5, -60, -72), p(3.5, 22, 5.5), rng, jitter=0.04)
                           for s in (1, -1)]
        self.turbinates += [_solid(p(s * 9, -58, -58), p(3.0, 17, 4), rng, jitter=0.04)
                            for s in (1, -1)]
        self.ethmoid = [_solid(p(s * 11, -56, -42), p(6.5, 19, 10.5), rng, jitter=0.05)
                        for s in (1, -1)]
        self.nasopharynx = _solid(p(0, -6, -74), p(12, 9, 10), rng, jitter=0.05)
        self.zygoma = [_Tube(np.array([p(s * 50, -44, -52), p(s * 61, -20, -50),
                                       p(s * 60, 4, -50)]),
                             np.full(3, 3.8)) for s in (1, -1)]
        self.ear: dict[int, dict[str, Any]] = {}
        for s in (1, -1):
            self.ear[s] = {
                "middle": _solid(p(s * 40, 15, -41), p(2.5, 6, 5.5), rng, jitter=0.04),
                "ossicles": _solid(p(s * 40.5, 14, -40), p(1.2, 2.5, 2.0), rng, jitter=0.0),
                "eac": _Tube(np.array([p(s * 41, 17, -44), p(s * 78, 20, -45)]), np.full(2, 3.6)),
                "iac": _Tube(np.array([p(s * 19, 9, -35), p(s * 32, 12, -36.5)]), np.full(2, 2.3)),
                "cochlea": _solid(p(s * 30, 5, -40), np.full(3, 2.7), rng, jitter=0.0),
                "vestibule": _solid(p(s * 36.5, 17, -37), np.full(3, 2.4), rng, jitter=0.0),
                "carotid": _Tube(np.array([p(s * 24, -3, -43), p(s * 32, 8, -47),
                                           p(s * 34, 12, -56)]),
                                 np.full(3, 2.6)),
                "pinna": _solid(p(s * 80, 22, -45), p(4.5, 15, 27), rng,
                                axes=_rot(0, 0, s * 15.0).T, jitter=0.05),
            }
        self.nose = _solid(p(0, -90, -66), p(10, 14, 21), rng, axes=_rot(-20.0, 0, 0).T,
                           shape=lambda v: 1.0 - 0.25 * np.clip(v[:, 1], 0, 1), jitter=0.04)
        self.mastoid_pneum = float(rng.uniform(0.0, 0.9))
        self.ethmoid_pneum = float(rng.uniform(0.1, 0.6))
        # frontal sinus inside the frontal bone, behind the glabella
        ug = np.array([0.0, -0.93, -0.37])
        ug /= np.linalg.norm(ug)
        r_in = float(self.inner_radius(ug[None, :])[0])
        glab_t = self.thickness["glabella"]
        fs = self.frontal_sinus
        self.fsinus = None if fs == 0 else _solid(
            self.c0 + ug * (r_in + 0.5 * glab_t),
            np.array([18 * fs + 4, 0.4 * glab_t, 12 * fs + 4]),
            rng, axes=_frame(np.array([0.0, -0.37, 0.93]), 2),
            shape=lambda v: 1.0 - 0.35 * np.exp(-(v[:, 0] / 0.2) ** 2), jitter=0.08)

    # ------------------------------------------------------------------ ageing
    def _build_ageing(self, rng: np.random.Generator, at: float) -> None:
        p = self.p
        grade = int(np.clip(np.floor(at * 3.2 + rng.normal(0.0, 0.7)), 0, 3))
        self.leuko_grade = grade
        self.leuko_tile = _Tile(rng, step=2.2, n=32, band=0.22)
        self.lacunes: list[_Solid] = []
        if self.age > 55 and rng.random() < 0.45:
            for _ in range(int(rng.integers(1, 4))):
                s = 1 if rng.random() < 0.5 else -1
                sites = [p(s * 24, -2, 0), p(s * 12, 15, 2), p(s * 22, 5, 22)]
                site = sites[int(rng.integers(0, 3))]
                r = float(rng.uniform(1.5, 4.0))
                self.lacunes.append(_solid(site + rng.normal(0, 3, 3), np.array([r, r * 1.3, r]),
                                           rng, jitter=0.1))

    # ------------------------------------------------------------------ ASPECTS levels
    def aspects_levels(self) -> tuple[float, float, float]:
        """Head-frame heights (mm): bottom of the ganglionic level, ganglionic/supraganglionic
        boundary, top of the supraganglionic level."""
        lent = self.lent[1]
        z0 = float(lent.lo[2]) - 4.0
        z1 = float(lent.hi[2]) + 3.0
        return z0, z1, z1 + 30.0 * self.scale[2]


# ----------------------------------------------------------------------------- painting engine

class _Ctx:
    """One chunk of sample planes: head coordinates, shell distances and the HU, tissue and
    blood channels being painted (painter's algorithm with soft coverage)."""

    def __init__(self, scene: _Scene, aff: Arr, off: Arr, shape: tuple[int, int, int],
                 hu: Arr, tis: Arr, bld: Arr, h: float) -> None:
        self.scene = scene
        self.aff = aff
        self.inv = np.linalg.inv(aff)
        self.off = off
        self.shape = shape
        self.hu, self.tis, self.bld = hu, tis, bld
        self.h = h
        nk, ny, nx = shape
        k = np.arange(nk, dtype=np.float32)[:, None, None]
        j = np.arange(ny, dtype=np.float32)[None, :, None]
        i = np.arange(nx, dtype=np.float32)[None, None, :]
        self.q = [np.float32(off[a]) + np.float32(aff[a, 0]) * k + np.float32(aff[a, 1]) * j
                  + np.float32(aff[a, 2]) * i for a in range(3)]
        an = scene.anat
        c0 = an.c0.astype(np.float32)
        dx, dy, dz = self.q[0] - c0[0], self.q[1] - c0[1], self.q[2] - c0[2]
        self.r0 = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
        self.sph = _Sph(dx, dy, dz, _CT, _CP, self.r0)
        self.d_in = self.sph(an.t_in) - self.r0
        self.d_out = self.d_in + self.sph(an.t_thick)
        self.d_skin = self.sph(an.t_skin) - self.r0
        self.d_fat = self.d_skin - np.float32(an.dermis)
        self.d_mus = self.sph(an.t_mus) - self.r0
        path = scene.path
        if path.warping:
            self.w = path.warp(an, self.q[0], self.q[1], self.q[2], self.d_in, self.sph, self.r0)
            dx, dy, dz = self.w[0] - c0[0], self.w[1] - c0[1], self.w[2] - c0[2]
            self.rw = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
            self.sphw = _Sph(dx, dy, dz, _CT, _CP, self.rw)
        else:
            self.w, self.rw, self.sphw = self.q, self.r0, self.sph
        self.d_b = self.sphw(an.t_brain) - self.rw
        self._tent: Arr | None = None
        self.coarse: list[Arr] | None = None
        if path.warping:
            self.coarse = [w[::4, ::4, ::4] for w in self.w]

    def tent(self, sl: Slices) -> Arr:
        """Tentorial height (mm) at the anatomical coordinates of the block (cached per chunk)."""
        if self._tent is None:
            low = self.w[2] < np.float32(20.0)
            tent = np.full(self.w[2].shape, np.float32(-200.0))
            if low.any():
                tent[low] = self.scene.anat.tent_z(self.w[0][low], self.w[1][low])
            self._tent = tent
        return self._tent[sl]

    def warped_block(self, lo: Arr, hi: Arr) -> Slices | None:
        """Index slices of the samples whose anatomical (warped) coordinates fall in [lo, hi]."""
        if self.coarse is None:
            return self.block(lo, hi)
        cx, cy, cz = self.coarse
        step = 4.0 * float(np.abs(self.aff).max()) + 1.0
        m = ((cx >= lo[0] - step) & (cx <= hi[0] + step) & (cy >= lo[1] - step)
             & (cy <= hi[1] + step) & (cz >= lo[2] - step) & (cz <= hi[2] + step))
        if not m.any():
            return None
        out = []
        for ax, idx in enumerate(np.nonzero(m)):
            a = max(int(idx.min()) * 4 - 4, 0)
            b = min(int(idx.max()) * 4 + 5, self.shape[ax])
            out.append(slice(a, b))
        return out[0], out[1], out[2]

    def block(self, lo: Arr, hi: Arr, pad: float = 0.0) -> Slices | None:
        """Index slices of this chunk covering the head-frame box [lo, hi] (+ pad mm)."""
        lo = np.asarray(lo) - pad
        hi = np.asarray(hi) + pad
        corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])
                            for c in (lo[2], hi[2])])
        idx = self.inv @ (corners - self.off).T
        out = []
        for ax in range(3):
            a = int(math.floor(idx[ax].min()))
            b = int(math.ceil(idx[ax].max())) + 1
            a, b = max(a, 0), min(b, self.shape[ax])
            if a >= b:
                return None
            out.append(slice(a, b))
        return out[0], out[1], out[2]

    def xyz(self, sl: Slices, warped: bool) -> tuple[Arr, Arr, Arr]:
        """Head coordinates (observed, or anatomical when ``warped``) of the block."""
        src = self.w if warped else self.q
        return src[0][sl], src[1][sl], src[2][sl]

    def paint(self, sl: Slices, a: Arr, hu: Any, tissue: Any, blood: Any = 0,
              mask: Arr | None = None) -> None:
        """Composite ``hu`` with coverage ``a`` over the block; label where coverage >= 0.5."""
        h = self.hu[sl]
        if mask is not None:
            a = a * mask
        h += a * (np.asarray(hu, np.float32) - h)
        m = a >= 0.5
        if not m.any():
            return
        t = self.tis[sl]
        b = self.bld[sl]
        t[m] = tissue[m] if isinstance(tissue, np.ndarray) else tissue
        b[m] = blood[m] if isinstance(blood, np.ndarray) else blood

    def csf(self, sl: Slices, a: Arr, ventricular: bool = False) -> None:
        """Paint CSF (ventricular or subarachnoid), with IVH/SAH blood where its pattern holds."""
        if not (a > 0).any():
            return
        sc = self.scene
        tissue = T["ventricle"] if ventricular else T["csf"]
        hu_csf = sc.anat.hu["csf"]
        pattern = sc.path.ivh if ventricular else sc.path.sah
        if pattern is not None:
            x, y, z = self.xyz(sl, True)
            lo, hi = pattern.lo.astype(np.float32), pattern.hi.astype(np.float32)
            sel = ((a > 0) & (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
                   & (z >= lo[2]) & (z <= hi[2]))
            if sel.any():
                pat = np.zeros(a.shape, bool)
                pat[sel] = pattern.fn(x[sel], y[sel], z[sel])
                if pat.any():
                    self.paint(sl, a, np.where(pat, pattern.hu, hu_csf).astype(np.float32),
                               np.where(pat, T["blood"], tissue).astype(np.uint8),
                               np.where(pat, pattern.kind, 0).astype(np.uint8))
                    return
        self.paint(sl, a, hu_csf, tissue)


@dataclass
class _Painter:
    lo: Arr
    hi: Arr
    warped: bool
    fn: Callable[[_Ctx, Slices], None]


def _solid_painter(s: _Solid, tissue: str, hu: float | None = None, *, warped: bool = True,
                   scale: float = 1.0, pad: float = 0.0,
                   gate: Callable[[_Ctx, Slices], Arr] | None = None,
                   csf: str | None = None) -> _Painter:
    """Paint a harmonic solid with one tissue (or CSF: ``csf`` 'sub' / 'vent')."""
    lo, hi = s.box(scale, pad)

    def fn(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, warped)
        a = _ramp(s.depth(x, y, z, scale) + np.float32(pad), ctx.h)
        if gate is not None:
            a = np.minimum(a, gate(ctx, sl))
        if csf is not None:
            ctx.csf(sl, a, ventricular=csf == "vent")
        else:
            ctx.paint(sl, a, ctx.scene.anat.hu[tissue] if hu is None else hu, T[tissue])
    return _Painter(lo, hi, warped, fn)


def _tube_painters(tube: _Tube, tissue: str, hu: float | None = None, *, warped: bool = True,
                   pad: float = 0.0, gate: Callable[[_Ctx, Slices], Arr] | None = None,
                   csf: str | None = None) -> list[_Painter]:
    out = []
    for a_, b_, ra, rb in tube.segments():
        r = max(ra, rb) + pad + 1.0
        lo = np.minimum(a_, b_) - r
        hi = np.maximum(a_, b_) + r

        def fn(ctx: _Ctx, sl: Slices, a_: Arr = a_, b_: Arr = b_, ra: float = ra,
               rb: float = rb) -> None:
            x, y, z = ctx.xyz(sl, warped)
            a = _ramp(_tube_depth(x, y, z, a_, b_, ra + pad, rb + pad), ctx.h)
            if gate is not None:
                a = np.minimum(a, gate(ctx, sl))
            if csf is not None:
                ctx.csf(sl, a, ventricular=csf == "vent")
            else:
                ctx.paint(sl, a, ctx.scene.anat.hu[tissue] if hu is None else hu, T[tissue])
        out.append(_Painter(lo, hi, warped, fn))
    return out


def _inside(ctx: _Ctx, sl: Slices) -> Arr:
    return _ramp(ctx.d_in[sl], ctx.h)


def _outside(margin: float) -> Callable[[_Ctx, Slices], Arr]:
    def g(ctx: _Ctx, sl: Slices) -> Arr:
        return _ramp(-ctx.d_in[sl] - np.float32(margin), ctx.h)
    return g


# ----------------------------------------------------------------------------- anatomy painters

def _extracranial_painters(sc: _Scene) -> list[_Painter]:
    """Head holder, scalp, calvarium, face and extracranial skull base (observed frame)."""
    an = sc.anat
    hu = an.hu
    big_lo, big_hi = an.c0 - 200.0, an.c0 + 200.0
    out: list[_Painter] = []

    def shells(ctx: _Ctx, sl: Slices) -> None:
        d_skin = ctx.d_skin[sl]
        a = _ramp(d_skin, ctx.h)
        if not a.any():
            return
        ctx.paint(sl, a, hu["soft_tissue"], T["soft_tissue"])
        ctx.paint(sl, _ramp(ctx.d_fat[sl], ctx.h), hu["fat"], T["fat"])
        ctx.paint(sl, _ramp(ctx.d_mus[sl], ctx.h), hu["muscle"], T["muscle"])
        d_out, d_in = ctx.d_out[sl], ctx.d_in[sl]
        ab = _ramp(d_out, ctx.h)
        ctx.paint(sl, ab, hu["cortical_bone"], T["cortical_bone"])
        dd = np.minimum(d_out - np.float32(an.outer_table_mm),
                        -d_in - np.float32(an.inner_table_mm))
        m = dd > -ctx.h
        if m.any():
            x, y, z = ctx.xyz(sl, False)
            tex = an.bone_texture(x[m], y[m], z[m])
            h = ctx.hu[sl]
            ad = _ramp(dd[m], ctx.h)
            val = np.float32(hu["diploe"]) + np.float32(110.0) * tex
            h[m] += ad * (val - h[m])
            t = ctx.tis[sl]
            tm = t[m]
            tm[ad >= 0.5] = T["diploe"]
            t[m] = tm
    out.append(_Painter(big_lo, big_hi, False, shells))

    def in_bone(ctx: _Ctx, sl: Slices) -> Arr:
        return np.minimum(_ramp(-ctx.d_in[sl] - 1.0, ctx.h), _ramp(ctx.d_out[sl] - 1.0, ctx.h))
    if an.fsinus is not None:
        out.append(_solid_painter(an.fsinus, "air", warped=False, gate=in_bone))
    out.append(_solid_painter(an.nose, "soft_tissue", warped=False,
                              gate=lambda c, s: _ramp(-c.d_out[s] - 2.0, c.h)))
    for side in (1, -1):
        out.append(_solid_painter(an.ear[side]["pinna"], "soft_tissue", warped=False,
                                  gate=lambda c, s: _ramp(-c.d_skin[s] + 2.0, c.h)))
    outside = _outside(1.0)
    for tissue, solid in an.face:
        out.append(_solid_painter(solid, tissue, warped=False, gate=outside))
    for z in an.zygoma:
        out += _tube_painters(z, "cortical_bone", warped=False)
    out.append(_solid_painter(an.nasal, "air", warped=False, gate=_outside(1.5)))

    def septum(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, False)
        a = np.minimum(_ramp(an.nasal.depth(x, y, z), ctx.h), _ramp(1.0 - np.abs(x), ctx.h))
        ctx.paint(sl, np.minimum(a, _outside(1.5)(ctx, sl)), 350.0, T["cortical_bone"])
    out.append(_Painter(an.nasal.lo, an.nasal.hi, False, septum))
    for tb in an.turbinates:
        out.append(_solid_painter(tb, "soft_tissue", warped=False, gate=_outside(1.5)))
    for eth in an.ethmoid:
        out.append(_honeycomb(eth, an.ethmoid_pneum * 0.6 - 0.1, 0.7))
    out.append(_solid_painter(an.nasopharynx, "air", warped=False, gate=_outside(2.0)))
    for side in (1, -1):
        o = an.orbits[side]
        out.append(_solid_painter(o["orbit"], "cortical_bone", warped=False, scale=1.07,
                                  gate=_orbit_gate(o["orbit"])))
        out.append(_solid_painter(o["orbit"], "fat", warped=False, gate=_outside(2.0)))
        for rect in o["recti"]:
            out += _tube_painters(rect, "muscle", warped=False, gate=_outside(2.0))
        out += _tube_painters(o["nerve"], "soft_tissue", warped=False, gate=_outside(2.0))
        out.append(_solid_painter(o["globe"], "soft_tissue", warped=False))
        out.append(_solid_painter(o["globe"], "vitreous", warped=False, scale=0.91))
        out.append(_solid_painter(o["lens"], "lens", warped=False))
        out.append(_honeycomb(an.mastoid[side], 1.2 - 1.4 * an.mastoid_pneum, 1.3))
    a_, yc, b_, zf = an.fm

    def canal(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, False)
        e = np.sqrt((x / np.float32(a_)) ** 2 + ((y - np.float32(yc)) / np.float32(b_)) ** 2)
        a = np.minimum(_ramp((1.0 - e) * np.float32(a_), ctx.h), _ramp(zf + 4.0 - z, ctx.h))
        ctx.csf(sl, np.minimum(a, _ramp(2.5 - ctx.d_in[sl], ctx.h)))
    out.append(_Painter(np.array([-a_, yc - b_, zf - 120.0]), np.array([a_, yc + b_, zf + 6.0]),
                        False, canal))
    return out


def _orbit_gate(orb: _Solid) -> Callable[[_Ctx, Slices], Arr]:
    """Outside the endocranium and behind the orbital opening (no wall across the rim)."""
    axis = orb.axes[1].astype(np.float32)
    c = orb.c.astype(np.float32)
    limit = np.float32(0.7 * orb.semi[1])

    def g(ctx: _Ctx, sl: Slices) -> Arr:
        x, y, z = ctx.xyz(sl, False)
        along = (x - c[0]) * axis[0] + (y - c[1]) * axis[1] + (z - c[2]) * axis[2]
        return np.minimum(_ramp(-ctx.d_in[sl], ctx.h), _ramp(limit - along, ctx.h))
    return g


def _honeycomb(s: _Solid, threshold: float, shell: float) -> _Painter:
    """Pneumatised bone: cortical shell, air cells where a 3-D noise exceeds ``threshold``."""
    lo, hi = s.box()

    def fn(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, False)
        d = s.depth(x, y, z)
        gate = _ramp(-ctx.d_in[sl] - 1.0, ctx.h)
        a = np.minimum(_ramp(d, ctx.h), gate)
        if not a.any():
            return
        an = ctx.scene.anat
        ctx.paint(sl, a, an.hu["cortical_bone"] * 0.8, T["cortical_bone"])
        cells = an.cells(x, y, z)
        ac = np.minimum(np.minimum(_ramp(d - shell, ctx.h), gate),
                        _ramp((cells - np.float32(threshold)) * 1.5, 1.0))
        ctx.paint(sl, ac, an.hu["air"], T["air"])
    return _Painter(lo, hi, False, fn)


def _intracranial_painters(sc: _Scene) -> list[_Painter]:
    """CSF, cerebrum, deep grey, ventricles, cisterns, brainstem, cerebellum, dura, vessels
    (anatomical frame: these follow the mass-effect warp)."""
    an = sc.anat
    hu = an.hu
    out: list[_Painter] = []
    lo_in, hi_in = an.c0 - 130.0, an.c0 + 130.0
    out.append(_Painter(lo_in, hi_in, False, _fill_painter(sc)))

    def cerebrum(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        din = ctx.d_in[sl]
        depth = ctx.d_b[sl]
        above = z - ctx.tent(sl) - np.float32(0.9)
        inside = np.minimum(np.minimum(depth, din - np.float32(0.6)), above)
        a_b = _ramp(inside, ctx.h)
        if not a_b.any():
            return
        ctx.paint(sl, a_b, hu["white_matter"], T["white_matter"])
        sp = ctx.sphw
        rw = ctx.rw[sl]
        sdep = sp.at(an.t_sdep, sl)
        sulc = np.abs(sp.at(an.t_sulc, sl) + np.clip(depth, 0.0, None) * sp.at(an.t_bend, sl)) * rw
        tgm = sp.at(an.t_gm, sl)
        w = np.float32(an.sulcal_width) * (
            np.float32(0.55) + np.float32(0.9) * np.clip(1.0 - depth / np.maximum(sdep, 0.5),
                                                         0.0, 1.0))
        half = np.float32(0.5) * w
        d_gm = np.maximum(np.maximum(tgm - depth, tgm - above),
                          np.minimum(half + tgm - sulc, sdep + tgm - depth))
        ctx.paint(sl, np.minimum(_ramp(d_gm, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
        d_s = np.minimum(half - sulc, sdep - depth)
        a_s = np.minimum(np.minimum(_ramp(d_s, ctx.h), _ramp(din - 0.3, ctx.h)),
                         _ramp(above, ctx.h))
        ctx.csf(sl, a_s)
    out.append(_Painter(lo_in, hi_in, True, cerebrum))

    half_ih = 0.5 * an.ih_width
    g_med = 2 * math.pi * 0.22 / 3.2

    def fissure(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        depth = ctx.d_b[sl]
        din = ctx.d_in[sl]
        ax = np.abs(x)
        floor = np.interp(y, an.cc_y, an.cc_z).astype(np.float32)
        above = z - ctx.tent(sl) - np.float32(0.5)
        a_b = _ramp(np.minimum(np.minimum(depth, din - 0.6), above + 0.8), ctx.h)
        if not a_b.any():
            return
        tgm = np.float32(2.6 - 0.4 * min(an.atrophy, 1.0))
        wm = np.float32(0.35 * an.sulcal_width + 0.25)
        dmax = np.float32(9.0)
        depth_m = ax - np.float32(half_ih)
        sd = np.full(ax.shape, np.float32(99.0))
        dm = np.zeros(ax.shape, np.float32)
        band = (depth_m < dmax + tgm + ctx.h) & (a_b > 0)
        if band.any():
            xb = np.where(x[band] > 0, np.float32(40.0), np.float32(0.0))
            yb, zb = y[band] * np.float32(0.6), z[band]
            sd[band] = np.abs(an.medial_fold(xb, yb, zb)) / np.float32(g_med)
            dm[band] = dmax * np.clip(0.35 + 0.6 * an.medial_fold(xb + np.float32(17.0), zb, yb),
                                      0.0, 1.0)
        half_m = wm * (np.float32(0.6) + np.float32(0.8) * np.clip(
            1.0 - depth_m / np.maximum(dm, np.float32(0.5)), 0.0, 1.0))
        floor_ok = z - floor - np.float32(2.0)
        d_gm = np.maximum(np.minimum(half_ih + tgm - ax, z - floor),
                          np.minimum(np.minimum(half_m + tgm - sd, dm + tgm - depth_m), floor_ok))
        ctx.paint(sl, np.minimum(_ramp(d_gm, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
        d_c = np.maximum(np.minimum(half_ih - ax, z - floor - 0.8),
                         np.minimum(np.minimum(half_m - sd, dm - depth_m), floor_ok - 1.0))
        ctx.csf(sl, np.minimum(np.minimum(_ramp(d_c, ctx.h), _ramp(din - 0.3, ctx.h)),
                               _ramp(above + 0.5, ctx.h)))
    out.append(_Painter(np.array([-half_ih - 14.0, lo_in[1], lo_in[2]]),
                        np.array([half_ih + 14.0, hi_in[1], hi_in[2]]), True, fissure))

    for side in (1, -1):
        out += _sylvian_painters(sc, side)
    for s in an.grey_extra:
        out.append(_solid_painter(s, "grey_matter"))
    for v in an.vent:
        out.append(_solid_painter(v, "ventricle", csf="vent"))
    if an.cavum is not None:
        out.append(_solid_painter(an.cavum, "csf", hu["csf"]))
    for side in (1, -1):
        for s in an.caudate[side]:
            out.append(_solid_painter(s, "caudate"))
        out.append(_solid_painter(an.lent[side], "putamen"))
        out.append(_pallidum_painter(sc, side))
        out.append(_solid_painter(an.thal[side], "thalamus"))
    for s in an.choroid:
        out.append(_solid_painter(s, "choroid_plexus", hu["choroid_plexus"] + sc.contrast_add))
    if an.leuko_grade > 0:
        out.append(_leuko_painter(sc))
    for s in an.lacunes:
        out.append(_solid_painter(s, "csf", hu["csf"]))
    for s in an.cisterns:
        out.append(_solid_painter(s, "csf", csf="sub"))
    for side in (1, -1):
        out += _tube_painters(an.sylvian_stem[side], "csf", csf="sub")
    out.append(_solid_painter(an.cerebellum, "csf", csf="sub", pad=0.0, scale=1.0))
    out.append(_cerebellum_painter(sc))
    out.append(_solid_painter(an.brainstem, "brainstem"))
    out += _tube_painters(an.cord, "brainstem")
    out.append(_solid_painter(an.interped, "csf", csf="sub"))
    out.append(_solid_painter(an.fourth, "ventricle", csf="vent"))
    out += _tube_painters(an.aqueduct, "ventricle", csf="vent")
    out.append(_solid_painter(an.pineal, "gland"))
    out += _dura_painters(sc)
    for tube in an.sinuses:
        out += _tube_painters(tube, sc.vessel_tissue, sc.vein_hu)
    for s in an.cavernous:
        out.append(_solid_painter(s, sc.vessel_tissue, sc.vein_hu))
    for tube in an.arteries.values():
        out += _tube_painters(tube, sc.vessel_tissue, sc.artery_hu)
    return out


def _fill_painter(sc: _Scene) -> Callable[[_Ctx, Slices], None]:
    """Fill the endocranium with CSF, or with extra-axial (subdural/epidural) blood where a
    collection lies against the inner table."""
    extra = sc.path.extra

    def fn(ctx: _Ctx, sl: Slices) -> None:
        a = _ramp(ctx.d_in[sl], ctx.h)
        if not extra:
            ctx.csf(sl, a)
            return
        din = ctx.d_in[sl]
        hu = np.full(a.shape, np.float32(sc.anat.hu["csf"]))
        tis = np.full(a.shape, T["csf"], np.uint8)
        kind = np.zeros(a.shape, np.uint8)
        for e in extra:
            tx = ctx.sph.at(e["table"], sl)
            inside = (tx > 0.25) & (din < tx) & (din > -ctx.h)
            if not inside.any():
                continue
            x, y, z = ctx.xyz(sl, False)
            xm, ym, zm = x[inside], y[inside], z[inside]
            tile: _Tile = e["tile"]
            val = np.float32(e["hu"]) + np.float32(2.5) * tile(xm, ym, zm)
            if e["swirl"]:
                val = val - np.float32(18.0) * _smooth(tile(zm, xm, ym), 0.7, 1.2)
            hu[inside] = val
            tis[inside] = T["blood"]
            kind[inside] = e["kind"]
        if not kind.any():
            ctx.csf(sl, a)
            return
        csf = kind == 0
        if csf.any():
            ctx.csf(sl, a * csf)
        ctx.paint(sl, a * ~csf, hu, tis, kind)
    return fn


def _sylvian_painters(sc: _Scene, side: int) -> list[_Painter]:
    """Insular cortex, claustrum, deep sylvian cistern, opercular cleft (one hemisphere)."""
    an = sc.anat
    hu = an.hu
    ins = an.ins
    xi, yi, zi, aa, bb, slope, t = (float(ins[k]) for k in ("x", "y", "z", "a", "b", "slope", "t"))
    w_deep = 0.6 + 0.45 * an.sylvian_width
    half_c = 0.5 * an.sylvian_width
    wave = float(ins["wave"])
    phase = float(ins["phase"]) + (0.0 if side > 0 else 1.7)
    taper = 0.55 - 0.35 * min(an.atrophy, 1.0)
    tgm = 2.6 - 0.4 * min(an.atrophy, 1.0)
    s = float(side)
    xs = sorted([s * (xi - 10.0), s * 80.0])
    lo = np.array([xs[0], yi - 1.4 * aa, zi - 1.4 * bb - 8.0])
    hi = np.array([xs[1], yi + 2.0 * aa, zi + 1.4 * bb + 22.0])

    def fn(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        lat = np.float32(s) * x
        yy = y - np.float32(yi)
        zz = z - np.float32(zi)
        foot = (1.0 - np.sqrt((yy / np.float32(aa)) ** 2 + (zz / np.float32(bb)) ** 2)
                ) * np.float32(bb)
        xin = np.float32(xi) + np.float32(slope) * yy - np.float32(7.0) * (yy / np.float32(aa)) ** 2
        depth = ctx.d_b[sl]
        a_b = _ramp(np.minimum(depth, ctx.d_in[sl] - 0.6), ctx.h)
        if not a_b.any():
            return
        cis_lo = xin + np.float32(t / 2)
        cis_hi = cis_lo + np.float32(w_deep)
        og = np.minimum(np.minimum(lat - cis_lo + 1.0, cis_hi + tgm - lat), foot + 1.0)
        ctx.paint(sl, np.minimum(_ramp(og, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
        zc = (np.float32(zi - 1.0) + np.float32(0.36) * yy
              + np.float32(0.006) * np.maximum(yy, 0) ** 2
              + np.float32(wave) * np.sin(yy * np.float32(0.11) + np.float32(phase))
              + np.float32(1.5) * np.sin(lat * np.float32(0.15) + np.float32(phase)))
        ext = np.minimum(yy + np.float32(1.1 * aa), np.float32(1.5 * aa) - yy)
        dz = np.abs(z - zc)
        half = np.float32(half_c) * (np.float32(1.0) - np.float32(taper) * np.clip(
            (lat - cis_hi) / np.float32(25.0), 0.0, 1.0))
        d_wall = np.minimum(np.minimum(half + np.float32(tgm) - dz, lat - cis_lo), ext + 2.0)
        ctx.paint(sl, np.minimum(_ramp(d_wall, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
        d_cis = np.minimum(np.minimum(lat - cis_lo, cis_hi - lat), foot)
        d_cleft = np.minimum(np.minimum(half - dz, lat - cis_lo), ext)
        ctx.csf(sl, np.minimum(_ramp(np.maximum(d_cis, d_cleft), ctx.h), a_b))
        d_ins = np.minimum(np.float32(t / 2) - np.abs(lat - xin), foot)
        ctx.paint(sl, np.minimum(_ramp(d_ins, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
        d_cl = np.minimum(np.float32(0.7) - np.abs(lat - xin + np.float32(t / 2 + 2.6)),
                          foot - np.float32(2.0))
        ctx.paint(sl, np.minimum(_ramp(d_cl, ctx.h), a_b), hu["grey_matter"], T["grey_matter"])
    return [_Painter(lo, hi, True, fn)]


def _pallidum_painter(sc: _Scene, side: int) -> _Painter:
    an = sc.anat
    lent = an.lent[side]
    x_gp = abs(float(lent.c[0])) - 1.8 * an.scale[0]

    def fn(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        d = np.minimum(lent.depth(x, y, z), np.float32(x_gp) - np.float32(side) * x)
        ctx.paint(sl, _ramp(d, ctx.h), an.hu["pallidum"], T["pallidum"])
    return _Painter(lent.lo, lent.hi, True, fn)


def _leuko_painter(sc: _Scene) -> _Painter:
    """Periventricular and deep white-matter hypodensity (small-vessel disease), by grade."""
    an = sc.anat
    g = an.leuko_grade
    band = 0.25 + 0.22 * g
    drop = 3.0 + 1.6 * g
    parts = [an.horns[1], an.horns[-1], an.atrium[1], an.atrium[-1]]
    lo = np.min([pp.box(1 + band)[0] for pp in parts], axis=0)
    hi = np.max([pp.box(1 + band)[1] for pp in parts], axis=0)
    hi[2] += 30.0

    def fn(ctx: _Ctx, sl: Slices) -> None:
        t = ctx.tis[sl]
        m = t == T["white_matter"]
        if not m.any():
            return
        x, y, z = ctx.xyz(sl, True)
        x, y, z = x[m], y[m], z[m]
        near = np.max([pp.depth(x, y, z, 1.0 + band) for pp in parts], axis=0)
        tex = an.leuko_tile(x, y, z)
        a = np.minimum(_ramp(near, 3.0), _ramp(tex + np.float32(0.9 - 0.25 * g), 0.8))
        if g >= 2:
            deep = np.minimum(_ramp(z - np.float32(14.0 * an.scale[2]), 4.0),
                              _ramp(tex - np.float32(1.3 - 0.3 * g), 0.6))
            a = np.maximum(a, deep)
        h = ctx.hu[sl]
        h[m] -= np.float32(drop) * a
    return _Painter(lo, hi, True, fn)


def _cerebellum_painter(sc: _Scene) -> _Painter:
    an = sc.anat
    cb = an.cerebellum
    hu = an.hu
    tab = an.folia
    nt, np_ = tab.shape
    gap = 0.6 + 0.6 * an.extra_axial_mm

    def fn(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        below = ctx.tent(sl) - np.float32(0.9) - z
        d_cb, d_wm = cb.depths(x, y, z, (1.0, 0.48))
        d = np.minimum(np.minimum(d_cb, below), ctx.d_in[sl] - np.float32(gap))
        a = _ramp(d, ctx.h)
        if not a.any():
            return
        ctx.paint(sl, a, hu["cerebellar_cortex"], T["cerebellar_cortex"])
        ctx.paint(sl, np.minimum(a, _ramp(d_wm, ctx.h)), hu["cerebellar_white"],
                  T["cerebellar_white"])
        c = cb.c.astype(np.float32)
        m = cb.m
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        vx = m[0, 0] * dx + m[0, 1] * dy + m[0, 2] * dz
        vy = m[1, 0] * dx + m[1, 1] * dy + m[1, 2] * dz
        vz = m[2, 0] * dx + m[2, 1] * dy + m[2, 2] * dz
        fol = _Sph(vx, vy, vz, nt, np_)(tab) * np.sqrt(dx * dx + dy * dy + dz * dz)
        d_f = np.minimum(np.float32(0.5 * an.folia_width) - fol, np.float32(7.0) - d)
        ctx.csf(sl, np.minimum(_ramp(d_f, ctx.h), a))
    return _Painter(cb.lo, cb.hi, True, fn)


def _dura_painters(sc: _Scene) -> list[_Painter]:
    """Falx cerebri and tentorium cerebelli (dura, ~1.2 mm)."""
    an = sc.anat
    dura = an.hu["dura"] + 0.5 * sc.contrast_add
    lo, hi = an.c0 - 130.0, an.c0 + 130.0

    def falx(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        edge = np.interp(y, an.falx_y, an.falx_z).astype(np.float32)
        d = np.minimum(np.float32(0.6) - np.abs(x), z - edge)
        ctx.paint(sl, np.minimum(_ramp(d, ctx.h), _ramp(ctx.d_in[sl], ctx.h)), dura, T["dura"])

    def tent(ctx: _Ctx, sl: Slices) -> None:
        x, y, z = ctx.xyz(sl, True)
        zt = ctx.tent(sl)
        d = np.minimum(np.float32(0.6) - np.abs(z - zt), (np.sqrt(an.in_incisura(x, y)) - 1.0)
                       * np.float32(12.0))
        d = np.minimum(d, zt + np.float32(45.0) - z)
        ctx.paint(sl, np.minimum(_ramp(d, ctx.h), _ramp(ctx.d_in[sl], ctx.h)), dura, T["dura"])
    return [_Painter(np.array([-4.0, lo[1], lo[2]]), np.array([4.0, hi[1], hi[2]]), True, falx),
            _Painter(np.array([lo[0], an.c0[1] - 40.0, lo[2]]), np.array([hi[0], hi[1], an.c0[2]]),
                     True, tent)]


def _base_painters(sc: _Scene) -> list[_Painter]:
    """Skull-base bones painted over the brain with a CSF margin, and their contents."""
    an = sc.anat
    out: list[_Painter] = []
    margin = 1.4
    for _, s in an.base_bones:
        out.append(_solid_painter(s, "csf", warped=False, pad=margin, csf="sub", gate=_inside))
    for r in an.ridges:
        out += _tube_painters(r, "csf", warped=False, pad=margin, csf="sub", gate=_inside)
    for tissue, s in an.base_bones:
        out.append(_solid_painter(s, tissue, warped=False))
    for r in an.ridges:
        out += _tube_painters(r, "cortical_bone", warped=False)
    out.append(_solid_painter(an.clivus, "diploe", warped=False, scale=0.6))
    body = an.base_bones[0][1]
    out.append(_solid_painter(an.sphenoid_sinus, "air", warped=False,
                              gate=lambda c, s: _ramp(body.depth(*c.xyz(s, False)) - 1.0, c.h)))
    out.append(_solid_painter(an.pituitary, "gland", an.hu["gland"] + 1.2 * sc.contrast_add,
                              warped=False))
    for side in (1, -1):
        e = an.ear[side]
        out.append(_solid_painter(e["middle"], "air", warped=False))
        out.append(_solid_painter(e["ossicles"], "cortical_bone", warped=False))
        out += _tube_painters(e["eac"], "air", warped=False, gate=_outside(1.0))
        out += _tube_painters(e["iac"], "csf", warped=False)
        out.append(_solid_painter(e["cochlea"], "csf", warped=False))
        out.append(_solid_painter(e["vestibule"], "csf", warped=False))
        out += _tube_painters(e["carotid"], sc.vessel_tissue, sc.artery_hu, warped=False)
    for s in an.atlas:
        out.append(_solid_painter(s, "cortical_bone", warped=False))
    for tube in an.atlas_arch:
        out += _tube_painters(tube, "cortical_bone", warped=False)
    return out


# ----------------------------------------------------------------------------- scene

class _Scene:
    """Anatomy + pathology + pose: the painter list of one case."""

    def __init__(self, anat: _Anatomy, path: _Pathology, rot: Arr, shift: Arr) -> None:
        self.anat = anat
        self.path = path
        self.rot = rot.astype(np.float32)
        self.shift = shift
        self.contrast_add = path.contrast_add
        self.vessel_tissue = "contrast" if path.contrast_add > 0 else "vessel"
        self.artery_hu = anat.hu["vessel"] if path.contrast_add == 0 else path.contrast_artery
        self.vein_hu = anat.hu["vessel"] if path.contrast_add == 0 else path.contrast_vein
        self.path_outer = [p for make in path.extra_painters for p in make(self)]
        self.painters = (_extracranial_painters(self) + _intracranial_painters(self)
                         + _base_painters(self) + path.painters(self))


def _head_points(scene: _Scene) -> Arr:
    """Head-frame points bounding everything painted outside the skull (skin, nose, ears...)."""
    an = scene.anat
    dirs = _fib(3000)
    pts = [an.c0 + dirs * _Sph(dirs[:, 0], dirs[:, 1], dirs[:, 2], _CT, _CP)(an.t_skin)[:, None]]
    boxes = [an.nose.box(), an.ear[1]["pinna"].box(), an.ear[-1]["pinna"].box()]
    boxes += [(p.lo, p.hi) for p in scene.path_outer]
    for lo, hi in boxes:
        pts.append(np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])
                             for c in (lo[2], hi[2])]))
    return np.concatenate(pts)


def _paint_grid(scene: _Scene, aff: Arr, off: Arr, shape: tuple[int, int, int], h: float,
                budget: int = 700_000, init: tuple[Arr, Arr] | None = None
                ) -> tuple[Arr, Arr, Arr]:
    """Paint every sample of a grid (head = aff @ (k, j, i) + off): HU, tissue, blood kind.
    Work is restricted, chunk by chunk, to the rectangle holding the head."""
    nk, ny, nx = shape
    if init is None:
        hu = np.full(shape, -1000.0, np.float32)
        tis = np.zeros(shape, np.uint8)
    else:
        hu, tis = init
    bld = np.zeros(shape, np.uint8)
    inv = np.linalg.inv(aff)
    idx = (inv @ (_head_points(scene) - off).T).T
    pad_k = 6.0 / max(abs(float(np.linalg.norm(aff[:, 0]))), 1e-6)
    pad_px = 6.0 / max(float(np.linalg.norm(aff[:, 2])), 1e-6) + 2
    step = max(1, budget // (ny * nx) * 2)
    for k0 in range(0, nk, step):
        k1 = min(nk, k0 + step)
        near = idx[(idx[:, 0] >= k0 - pad_k) & (idx[:, 0] <= k1 - 1 + pad_k)]
        if near.size == 0:
            continue
        j0 = max(0, int(near[:, 1].min() - pad_px))
        j1 = min(ny, int(near[:, 1].max() + pad_px) + 1)
        i0 = max(0, int(near[:, 2].min() - pad_px))
        i1 = min(nx, int(near[:, 2].max() + pad_px) + 1)
        if j0 >= j1 or i0 >= i1:
            continue
        o = off + aff[:, 0] * k0 + aff[:, 1] * j0 + aff[:, 2] * i0
        ctx = _Ctx(scene, aff, o, (k1 - k0, j1 - j0, i1 - i0), hu[k0:k1, j0:j1, i0:i1],
                   tis[k0:k1, j0:j1, i0:i1], bld[k0:k1, j0:j1, i0:i1], h)
        for p in scene.painters:
            sl = ctx.warped_block(p.lo, p.hi) if p.warped else ctx.block(p.lo, p.hi)
            if sl is not None:
                p.fn(ctx, sl)
    return hu, tis, bld


def _holder_planes(acq: _Acquisition, zs: Arr, hu_tab: dict[str, float]) -> tuple[Arr, Arr]:
    """Head holder (plastic cradle) and foam pad in the scanner frame, for planes at ``zs``."""
    m = acq.matrix
    px = acq.pixel
    c = -acq.fov / 2 + px / 2 + px * np.arange(m, dtype=np.float32)
    gx, gy = np.meshgrid(c, c)
    cx, cy, rx, ry, th, ztop = acq.holder
    e = np.sqrt(((gx - cx) / rx) ** 2 + ((gy - cy) / ry) ** 2)
    pad = np.minimum(_ramp((1.0 - e) * ry, px), _ramp(gy - np.float32(cy + 0.35 * ry), px))
    shell = np.minimum(np.minimum(_ramp((e - 1.0) * ry, px), _ramp((1.0 + th / ry - e) * ry, px)),
                       _ramp(gy - np.float32(cy), px))
    hu2 = np.float32(-1000.0) + pad * np.float32(hu_tab["foam"] + 1000.0)
    hu2 = hu2 + shell * (np.float32(hu_tab["plastic"]) - hu2)
    t2 = np.where(shell >= 0.5, T["plastic"], np.where(pad >= 0.5, T["foam"], T["air"]))
    below = np.asarray(zs) < ztop
    hu = np.full((len(zs), m, m), -1000.0, np.float32)
    tis = np.zeros((len(zs), m, m), np.uint8)
    hu[below] = hu2
    tis[below] = t2
    return hu, tis


# ----------------------------------------------------------------------------- ASPECTS regions

def _aspects_region(an: _Anatomy, x: Arr, y: Arr, z: Arr, tis: Arr) -> Arr:
    """ASPECTS region (0 none, 1..10 patient-left, 11..20 right) of anatomical points."""
    reg = np.zeros(np.shape(x), np.uint8)
    left = x >= 0
    ax = np.abs(x)
    z0, z1, z2 = an.aspects_levels()
    sx, sy, _ = an.scale
    ins = an.ins
    xi, yi, zi, aa, bb, slope, t = (float(ins[k]) for k in ("x", "y", "z", "a", "b", "slope", "t"))
    grey_white = (tis == T["grey_matter"]) | (tis == T["white_matter"])
    level = (z >= z0) & (z < z2)
    reg[(tis == T["caudate"]) & level] = 1
    reg[(tis == T["putamen"]) | (tis == T["pallidum"])] = 2
    for side in (1, -1):
        lent = an.lent[side]
        sel = (left if side > 0 else ~left) & (tis == T["white_matter"])
        if not sel.any():
            continue
        d = lent.depth(x[sel], y[sel], z[sel], 1.6)
        zr = (z[sel] > lent.c[2] - 0.9 * lent.semi[2]) & (z[sel] < lent.c[2] + 1.05 * lent.semi[2])
        ic = (d > 0) & (ax[sel] < abs(lent.c[0])) & zr
        sub = reg[sel]
        sub[ic] = 3
        reg[sel] = sub
    yy = y - np.float32(yi)
    zz = z - np.float32(zi)
    foot = 1.0 - np.sqrt((yy / aa) ** 2 + (zz / bb) ** 2)
    xin = np.float32(xi) + np.float32(slope) * yy - np.float32(7.0) * (yy / np.float32(aa)) ** 2
    ins_m = grey_white & (foot > 0) & (ax > xin - t / 2 - 4.5) & (ax < xin + t / 2 + 0.8)
    reg[ins_m & (reg == 0)] = 4
    free = grey_white & (reg == 0) & level
    psi = np.arctan2(y - np.float32(yi), ax - (xin - 8.0))
    sector = np.where(psi < -0.45, 0, np.where(psi > 0.45, 2, 1))
    gangl = z < z1
    medial_ok = np.where(gangl, (ax > xin - 4.0) | ((sector != 1) & (ax > 22.0 * sx)),
                         ax > 16.0 * sx)
    pca = (y > 50.0 * sy) | ((z < zi - 10.0) & (ax < xi - 2.0))
    m = free & medial_ok & ~pca
    reg[m] = (5 + sector + np.where(gangl, 0, 3))[m].astype(np.uint8)
    return np.where((reg > 0) & ~left, reg + 10, reg).astype(np.uint8)


# ----------------------------------------------------------------------------- pathology

@dataclass
class _Pattern:
    """Where blood replaces CSF (SAH in subarachnoid spaces, IVH in ventricles)."""

    kind: int
    hu: float
    lo: Arr
    hi: Arr
    fn: Callable[[Arr, Arr, Arr], Arr]


def _lognormal(rng: np.random.Generator, median: float, sigma: float, lo: float,
               hi: float) -> float:
    return float(np.clip(median * math.exp(rng.normal(0.0, sigma)), lo, hi))


def _clot_hu(rng: np.random.Generator, hct: float) -> float:
    """Acute clot attenuation (HU) from haematocrit and clot retraction."""
    return float(np.clip(12.0 + 0.85 * min(92.0, hct * rng.uniform(1.35, 2.0)), 50.0, 90.0))


def _coarse_tissue(anat: _Anatomy, centre: Arr, half: Arr, step: float) -> tuple[Arr, Arr]:
    """Anatomy-only tissue labels on a coarse head-frame grid: (points (n, 3), tissue (n,))."""
    scene = _Scene(anat, _Pathology.empty(), np.eye(3), np.zeros(3))
    n = np.maximum(np.ceil(2 * half / step).astype(int), 2)
    aff = np.array([[0, 0, step], [0, step, 0], [step, 0, 0]], float)
    off = centre - half
    off = np.array([off[0], off[1], off[2]])
    shape = (int(n[2]), int(n[1]), int(n[0]))
    _, tis, _ = _paint_grid(scene, aff, off, shape, step)
    k, j, i = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), np.arange(shape[2]),
                          indexing="ij")
    pts = np.stack([off[0] + step * i, off[1] + step * j, off[2] + step * k], -1).reshape(-1, 3)
    return pts, tis.reshape(-1)


class _Pathology:
    """Bleeds, ischaemia and mimics of one case (deterministic per seed and label)."""

    def __init__(self, seed: int, label: NcctLabel, anat: _Anatomy, gravity: Arr) -> None:
        self.seed = seed
        self.anat = anat
        self.gravity = gravity / np.linalg.norm(gravity)
        self.records: list[dict[str, Any]] = []
        self.ivh: _Pattern | None = None
        self.sah: _Pattern | None = None
        self.iph: list[dict[str, Any]] = []
        self.extra: list[dict[str, Any]] = []
        self.masses: list[tuple[Arr, float]] = []
        self.t_x: Arr | None = None
        self.isch: tuple[int, set[int], float] | None = None
        self.delta: float | None = None
        self.mimic_painters: list[Callable[[_Scene], list[_Painter]]] = []
        self.mimic_details: dict[str, Any] = {}
        self.metal = False
        self.contrast_add = 0.0
        self.contrast_artery = 0.0
        self.contrast_vein = 0.0
        self.extra_painters: list[Callable[[_Scene], list[_Painter]]] = []
        self.label = label
        builders = {"intraparenchymal": self._iph, "intraventricular": self._ivh,
                    "subarachnoid": self._sah, "subdural": self._extra_axial,
                    "epidural": self._extra_axial}
        for kind in BLEED_KINDS:
            if kind in label.bleeds:
                builders[kind](np.random.default_rng([seed, 1000 + BLEED_KINDS.index(kind)]), kind)
        if self.extra:
            self.t_x = np.max([e["table"] for e in self.extra], axis=0)
        delta = float(np.random.default_rng([seed, 31]).uniform(2.0, 6.0))
        if label.ischaemic_regions:
            side = 1 if label.ischaemic_side == "left" else -1
            regs = {ASPECTS_REGIONS.index(r) + 1 for r in label.ischaemic_regions}
            self.isch = (side, regs, delta)
            self.delta = delta
        for name in MIMICS:
            if name in label.mimics:
                self._mimic(np.random.default_rng([seed, 2000 + MIMICS.index(name)]), name)

    @classmethod
    def empty(cls) -> _Pathology:
        obj = cls.__new__(cls)
        obj.records, obj.iph, obj.extra, obj.masses = [], [], [], []
        obj.ivh = obj.sah = None
        obj.t_x = None
        obj.isch = None
        obj.delta = None
        obj.mimic_painters, obj.extra_painters = [], []
        obj.mimic_details = {}
        obj.metal = False
        obj.contrast_add = obj.contrast_artery = obj.contrast_vein = 0.0
        return obj

    # ------------------------------------------------------------------ warp
    @property
    def warping(self) -> bool:
        return bool(self.masses) or self.t_x is not None

    def warp(self, an: _Anatomy, x: Arr, y: Arr, z: Arr, d_in: Arr, sph: _Sph,
             r0: Arr) -> list[Arr]:
        """Observed -> anatomical coordinates: cortical compression under extra-axial blood,
        then volume-conserving radial displacement around each mass (zero at the skull)."""
        c0 = an.c0.astype(np.float32)
        if self.t_x is not None:
            tx = sph(self.t_x)
            rb = sph(an.t_brain)
            span = np.float32(30.0)
            r_orig = r0 + tx * np.clip((r0 - (rb - tx - span)) / span, 0.0, 1.0)
            f = np.where(tx > 0.05, r_orig / r0, 1.0).astype(np.float32)
            x, y, z = c0[0] + (x - c0[0]) * f, c0[1] + (y - c0[1]) * f, c0[2] + (z - c0[2]) * f
        atten = np.clip(d_in / np.float32(12.0), 0.0, 1.0)
        for c, r3 in self.masses:
            cx, cy, cz = (np.float32(v) for v in c)
            dx, dy, dz = x - cx, y - cy, z - cz
            d = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
            f = np.cbrt(np.maximum(d ** 3 - atten * np.float32(r3), 0.0)) / d
            x, y, z = cx + dx * f, cy + dy * f, cz + dz * f
        return [x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)]

    # ------------------------------------------------------------------ bleeds
    def _record(self, kind: str, subtype: str, target: float, hu: float, centre: Arr,
                mass_ml: float) -> None:
        self.records.append({"kind": kind, "subtype": subtype, "target_volume_ml": round(target, 3),
                             "hu": round(hu, 1), "centre_mm": [round(float(v), 1) for v in centre],
                             "mass_effect_ml": round(mass_ml, 2)})

    def _brain_point(self, u: Arr, depth: float) -> Arr:
        an = self.anat
        u = u / np.linalg.norm(u)
        r = float(_Sph(np.array([u[0]]), np.array([u[1]]), np.array([u[2]]), _CT, _CP)(
            an.t_brain)[0])
        out: Arr = an.c0 + u * (r - depth)
        return out

    def _iph(self, rng: np.random.Generator, kind: str) -> None:
        an = self.anat
        p = an.p
        subs = ["putamen", "thalamus", "lobar", "cerebellar", "brainstem"]
        sub = subs[int(rng.choice(5, p=[0.28, 0.17, 0.35, 0.12, 0.08]))]
        med = {"putamen": 14.0, "thalamus": 8.0, "lobar": 18.0, "cerebellar": 9.0, "brainstem": 2.5}
        cap = {"putamen": 80.0, "thalamus": 40.0, "lobar": 80.0, "cerebellar": 35.0,
               "brainstem": 10.0}
        vol = _lognormal(rng, med[sub], 1.0, 0.5, cap[sub])
        side = 1 if rng.random() < 0.5 else -1
        r_eq = (3 * vol * 1000 / (4 * math.pi)) ** (1 / 3)
        if sub == "putamen":
            c = an.lent[side].c + np.array([side * 2.5, 0, 0]) + rng.normal(0, 1.5, 3)
        elif sub == "thalamus":
            c = an.thal[side].c + rng.normal(0, 1.5, 3)
        elif sub == "cerebellar":
            c = an.cerebellum.c + p(side * 22, 2, 0) * np.array([1, 0, 0]) + rng.normal(0, 2, 3)
        elif sub == "brainstem":
            c = p(0, 22, -34) + rng.normal(0, 1.0, 3)
        else:
            sites = [(0.5, -0.8, 0.3), (0.6, 0.2, 0.75), (0.9, -0.1, -0.3), (0.35, 0.9, 0.1)]
            u = np.array(sites[int(rng.integers(0, 4))]) * np.array([side, 1, 1])
            u = u + rng.normal(0, 0.12, 3)
            c = self._brain_point(u, r_eq + float(rng.uniform(6.0, 14.0)))
        ratios = np.array([1.0, rng.uniform(0.65, 1.0), rng.uniform(0.6, 1.0)])
        ratios /= np.prod(ratios) ** (1 / 3)
        axes = _rot(*rng.uniform(-90, 90, 3)).T
        solid = _solid(c, ratios * r_eq, rng, axes=axes, jitter=0.2, lmax=5)
        solid = _Solid(c, solid.semi * (vol / solid.volume_ml()) ** (1 / 3), axes, solid.table)
        hu = _clot_hu(rng, an.hct)
        rim = 0.15 * r_eq + float(rng.uniform(0.5, 2.5))
        oedema_ml = _Solid(c, solid.semi * (1 + rim / r_eq), axes, solid.table).volume_ml() - vol
        mass = vol + oedema_ml if vol > 8.0 else 0.0
        if mass > 0:
            self.masses.append((c, 3 * mass * 1000 / (4 * math.pi)))
        self.iph.append({"solid": solid, "hu": hu, "rim": rim / r_eq,
                         "swirl": bool(rng.random() < 0.2), "level": bool(vol > 10 and
                                                                          rng.random() < 0.1),
                         "tile": _Tile(rng, step=1.5, n=24, band=0.25)})
        self._record(kind, sub, vol, hu, c, mass)

    def _ivh(self, rng: np.random.Generator, kind: str) -> None:
        an = self.anat
        pattern = ["layering", "cast", "third_fourth", "mixed"][int(rng.choice(4, p=[
            0.45, 0.25, 0.15, 0.15]))]
        vol = _lognormal(rng, 6.0, 1.0, 0.5, 40.0)
        centre = an.p(0, 18, 0)
        pts, tis = _coarse_tissue(an, centre, an.p(45, 60, 55), 1.5)
        vpts = pts[tis == T["ventricle"]]
        voxel = 1.5 ** 3 / 1000.0
        total = len(vpts) * voxel
        vol = float(min(vol, 0.85 * total))
        g = self.gravity
        hu = float(rng.uniform(45.0, 75.0))
        side = 1 if rng.random() < 0.5 else -1
        fns: list[Callable[[Arr, Arr, Arr], Arr]] = []

        def layer(v: float) -> None:
            lat = vpts[np.abs(vpts[:, 0]) > 4.0]
            s = lat @ g
            level = float(np.quantile(s, max(0.0, 1 - v / max(len(lat) * voxel, 1e-6))))
            gx, gy, gz = (np.float32(a) for a in g)
            fns.append(lambda x, y, z: x * gx + y * gy + z * gz > np.float32(level))

        def ball(c: Arr, v: float) -> None:
            d = np.linalg.norm(vpts - c, axis=1)
            r = float(np.quantile(d, min(1.0, v / total)))
            cx, cy, cz = (np.float32(a) for a in c)
            r2 = np.float32(r * r)
            fns.append(lambda x, y, z: (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < r2)

        if pattern == "layering":
            layer(vol)
        elif pattern == "cast":
            ball(an.horns[side].c, vol)
        elif pattern == "third_fourth":
            ball(an.third.c if rng.random() < 0.5 else an.fourth.c, vol)
        else:
            layer(0.7 * vol)
            ball(an.fourth.c, 0.3 * vol)

        def fn(x: Arr, y: Arr, z: Arr) -> Arr:
            out = fns[0](x, y, z)
            for f in fns[1:]:
                out = out | f(x, y, z)
            return out
        self.ivh = _Pattern(2, hu, an.c0 - 150, an.c0 + 150, fn)
        self._record(kind, pattern, vol, hu, centre, 0.0)

    def _sah(self, rng: np.random.Generator, kind: str) -> None:
        an = self.anat
        p = an.p
        side = 1 if rng.random() < 0.5 else -1
        r = rng.random()
        if r < 0.6:
            subs = ["acom", "mca", "pcom", "basilar_tip"]
            sub = subs[int(rng.choice(4, p=[0.35, 0.3, 0.2, 0.15]))]
            src = {"acom": p(0, -19, -14), "mca": p(side * 39, -1, -9),
                   "pcom": p(side * 11, 2, -19), "basilar_tip": p(0, 8, -23)}[sub]
            vol = _lognormal(rng, 6.0, 0.9, 0.8, 30.0)
        elif r < 0.7:
            sub, src = "perimesencephalic", p(0, 10, -28)
            vol = _lognormal(rng, 2.0, 0.7, 0.5, 8.0)
        else:
            sub = "convexity"
            u = np.array([side * rng.uniform(0.5, 0.9), rng.uniform(-0.5, 0.5),
                          rng.uniform(0.2, 0.8)])
            src = self._brain_point(u, 2.0)
            vol = _lognormal(rng, 1.5, 0.8, 0.5, 10.0)
        half = np.full(3, 46.0)
        pts, tis = _coarse_tissue(an, src, half, 1.6)
        tile = _Tile(rng, step=4.0, n=24, band=0.2)
        cand = pts[tis == T["csf"]]
        sx_, sy_, sz_ = (np.float32(v) for v in src)

        def dist(x: Arr, y: Arr, z: Arr) -> Arr:
            d = np.sqrt((x - sx_) ** 2 + (y - sy_) ** 2 + (z - sz_) ** 2)
            out: Arr = d * (1.0 + 0.25 * tile(x, y, z))
            return out
        dd = dist(cand[:, 0].astype(np.float32), cand[:, 1].astype(np.float32),
                  cand[:, 2].astype(np.float32))
        voxel = 1.6 ** 3 / 1000.0
        vol = float(min(vol, 0.8 * len(dd) * voxel))
        radius = float(np.quantile(dd, min(1.0, vol / max(len(dd) * voxel, 1e-6))))
        hu = float(rng.uniform(48.0, 72.0))
        self.sah = _Pattern(3, hu, src - radius * 1.4, src + radius * 1.4,
                            lambda x, y, z: dist(x, y, z) < np.float32(radius))
        self._record(kind, sub, vol, hu, src, 0.0)

    def _extra_axial(self, rng: np.random.Generator, kind: str) -> None:
        an = self.anat
        side = 1 if rng.random() < 0.5 else -1
        sdh = kind == "subdural"
        if sdh:
            sites = {"frontoparietal": (0.85, -0.1, 0.5), "temporoparietal": (0.95, 0.1, 0.0),
                     "frontal": (0.6, -0.7, 0.35), "parieto-occipital": (0.7, 0.5, 0.4)}
            probs = [0.45, 0.25, 0.15, 0.15]
            vol = _lognormal(rng, 25.0, 0.9, 2.0, 80.0)
            cap = math.radians(rng.uniform(50.0, 80.0))
        else:
            sites = {"temporal": (0.97, 0.05, -0.15), "frontal": (0.45, -0.85, 0.25),
                     "parietal": (0.75, 0.2, 0.6), "occipital": (0.4, 0.9, 0.0)}
            probs = [0.5, 0.2, 0.2, 0.1]
            vol = _lognormal(rng, 14.0, 0.9, 1.0, 80.0)
            cap = math.radians(rng.uniform(16.0, 28.0) * (vol / 14.0) ** 0.12)
        name = list(sites)[int(rng.choice(len(sites), p=probs))]
        u0 = np.array(sites[name]) * np.array([side, 1, 1]) + rng.normal(0, 0.06, 3)
        u0 /= np.linalg.norm(u0)
        dirs = _table_dirs(_CT, _CP)
        ang = np.arccos(np.clip(dirs @ u0, -1, 1))
        prof = np.clip(1 - (ang / cap) ** 2, 0, 1)
        prof = prof ** 1.5 if sdh else np.sqrt(prof)
        hemi = _smooth(side * dirs[..., 0], 0.03, 0.2)
        base = _smooth(dirs[..., 2], -0.5, -0.3)
        prof = (prof * hemi * base).astype(np.float64)
        r_in = an.t_in.astype(np.float64)
        theta = np.linspace(0, math.pi, _CT)
        w = np.sin(theta)[:, None] * (math.pi / (_CT - 1)) * (2 * math.pi / _CP)

        def volume(tmax: float) -> float:
            t = np.minimum(tmax * prof, 0.9 * r_in)
            return float(((r_in ** 3 - (r_in - t) ** 3) / 3 * w).sum()) / 1000.0
        lo, hi = 0.2, 60.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if volume(mid) < vol else (lo, mid)
        table = (lo * prof).astype(np.float32)
        hu = _clot_hu(rng, an.hct)
        r_site = float(an.inner_radius(u0[None, :])[0])
        centre = an.c0 + u0 * (r_site - 0.5 * lo)
        mass = vol if vol > 10 else 0.0
        if mass > 0:
            self.masses.append((an.c0 + u0 * (r_site - lo - 22.0), 0.6 * 3 * mass * 1000
                                / (4 * math.pi)))
        entry = {"table": table, "hu": hu, "kind": 4 if sdh else 5,
                 "swirl": bool(rng.random() < (0.15 if sdh else 0.35)),
                 "tile": _Tile(rng, step=1.6, n=24, band=0.25), "u": u0, "tmax": lo}
        self.extra.append(entry)
        if not sdh:
            if rng.random() < 0.6:
                self.extra_painters.append(self._fracture(rng, u0, r_site))
            if rng.random() < 0.6:
                self.extra_painters.append(self._swelling(rng, u0))
        self._record(kind, name, vol, hu, centre, mass)

    def _fracture(self, rng: np.random.Generator, u0: Arr, r_site: float
                  ) -> Callable[[_Scene], list[_Painter]]:
        an = self.anat
        pt = an.c0 + u0 * (r_site + 3.0)
        n = np.cross(u0, rng.normal(0, 1, 3))
        n /= np.linalg.norm(n)
        length = float(rng.uniform(18.0, 40.0))
        width = float(rng.uniform(0.6, 1.4))

        def make(sc: _Scene) -> list[_Painter]:
            def fn(ctx: _Ctx, sl: Slices) -> None:
                x, y, z = ctx.xyz(sl, False)
                dx, dy, dz = x - np.float32(pt[0]), y - np.float32(pt[1]), z - np.float32(pt[2])
                dn = dx * n[0] + dy * n[1] + dz * n[2]
                d = np.minimum(np.float32(width / 2) - np.abs(dn),
                               np.float32(length / 2) - np.sqrt(dx * dx + dy * dy + dz * dz))
                gate = np.minimum(_ramp(-ctx.d_in[sl], ctx.h), _ramp(ctx.d_out[sl], ctx.h))
                ctx.paint(sl, np.minimum(_ramp(d, ctx.h), gate), sc.anat.hu["soft_tissue"],
                          T["soft_tissue"])
            return [_Painter(pt - length, pt + length, False, fn)]
        return make

    def _swelling(self, rng: np.random.Generator, u0: Arr) -> Callable[[_Scene], list[_Painter]]:
        an = self.anat
        r_out = float(_Sph(np.array([u0[0]]), np.array([u0[1]]), np.array([u0[2]]), _CT, _CP)(
            an.t_out)[0])
        thick = float(rng.uniform(4.0, 12.0))
        solid = _solid(an.c0 + u0 * (r_out + 0.5 * thick), np.array([rng.uniform(14, 24),
                                                                     rng.uniform(14, 24), thick]),
                       rng, axes=_frame(u0, 2), jitter=0.08)
        hu = float(rng.uniform(42.0, 62.0))

        def make(sc: _Scene) -> list[_Painter]:
            return [_solid_painter(solid, "soft_tissue", hu, warped=False,
                                   gate=lambda c, s: _ramp(-c.d_out[s], c.h))]
        return make

    # ------------------------------------------------------------------ mimics
    def _mimic(self, rng: np.random.Generator, name: str) -> None:
        an = self.anat
        p = an.p
        spheres: list[tuple[Arr, float, float]] = []
        if name == "choroid_plexus_calcification":
            sides = (1, -1) if rng.random() < 0.85 else ((1,) if rng.random() < 0.5 else (-1,))
            for s in sides:
                c = an.choroid[0 if s > 0 else 1].c
                for _ in range(int(rng.integers(2, 6))):
                    spheres.append((c + rng.normal(0, 2.0, 3), float(rng.uniform(0.9, 2.3)),
                                    float(rng.uniform(140, 420))))
        elif name == "pineal_calcification":
            for _ in range(int(rng.integers(1, 5))):
                spheres.append((an.pineal.c + rng.normal(0, 1.3, 3), float(rng.uniform(1.0, 2.6)),
                                float(rng.uniform(120, 380))))
        elif name == "basal_ganglia_calcification":
            for _ in range(int(rng.integers(3, 9))):
                off = rng.normal(0, 1, 3) * np.array([1.5, 4.5, 3.5])
                r = float(rng.uniform(0.7, 1.8))
                hu = float(rng.uniform(90, 300))
                for s in (1, -1):
                    c = an.lent[s].c + np.array([-s * 4.0 * an.scale[0] + s * off[0], off[1],
                                                 off[2]])
                    spheres.append((c + rng.normal(0, 0.6, 3), r * rng.uniform(0.8, 1.2), hu))
        elif name == "falx_calcification":
            plaques = []
            for _ in range(int(rng.integers(1, 4))):
                y = float(rng.uniform(-40, 25)) * an.scale[1]
                edge = float(np.interp(y, an.falx_y, an.falx_z))
                c = np.array([rng.normal(0, 0.3), y, edge + rng.uniform(8, 35)])
                semi = np.array([rng.uniform(0.6, 1.4), rng.uniform(5, 14), rng.uniform(3, 8)])
                plaques.append((_solid(c, semi, rng, jitter=0.1), float(rng.uniform(250, 900))))
            self.mimic_painters.append(lambda sc: [_solid_painter(s, "calcification", h)
                                                   for s, h in plaques])
            self.mimic_details[name] = {"plaques": len(plaques)}
        elif name == "hyperdense_vessel":
            side_name = self.label.ischaemic_side if self.label.ischaemic_side in (
                "left", "right") else ("left" if rng.random() < 0.5 else "right")
            which = ["m1", "basilar", "ica"][int(rng.choice(3, p=[0.75, 0.12, 0.13]))]
            tube = an.arteries["basilar" if which == "basilar" else f"{which}_{side_name}"]
            seg = tube.segments()
            i = int(rng.integers(0, len(seg)))
            a, b, ra, rb = seg[i]
            t0, t1 = sorted(rng.uniform(0, 1, 2))
            t1 = max(t1, t0 + 0.4)
            pa, pb = a + (b - a) * t0, a + (b - a) * min(t1, 1.0)
            hu = float(rng.uniform(60, 88))
            thr = _Tube(np.array([pa, pb]), np.array([ra, rb]) * 1.08)
            self.mimic_painters.append(lambda sc: _tube_painters(thr, "thrombus", hu))
            self.mimic_details[name] = {"vessel": which, "side": side_name, "hu": round(hu, 1)}
        elif name == "streak_artefact":
            kind = ["aneurysm_clip", "coil_mass", "scalp_electrode"][int(rng.choice(3, p=[
                0.5, 0.3, 0.2]))]
            objs: list[_Solid] = []
            if kind == "scalp_electrode":
                u = rng.normal(0, 1, 3)
                u[2] = abs(u[2]) + 0.3
                u /= np.linalg.norm(u)
                r = float(_Sph(np.array([u[0]]), np.array([u[1]]), np.array([u[2]]), _CT, _CP)(
                    an.t_skin)[0])
                objs.append(_solid(an.c0 + u * (r + 1.0), np.array([4.0, 4.0, 1.0]), rng,
                                   axes=_frame(u, 2), jitter=0.0))
            else:
                s = 1 if rng.random() < 0.5 else -1
                c = [p(0, -19, -14), p(s * 39, -1, -9), p(s * 12, 0, -19)][int(rng.integers(0, 3))]
                if kind == "coil_mass":
                    objs.append(_solid(c, np.full(3, rng.uniform(2.5, 4.5)), rng, jitter=0.1))
                else:
                    ax = _rot(*rng.uniform(-90, 90, 3)).T
                    objs.append(_solid(c, np.array([1.0, 4.5, 1.6]), rng, axes=ax, jitter=0.0))
                    objs.append(_solid(c + ax[1] * 4.0, np.array([2.2, 1.5, 2.2]), rng, axes=ax,
                                       jitter=0.0))
            self.metal = True
            self.mimic_painters.append(lambda sc: [_solid_painter(o, "metal", warped=False)
                                                   for o in objs])
            self.mimic_details[name] = {"object": kind}
        elif name == "residual_contrast":
            self.contrast_add = float(rng.uniform(25.0, 60.0))
            self.contrast_artery = float(rng.uniform(110.0, 230.0))
            self.contrast_vein = float(rng.uniform(90.0, 190.0))
            self.mimic_details[name] = {"arterial_hu": round(self.contrast_artery, 1),
                                        "venous_hu": round(self.contrast_vein, 1)}
        if spheres:
            sp = [(_solid(c, np.full(3, r), rng, jitter=0.15), h) for c, r, h in spheres]
            self.mimic_painters.append(lambda sc: [_solid_painter(s, "calcification", h)
                                                   for s, h in sp])
            self.mimic_details[name] = {"foci": len(sp)}

    # ------------------------------------------------------------------ painters
    def painters(self, sc: _Scene) -> list[_Painter]:
        """Pathology painters, run after the anatomy: ischaemia, haemorrhage, mimics."""
        an = sc.anat
        out: list[_Painter] = []
        for make in self.extra_painters:
            out += make(sc)
        if self.isch is not None:
            out.append(self._isch_painter(an))
        for make in self.mimic_painters:
            out += make(sc)
        for e in self.iph:
            out += self._iph_painters(an, e)
        return out

    def _isch_painter(self, an: _Anatomy) -> _Painter:
        assert self.isch is not None
        side, regs, delta = self.isch
        reg_ids = np.array(sorted(r + (0 if side > 0 else 10) for r in regs), np.uint8)
        lo = an.c0 - 130.0
        hi = an.c0 + 130.0
        if side > 0:
            lo[0] = -2.0
        else:
            hi[0] = 2.0

        def fn(ctx: _Ctx, sl: Slices) -> None:
            t = ctx.tis[sl]
            m = np.isin(t, _BRAIN)
            if not m.any():
                return
            x, y, z = ctx.xyz(sl, True)
            reg = _aspects_region(an, x[m], y[m], z[m], t[m])
            hit = np.isin(reg, reg_ids)
            if not hit.any():
                return
            tm = t[m]
            grey = np.isin(tm, _GREYISH)
            fac = np.where(grey, 1.0, np.where((reg == 3) | (reg == 13), 0.8, 0.4)).astype(
                np.float32)
            h = ctx.hu[sl]
            h[m] -= np.where(hit, np.float32(delta) * fac, 0.0).astype(np.float32)
        return _Painter(lo, hi, True, fn)

    def _iph_painters(self, an: _Anatomy, e: dict[str, Any]) -> list[_Painter]:
        solid: _Solid = e["solid"]
        hu = float(e["hu"])
        rim = 1.0 + float(e["rim"])
        tile: _Tile = e["tile"]
        g = self.gravity.astype(np.float32)
        lo, hi = solid.box(rim, 2.0)

        def fn(ctx: _Ctx, sl: Slices) -> None:
            x, y, z = ctx.xyz(sl, False)
            gate = _ramp(ctx.d_in[sl] - 0.5, ctx.h) * ~np.isin(ctx.tis[sl], _HARD)
            brain = np.isin(ctx.tis[sl], _BRAIN)
            d_oe, d = solid.depths(x, y, z, (rim, 1.0))
            a_oe = np.minimum(_ramp(d_oe, 2.0), gate) * brain
            ctx.paint(sl, a_oe, an.hu["oedema"], T["oedema"])
            a = np.minimum(_ramp(d, ctx.h), gate)
            if not a.any():
                return
            m = a > 0
            xm, ym, zm = x[m], y[m], z[m]
            sub = np.float32(hu) + np.float32(3.0) * tile(xm, ym, zm)
            if e["swirl"]:
                sub = sub - np.float32(16.0) * _smooth(tile(ym, zm, xm), 0.8, 1.3)
            val = np.full(a.shape, np.float32(hu))
            val[m] = sub
            if e["level"]:
                s = (x - np.float32(solid.c[0])) * g[0] + (y - np.float32(solid.c[1])) * g[1] + (
                    z - np.float32(solid.c[2])) * g[2]
                val = val + np.where(s > 0, np.float32(6.0), np.float32(-8.0))
            ctx.paint(sl, a, val, T["blood"], 1)
        return [_Painter(lo, hi, False, fn)]


# ----------------------------------------------------------------------------- acquisition

_VENDORS: tuple[tuple[str, str, float, float, float], ...] = (
    # manufacturer, kernel, PSF sigma (mm), sharpening, noise cut-off (cycles/mm)
    ("SIEMENS", "H31s", 0.55, 0.00, 0.36), ("SIEMENS", "H40s", 0.45, 0.15, 0.44),
    ("SIEMENS", "Hr38", 0.48, 0.10, 0.42), ("SIEMENS", "Hr40", 0.42, 0.18, 0.46),
    ("SIEMENS", "J40s", 0.44, 0.15, 0.45), ("GE MEDICAL SYSTEMS", "STANDARD", 0.50, 0.08, 0.40),
    ("GE MEDICAL SYSTEMS", "SOFT", 0.62, 0.00, 0.33), ("Philips", "UB", 0.52, 0.05, 0.38),
    ("Philips", "UC", 0.45, 0.15, 0.44), ("CANON_MEC", "FC21", 0.55, 0.05, 0.37),
    ("CANON_MEC", "FC26", 0.47, 0.12, 0.43),
)


@dataclass
class _Acquisition:
    """Pose, geometry and physics of one scan (all lengths mm, angles degrees)."""

    pitch: float
    yaw: float
    roll: float
    rot: Arr
    shift: Arr
    manufacturer: str
    kernel: str
    psf_mm: float
    sharpen: float
    cutoff: float
    recon: str
    thickness: float
    n_sub: int
    fov: float
    matrix: int
    noise_sd: float
    bh_beta: float
    metal_beta: float
    photons: float
    z0: float
    n_slices: int
    cut: str
    holder: tuple[float, float, float, float, float, float] = field(
        default=(0.0, 500.0, 1.0, 1.0, 1.0, -1e4))

    @property
    def pixel(self) -> float:
        return self.fov / self.matrix


def _acquisition(seed: int, anat: _Anatomy, matrix: int) -> _Acquisition:
    """Draw pose, scanner, kernel, slice geometry and dose; plan coverage from the head."""
    rng = np.random.default_rng([seed, 7])
    pitch = float(np.clip(rng.normal(0.0, 7.5), -20.0, 20.0))
    yaw = float(np.clip(rng.normal(0.0, 4.5), -15.0, 15.0))
    roll = float(np.clip(rng.normal(0.0, 4.0), -12.0, 12.0))
    rot = _rot(pitch, roll, yaw)
    # the technologist centres the head (its skin box) in the field, within a few mm
    dirs = _fib(800)
    skin_h = anat.c0 + dirs * _Sph(dirs[:, 0], dirs[:, 1], dirs[:, 2], _CT, _CP)(
        anat.t_skin)[:, None]
    vault = skin_h[skin_h[:, 2] > -20.0 * anat.scale[2]]
    centre = (vault.min(axis=0) + vault.max(axis=0)) / 2
    off = np.array([float(np.clip(rng.normal(0.0, 5.0), -15, 15)),
                    float(np.clip(rng.normal(2.0, 5.0), -12, 15)), 0.0])
    shift = off - rot @ np.array([centre[0], centre[1], 0.0])
    shift[2] = 0.0
    manufacturer, kernel, psf, sharpen, cutoff = _VENDORS[int(rng.integers(0, len(_VENDORS)))]
    psf *= float(rng.uniform(0.9, 1.1))
    recon = "iterative" if rng.random() < 0.55 else "fbp"
    thickness = float(rng.choice([2.5, 3.0, 4.0, 5.0], p=[0.15, 0.2, 0.25, 0.4]))
    fov = float(rng.uniform(210.0, 255.0))
    sd = float(rng.uniform(2.6, 4.2)) * math.sqrt(5.0 / thickness) * (1.0 + 0.8 * sharpen)
    sd *= 0.75 if recon == "iterative" else 1.0
    noise_sd = float(np.clip(sd, 2.5, 6.5))
    # coverage: below the foramen magnum to the vertex, in scanner z
    a_, yc, b_, zf = anat.fm
    fm = rot @ np.array([0.0, yc, zf]) + shift
    up = dirs[dirs[:, 2] > 0.1]
    r = _Sph(up[:, 0], up[:, 1], up[:, 2], _CT, _CP)(anat.t_skin)
    skin = (anat.c0 + up * r[:, None]) @ rot.T + shift
    bottom = float(fm[2]) - float(rng.uniform(6.0, 14.0))
    top = float(skin[:, 2].max()) + float(rng.uniform(0.0, 4.0))
    n = int(math.ceil((top - bottom) / thickness))
    cut = "none"
    if n > 64:
        n, cut = 64, "vertex"
    if n < 30:
        bottom = top - 30 * thickness
        n = 30
    if rng.random() < 0.1 and n > 34:
        k = int(rng.integers(2, 5))
        n -= k
        if rng.random() < 0.7:
            cut = "vertex"
        else:
            bottom += k * thickness
            cut = "base"
    allskin = (anat.c0 + dirs * _Sph(dirs[:, 0], dirs[:, 1], dirs[:, 2], _CT, _CP)(
        anat.t_skin)[:, None]) @ rot.T + shift
    y_back = float(allskin[:, 1].max())
    cushion = float(rng.uniform(8.0, 25.0))
    rx, ry = float(rng.uniform(85.0, 100.0)), float(rng.uniform(90.0, 110.0))
    holder = (float(shift[0]), y_back + cushion - ry, rx, ry, float(rng.uniform(3.0, 6.0)),
              float(shift[2] + rng.uniform(-10.0, 40.0)))
    return _Acquisition(pitch, yaw, roll, rot, shift, manufacturer, kernel, psf, sharpen, cutoff,
                        recon, thickness, 3, fov, matrix, noise_sd,
                        float(rng.uniform(0.012, 0.035)),
                        float(rng.uniform(0.3, 0.6)), float(10 ** rng.uniform(5.0, 5.6)),
                        bottom + thickness / 2, n, cut, holder)


# ----------------------------------------------------------------------------- physics

@lru_cache(maxsize=4)
def _projector(n: int, n_ang: int) -> tuple[Any, int]:
    """Pixel-driven parallel-beam projector (n_ang * n_det, n * n), pixel units."""
    c = np.arange(n) - (n - 1) / 2.0
    xx, yy = np.meshgrid(c, c)
    n_det = int(math.ceil(n * 1.45)) + 2
    ang = np.linspace(0.0, math.pi, n_ang, endpoint=False)
    s = xx.ravel()[None, :] * np.cos(ang)[:, None] + yy.ravel()[None, :] * np.sin(ang)[:, None]
    s = s + (n_det - 1) / 2.0
    s0 = np.floor(s).astype(np.int64)
    w = (s - s0).astype(np.float32)
    rows0 = np.arange(n_ang)[:, None] * n_det + s0
    cols = np.broadcast_to(np.arange(n * n)[None, :], s.shape)
    rows = np.concatenate([rows0.ravel(), (rows0 + 1).ravel()])
    vals = np.concatenate([(1 - w).ravel(), w.ravel()])
    mat = sparse.csr_matrix((vals, (rows, np.concatenate([cols.ravel(), cols.ravel()]))),
                            shape=(n_ang * n_det, n * n), dtype=np.float32)
    return mat, n_det


def _fbp_filter(n_det: int, window: float) -> Arr:
    """Ram-Lak filter (frequency response, padded length) with a Hann window."""
    size = int(2 ** math.ceil(math.log2(2 * n_det)))
    k = np.arange(-(size // 2), size // 2)
    h = np.zeros(size)
    h[size // 2] = 0.25
    odd = k % 2 == 1
    h[odd] = -1.0 / (math.pi * k[odd]) ** 2
    resp = np.real(np.fft.fft(np.fft.ifftshift(h)))
    f = np.abs(np.fft.fftfreq(size))
    return np.asarray(resp * (0.5 + 0.5 * np.cos(np.pi * np.clip(f / (0.5 * window), 0, 1))))


def _fbp(sino: Arr, mat: Any, n_ang: int, n_det: int, n: int, window: float = 1.0) -> Arr:
    """Filtered back-projection of sinograms (n_ang * n_det, k) -> images (k, n, n)."""
    k = sino.shape[1]
    resp = _fbp_filter(n_det, window)
    size = resp.size
    s = sino.T.reshape(k, n_ang, n_det)
    pad = np.zeros((k, n_ang, size), np.float32)
    pad[:, :, :n_det] = s
    filt = np.real(np.fft.ifft(np.fft.fft(pad, axis=-1) * resp, axis=-1))[:, :, :n_det]
    back = mat.T @ filt.reshape(k, -1).T.astype(np.float32)
    return np.asarray((back.T * (math.pi / n_ang)).reshape(k, n, n), np.float32)


def _upsample(a: Arr, f: int) -> Arr:
    """Bilinear in-plane upsampling of (k, n, n) by an integer factor (pixel-centre grid)."""
    if f == 1:
        return a
    n = a.shape[1]
    src = (np.arange(n * f) + 0.5) / f - 0.5
    i0 = np.clip(np.floor(src).astype(np.int64), 0, n - 1)
    i1 = np.clip(i0 + 1, 0, n - 1)
    w = np.clip(src - np.floor(src), 0, 1).astype(np.float32)
    w = np.where(src < 0, 0.0, w).astype(np.float32)
    rows = a[:, i0] + w[None, :, None] * (a[:, i1] - a[:, i0])
    return np.asarray(rows[:, :, i0] + w[None, None, :] * (rows[:, :, i1] - rows[:, :, i0]),
                      np.float32)


def _physics(vol: Arr, metal: Arr, acq: _Acquisition, seed: int) -> tuple[Arr, dict[str, Any]]:
    """Beam hardening and starvation streaks, kernel blur, coloured noise; int16 HU."""
    rng = np.random.default_rng([seed, 17])
    nz, m, _ = vol.shape
    f = max(1, math.ceil(m / 128))
    nr = math.ceil(m / f)
    padn = nr * f - m
    px_low = acq.pixel * f
    big = np.pad(vol, ((0, 0), (0, padn), (0, padn)), constant_values=-1000.0)
    low = big.reshape(nz, nr, f, nr, f).mean(axis=(2, 4))
    met = np.pad(metal, ((0, 0), (0, padn), (0, padn))).reshape(nz, nr, f, nr, f).mean(
        axis=(2, 4))
    n_ang = max(90, nr)
    mat, n_det = _projector(nr, n_ang)
    mu = np.clip(1.0 + low / 1000.0, 0.0, None) * _MU_WATER
    hard = np.clip(low - 150.0, 0.0, None) / 1000.0 * _MU_WATER
    mu_metal = met * _MU_WATER * 30.0
    has_metal = bool(met.any())

    def flat(a: Arr) -> Arr:
        return np.asarray(a.reshape(nz, -1).T, np.float32)
    both = np.asarray(mat @ np.concatenate([flat(mu + mu_metal), flat(hard)], axis=1)) * px_low
    p_tot, p_h = both[:, :nz], both[:, nz:]
    # residual beam hardening after the vendor's water and bone corrections: keep its streaks,
    # drop the broad offset that calibration removes
    bh = _fbp((-acq.bh_beta * p_h ** 2).astype(np.float32), mat, n_ang, n_det, nr, 0.9)
    soft = ((low > -200.0) & (low < 150.0)).astype(np.float32)
    wide_px = (0.0, 10.0 / px_low, 10.0 / px_low)
    broad = ndimage.gaussian_filter(bh * soft, wide_px) / np.maximum(
        ndimage.gaussian_filter(soft, wide_px), 1e-3)
    bh = bh - broad * (soft > 0)
    # metal: strong hardening and photon starvation on the rays through it
    starve_rng = rng.standard_normal(p_tot.shape).astype(np.float32)
    delta = bh
    if has_metal:
        p_m = np.asarray(mat @ flat(mu_metal)) * px_low
        err = -acq.metal_beta * p_m ** 2
        ref = float(np.quantile(p_tot, 0.995))
        starve = np.sqrt(np.clip(np.exp(p_tot) - math.exp(ref), 0.0, None) / acq.photons)
        err = err + starve * starve_rng
        delta = bh + _fbp(err.astype(np.float32), mat, n_ang, n_det, nr, 0.9)
    delta = delta / px_low / _MU_WATER * 1000.0
    var = np.asarray(mat.T @ np.exp(np.clip(p_tot, 0, 30)).astype(np.float32)).T.reshape(
        nz, nr, nr) / n_ang
    head = low > -300.0
    vref = float(np.median(var[head])) if head.any() else 1.0
    rel = np.sqrt(np.clip(var / vref, 0.5, 3.0)).astype(np.float32)
    delta = delta.astype(np.float32)
    sig = acq.psf_mm / acq.pixel
    fy = np.fft.fftfreq(m, d=acq.pixel)[:, None]
    fx = np.fft.rfftfreq(m, d=acq.pixel)[None, :]
    fr = np.sqrt(fx * fx + fy * fy)
    expo = 1.0 if acq.recon == "fbp" else 0.6
    cut = acq.cutoff * (1.0 if acq.recon == "fbp" else 0.8)
    nps = fr ** expo * np.exp(-((fr / cut) ** 2))
    amp = np.sqrt(nps)
    amp = (amp / math.sqrt(float((nps * np.where(fx > 0, 2.0, 1.0)).sum()) / (m * m))).astype(
        np.float32)
    result = np.empty(vol.shape, np.int16)
    for k0 in range(0, nz, 16):
        k1 = min(nz, k0 + 16)
        slab = vol[k0:k1] + _upsample(delta[k0:k1], f)[:, :m, :m]
        # the metal itself saturates the scale: its streaks fall on everything else
        slab = np.where(metal[k0:k1], vol[k0:k1], slab)
        blurred = ndimage.gaussian_filter(slab, sigma=(0, sig, sig))
        if acq.sharpen > 0:
            wide = ndimage.gaussian_filter(blurred, sigma=(0, 2.2 * sig + 0.8, 2.2 * sig + 0.8))
            blurred = blurred + np.float32(acq.sharpen) * (blurred - wide)
        white = rng.standard_normal((k1 - k0, m, m), dtype=np.float32)
        noise = np.fft.irfft2(np.fft.rfft2(white) * amp, s=(m, m)).astype(np.float32)
        level = _upsample(rel[k0:k1], f)[:, :m, :m] * np.float32(acq.noise_sd)
        result[k0:k1] = np.clip(np.rint(blurred + noise * level), -1024, 3071)
    info = {"beam_hardening_beta": round(acq.bh_beta, 4), "metal_beta": round(acq.metal_beta, 3),
            "photons_per_ray": round(acq.photons, 1), "projector_grid": nr, "views": n_ang,
            "max_streak_hu": round(float(np.abs(delta).max()), 1)}
    return result, info


# ----------------------------------------------------------------------------- render

@lru_cache(maxsize=6)
def _anatomy(seed: int) -> _Anatomy:
    return _Anatomy(seed)


def _mode_sub(a: Arr) -> Arr:
    """Mode of three sub-slice samples along axis 1 (no majority -> the middle one)."""
    t0, t1, t2 = a[:, 0], a[:, 1], a[:, 2]
    return np.where(t0 == t2, t0, t1)


def _measure(an: _Anatomy) -> dict[str, Any]:
    """Achieved normative measurements of the head (mm, indices dimensionless)."""
    dirs = _fib(4000)
    sph = _Sph(dirs[:, 0], dirs[:, 1], dirs[:, 2], _CT, _CP)
    out: dict[str, Any] = {}
    for name, tab in (("outer_table", an.t_out), ("inner_table", an.t_in), ("skin", an.t_skin)):
        pts = dirs * sph(tab)[:, None]
        vault = pts[:, 2] > -25.0
        out[f"{name}_length_mm"] = round(float(np.ptp(pts[vault, 1])), 1)
        out[f"{name}_breadth_mm"] = round(float(np.ptp(pts[vault, 0])), 1)
    out["fronto_occipital_mm"] = out["outer_table_length_mm"]
    out["biparietal_mm"] = out["outer_table_breadth_mm"]
    out["cephalic_index"] = round(100.0 * out["biparietal_mm"] / out["fronto_occipital_mm"], 1)
    out["skull_thickness_mm"] = {k: round(v, 2) for k, v in an.thickness.items()}
    # ventricular indices on an axial grid (0.5 mm) through the frontal horns and caudate heads
    step = 0.5
    xs = np.arange(-80.0, 80.0, step, dtype=np.float32)
    ys = np.arange(-60.0, 40.0, step, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    best = {"evans": 0.0, "bicaudate": 1.0, "frontal_horn_mm": 0.0}
    for z in np.arange(4.0, 20.0, 2.0) * an.scale[2]:
        gz = np.full_like(gx, z)
        vent = np.zeros(gx.shape, bool)
        for s in (1, -1):
            vent |= an.horns[s].depth(gx, gy, gz) > 0
        for s in (1, -1):
            for c in an.caudate[s]:
                vent &= c.depth(gx, gy, gz) <= 0
        ant = vent & (gy < 0)
        if not ant.any():
            continue
        width = float(np.ptp(gx[ant])) + step
        r0 = np.hypot(gx - an.c0[0], np.hypot(gy - an.c0[1], gz - an.c0[2]))
        sph2 = _Sph(gx - an.c0[0], gy - an.c0[1], gz - an.c0[2], _CT, _CP)
        inner = sph2(an.t_in) - r0 > 0
        skull_w = float(np.ptp(gx[inner])) + step
        if width / skull_w > best["evans"]:
            best["evans"] = width / skull_w
            best["frontal_horn_mm"] = width
        row = np.abs(gy - float(an.caudate[1][0].c[1])) < step / 2
        cau = np.zeros(gx.shape, bool)
        for s in (1, -1):
            cau |= an.caudate[s][0].depth(gx, gy, gz) > 0
        if (row & cau).any():
            left = gx[row & cau & (gx > 0)]
            right = gx[row & cau & (gx < 0)]
            brain = (sph2(an.t_brain) - r0 > 0) & row
            if left.size and right.size and brain.any():
                bci = (float(left.min()) - float(right.max())) / (float(np.ptp(gx[brain])) + step)
                best["bicaudate"] = min(best["bicaudate"], bci)
    out["evans_index"] = round(best["evans"], 3)
    out["frontal_horn_span_mm"] = round(best["frontal_horn_mm"], 1)
    out["bicaudate_index"] = round(best["bicaudate"], 3)
    out["third_ventricle_mm"] = round(an.third_width, 1)
    out["interuncal_mm"] = round(an.interuncal, 1)
    out["sylvian_fissure_mm"] = round(an.sylvian_width, 2)
    out["cortical_sulci_mm"] = round(an.sulcal_width, 2)
    out["extra_axial_csf_mm"] = round(an.extra_axial_mm, 2)
    out["tentorial_angle_deg"] = round(an.tentorial_angle, 1)
    xs = np.arange(20.0, 100.0, 0.25, dtype=np.float32)
    ys = np.full_like(xs, float(an.ins["y"]))
    zs = np.full_like(xs, float(an.ins["z"]))
    dx, dy, dz = xs - an.c0[0], ys - an.c0[1], zs - an.c0[2]
    r0 = np.sqrt(dx * dx + dy * dy + dz * dz)
    inside = _Sph(dx, dy, dz, _CT, _CP, r0)(an.t_brain) - r0 > 0
    surface = float(xs[inside].max()) if inside.any() else float(an.ins["x"])
    out["insular_depth_mm"] = round(surface - float(an.ins["x"]), 1)
    bs = an.brainstem
    ys = np.arange(-20.0, 60.0, 0.25, dtype=np.float32)
    pons = bs.c + 0.15 * (bs.axes[2] * bs.semi[2])
    inside = bs.depth(np.zeros_like(ys), ys, np.full_like(ys, float(pons[2]))) > 0
    out["pons_ap_mm"] = round(float(np.ptp(ys[inside])) + 0.25, 1) if inside.any() else 0.0
    out["fourth_ventricle_width_mm"] = round(2 * float(an.fourth.semi[0]), 1)
    out["cerebellar_width_mm"] = round(float(an.cerebellum.hi[0] - an.cerebellum.lo[0]), 1)
    out["leukoaraiosis_grade"] = an.leuko_grade
    out["lacunes"] = len(an.lacunes)
    return out


def _seed(seed: int) -> int:
    """A non-negative generator seed for any integer case seed."""
    return int(seed) % (1 << 63)


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """Render one case: (case, ASPECTS region map, tissue map), all (z, y, x) at the volume grid.

    Region map: uint8, 0 outside, 1..10 the patient's left ASPECTS regions in
    :data:`ASPECTS_REGIONS` order, 11..20 the right. Tissue map: uint8 indices into
    :data:`TISSUES`. HU int16, spacing (slice, row, column) mm, patient LPS.
    """
    if matrix < 32:
        raise ValueError("matrix must be at least 32")
    sd = _seed(seed)
    anat = _anatomy(sd)
    acq = _acquisition(sd, anat, matrix)
    gravity = acq.rot.T @ np.array([0.0, 1.0, 0.0])
    path = _Pathology(sd, label, anat, gravity)
    scene = _Scene(anat, path, acq.rot, acq.shift)
    m = matrix
    px = acq.pixel
    n, ns = acq.n_slices, acq.n_sub
    dzs = acq.thickness / ns
    x0 = -acq.fov / 2 + px / 2
    p0 = np.array([x0, x0, acq.z0 - acq.thickness / 2 + dzs / 2])
    rt = acq.rot.T
    aff = np.stack([rt @ np.array([0, 0, dzs]), rt @ np.array([0, px, 0]),
                    rt @ np.array([px, 0, 0])], axis=1)
    off = rt @ (p0 - acq.shift)
    zs = acq.z0 - acq.thickness / 2 + dzs / 2 + dzs * np.arange(n * ns)
    hu, tis, bld = _paint_grid(scene, aff, off, (n * ns, m, m), px,
                               init=_holder_planes(acq, zs, anat.hu))
    vol = hu.reshape(n, ns, m, m).mean(axis=1)
    t3 = tis.reshape(n, ns, m, m)
    b3 = bld.reshape(n, ns, m, m)
    del hu, tis, bld
    tissue = _mode_sub(t3)
    count = (b3 > 0).sum(axis=1)
    kind = np.where(b3[:, 1] > 0, b3[:, 1], b3.max(axis=1))
    blood = np.where(count >= 2, kind, 0).astype(np.uint8)
    tissue = np.where(blood > 0, T["blood"], tissue)
    stray = (tissue == T["blood"]) & (blood == 0)
    if stray.any():
        alt = np.where(t3[:, 0] != T["blood"], t3[:, 0], t3[:, -1])
        tissue = np.where(stray, alt, tissue)
    tissue = tissue.astype(np.uint8)
    region = _region_map(scene, aff, off, ns, (n, m, m), tissue, px)
    metal = tissue == T["metal"]
    volume, phys = _physics(vol, metal, acq, sd)
    voxel_ml = acq.thickness * px * px / 1000.0
    volumes: dict[str, float] = {}
    for i, k in enumerate(BLEED_KINDS):
        if k in label.bleeds:
            volumes[k] = round(float(np.count_nonzero(blood == i + 1)) * voxel_ml, 3)
    records = [dict(r, volume_ml=volumes.get(r["kind"], 0.0)) for r in path.records]
    origin = [x0, x0, acq.z0]
    details: dict[str, Any] = {
        "generator": "strokealert.phantoms.ncct_families.harmonic",
        "kernel": acq.kernel, "manufacturer": acq.manufacturer, "kvp": 120.0,
        "reconstruction": acq.recon, "psf_sigma_mm": round(acq.psf_mm, 3),
        "kernel_sharpening": acq.sharpen, "noise_sd_hu": round(acq.noise_sd, 2),
        "noise_cutoff_cycles_per_mm": acq.cutoff,
        "slice_thickness_mm": acq.thickness, "n_slices": n, "subslice_samples": ns,
        "pixel_mm": round(px, 4), "fov_mm": round(acq.fov, 2), "matrix": m,
        "coverage_cut": acq.cut, "origin_mm": [round(float(v), 3) for v in origin],
        "pose": {"pitch_deg": round(acq.pitch, 2), "yaw_deg": round(acq.yaw, 2),
                 "roll_deg": round(acq.roll, 2),
                 "offset_mm": [round(float(v), 2) for v in acq.shift],
                 "offset_is": "scanner position of the foramen of Monro (head-frame origin)"},
        "physics": phys,
        "patient": {"sex": anat.sex, "age_years": round(anat.age, 1),
                    "haematocrit_pct": round(anat.hct, 1), "atrophy": round(anat.atrophy, 3)},
        "measurements": _measure(anat),
        "tissue_hu": {k: round(float(v), 1) for k, v in anat.hu.items()},
        "ischaemic_delta_hu": None if path.delta is None else round(path.delta, 3),
        "bleeds": records, "bleed_volumes_ml": volumes,
        "mimics": path.mimic_details,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=(float(acq.thickness), float(px), float(px)), blood_mask=blood,
                    details=details)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]


def _region_map(scene: _Scene, aff: Arr, off: Arr, ns: int, shape: tuple[int, int, int],
                tissue: Arr, px: float) -> Arr:
    """ASPECTS regions at the voxel centres (the middle sub-slice sample), anatomical frame."""
    n, m, _ = shape
    an = scene.anat
    region = np.zeros(shape, np.uint8)
    allowed = np.isin(tissue, np.array([T["grey_matter"], T["white_matter"], T["caudate"],
                                        T["putamen"], T["pallidum"]], np.uint8))
    aff_c = aff.copy()
    aff_c[:, 0] = aff[:, 0] * ns
    off_c = off + aff[:, 0] * ((ns - 1) / 2.0)
    step = max(1, 1_200_000 // (m * m))
    for k0 in range(0, n, step):
        k1 = min(n, k0 + step)
        sel = allowed[k0:k1]
        if not sel.any():
            continue
        kk = np.arange(k0, k1, dtype=np.float32)[:, None, None]
        jj = np.arange(m, dtype=np.float32)[None, :, None]
        ii = np.arange(m, dtype=np.float32)[None, None, :]
        q = [np.float32(off_c[a]) + np.float32(aff_c[a, 0]) * kk + np.float32(aff_c[a, 1]) * jj
             + np.float32(aff_c[a, 2]) * ii for a in range(3)]
        x, y, z = q[0][sel], q[1][sel], q[2][sel]
        if scene.path.warping:
            c0 = an.c0.astype(np.float32)
            dx, dy, dz = x - c0[0], y - c0[1], z - c0[2]
            r0 = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
            sph = _Sph(dx, dy, dz, _CT, _CP)
            x, y, z = scene.path.warp(an, x, y, z, sph(an.t_in) - r0, sph, r0)
        sub = region[k0:k1]
        sub[sel] = _aspects_region(an, x, y, z, tissue[k0:k1][sel])
    return region
