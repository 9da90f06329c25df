"""CTP phantom family "territories": a folded-cortex head, arterial territories, an M1 stroke.

An independently written synthetic CT-perfusion generator, held out from the tuning of the
project's perfusion analysis (written without sight of the project's own CTP phantom). Only numpy
and scipy are used. :func:`make_case` renders a dynamic series (T, Z, Y, X) in HU together with the
true perfusion maps and lesion volumes.

Geometry
    Head coordinates are millimetres: x towards the patient's left, y posterior, z superior, the
    origin near the anterior commissure. Array axes are (z, y, x), x increasing towards the
    patient's left, y towards posterior, z from inferior to superior. A random pose per seed
    (in-plane rotation up to 10 degrees, centre offset up to 8 mm in-plane and 5 mm in z, size
    +-8 %) maps head to scanner coordinates. The default slab (16 x 5 mm) runs from about 15 mm
    below to 65 mm above the commissure: basal ganglia, lateral ventricles and centrum semiovale,
    with the tentorium, the upper cerebellum and the straight/transverse sinuses in its lowest
    slices.

Anatomy (labelled on a sub-grid of about 0.75 x 0.75 x 1 mm and averaged into the voxels, so
every border carries partial volume, and the 5 mm slice averages the finer structure)
    * Brain: an egg-shaped ellipsoid of about 124 x 154 x 116 mm with a low-order random surface
      deformation. A first-order signed distance to it gives, outward, subarachnoid CSF
      (1.2-3.7 mm), skull (4-8 mm, varying smoothly: inner and outer tables of 1400-1600 HU about
      a 700-950 HU diploe), scalp (4-7 mm, 25-50 HU) and air (-1000 HU).
    * Sulci: a smooth isotropic random field on the brain surface (40 random plane waves,
      wavelength 20-30 mm) is read along the radial line through each point, so its zero set
      forms sheets running inward from the surface. A point is sulcal CSF where its first-order
      distance to that sheet, |G| / |grad_t G|, is under the sulcal half-width (wider near the
      surface and with atrophy) and it lies less deep than the local sulcal depth (8-18 mm).
    * Cortex: the grey-matter ribbon (2.5-3.5 mm, varying smoothly) is the tissue within that
      distance of any CSF surface - pial surface, sulcal walls and fundi, interhemispheric fissure,
      curved insular cistern and Sylvian stem, suprasellar and ambient cisterns, tentorium - so it
      folds with the sulci. White matter fills the rest.
    * Deep grey nuclei (caudate head and body, lentiform nucleus, thalamus) are jittered
      ellipsoids; the lateral ventricles (frontal horns, bodies, atria, split by a septum) and the
      third ventricle scale with a random atrophy factor that also widens sulci and fissures. The
      fissure runs above the corpus callosum and in front of / behind it; the falx and tentorium
      are thin dural sheets (55-70 HU); the midbrain sits in an ambient cistern in the lowest
      slices and the cerebellum lies under the tentorium posteriorly. Baseline HU per seed: GM
      35-42, WM 24-30, CSF 2-8, unenhanced blood 38-46.
    * Vessels are polyline tubes with a one-sub-voxel soft edge: internal carotids (4-4.8 mm), M1
      (2.8-3.4 mm) running laterally in the Sylvian stem, three M2 branches per side in the insular
      cistern (1.9-2.3 mm), A1, A2 and pericallosal arteries in the fissure, the basilar tip and
      both PCAs around the midbrain; veins: the superior sagittal sinus (5.6-6.8 mm) along the
      midline inner table down to the torcula, internal cerebral veins, the vein of Galen and
      straight sinus, and the transverse sinuses along the tentorium.

Vascular territories (per hemisphere, from an angular description of my own)
    ACA: a sector 22-28 degrees either side of the midline about a point 20 mm in front of the
    commissure, a 7 mm medial strip in front of the thalami, and above 25 mm a parasagittal strip
    widening from 12 to about 24 mm. PCA: the posterior sector beyond 135-155 degrees about a point
    8 mm behind the commissure, the medial occipital strip, the thalamus, midbrain and cerebellum.
    MCA: the rest, lenticulostriate territory (lentiform, caudate, internal capsule) included.
    Border angles and widths are perturbed by smooth random fields (about +-7-9 degrees), which
    gives irregular borderzones.

Physiology
    * Normal tissue: GM CBF 45-65 mL/100 g/min and CBV 3.5-5 mL/100 g, WM 18-26 and 1.5-2.6
      (means drawn per seed; deep GM like cortex), each voxel modulated by a smooth random field
      of 10-15 % standard deviation clipped to +-20 %; MTT = 60 CBV / CBF s. Delay after the
      arterial input: 0-1.3 s in GM (0.3 s more in the PCA territory), 0.3 s more in WM (<= 1.5 s).
    * Arterial input: the population AIF of Parker et al. (Magn Reson Med 2006; 56:993-1000) -
      two Gaussians (first pass, recirculation) plus a sigmoid-modulated exponential (washout) -
      with its recirculation amplitudes jittered, its time axis stretched 1.0-1.6 x for a CT
      injection, a smooth 1.5 s onset at 4-10 s after the first frame, scaled to a 250-600 HU peak.
      Veins carry the AIF convolved with a gamma transit kernel (shape 3, mean 3-5 s), 4-7 s later,
      scaled to a peak of 1.2-1.8 x the arterial peak (whole blood, before partial volume).
    * Tissue: the indicator-dilution model (Meier and Zierler, J Appl Physiol 1954; Ostergaard et
      al., Magn Reson Med 1996; Axel, Radiology 1980 and Wintermark et al., Stroke 2006 for CT):
      dHU(t) = (rho / k_H) * CBF / 6000 * (AIF (x) R)(t - delay), rho = 1.04 g/mL, k_H = 0.73,
      CBF in mL/100 g/min, AIF in HU, t in s. R has area MTT and R(0) = 1: "exponential"
      exp(-t/MTT); "gamma", one minus the CDF of gamma-distributed transit times of shape 3 and
      mean MTT; "box", plug flow. (AIF (x) R) is computed on a 0.05 s grid from cell averages of
      the exact integral of R (so the area, hence CBV, is exact), tabulated over 220 log-spaced
      MTTs and read bilinearly in (log MTT, t - delay). A voxel's curve is the fraction-weighted
      sum of its GM, WM, artery, collateral-artery and vein curves; CSF, bone, dura do not enhance.
    * Stroke (``lesion=True``): an M1 occlusion on a random side (a random point along M1). The
      M1 beyond it and the ipsilateral M2s carry the AIF dispersed (gamma, mean 3 s), delayed by
      0.45-0.7 x the maximal tissue delay and scaled by 0.25-0.55 (weak, late collateral filling).
      Delay: with d the distance (mm) from the ipsilateral ACA/PCA territories, whence collaterals
      come, psi = d - margin (0-15 mm) + 4 mm x smooth noise + a lenticulostriate bump (the deep
      MCA is end-arterial) that fades within 10 mm of those borders; where psi > 0 delay rises
      smoothly from 4 s to 8-14 s over 10-22 mm, and it ramps from normal to 4 s over the 3 mm
      outside. CBF follows delay: 88-97 % of normal at 4 s, 70-80 % at 6 s (oligaemia), down to
      30-50 % at the maximal delay (penumbra, CBV 100-130 %). The core is an irregular blob (an
      anisotropic distance about a deep, insular or cortical centre plus 4-8 mm of smooth noise),
      thresholded so that about a log-uniform 5-70 mL of eligible parenchyma lies inside, confined
      to delay > 6.3 s by a smooth gate, with a graded 2-6 mm edge: there CBF goes to 5-25 % and
      CBV to 30-60 % of normal. Outside the core CBF is kept at or above 0.35 x the pre-floor
      normal_cbf (this spares the low-flow hypoperfused white matter from counting as core); as
      the gate is closed below 6.3 s, the core lies inside Tmax > 6 s by construction.
    * Noise: per slice and frame, Gaussian white noise filtered in-plane by the square root of a
      filtered-back-projection noise power spectrum (ramp |f| plus a small floor, times a Hann
      apodisation cut off at 0.4-0.6 cycles/pixel), normalised to a per-voxel standard deviation
      of exactly ``noise_hu``; independent between frames; ``noise_hu = 0`` is noise-free.

Truth
    Parenchyma: voxels with GM + WM fraction >= 0.5 and vessel fraction < 0.25. A voxel's true
    CBF, CBV and delay are its GM/WM-fraction-weighted tissue values (CSF carries no flow and is
    left out of the average); MTT = 60 CBV / CBF; ``tmax`` is the true delay. ``normal_cbf`` is
    the mean true CBF of parenchyma with delay < 4 s in the hemisphere without the lesion (the
    whole brain when there is none). core = parenchyma with CBF < 0.3 normal_cbf; tmax6 / tmax4 =
    parenchyma with delay > 6 / 4 s; volumes are voxel counts x voxel volume, in mL. The masks are
    computed from the published float32 maps. Besides cbf, cbv, mtt, tmax (NaN outside
    parenchyma), core and tmax6, ``maps`` holds tmax4, parenchyma, territory (0 none, 1-3 the
    patient's right ACA/MCA/PCA, 4-6 the left ones) and the fractions frac_gm, frac_wm, frac_csf,
    frac_artery, frac_collateral, frac_vein, frac_bone and frac_air.

Randomness: anatomy, physiology, lesion, noise and smooth fields come from separate streams
spawned from ``seed``, so ``lesion``, ``residue`` and ``noise_hu`` leave the head unchanged.

Other sources: cortical thickness (Fischl and Dale, PNAS 2000); arterial territories (Tatu et al.,
Neurology 1998); CT perfusion thresholds and Tmax (Campbell et al., Stroke 2011; Lansberg et al.,
Lancet Neurol 2012); CT noise power spectra of filtered back-projection (Hanson, Med Phys 1979;
Boedeker et al., Phys Med Biol 2007).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, special

FAMILY = "territories"
RESIDUES = ("exponential", "gamma", "box")

RHO = 1.04  # g/mL, brain tissue density
K_H = 0.73  # (1 - Hct_large) / (1 - Hct_small)

Arr = NDArray[Any]

# Label classes of the sub-grid; vessels are extra fractional classes on top.
AIR, SCALP, BONE, CSF, GM, WM, DURA = range(7)
N_LABELS = 7
ARTERY, COLLATERAL, VEIN = 7, 8, 9
N_CLASSES = 10

_DT = 0.05  # s, fine time grid
_SUB_Z_MM = 1.0
_SUB_XY_MM = 0.75


@dataclass
class CtpCase:
    """One rendered CTP series with its ground truth."""

    frames: np.ndarray  # (T, Z, Y, X) float32, HU
    times: np.ndarray  # (T,) float64, seconds from the first frame
    spacing: tuple[float, float, float]  # (z, y, x) voxel size in mm
    truth: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# small helpers


def _smoothstep(x: Arr) -> Arr:
    c = np.clip(x, 0.0, 1.0)
    return np.asarray(c * c * (3.0 - 2.0 * c))


class _Waves:
    """A smooth random field: a sum of random plane waves, unit variance."""

    def __init__(self, rng: np.random.Generator, n: int, lam_mm: tuple[float, float],
                 z_squash: float = 1.0) -> None:
        direc = rng.standard_normal((n, 3))
        direc[:, 2] *= z_squash
        direc /= np.linalg.norm(direc, axis=1, keepdims=True)
        lam = rng.uniform(lam_mm[0], lam_mm[1], n)
        self.k = (direc * (2.0 * np.pi / lam)[:, None]).astype(np.float32)
        self.phase = rng.uniform(0.0, 2.0 * np.pi, n).astype(np.float32)
        self.amp = np.full(n, math.sqrt(2.0 / n), dtype=np.float32)

    def __call__(self, x: Arr, y: Arr, z: Arr | float) -> Arr:
        x, y, z = np.broadcast_arrays(x, y, z)
        out = np.zeros(x.shape, dtype=np.float32)
        for (kx, ky, kz), ph, a in zip(self.k, self.phase, self.amp, strict=True):
            out += a * np.cos(kx * x + ky * y + kz * z + ph)
        return out

    def value_and_grad(self, pts: Arr) -> tuple[Arr, Arr]:
        """Field value (N,) and gradient (N, 3) at points (N, 3)."""
        ph = pts.astype(np.float32) @ self.k.T + self.phase
        val = np.cos(ph) @ self.amp
        grad = -(np.sin(ph) * self.amp) @ self.k
        return val, grad


def _unit(v: Arr) -> Arr:
    """Map a unit-variance field to (0, 1)."""
    return 0.5 + 0.5 * np.tanh(0.8 * v)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...],
                  spacing: tuple[float, ...], sigma_mm: float) -> Arr:
    """Gaussian-filtered white noise on the voxel grid, normalised to unit standard deviation."""
    white = rng.standard_normal(shape)
    sig = [sigma_mm / s for s in spacing]
    sm = np.asarray(ndimage.gaussian_filter(white, sig, mode="reflect"), dtype=np.float64)
    sd = float(sm.std())
    return np.asarray((sm - sm.mean()) / (sd if sd > 0 else 1.0))


def _box_sdf(px: Arr, py: Arr, pz: Arr, centre: tuple[float, float, float],
             half: tuple[float, float, float]) -> Arr:
    """Signed distance (mm) to an axis-aligned box."""
    qx = np.abs(px - centre[0]) - half[0]
    qy = np.abs(py - centre[1]) - half[1]
    qz = np.abs(pz - centre[2]) - half[2]
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2 + np.maximum(qz, 0) ** 2)
    inside = np.minimum(np.maximum(np.maximum(qx, qy), qz), 0.0)
    return np.asarray(outside + inside)


def _in_ellipsoid(px: Arr, py: Arr, pz: Arr, c: tuple[float, float, float],
                  a: tuple[float, float, float]) -> Arr:
    return (((px - c[0]) / a[0]) ** 2 + ((py - c[1]) / a[1]) ** 2
            + ((pz - c[2]) / a[2]) ** 2) < 1.0


# --------------------------------------------------------------------------------------------
# the head


@dataclass
class _Head:
    scale: float
    theta: float  # rad, in-plane rotation head -> scanner
    offset: tuple[float, float, float]  # mm, scanner position of the head origin
    cy: float
    cz: float
    ax: float
    ay: float
    az: float
    ax_slope: float
    atrophy: float  # 0 (young) .. 1 (atrophic)
    vent_w: float
    vent_h: float
    gm_hu: float
    wm_hu: float
    csf_hu: float
    scalp_hu: float
    blood_hu: float
    dura_hu: float
    table_hu: float
    diploe_hu: float
    nuclei: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]
    surface: _Waves
    sulci: _Waves
    f_csf: _Waves
    f_skull: _Waves
    f_ribbon: _Waves
    f_depth: _Waves
    f_scalp: _Waves
    x_insula: float
    cc_top: float

    def to_head(self, xw: Arr, yw: Arr) -> tuple[Arr, Arr]:
        c, s = math.cos(self.theta), math.sin(self.theta)
        dx, dy = xw - self.offset[0], yw - self.offset[1]
        return (c * dx + s * dy) / self.scale, (-s * dx + c * dy) / self.scale

    def to_world(self, p: Arr) -> Arr:
        c, s = math.cos(self.theta), math.sin(self.theta)
        x, y, z = p[..., 0] * self.scale, p[..., 1] * self.scale, p[..., 2] * self.scale
        return np.stack([c * x - s * y + self.offset[0], s * x + c * y + self.offset[1],
                         z + self.offset[2]], axis=-1)

    # -- analytic pieces shared by the sub-grid and the voxel grid --
    def brain_distance(self, x: Arr, y: Arr, z: Arr, delta: Arr) -> Arr:
        """First-order signed distance (mm) to the pial surface, positive outside."""
        axy = self.ax * (1.0 + self.ax_slope * (y - self.cy) / self.ay)
        u, v, w = x / axy, (y - self.cy) / self.ay, (z - self.cz) / self.az
        r = np.sqrt(u * u + v * v + w * w) + 1e-6
        g = np.sqrt((u / axy) ** 2 + (v / self.ay) ** 2 + (w / self.az) ** 2) / r
        return (r - 1.0 - delta) / np.maximum(g, 1e-6)

    def tentorium_z(self, x: Arr, y: Arr) -> Arr:
        zt = -0.45 * (y - 28.0) - 0.08 * np.abs(x)
        return np.where(y > 28.0, zt, -np.inf)

    def cc_z(self, y: Arr) -> Arr:
        """Upper surface of the corpus callosum; -inf in front of the genu / behind the splenium."""
        q = 1.0 - ((y - 10.0) / 34.0) ** 2
        return np.where(q > 0, self.cc_top - 6.0 + 6.0 * np.sqrt(np.maximum(q, 0)), -np.inf)

    def midbrain(self, x: Arr, y: Arr, z: Arr) -> Arr:
        """Elliptical distance (mm) to the midbrain's surface (negative inside), below z = -2."""
        e = np.sqrt((x / 12.0) ** 2 + ((y - 20.0) / 11.0) ** 2)
        return np.where(z < -2.0, (e - 1.0) * 11.5, np.inf)

    def ventricles(self, x: Arr, y: Arr, z: Arr) -> Arr:
        vw, vh = self.vent_w, self.vent_h
        ax_ = np.abs(x)
        lat = (_in_ellipsoid(ax_, y, z, (9.0, -12.0, 15.0), (5.5 * vw, 14.0, 8.0 * vh))
               | _in_ellipsoid(ax_, y, z, (10.0, 8.0, 22.0), (6.0 * vw, 18.0, 5.0 * vh))
               | _in_ellipsoid(ax_, y, z, (21.0, 31.0, 14.0), (6.5 * vw, 10.0, 8.0 * vh)))
        lat &= ax_ > 1.0  # septum pellucidum
        third = _in_ellipsoid(x, y, z, (0.0, 7.0, 2.0), (1.3 * vw, 13.0, 9.0))
        return lat | third

    def deep_gm(self, x: Arr, y: Arr, z: Arr) -> Arr:
        ax_ = np.abs(x)
        out = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), dtype=bool)
        for c, a in self.nuclei.values():
            out |= _in_ellipsoid(ax_, y, z, c, a)
        return out

    def thalamus(self, x: Arr, y: Arr, z: Arr) -> Arr:
        c, a = self.nuclei["thalamus"]
        return _in_ellipsoid(np.abs(x), y, z, c, (a[0] * 1.15, a[1] * 1.15, a[2] * 1.15))


