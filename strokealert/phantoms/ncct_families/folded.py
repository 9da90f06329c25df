"""The ``folded`` family of synthetic non-contrast head CT: a head grown from its midsagittal
section and folded like a developing cortex.

Anatomical description (all lengths in millimetres, attenuation in Hounsfield units):

1. Midsagittal profile first. The inner table is a closed parametric curve in the (y, z) plane
   (nasion and frontal bone, over the vertex to the internal occipital protuberance, the foramen
   magnum, the clivus sloping down from the dorsum sellae, the sella and the anterior fossa), given
   as the roof and floor of the cavity at each antero-posterior position. The tentorium is a tent
   from the petrous ridges to the protuberance; the corpus callosum an arch (genu, body,
   splenium); the third ventricle, aqueduct and fourth ventricle, the brainstem (midbrain, pons
   with its anterior bulge, medulla) and the cerebellar vermis with fissures radiating from the
   fastigium are curves and tubes parameterised along that section.
2. The hemispheres are grown laterally from the profile: each coronal section of the cavity is a
   dome over a floor that deepens laterally into the middle and posterior fossae. The cerebral
   surface is that hull less a subarachnoid space (1-4 mm, wider with age), then *folded*: the
   zero set of a band-passed random field (wavelength 17-26 mm) cuts a connected maze of 1-3 mm
   CSF clefts 10-25 mm deep, with primary sulci (central, sylvian fissure over the buried,
   opercularised insula, superior temporal, calcarine) superimposed. Grey matter is the
   2.5-3.5 mm ribbon within reach of any cleft or surface; white matter lies beneath. The lateral
   ventricles are C-shaped tubes (frontal horn, body, atrium, occipital and temporal horns) round
   the thalami, the caudate a tapering C on their wall, the lentiform nucleus lateral to the
   V-shaped internal capsule, then the external capsule, claustrum, extreme capsule and insula.
3. The skull is a shell over the dura: outer and inner tables with diploe, thin temporal squama,
   thick occipital protuberance and skull base, frontal, sphenoid and mastoid air, petrous
   ridges, orbits with globes, nasal cavity, maxillary sinuses, atlas, scalp and temporalis.

CT physics of this family: the anatomy is point-sampled on thin (0.625-1.25 mm) acquisition
slices and averaged into 2.5-5 mm reported slices; on a subset of slices a parallel-beam
polychromatic forward projection (water plus bone/metal, a two-material beam-hardening error)
with Poisson statistics is filtered and back-projected with a vendor-like kernel; the artefact
field (cupping, dark bands between dense bone, photon-starvation and metal streaks) is
interpolated across slices, and quantum noise with a ramp-shaped power spectrum is scaled by the
back-projected ray variance (noisier through the skull base). Output is integer HU clipped to
-1024..3071, arrays (z, y, x), patient LPS (x to the patient's left, y posterior, z to the
vertex), spacing in millimetres.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, sparse

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "folded"

TISSUES: tuple[str, ...] = (
    "air", "fat", "scalp", "muscle", "cortical_bone", "diploe", "metal", "csf", "grey_matter",
    "white_matter", "caudate", "putamen", "pallidum", "thalamus", "internal_capsule",
    "claustrum", "brainstem", "cerebellum", "choroid_plexus", "pineal", "dura", "venous_blood",
    "vessel", "calcification", "contrast", "thrombus", "blood", "oedema", "eye",
)
"""Tissue names; the tissue map holds indices into this tuple."""

_T = {name: i for i, name in enumerate(TISSUES)}

F32 = NDArray[np.float32]
Mask = NDArray[np.bool_]
U8 = NDArray[np.uint8]

_KERNELS: tuple[tuple[str, float, float, float], ...] = (
    # name, PSF sigma (mm), NPS cut-off (cycles/mm), noise factor
    ("H31s", 0.55, 0.55, 0.85), ("Hr38", 0.45, 0.65, 1.0), ("J40s", 0.42, 0.70, 1.05),
    ("SOFT", 0.55, 0.55, 0.85), ("STANDARD", 0.45, 0.68, 1.0), ("UB", 0.48, 0.62, 0.95),
    ("FC21", 0.52, 0.58, 0.9), ("FC26", 0.46, 0.66, 1.0),
)

# Canonical head frame: x to the left, y posterior, z superior, origin near the basal ganglia.
_BOX_LO = (-92.0, -112.0, -100.0)
_BOX_HI = (92.0, 112.0, 96.0)
_MU_WATER = 0.019  # 1/mm at the effective energy


def _rng(seed: int, tag: str) -> np.random.Generator:
    """An independent generator per (seed, component): labels never perturb the anatomy."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(tag.encode())])


def _interp(v: F32, xp: tuple[float, ...], fp: tuple[float, ...] | NDArray[np.float64]) -> F32:
    return np.interp(v, xp, fp).astype(np.float32)


