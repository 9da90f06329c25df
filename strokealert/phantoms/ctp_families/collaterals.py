"""CT perfusion phantom family "collaterals": a large-vessel occlusion whose perfusion deficit is
shaped by the leptomeningeal collateral supply rather than painted territory by territory.

Written from a description of the collateral view of acute ischaemic stroke (Liebeskind's reviews of
the collateral circulation; the Tan and ASITN/SIR collateral grades; the core / penumbra conventions
used by Campbell and Lansberg: relative CBF < 30 % for the ischaemic core, Tmax > 6 s for critically
hypoperfused tissue), the indicator-dilution theory of Meier and Zierler and its CT form by Axel
(central volume principle CBV = CBF x MTT; tissue curve = CBF x AIF (x) residue), Ostergaard's
residue-function / Tmax conventions, and textbook descriptions of filtered back-projection noise
(Kak and Slaney; Hanson's noise power spectra). No code was copied from anywhere.

Axes and pose
-------------
Volumes are (z, y, x): x towards the patient's LEFT, y towards posterior, z inferior to superior.
Anatomy lives in head coordinates (u = left, v = posterior, w = superior, mm; w = 0 near the middle
of the basal ganglia). The image grid is mapped into them by a random in-plane rotation (+-8 deg)
and translation (+-4 mm), a gantry-like pitch of 3-12 deg of either sign (the orbitomeatal tilt:
anatomy drifts from slice to slice) and a roll of +-2 deg. The slab starts 14-20 mm below w = 0
(supraclinoid ICAs, M1s and the suprasellar cistern in the lowest slices); 16 x 5 mm reach the
centrum semiovale.

Head
----
* Cranium: an egg-shaped super-ellipsoidal inner skull surface (wider posteriorly, low-order
  harmonic asymmetry, narrowing towards the vertex). Inner table, diploe and outer table (5-7 mm,
  30 % thicker occipitally) are offset surfaces of it; scalp 3.5-6 mm; air outside.
* Brain: subarachnoid CSF under the inner table (0.6-3.2 mm, a smooth random field), a cortical
  ribbon of 2.5-4 mm following the surface, and sulci cut in as thin CSF clefts (half-width
  0.6-1 mm) along the zero set of a band-limited random field on the cortical surface (gyral period
  20-26 mm), 6-14 mm deep, bending with depth and lined by grey matter on both sides; white matter
  inside. Interhemispheric fissure with medial cortex (interrupted by the corpus callosum), curved
  insular cortex with the insular cistern, an oblique Sylvian fissure (running anterolaterally from
  the insula, rising posteriorly) lined by opercular cortex; lateral ventricles (frontal horns,
  bodies, atria, occipital and temporal horns, scaled by an atrophy factor 0.8-1.4) and third
  ventricle; caudate, lentiform nucleus and thalamus as deep grey nuclei; suprasellar and
  quadrigeminal cisterns; midbrain in the lowest slices.
* Partial volume: each voxel is sampled on a 2 x 2 in-plane sub-grid and at max(2, ceil(dz / 1.5))
  sub-slices (4 for 5 mm) and class fractions are sample averages; vessels are tapered tubes with a
  soft edge one sub-sample wide. A voxel's tissue fractions are reduced by its vessel fraction.

Normal perfusion
----------------
Grey matter CBF 45-63.6 mL/100 g/min, CBV 3.5-5 mL/100 g; white matter CBF 20-28, CBV 1.6-2.6. Grey
matter is drawn with WM/GM CBF >= 0.44 (trimming the top of the 45-70 range) so that no normal
voxel, partial-volume ones included, reaches 30 % of the normal mean (checked over 300 seeds: the
lowest normal voxel sits at >= 0.33 x normal_cbf). Deep nuclei: 0.9-1.05 x grey-matter CBF and CBV
(same MTT). A smooth random field (about 6 mm correlation, clipped to +-10 %) modulates CBF and a
partly correlated one CBV. A voxel holding grey and white matter carries the fraction-weighted sum
of the two tissues' curves, so its effective residue is bi-modal in transit time. Territories: ACA
(a medial strip 14-32 mm wide, widening superiorly, from the frontal pole to the parieto-occipital
region), PCA (occipital lobe, thalamus, midbrain) and MCA (the rest, including the insula and the
lenticulostriate territory: lentiform nucleus, internal capsule, caudate body). Their borders are
irregular (smooth random fields) and blend over about 4 mm; the watershed zones and the posterior
circulation get up to about 1.3 s of extra arrival delay on top of a per-case 0-0.6 s (all < 2 s).

Occlusion and collaterals
-------------------------
Site (ICA terminus 20 %, M1 45 %, M2 superior division 20 %, M2 inferior division 15 %), side
(left / right, 50 % each) and collateral grade (good 35 %, intermediate 40 %, poor 25 %) are drawn.
The territory downstream of the occlusion is fed only retrogradely from the ipsilateral territories
that are not affected (ACA and PCA; for an M2 also the other MCA division). The collateral path
length L of a voxel is the distance, on a 3 mm head grid, from the nearest source territory to the
cortical surface point radially above it (the pial route) plus 0.4-0.7 x its depth below the cortex
(the medullary route inward), with 8 % smooth irregularity. Relative CBF falls with L as
r(L) = r_min + (r_bz - r_min) exp(-L / lambda) with grade-ordered parameters (good: r_bz 0.85-0.95,
lambda 45-75 mm, r_min 0.5-0.6, mostly penumbra; intermediate: 0.75-0.88, 22-40 mm, 0.18-0.32;
poor: 0.65-0.8, 13-24 mm, 0.04-0.14, a large core). One uniform draw per parameter is mapped into
the grade's range, so for a given seed a poorer grade has a lower r at every L and its core contains
the better grade's core. The delay rises concavely with L from 2-5.5 s at the borderzone (1 s more
behind an ICA-terminus clot) to 8-15 s deep, poorer grades later. CBV follows autoregulation: for
r above a threshold r0 (0.25-0.35) CBV is raised by up to 5-35 % (most with good collaterals,
nothing at r = 1 or r = r0); below r0 it falls as (r / r0)^0.8. The lenticulostriate territory (end
arteries, no collateral supply) gets r 0.05-0.25 and a deep delay in ICA-terminus and proximal M1
occlusions (75 % of M1s), so it is the first core; distal M1 and M2 occlusions spare it. Behind an
ICA-terminus occlusion the ipsilateral ACA territory is fed across the anterior communicating
artery: delay 2.5-5 s, r 0.8-0.95. Each hemisphere's fields are kept to its side of the falx. No
bolus dispersion is modelled (it would make Tmax of the box residue ill-defined): a tissue's input
is the AIF delayed.

Input functions and vessels
---------------------------
AIF = first-pass gamma variate (arrival 4-10 s, rise to peak 3-7 s, shape 2-5: narrow to broad) plus
recirculation (the first pass convolved with a gamma kernel of mean 10-16 s, 20-35 % of its area)
plus a slowly washing-out equilibrium term (30-60 % of the area, decay 40-90 s), scaled to a 250-600
HU peak. Visible arteries (supraclinoid ICAs, M1s, Sylvian M2 branches, cortical M3/M4 branches,
A1s, A2s / pericallosal arteries in the interhemispheric fissure, PCAs) carry the AIF, with partial
volume; at 1.5 mm pixels the ICAs have voxels that are fully arterial (truth["aif_voxel"]). The
occluded artery and its downstream branches fill late (4-8 s) and weakly (15-45 %, dispersed by an
exponential of 2-4 s; a stagnant ICA below a terminus clot 5-15 %). Veins (superior sagittal sinus
along the inner table, straight sinus, vein of Galen, internal cerebral veins) carry the AIF
convolved with a gamma transit kernel, peaking 3-7 s after the arterial peak at 0.9-1.5 x its
height, so their area exceeds the AIF's (truth["aif"]["vof_area_ratio"]). Scalp enhances as a
low-flow tissue (CBF 6-10, CBV 1-1.5, no delay).

Tissue curves: dHU(t) = (rho / k_H) (CBF / 6000) (AIF (x) R)(t - delay) with rho = 1.04 g/mL,
k_H = 0.73, R(0) = 1, area(R) = MTT. Residues: "exponential" exp(-t / MTT); "gamma" 1 - CDF of a
gamma transit-time density with mean MTT and a per-case shape 2-5 (own random stream); "box" plug
flow. The convolutions are tabulated on a 0.05 s grid (trapezoidal, area exactly MTT) for MTT
0.5-30 s and read at each voxel's (MTT, delay) by bilinear interpolation.

CT physics and noise
--------------------
Baselines: GM 34-42 HU, WM 24-32 (>= 6 below GM), deep nuclei 0-3 below GM, CSF 0-12, bone tables
700-1500, diploe 35-55 % of that, scalp 10-40, blood 40-50, air -1000. Beam-hardening cupping
darkens the intracranial contents by 2-5 HU at the centre (a paraboloid, fixed over time). Noise,
new for each frame and slice: white noise filtered in the 2-D Fourier domain by f exp(-f^2 / 2 f0^2)
(a ramp times a smooth apodising window, peak f0 = 0.12-0.2 cycles/pixel: mid-frequency texture,
neighbouring pixels correlated about 0.4-0.7), multiplied by a map of the FBP noise level: the sd
at a pixel is proportional to sqrt(mean over 24 projection angles of exp(mu x chord length through
the head)) with mu 0.018-0.022 /mm and the head outline fitted as an ellipse per slice, so it is
highest in the centre (about 1.2 x the brain periphery). The map is scaled so that the RMS sd over
parenchyma equals ``noise_hu``. A global per-frame baseline jitter (sd 0.4 HU, clipped to +-1 HU,
both x noise_hu / 10) is added. No patient motion. ``noise_hu=0`` gives the noise-free frames of
the same case; the head, the lesion, the inputs and the noise pattern each have their own random
stream (SeedSequence(seed).spawn), so the same seed with another ``noise_hu`` or ``residue`` keeps
the same head and lesion.

Truth
-----
* parenchyma: brain-tissue (grey + white + deep grey) fraction >= 0.5 and no vessel in any
  sub-sample of the voxel.
* maps["cbf"], maps["cbv"]: per voxel, sum over its tissues of fraction x tissue value, which is
  exactly what its enhancement carries (partial volume with CSF lowers both). maps["tmax"]: the
  arrival delay of the voxel's input relative to the AIF shown by the arteries. Without dispersion
  every residue, mixed ones included, is maximal at t = 0 after the delay (the box's plateau starts
  there), so Tmax = delay. NaN outside parenchyma.
* normal_cbf: mean CBF of parenchyma in the hemisphere without the lesion (the whole brain when
  lesion=False) whose Tmax < 4 s; hemispheres split at the head's midsagittal plane.
* core = parenchyma with CBF < 0.3 x normal_cbf; tmax6 = parenchyma with Tmax > 6 s. Core is not a
  subset of tmax6 by construction: a voxel rich in CSF or white matter at the edge of the lesion can
  fall under the CBF threshold while its delay is still < 6 s. It is rare (typically < 0.1 mL, see
  truth["core_outside_tmax6_ml"]). Normal tissue is never core, so lesion=False gives no core.
* core_ml, tmax6_ml = voxel counts x voxel_ml (voxel_ml = product of the spacing / 1000).

``make_case`` also takes ``site_override`` / ``grade_override``, which force the occlusion site
or collateral grade and leave every other draw unchanged (tests, studies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, special

__all__ = ["RESIDUES", "SITES", "GRADES", "CtpCase", "make_case"]

FAMILY = "collaterals"
RESIDUES = ("exponential", "gamma", "box")
SITES = ("ica_t", "m1", "m2_superior", "m2_inferior")
GRADES = ("good", "intermediate", "poor")

RHO = 1.04  # g/mL
K_H = 0.73  # large-to-small-vessel haematocrit correction
CORE_REL = 0.3
TMAX_S = 6.0
NORMAL_TMAX_S = 4.0

_DT = 0.05  # s, fine time grid for the convolutions
_MTT_MIN, _MTT_MAX, _DM = 0.5, 30.0, 0.05
_GRID_MM = 3.0  # head grid for territories and the collateral path length
_GRID_LO = np.array([-82.5, -97.5, -46.5])
_GRID_N = (56, 66, 52)

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

# tissue labels at sub-sample level
_AIR, _SCALP, _BONE, _DIPLOE, _CSF, _GM, _WM, _DGM = range(8)
_N_LABELS = 8
_ART, _OCC, _VEIN = range(3)


@dataclass
class CtpCase:
    frames: NDArray[np.float32]  # (T, Z, Y, X) HU, absolute (baseline included)
    times: NDArray[np.float64]  # (T,) s from the first frame
    spacing: tuple[float, float, float]  # (z, y, x) mm
    truth: dict[str, Any]  # JSON-serialisable
    maps: dict[str, NDArray[Any]]  # "cbf", "cbv", "tmax" (float32, NaN outside parenchyma),
    # "core", "tmax6" (bool)


# --------------------------------------------------------------------------------------------
# random helpers


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * rng.random())


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: float | tuple[float, ...]
) -> F64:
    z = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    out: F64 = (z - z.mean()) / max(float(z.std()), 1e-12)
    return out


def _sigmoid(x: F64) -> F64:
    out: F64 = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


# --------------------------------------------------------------------------------------------
# anatomy parameters


@dataclass
class _Anatomy:
    a0: float  # inner skull half-width (mm)
    b0: float  # inner skull half-length (mm)
    egg: float
    harm: tuple[float, float, float, float]
    wc: float
    c_up: float
    c_low: float
    p_up: float
    t_skull: float
    t_scalp: float
    vent: float  # ventricle scale
    hw_fissure: float
    hw_sulcus: float
    u_insula: float
    falx_amp: float
    falx_phase: float
    # (theta, w) surface fields: 0 sulcal field, 1 |grad| (1/mm), 2 sulcal depth, 3 t_sas, 4 t_ctx,
    # 5 bend (how far a sulcus drifts sideways per mm of depth)
    surf: F64
    surf_theta_step: float
    surf_w0: float
    # pose
    yaw: float
    pitch: float
    roll: float
    shift: tuple[float, float]
    slab_bottom: float
    profiles: dict[float, F64] = field(default_factory=dict)


def _draw_anatomy(rng: np.random.Generator) -> _Anatomy:
    scale = _u(rng, 0.93, 1.04)
    a0 = 64.0 * scale * _u(rng, 0.96, 1.04)
    b0 = 77.0 * scale
    harm = (
        _u(rng, -0.02, 0.02),
        _u(rng, -0.015, 0.015),
        _u(rng, -0.015, 0.015),
        _u(rng, -0.01, 0.01),
    )
    # surface fields on a (theta, w) grid
    n_t, n_w = 512, 170
    r_mean = 0.5 * (a0 + b0)
    step_t = 2.0 * math.pi * r_mean / n_t  # mm of arc per theta sample
    white = rng.standard_normal((n_t, n_w))
    kt = np.fft.fftfreq(n_t, d=step_t)[:, None]
    kw = np.fft.fftfreq(n_w, d=1.0)[None, :]
    kk = np.sqrt(kt**2 + kw**2)
    k0 = 1.0 / _u(rng, 20.0, 26.0)
    filt = np.exp(-0.5 * ((kk - k0) / (0.35 * k0)) ** 2)
    field = np.real(np.fft.ifft2(np.fft.fft2(white) * filt))
    field /= field.std()
    g_t = (np.roll(field, -1, axis=0) - np.roll(field, 1, axis=0)) / (2.0 * step_t)
    g_w = (np.roll(field, -1, axis=1) - np.roll(field, 1, axis=1)) / 2.0
    grad = np.sqrt(g_t**2 + g_w**2)
    depth = 6.0 + 8.0 * _sigmoid(1.5 * _smooth_noise(rng, (n_t, n_w), (12.0, 10.0)))
    sas_mean = _u(rng, 1.0, 2.2)
    sas = np.clip(sas_mean + 0.5 * _smooth_noise(rng, (n_t, n_w), (15.0, 12.0)), 0.6, 3.2)
    ctx_mean = _u(rng, 2.8, 3.4)
    ctx = np.clip(ctx_mean + 0.35 * _smooth_noise(rng, (n_t, n_w), (15.0, 12.0)), 2.5, 4.0)
    bend = 0.6 * _smooth_noise(rng, (n_t, n_w), (10.0, 8.0))  # sulcal bending with depth
    surf = np.stack([field, grad, depth, sas, ctx, bend])
    pitch = _u(rng, 3.0, 12.0) * (1.0 if rng.random() < 0.5 else -1.0)
    return _Anatomy(
        a0=a0,
        b0=b0,
        egg=_u(rng, 0.04, 0.10),
        harm=harm,
        wc=-5.0,
        c_up=_u(rng, 78.0, 86.0),
        c_low=70.0,
        p_up=_u(rng, 2.4, 2.9),
        t_skull=_u(rng, 5.0, 7.0),
        t_scalp=_u(rng, 3.5, 6.0),
        vent=_u(rng, 0.8, 1.4),
        hw_fissure=_u(rng, 0.9, 1.8),
        hw_sulcus=_u(rng, 0.6, 1.0),
        u_insula=36.0 * a0 / 64.0,
        falx_amp=_u(rng, -2.0, 2.0),
        falx_phase=_u(rng, 0.0, 2.0 * math.pi),
        surf=surf,
        surf_theta_step=2.0 * math.pi / n_t,
        surf_w0=-50.0,
        yaw=_u(rng, -8.0, 8.0),
        pitch=pitch,
        roll=_u(rng, -2.0, 2.0),
        shift=(_u(rng, -4.0, 4.0), _u(rng, -4.0, 4.0)),
        slab_bottom=_u(rng, -20.0, -14.0),
    )


def _rotation(an: _Anatomy) -> F64:
    """Rotation taking image (x, y, z) offsets to head (u, v, w) offsets."""
    y, p, r = (math.radians(a) for a in (an.yaw, an.pitch, an.roll))
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    out: F64 = rz @ rx @ ry
    return out


# --------------------------------------------------------------------------------------------
# geometry of the cranium


def _inner_skull(
    an: _Anatomy, u: F64, v: F64, w: F64, inflate: float | F64 = 0.0
) -> tuple[F64, F64]:
    """Normalised radius rho (1 on the surface) and approximate depth below it (mm) of the inner
    skull surface, or of that surface inflated outwards by ``inflate`` mm (skull and scalp
    layers). The depth is a first-order estimate, good near the surface."""
    if isinstance(inflate, float | int):
        s, ds_s = _scale_profile(an, float(inflate), w)
    else:
        c = np.where(w >= an.wc, an.c_up + inflate, an.c_low + inflate)
        q = (w - an.wc) / c
        qa = np.minimum(np.abs(q), 0.9995)
        base = 1.0 - qa**an.p_up
        s = base ** (1.0 / an.p_up)
        ds_s = -(qa ** (an.p_up - 1.0)) * np.sign(q) / (c * base)
        s = np.where(np.abs(q) >= 0.9995, 0.0, s)
    above = s <= 0.0
    s = np.maximum(s, 1e-3)
    a = (an.a0 + inflate) * s * (1.0 + an.egg * np.clip(v / an.b0, -1.3, 1.3))
    b = (an.b0 + inflate) * s
    x = u / a
    y = v / b
    r0 = np.sqrt(x * x + y * y)
    rr = np.sqrt(u * u + v * v) + 1e-9
    ct = u / rr
    st = v / rr
    h = an.harm
    pert = 1.0 + h[0] * (ct * ct - st * st) + h[1] * 2.0 * ct * st
    pert = pert + h[2] * (4.0 * ct**3 - 3.0 * ct) + h[3] * (3.0 * st - 4.0 * st**3)
    rho = r0 * pert
    r0s = np.maximum(r0, 1e-6)
    gu = x / a / r0s
    gv = y / b / r0s
    gw = -r0 * ds_s
    grad = np.sqrt(gu * gu + gv * gv + gw * gw) * pert
    d_in = (1.0 - rho) / np.maximum(grad, 1e-6)
    rho = np.where(above, 10.0, rho)
    d_in = np.where(above, -100.0, d_in)
    return rho, d_in


def _scale_profile(an: _Anatomy, inflate: float, w: F64) -> tuple[F64, F64]:
    """Cranial scale s(w) (1 at the widest level, 0 above the vertex) and s'(w) / s, looked up
    in a fine table per inflation."""
    key = round(inflate, 6)
    tab = an.profiles.get(key)
    if tab is None:
        wg = np.arange(-150.0, 150.0, 0.05)
        c = np.where(wg >= an.wc, an.c_up + inflate, an.c_low + inflate)
        q = (wg - an.wc) / c
        qa = np.minimum(np.abs(q), 0.9995)
        base = 1.0 - qa**an.p_up
        sg = np.where(np.abs(q) >= 0.9995, 0.0, base ** (1.0 / an.p_up))
        dg = -(qa ** (an.p_up - 1.0)) * np.sign(q) / (c * base)
        tab = np.stack([wg, sg, dg])
        an.profiles[key] = tab
    return np.interp(w, tab[0], tab[1]), np.interp(w, tab[0], tab[2])


def _ellipsoid(
    u: F64, v: F64, w: F64, c: tuple[float, float, float], r: tuple[float, float, float]
) -> F64:
    out: F64 = ((u - c[0]) / r[0]) ** 2 + ((v - c[1]) / r[1]) ** 2 + ((w - c[2]) / r[2]) ** 2
    return out


def _ventricles(an: _Anatomy, ua: F64, v: F64, w: F64) -> B:
    k = an.vent
    m = _ellipsoid(ua, v, w, (3.0 + 5.0 * k, -2.0, 20.0), (5.0 * k, 25.0, 5.5 * k)) < 1
    m |= _ellipsoid(ua, v, w, (3.0 + 4.0 * k, -24.0, 12.0), (4.5 * k, 10.0, 7.5 * k)) < 1
    m |= _ellipsoid(ua, v, w, (8.0 + 6.0 * k, 24.0, 12.0), (5.5 * k, 9.0, 7.0 * k)) < 1
    m |= _ellipsoid(ua, v, w, (10.0 + 4.0 * k, 37.0, 10.0), (2.8 * k, 10.0, 4.0 * k)) < 1
    m |= _ellipsoid(ua, v, w, (27.0, 4.0, -14.0), (2.0 * k, 11.0, 2.5 * k)) < 1
    m &= ua > 1.0
    third = (ua < 1.6 * math.sqrt(k)) & ((((v - 4.0) / 10.0) ** 2 + ((w + 1.0) / 11.0) ** 2) < 1)
    out: B = m | third
    return out


def _deep_nuclei(an: _Anatomy, ua: F64, v: F64, w: F64) -> tuple[B, B, B]:
    k = an.vent
    caud = _ellipsoid(ua, v, w, (7.5 + 8.5 * k, -17.0, 11.0), (4.5, 11.0, 9.0)) < 1
    caud |= _ellipsoid(ua, v, w, (8.0 + 9.0 * k, 2.0, 21.0), (3.0, 14.0, 4.0)) < 1
    lent = _ellipsoid(ua, v, w, (23.0, -4.0, 2.0), (6.5, 16.0, 10.0)) < 1
    thal = _ellipsoid(ua, v, w, (10.0, 12.0, 4.0), (7.5, 13.0, 8.5)) < 1
    return caud, lent, thal


def _sample_surface(
    an: _Anatomy, u: F64, v: F64, w: F64, depth: F64 | None = None
) -> F64:
    """The surface fields at the (theta, w) of each point, shape (6, n); with ``depth`` the
    sampling point drifts sideways with depth so that sulci bend."""
    theta = np.arctan2(v, u)
    if depth is not None:
        first = _sample_surface(an, u, v, w)
        theta = theta + first[5] * depth / (0.5 * (an.a0 + an.b0))
    n_t = an.surf.shape[1]
    n_w = an.surf.shape[2]
    ft = np.mod(theta / an.surf_theta_step, n_t)
    fw = np.clip(w - an.surf_w0, 0.0, n_w - 1.001)
    i0 = np.floor(ft).astype(np.intp)
    at = ft - i0
    i0 %= n_t
    i1 = (i0 + 1) % n_t
    j0 = np.floor(fw).astype(np.intp)
    aw = fw - j0
    j1 = j0 + 1
    s = an.surf
    out: F64 = (1 - at) * ((1 - aw) * s[:, i0, j0] + aw * s[:, i0, j1]) + at * (
        (1 - aw) * s[:, i1, j0] + aw * s[:, i1, j1]
    )
    return out


def _labels(an: _Anatomy, u: F64, v: F64, w: F64) -> NDArray[np.uint8]:
    """Tissue label of each point (flat arrays in head coordinates)."""
    rho, d_in = _inner_skull(an, u, v, w)
    lab = np.full(u.shape, _AIR, dtype=np.uint8)
    outside = np.nonzero(rho >= 1.0)[0]
    if outside.size:
        uo, vo, wo = u[outside], v[outside], w[outside]
        t_sk = an.t_skull * (1.0 + 0.3 * np.clip(vo / an.b0, 0.0, 1.0))
        lo = np.full(outside.shape, _AIR, dtype=np.uint8)
        r_max, _dk = _inner_skull(an, uo, vo, wo, 1.3 * an.t_skull + an.t_scalp)
        cand = np.nonzero(r_max < 1.0)[0]
        r_k, _dk = _inner_skull(an, uo[cand], vo[cand], wo[cand], t_sk[cand] + an.t_scalp)
        shell = cand[r_k < 1.0]  # only these can be scalp or bone
        ls = np.full(shell.shape, _SCALP, dtype=np.uint8)
        us, vs, ws, ts = uo[shell], vo[shell], wo[shell], t_sk[shell]
        for frac_t, code in ((1.0, _BONE), (0.68, _DIPLOE), (0.28, _BONE)):
            r_k, _dk = _inner_skull(an, us, vs, ws, frac_t * ts)
            ls[r_k < 1.0] = code
        lo[shell] = ls
        lab[outside] = lo
    inside = d_in >= 0
    idx = np.nonzero(inside)[0]
    if idx.size == 0:
        return lab
    ui, vi, wi, di = u[idx], v[idx], w[idx], d_in[idx]
    ua = np.abs(ui)
    li = np.full(idx.shape, _WM, dtype=np.uint8)

    # convexity cortex and sulci
    near = np.nonzero(di < 24.0)[0]
    sf = _sample_surface(an, ui[near], vi[near], wi[near], di[near])
    dc = di[near] - sf[3]
    q = np.abs(sf[0]) / np.maximum(sf[1], 0.03)
    ln = li[near]
    gm = (dc < sf[4]) | ((dc < sf[2] + sf[4]) & (q < an.hw_sulcus + sf[4]))
    ln[gm] = _GM
    ln[(dc < sf[2]) & (q < an.hw_sulcus)] = _CSF
    ln[dc < 0] = _CSF
    li[near] = ln

    # interhemispheric fissure (not below the corpus callosum)
    u_mid = an.falx_amp * np.sin(vi / 45.0 + an.falx_phase)
    dm = np.abs(ui - u_mid)
    cc_top = 26.0 - 12.0 * (vi / 38.0) ** 2
    fiss = (np.abs(vi) >= 38.0) | (wi > cc_top + 1.0)
    li[fiss & (dm < an.hw_fissure + 3.0) & (li != _CSF)] = _GM
    li[fiss & (dm < an.hw_fissure)] = _CSF

    # insula (curved), insular cistern, Sylvian fissure (running anterolaterally from the
    # insula to the surface and rising posteriorly) and the opercula lining it
    vn = (vi + 4.0) / 24.0
    wn = (wi - 4.0) / 16.0
    ins_zone = (vn * vn + wn * wn) < 1.0
    u_ins = an.u_insula - 4.0 * vn * vn - 2.0 * wn * wn
    li[ins_zone & (ua >= u_ins - 3.5) & (ua < u_ins + 5.5)] = _GM
    li[ins_zone & (ua >= u_ins) & (ua < u_ins + 2.3)] = _CSF
    syl_v = -6.0 - 0.5 * (ua - an.u_insula) + 0.6 * (wi - 4.0)
    syl_d = np.abs(vi - syl_v) / 1.27
    syl_zone = (ua >= u_ins + 1.0) & (wi > -12.0) & (wi < 20.0)
    li[syl_zone & (syl_d < 4.4) & (li == _WM)] = _GM
    li[syl_zone & (syl_d < 1.2)] = _CSF

    # deep grey nuclei
    caud, lent, thal = _deep_nuclei(an, ua, vi, wi)
    li[caud | lent | thal] = _DGM

    # midbrain, cisterns, ventricles
    midb = _ellipsoid(ui, vi, wi, (0.0, 12.0, -17.0), (11.0, 12.0, 9.0)) < 1
    li[midb] = _WM
    cist = _ellipsoid(ui, vi, wi, (0.0, -12.0, -15.0), (13.0, 11.0, 5.0)) < 1
    cist |= _ellipsoid(ui, vi, wi, (0.0, 27.0, -3.0), (8.0, 5.0, 6.0)) < 1
    cist &= ~midb
    li[cist] = _CSF
    li[_ventricles(an, ua, vi, wi)] = _CSF
    li[di < 0.35] = _CSF
    lab[idx] = li
    return lab


# --------------------------------------------------------------------------------------------
# vessels


@dataclass
class _Seg:
    a: F64  # head coordinates, mm
    b: F64
    ra: float
    rb: float
    kind: int  # _ART or _VEIN
    name: str  # e.g. "m1_left"


def _vessels(an: _Anatomy) -> list[_Seg]:
    sx = an.a0 / 64.0
    sy = an.b0 / 77.0
    segs: list[_Seg] = []

    def poly(pts: list[tuple[float, float, float]], r0: float, r1: float, kind: int,
             name: str, sgn: float = 1.0, scale: bool = True) -> None:
        arr = np.array(pts, dtype=np.float64)
        if scale:
            arr[:, 0] *= sx * sgn
            arr[:, 1] *= sy
        n = len(arr) - 1
        for i in range(n):
            ra = r0 + (r1 - r0) * i / n
            rb = r0 + (r1 - r0) * (i + 1) / n
            segs.append(_Seg(arr[i], arr[i + 1], ra, rb, kind, name))

    for side, sgn in (("left", 1.0), ("right", -1.0)):
        poly([(14, -12, -45), (14, -12, -8)], 2.3, 2.3, _ART, f"ica_{side}", sgn)
        poly([(14, -12, -8), (24, -10, -6), (33, -6, -4)], 1.6, 1.4, _ART, f"m1_{side}", sgn)
        poly([(33, -6, -4), (37, -4, 6), (39, 2, 16), (40, 8, 24)], 1.2, 1.0, _ART,
             f"m2s_{side}", sgn)
        poly([(33, -6, -4), (38, 4, -2), (40, 14, 2), (41, 24, 6)], 1.2, 1.0, _ART,
             f"m2i_{side}", sgn)
        poly([(40, 8, 24), (52, 2, 36), (50, -6, 50)], 0.9, 0.7, _ART, f"cs_{side}", sgn)
        poly([(39, 2, 16), (54, -14, 22), (56, -24, 30)], 0.9, 0.7, _ART, f"cs_{side}", sgn)
        poly([(41, 24, 6), (56, 30, 12), (55, 42, 26)], 0.9, 0.7, _ART, f"ci_{side}", sgn)
        poly([(14, -12, -8), (3, -20, -6)], 1.2, 1.1, _ART, f"a1_{side}", sgn)
        poly([(1.4, -20, -6), (1.4, -34, 8), (1.4, -36, 24), (1.4, -24, 34), (1.4, 0, 38),
              (1.4, 25, 35)], 1.1, 0.9, _ART, f"a2_{side}", sgn)
        poly([(3, 4, -19), (12, 12, -15), (18, 26, -10), (16, 44, -4), (12, 62, 2)], 1.2, 1.0,
             _ART, f"pca_{side}", sgn)
        poly([(2, -2, 14), (2, 16, 14), (1, 30, 12)], 1.0, 1.2, _VEIN, f"icv_{side}", sgn)
    poly([(0, 30, 12), (0, 40, 10)], 2.2, 2.6, _VEIN, "galen")
    poly([(0, 40, 10), (0, 56, 0), (0, 70, -12)], 2.6, 3.0, _VEIN, "straight")
    # superior sagittal sinus along the inner table of the midsagittal plane
    ws = np.linspace(-12.0, an.wc + an.c_up * 0.985, 24)
    pts: list[tuple[float, float, float]] = []
    for sgn_v in (-1.0, 1.0):
        seq = ws if sgn_v < 0 else ws[::-1]
        for wv in seq:
            qv = min(abs((wv - an.wc) / (an.c_up if wv >= an.wc else an.c_low)), 0.999)
            s = (1.0 - qv**an.p_up) ** (1.0 / an.p_up)
            reach = an.b0 * s - 3.6
            if reach < 4.0:
                continue
            pts.append((0.0, sgn_v * reach, float(wv)))
    if len(pts) >= 2:
        poly(pts, 2.6, 3.6, _VEIN, "sss", scale=False)
    return segs


def _occluded_names(site: str | None, side: str) -> set[str]:
    if site is None:
        return set()
    names = {
        "ica_t": ["ica", "m1", "a1", "m2s", "m2i", "cs", "ci"],
        "m1": ["m1", "m2s", "m2i", "cs", "ci"],
        "m2_superior": ["m2s", "cs"],
        "m2_inferior": ["m2i", "ci"],
    }[site]
    return {f"{n}_{side}" for n in names}


def _rasterise_vessels(
    segs: list[tuple[F64, F64, float, float, int]],
    xs: F64,
    ys: F64,
    zs: F64,
    h: float,
) -> F64:
    """Soft occupancy (4, nz, ny, nx) of artery, occluded-artery and vein tubes, and of all
    vessels together (the union, whatever their kinds)."""
    occ = np.zeros((4, zs.size, ys.size, xs.size))
    hx = float(xs[1] - xs[0])
    hy = float(ys[1] - ys[0])
    zlo, zhi = float(zs.min()), float(zs.max())
    for a, b, ra, rb, kind in segs:
        rmax = max(ra, rb) + h
        if min(a[2], b[2]) - rmax > zhi or max(a[2], b[2]) + rmax < zlo:
            continue
        i0 = max(int(math.floor((min(a[0], b[0]) - rmax - xs[0]) / hx)), 0)
        i1 = min(int(math.ceil((max(a[0], b[0]) + rmax - xs[0]) / hx)) + 1, xs.size)
        j0 = max(int(math.floor((min(a[1], b[1]) - rmax - ys[0]) / hy)), 0)
        j1 = min(int(math.ceil((max(a[1], b[1]) + rmax - ys[0]) / hy)) + 1, ys.size)
        if i0 >= i1 or j0 >= j1:
            continue
        px = xs[None, None, i0:i1]
        py = ys[None, j0:j1, None]
        pz = zs[:, None, None]
        d = b - a
        dd = float(d @ d)
        t = ((px - a[0]) * d[0] + (py - a[1]) * d[1] + (pz - a[2]) * d[2]) / max(dd, 1e-12)
        t = np.clip(t, 0.0, 1.0)
        dist = np.sqrt(
            (px - a[0] - t * d[0]) ** 2 + (py - a[1] - t * d[1]) ** 2 + (pz - a[2] - t * d[2]) ** 2
        )
        r = ra + t * (rb - ra)
        o = np.clip((r - dist) / h + 0.5, 0.0, 1.0)
        for k in (kind, 3):
            view = occ[k, :, j0:j1, i0:i1]
            np.maximum(view, o, out=view)
    return occ


# --------------------------------------------------------------------------------------------
# input functions


def _gamma_pdf(t: F64, shape: float, mean: float) -> F64:
    theta = mean / shape
    tt = np.maximum(t, 1e-12)
    logp = (shape - 1.0) * np.log(tt) - tt / theta - special.gammaln(shape) - shape * np.log(theta)
    out: F64 = np.where(t > 0, np.exp(logp), 0.0)
    return out


def _conv(a: F64, b: F64) -> F64:
    """Causal discrete convolution on the fine grid (times _DT), truncated to len(a)."""
    n = a.shape[-1]
    nfft = sfft.next_fast_len(2 * n)
    out: F64 = sfft.irfft(sfft.rfft(a, nfft) * sfft.rfft(b, nfft), nfft)[..., :n] * _DT
    return out


@dataclass
class _Inputs:
    aif: F64  # fine grid
    occ: F64
    vof: F64
    params: dict[str, Any]


def _draw_inputs(rng: np.random.Generator, t: F64) -> _Inputs:
    t0 = _u(rng, 4.0, 10.0)
    tp = _u(rng, 3.0, 7.0)
    alpha = _u(rng, 2.0, 5.0)
    peak = _u(rng, 250.0, 600.0)
    f_r = _u(rng, 0.20, 0.35)
    m_r = _u(rng, 10.0, 16.0)
    k_r = _u(rng, 3.0, 6.0)
    f_eq = _u(rng, 0.30, 0.60)
    tau_eq = _u(rng, 40.0, 90.0)
    beta = _u(rng, 0.15, 0.45)
    beta_ica = _u(rng, 0.05, 0.15)
    d_occ = _u(rng, 4.0, 8.0)
    tau_occ = _u(rng, 2.0, 4.0)
    vof_lag = _u(rng, 3.0, 7.0)
    vof_ratio = _u(rng, 0.9, 1.5)
    k_v = _u(rng, 3.0, 6.0)

    tau = np.maximum(t - t0, 0.0) / tp
    fp = np.where(t > t0, tau**alpha * np.exp(alpha * (1.0 - tau)), 0.0)
    g_r = _gamma_pdf(t, k_r, m_r)
    td = 0.8 * m_r
    s = np.maximum(t - td, 0.0)
    g_eq = np.where(t > td, (1.0 - np.exp(-s / 6.0)) * np.exp(-s / tau_eq), 0.0)
    g_eq /= tau_eq - 6.0 * tau_eq / (tau_eq + 6.0)  # analytic area, independent of the grid length
    first_area = float(fp.sum() * _DT)
    aif = fp + f_r * _conv(fp, g_r) + f_eq * _conv(fp, g_eq)
    aif[t <= t0] = 0.0  # exactly zero before arrival (no FFT round-off)
    scale = peak / float(aif.max())
    aif *= scale
    t_peak = float(t[int(np.argmax(aif))])

    # occluded branches: late, weak, dispersed
    k_occ = np.exp(-t / tau_occ) / tau_occ
    disp = _conv(aif, k_occ)
    shift = int(round(d_occ / _DT))
    occ = np.zeros_like(aif)
    if shift < aif.size:
        occ[shift:] = disp[: aif.size - shift]
    occ[t <= t0 + d_occ] = 0.0

    # venous outflow: AIF (x) gamma transit kernel, peak vof_lag s after the arterial peak
    best: tuple[float, F64] | None = None
    for m_v in np.arange(0.5, 14.01, 0.25):
        cand = _conv(aif, _gamma_pdf(t, k_v, float(m_v)))
        lag = float(t[int(np.argmax(cand))]) - t_peak
        if best is None or abs(lag - vof_lag) < abs(best[0] - vof_lag):
            best = (lag, cand)
    assert best is not None
    vof = best[1] * (vof_ratio * peak / max(float(best[1].max()), 1e-9))
    vof[t <= t0] = 0.0
    area_ratio = float(vof.sum() / max(float(aif.sum()), 1e-9))
    params: dict[str, Any] = {
        "arrival_s": t0,
        "time_to_peak_s": tp,
        "shape": alpha,
        "peak_hu": peak,
        "peak_time_s": t_peak,
        "first_pass_area_hu_s": first_area * scale,
        "recirculation_fraction": f_r,
        "recirculation_mean_s": m_r,
        "equilibrium_fraction": f_eq,
        "equilibrium_decay_s": tau_eq,
        "occluded_fraction": beta,
        "occluded_ica_fraction": beta_ica,
        "occluded_delay_s": d_occ,
        "vof_lag_s": best[0],
        "vof_peak_ratio": vof_ratio,
        "vof_area_ratio": area_ratio,
    }
    return _Inputs(aif=aif, occ=occ * beta, vof=vof, params=params)


def _residue_table(residue: str, aif: F64, t: F64, shape_k: float) -> tuple[F64, F64]:
    """Table H[m, n] = (AIF (x) R_MTT)(t_n) for the MTT grid, R(0) = 1, area(R) = MTT."""
    mtts = np.arange(_MTT_MIN, _MTT_MAX + 0.5 * _DM, _DM)
    mm = mtts[:, None]
    tt = t[None, :]
    if residue == "exponential":
        r = np.exp(-tt / mm)
    elif residue == "gamma":
        r = special.gammaincc(shape_k, tt * shape_k / mm)
    else:
        r = np.clip((mm - tt) / _DT + 0.5, 0.0, 1.0)
    r[:, 0] *= 0.5  # trapezoidal rule at the origin
    area = r.sum(axis=1) * _DT
    r *= (mtts / area)[:, None]
    table = _conv(aif[None, :], r)
    before = int(np.argmax(aif > 0))  # the AIF is exactly zero before its arrival
    table[:, :before] = 0.0
    return mtts, table


def _lookup(table: F64, mtt: F64, delay: F64, times: F64) -> F64:
    """Bilinear look-up of (AIF (x) R_mtt)(t - delay) at the frame times: (n, T)."""
    n_m, n_t = table.shape
    mf = np.clip((mtt - _MTT_MIN) / _DM, 0.0, n_m - 1.000001)
    i0 = np.floor(mf).astype(np.intp)
    am = (mf - i0)[:, None]
    tf = np.clip((times[None, :] - delay[:, None]) / _DT, 0.0, n_t - 1.000001)
    j0 = np.floor(tf).astype(np.intp)
    at = tf - j0
    flat = table.ravel()
    base = i0[:, None] * n_t + j0
    lo = (1 - at) * flat[base] + at * flat[base + 1]
    hi = (1 - at) * flat[base + n_t] + at * flat[base + n_t + 1]
    out: F64 = (1 - am) * lo + am * hi
    return out


# --------------------------------------------------------------------------------------------
# territories and the collateral lesion on the head grid


def _grid_coords() -> tuple[F64, F64, F64]:
    axes = [_GRID_LO[i] + _GRID_MM * np.arange(_GRID_N[i]) for i in range(3)]
    uu, vv, ww = np.meshgrid(*axes, indexing="ij")
    return uu, vv, ww


def _grid_sample(field: F64, u: F64, v: F64, w: F64) -> F64:
    coords = np.stack([(u - _GRID_LO[0]) / _GRID_MM, (v - _GRID_LO[1]) / _GRID_MM,
                       (w - _GRID_LO[2]) / _GRID_MM])
    out: F64 = ndimage.map_coordinates(field, coords, order=1, mode="nearest")
    return out


def _fill_outside(field: F64, inside: B) -> F64:
    if not inside.any():
        return field
    idx = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    out: F64 = field[tuple(idx)]
    return out


@dataclass
class _Lesion:
    site: str | None
    side: str
    grade: str | None
    params: dict[str, Any]


_GRADE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "good": {"r_bz": (0.85, 0.95), "lam": (45.0, 75.0), "r_min": (0.50, 0.60),
             "d_bz": (2.0, 4.0), "d_deep": (8.0, 11.0), "v_up": (0.15, 0.35)},
    "intermediate": {"r_bz": (0.75, 0.88), "lam": (22.0, 40.0), "r_min": (0.18, 0.32),
                     "d_bz": (2.5, 4.5), "d_deep": (9.0, 13.0), "v_up": (0.05, 0.25)},
    "poor": {"r_bz": (0.65, 0.80), "lam": (13.0, 24.0), "r_min": (0.04, 0.14),
             "d_bz": (3.0, 5.5), "d_deep": (11.0, 15.0), "v_up": (0.0, 0.15)},
}


def _draw_lesion(rng: np.random.Generator, lesion: bool, site_override: str | None,
                 grade_override: str | None) -> _Lesion:
    # always the same number of draws, so that overrides leave everything else unchanged
    x_site, x_side, x_grade, x_prox = rng.random(4)
    unit = rng.random(12)
    site = SITES[int(np.searchsorted(np.cumsum([0.2, 0.45, 0.2, 0.15]), x_site, side="right"))]
    side = "left" if x_side < 0.5 else "right"
    grade = GRADES[int(np.searchsorted(np.cumsum([0.35, 0.4, 0.25]), x_grade, side="right"))]
    if site_override is not None:
        site = site_override
    if grade_override is not None:
        grade = grade_override
    if not lesion:
        return _Lesion(None, "none", None, {})
    gr = _GRADE_RANGES[grade]
    keys = ["r_bz", "lam", "r_min", "d_bz", "d_deep", "v_up"]
    p: dict[str, Any] = {}
    for k, x in zip(keys, unit[:6], strict=True):
        lo, hi = gr[k]
        p[k] = float(lo + (hi - lo) * x)
    p["r0"] = float(0.25 + 0.10 * unit[6])
    p["mu_mm"] = float(18.0 + 14.0 * unit[7])
    p["c_depth"] = float(0.4 + 0.3 * unit[8])
    p["r_ls"] = float(0.05 + 0.20 * unit[9])
    p["aca_r"] = float(0.8 + 0.15 * unit[10])
    p["aca_delay"] = float(2.5 + 2.5 * unit[11])
    if site == "ica_t":
        p["d_bz"] += 1.0
    p["ls_affected"] = bool(site == "ica_t" or (site == "m1" and x_prox < 0.75))
    return _Lesion(site, side, grade, p)


@dataclass
class _Fields:
    # (hemisphere: 0 left / 1 right, field: rel_cbf, delay, v_up bump, h_cbf, h_cbv, grid...)
    # each hemisphere's copy is extended beyond its own brain by nearest-neighbour filling, so
    # that a voxel only ever takes values from its own side of the falx
    stack: F64
    r0: float

    def sample(self, u: F64, v: F64, w: F64) -> F64:
        """The five fields at head points (5, n), from the hemisphere each point lies in."""
        out = np.empty((5, u.size))
        for h, sel in enumerate((u > 0, u <= 0)):
            if sel.any():
                for k in range(5):
                    out[k, sel] = _grid_sample(self.stack[h, k], u[sel], v[sel], w[sel])
        return out


def _head_fields(an: _Anatomy, les: _Lesion, rng: np.random.Generator) -> _Fields:
    uu, vv, ww = _grid_coords()
    shape = uu.shape
    rho, d_in = _inner_skull(an, uu, vv, ww)
    brain = d_in > 0.0
    ua = np.abs(uu)
    n_a = _smooth_noise(rng, shape, 3.0)
    n_p = _smooth_noise(rng, shape, 3.0)
    n_d = _smooth_noise(rng, shape, 3.0)
    n_l = _smooth_noise(rng, shape, 3.0)
    z1 = _smooth_noise(rng, shape, 2.0)
    z2 = _smooth_noise(rng, shape, 2.0)
    base_delay = _u(rng, 0.0, 0.6)
    h_cbf = 1.0 + 0.05 * np.clip(z1, -2.0, 2.0)
    h_cbv = 1.0 + 0.05 * np.clip(0.7 * z1 + 0.714 * z2, -2.0, 2.0)

    sx = an.a0 / 64.0
    d_aca = (14.0 + 18.0 * np.clip(ww / 55.0, 0.0, 1.0)) * sx
    taper = np.clip((0.42 * an.b0 - vv) / 12.0, 0.0, 1.0)
    s_a = (d_aca * taper - ua) / 4.0 + 1.0 * n_a
    v_p = 0.55 * an.b0 - 0.12 * ua - 12.0 * np.clip((5.0 - ww) / 30.0, 0.0, 1.0)
    s_p = (vv - v_p) / 4.0 + 1.0 * n_p
    _c, _l, thal = _deep_nuclei(an, ua, vv, ww)
    midb = _ellipsoid(uu, vv, ww, (0.0, 12.0, -17.0), (11.0, 12.0, 9.0)) < 1
    s_p = np.where(thal | midb, 6.0, s_p)
    e = np.exp(np.stack([s_a, s_p, np.zeros(shape)]) - np.maximum(np.maximum(s_a, s_p), 0.0))
    wts = e / e.sum(axis=0)
    w_a, w_p, w_m = wts
    hard = np.argmax(np.stack([s_a, s_p, np.zeros(shape)]), axis=0)
    bz = 1.0 - wts.max(axis=0)
    delay = base_delay + 1.35 * bz + 0.4 * w_p
    rel = np.ones(shape)
    bump = np.zeros(shape)
    ls_e = np.sqrt(_ellipsoid(ua, vv, ww, (20.0 * sx, -3.0, 8.0), (11.0 * sx, 19.0, 15.0)))
    ls_hard = (ls_e < 1.0) & ~thal
    w_ls = np.clip((1.2 - ls_e) / 0.4, 0.0, 1.0) * (~thal)

    p = les.params
    if les.site is not None:
        hemi = (uu > 0) if les.side == "left" else (uu < 0)
        mca = brain & hemi & (hard == 2)
        sup = ((ww - 14.0 - 0.7 * vv) / 5.0 + 0.8 * n_d) > 0
        if les.site in ("ica_t", "m1") and p["ls_affected"]:
            aff = mca
        elif les.site in ("ica_t", "m1"):
            aff = mca & ~ls_hard
        elif les.site == "m2_superior":
            aff = mca & ~ls_hard & sup
        else:
            aff = mca & ~ls_hard & ~sup
        src = brain & hemi & ~aff & ~ls_hard
        if src.any():
            d_src = ndimage.distance_transform_edt(~src, sampling=_GRID_MM)
        else:
            d_src = np.zeros(shape)
        # collateral path: pial distance at the surface point above + depth
        fac = 0.9 / np.maximum(rho, 0.05)
        d_surf = _grid_sample(d_src, uu * fac, vv * fac, ww)
        length = (d_surf + p["c_depth"] * np.maximum(d_in - 4.0, 0.0)) * (1.0 + 0.08 * n_l)
        length = np.maximum(length, 0.0)
        inside = aff & brain
        l_ref = float(np.percentile(length[inside], 90)) if inside.any() else 1.0
        l_ref = max(l_ref, 10.0)
        r_c = p["r_min"] + (p["r_bz"] - p["r_min"]) * np.exp(-length / p["lam"])
        mu = p["mu_mm"]
        prog = (1.0 - np.exp(-length / mu)) / (1.0 - math.exp(-l_ref / mu))
        d_c = p["d_bz"] + (p["d_deep"] - p["d_bz"]) * np.clip(prog, 0.0, 1.15)
        if p["ls_affected"]:
            wl = w_ls * hemi
            r_c = wl * p["r_ls"] + (1.0 - wl) * r_c
            d_c = wl * np.maximum(d_c, p["d_deep"] * 0.9) + (1.0 - wl) * d_c
        w_aff = np.clip(ndimage.gaussian_filter(aff.astype(np.float64), 1.2), 0.0, 1.0)
        w_aff = np.where(aff, np.maximum(w_aff, 0.5), w_aff) * hemi
        w_aff = np.clip((w_aff - 0.1) / 0.8, 0.0, 1.0)
        rel = w_aff * r_c + (1.0 - w_aff) * rel
        delay = w_aff * d_c + (1.0 - w_aff) * delay
        bump = w_aff * p["v_up"]
        if les.site == "ica_t":
            wa = w_a * hemi * (1.0 - w_aff)
            rel = rel * (1.0 - wa * (1.0 - p["aca_r"]))
            delay = np.maximum(delay, wa * p["aca_delay"] + (1.0 - wa) * delay)
            bump = np.maximum(bump, wa * p["v_up"])
        p["affected_grid_ml"] = float(inside.sum() * _GRID_MM**3 / 1000.0)
        p["path_length_p90_mm"] = l_ref
    del w_m
    r0 = float(p.get("r0", 0.3))
    stack = np.stack([
        np.stack([_fill_outside(f, brain & hemi_h) for f in (rel, delay, bump, h_cbf, h_cbv)])
        for hemi_h in (uu > 0, uu <= 0)
    ])
    return _Fields(stack=stack, r0=r0)


def _cbv_factor(r: F64, v_up: F64, r0: float) -> F64:
    above = 1.0 + v_up * 4.0 * (1.0 - r) * (r - r0) / (1.0 - r0) ** 2
    below = np.power(np.clip(r / r0, 0.0, 1.0), 0.8)
    out: F64 = np.where(r >= r0, above, below)
    return out


# --------------------------------------------------------------------------------------------
# noise


def _noise_sd_map(head: B, mu: float, spacing_yx: tuple[float, float], n_angles: int = 24) -> F64:
    """Relative FBP noise sd per pixel of each slice from the chord lengths through the head."""
    nz, ny, nx = head.shape
    out = np.ones((nz, ny, nx))
    yy = (np.arange(ny) * spacing_yx[0])[:, None]
    xx = (np.arange(nx) * spacing_yx[1])[None, :]
    angles = np.linspace(0.0, math.pi, n_angles, endpoint=False)
    for k in range(nz):
        m = head[k]
        if m.sum() < 10:
            continue
        iy, ix = np.nonzero(m)
        py = iy * spacing_yx[0]
        px = ix * spacing_yx[1]
        cy, cx = py.mean(), px.mean()
        cov = np.cov(np.stack([px - cx, py - cy]))
        evals, evecs = np.linalg.eigh(cov)
        semi = 2.0 * np.sqrt(np.maximum(evals, 1e-6))
        mat = evecs @ np.diag(1.0 / semi**2) @ evecs.T
        qx = xx - cx
        qy = yy - cy
        c_q = mat[0, 0] * qx * qx + 2 * mat[0, 1] * qx * qy + mat[1, 1] * qy * qy - 1.0
        acc = np.zeros((ny, nx))
        for th in angles:
            dx, dy = math.cos(th), math.sin(th)
            a = mat[0, 0] * dx * dx + 2 * mat[0, 1] * dx * dy + mat[1, 1] * dy * dy
            bq = 2.0 * ((mat[0, 0] * qx + mat[0, 1] * qy) * dx + (mat[0, 1] * qx + mat[1, 1] * qy)
                        * dy)
            disc = bq * bq - 4.0 * a * c_q
            chord = np.sqrt(np.maximum(disc, 0.0)) / a
            acc += np.exp(mu * chord)
        out[k] = np.sqrt(acc / n_angles)
    return out


def _band_filter(ny: int, nx: int, f0: float) -> tuple[F64, float]:
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    h = f * np.exp(-0.5 * (f / f0) ** 2)
    fxf = np.fft.fftfreq(nx)[None, :]
    ff = np.sqrt(fy**2 + fxf**2)
    hf = ff * np.exp(-0.5 * (ff / f0) ** 2)
    var = float((hf**2).mean())
    return h, var


# --------------------------------------------------------------------------------------------
# main entry


def _validate(residue: str, noise_hu: float, seed: int, interval_s: float, n_frames: int,
              shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
    if residue not in RESIDUES:
        raise ValueError(f"residue must be one of {RESIDUES}, got {residue!r}")
    if not (isinstance(noise_hu, int | float) and math.isfinite(noise_hu) and noise_hu >= 0):
        raise ValueError(f"noise_hu must be a finite number >= 0, got {noise_hu!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not (isinstance(interval_s, int | float) and math.isfinite(interval_s)
            and 0.1 <= interval_s <= 10.0):
        raise ValueError(f"interval_s must be in [0.1, 10] s, got {interval_s!r}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, int | np.integer) or not (
        2 <= n_frames <= 1000
    ):
        raise ValueError(f"n_frames must be an integer in [2, 1000], got {n_frames!r}")
    if (n_frames - 1) * interval_s > 600.0:
        raise ValueError("the acquisition must not last longer than 600 s")
    if len(shape) != 3 or any(
        isinstance(n, bool) or not isinstance(n, int | np.integer) for n in shape
    ):
        raise ValueError(f"shape must be three integers (z, y, x), got {shape!r}")
    if shape[0] < 1 or shape[1] < 16 or shape[2] < 16 or max(shape) > 1024:
        raise ValueError(f"shape must be at least (1, 16, 16) and at most 1024, got {shape!r}")
    if len(spacing) != 3 or any(
        not isinstance(s, int | float) or not math.isfinite(s) or not (0.2 <= s <= 12.0)
        for s in spacing
    ):
        raise ValueError(f"spacing must be three values in [0.2, 12] mm, got {spacing!r}")


def make_case(
    *,
    residue: str = "exponential",
    noise_hu: float = 10.0,
    seed: int = 0,
    interval_s: float = 1.5,
    n_frames: int = 40,
    lesion: bool = True,
    shape: tuple[int, int, int] = (16, 128, 128),
    spacing: tuple[float, float, float] = (5.0, 1.5, 1.5),
    site_override: str | None = None,
    grade_override: str | None = None,
) -> CtpCase:
    """Render one collateral-family CTP case (see the module docstring for the model);
    ``site_override`` / ``grade_override`` force the occlusion site or collateral grade and
    leave every other draw unchanged."""
    _validate(residue, noise_hu, seed, interval_s, n_frames, shape, spacing)
    if not isinstance(lesion, bool | np.bool_):
        raise ValueError(f"lesion must be a bool, got {lesion!r}")
    if site_override is not None and site_override not in SITES:
        raise ValueError(f"site must be one of {SITES}")
    if grade_override is not None and grade_override not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}")
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    nz, ny, nx = shape
    sz, sy, sx = spacing
    ss = np.random.SeedSequence(int(seed))
    r_anat, r_field, r_les, r_inp, r_res, r_noise, r_base = (
        np.random.default_rng(s) for s in ss.spawn(7)
    )
    an = _draw_anatomy(r_anat)
    les = _draw_lesion(r_les, bool(lesion), site_override, grade_override)
    fields = _head_fields(an, les, r_field)

    # ---- sampling geometry
    rot = _rotation(an)
    w_mid = an.slab_bottom + 0.5 * nz * sz
    centre = np.array([an.shift[0], an.shift[1], w_mid])
    xc = (np.arange(nx) - 0.5 * (nx - 1)) * sx
    yc = (np.arange(ny) - 0.5 * (ny - 1)) * sy
    zc = (np.arange(nz) - 0.5 * (nz - 1)) * sz
    n_sub = max(2, int(math.ceil(sz / 1.5)))
    xs_off = np.array([-0.25, 0.25]) * sx
    ys_off = np.array([-0.25, 0.25]) * sy
    zs_off = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * sz
    xh = (xc[:, None] + xs_off[None, :]).ravel()
    yh = (yc[:, None] + ys_off[None, :]).ravel()
    h_soft = 0.5 * min(sx, sy)

    occluded = _occluded_names(les.site, les.side)
    segs_img: list[tuple[F64, F64, float, float, int]] = []
    weak_ica: list[tuple[F64, F64, float, float, int]] = []
    for sg in _vessels(an):
        a = rot.T @ (sg.a - centre)
        b = rot.T @ (sg.b - centre)
        kind = sg.kind
        if sg.name in occluded:
            kind = _OCC
        item = (a, b, sg.ra, sg.rb, kind)
        segs_img.append(item)
        if sg.name.startswith("ica") and sg.name in occluded:
            weak_ica.append(item)

    frac = np.zeros((_N_LABELS, nz, ny, nx))
    vfrac = np.zeros((3, nz, ny, nx))
    vany = np.zeros((nz, ny, nx), dtype=bool)
    for k in range(nz):
        zs = zc[k] + zs_off
        zz = np.broadcast_to(zs[:, None, None], (n_sub, 2 * ny, 2 * nx))
        yy = np.broadcast_to(yh[None, :, None], (n_sub, 2 * ny, 2 * nx))
        xx = np.broadcast_to(xh[None, None, :], (n_sub, 2 * ny, 2 * nx))
        pts = np.stack([xx.ravel(), yy.ravel(), zz.ravel()])
        hd = rot @ pts + centre[:, None]
        lab = _labels(an, hd[0], hd[1], hd[2]).reshape(n_sub, 2 * ny, 2 * nx)
        occ4 = _rasterise_vessels(segs_img, xh, yh, zs, h_soft)
        occ = occ4[:3]
        tot = occ4[3]  # the union: independent of which vessels are occluded
        ksum = occ.sum(axis=0)
        share = np.where(ksum > 0, tot / np.maximum(ksum, 1e-12), 0.0)
        occ = occ * share[None]
        keep = 1.0 - tot
        for c in range(_N_LABELS):
            m = (lab == c) * keep
            frac[c, k] = m.reshape(n_sub, ny, 2, nx, 2).mean(axis=(0, 2, 4))
        for c in range(3):
            vfrac[c, k] = occ[c].reshape(n_sub, ny, 2, nx, 2).mean(axis=(0, 2, 4))
        vany[k] = (tot > 0).reshape(n_sub, ny, 2, nx, 2).any(axis=(0, 2, 4))

    # voxel centres in head coordinates
    zz3, yy3, xx3 = np.meshgrid(zc, yc, xc, indexing="ij")
    pc = rot @ np.stack([xx3.ravel(), yy3.ravel(), zz3.ravel()]) + centre[:, None]
    u_c = pc[0].reshape(shape)
    rel, delay, bump, h_cbf, h_cbv = (f.reshape(shape) for f in fields.sample(pc[0], pc[1], pc[2]))
    rho_c, _d = _inner_skull(an, pc[0], pc[1], pc[2])
    rho_c = rho_c.reshape(shape)

    # ---- tissue parameters
    rb = r_base
    wm_cbf = _u(rb, 20.0, 28.0)
    gm_cbf = _u(rb, 45.0, min(65.0, wm_cbf / 0.44))
    gm_cbv = _u(rb, 3.5, 5.0)
    wm_cbv = _u(rb, 1.6, 2.6)
    k_deep = _u(rb, 0.9, 1.05)
    scalp_cbf = _u(rb, 6.0, 10.0)
    scalp_cbv = _u(rb, 1.0, 1.5)
    hu_gm = _u(rb, 34.0, 42.0)
    hu_wm = _u(rb, 24.0, min(32.0, hu_gm - 6.0))
    hu_dgm = hu_gm - _u(rb, 0.0, 3.0)
    hu_csf = _u(rb, 0.0, 12.0)
    hu_bone = _u(rb, 700.0, 1500.0)
    hu_diploe = hu_bone * _u(rb, 0.35, 0.55)
    hu_scalp = _u(rb, 10.0, 40.0)
    hu_blood = _u(rb, 40.0, 50.0)
    cup_hu = _u(rb, 2.0, 5.0)
    shape_k = _u(r_res, 2.0, 5.0)

    f_grey = frac[_GM] + frac[_DGM]
    f_white = frac[_WM]
    f_brain = f_grey + f_white
    parench = (f_brain >= 0.5) & ~vany
    cbv_fac = _cbv_factor(rel, bump, fields.r0)
    g_k = np.where(f_grey > 0, (frac[_GM] + k_deep * frac[_DGM]) / np.maximum(f_grey, 1e-12), 1.0)
    cbf_g = gm_cbf * g_k * h_cbf * rel
    mtt_g = np.clip(60.0 * gm_cbv * h_cbv * cbv_fac / (gm_cbf * h_cbf * rel), 1.0, 29.0)
    cbv_g = cbf_g * mtt_g / 60.0
    cbf_w = wm_cbf * h_cbf * rel
    mtt_w = np.clip(60.0 * wm_cbv * h_cbv * cbv_fac / (wm_cbf * h_cbf * rel), 1.0, 29.0)
    cbv_w = cbf_w * mtt_w / 60.0
    cbf_vox = f_grey * cbf_g + f_white * cbf_w
    cbv_vox = f_grey * cbv_g + f_white * cbv_w

    # ---- maps and truth volumes
    cbf_map = np.where(parench, cbf_vox, np.nan).astype(np.float32)
    cbv_map = np.where(parench, cbv_vox, np.nan).astype(np.float32)
    tmax_map = np.where(parench, delay, np.nan).astype(np.float32)
    if les.side == "left":
        normal_side = u_c < 0
    elif les.side == "right":
        normal_side = u_c > 0
    else:
        normal_side = np.ones(shape, dtype=bool)
    ref = parench & normal_side & (tmax_map.astype(np.float64) < NORMAL_TMAX_S)
    normal_cbf = float(cbf_map[ref].astype(np.float64).mean()) if ref.any() else float("nan")
    core = parench & (cbf_map.astype(np.float64) < CORE_REL * normal_cbf)
    tmax6 = parench & (tmax_map.astype(np.float64) > TMAX_S)
    voxel_ml = sz * sy * sx / 1000.0

    # ---- curves
    times = np.arange(n_frames, dtype=np.float64) * float(interval_s)
    t_end = float(times[-1])
    n_fine = int(math.ceil(t_end / _DT)) + 2
    tf = np.arange(n_fine, dtype=np.float64) * _DT
    inp = _draw_inputs(r_inp, tf)
    _mt, table = _residue_table(residue, inp.aif, tf, shape_k)
    kfac = RHO / K_H / 6000.0
    flat = (nz * ny * nx,)
    enh = np.zeros((n_frames,) + flat, dtype=np.float32)
    tis = np.nonzero((f_brain > 0).ravel())[0]
    if tis.size:
        dly = delay.ravel()[tis]
        for fr, cbf_t, mtt_t in ((f_grey, cbf_g, mtt_g), (f_white, cbf_w, mtt_w)):
            amp = kfac * (fr * cbf_t).ravel()[tis]
            cur = _lookup(table, mtt_t.ravel()[tis], dly, times)
            enh[:, tis] += (amp[:, None] * cur).T.astype(np.float32)
    sc = np.nonzero((frac[_SCALP] > 0).ravel())[0]
    if sc.size:
        scalp_curve = _lookup(table, np.array([60.0 * scalp_cbv / scalp_cbf]), np.zeros(1),
                              times)[0]
        enh[:, sc] += (kfac * scalp_cbf * np.outer(scalp_curve, frac[_SCALP].ravel()[sc])).astype(
            np.float32
        )
    aif_f = np.interp(times, tf, inp.aif)
    occ_f = np.interp(times, tf, inp.occ)
    vof_f = np.interp(times, tf, inp.vof)
    weak = inp.params["occluded_ica_fraction"] / max(inp.params["occluded_fraction"], 1e-9)
    # the stagnant ICA below an ICA-terminus clot fills even less than the distal branches
    occ_scale = np.ones(shape)
    if weak_ica:
        for k in range(nz):
            zs = zc[k] + zs_off
            o = _rasterise_vessels(weak_ica, xh, yh, zs, h_soft)[_OCC]
            frac_ica = o.reshape(n_sub, ny, 2, nx, 2).mean(axis=(0, 2, 4))
            share = np.where(vfrac[_OCC, k] > 0, np.minimum(frac_ica / np.maximum(
                vfrac[_OCC, k], 1e-12), 1.0), 0.0)
            occ_scale[k] = 1.0 - share * (1.0 - weak)
    ves = np.nonzero(vany.ravel())[0]
    if ves.size:
        enh[:, ves] += (
            np.outer(aif_f, vfrac[_ART].ravel()[ves])
            + np.outer(occ_f, (vfrac[_OCC] * occ_scale).ravel()[ves])
            + np.outer(vof_f, vfrac[_VEIN].ravel()[ves])
        ).astype(np.float32)

    hu = np.array([-1000.0, hu_scalp, hu_bone, hu_diploe, hu_csf, hu_gm, hu_wm, hu_dgm])
    base = np.tensordot(hu, frac, axes=1) + hu_blood * vfrac.sum(axis=0)
    intracranial = frac[_CSF] + f_brain + vfrac.sum(axis=0)
    base -= cup_hu * np.clip(1.0 - rho_c**2, 0.0, 1.0) * intracranial

    enh += base.ravel().astype(np.float32)[None, :]
    frames = enh.reshape((n_frames,) + shape)

    # ---- noise
    head = frac[_AIR] < 0.5
    mu = _u(r_noise, 0.018, 0.022)
    f0 = _u(r_noise, 0.12, 0.20)
    sd_rel = _noise_sd_map(head, mu, (sy, sx))
    pool = parench if parench.any() else head
    if not pool.any():
        pool = np.ones(shape, dtype=bool)
    rms = float(np.sqrt(np.mean(sd_rel[pool] ** 2)))
    sd_map = sd_rel / rms
    filt, var = _band_filter(ny, nx, f0)
    jitter = np.clip(r_noise.normal(0.0, 0.4, n_frames), -1.0, 1.0)
    white = r_noise.standard_normal((n_frames, nz, ny, nx), dtype=np.float32)
    if noise_hu > 0:
        spec = sfft.rfft2(white, axes=(-2, -1), workers=2)
        spec *= filt.astype(np.complex64)
        coloured = sfft.irfft2(spec, s=(ny, nx), axes=(-2, -1), workers=2)
        coloured *= (noise_hu / math.sqrt(var) * sd_map).astype(np.float32)[None]
        coloured += (noise_hu / 10.0 * jitter).astype(np.float32)[:, None, None, None]
        frames += coloured

    # centre vs periphery of the noise map inside the brain
    brain_any = f_brain > 0.5
    inner = brain_any & (rho_c < 0.4)
    outer_ = brain_any & (rho_c > 0.8)
    sd_ratio = (float(sd_map[inner].mean() / sd_map[outer_].mean())
                if inner.any() and outer_.any() else float("nan"))

    art_best = np.unravel_index(int(np.argmax(vfrac[_ART])), shape)
    vein_best = np.unravel_index(int(np.argmax(vfrac[_VEIN])), shape)
    core_ml = float(core.sum() * voxel_ml)
    tmax6_ml = float(tmax6.sum() * voxel_ml)
    lesion_truth: dict[str, Any] = {k: (float(v) if isinstance(v, float) else v)
                                    for k, v in les.params.items()}
    truth: dict[str, Any] = {
        "family": FAMILY,
        "residue": residue,
        "gamma_shape": shape_k if residue == "gamma" else None,
        "noise_hu": float(noise_hu),
        "seed": int(seed),
        "interval_s": float(interval_s),
        "n_frames": int(n_frames),
        "shape": list(shape),
        "spacing": list(spacing),
        "lesion": bool(lesion),
        "side": les.side,
        "site": les.site,
        "collateral_grade": les.grade,
        "lenticulostriate_affected": bool(les.params.get("ls_affected", False)),
        "core_ml": core_ml,
        "tmax6_ml": tmax6_ml,
        "core_outside_tmax6_ml": float((core & ~tmax6).sum() * voxel_ml),
        "parenchyma_ml": float(parench.sum() * voxel_ml),
        "normal_cbf": normal_cbf,
        "voxel_ml": voxel_ml,
        "rho": RHO,
        "k_h": K_H,
        "core_rule": "parenchyma & cbf < 0.3 * normal_cbf",
        "tmax6_rule": "parenchyma & tmax > 6 s",
        "tmax_definition": "arrival delay of the voxel's input relative to the AIF (no dispersion)",
        "tissue": {
            "gm_cbf": gm_cbf, "gm_cbv": gm_cbv, "wm_cbf": wm_cbf, "wm_cbv": wm_cbv,
            "deep_factor": k_deep, "scalp_cbf": scalp_cbf, "scalp_cbv": scalp_cbv,
            "heterogeneity": 0.1,
        },
        "baseline_hu": {
            "gm": hu_gm, "wm": hu_wm, "deep_grey": hu_dgm, "csf": hu_csf, "bone": hu_bone,
            "diploe": hu_diploe, "scalp": hu_scalp, "blood": hu_blood,
        },
        "collaterals": lesion_truth,
        "aif": inp.params,
        "aif_hu": [float(x) for x in aif_f],
        "vof_hu": [float(x) for x in vof_f],
        "aif_voxel": [int(i) for i in art_best],
        "aif_voxel_fraction": float(vfrac[_ART][art_best]),
        "vof_voxel": [int(i) for i in vein_best],
        "pose": {
            "yaw_deg": an.yaw, "pitch_deg": an.pitch, "roll_deg": an.roll,
            "shift_mm": list(an.shift), "slab_bottom_mm": an.slab_bottom,
            "sub_slices": n_sub,
        },
        "noise": {
            "texture_peak_cycles_per_pixel": f0,
            "attenuation_per_mm": mu,
            "centre_to_periphery_sd": sd_ratio,
            "jitter_hu": [float(x) for x in noise_hu / 10.0 * jitter],
            "cupping_hu": cup_hu,
        },
    }
    maps: dict[str, NDArray[Any]] = {
        "cbf": cbf_map,
        "cbv": cbv_map,
        "tmax": tmax_map,
        "core": core,
        "tmax6": tmax6,
    }
    return CtpCase(frames=frames, times=times, spacing=spacing, truth=truth, maps=maps)