def _draw_head(rng: np.random.Generator) -> _Head:
    atrophy = float(rng.uniform(0.0, 1.0))
    vent = 0.7 + 0.75 * atrophy * rng.uniform(0.6, 1.0) + rng.uniform(-0.05, 0.1)

    def jit(c: tuple[float, float, float], a: tuple[float, float, float]
            ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        cj = tuple(float(v + rng.uniform(-1.5, 1.5)) for v in c)
        aj = tuple(float(v * rng.uniform(0.9, 1.1)) for v in a)
        return (cj[0], cj[1], cj[2]), (aj[0], aj[1], aj[2])

    nuclei = {
        "caudate_head": jit((14.5, -8.0, 12.0), (5.0, 10.0, 8.0)),
        "caudate_body": jit((15.5, 12.0, 22.0), (3.0, 12.0, 3.0)),
        "lentiform": jit((22.0, 0.0, 3.0), (6.5, 13.0, 8.0)),
        "thalamus": jit((9.5, 17.0, 5.0), (7.5, 12.0, 8.0)),
    }
    off_xy = rng.uniform(-8.0, 8.0, 2)
    return _Head(
        scale=float(rng.uniform(0.92, 1.08)),
        theta=math.radians(float(rng.uniform(-10.0, 10.0))),
        offset=(float(off_xy[0]), float(off_xy[1]), float(rng.uniform(-5.0, 5.0))),
        cy=float(rng.uniform(4.0, 8.0)), cz=float(rng.uniform(12.0, 16.0)),
        ax=float(62.0 * rng.uniform(0.97, 1.03)), ay=float(77.0 * rng.uniform(0.97, 1.03)),
        az=float(58.0 * rng.uniform(0.97, 1.03)), ax_slope=float(rng.uniform(0.03, 0.09)),
        atrophy=atrophy, vent_w=float(vent), vent_h=float(0.85 + 0.4 * (vent - 0.7)),
        gm_hu=float(rng.uniform(35.0, 42.0)), wm_hu=float(rng.uniform(24.0, 30.0)),
        csf_hu=float(rng.uniform(2.0, 8.0)), scalp_hu=float(rng.uniform(25.0, 50.0)),
        blood_hu=float(rng.uniform(38.0, 46.0)), dura_hu=float(rng.uniform(55.0, 70.0)),
        table_hu=float(rng.uniform(1400.0, 1600.0)), diploe_hu=float(rng.uniform(700.0, 950.0)),
        nuclei=nuclei,
        surface=_Waves(rng, 6, (60.0, 120.0)),
        sulci=_Waves(rng, 40, (20.0, 30.0)),
        f_csf=_Waves(rng, 5, (50.0, 100.0)),
        f_skull=_Waves(rng, 5, (50.0, 110.0)),
        f_ribbon=_Waves(rng, 5, (30.0, 60.0)),
        f_depth=_Waves(rng, 5, (30.0, 60.0)),
        f_scalp=_Waves(rng, 4, (60.0, 120.0)),
        x_insula=float(rng.uniform(36.0, 39.0)),
        cc_top=float(31.0 + rng.uniform(-1.0, 1.0)),
    )


# --------------------------------------------------------------------------------------------
# vessels


@dataclass
class _Vessel:
    points: Arr  # (n, 3) head mm
    radius: float  # head mm
    cls: int  # ARTERY, COLLATERAL or VEIN


def _split_polyline(pts: Arr, frac: float) -> tuple[Arr, Arr]:
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    target = frac * cum[-1]
    i = int(np.searchsorted(cum, target, side="right") - 1)
    i = min(max(i, 0), len(seg) - 1)
    t = (target - cum[i]) / max(seg[i], 1e-9)
    q = pts[i] + t * (pts[i + 1] - pts[i])
    return np.vstack([pts[: i + 1], q]), np.vstack([q, pts[i + 1:]])


def _vessel_tree(head: _Head, rng: np.random.Generator, lesion_sign: int,
                 occlusion_frac: float) -> list[_Vessel]:
    """Arteries and veins in head coordinates; ``lesion_sign`` +1 left, -1 right, 0 none."""
    out: list[_Vessel] = []
    xi = head.x_insula
    for sgn in (1, -1):
        def p(*rows: tuple[float, float, float], s: int = sgn) -> Arr:
            a = np.array(rows, dtype=np.float64)
            a[:, 0] *= s
            return a
        j = rng.uniform(-1.5, 1.5, 3)
        ica_r = float(rng.uniform(2.0, 2.4))
        out.append(_Vessel(p((15.5, -2.0, -32.0), (15.0, -2.0, -16.0), (14.0, -3.0, -8.0)),
                           ica_r, ARTERY))
        m1 = p((14.0, -3.0, -8.0), (22.0, -1.5 + j[0], -7.0), (30.0, 1.5, -5.0 + j[1]),
               (xi, 4.0, -2.0))
        m1_r = float(rng.uniform(1.4, 1.7))
        m2s = [p((xi, 4.0, -2.0), (xi + 0.5, -6.0, 6.0), (xi + 1.0, -13.0, 14.0 + j[2]),
                 (xi + 7.0, -12.0, 26.0)),
               p((xi, 4.0, -2.0), (xi + 0.3, 6.0, 8.0), (xi + 1.5, 9.0, 18.0),
                 (xi + 8.0, 8.0, 30.0)),
               p((xi, 4.0, -2.0), (xi + 0.5, 14.0, 4.0), (xi + 1.0, 22.0, 12.0),
                 (xi + 8.0, 30.0, 22.0))]
        m2_r = float(rng.uniform(0.95, 1.15))
        if sgn == lesion_sign:
            prox, dist = _split_polyline(m1, occlusion_frac)
            out.append(_Vessel(prox, m1_r, ARTERY))
            out.append(_Vessel(dist, m1_r, COLLATERAL))
            out += [_Vessel(m, m2_r, COLLATERAL) for m in m2s]
        else:
            out.append(_Vessel(m1, m1_r, ARTERY))
            out += [_Vessel(m, m2_r, ARTERY) for m in m2s]
        out.append(_Vessel(p((14.0, -3.0, -8.0), (7.0, -11.0, -5.0), (1.8, -16.0, -3.0)),
                           float(rng.uniform(1.0, 1.2)), ARTERY))
        out.append(_Vessel(p((1.8, -16.0, -3.0), (1.8, -27.0, 7.0), (1.8, -31.0, 22.0),
                             (1.8, -22.0, 35.0), (1.8, 0.0, 38.5), (1.8, 24.0, 37.0)),
                           float(rng.uniform(1.0, 1.15)), ARTERY))
        out.append(_Vessel(p((0.0, 9.0, -14.0), (8.0, 12.0, -12.0), (14.5, 21.0, -8.0),
                             (13.0, 33.0, -5.0), (14.0, 50.0, -2.0), (10.0, 66.0, 2.0)),
                           float(rng.uniform(1.0, 1.2)), ARTERY))
        out.append(_Vessel(p((2.0, -2.0, 15.0), (2.0, 14.0, 14.0), (1.5, 27.0, 13.0),
                             (0.0, 32.0, 11.0)), 1.0, VEIN))
    out.append(_Vessel(np.array([[0.0, 8.0, -45.0], [0.0, 9.0, -14.0]]),
                       float(rng.uniform(1.5, 1.8)), ARTERY))
    # superior sagittal sinus along the inner table of the midline, down to the torcula
    off = 2.5
    th = np.radians(np.arange(15.0, 212.0, 12.0))
    sss = np.stack([np.zeros_like(th), head.cy - (head.ay + off) * np.cos(th),
                    head.cz + (head.az + off) * np.sin(th)], axis=1)
    torcula = sss[-1]
    out.append(_Vessel(sss, float(rng.uniform(2.8, 3.4)), VEIN))
    out.append(_Vessel(np.array([[0.0, 32.0, 11.0], [0.0, 50.0, 2.0], torcula]),
                       float(rng.uniform(1.8, 2.2)), VEIN))
    zt = float(torcula[2])
    for sgn in (1, -1):
        pts = []
        for xa in (0.0, 15.0, 30.0, 42.0, 52.0):
            w = (zt - head.cz) / head.az
            axy = head.ax * (1.0 + head.ax_slope * 0.9)
            q = max(1.0 - (xa / axy) ** 2 - w * w, 0.05)
            pts.append((sgn * xa, head.cy + head.ay * math.sqrt(q) + off - 0.02 * xa,
                        zt - 0.06 * xa))
        out.append(_Vessel(np.array(pts), float(rng.uniform(2.4, 3.0)), VEIN))
    return out


# --------------------------------------------------------------------------------------------
# rendering of the anatomy on the sub-grid


def _render_anatomy(head: _Head, vessels: list[_Vessel], shape: tuple[int, int, int],
                    spacing: tuple[float, float, float], z_bottom: float
                    ) -> tuple[Arr, Arr]:
    """Fractions (N_CLASSES, Z, Y, X) and the unenhanced HU (Z, Y, X)."""
    nz_out, ny_out, nx_out = shape
    sz, sy, sx = spacing
    kz = min(5, max(1, round(sz / _SUB_Z_MM)))
    ky = min(2, max(1, round(sy / _SUB_XY_MM)))
    kx = min(2, max(1, round(sx / _SUB_XY_MM)))
    xs = ((np.arange(nx_out * kx) + 0.5) / kx - nx_out / 2.0) * sx  # scanner mm, sub-grid
    ys = ((np.arange(ny_out * ky) + 0.5) / ky - ny_out / 2.0) * sy
    yw2, xw2 = np.meshgrid(ys, xs, indexing="ij")
    xh2, yh2 = head.to_head(xw2, yw2)
    xh2 = xh2.astype(np.float32)
    yh2 = yh2.astype(np.float32)
    h_sub = min(sx / kx, sy / ky)

    # world-space segments for the vessels
    segs: list[tuple[Arr, Arr, float, int]] = []
    for v in vessels:
        pw = head.to_world(v.points)
        for a, b in zip(pw[:-1], pw[1:], strict=True):
            segs.append((a, b, v.radius * head.scale, v.cls))

    fractions = np.zeros((N_CLASSES, nz_out, ny_out, nx_out), dtype=np.float32)
    static = np.zeros((nz_out, ny_out, nx_out), dtype=np.float32)
    base_hu = np.array([-1000.0, head.scalp_hu, 0.0, head.csf_hu, head.gm_hu, head.wm_hu,
                        head.dura_hu], dtype=np.float32)
    for iz in range(nz_out):
        zw = z_bottom + (iz + (np.arange(kz) + 0.5) / kz) * sz
        zh1 = ((zw - head.offset[2]) / head.scale).astype(np.float32)
        zc = float(zh1.mean())
        zh = zh1[:, None, None]
        xh, yh = xh2[None], yh2[None]
        # low-order fields at the slice's centre
        delta = 0.015 * head.surface(xh2, yh2, zc)
        c_sa = (1.2 + 1.2 * head.atrophy) + 1.3 * _unit(head.f_csf(xh2, yh2, zc))
        t_sk = 4.0 + 4.0 * _unit(head.f_skull(xh2, yh2, zc))
        t_sc = 4.0 + 3.0 * _unit(head.f_scalp(xh2, yh2, zc))
        ribbon = 2.5 + 1.0 * _unit(head.f_ribbon(xh2, yh2, zc))
        depth = 8.0 + 10.0 * _unit(head.f_depth(xh2, yh2, zc))

        s = head.brain_distance(xh, yh, zh, delta[None]).astype(np.float32)
        shp = s.shape
        lab = np.full(shp, AIR, dtype=np.int8)
        hu = np.full(shp, -1000.0, dtype=np.float32)
        lab[s < c_sa + t_sk + t_sc] = SCALP
        q = s - c_sa  # depth into the skull from its inner surface
        bone = (q >= 0) & (q < t_sk)
        lab[bone] = BONE
        lab[s < c_sa] = CSF
        brain = s < 0
        d = -s
        dist_csf = np.where(brain, d, 0.0).astype(np.float32)
        csf_in = np.zeros(shp, dtype=bool)

        # sulci: zero set of a random field, within the local sulcal depth
        shell = brain & (d < depth[None] + 4.0)
        idx = np.nonzero(shell)
        if idx[0].size:
            # the field is read on the brain surface along the radial line through the point, so
            # sulci are sheets running inward from the surface; distance uses the tangential slope
            px_, py_, pz_ = xh2[idx[1], idx[2]], yh2[idx[1], idx[2]], zh1[idx[0]]
            axy = head.ax * (1.0 + head.ax_slope * (py_ - head.cy) / head.ay)
            uu, vv, ww = px_ / axy, (py_ - head.cy) / head.ay, (pz_ - head.cz) / head.az
            r = np.sqrt(uu * uu + vv * vv + ww * ww) + 1e-6
            pts = np.stack([px_ / r, head.cy + (py_ - head.cy) / r, head.cz + (pz_ - head.cz) / r],
                           axis=1)
            nrm = np.stack([uu / axy, vv / head.ay, ww / head.az], axis=1)
            nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-9)
            g, grad = head.sulci.value_and_grad(pts)
            grad_t = grad - np.sum(grad * nrm, axis=1, keepdims=True) * nrm
            gn = np.linalg.norm(grad_t, axis=1) / r
            dl = np.abs(g) / np.maximum(gn, 1e-3)
            dd = d[idx]
            dep = depth[idx[1], idx[2]]
            w_s = 0.35 + 0.5 * head.atrophy + 0.6 * np.clip(1.0 - dd / dep, 0.0, 1.0)
            sul = (dl < w_s) & (dd < dep)
            ds = np.sqrt(np.maximum(dl - w_s, 0.0) ** 2 + np.maximum(dd - dep, 0.0) ** 2)
            csf_in[idx] = sul
            dist_csf[idx] = np.minimum(dist_csf[idx], ds)

        # interhemispheric fissure above the corpus callosum / tentorium
        zt = head.tentorium_z(xh, yh)
        below_tent = zh < zt
        fiss = ((zh > head.cc_z(yh) + 1.0) & ~below_tent) & brain
        wf = 0.8 + 1.0 * head.atrophy
        dfis = np.abs(xh) - wf
        csf_in |= fiss & (dfis < 0)
        dist_csf = np.where(fiss, np.minimum(dist_csf, np.maximum(dfis, 0.0)), dist_csf)

        # cisterns and clefts: Sylvian stem, insular cistern, suprasellar, ambient, tentorium
        ax_ = np.abs(xh)
        w_ins = 0.7 + 0.8 * head.atrophy
        sdfs = [
            _box_sdf(ax_ + 0.012 * (yh - 2.0) ** 2 + 0.01 * (zh - 3.0) ** 2, yh, zh,
                     (head.x_insula, 2.0, 3.0), (w_ins, 19.0, 13.0)),
            _box_sdf(ax_, yh - (4.0 - 0.35 * (ax_ - head.x_insula)), zh,
                     (head.x_insula + 20.0, 0.0, -4.0), (20.0, 1.0 + 0.6 * head.atrophy, 8.0)),
            _box_sdf(xh, yh, zh, (0.0, -3.0, -11.5), (13.0, 5.0, 1.0)) - 3.5,
        ]
        mb = head.midbrain(xh, yh, zh)
        sdfs.append(np.abs(mb - 1.25) - 1.25)  # ambient cistern ring, 2.5 mm
        tent_d = np.abs(zh - zt) * 0.9
        sdfs.append(np.where(np.isfinite(zt), tent_d - 1.0, np.inf))
        for sd in sdfs:
            csf_in |= brain & (sd < 0)
            dist_csf = np.where(brain, np.minimum(dist_csf, np.maximum(sd, 0.0)), dist_csf)

        gm = brain & ~csf_in & (dist_csf < ribbon[None])
        wm = brain & ~csf_in & ~gm
        lab[gm] = GM
        lab[wm] = WM
        deep = brain & head.deep_gm(xh, yh, zh) & ~csf_in
        lab[deep] = GM
        lab[brain & (mb < 0)] = WM  # midbrain: no cortical ribbon
        lab[brain & head.ventricles(xh, yh, zh)] = CSF
        falx = fiss & (np.abs(xh) < 0.35) & (zh > head.cc_z(yh) + 6.0)
        lab[falx] = DURA
        lab[brain & (tent_d < 0.5)] = DURA

        hu[...] = base_hu[lab]
        tab_in = 1.0 + 0.3 * _unit(head.f_scalp(xh2, -yh2, zc))[None]
        bone_hu = np.where((q < tab_in) | (q > t_sk - 1.5), head.table_hu,
                           head.diploe_hu + 120.0 * head.f_ribbon(-xh2, yh2, zc)[None])
        hu = np.where(bone, bone_hu, hu).astype(np.float32)

        # vessels (scanner coordinates), soft edge of one sub-voxel
        vfrac = np.zeros((3,) + shp, dtype=np.float32)
        zlo, zhi = float(zw.min()), float(zw.max())
        for a, b, rad, cls in segs:
            pad = rad + h_sub
            if min(a[2], b[2]) - pad > zhi or max(a[2], b[2]) + pad < zlo:
                continue
            i0 = int(np.searchsorted(ys, min(a[1], b[1]) - pad))
            i1 = int(np.searchsorted(ys, max(a[1], b[1]) + pad))
            j0 = int(np.searchsorted(xs, min(a[0], b[0]) - pad))
            j1 = int(np.searchsorted(xs, max(a[0], b[0]) + pad))
            if i1 <= i0 or j1 <= j0:
                continue
            ab = b - a
            px = xs[j0:j1][None, None, :] - a[0]
            py = ys[i0:i1][None, :, None] - a[1]
            pz = zw[:, None, None] - a[2]
            t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / float(ab @ ab), 0.0, 1.0)
            dist = np.sqrt((px - t * ab[0]) ** 2 + (py - t * ab[1]) ** 2 + (pz - t * ab[2]) ** 2)
            f = np.clip((rad - dist) / h_sub + 0.5, 0.0, 1.0)
            sl = vfrac[cls - ARTERY, :, i0:i1, j0:j1]
            np.maximum(sl, f, out=sl)
        vtot = vfrac.sum(axis=0)
        over = vtot > 1.0
        vfrac[:, over] /= vtot[over]
        vtot = np.minimum(vtot, 1.0)
        rest = 1.0 - vtot

        def pool(a: Arr) -> Arr:
            return np.asarray(a.reshape(kz, ny_out, ky, nx_out, kx).mean(axis=(0, 2, 4)))

        for c in range(N_LABELS):
            fractions[c, iz] = pool((lab == c) * rest)
        for c in range(3):
            fractions[ARTERY + c, iz] = pool(vfrac[c])
        static[iz] = pool(hu * rest + vtot * head.blood_hu)
    return fractions, static