def _smooth01(v: F32) -> F32:
    c = np.clip(v, 0.0, 1.0)
    return (c * c * (3.0 - 2.0 * c)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# The patient
# --------------------------------------------------------------------------------------------


@dataclass
class _Patient:
    """Per-seed patient, pose and acquisition parameters."""

    age: float
    atrophy: float  # 0 (young) .. 1 (old)
    scale: tuple[float, float, float]  # canonical -> mm (x, y, z)
    pose_deg: tuple[float, float, float]  # pitch, roll, yaw
    offset_mm: tuple[float, float, float]
    hu: dict[str, float]
    sas: float
    cleft_w: float
    t_gm: float
    vent: float
    skull_t: float
    squama_t: float
    frontal_sinus: float
    kvp: float
    kernel: tuple[str, float, float, float]
    slice_mm: float
    acq_mm: float
    fov_mm: float
    noise_ref: float
    metal: str
    leuko: float
    profile_jitter: tuple[float, ...]


def _patient(seed: int) -> _Patient:
    rng = _rng(seed, "patient")
    age = float(rng.uniform(25.0, 90.0))
    atrophy = float(np.clip((age - 30.0) / 60.0 + rng.normal(0, 0.08), 0.0, 1.0))
    size = rng.uniform(0.92, 1.06)
    scale = (float(size * rng.uniform(0.95, 1.05)), float(size * rng.uniform(0.95, 1.05)),
             float(size * rng.uniform(0.95, 1.04)))
    wm = float(rng.uniform(22.0, 30.0))
    gm = float(min(42.0, wm + rng.uniform(8.0, 13.0)))
    deep = float(np.clip(gm - rng.uniform(0.0, 3.0), 32.0, 40.0))
    hu = {
        "grey_matter": gm, "white_matter": wm, "caudate": deep, "putamen": deep,
        "pallidum": float(np.clip(deep - rng.uniform(0.5, 3.0), 30.0, 40.0)),
        "thalamus": float(np.clip(deep - rng.uniform(0.0, 2.0), 31.0, 40.0)),
        "internal_capsule": wm + float(rng.uniform(0.0, 2.0)),
        "claustrum": deep - 2.0, "brainstem": 0.45 * gm + 0.55 * wm + 1.0,
        "cerebellum": gm - float(rng.uniform(0.0, 2.0)),
        "csf": float(rng.uniform(0.0, 10.0)),
        "cortical_bone": float(rng.uniform(1200.0, 2000.0)),
        "diploe": float(rng.uniform(300.0, 800.0)),
        "scalp": float(rng.uniform(30.0, 60.0)), "muscle": float(rng.uniform(35.0, 60.0)),
        "fat": float(rng.uniform(-115.0, -85.0)), "air": -1000.0,
        "dura": float(rng.uniform(40.0, 52.0)), "venous_blood": float(rng.uniform(38.0, 48.0)),
        "vessel": float(rng.uniform(38.0, 46.0)), "choroid_plexus": float(rng.uniform(28.0, 38.0)),
        "pineal": float(rng.uniform(30.0, 40.0)), "eye": float(rng.uniform(5.0, 15.0)),
        "metal": 3071.0,
    }
    kernel = _KERNELS[int(rng.integers(len(_KERNELS)))]
    slice_mm = float(rng.choice([2.5, 3.0, 4.0, 5.0]))
    acq_mm = float(rng.choice([0.625, 1.0, 1.25]))
    metal_draw = rng.uniform()
    metal = "none"
    if metal_draw < 0.10:
        metal = "dental"
    elif metal_draw < 0.17:
        metal = "clip"
    elif metal_draw < 0.22:
        metal = "coil"
    return _Patient(
        age=age, atrophy=atrophy, scale=scale,
        pose_deg=(float(rng.uniform(-15, 15)), float(rng.uniform(-12, 12)),
                  float(rng.uniform(-12, 12))),
        offset_mm=(float(rng.uniform(-10, 10)), float(rng.uniform(-12, 12)),
                   float(rng.uniform(-5, 5))),
        hu=hu, sas=float(1.0 + 2.6 * atrophy + rng.uniform(0.0, 0.6)),
        cleft_w=float(1.1 + 1.6 * atrophy + rng.uniform(0.0, 0.4)),
        t_gm=float(rng.uniform(2.6, 3.4)), vent=float(1.0 + 1.1 * atrophy ** 1.3
                                                      + rng.uniform(-0.1, 0.25)),
        skull_t=float(rng.uniform(5.5, 7.5)), squama_t=float(rng.uniform(2.0, 3.0)),
        frontal_sinus=float(rng.uniform(0.0, 1.2)),
        kvp=float(rng.choice([100.0, 110.0, 120.0, 120.0, 130.0, 140.0])), kernel=kernel,
        slice_mm=slice_mm, acq_mm=acq_mm, fov_mm=float(rng.uniform(215.0, 250.0)),
        noise_ref=float(rng.uniform(2.8, 5.0)), metal=metal,
        leuko=float(max(0.0, atrophy - 0.35) * rng.uniform(4.0, 9.0)),
        profile_jitter=tuple(float(v) for v in rng.normal(0.0, 1.0, 12)),
    )


# --------------------------------------------------------------------------------------------
# Midsagittal profile, the lateral loft and the folding field (per seed, on a coarse grid)
# --------------------------------------------------------------------------------------------

_PROFILE_Y = (-78.0, -72.0, -60.0, -45.0, -30.0, -12.0, -4.0, 2.0, 6.0, 12.0, 20.0, 35.0, 48.0,
              62.0, 75.0, 86.0, 92.0, 95.0)
# Inner-table floor along the midline: anterior fossa, tuberculum, sella, dorsum, clivus,
# basion, foramen magnum, opisthion, occipital squama, protuberance, occipital pole.
_FLOOR_Z = (-4.0, -16.0, -20.0, -22.0, -22.0, -22.0, -30.0, -21.0, -30.0, -44.0, -62.0, -70.0,
            -66.0, -58.0, -46.0, -24.0, -6.0, 4.0)
# Roof: frontal bone, bregma, vertex, lambda, occipital pole.
_ROOF_Z = (-4.0, 16.0, 40.0, 56.0, 66.0, 74.0, 76.0, 77.0, 77.5, 77.0, 76.0, 70.0, 62.0, 50.0,
           38.0, 24.0, 12.0, 4.0)
# Level of the greatest width and the half-width of each coronal section.
_WIDEST_Z = (-4.0, 0.0, 4.0, 8.0, 10.0, 12.0, 14.0, 15.0, 15.0, 15.0, 15.0, 14.0, 12.0, 10.0,
             8.0, 6.0, 4.0, 4.0)
_HALF_W = (0.0, 34.0, 48.0, 56.0, 61.0, 65.0, 66.0, 67.0, 67.5, 68.0, 68.0, 67.0, 64.0, 58.0,
           48.0, 34.0, 18.0, 0.0)
# Lateral floor: orbital roofs, middle cranial fossa, cerebellar fossae.
_FLOOR_LAT = (-6.0, -18.0, -21.0, -22.0, -34.0, -42.0, -44.0, -44.0, -44.0, -44.0, -50.0,
              -58.0, -60.0, -60.0, -52.0, -32.0, -10.0, 4.0)

_TENT_Y = (10.0, 30.0, 45.0, 60.0, 75.0, 92.0)
_TENT_Z = (-6.0, -6.0, -8.0, -14.0, -20.0, -26.0)


@dataclass
class _Grids:
    """Coarse canonical grids (x, y, z order) for the inner table and the folding."""

    lo: tuple[float, float, float]
    step: float
    sdf: F32  # signed distance to the inner table, mm, negative inside the cavity
    fold: F32  # band-passed field scaled to mm near its zero set
    fundus: F32  # depth of the folds below the hull, mm
    jitter: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def sample(self, grid: F32, x: F32, y: F32, z: F32) -> F32:
        """Trilinear interpolation of ``grid`` at canonical points."""
        coords = np.empty((3, x.size), np.float32)
        coords[0] = (x - self.lo[0]) / self.step
        coords[1] = (y - self.lo[1]) / self.step
        coords[2] = (z - self.lo[2]) / self.step
        out = ndimage.map_coordinates(grid, coords, order=1, mode="nearest", prefilter=False)
        return np.asarray(out, np.float32)


def _petrous(x: F32, y: F32, z: F32) -> Mask:
    """Petrous pyramids: a ridge from the apex by the clivus to the mastoid, with the bone below."""
    ax = np.abs(x)
    a = np.array([16.0, 8.0]), np.array([56.0, 34.0])
    d = a[1] - a[0]
    t = np.clip(((ax - a[0][0]) * d[0] + (y - a[0][1]) * d[1]) / float(d @ d), 0.0, 1.0)
    dx = ax - (a[0][0] + t * d[0])
    dy = y - (a[0][1] + t * d[1])
    dist = np.sqrt(dx * dx + dy * dy)
    r = 5.5 + 5.0 * t
    ridge = -33.0 - 3.0 * t
    return np.asarray((dist < r) & (z < ridge - 5.0 * (dist / r) ** 2) & (t > 0.0), bool)


def _loft_inside(x: F32, y: F32, z: F32, jit: dict[str, NDArray[np.float64]]) -> Mask:
    """The cranial cavity grown laterally from the midsagittal profile (coronal domes)."""
    floor = _interp(y, _PROFILE_Y, jit["floor"])
    roof = _interp(y, _PROFILE_Y, jit["roof"])
    zc = _interp(y, _PROFILE_Y, _WIDEST_Z)
    half = _interp(y, _PROFILE_Y, jit["half"])
    flat = _interp(y, _PROFILE_Y, jit["flat"])
    u = np.abs(x) / np.maximum(half, 1e-3)
    upper = zc + (roof - zc) * np.clip(1.0 - u ** 2.3, 0.0, 1.0) ** (1 / 2.3)
    blend = _smooth01((u / 0.5).astype(np.float32))
    low_in = floor + (flat - floor) * blend
    low_out = zc - (zc - flat) * np.sqrt(np.clip(1.0 - ((u - 0.55) / 0.45) ** 2, 0.0, 1.0))
    lower = np.where(u < 0.55, low_in, low_out)
    inside = (half > 0.5) & (u < 1.0) & (z <= upper) & (z >= lower)
    return np.asarray(inside & ~_petrous(x, y, z), bool)


def _bandpass(rng: np.random.Generator, shape: tuple[int, int, int], step: float,
              wavelength: float, rel_width: float) -> F32:
    noise = rng.standard_normal(shape).astype(np.float32)
    spec = sfft.rfftn(noise)
    fx = sfft.fftfreq(shape[0], step)[:, None, None]
    fy = sfft.fftfreq(shape[1], step)[None, :, None]
    fz = sfft.rfftfreq(shape[2], step)[None, None, :]
    k = np.sqrt(fx * fx + fy * fy + fz * fz)
    k0 = 1.0 / wavelength
    spec *= np.exp(-0.5 * ((k - k0) / (rel_width * k0)) ** 2)
    out: F32 = np.asarray(sfft.irfftn(spec, s=shape), np.float32)
    return out


@lru_cache(maxsize=6)
def _grids(seed: int, step: float) -> _Grids:
    """Inner-table distance and folding fields on a coarse canonical grid."""
    pat = _patient(seed)
    j = np.asarray(pat.profile_jitter)
    n = len(_PROFILE_Y)
    ramp = np.linspace(-1.0, 1.0, n)
    jit = {
        "floor": np.asarray(_FLOOR_Z) + 1.5 * j[0] * np.exp(-((ramp + 0.6) / 0.3) ** 2),
        "roof": np.asarray(_ROOF_Z) * (1.0 + 0.03 * j[1]) + 2.0 * j[2] * ramp,
        "half": np.asarray(_HALF_W) * (1.0 + 0.03 * j[3] + 0.02 * j[4] * ramp),
        "flat": np.asarray(_FLOOR_LAT) + 2.0 * j[5] * np.exp(-(ramp / 0.4) ** 2),
    }
    shape = tuple(int(round((h - lo) / step)) + 1 for lo, h in zip(_BOX_LO, _BOX_HI, strict=True))
    sh = (shape[0], shape[1], shape[2])
    ax = [np.float32(lo) + step * np.arange(s, dtype=np.float32)
          for lo, s in zip(_BOX_LO, sh, strict=True)]
    x, y, z = np.meshgrid(ax[0], ax[1], ax[2], indexing="ij", sparse=False)
    inside = _loft_inside(x.ravel(), y.ravel(), z.ravel(), jit).reshape(sh)
    sdf = (ndimage.distance_transform_edt(~inside) - ndimage.distance_transform_edt(inside))
    sdf = ndimage.gaussian_filter(np.asarray(sdf, np.float32) * step, 0.7)
    rng = _rng(seed, "folds")
    fold = _bandpass(rng, sh, step, float(rng.uniform(17.0, 26.0)), 0.22)
    g = np.gradient(fold, step)
    grad = np.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2)
    fold = fold / max(float(np.sqrt(np.mean(grad ** 2))), 1e-6)
    low = _bandpass(rng, sh, step, 70.0, 0.5)
    low = low / max(float(low.std()), 1e-6)
    fundus = np.clip(17.0 + 4.0 * low, 10.0, 25.0).astype(np.float32)
    return _Grids(lo=_BOX_LO, step=step, sdf=sdf.astype(np.float32),
                  fold=fold.astype(np.float32), fundus=fundus, jitter=jit)


