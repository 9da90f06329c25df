"""Gyral family: a head NCCT built from craniometric landmarks and a lobar/gyral description.

The skull is an endocranial egg whose semi-axes come from craniometric landmarks (glabella,
vertex, opisthocranion, euryon), with per-site table thickness, diploe, sutures placed by
bregma, lambda and asterion, the occipital protuberance at the inion, the ear canal at the
porion, and a floor height field made of the anterior, middle and posterior cranial fossae
(sella, petrous ridges, clivus down to the basion, foramen magnum). The brain fills it less a
subarachnoid gap; cortex is a 2.8-3.5 mm
ribbon around every CSF cleft: named sulci (central, pre/postcentral, frontal, temporal,
intraparietal, parieto-occipital, calcarine, cingulate), the Sylvian fissure over the insula,
the interhemispheric fissure and a field of tertiary sulci. Deep nuclei, ventricles, cisterns,
brainstem and a foliated cerebellum complete it.

Haemorrhages, early ischaemic change and mimics are painted into the same head; large
supratentorial bleeds push the brain across the midline and extra-axial ones compress it.

The anatomy is painted with partial volume on a canonical head grid (mm), then sampled by a
helical acquisition: pose and gantry tilt, triangular slice sensitivity profile, beam hardening
and metal streaks from ray sums, a vendor-like kernel MTF, coloured noise scaled by the ray
attenuation, integer quantisation. Units: mm, HU, mL.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY: str = "gyral"

TISSUES: tuple[str, ...] = (
    "air", "scalp", "fat", "muscle", "cortical_bone", "diploe", "csf", "grey_matter",
    "white_matter", "caudate", "putamen", "pallidum", "thalamus", "internal_capsule",
    "brainstem", "cerebellar_grey", "cerebellar_white", "choroid_plexus", "venous_blood", "dura",
    "globe", "lens",
    "blood", "oedema", "calcification", "thrombus", "contrast", "metal",
)
"""Tissue names; the tissue map holds indices into this tuple."""

Arr = npt.NDArray[Any]
_T = {name: i for i, name in enumerate(TISSUES)}
_PARENCHYMA = [_T[n] for n in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum",
                               "thalamus", "internal_capsule", "brainstem", "cerebellar_grey",
                               "cerebellar_white")]
_KERNELS = (("Hr36", 3.4), ("Hr38", 3.8), ("H31s", 3.2), ("J40s", 4.0), ("SOFT", 3.0),
            ("STANDARD", 4.3), ("FC21", 3.6), ("FC26", 3.9), ("UB", 4.1), ("Br40", 4.4))
"""Vendor-like head kernels and their MTF 50 % frequency (lp/cm)."""
_METAL_HU = 25000.0  # true attenuation of a platinum/titanium clip, before the 3071 ceiling


def _frac(d: Arr, h: float) -> Arr:
    """Partial-volume fraction of a signed distance ``d`` (mm, negative inside)."""
    return np.clip(0.5 - d / h, 0.0, 1.0).astype(np.float32)


def _ell(z: Arr, y: Arr, x: Arr, c: tuple[float, float, float],
         a: tuple[float, float, float]) -> Arr:
    """Approximate signed distance (mm) to an ellipsoid centred ``c`` with semi-axes ``a``."""
    q = ((z - c[0]) / a[0]) ** 2 + ((y - c[1]) / a[1]) ** 2 + ((x - c[2]) / a[2]) ** 2
    return (np.sqrt(q) - 1.0) * min(a)


def _capsule(z: Arr, y: Arr, x: Arr, p0: tuple[float, float, float],
             p1: tuple[float, float, float], r: float) -> Arr:
    """Signed distance (mm) to a capsule from ``p0`` to ``p1`` (z, y, x) of radius ``r``."""
    a = np.array(p0, dtype=np.float32)
    ab = np.array(p1, dtype=np.float32) - a
    dz, dy, dx = z - a[0], y - a[1], x - a[2]
    t = np.clip((dz * ab[0] + dy * ab[1] + dx * ab[2]) / float(ab @ ab), 0.0, 1.0)
    res: Arr = np.sqrt((dz - t * ab[0]) ** 2 + (dy - t * ab[1]) ** 2 + (dx - t * ab[2]) ** 2) - r
    return res


def _sig(v: Arr) -> Arr:
    res: Arr = (1.0 / (1.0 + np.exp(-np.clip(v, -60.0, 60.0)))).astype(np.float32)
    return res


def _rot(tilt: float, yaw: float, roll: float) -> Arr:
    """Head-to-scanner rotation (x, y, z order) from angles in degrees."""
    t, w, r = (math.radians(v) for v in (tilt, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    rz = np.array([[math.cos(w), -math.sin(w), 0], [math.sin(w), math.cos(w), 0], [0, 0, 1]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    res: Arr = rx @ rz @ ry
    return res


class _Grid:
    """Canonical head grid (mm): painter's canvas for HU, tissue, ASPECTS regions and blood."""

    def __init__(self, lo: tuple[float, float, float], hi: tuple[float, float, float],
                 h: float) -> None:
        self.h = h
        self.lo = lo
        self.axes = [np.float32(lo[i]) + np.float32(h) * np.arange(
            int(math.ceil((hi[i] - lo[i]) / h)) + 1, dtype=np.float32) for i in range(3)]
        self.shape = tuple(len(a) for a in self.axes)
        self.hu = np.full(self.shape, -1000.0, dtype=np.float32)
        self.tissue = np.zeros(self.shape, dtype=np.uint8)
        self.region = np.zeros(self.shape, dtype=np.uint8)

    def box(self, zr: tuple[float, float], yr: tuple[float, float],
            xr: tuple[float, float]) -> tuple[tuple[slice, slice, slice], Arr, Arr, Arr]:
        """Index slices and broadcastable (z, y, x) coordinates of a box in mm."""
        sl = []
        for i, (a, b) in enumerate((zr, yr, xr)):
            i0 = max(0, int(math.floor((a - self.lo[i]) / self.h)))
            i1 = min(self.shape[i], int(math.ceil((b - self.lo[i]) / self.h)) + 1)
            sl.append(slice(i0, max(i0, i1)))
        z = self.axes[0][sl[0]][:, None, None]
        y = self.axes[1][sl[1]][None, :, None]
        x = self.axes[2][sl[2]][None, None, :]
        return (sl[0], sl[1], sl[2]), z, y, x

    def paint(self, sl: tuple[slice, slice, slice], f: Arr, value: float | Arr,
              tissue: str | None) -> None:
        """Blend ``value`` into the HU canvas with fraction ``f``; label where ``f`` ≥ 0.5."""
        view = self.hu[sl]
        f = np.broadcast_to(f, view.shape)
        view += f * (value - view)
        if tissue is not None:
            self.tissue[sl][f >= 0.5] = _T[tissue]