# --------------------------------------------------------------------------------------------
# arterial input and vascular curves


def _parker_aif(rng: np.random.Generator, t: Arr, arrival: float, peak: float,
                stretch: float) -> Arr:
    """Parker et al. (2006) population AIF, time-stretched, shifted to ``arrival``, in HU."""
    a1, a2 = 0.809, 0.330 * rng.uniform(0.8, 1.25)
    t1, t2 = 0.17046, 0.365
    s1, s2 = 0.0563, 0.132
    alpha, beta = 1.050 * rng.uniform(0.7, 1.3), 0.1685
    sg, tau = 38.078, 0.483
    t0 = t1 - 3.0 * s1  # onset in Parker's time (min)
    tp = (t - arrival) / (60.0 * stretch) + t0
    c = (a1 / (s1 * math.sqrt(2 * math.pi)) * np.exp(-((tp - t1) ** 2) / (2 * s1 * s1))
         + a2 / (s2 * math.sqrt(2 * math.pi)) * np.exp(-((tp - t2) ** 2) / (2 * s2 * s2))
         + alpha * np.exp(-beta * tp) / (1.0 + np.exp(-sg * (tp - tau))))
    c = c * _smoothstep((t - arrival) / 1.5)
    c = np.where(t >= arrival, c, 0.0)
    return np.asarray(c * (peak / float(c.max())), dtype=np.float64)