# --------------------------------------------------------------------------------------------
# The label's plan: bleeds, mimics, ischaemia, mass effect
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything label-dependent, decided before sampling."""

    blood_hu: float
    hyperacute: bool
    bleeds: list[dict[str, Any]]
    mimics: dict[str, dict[str, Any]]
    isch_regions: tuple[str, ...]
    isch_side: int
    isch_delta: float | None
    mls: float  # midline shift, mm (positive: towards patient's right)
    mls_centre: tuple[float, float]
    vent_scale: dict[int, float]
    gravity: NDArray[np.float64]
    metal: str
    metal_pos: NDArray[np.float64]


def _surface_point(grids: _Grids, direction: NDArray[np.float64],
                   origin: tuple[float, float, float] = (0.0, 5.0, 10.0)) -> NDArray[np.float64]:
    """Where a ray from ``origin`` along ``direction`` meets the inner table (canonical)."""
    d = direction / np.linalg.norm(direction)
    t = np.arange(0.0, 130.0, 0.5)
    pts = np.asarray(origin)[:, None] + d[:, None] * t[None, :]
    f = pts.astype(np.float32)
    s = grids.sample(grids.sdf, f[0], f[1], f[2])
    hit = int(np.argmax(s >= 0.0)) if np.any(s >= 0.0) else len(t) - 1
    return np.asarray(pts[:, hit], np.float64)


def _ellipsoid_axes(rng: np.random.Generator, volume_ml: float) -> NDArray[np.float64]:
    ratios = rng.uniform(0.7, 1.3, 3)
    r = (3.0 * volume_ml * 1000.0 / (4.0 * math.pi * float(np.prod(ratios)))) ** (1 / 3)
    return np.asarray(r * ratios, np.float64)


def _rotation(pitch: float, roll: float, yaw: float) -> NDArray[np.float64]:
    a, b, c = (math.radians(v) for v in (pitch, roll, yaw))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, np.float64)


def _plan(seed: int, label: NcctLabel, pat: _Patient, grids: _Grids) -> _Plan:
    rng = _rng(seed, "lesions")
    mode = rng.uniform()
    hyper = bool(mode < 0.15)
    if mode > 0.88:
        blood_hu = float(rng.uniform(45.0, 55.0))  # anaemic
    else:
        blood_hu = float(rng.uniform(55.0, 85.0))
    rot = _rotation(*pat.pose_deg)
    g = np.asarray(pat.scale) * (rot.T @ np.array([0.0, 1.0, 0.0]))
    gravity = g / np.linalg.norm(g)
    bleeds: list[dict[str, Any]] = []
    mls = 0.0
    mls_centre = (0.0, 10.0)
    vent_scale = {1: 1.0, -1: 1.0}
    for kind in label.bleeds:
        krng = _rng(seed, "bleed-" + kind)
        side = 1 if krng.uniform() < 0.5 else -1
        spec: dict[str, Any] = {"kind": kind, "side": side}
        if kind == "intraparenchymal":
            site = str(krng.choice(["basal_ganglia", "thalamus", "lobar", "lobar",
                                    "cerebellar", "pontine"]))
            vmax = {"pontine": 8.0, "cerebellar": 25.0, "thalamus": 30.0}.get(site, 60.0)
            small = krng.uniform() < 0.3
            vol = float(np.exp(krng.uniform(np.log(1.5), np.log(5.0)))) if small else float(
                np.exp(krng.uniform(np.log(5.0), np.log(vmax))))
            vol = min(vol, vmax)
            centres = {
                "basal_ganglia": (24.0, -2.0, 1.0), "thalamus": (12.0, 12.0, 3.0),
                "cerebellar": (24.0, 64.0, -42.0), "pontine": (2.0, 24.0, -36.0),
            }
            if site == "lobar":
                lobe = int(krng.integers(4))
                centres["lobar"] = ((30.0, -42.0, 22.0), (36.0, 28.0, 38.0), (44.0, -6.0, -20.0),
                                    (22.0, 66.0, 10.0))[lobe]
            c = np.asarray(centres[site], np.float64) + krng.normal(0, 1.5, 3)
            c[0] *= side
            axes = _ellipsoid_axes(krng, vol)
            spec.update(site=site, centre=c, axes=axes, target_ml=vol,
                        rot=_rotation(*krng.uniform(-40, 40, 3)),
                        lobes=krng.uniform(0, 2 * math.pi, 3),
                        rim=float(krng.uniform(2.0, 6.0)), oedema=float(krng.uniform(5.0, 10.0)))
            if site not in ("cerebellar", "pontine") and vol > 12.0:
                mls = max(mls, float(min(0.2 * (vol - 10.0), 10.0))) * 1.0
                mls_centre = (float(c[1]), float(c[2]))
                vent_scale[side] = float(max(0.55, 1.0 - vol / 90.0))
                mls *= side
        elif kind == "intraventricular":
            vol = float(np.exp(krng.uniform(np.log(1.0), np.log(14.0))))
            spec.update(site="dependent", target_ml=vol, cast=bool(krng.uniform() < 0.35))
        elif kind == "subarachnoid":
            pattern = "basal" if krng.uniform() < 0.6 else "convexity"
            if pattern == "basal":
                spec.update(site="basal", centre=np.array([0.0, -4.0, -16.0]),
                            radius=float(krng.uniform(13.0, 22.0)),
                            sylvian=int(krng.choice([side, 0])))
            else:
                d = np.array([side * krng.uniform(0.6, 1.0), krng.uniform(-0.6, 0.6),
                              krng.uniform(0.2, 0.9)])
                spec.update(site="convexity", centre=_surface_point(grids, d),
                            radius=float(krng.uniform(12.0, 22.0)))
            spec["target_ml"] = None
        elif kind == "subdural":
            variant = "falx" if krng.uniform() < 0.15 else "convexity"
            vol = float(np.exp(krng.uniform(np.log(2.0), np.log(60.0))))
            if variant == "falx":
                vol = min(vol, 8.0)
                t = float(krng.uniform(2.0, 5.0))
                spec.update(site="falx", thick=t, centre=np.array([0.0, krng.uniform(-20, 30),
                                                                    krng.uniform(20, 45)]),
                            radius=float(np.sqrt(vol * 1000.0 / (math.pi * t)) * 1.1),
                            target_ml=vol)
            else:
                tmax = float(np.clip(2.0 + vol / 5.0 + krng.normal(0, 1.5), 2.5, 15.0))
                radius = float(np.clip(np.sqrt(3.0 * vol * 1000.0 / (2.0 * math.pi * tmax)),
                                       28.0, 85.0))
                d = np.array([side * 1.0, krng.uniform(-0.4, 0.5), krng.uniform(0.0, 0.7)])
                spec.update(site="convexity", thick=tmax, radius=radius,
                            centre=_surface_point(grids, d), target_ml=vol)
                if vol > 15.0:
                    mls = side * float(min(0.22 * (vol - 12.0), 12.0))
                    mls_centre = (float(spec["centre"][1]), float(spec["centre"][2]))
                    vent_scale[side] = float(max(0.55, 1.0 - vol / 100.0))
        elif kind == "epidural":
            vol = float(np.exp(krng.uniform(np.log(2.0), np.log(55.0))))
            tmax = float(np.clip(5.0 + vol / 3.0 + krng.normal(0, 2.0), 6.0, 28.0))
            radius = float(np.clip(1.3 * np.sqrt(2.0 * vol * 1000.0 / (math.pi * tmax)), 14.0,
                                   55.0))
            site = str(krng.choice(["temporal", "temporal", "frontal", "parietal", "occipital"]))
            d = {"temporal": np.array([side, -0.05, -0.25]),
                 "frontal": np.array([0.5 * side, -1.0, 0.3]),
                 "parietal": np.array([0.8 * side, 0.3, 0.8]),
                 "occipital": np.array([0.45 * side, 1.0, 0.05])}[site]
            spec.update(site=site, thick=tmax, radius=radius, centre=_surface_point(grids, d),
                        target_ml=vol)
            if vol > 20.0:
                mls = side * float(min(0.2 * (vol - 15.0), 10.0))
                mls_centre = (float(spec["centre"][1]), float(spec["centre"][2]))
        bleeds.append(spec)
    mimics: dict[str, dict[str, Any]] = {}
    for name in label.mimics:
        mrng = _rng(seed, "mimic-" + name)
        m: dict[str, Any] = {}
        if name in ("choroid_plexus_calcification", "pineal_calcification",
                    "basal_ganglia_calcification", "falx_calcification"):
            lo, hi = {"choroid_plexus_calcification": (150.0, 600.0),
                      "pineal_calcification": (120.0, 500.0),
                      "basal_ganglia_calcification": (100.0, 350.0),
                      "falx_calcification": (250.0, 900.0)}[name]
            m["hu"] = float(mrng.uniform(lo, hi))
            m["radius"] = float(mrng.uniform(2.0, 4.0))
            if name == "falx_calcification":
                m["centre"] = np.array([0.0, mrng.uniform(-45, 25), mrng.uniform(28, 50)])
                m["length"] = float(mrng.uniform(7.0, 15.0))
        elif name == "hyperdense_vessel":
            m["hu"] = float(mrng.uniform(58.0, 80.0))
            m["vessel"] = "basilar" if mrng.uniform() < 0.25 else "mca"
            m["side"] = 1 if mrng.uniform() < 0.5 else -1
        elif name == "residual_contrast":
            m["hu"] = float(mrng.uniform(120.0, 300.0))
        elif name == "streak_artefact":
            m["amplitude"] = float(mrng.uniform(35.0, 70.0))
            m["z_canon"] = float(mrng.uniform(-30.0, 5.0))
            m["n_rays"] = int(mrng.integers(2, 5))
            m["seed"] = int(mrng.integers(1 << 30))
        mimics[name] = m
    isch_delta = None
    side_isch = 0
    if label.ischaemic_regions:
        isch_delta = float(_rng(seed, "ischaemia").uniform(2.5, 6.0))
        side_isch = 1 if label.ischaemic_side == "left" else -1
    metal = pat.metal
    mrng = _rng(seed, "metal")
    if metal == "none" and "streak_artefact" in label.mimics and mrng.uniform() < 0.5:
        metal = "dental"
    metal_pos = {"dental": np.array([mrng.choice([-1, 1]) * 22.0, -62.0, -79.0]),
                 "clip": np.array([mrng.choice([-1, 1]) * 33.0, -5.0, -12.0]),
                 "coil": np.array([0.0, 8.0, -20.0]), "none": np.zeros(3)}[metal]
    return _Plan(blood_hu=blood_hu, hyperacute=hyper, bleeds=bleeds, mimics=mimics,
                 isch_regions=label.ischaemic_regions, isch_side=side_isch,
                 isch_delta=isch_delta, mls=mls, mls_centre=mls_centre, vent_scale=vent_scale,
                 gravity=gravity, metal=metal, metal_pos=metal_pos)


# --------------------------------------------------------------------------------------------
# Anatomy at points
# --------------------------------------------------------------------------------------------

_VENT_Y = (-38.0, -32.0, -22.0, -8.0, 8.0, 22.0, 33.0, 42.0, 52.0, 60.0)
_VENT_X = (7.0, 8.0, 8.0, 8.5, 9.5, 14.0, 20.0, 22.0, 20.0, 18.0)
_VENT_Z = (8.0, 10.0, 13.0, 17.0, 19.0, 18.0, 13.0, 9.0, 6.0, 5.0)
_VENT_RX = (0.0, 2.8, 3.6, 3.6, 3.6, 4.2, 6.5, 5.0, 3.0, 0.0)
_VENT_RZ = (0.0, 5.0, 6.0, 5.0, 4.0, 5.0, 8.0, 6.0, 3.0, 0.0)
_THORN_Y = (-18.0, -10.0, 5.0, 20.0, 30.0, 38.0)
_THORN_X = (27.0, 29.0, 31.0, 31.0, 28.0, 23.0)
_THORN_Z = (-24.0, -22.0, -16.0, -8.0, 0.0, 8.0)
_THORN_R = (0.0, 1.8, 2.2, 2.5, 3.0, 4.0)
_CAUD_Y = (-32.0, -26.0, -16.0, -6.0, 6.0, 16.0, 26.0, 33.0)
_CAUD_R = (0.0, 5.0, 5.5, 4.5, 3.2, 2.5, 1.8, 0.0)
_BS_Z = (-95.0, -80.0, -66.0, -56.0, -46.0, -38.0, -30.0, -22.0, -14.0, -6.0)
_BS_Y = (33.0, 32.0, 28.0, 26.0, 24.0, 24.0, 23.0, 22.0, 20.0, 17.0)
_BS_RY = (5.0, 5.5, 7.5, 8.5, 12.0, 13.0, 12.0, 10.0, 10.0, 9.0)
_BS_RX = (6.0, 6.5, 8.5, 9.5, 13.0, 14.0, 13.0, 11.0, 12.0, 12.0)
_CC_Y = (-36.0, -30.0, -15.0, 5.0, 25.0, 36.0, 42.0)
_CC_TOP = (14.0, 24.0, 29.0, 30.0, 28.0, 22.0, 12.0)
_X_INSULA = 38.0


def _sylvian_z(y: F32) -> F32:
    out: F32 = np.asarray(-12.0 + 0.30 * (y + 30.0), np.float32)
    return out


def _seg_dist(x: F32, y: F32, z: F32, a: NDArray[np.float64],
              b: NDArray[np.float64]) -> F32:
    d = b - a
    t = np.clip(((x - a[0]) * d[0] + (y - a[1]) * d[1] + (z - a[2]) * d[2]) / float(d @ d),
                0.0, 1.0)
    dx = x - (a[0] + t * d[0])
    dy = y - (a[1] + t * d[1])
    dz = z - (a[2] + t * d[2])
    out: F32 = np.asarray(np.sqrt(dx * dx + dy * dy + dz * dz), np.float32)
    return out


def _ventricles(x: F32, y: F32, z: F32, vent: float, vscale: F32) -> tuple[Mask, Mask, Mask]:
    """Lateral ventricles (C-shaped: frontal horn, body, atrium, occipital and temporal horns),
    third ventricle and aqueduct, fourth ventricle."""
    ax = np.abs(x)
    v = vent * vscale
    rx = _interp(y, _VENT_Y, _VENT_RX) * v
    rz = _interp(y, _VENT_Y, _VENT_RZ) * np.sqrt(v)
    xc = _interp(y, _VENT_Y, _VENT_X) + 0.5 * (rx - _interp(y, _VENT_Y, _VENT_RX))
    xc = np.maximum(xc, rx + 1.0)
    zc = _interp(y, _VENT_Y, _VENT_Z)
    lat = ((ax - xc) / np.maximum(rx, 1e-3)) ** 2 + ((z - zc) / np.maximum(rz, 1e-3)) ** 2 < 1.0
    lat &= rx > 0.3
    tr = _interp(y, _THORN_Y, _THORN_R) * v ** 1.2
    tz = _interp(y, _THORN_Y, _THORN_Z)
    tx = _interp(y, _THORN_Y, _THORN_X)
    lat |= ((ax - tx) ** 2 + ((z - tz) / 1.4) ** 2 < tr * tr) & (tr > 0.2)
    w3 = 1.0 + 1.6 * (vent - 1.0) + 0.6
    floor3 = _interp(y, (-12.0, 0.0, 24.0), (-15.0, -12.0, -7.0))
    third = (ax < w3) & (y > -12.0) & (y < 25.0) & (z > floor3) & (z < 12.0)
    third |= _seg_dist(x, y, z, np.array([0.0, 25.0, -7.0]), np.array([0.0, 33.0, -27.0])) < 1.3
    fourth = (x / (6.0 + vent)) ** 2 + ((y - 40.0) / 4.5) ** 2 + ((z + 37.0) / 8.0) ** 2 < 1.0
    return lat, np.asarray(third, bool), np.asarray(fourth, bool)


def _thickness(x: F32, y: F32, z: F32, pat: _Patient) -> F32:
    """Skull thickness by region: thin temporal squama, thick protuberance and base."""
    ax = np.abs(x)
    t = np.full(x.shape, pat.skull_t, np.float32)
    w_temp = (np.exp(-((z + 8.0) / 20.0) ** 2) * np.exp(-(y / 28.0) ** 2)
              * np.clip((ax - 40.0) / 15.0, 0.0, 1.0))
    t = t * (1.0 - w_temp) + pat.squama_t * w_temp
    t += 7.0 * np.exp(-(0.4 * x * x + (y - 92.0) ** 2 + (z + 24.0) ** 2) / 196.0)
    t += 5.0 * np.clip((-22.0 - z) / 12.0, 0.0, 1.0) * np.exp(-(x / 35.0) ** 2)
    t += (12.0 * pat.frontal_sinus * np.exp(-(x / 24.0) ** 2 - ((z + 4.0) / 14.0) ** 2)
          * np.clip((-y - 55.0) / 15.0, 0.0, 1.0))
    t += 12.0 * np.exp(-((ax - 50.0) / 10.0) ** 2 - ((y - 30.0) / 12.0) ** 2
                       - ((z + 46.0) / 10.0) ** 2)
    out: F32 = np.asarray(t, np.float32)
    return out


@dataclass
class _Sample:
    hu: F32
    tissue: U8
    region: U8
    kind: U8


def _evaluate(pat: _Patient, grids: _Grids, plan: _Plan, x: F32, y: F32, z: F32,
              min_size: float) -> _Sample:
    """Sample the head at canonical points (x left, y posterior, z superior; mm)."""
    n = x.size
    hu_t = pat.hu
    hu = np.full(n, -1000.0, np.float32)
    tis = np.zeros(n, np.uint8)
    reg = np.zeros(n, np.uint8)
    kind = np.zeros(n, np.uint8)
    d_in = grids.sample(grids.sdf, x, y, z)
    thick = _thickness(x, y, z, pat)

    def put(mask: Mask, name: str, value: float | F32 | None = None) -> None:
        tis[mask] = _T[name]
        if value is None:
            hu[mask] = hu_t[name]
        elif isinstance(value, np.ndarray):
            hu[mask] = value[mask]
        else:
            hu[mask] = value

    # ---- face and neck column below the skull base --------------------------------------
    ax = np.abs(x)
    ell = (x / 64.0) ** 2 + ((y + 4.0) / 90.0) ** 2
    column = (z < -20.0) & (ell < 1.0) & (z > -140.0)
    put(column & (ell < 0.90), "muscle")
    put(column & (ell >= 0.90) & (ell < 0.96), "fat")
    put(column & (ell >= 0.96), "scalp")
    # ---- scalp and temporalis over the vault -----------------------------------------
    w_tm = (np.exp(-((z + 5.0) / 26.0) ** 2) * np.exp(-((y + 5.0) / 32.0) ** 2)
            * np.clip((ax - 35.0) / 15.0, 0.0, 1.0))
    t_tm = 10.0 * w_tm
    outer = d_in - thick
    vault = (outer >= 0.0) & (outer < t_tm + 6.0) & ~(column & (ell < 0.9))
    put(vault & (outer < t_tm), "muscle")
    put(vault & (outer >= t_tm) & (outer < t_tm + 3.0), "fat")
    put(vault & (outer >= t_tm + 3.0), "scalp")
    # ---- orbits, nasal cavity, sinuses, atlas, spinal canal ---------------------------
    for s in (-1.0, 1.0):
        cone = (((x - s * 28.0) / 14.0) ** 2 + ((y + 52.0) / 24.0) ** 2
                + ((z + 40.0) / 13.0) ** 2)
        put(column & (cone >= 1.0) & (cone < 1.25) & (y > -66.0), "cortical_bone")
        put(cone < 1.0, "fat")
        globe = (x - s * 32.0) ** 2 + (y + 66.0) ** 2 + (z + 40.0) ** 2
        put(globe < 144.0, "eye")
        lens = ((x - s * 32.0) / 4.0) ** 2 + ((y + 77.0) / 2.0) ** 2 + ((z + 40.0) / 4.0) ** 2
        put(lens < 1.0, "eye", 100.0)
        maxs = (((x - s * 27.0) / 14.0) ** 2 + ((y + 52.0) / 17.0) ** 2
                + ((z + 72.0) / 15.0) ** 2)
        put((maxs < 1.35) & (maxs >= 1.0), "cortical_bone")
        put(maxs < 1.0, "air")
    nasal = (ax < 13.0) & (y > -92.0) & (y < -28.0) & (z < -26.0) & (z > -95.0)
    nasal &= (z > -85.0 + 0.5 * (y + 92.0) * 0.0)
    put(nasal & (ax >= 11.5), "cortical_bone")
    put(nasal & (ax < 11.5) & (ax > 1.0), "air")
    put(nasal & (ax <= 1.0), "cortical_bone", 400.0)
    etm = (ax < 12.0) & (y > -72.0) & (y < -35.0) & (z > -46.0) & (z < -24.0)
    cells = np.cos(0.9 * x) * np.cos(0.8 * y) * np.cos(0.85 * z) > -0.2
    put(etm & cells, "air")
    put(etm & ~cells, "cortical_bone", 600.0)
    naso = (x / 13.0) ** 2 + ((y + 16.0) / 9.0) ** 2 + ((z + 78.0) / 12.0) ** 2 < 1.0
    put(naso, "air")
    ring = np.sqrt(x * x + ((y - 30.0) / 1.1) ** 2)
    atlas = (np.abs(ring - 18.0) < 4.0) & (z < -74.0) & (z > -84.0)
    put(atlas, "cortical_bone")
    dens = (x * x + (y - 16.0) ** 2 < 30.0) & (z < -70.0)
    put(dens, "cortical_bone")
    canal = (x * x + (y - 33.0) ** 2 < 110.0) & (z < -60.0) & (d_in >= 0.0)
    # ---- bone ---------------------------------------------------------------------------
    bone = (d_in >= 0.0) & (d_in < thick)
    fm = (x * x + ((y - 34.0) / 1.15) ** 2 < 17.0 ** 2) & (z < -55.0)
    bone &= ~fm
    diploic = (thick > 4.5) & (d_in > 1.3) & (d_in < thick - 1.8)
    put(bone & ~diploic, "cortical_bone")
    put(bone & diploic, "diploe")
    put(_petrous(x, y, z) & (d_in >= -1.0), "cortical_bone", hu_t["cortical_bone"] * 1.1)
    fs = pat.frontal_sinus
    if fs > 0.15:
        sinus = (((np.abs(x) - 9.0 * fs) / (9.0 * fs + 1.0)) ** 2 + ((y + 80.0) / 9.0) ** 2
                 + ((z + 4.0) / (12.0 * fs + 2.0)) ** 2 < 1.0)
        put(sinus & bone & (d_in > 1.5) & (d_in < thick - 1.5) & (ax > 0.8), "air")
    sph = (x / 15.0) ** 2 + ((y + 10.0) / 13.0) ** 2 + ((z + 45.0) / 10.0) ** 2 < 1.0
    put(sph & (d_in > 1.2), "air")
    mast = ((ax - 52.0) / 11.0) ** 2 + ((y - 30.0) / 12.0) ** 2 + ((z + 46.0) / 10.0) ** 2 < 1.0
    honey = np.cos(1.1 * x + 0.3) * np.cos(1.2 * y) * np.cos(1.05 * z + 0.7) > 0.1
    put(mast & bone & honey & (d_in > 1.0), "air")
    put(canal, "csf")
    put(canal & (x * x + (y - 32.0) ** 2 < 30.0), "brainstem")
    # ---- intracranial ---------------------------------------------------------------------
    cav = np.flatnonzero(d_in < 0.0)
    if cav.size:
        sub = _intracranial(pat, grids, plan, x[cav], y[cav], z[cav], d_in[cav], min_size)
        hu[cav], tis[cav], reg[cav], kind[cav] = sub.hu, sub.tissue, sub.region, sub.kind
    # ---- metal -------------------------------------------------------------------------
    if plan.metal != "none":
        mp = plan.metal_pos
        if plan.metal == "dental":
            for dx in (-6.0, 0.0, 6.0):
                m = ((x - mp[0] - dx) / max(2.5, min_size)) ** 2 + (
                    (y - mp[1] - abs(dx)) / 3.0) ** 2 + ((z - mp[2]) / 3.0) ** 2 < 1.0
                put(m, "metal")
        elif plan.metal == "clip":
            m = _seg_dist(x, y, z, mp - np.array([0, 3.0, 0]), mp + np.array([0, 3.0, 1.0]))
            put(m < max(1.2, 0.6 * min_size), "metal")
        else:
            m = (x - mp[0]) ** 2 + (y - mp[1]) ** 2 + (z - mp[2]) ** 2
            put(m < max(3.5, min_size) ** 2, "metal")
    return _Sample(hu, tis, reg, kind)


def _warp(plan: _Plan, x: F32, y: F32, z: F32, d_in: F32) -> tuple[F32, F32, F32]:
    """Mass effect: tissue pushed radially from haematomas and a subfalcine shift."""
    qx, qy, qz = x.copy(), y.copy(), z.copy()
    for b in plan.bleeds:
        if b["kind"] != "intraparenchymal":
            continue
        c = b["centre"]
        r0 = 0.8 * float(np.cbrt(float(np.prod(b["axes"]))))
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        r = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3
        shift = r - np.cbrt(np.maximum(r ** 3 - r0 ** 3, 0.0))
        damp = 1.0 / (1.0 + (r / (3.0 * r0 + 15.0)) ** 4)
        f = (shift * damp / r).astype(np.float32)
        qx -= dx * f
        qy -= dy * f
        qz -= dz * f
    if plan.mls != 0.0:
        yc, zc = plan.mls_centre
        w = (np.exp(-((z - zc) / 45.0) ** 2) * np.exp(-((y - yc) / 60.0) ** 2)
             * np.clip(1.0 - np.abs(x) / 60.0, 0.0, 1.0) * np.clip(-d_in / 15.0, 0.0, 1.0))
        qx += (plan.mls * w).astype(np.float32)
    return qx, qy, qz


def _intracranial(pat: _Patient, grids: _Grids, plan: _Plan, px: F32, py: F32, pz: F32,
                  d_in: F32, min_size: float) -> _Sample:
    """The cranial contents at points inside the inner table."""
    n = px.size
    h = pat.hu
    hu = np.full(n, h["csf"], np.float32)
    tis = np.full(n, _T["csf"], np.uint8)
    reg = np.zeros(n, np.uint8)
    kind = np.zeros(n, np.uint8)
    x, y, z = _warp(plan, px, py, pz, d_in)
    ax = np.abs(x)
    side = np.where(x >= 0.0, 1, -1).astype(np.int8)

    def put(mask: Mask, name: str, value: float | None = None) -> None:
        tis[mask] = _T[name]
        hu[mask] = h[name] if value is None else value

    # ---- extra-axial collections change the hull -----------------------------------------
    extra = np.zeros(n, np.float32)
    extra_regions: list[tuple[str, Mask]] = []
    for b in plan.bleeds:
        if b["kind"] in ("subdural", "epidural") and b["site"] != "falx":
            c = b["centre"]
            r = np.sqrt((px - c[0]) ** 2 + (py - c[1]) ** 2 + (pz - c[2]) ** 2)
            q = np.clip(1.0 - (r / b["radius"]) ** 2, 0.0, 1.0)
            t = b["thick"] * (np.sqrt(q) if b["kind"] == "subdural" else q)
            region = (d_in > -t) & (t > 0.3)
            if b["kind"] == "subdural":
                region &= b["side"] * px > 2.0
            extra = np.maximum(extra, t.astype(np.float32))
            extra_regions.append((b["kind"], region))
    # ---- territories (for ischaemia and the ASPECTS map) --------------------------------
    ang = np.degrees(np.arctan2(y - 2.0, ax))
    level = np.where((z > -14.0) & (z <= 12.0), 1, np.where((z > 14.0) & (z <= 38.0), 2, 0))
    sector = np.where(ang < -62, 0, np.where(ang < -20, 1, np.where(ang < 22, 2,
                                                                    np.where(ang < 62, 3, 0))))
    insula_e = ((y + 5.0) / 24.0) ** 2 + ((z + 1.0) / 14.0) ** 2 < 1.0
    efface = np.ones(n, np.float32)
    if plan.isch_delta is not None:
        aff = np.zeros(n, bool)
        for rname in plan.isch_regions:
            if rname.startswith("M"):
                k = int(rname[1])
                aff |= (level == (1 if k <= 3 else 2)) & (sector == ((k - 1) % 3) + 1)
            elif rname == "I":
                aff |= insula_e & (ax > _X_INSULA - 8.0)
        aff &= side == plan.isch_side
        efface[aff] = 0.3
    # ---- compartments ---------------------------------------------------------------------
    zt = _interp(y, _TENT_Y, _TENT_Z) - 0.42 * ax
    ypr = 8.0 + (np.clip(ax, 16.0, 56.0) - 16.0) * 0.65
    infra = (z < zt) & (y > ypr - 2.0)
    sas = pat.sas * (0.4 + 0.6 * efface) + extra
    d_hull = -d_in - sas
    d_tent = np.where(y > ypr, z - zt - 1.2, 99.0).astype(np.float32)
    zcc = _interp(y, _CC_Y, _CC_TOP)
    under_cc = (y > -36.0) & (y < 42.0) & (z < zcc) & (z > -12.0)
    ifh = 1.0 + 0.8 * pat.atrophy
    d_ifh = np.where(under_cc, 99.0, ax - ifh).astype(np.float32)
    basal = np.maximum.reduce([ax - 17.0, z + 12.0, -22.0 - y, y - 46.0])
    d_outer = np.minimum.reduce([d_hull, d_tent, d_ifh, basal])
    fold = grids.sample(grids.fold, x, y, z)
    fundus = grids.sample(grids.fundus, x, y, z)
    w = pat.cleft_w * efface
    cleft = np.maximum(np.abs(fold) - 0.5 * w, d_outer - fundus)
    zs = _sylvian_z(y)
    y_cs = 8.0 - 0.35 * (z - 40.0) + 3.0 * np.sin(z / 5.0 + ax / 9.0)
    central = np.maximum.reduce([np.abs(y - y_cs) - 0.5 * w, d_outer - 20.0, 12.0 - z])
    sts = np.maximum.reduce([np.abs(z - zs + 15.0 - 3.0 * np.sin(y / 7.0)) - 0.5 * w,
                             d_outer - 15.0, -40.0 - y, y - 35.0])
    calc = np.maximum.reduce([np.abs(z - 6.0 - 0.15 * (y - 60.0) - 2.0 * np.sin(y / 6.0))
                              - 0.5 * w, d_outer - 18.0, 45.0 - y, ax - 22.0])
    ws = (2.0 + 2.0 * pat.atrophy) * efface
    syl = np.maximum.reduce([np.abs(z - zs) - 0.5 * ws, _X_INSULA - ax, -38.0 - y, y - 30.0])
    ins = np.maximum(np.abs(ax - _X_INSULA - 1.0) - 0.6 - 0.5 * efface,
                     np.where(insula_e, -1.0, 1.0).astype(np.float32))
    stem = np.maximum.reduce([np.abs(y + 8.0) - 4.0, np.abs(z + 14.0) - 3.0, 12.0 - ax,
                              ax - _X_INSULA - 2.0])
    d_pial = np.minimum.reduce([d_outer, cleft, central, sts, calc, syl, ins, stem])
    sup = (d_pial > 0.0) & ~infra
    put(sup & (d_pial < pat.t_gm), "grey_matter")
    wm_mask = sup & (d_pial >= pat.t_gm)
    put(wm_mask, "white_matter")
    # ---- deep grey and white structures ---------------------------------------------------
    ic_pts = ((17.0, -2.0), (24.0, -24.0), (27.0, 22.0))
    zband = (z > -10.0) & (z < 17.0)
    da = _seg_dist(ax, y, np.zeros_like(z), np.array([*ic_pts[0], 0.0]),
                   np.array([*ic_pts[1], 0.0]))
    dp = _seg_dist(ax, y, np.zeros_like(z), np.array([*ic_pts[0], 0.0]),
                   np.array([*ic_pts[2], 0.0]))
    ic = sup & zband & (np.minimum(da, dp) < 3.2)
    x_icm = np.where(y < -2.0, 17.0 + 7.0 * (-2.0 - y) / 22.0, 17.0 + 10.0 * (y + 2.0) / 24.0)
    x_icm = x_icm + 3.2
    lent_w = (31.0 - x_icm) * np.sqrt(np.clip(1.0 - ((y + 2.0) / 21.0) ** 2
                                              - ((z - 1.0) / 11.5) ** 2, 0.0, 1.0))
    lent = sup & (ax > x_icm) & (ax < x_icm + lent_w)
    pall = lent & (ax < x_icm + np.minimum(6.0, 0.45 * lent_w)) & (np.abs(y + 1.0) < 12.0) & (
        np.abs(z) < 7.0)
    put(ic & ~lent, "internal_capsule", h["internal_capsule"])
    put(lent & ~pall, "putamen")
    put(pall, "pallidum")
    claus = sup & insula_e & (np.abs(ax - (_X_INSULA - 4.5)) < 0.6)
    put(claus, "claustrum")
    vs = np.where(side > 0, plan.vent_scale[1], plan.vent_scale[-1]).astype(np.float32)
    lat_v, third_v, fourth_v = _ventricles(x, y, z, pat.vent, vs)
    rxv = _interp(y, _VENT_Y, _VENT_RX) * pat.vent * vs
    xcv = np.maximum(_interp(y, _VENT_Y, _VENT_X) + 0.5 * (rxv - _interp(y, _VENT_Y, _VENT_RX)),
                     rxv + 1.0)
    cr = _interp(y, _CAUD_Y, _CAUD_R) * (1.0 - 0.2 * pat.atrophy)
    cz = _interp(y, _VENT_Y, _VENT_Z) + 0.3 * _interp(y, _VENT_Y, _VENT_RZ)
    cx = xcv + rxv + 0.4 * cr
    caud = sup & ((ax - cx) ** 2 + ((z - cz) / 1.3) ** 2 < cr * cr) & (cr > 0.3)
    put(caud, "caudate")
    thal = sup & (((ax - 12.0) / 8.5) ** 2 + ((y - 12.0) / 15.0) ** 2 + ((z - 2.0) / 10.0) ** 2 < 1)
    put(thal, "thalamus")
    # periventricular white-matter hypodensity in older heads
    if pat.leuko > 0.2:
        near = wm_mask & ((ax - xcv) ** 2 + ((z - cz) / 1.6) ** 2 < (rxv + 9.0) ** 2)
        near &= fold > -1.5
        hu[near & (tis == _T["white_matter"])] -= pat.leuko
    # ---- brainstem, cerebellum ----------------------------------------------------------
    bsy = _interp(z, _BS_Z, _BS_Y)
    bry = _interp(z, _BS_Z, _BS_RY)
    brx = _interp(z, _BS_Z, _BS_RX)
    rho_bs = np.sqrt((x / brx) ** 2 + ((y - bsy) / bry) ** 2)
    bs = (rho_bs < 1.0) & (z < -5.0)
    d_inf = np.minimum(d_hull, np.where(y > ypr, zt - z - 1.2, 99.0).astype(np.float32))
    beta = np.arctan2(z + 36.0, y - 44.0) + 0.0012 * x * x
    rr = np.sqrt((z + 36.0) ** 2 + (y - 44.0) ** 2)
    fis = np.maximum(rr * np.abs(np.sin(9.0 * beta + 0.4)) / 9.0 - 0.5 * w, d_inf - 12.0)
    fis2 = np.maximum(rr * np.abs(np.sin(18.0 * beta + 1.1)) / 18.0 - 0.4, d_inf - 5.0)
    notch = np.where(y > 72.0, ax - 1.5, 99.0).astype(np.float32)
    magna = ((x / (10.0 + 4.0 * pat.atrophy)) ** 2 + ((y - 66.0) / 12.0) ** 2
             + ((z + 60.0) / 8.0) ** 2) - 1.0
    d_cb = np.minimum.reduce([d_inf, fis, fis2, notch, magna * 6.0])
    cb = infra & (d_cb > 0.0) & (rho_bs > 1.3) & (y > bsy + 1.0)
    put(cb & (d_cb < 5.0), "cerebellum")
    put(cb & (d_cb >= 5.0), "white_matter")
    put(bs, "brainstem")
    # ---- ventricles, choroid, pineal ---------------------------------------------------
    vent_any = lat_v | third_v | fourth_v
    put(vent_any, "csf")
    cp_r = max(3.5, min_size)
    choroid = ((ax - 21.0) ** 2 + (y - 36.0) ** 2 + (z - 13.0) ** 2 < cp_r ** 2) & lat_v
    put(choroid, "choroid_plexus")
    pin = x * x + (y - 30.0) ** 2 + (z + 2.0) ** 2 < max(3.5, min_size) ** 2
    put(pin, "pineal")
    # ---- dura, sinuses and vessels ------------------------------------------------------
    brain = sup | cb | bs
    falx = (ax < 0.6) & ~under_cc & (z > zt + 1.0) & ~brain & (basal > 0.0)
    put(falx, "dura")
    tent = (np.abs(z - zt) < 0.7) & (y > ypr) & (ax > 11.0) & ~brain
    put(tent, "dura")
    sss = (d_in > -8.0) & (ax < (8.0 + d_in) * 0.7) & (z > 0.0)
    straight = _seg_dist(x, y, z, np.array([0.0, 42.0, -6.0]), np.array([0.0, 88.0, -24.0])) < 3.0
    trans = (np.abs(z - zt) < 4.0) & (d_in > -7.0) & (y > 45.0) & (ax > 12.0)
    sinus = sss | straight | trans
    put(sinus, "venous_blood")
    vr = max(1.6, 0.55 * min_size)
    arteries = np.zeros(n, bool)
    for s in (-1.0, 1.0):
        arteries |= _seg_dist(x, y, z, np.array([s * 13.0, -6.0, -15.0]),
                              np.array([s * 36.0, -4.0, -12.0])) < vr
        arteries |= _seg_dist(x, y, z, np.array([s * 13.0, -7.0, -28.0]),
                              np.array([s * 13.0, -6.0, -15.0])) < vr * 1.2
    arteries |= _seg_dist(x, y, z, np.array([0.0, 8.0, -62.0]), np.array([0.0, 9.0, -20.0])) < vr
    put(arteries & ~brain, "vessel")
    # ---- ASPECTS regions --------------------------------------------------------------------
    parenchyma = np.isin(tis, (_T["grey_matter"], _T["white_matter"], _T["caudate"],
                               _T["putamen"], _T["pallidum"], _T["internal_capsule"],
                               _T["claustrum"]))
    rid = np.zeros(n, np.uint8)
    ridx = {name: i + 1 for i, name in enumerate(ASPECTS_REGIONS)}
    cortex = parenchyma & (d_pial < 14.0) & (ax > 22.0) & (level > 0) & (sector > 0) & sup
    rid[cortex] = (np.where(level == 1, 0, 3) + sector)[cortex].astype(np.uint8) + 4
    rid[cortex & insula_e & (ax > _X_INSULA - 8.0) & (ax < _X_INSULA + 1.0)] = ridx["I"]
    rid[tis == _T["caudate"]] = ridx["C"]
    rid[(tis == _T["putamen"]) | (tis == _T["pallidum"])] = ridx["L"]
    rid[tis == _T["internal_capsule"]] = ridx["IC"]
    rid[~parenchyma] = 0
    reg[:] = np.where(rid > 0, rid + np.where(side > 0, 0, 10), 0).astype(np.uint8)
    # ---- early ischaemic change -----------------------------------------------------------
    if plan.isch_delta is not None:
        hit = np.zeros(n, bool)
        for rname in plan.isch_regions:
            hit |= rid == ridx[rname]
        hit &= side == plan.isch_side
        grey = np.isin(tis, (_T["grey_matter"], _T["caudate"], _T["putamen"], _T["pallidum"],
                             _T["claustrum"]))
        hu[hit & grey] -= 1.2 * plan.isch_delta
        hu[hit & ~grey] -= 0.8 * plan.isch_delta
    # ---- mimics -------------------------------------------------------------------------
    mim = plan.mimics
    if "choroid_plexus_calcification" in mim:
        m = mim["choroid_plexus_calcification"]
        r = max(m["radius"], min_size)
        put(((ax - 21.0) ** 2 + (y - 37.0) ** 2 + (z - 13.0) ** 2 < r * r), "calcification",
            m["hu"])
    if "pineal_calcification" in mim:
        m = mim["pineal_calcification"]
        r = max(0.8 * m["radius"], min_size)
        put(x * x + (y - 30.0) ** 2 + (z + 2.0) ** 2 < r * r, "calcification", m["hu"])
    if "basal_ganglia_calcification" in mim:
        m = mim["basal_ganglia_calcification"]
        r = max(0.8 * m["radius"], min_size)
        put(((ax - 24.0) ** 2 + (y + 1.0) ** 2 + ((z + 1.0) / 1.4) ** 2 < r * r), "calcification",
            m["hu"])
    if "falx_calcification" in mim:
        m = mim["falx_calcification"]
        c = m["centre"]
        half_t = max(1.2, 0.55 * min_size)
        plaque = (ax < half_t) & ((y - c[1]) ** 2 + (z - c[2]) ** 2 < (0.5 * m["length"]) ** 2)
        put(plaque & ~brain | plaque & (ax < 0.6 * half_t), "calcification", m["hu"])
    if "hyperdense_vessel" in mim:
        m = mim["hyperdense_vessel"]
        tr = max(1.8, 0.6 * min_size)
        if m["vessel"] == "mca":
            s = m["side"]
            seg = _seg_dist(x, y, z, np.array([s * 15.0, -6.0, -15.0]),
                            np.array([s * 34.0, -4.0, -12.5])) < tr
        else:
            seg = _seg_dist(x, y, z, np.array([0.0, 8.0, -50.0]),
                            np.array([0.0, 9.0, -22.0])) < tr
        put(seg, "thrombus", m["hu"])
    if "residual_contrast" in mim:
        m = mim["residual_contrast"]
        put(arteries & ~brain, "contrast", m["hu"])
        put(sinus, "contrast", 0.8 * m["hu"])
        put(choroid, "contrast", 0.6 * m["hu"])
    # ---- haemorrhage (only inside the inner table) ------------------------------------
    code = {k: i + 1 for i, k in enumerate(BLEED_KINDS)}
    bhu = np.full(n, plan.blood_hu, np.float32)
    if plan.hyperacute:
        swirl = np.sin(0.55 * px + 1.3 * np.sin(0.3 * pz)) * np.sin(0.5 * py + 0.7)
        bhu = np.where(swirl > 0.35, plan.blood_hu - 22.0, bhu).astype(np.float32)
    csf_sub = ~brain & ~vent_any & np.isin(tis, (_T["csf"], _T["dura"]))
    for b in plan.bleeds:
        k = b["kind"]
        if k == "intraparenchymal":
            c = b["centre"]
            loc = b["rot"] @ np.stack([px - c[0], py - c[1], pz - c[2]]).astype(np.float64)
            ax3 = b["axes"]
            rn = np.sqrt((loc[0] / ax3[0]) ** 2 + (loc[1] / ax3[1]) ** 2 + (loc[2] / ax3[2]) ** 2)
            th = np.arctan2(loc[1], loc[0])
            ph = np.arctan2(loc[2], np.hypot(loc[0], loc[1]))
            lob = 1.0 + 0.1 * np.sin(3 * th + b["lobes"][0]) * np.cos(2 * ph + b["lobes"][1])
            rn = (rn / lob).astype(np.float32)
            rim = 1.0 + b["rim"] / float(np.mean(ax3))
            oed = (rn >= 1.0) & (rn < rim) & parenchyma
            tis[oed] = _T["oedema"]
            hu[oed] -= b["oedema"]
            region = (rn < 1.0) & (d_in < -0.5)
        elif k == "intraventricular":
            dep = (b["gravity"][0] * x + b["gravity"][1] * y + b["gravity"][2] * z)
            region = lat_v & (dep > b["level"])
            if b["cast"]:
                region |= third_v | fourth_v
        elif k == "subarachnoid":
            c = b["centre"]
            r2 = (px - c[0]) ** 2 + (py - c[1]) ** 2 + (pz - c[2]) ** 2
            region = csf_sub & (r2 < b["radius"] ** 2)
            if b["site"] == "basal":
                sylv = ((np.abs(z - zs) < 1.5 + 0.5 * ws) & (ax > 12.0) & (ax < 55.0)
                        & (y < 25.0) & (y > -35.0))
                sylv |= insula_e & (ax > _X_INSULA - 2.0) & (ax < _X_INSULA + 4.0)
                if b["sylvian"] != 0:
                    sylv &= side == b["sylvian"]
                region |= csf_sub & sylv & (z < 30.0)
        elif k == "subdural" and b["site"] == "falx":
            c = b["centre"]
            region = ((b["side"] * x > 0) & (ax < ifh + b["thick"])
                      & ((y - c[1]) ** 2 + (z - c[2]) ** 2 < b["radius"] ** 2) & ~under_cc
                      & (z > zt + 2.0) & (basal > 0.0))
        else:
            region = np.zeros(n, bool)
            for rk, rm in extra_regions:
                if rk == k:
                    region |= rm
        region &= d_in < 0.0
        if k == "subarachnoid":
            hu[region] = 0.85 * bhu[region] + 0.15 * h["csf"]
        else:
            hu[region] = bhu[region]
        tis[region] = _T["blood"]
        kind[region] = code[k]
        reg[region] = 0
    return _Sample(hu, tis, reg, kind)


def _ivh_level(pat: _Patient, plan: _Plan) -> None:
    """The fluid level that puts the intended volume of blood in the dependent horns."""
    for b in plan.bleeds:
        if b["kind"] != "intraventricular":
            continue
        g = np.arange(-40.0, 65.0, 1.5, dtype=np.float32)
        xs = np.arange(-40.0, 40.0, 1.5, dtype=np.float32)
        zs = np.arange(-30.0, 35.0, 1.5, dtype=np.float32)
        xx, yy, zz = np.meshgrid(xs, g, zs, indexing="ij")
        xf, yf, zf = xx.ravel(), yy.ravel(), zz.ravel()
        lat, _, _ = _ventricles(xf, yf, zf, pat.vent, np.ones_like(xf))
        gv = plan.gravity
        dep = gv[0] * xf[lat] + gv[1] * yf[lat] + gv[2] * zf[lat]
        voxel_ml = 1.5 ** 3 / 1000.0
        want = b["target_ml"] / voxel_ml
        frac = float(np.clip(1.0 - want / max(dep.size, 1), 0.0, 0.97))
        b["level"] = float(np.quantile(dep, frac)) if dep.size else 0.0
        b["gravity"] = gv


# --------------------------------------------------------------------------------------------
# CT physics
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _projector(nc: int, n_ang: int) -> sparse.csr_matrix:
    """Pixel-driven parallel-beam projector (rays x pixels); its transpose back-projects."""
    c = (np.arange(nc) - (nc - 1) / 2.0)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    th = np.linspace(0.0, math.pi, n_ang, endpoint=False)
    t = (np.cos(th)[:, None] * xx.ravel()[None, :] + np.sin(th)[:, None] * yy.ravel()[None, :])
    nt = nc
    tb = t + (nt - 1) / 2.0
    i0 = np.floor(tb).astype(np.int64)
    f = tb - i0
    pix = np.broadcast_to(np.arange(nc * nc), t.shape)
    ang = np.broadcast_to(np.arange(n_ang)[:, None], t.shape)
    rows, cols, vals = [], [], []
    for off, wgt in ((0, 1.0 - f), (1, f)):
        ii = i0 + off
        ok = (ii >= 0) & (ii < nt)
        rows.append((ang * nt + ii)[ok])
        cols.append(pix[ok])
        vals.append(wgt[ok])
    a = sparse.csr_matrix((np.concatenate(vals).astype(np.float32),
                           (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_ang * nt, nc * nc))
    return a


def _fbp(sino: NDArray[np.float64], n_ang: int, nt: int, pix_mm: float, cutoff: float,
         a: sparse.csr_matrix) -> NDArray[np.float64]:
    """Filtered back-projection of (n_ang * nt, k) sinograms with an apodised ramp."""
    k = sino.shape[1]
    s = sino.reshape(n_ang, nt, k)
    npad = 2 * nt
    freq = np.fft.rfftfreq(npad, pix_mm)
    win = np.abs(freq) * np.exp(-0.5 * (freq / max(cutoff, 1e-3)) ** 2)
    spec = np.fft.rfft(s, n=npad, axis=1) * win[None, :, None]
    filt = np.fft.irfft(spec, n=npad, axis=1)[:, :nt, :]
    return np.asarray(a.T @ filt.reshape(n_ang * nt, k)) * (math.pi / n_ang)


def _physics(vol: F32, tis_mid: U8, pat: _Patient, plan: _Plan, pix_mm: float,
             z_canon: F32, seed: int) -> tuple[F32, F32, dict[str, Any]]:
    """Beam-hardening, photon-starvation and metal artefacts plus the noise-sigma map,
    computed on a subset of slices and interpolated across the volume."""
    nz, m, _ = vol.shape
    nc = min(m, 96)
    n_ang = 90
    a = _projector(nc, n_ang)
    step = max(1, int(math.ceil(nz / 9)))
    idx = sorted(set(list(range(0, nz, step)) + [nz - 1]))
    zoom = nc / m
    cpix = pix_mm / zoom
    imgs = []
    bones = []
    for k in idx:
        hu = vol[k].astype(np.float64)
        hu = np.where(tis_mid[k] == _T["metal"], 14000.0, hu)
        small = ndimage.zoom(hu, zoom, order=1, grid_mode=True, mode="nearest")
        imgs.append(np.maximum(1.0 + small / 1000.0, 0.0).ravel())
        bones.append((np.maximum(small - 250.0, 0.0) / 1000.0).ravel())
    mu = np.stack(imgs, axis=1) * _MU_WATER * cpix
    mb = np.stack(bones, axis=1) * _MU_WATER * cpix
    p = np.asarray(a @ mu)
    pb = np.asarray(a @ mb)
    kv = 120.0 / pat.kvp
    beta_b = 0.085 * kv ** 2
    beta_w = 0.004 * kv
    err_bh = -beta_b * pb ** 2 - beta_w * np.maximum(p - 3.0, 0.0) ** 2
    n0 = 2.5e5 * (pat.slice_mm / 5.0) * (pat.kvp / 120.0) ** 2.5
    counts = n0 * np.exp(-(p + err_bh))
    var = 1.0 / np.maximum(counts, 3.0)
    rng = _rng(seed, "quanta")
    var_med = float(np.median(var))
    starve = np.sqrt(np.maximum(var - 4.0 * var_med, 0.0)) * rng.standard_normal(var.shape)
    art = _fbp(err_bh + starve, n_ang, nc, cpix, pat.kernel[2] * 0.9, a)
    art_hu = (art / (_MU_WATER * cpix) * 1000.0 / cpix).reshape(nc, nc, -1)
    # calibrate: the mean error inside the head should be small after the water correction
    bpv = np.asarray(a.T @ var).reshape(nc, nc, -1) / n_ang
    centre = bpv[nc // 2 - nc // 8: nc // 2 + nc // 8, nc // 2 - nc // 8: nc // 2 + nc // 8, :]
    mid = int(np.argmin(np.abs(z_canon[idx] - 5.0)))
    ref = float(np.median(centre[:, :, mid])) if centre.size else 1.0
    sig = np.sqrt(np.clip(bpv / max(ref, 1e-12), 0.3, 25.0))
    # interpolate across slices
    pos = np.interp(np.arange(nz, dtype=np.float64), np.asarray(idx, np.float64),
                    np.arange(len(idx), dtype=np.float64))
    i0 = np.clip(np.floor(pos).astype(int), 0, len(idx) - 1)
    i1 = np.clip(i0 + 1, 0, len(idx) - 1)
    wz = (pos - i0)[:, None, None]
    art_t = np.moveaxis(art_hu, 2, 0)
    sig_t = np.moveaxis(sig, 2, 0)
    art_all = ((1.0 - wz) * art_t[i0] + wz * art_t[i1]).astype(np.float32)
    sig_all = ((1.0 - wz) * sig_t[i0] + wz * sig_t[i1]).astype(np.float32)
    info = {"beam_hardening_beta": round(beta_b, 4), "photons_per_ray": round(n0, 1),
            "physics_slices": len(idx), "projection_grid": nc, "views": n_ang}
    return art_all, sig_all, info


def _streak_image(spec: dict[str, Any], nc: int, pix_mm: float) -> NDArray[np.float64]:
    """Bright and dark line streaks (the streak-artefact mimic) from a few corrupted rays."""
    n_ang = 90
    a = _projector(nc, n_ang)
    rng = np.random.default_rng(spec["seed"])
    sino = np.zeros((n_ang, nc), np.float64)
    for _ in range(spec["n_rays"]):
        th = int(rng.integers(n_ang))
        t = int(nc // 2 + rng.integers(-max(1, nc // 10), max(2, nc // 10)))
        sino[th, t] += 1.0
    img = _fbp(sino.reshape(-1, 1), n_ang, nc, pix_mm, 0.6, a)[:, 0].reshape(nc, nc)
    peak = float(np.max(img))
    return img / peak * float(spec["amplitude"]) if peak > 0 else img


def _noise(shape: tuple[int, int, int], pix_mm: float, cutoff: float,
           rng: np.random.Generator) -> F32:
    """Unit-variance noise with a ramp-shaped (mid-frequency peaked) power spectrum."""
    nz, ny, nx = shape
    fy = sfft.fftfreq(ny, pix_mm)[:, None]
    fx = sfft.rfftfreq(nx, pix_mm)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    h = (np.sqrt(f) * np.exp(-0.5 * (f / cutoff) ** 2)).astype(np.float32)
    out = np.empty(shape, np.float32)
    for k in range(nz):
        white = rng.standard_normal((ny, nx), dtype=np.float32)
        out[k] = sfft.irfft2(sfft.rfft2(white) * h, s=(ny, nx))
    std = float(out.std())
    return out / max(std, 1e-6)


def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, U8, U8]:
    """Render a case with its ASPECTS region map and tissue map (both (z, y, x) uint8)."""
    pat = _patient(seed)
    grids = _grids(seed, 2.0 if matrix >= 128 else 3.0)
    plan = _plan(seed, label, pat, grids)
    _ivh_level(pat, plan)
    up = 1 if matrix <= 256 else int(math.ceil(matrix / 256))
    while matrix % up:
        up -= 1
    m = matrix // up
    fov = pat.fov_mm
    px_out = fov / matrix
    pw = fov / m
    rot = _rotation(*pat.pose_deg)
    scale = np.asarray(pat.scale)
    off = np.asarray(pat.offset_mm)

    def to_scanner(pts: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray((rot @ (pts * scale[:, None])) + off[:, None], np.float64)

    ys = np.arange(-70.0, 91.0, 5.0)
    roof = np.interp(ys, _PROFILE_Y, grids.jitter["roof"]) + 14.0
    top_pts = np.stack([np.zeros_like(ys), ys, roof])
    side_pts = np.stack([np.full_like(ys, 55.0), ys, roof - 25.0])
    side_pts2 = side_pts * np.array([[-1.0], [1.0], [1.0]])
    top = float(np.max(to_scanner(np.concatenate([top_pts, side_pts, side_pts2], axis=1))[2]))
    base_pts = np.array([[0.0, -20.0, 20.0], [36.0, 36.0, 50.0], [-72.0, -72.0, -70.0]])
    bottom = float(np.min(to_scanner(base_pts)[2])) - 6.0
    thick = pat.slice_mm
    nz = int(math.ceil((top - bottom) / thick))
    z0 = bottom + thick / 2.0
    n_sub = int(np.clip(round(thick / pat.acq_mm), 2, 4))
    if matrix <= 128:
        n_sub = 2
    elif matrix <= 256:
        n_sub = min(n_sub, 3)
    coords = (np.arange(m) - (m - 1) / 2.0) * pw
    gy, gx = np.meshgrid(coords, coords, indexing="ij")
    rt = rot.T
    min_size = 0.6 * pw
    vol = np.empty((nz, m, m), np.float32)
    tissue = np.empty((nz, m, m), np.uint8)
    region = np.empty((nz, m, m), np.uint8)
    blood = np.zeros((nz, m, m), np.uint8)
    chunk = max(1, int(600_000 // (m * m * n_sub)))
    for k0 in range(0, nz, chunk):
        k1 = min(nz, k0 + chunk)
        zc = z0 + np.arange(k0, k1) * thick
        zsub = (zc[:, None] + ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * thick).ravel()
        npl = zsub.size
        sx = np.broadcast_to(gx.ravel()[None, :] - off[0], (npl, m * m))
        sy = np.broadcast_to(gy.ravel()[None, :] - off[1], (npl, m * m))
        sz = np.broadcast_to((zsub - off[2])[:, None], (npl, m * m))
        cx = ((rt[0, 0] * sx + rt[0, 1] * sy + rt[0, 2] * sz) / scale[0]).astype(np.float32)
        cy = ((rt[1, 0] * sx + rt[1, 1] * sy + rt[1, 2] * sz) / scale[1]).astype(np.float32)
        cz = ((rt[2, 0] * sx + rt[2, 1] * sy + rt[2, 2] * sz) / scale[2]).astype(np.float32)
        cx, cy, cz = cx.ravel(), cy.ravel(), cz.ravel()
        d_in = grids.sample(grids.sdf, cx, cy, cz)
        ell = (cx / 64.0) ** 2 + ((cy + 4.0) / 90.0) ** 2
        keep = np.flatnonzero((d_in < 40.0) | ((cz < -20.0) & (ell < 1.0)))
        hu = np.full(cx.size, -1000.0, np.float32)
        ts = np.zeros(cx.size, np.uint8)
        rg = np.zeros(cx.size, np.uint8)
        kd = np.zeros(cx.size, np.uint8)
        if keep.size:
            smp = _evaluate(pat, grids, plan, cx[keep], cy[keep], cz[keep], min_size)
            hu[keep], ts[keep], rg[keep], kd[keep] = smp.hu, smp.tissue, smp.region, smp.kind
        shp = (k1 - k0, n_sub, m, m)
        vol[k0:k1] = hu.reshape(shp).mean(axis=1)
        tissue[k0:k1] = ts.reshape(shp)[:, n_sub // 2]
        region[k0:k1] = rg.reshape(shp)[:, n_sub // 2]
        kd4 = kd.reshape(shp)
        best = np.zeros((k1 - k0, m, m), np.float32)
        for code in np.unique(kd4[kd4 > 0]):
            frac = (kd4 == code).mean(axis=1)
            take = (frac >= 0.5) & (frac > best)
            blood[k0:k1][take] = code
            best = np.maximum(best, np.where(take, frac, 0.0)).astype(np.float32)
    tissue[blood > 0] = _T["blood"]
    tissue[(tissue == _T["blood"]) & (blood == 0)] = _T["csf"]
    # ---- acquisition physics ------------------------------------------------------------
    name, psf_mm, cutoff, noise_fac = pat.kernel
    sigma_px = psf_mm / pw
    if sigma_px >= 0.3:
        vol = ndimage.gaussian_filter(vol, (0.0, sigma_px, sigma_px), mode="nearest")
    zc_all = z0 + np.arange(nz) * thick
    z_canon = ((rt[2, 0] * (0 - off[0]) + rt[2, 1] * (0 - off[1]) + rt[2, 2] * (zc_all - off[2]))
               / scale[2]).astype(np.float32)
    art, sig, phys = _physics(vol, tissue, pat, plan, pw, z_canon, seed)
    fz = m / art.shape[1]
    if fz != 1.0:
        art = ndimage.zoom(art, (1.0, fz, fz), order=1, grid_mode=True, mode="nearest")
        sig = ndimage.zoom(sig, (1.0, fz, fz), order=1, grid_mode=True, mode="nearest")
    vol += art
    streak_slices: list[int] = []
    if "streak_artefact" in plan.mimics:
        spec = plan.mimics["streak_artefact"]
        nc = min(m, 96)
        img = _streak_image(spec, nc, pw * m / nc)
        img_w = ndimage.zoom(img, m / nc, order=1, grid_mode=True, mode="nearest")
        ks = int(np.argmin(np.abs(z_canon - spec["z_canon"])))
        for dk, wgt in ((-1, 0.6), (0, 1.0), (1, 0.6)):
            if 0 <= ks + dk < nz:
                vol[ks + dk] += (wgt * img_w).astype(np.float32)
                streak_slices.append(ks + dk)
    if up > 1:
        vol = ndimage.zoom(vol, (1.0, up, up), order=1, grid_mode=True, mode="nearest")
        sig = ndimage.zoom(sig, (1.0, up, up), order=1, grid_mode=True, mode="nearest")
        tissue = np.repeat(np.repeat(tissue, up, axis=1), up, axis=2)
        region = np.repeat(np.repeat(region, up, axis=1), up, axis=2)
        blood = np.repeat(np.repeat(blood, up, axis=1), up, axis=2)
    sigma_ref = (pat.noise_ref * (120.0 / pat.kvp) ** 0.8 * math.sqrt(5.0 / thick) * noise_fac
                 * float(np.clip(0.47 / px_out, 0.25, 1.5)))
    noise = _noise(vol.shape, px_out, cutoff, _rng(seed, "noise"))
    vol += noise * sig * np.float32(sigma_ref)
    out = np.clip(np.rint(vol), -1024, 3071).astype(np.int16)
    # ---- truth -----------------------------------------------------------------------------
    spacing = (float(thick), float(px_out), float(px_out))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    volumes = {k: float(np.count_nonzero(blood == i + 1)) * voxel_ml
               for i, k in enumerate(BLEED_KINDS) if k in label.bleeds}
    origin = [float(-(matrix - 1) / 2.0 * px_out), float(-(matrix - 1) / 2.0 * px_out),
              float(z0)]
    mimic_info: dict[str, Any] = {}
    for nm in label.mimics:
        tname = {"hyperdense_vessel": "thrombus", "residual_contrast": "contrast",
                 "streak_artefact": None}.get(nm, "calcification")
        entry: dict[str, Any] = {"tissue": tname}
        entry.update({k: (v.tolist() if isinstance(v, np.ndarray) else v)
                      for k, v in plan.mimics[nm].items()})
        if nm == "streak_artefact":
            entry["slices"] = streak_slices
        mimic_info[nm] = entry
    bleed_info = [{"kind": b["kind"], "site": b.get("site"), "side":
                   "left" if b.get("side", 1) > 0 else "right",
                   "target_ml": b.get("target_ml")} for b in plan.bleeds]
    details: dict[str, Any] = {
        "kernel": name,
        "ischaemic_delta_hu": plan.isch_delta,
        "bleed_volumes_ml": volumes,
        "bleeds": bleed_info,
        "blood_hu": round(plan.blood_hu, 1) if label.bleeds else None,
        "hyperacute": plan.hyperacute if label.bleeds else None,
        "midline_shift_mm": round(abs(plan.mls), 1),
        "pose": {"pitch_deg": pat.pose_deg[0], "roll_deg": pat.pose_deg[1],
                 "yaw_deg": pat.pose_deg[2], "offset_mm": list(pat.offset_mm),
                 "scale": list(pat.scale)},
        "physics": {"kvp": pat.kvp, "kernel": name, "slice_mm": thick,
                    "acquisition_mm": pat.acq_mm, "sub_slices": n_sub, "fov_mm": fov,
                    "pixel_mm": px_out, "noise_sigma_hu": round(sigma_ref, 2),
                    "metal": plan.metal, **phys},
        "patient": {"age": round(pat.age, 1), "atrophy": round(pat.atrophy, 3)},
        "tissue_hu": {k: round(v, 1) for k, v in pat.hu.items()},
        "mimics_drawn": mimic_info,
        "origin_mm": origin,
        "matrix": matrix,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=out, spacing_mm=spacing,
                    blood_mask=blood, details=details)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