class _Head:
    """Per-seed anatomy parameters (canonical mm; HU)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.scale = (float(rng.uniform(0.94, 1.06)), float(rng.uniform(0.94, 1.06)),
                      float(rng.uniform(0.93, 1.07)))  # (z, y, x)
        self.age = float(rng.uniform(22.0, 90.0))
        a = float(np.clip((self.age - 25.0) / 65.0, 0.0, 1.0))
        self.atrophy = a
        self.gap = 1.2 + 2.6 * a + float(rng.uniform(0.0, 0.6))  # subarachnoid gap
        self.w_sulc = 0.8 + 2.2 * a
        self.w_ihf = 1.5 + 3.0 * a
        self.w_syl = 2.0 + 4.5 * a
        self.vent = 1.0 + 0.9 * a + float(rng.uniform(-0.1, 0.15))
        self.ribbon = float(rng.uniform(2.8, 3.5))
        self.wm = float(rng.uniform(23.0, 29.0))
        self.gm = float(np.clip(self.wm + rng.uniform(8.0, 12.0), 35.0, 42.0))
        self.csf = float(rng.uniform(2.0, 8.0))
        self.venous = float(rng.uniform(38.0, 50.0))
        self.bone = float(rng.uniform(1450.0, 1900.0))
        self.diploe = float(rng.uniform(350.0, 750.0))
        self.t_mult = float(rng.uniform(0.85, 1.2))
        # craniometric landmarks on the outer table, canonical (z, y, x) mm; x is |x|
        mean = {"glabella": (0.0, -83.0, 0.0), "opisthocranion": (5.0, 101.5, 0.0),
                "euryon": (25.0, 15.0, 72.5), "vertex": (88.5, 10.0, 0.0),
                "bregma": (84.0, -6.0, 0.0), "lambda": (62.0, 78.0, 0.0),
                "asterion": (-35.0, 62.0, 52.0), "inion": (-25.0, 96.0, 0.0),
                "basion": (-76.0, 22.0, 0.0), "porion": (-41.0, 9.0, 68.0)}
        jit = rng.uniform(-3.0, 3.0, size=(len(mean), 3))
        self.landmarks = {name: (p[0] + float(j[0]), p[1] + float(j[1]),
                                 p[2] + float(j[2]) * (p[2] > 0))
                          for (name, p), j in zip(mean.items(), jit, strict=True)}
        self.x_ins = 35.0 + float(rng.uniform(-1.5, 1.5))
        self.sulcal_jitter = rng.uniform(-4.0, 4.0, size=(6, 2))  # per sulcus, (right, left)
        self.pneumatisation = float(rng.uniform(0.3, 1.0))
        self.frontal_sinus = float(rng.uniform(0.0, 1.0))
        self.suture_open = float(np.clip(1.2 - a * 1.3, 0.0, 1.0))
        self.sulcal_seed = int(rng.integers(0, 2**31))


class _Pathology:
    """Per-seed pathology draws, made in a fixed order whatever the label."""

    def __init__(self, rng: np.random.Generator, label: NcctLabel) -> None:
        self.label = label
        self.blood_hu = float(rng.uniform(55.0, 85.0))
        self.swirl = bool(rng.random() < 0.3)
        self.swirl_phase = rng.uniform(0, 2 * np.pi, size=3)
        # intraparenchymal
        self.iph_site = str(rng.choice(["lobar", "basal_ganglia", "thalamic", "cerebellar",
                                        "pontine"], p=[0.35, 0.3, 0.15, 0.12, 0.08]))
        self.iph_side = float(rng.choice([-1.0, 1.0]))
        self.iph_u = float(rng.random())
        self.iph_axes = rng.uniform([1.0, 0.6, 0.5], [1.0, 1.0, 0.9])
        self.iph_rot = rng.uniform(-np.pi, np.pi, size=3)
        self.iph_bumps = rng.normal(size=(4, 4))
        self.iph_lobe = int(rng.integers(0, 4))
        self.oedema = float(rng.uniform(2.0, 4.5)) if rng.random() < 0.5 else 0.0
        # intraventricular
        self.ivh_cast = bool(rng.random() < 0.35)
        self.ivh_depth = float(rng.uniform(22.0, 34.0))
        # subarachnoid
        self.sah_basal = bool(rng.random() < 0.6)
        self.sah_fill = float(rng.uniform(0.75, 1.0))
        self.sah_dir = rng.uniform([-0.3, 0.2], [0.5, 0.9])
        self.sah_side = float(rng.choice([-1.0, 1.0]))
        # subdural / epidural
        self.sdh_side = float(rng.choice([-1.0, 1.0]))
        self.sdh_falcine = bool(rng.random() < 0.2)
        self.sdh_thick = float(rng.uniform(2.0, 20.0))
        self.sdh_dir = rng.uniform([-0.5, -0.1], [0.4, 0.6])
        self.sdh_span = float(rng.uniform(0.75, 1.15))
        self.edh_site = int(rng.integers(0, 3))
        self.edh_thick = float(rng.uniform(5.0, 30.0))
        self.edh_span = float(rng.uniform(0.35, 0.6))
        # ischaemia and mimics
        self.delta = float(rng.uniform(2.0, 6.0))
        self.calc_hu = rng.uniform(100.0, 600.0, size=4)
        self.vessel_hu = float(rng.uniform(60.0, 90.0))
        self.vessel_basilar = bool(rng.random() < 0.3)
        self.vessel_side = float(rng.choice([-1.0, 1.0]))
        self.metal_site = int(rng.integers(0, 3))
        self.metal_coil = bool(rng.random() < 0.4)
        self.contrast_hu = float(rng.uniform(100.0, 250.0))


class _Acquisition:
    """Per-seed pose and scanner physics."""

    def __init__(self, rng: np.random.Generator, matrix: int) -> None:
        self.fov = float(rng.uniform(220.0, 250.0))
        self.matrix = matrix
        self.pixel = self.fov / matrix
        self.thickness = float(rng.choice([2.5, 3.0, 4.0, 5.0]))
        self.tilt = float(rng.uniform(0.0, 20.0))
        self.yaw = float(rng.uniform(-8.0, 8.0))
        self.roll = float(rng.uniform(-8.0, 8.0))
        self.offset = (float(rng.uniform(-8.0, 8.0)), float(rng.uniform(-6.0, 10.0)))
        k = int(rng.integers(0, len(_KERNELS)))
        self.kernel, self.f50 = _KERNELS[k]
        self.noise_sd = float(rng.uniform(3.0, 6.0)) * math.sqrt(5.0 / self.thickness)
        self.bh_bone = float(rng.uniform(0.5, 1.0))
        self.bh_water = float(rng.uniform(0.0, 1.0))
        self.start_high = bool(rng.random() < 0.15)
        self.stop_short = bool(rng.random() < 0.1)
        self.margin = (float(rng.uniform(3.0, 15.0)), float(rng.uniform(2.0, 10.0)))
        self.noise_seed = int(rng.integers(0, 2**31))
        # in-plane sampling: supersample coarse matrices, interpolate fine ones
        self.super = max(1, math.ceil(self.pixel / 2.0))
        if self.super >= 2:
            self.na = matrix * self.super
        else:
            self.na = 4 * max(1, round(self.fov / 1.5 / 4))
        self.ha = self.fov / self.na
        self.nsub = max(2, math.ceil(self.thickness / max(1.6, self.ha)))


class _Geometry:
    """Skull geometry on the grid: depth below the inner table, table thickness, fossa floors."""

    def __init__(self, g: _Grid, head: _Head) -> None:
        z = g.axes[0][:, None, None] - 5.0
        y = g.axes[1][None, :, None] - 4.0
        x = g.axes[2][None, None, :]
        lm = head.landmarks
        m = head.t_mult
        s = {"ant": 4.0 - lm["glabella"][1] - 6.5 * m, "post": lm["opisthocranion"][1] - 4.0
             - 7.5 * m, "lat": lm["euryon"][2] - 5.5 * m, "sup": lm["vertex"][0] - 5.0 - 5.5 * m,
             "inf": 95.0}
        r = np.sqrt(z * z + y * y + x * x) + 1e-3
        uz, uy, ux = z / r, y / r, np.abs(x) / r
        ay = np.where(y < 0, s["ant"], s["post"]).astype(np.float32)
        az = np.where(z > 0, s["sup"], s["inf"]).astype(np.float32)
        ax = s["lat"] * (1.0 + 0.05 * uy - 0.12 * np.clip(-uz, 0.0, 1.0))
        rho = np.sqrt((x / ax) ** 2 + (y / ay) ** 2 + (z / az) ** 2)
        self.depth = (r / rho - r).astype(np.float32)  # mm below the inner table (+ inside)
        # table thickness per site: frontal, parietal, temporal squama, occipital (+ protuberance)
        t = np.full(r.shape, 5.5 * m, dtype=np.float32)
        t += np.clip(-uy, 0, 1) ** 2 * (6.5 * m - t)
        t += np.clip(uy, 0, 1) ** 2 * (7.5 * m - t)
        wt = np.clip((ux - 0.6) / 0.3, 0, 1) * np.clip((0.35 - uz) / 0.3, 0, 1)
        t += wt * (2.5 - t)
        iz, iy = lm["inion"][0] - 5.0, lm["inion"][1] - 4.0
        u_in = iz / math.hypot(iz, iy)
        t += 7.0 * np.exp(-((ux / 0.16) ** 2 + ((uz - u_in) / 0.14) ** 2)) * (uy > 0.6)
        self.sinus_w = np.exp(-((ux / 0.2) ** 2 + ((uz + 0.17) / 0.12) ** 2)) * (uy < -0.8)
        t += 9.0 * head.frontal_sinus * self.sinus_w
        self.t = t.astype(np.float32)
        self.temporalis = (9.0 * np.clip((ux - 0.5) / 0.3, 0, 1)
                           * np.clip((0.45 - uz) / 0.35, 0, 1)).astype(np.float32)
        # fossa floors: anterior (orbital roofs, cribriform), middle (sella), posterior (clivus)
        y2 = g.axes[1][:, None]
        x2 = g.axes[2][None, :]
        a2 = np.abs(x2)
        plane = (len(g.axes[1]), len(g.axes[2]))
        y_ant = -16.0 - 0.35 * a2  # sphenoid ridges: anterior / middle fossa
        self.y_pet = np.broadcast_to(4.0 + 0.55 * np.clip(a2 - 8.0, 0.0, None), plane)
        z_a = -21.0 - 5.0 * np.exp(-(x2 / 7.0) ** 2) + 3.0 * np.exp(-((a2 - 30.0) / 14.0) ** 2)
        z_m = (-48.0 + 22.0 * np.exp(-(x2 / 15.0) ** 4)
               - 9.0 * np.exp(-((y2 + 6.0) / 5.0) ** 2 - (x2 / 8.0) ** 2))
        bz, by = lm["basion"][0], lm["basion"][1]
        self.clivus_slope = (bz + 24.0) / by  # dorsum sellae (z -24, y 0) to basion
        z_cl = np.where(y2 > 0.0, -24.0 + self.clivus_slope * y2, -24.0)
        z_p = np.maximum(bz + 0.004 * x2 ** 2, z_cl - 200.0 * (1 - np.exp(-(x2 / 14.0) ** 4)))
        self.fm = np.sqrt((x2 / 15.0) ** 2 + ((y2 - by - 16.0) / 16.0) ** 2)  # foramen magnum
        z_p = np.where(self.fm < 1.0, -135.0, z_p)
        w_a = _sig((y_ant - y2) / 1.5)
        self.w_p = _sig((y2 - self.y_pet) / 1.5)
        w_m = np.clip(1.0 - w_a - self.w_p, 0.0, 1.0)
        zf = w_a * z_a + w_m * z_m + self.w_p * z_p
        crest = -26.0 - 1.5 * np.abs(y2 - self.y_pet) - 40.0 * (a2 > 58.0)
        self.floor = np.maximum(zf, crest).astype(np.float32)[None]
        self.t_base = (3.0 * w_a + 5.0 * w_m + 9.0 * self.w_p)[None]
        fade = np.clip((95.0 - y2) / 55.0, 0.0, 1.0)
        self.tent = (-32.0 + 24.0 * np.exp(-(x2 / 34.0) ** 2) * fade).astype(np.float32)[None]
        self.cer_floor = (self.floor * (1 - self.w_p[None]) + self.tent * self.w_p[None])
        self.bregma, self.lam, self.asterion = lm["bregma"], lm["lambda"], lm["asterion"]
        self.basion, self.porion = lm["basion"], lm["porion"]

    def y_coronal(self, z: Arr) -> Arr:
        """Coronal suture (y, mm) at height ``z``: from bregma down towards the pterion."""
        res: Arr = self.bregma[1] - 0.38 * (self.bregma[0] - z)
        return res

    def y_lambdoid(self, z: Arr) -> Arr:
        """Lambdoid suture (y, mm) at height ``z``: from lambda down to the asterion."""
        a, b = self.asterion, self.lam
        res: Arr = a[1] + (b[1] - a[1]) * (z - a[0]) / (b[0] - a[0])
        return res


def _skull(g: _Grid, head: _Head, geo: _Geometry) -> None:
    """Paint scalp, face, neck, vault, skull base, air spaces, orbits and upper spine."""
    h = g.h
    sl, z, y, x = g.box((-200.0, 10.0), (-200.0, 200.0), (-200.0, 200.0))
    # face and neck soft tissue with a subcutaneous fat rim
    d_neck = np.maximum(np.sqrt((x / 60.0) ** 2 + ((y - 20.0) / 58.0) ** 2) * 58.0 - 58.0,
                        z + 40.0)
    d_face = _ell(z, y, x, (-55.0, -35.0, 0.0), (50.0, 62.0, 58.0))
    d_soft = np.minimum(d_neck, d_face)
    g.paint(sl, _frac(d_soft, h), 45.0, "muscle")
    g.paint(sl, _frac(np.maximum(d_soft + 8.0, -d_soft - 2.0), h), -90.0, "fat")
    g.paint(sl, _frac(np.maximum(d_soft, -d_soft - 2.0), h), 30.0, "scalp")
    sl, z, y, x = g.box((-200.0, 200.0), (-200.0, 200.0), (-200.0, 200.0))
    ax = np.abs(x)
    # scalp, temporalis and the vault
    out = -geo.depth - geo.t  # mm outwards from the outer table
    top = np.maximum(geo.floor - geo.t_base - 12.0 - z, -100.0)
    d_scalp = np.maximum(out - geo.temporalis - 5.5, top)
    g.paint(sl, _frac(np.maximum(d_scalp, -d_scalp - 4.0), h), 40.0, "scalp")
    g.paint(sl, _frac(np.maximum(np.maximum(d_scalp + 4.0, -d_scalp - 5.5), top), h), -60.0,
            "fat")
    d_tm = np.maximum(np.maximum(-out, out - geo.temporalis), top)
    g.paint(sl, _frac(np.where(geo.temporalis > 0.5, d_tm, 99.0), h), 50.0, "muscle")
    base_cut = geo.floor - geo.t_base - z
    d_bone = np.maximum(np.maximum(geo.depth, -geo.depth - geo.t), base_cut)
    g.paint(sl, _frac(d_bone, h), head.bone, "cortical_bone")
    d_dip = np.maximum(np.maximum(geo.depth + 0.25 * geo.t, -geo.depth - 0.7 * geo.t), base_cut)
    d_dip = np.where(geo.t > 3.5, d_dip, 99.0)
    g.paint(sl, _frac(d_dip, h), head.diploe, "diploe")
    fs = head.frontal_sinus * geo.sinus_w
    d_fs = np.maximum(np.maximum(geo.depth + 0.3 * geo.t, -geo.depth - 0.7 * geo.t), 0.5 - fs)
    g.paint(sl, _frac(d_fs, h), -950.0, "air")
    # sutures (coronal, sagittal, lambdoid, squamosal) as thin lucent lines
    y_cor = geo.y_coronal(z)
    y_lam = geo.y_lambdoid(z)
    z_sq = 12.0 - 0.006 * (y + 5.0) ** 2
    d_sut = np.minimum(np.minimum(np.abs(y - y_cor), np.maximum(ax, (y_cor - y)) + (z < 40) * 99),
                       np.abs(y - y_lam) + (z < geo.asterion[0]) * 99)
    d_sut = np.minimum(d_sut, np.abs(z - z_sq) + (ax < 40) * 99 + (np.abs(y + 5) > 40) * 99)
    shell = _frac(d_bone, h)
    g.paint(sl, shell * _frac(d_sut - 0.6, h) * 0.8 * head.suture_open, 60.0, None)
    # skull base: floor plate, petrous pyramids, clivus, sphenoid body, condyles, C1, dens
    sl, z, y, x = g.box((-125.0, -10.0), (-200.0, 200.0), (-200.0, 200.0))
    ax = np.abs(x)
    floor = _sub(geo.floor, sl)
    d_plate = np.maximum(np.maximum(z - floor, floor - _sub(geo.t_base, sl) - z), out[sl])
    d_plate = np.maximum(d_plate, 14.0 * (1.0 - _sub(geo.fm[None], sl)))
    g.paint(sl, _frac(d_plate, h), 0.6 * head.bone + 0.4 * head.diploe, "cortical_bone")
    g.paint(sl, _frac(_capsule(z, y, ax, (-30.0, 3.0, 10.0), (-36.0, 30.0, 55.0), 9.0), h),
            1.1 * head.bone, "cortical_bone")
    y_cl = (z + 24.0) / geo.clivus_slope
    d_cl = np.maximum(np.maximum(ax - 14.0, np.abs(y - y_cl + 5.0) - 5.0),
                      np.maximum(z + 24.0, geo.basion[0] - z))
    g.paint(sl, _frac(np.minimum(d_cl, _ell(z, y, x, (-40.0, -10.0, 0.0), (15.0, 18.0, 18.0))),
                      h), 700.0, "cortical_bone")
    d_bones = np.minimum(_ell(z, y, ax, (-82.0, 22.0, 17.0), (6.0, 10.0, 6.0)),
                         _capsule(z, y, x, (-112.0, 12.0, 0.0), (-84.0, 12.0, 0.0), 5.5))
    ring = np.sqrt((x / 22.0) ** 2 + ((y - 34.0) / 26.0) ** 2) * 23.0
    d_bones = np.minimum(d_bones, np.maximum(np.abs(ring - 23.0) - 3.5, np.abs(z + 92.0) - 5.0))
    g.paint(sl, _frac(d_bones, h), 0.5 * head.bone + 0.5 * head.diploe, "cortical_bone")
    # air spaces: sphenoid, mastoid cells, ethmoid cells, nasal cavity, maxillary, ear canal
    pn = head.pneumatisation
    g.paint(sl, _frac(_ell(z, y, x, (-41.0, -10.0, 0.0), (11.0 * pn ** 0.3, 13.0, 13.0)), h),
            -950.0, "air")
    cells = (np.sin(z * 1.3) * np.sin(y * 1.3) * np.sin(x * 1.3) > 0.1 - 0.4 * pn)
    d_mast = _ell(z, y, ax, (-48.0, 30.0, 52.0), (14.0, 13.0, 11.0))
    g.paint(sl, _frac(d_mast, h) * cells, -900.0, "air")
    d_eth = np.maximum(np.maximum(ax - 12.0, np.abs(y + 46.0) - 24.0), np.abs(z + 41.0) - 17.0)
    g.paint(sl, _frac(d_eth, h) * (np.sin(y * 1.2) * np.sin(z * 1.2) > -0.6), -900.0, "air")
    d_nose = np.maximum(np.maximum(ax - 16.0, np.abs(y + 55.0) - 35.0), np.abs(z + 79.0) - 21.0)
    g.paint(sl, _frac(np.maximum(d_nose, 1.2 - ax), h), -950.0, "air")
    d_max = _ell(z, y, ax, (-75.0, -55.0, 30.0), (17.0, 18.0, 14.0))
    g.paint(sl, _frac(d_max - 2.0, h), head.bone * 0.7, "cortical_bone")
    g.paint(sl, _frac(d_max, h), -950.0, "air")
    pz, py, px = geo.porion
    g.paint(sl, _frac(_capsule(z, y, ax, (pz - 4.0, py - 1.0, px + 6.0), (pz - 4.0, py + 1.0,
                                                                          px - 18.0), 3.5), h),
            -950.0, "air")
    # orbits: bony cone, fat, globe and lens
    d_orb = _capsule(z, y, ax, (-32.0, -22.0, 14.0), (-34.0, -70.0, 31.0), 14.0)
    d_orb = np.maximum(d_orb, -y - 82.0)
    g.paint(sl, _frac(d_orb - 2.0, h), 0.7 * head.bone, "cortical_bone")
    g.paint(sl, _frac(d_orb, h), -85.0, "fat")
    g.paint(sl, _frac(_ell(z, y, ax, (-34.0, -66.0, 31.0), (12.0, 12.0, 12.0)), h), 12.0,
            "globe")
    g.paint(sl, _frac(_ell(z, y, ax, (-34.0, -77.0, 31.0), (4.5, 2.0, 4.5)), h), 115.0, "lens")
    # cranial cavity and spinal canal: CSF
    sl, z, y, x = g.box((-200.0, 200.0), (-200.0, 200.0), (-200.0, 200.0))
    d_cav = np.maximum(-geo.depth, geo.floor - z)
    d_can = _capsule(z, y, x, (-70.0, 36.0, 0.0), (-140.0, 40.0, 0.0), 11.0)
    g.paint(sl, _frac(np.minimum(d_cav, d_can), h), head.csf, "csf")
    g.paint(sl, _frac(_capsule(z, y, x, (-70.0, 34.0, 0.0), (-140.0, 38.0, 0.0), 5.5), h),
            0.5 * (head.gm + head.wm), "brainstem")


def _sub(a: Arr, sl: tuple[slice, slice, slice]) -> Arr:
    """Crop a full-grid or (1, y, x) geometry array to a painting box."""
    return a[:, sl[1], sl[2]] if a.shape[0] == 1 else a[sl]


class _Shift:
    """Subfalcine shift of the cerebrum (mm at the septum) away from a space-occupying bleed."""

    def __init__(self, mm: float, side: float) -> None:
        self.mm = mm
        self.side = side

    def x(self, z: Arr, y: Arr, x: Arr) -> Arr:
        """Undisplaced (canonical) x of the grid points: fades to zero at the skull."""
        if self.mm == 0.0:
            return x
        f = (np.cos(np.clip(x, -75.0, 75.0) * (math.pi / 150.0)) ** 2
             * np.exp(-(((z - 20.0) / 45.0) ** 2) - (y / 70.0) ** 2))
        res: Arr = x + self.side * self.mm * f
        return res


def _mass_effect(path: _Pathology) -> _Shift:
    """Midline shift from the supratentorial bleed volumes: 0 below 20 mL, 10 mm at 70 mL."""
    push = 0.0
    kinds = path.label.bleeds
    if "intraparenchymal" in kinds and path.iph_site in ("lobar", "basal_ganglia", "thalamic"):
        lo, hi = (5.0, 80.0) if path.iph_site == "lobar" else _IPH_SITES[path.iph_site][1]
        push += path.iph_side * lo * (hi / lo) ** path.iph_u
    if "subdural" in kinds and not path.sdh_falcine:
        radius = 75.0 * path.sdh_span
        thick = min(path.sdh_thick, 3.0 * 45000.0 / (math.pi * radius ** 2))
        push += path.sdh_side * math.pi * radius ** 2 * thick / 3000.0
    if "epidural" in kinds:
        side = path.sdh_side * (-1.0 if "subdural" in kinds else 1.0)
        push += side * math.pi * (75.0 * path.edh_span) ** 2 * path.edh_thick / 6000.0
    mm = float(np.clip(0.2 * (abs(push) - 20.0), 0.0, 10.0))
    return _Shift(mm, 1.0 if push > 0 else -1.0)


def _tertiary(shape: tuple[int, ...], h: float, rng: np.random.Generator) -> Arr:
    """Distance-like field (mm) to the zero set of a smooth random field: tertiary sulci."""
    coarse = tuple(max(4, int(math.ceil(n * h / 4.0))) for n in shape)
    n = ndimage.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), 1.3)
    grad = np.sqrt(sum(gi ** 2 for gi in np.gradient(n, 4.0)))
    dist = n / (grad + 1e-6)
    zoom = [s / c for s, c in zip(shape, coarse, strict=True)]
    out: Arr = ndimage.zoom(dist, zoom, order=1)
    return out[: shape[0], : shape[1], : shape[2]]


def _brain(g: _Grid, head: _Head, geo: _Geometry, gap_extra: Arr | None,
           falx_extra: tuple[float, float], shift: _Shift) -> tuple[Arr, Arr]:
    """Paint cerebrum, cerebellum, cisterns, brainstem, nuclei, ventricles, dura and sinuses.

    Returns the ventricle mask and the cerebral cleft distance (mm into the cerebrum from the
    nearest surface, sulcus or fissure; negative in CSF) on the grid. ``gap_extra`` (mm)
    pushes the brain surface in under an extra-axial haematoma; ``falx_extra`` (right, left)
    widens the fissure (mm); ``shift`` displaces the supratentorial brain across the midline.
    """
    h = g.h
    sl, z, y, x = g.box((-62.0, 92.0), (-92.0, 100.0), (-76.0, 76.0))
    x = shift.x(z, y, x)
    ax = np.abs(x)
    j = head.sulcal_jitter
    jit = [np.where(x > 0, j[k, 1], j[k, 0]) for k in range(6)]
    dep = _sub(geo.depth, sl) - head.gap
    if gap_extra is not None:
        dep = dep - _sub(gap_extra, sl)
    d_surf = np.minimum(dep, z - _sub(geo.cer_floor, sl) - head.gap)
    w = head.w_sulc
    z_bot = np.where(np.abs(y) < 40.0, 20.0 + 8.0 * np.sqrt(np.clip(1 - (y / 40.0) ** 2, 0, 1)),
                     -300.0)
    half = head.w_ihf / 2 + np.where(x > 0, falx_extra[1], falx_extra[0])
    d_ihf = np.maximum(ax - half, z_bot - z)
    med = ax - half
    y_cs = (4.0 + jit[0] + 0.42 * (z - 60.0) + 2.5 * np.sin(z / 7.0)
            + 4.0 * np.sin(ax / 9.0 + jit[1]))
    z_syl = -10.0 + 0.28 * (y + 40.0) + 0.9 * np.clip(y - 20.0, 0.0, None)
    above_syl = z_syl + 6.0 - z
    d = np.minimum(d_surf, d_ihf)
    for off, depth in ((0.0, 18.0), (-17.0, 14.0), (16.0, 14.0)):  # central, pre-, postcentral
        d = np.minimum(d, np.maximum(np.maximum(np.abs(y - y_cs - off) * 0.92 - w / 2,
                                                d_surf - depth), above_syl))
    front = y - (y_cs - 20.0)
    sfs = ax - 22.0 - jit[1] - 3.0 * np.sin(y / 8.0 + jit[2])  # superior frontal sulcus
    d = np.minimum(d, np.maximum(np.maximum(np.abs(sfs) - w / 2, d_surf - 14.0),
                                 np.maximum(front, 20.0 - z)))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(z - 26.0 - jit[2] - 0.15 * (y + 30.0)
                                                   - 3.0 * np.sin(y / 7.0 + jit[3])) - w / 2,
                                            d_surf - 12.0), np.maximum(front, 22.0 - ax)))
    for off, depth in ((-14.0, 14.0), (-28.0, 10.0)):  # superior and inferior temporal sulci
        d = np.minimum(d, np.maximum(np.maximum(np.abs(z - z_syl - off - 0.5 * jit[3]
                                                       - 2.5 * np.sin(y / 9.0 + off)) - w / 2,
                                                d_surf - depth), np.abs(y) - 50.0))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(ax - 30.0 - jit[4] + 0.08 * (y - 20.0)
                                                   - 3.0 * np.sin(y / 9.0 + jit[5]))
                                            - w / 2, d_surf - 14.0),
                                 np.maximum(y_cs + 19.0 - y, 30.0 - z)))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(y - 38.0 - jit[5] - 0.55 * (z - 10.0)) * 0.88
                                            - w / 2, med - 20.0), np.maximum(25.0 - y, -2.0 - z)))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(z - 6.0 - 0.12 * (y - 50.0)) - w / 2,
                                            med - 16.0), 40.0 - y))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(z - z_bot - 11.0) - w / 2, med - 10.0),
                                 np.abs(y) - 40.0))
    # Sylvian fissure, insular cistern and the Sylvian stem towards the basal cisterns
    xi = head.x_ins
    w_ic = 0.5 * head.w_syl
    ins_e = np.sqrt(((y + 4.0) / 18.0) ** 2 + ((z - 5.0) / 12.0) ** 2)
    d = np.minimum(d, np.maximum(np.maximum(np.abs(z - z_syl) - head.w_syl / 2, xi - ax),
                                 np.abs(y + 2.5) - 42.5))
    d = np.minimum(d, np.maximum(np.abs(ax - xi - w_ic / 2) - w_ic / 2, (ins_e - 1.0) * 12.0))
    d = np.minimum(d, np.maximum(np.maximum(np.abs(z + 11.0) - 2.5, np.abs(y + 9.0) - 7.0),
                                 np.maximum(12.0 - ax, ax - xi)))
    ter = _tertiary(tuple(d.shape), h, np.random.default_rng(head.sulcal_seed))
    d = np.minimum(d, np.maximum(np.abs(ter) - 0.2 * w, d_surf - 12.0))
    cleft = np.full(g.shape, 99.0, dtype=np.float32)
    cleft[sl] = d
    bf = _frac(-d, h)
    gmf = _frac(d - head.ribbon, h)
    g.paint(sl, bf, head.wm + (head.gm - head.wm) * gmf, None)
    tv = g.tissue[sl]
    tv[(bf >= 0.5) & (gmf >= 0.5)] = _T["grey_matter"]
    tv[(bf >= 0.5) & (gmf < 0.5)] = _T["white_matter"]
    # claustrum: a thin grey sheet between the external and extreme capsules
    d_cl = np.maximum(np.abs(ax - xi + 4.5) - 0.7, (ins_e - 1.0) * 12.0)
    g.paint(sl, _frac(d_cl, h) * (bf >= 0.5), head.gm - 2.0, "grey_matter")

    # cerebellum: hemispheres and vermis below the tentorium, folia and the horizontal fissure
    slc, z, y, x = g.box((-92.0, -4.0), (0.0, 100.0), (-72.0, 72.0))
    ax = np.abs(x)
    d_in = np.minimum(np.minimum(_sub(geo.depth, slc) - head.gap,
                                 _sub(geo.tent, slc) - head.gap - z),
                      np.minimum(z - _sub(geo.floor, slc) - head.gap,
                                 y - geo.y_pet[None, slc[1], slc[2]] - 2.0))
    ell = np.minimum(_ell(z, y, ax, (-44.0, 56.0, 24.0), (24.0, 32.0, 30.0)),
                     _ell(z, y, x, (-38.0, 52.0, 0.0), (20.0, 26.0, 12.0)))
    d_in = np.minimum(d_in, -ell)
    rr = np.sqrt((z + 36.0) ** 2 + (y - 44.0) ** 2 + (ax - 10.0) ** 2)
    ph = rr / 5.5 - np.floor(rr / 5.5 + 0.5)
    d_cb = np.minimum(d_in, np.maximum(np.abs(ph) * 5.5 - 0.5, d_in - 9.0))
    d_cb = np.minimum(d_cb, np.maximum(np.maximum(np.abs(z + 44.0 - 0.25 * (y - 50.0)) - 0.8,
                                                  d_in - 16.0), 45.0 - y))
    d_cb = np.minimum(d_cb, np.maximum(np.abs(ax - 10.0) - 0.8, d_in - 8.0))
    bf = _frac(-d_cb, h)
    gmf = _frac(d_cb - 2.2, h)
    g.paint(slc, bf, head.wm + 2.0 + (head.gm - head.wm - 2.0) * gmf, None)
    tv = g.tissue[slc]
    tv[(bf >= 0.5) & (gmf >= 0.5)] = _T["cerebellar_grey"]
    tv[(bf >= 0.5) & (gmf < 0.5)] = _T["cerebellar_white"]

    # basal cisterns, brainstem, deep nuclei
    sld, z, y, x = g.box((-92.0, 40.0), (-45.0, 75.0), (-45.0, 45.0))
    x = shift.x(z, y, x)
    ax = np.abs(x)
    d_cis = np.minimum(_ell(z, y, x, (-16.0, -4.0, 0.0), (6.0, 12.0, 14.0)),
                       _ell(z, y, x, (-12.0, 20.0, 0.0), (11.0, 15.0, 17.0)))
    d_cis = np.minimum(d_cis, np.minimum(_ell(z, y, x, (-4.0, 34.0, 0.0), (5.0, 6.0, 7.0)),
                                         _ell(z, y, x, (-66.0, 62.0, 0.0), (8.0, 12.0, 10.0))))
    g.paint(sld, _frac(d_cis, h), head.csf, "csf")
    d_bs = np.minimum(_ell(z, y, x, (-12.0, 17.0, 0.0), (11.0, 10.0, 12.0)),
                      _ell(z, y, x, (-36.0, 16.0, 0.0), (13.0, 12.0, 15.0)))
    d_bs = np.minimum(d_bs, _capsule(z, y, x, (-46.0, 26.0, 0.0), (-75.0, 34.0, 0.0), 8.0))
    g.paint(sld, _frac(d_bs, h), 0.5 * (head.gm + head.wm) - 1.0, "brainstem")
    g.paint(sld, _frac(_ell(z, y, x, (-14.0, 7.0, 0.0), (6.0, 4.0, 3.0)), h), head.csf, "csf")
    d_th = _ell(z, y, ax, (5.0, 13.0, 10.0), (9.0, 13.0, 8.0))
    d_cd = np.minimum(_ell(z, y, ax, (11.0, -15.0, 12.0), (8.0, 10.0, 4.5)),
                      _capsule(z, y, ax, (18.0, -5.0, 12.0), (22.0, 20.0, 14.0), 3.0))
    d_pu = _ell(z, y, ax, (3.0, -4.0, 25.0), (10.0, 15.0, 4.5))
    d_gp = _ell(z, y, ax, (0.0, -3.0, 18.5), (6.0, 8.0, 3.0))
    g.paint(sld, _frac(d_th, h), head.gm - 3.0, "thalamus")
    g.paint(sld, _frac(d_cd, h), head.gm - 1.0, "caudate")
    g.paint(sld, _frac(d_pu, h), head.gm - 1.0, "putamen")
    g.paint(sld, _frac(d_gp, h), head.gm - 4.0, "pallidum")
    near_l = np.minimum(d_pu, d_gp) < 5.0
    near_m = np.minimum(d_cd, d_th) < 5.0
    box_ic = (ax > 12.0) & (ax < 23.5) & (np.abs(y + 1.0) < 23.0) & (np.abs(z - 6.0) < 12.0)
    tv = g.tissue[sld]
    tv[box_ic & near_l & near_m & (tv == _T["white_matter"])] = _T["internal_capsule"]
    # ventricles: frontal horns, bodies, atria, occipital and temporal horns, III, IV, aqueduct
    v = head.vent
    d_v = np.minimum(_ell(z, y, ax, (14.0, -22.0, 1.5 + 3.5 * v), (6.0, 14.0, 3.5 * v)),
                     _ell(z, y, ax, (20.0, 6.0, 1.5 + 4.0 * v), (4.5, 18.0, 4.0 * v)))
    d_v = np.minimum(d_v, _ell(z, y, ax, (12.0, 30.0, 18.0), (7.0, 9.0, 5.0 * v)))
    d_v = np.minimum(d_v, _capsule(z, y, ax, (10.0, 32.0, 18.0), (6.0, 58.0, 18.0), 2.0 * v))
    d_v = np.minimum(d_v, _capsule(z, y, ax, (4.0, 30.0, 24.0), (-10.0, 10.0, 30.0), 1.5 * v))
    d_v = np.minimum(d_v, _capsule(z, y, ax, (-10.0, 10.0, 30.0), (-18.0, -18.0, 30.0), 1.5 * v))
    d_v = np.minimum(d_v, _ell(z, y, x, (-2.0, 2.0, 0.0), (8.0, 13.0, 1.5 * v)))
    d_v = np.minimum(d_v, _ell(z, y, x, (-34.0, 34.0, 0.0), (7.0, 4.0, 7.0)))
    d_v = np.minimum(d_v, _capsule(z, y, x, (-26.0, 30.0, 0.0), (-6.0, 24.0, 0.0), 1.0))
    fv = _frac(d_v, h)
    g.paint(sld, fv, head.csf, "csf")
    vent = np.zeros(g.shape, dtype=bool)
    vent[sld] = fv >= 0.5
    g.paint(sld, _frac(_ell(z, y, ax, (11.0, 31.0, 19.0), (2.5, 4.0, 2.5)), h), 38.0,
            "choroid_plexus")

    # falx, tentorium, dural venous sinuses
    sl, z, y, x = g.box((-62.0, 92.0), (-92.0, 100.0), (-76.0, 76.0))
    x = shift.x(z, y, x)
    ax = np.abs(x)
    dep = _sub(geo.depth, sl)
    z_bot = np.where(np.abs(y) < 40.0, 20.0 + 8.0 * np.sqrt(np.clip(1 - (y / 40.0) ** 2, 0, 1)),
                     -300.0)
    d_fx = np.maximum(np.maximum(ax - 0.6, z_bot - z), np.maximum(-dep, z - 200.0))
    d_fx = np.maximum(d_fx, _sub(geo.cer_floor, sl) - z)
    g.paint(sl, 0.8 * _frac(d_fx, h), 55.0, "dura")
    zt = _sub(geo.tent, sl)
    d_tn = np.maximum(np.abs(z - zt) - 0.6, geo.y_pet[None, sl[1], sl[2]] + 3.0 - y)
    d_tn = np.maximum(np.maximum(d_tn, np.minimum(14.0 - ax, 40.0 - y)), -dep)
    g.paint(sl, 0.8 * _frac(d_tn, h), 55.0, "dura")
    d_sss = np.maximum(np.maximum(-dep, dep - 7.0), ax - (4.5 - 0.6 * np.clip(dep, 0, None)))
    d_sss = np.maximum(d_sss, np.maximum(np.abs(y - 6.5) - 81.5, -z))
    d_sin = np.minimum(d_sss, _capsule(z, y, x, (2.0, 40.0, 0.0), (-26.0, 84.0, 0.0), 2.5))
    for p0, p1 in (((-27.0, 86.0, 0.0), (-30.0, 72.0, 42.0)),
                   ((-30.0, 72.0, 42.0), (-38.0, 42.0, 50.0)),
                   ((-38.0, 42.0, 50.0), (-68.0, 28.0, 40.0))):
        d_sin = np.minimum(d_sin, _capsule(z, y, ax, p0, p1, 3.5))
    g.paint(sl, _frac(d_sin, h), head.venous, "venous_blood")
    return vent, cleft


_ARTERIES = (((-52.0, 4.0, 0.0), (-18.0, 6.0, 0.0), 1.6),  # basilar
             ((-18.0, 6.0, 0.0), (-12.0, 22.0, 16.0), 1.1),  # posterior cerebral
             ((-18.0, 6.0, 0.0), (-12.0, 22.0, -16.0), 1.1),
             ((-14.0, -8.0, 13.0), (-10.0, -8.0, 34.0), 1.5),  # left M1
             ((-14.0, -8.0, -13.0), (-10.0, -8.0, -34.0), 1.5),  # right M1
             ((-10.0, -8.0, 34.0), (4.0, 6.0, 38.0), 1.1),  # M2
             ((-10.0, -8.0, -34.0), (4.0, 6.0, -38.0), 1.1),
             ((-14.0, -8.0, 13.0), (-10.0, -22.0, 1.5), 1.1),  # A1 segments
             ((-14.0, -8.0, -13.0), (-10.0, -22.0, -1.5), 1.1),
             ((-10.0, -22.0, 0.0), (30.0, -40.0, 0.0), 1.0))  # pericallosal
"""Circle of Willis and proximal branches: (start, end) as (z, y, x) mm and radius mm."""


def _arteries(g: _Grid, value: float, tissue: str) -> None:
    """Paint the basal arteries with ``value`` (HU)."""
    for p0, p1, r in _ARTERIES:
        lo = np.minimum(p0, p1) - r - 3.0
        hi = np.maximum(p0, p1) + r + 3.0
        sl, z, y, x = g.box((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]))
        g.paint(sl, _frac(_capsule(z, y, x, p0, p1, r), g.h), value, tissue)


def _regions(g: _Grid, head: _Head, shift: _Shift) -> None:
    """ASPECTS regions as 3-D slabs at the ganglionic and supraganglionic levels."""
    sl, z, y, x = g.box((-6.0, 48.0), (-75.0, 70.0), (-76.0, 76.0))
    x = shift.x(z, y, x)
    ax = np.abs(x)
    tv = g.tissue[sl]
    rv = g.region[sl]
    gang = (z >= -4.0) & (z <= 16.0)
    supra = (z >= 26.0) & (z <= 44.0)
    cwm = (tv == _T["grey_matter"]) | (tv == _T["white_matter"])
    xi = head.x_ins
    ins_e = np.sqrt(((y + 4.0) / 18.0) ** 2 + ((z - 5.0) / 12.0) ** 2)
    insula = (tv == _T["grey_matter"]) & (ax > xi - 5.5) & (ax < xi + 1.0) & (ins_e < 1.1)
    mca = gang & cwm & ~insula
    masks = {
        "C": gang & (tv == _T["caudate"]),
        "L": gang & ((tv == _T["putamen"]) | (tv == _T["pallidum"])),
        "IC": gang & (tv == _T["internal_capsule"]),
        "I": gang & insula,
        "M1": mca & (ax > 20.0) & (y >= -62.0) & (y < -20.0),
        "M2": mca & (ax > xi + 1.0) & (y >= -20.0) & (y < 18.0),
        "M3": mca & (ax > 22.0) & (y >= 18.0) & (y < 55.0),
        "M4": supra & cwm & (ax > 18.0) & (y >= -60.0) & (y < -15.0),
        "M5": supra & cwm & (ax > 18.0) & (y >= -15.0) & (y < 25.0),
        "M6": supra & cwm & (ax > 18.0) & (y >= 25.0) & (y < 60.0),
    }
    for i, name in enumerate(ASPECTS_REGIONS):
        m = np.broadcast_to(masks[name], rv.shape)
        rv[m & (x > 0)] = i + 1
        rv[m & (x < 0)] = i + 11


def _ischaemia(g: _Grid, head: _Head, label: NcctLabel, delta: float) -> None:
    """Early ischaemic change: each region's mean HU drops by ``delta`` (HU), grey more than
    white, so the grey-white difference fades."""
    base = 1 if label.ischaemic_side == "left" else 11
    codes = [ASPECTS_REGIONS.index(r) + base for r in set(label.ischaemic_regions)]
    is_grey = np.isin(g.tissue, [_T[n] for n in ("grey_matter", "caudate", "putamen",
                                                  "pallidum")])
    for code in codes:
        m = g.region == code
        grey = m & is_grey
        white = m & ~grey
        f_grey = float(grey.sum()) / max(1, int(m.sum()))
        a = min(0.45 * (head.gm - head.wm), 0.6 * delta / max(f_grey, 1e-3))
        g.hu[grey] -= delta + a * (1.0 - f_grey)
        g.hu[white] -= delta - a * f_grey


def _direction(g: _Grid, u0: tuple[float, float, float]) -> tuple[Arr, Arr, Arr, Arr]:
    """Angle (rad) between each grid point's direction from the skull centre and ``u0`` (x, y,
    z), plus the broadcast (z, y, x) coordinates."""
    z = g.axes[0][:, None, None]
    y = g.axes[1][None, :, None]
    x = g.axes[2][None, None, :]
    u = np.array(u0) / np.linalg.norm(u0)
    r = np.sqrt((z - 5.0) ** 2 + (y - 4.0) ** 2 + x ** 2) + 1e-3
    cosang = (x * u[0] + (y - 4.0) * u[1] + (z - 5.0) * u[2]) / r
    return np.arccos(np.clip(cosang, -1.0, 1.0)), z, y, x


def _extra_axial(g: _Grid, geo: _Geometry, path: _Pathology
                 ) -> tuple[Arr | None, tuple[float, float], dict[str, Arr]]:
    """Thickness (mm) of subdural and epidural haematomas under the inner table."""
    kinds = path.label.bleeds
    gap: Arr | None = None
    falx = (0.0, 0.0)
    shapes: dict[str, Arr] = {}
    edh_side = path.sdh_side * (-1.0 if "subdural" in kinds else 1.0)
    if "epidural" in kinds:
        u0 = [(edh_side * 0.95, -0.05, -0.2), (edh_side * 0.5, -0.8, 0.3),
              (edh_side * 0.7, 0.25, 0.65)][path.edh_site]
        ang, z, y, x = _direction(g, u0)
        t = path.edh_thick * np.clip(1.0 - (ang / path.edh_span) ** 2, 0.0, None)
        y_cor = geo.y_coronal(z)
        y_lam = geo.y_lambdoid(z)
        inside = (y_cor - y) if path.edh_site == 1 else np.minimum(y - y_cor, y_lam - y)
        t = np.minimum(t, 3.0 * np.clip(inside, 0.0, None))
        t = t * (x * edh_side > 2.0) * np.clip((z - geo.floor) / 6.0, 0.0, 1.0)
        shapes["epidural"] = t.astype(np.float32)
        gap = shapes["epidural"]
    if "subdural" in kinds:
        if path.sdh_falcine:
            thick = float(np.clip(path.sdh_thick * 0.2, 2.0, 4.0))
            falx = (thick, 0.0) if path.sdh_side < 0 else (0.0, thick)
        else:
            u0 = (path.sdh_side * 0.85, float(path.sdh_dir[0]), float(path.sdh_dir[1]))
            ang, z, y, x = _direction(g, u0)
            radius = 75.0 * path.sdh_span
            thick = min(path.sdh_thick, 3.0 * 45000.0 / (math.pi * radius ** 2))
            t = thick * np.sqrt(np.clip(1.0 - (ang / path.sdh_span) ** 2, 0.0, None))
            t = t * np.clip((x * path.sdh_side - 1.0) / 6.0, 0.0, 1.0)
            t = t * np.clip((z - geo.floor) / 8.0, 0.0, 1.0)
            shapes["subdural"] = t.astype(np.float32)
            gap = shapes["subdural"] if gap is None else gap + shapes["subdural"]
    return gap, falx, shapes


_IPH_SITES = {"basal_ganglia": ((3.0, -4.0, 25.0), (2.0, 60.0)),
              "thalamic": ((6.0, 13.0, 11.0), (1.0, 20.0)),
              "cerebellar": ((-42.0, 55.0, 25.0), (2.0, 30.0)),
              "pontine": ((-36.0, 16.0, 0.0), (1.0, 8.0))}
_LOBES = ((30.0, -45.0, 33.0), (45.0, 35.0, 33.0), (-15.0, 0.0, 45.0), (15.0, 62.0, 25.0))


def _bleeds(g: _Grid, geo: _Geometry, path: _Pathology, spaces: tuple[Arr, Arr], shift: _Shift,
            shapes: dict[str, Arr], falx: tuple[float, float],
            gravity: Arr) -> tuple[dict[str, Arr], dict[str, Any]]:
    """Paint the label's haemorrhages; returns per-kind blood fractions on the grid and notes.

    ``spaces`` holds the ventricle mask and the cerebral cleft distance (mm) from
    :func:`_brain`; acute subarachnoid blood fills and distends the clefts by about 0.5 mm.
    """
    h = g.h
    vent, cleft = spaces
    bhu = path.blood_hu
    blood: dict[str, Arr] = {}
    notes: dict[str, Any] = {}
    z3 = g.axes[0][:, None, None]
    y3 = g.axes[1][None, :, None]
    x3 = g.axes[2][None, None, :]

    def swirl(z: Arr, y: Arr, x: Arr) -> Arr | float:
        if not path.swirl:
            return bhu
        p = path.swirl_phase
        s = np.sin(0.45 * z + p[0]) * np.sin(0.45 * y + p[1]) * np.sin(0.45 * x + p[2])
        res: Arr = bhu - 22.0 * np.clip(2.0 * s, 0.0, 1.0)
        return res

    def put(kind: str, sl: tuple[slice, slice, slice], f: Arr, value: Arr | float) -> None:
        g.paint(sl, f, value, "blood")
        acc = blood.setdefault(kind, np.zeros(g.shape, dtype=np.float32))
        acc[sl] = np.maximum(acc[sl], f)

    for kind in path.label.bleeds:
        if kind == "intraparenchymal":
            if path.iph_site == "lobar":
                c0, (lo, hi) = _LOBES[path.iph_lobe], (5.0, 80.0)
            else:
                c0, (lo, hi) = _IPH_SITES[path.iph_site]
            side = 0.0 if path.iph_site == "pontine" else path.iph_side
            cx = c0[2] * side
            fc = shift.x(np.array(c0[0]), np.array(c0[1]), np.array(cx)) - cx
            c = (c0[0], c0[1], float(cx - fc))  # the haematoma moves with its brain
            vol = lo * (hi / lo) ** path.iph_u
            ab = path.iph_axes
            k = (3000.0 * vol / (4.0 * math.pi * ab[1] * ab[2])) ** (1.0 / 3.0)
            rot = _rot(*np.degrees(path.iph_rot))
            ext = 1.4 * k + 8.0
            sl, z, y, x = g.box((c[0] - ext, c[0] + ext), (c[1] - ext, c[1] + ext),
                                (c[2] - ext, c[2] + ext))
            pz, py, px = z - c[0], y - c[1], x - c[2]
            q = [rot[0, i] * px + rot[1, i] * py + rot[2, i] * pz for i in range(3)]
            rr = np.sqrt(sum(qi ** 2 for qi in q)) + 1e-3
            rho = np.sqrt(sum((qi / (k * ai)) ** 2 for qi, ai in zip(q, ab, strict=True)))
            bump = sum(b[0] * np.cos(3.0 * (b[1] * q[0] + b[2] * q[1] + b[3] * q[2]) / rr)
                       for b in path.iph_bumps)
            d = (rho - 1.0 - 0.1 * bump) * k * float(ab[2])
            paren = np.isin(g.tissue[sl], _PARENCHYMA)  # effaces the sulci it reaches:
            paren |= (g.tissue[sl] == _T["csf"]) & (cleft[sl] > -4.0) & ~vent[sl]
            if path.oedema > 0.0:
                rim = _frac(np.maximum(-d, d - path.oedema), h) * paren
                g.paint(sl, rim, g.hu[sl] - 9.0, "oedema")
            put(kind, sl, _frac(d, h) * paren, swirl(z, y, x))
            notes["intraparenchymal_site"] = path.iph_site
        elif kind == "intraventricular":
            s = z3 * gravity[2] + y3 * gravity[1] + x3 * gravity[0]
            if path.ivh_cast:
                side = path.iph_side
                region = ((np.abs(x3) < 4.0) & (z3 < 12.0)) | ((x3 * side > 0) & (y3 < 20.0))
                notes["intraventricular_pattern"] = "cast"
            else:
                level = float(np.max(np.where(vent & (y3 > 20.0), s, -1e9))) - path.ivh_depth
                region = s > level
                notes["intraventricular_pattern"] = "layering"
            f = (vent & region).astype(np.float32)
            full = (slice(None), slice(None), slice(None))
            put(kind, full, f, bhu - 8.0)
        elif kind == "subarachnoid":
            sas = ((g.tissue == _T["csf"]) | (cleft < 0.5)) & ~vent & (z3 > -70.0)
            sas &= (geo.depth > 0.0) & (z3 > geo.floor)
            if path.sah_basal:
                z_syl = -10.0 + 0.28 * (y3 + 40.0)
                w = (_ell(z3, y3, x3, (-12.0, -5.0, 0.0), (16.0, 24.0, 40.0)) < 0) | (
                    (np.abs(z3 - z_syl) < 5.0) & (np.abs(x3) > 25.0) & (np.abs(y3 + 2.0) < 30.0))
                notes["subarachnoid_pattern"] = "basal"
            else:
                u = np.array([path.sah_side * 0.8, path.sah_dir[0], path.sah_dir[1]])
                u = 62.0 * u / np.linalg.norm(u)
                w = _ell(z3, y3, x3, (5.0 + u[2], 4.0 + u[1], u[0]), (28.0, 28.0, 28.0)) < 0
                notes["subarachnoid_pattern"] = "convexity"
            full = (slice(None), slice(None), slice(None))
            put(kind, full, (sas & w).astype(np.float32) * path.sah_fill, bhu - 6.0)
        elif kind == "subdural" and "subdural" in shapes:
            t = shapes["subdural"]
            d = np.maximum(np.maximum(-geo.depth, geo.depth - t), 0.3 - t)
            full = (slice(None), slice(None), slice(None))
            put(kind, full, _frac(d, h), swirl(z3, y3, x3))
            notes["subdural_pattern"] = "convexity"
        elif kind == "subdural":
            side = 1.0 if falx[1] > 0 else -1.0
            thick = max(falx)
            sl, z, y, x = g.box((15.0, 85.0), (-50.0, 65.0), (-15.0, 15.0))
            z_bot = np.where(np.abs(y) < 40.0, 20.0 + 8.0 * np.sqrt(
                np.clip(1 - (y / 40.0) ** 2, 0, 1)), -300.0)
            d = np.maximum(np.maximum(0.6 - x * side, x * side - thick - 0.6), z_bot + 2.0 - z)
            d = np.maximum(np.maximum(d, -_sub(geo.depth, sl) + 3.0), np.abs(y - 5.0) - 35.0)
            put(kind, sl, _frac(d, h), bhu)
            notes["subdural_pattern"] = "falcine"
        elif kind == "epidural":
            t = shapes["epidural"]
            d = np.maximum(np.maximum(-geo.depth, geo.depth - t), 0.3 - t)
            full = (slice(None), slice(None), slice(None))
            put(kind, full, _frac(d, h), bhu + 4.0)
            notes["epidural_site"] = ("temporal", "frontal", "parietal")[path.edh_site]
    return blood, notes


def _mimics(g: _Grid, head: _Head, path: _Pathology) -> None:
    """Paint the label's mimics: calcifications, hyperdense vessel, metal, residual contrast."""
    h = g.h
    c = path.calc_hu
    blobs: list[tuple[tuple[float, float, float], tuple[float, float, float], float, str]] = []
    for m in path.label.mimics:
        if m == "choroid_plexus_calcification":
            blobs += [((11.0, 31.0, s * 19.0), (2.5, 3.0, 2.5), c[0], "calcification")
                      for s in (-1.0, 1.0)]
        elif m == "pineal_calcification":
            blobs.append(((2.0, 31.0, 0.0), (3.0, 3.0, 3.0), c[1], "calcification"))
        elif m == "basal_ganglia_calcification":
            blobs += [((0.0, -3.0, s * 18.5), (2.5, 3.5, 2.0), 100.0 + 0.4 * (c[2] - 100.0),
                       "calcification") for s in (-1.0, 1.0)]
        elif m == "falx_calcification":
            blobs.append(((50.0, -20.0, 0.0), (4.0, 9.0, 1.2), c[3], "calcification"))
        elif m == "streak_artefact":
            centre = [(-8.0, -6.0, path.vessel_side * 36.0), (-10.0, -22.0, 0.0),
                      (-17.0, 6.0, 0.0)][path.metal_site]
            semi = (3.5, 3.5, 3.5) if path.metal_coil else (4.0, 2.0, 2.5)
            blobs.append((centre, semi, _METAL_HU, "metal"))
        elif m == "residual_contrast":
            _arteries(g, path.contrast_hu, "contrast")
            for name, frac in (("venous_blood", 1.0), ("choroid_plexus", 0.6)):
                sel = g.tissue == _T[name]
                g.hu[sel] = frac * path.contrast_hu + (1 - frac) * g.hu[sel]
                g.tissue[sel] = _T["contrast"]
        elif m == "hyperdense_vessel":
            if path.vessel_basilar:
                p0, p1, r = (-52.0, 4.0, 0.0), (-18.0, 6.0, 0.0), 2.2
            else:
                s = path.vessel_side
                p0, p1, r = (-14.0, -8.0, 13.0 * s), (-10.0, -8.0, 34.0 * s), 2.0
            sl, z, y, x = g.box((-60.0, 0.0), (-20.0, 15.0), (-45.0, 45.0))
            g.paint(sl, _frac(_capsule(z, y, x, p0, p1, r), h), path.vessel_hu, "thrombus")
    for centre, semi, value, tissue in blobs:
        ext = max(semi) + 4.0
        sl, z, y, x = g.box(*((ci - ext, ci + ext) for ci in centre))
        g.paint(sl, _frac(_ell(z, y, x, centre, semi), h), value, tissue)


