"""The "voxelised" family: a labelled voxel phantom of the head, smoothed into tissue fractions.

Anatomical description (the framing of this family, after the classic computational phantoms):
the head is assembled as a coarse label volume (1.6-2.0 mm voxels, head frame in mm, patient LPS:
x to the patient's left, y posterior, z to the vertex, origin near the thalami) by rules of tissue
neighbourhood, then every label's indicator is Gaussian-smoothed into a fuzzy membership (tissue
fraction) before CT numbers are assigned.

1. A brain "seed" is a union of overlapping blobs placed by proportions of the skull's length,
   breadth and height (cerebrum, frontal, temporal and occipital lobes, diencephalon, cerebellum,
   a brainstem tube running down through the foramen magnum); a morphological closing and a
   dilation by the CSF thickness (1-4 mm, growing with age) fill the cranial cavity; the falx
   and the tentorium are thin planes cutting it; the petrous ridges, the clivus and the sphenoid
   body are bone labels carved out of its floor.
2. Tissue classes follow distances: a CSF layer under the inner table; sulci carved as random
   geodesic walks (20-60 mm) on the brain surface, cut 10-25 mm deep along the inward normal
   (more, and wider, in older heads); cortex as the outer 2.5-3.5 mm of brain measured from any
   CSF, white matter deeper; ventricles as a skeleton (polylines) dilated by varying radii;
   caudate, lentiform nuclei, thalami and the internal capsule placed relative to the
   ventricles; the insula at the depth of a carved sylvian fissure; cerebellar folia and
   basal cisterns.
3. The skull grows by distance outside the cavity: inner table, diploe, outer table with a
   regional thickness (thick frontal and occipital, thin temporal squama); sinuses and air cells
   (frontal, ethmoid, sphenoid, maxillary, mastoid), orbits with globes and lenses, scalp, fat,
   temporalis and neck muscles, the palate and, low down, teeth.
4. Labels become fractions by Gaussian smoothing (sigma 0.55-0.85 voxel); because the
   fractions of a partition sum to one and the smoothing is linear, the fraction-weighted CT
   number equals the smoothed label-wise CT number, which is what is computed. Fractions are
   resampled onto the scanner's grid with the patient's pose.

Patient variation: age 20-90 (atrophy, ventricle size, leukoaraiosis), head size, shape,
left-right asymmetry, pose (pitch, yaw, roll up to 15 degrees) and position in the field.
Lesions are label changes (blood replaces CSF or brain) passed through the same smoothing and
acquisition, so the blood mask (>= half a voxel of blood after partial volume) is exact.

CT physics, in the image domain: slice sensitivity profile (Gaussian, FWHM 1.0-1.5 x the
slice thickness) over 1 mm thin sampling; an anisotropic in-plane PSF that widens towards the
periphery; empirical beam hardening (a depression proportional to the bone crossed on the
shortest straight path to the edge, darkest between the petrous bones) plus soft cupping;
noise shaped by a kernel-dependent noise power spectrum, stronger centrally and at the skull
base; occasional ring artefact and dental metal streaks. Units: HU (int16, -1024..3071), mm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "voxelised"

TISSUES: tuple[str, ...] = (
    "air", "scalp", "fat", "muscle", "cortical_bone", "diploe", "tooth", "metal", "globe",
    "lens", "grey_matter", "white_matter", "caudate", "putamen", "pallidum", "thalamus",
    "internal_capsule", "brainstem", "cerebellum", "csf", "choroid_plexus", "dura",
    "venous_blood", "artery", "pituitary", "blood", "oedema", "calcification", "contrast",
    "thrombus",
)
"""Tissue classes of the label volume (indices of the tissue map)."""

Arr = npt.NDArray[Any]
Box = tuple[slice, slice, slice]
Vec = tuple[float, float, float]

_T = {name: i for i, name in enumerate(TISSUES)}
_BRAIN = ("grey_matter", "white_matter", "caudate", "putamen", "pallidum", "thalamus",
          "internal_capsule", "brainstem", "cerebellum")
_BRAIN_IDS = np.array([_T[n] for n in _BRAIN])
_GREYISH = np.array([_T[n] for n in ("grey_matter", "caudate", "putamen", "pallidum",
                                     "thalamus", "cerebellum")])
_WHITEISH = np.array([_T[n] for n in ("white_matter", "internal_capsule", "brainstem")])
_MIMIC_TISSUES = np.array([_T[n] for n in ("calcification", "contrast", "thrombus")])
_BONE_IDS = np.array([_T[n] for n in ("cortical_bone", "diploe", "tooth", "metal")])
_KERNELS = (("H31s", 0.2), ("Hr36", 0.35), ("Hr38", 0.45), ("H40s", 0.5), ("J40s", 0.5),
            ("STANDARD", 0.45), ("SOFT", 0.2), ("FC21", 0.35), ("FC26", 0.45), ("UB", 0.4),
            ("UC", 0.55), ("DETAIL", 0.75))


# --------------------------------------------------------------------------- coarse grid
@dataclass
class _Grid:
    """Coarse head-frame grid: real mm centres and 'standard head' mm coordinates."""

    vox: float
    x: Arr
    y: Arr
    z: Arr
    xs: Arr
    ys: Arr
    zs: Arr

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.z.size, self.y.size, self.x.size)

    @property
    def origin(self) -> Arr:
        return np.array([self.x[0], self.y[0], self.z[0]])

    def box(self, lo: Arr | Vec, hi: Arr | Vec) -> Box:
        """Index box of the voxels whose standard coordinates lie in [lo, hi]."""
        return (slice(int(np.searchsorted(self.zs, lo[2])), int(np.searchsorted(self.zs, hi[2],
                                                                                 "right"))),
                slice(int(np.searchsorted(self.ys, lo[1])), int(np.searchsorted(self.ys, hi[1],
                                                                                 "right"))),
                slice(int(np.searchsorted(self.xs, lo[0])), int(np.searchsorted(self.xs, hi[0],
                                                                                 "right"))))

    def std(self, sl: Box) -> tuple[Arr, Arr, Arr]:
        """Open-grid standard coordinates (Z, Y, X) of a box."""
        return (self.zs[sl[0]][:, None, None], self.ys[sl[1]][None, :, None],
                self.xs[sl[2]][None, None, :])

    def full(self) -> Box:
        return (slice(0, self.z.size), slice(0, self.y.size), slice(0, self.x.size))

    def to_std(self, p: Arr) -> Arr:
        """Real head-frame mm (n, 3) -> standard mm."""
        out = np.array(p, dtype=float, copy=True)
        out[:, 0] = np.interp(p[:, 0], self.x, self.xs)
        out[:, 1] = np.interp(p[:, 1], self.y, self.ys)
        out[:, 2] = np.interp(p[:, 2], self.z, self.zs)
        return out

    def to_real(self, p: Arr) -> Arr:
        """Standard mm (n, 3) -> real head-frame mm."""
        out = np.array(p, dtype=float, copy=True)
        out[:, 0] = np.interp(p[:, 0], self.xs, self.x)
        out[:, 1] = np.interp(p[:, 1], self.ys, self.y)
        out[:, 2] = np.interp(p[:, 2], self.zs, self.z)
        return out

    def index(self, p_std: Arr) -> Arr:
        """Nearest voxel indices (n, 3) in (z, y, x) order of standard points (n, 3)."""
        r = self.to_real(p_std)
        idx = np.rint((r[:, ::-1] - self.origin[::-1]) / self.vox).astype(int)
        out: Arr = np.clip(idx, 0, np.array(self.shape) - 1)
        return out


def _ell(g: _Grid, c: Vec, s: Vec, rot_deg: float = 0.0,
         s_down: float | None = None) -> tuple[Box, Arr]:
    """Ellipsoid (standard mm) as (box, mask); ``rot_deg`` turns it about z; ``s_down`` is a
    different lower z semi-axis."""
    r = max(s) if rot_deg else 0.0
    lo = np.array([c[0] - (r or s[0]), c[1] - (r or s[1]), c[2] - (s_down or s[2])]) - 1
    hi = np.array([c[0] + (r or s[0]), c[1] + (r or s[1]), c[2] + s[2]]) + 1
    sl = g.box(lo, hi)
    zz, yy, xx = g.std(sl)
    dx, dy, dz = xx - c[0], yy - c[1], zz - c[2]
    if rot_deg:
        ca, sa = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
        dx, dy = ca * dx + sa * dy, -sa * dx + ca * dy
    sz = s[2] if s_down is None else np.where(dz > 0, s[2], s_down)
    return sl, (dx / s[0]) ** 2 + (dy / s[1]) ** 2 + (dz / sz) ** 2 <= 1.0


def _tube(g: _Grid, pts: Sequence[Sequence[float]] | Arr,
          radii: Sequence[float] | Arr) -> tuple[Box, Arr]:
    """Polyline skeleton dilated by radii varying along it (standard mm) as (box, mask)."""
    p = np.asarray(pts, dtype=float)
    r = np.asarray(radii, dtype=float)
    dens, rad = [p[:1]], [r[:1]]
    for i in range(len(p) - 1):
        n = max(2, int(np.linalg.norm(p[i + 1] - p[i]) / 0.4) + 1)
        t = np.linspace(0, 1, n)[1:, None]
        dens.append(p[i] + t * (p[i + 1] - p[i]))
        rad.append(r[i] + t[:, 0] * (r[i + 1] - r[i]))
    pp, rr = np.concatenate(dens), np.concatenate(rad)
    sl = g.box(pp.min(0) - rr.max() - 1, pp.max(0) + rr.max() + 1)
    zz, yy, xx = np.broadcast_arrays(*g.std(sl))
    if zz.size == 0:
        return sl, np.zeros(zz.shape, bool)
    q = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], 1)
    d, i = cKDTree(pp).query(q, distance_upper_bound=float(rr.max()) + 1e-6)
    inside = d <= rr[np.minimum(i, len(rr) - 1)]
    return sl, inside.reshape(zz.shape)


def _paint(lab: Arr, sl: Box, m: Arr, value: int, onto: Arr | None = None,
           keep: Arr | None = None) -> Arr:
    """Set ``value`` on the box voxels of mask ``m`` (only over labels ``onto``); returns the
    painted full-size boolean mask when ``keep`` is given (accumulated into it)."""
    view = lab[sl]
    if onto is not None:
        m = m & np.isin(view, onto)
    view[m] = value
    if keep is not None:
        keep[sl] |= m
    return m


def _ids(*names: str) -> Arr:
    return np.array([_T[n] for n in names])


def _sm(x: Arr | float) -> Arr:
    """Smoothstep on [0, 1]."""
    t = np.clip(x, 0.0, 1.0)
    out: Arr = t * t * (3 - 2 * t)
    return out


# --------------------------------------------------------------------------- anatomy
@dataclass
class _Head:
    """The labelled phantom of one patient."""

    g: _Grid
    lab: Arr
    region: Arr
    vent: Arr  # 0 none, 1 frontal/body, 2 atrium/occipital, 3 temporal, 4 third, 5 fourth
    cavity: Arr
    supra: Arr
    d_in: Arr
    extra: Arr  # HU offsets on top of the tissue table
    csf_frac: Arr  # sub-voxel CSF fraction (narrow sulci)
    params: dict[str, Any]
    xm: float
    z_t: Any
    artery_segments: dict[str, tuple[Box, Arr]] = field(default_factory=dict)
    landmarks: dict[str, Vec] = field(default_factory=dict)


def _zt(xs: Arr, ys: Arr) -> Arr:
    """Tentorium height (standard mm) above (xs, ys)."""
    return -18.0 - 0.12 * np.maximum(ys - 10.0, 0.0) - 0.0045 * xs ** 2


def _yp(ax: Arr) -> Arr:
    """Petrous ridge line: the posterior fossa lies behind y > _yp(|x|)."""
    return np.clip((ax - 14.0) * 0.62, 0.0, None) - 2.0


def _anatomy(seed: int, vox: float) -> _Head:
    """Build the label volume of one patient (deterministic in ``seed``)."""
    rng = np.random.default_rng([seed % 2**32, 101])
    age = float(rng.uniform(20, 90))
    atro = float(np.clip(((age - 20) / 70) ** 1.6 + rng.normal(0, 0.08), 0, 1.1))
    sx, sy, sz = (float(v) for v in rng.normal(1.0, 0.045, 3).clip(0.9, 1.1))
    asym = float(rng.uniform(-0.03, 0.03))
    vs = float(np.clip(0.75 + 1.0 * atro + rng.normal(0, 0.1), 0.65, 1.9))
    t_csf = 1.0 + 3.0 * min(atro, 1.0) * float(rng.uniform(0.7, 1.0))
    t_ctx = float(rng.uniform(2.5, 3.5))
    t_bone = float(rng.uniform(5.0, 7.0))
    xm = float(rng.normal(0, 0.8))
    params: dict[str, Any] = {"age_years": round(age, 1), "atrophy": round(atro, 3),
                              "scale_xyz": [round(sx, 3), round(sy, 3), round(sz, 3)],
                              "asymmetry": round(asym, 3), "ventricle_scale": round(vs, 3),
                              "csf_layer_mm": round(t_csf, 2), "cortex_mm": round(t_ctx, 2),
                              "skull_mm": round(t_bone, 2), "coarse_voxel_mm": vox}

    hx, hy0, hy1 = 104 * sx, -132 * sy, 118 * sy
    g_x = np.arange(-hx, hx + 1e-6, vox)
    g_y = np.arange(hy0, hy1 + 1e-6, vox)
    g_z = np.arange(-102 * sz, 96 * sz + 1e-6, vox)
    g = _Grid(vox, g_x, g_y, g_z, g_x / (sx * (1 + asym * np.sign(g_x))), g_y / sy, g_z / sz)
    full = g.full()
    shape = g.shape
    lab = np.zeros(shape, np.uint8)
    Zs, Ys, Xs = g.std(full)

    # ---- 1. brain seed and cranial cavity
    seed_m = np.zeros(shape, bool)
    blobs: list[tuple[Box, Arr]] = [
        _ell(g, (0, 0, 14), (66, 84, 58), s_down=24),
        _ell(g, (0, -44, -2), (54, 40, 24)),
        _ell(g, (0, 52, -4), (52, 32, 26)),
        _ell(g, (0, 6, -4), (16, 18, 12)),
        _ell(g, (0, 50, -42), (50, 28, 20)),
    ]
    for s in (-1, 1):
        blobs.append(_ell(g, (s * 44, -4, -20), (23, 36, 20), rot_deg=s * 6))
    bs_pts: list[Vec] = [(0, 8, -4), (0, 14, -30), (0, 20, -55), (0, 24, -75), (0, 26, -110)]
    bs_r = [11.0, 12.0, 8.5, 7.0, 6.5]
    blobs.append(_tube(g, bs_pts, bs_r))
    for sl, m in blobs:
        seed_m[sl] |= m
    # closing by 5 mm, then dilation by the CSF layer: the cranial cavity
    dil = ndi.distance_transform_edt(~seed_m, sampling=vox) <= 5.0
    closed = ndi.distance_transform_edt(dil, sampling=vox) > 5.0 - 0.5 * vox
    closed |= seed_m
    for sl, m in (_ell(g, (0, -12, -22), (19, 12, 7)),):  # suprasellar / parasellar space
        closed[sl] |= m
    # distances are measured between voxel centres: a boundary lies half a voxel out
    cavity = ndi.distance_transform_edt(~closed, sampling=vox) <= t_csf + 0.5 * vox
    # skull-base bone carved out of the cavity floor
    base_bone = np.zeros(shape, bool)
    petrous = []
    for s in (-1, 1):
        sl, m = _ell(g, (s * 36, 12, -38), (27, 8, 7.5), rot_deg=s * 34)
        base_bone[sl] |= m
        petrous.append((sl, m))
    clv_sl = g.box((-13, -20, -70), (13, 20, -20))
    zz, yy, xx = g.std(clv_sl)
    a0, a1 = np.array([-12.0, -24.0]), np.array([12.0, -66.0])
    u = (a1 - a0) / np.linalg.norm(a1 - a0)
    ry, rz = yy - a0[0], zz - a0[1]
    t = np.clip(ry * u[0] + rz * u[1], 0, np.linalg.norm(a1 - a0))
    clv = (np.hypot(ry - t * u[0], rz - t * u[1]) <= 5.0) & (np.abs(xx) <= 13)
    base_bone[clv_sl] |= clv
    sph_sl, sph = _ell(g, (0, -19, -42), (14, 12, 9))
    base_bone[sph_sl] |= sph
    cavity &= ~base_bone
    cavity[g.box((-9, -20, -32), (9, -8, -22))] &= False  # the sella floor region
    # compartments
    z_t = _zt(Xs, Ys)
    infra_geom = (Zs < z_t) & (Ys > _yp(np.abs(Xs)))
    supra = cavity & ~infra_geom
    d_in = ndi.distance_transform_edt(cavity, sampling=vox).astype(np.float32)
    d_out = ndi.distance_transform_edt(~cavity, sampling=vox).astype(np.float32)

    # ---- 3. skull and soft tissues (laid first; the cavity is filled afterwards)
    frontal = _sm((-Ys - 40) / 35) * _sm((Zs + 30) / 30)
    occip = np.exp(-((Ys - 82) / 22) ** 2 - ((Zs + 22) / 22) ** 2)
    temporal = (np.exp(-((np.abs(Xs) - 66) / 12) ** 2) * np.exp(-((Zs + 12) / 22) ** 2)
                * np.exp(-((Ys + 4) / 34) ** 2))
    fs = float(rng.uniform(0.0, 1.2))
    fsin = fs * 9 * np.exp(-(Xs / (16 * max(fs, 0.3))) ** 2 - ((Ys + 88) / 10) ** 2
                           - ((Zs + 6) / 14) ** 2)
    t_total = t_bone * (1 + 0.3 * frontal + 0.5 * occip - 0.55 * temporal) + fsin
    t_in, t_out = float(rng.uniform(1.3, 2.0)), float(rng.uniform(1.6, 2.4))
    outside = ~cavity
    d_out -= 0.5 * vox
    bone = outside & (d_out <= t_total)
    lab[bone] = _T["diploe"]
    lab[bone & ((d_out <= t_in) | (d_out > t_total - t_out) | (t_total < t_in + t_out + 1))] = (
        _T["cortical_bone"])
    lab[base_bone] = _T["cortical_bone"]
    # envelope: scalp over the cranium, temporalis, the face and the neck
    tm = float(rng.uniform(5, 12))
    tmp = tm * np.exp(-((Zs + 4) / 24) ** 2) * np.exp(-((Ys + 8) / 32) ** 2) * _sm(
        (np.abs(Xs) - 35) / 15)
    t_scalp = float(rng.uniform(4.0, 7.0))
    env = outside & (d_out <= t_total + tmp + t_scalp)
    env |= cavity
    for sl, m in (_ell(g, (0, -50, -62), (56, 48, 40)), _ell(g, (0, 18, -100), (54, 52, 52)),
                  _ell(g, (0, -10, -70), (58, 50, 36))):
        env[sl] |= m
    soft = env & (lab == 0) & outside
    d_env = ndi.distance_transform_edt(env, sampling=vox)
    lab[soft] = _T["muscle"]
    skin_t, fat_t = float(rng.uniform(1.8, 3.0)), float(rng.uniform(1.5, 4.0))
    fat_layer = soft & (d_env <= skin_t + fat_t) & ~((d_out > t_total) & (d_out <= t_total + tmp))
    lab[fat_layer] = _T["fat"]
    lab[soft & (d_env <= skin_t)] = _T["scalp"]
    del d_env, fat_layer, soft, frontal, occip, temporal, fsin

    soft_ids = _ids("muscle", "fat", "scalp", "diploe", "cortical_bone")
    # sphenoid sinus, sella and pituitary
    ss = float(rng.uniform(0.6, 1.1))
    sl, m = _ell(g, (0, -22, -43), (11 * ss, 10 * ss, 8 * ss))
    _paint(lab, sl, m, _T["air"], onto=_ids("cortical_bone", "diploe"))
    sl, m = _ell(g, (0, -14, -27), (6, 5, 4))
    lab[sl][m] = _T["pituitary"]
    for s in (-1, 1):
        sl, m = _ell(g, (s * 12, -14, -29), (4.5, 9, 5))
        _paint(lab, sl, m, _T["venous_blood"], onto=_ids("cortical_bone", "diploe", "muscle"))
    # frontal sinus
    if fs > 0.25:
        sl, m = _ell(g, (0, -91, -6), (14 * fs, 4.5, 10 * fs))
        _paint(lab, sl, m, _T["air"], onto=_ids("diploe", "cortical_bone"))
    # orbits, globes, lenses, optic nerves; ethmoid, nasal cavity, maxillary sinuses
    for s in (-1, 1):
        pts: list[Vec] = [(s * 31, -80, -36), (s * 14, -42, -32)]
        sl, m = _tube(g, pts, [17.5, 5.0])
        _paint(lab, sl, m, _T["cortical_bone"], onto=soft_ids)
        sl, m = _tube(g, pts, [15.0, 3.0])
        _paint(lab, sl, m, _T["fat"], onto=soft_ids)
        sl, m = _tube(g, [(s * 29, -69, -36), (s * 14, -42, -32)], [2.2, 1.8])
        _paint(lab, sl, m, _T["muscle"])
        sl, m = _ell(g, (s * 31, -80, -36), (11.5, 11.5, 11.5))
        lab[sl][m] = _T["globe"]
        sl, m = _ell(g, (s * 31, -90.5, -36), (4.5, 1.8, 4.5))
        lab[sl][m] = _T["lens"]
        sl, m = _ell(g, (s * 27, -60, -62), (15, 18, 16))
        _paint(lab, sl, m, _T["cortical_bone"], onto=soft_ids)
        sl, m = _ell(g, (s * 27, -60, -62), (13, 16, 14))
        lab[sl][m] = _T["air"]
        # mastoid air cells (honeycomb) and the external auditory canal
        sl, m = _ell(g, (s * 53, 26, -50), (11, 13, 12))
        honey = rng.random(m.shape) < 0.45
        _paint(lab, sl, m & honey, _T["air"], onto=soft_ids)
        _paint(lab, sl, m & ~honey, _T["cortical_bone"], onto=soft_ids)
        sl, m = _tube(g, [(s * 78, 8, -44), (s * 52, 10, -44)], [4.0, 3.0])
        _paint(lab, sl, m, _T["air"], onto=soft_ids)
    sl, m = _ell(g, (0, -66, -38), (12, 20, 14))
    honey = rng.random(m.shape) < 0.55
    _paint(lab, sl, m & honey, _T["air"], onto=soft_ids)
    _paint(lab, sl, m & ~honey, _T["cortical_bone"], onto=soft_ids)
    sl, m = _ell(g, (0, -62, -62), (13, 26, 12))
    _paint(lab, sl, m, _T["air"], onto=soft_ids)
    sl, m = _ell(g, (0, -28, -72), (13, 9, 9))
    _paint(lab, sl, m, _T["air"], onto=soft_ids)
    sl = g.box((-1.2, -88, -80), (1.2, -45, -44))
    _paint(lab, sl, np.ones(lab[sl].shape, bool), _T["cortical_bone"], onto=_ids("air"))
    sl = g.box((-24, -88, -79), (24, -34, -74))
    _paint(lab, sl, np.ones(lab[sl].shape, bool), _T["cortical_bone"],
           onto=_ids("muscle", "fat", "air"))
    theta = np.linspace(-1.35, 1.35, 15)
    arch = np.stack([24 * np.sin(theta), -52 - 26 * np.cos(theta), np.full(15, -84.0)], 1)
    sl, m = _tube(g, arch, np.full(15, 7.0))
    _paint(lab, sl, m, _T["cortical_bone"], onto=_ids("muscle", "fat", "scalp"))
    teeth = arch.copy()
    for k in range(15):
        sl, m = _ell(g, tuple(teeth[k]), (3.2, 3.2, 5.0))
        lab[sl][m] = _T["tooth"]

    # ---- 2. brain: carve CSF spaces out of the seed, then classify by depth
    brain = seed_m & cavity
    # interhemispheric fissure and falx
    w_ih = max(1.2 + 3.5 * min(atro, 1.0), 0.5 * vox)
    z_f = 30.0 - 62.0 * _sm((np.abs(Ys - 5) - 25) / 30)
    fis_region = supra & (Zs > z_f)
    brain &= ~(fis_region & (np.abs(Xs - xm) <= w_ih / 2 + 0.5 * vox))
    falx = fis_region & (np.abs(Xs - xm) <= 0.55 * vox)
    # tentorium gap and plane
    near_t = np.abs(Zs - z_t)
    post = (Ys > _yp(np.abs(Xs)) + 2) & ~((np.abs(Xs) < 13) & (Ys < 30))
    brain &= ~(post & (near_t <= 0.5 * vox + 0.5 * t_csf))
    tent = cavity & post & (near_t <= 0.55 * vox)
    del near_t, post
    # sylvian fissures (the insula lies at their depth)
    w_syl = max(1.5 + 3.0 * min(atro, 1.0), vox)
    x_ins = 36.0 + 1.5 * atro
    sl = g.box((-70, -40, -20), (70, 22, 20))
    zz, yy, xx = g.std(sl)
    ax = np.abs(xx)
    deep = ((ax >= x_ins + 1.5) & (ax <= x_ins + 1.5 + w_syl)
            & (((yy + 4) / 20) ** 2 + ((zz - 2) / 13) ** 2 <= 1))
    stem = ((ax >= x_ins + 1.5) & (np.abs(zz - (-2 + 0.12 * yy)) <= w_syl / 2)
            & (yy >= -32) & (yy <= 16))
    brain[sl] &= ~(deep | stem)
    # basal cisterns
    for c, s3 in (((0, -12, -18), (11, 8, 4.5)), ((0, 30, -6), (8, 5, 5)),
                  ((0, 72, -56), (14, 8, 7))):
        sl, m = _ell(g, c, s3)
        brain[sl] &= ~m
    bs_sl, bs_m = _tube(g, bs_pts, bs_r)
    amb_sl, amb = _tube(g, bs_pts[:3], [r + 2.5 + 2 * atro for r in bs_r[:3]])
    zz = g.std(amb_sl)[0]
    bs_in_amb = np.zeros(shape, bool)
    bs_in_amb[bs_sl] = bs_m
    brain[amb_sl] &= ~(amb & ~bs_in_amb[amb_sl] & (zz > -22) & (zz < -2))
    # sulci: random geodesic walks on the surface, carved along the inward normal
    sulci, wide = _sulci(g, brain & supra & (Zs > -45), d_in, t_csf, rng, atro)
    brain &= ~sulci
    depth = ndi.distance_transform_edt(brain, sampling=vox)
    lab[cavity] = _T["csf"]
    bstem = np.zeros(shape, bool)
    bstem[bs_sl] = bs_m
    bstem &= brain & (Zs < -8)
    infra_b = brain & ~supra & ~bstem
    sup_b = brain & supra & ~bstem
    depth -= 0.5 * vox
    lab[sup_b & (depth <= t_ctx)] = _T["grey_matter"]
    lab[sup_b & (depth > t_ctx)] = _T["white_matter"]
    lab[bstem] = _T["brainstem"]
    lab[infra_b & (depth <= 9)] = _T["cerebellum"]
    lab[infra_b & (depth > 9)] = _T["white_matter"]
    per = float(rng.uniform(5.5, 7.5))
    folia = infra_b & (depth <= 8) & (((Zs - 0.35 * np.abs(Ys - 45)) / per) % 1.0 < 0.2)
    lab[folia] = _T["csf"]
    # narrow sulci are narrower than a voxel: grey matter holding a CSF fraction
    thin = sulci & ~wide
    lab[thin] = _T["grey_matter"]
    csf_frac = np.zeros(shape, np.float32)
    csf_frac[thin] = rng.uniform(0.3, 0.6, int(thin.sum())).astype(np.float32)
    lab[falx] = _T["dura"]
    lab[tent] = _T["dura"]
    del folia, infra_b, sup_b, fis_region

    # deep nuclei relative to the ventricles
    wm_gm = _ids("white_matter", "grey_matter", "csf")
    vent = np.zeros(shape, np.uint8)
    lat = [(-31, 12, 2.6, 6), (-22, 16, 4.8, 7), (-10, 19, 4.6, 8), (6, 21, 4.0, 9),
           (18, 18, 5.6, 17), (28, 13, 4.2, 17), (38, 9, 2.6, 15), (45, 7, 1.4, 13)]
    for s in (-1, 1):
        r_l = [p[2] * vs for p in lat]
        x_l = [s * max(1.0 + r, p[3] * (0.8 + 0.2 * vs)) if i < 4 else s * p[3] * (0.85 + 0.15 * vs)
               for i, (p, r) in enumerate(zip(lat, r_l, strict=True))]
        xf, rf = abs(x_l[1]), r_l[1]
        # caudate head and body, lentiform nuclei, thalamus
        sh = 1 - 0.2 * min(atro, 1.0)
        sl, m = _ell(g, (s * (xf + rf + 3.0), -18, 12), (4.5 * sh, 9, 8))
        _paint(lab, sl, m, _T["caudate"], onto=wm_gm)
        xb, rb = abs(x_l[3]), r_l[3]
        sl, m = _tube(g, [(s * (xf + rf + 2.5), -8, 19), (s * (xb + rb + 2), 8, 22),
                          (s * (xb + rb + 4), 18, 20)], [2.6 * sh, 1.8 * sh, 1.2 * sh])
        _paint(lab, sl, m, _T["caudate"], onto=wm_gm)
        sl, m = _ell(g, (s * 24, -2, 3), (5.5, 15, 10), rot_deg=-s * 8)
        _paint(lab, sl, m, _T["putamen"], onto=wm_gm)
        put_sl = sl
        sl, m = _ell(g, (s * 17.5, 0, 1), (3.2, 8, 6), rot_deg=-s * 8)
        _paint(lab, sl, m, _T["pallidum"], onto=_ids("white_matter", "grey_matter", "putamen"))
        sl, m = _ell(g, (s * (9.5 + 1.5 * (vs - 1)), 10, 6), (8, 13, 8.5))
        _paint(lab, sl, m, _T["thalamus"], onto=wm_gm)
        # internal capsule: white matter within 7 mm medial of the lentiform nucleus
        bsl = g.box((s * 4 if s > 0 else -40, -26, -8), (40 if s > 0 else -4, 26, 20))
        sub = lab[bsl]
        lent = np.isin(sub, _ids("putamen", "pallidum"))
        d_l = ndi.distance_transform_edt(~lent, sampling=vox)
        zz, yy, xx = g.std(bsl)
        icm = ((sub == _T["white_matter"]) & (d_l <= 7.0) & (s * xx < 19) & (zz > -5)
               & (zz < 18) & (yy > -22) & (yy < 20))
        sub[icm] = _T["internal_capsule"]
        del put_sl
        # lateral ventricle, temporal horn, choroid plexus
        pts3 = [(x_l[i], lat[i][0], lat[i][1]) for i in range(len(lat))]
        sl, m = _tube(g, pts3[:4], r_l[:4])
        _paint(lab, sl, m, _T["csf"])
        vent[sl][m] = 1
        sl, m = _tube(g, pts3[3:], r_l[3:])
        _paint(lab, sl, m, _T["csf"])
        vent[sl][m & (vent[sl] == 0)] = 2
        th = [(s * 19, 20, 14), (s * 27, 14, 2), (s * 31, 2, -12), (s * 30, -12, -20)]
        sl, m = _tube(g, th, [2.4 * vs, 1.9 * vs, 1.7 * vs, 1.3 * vs])
        _paint(lab, sl, m, _T["csf"])
        vent[sl][m & (vent[sl] == 0)] = 3
        sl, m = _tube(g, [(s * 16.5, 12, 18), (s * 17.5, 21, 16), (s * 16, 28, 13)],
                      [1.6, 2.3, 1.4])
        _paint(lab, sl, m & (vent[sl] > 0), _T["choroid_plexus"])
    sl, m = _ell(g, (0, -2, 4), (0.8 + 1.4 * vs, 13, 8))
    _paint(lab, sl, m, _T["csf"])
    vent[sl][m] = 4
    sl, m = _ell(g, (0, 31, -36), (5 * math.sqrt(vs), 3.5, 7))
    _paint(lab, sl, m, _T["csf"])
    vent[sl][m] = 5
    sl, m = _tube(g, [(0, 14, -4), (0, 28, -28)], [1.0, 1.0])
    _paint(lab, sl, m, _T["csf"])

    # venous sinuses on the wall of the cavity, arteries in the cisterns
    def to_wall(pts_w: list[Vec], centre: Vec, inset: float) -> Arr:
        p = np.asarray(pts_w, float)
        c = np.asarray(centre, float)
        d = p - c
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        radii = np.arange(0, 130, 1.0)
        ray = c[None, None, :] + d[:, None, :] * radii[None, :, None]
        idx = g.index(ray.reshape(-1, 3))
        ins = cavity[idx[:, 0], idx[:, 1], idx[:, 2]].reshape(len(p), len(radii))
        last = len(radii) - 1 - np.argmax(ins[:, ::-1], axis=1)
        return np.asarray(c + d * (radii[last] - inset)[:, None])

    ven = _ids("csf", "dura", "grey_matter", "white_matter", "cerebellum")
    ang = np.radians(np.linspace(-55, 205, 40))
    sss_dir = [(xm, -float(np.cos(a)) * 60, float(np.sin(a)) * 60) for a in ang]
    sss = to_wall(sss_dir, (xm, 0, 0), 3.0)
    sss = sss[sss[:, 2] > -24]
    sl, m = _tube(g, sss, np.full(len(sss), 3.3))
    _paint(lab, sl, m, _T["venous_blood"], onto=ven)
    for s in (-1, 1):
        tr: list[Vec] = [(0.0, 84, -28), (s * 25.0, 80, -31), (s * 45.0, 64, -36),
                         (s * 54.0, 44, -42), (s * 50.0, 30, -52), (s * 40.0, 24, -64)]
        w = to_wall(tr, (0, 30, -34), 3.0)
        sl, m = _tube(g, w, np.full(len(w), 3.2))
        _paint(lab, sl, m, _T["venous_blood"], onto=ven)
    sl, m = _tube(g, [(0, 32, -8), (0, 60, -20), (0, 80, -27)], [2.2, 2.2, 2.6])
    _paint(lab, sl, m, _T["venous_blood"], onto=ven)
    art_onto = _ids("csf", "grey_matter", "white_matter", "brainstem", "dura", "cerebellum")
    segs: dict[str, tuple[list[Vec], list[float]]] = {
        "basilar": ([(0, 6.5, -62), (0, 3.3, -42), (0, -1, -28), (0, -3, -20)],
                    [1.5, 1.5, 1.5, 1.4])}
    for s, side in ((1, "left"), (-1, "right")):
        segs[f"mca_{side}"] = ([(s * 13, -14, -21), (s * 26, -10, -18), (s * 36, -6, -12),
                                (s * 39, 0, -2)], [1.6, 1.5, 1.3, 1.1])
        segs[f"ica_{side}"] = ([(s * 13, -14, -28), (s * 13, -14, -21)], [2.0, 1.8])
        segs[f"aca_{side}"] = ([(s * 13, -14, -21), (s * 3, -20, -16), (s * 2, -32, -6),
                                (s * 2, -34, 14), (s * 2, -18, 30)], [1.2, 1.1, 1.0, 1.0, 0.9])
        segs[f"pca_{side}"] = ([(0, -3, -20), (s * 10, 2, -18), (s * 20, 18, -14),
                                (s * 16, 40, -10)], [1.2, 1.1, 1.0, 0.9])
        segs[f"vert_{side}"] = ([(s * 9, 20, -80), (s * 6, 14, -68), (s * 1.5, 7, -62)],
                                [1.5, 1.5, 1.5])
    art: dict[str, tuple[Box, Arr]] = {}
    for name, (p_a, r_a) in segs.items():
        sl, m = _tube(g, p_a, r_a)
        art[name] = (sl, _paint(lab, sl, m, _T["artery"], onto=art_onto))

    # ---- ASPECTS regions (codes 1..10 left, 11..20 right)
    region = np.zeros(shape, np.uint8)
    sl = g.box((-80, -60, -10), (80, 60, 40))
    zz, yy, xx = g.std(sl)
    sub = lab[sl]
    dep = depth[sl]
    sup = supra[sl]
    for s, base in ((1, 0), (-1, 10)):
        on_side = (s * xx) > 0
        rsub = region[sl]

        def put(mask: Arr, name: str, rsub: Arr = rsub, base: int = base) -> None:
            rsub[mask & (rsub == 0)] = base + 1 + ASPECTS_REGIONS.index(name)

        put(on_side & (sub == _T["caudate"]), "C")
        put(on_side & np.isin(sub, _ids("putamen", "pallidum")), "L")
        put(on_side & (sub == _T["internal_capsule"]), "IC")
        put(on_side & (sub == _T["grey_matter"]) & (s * xx >= x_ins - 5) & (s * xx <= x_ins + 3.5)
            & (yy > -26) & (yy < 18) & (zz > -12) & (zz < 16), "I")
        ctx = sup & on_side & ((sub == _T["grey_matter"])
                            | ((sub == _T["white_matter"]) & (dep <= 14)))
        for zlo, zhi, cx, rmin, names in ((-4, 12, 22.0, 16.0, ("M1", "M2", "M3")),
                                          (20, 34, 14.0, 22.0, ("M4", "M5", "M6"))):
            phi = np.degrees(np.arctan2(yy + 4, s * xx - cx))
            rr = np.hypot(s * xx - cx, yy + 4)
            lvl = ctx & (zz >= zlo) & (zz <= zhi) & (rr >= rmin)
            put(lvl & (phi >= -80) & (phi < -28), names[0])
            put(lvl & (phi >= -28) & (phi < 28), names[1])
            put(lvl & (phi >= 28) & (phi <= 80), names[2])

    # ---- per-voxel HU offsets: biological texture and periventricular leukoaraiosis
    extra = np.zeros(shape, np.float32)
    brain_now = np.isin(lab, _BRAIN_IDS)
    extra[brain_now] = rng.normal(0, 1.2, int(brain_now.sum())).astype(np.float32)
    lk = float(max(0.0, (age - 55) / 35) * rng.uniform(1.5, 5.0))
    if lk > 0.2:
        vsl = g.box((-45, -45, -25), (45, 55, 40))
        dv = ndi.distance_transform_edt(vent[vsl] == 0, sampling=vox)
        wm = lab[vsl] == _T["white_matter"]
        extra[vsl][wm] -= (lk * np.exp(-dv / 7.0))[wm].astype(np.float32)
    params.update({"leukoaraiosis_hu": round(lk, 2), "insula_x_mm": x_ins,
                   "frontal_sinus": round(fs, 2)})
    lm: dict[str, Vec] = {"foramen_magnum": (0, 22, -64), "teeth": (0, -60, -84),
                          "skull_base": (0, 10, -35)}
    csf_frac[lab != _T["grey_matter"]] = 0
    return _Head(g, lab, region, vent, cavity, supra, d_in, extra, csf_frac, params, xm, _zt,
                 art, lm)


def _sulci(g: _Grid, surf_brain: Arr, d_in: Arr, t_csf: float, rng: np.random.Generator,
           atro: float) -> tuple[Arr, Arr]:
    """Sulci carved along random geodesic walks on the brain surface: (all, wide) masks."""
    vox = g.vox
    shape = np.array(g.shape)
    cand = np.argwhere(surf_brain & (d_in <= t_csf + 1.5 * vox))
    n = int(rng.integers(45, 70) + 80 * min(atro, 1.0))
    if len(cand) == 0:
        return np.zeros(g.shape, bool), np.zeros(g.shape, bool)
    p = cand[rng.integers(0, len(cand), n)].astype(float)
    grad = np.gradient(ndi.gaussian_filter(d_in, 1.0))
    v = rng.normal(size=(n, 3))
    length = rng.uniform(20, 60, n)
    n_steps = np.ceil(length / vox).astype(int)
    depth_mm = rng.uniform(8, 16, n) + 9 * min(atro, 1.0) * rng.random(n)
    target = t_csf + 0.5 * vox
    bias = np.array([0.3, 0.0, 0.0]) * np.sign(rng.normal(size=(n, 1)))  # index z first
    v += bias * 3
    rec_p, rec_n, rec_d = [], [], []
    for step in range(int(n_steps.max())):
        ii = np.clip(np.rint(p).astype(int), 0, shape - 1)
        nrm = np.stack([grad[k][ii[:, 0], ii[:, 1], ii[:, 2]] for k in range(3)], 1)
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-6
        alive = step < n_steps
        rec_p.append(p[alive].copy())
        rec_n.append(nrm[alive])
        rec_d.append(depth_mm[alive])
        v = v + rng.normal(0, 0.35, v.shape) + bias
        v = v - (v * nrm).sum(1, keepdims=True) * nrm
        v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-6
        dcur = d_in[ii[:, 0], ii[:, 1], ii[:, 2]]
        p = p + v + nrm * ((target - dcur) / vox)[:, None]
    pp, nn, dd = np.concatenate(rec_p), np.concatenate(rec_n), np.concatenate(rec_d)
    out = np.zeros(g.shape, bool)
    wide = np.zeros(g.shape, bool)
    is_wide = rng.random(len(pp)) < 0.1 + 0.4 * min(atro, 1.0)
    for t in np.arange(-1.0, 26.0, 0.5 * vox):
        keep = t <= dd
        q = np.clip(np.rint(pp[keep] + nn[keep] * (t / vox)).astype(int), 0, shape - 1)
        out[q[:, 0], q[:, 1], q[:, 2]] = True
        w = is_wide[keep]
        wide[q[w, 0], q[w, 1], q[w, 2]] = True
    wide = ndi.binary_dilation(wide, iterations=1)
    return (out | wide) & surf_brain, wide & surf_brain


# --------------------------------------------------------------------------- pose, geometry
def _rotation(pitch: float, yaw: float, roll: float) -> Arr:
    """Head-to-scanner rotation (degrees): pitch about x, roll about y, yaw about z."""
    p, r, y = (math.radians(v) for v in (pitch, roll, yaw))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return np.asarray(rz @ rx @ ry)


@dataclass
class _Geo:
    """Scanner geometry: pose, output grid and the intermediate (thin-slice) grid."""

    rot: Arr
    t: Arr
    n: int
    m: int  # intermediate in-plane matrix
    fov: float
    dz: float
    nz: int
    z0: float
    ksub: int
    half: int
    w: Arr  # slice sensitivity weights over 2*half+1 thin slices

    @property
    def pix(self) -> float:
        return self.fov / self.n

    @property
    def pix_i(self) -> float:
        return self.fov / self.m

    @property
    def dzt(self) -> float:
        return self.dz / self.ksub


def _affine(g: _Grid, geo: _Geo, zt0: float, pix: float, n_pix: int, iy0: int, ix0: int,
            dzt: float) -> tuple[Arr, Arr]:
    """Matrix/offset (z, y, x order) mapping an output sub-grid index to a coarse index."""
    c = (n_pix - 1) / 2
    s0 = np.array([(ix0 - c) * pix, (iy0 - c) * pix, zt0])
    rt = geo.rot.T
    a = rt @ np.diag([pix, pix, dzt]) / g.vox
    b = (rt @ (s0 - geo.t) - g.origin) / g.vox
    perm = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]])
    return perm @ a @ perm, perm @ b


def _acquire(vol: Arr, g: _Grid, geo: _Geo, k0: int, k1: int, iy: tuple[int, int],
             ix: tuple[int, int], cval: float, psf: dict[str, float]) -> Arr:
    """Thin-slice sampling, slice sensitivity profile and in-plane PSF of output slices k0..k1
    over intermediate pixels iy x ix."""
    nk = k1 - k0
    zt0 = geo.z0 + k0 * geo.dz - geo.half * geo.dzt
    mat, off = _affine(g, geo, zt0, geo.pix_i, geo.m, iy[0], ix[0], geo.dzt)
    out = np.zeros((nk, iy[1] - iy[0], ix[1] - ix[0]), np.float32)
    chunk = max(1, int(4e6 // max(1, out[0].size)) // geo.ksub)
    for c0 in range(0, nk, chunk):
        c1 = min(nk, c0 + chunk)
        t0 = c0 * geo.ksub
        nt = (c1 - c0 - 1) * geo.ksub + 2 * geo.half + 1
        o2 = off + mat[:, 0] * t0
        thin = ndi.affine_transform(vol, mat, offset=o2, output_shape=(nt,) + out.shape[1:],
                                    order=1, mode="constant", cval=cval, prefilter=False)
        for j, wj in enumerate(geo.w):
            out[c0:c1] += np.float32(wj) * thin[j::geo.ksub][: c1 - c0]
    # in-plane PSF: anisotropic, wider towards the periphery (fan beam)
    sy, sx = psf["sigma_y_mm"] / geo.pix_i, psf["sigma_x_mm"] / geo.pix_i
    if max(sy, sx) > 0.25:
        f = psf["periphery_factor"]
        narrow = ndi.gaussian_filter(out, (0, sy, sx), truncate=3.0)
        wide = ndi.gaussian_filter(out, (0, sy * f, sx * f), truncate=3.0)
        c = (geo.m - 1) / 2
        yy = ((np.arange(iy[0], iy[1]) - c) * geo.pix_i)[:, None]
        xx = ((np.arange(ix[0], ix[1]) - c) * geo.pix_i)[None, :]
        wr = np.clip((yy ** 2 + xx ** 2) / 110.0 ** 2, 0, 1).astype(np.float32)
        out = narrow * (1 - wr) + wide * wr
    return out


def _upsample(a: Arr, r: int) -> Arr:
    """Linear in-plane upsampling by an integer factor r with pixel-centred grids."""
    if r == 1:
        return a
    for axis in (1, 2):
        n = a.shape[axis]
        idx = np.arange(n * r)
        u = (idx + 0.5) / r - 0.5
        i0 = np.floor(u).astype(int)
        fr = (u - i0).astype(np.float32)
        lo, hi = np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1)
        shp = [1, 1, 1]
        shp[axis] = n * r
        fr = fr.reshape(shp)
        a = np.take(a, lo, axis=axis) * (1 - fr) + np.take(a, hi, axis=axis) * fr
    return a


def _nearest(vol: Arr, g: _Grid, geo: _Geo) -> Arr:
    """Nearest-neighbour labels at the slice centres (intermediate grid, repeated to n)."""
    mat, off = _affine(g, geo, geo.z0, geo.pix_i, geo.m, 0, 0, geo.dz)
    out: Arr = ndi.affine_transform(vol, mat, offset=off, output_shape=(geo.nz, geo.m, geo.m),
                               order=0, mode="constant", cval=0, prefilter=False)
    r = geo.n // geo.m
    if r > 1:
        out = np.repeat(np.repeat(out, r, axis=1), r, axis=2)
    return out


# --------------------------------------------------------------------------- lesions, mimics
def _fill(f: Arr, allowed: Arr, n: int) -> Arr:
    """Mask of the n allowed voxels with the lowest priority value f."""
    m = np.zeros(f.shape, bool)
    flat = np.flatnonzero(allowed)
    if n <= 0 or flat.size == 0:
        return m
    n = min(n, flat.size)
    vals = f.ravel()[flat]
    pick = flat[np.argpartition(vals, n - 1)[:n]] if n < flat.size else flat
    m.ravel()[pick] = True
    return m


def _pert(rng: np.random.Generator, dx: Arr, dy: Arr, dz: Arr, amp: float) -> Arr:
    """Smooth random modulation of a radius over directions (lumpy outline)."""
    rr = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2) + 1e-6
    ux, uy, uz = dx / rr, dy / rr, dz / rr
    out = np.zeros(np.broadcast(ux, uy, uz).shape)
    for _ in range(5):
        k = rng.normal(size=3) * rng.uniform(1.5, 3.5)
        out = out + np.cos(k[0] * ux + k[1] * uy + k[2] * uz + rng.uniform(0, 6.3))
    return 1 + amp * out / 2.2


def _mimics(h: _Head, label: NcctLabel, rng: np.random.Generator,
            hu: dict[str, float]) -> tuple[Arr, dict[str, Any]]:
    """Paint label.mimics; return the keep-out mask for bleeds and the mimics' descriptions."""
    g, lab, extra = h.g, h.lab, h.extra
    drawn = np.zeros(g.shape, bool)
    info: dict[str, Any] = {}
    calc = _T["calcification"]
    soft_brain = np.concatenate([_BRAIN_IDS, _ids("csf", "choroid_plexus", "dura")])
    for name in label.mimics:
        if name == "choroid_plexus_calcification":
            v = float(rng.uniform(200, 700))
            sides = (1, -1) if rng.random() < 0.8 else (int(rng.choice([1, -1])),)
            for s in sides:
                r = float(rng.uniform(3.5, 5.5))
                sl, m = _ell(g, (s * 17.5, 21, 16), (r, r * 1.2, r))
                m = _paint(lab, sl, m, calc, onto=soft_brain, keep=drawn)
                extra[sl][m] = v - hu["calcification"]
            info[name] = {"hu": round(v), "sides": len(sides)}
        elif name == "pineal_calcification":
            v, r = float(rng.uniform(120, 500)), float(rng.uniform(2.5, 4.0))
            sl, m = _ell(g, (h.xm, 24, 4), (r, r, r))
            m = _paint(lab, sl, m, calc, onto=soft_brain, keep=drawn)
            extra[sl][m] = v - hu["calcification"]
            info[name] = {"hu": round(v), "radius_mm": round(r, 1)}
        elif name == "basal_ganglia_calcification":
            v = float(rng.uniform(110, 400))
            for s in (1, -1):
                for _ in range(int(rng.integers(1, 3))):
                    r = float(rng.uniform(2.0, 3.5))
                    c = (s * 17.5 + rng.normal(0, 1), float(rng.normal(0, 2.5)),
                         1 + float(rng.normal(0, 1.5)))
                    sl, m = _ell(g, c, (r, r * 1.3, r))
                    m = _paint(lab, sl, m, calc, onto=soft_brain, keep=drawn)
                    extra[sl][m] = v - hu["calcification"]
            info[name] = {"hu": round(v)}
        elif name == "falx_calcification":
            v = float(rng.uniform(250, 900))
            for _ in range(int(rng.integers(1, 4))):
                c = (h.xm, float(rng.uniform(-45, 35)), float(rng.uniform(36, 55)))
                sl, m = _ell(g, c, (1.8, float(rng.uniform(6, 12)), float(rng.uniform(3, 7))))
                m = _paint(lab, sl, m, calc, onto=soft_brain, keep=drawn)
                extra[sl][m] = v - hu["calcification"]
            info[name] = {"hu": round(v)}
        elif name == "hyperdense_vessel":
            seg = "basilar" if rng.random() < 0.3 else str(rng.choice(["mca_left", "mca_right"]))
            sl, m = h.artery_segments[seg]
            big = ndi.binary_dilation(m, iterations=1) if seg != "basilar" else m
            big = _paint(lab, sl, big, _T["thrombus"],
                         onto=np.concatenate([_ids("artery", "csf"), _BRAIN_IDS]), keep=drawn)
            info[name] = {"vessel": seg, "hu": hu["thrombus"]}
        elif name == "residual_contrast":
            which = ["artery", "venous_blood"] + (["choroid_plexus"] if rng.random() < 0.6
                                                   else [])
            m = np.isin(lab, _ids(*which))
            lab[m] = _T["contrast"]
            drawn |= m
            info[name] = {"in": which, "hu": hu["contrast"]}
        elif name == "streak_artefact":
            info[name] = {"head_z_mm": float(rng.uniform(-42, -22)),
                          "n_streaks": int(rng.integers(2, 5)),
                          "amplitude_hu": float(rng.uniform(30, 60)),
                          "angle_deg": float(rng.uniform(-25, 25)),
                          "seed": int(rng.integers(10**9))}
    keep_out = ndi.binary_dilation(drawn, iterations=2) if drawn.any() else drawn
    return keep_out, info


