"""The laplace family of synthetic head NCCT phantoms: anatomy grown from a depth potential.

Anatomy (head frame, mm: x to the patient's left, y posterior, z up; origin O about 2 cm above
the sella, at the level of the foramina of Monro). Every structure is a field, not a drawn
shape, evaluated on a coarse grid (2-3 mm) of the head and interpolated at the samples:

* Skull: the inner table is a radius R(direction) about O (a superellipsoid with anterior and
  posterior half-lengths, frontal/occipital petalia and a low-order random perturbation) cut by
  a floor with three steps: anterior fossa (orbital roofs, cribriform dip), middle fossae with
  the sella between them, petrous crests falling into the posterior fossa, clivus and foramen
  magnum. Outer table = inner table + a thickness field of 4-9 mm (thicker at the frontal
  sinus); tables and diploe, dense petrous bone, mastoid and ethmoid air cells, frontal and
  sphenoid sinuses, orbits (globe and fat cone), scalp (skin, fat, temporalis muscle).
* Depth potential: Laplace's equation solved between the ventricular surface (potential 0)
  and the inner table, the falx, the tentorium and the two sheets of each Sylvian fissure
  (stem and insular cistern), all at potential 1: a distance blend relaxed by red-black SOR.
* Ventricles: each lateral ventricle is the level set of a thin field around a C-shaped
  centreline (frontal horn, body, atrium, occipital and temporal horns), sized by a per-seed
  Evans index (0.22-0.34); third ventricle a midline slit, aqueduct, fourth ventricle.
* Cortex: CSF within the subarachnoid gap of the nearest potential-1 boundary, then a 2-4 mm
  grey ribbon (where the potential approaches 1), white matter beneath. Sulci are CSF clefts
  where a band-limited random field crosses zero and the potential exceeds ~0.8 (its fundus
  varies): under the vault the field is a function of the two angles about O, so sulci cut
  the surface at right angles; along the falx, tentorium, floor and Sylvian sheets it is a
  field of the two coordinates along that boundary. The clefts taper towards the fundus.
* Deep grey, in the depth between the ventricular wall and the insular cistern
  (nu = d_ventricle / (d_ventricle + d_insula)): insular ribbon, extreme/external capsule,
  the lens of putamen and pallidum, the internal capsule band, then the caudate hugging the
  frontal horn (anteriorly) or the thalamus beside the third ventricle (posteriorly).
* Posterior fossa: brainstem (midbrain, pons, medulla), basal and perimesencephalic
  cisterns, cisterna magna, cerebellum with a few fissures and a white core, tentorium.
  Vessels: venous sinuses, circle of Willis arteries; choroid plexus, pineal, pituitary.
* ASPECTS regions (per hemisphere): C, L, IC (posterior limb) and I from the deep structures
  at the ganglionic level; M1-M6 are cortex plus subcortical white matter (potential > 0.35)
  of the MCA territory in angular sectors about a point medial to the insula, at the
  ganglionic (M1-M3) and supraganglionic (M4-M6) levels.
* Per seed: head size (inner table 125-145 x 160-185 mm), atrophy (gaps, sulci, ventricles),
  petalia, a smooth random deformation, tissue HU; per scan: pose (pitch +-15 deg, roll and
  yaw +-8 deg, offset), field of view 220-250 mm, sometimes cutting the head.

Pathology: haematomas are planned first; intraparenchymal ones (lobar, deep, cerebellar,
pontine; lobulated, optional oedema rim, swirl or fluid level) push the brain radially, and
subdural crescents and epidural lenses (limited by the coronal and lambdoid sutures, never
across the midline) compress it, shifting the midline when large. Intraventricular blood
layers in the dependent (posterior) horns below a level or casts a ventricle; subarachnoid
blood fills the CSF spaces nearest a source (basal cisterns, Sylvian fissure, a convexity).
Early ischaemia lowers the listed regions by a drawn delta (2-6 HU), blurs grey into white
there (region mean kept) and narrows their sulci; region boundaries do not move. Mimics:
calcified choroid plexus, pineal, pallidum and falx plaques, a hyperdense MCA or basilar
segment, petrous streaks, residual contrast in vessels, sinuses and choroid plexus.

CT physics (image domain): anatomy sampled every 0.5-1 mm in z and integrated with a
trapezoid-to-triangle slice sensitivity profile of the drawn thickness (2.5-5 mm); an in-plane
kernel MTF (soft, standard, or sharp with mid-frequency overshoot) applied in Fourier space;
beam hardening as cupping near the inner table (stronger at the skull base) and dark bands
between dense petrous blobs in a slice; iterative-reconstruction noise (a noise power spectrum
peaked at low-mid frequencies, sd 3-6 HU in brain, more in the centre and in bone-laden
slices); rounding to int16 with -1024 outside the reconstructed field of view.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

FAMILY = "laplace"

TISSUES = ("air", "fat", "soft_tissue", "bone", "diploe", "csf", "ventricle", "grey", "white",
           "caudate", "putamen", "pallidum", "thalamus", "internal_capsule", "insula",
           "brainstem", "cerebellum", "dura", "venous_sinus", "artery", "choroid_plexus",
           "pineal", "globe", "blood", "oedema", "calcification")
"""Names of the tissue map values (value = index)."""

_T = {name: i for i, name in enumerate(TISSUES)}
_PARENCHYMA = np.zeros(len(TISSUES), dtype=bool)
_PARENCHYMA[[_T[n] for n in ("grey", "white", "caudate", "putamen", "pallidum", "thalamus",
                             "internal_capsule", "insula")]] = True

# Nominal head (inner table 135 mm wide, 172 mm long); every landmark below is scaled per seed.
_W0, _L0 = 135.0, 172.0


def _rng(seed: int, *tags: str) -> np.random.Generator:
    """The random stream of one case and one purpose (anatomy, noise, a bleed kind...)."""
    return np.random.default_rng([seed % 2**64, *(zlib.crc32(t.encode()) for t in tags)])


def _sig(x: np.ndarray) -> np.ndarray:
    """Logistic step, float32."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0))), dtype=np.float32)


def _smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum with a rounding of about ``k`` (same units as a and b)."""
    return np.asarray(0.5 * (a + b + np.sqrt((a - b) ** 2 + k * k)), dtype=np.float32)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth minimum with a rounding of about ``k``."""
    return np.asarray(0.5 * (a + b - np.sqrt((a - b) ** 2 + k * k)), dtype=np.float32)


