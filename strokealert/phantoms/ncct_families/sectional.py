"""The "sectional" family of synthetic non-contrast head CT: a head built like a sectional atlas.

Anatomical description. The head is drawn the way a neuroradiology sectional atlas describes
it: as a stack of standard axial reference levels in the canonical orbitomeatal (OM) plane,
each level a set of 2-D outlines (ellipses and capsules, as signed distances in mm), which are
then lofted into 3-D by signed-distance morphing (linear interpolation of the 2-D signed
distance fields between neighbouring levels, with rounded caps above and below the last
level of a structure). The reference levels, from the bottom up, are:

1. C1 / dental arch and foramen magnum: medulla, vertebral arteries, cerebellar tonsils,
   cisterna magna, occipital bone, mastoid air cells, clivus, nasopharynx, maxillary sinuses;
2. posterior fossa: pons, fourth ventricle, cerebellar hemispheres and vermis, petrous ridges,
   sphenoid sinus and orbits (fat, globes) in front, temporal tips in the middle cranial fossae;
3. suprasellar: the pentagon of the basal cisterns, midbrain, ambient and quadrigeminal
   cisterns, uncus, sylvian fissures, frontal lobes over the orbital roofs, superior vermis;
4. third ventricle / basal ganglia (ASPECTS ganglionic level): caudate heads, frontal horns,
   lentiform nucleus (putamen lateral, pallidum medial and denser), internal capsule (anterior
   limb, genu, posterior limb), thalami, claustrum, insular ribbon behind the insular cistern,
   sylvian fissure, pineal, atria with the choroid glomus, falx;
5. bodies of the lateral ventricles (supraganglionic, ASPECTS M4-M6, about 2 cm higher);
6. centrum semiovale;
7. high convexity and 8. vertex, with the superior sagittal sinus at the ends of the falx.

The cerebrum is a single outline per level from which CSF clefts are carved: radial sulci
(fixed angles per hemisphere, depths varying by level, wider and deeper with age), the
interhemispheric and sylvian fissures, the insular and basal cisterns. The cortex is the
2.5-3.5 mm ribbon inside that carved boundary; white matter lies deeper. Age-related atrophy
widens sulci, the subarachnoid space and the ventricles. Head size, dolicho/brachycephaly,
pose (pitch, yaw, roll up to about 15 degrees) and position in the field of view vary by seed.

Pathology is painted on the lofted head (head frame) and then acquired with the same
operator as the anatomy, so the truth mask is exact after the physics: intraparenchymal
(hypertensive: putamen, thalamus, pons, cerebellum; or lobar) with an oedema rim and midline
shift, intraventricular (dependent layering in the occipital horns, or a cast), subarachnoid
(basal cisterns and fissures, or convexity sulci), subdural (convexity crescent, or along the
falx) and epidural (biconvex lens under the temporal or parietal squama). Mimics are bright
but are not blood.

CT physics (this family's own): sequential (step-and-shoot) axial slices of 4-5 mm in the OM
plane of the gantry, each the average of thin sub-slices; cupping; beam hardening (dark
Hounsfield bar between the petrous bones, darkening next to thick bone); a reconstruction
kernel (vendor-like name) with blur and mild edge overshoot; low-frequency weighted noise
like iterative reconstruction; occasional patient motion on one slice (doubled edge);
optional dental fillings with metal streaks in the lowest slices. Integer HU.

Units and conventions: HU; millimetres; arrays (z, y, x) in patient LPS with z rising to the
vertex (index 0 is the lowest slice); the head frame (u, v, w) is u to the patient's left,
v posterior, w superior, w = 0 near the OM line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

Arr = npt.NDArray[Any]
Prim = tuple[Any, ...]
Warp = Callable[[Arr, Arr], Arr]

FAMILY = "sectional"

TISSUES: tuple[str, ...] = (
    "air", "fat", "scalp", "muscle", "cortical_bone", "diploe", "csf", "grey_matter",
    "white_matter", "caudate", "putamen", "pallidum", "thalamus", "internal_capsule",
    "brainstem", "cerebellum", "choroid_plexus", "vessel", "venous_blood", "dura", "eye",
    "blood", "oedema", "calcification", "contrast", "thrombus", "metal",
)
"""Tissue names; the tissue map holds indices into this tuple (0 = air)."""

_T = {name: i for i, name in enumerate(TISSUES)}
_GREY = ("grey_matter", "caudate", "putamen", "pallidum", "thalamus")
_WHITE = ("white_matter", "internal_capsule")

_KERNELS: tuple[tuple[str, float, float, float], ...] = (
    # name, blur sigma (mm), overshoot gain, overshoot sigma (mm)
    ("H31s", 0.45, 0.15, 1.2), ("H40s", 0.35, 0.30, 1.0), ("J40s", 0.35, 0.25, 1.1),
    ("Hr38", 0.40, 0.25, 1.1), ("STANDARD", 0.40, 0.20, 1.2), ("SOFT", 0.55, 0.10, 1.4),
    ("FC21", 0.45, 0.20, 1.3), ("FC26", 0.40, 0.30, 1.1), ("UB", 0.40, 0.22, 1.2),
    ("UC", 0.45, 0.18, 1.3),
)

# Reference levels (mm above the OM line, before the per-seed height scale).
_LEVELS = {"c1": -50.0, "fm": -34.0, "pf": -15.0, "ss": 4.0, "bg": 24.0, "lv": 43.0,
           "cs": 62.0, "hc": 83.0, "vx": 99.0}


# ----------------------------------------------------------------------------- 2-D shapes

def _prim_sdf(p: Prim, uu: Arr, vv: Arr) -> Arr:
    """Approximate signed distance (mm) of a primitive: ellipse ``e`` or capsule ``c``."""
    if p[0] == "e":
        _, cu, cv, a, b, ang = p
        du = uu - cu
        dv = vv - cv
        if ang:
            c, s = math.cos(ang), math.sin(ang)
            du, dv = c * du + s * dv, -s * du + c * dv
        qa = du / a
        qb = dv / b
        r = np.sqrt(qa * qa + qb * qb)
        g = np.sqrt((qa / a) ** 2 + (qb / b) ** 2)
        return np.asarray(np.where(r > 1e-4, (r - 1.0) * r / np.maximum(g, 1e-9), -min(a, b)))
    _, u0, v0, u1, v1, rad = p
    pu = uu - u0
    pv = vv - v0
    bu, bv = u1 - u0, v1 - v0
    h = np.clip((pu * bu + pv * bv) / (bu * bu + bv * bv + 1e-9), 0.0, 1.0)
    return np.asarray(np.hypot(pu - bu * h, pv - bv * h) - rad)


def _prim_box(p: Prim) -> tuple[float, float, float, float]:
    """(u_min, u_max, v_min, v_max) of a primitive."""
    if p[0] == "e":
        r = max(p[3], p[4])
        return p[1] - r, p[1] + r, p[2] - r, p[2] + r
    return (min(p[1], p[3]) - p[5], max(p[1], p[3]) + p[5],
            min(p[2], p[4]) - p[5], max(p[2], p[4]) + p[5])


def _apply(out: Arr, p: Prim, uc: Arr, vc: Arr, margin: float, warp: Warp | None,
           carve: bool) -> None:
    """Union (or carve) one primitive into the raster ``out`` over its own bounding box."""
    u0, u1, v0, v1 = _prim_box(p)
    j0, j1 = np.searchsorted(uc, [u0 - margin, u1 + margin])
    i0, i1 = np.searchsorted(vc, [v0 - margin, v1 + margin])
    if j1 <= j0 or i1 <= i0:
        return
    uu = uc[None, j0:j1]
    vv = vc[i0:i1, None]
    if warp is not None:
        uu = uu - warp(uu, vv)
    d = _prim_sdf(p, uu, vv)
    sub = out[i0:i1, j0:j1]
    if carve:
        np.maximum(sub, -d, out=sub)
    else:
        np.minimum(sub, d, out=sub)


# ----------------------------------------------------------------------------- structures

@dataclass
class _Struct:
    """One structure of the atlas: its outlines at its reference levels."""

    name: str
    tissue: str
    levels: list[tuple[float, list[Prim], list[Prim]]]
    cap_lo: float = 6.0
    cap_hi: float = 6.0
    hu: float | None = None
    warp: bool = False
    keep: bool = False
    paint: bool = True
    margin: float = 12.0
    full: bool = False  # rasterise on the whole plane


@dataclass
class _Grid:
    """The head-frame grid: u (left), v (posterior), w (superior) coordinates in mm."""

    u: Arr
    v: Arr
    w: Arr
    hs: float
    dzh: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.w.size, self.v.size, self.u.size)


@dataclass
class _Lofted:
    """A lofted signed-distance field on a crop of the grid."""

    z0: int
    y0: int
    x0: int
    sdf: Arr

    def slices(self) -> tuple[slice, slice, slice]:
        nz, ny, nx = self.sdf.shape
        return (slice(self.z0, self.z0 + nz), slice(self.y0, self.y0 + ny),
                slice(self.x0, self.x0 + nx))

    def window(self, sl: tuple[slice, ...], fill: float = 50.0) -> Arr:
        """The field on the grid window ``sl`` (``fill`` outside the crop)."""
        shape = tuple(x.stop - x.start for x in sl)
        out = np.full(shape, fill, np.float32)
        own = self.slices()
        src, dst = [], []
        for w, o in zip(sl, own, strict=True):
            lo, hi = max(w.start, o.start), min(w.stop, o.stop)
            if hi <= lo:
                return out
            src.append(slice(lo - o.start, hi - o.start))
            dst.append(slice(lo - w.start, hi - w.start))
        out[tuple(dst)] = self.sdf[tuple(src)]
        return out

    def full(self, shape: tuple[int, int, int], fill: float = 50.0) -> Arr:
        out = np.full(shape, fill, np.float32)
        out[self.slices()] = self.sdf
        return out


def _loft(st: _Struct, grid: _Grid, warps: dict[float, Warp | None]) -> _Lofted | None:
    """Rasterise a structure at its levels and loft it (signed-distance morphing)."""
    levels = sorted(st.levels, key=lambda t: t[0])
    if st.full:
        y0, y1, x0, x1 = 0, grid.v.size, 0, grid.u.size
    else:
        boxes = [_prim_box(p) for _, prims, _ in levels for p in prims]
        umin = min(b[0] for b in boxes) - st.margin - 12.0
        umax = max(b[1] for b in boxes) + st.margin + 12.0
        vmin = min(b[2] for b in boxes) - st.margin
        vmax = max(b[3] for b in boxes) + st.margin
        x0, x1 = (int(i) for i in np.searchsorted(grid.u, [umin, umax]))
        y0, y1 = (int(i) for i in np.searchsorted(grid.v, [vmin, vmax]))
    if x1 <= x0 or y1 <= y0:
        return None
    uc = grid.u[x0:x1]
    vc = grid.v[y0:y1]
    ws = [lv[0] for lv in levels]
    rasters = []
    for w, prims, minus in levels:
        out = np.full((vc.size, uc.size), st.margin, np.float32)
        warp = warps.get(w) if st.warp else None
        for p in prims:
            _apply(out, p, uc, vc, st.margin, warp, carve=False)
        for p in minus:
            _apply(out, p, uc, vc, 6.0, warp, carve=True)
        rasters.append(out)
    k0 = int(np.searchsorted(grid.w, ws[0] - st.cap_lo))
    k1 = int(np.searchsorted(grid.w, ws[-1] + st.cap_hi, side="right"))
    if k1 <= k0:
        return None
    inr_lo = max(0.5, -float(rasters[0].min()))
    inr_hi = max(0.5, -float(rasters[-1].min()))
    sdf = np.empty((k1 - k0, vc.size, uc.size), np.float32)
    for i, k in enumerate(range(k0, k1)):
        w = float(grid.w[k])
        if w <= ws[0] or len(ws) == 1 and w <= ws[0]:
            d = (ws[0] - w) / max(st.cap_lo, 0.5)
            sdf[i] = rasters[0] + inr_lo * (1.0 - math.sqrt(max(0.0, 1.0 - d * d)))
        elif w >= ws[-1]:
            d = (w - ws[-1]) / max(st.cap_hi, 0.5)
            sdf[i] = rasters[-1] + inr_hi * (1.0 - math.sqrt(max(0.0, 1.0 - d * d)))
        else:
            j = min(int(np.searchsorted(ws, w, side="right")) - 1, len(ws) - 2)
            t = (w - ws[j]) / (ws[j + 1] - ws[j])
            sdf[i] = (1.0 - t) * rasters[j] + t * rasters[j + 1]
    return _Lofted(k0, y0, x0, sdf)


# ----------------------------------------------------------------------------- the patient

@dataclass
class _Anat:
    """Per-seed patient: size, shape, age, tissue attenuation, levels."""

    sx: float
    sy: float
    sz: float
    age: float
    skull_t: float
    scalp_t: float
    ribbon: float
    sa_gap: float
    vent: float
    hct: float
    hu: dict[str, float]
    lev: dict[str, float]
    sulci: list[tuple[int, float, float, float, list[float], list[float]]]
    teeth_w: float
    metal_teeth: list[int]
    scan_bottom_w: float
    extra: dict[str, Any] = field(default_factory=dict)


def _patient(rng: np.random.Generator, px: float) -> _Anat:
    ceph = rng.uniform(-0.08, 0.08)  # + brachycephalic, - dolichocephalic
    size = rng.uniform(0.92, 1.07)
    sx = size * (1.0 + ceph)
    sy = size * (1.0 - ceph)
    sz = size * rng.uniform(0.95, 1.05)
    age = float(rng.beta(2.0, 1.6))
    wm = rng.uniform(24.0, 30.0)
    gm = min(42.0, wm + rng.uniform(9.5, 13.5))
    anaemic = rng.random() < 0.18
    hct = rng.uniform(24.0, 32.0) if anaemic else rng.uniform(34.0, 50.0)
    hu = {
        "air": -1000.0, "fat": rng.uniform(-110.0, -85.0), "scalp": rng.uniform(30.0, 55.0),
        "muscle": rng.uniform(40.0, 58.0), "cortical_bone": rng.uniform(1000.0, 1900.0),
        "diploe": rng.uniform(300.0, 700.0), "csf": rng.uniform(1.0, 9.0), "grey_matter": gm,
        "white_matter": wm, "caudate": gm + rng.uniform(-1.5, 1.5),
        "putamen": gm + rng.uniform(-1.0, 2.0), "thalamus": gm - rng.uniform(0.5, 3.0),
        "internal_capsule": wm + rng.uniform(-1.0, 1.5), "brainstem": wm + rng.uniform(3.0, 7.0),
        "cerebellum": gm - rng.uniform(0.0, 3.0), "choroid_plexus": gm + rng.uniform(0.0, 6.0),
        "vessel": 12.0 + 0.8 * hct + rng.uniform(0.0, 4.0),
        "venous_blood": 10.0 + 0.8 * hct + rng.uniform(0.0, 5.0),
        "dura": rng.uniform(42.0, 55.0), "eye": rng.uniform(4.0, 14.0),
        "blood": float(np.clip(28.0 + 1.0 * hct + rng.uniform(2.0, 12.0), 52.0, 90.0)),
        "oedema": wm - rng.uniform(6.0, 11.0), "calcification": rng.uniform(150.0, 450.0),
        "contrast": rng.uniform(120.0, 280.0), "thrombus": rng.uniform(55.0, 80.0),
        "metal": 3071.0,
    }
    hu["pallidum"] = hu["putamen"] + rng.uniform(2.0, 5.0)
    lev = {k: v * sz for k, v in _LEVELS.items()}
    # Sulci per hemisphere: (side, angle from lateral in rad, depth, radius, per-level depth
    # factors, per-level angle drift); levels ss, bg, lv, cs, hc, vx.
    sulci = []
    for side in (1, -1):
        n = int(rng.integers(15, 21))
        base = np.linspace(-1.75, 1.85, n) + rng.uniform(-0.06, 0.06, n)
        for ang in base:
            depth = rng.uniform(7.0, 15.0) * (1.0 + 0.35 * age)
            rad = rng.uniform(0.35, 0.75) + 1.1 * age
            fac = list(rng.uniform(0.55, 1.2, 6))
            drift = list(rng.uniform(-0.012, 0.012, 6))
            sulci.append((side, float(ang), float(depth), float(rad), fac, drift))
    dental = rng.random() < 0.3
    bottom = lev["fm"] - rng.uniform(3.0, 9.0)
    teeth_w = bottom + rng.uniform(1.0, 4.0) if dental else bottom - rng.uniform(4.0, 14.0)
    metal = [int(i) for i in rng.choice(14, size=int(rng.integers(1, 5)), replace=False)] \
        if dental else []
    return _Anat(sx=sx, sy=sy, sz=sz, age=age, skull_t=rng.uniform(5.5, 8.5),
                 scalp_t=rng.uniform(4.0, 7.0), ribbon=rng.uniform(2.8, 3.5),
                 sa_gap=1.0 + 2.5 * age + rng.uniform(0.0, 0.5), vent=1.0 + 0.7 * age,
                 hct=hct, hu=hu, lev=lev, sulci=sulci, teeth_w=teeth_w, metal_teeth=metal,
                 scan_bottom_w=bottom)


# Intracranial outlines (u, v, a, b) per level, unscaled mm.
_IC: dict[str, list[tuple[float, float, float, float]]] = {
    "c1": [(0.0, 14.0, 11.0, 11.0)],
    "fm": [(0.0, 18.0, 16.0, 16.0), (24.0, 42.0, 20.0, 17.0), (-24.0, 42.0, 20.0, 17.0)],
    "pf": [(0.0, 32.0, 50.0, 36.0), (36.0, -14.0, 17.0, 23.0), (-36.0, -14.0, 17.0, 23.0)],
    "ss": [(0.0, 8.0, 62.0, 76.0), (0.0, -52.0, 22.0, 26.0)],
    "bg": [(0.0, 3.0, 67.0, 86.0)],
    "lv": [(0.0, 4.0, 66.0, 85.0)],
    "cs": [(0.0, 6.0, 60.0, 79.0)],
    "hc": [(0.0, 10.0, 46.0, 62.0)],
    "vx": [(0.0, 12.0, 24.0, 33.0)],
}
_SECTORS = {"M1": (-80.0, -30.0), "M2": (-30.0, 25.0), "M3": (25.0, 75.0)}


def _ray_ellipse(cu: float, cv: float, du: float, dv: float, a: float, b: float,
                 ev: float) -> float:
    """Distance along the ray (cu, cv) + t (du, dv) to the ellipse (0, ev, a, b)."""
    pa = (du / a) ** 2 + (dv / b) ** 2
    pb = 2.0 * (cu * du / a ** 2 + (cv - ev) * dv / b ** 2)
    pc = (cu / a) ** 2 + ((cv - ev) / b) ** 2 - 1.0
    disc = max(pb * pb - 4.0 * pa * pc, 0.0)
    return (-pb + math.sqrt(disc)) / (2.0 * pa)


def _sector_of(side: int, u: float, v: float, an: _Anat, level: str) -> str | None:
    """The ASPECTS cortical sector (M1-M3) of a point at the ganglionic/supraganglionic
    level, by its angle around the hemisphere's deep centre."""
    cu, cv = (22.0, -2.0) if level == "bg" else (18.0, 0.0)
    phi = math.degrees(math.atan2(v / an.sy - cv, side * u / an.sx - cu))
    for name, (lo, hi) in _SECTORS.items():
        if lo <= phi < hi:
            return name
    return None