def _bleeds(h: _Head, label: NcctLabel, rng: np.random.Generator, rot: Arr,
            keep_out: Arr, base_hu: float) -> tuple[Arr, dict[str, Any]]:
    """Paint label.bleeds as label changes; returns the coarse kind map (0 / 1+kind)."""
    g, lab, extra, vox = h.g, h.lab, h.extra, h.g.vox
    kind_map = np.zeros(g.shape, np.uint8)
    vml = vox ** 3 / 1000.0
    info: dict[str, Any] = {}
    full = g.full()
    Zs, Ys, Xs = g.std(full)
    brain_ids = _BRAIN_IDS
    blood = _T["blood"]
    for kind in label.bleeds:
        k = BLEED_KINDS.index(kind) + 1
        free = ~keep_out & (kind_map == 0)
        site: dict[str, Any] = {}
        if kind == "intraparenchymal":
            where = str(rng.choice(["putamen", "thalamus", "lobar", "cerebellar", "brainstem"],
                                   p=[0.3, 0.15, 0.3, 0.15, 0.1]))
            s = float(rng.choice([-1, 1]))
            vol = {"putamen": (5, 45), "thalamus": (3, 20), "lobar": (8, 60),
                   "cerebellar": (3, 25), "brainstem": (1, 5)}[where]
            v = float(rng.uniform(*vol)) if rng.random() > 0.2 else float(rng.uniform(1, 5))
            if where == "brainstem":
                v = min(v, 5.0)
            lobes = {"frontal": (30, -45, 25), "parietal": (33, 25, 38), "temporal": (44, -5, -16),
                     "occipital": (24, 55, 6)}
            lobe = str(rng.choice(list(lobes)))
            c_site = {"putamen": (24, -2, 3), "thalamus": (10, 10, 6), "lobar": lobes[lobe],
                      "cerebellar": (22, 50, -42), "brainstem": (0, 13, -30)}[where]
            cc = np.array([s * c_site[0], c_site[1], c_site[2]]) + rng.normal(0, 2, 3)
            ax3 = rng.uniform(0.75, 1.3, 3)
            r0 = (3 * v * 1000 / (4 * math.pi)) ** (1 / 3) * 2.2
            sl = g.box(cc - r0, cc + r0)
            zz, yy, xx = g.std(sl)
            dx, dy, dz = (xx - cc[0]) / ax3[0], (yy - cc[1]) / ax3[1], (zz - cc[2]) / ax3[2]
            f = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2) / _pert(rng, dx, dy, dz, 0.22)
            ok_ids = _ids("brainstem") if where == "brainstem" else brain_ids
            allowed = np.isin(lab[sl], ok_ids) & free[sl]
            m = _fill(f, allowed, int(round(v / vml)))
            # oedema rim and ventricular effacement (mass effect)
            r_oed = float(rng.uniform(0.0, 6.0))
            if m.any():
                dist = ndi.distance_transform_edt(~m, sampling=vox)
                sub = lab[sl]
                oed = (dist <= r_oed) & (dist > 0) & np.isin(sub, brain_ids) & ~keep_out[sl]
                sub[oed] = _T["oedema"]
                eff = (dist <= r_oed + 6) & (h.vent[sl] > 0) & (sub == _T["csf"]) & ~m
                sub[eff] = _T["white_matter"]
            site = {"site": where if where != "lobar" else f"lobar_{lobe}",
                    "side": "left" if s > 0 else "right", "oedema_mm": round(r_oed, 1)}
        elif kind == "intraventricular":
            ventr = (h.vent > 0) & (lab == _T["csf"]) & free
            if rng.random() < 0.6:
                g_head = rot.T @ np.array([0.0, 1.0, 0.0])  # gravity (posterior) in the head
                f = -(Xs * g_head[0] + Ys * g_head[1] + Zs * g_head[2])
                allowed = ventr & np.isin(h.vent, [1, 2])
                avail = int(allowed.sum())
                v = min(float(rng.uniform(1.5, 12)), 0.55 * avail * vml)
                m = _fill(np.broadcast_to(f, g.shape), allowed, int(round(v / vml)))
                site = {"pattern": "dependent_layering"}
            else:
                comp = int(rng.choice([1, 2, 4]))
                cand = np.argwhere(ventr & (h.vent == comp))
                if len(cand) == 0:
                    cand = np.argwhere(ventr)
                c0 = cand[rng.integers(len(cand))]
                zi, yi, xi = np.ogrid[: g.shape[0], : g.shape[1], : g.shape[2]]
                f = np.sqrt((zi - c0[0]) ** 2 + (yi - c0[1]) ** 2 + (xi - c0[2]) ** 2) * vox
                avail = int(ventr.sum())
                v = min(float(rng.uniform(3, 30)), 0.7 * avail * vml)
                m = _fill(f, ventr, int(round(v / vml)))
                site = {"pattern": "cast"}
            sl = full
        elif kind == "subarachnoid":
            sub_csf = (lab == _T["csf"]) & (h.vent == 0) & h.cavity
            allowed = (sub_csf | ((lab == _T["grey_matter"])
                                  & ndi.binary_dilation(sub_csf, iterations=1))) & free
            pen = np.where(lab == _T["grey_matter"], 6.0, 0.0)
            if rng.random() < 0.6:
                c = np.array([0.0, -8.0, -18.0])
                v = float(rng.uniform(5, 25))
                site = {"pattern": "diffuse_basal"}
            else:
                s = float(rng.choice([-1, 1]))
                a = rng.uniform(-0.9, 0.9)
                c = np.array([s * 55 * math.cos(a), 55 * math.sin(a) - 5, 42.0])
                v = float(rng.uniform(1.2, 5))
                site = {"pattern": "focal_convexity", "side": "left" if s > 0 else "right"}
            pen = pen + np.where(h.d_in < 3.0, 10.0, 0.0)  # prefer cisterns and sulci to the
            f = (np.sqrt((Xs - c[0]) ** 2 + (Ys - c[1]) ** 2 + (Zs - c[2]) ** 2) + pen  # table
                 + rng.normal(0, 3, g.shape))
            if site["pattern"] == "focal_convexity":  # sulcal clots: at least two voxels thick
                m = _fill(f, allowed, int(round(v / vml / 2.5)))
                m = ndi.binary_dilation(m, iterations=1) & allowed
            else:
                m = _fill(f, allowed, int(round(v / vml)))
            sl = full
        elif kind in ("subdural", "epidural"):
            s = float(rng.choice([-1, 1]))
            cav = h.cavity & free & np.isin(lab, np.concatenate([brain_ids, _ids("csf")]))
            cav &= h.vent == 0
            if kind == "subdural":
                pattern = str(rng.choice(["convexity", "tentorial", "falcine"], p=[0.7, 0.15,
                                                                                     0.15]))
            else:
                pattern = "convexity"
            if pattern == "convexity":
                if kind == "subdural":
                    v, width = float(rng.uniform(10, 60)), float(rng.uniform(45, 70))
                    el, az = rng.uniform(0.1, 0.7), rng.uniform(-0.6, 0.5)
                else:
                    v, width = float(rng.uniform(6, 60)), float(rng.uniform(18, 32))
                    el, az = rng.uniform(-0.15, 0.45), rng.uniform(-0.5, 0.5)
                d0 = np.array([s * math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                               math.sin(el)])
                c = np.array([0.0, 0.0, 10.0])
                dx, dy, dz = Xs - c[0], Ys - c[1], Zs - c[2]
                rr = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2) + 1e-6
                cosang = np.clip((dx * d0[0] + dy * d0[1] + dz * d0[2]) / rr, -1, 1)
                ang = np.degrees(np.arccos(cosang))
                allowed = cav & h.supra & (s * (Xs - h.xm) > 1.0)
                want = float(rng.uniform(6, 15) if kind == "subdural" else rng.uniform(10, 30))
                for _ in range(5):
                    if kind == "subdural":
                        prof = np.exp(-(ang / width) ** 4)
                    else:
                        prof = np.clip(1 - (ang / width) ** 2, 0, None)
                    f = np.where(prof > 0.02, h.d_in / np.maximum(prof, 1e-3), 1e9)
                    m = _fill(f, allowed & (prof > 0.02), int(round(v / vml)))
                    thick = float(np.max(h.d_in[m])) if m.any() else 0.0
                    if abs(thick - want) < 0.2 * want:
                        break
                    width = float(np.clip(width * (thick / max(want, 1.0)) ** 0.5, 12, 110))
                site = {"pattern": pattern, "side": "left" if s > 0 else "right",
                        "max_thickness_mm": round(thick, 1)}
            elif pattern == "tentorial":
                v = float(rng.uniform(2, 10))
                c = np.array([s * 25, 50.0, -30.0])
                f = np.abs(Zs - h.z_t(Xs, Ys)) * 3 + np.sqrt((Xs - c[0]) ** 2 + (Ys - c[1]) ** 2)
                allowed = cav & (s * Xs > 2) & (Ys > 10)
                m = _fill(np.broadcast_to(f, g.shape), allowed, int(round(v / vml)))
                site = {"pattern": pattern, "side": "left" if s > 0 else "right"}
            else:
                v = float(rng.uniform(2, 12))
                c = np.array([h.xm, float(rng.uniform(-30, 30)), 35.0])
                f = np.abs(Xs - h.xm) * 4 + np.sqrt((Ys - c[1]) ** 2 + (Zs - c[2]) ** 2)
                allowed = cav & h.supra & (np.abs(Xs - h.xm) < 14)
                m = _fill(np.broadcast_to(f, g.shape), allowed, int(round(v / vml)))
                site = {"pattern": pattern}
            sl = full
            # sulcal effacement beneath the collection
            if m.any() and pattern == "convexity":
                near = ndi.binary_dilation(m, iterations=max(1, int(8 / vox)))
                eff = near & ~m & (lab == _T["csf"]) & (h.vent == 0) & (h.d_in > 3.5)
                lab[eff] = _T["grey_matter"]
        else:  # pragma: no cover - NcctLabel validates kinds
            continue
        sub_lab, sub_kind, sub_extra = lab[sl], kind_map[sl], extra[sl]
        sub_lab[m] = blood
        sub_kind[m] = k
        hu_k = base_hu if kind not in ("subarachnoid", "intraventricular") else max(base_hu, 58)
        sub_extra[m] = hu_k - base_hu
        site["drawn_ml"] = round(float(m.sum()) * vml, 2)
        info[kind] = site
    return kind_map, info