def _anatomy(head: _Head, path: _Pathology, acq: _Acquisition, rot: Arr
             ) -> tuple[_Grid, dict[str, Arr], dict[str, Any]]:
    """Paint the whole head with its pathology on the canonical grid."""
    g = _Grid((-108.0, -110.0, -95.0), (104.0, 116.0, 95.0), float(np.clip(acq.ha, 1.3, 2.2)))
    geo = _Geometry(g, head)
    _skull(g, head, geo)
    gap, falx, shapes = _extra_axial(g, geo, path)
    shift = _mass_effect(path)
    vent, cleft = _brain(g, head, geo, gap, falx, shift)
    _arteries(g, head.venous, "venous_blood")
    _regions(g, head, shift)
    if path.label.ischaemic_regions:
        _ischaemia(g, head, path.label, path.delta)
    gravity = rot.T @ np.array([0.0, 1.0, 0.0])  # supine: posterior is down
    blood, notes = _bleeds(g, geo, path, (vent, cleft), shift, shapes, falx, gravity)
    notes["midline_shift_mm"] = shift.mm
    _mimics(g, head, path)
    return g, blood, notes


def _to_scanner(pts_zyx: Arr, head: _Head, acq: _Acquisition, rot: Arr) -> Arr:
    """Canonical (z, y, x) points to scanner (x, y, z) mm."""
    actual = pts_zyx * np.array(head.scale)
    xyz = actual[:, ::-1]
    res: Arr = xyz @ rot.T + np.array([acq.offset[0], acq.offset[1], 0.0])
    return res