def _atlas(an: _Anat, effaced: set[tuple[int, str]]) -> list[_Struct]:
    """The atlas: every structure with its outlines at the reference levels, in paint order.

    ``effaced`` holds (side, region) pairs whose sulci are narrowed by cortical swelling."""
    sx, sy = an.sx, an.sy
    sr = math.sqrt(sx * sy)
    L = an.lev

    def E(cu: float, cv: float, a: float, b: float, ang: float = 0.0) -> Prim:
        return ("e", cu * sx, cv * sy, a * sx, b * sy, ang)

    def C(u0: float, v0: float, u1: float, v1: float, r: float) -> Prim:
        return ("c", u0 * sx, v0 * sy, u1 * sx, v1 * sy, r * sr)

    def grow(name: str, d: float) -> list[Prim]:
        return [("e", u * sx, v * sy, a * sx + d, b * sy + d, 0.0) for u, v, a, b in _IC[name]]

    def lv(*names: str, **prims: Any) -> list[tuple[float, list[Prim], list[Prim]]]:
        return [(L[n], prims[n], []) for n in names]

    both = (1, -1)
    t, sc = an.skull_t, an.scalp_t
    vs = an.vent
    out: list[_Struct] = []
    # ---- scalp, muscles, skull
    temporalis = {k: [E(s * (_IC[k][0][2] + t + 2.0), -2, 5.0, 38.0) for s in both]
                  for k in ("ss", "bg")}
    temporalis["pf"] = [E(s * 60.0, -8, 7.0, 22.0) for s in both]
    skin = {
        "c1": [E(0, 22, 60, 56), E(0, -50, 48, 38)],
        "fm": [E(0, 18, 66, 70), E(0, -56, 54, 42)],
        "pf": [E(0, 10, 72, 82), E(0, -62, 58, 40)],
        "ss": grow("ss", t + sc) + [E(0, -70, 46, 32)],
        "bg": grow("bg", t + sc), "lv": grow("lv", t + sc), "cs": grow("cs", t + sc),
        "hc": grow("hc", t + sc), "vx": grow("vx", t + sc),
    }
    for k, prims in temporalis.items():
        skin[k] = skin[k] + [(p[0], p[1], p[2], p[3] + 2.5, p[4] + 2.5, p[5]) for p in prims]
    out.append(_Struct("skin", "scalp", [(L[k], v, []) for k, v in skin.items()],
                       cap_lo=12.0, cap_hi=9.0 + t, full=True, margin=60.0))
    out.append(_Struct("neck_muscle", "muscle",
                       lv("c1", "fm", c1=[E(0, 40, 46, 26)], fm=[E(0, 48, 50, 20)]),
                       cap_lo=10.0, cap_hi=8.0))
    out.append(_Struct("temporalis", "muscle", [(L[k], v, []) for k, v in temporalis.items()],
                       cap_lo=8.0, cap_hi=10.0))
    skull = {
        "c1": [E(0, 14, 19, 18)] + [E(s * 22, 12, 8, 9) for s in both],
        "fm": grow("fm", t * 1.6) + [E(0, 4, 20, 14)] + [E(s * 47, 19, 12, 14) for s in both],
        "pf": grow("pf", t * 1.5) + [E(0, -14, 22, 22)] + [E(s * 52, 15, 11, 13)
                                                          for s in both],
        "ss": grow("ss", t), "bg": grow("bg", t), "lv": grow("lv", t), "cs": grow("cs", t),
        "hc": grow("hc", t), "vx": grow("vx", t),
    }
    # intracranial cavity (lofted and kept, painted after the base of the skull)
    ic = _Struct("ic", "csf", [(L[k], grow(k, 0.0), []) for k in _IC], cap_lo=10.0,
                 cap_hi=9.0, keep=True, full=True, margin=60.0, paint=False)
    out.append(ic)
    out.append(_Struct("skull", "cortical_bone", [(L[k], v, []) for k, v in skull.items()],
                       cap_lo=8.0, cap_hi=t + 2.0, full=True, margin=60.0))
    # ---- skull base and face
    out.append(_Struct("petrous", "cortical_bone", [
        (L["pf"], [C(s * 58, 18, s * 17, -7, 6.5) for s in both], []),
        (L["pf"] + 9.0 * an.sz, [C(s * 50, 14, s * 20, -2, 3.5) for s in both], [])],
        cap_lo=7.0, cap_hi=3.0, hu=an.hu["cortical_bone"] * 1.15))
    out.append(_Struct("clivus", "cortical_bone", lv(
        "fm", "pf", fm=[E(0, -3, 11, 7)], pf=[E(0, -7, 9, 6)]), cap_lo=4.0, cap_hi=8.0))
    teeth: list[Prim] = []
    metal: list[Prim] = []
    for i in range(14):
        th = math.radians(-78.0 + 156.0 * i / 13.0)
        cu, cv = 24.0 * math.sin(th), -50.0 - 22.0 * math.cos(th)
        teeth.append(E(cu, cv, 3.6, 3.6))
        if i in an.metal_teeth:
            metal.append(E(cu, cv, 2.0, 2.0))
    out.append(_Struct("teeth", "cortical_bone", [(an.teeth_w, teeth, [])], cap_lo=5.0,
                       cap_hi=5.0, hu=2300.0))
    if metal:
        out.append(_Struct("fillings", "metal", [(an.teeth_w + 1.5, metal, [])], cap_lo=1.8,
                           cap_hi=1.8))
    air = an.hu["air"]
    out.append(_Struct("sinus_walls", "cortical_bone", [
        (L["fm"], [E(s * 24, -58, 14.5, 16.5) for s in both] + [E(0, -64, 7, 19)]
         + [E(s * 46, -40, 4, 14, -s * 0.5) for s in both], []),
        (L["pf"], [E(s * 24, -56, 15, 17) for s in both] + [E(0, -66, 7, 19), E(0, -28, 14, 12)]
         + [E(s * 31, -62, 18, 20) for s in both], []),
        (L["ss"], [E(0, -82, 14, 5)] + [E(s * 31, -66, 14, 14) for s in both], [])],
        cap_lo=6.0, cap_hi=4.0))
    out.append(_Struct("nasopharynx", "air", lv("c1", "fm", c1=[E(0, -24, 12, 6)],
                                                 fm=[E(0, -26, 13, 8)]), cap_lo=4, cap_hi=6))
    out.append(_Struct("maxillary_sinus", "air", lv(
        "fm", "pf", fm=[E(s * 24, -58, 12, 14) for s in both],
        pf=[E(s * 24, -56, 13, 15) for s in both]), cap_lo=8.0, cap_hi=4.0))
    out.append(_Struct("nasal_cavity", "air", lv(
        "fm", "pf", fm=[E(0, -64, 5, 17)], pf=[E(0, -66, 5, 17)]), cap_lo=6.0, cap_hi=8.0))
    out.append(_Struct("sphenoid_sinus", "air", lv("pf", pf=[E(0, -28, 12, 10)]),
                       cap_lo=6.0, cap_hi=10.0))
    out.append(_Struct("mastoid", "air", lv("fm", "pf", fm=[E(s * 47, 20, 9, 11) for s in both],
                                             pf=[E(s * 52, 16, 8, 10) for s in both]),
                       cap_lo=4.0, cap_hi=5.0, hu=-700.0))
    out.append(_Struct("frontal_sinus", "air", lv("ss", ss=[E(0, -82, 12, 3.2)]), cap_lo=4.0,
                       cap_hi=12.0, hu=air))
    out.append(_Struct("orbit", "fat", lv("pf", "ss", pf=[E(s * 31, -62, 16, 18) for s in both],
                                          ss=[E(s * 31, -66, 12, 12) for s in both]),
                       cap_lo=6.0, cap_hi=5.0))
    out.append(_Struct("globe", "eye", [(-3.0 * an.sz, [E(s * 32, -72, 11.5, 11.5)
                                                         for s in both], [])],
                       cap_lo=11.0, cap_hi=11.0))
    # ---- intracranial contents
    out.append(_Struct("ic_csf", "csf", ic.levels, cap_lo=10.0, cap_hi=9.0, full=True,
                       margin=60.0))
    brain_levels = _brain_levels(an, effaced)
    out.append(_Struct("brain", "grey_matter", brain_levels, cap_lo=8.0, cap_hi=7.0,
                       keep=True, warp=True, full=True, margin=60.0))
    out.append(_Struct("insula_marker", "grey_matter", [
        (L["ss"] + 6.0 * an.sz, [C(s * 37.5, -14, s * 37.5, 6, 2.4) for s in both], []),
        (L["bg"], [C(s * 38.0, -20, s * 38.0, 14, 2.4) for s in both], []),
        (L["lv"] - 8.0 * an.sz, [C(s * 37.0, -14, s * 37.0, 8, 2.4) for s in both], [])],
        cap_lo=2.0, cap_hi=2.0, warp=True, keep=True, paint=False))
    out.append(_Struct("cerebellum", "cerebellum", [
        (L["fm"], [E(s * 24, 42, 18, 15) for s in both] + [E(s * 10, 32, 7, 8) for s in both],
         []),
        (L["pf"], [E(0, 34, 47, 32)], []),
        (L["ss"], [E(0, 56, 36, 17)], [])], cap_lo=6.0, cap_hi=8.0))
    out.append(_Struct("arbor_vitae", "white_matter", lv(
        "pf", pf=[E(s * 22, 38, 10, 7, s * 0.4) for s in both]), cap_lo=8.0, cap_hi=8.0,
        hu=an.hu["white_matter"] + 3.0))
    out.append(_Struct("brainstem", "brainstem", [
        (L["c1"], [E(0, 14, 6.5, 5.5)], []), (L["fm"], [E(0, 15, 8, 7)], []),
        (L["pf"], [E(0, 13, 15, 12)], []), (L["ss"], [E(0, 9, 13, 12)], [])],
        cap_lo=10.0, cap_hi=6.0))
    out.append(_Struct("cisterns", "csf", [
        (L["fm"], [E(0, 38, 13, 8)], []),
        (L["pf"], [E(0, -1, 13, 3.5 + an.age)], []),
        (L["ss"], [E(0, 25, 8, 3.5), C(0, -3, 0, -1, 2.5)], [])],
        cap_lo=6.0, cap_hi=4.0))
    out.append(_Struct("fourth_ventricle", "csf", lv(
        "pf", pf=[E(0, 30, 6 * vs, 3.5, 0.0)]), cap_lo=7.0, cap_hi=5.0, keep=True))
    out.append(_Struct("aqueduct", "csf", lv("ss", ss=[E(0, 15, 1.5, 1.5)]), cap_lo=8.0,
                       cap_hi=6.0))
    # deep grey nuclei and white matter tracts of the ganglionic level
    gang = L["bg"]
    out.append(_Struct("internal_capsule", "internal_capsule", [
        (gang, [C(s * 16.5, -5, s * 22, -26, 2.9) for s in both]
         + [C(s * 16.5, -5, s * 25, 18, 3.1) for s in both], [])],
        cap_lo=9.0, cap_hi=11.0, warp=True))
    out.append(_Struct("caudate", "caudate", [
        (gang, [E(s * (9.5 + 3.5 * vs), -15, 5.5, 9.0, s * 0.3) for s in both], []),
        (L["lv"], [E(s * (10 + 5.5 * vs), -8, 2.8, 11.0, s * 0.12) for s in both], [])],
        cap_lo=8.0, cap_hi=6.0, warp=True))
    out.append(_Struct("putamen", "putamen", [
        (gang, [E(s * 28.5, -4, 5.0, 15.0, -s * 0.1) for s in both], [])],
        cap_lo=10.0, cap_hi=11.0, warp=True))
    out.append(_Struct("pallidum", "pallidum", [
        (gang, [E(s * 22.0, -3, 3.4, 7.5, -s * 0.1) for s in both], [])],
        cap_lo=6.0, cap_hi=5.0, warp=True))
    out.append(_Struct("claustrum", "grey_matter", [
        (gang, [C(s * 35.3, -17, s * 35.3, 11, 0.6) for s in both], [])],
        cap_lo=10.0, cap_hi=10.0, warp=True))
    out.append(_Struct("thalamus", "thalamus", [
        (gang, [E(s * (6.5 + 3.5 * vs), 9, 8.5, 12.0, -s * 0.15) for s in both], [])],
        cap_lo=9.0, cap_hi=7.0, warp=True))
    # ventricles
    out.append(_Struct("lateral_ventricles", "csf", [
        (gang, [E(s * (4.5 + 3.5 * vs), -19, 4.6 * vs, 11.0, s * 0.3) for s in both]
         + [E(s * 19, 34, 4.2 * vs, 12.0, -s * 0.45) for s in both], []),
        (L["lv"], [E(s * (5.0 + 5.5 * vs), 2, 4.2 * vs, 25.0, s * 0.1) for s in both], [])],
        cap_lo=9.0, cap_hi=7.0, warp=True, keep=True))
    out.append(_Struct("occipital_horns", "csf", [
        (gang - 5.0 * an.sz, [E(s * 23, 42, 2.5 * vs, 9.0, -s * 0.3) for s in both], [])],
        cap_lo=6.0, cap_hi=8.0, warp=True, keep=True))
    out.append(_Struct("third_ventricle", "csf", [
        (gang - 6.0 * an.sz, [E(0, 2, 1.2 + 1.4 * vs, 9.0)], []),
        (gang, [E(0, 3, 1.3 + 1.6 * vs, 11.0)], [])], cap_lo=6.0, cap_hi=4.0, warp=True,
        keep=True))
    out.append(_Struct("choroid_plexus", "choroid_plexus", [
        (gang, [E(s * 19.5, 31, 3.2, 4.5, -s * 0.45) for s in both], []),
        (L["lv"], [E(s * (5.5 + 5.5 * vs), 14, 1.6, 6.0) for s in both], [])],
        cap_lo=4.0, cap_hi=3.0, warp=True))
    out.append(_Struct("pineal", "grey_matter", [(gang + 2.0 * an.sz, [E(0, 21, 3.5, 3.5)], [])],
                       cap_lo=3.0, cap_hi=3.0, warp=True, hu=an.hu["grey_matter"] + 2.0))
    # falx and dural sinuses, vessels
    ic_b = {k: (_IC[k][0][1], _IC[k][0][3]) for k in ("bg", "lv", "cs", "hc", "vx")}
    falx: list[tuple[float, list[Prim], list[Prim]]] = []
    for k in ("bg", "lv", "cs", "hc", "vx"):
        vc, b = ic_b[k]
        if k in ("bg", "lv"):
            prims = [C(0, vc - b, 0, -28, 0.55), C(0, 32, 0, vc + b, 0.55)]
        else:
            prims = [C(0, vc - b, 0, vc + b, 0.55)]
        falx.append((L[k], prims, []))
    out.append(_Struct("falx", "dura", falx, cap_lo=8.0, cap_hi=4.0, warp=True))
    sss: list[tuple[float, list[Prim], list[Prim]]] = []
    for k in ("bg", "lv", "cs", "hc", "vx"):
        vc, b = ic_b[k]
        sss.append((L[k], [E(0, vc + b - 3.2, 4.0, 3.2), E(0, vc - b + 2.5, 2.5, 2.2)], []))
    out.append(_Struct("sss", "venous_blood", sss, cap_lo=10.0, cap_hi=2.0))
    out.append(_Struct("transverse_sinus", "venous_blood", [
        (L["pf"], [C(s * 44, 50, s * 20, 64, 3.0) for s in both], []),
        (L["ss"], [C(s * 20, 80, s * 4, 83, 3.0) for s in both], [])], cap_lo=4.0,
        cap_hi=3.0))
    out.append(_Struct("arteries", "vessel", [
        (L["fm"], [E(s * 8, 5, 2.2, 2.2) for s in both], []),
        (L["pf"], [E(0, 1, 2.0, 2.0)], []),
        (L["ss"] - 2.0, [C(s * 12, -9, s * 38, -13, 1.7) for s in both]
         + [C(s * 3, -22, s * 12, -9, 1.3) for s in both], [])],
        cap_lo=6.0, cap_hi=1.8))
    return out