# --------------------------------------------------------------------------- CT numbers
def _tissue_hu(rng: np.random.Generator) -> dict[str, float]:
    """Per-case CT numbers of the tissue classes (HU)."""
    gm = float(rng.uniform(34, 42))
    wm = float(np.clip(gm - rng.uniform(9.0, 12.5), 24, 31))
    gm = max(gm, wm + 9.0)
    deep = float(np.clip(gm - rng.uniform(0, 1.0), 32, 40))
    return {"air": -1000.0, "scalp": float(rng.uniform(35, 60)), "fat": float(rng.uniform(-110,
                                                                                          -85)),
            "muscle": float(rng.uniform(40, 60)), "cortical_bone": float(rng.uniform(1100, 1900)),
            "diploe": float(rng.uniform(250, 700)), "tooth": float(rng.uniform(2000, 2800)),
            "metal": 3071.0, "globe": float(rng.uniform(5, 15)),
            "lens": float(rng.uniform(90, 130)), "grey_matter": gm, "white_matter": wm,
            "caudate": deep, "putamen": deep, "pallidum": deep + float(rng.uniform(-1, 3)),
            "thalamus": deep - float(rng.uniform(0, 3)), "internal_capsule": wm - 1.0,
            "brainstem": wm + float(rng.uniform(2, 6)), "cerebellum": gm - float(rng.uniform(0, 3)),
            "csf": float(rng.uniform(0, 12)), "choroid_plexus": float(rng.uniform(32, 45)),
            "dura": float(rng.uniform(40, 55)), "venous_blood": float(rng.uniform(38, 50)),
            "artery": float(rng.uniform(38, 48)), "pituitary": float(rng.uniform(35, 45)),
            "blood": 60.0, "oedema": wm - float(rng.uniform(4, 9)), "calcification": 300.0,
            "contrast": float(rng.uniform(120, 300)), "thrombus": float(rng.uniform(55, 80))}