def _gamma_kernel(t: Arr, mean: float, shape: float) -> Arr:
    theta = mean / shape
    k = np.where(t > 0, (t / theta) ** (shape - 1) * np.exp(-t / theta), 0.0)
    return np.asarray(k / max(float(k.sum()), 1e-12), dtype=np.float64)


def _delayed_dispersed(aif: Arr, kernel: Arr, delay_s: float, gain: float) -> Arr:
    conv = np.convolve(aif, kernel)[: aif.size]
    shift = delay_s / _DT
    idx = np.arange(aif.size) - shift
    return np.asarray(gain * np.interp(idx, np.arange(aif.size), conv, left=0.0))


def _residue_integral(residue: str, t: Arr, mtt: Arr) -> Arr:
    """Integral of R from 0 to t for each MTT (rows) and time (columns)."""
    tt = t[None, :]
    m = mtt[:, None]
    if residue == "exponential":
        return np.asarray(m * (1.0 - np.exp(-tt / m)))
    if residue == "box":
        return np.asarray(np.minimum(tt, m))
    theta = m / 3.0
    x = tt / theta
    p3 = np.asarray(special.gammainc(3.0, x))
    p4 = np.asarray(special.gammainc(4.0, x))
    return np.asarray(tt * (1.0 - p3) + m * p4)