def _brain_levels(an: _Anat, effaced: set[tuple[int, str]]
                  ) -> list[tuple[float, list[Prim], list[Prim]]]:
    """The cerebrum outline at each level with its CSF clefts carved."""
    sx, sy, sz = an.sx, an.sy, an.sz
    sr = math.sqrt(sx * sy)
    g = an.sa_gap
    L = an.lev

    def C(u0: float, v0: float, u1: float, v1: float, r: float) -> Prim:
        return ("c", u0 * sx, v0 * sy, u1 * sx, v1 * sy, r)

    def E(cu: float, cv: float, a: float, b: float) -> Prim:
        return ("e", cu * sx, cv * sy, a * sx, b * sy, 0.0)

    ih = 0.8 + 1.6 * an.age  # interhemispheric half-width
    syl = 0.8 + 2.2 * an.age
    out: list[tuple[float, list[Prim], list[Prim]]] = []
    # temporal tips in the middle cranial fossae
    out.append((L["pf"], [("e", s * 36 * sx, -14 * sy, 17 * sx - g, 23 * sy - g, 0.0)
                          for s in (1, -1)], []))
    sulc_levels = ("ss", "bg", "lv", "cs", "hc", "vx")
    for li, k in enumerate(sulc_levels):
        prims = [("e", u * sx, v * sy, a * sx - g, b * sy - g, 0.0) for u, v, a, b in _IC[k]]
        cu0, cv0, a0, b0 = _IC[k][0]
        A, B, ev = a0 * sx - g, b0 * sy - g, cv0 * sy
        minus: list[Prim] = []
        # interhemispheric fissure
        if k == "ss":
            minus.append(C(0, -90, 0, -8, ih))
        elif k in ("bg", "lv"):
            minus += [C(0, -95, 0, -28, ih), C(0, 32 if k == "bg" else 34, 0, 100, ih)]
        else:
            minus.append(C(0, -100, 0, 100, ih))
        if k == "ss":  # basal cisterns: suprasellar pentagon, sylvian arms, ambient
            minus += [E(0, -9, 9.5, 7.5), C(0, -10, 0, -30, 2.6)]
            for s in (1, -1):
                minus += [C(s * 6, -12, s * 34, -16, 2.3), C(s * 34, -16, s * 62, -10, syl),
                          C(s * 10, -4, s * 15, 18, 2.2 + 0.6 * an.age),
                          C(s * 37.5 + s * 2.4, -14, s * 37.5 + s * 2.4, 6, 0.7 + 0.8 * an.age),
                          C(s * 28, -6, s * 28, 0, 1.2 * an.vent)]  # temporal horn
        if k in ("bg", "lv"):
            for s in (1, -1):
                x = 40.4 if k == "bg" else 39.5
                if k == "bg":
                    minus += [C(s * x, -20, s * x, 14, 0.7 + 0.9 * an.age),
                              C(s * x, -6, s * 66, -12, syl)]
                else:
                    minus += [C(s * x, -12, s * x, 6, 0.6 + 0.6 * an.age),
                              C(s * x, -3, s * 64, -6, syl * 0.8)]
        # radial sulci
        for side, ang, depth, rad, fac, drift in an.sulci:
            th = ang + drift[li]
            cu = side * 0.42 * A
            cv = ev
            du, dv = side * math.cos(th), math.sin(th)
            tt = _ray_ellipse(cu, cv, du, dv, A, B, ev)
            d = depth * fac[li] * (0.6 if k in ("ss", "vx") else 1.0)
            r = rad
            pu, pv = cu + tt * du, cv + tt * dv
            region = _sector_of(side, pu, pv, an, "bg" if k in ("ss", "bg") else "lv")
            if region is not None and k in ("bg", "lv"):
                name = region if k == "bg" else f"M{int(region[1]) + 3}"
                if (side, name) in effaced:
                    r *= 0.35
            minus.append(("c", cu + (tt + 4.0) * du, cv + (tt + 4.0) * dv,
                          cu + (tt - d) * du, cv + (tt - d) * dv, r * sr))
            # a side branch from the middle of the sulcus (alternating sides)
            bth = th + (0.55 if (li + int(ang * 10)) % 2 else -0.55)
            bu, bv = side * math.cos(bth), math.sin(bth)
            mu, mv = cu + (tt - 0.45 * d) * du, cv + (tt - 0.45 * d) * dv
            minus.append(("c", mu, mv, mu - 0.45 * d * bu, mv - 0.45 * d * bv, 0.8 * r * sr))
        out.append((L[k], prims, minus))
    del sz
    return out