def _ischaemia(h: _Head, label: NcctLabel, delta: float) -> None:
    """Early ischaemic change: grey matter -delta, white matter -0.6 delta in the regions."""
    if not label.ischaemic_regions:
        return
    base = 0 if label.ischaemic_side == "left" else 10
    codes = [base + 1 + ASPECTS_REGIONS.index(r) for r in set(label.ischaemic_regions)]
    in_reg = np.isin(h.region, codes)
    grey = in_reg & np.isin(h.lab, _GREYISH)
    white = in_reg & np.isin(h.lab, _WHITEISH)
    h.extra[grey] -= np.float32(delta)
    h.extra[white] -= np.float32(0.6 * delta)


# --------------------------------------------------------------------------- image domain
def _lines(shape: tuple[int, int], pix: float, centre: Arr, angles: Arr, amps: Arr,
           width_mm: float, decay_mm: float) -> Arr:
    """Streaks through ``centre`` (mm, scanner x/y) at ``angles`` with signed amplitudes."""
    ny, nx = shape
    yy = ((np.arange(ny) - (ny - 1) / 2) * pix)[:, None] - centre[1]
    xx = ((np.arange(nx) - (nx - 1) / 2) * pix)[None, :] - centre[0]
    rr = np.hypot(xx, yy)
    out = np.zeros(shape, np.float32)
    for a, amp in zip(angles, amps, strict=True):
        perp = np.abs(-math.sin(a) * xx + math.cos(a) * yy)
        out += (amp * np.exp(-(perp / width_mm) ** 2) * np.exp(-rr / decay_mm)).astype(np.float32)
    return out