def _block_mean(a: Arr, s: int) -> Arr:
    """Mean over s x s in-plane blocks of a (n, y, x) stack."""
    if s == 1:
        return a
    n, ny, nx = a.shape
    res: Arr = a.reshape(n, ny // s, s, nx // s, s).mean(axis=(2, 4))
    return res


def _resize(a: Arr, m: int) -> Arr:
    """Area-preserving in-plane resize of a (n, k, k) stack to (n, m, m)."""
    k = a.shape[1]
    if k % m == 0:
        return _block_mean(a, k // m)
    out: Arr = ndimage.zoom(a, (1.0, m / k, m / k), order=1, mode="nearest", grid_mode=True)
    return out


def _sample(g: _Grid, head: _Head, acq: _Acquisition, rot: Arr, blood: dict[str, Arr]
            ) -> tuple[Arr, Arr, dict[str, Arr], float]:
    """Helical sampling with a triangular slice sensitivity profile (FWHM = thickness).

    Returns HU slices on the acquisition grid (nz, na, na), the label codes at the output matrix
    (tissue * 32 + region), the blood fractions per kind (nz, na, na) and the first slice z (mm).
    """
    bone = np.argwhere(g.tissue[::2, ::2, ::2] == _T["cortical_bone"]).astype(np.float32)
    bone = bone * 2.0 * g.h + np.array(g.lo, dtype=np.float32)
    top = float(_to_scanner(bone, head, acq, rot)[:, 2].max())
    ang = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    bz, by = head.landmarks["basion"][:2]
    ring = np.stack([np.full(16, bz - 2.0), by + 16.0 + 16.0 * np.cos(ang), 15.0 * np.sin(ang)],
                    axis=1)
    bottom = float(_to_scanner(ring, head, acq, rot)[:, 2].min())
    bottom = bottom + 25.0 if acq.start_high else bottom - acq.margin[0]
    top = top - 15.0 if acq.stop_short else top + acq.margin[1]
    t = acq.thickness
    nz = int(math.ceil((top - bottom) / t)) + 1
    zk = bottom + t * np.arange(nz)
    nsub = acq.nsub
    zs = bottom - t + (t / nsub) * np.arange(nsub * (nz + 1) + 1)
    w = np.clip(1.0 - np.abs(zs[None, :] - zk[:, None]) / t, 0.0, None)
    w /= w.sum(axis=1, keepdims=True)
    na, ha = acq.na, acq.ha
    hu = np.zeros((nz, na * na), dtype=np.float32)
    fr = {k: np.zeros((nz, na * na), dtype=np.float32) for k in blood}
    scale = np.array(head.scale)
    lo = np.array(g.lo)

    def coords(zv: Arr, n: int, pix: float) -> Arr:
        u = (np.arange(n) + 0.5) * pix - acq.fov / 2.0
        px = (u - acq.offset[0])[None, None, :]
        py = (u - acq.offset[1])[None, :, None]
        pz = zv[:, None, None]
        out = []
        for axis in (2, 1, 0):  # canonical z, y, x from head x, y, z
            c = rot[0, axis] * px + rot[1, axis] * py + rot[2, axis] * pz
            out.append(((c / scale[2 - axis] - lo[2 - axis]) / g.h).astype(np.float32))
        return np.stack(np.broadcast_arrays(*out))

    step = 12
    for j0 in range(0, len(zs), step):
        cs = coords(zs[j0:j0 + step], na, ha)
        wj = w[:, j0:j0 + step].astype(np.float32)
        plane = ndimage.map_coordinates(g.hu, cs, order=1, mode="constant", cval=-1000.0)
        hu += wj @ plane.reshape(len(plane), -1)
        for k, arr in blood.items():
            part = ndimage.map_coordinates(arr, cs, order=1, mode="constant", cval=0.0)
            fr[k] += wj @ part.reshape(len(part), -1)
    code = g.tissue.astype(np.uint16) * 32 + g.region
    m = acq.matrix
    labels = np.empty((nz, m, m), dtype=np.uint16)
    for k0 in range(0, nz, step):
        cs = coords(zk[k0:k0 + step], m, acq.pixel)
        labels[k0:k0 + step] = ndimage.map_coordinates(code, cs, order=0, mode="constant",
                                                       cval=0)
    fr3 = {k: v.reshape(nz, na, na) for k, v in fr.items()}
    return hu.reshape(nz, na, na), labels, fr3, float(bottom)


@lru_cache(maxsize=4)
def _projector(n: int, views: int) -> Any:
    """Sparse parallel-beam projector (views * n bins, n * n pixels), linear bin weights; built
    once per grid size and shared read-only by every render."""
    c = np.arange(n) - (n - 1) / 2.0
    xx, yy = np.meshgrid(c, c)
    rows, cols, vals = [], [], []
    pix = np.arange(n * n)
    for k in range(views):
        th = math.pi * k / views
        b = (xx * math.cos(th) + yy * math.sin(th)).ravel() + (n - 1) / 2.0
        i0 = np.floor(b).astype(int)
        w1 = b - i0
        for idx, wt in ((i0, 1.0 - w1), (i0 + 1, w1)):
            ok = (idx >= 0) & (idx < n)
            rows.append(k * n + idx[ok])
            cols.append(pix[ok])
            vals.append(wt[ok])
    return sparse.csr_matrix((np.concatenate(vals).astype(np.float32),
                              (np.concatenate(rows), np.concatenate(cols))),
                             shape=(views * n, n * n))


def _beam(lo_hu: Arr, pix: float, acq: _Acquisition, rng: np.random.Generator
          ) -> tuple[Arr, Arr]:
    """Beam hardening, metal and noise-variance images from parallel ray sums (36 views).

    Bone and water path lengths (mm of 1000 HU excess) harden the beam: the projection error
    -k * path^2 is ramp-filtered and back-projected (cupping, dark bands between dense bones).
    Rays through metal add photon-starvation errors (streaks). Returns the HU error image and
    the relative noise SD (per-ray variance exp(attenuation), back-projected).
    """
    nz, n, _ = lo_hu.shape
    views = 36
    proj = _projector(n, views)
    flat = lo_hu.reshape(nz, n * n).T
    maps = np.concatenate([np.clip(flat - 200.0, 0.0, 2500.0), np.clip(flat - 3000.0, 0.0, None),
                           np.clip(flat + 1000.0, 0.0, None)], axis=1) * (pix / 1000.0)
    sums = np.asarray(proj @ maps).reshape(views, n, 3, nz).transpose(2, 0, 3, 1)
    p_b, p_m, p_w = sums[0], sums[1], sums[2]  # (views, nz, n), mm
    att = 0.019 * (p_w + 1.2 * p_b + 2.0 * p_m)
    starve = rng.standard_normal(p_m.shape).astype(np.float32) * 0.05 * p_m
    err = -(2e-3 * acq.bh_bone * p_b ** 2 + 6e-6 * acq.bh_water * p_w ** 2
            + 1.5e-3 * p_m ** 2) + starve
    var = np.exp(att - 3.5)
    pad = 2 * n
    ramp = np.abs(np.fft.rfftfreq(pad, d=pix)).astype(np.float32)
    q = np.fft.irfft(np.fft.rfft(err, n=pad, axis=-1) * ramp, n=pad, axis=-1)[..., :n]
    back = proj.T @ np.concatenate([q.transpose(0, 2, 1).reshape(views * n, nz),
                                    var.transpose(0, 2, 1).reshape(views * n, nz)], axis=1)
    image = np.asarray(back[:, :nz]).T.reshape(nz, n, n) * (1000.0 * math.pi / views)
    vimg = np.asarray(back[:, nz:]).T.reshape(nz, n, n) / views
    brain = (lo_hu > 10.0) & (lo_hu < 60.0)
    if brain.any():
        image -= float(np.median(image[brain]))
        vimg /= float(np.median(vimg[brain]))
    return image.astype(np.float32), np.sqrt(np.clip(vimg, 0.3, 16.0)).astype(np.float32)


def _mtf(f: Arr, f50_lp_cm: float) -> Arr:
    """Gaussian kernel MTF at spatial frequency ``f`` (cycles/mm)."""
    return np.exp(-math.log(2.0) * (f * 10.0 / f50_lp_cm) ** 2).astype(np.float32)


def _reconstruct(hu_low: Arr, acq: _Acquisition) -> Arr:
    """Kernel MTF, beam hardening, metal streaks and coloured noise; integer HU."""
    rng = np.random.default_rng(acq.noise_seed)
    nz, na, _ = hu_low.shape
    q = max([d for d in (1, 2, 3, 4, 5, 6, 8) if na % d == 0 and na // d >= 56] or [1])
    lo = _block_mean(hu_low, q)
    err, rel_sd = _beam(lo, acq.ha * q, acq, rng)
    m = acq.matrix
    img = _resize(hu_low, m) + _resize(err, m)
    fy = np.fft.fftfreq(m, d=acq.pixel)[:, None]
    fx = np.fft.rfftfreq(m, d=acq.pixel)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2).astype(np.float32)
    mtf = _mtf(f, acq.f50)
    img = np.fft.irfft2(np.fft.rfft2(img) * mtf, s=(m, m)).astype(np.float32)
    shape = np.sqrt(f) * mtf
    full = np.concatenate([shape, shape[:, 1:(m + 1) // 2][:, ::-1]], axis=1) if m > 1 else shape
    norm = math.sqrt(float((full ** 2).sum())) / m
    white = rng.standard_normal((nz, m, m), dtype=np.float32)
    noise = np.fft.irfft2(np.fft.rfft2(white) * (shape / max(norm, 1e-6)), s=(m, m))
    img += noise.astype(np.float32) * acq.noise_sd * _resize(rel_sd, m)
    out: Arr = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
    return out


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, Arr, Arr]:
    """Render one case: (case, ASPECTS region map, tissue map), all (z, y, x) uint8 maps.

    Region codes: 1..10 the patient's left regions in ``ASPECTS_REGIONS`` order, 11..20 the
    right ones; tissue indices point into :data:`TISSUES`.
    """
    head = _Head(np.random.default_rng([seed, 1]))
    acq = _Acquisition(np.random.default_rng([seed, 2]), matrix)
    path = _Pathology(np.random.default_rng([seed, 3]), label)
    rot = _rot(acq.tilt, acq.yaw, acq.roll)
    g, blood, notes = _anatomy(head, path, acq, rot)
    hu_low, labels, fracs, z0 = _sample(g, head, acq, rot, blood)
    volume = _reconstruct(hu_low, acq)
    nz = volume.shape[0]
    mask = np.zeros(volume.shape, dtype=np.uint8)
    best = np.full(volume.shape, 0.5, dtype=np.float32)
    for kind, fr in fracs.items():
        up = _resize(fr, matrix)
        sel = up >= best
        mask[sel] = BLEED_KINDS.index(kind) + 1
        best = np.where(sel, up, best)
    spacing = (acq.thickness, acq.pixel, acq.pixel)
    voxel_ml = acq.thickness * acq.pixel ** 2 / 1000.0
    volumes = {k: float(np.count_nonzero(mask == BLEED_KINDS.index(k) + 1)) * voxel_ml
               for k in label.bleeds}
    details: dict[str, Any] = {
        "kernel": acq.kernel,
        "ischaemic_delta_hu": path.delta if label.ischaemic_regions else None,
        "bleed_volumes_ml": volumes,
        "bleed_notes": notes,
        "acute_blood_hu": path.blood_hu,
        "hyperacute_swirl": path.swirl,
        "age_years": head.age,
        "landmarks_mm": {k: list(v) for k, v in head.landmarks.items()},
        "grey_white_hu": [head.gm, head.wm],
        "pose": {"gantry_tilt_deg": acq.tilt, "yaw_deg": acq.yaw, "roll_deg": acq.roll,
                 "offset_mm": list(acq.offset), "head_scale_zyx": list(head.scale)},
        "physics": {"slice_thickness_mm": acq.thickness, "ssp": "triangular",
                    "ssp_subsamples": acq.nsub, "fov_mm": acq.fov,
                    "kernel_mtf50_lp_cm": acq.f50, "noise_sd_hu": acq.noise_sd,
                    "beam_hardening_bone": acq.bh_bone, "beam_hardening_water": acq.bh_water,
                    "kvp": 120.0, "slices": nz, "beam_views": 36,
                    "noise_power_spectrum": "ramp x kernel MTF^2"},
        "origin_mm": [-acq.fov / 2 + acq.pixel / 2, -acq.fov / 2 + acq.pixel / 2, z0],
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=spacing, blood_mask=mask, details=details)
    tissue = (labels // 32).astype(np.uint8)
    region = (labels % 32).astype(np.uint8)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