# ----------------------------------------------------------------------------- pathology

@dataclass
class _Bleed:
    kind: str
    sub: str
    side: int
    centre: tuple[float, float, float]
    target_ml: float
    params: dict[str, float]


def _plan_bleeds(label: NcctLabel, seed: int, an: _Anat, px: float) -> list[_Bleed]:
    """Decide each bleed (kind, subtype, side, centre, size) from its own random stream."""
    out = []
    L, sx, sy = an.lev, an.sx, an.sy
    for kind in label.bleeds:
        rng = np.random.default_rng([seed, 0xB1EED, BLEED_KINDS.index(kind)])
        side = 1 if rng.random() < 0.5 else -1
        small = rng.random() < 0.3
        params: dict[str, float] = {}
        if kind == "intraparenchymal":
            sub = str(rng.choice(["putamen", "thalamus", "pons", "cerebellum", "lobar", "lobar"]))
            if sub == "putamen":
                c = (side * 27.0 * sx, -3.0 * sy, L["bg"])
                vol = rng.uniform(1.5, 5.0) if small else rng.uniform(5.0, 50.0)
            elif sub == "thalamus":
                c = (side * 11.0 * sx, 9.0 * sy, L["bg"] + 2.0)
                vol = rng.uniform(1.5, 5.0) if small else rng.uniform(5.0, 25.0)
            elif sub == "pons":
                c = (side * 2.0 * sx, 13.0 * sy, L["pf"] + 2.0)
                vol = rng.uniform(1.0, 5.0)
            elif sub == "cerebellum":
                c = (side * 24.0 * sx, 40.0 * sy, L["pf"])
                vol = rng.uniform(2.0, 5.0) if small else rng.uniform(5.0, 25.0)
            else:
                lev = rng.uniform(L["bg"], L["hc"] - 6.0)
                th = rng.uniform(-1.4, 1.5)
                frac = rng.uniform(0.55, 0.72)
                c = (side * (22.0 + 30.0 * frac * math.cos(th)) * sx,
                     (78.0 * frac * math.sin(th)) * sy, lev)
                vol = rng.uniform(1.5, 5.0) if small else rng.uniform(5.0, 60.0)
            params["oedema_mm"] = rng.uniform(1.5, 5.0)
            params["hyperacute"] = float(rng.random() < 0.2)
        elif kind == "intraventricular":
            sub = "layered" if rng.random() < 0.6 else "cast"
            c = (side * 20.0 * sx, 36.0 * sy, L["bg"] - 3.0)
            vol = 0.0
            params["fill"] = rng.uniform(0.3, 0.65)
            params["both"] = float(rng.random() < 0.6)
        elif kind == "subarachnoid":
            sub = "basal" if (rng.random() < 0.6 or px > 1.5) else "convexity"
            if sub == "basal":
                c = (0.0, -6.0 * sy, L["ss"] + 2.0)
            else:
                th = rng.uniform(-0.9, 0.9)
                lev = rng.uniform(L["lv"], L["hc"])
                c = (side * 50.0 * sx * math.cos(th), 60.0 * sy * math.sin(th), lev)
            params["radius"] = rng.uniform(26.0, 40.0) if sub == "convexity" else 0.0
            vol = 0.0
        elif kind == "subdural":
            sub = "falx" if rng.random() < 0.2 else "convexity"
            thin = rng.random() < 0.35
            # thin (2-5 mm) collections only where the pixels can hold them
            tmin = 2.0 if px <= 1.0 else max(5.0, 2.5 * px)
            thick = rng.uniform(tmin, max(tmin, 5.0)) if thin else rng.uniform(
                max(5.0, tmin), max(16.0, tmin + 4.0))
            if sub == "falx":
                thick = rng.uniform(max(2.0, 1.6 * px), max(4.0, 2.0 * px))
                c = (side * 1.0, rng.uniform(-20.0, 30.0) * sy, rng.uniform(L["lv"], L["cs"]))
                params["length"] = rng.uniform(35.0, 60.0)
                params["height"] = rng.uniform(18.0, 30.0)
            else:
                th = rng.uniform(-0.7, 0.6)
                c = (side * 60.0 * sx * math.cos(th), 70.0 * sy * math.sin(th),
                     rng.uniform(L["bg"], L["cs"]))
                ext = rng.uniform(42.0, 65.0)
                thick = min(thick, 60000.0 / (0.5 * math.pi * ext * ext))
                params["extent"] = ext
            params["thickness"] = thick
            vol = 0.0
        else:
            sub = "temporal" if rng.random() < 0.55 else "parietal"
            if sub == "temporal":
                c = (side * 62.0 * sx, rng.uniform(-20.0, 5.0) * sy, L["ss"] + rng.uniform(4, 14))
            else:
                c = (side * 52.0 * sx, rng.uniform(0.0, 35.0) * sy, rng.uniform(L["lv"], L["cs"]))
            thin = rng.random() < 0.3
            params["extent"] = rng.uniform(16.0, 22.0) if thin else rng.uniform(22.0, 34.0)
            params["thickness"] = max(2.5 * px, rng.uniform(4.0, 7.0) if thin else
                                      rng.uniform(8.0, 22.0))
            vol = 0.0
        params["hu_delta"] = rng.uniform(-4.0, 4.0)
        params["seed"] = float(rng.integers(0, 2 ** 31 - 1))
        out.append(_Bleed(kind, sub, side, c, float(vol), params))
    return out