@dataclass(frozen=True)
class _Waves:
    """A band-limited random field: a sum of plane waves, unit variance.

    ``k`` (n, d) wave vectors in radians per unit of the coordinates, ``phase`` (n,).
    """

    k: np.ndarray
    phase: np.ndarray

    @staticmethod
    def draw(rng: np.random.Generator, n: int, dim: int, lo: float, hi: float) -> _Waves:
        """``n`` waves with isotropic directions in ``dim`` dimensions, |k| in [lo, hi]."""
        dirs = rng.normal(size=(n, dim))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return _Waves(dirs * rng.uniform(lo, hi, size=(n, 1)), rng.uniform(0, 2 * np.pi, n))

    def value(self, *coords: np.ndarray) -> np.ndarray:
        """The field at the points ``coords`` (one array per dimension)."""
        out = np.zeros(np.shape(coords[0]), dtype=np.float32)
        for k, ph in zip(self.k, self.phase, strict=True):
            arg = sum((float(kd) * c for kd, c in zip(k, coords, strict=True)),
                      start=np.float32(ph))
            out += np.cos(arg, dtype=np.float32)
        return out * np.float32(math.sqrt(2.0 / len(self.phase)))

    def grad(self, *coords: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The field and its gradient (one array per dimension)."""
        val = np.zeros(np.shape(coords[0]), dtype=np.float32)
        grads = [np.zeros_like(val) for _ in coords]
        for k, ph in zip(self.k, self.phase, strict=True):
            arg = sum((float(kd) * c for kd, c in zip(k, coords, strict=True)),
                      start=np.float32(ph))
            val += np.cos(arg, dtype=np.float32)
            s = np.sin(arg, dtype=np.float32)
            for g, kd in zip(grads, k, strict=True):
                g -= np.float32(kd) * s
        norm = np.float32(math.sqrt(2.0 / len(self.phase)))
        return val * norm, [g * norm for g in grads]


# ----------------------------------------------------------------------------------------------
# Per-seed anatomy
# ----------------------------------------------------------------------------------------------

@dataclass
class _Head:
    """Anatomical parameters of one head (mm, HU), drawn from the seed alone."""

    width: float
    length: float
    sx: float
    sy: float
    sz: float
    a_x: float
    a_ant: float
    a_post: float
    a_up: float
    a_down_ant: float
    a_down_post: float
    expo: float
    petalia: float
    shape: _Waves
    shape_amp: float
    thick: _Waves
    t_mean: float
    t_amp: float
    t_base: float
    scalp: float
    temporalis: float
    frontal_sinus: tuple[float, float]
    atrophy: float
    evans: float
    gap_c: float
    gap_f: float
    cortex: float
    sulc_half: float
    phi_s: float
    sulc_depth: _Waves
    falx: tuple[float, float, float]
    sulci: dict[str, _Waves]
    folia: float
    folia_warp: _Waves
    cells: _Waves
    deform: list[tuple[np.ndarray, np.ndarray, float]]
    vent_c: float
    vent_rx: float
    vent_fz: float
    vent_asym: float
    w3: float
    x_ins: float
    y_ins: float
    z_ins: float
    a_ins: float
    c_ins: float
    ec_mm: float
    beta_l: float
    beta_ic: float
    hu: dict[str, float]


def _draw_head(seed: int) -> _Head:
    """Draw the anatomy of case ``seed``: size, shape, atrophy, tissue HU."""
    rng = _rng(seed, "anatomy")
    width = float(rng.uniform(125, 145))
    length = float(np.clip(rng.normal(width * 1.27, 5.0), 160, 185))
    sx, sy = width / _W0, length / _L0
    sz = float((sx + sy) / 2 * rng.uniform(0.96, 1.04))
    atrophy = float(rng.beta(1.6, 2.4))
    evans = float(np.clip(0.22 + 0.11 * atrophy + rng.normal(0, 0.015), 0.22, 0.34))
    hw = width / 2
    sep = 1.3
    white = float(rng.uniform(22.5, 29.5))
    grey = float(np.clip(white + rng.uniform(6, 12), 32, 42))
    hct = float(rng.uniform(0, 1))  # haematocrit rank: blood in vessels and sinuses
    hu = {
        "air": -1000.0, "fat": float(rng.uniform(-110, -85)),
        "soft_tissue": float(rng.uniform(42, 58)), "bone": float(rng.uniform(950, 1550)),
        "diploe": float(rng.uniform(350, 750)), "csf": float(rng.uniform(2, 9)),
        "grey": grey, "white": white,
        "caudate": float(np.clip(grey + rng.uniform(-2, 1.5), 33, 42)),
        "putamen": float(np.clip(grey + rng.uniform(-1.5, 2), 33, 42)),
        "thalamus": float(np.clip(grey - rng.uniform(0, 3), 33, 42)),
        "internal_capsule": float(np.clip(white + rng.uniform(-1, 1.5), 22, 30)),
        "brainstem": float(np.clip(white + rng.uniform(2, 5), 24, 33)),
        "cerebellum": float(np.clip(grey + rng.uniform(-2, 1), 32, 42)),
        "dura": float(rng.uniform(38, 50)), "venous_sinus": 42.0 + 10.0 * hct,
        "artery": 41.0 + 10.0 * hct + float(rng.uniform(-1, 1)),
        "choroid_plexus": float(rng.uniform(28, 40)), "pineal": float(rng.uniform(30, 40)),
        "globe": float(rng.uniform(5, 15)), "petrous": float(rng.uniform(1550, 1800)),
        "oedema": float(rng.uniform(15, 25)),
    }
    hu["ventricle"] = hu["csf"]
    hu["pallidum"] = float(np.clip(hu["putamen"] - rng.uniform(1, 4), 33, 42))
    hu["insula"] = grey
    c_frac = float(rng.uniform(0.9, 1.1))
    hf = evans * width / 2
    fs = float(rng.uniform(6, 22)) if rng.uniform() < 0.85 else 0.0
    return _Head(
        width=width, length=length, sx=sx, sy=sy, sz=sz,
        a_x=hw, a_ant=0.455 * length, a_post=0.545 * length, a_up=78.0 * sz,
        a_down_ant=74.0 * sz, a_down_post=92.0 * sz, expo=float(rng.uniform(2.0, 2.5)),
        petalia=float(rng.uniform(-0.035, 0.01)),
        shape=_Waves.draw(rng, 10, 3, 1.2, 2.5), shape_amp=float(rng.uniform(0.006, 0.015)),
        thick=_Waves.draw(rng, 10, 3, 1.5, 3.0), t_mean=float(rng.uniform(5.0, 7.0)),
        t_amp=float(rng.uniform(0.6, 1.4)), t_base=float(rng.uniform(6, 9)),
        scalp=float(rng.uniform(4.0, 6.5)), temporalis=float(rng.uniform(4.0, 10.0)),
        frontal_sinus=(fs, fs * float(rng.uniform(0.5, 1.0))),
        atrophy=atrophy, evans=evans,
        gap_c=float(0.7 + 2.6 * atrophy + rng.uniform(0, 0.5)),
        gap_f=float(0.8 + 1.8 * atrophy + rng.uniform(0, 0.4)),
        cortex=float(rng.uniform(2.4, 3.8) * (1 - 0.15 * atrophy)),
        sulc_half=float(0.55 + 1.5 * atrophy + rng.uniform(0, 0.3)),
        phi_s=float(rng.uniform(0.8, 0.86)), sulc_depth=_Waves.draw(rng, 8, 3, 0.04, 0.09),
        falx=(float(rng.normal(0, 1.0)), float(rng.normal(0, 1.5)), float(rng.normal(0, 1.0))),
        sulci={"conv": _Waves.draw(rng, 48, 3, 9.0, 18.0),
               "conv_r": _Waves.draw(rng, 48, 3, 9.0, 18.0),
               "falx": _Waves.draw(rng, 20, 2, 0.17, 0.24),
               "tent": _Waves.draw(rng, 16, 2, 0.17, 0.24),
               "floor": _Waves.draw(rng, 16, 2, 0.17, 0.24),
               "s1": _Waves.draw(rng, 16, 2, 0.15, 0.22),
               "s2": _Waves.draw(rng, 12, 2, 0.14, 0.2)},
        folia=float(rng.uniform(8.0, 12.0)), folia_warp=_Waves.draw(rng, 8, 3, 0.12, 0.25),
        cells=_Waves.draw(rng, 12, 3, 0.9, 1.4),
        deform=[(rng.normal(0, 1.2, 3),
                 _Waves.draw(rng, 1, 3, 2 * np.pi / 220, 2 * np.pi / 120).k[0],
                 float(rng.uniform(0, 2 * np.pi))) for _ in range(4)],
        vent_c=(hf + sep) / 2 * c_frac, vent_rx=(hf - sep) / 2, vent_fz=0.85 + 0.6 * atrophy,
        vent_asym=float(rng.uniform(-0.08, 0.08)), w3=1.0 + 3.2 * atrophy,
        x_ins=0.565 * hw + 1.5 * atrophy, y_ins=-3.0 * sy, z_ins=0.0, a_ins=23.0 * sy,
        c_ins=19.0 * sz, ec_mm=float(rng.uniform(2.5, 4.0)), beta_l=float(rng.uniform(0.38, 0.5)),
        beta_ic=float(rng.uniform(0.12, 0.17)), hu=hu,
    )


# ----------------------------------------------------------------------------------------------
# Skull: inner table in spherical coordinates about O (above the sella), a floor with three fossae
# ----------------------------------------------------------------------------------------------

def _y_pet(xa: np.ndarray) -> np.ndarray:
    """Nominal y (mm) of the petrous ridge at nominal lateral distance ``xa``."""
    return np.asarray(4.0 + 0.75 * np.maximum(xa - 10.0, 0.0), dtype=np.float32)


def _floor(hd: _Head, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Height (mm) of the cranial floor under (x, y) and the petrous weight (0..1).

    Anterior fossa (orbital roofs, cribriform dip), middle fossae with the sella between them,
    the petrous ridges as a crest that drops steeply into the posterior fossa, the clivus and
    the foramen magnum.
    """
    xa, yn = np.abs(x) / hd.sx, y / hd.sy
    z_af = -22.0 + 5.0 * np.minimum(xa / 35.0, 1.0) - 6.0 * np.exp(-(xa / 6.0) ** 2)
    z_mf = (-46.0 + 12.0 * np.exp(-(xa / 13.0) ** 2)
            - 4.0 * np.exp(-(xa / 7.0) ** 2 - ((yn + 2.0) / 6.0) ** 2))
    z_pf = -64.0 + 9.0 * ((yn - 58.0) / 38.0) ** 2
    z_cl = -26.0 - 2.2 * (yn - 6.0)
    z_pf = _smax(z_pf, z_cl - 60.0 * (1.0 - _sig((15.0 - xa) / 2.5)), 2.0)
    e_fm = (xa / 15.0) ** 2 + ((yn - 38.0) / 17.0) ** 2
    z_pf = z_pf - 45.0 * _sig((1.0 - e_fm) / 0.12)
    w_ant = _sig((-14.0 - 0.15 * xa - yn) / 2.0)
    w_post = _sig((yn - _y_pet(xa)) / 2.5)
    z = w_ant * z_af + (1.0 - w_ant) * ((1.0 - w_post) * z_mf + w_post * z_pf)
    d = 0.8 * (yn - _y_pet(xa))
    w_lat = _sig((xa - 13.0) / 2.5) * _sig((62.0 - xa) / 3.0)
    z = _smax(z, -35.0 - 0.08 * xa - 0.35 * d * d - 80.0 * (1.0 - w_lat), 1.5)
    pet = np.exp(-(d / 9.0) ** 2) * w_lat
    return np.asarray(z * hd.sz, dtype=np.float32), np.asarray(pet, dtype=np.float32)


def _dome(hd: _Head, x: np.ndarray, y: np.ndarray,
          z: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Distance from O, the dome radius R(direction) of the inner table, and the direction."""
    rho = np.sqrt(x * x + y * y + z * z) + np.float32(1e-3)
    ux, uy, uz = x / rho, y / rho, z / rho
    ax = hd.a_x * (1.0 + hd.petalia * np.tanh(3.0 * ux) * np.tanh(-3.0 * uy))
    ay = np.where(uy < 0, hd.a_ant, hd.a_post)
    down = hd.a_down_ant + (hd.a_down_post - hd.a_down_ant) * _sig(8.0 * uy)
    az = np.where(uz > 0, hd.a_up, down)
    e = hd.expo
    inv = np.abs(ux / ax) ** e + np.abs(uy / ay) ** e + np.abs(uz / az) ** e
    radius = inv ** (-1.0 / e) * (1.0 + hd.shape_amp * hd.shape.value(ux, uy, uz))
    return rho, np.asarray(radius, dtype=np.float32), (ux, uy, uz)


def _temporal_window(u: tuple[np.ndarray, ...]) -> np.ndarray:
    """Where the temporalis muscle lies over the skull (0..1), by direction."""
    ux, uy, uz = u
    return np.asarray(_sig((np.abs(ux) - 0.55) / 0.08) * _sig((0.45 - uz) / 0.1)
                      * _sig((uz + 0.6) / 0.1) * _sig((0.45 - uy) / 0.1) * _sig((uy + 0.55) / 0.1),
                      dtype=np.float32)


def _skull(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """Signed distances (mm, negative inside): inner table, outer table, the sub-cranial space
    (face and neck, below the skull base) and the skin."""
    rho, radius, u = _dome(hd, x, y, z)
    z_fl, pet = _floor(hd, x, y)
    s_dome = rho - radius
    s_in = _smax(s_dome, 0.9 * (z_fl - z), 3.0)
    t = np.clip(hd.t_mean + hd.t_amp * hd.thick.value(*u) + 0.8 * np.abs(u[1]), 4.0, 9.0)
    fs_w, fs_h = hd.frontal_sinus
    if fs_w > 0:
        t = t + 6.0 * (_sig((fs_w - np.abs(x)) / 3.0) * _sig((z + 20.0 * hd.sz) / 3.0)
                       * _sig((fs_h - 4.0 * hd.sz - z) / 3.0) * _sig((-0.8 - u[1]) / 0.05))
    t_scalp = hd.scalp + hd.temporalis * _temporal_window(u)
    s_od = s_dome - t
    t_base = hd.t_base + 16.0 * pet
    sub = np.maximum(s_dome, z - (z_fl - t_base))
    return [s_in, np.asarray(s_od, np.float32), np.asarray(sub, np.float32),
            np.asarray(s_od - t_scalp, np.float32)]


# ----------------------------------------------------------------------------------------------
# Dural sheets and fissures: the boundaries (potential 1) besides the inner table
# ----------------------------------------------------------------------------------------------

def _z_tent_mid(yn: np.ndarray) -> np.ndarray:
    """Nominal height of the tentorium's midline ridge (straight sinus) at nominal y."""
    return np.asarray(np.where(yn < 36.0, -8.0, -8.0 - 0.42 * (yn - 36.0)), dtype=np.float32)


def _falx(hd: _Head, x: np.ndarray, y: np.ndarray,
          z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the falx (mm), the midline x and the height of its free edge."""
    yn, zn = y / hd.sy, z / hd.sz
    f0, f1, f2 = hd.falx
    x_mid = f0 + f1 * yn / 80.0 + f2 * zn / 60.0
    z_fe = 31.0 - 53.0 * _sig((-36.0 - yn) / 4.0) - 39.0 * _sig((yn - 40.0) / 5.0)
    z_fe = np.where(yn > 36.0, np.maximum(z_fe, _z_tent_mid(yn)), z_fe) * hd.sz
    dz = np.maximum(z_fe - z, 0.0)
    return (np.asarray(np.sqrt((x - x_mid) ** 2 + dz * dz), np.float32),
            np.asarray(x_mid, np.float32), np.asarray(z_fe, np.float32))


def _tentorium(hd: _Head, x: np.ndarray, y: np.ndarray,
               z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the tentorium (mm), its height, and the infratentorial compartment."""
    xa, yn = np.abs(x) / hd.sx, y / hd.sy
    ztm = _z_tent_mid(yn)
    r = np.clip(xa / 58.0, 0.0, 1.2)
    sr = np.sqrt(r)
    zt = (ztm - r * sr * (ztm + 40.0)) * hd.sz
    dzx = -(1.5 / 58.0) * sr * (ztm + 40.0) * hd.sz / hd.sx
    dzy = np.where(yn > 36.0, -0.42, 0.0) * (1.0 - r * sr) * hd.sz / hd.sy
    cos = 1.0 / np.sqrt(1.0 + dzx * dzx + dzy * dzy)
    x_inc = 17.0 * np.sqrt(np.clip(1.0 - ((yn - 12.0) / 25.0) ** 2, 0.0, 1.0))
    y_front = _y_pet(xa) - 3.0
    e = np.maximum(np.maximum(x_inc - xa, 0.0) * hd.sx, np.maximum(y_front - yn, 0.0) * hd.sy)
    d = np.sqrt(((z - zt) * cos) ** 2 + e * e)
    infra = (yn > y_front) & (z < zt)
    return np.asarray(d, np.float32), np.asarray(zt, np.float32), infra


def _insula(hd: _Head, x: np.ndarray, y: np.ndarray,
            z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The insular cistern (deep Sylvian sheet): distance (mm), depth medial to it (mm), and
    the elliptic extent (> 0 inside)."""
    dy, dz = (y - hd.y_ins) / hd.a_ins, (z - hd.z_ins) / hd.c_ins
    xi = hd.x_ins - 0.008 * (y - hd.y_ins) ** 2 - 0.01 * (z - hd.z_ins) ** 2
    m = xi - np.abs(x)
    ell = np.sqrt(dy * dy + dz * dz)
    e = np.maximum(ell - 1.0, 0.0) * min(hd.a_ins, hd.c_ins)
    return (np.asarray(np.sqrt(m * m + e * e), np.float32), np.asarray(m, np.float32),
            np.asarray(1.0 - ell * ell, np.float32))


def _sylvian(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Distance (mm) to the stem of the Sylvian fissure: a sheet rising posteriorly from the
    vallecula and the insula to the lateral surface."""
    xa = np.abs(x)
    ys = hd.y_ins - 2.0 * hd.sy + 0.8 * (z - hd.z_ins) + 0.15 * (xa - hd.x_ins)
    z_lo, z_hi = -30.0 * hd.sz, hd.z_ins + 0.9 * hd.c_ins + 4.0
    x_lo = np.where(z > hd.z_ins - 0.85 * hd.c_ins,
                    hd.x_ins - 0.01 * (z - hd.z_ins) ** 2, 13.0 * hd.sx)
    e = np.maximum(np.maximum(x_lo - xa, 0.0), np.maximum(z - z_hi, z_lo - z))
    e = np.maximum(e, 0.0)
    d = np.sqrt(((y - ys) / math.sqrt(1.0 + 0.64 + 0.0225)) ** 2 + e * e)
    return np.asarray(d, np.float32)


def _boundaries(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                d_in: np.ndarray) -> dict[str, np.ndarray]:
    """Distances (mm) to every potential-1 boundary and the quantities derived with them."""
    d_f, x_mid, z_fe = _falx(hd, x, y, z)
    d_t, zt, infra = _tentorium(hd, x, y, z)
    d_2, m, e_ins = _insula(hd, x, y, z)
    d_1 = _sylvian(hd, x, y, z)
    return {"in": d_in, "falx": d_f, "tent": d_t, "s1": d_1, "s2": d_2, "x_mid": x_mid,
            "z_fe": z_fe, "zt": zt, "infra": infra, "m_ins": m, "e_ins": e_ins}


# ----------------------------------------------------------------------------------------------
# Ventricles: C-shaped tubes around a curved centreline, a midline slit, the fourth ventricle
# ----------------------------------------------------------------------------------------------

def _vent_tubes(hd: _Head) -> list[tuple[np.ndarray, np.ndarray]]:
    """Centreline polylines of the left lateral ventricle: (points (n, 3) mm, radii (n, 2) as
    horizontal and vertical half-widths)."""
    c, rx, fz, a = hd.vent_c, hd.vent_rx, hd.vent_fz, hd.atrophy
    sy, sz = hd.sy, hd.sz
    main = (np.array([[0.8 * c, -31 * sy, 6 * sz], [c, -20 * sy, 11 * sz],
                      [c + 1, -5 * sy, 14 * sz], [c + 3 + 0.15 * rx, 12 * sy, 17 * sz],
                      [c + 9 + 0.3 * rx, 29 * sy, 9 * sz], [c + 7, 45 * sy, 5 * sz],
                      [c + 4, 55 * sy, 3 * sz]]),
            np.array([[0.55 * rx, 4.5], [rx, 7.5 * fz], [0.9 * rx, 6 * fz], [0.75 * rx, 4.5 * fz],
                      [0.8 * rx + 2, 7 * fz], [2.5 + 2.5 * a, 3.5], [1.2, 1.8]]))
    temporal = (np.array([[c + 9 + 0.3 * rx, 29 * sy, 9 * sz], [c + 16, 25 * sy, -5 * sz],
                          [c + 19, 10 * sy, -16 * sz], [c + 18, -5 * sy, -21 * sz]]),
                np.array([[0.8 * rx, 5 * fz], [2.5 + 2 * a, 3.5], [2 + 2 * a, 3],
                          [1.2 + a, 1.8]]))
    monro = (np.array([[0.0, -4 * sy, 8 * sz], [c, -5 * sy, 13 * sz]]),
             np.array([[1.8, 1.8], [1.8, 1.8]]))
    return [main, temporal, monro]


def _tube_sdf(x: np.ndarray, y: np.ndarray, z: np.ndarray, pts: np.ndarray,
              radii: np.ndarray) -> np.ndarray:
    """Signed distance (mm, approximate) to a tube of elliptic section along a polyline."""
    out = np.full(x.shape, 1e3, dtype=np.float32)
    for p0, p1, r0, r1 in zip(pts[:-1].tolist(), pts[1:].tolist(), radii[:-1].tolist(),
                              radii[1:].tolist(), strict=True):
        seg = [b - a for a, b in zip(p0, p1, strict=True)]
        dx, dy, dz = x - p0[0], y - p0[1], z - p0[2]
        t = np.clip((dx * seg[0] + dy * seg[1] + dz * seg[2]) / sum(v * v for v in seg), 0.0, 1.0)
        ox, oy, oz = dx - t * seg[0], dy - t * seg[1], dz - t * seg[2]
        rh, rv = r0[0] + t * (r1[0] - r0[0]), r0[1] + t * (r1[1] - r0[1])
        dist = np.sqrt(ox * ox + oy * oy + oz * oz)
        scaled = np.sqrt((ox * ox + oy * oy) / (rh * rh) + oz * oz / (rv * rv))
        out = _smin(out, dist * (1.0 - 1.0 / np.maximum(scaled, 1e-3)), 2.5)
    return out


def _ellipsoid_sdf(x: np.ndarray, y: np.ndarray, z: np.ndarray, c: tuple[float, float, float],
                   r: tuple[float, float, float]) -> np.ndarray:
    """Approximate signed distance (mm) to an axis-aligned ellipsoid."""
    q = np.sqrt(((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2)
    return np.asarray((q - 1.0) * min(r), np.float32)


def _ventricles(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Signed distance (mm) to the ventricular system (negative inside)."""
    sy, sz = hd.sy, hd.sz
    out = np.full(x.shape, 1e3, dtype=np.float32)
    for side in (1.0, -1.0):
        grow = 1.0 + side * hd.vent_asym
        for pts, radii in _vent_tubes(hd):
            out = np.minimum(out, _tube_sdf(side * x, y, z, pts, radii * grow))
    half = np.array([hd.w3, 12.5 * sy, 13.5 * sz])
    qx, qy, qz = np.abs(x) - half[0], np.abs(y - 7.5 * sy) - half[1], np.abs(z + 4.5 * sz) - half[2]
    box = (np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2 + np.maximum(qz, 0) ** 2)
           + np.minimum(np.maximum(np.maximum(qx, qy), qz), 0.0))
    out = _smin(out, np.asarray(box, np.float32), 2.0)
    aq = (np.array([[0.0, 21 * sy, -14 * sz], [0.0, 31 * sy, -33 * sz]]), np.full((2, 2), 1.1))
    out = np.minimum(out, _tube_sdf(x, y, z, *aq))
    a = hd.atrophy
    fourth = _ellipsoid_sdf(x, y, z, (0.0, 37 * sy, -43 * sz), (8 + 4 * a, 4 + 2 * a, 8 * sz))
    return np.asarray(_smin(out, fourth, 2.0), np.float32)


# ----------------------------------------------------------------------------------------------
# Sulci: zero crossings of band-limited fields of the coordinates along the nearest boundary
# ----------------------------------------------------------------------------------------------

_BOUNDARIES = ("in", "falx", "tent", "s1", "s2")


def _sulcal_distance(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                     bd: dict[str, np.ndarray]) -> np.ndarray:
    """Signed distance (mm) to the nearest sulcal sheet: the zero set of a random field of the
    two coordinates along the nearest boundary (the two angles under the inner table), so that
    sulci cut the surface at right angles."""
    near = np.argmin(np.stack([bd[n] for n in _BOUNDARIES]), axis=0)
    out = np.full(x.shape, 99.0, dtype=np.float32)
    side = np.where(x >= bd["x_mid"], 1.0, -1.0).astype(np.float32)
    for i, name in enumerate(_BOUNDARIES):
        sel = np.flatnonzero(near == i)
        if sel.size == 0:
            continue
        px, py, pz = x[sel], y[sel], z[sel]
        if name == "in":  # each hemisphere its own gyral pattern; the base has its own too
            _, r_dome, _ = _dome(hd, px, py, pz)
            z_fl, _ = _floor(hd, px, py)
            on_floor = (pz - z_fl) < (r_dome - np.sqrt(px * px + py * py + pz * pz))
            base = sel[on_floor]
            val, g = hd.sulci["floor"].grad(x[base] + 400.0 * side[base], y[base])
            out[base] = val / np.sqrt(g[0] ** 2 + g[1] ** 2 + 1e-4)
            sel = sel[~on_floor]
            for hemi, waves in ((1.0, hd.sulci["conv"]), (-1.0, hd.sulci["conv_r"])):
                part = sel[side[sel] == hemi]
                qx, qy, qz = x[part], y[part], z[part]
                rho = np.sqrt(qx * qx + qy * qy + qz * qz) + np.float32(1e-3)
                u = (qx / rho, qy / rho, qz / rho)
                val, g = waves.grad(*u)
                radial = g[0] * u[0] + g[1] * u[1] + g[2] * u[2]
                tang = g[0] ** 2 + g[1] ** 2 + g[2] ** 2 - radial ** 2
                out[part] = rho * val / np.sqrt(np.maximum(tang, 0.0) + 1.0)
            continue
        shift = 400.0 * side[sel]
        coords = {"falx": (py + shift, pz), "tent": (px + shift, py),
                  "s1": (np.abs(px) + shift, pz), "s2": (py + shift, pz)}[name]
        val, g = hd.sulci[name].grad(*coords)
        out[sel] = val / np.sqrt(g[0] ** 2 + g[1] ** 2 + 1e-4)
    return out


# ----------------------------------------------------------------------------------------------
# The coarse grid: deformation, skull distances, the depth potential (Laplace), sulcal field
# ----------------------------------------------------------------------------------------------

def _laplace(one: np.ndarray, zero: np.ndarray, iterations: int) -> np.ndarray:
    """Potential 0 on ``zero``, 1 on ``one``, harmonic between: a distance blend relaxed by
    red-black successive over-relaxation."""
    d0 = ndimage.distance_transform_edt(~zero).astype(np.float32)
    d1 = ndimage.distance_transform_edt(~one).astype(np.float32)
    phi = d0 / np.maximum(d0 + d1, 1e-3)
    free = ~(one | zero)
    kk, jj, ii = np.indices(phi.shape, sparse=True)
    parity = (kk + jj + ii) % 2 == 0
    masks = (free & parity, free & ~parity)
    omega = np.float32(1.75 / 6.0)
    for _ in range(iterations):
        for upd in masks:
            nb = np.zeros_like(phi)
            nb[1:] += phi[:-1]
            nb[:-1] += phi[1:]
            nb[:, 1:] += phi[:, :-1]
            nb[:, :-1] += phi[:, 1:]
            nb[:, :, 1:] += phi[:, :, :-1]
            nb[:, :, :-1] += phi[:, :, 1:]
            phi = np.where(upd, phi + omega * (nb - 6.0 * phi), phi)
    return np.asarray(phi, dtype=np.float32)


@dataclass
class _Grid:
    """Fields on a regular grid of the head frame (mm), interpolated at the scan's samples.

    ``rigid`` (nz, ny, nx, 4): signed distances to the inner table, outer table, sub-cranial
    space and skin. ``brain`` (nz, ny, nx, nb): the brain's coordinates a (x, y, z) and its
    distance below the inner table (only when a mass effect moved the brain), then the depth
    potential, the height above the sulcal fundus, the signed sulcal distance and the signed
    ventricular distance.
    """

    origin: np.ndarray
    step: float
    rigid: np.ndarray
    brain: np.ndarray
    near: np.ndarray
    moved: bool


def _node_coords(hd: _Head, step: float) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The grid origin and the node coordinates (3-D arrays, head frame, mm)."""
    lo = np.array([-(hd.a_x + 28.0), -(hd.a_ant + 30.0), -(hd.a_down_post + 30.0)])
    hi = np.array([hd.a_x + 28.0, hd.a_post + 28.0, hd.a_up + 28.0])
    n = np.ceil((hi - lo) / step).astype(int) + 1
    axes = [(lo[d] + step * np.arange(n[d])).astype(np.float32) for d in range(3)]
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    return lo, (xx, yy, zz)


def _deform(hd: _Head, x: np.ndarray, y: np.ndarray,
            z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smooth random deformation of the head: anatomical coordinates of physical points."""
    hx, hy, hz = x.copy(), y.copy(), z.copy()
    for amp, k, ph in hd.deform:
        kx, ky, kz = (float(v) for v in k)
        s = np.sin(kx * x + ky * y + kz * z + ph, dtype=np.float32)
        hx += float(0.8 * amp[0]) * s
        hy += float(0.8 * amp[1]) * s
        hz += float(0.8 * amp[2]) * s
    return hx, hy, hz


def _build_grid(hd: _Head, plan: _Plan, step: float) -> _Grid:
    """Evaluate the anatomy's smooth fields on the grid and solve for the depth potential."""
    origin, (px, py, pz) = _node_coords(hd, step)
    hx, hy, hz = _deform(hd, px, py, pz)
    skull = _skull(hd, hx, hy, hz)
    rigid = np.stack(skull, axis=-1)
    near = ndimage.binary_dilation(skull[3] < 2.0 * step, iterations=1)
    ax, ay, az = _mass_effect(hd, plan, hx, hy, hz, -skull[0])
    moved = bool(plan.pushes)
    d_in = -_skull(hd, ax, ay, az)[0] if moved else -skull[0]
    inside = d_in > -2.0 * step
    box = ndimage.find_objects(ndimage.binary_dilation(inside, iterations=2).astype(np.uint8))[0]
    sub = (ax[box], ay[box], az[box])
    din = d_in[box]
    sel = inside[box]
    bx, by, bz = (c[sel] for c in sub)
    bd = _boundaries(hd, bx, by, bz, din[sel])
    vent = np.full(din.shape, 50.0, dtype=np.float32)
    vbox = ((np.abs(sub[0]) < 60.0) & (sub[1] > -45.0 * hd.sy) & (sub[1] < 70.0 * hd.sy)
            & (sub[2] > -60.0 * hd.sz) & (sub[2] < 40.0 * hd.sz))
    vent[vbox] = _ventricles(hd, sub[0][vbox], sub[1][vbox], sub[2][vbox])
    sheet = np.zeros(din.shape, dtype=bool)
    sheet[sel] = ((bd["falx"] <= 0.55 * step) | (bd["s1"] <= 0.55 * step)
                  | (bd["s2"] <= 0.55 * step) | (bd["tent"] <= 0.55 * step))
    one = (din <= 0.0) | sheet
    zero = (vent <= 0.0) & ~one
    phi = _laplace(one, zero, 30)
    grads = np.gradient(phi, step)
    gmag = np.sqrt(grads[0] ** 2 + grads[1] ** 2 + grads[2] ** 2)
    fundus = hd.phi_s + 0.045 * hd.sulc_depth.value(*sub)
    psi = (phi - fundus) / np.maximum(gmag, 0.004)
    sulc = np.full(din.shape, 99.0, dtype=np.float32)
    sulc[sel] = _sulcal_distance(hd, bx, by, bz, bd)
    fields = [np.ones_like(d_in), np.full_like(d_in, 50.0), np.full_like(d_in, 99.0),
              np.full_like(d_in, 50.0)]
    for f, v in zip(fields, (phi, np.clip(psi, -60.0, 60.0), sulc, vent), strict=True):
        f[box] = v
    if moved:
        fields = [ax, ay, az, d_in, *fields]
    return _Grid(origin=origin.astype(np.float32), step=step, rigid=rigid,
                 brain=np.stack(fields, axis=-1).astype(np.float32), near=near, moved=moved)


# ----------------------------------------------------------------------------------------------
# Space-occupying bleeds: their shapes and the mass effect they exert on the brain
# ----------------------------------------------------------------------------------------------

@dataclass
class _Bleed:
    """One planned haemorrhage (head frame, mm, HU)."""

    kind: str
    mode: str  # location or pattern: lobar, deep, cerebellar, pons, layer, cast, basal, ...
    side: float  # +1 patient left, -1 right
    hu: float
    target_ml: float
    centre: tuple[float, float, float]  # blob centre, or unit direction (from O) if extra-axial
    size: float  # blob radius, or the maximum thickness of an extra-axial bleed
    half_angle: float = 0.0  # extra-axial extent (rad)
    lobes: _Waves | None = None
    aniso: tuple[float, float, float] = (1.0, 1.0, 1.0)
    swirl: bool = False
    level: float | None = None  # fraction of the bleed below a fluid level
    rim_mm: float = 0.0  # oedema rim
    push_frac: float = 0.0
    push_reach: float = 0.0


@dataclass
class _Plan:
    """Everything pathological in one case."""

    bleeds: list[_Bleed]
    pushes: list[_Bleed]


def _blob_radius(b: _Bleed, x: np.ndarray, y: np.ndarray,
                 z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled distance from a blob's centre and its lobulated radius in that direction (mm)."""
    dx, dy, dz = ((c - float(o)) / s for c, o, s in zip((x, y, z), b.centre, b.aniso, strict=True))
    r = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
    rad = np.full(r.shape, b.size, dtype=np.float32)
    if b.lobes is not None:
        rad *= 1.0 + 0.22 * b.lobes.value(dx / r, dy / r, dz / r)
    return np.asarray(r, np.float32), rad


def _shell_thickness(hd: _Head, b: _Bleed, x: np.ndarray, y: np.ndarray,
                     z: np.ndarray) -> np.ndarray:
    """Thickness (mm) of an extra-axial collection in the direction of (x, y, z) from O: a
    crescent (subdural) or a lens limited by the sutures (epidural); neither crosses the
    midline."""
    rho = np.sqrt(x * x + y * y + z * z) + np.float32(1e-3)
    cosang = (x * b.centre[0] + y * b.centre[1] + z * b.centre[2]) / rho
    ang = np.arccos(np.clip(cosang, -1.0, 1.0)) / b.half_angle
    frac = np.clip(1.0 - ang * ang, 0.0, 1.0)
    midline = np.clip((b.side * x - 3.0) / 8.0, 0.0, 1.0)
    if b.kind == "subdural":
        return np.asarray(b.size * np.sqrt(frac) * midline, np.float32)
    zn = z / hd.sz
    y_cor = (-14.0 + 0.15 * zn) * hd.sy
    y_lam = (58.0 - 0.4 * zn) * hd.sy
    if b.mode == "frontal":
        sutures = np.clip((y_cor - y) / 4.0, 0.0, 1.0)
    else:
        sutures = np.clip((y - y_cor) / 4.0, 0.0, 1.0) * np.clip((y_lam - y) / 4.0, 0.0, 1.0)
    return np.asarray(b.size * frac * sutures * midline, np.float32)


def _mass_effect(hd: _Head, plan: _Plan, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                 depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The brain's anatomical coordinates at head points (``depth``: below the inner table,
    mm): haematomas push the brain away (a radial, volume-displacing map around a blob; a
    compression under an extra-axial bleed that fades over ``push_reach`` mm and shifts the
    midline when large)."""
    for b in plan.pushes:
        if b.kind == "intraparenchymal":
            dx, dy, dz = x - b.centre[0], y - b.centre[1], z - b.centre[2]
            r = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
            shrink = b.push_frac * b.size ** 3 * np.exp(-((r / b.push_reach) ** 2))
            scale = np.cbrt(np.maximum(r ** 3 - shrink, 0.0)) / r
            x, y, z = (b.centre[0] + dx * scale, b.centre[1] + dy * scale,
                       b.centre[2] + dz * scale)
        else:
            t = _shell_thickness(hd, b, x, y, z)
            rho = np.sqrt(x * x + y * y + z * z) + np.float32(1e-3)
            scale = 1.0 + t * np.clip(1.0 - depth / b.push_reach, 0.0, 1.0) / rho
            x, y, z = x * scale, y * scale, z * scale
    return (np.asarray(x, np.float32), np.asarray(y, np.float32), np.asarray(z, np.float32))


# ----------------------------------------------------------------------------------------------
# The scan: pose, field of view, slices, and sampling the grid's fields at 0.5-1 mm in z
# ----------------------------------------------------------------------------------------------

_KERNELS = {"soft": "Hr32", "standard": "Hr38", "sharp": "Hr56"}


@dataclass
class _Scan:
    """Acquisition and reconstruction of one case (scanner LPS, mm)."""

    rot: np.ndarray  # head frame -> scanner
    shift: np.ndarray
    pose: dict[str, float]
    fov: float
    pixel: float
    xs: np.ndarray  # in-plane coordinates of the columns (x) and rows (y)
    z_out: np.ndarray  # slice positions
    thickness: float
    sub: int  # fine samples per slice (odd)
    margin: int  # extra fine samples beyond the first and last slice
    ssp: np.ndarray  # weights of the fine samples around a slice centre (2*margin+1)
    kernel: str
    f_c: float  # in-plane MTF scale (cycles/mm)
    overshoot: float
    noise_sd: float
    nps_peak: float
    centre_noise: float
    base_noise: float
    cupping: float
    cupping_mm: float
    band_hu: float
    cut: bool

    @property
    def z_fine(self) -> np.ndarray:
        """Positions (mm) of the fine samples; slice j is sample margin + j * sub."""
        step = self.thickness / self.sub
        n = (len(self.z_out) - 1) * self.sub + 2 * self.margin + 1
        return np.asarray(self.z_out[0] + (np.arange(n) - self.margin) * step, np.float32)


def _rotation(pitch: float, roll: float, yaw: float) -> np.ndarray:
    """Head-to-scanner rotation from angles in degrees (about x, then y, then z)."""
    a, b, c = np.radians([pitch, roll, yaw])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def _draw_scan(seed: int, hd: _Head, grid: _Grid, matrix: int) -> _Scan:
    """Pose, field of view, slice thickness and profile, kernel and noise of case ``seed``."""
    rng = _rng(seed, "scan")
    pose = {"pitch_deg": float(rng.uniform(-15, 15)), "roll_deg": float(rng.uniform(-8, 8)),
            "yaw_deg": float(rng.uniform(-8, 8))}
    rot = _rotation(pose["pitch_deg"], pose["roll_deg"], pose["yaw_deg"])
    fov = float(rng.uniform(220, 250))
    skin = np.argwhere(grid.rigid[..., 3] <= 0.0)[:, ::-1] * grid.step + grid.origin
    pts = skin @ rot.T
    shift = np.array([rng.uniform(-5, 5), rng.uniform(-5, 5), 0.0])
    shift[:2] -= 0.5 * (pts[:, :2].max(axis=0) + pts[:, :2].min(axis=0))
    if rng.uniform() < 0.08:  # the head partly outside the reconstructed field of view
        ang = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(ang), np.sin(ang)])
        reach = float(((pts[:, :2] + shift[:2]) @ direction).max())
        shift[:2] += direction * max(fov / 2 - reach + rng.uniform(5, 14), 0.0)
    radius = np.hypot(pts[:, 0] + shift[0], pts[:, 1] + shift[1])
    cut = bool((radius > fov / 2).any())
    thickness = float(rng.choice([2.5, 3.0, 4.0, 5.0]))
    fm = rot @ np.array([0.0, 38.0 * hd.sy, -62.0 * hd.sz])
    z_lo = float(fm[2]) - rng.uniform(2, 6)
    z_hi = float(pts[:, 2].max()) + 1.0
    n_slices = int(np.ceil((z_hi - z_lo) / thickness)) + 1
    sub = int(np.ceil(thickness / 1.0)) | 1
    edge = float(rng.uniform(0.3, 1.0))  # trapezoid (0.3) to triangle (1.0)
    margin = int(np.ceil(thickness * (1 + edge) / 2 / (thickness / sub)))
    offs = np.arange(-margin, margin + 1) * thickness / sub
    ssp = np.clip((thickness * (1 + edge) / 2 - np.abs(offs)) / (thickness * edge), 0.0, 1.0)
    kernel = str(rng.choice(list(_KERNELS), p=[0.3, 0.5, 0.2]))
    f_c = {"soft": rng.uniform(0.3, 0.38), "standard": rng.uniform(0.42, 0.52),
           "sharp": rng.uniform(0.6, 0.75)}[kernel]
    overshoot = float(rng.uniform(0.85, 1.2) if kernel == "sharp" else rng.uniform(0.0, 0.3))
    pixel = fov / matrix
    return _Scan(
        rot=rot, shift=shift, pose={**pose, "offset_x_mm": float(shift[0]),
                                    "offset_y_mm": float(shift[1])},
        fov=fov, pixel=pixel, xs=((np.arange(matrix) - (matrix - 1) / 2) * pixel).astype(
            np.float32), z_out=(z_lo + thickness * np.arange(n_slices)).astype(np.float32),
        thickness=thickness, sub=sub, margin=margin, ssp=(ssp / ssp.sum()).astype(np.float32),
        kernel=kernel, f_c=float(f_c), overshoot=overshoot,
        noise_sd=float(rng.uniform(3.0, 6.0)), nps_peak=float(rng.uniform(0.1, 0.2)),
        centre_noise=float(rng.uniform(0.15, 0.4)), base_noise=float(rng.uniform(0.3, 0.7)),
        cupping=float(rng.uniform(2.0, 8.0)), cupping_mm=float(rng.uniform(6.0, 10.0)),
        band_hu=float(rng.uniform(6.0, 16.0)), cut=cut)


def _trilinear(stack: np.ndarray, base: np.ndarray, fz: np.ndarray, fy: np.ndarray,
               fx: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of the (nz, ny, nx, nf) ``stack`` from the flat index of each
    sample's lower corner node and its fractional offsets."""
    _, ny, nx, nf = stack.shape
    flat = stack.reshape(-1, nf)
    fz, fy, fx = fz[:, None], fy[:, None], fx[:, None]

    def lerp_x(b: np.ndarray) -> np.ndarray:
        v0 = np.take(flat, b, axis=0)
        return np.asarray(v0 + fx * (np.take(flat, b + 1, axis=0) - v0))

    def lerp_y(b: np.ndarray) -> np.ndarray:
        v0 = lerp_x(b)
        return np.asarray(v0 + fy * (lerp_x(b + nx) - v0))

    v0 = lerp_y(base)
    return np.asarray(v0 + fz * (lerp_y(base + nx * ny) - v0))


@dataclass
class _Points:
    """The fine samples inside or near the head: flat index into the fine volume (z, y, x),
    physical head-frame coordinates p, the rigid fields and, for the intracranial samples
    (``ic`` indexes them), the brain fields."""

    idx: np.ndarray
    p: np.ndarray
    rigid: np.ndarray
    ic: np.ndarray
    brain: np.ndarray


def _sample(grid: _Grid, scan: _Scan) -> Iterator[_Points]:
    """Interpolate the grid's fields at every fine sample of the scan near the head and inside
    the reconstructed field of view, a slab of fine slices at a time."""
    lin = (scan.rot.T / grid.step).astype(np.float32)
    off = ((-scan.rot.T @ scan.shift - grid.origin) / grid.step).astype(np.float32)
    xs = scan.xs
    n = len(xs)
    zf = scan.z_fine
    chunk = max(1, 1_200_000 // (n * n))
    skin = np.argwhere(grid.rigid[..., 3] <= 0.0)[:, ::-1] * grid.step + grid.origin
    skin = skin @ scan.rot.T + scan.shift
    near = grid.near.ravel()
    nz, ny, nx = grid.near.shape
    for k0 in range(0, len(zf), chunk):
        zc = zf[k0:k0 + chunk]
        inz = skin[(skin[:, 2] > zc[0] - grid.step) & (skin[:, 2] < zc[-1] + grid.step)]
        if len(inz) == 0:
            continue
        lo = np.clip(np.floor((inz[:, :2].min(axis=0) - xs[0]) / scan.pixel) - 2, 0, n - 1)
        hi = np.clip(np.ceil((inz[:, :2].max(axis=0) - xs[0]) / scan.pixel) + 3, 1, n)
        c0, r0, c1, r1 = int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])
        cx, ry = xs[c0:c1], xs[r0:r1]
        g = [(lin[d, 0] * cx[None, None, :] + lin[d, 1] * ry[None, :, None]
              + (lin[d, 2] * zc + off[d])[:, None, None]).ravel() for d in range(3)]
        fl = [np.floor(v) for v in g]
        circle = np.broadcast_to((cx[None, :] ** 2 + ry[:, None] ** 2 <= (scan.fov / 2) ** 2)[None],
                                 (len(zc), len(ry), len(cx))).ravel()
        ok = (circle & (fl[0] >= 0) & (fl[0] <= nx - 2) & (fl[1] >= 0) & (fl[1] <= ny - 2)
              & (fl[2] >= 0) & (fl[2] <= nz - 2))
        sel = np.flatnonzero(ok)
        node = ((fl[2][sel] * ny + fl[1][sel]) * nx + fl[0][sel]).astype(np.int64)
        inside = near[node]
        sel, node = sel[inside], node[inside]
        frac = [g[d][sel] - fl[d][sel] for d in range(3)]
        rigid = _trilinear(grid.rigid, node, frac[2], frac[1], frac[0])
        keep = rigid[:, 3] <= 0.5 * scan.pixel + 0.5
        sel, node, rigid = sel[keep], node[keep], rigid[keep]
        frac = [v[keep] for v in frac]
        ic = np.flatnonzero(rigid[:, 0] < 0.0)
        brain = _trilinear(grid.brain, node[ic], frac[2][ic], frac[1][ic], frac[0][ic])
        gx, gy, gz = (g[d][sel] for d in range(3))
        flat = (((k0 + np.arange(len(zc)))[:, None, None] * n + np.arange(r0, r1)[None, :, None])
                * n + np.arange(c0, c1)[None, None, :]).ravel()[sel]
        p = np.stack([gx, gy, gz], axis=1) * grid.step + grid.origin
        yield _Points(idx=flat, p=p.astype(np.float32), rigid=rigid, ic=ic, brain=brain)


# ----------------------------------------------------------------------------------------------
# Tissue classification at the samples
# ----------------------------------------------------------------------------------------------

def _extracranial(hd: _Head, h: tuple[np.ndarray, ...],
                  rigid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tissue (TISSUES index) of samples outside the cranial cavity (scalp, temporalis, skull
    with diploe, petrous bone, air cells and sinuses, orbits) and where the bone is petrous."""
    hx, hy, hz = h
    s_in, s_od, sub, s_skin = rigid.T
    tissue = np.zeros(len(hx), dtype=np.uint8)
    scalp = np.flatnonzero((s_skin <= 0) & (s_od > 0))
    px, py, pz = hx[scalp], hy[scalp], hz[scalp]
    rho = np.sqrt(px * px + py * py + pz * pz) + np.float32(1e-3)
    muscle = s_od[scalp] < hd.temporalis * _temporal_window((px / rho, py / rho, pz / rho))
    soft = muscle | (s_skin[scalp] > -2.0) | (s_od[scalp] < 1.0)
    tissue[scalp] = np.where(soft, _T["soft_tissue"], _T["fat"])
    bone = np.flatnonzero((s_od <= 0) & (sub >= 0) & (s_in >= 0))
    px, py, pz = hx[bone], hy[bone], hz[bone]
    inner = np.minimum(s_in[bone], np.minimum(-s_od[bone], sub[bone]))
    z_fl, pet = _floor(hd, px, py)
    pet = np.where(pz < z_fl + 3.0, pet, 0.0)
    bt = np.where((inner < 1.6) | (pet > 0.3), _T["bone"], _T["diploe"]).astype(np.uint8)
    neck = (pz < z_fl - hd.t_base - 16.0 * pet) & (py > -35.0 * hd.sy)  # no vault below the base
    bt[neck] = _T["soft_tissue"]
    dense = np.zeros(len(hx), dtype=bool)
    dense[bone] = pet > 0.3
    xn, yn, zn = np.abs(px) / hd.sx, py / hd.sy, pz / hd.sz
    mastoid = ((((xn - 50.0) / 10.0) ** 2 + ((yn - 33.0) / 13.0) ** 2
                + ((zn + 50.0) / 12.0) ** 2) < 1.0)
    mastoid[mastoid] = hd.cells.value(px[mastoid], py[mastoid], pz[mastoid]) > -0.3
    bt[mastoid] = _T["air"]
    fs_w, fs_h = hd.frontal_sinus
    if fs_w > 0:
        rho = np.sqrt(px * px + py * py + pz * pz) + np.float32(1e-3)
        bt[(inner > 1.4) & (np.abs(px) < fs_w) & (pz > -19.0 * hd.sz)
           & (pz < fs_h - 4.0 * hd.sz) & (py < -0.75 * rho)] = _T["air"]
    tissue[bone] = bt
    face = np.flatnonzero((s_od <= 0) & (sub < 0) & (s_in >= 0))
    px, py, pz = hx[face], hy[face], hz[face]
    xa, yn, zn = np.abs(px) / hd.sx, py / hd.sy, pz / hd.sz
    ft = np.full(len(face), _T["soft_tissue"], dtype=np.uint8)
    air = ((xa / 13.0) ** 2 + ((yn + 6.0) / 12.0) ** 2 + ((zn + 48.0) / 10.0) ** 2 < 1.0)
    air |= ((xa - 27.0) / 13.0) ** 2 + ((yn + 48.0) / 15.0) ** 2 + ((zn + 66.0) / 14.0) ** 2 < 1.0
    air |= (xa / 14.0) ** 2 + ((yn - 2.0) / 10.0) ** 2 + ((zn + 72.0) / 8.0) ** 2 < 1.0
    nasal = (xa < 12.0) & (yn < -28.0) & (zn < -26.0) & (xa > 0.9)
    cells = np.zeros(len(face), dtype=bool)
    cells[nasal] = hd.cells.value(px[nasal], py[nasal], pz[nasal]) > -0.3
    air |= nasal & ((zn < -46.0) | cells)
    ft[air] = _T["air"]
    ft[nasal & ~air] = _T["bone"]
    gx, gy, gz = 32.0 * hd.sx, -60.0 * hd.sy, -37.0 * hd.sz
    orbit = np.flatnonzero((np.abs(px) > 8.0) & (py < -15.0 * hd.sy) & (pz > -52.0 * hd.sz))
    ox, oy, oz = np.abs(px[orbit]), py[orbit], pz[orbit]
    globe_r = np.sqrt((ox - gx) ** 2 + (oy - gy) ** 2 + (oz - gz) ** 2)
    cone = _tube_sdf(ox, oy, oz, np.array([[gx, gy, gz], [13 * hd.sx, -22 * hd.sy, gz]]),
                     np.array([[14.0, 13.0], [3.0, 3.0]]))
    ot = ft[orbit]
    ot[cone < 0] = _T["fat"]
    ot[globe_r < 12.0] = _T["soft_tissue"]
    ot[globe_r < 11.0] = _T["globe"]
    ft[orbit] = ot
    tissue[face] = ft
    dense &= tissue == _T["bone"]
    return tissue, dense


@dataclass
class _Brain:
    """Intracranial samples: tissue, ASPECTS region, and where the sulci are (effacement)."""

    tissue: np.ndarray
    region: np.ndarray
    sulc_frac: np.ndarray  # |sulcal distance| / half-width inside a sulcus, else 9


def _brainstem(hd: _Head, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """Signed distances (mm) to the brainstem and to the midbrain alone."""
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    mid = _ellipsoid_sdf(x, y, z, (0, 17 * sy, -17 * sz), (12 * sx, 10 * sy, 9 * sz))
    pons = _ellipsoid_sdf(x, y, z, (0, 22 * sy, -38 * sz), (15 * sx, 13 * sy, 11 * sz))
    med = _ellipsoid_sdf(x, y, z, (0, 31 * sy, -60 * sz), (9 * sx, 9 * sy, 16 * sz))
    return _smin(_smin(mid, pons, 4.0), med, 4.0), mid


def _deep_nuclei(hd: _Head, tissue: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                 s_vent: np.ndarray, m_ins: np.ndarray) -> None:
    """Caudate, thalamus, internal capsule, putamen and pallidum, in place.

    Placed along the local depth between the ventricular wall (0) and the insular cistern (1):
    nu = d_ventricle / (d_ventricle + d_insula). From the insula inwards: insular ribbon,
    extreme/external capsule (``ec_mm``), the lens of the putamen and pallidum, the internal
    capsule band, then caudate (anteriorly, hugging the frontal horn) or thalamus (posteriorly,
    beside the third ventricle).
    """
    sy, sz = hd.sy, hd.sz
    xa = np.abs(x)
    sv = np.maximum(s_vent, 0.0)
    tot = sv + np.maximum(m_ins, 0.5)
    nu = sv / tot
    y_l, z_l, a_l, c_l = hd.y_ins + 1.0 * sy, -2.0 * sz, 19.0 * sy, 11.0 * sz
    e_l = 1.0 - ((y - y_l) / a_l) ** 2 - ((z - z_l) / c_l) ** 2
    m_l0 = hd.gap_f + hd.cortex + hd.ec_mm
    nu_lat = 1.0 - m_l0 / tot
    nu_med = nu_lat - hd.beta_l * np.sqrt(np.maximum(e_l, 0.0))
    lent = (e_l > 0) & (m_ins > m_l0) & (nu >= nu_med)
    pall = lent & (nu < nu_med + 0.36 * (nu_lat - nu_med))
    e_ic = (1.0 - ((y - y_l) / (a_l + 6.0 * sy)) ** 2
            - ((z - z_l - 3.0 * sz) / (c_l + 9.0 * sz)) ** 2)
    ic = (e_ic > 0) & (m_ins > 0) & ~lent & (nu >= nu_med - hd.beta_ic)
    core = ~lent & ~ic
    y_genu = y_l + 0.15 * a_l
    e_c = 1.0 - ((y + 10.0 * sy) / (15.0 * sy)) ** 2 - ((z - 5.0 * sz) / (13.0 * sz)) ** 2
    head = (core & (y < y_genu) & (xa > hd.vent_c)
            & (sv < 9.0 * (1.0 - 0.2 * hd.atrophy) * np.sqrt(np.maximum(e_c, 0.0))))
    body = core & (y >= y_genu) & (y < 26.0 * sy) & (z > 11.0 * sz) & (sv < 3.5) & (
        xa > hd.vent_c)
    e_t = (1.0 - ((y - 13.0 * sy) / (15.0 * sy)) ** 2 - ((z - 1.0 * sz) / (11.0 * sz)) ** 2
           - ((xa - hd.w3 - 8.0) / 11.0) ** 2)
    thal = core & (y >= y_genu - 2.0 * sy) & (e_t > 0) & ~head & ~body
    tissue[thal] = _T["thalamus"]
    tissue[head | body] = _T["caudate"]
    tissue[ic] = _T["internal_capsule"]
    tissue[lent] = _T["putamen"]
    tissue[pall] = _T["pallidum"]


def _in_box(x: np.ndarray, y: np.ndarray, z: np.ndarray, lo: tuple[float, float, float],
            hi: tuple[float, float, float]) -> np.ndarray:
    """Indices of the points inside an axis-aligned box."""
    return np.flatnonzero((x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1]) & (z > lo[2])
                          & (z < hi[2]))


def _classify_brain(hd: _Head, a: tuple[np.ndarray, ...], fields: np.ndarray) -> _Brain:
    """Tissue and ASPECTS region of intracranial samples from the depth potential, the
    boundary distances, the sulcal field and the ventricular distance."""
    x, y, z = a
    d_in, phi, psi, s_sulc, s_vent = fields.T
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    bd = _boundaries(hd, x, y, z, d_in)
    db_eff = np.minimum(d_in - hd.gap_c, bd["falx"] - hd.gap_f)
    for name in ("tent", "s1", "s2"):
        db_eff = np.minimum(db_eff, bd[name] - hd.gap_f)
    ss = np.abs(s_sulc) - hd.sulc_half * np.clip(0.45 + psi / 6.0, 0.45, 1.0)
    sul_in = (ss < 0) & (psi > 0)
    d_sul = np.where(sul_in, -np.minimum(-ss, psi),
                     np.sqrt(np.maximum(ss, 0) ** 2 + np.maximum(-psi, 0) ** 2))
    infra = bd["infra"]
    d_pial = np.where(infra, db_eff, np.minimum(db_eff, d_sul))
    tissue = np.where(d_pial < 0, _T["csf"],
                      np.where(d_pial < hd.cortex, _T["grey"], _T["white"])).astype(np.uint8)
    sulcal = ~infra & sul_in & (db_eff > 0)
    sulc_frac = np.where(sulcal, np.abs(s_sulc) / hd.sulc_half, 9.0).astype(np.float32)
    tissue[(tissue == _T["grey"]) & (bd["e_ins"] > 0) & (bd["m_ins"] > 0)
           & (bd["s2"] - hd.gap_f <= db_eff + 1e-3)] = _T["insula"]
    # cerebellum: cortex with folia around a white core (low potential, near the 4th ventricle)
    cb = infra & (tissue != _T["csf"])
    zeta = np.zeros(len(x), dtype=np.float32)
    zeta[cb] = (np.sqrt(x[cb] ** 2 + (y[cb] - 37.0 * sy) ** 2 + (1.2 * (z[cb] + 43.0 * sz)) ** 2)
                + 2.5 * hd.folia_warp.value(x[cb], y[cb], z[cb])) / hd.folia
    fissure = (db_eff < 9.0) & (np.abs(zeta - np.round(zeta)) < (0.2 + 0.35 * hd.atrophy)
                                / hd.folia)
    tissue[cb] = _T["cerebellum"]
    tissue[cb & (phi < 0.42) & (db_eff > 5.0) & (np.abs(x - bd["x_mid"]) > 3.0)] = _T["white"]
    tissue[cb & fissure] = _T["csf"]
    deep = _in_box(x, y, z, (-0.7 * hd.a_x, -40.0 * sy, -24.0 * sz),
                   (0.7 * hd.a_x, 36.0 * sy, 26.0 * sz))
    deep = deep[~infra[deep] & ((tissue[deep] == _T["grey"]) | (tissue[deep] == _T["white"]))]
    sub = tissue[deep]
    _deep_nuclei(hd, sub, x[deep], y[deep], z[deep], s_vent[deep], bd["m_ins"][deep])
    tissue[deep] = sub
    vein = ((d_in < 8.0) & (np.abs(x - bd["x_mid"]) < 4.5 * (1.0 - d_in / 8.0))
            & (z > bd["z_fe"] + 4.0))
    vein |= (d_in < 7.0) & (np.abs(z - bd["zt"]) < 4.5 - 0.5 * d_in) & (y > 55 * sy) & (
        np.abs(x) > 8.0)
    tissue[vein] = _T["venous_sinus"]
    tissue[(bd["falx"] < 0.55) | (bd["tent"] < 0.55)] = _T["dura"]
    mid = _in_box(x, y, z, (-62.0 * sx, -42.0 * sy, -75.0 * sz), (62.0 * sx, 95.0 * sy, 35.0 * sz))
    sub = tissue[mid]
    _central(hd, sub, x[mid], y[mid], z[mid], s_vent[mid])
    tissue[mid] = sub
    region = _regions(hd, tissue, x, y, z, phi, bd, sulcal)
    return _Brain(tissue=tissue, region=region, sulc_frac=sulc_frac)


def _arteries(hd: _Head) -> dict[str, tuple[np.ndarray, float]]:
    """Arterial centrelines (left side, or midline) and radii (mm)."""
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    term = [13 * sx, -6 * sy, -24 * sz]
    return {
        "ica": (np.array([[14 * sx, -4 * sy, -34 * sz], term]), 2.2),
        "m1": (np.array([term, [25 * sx, -6 * sy, -21 * sz], [36 * sx, -4 * sy, -18 * sz]]), 1.7),
        "m2": (np.array([[36 * sx, -4 * sy, -18 * sz], [40 * sx, 8 * sy, -8 * sz],
                         [41 * sx, 20 * sy, 4 * sz]]), 1.2),
        "a1": (np.array([term, [3 * sx, -18 * sy, -20 * sz]]), 1.1),
        "a2": (np.array([[2.0, -18 * sy, -20 * sz], [2.0, -32 * sy, 12 * sz],
                         [2.0, -8 * sy, 30 * sz], [2.0, 22 * sy, 28 * sz]]), 1.0),
        "pca": (np.array([[0.0, 7 * sy, -30 * sz], [8 * sx, 8 * sy, -27 * sz],
                          [18 * sx, 22 * sy, -22 * sz], [22 * sx, 40 * sy, -12 * sz]]), 1.1),
        "basilar": (np.array([[0.0, 5 * sy, -62 * sz], [0.0, 7 * sy, -30 * sz]]), 1.6),
    }


def _polyline_mask(x: np.ndarray, y: np.ndarray, z: np.ndarray, pts: np.ndarray,
                   radius: float) -> np.ndarray:
    """Indices of the points within ``radius`` mm of a polyline."""
    lo, hi = pts.min(axis=0) - radius - 1.0, pts.max(axis=0) + radius + 1.0
    box = _in_box(x, y, z, tuple(lo), tuple(hi))
    rad = np.full((len(pts), 2), radius)
    return box[_tube_sdf(x[box], y[box], z[box], pts, rad) < 0]


def _central(hd: _Head, tissue: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
             s_vent: np.ndarray) -> None:
    """Brainstem, basal cisterns, pituitary, ventricles with the choroid plexus, the straight
    and sigmoid sinuses, arteries of the circle of Willis and the pineal gland, in place."""
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    bs, mid = _brainstem(hd, x, y, z)
    a_f = 1.0 + 0.3 * hd.atrophy
    cis = _ellipsoid_sdf(x, y, z, (0, -6 * sy, -25 * sz), (14 * sx * a_f, 11 * sy, 5.5 * sz)) < 0
    cis |= (mid < 3.0 + 2.5 * hd.atrophy) & (z > -28 * sz) & (z < -5 * sz)
    cis |= _ellipsoid_sdf(x, y, z, (0, 31 * sy, -10 * sz), (9 * a_f, 6 * a_f, 6)) < 0
    cis |= (bs < 5.0) & (np.abs(x) < 16 * sx) & (z > -64 * sz) & (z < -24 * sz) & (y < 20 * sy)
    cis |= _ellipsoid_sdf(x, y, z, (0, 66 * sy, -58 * sz), (14 * a_f, 12 * a_f, 10 * a_f)) < 0
    tissue[cis & (bs >= 0)] = _T["csf"]
    tissue[bs < 0] = _T["brainstem"]
    tissue[(z < -30 * sz) & (np.abs(x) < 9 * sx) & (y > -11 * sy) & (y < 4 * sy)] = \
        _T["soft_tissue"]
    vent = s_vent < 0
    tissue[vent] = _T["ventricle"]
    for side in (1.0, -1.0):
        glomus = _ellipsoid_sdf(side * x, y, z, (hd.vent_c + 9 + 0.3 * hd.vent_rx, 30 * sy,
                                                 7 * sz), (4 * a_f, 6 * a_f, 3.5 * a_f)) < 0
        tissue[glomus & vent] = _T["choroid_plexus"]
    straight = np.array([[0.0, 38 * sy, -9 * sz], [0.0, 90 * sy, -30 * sz]])
    tissue[_polyline_mask(x, y, z, straight, 2.5)] = _T["venous_sinus"]
    sigmoid = np.array([[55 * sx, 62 * sy, -33 * sz], [50 * sx, 42 * sy, -46 * sz],
                        [42 * sx, 33 * sy, -60 * sz]])
    for side in (1.0, -1.0):
        tissue[_polyline_mask(side * x, y, z, sigmoid, 3.5)] = _T["venous_sinus"]
    for name, (pts, radius) in _arteries(hd).items():
        for side in ((1.0,) if name == "basilar" else (1.0, -1.0)):
            hit = _polyline_mask(side * x, y, z, pts, radius)
            tissue[hit[~vent[hit]]] = _T["artery"]
    pineal = _ellipsoid_sdf(x, y, z, (0, 27 * sy, -3 * sz), (3.0, 4.0, 3.0)) < 0
    tissue[pineal & ~vent] = _T["pineal"]


def _regions(hd: _Head, tissue: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
             phi: np.ndarray, bd: dict[str, np.ndarray], sulcal: np.ndarray) -> np.ndarray:
    """ASPECTS region codes: 1..10 left hemisphere, 11..20 right, 0 elsewhere.

    Ganglionic level (z in [-8, 10] nominal): caudate head, lentiform, posterior limb of the
    internal capsule, insular ribbon, and M1-M3 as angular sectors about a point medial to the
    insula, halfway to the midline (anterior < -30 deg < lateral < 30 deg < posterior).
    Supraganglionic level (z in [18, 36]): M4-M6, same sectors. The M regions hold cortex and
    subcortical white matter down to a depth potential of 0.35, within the MCA territory (the
    ACA's parasagittal strip and the PCA's occipital and medial temporal parts excluded).
    """
    sy, sz = hd.sy, hd.sz
    zn = z / sz
    gang = (zn > -8.0) & (zn < 10.0)
    supra = (zn > 18.0) & (zn < 36.0)
    xa = np.abs(x)
    y_genu = hd.y_ins + 1.0 * sy + 0.15 * 19.0 * sy
    code = np.zeros(len(x), dtype=np.uint8)
    code[gang & (tissue == _T["caudate"]) & (y < y_genu)] = 1
    code[gang & ((tissue == _T["putamen"]) | (tissue == _T["pallidum"]))] = 2
    code[gang & (tissue == _T["internal_capsule"]) & (y >= y_genu)] = 3
    code[gang & (tissue == _T["insula"])] = 4
    cand = np.flatnonzero((gang | supra) & ~bd["infra"] & (phi > 0.35)
                          & ~((bd["e_ins"] > -0.25) & (bd["m_ins"] > -1.0))
                          & ((tissue == _T["grey"]) | (tissue == _T["white"])
                             | (sulcal & (tissue == _T["csf"]))))
    cx, cy, g = xa[cand], y[cand], gang[cand]
    alpha = np.degrees(np.arctan2(cy - hd.y_ins, cx - 0.5 * hd.x_ins))
    sector = np.where(alpha < -30.0, 0, np.where(alpha <= 30.0, 1, 2)).astype(np.uint8)
    hw = hd.a_x
    m_g = g & ~((cx < 0.27 * hw) & (cy < 0)) & ~((cy > 42.0 * sy) | ((cx < 0.45 * hw)
                                                                 & (cy > 22.0 * sy)))
    m_s = ~g & (cx >= 0.32 * hw) & (cy <= 52.0 * sy)
    code[cand[m_g]] = 5 + sector[m_g]
    code[cand[m_s]] = 8 + sector[m_s]
    right = (x < bd["x_mid"]) & (code > 0)
    code[right] += 10
    return code


# ----------------------------------------------------------------------------------------------
# Pathology: planning the bleeds (before the anatomy, for their mass effect), drawing them
# ----------------------------------------------------------------------------------------------

def _draw_volume(rng: np.random.Generator, hi: float = 80.0) -> float:
    """A haematoma volume (mL): mostly 2-40, some small (1-3), occasionally large (<= hi)."""
    u = rng.uniform()
    if u < 0.15:
        return float(rng.uniform(1.0, 3.0))
    if u < 0.87 or hi <= 40.0:
        return float(np.exp(rng.uniform(np.log(2.0), np.log(min(40.0, hi)))))
    return float(rng.uniform(40.0, hi))


def _unit(v: np.ndarray) -> tuple[float, float, float]:
    """``v`` normalised, as floats."""
    n = v / np.linalg.norm(v)
    return (float(n[0]), float(n[1]), float(n[2]))


def _cap_profile(kind: str, rng: np.random.Generator, half_angle: float) -> float:
    """Mean thickness over a spherical cap, as a fraction of the maximum (crescent or lens)."""
    g = np.sqrt(rng.uniform(0, 1, 4000)) * half_angle  # uniform over a flat disc, close enough
    frac = np.clip(1.0 - (g / half_angle) ** 2, 0.0, 1.0)
    return float(np.mean(np.sqrt(frac) if kind == "subdural" else frac))


def _plan_bleed(seed: int, kind: str, hd: _Head) -> _Bleed:
    """Draw the location, size, density and appearance of one bleed of ``kind``."""
    rng = _rng(seed, "bleed", kind)
    side = float(rng.choice([-1.0, 1.0]))
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    if kind == "intraparenchymal":
        mode = str(rng.choice(["lobar", "deep", "cerebellar", "pons"], p=[0.4, 0.35, 0.15, 0.1]))
        volume = {"lobar": _draw_volume(rng), "deep": _draw_volume(rng),
                  "cerebellar": _draw_volume(rng, 30.0),
                  "pons": float(rng.uniform(1.0, 6.0))}[mode]
        aniso = rng.uniform(0.8, 1.25, 3)
        aniso /= np.cbrt(np.prod(aniso))
        lobes = _Waves.draw(rng, 8, 3, 2.0, 4.5)
        dirs = rng.normal(size=(3, 2000)).astype(np.float32)
        dirs /= np.linalg.norm(dirs, axis=0)
        cube = float(np.mean((1.0 + 0.22 * lobes.value(*dirs)) ** 3))
        radius = float(np.cbrt(volume * 1000.0 / (4.0 / 3.0 * np.pi * cube)))
        if mode == "lobar":
            u = np.array([side * rng.uniform(0.45, 0.95), rng.uniform(-0.6, 0.6),
                          rng.uniform(0.05, 0.7)])
            un = np.array(_unit(u))
            _, r_dome, _ = _dome(hd, *(np.array([v * 60.0], np.float32) for v in un))
            centre = un * (float(r_dome[0]) - radius - rng.uniform(6.0, 12.0))
        elif mode == "deep":
            centre = (np.array([side * (hd.x_ins - 13.0), hd.y_ins + sy, -2.0 * sz])
                      if rng.uniform() < 0.6 else np.array([side * (hd.w3 + 9.0), 13 * sy, sz]))
        elif mode == "cerebellar":
            centre = np.array([side * 24.0 * sx, 60.0 * sy, -50.0 * sz])
        else:
            centre = np.array([rng.uniform(-3, 3), 22.0 * sy, -38.0 * sz])
        centre = centre + rng.normal(0, 2.0, 3)
        big = volume > 5.0
        return _Bleed(kind=kind, mode=mode, side=side, hu=float(rng.uniform(50, 90)),
                      target_ml=volume, centre=(float(centre[0]), float(centre[1]),
                                                float(centre[2])),
                      size=radius, lobes=lobes, aniso=(float(aniso[0]), float(aniso[1]),
                                                       float(aniso[2])),
                      swirl=bool(rng.uniform() < 0.25),
                      level=float(rng.uniform(0.3, 0.6)) if rng.uniform() < 0.25 else None,
                      rim_mm=float(rng.uniform(2.0, 4.0)) if rng.uniform() < 0.6 else 0.0,
                      push_frac=float(rng.uniform(0.4, 0.8)) if big else 0.0,
                      push_reach=2.5 * radius)
    if kind == "intraventricular":
        mode = str(rng.choice(["layer", "cast"], p=[0.6, 0.4]))
        volume = (float(rng.uniform(1.0, 3.0)) if rng.uniform() < 0.3
                  else float(rng.uniform(3.0, 15.0)))
        if mode == "cast":
            volume = float(rng.uniform(4.0, 30.0))
        both = float(rng.uniform() < 0.6)
        return _Bleed(kind=kind, mode=mode, side=side * (1.0 - both), target_ml=volume,
                      hu=float(rng.uniform(55, 80) if mode == "layer" else rng.uniform(60, 90)),
                      centre=(side * (hd.vent_c + 9.0), 30.0 * sy, 8.0 * sz), size=0.0)
    if kind == "subarachnoid":
        mode = str(rng.choice(["basal", "sylvian", "convexity"], p=[0.5, 0.25, 0.25]))
        source: tuple[float, float, float]
        if mode == "basal":
            source = (0.0, -6.0 * sy, -25.0 * sz)
            volume = (float(rng.uniform(1.5, 4.0)) if rng.uniform() < 0.2
                      else float(rng.uniform(4.0, 25.0)))
        elif mode == "sylvian":
            source = (side * 32.0 * sx, -8.0 * sy, -12.0 * sz)
            volume = float(rng.uniform(2.0, 12.0))
        else:
            un = np.array(_unit(np.array([side * rng.uniform(0.5, 0.9), rng.uniform(-0.5, 0.6),
                                          rng.uniform(0.3, 0.8)])))
            _, r_dome, _ = _dome(hd, *(np.array([v * 60.0], np.float32) for v in un))
            c = un * (float(r_dome[0]) - 4.0)
            source = (float(c[0]), float(c[1]), float(c[2]))
            volume = float(rng.uniform(0.6, 4.0))
        return _Bleed(kind=kind, mode=mode, side=side, hu=float(rng.uniform(45, 65)),
                      target_ml=volume, centre=source, size=0.0,
                      lobes=_Waves.draw(rng, 8, 3, 0.15, 0.35))
    if kind == "subdural":
        u = np.array([side * rng.uniform(0.55, 0.95), rng.uniform(-0.6, 0.6),
                      rng.uniform(-0.05, 0.6)])
        half = float(np.radians(rng.uniform(35, 60)))
        volume = (float(rng.uniform(2.0, 8.0)) if rng.uniform() < 0.15
                  else _draw_volume(rng))
        mode = "convexity"
    else:
        mode = str(rng.choice(["temporal", "parietal", "frontal"], p=[0.5, 0.3, 0.2]))
        u = {"temporal": np.array([side * 0.93, 0.3, 0.0]),
             "parietal": np.array([side * 0.75, 0.2, 0.6]),
             "frontal": np.array([side * 0.45, -0.85, 0.25])}[mode] + rng.normal(0, 0.08, 3)
        half = float(np.radians(rng.uniform(20, 32)))
        volume = (float(rng.uniform(3.0, 8.0)) if rng.uniform() < 0.15
                  else float(rng.uniform(8.0, 60.0)))
    r_in = 0.5 * (hd.a_x + 0.5 * (hd.a_ant + hd.a_post))
    profile = _cap_profile(kind, rng, half)
    lo, hi = (2.0, 15.0) if kind == "subdural" else (5.0, 25.0)
    area = 2.0 * np.pi * r_in ** 2 * (1.0 - np.cos(half))
    thick = float(np.clip(volume * 1000.0 / (area * profile), lo, hi))
    if thick * area * profile > 1200.0 * volume:  # a small collection: thin and less extensive
        cap = volume * 1000.0 / (thick * profile * 2.0 * np.pi * r_in ** 2)
        half = float(max(np.arccos(np.clip(1.0 - cap, -1.0, 1.0)), np.radians(12.0)))
    return _Bleed(kind=kind, mode=mode, side=side, target_ml=volume,
                  hu=float(rng.uniform(50, 80) if kind == "subdural" else rng.uniform(55, 85)),
                  centre=_unit(u), size=thick, half_angle=half,
                  swirl=bool(rng.uniform() < (0.2 if kind == "subdural" else 0.3)),
                  push_reach=float(rng.uniform(40, 80) if kind == "subdural"
                                   else rng.uniform(30, 60)))


def _plan(seed: int, label: NcctLabel, hd: _Head) -> _Plan:
    """Plan the label's bleeds; the space-occupying ones push the brain."""
    bleeds = [_plan_bleed(seed, kind, hd) for kind in BLEED_KINDS if kind in label.bleeds]
    pushes = [b for b in bleeds if b.kind in ("subdural", "epidural")
              or (b.kind == "intraparenchymal" and b.push_frac > 0)]
    return _Plan(bleeds=bleeds, pushes=pushes)


@dataclass
class _Sampled:
    """The case at its fine samples: where they are, tissue, HU and labels."""

    idx: np.ndarray  # flat index into the fine volume (z, y, x)
    ic: np.ndarray  # the intracranial samples
    s_in: np.ndarray  # signed distance to the inner table (mm)
    h: tuple[np.ndarray, np.ndarray, np.ndarray]  # anatomical (rigid) coordinates, mm
    xs: np.ndarray  # in-plane coordinates of the scan (mm)
    tissue: np.ndarray
    region: np.ndarray
    blood: np.ndarray  # 0, or 1 + index in BLEED_KINDS
    hu: np.ndarray
    sulc_frac: np.ndarray  # per intracranial sample
    voxel_ml: float

    def scan_y(self, sel: np.ndarray) -> np.ndarray:
        """Scanner y (mm) of samples ``sel``: the patient lies supine, gravity points to +y."""
        n = len(self.xs)
        return np.asarray(self.xs[(self.idx[sel] // n) % n])


def _nearest(sel: np.ndarray, dist: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` entries of ``sel`` with the smallest ``dist``."""
    count = int(np.clip(count, 1, len(sel)))
    return sel[np.argpartition(dist, count - 1)[:count]]


def _draw_bleed(st: _Sampled, hd: _Head, b: _Bleed) -> dict[str, Any]:
    """Mark one bleed's samples (blood mask, tissue, HU); return what was drawn."""
    hx, hy, hz = st.h
    s_in = st.s_in
    code = 1 + BLEED_KINDS.index(b.kind)
    info: dict[str, Any] = {"pattern": b.mode, "target_ml": round(b.target_ml, 2),
                            "hu": round(b.hu, 1)}
    ic = st.ic
    if b.kind == "intraparenchymal":
        reach = b.size * max(b.aniso) * 1.4 + b.rim_mm + 2.0
        c = b.centre
        cand = _in_box(hx, hy, hz, (c[0] - reach, c[1] - reach, c[2] - reach),
                       (c[0] + reach, c[1] + reach, c[2] + reach))
        cand = cand[(s_in[cand] < -0.5) & (st.tissue[cand] != _T["ventricle"])
                    & (st.tissue[cand] != _T["choroid_plexus"])]
        r, rad = _blob_radius(b, hx[cand], hy[cand], hz[cand])
        rim = cand[(r >= rad) & (r < rad + b.rim_mm) & _PARENCHYMA[st.tissue[cand]]]
        st.tissue[rim] = _T["oedema"]
        st.hu[rim] = hd.hu["oedema"]
        sel = cand[r < rad]
        values = np.full(len(sel), b.hu, dtype=np.float32)
        if b.swirl and b.lobes is not None:  # hyperacute: 40-70 HU, brighter clot in places
            field = b.lobes.value((hx[sel] - c[0]) / 9.0, (hy[sel] - c[1]) / 9.0,
                                  (hz[sel] - c[2]) / 9.0)
            values = (55.0 + 12.0 * np.clip(field, -1.25, 1.25)).astype(np.float32)
        if b.level is not None and len(sel) > 1:  # cells settle in the dependent part
            depth = st.scan_y(sel)
            values = np.where(depth > np.quantile(depth, 1.0 - b.level), values + 12.0,
                              values - 16.0)
        info.update(location=b.mode, swirl=b.swirl, fluid_level=b.level is not None,
                    oedema_rim_mm=round(b.rim_mm, 1), centre_mm=[round(v, 1) for v in c])
    elif b.kind == "intraventricular":
        vent = ic[(st.tissue[ic] == _T["ventricle"]) | (st.tissue[ic] == _T["choroid_plexus"])]
        if b.mode == "layer":
            zone = vent[(hy[vent] > 18.0 * hd.sy) & (hx[vent] * b.side >= 0)
                        & (np.abs(hx[vent]) > 4.0) & (hz[vent] > -20.0 * hd.sz)]
            count = min(b.target_ml / st.voxel_ml, 0.7 * len(zone))
            sel = _nearest(zone, -st.scan_y(zone), int(count))
        else:
            side = b.side if b.side != 0 else 1.0
            b.side = side
            zone = vent[(hx[vent] * side > 1.0) & (hy[vent] > -12.0 * hd.sy)]
            d = ((hx[zone] - side * abs(b.centre[0])) ** 2 + (hy[zone] - b.centre[1]) ** 2
                 + (hz[zone] - b.centre[2]) ** 2)
            sel = _nearest(zone, d, int(min(b.target_ml / st.voxel_ml, 0.95 * len(zone))))
        values = np.full(len(sel), b.hu, dtype=np.float32)
        info.update(layering=b.mode == "layer", sides="both" if b.side == 0 else (
            "left" if b.side > 0 else "right"))
    elif b.kind == "subarachnoid":
        c = b.centre
        csf = ic[st.tissue[ic] == _T["csf"]]
        d = (hx[csf] - c[0]) ** 2 + (hy[csf] - c[1]) ** 2 + (hz[csf] - c[2]) ** 2
        sel = _nearest(csf, d, int(b.target_ml / st.voxel_ml))
        values = np.full(len(sel), b.hu, dtype=np.float32)
        if b.lobes is not None:  # dilution by CSF varies
            values += 5.0 * np.clip(b.lobes.value(hx[sel], hy[sel], hz[sel]), -1.5, 1.5)
        info.update(source_mm=[round(v, 1) for v in c])
    else:
        near = ic[-s_in[ic] < b.size + 1.0]
        t = _shell_thickness(hd, b, hx[near], hy[near], hz[near])
        sel = near[(-s_in[near] < t) & (t > 0.3)]
        values = np.full(len(sel), b.hu, dtype=np.float32)
        if b.swirl:
            w = np.cos(0.35 * hx[sel]) * np.cos(0.31 * hy[sel] + 1.0) * np.cos(0.33 * hz[sel])
            values = (55.0 + 14.0 * w).astype(np.float32)
        info.update(max_thickness_mm=round(b.size, 1), swirl=b.swirl,
                    half_angle_deg=round(float(np.degrees(b.half_angle)), 1),
                    direction=[round(v, 3) for v in b.centre])
    st.tissue[sel] = _T["blood"]
    st.hu[sel] = values
    st.blood[sel] = code
    info["side"] = "midline" if b.side == 0 or b.mode in ("basal", "pons") else (
        "left" if b.side > 0 else "right")
    return info


def _ischaemia(st: _Sampled, hd: _Head, seed: int, label: NcctLabel) -> float | None:
    """Early ischaemic change in the label's regions: sulcal effacement, grey-white blur, a
    uniform drop; region boundaries are those of the normal anatomy. Returns the drop (HU)."""
    if not label.ischaemic_regions:
        return None
    rng = _rng(seed, "ischaemia")
    delta = float(rng.uniform(2.0, 6.0))
    blur = float(rng.uniform(0.4, 0.75))
    efface = float(rng.uniform(0.1, 0.25))
    offset = 0 if label.ischaemic_side == "left" else 10
    codes = [1 + ASPECTS_REGIONS.index(r) + offset for r in set(label.ischaemic_regions)]
    ic = st.ic
    hit = np.isin(st.region[ic], codes)
    squeeze = ic[hit & (st.tissue[ic] == _T["csf"]) & (st.sulc_frac > 1.0 - efface)
                 & (st.sulc_frac <= 1.0)]
    st.tissue[squeeze] = _T["grey"]
    st.hu[squeeze] = hd.hu["grey"]
    sel = ic[hit & _PARENCHYMA[st.tissue[ic]]]
    for code in codes:
        part = sel[st.region[sel] == code]
        if len(part):
            mean = float(st.hu[part].mean())
            st.hu[part] += blur * (mean - st.hu[part]) - delta
    return delta


def _speck(st: _Sampled, centre: np.ndarray, radii: np.ndarray, hu: float) -> int:
    """Draw a calcified speck (ellipsoid, mm) among the intracranial samples; return its
    sample count."""
    hx, hy, hz = st.h
    ic = st.ic
    c = [float(v) for v in centre]
    r = [float(v) for v in radii]
    box = ic[_in_box(hx[ic], hy[ic], hz[ic], (c[0] - r[0], c[1] - r[1], c[2] - r[2]),
                     (c[0] + r[0], c[1] + r[1], c[2] + r[2]))]
    sel = box[_ellipsoid_sdf(hx[box], hy[box], hz[box], (c[0], c[1], c[2]),
                             (r[0], r[1], r[2])) < 0]
    st.tissue[sel] = _T["calcification"]
    st.hu[sel] = hu
    return len(sel)


def _mimics(st: _Sampled, hd: _Head, seed: int, label: NcctLabel) -> dict[str, Any]:
    """Draw the label's mimics (bright things that are not blood); return what was drawn.
    The streak artefact is drawn later, in the image."""
    out: dict[str, Any] = {}
    hx, hy, hz = st.h
    ic = st.ic
    sx, sy, sz = hd.sx, hd.sy, hd.sz
    for name in MIMICS:
        if name not in label.mimics:
            continue
        rng = _rng(seed, "mimic", name)
        if name == "choroid_plexus_calcification":
            sides = [1.0, -1.0] if rng.uniform() < 0.8 else [float(rng.choice([-1.0, 1.0]))]
            hu = float(rng.uniform(150, 600))
            n = sum(_speck(st, np.array([s * (hd.vent_c + 9 + 0.3 * hd.vent_rx), 30 * sy, 7 * sz])
                           + rng.normal(0, 1.0, 3), rng.uniform(2.6, 4.5) * np.array(
                               [1.0, 1.2, 0.9]), hu) for s in sides)
            out[name] = {"hu": round(hu, 1), "sides": len(sides), "samples": n}
        elif name == "pineal_calcification":
            hu = float(rng.uniform(150, 500))
            n = _speck(st, np.array([0.0, 27 * sy, -3 * sz]), np.full(3, rng.uniform(2.6, 4.0)),
                       hu)
            out[name] = {"hu": round(hu, 1), "samples": n}
        elif name == "basal_ganglia_calcification":
            hu = float(rng.uniform(120, 400))
            rad = np.full(3, rng.uniform(2.6, 3.5))
            n = 0
            for s in (1.0, -1.0):
                pall = ic[(st.tissue[ic] == _T["pallidum"]) & (hx[ic] * s > 0)]
                centre = (np.array([hx[pall].mean(), hy[pall].mean(), hz[pall].mean()])
                          if len(pall) else np.array([s * 18 * sx, -2 * sy, -2 * sz]))
                n += _speck(st, centre, rad, hu)
            out[name] = {"hu": round(hu, 1), "samples": n}
        elif name == "falx_calcification":
            hu = float(rng.uniform(200, 800))
            n = 0
            for _ in range(int(rng.integers(1, 4))):
                y0 = float(rng.uniform(-40, 40) * sy)
                z0 = float(rng.uniform(38, 60) * sz)
                d_f, x_mid, _ = _falx(hd, hx[ic], hy[ic], hz[ic])
                half = float(rng.uniform(1.3, 2.0))
                extent = float(rng.uniform(4.0, 9.0))
                sel = ic[(np.abs(hx[ic] - x_mid) < half) & (d_f < half)
                         & ((hy[ic] - y0) ** 2 + (hz[ic] - z0) ** 2 < extent * extent)]
                st.tissue[sel] = _T["calcification"]
                st.hu[sel] = hu
                n += len(sel)
            out[name] = {"hu": round(hu, 1), "samples": n}
        elif name == "hyperdense_vessel":
            hu = float(rng.uniform(55, 70))
            arteries = _arteries(hd)
            if rng.uniform() < 0.75:
                side = float(rng.choice([-1.0, 1.0]))
                pts, radius = arteries["m1"]
                where = "left MCA" if side > 0 else "right MCA"
            else:
                side, (pts, radius) = 1.0, arteries["basilar"]
                where = "basilar"
            sel = ic[_polyline_mask(side * hx[ic], hy[ic], hz[ic], pts,
                                    radius * float(rng.uniform(1.05, 1.35)))]
            st.tissue[sel] = _T["artery"]
            st.hu[sel] = hu
            out[name] = {"hu": round(hu, 1), "vessel": where, "samples": len(sel)}
        elif name == "residual_contrast":
            gain = {"artery": float(rng.uniform(80, 120)),
                    "venous_sinus": float(rng.uniform(60, 100)),
                    "choroid_plexus": float(rng.uniform(60, 100))}
            for tissue, hu in gain.items():
                st.hu[st.tissue == _T[tissue]] = hu
            out[name] = {k: round(v, 1) for k, v in gain.items()}
        else:
            out[name] = {"strength_hu": round(float(rng.uniform(25, 60)), 1)}
    return out


# ----------------------------------------------------------------------------------------------
# Rendering the samples, then the CT image: slice profile, MTF, beam hardening, noise
# ----------------------------------------------------------------------------------------------

def _grid_step(matrix: int) -> float:
    """Spacing (mm) of the coarse field grid for an output matrix."""
    return float(np.clip(600.0 / matrix, 2.0, 3.0))


def _render_samples(seed: int, label: NcctLabel, hd: _Head, grid: _Grid, scan: _Scan,
                    plan: _Plan) -> tuple[_Sampled, dict[str, Any]]:
    """Tissue, regions, HU and blood at the fine samples, with the label's pathology."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "idx", "ic", "s_in", "hx", "hy", "hz", "tissue", "dense", "region", "sulc_frac")}
    count = 0
    for pts in _sample(grid, scan):
        h = _deform(hd, *pts.p.T)
        tissue, dense = _extracranial(hd, h, pts.rigid)
        ic = pts.ic
        fields = pts.brain
        if grid.moved:
            a = (fields[:, 0], fields[:, 1], fields[:, 2])
            fields = fields[:, 3:]
        else:
            a = (h[0][ic], h[1][ic], h[2][ic])
            fields = np.concatenate([-pts.rigid[ic, :1], fields], axis=1)
        br = _classify_brain(hd, a, fields)
        tissue[ic] = br.tissue
        region = np.zeros(len(tissue), dtype=np.uint8)
        region[ic] = br.region
        for key, value in (("idx", pts.idx), ("ic", ic + count), ("s_in", pts.rigid[:, 0]),
                           ("hx", h[0]), ("hy", h[1]), ("hz", h[2]), ("tissue", tissue),
                           ("dense", dense), ("region", region), ("sulc_frac", br.sulc_frac)):
            parts[key].append(value)
        count += len(tissue)
    cat = {k: np.concatenate(parts.pop(k)) for k in list(parts)}
    st = _Sampled(idx=cat["idx"], ic=cat["ic"], s_in=cat["s_in"],
                  h=(cat["hx"], cat["hy"], cat["hz"]), xs=scan.xs, tissue=cat["tissue"],
                  region=cat["region"], blood=np.zeros(count, dtype=np.uint8),
                  hu=np.zeros(count, dtype=np.float32), sulc_frac=cat["sulc_frac"],
                  voxel_ml=scan.pixel ** 2 * scan.thickness / scan.sub / 1000.0)
    dense = cat["dense"]
    del cat
    lut = np.array([hd.hu.get(name, 0.0) for name in TISSUES], dtype=np.float32)
    st.hu = lut[st.tissue]
    st.hu[dense] = hd.hu["petrous"]
    delta = _ischaemia(st, hd, seed, label)
    details: dict[str, Any] = {"ischaemic_delta_hu": delta}
    details["mimics"] = _mimics(st, hd, seed, label)
    details["bleeds"] = {b.kind: _draw_bleed(st, hd, b) for b in plan.bleeds}
    counts = np.bincount(st.blood, minlength=len(BLEED_KINDS) + 1)
    details["bleed_volumes_ml"] = {b.kind: round(float(counts[1 + BLEED_KINDS.index(b.kind)])
                                                 * st.voxel_ml, 3) for b in plan.bleeds}
    return st, details


def _mtf(scan: _Scan, f: np.ndarray) -> np.ndarray:
    """In-plane modulation transfer of the reconstruction kernel at spatial frequencies ``f``
    (cycles/mm): Gaussian roll-off, with mid-frequency overshoot for sharp kernels."""
    q = (f / scan.f_c) ** 2
    return np.asarray(np.exp(-np.log(2.0) * q) * (1.0 + scan.overshoot * q), np.float32)


def _freq(n: int, pixel: float) -> np.ndarray:
    """Radial spatial frequency (cycles/mm) of an rfft2 grid."""
    fy = np.fft.fftfreq(n, d=pixel)[:, None]
    fx = np.fft.rfftfreq(n, d=pixel)[None, :]
    return np.asarray(np.sqrt(fy * fy + fx * fx), np.float32)


def _bands(scan: _Scan, vol: np.ndarray, dense: np.ndarray, head: np.ndarray,
           streaks: float | None, rng: np.random.Generator) -> None:
    """Beam hardening and photon starvation between dense bones, in place: a dark band along
    the line joining each pair of dense blobs in a slice (petrous bones, occipital
    protuberance) and, for the streak artefact, bright and dark streaks radiating from them."""
    n = vol.shape[1]
    px = scan.pixel
    jj, ii = np.mgrid[0:n, 0:n].astype(np.float32)
    min_area = 12.0 / px ** 2
    for k in range(vol.shape[0]):
        if dense[k].sum() < min_area:
            continue
        lab, count = ndimage.label(dense[k])
        sizes = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, count + 1))
        keep = [int(i) + 1 for i in np.argsort(sizes)[::-1][:4] if sizes[i] >= min_area]
        cents = ndimage.center_of_mass(dense[k], lab, keep)
        mass = [float(sizes[i - 1]) * px * px for i in keep]
        for a in range(len(keep)):
            for b in range(a + 1, len(keep)):
                (y0, x0), (y1, x1) = cents[a], cents[b]
                dy, dx = y1 - y0, x1 - x0
                length2 = dy * dy + dx * dx
                if length2 < (20.0 / px) ** 2:
                    continue
                t = np.clip(((jj - y0) * dy + (ii - x0) * dx) / length2, 0.0, 1.0)
                d = np.hypot(jj - y0 - t * dy, ii - x0 - t * dx) * px
                strength = min(1.0, math.sqrt(min(mass[a], mass[b]) / 150.0))
                vol[k] -= (scan.band_hu * strength * np.exp(-((d / 4.0) ** 2))
                           * head[k]).astype(np.float32)
        if streaks is None:
            continue
        for (y0, x0), m in zip(cents, mass, strict=True):
            for sign in np.tile([1.0, -1.0], int(rng.integers(3, 7))):
                ang = rng.uniform(0, np.pi)
                d = np.abs((jj - y0) * np.cos(ang) - (ii - x0) * np.sin(ang)) * px
                r = np.hypot(jj - y0, ii - x0) * px
                amp = sign * streaks * min(1.0, math.sqrt(m / 150.0))
                vol[k] += (amp * np.exp(-((d / (0.8 * px + 0.4)) ** 2)) * np.exp(-r / 70.0)
                           * head[k]).astype(np.float32)


def _noise_sd(scan: _Scan, tissue: np.ndarray) -> np.ndarray:
    """Noise standard deviation (HU) per voxel: more through long paths (centre of the head)
    and through bone-laden slices (skull base, posterior fossa)."""
    nz, n, _ = tissue.shape
    head = tissue > 0
    bone = (tissue == _T["bone"]) | (tissue == _T["diploe"])
    area = head.sum(axis=(1, 2)).astype(np.float32)
    load = bone.sum(axis=(1, 2)) / np.maximum(area, 1.0)
    brainy = np.isin(tissue, [_T["grey"], _T["white"]]).sum(axis=(1, 2)) > 0.1 * area
    ref = float(np.median(load[brainy])) if brainy.any() else 0.2
    per_slice = 1.0 + scan.base_noise * np.clip(load / max(ref, 1e-3) - 1.0, 0.0, 3.0)
    jj, ii = np.mgrid[0:n, 0:n].astype(np.float32)
    sd = np.empty(tissue.shape, dtype=np.float32)
    for k in range(nz):
        if area[k] < 1:
            sd[k] = per_slice[k]
            continue
        cy, cx = float((jj * head[k]).sum() / area[k]), float((ii * head[k]).sum() / area[k])
        r2 = ((jj - cy) ** 2 + (ii - cx) ** 2) / (area[k] / np.pi)
        sd[k] = per_slice[k] * (1.0 + scan.centre_noise * np.exp(-r2))
    brain = np.isin(tissue, [_T["grey"], _T["white"]])
    return sd * (scan.noise_sd / float(np.median(sd[brain]) if brain.any() else sd.mean()))


def _image(scan: _Scan, fine: np.ndarray, centre: dict[str, np.ndarray], seed: int,
           streaks: float | None) -> np.ndarray:
    """The reconstructed slices (HU, int16) from the fine samples: slice sensitivity profile,
    kernel MTF, cupping, dark bands and streaks, iterative-reconstruction noise, rounding."""
    nz = len(scan.z_out)
    n = fine.shape[1]
    vol = np.zeros((nz, n, n), dtype=np.float32)
    for i, w in enumerate(scan.ssp):
        vol += w * fine[i:i + (nz - 1) * scan.sub + 1:scan.sub]
    f = _freq(n, scan.pixel)
    h = _mtf(scan, f)
    vol = sp_fft.irfft2(sp_fft.rfft2(vol, workers=1) * h, s=(n, n), workers=1)
    vol = vol.astype(np.float32) + centre["cupping"]
    tissue = centre["tissue"]
    rng = _rng(seed, "streaks")
    _bands(scan, vol, centre["dense"], (tissue > 0).astype(np.float32), streaks, rng)
    nps = f * np.exp(-((f / scan.nps_peak) ** 2)) * h * h + 0.02 * h * h
    white = _rng(seed, "noise").standard_normal((nz, n, n), dtype=np.float32)
    noise = sp_fft.irfft2(sp_fft.rfft2(white, workers=1) * np.sqrt(nps), s=(n, n), workers=1)
    noise = noise.astype(np.float32) / float(noise.std())
    vol += noise * _noise_sd(scan, tissue)
    jj, ii = np.mgrid[0:n, 0:n]
    outside = np.hypot(scan.xs[ii], scan.xs[jj]) > scan.fov / 2
    vol[:, outside] = -1024.0
    return np.asarray(np.clip(np.rint(vol), -1024, 3071), dtype=np.int16)


def _centre_maps(st: _Sampled, hd: _Head, scan: _Scan, dense: np.ndarray) -> dict[str, np.ndarray]:
    """Labels at the slice centres (tissue, region, blood, dense bone) and the cupping (HU)."""
    nz, n = len(scan.z_out), len(scan.xs)
    k = st.idx // (n * n)
    rel = k - scan.margin
    sel = np.flatnonzero((rel >= 0) & (rel % scan.sub == 0) & (rel <= (nz - 1) * scan.sub))
    pos = (rel[sel] // scan.sub) * n * n + st.idx[sel] % (n * n)
    out: dict[str, np.ndarray] = {}
    for name, values in (("tissue", st.tissue), ("region", st.region), ("blood", st.blood),
                         ("dense", dense)):
        arr = np.zeros(nz * n * n, dtype=values.dtype)
        arr[pos] = values[sel]
        out[name] = arr.reshape(nz, n, n)
    depth = -st.s_in[sel]
    cup = np.zeros(nz * n * n, dtype=np.float32)
    inside = depth > 0
    base = _sig((-25.0 * hd.sz - st.h[2][sel[inside]]) / 8.0)
    cup[pos[inside]] = (scan.cupping * np.exp(-depth[inside] / scan.cupping_mm)
                        * (1.0 + 0.6 * base))
    out["cupping"] = cup.reshape(nz, n, n)
    return out


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """Render case ``seed`` with ``label``: the case, its ASPECTS region map (uint8, 0 outside,
    1..10 left hemisphere in ASPECTS_REGIONS order, 11..20 right) and its tissue map (uint8,
    TISSUES indices), both sampled at the slice centres."""
    if not 64 <= matrix <= 1024:
        raise ValueError("matrix must be between 64 and 1024")
    hd = _draw_head(seed)
    plan = _plan(seed, label, hd)
    grid = _build_grid(hd, plan, _grid_step(matrix))
    scan = _draw_scan(seed, hd, grid, matrix)
    st, details = _render_samples(seed, label, hd, grid, scan, plan)
    n = matrix
    fine = np.full(len(scan.z_fine) * n * n, hd.hu["air"], dtype=np.float32)
    fine[st.idx] = st.hu
    dense = np.zeros(len(st.tissue), dtype=bool)
    dense[st.tissue == _T["bone"]] = st.hu[st.tissue == _T["bone"]] >= hd.hu["petrous"] - 1.0
    centre = _centre_maps(st, hd, scan, dense)
    streak = details["mimics"].get("streak_artefact")
    volume = _image(scan, fine.reshape(-1, n, n), centre, seed,
                    None if streak is None else float(streak["strength_hu"]))
    details.update(
        kernel=_KERNELS[scan.kernel], kernel_class=scan.kernel,
        mtf_scale_cycles_per_mm=round(scan.f_c, 3), mtf_overshoot=round(scan.overshoot, 2),
        slice_thickness_mm=scan.thickness, fine_step_mm=round(scan.thickness / scan.sub, 3),
        slice_profile=[round(float(w), 4) for w in scan.ssp],
        noise_sd_hu=round(scan.noise_sd, 2), nps_peak_cycles_per_mm=round(scan.nps_peak, 3),
        cupping_hu=round(scan.cupping, 2), petrous_band_hu=round(scan.band_hu, 2),
        pose=scan.pose, fov_mm=round(scan.fov, 1), cut_by_fov=scan.cut,
        origin_mm=[float(scan.xs[0]), float(scan.xs[0]), float(scan.z_out[0])],
        head={"inner_width_mm": round(hd.width, 1), "inner_length_mm": round(hd.length, 1),
              "evans_index": round(hd.evans, 3), "atrophy": round(hd.atrophy, 3)},
        tissue_hu={k: round(v, 1) for k, v in hd.hu.items()},
        grid_mm=grid.step)
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=(scan.thickness, scan.pixel, scan.pixel),
                    blood_mask=centre["blood"], details=details)
    return case, centre["region"], centre["tissue"]


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render case ``seed`` with ``label`` (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