class _CurveTable:
    """(AIF convolved with R_MTT)(t) on a log-MTT x fine-time grid; bilinear look-up."""

    def __init__(self, residue: str, aif: Arr) -> None:
        n = aif.size
        self.mtt = np.exp(np.linspace(math.log(0.25), math.log(150.0), 220))
        self.lmin = math.log(0.25)
        self.dl = (math.log(150.0) - self.lmin) / (self.mtt.size - 1)
        edges = np.arange(n + 1) * _DT
        rbar = np.diff(_residue_integral(residue, edges, self.mtt), axis=1) / _DT
        nfft = 1 << int(math.ceil(math.log2(2 * n)))
        spec = np.fft.rfft(aif, nfft)[None, :] * np.fft.rfft(rbar, nfft, axis=1)
        self.table = np.fft.irfft(spec, nfft, axis=1)[:, :n] * _DT
        self.n = n

    def lookup(self, mtt: Arr, delay: Arr, times: Arr) -> Arr:
        """(N, T) values of (AIF (x) R)(t - delay)."""
        fm = np.clip((np.log(mtt) - self.lmin) / self.dl, 0.0, self.mtt.size - 1.000001)
        m0 = fm.astype(np.int64)
        wm = (fm - m0)[:, None]
        ft = np.clip((times[None, :] - delay[:, None]) / _DT, 0.0, self.n - 1.000001)
        t0 = ft.astype(np.int64)
        wt = ft - t0
        flat = self.table.ravel()
        base0 = (m0 * self.n)[:, None] + t0
        base1 = base0 + self.n
        return np.asarray((1 - wm) * ((1 - wt) * flat[base0] + wt * flat[base0 + 1])
                          + wm * ((1 - wt) * flat[base1] + wt * flat[base1 + 1]))