def _mass_effect(bleeds: list[_Bleed]) -> tuple[float, int, float, float] | None:
    """Midline shift (mm), direction (+1 to the left), and the (v, w) of the mass centre."""
    best = None
    for b in bleeds:
        if b.kind == "intraparenchymal" and b.sub in ("putamen", "thalamus", "lobar"):
            s = 0.16 * max(0.0, b.target_ml - 12.0)
        elif b.kind == "subdural" and b.sub == "convexity":
            s = 0.55 * max(0.0, b.params["thickness"] - 4.0)
        elif b.kind == "epidural":
            s = 0.35 * max(0.0, b.params["thickness"] - 6.0)
        else:
            s = 0.0
        if s > 0.5 and (best is None or s > best[0]):
            best = (min(s, 11.0), -b.side, b.centre[1], b.centre[2])
    return best


# ----------------------------------------------------------------------------- rendering

class _Head:
    """The head-frame volume being painted: HU, dominant tissue, kept signed distances."""

    def __init__(self, grid: _Grid) -> None:
        self.grid = grid
        self.hu = np.full(grid.shape, -1000.0, np.float32)
        self.tissue = np.zeros(grid.shape, np.uint8)
        self.kept: dict[str, _Lofted] = {}

    def frac(self, sdf: Arr) -> Arr:
        return np.clip(0.5 - sdf / self.grid.hs, 0.0, 1.0)

    def paint(self, lo: _Lofted, tissue: str, value: float) -> None:
        sl = lo.slices()
        f = self.frac(lo.sdf)
        sub = self.hu[sl]
        sub += f * (np.float32(value) - sub)
        self.tissue[sl][f >= 0.5] = _T[tissue]

    def paint_frac(self, f: Arr, sl: tuple[slice, ...], tissue: str, value: Arr | float) -> None:
        sub = self.hu[sl]
        sub += f * (value - sub)
        self.tissue[sl][f >= 0.5] = _T[tissue]

    def kept_full(self, name: str) -> Arr:
        return self.kept[name].full(self.grid.shape)