def _noise(rng: np.random.Generator, shape: tuple[int, int, int], pix: float,
           sharp: float) -> Arr:
    """White noise shaped by a kernel-dependent NPS (ramp x apodisation), unit SD."""
    nz, ny, nx = shape
    white = rng.standard_normal(shape, dtype=np.float32)
    fy = np.fft.fftfreq(ny, d=pix)[:, None]
    fx = np.fft.rfftfreq(nx, d=pix)[None, :]
    fr = np.sqrt(fy ** 2 + fx ** 2)
    fc = 0.3 + 0.6 * sharp  # cycles / mm
    filt = (np.sqrt(fr / (fr.max() + 1e-9)) * np.exp(-(fr / fc) ** 2 / 2)).astype(np.float32)
    out = sfft.irfft2(sfft.rfft2(white, workers=1) * filt, s=(ny, nx), workers=1)
    sd = float(out[:, :: max(1, ny // 64), :: max(1, nx // 64)].std()) + 1e-9
    return np.asarray(out / np.float32(sd), dtype=np.float32)


# --------------------------------------------------------------------------- main entry
def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, Arr, Arr]:
    """Render one case; returns (case, region map, tissue map) on the volume's grid."""
    vox = 2.0 if matrix <= 128 else (1.8 if matrix <= 256 else 1.6)
    h = _anatomy(seed, vox)
    g = h.g
    r_pose = np.random.default_rng([seed % 2**32, 202])
    r_hu = np.random.default_rng([seed % 2**32, 303])
    r_phys = np.random.default_rng([seed % 2**32, 404])
    r_les = np.random.default_rng([seed % 2**32, 505])
    r_mim = np.random.default_rng([seed % 2**32, 606])
    hu = _tissue_hu(r_hu)
    acute = float(r_hu.uniform(50, 90)) if r_hu.random() > 0.12 else float(r_hu.uniform(44, 55))
    hu["blood"] = acute

    # ---- pose and scanner geometry
    pitch, yaw, roll = (float(v) for v in np.clip(r_pose.normal(0, [7, 5, 4]), -15, 15))
    rot = _rotation(pitch, yaw, roll)
    t = np.array([r_pose.uniform(-12, 12), r_pose.uniform(-14, 10), 0.0])
    skull = np.isin(h.lab[::3, ::3, ::3], _BONE_IDS) | h.cavity[::3, ::3, ::3]
    sk = (g.origin + np.argwhere(skull)[:, ::-1] * 3 * vox) @ rot.T + t
    need = float(np.abs(sk[:, :2]).max()) + 4
    fov = max(float(r_pose.uniform(200, 250)), 2 * need)
    if fov > 250:
        t[:2] -= (sk[:, :2].max(0) + sk[:, :2].min(0)) / 2
        sk[:, :2] -= (sk[:, :2].max(0) + sk[:, :2].min(0)) / 2
        fov = float(min(250.0, 2 * (np.abs(sk[:, :2]).max() + 4)))
    dz = float(r_phys.choice([2.5, 3.0, 3.75, 4.0, 5.0]))
    real_lm = {k: g.to_real(np.array([v]))[0] @ rot.T + t for k, v in h.landmarks.items()}
    dental = bool(r_phys.random() < 0.12)
    z_bot = float(real_lm["foramen_magnum"][2] - r_phys.uniform(5, 18))
    if dental:
        z_bot = min(z_bot, float(real_lm["teeth"][2]))
    z_top = float(sk[:, 2].max() + r_phys.uniform(0, 4))
    nz = int(math.ceil((z_top - z_bot) / dz)) + 1
    ssp_fwhm = dz * float(r_phys.uniform(1.0, 1.5))
    ksub = max(2, int(math.ceil(dz / 1.0)))
    sigma = ssp_fwhm / 2.3548
    half = int(math.ceil(2.5 * sigma / (dz / ksub)))
    wt = np.exp(-0.5 * ((np.arange(-half, half + 1) * dz / ksub) / sigma) ** 2)
    geo = _Geo(rot, t, matrix, min(matrix, 256), fov, dz, nz, z_bot, ksub, half, wt / wt.sum())
    if matrix % geo.m:
        geo.m = matrix
    kernel, sharp = _KERNELS[int(r_phys.integers(len(_KERNELS)))]
    psf = {"sigma_x_mm": float(r_phys.uniform(0.3, 0.55) * (1.2 - 0.5 * sharp)),
           "periphery_factor": float(r_phys.uniform(1.3, 1.8))}
    psf["sigma_y_mm"] = psf["sigma_x_mm"] * float(r_phys.uniform(0.8, 1.3))

    # ---- lesions and mimics (label changes)
    keep_out, mim_info = _mimics(h, label, r_mim, hu)
    if dental:
        sl, m = _ell(g, (float(r_phys.uniform(-16, 16)), -70, -84), (3.0, 3.0, 2.5))
        _paint(h.lab, sl, m, _T["metal"], onto=_ids("tooth", "cortical_bone"))
    delta = float(r_les.uniform(2.5, 6.0)) if label.ischaemic_regions else None
    if delta is not None:
        _ischaemia(h, label, delta)
    kind_map, bleed_info = _bleeds(h, label, r_les, rot, keep_out, acute)
    swirl = bool(label.bleeds) and r_les.random() < 0.2
    if swirl:
        bl = kind_map == 1 + BLEED_KINDS.index(label.bleeds[0])
        if bl.any():
            nse = ndi.gaussian_filter(r_les.standard_normal(g.shape).astype(np.float32), 1.2)
            sw = bl & (nse > 0.05)
            h.extra[sw] -= np.float32(r_les.uniform(10, 18))
            h.extra[bl] = np.maximum(h.extra[bl], np.float32(44 - acute))

    # ---- tissue fractions -> CT numbers (linear: smoothing the label-wise HU)
    lut = np.array([hu[n] for n in TISSUES], np.float32)
    vol = lut[h.lab] + h.extra
    vol += h.csf_frac * (hu["csf"] - vol)
    fsig = float(r_phys.uniform(0.45, 0.6))
    aa = 0.42 * math.sqrt(max(geo.pix_i ** 2 - vox ** 2, 0.0)) / vox
    sig3 = (fsig, math.hypot(fsig, aa), math.hypot(fsig, aa))
    vol = ndi.gaussian_filter(vol, sig3, truncate=3.0)
    hu_i = _acquire(vol, g, geo, 0, nz, (0, geo.m), (0, geo.m), -1000.0, psf)
    del vol

    # ---- beam hardening (bone on the shortest straight path to the edge) and cupping
    bone = (hu_i > 300).astype(np.float32) * geo.pix_i
    paths = [np.cumsum(bone, axis=ax) for ax in (1, 2)]
    paths += [np.flip(np.cumsum(np.flip(bone, ax), axis=ax), ax) for ax in (1, 2)]
    lmin = np.minimum(np.minimum(paths[0], paths[1]), np.minimum(paths[2], paths[3]))
    del paths, bone
    kappa, l0 = float(r_phys.uniform(0.25, 0.6)), float(r_phys.uniform(7, 11))
    dep = np.clip(kappa * (lmin - l0), 0, 25).astype(np.float32)
    dep = ndi.gaussian_filter(dep, (0, 2.0 / geo.pix_i * 2, 2.0 / geo.pix_i * 2))
    soft = np.clip((250 - hu_i) / 100, 0, 1) * (hu_i > -150)
    cup = float(r_phys.uniform(0, 2.5))
    c = (geo.m - 1) / 2
    ry = ((np.arange(geo.m) - c) * geo.pix_i)[:, None]
    rx = ((np.arange(geo.m) - c) * geo.pix_i)[None, :]
    rad = np.hypot(ry, rx)
    cupping = (cup * np.clip(1 - (rad / 85.0) ** 2, 0, 1)).astype(np.float32)
    hu_i -= (dep + cupping[None]) * soft.astype(np.float32)
    del lmin, dep, soft

    r_up = geo.n // geo.m
    img = _upsample(hu_i, r_up)
    del hu_i
    pix = geo.pix
    co = (geo.n - 1) / 2
    yy = ((np.arange(geo.n) - co) * pix)[:, None]
    xx = ((np.arange(geo.n) - co) * pix)[None, :]
    rr = np.hypot(yy, xx)
    body = img > -500
    zc = geo.z0 + np.arange(nz) * dz  # slice centres (scanner z)
    physics: dict[str, Any] = {
        "slice_thickness_mm": dz, "ssp_fwhm_mm": round(ssp_fwhm, 2), "thin_step_mm": geo.dzt,
        "psf": {k: round(v, 3) for k, v in psf.items()}, "fraction_sigma_vox": round(fsig, 2),
        "beam_hardening_hu_per_mm": round(kappa, 3), "beam_hardening_free_mm": round(l0, 1),
        "cupping_hu": round(cup, 2), "kernel_sharpness": sharp, "intermediate_matrix": geo.m}
    # ring artefact
    if r_phys.random() < 0.15:
        r0, amp = float(r_phys.uniform(20, 80)), float(r_phys.choice([-1, 1]) * r_phys.uniform(3,
                                                                                             8))
        ring = (amp * np.exp(-((rr - r0) / max(pix, 0.6)) ** 2)).astype(np.float32)
        img += ring[None] * body
        physics["ring"] = {"radius_mm": round(r0, 1), "hu": round(amp, 1)}
    # dental metal streaks in the lowest slices
    if dental:
        tz = real_lm["teeth"]
        for k in range(nz):
            dzk = abs(zc[k] - tz[2])
            if dzk > 12:
                continue
            n_a = int(r_phys.integers(8, 16))
            angs = r_phys.uniform(0, math.pi, n_a)
            amps = r_phys.uniform(80, 300, n_a) * np.where(np.arange(n_a) % 2, -1, 1)
            amps *= math.exp(-dzk / 6)
            img[k] += _lines(img.shape[1:], pix, tz[:2], angs, amps, 1.2, 70.0) * body[k]
        physics["dental_metal"] = True
    # streak artefact mimic (bright bands across the posterior fossa)
    if "streak_artefact" in mim_info:
        info = mim_info["streak_artefact"]
        rs = np.random.default_rng(info["seed"])
        centre = g.to_real(np.array([[0.0, 40.0, info["head_z_mm"]]]))[0] @ rot.T + t
        ks = np.argsort(np.abs(zc - centre[2]))[: max(1, int(round(6 / dz)))]
        for k in ks:
            n_s = info["n_streaks"]
            angs = math.radians(info["angle_deg"]) + rs.uniform(-0.35, 0.35, n_s)
            amps = np.full(n_s, info["amplitude_hu"]) * rs.uniform(0.8, 1.2, n_s)
            img[k] += _lines(img.shape[1:], pix, centre[:2], angs, amps, 1.3, 400.0) * body[k]
        info["slices"] = [int(k) for k in ks]
        info.pop("seed")
    # noise: kernel NPS, stronger centrally and at the skull base
    sd0 = (2.6 + 3.4 * sharp) * float(r_phys.uniform(0.85, 1.2))
    sd = sd0 * math.sqrt(5.0 / dz) * float(np.clip(0.45 / pix, 0.3, 1.3)) ** 0.9
    base_z = g.to_real(np.array([[0.0, 10.0, -35.0]]))[0] @ rot.T + t
    amp_z = 1 + 0.6 / (1 + np.exp((zc - base_z[2]) / 8.0))
    amp_r = 1 + 0.35 * np.clip(1 - (rr / 90.0) ** 2, 0, 1)
    noise = _noise(r_phys, img.shape, pix, sharp)
    noise *= np.float32(sd)
    noise *= amp_r.astype(np.float32)[None]
    noise *= amp_z.astype(np.float32)[:, None, None]
    img += noise
    del noise
    physics.update({"noise_sd_hu": round(sd, 2), "nps_cutoff_cyc_mm": round(0.3 + 0.6 * sharp, 2)})
    volume = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
    del img

    # ---- label maps and the blood mask
    tissue = _nearest(h.lab, g, geo)
    region = _nearest(h.region, g, geo)
    mask = np.zeros(volume.shape, np.uint8)
    vml_out = pix * pix * dz / 1000.0
    volumes: dict[str, float] = {}
    if kind_map.any():
        nzi = np.argwhere(kind_map > 0)
        lo, hi = nzi.min(0) - 4, nzi.max(0) + 5
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, np.array(g.shape))
        bsl = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        frac = np.zeros(g.shape, np.float32)
        frac[bsl] = ndi.gaussian_filter((kind_map[bsl] > 0).astype(np.float32), sig3,
                                        truncate=3.0)
        kind_near = ndi.grey_dilation(kind_map, size=(3, 3, 3))
        corners = np.array([[a, b, cc] for a in (lo[2], hi[2]) for b in (lo[1], hi[1])
                            for cc in (lo[0], hi[0])], float)
        sc = (g.origin + corners * vox) @ rot.T + t
        k0 = int(max(0, math.floor((sc[:, 2].min() - 3 * sigma - z_bot) / dz)))
        k1 = int(min(nz, math.ceil((sc[:, 2].max() + 3 * sigma - z_bot) / dz) + 1))
        ci = (geo.m - 1) / 2
        iy0 = int(max(0, math.floor(sc[:, 1].min() / geo.pix_i + ci) - 3))
        iy1 = int(min(geo.m, math.ceil(sc[:, 1].max() / geo.pix_i + ci) + 4))
        ix0 = int(max(0, math.floor(sc[:, 0].min() / geo.pix_i + ci) - 3))
        ix1 = int(min(geo.m, math.ceil(sc[:, 0].max() / geo.pix_i + ci) + 4))
        if k1 > k0 and iy1 > iy0 and ix1 > ix0:
            fb = _acquire(frac, g, geo, k0, k1, (iy0, iy1), (ix0, ix1), 0.0, psf)
            fb = _upsample(fb, r_up)
            kn = _nearest(kind_near, g, geo)[k0:k1, iy0 * r_up: iy1 * r_up,
                                            ix0 * r_up: ix1 * r_up]
            sub = mask[k0:k1, iy0 * r_up: iy1 * r_up, ix0 * r_up: ix1 * r_up]
            ok = (fb >= 0.5) & (kn > 0)
            sub[ok] = kn[ok]
        mask[np.isin(tissue, _MIMIC_TISSUES) | np.isin(tissue, _BONE_IDS)] = 0
        for kind in label.bleeds:
            volumes[kind] = round(float(np.count_nonzero(mask == 1 + BLEED_KINDS.index(kind)))
                                  * vml_out, 3)

    origin = (float(-(geo.n - 1) / 2 * pix), float(-(geo.n - 1) / 2 * pix), float(z_bot))
    details: dict[str, Any] = {
        "kernel": kernel, "ischaemic_delta_hu": delta,
        "ischaemic_white_matter_delta_hu": None if delta is None else 0.6 * delta,
        "bleed_volumes_ml": volumes, "bleed_sites": bleed_info,
        "acute_blood_hu": round(acute, 1), "swirl": swirl, "mimics_drawn": mim_info,
        "pose": {"pitch_deg": round(pitch, 2), "yaw_deg": round(yaw, 2),
                 "roll_deg": round(roll, 2), "translation_mm": [round(float(v), 2) for v in t]},
        "physics": physics, "anatomy": h.params, "fov_mm": round(fov, 1),
        "tissue_hu": {k: round(v, 1) for k, v in hu.items()}, "origin_mm": origin,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=(dz, pix, pix), blood_mask=mask, details=details)
    return case, region.astype(np.uint8), tissue.astype(np.uint8)


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case of the voxelised family."""
    return render_labelled(seed, label, matrix=matrix)[0]