# --------------------------------------------------------------------------------------------
# noise


def _ct_noise(rng: np.random.Generator, n_frames: int, shape: tuple[int, int, int],
              sigma: float, cutoff: float, out: Arr) -> None:
    """Add FBP-textured noise of per-voxel standard deviation ``sigma`` to ``out`` in place."""
    _, ny, nx = shape

    def nps(fy: Arr, fx: Arr) -> Arr:
        f = np.sqrt(fy * fy + fx * fx)
        apod = np.where(f < cutoff, 0.5 * (1.0 + np.cos(np.pi * f / cutoff)), 0.0)
        return np.asarray((f + 0.02) * apod)

    fy_full, fx_full = np.meshgrid(np.fft.fftfreq(ny), np.fft.fftfreq(nx), indexing="ij")
    norm = math.sqrt(float(nps(fy_full, fx_full).mean()))
    fy_h, fx_h = np.meshgrid(np.fft.fftfreq(ny), np.fft.rfftfreq(nx), indexing="ij")
    filt = (np.sqrt(nps(fy_h, fx_h)) / norm * sigma).astype(np.float32)
    for t in range(n_frames):
        white = rng.standard_normal(shape, dtype=np.float32)
        out[t] += np.fft.irfft2(np.fft.rfft2(white) * filt, s=(ny, nx)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# territories and the lesion


def _territories(head: _Head, px: Arr, py: Arr, pz: Arr, n_a: Arr, n_p: Arr) -> Arr:
    """1 ACA, 2 MCA, 3 PCA for every voxel centre (head coordinates)."""
    ax_ = np.abs(px)
    phi_ant = np.degrees(np.arctan2(ax_, -(py + 20.0)))  # about a point 20 mm ahead
    phi_post = np.degrees(np.arctan2(ax_, -(py - 8.0)))  # about a point 8 mm behind
    phi_a = 22.0 + 6.0 * np.clip((pz - 10.0) / 45.0, 0.0, 1.0) + 7.0 * n_a
    phi_p = 135.0 + 20.0 * np.clip((pz + 10.0) / 70.0, 0.0, 1.0) + 9.0 * n_p
    terr = np.full(px.shape, 2, dtype=np.int8)
    terr[(phi_ant < phi_a) & (py < -20.0)] = 1
    terr[phi_post > phi_p] = 3
    w_a = 12.0 + 0.35 * np.maximum(pz - 25.0, 0.0) + 3.0 * n_a
    terr[(pz > 25.0) & (ax_ < w_a) & (py < 25.0)] = 1
    terr[(ax_ < 14.0 + 2.0 * n_p) & (py > 30.0) & (pz < 45.0)] = 3
    terr[(ax_ < 7.0) & (py < 8.0)] = 1
    terr[(ax_ < 7.0) & (py >= 8.0)] = 3
    terr[head.thalamus(px, py, pz)] = 3
    terr[head.midbrain(px, py, pz) < 2.0] = 3
    terr[pz < head.tentorium_z(px, py)] = 3
    return terr


def _interp(x: Arr, xp: list[float], fp: list[float]) -> Arr:
    return np.asarray(np.interp(x, xp, fp))


# --------------------------------------------------------------------------------------------
# the case


def make_case(*, residue: str = "exponential", noise_hu: float = 10.0, seed: int = 0,
              interval_s: float = 1.5, n_frames: int = 40, lesion: bool = True,
              shape: tuple[int, int, int] = (16, 128, 128),
              spacing: tuple[float, float, float] = (5.0, 1.5, 1.5)) -> CtpCase:
    """Render one CTP case. Anatomy, physiology, lesion and noise use separate random streams of
    ``seed``: the same seed with ``lesion=False`` or another ``noise_hu`` or ``residue`` gives the
    same head."""
    if residue not in RESIDUES:
        raise ValueError(f"residue must be one of {RESIDUES}, not {residue!r}")
    if noise_hu < 0 or interval_s <= 0 or n_frames < 2 or seed < 0:
        raise ValueError("noise_hu >= 0, interval_s > 0, n_frames >= 2 and seed >= 0 required")
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    r_anat, r_phys, r_les, r_noise, r_field = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))

    head = _draw_head(r_anat)

    # -- lesion parameters (always drawn, so the stream does not depend on ``lesion``) --
    side_sign = 1 if r_les.random() < 0.5 else -1
    occl_frac = float(r_les.uniform(0.25, 0.65))
    les_ext = float(r_les.uniform(0.0, 15.0))
    les_len = float(r_les.uniform(10.0, 22.0))
    les_dmax = float(r_les.uniform(8.0, 14.0))
    oli_4 = float(r_les.uniform(0.88, 0.97))
    oli_6 = float(r_les.uniform(0.70, 0.80))
    pen_min = float(r_les.uniform(0.30, 0.50))
    cbv_pen = float(r_les.uniform(1.0, 1.3))
    cbv_pen_end = float(r_les.uniform(1.0, 1.2))
    core_cbf = float(r_les.uniform(0.05, 0.25))
    core_cbv = float(r_les.uniform(0.30, 0.60))
    core_ml_target = float(math.exp(r_les.uniform(math.log(5.0), math.log(70.0))))
    core_edge = float(r_les.uniform(2.0, 6.0))
    core_kind = ("deep", "cortical", "insular")[int(r_les.integers(0, 3))]
    core_aniso = r_les.uniform([1.0, 0.8, 0.7], [1.0, 1.5, 1.2])
    core_irreg = float(r_les.uniform(4.0, 8.0))
    coll_gain = float(r_les.uniform(0.25, 0.55))
    coll_delay_frac = float(r_les.uniform(0.45, 0.7))
    lesion_sign = side_sign if lesion else 0

    vessels = _vessel_tree(head, r_anat, lesion_sign, occl_frac)
    slab = shape[0] * spacing[0]
    z_bottom = 25.0 - slab / 2.0
    fr, static = _render_anatomy(head, vessels, shape, spacing, z_bottom)

    # -- voxel centres in head coordinates --
    nz, ny, nx = shape
    zc = z_bottom + (np.arange(nz) + 0.5) * spacing[0]
    yc = (np.arange(ny) + 0.5 - ny / 2.0) * spacing[1]
    xc = (np.arange(nx) + 0.5 - nx / 2.0) * spacing[2]
    zw3, yw3, xw3 = np.meshgrid(zc, yc, xc, indexing="ij")
    px, py = head.to_head(xw3, yw3)
    pz = (zw3 - head.offset[2]) / head.scale

    # -- physiology --
    cbf_gm0 = float(r_phys.uniform(45.0, 65.0))
    cbv_gm0 = float(r_phys.uniform(3.5, 5.0))
    cbf_wm0 = float(r_phys.uniform(18.0, 26.0))
    cbv_wm0 = float(r_phys.uniform(1.5, 2.6))
    het = float(r_phys.uniform(0.10, 0.15))
    arrival = float(r_phys.uniform(4.0, 10.0))
    peak = float(r_phys.uniform(250.0, 600.0))
    stretch = float(r_phys.uniform(1.0, 1.6))
    vof_ratio = float(r_phys.uniform(1.2, 1.8))
    vof_delay = float(r_phys.uniform(4.0, 7.0))
    vof_mean = float(r_phys.uniform(3.0, 5.0))
    delay_base = float(r_phys.uniform(0.0, 0.5))
    noise_cut = float(r_phys.uniform(0.4, 0.6))

    n1 = _smooth_noise(r_field, shape, spacing, 8.0)
    n2 = _smooth_noise(r_field, shape, spacing, 8.0)
    n3 = _smooth_noise(r_field, shape, spacing, 12.0)
    n_a = _smooth_noise(r_field, shape, spacing, 10.0)
    n_p = _smooth_noise(r_field, shape, spacing, 10.0)
    n_ext = _smooth_noise(r_field, shape, spacing, 8.0)
    n_core = _smooth_noise(r_field, shape, spacing, 5.0)

    h_cbf = np.clip(het * n1, -0.2, 0.2)
    h_cbv = np.clip(het * (0.6 * n1 + 0.8 * n2), -0.2, 0.2)
    terr = _territories(head, px, py, pz, n_a, n_p)
    left = px > 0
    d_gm = np.clip(delay_base + 0.6 * _unit(n3) + 0.3 * (terr == 3), 0.0, 1.3)
    d_wm = np.minimum(d_gm + 0.3, 1.5)

    f_tis = fr[GM] + fr[WM]
    f_ves = fr[ARTERY] + fr[COLLATERAL] + fr[VEIN]
    paren = (f_tis >= 0.5) & (f_ves < 0.25)

    # -- lesion fields: delay, CBF and CBV multipliers, core weight --
    cbf_mult = np.ones(shape)
    cbv_mult = np.ones(shape)
    les_delay = np.zeros(shape)
    core_w = np.zeros(shape)
    coll_delay = coll_delay_frac * les_dmax
    if lesion:
        ipsi = left if side_sign > 0 else ~left
        src = ipsi & ((terr == 1) | (terr == 3))
        dist = np.asarray(ndimage.distance_transform_edt(~src, sampling=spacing))
        lent = head.nuclei["lentiform"][0]
        bump = np.exp(-((px - side_sign * lent[0]) ** 2 + (py - lent[1]) ** 2
                        + (pz - lent[2]) ** 2) / (2 * 14.0 ** 2))
        # the lenticulostriate bump lifts the deep MCA territory (end arteries, no collaterals)
        # but fades towards the ACA/PCA borders, so delay still ramps up from every border
        psi = dist - les_ext + 4.0 * n_ext + 0.9 * les_len * bump * _smoothstep(dist / 10.0)
        psi = np.where(ipsi & (terr == 2), psi, -np.inf)
        inner = 4.0 + (les_dmax - 4.0) * _smoothstep(psi / les_len)
        ramp = _smoothstep((psi + 3.0) / 3.0)
        les_delay = np.where(psi > 0, inner, 4.0 * ramp)
        dly = np.maximum(np.maximum(d_gm, les_delay), 0.0)
        xp = [2.0, 4.0, 6.0, max(les_dmax, 6.5)]
        cbf_mult = _interp(dly, xp, [1.0, oli_4, oli_6, pen_min])
        cbv_mult = _interp(dly, xp, [1.0, 1.0 + 0.3 * (cbv_pen - 1.0), cbv_pen, cbv_pen_end])
        # core: a smooth irregular blob thresholded to the target volume, delay > 6.5 s only
        if core_kind == "deep":
            c0 = np.array([side_sign * lent[0], lent[1], lent[2]]) + r_les.uniform(-4, 4, 3)
        elif core_kind == "insular":
            c0 = np.array([side_sign * (head.x_insula - 2.0), 2.0, 6.0]) + r_les.uniform(-4, 4, 3)
        else:
            cand = np.nonzero(paren & ipsi & (fr[GM] > 0.4) & (les_delay > les_dmax - 1.5))
            if cand[0].size:
                k = int(r_les.integers(0, cand[0].size))
                c0 = np.array([px[cand][k], py[cand][k], pz[cand][k]])
            else:
                c0 = np.array([side_sign * 45.0, 5.0, 20.0])
        rad = np.sqrt(((px - c0[0]) / core_aniso[0]) ** 2 + ((py - c0[1]) / core_aniso[1]) ** 2
                      + ((pz - c0[2]) / core_aniso[2]) ** 2)
        fcore = -rad + core_irreg * n_core
        allowed = _smoothstep((les_delay - 6.3) / 1.7)
        eligible = paren & (allowed > 0.5)
        vox_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
        n_target = max(1, int(round(core_ml_target / vox_ml)))
        vals = np.sort(fcore[eligible])[::-1]
        if vals.size:
            thr = float(vals[min(n_target, vals.size) - 1])
            core_w = _smoothstep((fcore - thr) / core_edge + 0.5) * allowed
        cbf_mult = (1 - core_w) * cbf_mult + core_w * core_cbf
        cbv_mult = (1 - core_w) * cbv_mult + core_w * core_cbv

    dly_gm = np.maximum(d_gm, les_delay)
    dly_wm = np.maximum(d_wm, les_delay)
    cbf_g = cbf_gm0 * (1 + h_cbf) * cbf_mult
    cbf_w = cbf_wm0 * (1 + h_cbf) * cbf_mult
    cbv_g = cbv_gm0 * (1 + h_cbv) * cbv_mult
    cbv_w = cbv_wm0 * (1 + h_cbv) * cbv_mult

    def tissue_mean(a_g: Arr, a_w: Arr) -> Arr:
        return np.asarray((fr[GM] * a_g + fr[WM] * a_w) / np.maximum(f_tis, 1e-6))

    vox_delay = tissue_mean(dly_gm, dly_wm)
    contra = (~left if side_sign > 0 else left) if lesion else np.ones(shape, dtype=bool)
    ref = paren & contra & (vox_delay < 4.0)

    def normal_cbf() -> float:
        return float(tissue_mean(cbf_g, cbf_w)[ref].mean()) if ref.any() else cbf_gm0

    # Outside the core blob CBF stays above 0.35 x normal_cbf (this also keeps hypoperfused white
    # matter, whose normal CBF is low, out of the core); core_w is 0 wherever delay <= 6.3 s.
    ncbf0 = normal_cbf()
    floor = 0.35 * ncbf0 * (1.0 - core_w)
    cbf_g = np.maximum(cbf_g, floor)
    cbf_w = np.maximum(cbf_w, floor)
    ncbf = normal_cbf()

    # -- curves --
    times = np.arange(n_frames, dtype=np.float64) * interval_s
    # the fine grid reaches past the bolus even for short series (the AIF is scaled to its peak)
    n_fine = int(math.ceil(max(times[-1], arrival + 60.0) / _DT)) + 2
    tf = np.arange(n_fine) * _DT
    aif = _parker_aif(r_phys, tf, arrival, peak, stretch)
    kern_t = np.arange(int(30.0 / _DT)) * _DT
    coll = _delayed_dispersed(aif, _gamma_kernel(kern_t, 3.0, 2.0), coll_delay, coll_gain)
    vof = _delayed_dispersed(aif, _gamma_kernel(kern_t, vof_mean, 3.0), vof_delay, 1.0)
    vof *= vof_ratio * peak / max(float(vof.max()), 1e-9)
    table = _CurveTable(residue, aif)
    k_hu = RHO / K_H / 6000.0

    n_vox = nz * ny * nx
    enh = np.zeros((n_frames, n_vox), dtype=np.float32)
    for cls, cbf, cbv, dly in ((GM, cbf_g, cbv_g, dly_gm), (WM, cbf_w, cbv_w, dly_wm)):
        frac = fr[cls].ravel()
        idx = np.nonzero(frac > 1e-4)[0]
        cbf_r, cbv_r, dly_r = cbf.ravel(), cbv.ravel(), dly.ravel()
        for start in range(0, idx.size, 40000):
            ii = idx[start:start + 40000]
            mtt = 60.0 * cbv_r[ii] / cbf_r[ii]
            vals = table.lookup(mtt, dly_r[ii], times)
            enh[:, ii] += ((k_hu * cbf_r[ii] * frac[ii])[:, None] * vals).T.astype(np.float32)
    for cls, curve in ((ARTERY, aif), (COLLATERAL, coll), (VEIN, vof)):
        frac = fr[cls].ravel()
        ii = np.nonzero(frac > 1e-4)[0]
        at_frames = np.interp(times, tf, curve).astype(np.float32)
        enh[:, ii] += at_frames[:, None] * frac[ii][None, :]

    frames = static.reshape(1, n_vox) + enh
    frames4 = frames.reshape((n_frames,) + shape)
    if noise_hu > 0:
        _ct_noise(r_noise, n_frames, shape, noise_hu, noise_cut, frames4)

    # -- truth maps --
    cbf_v = tissue_mean(cbf_g, cbf_w)
    cbv_v = tissue_mean(cbv_g, cbv_w)
    nan = np.float32(np.nan)
    cbf_map = np.where(paren, cbf_v, nan).astype(np.float32)
    tmax_map = np.where(paren, vox_delay, nan).astype(np.float32)
    # masks from the published float32 maps, so that they agree with them exactly
    core = paren & (cbf_map < 0.3 * ncbf)
    tmax6 = paren & (tmax_map > 6.0)
    tmax4 = paren & (tmax_map > 4.0)
    vox_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    territory = np.where(left, terr + 3, terr).astype(np.int8)
    territory[f_tis + fr[CSF] < 0.5] = 0
    maps: dict[str, np.ndarray] = {
        "cbf": cbf_map,
        "cbv": np.where(paren, cbv_v, nan).astype(np.float32),
        "mtt": np.where(paren, 60.0 * cbv_v / np.maximum(cbf_v, 1e-6), nan).astype(np.float32),
        "tmax": tmax_map,
        "core": core,
        "tmax6": tmax6,
        "tmax4": tmax4,
        "parenchyma": paren,
        "territory": territory,
        "frac_gm": fr[GM].copy(),
        "frac_wm": fr[WM].copy(),
        "frac_csf": fr[CSF].copy(),
        "frac_artery": fr[ARTERY].copy(),
        "frac_collateral": fr[COLLATERAL].copy(),
        "frac_vein": fr[VEIN].copy(),
        "frac_bone": fr[BONE].copy(),
        "frac_air": fr[AIR].copy(),
    }
    art_idx = np.unravel_index(int(np.argmax(np.where(left if side_sign < 0 else ~left,
                                                      fr[ARTERY], 0.0))), shape)
    ven_idx = np.unravel_index(int(np.argmax(fr[VEIN])), shape)
    truth: dict[str, Any] = {
        "family": FAMILY,
        "seed": int(seed),
        "residue": residue,
        "noise_hu": float(noise_hu),
        "lesion": bool(lesion),
        "side": ("left" if side_sign > 0 else "right") if lesion else "none",
        "core_ml": float(core.sum() * vox_ml),
        "tmax6_ml": float(tmax6.sum() * vox_ml),
        "tmax4_ml": float(tmax4.sum() * vox_ml),
        "normal_cbf": ncbf,
        "parenchyma_ml": float(paren.sum() * vox_ml),
        "shape": list(shape),
        "spacing": list(spacing),
        "interval_s": float(interval_s),
        "n_frames": int(n_frames),
        "rho": RHO,
        "k_h": K_H,
        "aif": {"model": "Parker 2006, stretched", "arrival_s": arrival, "peak_hu": peak,
                "stretch": stretch, "hu_at_frames": [float(v) for v in np.interp(times, tf, aif)]},
        "vof": {"peak_hu": float(vof.max()), "delay_s": vof_delay, "transit_mean_s": vof_mean},
        "artery_voxel": [int(i) for i in art_idx],
        "vein_voxel": [int(i) for i in ven_idx],
        "normal": {"cbf_gm": cbf_gm0, "cbv_gm": cbv_gm0, "cbf_wm": cbf_wm0, "cbv_wm": cbv_wm0,
                   "heterogeneity": het},
        "pose": {"scale": head.scale, "rotation_deg": math.degrees(head.theta),
                 "offset_mm": list(head.offset)},
        "atrophy": head.atrophy,
    }
    if lesion:
        truth["stroke"] = {
            "occlusion": "M1", "occlusion_fraction": occl_frac, "extent_margin_mm": les_ext,
            "ramp_mm": les_len, "max_delay_s": les_dmax, "core_kind": core_kind,
            "core_target_ml": core_ml_target, "core_edge_mm": core_edge,
            "core_cbf_fraction": core_cbf, "core_cbv_fraction": core_cbv,
            "penumbra_min_cbf_fraction": pen_min, "collateral_gain": coll_gain,
            "collateral_delay_s": coll_delay,
        }
    return CtpCase(frames=frames4, times=times, spacing=spacing, truth=truth, maps=maps)