def _box_of(mask: Arr, pad: int = 2) -> tuple[slice, slice, slice] | None:
    """Bounding slices of a boolean mask."""
    idx = [np.flatnonzero(mask.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
    if any(i.size == 0 for i in idx):
        return None
    return tuple(slice(max(0, int(i[0]) - pad), int(i[-1]) + pad + 1)  # type: ignore[return-value]
                 for i in idx)


def _coords(grid: _Grid, sl: tuple[slice, ...]) -> tuple[Arr, Arr, Arr]:
    return (grid.w[sl[0]][:, None, None], grid.v[sl[1]][None, :, None],
            grid.u[sl[2]][None, None, :])


def _lumpy(ww: Arr, vv: Arr, uu: Arr, c: tuple[float, float, float], axes: Arr, rot: Arr,
           rng: np.random.Generator, amp: float) -> Arr:
    """Signed distance (approx, mm) of a lobulated ellipsoid."""
    du, dv, dw = uu - c[0], vv - c[1], ww - c[2]
    p = [rot[0, 0] * du + rot[0, 1] * dv + rot[0, 2] * dw,
         rot[1, 0] * du + rot[1, 1] * dv + rot[1, 2] * dw,
         rot[2, 0] * du + rot[2, 1] * dv + rot[2, 2] * dw]
    q = np.sqrt((p[0] / axes[0]) ** 2 + (p[1] / axes[1]) ** 2 + (p[2] / axes[2]) ** 2)
    lob = np.zeros_like(q)
    for _ in range(4):
        k = rng.normal(size=3)
        k /= np.linalg.norm(k)
        ph = rng.uniform(0, 2 * math.pi)
        n = rng.integers(2, 4)
        lob += np.cos(n * np.arctan2(k[0] * p[1] - k[1] * p[0], k[2] * p[2] + 1e-3) + ph)
    return np.asarray((q - 1.0 - amp * 0.25 * lob) * float(axes.min()))


def _rand_rot(rng: np.random.Generator) -> Arr:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q


Frac = list[tuple[tuple[slice, ...], Arr]]


def _draw_bleeds(head: _Head, bleeds: list[_Bleed], an: _Anat, g_head: Arr
                 ) -> dict[str, Frac]:
    """Paint every bleed; returns per kind its blood fractions (float32) on grid windows."""
    grid = head.grid
    frac: dict[str, Frac] = {}
    ic = head.kept["ic"]
    blood_hu = an.hu["blood"]
    for b in bleeds:
        rng = np.random.default_rng(int(b.params["seed"]))
        val = float(np.clip(blood_hu + b.params["hu_delta"], 50.0, 90.0))
        if b.kind == "intraparenchymal":
            axes = rng.uniform(0.75, 1.3, 3)
            if b.sub == "putamen":
                axes = np.array([0.7, 1.35, 1.0]) * rng.uniform(0.85, 1.15, 3)
            r0 = (3.0 * b.target_ml * 1000.0 / (4.0 * math.pi * float(np.prod(axes)))) ** (1 / 3)
            ax = axes * r0
            rad = float(ax.max()) * 1.5 + 10.0
            sl = _window(grid, b.centre, rad)
            ww, vv, uu = _coords(grid, sl)
            rot = _rand_rot(rng) if b.sub == "lobar" else np.eye(3)
            sdf = _lumpy(ww, vv, uu, b.centre, ax, rot, rng, 0.5)
            f_ic = head.frac(ic.window(sl) + 0.3)
            inside = head.frac(sdf) * f_ic
            if b.sub not in ("pons", "cerebellum"):
                brain = head.kept["brain"].window(sl)
                inside *= head.frac(brain - 1.0)
            oed = head.frac(sdf - b.params["oedema_mm"]) * f_ic * (1.0 - inside)
            oed *= np.isin(head.tissue[sl], [_T[t] for t in _GREY + _WHITE + (
                "cerebellum", "brainstem")])
            head.paint_frac(oed, sl, "oedema", an.hu["oedema"])
            value: Arr | float = val
            if b.params["hyperacute"] > 0.5:
                sw = np.sin((uu - b.centre[0]) * 0.45 + np.cos((vv - b.centre[1]) * 0.35)
                            * 2.0 + (ww - b.centre[2]) * 0.25)
                value = np.where(sw > 0.55, val - rng.uniform(18.0, 28.0), val).astype(
                    np.float32)
            head.paint_frac(inside, sl, "blood", value)
            fw = inside
        elif b.kind == "intraventricular":
            lat, occ = head.kept["lateral_ventricles"], head.kept["occipital_horns"]
            sl = _union_slices(lat.slices(), occ.slices())
            vent = np.minimum(lat.window(sl), occ.window(sl))
            fv = head.frac(vent)
            ww, vv, uu = _coords(grid, sl)
            side_ok = (uu * b.side > 0) if b.params["both"] < 0.5 else np.ones_like(uu, bool)
            if b.sub == "layered":
                proj = (uu * g_head[0] + vv * g_head[1] + ww * g_head[2]).astype(np.float32)
                projb = np.broadcast_to(proj, fv.shape)
                horn = (fv > 0.5) & (vv > 18.0 * an.sy) & side_ok & (ww < an.lev["lv"])
                pv = projb[horn]
                if pv.size == 0:
                    pv = projb[(fv > 0.5) & side_ok]
                level = float(np.quantile(pv, 1.0 - b.params["fill"])) if pv.size else 0.0
                lay = np.clip(0.5 + (proj - level) / grid.hs, 0.0, 1.0)
                fw = (fv * lay * ((vv > 14.0 * an.sy) & side_ok)).astype(np.float32)
            else:
                th = head.kept["third_ventricle"]
                third = head.frac(th.window(sl)) * (rng.random() < 0.7)
                fw = np.minimum(fv * (uu * b.side > 0) + third, 1.0).astype(np.float32)
            ivh = float(np.clip(val - rng.uniform(0.0, 5.0), 50.0, 90.0))
            head.paint_frac(fw, sl, "blood", ivh)
        elif b.kind == "subarachnoid":
            cu, cv, cw = b.centre
            if b.sub == "basal":
                rad3 = (60.0 * an.sx, 50.0 * an.sy, 24.0)
            else:
                rad3 = (b.params["radius"],) * 3
            sl = _window3(grid, b.centre, rad3)
            ww, vv, uu = _coords(grid, sl)
            brain = head.kept["brain"].window(sl)
            vent = np.full(brain.shape, 50.0, np.float32)
            for name in ("lateral_ventricles", "occipital_horns", "third_ventricle",
                         "fourth_ventricle"):
                vent = np.minimum(vent, head.kept[name].window(sl))
            ok = np.isin(head.tissue[sl], [_T["csf"], _T["grey_matter"], _T["white_matter"]])
            sa = head.frac(ic.window(sl) + 0.3) * (1.0 - head.frac(brain)) * (
                1.0 - head.frac(vent)) * ok
            reg = (((uu - cu) / rad3[0]) ** 2 + ((vv - cv) / rad3[1]) ** 2
                   + ((ww - cw) / rad3[2]) ** 2) < 1.0
            if b.sub == "basal":
                reg = reg & (ww > an.lev["pf"] - 8.0)
            else:
                reg = reg & (uu * b.side > 2.0)
            fw = (sa * reg).astype(np.float32)
            fw[fw < 0.15] = 0.0
            sah = float(np.clip(val - rng.uniform(0.0, 5.0), 50.0, 90.0))
            head.paint_frac(fw, sl, "blood", sah)
        else:
            cu, cv, cw = b.centre
            if b.kind == "subdural" and b.sub == "falx":
                rad3 = (b.params["thickness"] + 4.0, b.params["length"] + 2.0,
                        b.params["height"] + 2.0)
            else:
                e = b.params["extent"] + b.params["thickness"] + 4.0
                rad3 = (e, e, e)
            sl = _window3(grid, b.centre, rad3)
            ww, vv, uu = _coords(grid, sl)
            f_ic = head.frac(ic.window(sl) + 0.3)
            if b.kind == "subdural" and b.sub == "falx":
                half = b.params["thickness"]
                prof = np.clip(1.0 - ((vv - cv) / b.params["length"]) ** 2
                               - ((ww - cw) / b.params["height"]) ** 2, 0.0, 1.0)
                dist = uu * b.side - 0.7
                fshape = np.clip(0.5 + (np.sqrt(prof) * half - dist) / grid.hs, 0.0, 1.0)
                fw = (fshape * (dist > -0.2) * f_ic).astype(np.float32)
            else:
                depth = -ic.window(sl)
                ext = b.params["extent"]
                d2 = ((uu - cu) ** 2 + (vv - cv) ** 2 + (ww - cw) ** 2) / ext ** 2
                prof = np.clip(1.0 - d2, 0.0, 1.0)
                if b.kind == "epidural":
                    thick = b.params["thickness"] * np.sqrt(prof)
                else:
                    thick = b.params["thickness"] * prof
                fshape = np.clip(0.5 + (thick - depth) / grid.hs, 0.0, 1.0) * (thick > 0.3)
                side_ok = np.clip(0.5 + (uu * b.side - 1.2) / grid.hs, 0.0, 1.0)
                fw = (fshape * f_ic * side_ok * (ww > an.lev["pf"] + 4.0)).astype(np.float32)
            head.paint_frac(fw, sl, "blood", val)
        frac.setdefault(b.kind, []).append((sl, np.clip(fw, 0.0, 1.0).astype(np.float32)))
    return frac


def _window3(grid: _Grid, c: tuple[float, float, float], rad: tuple[float, float, float]
             ) -> tuple[slice, ...]:
    z0, z1 = np.searchsorted(grid.w, [c[2] - rad[2], c[2] + rad[2]])
    y0, y1 = np.searchsorted(grid.v, [c[1] - rad[1], c[1] + rad[1]])
    x0, x1 = np.searchsorted(grid.u, [c[0] - rad[0], c[0] + rad[0]])
    return (slice(int(z0), int(max(z1, z0 + 1))), slice(int(y0), int(max(y1, y0 + 1))),
            slice(int(x0), int(max(x1, x0 + 1))))


def _union_slices(a: tuple[slice, ...], b: tuple[slice, ...]) -> tuple[slice, ...]:
    return tuple(slice(min(p.start, q.start), max(p.stop, q.stop)) for p, q in zip(a, b,
                                                                                   strict=True))


def _window(grid: _Grid, c: tuple[float, float, float], rad: float) -> tuple[slice, ...]:
    z0, z1 = np.searchsorted(grid.w, [c[2] - rad, c[2] + rad])
    y0, y1 = np.searchsorted(grid.v, [c[1] - rad, c[1] + rad])
    x0, x1 = np.searchsorted(grid.u, [c[0] - rad, c[0] + rad])
    return (slice(int(z0), int(max(z1, z0 + 1))), slice(int(y0), int(max(y1, y0 + 1))),
            slice(int(x0), int(max(x1, x0 + 1))))


def _draw_mimics(head: _Head, label: NcctLabel, seed: int, an: _Anat
                 ) -> tuple[Arr, dict[str, Any]]:
    """Paint the bright mimics; returns their occupancy (float) and details."""
    grid = head.grid
    occ = np.zeros(grid.shape, np.float32)  # mimic occupancy
    info: dict[str, Any] = {}
    L, sx, sy = an.lev, an.sx, an.sy

    def blob(c: tuple[float, float, float], axes: tuple[float, float, float], val: float,
             tissue: str) -> None:
        rad = max(axes) + 4.0
        sl = _window(grid, c, rad)
        ww, vv, uu = _coords(grid, sl)
        q = np.sqrt(((uu - c[0]) / axes[0]) ** 2 + ((vv - c[1]) / axes[1]) ** 2
                    + ((ww - c[2]) / axes[2]) ** 2)
        f = head.frac((q - 1.0) * min(axes))
        head.paint_frac(f, sl, tissue, val)
        np.maximum(occ[sl], f, out=occ[sl])

    for name in label.mimics:
        rng = np.random.default_rng([seed, 0x111C, sorted(label.mimics).index(name),
                                     len(name)])
        if name == "choroid_plexus_calcification":
            val = rng.uniform(100.0, 400.0)
            for s in (1, -1):
                r = rng.uniform(2.5, 4.5)
                blob((s * 19.5 * sx, 31.0 * sy, L["bg"] + 1.0), (r, r * 1.2, r), val,
                     "calcification")
            info[name] = {"hu": val}
        elif name == "pineal_calcification":
            val = rng.uniform(120.0, 500.0)
            r = rng.uniform(2.0, 4.0)
            blob((0.0, 21.0 * sy, L["bg"] + 2.0 * an.sz), (r, r, r), val, "calcification")
            info[name] = {"hu": val, "radius_mm": r}
        elif name == "basal_ganglia_calcification":
            val = rng.uniform(90.0, 300.0)
            for s in (1, -1):
                blob((s * 22.0 * sx, -3.0 * sy, L["bg"]), (2.2, rng.uniform(3.5, 6.0), 3.0),
                     val, "calcification")
            info[name] = {"hu": val}
        elif name == "falx_calcification":
            val = rng.uniform(250.0, 900.0)
            for _ in range(int(rng.integers(1, 3))):
                c = (0.0, rng.uniform(-40.0, 40.0) * sy, rng.uniform(L["lv"], L["hc"] - 8.0))
                blob(c, (1.6, rng.uniform(6.0, 13.0), rng.uniform(3.0, 6.0)), val,
                     "calcification")
            info[name] = {"hu": val}
        elif name == "hyperdense_vessel":
            val = an.hu["thrombus"]
            s = 1 if rng.random() < 0.5 else -1
            if rng.random() < 0.75:
                p0 = np.array([s * 12.0 * sx, -9.0 * sy, L["ss"] - 2.0])
                p1 = np.array([s * 38.0 * sx, -13.0 * sy, L["ss"] - 2.0])
                which = "left MCA" if s > 0 else "right MCA"
                r = rng.uniform(1.9, 2.6)
            else:
                p0 = np.array([0.0, 1.0 * sy, L["pf"] - 6.0])
                p1 = np.array([0.0, -1.0 * sy, L["ss"] - 6.0])
                which = "basilar"
                r = rng.uniform(2.0, 2.6)
            sl = _window(grid, tuple((p0 + p1) / 2), float(np.linalg.norm(p1 - p0)) / 2 + 6)
            ww, vv, uu = _coords(grid, sl)
            bv = p1 - p0
            h = np.clip(((uu - p0[0]) * bv[0] + (vv - p0[1]) * bv[1] + (ww - p0[2]) * bv[2])
                        / float(bv @ bv), 0.0, 1.0)
            d = np.sqrt((uu - p0[0] - h * bv[0]) ** 2 + (vv - p0[1] - h * bv[1]) ** 2
                        + (ww - p0[2] - h * bv[2]) ** 2) - r
            f = head.frac(d)
            head.paint_frac(f, sl, "thrombus", val)
            np.maximum(occ[sl], f, out=occ[sl])
            info[name] = {"hu": val, "vessel": which}
        elif name == "residual_contrast":
            val = an.hu["contrast"]
            vessels = np.isin(head.tissue, [_T["vessel"], _T["venous_blood"]])
            chor = head.tissue == _T["choroid_plexus"]
            head.hu[vessels] = val
            head.hu[chor] = rng.uniform(60.0, 110.0)
            head.tissue[vessels | chor] = _T["contrast"]
            occ[vessels | chor] = 1.0
            info[name] = {"hu": val}
        elif name == "streak_artefact":
            info[name] = {"amplitude_hu": rng.uniform(45.0, 90.0),
                          "angle_deg": rng.uniform(-35.0, 35.0),
                          "offset_mm": rng.uniform(-6.0, 6.0), "slices": int(rng.integers(1, 3))}
    return occ, info


# ----------------------------------------------------------------------------- acquisition

def _rotation(yaw: float, pitch: float, roll: float) -> Arr:
    """Head frame to scanner: R = Rz(yaw) Rx(pitch) Ry(roll), angles in degrees."""
    a, b, c = (math.radians(x) for x in (yaw, pitch, roll))
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    ry = np.array([[math.cos(c), 0, math.sin(c)], [0, 1, 0], [-math.sin(c), 0, math.cos(c)]])
    return np.asarray(rz @ rx @ ry)


@dataclass
class _Scan:
    n: int
    px: float
    dz: float
    nz: int
    z0: float
    n_sub: int
    rot: Arr
    shift: Arr

    def head_coords(self, k: int, sub: float, sel: Arr | None = None
                    ) -> tuple[Arr, Arr, Arr]:
        """Head-frame (u, v, w) of the pixels of slice ``k`` at sub-slice offset ``sub``
        (fraction of the slice thickness from its centre); all pixels or ``sel`` (flat)."""
        c = (np.arange(self.n) - (self.n - 1) / 2.0) * self.px
        z = self.z0 + (k + sub) * self.dz
        if sel is None:
            y, x = np.meshgrid(c, c, indexing="ij")
            x, y = x.ravel(), y.ravel()
        else:
            x = c[sel % self.n]
            y = c[sel // self.n]
        rt = self.rot.T
        px, py, pz = x - self.shift[0], y - self.shift[1], z - self.shift[2]
        return (rt[0, 0] * px + rt[0, 1] * py + rt[0, 2] * pz,
                rt[1, 0] * px + rt[1, 1] * py + rt[1, 2] * pz,
                rt[2, 0] * px + rt[2, 1] * py + rt[2, 2] * pz)


def _index(grid: _Grid, hu: Arr, hv: Arr, hw: Arr,
           origin: tuple[int, ...] = (0, 0, 0)) -> Arr:
    return np.stack([(hw - grid.w[0]) / grid.dzh - origin[0],
                     (hv - grid.v[0]) / grid.hs - origin[1],
                     (hu - grid.u[0]) / grid.hs - origin[2]])


def _acquire(vol: Arr, grid: _Grid, scan: _Scan, sel: list[Arr], cval: float,
             origin: tuple[int, ...] = (0, 0, 0)) -> Arr:
    """Sample a head-frame volume (already boxed along w per sub-slice) into the slices:
    average of ``n_sub`` sub-slices, trilinear."""
    out = np.full((scan.nz, scan.n * scan.n), cval, np.float32)
    offs = [(i + 0.5) / scan.n_sub - 0.5 for i in range(scan.n_sub)]
    for k in range(scan.nz):
        if sel[k].size == 0:
            continue
        acc = np.zeros(sel[k].size, np.float32)
        for o in offs:
            idx = _index(grid, *scan.head_coords(k, o, sel[k]), origin=origin)
            acc += ndimage.map_coordinates(vol, idx, order=1, cval=cval, prefilter=False)
        out[k, sel[k]] = acc / scan.n_sub
    return out.reshape(scan.nz, scan.n, scan.n)


def _nearest(vol: Arr, grid: _Grid, scan: _Scan, sel: list[Arr]) -> Arr:
    """Nearest-neighbour sample of a label volume at the slice centres."""
    out = np.zeros((scan.nz, scan.n * scan.n), vol.dtype)
    shp = np.array(vol.shape)[:, None]
    for k in range(scan.nz):
        if sel[k].size == 0:
            continue
        idx = np.rint(_index(grid, *scan.head_coords(k, 0.0, sel[k]))).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < shp), axis=0)
        out[k, sel[k][ok]] = vol[idx[0, ok], idx[1, ok], idx[2, ok]]
    return out.reshape(scan.nz, scan.n, scan.n)


def _box_w(vol: Arr, grid: _Grid, width_mm: float) -> Arr:
    """Average along w over ``width_mm`` (the sub-slice profile)."""
    size = int(round(width_mm / grid.dzh))
    if size <= 1:
        return vol
    return np.asarray(ndimage.uniform_filter1d(vol, size, axis=0, mode="nearest"))


def _gauss(x: Arr, sigma_px: float) -> Arr:
    if sigma_px < 0.15:
        return x
    return np.asarray(ndimage.gaussian_filter(x, (0.0, sigma_px, sigma_px), mode="nearest",
                                              truncate=3.0))


def _lines(n: int, px: float, cx: float, cy: float, angles: Arr, width: float) -> Arr:
    """Stack of Gaussian line profiles through (cx, cy) (mm) at ``angles`` (rad)."""
    c = (np.arange(n) - (n - 1) / 2.0) * px
    y, x = np.meshgrid(c, c, indexing="ij")
    out = []
    for a in angles:
        d = (x - cx) * math.sin(a) - (y - cy) * math.cos(a)
        out.append(np.exp(-(d / width) ** 2))
    return np.array(out, np.float32)


# ----------------------------------------------------------------------------- public API

def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, Arr, Arr]:
    """Render one case with its ASPECTS region map and tissue map (both (z, y, x) uint8).

    Region codes 1..10 are the patient's left ASPECTS regions (ASPECTS_REGIONS order),
    11..20 the right ones; the tissue map indexes :data:`TISSUES`."""
    ss = np.random.SeedSequence([int(seed), 0x5EC7])
    r_anat, r_pose, r_phys, r_noise = (np.random.default_rng(s) for s in ss.spawn(4))
    fov = float(r_pose.uniform(200.0, 250.0))
    px = fov / matrix
    an = _patient(r_anat, px)
    # ---- pose and scan geometry
    big = r_pose.random() < 0.2
    ang = r_pose.normal(0.0, 5.0, 3) if not big else r_pose.uniform(-15.0, 15.0, 3)
    yaw, pitch, roll = (float(np.clip(a, -15.0, 15.0)) for a in ang)
    rot = _rotation(yaw, pitch, roll)
    cut = r_pose.random() < 0.1
    off = r_pose.normal(0.0, 6.0, 2)
    if cut:
        off = off + r_pose.choice([-1.0, 1.0], 2) * r_pose.uniform(18.0, 30.0, 2)
    thickness = float(r_pose.choice([4.0, 4.5, 5.0]))
    n_sub = 2 if matrix >= 384 else (3 if matrix >= 192 else 4)
    # ---- head-frame grid
    hs = max(px, 0.6)
    dzh = float(np.clip(px * 0.8, 1.0, 2.0))
    ulim = 84.0 * an.sx + 4.0
    grid = _Grid(u=np.arange(-ulim, ulim + hs, hs, dtype=np.float64),
                 v=np.arange(-122.0 * an.sy, 108.0 * an.sy, hs, dtype=np.float64),
                 w=np.arange(an.lev["c1"] - 14.0, an.lev["vx"] + an.skull_t + an.scalp_t + 16.0,
                             dzh, dtype=np.float64), hs=hs, dzh=dzh)
    # ---- pathology plan (independent streams) and mass effect
    bleeds = _plan_bleeds(label, seed, an, px)
    me = _mass_effect(bleeds)
    warps: dict[float, Warp | None] = {}
    shift_mm = 0.0
    if me is not None:
        shift_mm, direction, vb, wb = me
        for w in sorted({lv[0] for st in _atlas(an, set()) for lv in st.levels}):
            amp = shift_mm * direction * math.exp(-(((w - wb) / 28.0) ** 2))
            if abs(amp) < 0.05 or w < an.lev["ss"] - 8.0:
                warps[w] = None
                continue
            half = 62.0 * an.sx

            def warp(uu: Arr, vv: Arr, amp: float = amp, vb: float = vb,
                     half: float = half) -> Arr:
                return amp * np.exp(-(((vv - vb) / 55.0) ** 2)) * np.clip(
                    1.0 - (uu / half) ** 2, 0.0, 1.0)

            warps[w] = warp
    effaced: set[tuple[int, str]] = set()
    side_i = {"left": 1, "right": -1}.get(label.ischaemic_side, 0)
    for r in label.ischaemic_regions:
        effaced.add((side_i, r))
    # ---- paint the lofted atlas
    head = _Head(grid)
    hu = an.hu
    for st in _atlas(an, effaced):
        lo = _loft(st, grid, warps)
        if lo is None:
            continue
        if st.keep:
            head.kept[st.name] = lo
        if not st.paint:
            continue
        head.paint(lo, st.tissue, st.hu if st.hu is not None else hu[st.tissue])
        if st.name == "skin":
            # subcutaneous fat band under the skin
            band = np.maximum(lo.sdf + 1.3, -(lo.sdf + 1.3 + 1.0 + 1.5 * r_anat.random()))
            head.paint(_Lofted(lo.z0, lo.y0, lo.x0, band), "fat", hu["fat"])
        elif st.name == "skull":
            ic = head.kept["ic"].window(lo.slices())
            t_out = 1.8 + 0.8 * r_anat.random()
            dip = np.maximum(lo.sdf + t_out, -(ic - 2.0))
            head.paint(_Lofted(lo.z0, lo.y0, lo.x0, dip), "diploe", hu["diploe"])
        elif st.name == "brain":
            wm = _Lofted(lo.z0, lo.y0, lo.x0, lo.sdf + an.ribbon)
            head.paint(wm, "white_matter", hu["white_matter"])
    # ---- ASPECTS regions (head frame) and ischaemia
    region = _regions(head, an)
    delta: float | None = None
    if label.ischaemic_regions:
        r_isch = np.random.default_rng([seed, 0x15C4])
        delta = float(r_isch.uniform(2.0, 6.0))
        codes = [ASPECTS_REGIONS.index(r) + (1 if side_i > 0 else 11)
                 for r in label.ischaemic_regions]
        hit = np.isin(region, codes)
        grey = hit & np.isin(head.tissue, [_T[t] for t in _GREY])
        white = hit & np.isin(head.tissue, [_T[t] for t in _WHITE])
        head.hu[grey] -= delta
        head.hu[white] -= 0.5 * delta
    # ---- pathology and mimics
    g_head = rot.T @ np.array([0.0, 1.0, 0.0])
    blood = _draw_bleeds(head, bleeds, an, g_head)
    occ, mimic_info = _draw_mimics(head, label, seed, an)
    if blood and occ.any():
        for kind in blood:
            blood[kind] = [(sl, fr * (1.0 - occ[sl])) for sl, fr in blood[kind]]
    del occ
    # ---- scan geometry: from below the foramen magnum to above the vertex
    t_vec = np.array([off[0], off[1], 0.0])
    lowp = np.array([[u, v, an.scan_bottom_w] for u in (-15.0, 15.0) for v in (0.0, 40.0)])
    top_mask = head.tissue[::2, ::4, ::4] != 0
    zi, yi, xi = np.nonzero(top_mask)
    pts = np.stack([grid.u[::4][xi], grid.v[::4][yi], grid.w[::2][zi]], axis=1)
    z_low = float((lowp @ rot.T)[:, 2].mean())
    z_top = float((pts @ rot.T)[:, 2].max())
    if an.metal_teeth:  # dental fillings: the lowest slice reaches the crowns
        teeth_pts = np.array([[24.0 * math.sin(math.radians(-78.0 + 12.0 * i)) * an.sx,
                               (-50.0 - 22.0 * math.cos(math.radians(-78.0 + 12.0 * i)))
                               * an.sy, an.teeth_w + 1.5] for i in an.metal_teeth])
        z_low = min(z_low, float((teeth_pts @ rot.T)[:, 2].min()) - 1.5)
    nz = int(math.ceil((z_top - z_low) / thickness - 0.4))
    scan = _Scan(n=matrix, px=px, dz=thickness, nz=nz, z0=z_low + thickness / 2.0,
                 n_sub=n_sub, rot=rot, shift=t_vec)
    # head footprint per slice (coarse lookup at the slice centre)
    f4 = 4
    coarse = head.tissue[::f4 // 2 if dzh < 1.5 else 1, ::f4, ::f4] != 0
    coarse = ndimage.binary_dilation(coarse, iterations=2)
    cgrid = _Grid(u=grid.u[::f4], v=grid.v[::f4],
                  w=grid.w[::f4 // 2 if dzh < 1.5 else 1], hs=hs * f4,
                  dzh=dzh * (f4 // 2 if dzh < 1.5 else 1))
    sel: list[Arr] = []
    cshape = np.array(coarse.shape)[:, None]
    for k in range(nz):
        idx = np.rint(_index(cgrid, *scan.head_coords(k, 0.0))).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < cshape), axis=0)
        hit = np.zeros(idx.shape[1], bool)
        hit[ok] = coarse[idx[0, ok], idx[1, ok], idx[2, ok]]
        sel.append(np.flatnonzero(hit))
    # ---- acquisition
    sub_w = thickness / n_sub
    vol = _acquire(_box_w(head.hu, grid, sub_w), grid, scan, sel, -1000.0)
    codes_vol = (head.tissue.astype(np.uint16) * 32 + region).astype(np.uint16)
    code_img = _nearest(codes_vol, grid, scan, sel)
    tissue_map = (code_img // 32).astype(np.uint8)
    region_map = (code_img % 32).astype(np.uint8)
    bfrac: dict[str, Arr] = {}
    for kind, wins in blood.items():
        acc = np.zeros((nz, matrix, matrix), np.float32)
        for wsl, fr in wins:
            bsel = []
            for k in range(nz):
                if sel[k].size == 0:
                    bsel.append(sel[k])
                    continue
                ix = _index(grid, *scan.head_coords(k, 0.0, sel[k]))
                inb = np.ones(sel[k].size, dtype=np.bool_)
                for ax in range(3):
                    inb = inb & (ix[ax] >= wsl[ax].start - 4) & (ix[ax] <= wsl[ax].stop + 3)
                bsel.append(sel[k][inb])
            origin = tuple(x.start for x in wsl)
            acc += _acquire(_box_w(fr, grid, sub_w), grid, scan, bsel, 0.0, origin)
        bfrac[kind] = np.minimum(acc, 1.0)
    del blood, head, codes_vol, region
    # ---- motion on one slice (doubled edge)
    physics: dict[str, Any] = {"acquisition": "sequential axial (step-and-shoot), OM plane",
                               "slice_thickness_mm": thickness, "sub_slices": n_sub}
    if r_phys.random() < 0.25 and nz > 6:
        km = int(r_phys.integers(nz // 3, nz - 2))
        mv = r_phys.uniform(1.5, 4.0) * np.array([math.cos(a := r_phys.uniform(0, 6.3)),
                                                   math.sin(a)]) / px
        for arr in [vol] + list(bfrac.values()):
            base = -1000.0 if arr is vol else 0.0
            moved = ndimage.shift(arr[km], mv, order=1, mode="constant", cval=base)
            arr[km] = 0.5 * (arr[km] + moved)
        physics["motion_slice"] = km
        physics["motion_mm"] = float(np.hypot(*mv) * px)
    # ---- beam hardening, cupping, Hounsfield bar
    soft = (vol > -200.0) & (vol < 200.0)
    bone = (vol > 300.0).astype(np.float32)
    bh_amp = float(r_phys.uniform(3.0, 8.0))
    vol -= bh_amp * _gauss(bone, 5.0 / px) * soft
    head_mask = vol > -300.0
    cc = (np.arange(matrix) - (matrix - 1) / 2.0) * px
    yy, xx = np.meshgrid(cc, cc, indexing="ij")
    area = head_mask.sum(axis=(1, 2)).astype(np.float64)
    cx = (head_mask * xx).sum(axis=(1, 2)) / np.maximum(area, 1.0)
    cy = (head_mask * yy).sum(axis=(1, 2)) / np.maximum(area, 1.0)
    rad = np.sqrt(np.maximum(area, 1.0) * px * px / math.pi)
    cup = float(r_phys.uniform(1.0, 5.0))
    r2 = ((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) \
        / (rad[:, None, None] ** 2)
    vol -= (cup * np.clip(1.0 - r2, 0.0, 1.0) * soft).astype(np.float32)
    hb_amp = float(r_phys.uniform(6.0, 20.0))
    pts_hb = np.array([[s * 36.0 * an.sx, 8.0 * an.sy, an.lev["pf"] + 4.0] for s in (1, -1)])
    sc_hb = pts_hb @ rot.T + t_vec
    zc = scan.z0 + np.arange(nz) * thickness
    for k in range(nz):
        wgt = math.exp(-(((zc[k] - sc_hb[:, 2].mean()) / 7.0) ** 2))
        if wgt < 0.05:
            continue
        (x0, y0), (x1, y1) = sc_hb[0, :2], sc_hb[1, :2]
        ln = math.hypot(x1 - x0, y1 - y0)
        d = np.abs((xx - x0) * (y1 - y0) - (yy - y0) * (x1 - x0)) / ln
        along = ((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0)) / ln ** 2
        band = np.exp(-(d / 4.0) ** 2) * ((along > -0.1) & (along < 1.1))
        vol[k] -= (hb_amp * wgt * band * soft[k]).astype(np.float32)
    physics.update({"beam_hardening_hu": bh_amp, "cupping_hu": cup, "hounsfield_bar_hu": hb_amp})
    # ---- reconstruction kernel
    kname, kb, kg, ks = _KERNELS[int(r_phys.integers(len(_KERNELS)))]
    vol = _gauss(vol, kb / px)
    soft_part = np.clip(vol, -150.0, 250.0)
    vol = vol + kg * (soft_part - _gauss(soft_part, ks / px))
    physics.update({"kernel_blur_mm": kb, "kernel_overshoot": kg})
    # ---- metal streaks (dental fillings) and the streak mimic
    fills: dict[int, list[Arr]] = {}
    for i in an.metal_teeth:
        th = math.radians(-78.0 + 156.0 * i / 13.0)
        ph = np.array([24.0 * math.sin(th) * an.sx, (-50.0 - 22.0 * math.cos(th)) * an.sy,
                       an.teeth_w + 1.5]) @ rot.T + t_vec
        kf = int(round((ph[2] - scan.z0) / thickness))
        if 0 <= kf < nz and abs(ph[2] - (scan.z0 + kf * thickness)) <= thickness / 2 + 1.8:
            fills.setdefault(kf, []).append(ph)
    for k, pts_k in sorted(fills.items()):
        angs = r_phys.uniform(0.0, math.pi, int(r_phys.integers(8, 16)))
        sgn = np.where(np.arange(angs.size) % 2 == 0, 1.0, -1.0) * r_phys.uniform(
            150.0, 500.0, angs.size)
        mx = float(np.mean([q[0] for q in pts_k]))
        my = float(np.mean([q[1] for q in pts_k]))
        lines = _lines(matrix, px, mx, my, angs, max(0.8, 1.2 * px))
        dist = np.hypot(xx - mx, yy - my)
        vol[k] += (np.tensordot(sgn, lines, axes=1) / (1.0 + dist / 25.0)).astype(np.float32)
        physics.setdefault("dental_streak_slices", []).append(int(k))
    if "streak_artefact" in mimic_info:
        info = mimic_info["streak_artefact"]
        c_pf = np.array([0.0, 30.0 * an.sy + info["offset_mm"], an.lev["pf"]]) @ rot.T + t_vec
        k0 = int(np.clip(round((c_pf[2] - scan.z0) / thickness), 0, nz - 1))
        ks_ = list(range(k0, min(nz, k0 + info["slices"])))
        a = math.radians(info["angle_deg"])
        ln = _lines(matrix, px, float(c_pf[0]), float(c_pf[1]), np.array([a]),
                    max(0.7, 1.0 * px))[0]
        flank = _lines(matrix, px, float(c_pf[0]), float(c_pf[1]), np.array([a]),
                       max(2.5, 3.0 * px))[0]
        for k in ks_:
            inside = vol[k] > -100.0
            vol[k] += (info["amplitude_hu"] * ln - 0.25 * info["amplitude_hu"] * flank
                       * (1 - ln)) * inside
        info["slice_indices"] = ks_
    # ---- noise: low-frequency weighted (iterative-reconstruction-like)
    sd = float(r_noise.uniform(3.0, 6.0))
    lowf = float(r_noise.uniform(0.55, 0.85))
    wn = r_noise.standard_normal(vol.shape, dtype=np.float32)
    s_lo = max(0.6, 1.4 / px)
    s_hi = max(0.35, 0.5 / px)
    n_lo = _gauss(wn, s_lo) * (2.0 * s_lo * math.sqrt(math.pi))
    n_hi = _gauss(wn, s_hi) * (2.0 * s_hi * math.sqrt(math.pi))
    noise = sd * (lowf * n_lo + math.sqrt(1.0 - lowf ** 2) * n_hi)
    vol += noise.astype(np.float32)
    physics.update({"noise_sd_hu": sd, "noise_low_frequency_weight": lowf})
    volume = np.clip(np.rint(vol), -1024, 3071).astype(np.int16)
    # ---- truth mask from the acquired blood fractions
    mask = np.zeros(volume.shape, np.uint8)
    best = np.zeros(volume.shape, np.float32)
    for kind, fr in bfrac.items():
        better = (fr >= 0.5) & (fr > best)
        mask[better] = 1 + BLEED_KINDS.index(kind)
        best = np.maximum(best, fr)
    voxel_ml = px * px * thickness / 1000.0
    vols = {k: float(np.count_nonzero(mask == 1 + BLEED_KINDS.index(k))) * voxel_ml
            for k in label.bleeds}
    origin = (float(-(matrix - 1) / 2.0 * px), float(-(matrix - 1) / 2.0 * px),
              float(scan.z0))
    details: dict[str, Any] = {
        "kernel": kname,
        "ischaemic_delta_hu": delta,
        "ischaemic_white_matter_delta_hu": None if delta is None else 0.5 * delta,
        "bleed_volumes_ml": vols,
        "bleeds": [{"kind": b.kind, "subtype": b.sub, "side": "left" if b.side > 0 else "right",
                    "centre_head_mm": [round(x, 1) for x in b.centre],
                    **({"target_ml": round(b.target_ml, 1)} if b.target_ml else {}),
                    **{k: round(v, 2) for k, v in b.params.items() if k not in ("seed",)}}
                   for b in bleeds],
        "midline_shift_mm": shift_mm,
        "mimics": mimic_info,
        "pose": {"yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll,
                 "offset_mm": [float(off[0]), float(off[1])], "cut_by_fov": bool(cut)},
        "physics": physics,
        "origin_mm": origin,
        "fov_mm": fov,
        "anatomy": {"scale_lr": an.sx, "scale_ap": an.sy, "scale_si": an.sz,
                    "atrophy": an.age, "hematocrit": an.hct, "skull_mm": an.skull_t,
                    "dental_fillings": len(an.metal_teeth)},
        "tissue_hu": {k: round(v, 1) for k, v in an.hu.items()},
        "levels_mm": an.lev,
    }
    case = NcctCase(family=FAMILY, seed=int(seed), label=label, volume_hu=volume,
                    spacing_mm=(thickness, px, px), blood_mask=mask, details=details)
    return case, region_map, tissue_map


def _regions(head: _Head, an: _Anat) -> Arr:
    """ASPECTS region codes on the head-frame grid (1..10 left, 11..20 right)."""
    grid = head.grid
    shape = grid.shape
    reg = np.zeros(shape, np.uint8)
    L = an.lev
    z0, z1 = (int(i) for i in np.searchsorted(grid.w, [L["bg"] - 9.0 * an.sz,
                                                       L["lv"] + 14.0 * an.sz]))
    sl = (slice(z0, z1), slice(None), slice(None))
    ww, vv, uu = _coords(grid, sl)
    gang = (ww >= L["bg"] - 9.0 * an.sz) & (ww <= L["bg"] + 8.0 * an.sz)
    supra = (ww >= L["lv"] - 4.0 * an.sz) & (ww <= L["lv"] + 14.0 * an.sz)
    t = head.tissue[sl]
    paren = (t == _T["grey_matter"]) | (t == _T["white_matter"])
    full_sl = (slice(z0, z1), slice(0, shape[1]), slice(0, shape[2]))
    brain = head.kept["brain"].window(full_sl)
    insula = head.kept["insula_marker"].window(full_sl) < 0.0
    shallow = brain > -26.0
    out = reg[sl]
    for side, base in ((1, 0), (-1, 10)):
        hemi = uu * side > 0
        codes = {"C": gang & hemi & (t == _T["caudate"]),
                 "L": gang & hemi & ((t == _T["putamen"]) | (t == _T["pallidum"])),
                 "IC": gang & hemi & (t == _T["internal_capsule"]),
                 "I": gang & hemi & paren & insula}
        lateral = hemi & paren & shallow & ~insula & (uu * side > 14.0 * an.sx)
        for lev, names, (cu, cv) in (("bg", ("M1", "M2", "M3"), (22.0, -2.0)),
                                     ("lv", ("M4", "M5", "M6"), (18.0, 0.0))):
            slab = gang if lev == "bg" else supra
            phi = np.degrees(np.arctan2(vv / an.sy - cv, side * uu / an.sx - cu))
            for name, (lo, hi) in zip(names, _SECTORS.values(), strict=True):
                codes[name] = slab & lateral & (phi >= lo) & (phi < hi)
        for name, m in codes.items():
            out[m & (out == 0)] = base + 1 + ASPECTS_REGIONS.index(name)
    return reg


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
