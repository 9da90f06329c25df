"""CT perfusion phantom family "dosecurve": a voxelised head, an occluded MCA branch,
autoregulation-driven ischaemia and a dose-modulated, irregularly sampled acquisition.

Reader's manual
===============

Everything below is a convention of this family; numbers in brackets are the ranges the
random streams draw from.

Axes, grid and units
--------------------
* ``frames`` has axes ``(t, z, y, x)``; the three spatial axes follow DICOM LPS:
  ``x`` increases towards the patient's LEFT, ``y`` towards POSTERIOR, ``z`` towards
  SUPERIOR.  ``side == "left"`` therefore means the lesion lies at large ``x`` indices.
* Default grid: 16 slices x 128 x 128, spacing ``(z, y, x) = (5.0, 1.5, 1.5)`` mm (FOV
  192 mm in-plane, 80-mm slab from about the M1 segments to the high convexity).
  ``voxel_ml = dz * dy * dx / 1000``.
* Frames are absolute HU (unenhanced baseline included), float32.
* ``times`` are seconds from the first frame.  The default protocol is irregular:
  1-s frames 0..34 s (35 frames), 2-s frames 36..46 s (6), 3-s frames 49..76 s (10),
  51 frames in all.  Another schedule can be passed as ``times`` (starting at 0, strictly
  increasing).

Head (head stream)
------------------
The head is built from smooth implicit surfaces and rendered on a fine grid (default
1 mm in z, 0.5 mm in-plane, i.e. 5 x 3 x 3 fine voxels per acquisition voxel) whose
class labels are then averaged to the acquisition grid; every acquisition voxel thus
carries volume fractions of: air, scalp, compact bone, diploe, CSF, cortical grey matter,
white matter, deep grey nuclei and each vessel.  Partial volume arises only from this
averaging.  Surfaces: a perturbed ellipsoidal pial envelope (approximate signed distance
``D`` in mm); a subarachnoid CSF layer (1.5-3.5 mm); the skull between ``D_in`` and
``D_out`` with a thickness that varies with direction (about 3-9 mm, thinnest over the
temporal squama) made of two 1.3-mm compact tables around diploe; a 3.5-5-mm scalp; a
cortical ribbon about 2-3.7 mm thick following a folded surface (sulci are the zero
sets of a sum of ten random plane waves of 11-17 mm wavelength, 9-18 mm deep, lined by
cortex and filled with 1.4-mm CSF sheets);
an interhemispheric fissure; white matter inside; arched lateral ventricles and a third
ventricle; caudate, lentiform nucleus and thalamus as deep grey nuclei.  Baseline HU:
air -1000, scalp 30, compact bone 1500, diploe 650, CSF 7, cortex 39, white matter 29,
deep grey 37, blood 42, clot 62 (each jittered by a few HU per seed).

Vessels (head stream; roles re-assigned by the lesion stream)
-------------------------------------------------------------
Tubes rendered on the fine grid: both ICAs (vertical, reaching the slab's lowest
slices), M1 segments (about 33 mm below the slab centre, lowest two slices), ACA (A1
and paired A2 along the midline), superior and inferior M2 trunks and six cortical
M3/M4 branches per side lying in the subarachnoid space, and the superior sagittal sinus
(posterior midline).  Every vessel carries its own time curve:

* ``ref`` (both ICAs, ACAs, healthy M1 and the M1 stump proximal to a clot): the
  reference AIF ``C_a(t)`` - the curve an analysis would pick on the healthy side.
* ``mca`` (branches not distal to a clot): ``C_a`` delayed by 0.4 s and dispersed.
* ``distal`` (branches distal to the clot, filled retrogradely through collaterals):
  ``C_a`` delayed by ``lesion_input_delay_s`` and dispersed -- the lesion's input.
* ``clot``: the occluded segment, no enhancement (62 HU).
* ``vein`` (sinus): the venous outflow curve.

Inputs and timing (inputs stream)
---------------------------------
* First pass: gamma variate ``A (tau/(a b))^a exp(a - tau/b)``, ``tau = t - t0``, with
  arrival ``t0`` [6, 10] s, ``a`` [2.5, 4], ``b`` [1.0, 1.8] s, ``A`` [300, 500] HU.
* Recirculation: passes through the body, each the previous one convolved with a
  unit-area gamma kernel (shape 5, mean [14, 20] s) and scaled by ``r`` [0.35, 0.5];
  ``C_a = fp + sum_n r^n fp * g^{*n}`` (12 passes), i.e. total area ``fp_area/(1-r)``.
* Venous outflow ``C_v = C_a * g_v`` with ``g_v`` a unit-area gamma transit kernel
  (shape 4, mean [5, 8] s), so ``integral C_v = integral C_a`` (indicator conservation);
  both areas over 0-409.6 s are in ``truth``.
* Vascular transport (delay + dispersion) from the reference AIF to a voxel or vessel
  with arrival delay ``t_d``: ``h(t) = exp(-(t - t_d)/beta)/beta`` for ``t > t_d`` with
  ``beta = kappa * t_d`` (dispersion grows with the delay), ``kappa`` [0.2, 0.4].
  Applied exactly in the Fourier domain on a 0.1-s grid.

Tissue model (head + lesion streams)
------------------------------------
Normal values [per seed]: cortex CBF [55, 65] mL/100 g/min, CBV [3.6, 4.4] mL/100 g;
deep grey CBF and CBV 0.85-0.95 x cortex; white matter CBF [20, 25], CBV [1.8, 2.3].
A smooth physiological field ``h`` (RMS 4 %, at most +/- 12 %) multiplies CBF and CBV
alike (MTT unchanged).
Relative perfusion pressure ``P`` (1 = normal) falls inside the occluded branch's
territory: ``P = 1 - (1 - p_min) S`` where ``S`` in [0, 1] is a smooth territory weight
(exactly 0 outside the territory) and ``p_min`` the collateral grade (M1 [0.03, 0.55],
M2 [0.05, 0.55], M3 [0.05, 0.45]; deep territory [0.03, 0.3], lenticulostriate
[0.03, 0.25]).
Autoregulation (Lassen-type curve), with ``phi = clip((P - 0.15)/(0.65 - 0.15), 0, 1)``:

* flow fraction ``g = 0.04 + 0.96 phi`` (plateau above the lower limit 0.65, residual
  flow 4 %);
* volume fraction ``v = 1 + (v_max - 1)(1 - P)/(1 - 0.65)`` for ``P >= 0.65`` (vessels
  dilate, CBV rises to ``v_max`` [1.25, 1.5]), ``v = 0.3 + (v_max - 0.3) phi^0.6`` below
  (autoregulation exhausted, CBV falls);
* ``CBF = CBF0 h g``, ``CBV = CBV0 h v``, ``MTT = 60 CBV/CBF`` s.

Thus oligaemia/penumbra has raised CBV and long MTT, and the core low CBV and CBF.
Territories (``S`` is a product of smooth cone windows around axes from a point near the
insula, with a smooth depth limit and a +/- 5 degree irregularity; deep territories are
smooth ellipsoids around the lentiform nucleus): ``M1`` [p 0.35] (whole MCA cone, cortex
and deep, the lenticulostriate region with its own pressure minimum), ``M2-superior`` /
``M2-inferior`` [0.2 each] (one division, superficial <= 25-35 mm deep), ``M3`` [0.12]
(one cortical branch, small) and ``lenticulostriate`` [0.13] (deep only, small).  Side is
left or right with equal probability.  Over seeds 0-39 about 40 % of the cores are
below 5 mL (a quarter of the cases have none) and 15 % above 80 mL.

Arrival delay of a voxel: ``t_d = t_base + delay_scale ((1 - P)/0.7)^0.7`` (capped at 18 s)
with ``t_base = 0.7 + 0.7 clip(depth/30 mm, 0, 1)`` s and ``delay_scale`` [5.5, 11] s, so
every core voxel (P < about 0.29) has ``t_d > 6 s``.  All kinds in a voxel share
``t_d`` and ``beta``.

Residues and tissue curves
--------------------------
``RESIDUES``: ``exponential`` ``R = exp(-t/MTT)``; ``gamma`` - transit times gamma
distributed with shape ``GAMMA_SHAPE = 3`` and mean MTT, ``R = Q(3, 3t/MTT)`` (upper
regularised incomplete gamma); ``box`` - all transit times equal MTT, ``R = 1`` on
``[0, MTT)``.  All have ``R(0) = 1`` and area MTT.  For each parenchymal kind ``k``::

    C_k(t) = (CBF_k / 6000) * (C_a * h_td * R_MTT_k)(t)        [HU, CBF in mL/100 g/min]

i.e. 100 g of tissue is treated as 100 mL and no density ``rho`` or haematocrit factor
``k_H`` enters (an analysis that applies ``k_H/rho = 0.73/1.04`` reads 0.70 x these
values).  A voxel's enhancement is ``sum_k f_k C_k + sum_vessels f_v C_vessel``.
The residue choice changes only the curve shapes; every truth map is the same.

Truth maps (``maps``, all ``(Z, Y, X)``)
----------------------------------------
* ``parenchyma`` (bool): parenchymal fraction (cortex + deep grey + WM) >= 0.5 and
  vessel fraction < 0.05.  Float maps are NaN outside it.
* ``cbf`` (mL/100 g/min), ``cbv`` (mL/100 g): parenchyma-weighted tissue values
  ``sum_k f_k X_k / sum_k f_k`` (CSF, bone and vessel fractions excluded);
  ``cbf_voxel`` / ``cbv_voxel`` are the whole-voxel values ``sum_k f_k X_k``.
* ``mtt`` = 60 cbv/cbf (s); ``delay`` = ``t_d`` (s); ``dispersion`` = ``beta`` (s).
* ``tmax`` (s): time to the peak of the delayed residue = arrival delay relative to the
  reference AIF + the residue's peak time.  All three residues are non-increasing with
  their maximum at 0 (the box plateau starts at 0), so ``tmax == delay``.  Dispersion
  is NOT added: a deconvolution against the reference AIF sees a later peak.
* ``cbf_rel``: ``sum_k f_k CBF_k / sum_k f_k N_k`` with ``N_k`` the normal mean of kind k.
* ``core`` (bool): parenchyma and ``cbf_rel < 0.3``, i.e. CBF below 30 % of the mean
  CBF of normal tissue of the same kind (mixed voxels: fraction-weighted).  "Normal
  tissue of kind k" = all parenchyma voxels (both hemispheres) whose perfusion pressure is
  unaffected (``S == 0`` exactly); its mean CBF is ``sum f_k CBF_k / sum f_k`` over
  those voxels (``truth["normal_cbf"]``).
* ``tmax6`` (bool): parenchyma and ``tmax > 6 s``.
* ``kind`` (uint8: 0 none, 1 cortex, 2 deep grey, 3 white matter - the largest fraction),
  fraction maps ``fraction_cortex``, ``fraction_deep_gm``, ``fraction_wm``,
  ``fraction_csf``, ``fraction_vessel``, ``fraction_parenchyma`` (float32, everywhere).
* ``core_ml = core.sum() * voxel_ml``, ``tmax6_ml = tmax6.sum() * voxel_ml``.

Dose and noise (noise stream)
-----------------------------
* Tube current-time product per frame ``mAs_i / mAs_ref = (dt_i / 1 s)^-0.8`` where
  ``dt_i = t_i - t_{i-1}`` (``dt_0 = t_1 - t_0``) clipped below at 1 s; the noise SD of
  frame i is ``s_i = noise_hu (dt_i / 1 s)^0.4``: 1.00 x in the 1-s frames (the baseline),
  1.32 x in 2-s and 1.55 x in 3-s frames (``truth["frame_noise_sd_hu"]``).
* Texture: per slice, independent between slices and frames, white Gaussian noise
  filtered with ``sqrt(NPS)``, ``NPS(f) = |f| W(f)^2`` (ramp x Hann apodisation, cutoff
  0.5 cycles/mm), normalised to unit variance.  It is multiplied by a radial amplitude
  ``w(r) = 1 + 0.4 exp(-r^2/(2 * 45^2))`` (r in mm from the head's axis; the centre of the
  head is noisier) divided by its RMS over parenchyma voxels.
* Definition of ``noise_hu``: the per-voxel noise SD of frame i is ``s_i w(r)/w_rms``;
  its RMS over parenchyma voxels equals ``s_i``, which is ``noise_hu`` in the baseline
  frames (all frames before ``t0``; ``truth["baseline_frames"]`` of them, all 1-s).
  The global offset and the quantisation below are not part of ``noise_hu``.
* Tube output fluctuation: each frame gets a global offset drawn from
  ``N(0, (0.1 noise_hu)^2)`` (``truth["frame_offset_hu"]``).
* Quantisation: when ``noise_hu > 0`` the frames are rounded to whole HU (still
  float32), adding 1/12 HU^2 variance; with ``noise_hu == 0`` the frames are exact,
  noise-free and unrounded.

Random streams
--------------
``numpy.random.SeedSequence(seed).spawn(4)`` gives the head, lesion, inputs and noise
streams.  ``residue`` and ``noise_hu`` never draw anything, so a seed gives the same
head, lesion, inputs and noise pattern (scaled) for every residue and noise level;
``lesion=False`` skips the lesion stream and leaves the head unchanged.

``truth`` keys
--------------
``seed, residue, gamma_shape, noise_hu, lesion, side, occlusion, core_ml, tmax6_ml,
penumbra_ml, voxel_ml, shape, spacing, tmax_definition, residue_peak_s, cbf_units,
cbv_units, normal_cbf, normal_cbv, core_threshold, tmax_threshold_s, collateral_p_min,
deep_p_min, delay_scale_s, cbv_max_factor, dispersion_per_s, lesion_input_delay_s,
lesion_input_dispersion_s, aif_arrival_s, aif_hu, vof_hu, lesion_input_hu, aif_area_hu_s,
vof_area_hu_s, vof_area_ratio, aif_voxel, vof_voxel, baseline_frames, frame_noise_sd_hu,
tube_current_relative, frame_offset_hu, quantised, hu_baseline``.  ``aif_hu``,
``vof_hu`` and ``lesion_input_hu`` are enhancements (HU above the blood baseline) of
pure blood at ``times``; ``lesion_input_hu`` (None without lesion) is the curve of the
branches distal to the clot, delayed by ``lesion_input_delay_s`` (the delay the tissue
has at territory weight S = 0.75) and dispersed by ``lesion_input_dispersion_s``.
``collateral_p_min`` is the lowest cortical-territory pressure (1.0 for a
lenticulostriate lesion, which has none), ``deep_p_min`` the lowest deep-territory
pressure (1.0 for M2/M3 lesions); both are None without lesion.  ``aif_voxel`` is the
voxel with the largest fraction of healthy-side ICA + proximal M1 (a partial-volume
AIF), ``vof_voxel`` the one with the largest sinus fraction, both ``[z, y, x]``.
``normal_cbf``/``normal_cbv`` give the normal means per kind (``cortex``, ``deep_gm``,
``wm``) used by the core definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__all__ = ["RESIDUES", "GAMMA_SHAPE", "CtpCase", "make_case", "residue_function", "default_times"]

RESIDUES = ("exponential", "gamma", "box")
GAMMA_SHAPE = 3.0

DEFAULT_SHAPE = (16, 128, 128)
DEFAULT_SPACING = (5.0, 1.5, 1.5)
FINE_TARGET_MM = (1.0, 0.5, 0.5)
SLAB_CENTRE_Z_MM = 8.0

DT_FINE = 0.1
EXT_SAMPLES = 4096  # 409.6 s extended grid for the inputs
DOSE_EXPONENT = 0.8
DOSE_REF_INTERVAL_S = 1.0
OFFSET_FRACTION = 0.1
NPS_CUTOFF = 0.5  # cycles/mm
RADIAL_GAIN = 0.4
RADIAL_SIGMA_MM = 45.0

CORE_THRESHOLD = 0.3
TMAX_THRESHOLD_S = 6.0
PARENCHYMA_MIN_FRACTION = 0.5
VESSEL_MAX_FRACTION = 0.05

P_LLA = 0.65
P_ZERO = 0.15
FLOW_FLOOR = 0.04
CBV_FLOOR = 0.3
CBV_EXPONENT = 0.6
DELAY_REF_DROP = 0.7
DELAY_EXPONENT = 0.7
TD_MAX = 18.0
MCA_VESSEL_DELAY = 0.4

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
FA = NDArray[np.floating[Any]]  # float32 on the fine grid, float64 elsewhere

# fine-grid classes
_AIR, _SCALP, _BONE, _DIPLOE, _CSF, _GM, _WM, _DGM = range(8)
_N_TISSUE = 8
_KINDS = ("cortex", "deep_gm", "wm")
_KIND_CLASS = (_GM, _DGM, _WM)
_GROUPS = ("ref", "mca", "distal", "clot", "vein")
_SIDE_NAMES = (("R", -1.0), ("L", 1.0))
_BRANCH_ROLES = ("ica", "aca", "m1a", "m1b", "m1c", "sup_a", "sup_b", "inf_a", "inf_b") + tuple(
    f"c{j}_{p}" for j in range(6) for p in ("a", "b")
)


@dataclass
class CtpCase:
    """One synthetic CT perfusion acquisition with its ground truth (see module doc)."""

    frames: NDArray[np.float32]
    times: NDArray[np.float64]
    spacing: tuple[float, float, float]
    truth: dict[str, Any]
    maps: dict[str, NDArray[Any]]


# --------------------------------------------------------------------------- helpers


def _sstep(x: F64) -> F64:
    c = np.clip(x, 0.0, 1.0)
    out: F64 = c * c * (3.0 - 2.0 * c)
    return out


def _unit(v: ArrayLike) -> F64:
    a = np.asarray(v, dtype=np.float64)
    out: F64 = a / float(np.linalg.norm(a))
    return out


def _dir(az_deg: float, el_deg: float) -> F64:
    """Unit vector in mirrored coordinates: +x lateral (lesion side), az towards posterior."""
    az, el = math.radians(az_deg), math.radians(el_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def residue_function(t: ArrayLike, mtt: float, residue: str) -> F64:
    """The residue R(t) (R(0) = 1, area ``mtt``) of one of ``RESIDUES``."""
    tt = np.asarray(t, dtype=np.float64)
    if residue == "exponential":
        out = np.exp(-np.maximum(tt, 0.0) / mtt)
    elif residue == "gamma":
        out = special.gammaincc(GAMMA_SHAPE, np.maximum(tt, 0.0) * GAMMA_SHAPE / mtt)
    elif residue == "box":
        out = (tt < mtt).astype(np.float64)
    else:
        raise ValueError(f"residue must be one of {RESIDUES}, got {residue!r}")
    res: F64 = np.where(tt < 0.0, 0.0, out)
    return res


def _residue_integral(t: F64, mtt: F64, residue: str) -> F64:
    """Integral of R from 0 to t (t >= 0), broadcasting ``t`` against ``mtt``."""
    if residue == "exponential":
        out: F64 = mtt * (1.0 - np.exp(-t / mtt))
    elif residue == "gamma":
        theta = mtt / GAMMA_SHAPE
        x = t / theta
        out = t * special.gammaincc(GAMMA_SHAPE, x) + mtt * special.gammainc(GAMMA_SHAPE + 1, x)
    else:
        out = np.minimum(t, mtt)
    return out


def default_times() -> F64:
    """The default irregular schedule: 1-s frames to 34 s, 2-s to 46 s, 3-s to 76 s."""
    return np.concatenate(
        [np.arange(0.0, 35.0, 1.0), np.arange(36.0, 47.0, 2.0), np.arange(49.0, 77.0, 3.0)]
    )


# --------------------------------------------------------------------------- head


@dataclass
class _Head:
    centre: F64  # world position (mm) of the brain centre
    axes: F64
    eps: F64
    csf: tuple[float, float]
    skull: tuple[float, float, float]
    scalp: float
    sulc_k: F64
    sulc_phase: F64
    sulc_depth: tuple[float, float]
    depth_k: F64
    depth_phase: float
    cortex: tuple[float, float]
    cortex_k: F64
    cortex_phase: float
    ventricle_scale: float
    nuclei_shift: F64
    hu: dict[str, float]
    cbf0: F64  # cortex, deep grey, white matter
    cbv0: F64
    phys_k: F64
    phys_phase: F64
    phys_amp: float
    branch_dirs: F64  # (side, branch, [az, el]) degrees


def _random_unit(rng: np.random.Generator, n: int) -> F64:
    v = rng.standard_normal((n, 3))
    out: F64 = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _draw_head(rng: np.random.Generator) -> _Head:
    centre = np.array([rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)])
    axes = np.array([rng.uniform(60.0, 65.0), rng.uniform(72.0, 77.0), rng.uniform(58.0, 65.0)])
    eps = np.array(
        [
            rng.uniform(-0.04, 0.04),
            rng.uniform(-0.03, 0.03),
            rng.uniform(-0.03, 0.02),
            rng.uniform(-0.01, 0.01),
            rng.uniform(-0.03, 0.03),
        ]
    )
    csf = (rng.uniform(1.5, 2.2), rng.uniform(0.5, 1.3))
    skull = (rng.uniform(6.0, 7.5), rng.uniform(2.5, 3.5), rng.uniform(-1.0, 1.0))
    scalp = rng.uniform(3.5, 5.0)
    lam = rng.uniform(11.0, 17.0, size=10)
    sulc_k = _random_unit(rng, 10) * (2.0 * np.pi / lam)[:, None]
    sulc_phase = rng.uniform(0.0, 2.0 * np.pi, size=10)
    sulc_depth = (rng.uniform(12.0, 15.0), rng.uniform(2.0, 3.5))
    depth_k = _random_unit(rng, 1)[0] * (2.0 * np.pi / rng.uniform(40.0, 70.0))
    depth_phase = float(rng.uniform(0.0, 2.0 * np.pi))
    cortex = (rng.uniform(2.6, 3.0), rng.uniform(0.4, 0.7))
    cortex_k = _random_unit(rng, 1)[0] * (2.0 * np.pi / rng.uniform(30.0, 60.0))
    cortex_phase = float(rng.uniform(0.0, 2.0 * np.pi))
    ventricle_scale = rng.uniform(0.8, 1.3)
    nuclei_shift = rng.uniform(-1.5, 1.5, size=(3, 3))
    hu = {
        "air": -1000.0,
        "scalp": 30.0 + rng.uniform(-5.0, 5.0),
        "bone": 1500.0 + rng.uniform(-150.0, 150.0),
        "diploe": 650.0 + rng.uniform(-100.0, 100.0),
        "csf": 7.0 + rng.uniform(-2.0, 2.0),
        "cortex": 39.0 + rng.uniform(-2.0, 2.0),
        "wm": 29.0 + rng.uniform(-2.0, 2.0),
        "deep_gm": 37.0 + rng.uniform(-2.0, 2.0),
        "blood": 42.0 + rng.uniform(-2.0, 2.0),
        "clot": 62.0 + rng.uniform(-4.0, 4.0),
    }
    cbf_gm = rng.uniform(55.0, 65.0)
    cbv_gm = rng.uniform(3.6, 4.4)
    cbf0 = np.array([cbf_gm, cbf_gm * rng.uniform(0.85, 0.95), rng.uniform(20.0, 25.0)])
    cbv0 = np.array([cbv_gm, cbv_gm * rng.uniform(0.85, 0.95), rng.uniform(1.8, 2.3)])
    phys_k = _random_unit(rng, 4) * (2.0 * np.pi / rng.uniform(60.0, 110.0, size=4))[:, None]
    phys_phase = rng.uniform(0.0, 2.0 * np.pi, size=4)
    base = np.array(
        [[-55.0, 25.0], [-25.0, 45.0], [10.0, 50.0], [-10.0, -12.0], [35.0, -5.0], [55.0, 25.0]]
    )
    branch_dirs = base[None, :, :] + rng.uniform(-8.0, 8.0, size=(2, 6, 2))
    return _Head(
        centre=centre,
        axes=axes,
        eps=eps,
        csf=csf,
        skull=skull,
        scalp=scalp,
        sulc_k=sulc_k,
        sulc_phase=sulc_phase,
        sulc_depth=sulc_depth,
        depth_k=depth_k,
        depth_phase=depth_phase,
        cortex=cortex,
        cortex_k=cortex_k,
        cortex_phase=cortex_phase,
        ventricle_scale=ventricle_scale,
        nuclei_shift=nuclei_shift,
        hu=hu,
        cbf0=cbf0,
        cbv0=cbv0,
        phys_k=phys_k,
        phys_phase=phys_phase,
        phys_amp=0.06,
        branch_dirs=branch_dirs,
    )


def _eps_dir(head: _Head, ux: FA, uy: FA, uz: FA) -> FA:
    e = [float(v) for v in head.eps]
    out: FA = (
        e[0] * uy * uz
        + e[1] * (uy * uy - 1.0 / 3.0)
        + e[2] * (uz * uz - 1.0 / 3.0)
        + e[3] * ux * uy
        + e[4] * uy * uy * uy
    )
    return out


def _envelope(head: _Head, px: FA, py: FA, pz: FA) -> tuple[FA, FA, FA, FA]:
    """Approximate signed distance (mm, negative inside) to the pial envelope and the
    unit direction from the brain centre; coordinates relative to the brain centre."""
    ax, ay, az = (float(a) for a in head.axes)
    r = np.sqrt(px * px + py * py + pz * pz) + 1e-6
    ux, uy, uz = px / r, py / r, pz / r
    eps = _eps_dir(head, ux, uy, uz)
    qx, qy, qz = px / ax, py / ay, pz / az
    rho0 = np.sqrt(qx * qx + qy * qy + qz * qz) + 1e-9
    grad = np.sqrt((qx / ax) ** 2 + (qy / ay) ** 2 + (qz / az) ** 2) / rho0
    dist: FA = (rho0 * (1.0 + eps) - 1.0) / (grad * (1.0 + eps))
    return dist, ux, uy, uz


def _surface_radius(head: _Head, u: F64) -> float:
    """Distance from the brain centre to the pial envelope along world direction ``u``."""
    ax, ay, az = (float(a) for a in head.axes)
    rho0 = math.sqrt((u[0] / ax) ** 2 + (u[1] / ay) ** 2 + (u[2] / az) ** 2)
    eps = float(_eps_dir(head, np.asarray(u[0]), np.asarray(u[1]), np.asarray(u[2])))
    return 1.0 / (rho0 * (1.0 + eps))


def _csf_thickness(head: _Head, uy: FA) -> FA:
    out: FA = head.csf[0] + head.csf[1] * (0.5 - 0.5 * uy)
    return out


def _label_chunk(head: _Head, px: FA, py: FA, pz: FA) -> NDArray[np.uint8]:
    """Tissue classes (no vessels) at the given points (1-D arrays, brain-centred mm)."""
    dist, ux, uy, uz = _envelope(head, px, py, pz)
    d_in = _csf_thickness(head, uy)
    t0, t1, t2 = head.skull
    t_skull = np.clip(t0 - t1 * ux * ux + t2 * uy, 2.8, 10.0)
    d_out = d_in + t_skull
    lab = np.full(px.shape, _AIR, dtype=np.uint8)
    lab[dist < d_out + head.scalp] = _SCALP
    bone = (dist >= d_in) & (dist < d_out)
    compact = bone & ((dist - d_in < 1.3) | (d_out - dist < 1.3))
    lab[bone] = _DIPLOE
    lab[compact] = _BONE
    lab[(dist >= 0.0) & (dist < d_in)] = _CSF
    brain = dist < 0.0
    lab[brain] = _WM

    # folded cortical ribbon with sulci, evaluated in the outer shell only
    dmax = head.sulc_depth[0] + head.sulc_depth[1] + head.cortex[0] + head.cortex[1] + 1.0
    sel = np.nonzero(brain & (dist > -dmax))[0]
    sx, sy, sz = px[sel], py[sel], pz[sel]
    dt = px.dtype
    g = np.zeros(sel.size, dtype=dt)
    gx = np.zeros(sel.size, dtype=dt)
    gy = np.zeros(sel.size, dtype=dt)
    gz = np.zeros(sel.size, dtype=dt)
    for kv, phv in zip(head.sulc_k, head.sulc_phase, strict=True):
        k0, k1, k2, ph = float(kv[0]), float(kv[1]), float(kv[2]), float(phv)
        arg = k0 * sx + k1 * sy + k2 * sz + ph
        g += np.cos(arg)
        s = np.sin(arg)
        gx -= k0 * s
        gy -= k1 * s
        gz -= k2 * s
    d_sulcus = np.abs(g) / (np.sqrt(gx * gx + gy * gy + gz * gz) + 1e-6)
    kd = [float(v) for v in head.depth_k]
    depth = head.sulc_depth[0] + head.sulc_depth[1] * np.cos(
        kd[0] * sx + kd[1] * sy + kd[2] * sz + head.depth_phase
    )
    kc = [float(v) for v in head.cortex_k]
    thick = head.cortex[0] + head.cortex[1] * np.cos(
        kc[0] * sx + kc[1] * sy + kc[2] * sz + head.cortex_phase
    )
    ds = dist[sel]
    half = 0.7
    cortex = (ds > -thick) | ((d_sulcus < half + thick) & (ds > -(depth + thick)))
    sulcus = (d_sulcus < half) & (ds > -depth)
    sub = lab[sel]
    sub[cortex] = _GM
    sub[sulcus] = _CSF
    lab[sel] = sub

    ax_ = np.abs(px)
    # interhemispheric fissure above the corpus callosum (and in front of / behind it)
    above_cc = (pz > 17.0) | (py < -34.0) | (py > 42.0)
    medial_ctx = brain & above_cc & (ax_ < 1.1 + head.cortex[0])
    lab[medial_ctx & (lab == _WM)] = _GM
    lab[brain & above_cc & (ax_ < 1.1)] = _CSF

    # deep grey nuclei (mirror-symmetric in |x|)
    sh = head.nuclei_shift
    nuclei = (
        ((16.0 + sh[0, 0], -14.0 + sh[0, 1], 6.0 + sh[0, 2]), (4.0, 7.0, 8.0)),
        ((24.0 + sh[1, 0], -2.0 + sh[1, 1], -4.0 + sh[1, 2]), (6.0, 12.0, 9.0)),
        ((10.0 + sh[2, 0], 10.0 + sh[2, 1], 0.0 + sh[2, 2]), (7.0, 11.0, 8.0)),
    )
    deep = np.zeros(px.shape, dtype=bool)
    for c, a in nuclei:
        deep |= ((ax_ - c[0]) / a[0]) ** 2 + ((py - c[1]) / a[1]) ** 2 + (
            (pz - c[2]) / a[2]
        ) ** 2 < 1.0
    lab[deep & (lab == _WM)] = _DGM

    # lateral ventricles (arched) and third ventricle
    vs = head.ventricle_scale
    yy = py - 4.0
    xv = 9.0 + 0.0035 * yy * yy
    zv = 14.0 - 0.006 * yy * yy
    vent = ((ax_ - xv) / (5.0 * vs)) ** 2 + (yy / 32.0) ** 2 + ((pz - zv) / (6.0 * vs)) ** 2 < 1.0
    vent |= (ax_ < 1.2 + 0.8 * vs) & (py > -8.0) & (py < 14.0) & (pz > -14.0) & (pz < 6.0)
    lab[vent & brain] = _CSF
    return lab


# --------------------------------------------------------------------------- vessels


@dataclass
class _Vessels:
    roles: list[str]
    a: F64  # (n, 3) world segment starts
    b: F64
    radius: F64
    role: NDArray[np.int64]


def _build_vessels(head: _Head) -> _Vessels:
    roles: list[str] = []
    seg_a: list[F64] = []
    seg_b: list[F64] = []
    rad: list[float] = []
    rid: list[int] = []

    def add(role: str, pts_q: list[F64] | F64, r: float, sigma: float) -> None:
        if role not in roles:
            roles.append(role)
        idx = roles.index(role)
        pts = np.asarray(pts_q, dtype=np.float64).copy()
        pts[:, 0] *= sigma
        pts += head.centre
        for i in range(len(pts) - 1):
            seg_a.append(pts[i])
            seg_b.append(pts[i + 1])
            rad.append(r)
            rid.append(idx)

    def surface_point(d_q: F64, sigma: float, offset: float) -> F64:
        u = d_q * np.array([sigma, 1.0, 1.0])
        return d_q * (_surface_radius(head, u) + offset)

    for s_idx, (name, sigma) in enumerate(_SIDE_NAMES):
        terminus = np.array([13.0, -8.0, -26.0])
        add(f"{name}:ica", [np.array([13.5, -9.0, -80.0]), terminus], 2.1, sigma)
        add(
            f"{name}:aca",
            [
                terminus,
                np.array([2.0, -16.0, -23.0]),
                np.array([1.5, -22.0, -12.0]),
                np.array([1.5, -22.0, 2.0]),
                np.array([1.5, -14.0, 18.0]),
                np.array([1.5, 2.0, 28.0]),
                np.array([1.5, 26.0, 30.0]),
            ],
            1.1,
            sigma,
        )
        m1 = [
            terminus,
            np.array([20.0, -6.0, -25.5]),
            np.array([28.0, -4.0, -25.0]),
            np.array([36.0, -2.0, -24.0]),
        ]
        add(f"{name}:m1a", m1[0:2], 1.5, sigma)
        add(f"{name}:m1b", m1[1:3], 1.5, sigma)
        add(f"{name}:m1c", m1[2:4], 1.5, sigma)
        bif = m1[3]
        sup = [bif, np.array([40.0, -6.0, -14.0]), np.array([43.0, -8.0, -2.0])]
        inf = [bif, np.array([41.0, 4.0, -19.0]), np.array([45.0, 12.0, -13.0])]
        add(f"{name}:sup_a", sup[0:2], 1.2, sigma)
        add(f"{name}:sup_b", sup[1:3], 1.2, sigma)
        add(f"{name}:inf_a", inf[0:2], 1.2, sigma)
        add(f"{name}:inf_b", inf[1:3], 1.2, sigma)
        for j in range(6):
            start = sup[2] if j < 3 else inf[2]
            d0 = _unit(start)
            p_out = surface_point(d0, sigma, 1.0)
            add(f"{name}:c{j}_a", [start, p_out], 0.9, sigma)
            az, el = head.branch_dirs[s_idx, j]
            d1 = _dir(float(az), float(el))
            pts = [p_out]
            for w in np.linspace(0.0, 1.0, 9)[1:]:
                d = _unit((1.0 - w) * d0 + w * d1)
                pts.append(surface_point(d, sigma, 1.0))
            add(f"{name}:c{j}_b", pts, 0.85, sigma)
    # superior sagittal sinus along the posterior midline, at the inner table
    pts_s = []
    for el in np.linspace(80.0, -25.0, 15):
        d = np.array([0.0, math.cos(math.radians(el)), math.sin(math.radians(el))])
        off = float(_csf_thickness(head, np.asarray(d[1])))
        pts_s.append(d * (_surface_radius(head, d) + off))
    add("sss", pts_s, 3.2, 1.0)
    return _Vessels(
        roles=roles,
        a=np.array(seg_a),
        b=np.array(seg_b),
        radius=np.array(rad),
        role=np.array(rid, dtype=np.int64),
    )


# --------------------------------------------------------------------------- rendering


def _fine_axis(n: int, spacing: float, sub: int, start: float) -> F64:
    step = spacing / sub
    out: F64 = np.asarray(start + (np.arange(n * sub) + 0.5) * step, dtype=np.float64)
    return out


def _render_fractions(
    head: _Head,
    vessels: _Vessels,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    sub: tuple[int, int, int],
) -> F32:
    """Volume fractions (K, Z, Y, X) of every class on the acquisition grid."""
    nz, ny, nx = shape
    dz, dy, dx = spacing
    sz, sy, sx = sub
    n_classes = _N_TISSUE + len(vessels.roles)
    z0 = SLAB_CENTRE_Z_MM - nz * dz / 2.0
    xf = _fine_axis(nx, dx, sx, -nx * dx / 2.0)
    yf = _fine_axis(ny, dy, sy, -ny * dy / 2.0)
    fz_all = _fine_axis(nz, dz, sz, z0)
    cidx = (np.arange(ny * sy) // sy)[:, None] * nx + (np.arange(nx * sx) // sx)[None, :]
    cidx_flat = np.broadcast_to(cidx, (sz, ny * sy, nx * sx)).reshape(-1).astype(np.int64)
    fx_step, fy_step, fz_step = dx / sx, dy / sy, dz / sz
    px_plane = np.broadcast_to(
        (xf - head.centre[0]).astype(np.float32)[None, :], (ny * sy, nx * sx)
    )
    py_plane = np.broadcast_to(
        (yf - head.centre[1]).astype(np.float32)[:, None], (ny * sy, nx * sx)
    )
    out = np.zeros((n_classes, nz, ny * nx), dtype=np.float32)
    norm = 1.0 / (sz * sy * sx)
    for k in range(nz):
        zf = fz_all[k * sz : (k + 1) * sz]
        px = np.broadcast_to(px_plane, (sz, ny * sy, nx * sx)).reshape(-1)
        py = np.broadcast_to(py_plane, (sz, ny * sy, nx * sx)).reshape(-1)
        zrel = (zf - head.centre[2]).astype(np.float32)
        pz = np.broadcast_to(zrel[:, None, None], (sz, ny * sy, nx * sx)).reshape(-1)
        lab = _label_chunk(head, px, py, pz).reshape(sz, ny * sy, nx * sx)
        zlo, zhi = zf[0] - fz_step / 2.0, zf[-1] + fz_step / 2.0
        for a, b, r, role in zip(vessels.a, vessels.b, vessels.radius, vessels.role, strict=True):
            lo = np.minimum(a, b) - r
            hi = np.maximum(a, b) + r
            if hi[2] < zlo or lo[2] > zhi:
                continue
            i0 = max(0, int(math.floor((lo[0] + nx * dx / 2.0) / fx_step)))
            i1 = min(nx * sx, int(math.ceil((hi[0] + nx * dx / 2.0) / fx_step)) + 1)
            j0 = max(0, int(math.floor((lo[1] + ny * dy / 2.0) / fy_step)))
            j1 = min(ny * sy, int(math.ceil((hi[1] + ny * dy / 2.0) / fy_step)) + 1)
            if i0 >= i1 or j0 >= j1:
                continue
            vx = xf[None, None, i0:i1] - a[0]
            vy = yf[None, j0:j1, None] - a[1]
            vz = zf[:, None, None] - a[2]
            ab = b - a
            ll = float(ab @ ab)
            t = np.clip((vx * ab[0] + vy * ab[1] + vz * ab[2]) / ll, 0.0, 1.0)
            d2 = (vx - t * ab[0]) ** 2 + (vy - t * ab[1]) ** 2 + (vz - t * ab[2]) ** 2
            block = lab[:, j0:j1, i0:i1]
            block[d2 < r * r] = _N_TISSUE + int(role)
        counts = np.bincount(
            cidx_flat * n_classes + lab.reshape(-1), minlength=ny * nx * n_classes
        ).reshape(ny * nx, n_classes)
        out[:, k, :] = (counts.T * norm).astype(np.float32)
    res: F32 = out.reshape(n_classes, nz, ny, nx)
    return res


# --------------------------------------------------------------------------- lesion


@dataclass
class _Cone:
    axis: F64
    half_deg: float
    width_deg: float


@dataclass
class _Lesion:
    side: str
    sigma: float
    occlusion: str
    p_min: float
    p_min_deep: float
    delay_scale: float
    cbv_max: float
    cones: list[_Cone]
    depth: tuple[float, float] | None
    deep: tuple[F64, F64] | None
    apex: F64
    pert_k: F64
    pert_phase: F64
    pert_amp: float
    clot_roles: list[str]
    distal_roles: list[str]


_OCCLUSIONS = ("M1", "M2-superior", "M2-inferior", "M3", "lenticulostriate")
_OCCLUSION_P = (0.35, 0.2, 0.2, 0.12, 0.13)


def _jitter_axis(rng: np.random.Generator, axis: F64, deg: float) -> F64:
    return _unit(axis + rng.normal(0.0, math.radians(deg), size=3))


def _draw_lesion(rng: np.random.Generator, head: _Head) -> _Lesion:
    left = bool(rng.random() < 0.5)
    sigma = 1.0 if left else -1.0
    name = "L" if left else "R"
    occlusion = str(_OCCLUSIONS[int(rng.choice(len(_OCCLUSIONS), p=_OCCLUSION_P))])
    apex = np.array([22.0, -3.0, -16.0])
    s_idx = 1 if left else 0
    ends = []
    for j in range(6):
        az, el = head.branch_dirs[s_idx, j]
        d = _dir(float(az), float(el))
        u = d * np.array([sigma, 1.0, 1.0])
        ends.append(d * _surface_radius(head, u) - apex)
    mca = _Cone(
        _jitter_axis(rng, _unit([1.0, 0.08, 0.42]), 5.0),
        float(rng.uniform(52.0, 66.0)),
        float(rng.uniform(18.0, 32.0)),
    )
    delay_scale = float(rng.uniform(5.5, 11.0))
    cbv_max = float(rng.uniform(1.25, 1.5))
    deep_centre = np.array(
        [22.0 + rng.uniform(-3.0, 3.0), -2.0 + rng.uniform(-4.0, 4.0), 2.0 + rng.uniform(-5, 5)]
    )
    pert_k = _random_unit(rng, 3) * (2.0 * np.pi / rng.uniform(30.0, 50.0, size=3))[:, None]
    pert_phase = rng.uniform(0.0, 2.0 * np.pi, size=3)
    cones: list[_Cone] = []
    depth: tuple[float, float] | None = None
    deep: tuple[F64, F64] | None = None
    p_min_deep = 1.0
    clot: list[str] = []
    distal: list[str] = []
    if occlusion == "M1":
        p_min = float(rng.uniform(0.03, 0.55))
        p_min_deep = float(rng.uniform(0.03, 0.3))
        cones = [mca]
        deep = (deep_centre, np.array([10.0, 16.0, 14.0]) * rng.uniform(0.8, 1.2))
        clot = [f"{name}:m1b"]
        distal = [f"{name}:{r}" for r in _BRANCH_ROLES if r not in ("ica", "aca", "m1a", "m1b")]
    elif occlusion in ("M2-superior", "M2-inferior"):
        p_min = float(rng.uniform(0.05, 0.55))
        sup = occlusion == "M2-superior"
        js = range(3) if sup else range(3, 6)
        axis = _unit(np.mean([_unit(ends[j]) for j in js], axis=0))
        cones = [
            mca,
            _Cone(
                _jitter_axis(rng, axis, 4.0),
                float(rng.uniform(30.0, 42.0)),
                float(rng.uniform(15.0, 25.0)),
            ),
        ]
        depth = (float(rng.uniform(25.0, 35.0)), 12.0)
        trunk = "sup" if sup else "inf"
        clot = [f"{name}:{trunk}_a"]
        distal = [f"{name}:{trunk}_b"] + [f"{name}:c{j}_{p}" for j in js for p in ("a", "b")]
    elif occlusion == "M3":
        p_min = float(rng.uniform(0.05, 0.45))
        j = int(rng.integers(0, 6))
        cones = [
            _Cone(
                _jitter_axis(rng, _unit(ends[j]), 3.0),
                float(rng.uniform(12.0, 22.0)),
                float(rng.uniform(10.0, 16.0)),
            )
        ]
        depth = (float(rng.uniform(12.0, 20.0)), 8.0)
        clot = [f"{name}:c{j}_a"]
        distal = [f"{name}:c{j}_b"]
    else:
        p_min = 1.0
        p_min_deep = float(rng.uniform(0.03, 0.25))
        deep = (deep_centre, rng.uniform(5.0, 11.0, size=3))
    return _Lesion(
        side="left" if left else "right",
        sigma=sigma,
        occlusion=occlusion,
        p_min=p_min,
        p_min_deep=p_min_deep,
        delay_scale=delay_scale,
        cbv_max=cbv_max,
        cones=cones,
        depth=depth,
        deep=deep,
        apex=apex,
        pert_k=pert_k,
        pert_phase=pert_phase,
        pert_amp=5.0,
        clot_roles=clot,
        distal_roles=distal,
    )


def _pressure(les: _Lesion, px: F64, py: F64, pz: F64, depth_mm: F64) -> tuple[F64, F64]:
    """Relative perfusion pressure P and territory weight (max of the S terms)."""
    qx, qy, qz = les.sigma * px, py, pz
    p = np.ones(px.shape)
    s_any = np.zeros(px.shape)
    if les.cones:
        vx, vy, vz = qx - les.apex[0], qy - les.apex[1], qz - les.apex[2]
        vn = np.sqrt(vx * vx + vy * vy + vz * vz) + 1e-6
        pert = np.zeros(px.shape)
        for k, ph in zip(les.pert_k, les.pert_phase, strict=True):
            pert += np.cos(k[0] * qx + k[1] * qy + k[2] * qz + ph)
        pert *= les.pert_amp / math.sqrt(len(les.pert_phase))
        s = np.ones(px.shape)
        for cone in les.cones:
            cosang = (vx * cone.axis[0] + vy * cone.axis[1] + vz * cone.axis[2]) / vn
            ang = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0))) + pert
            s *= _sstep((cone.half_deg + cone.width_deg / 2.0 - ang) / cone.width_deg)
        if les.depth is not None:
            dmax, dw = les.depth
            s *= _sstep((dmax + dw / 2.0 - depth_mm) / dw)
        p = 1.0 - (1.0 - les.p_min) * s
        s_any = np.maximum(s_any, s)
    if les.deep is not None:
        c, a = les.deep
        r = np.sqrt(
            ((qx - c[0]) / a[0]) ** 2 + ((qy - c[1]) / a[1]) ** 2 + ((qz - c[2]) / a[2]) ** 2
        )
        sd = _sstep((1.25 - r) / 0.5)
        p = np.minimum(p, 1.0 - (1.0 - les.p_min_deep) * sd)
        s_any = np.maximum(s_any, sd)
    return p, s_any


def _delay_shape(p: F64) -> F64:
    """Extra arrival delay per second of ``delay_scale`` at relative pressure ``p``."""
    out: F64 = (np.maximum(1.0 - p, 0.0) / DELAY_REF_DROP) ** DELAY_EXPONENT
    return out


def _autoregulation(p: F64, cbv_max: float) -> tuple[F64, F64]:
    phi = np.clip((p - P_ZERO) / (P_LLA - P_ZERO), 0.0, 1.0)
    flow = FLOW_FLOOR + (1.0 - FLOW_FLOOR) * phi
    above = 1.0 + (cbv_max - 1.0) * (1.0 - p) / (1.0 - P_LLA)
    below = CBV_FLOOR + (cbv_max - CBV_FLOOR) * phi**CBV_EXPONENT
    vol: F64 = np.where(p >= P_LLA, above, below)
    return flow, vol


# --------------------------------------------------------------------------- inputs


@dataclass
class _Inputs:
    t0: float
    aif: F64  # extended grid, HU enhancement of pure arterial blood
    vof: F64
    kappa: float


def _gamma_bins(shape: float, mean: float, n: int) -> F64:
    edges = np.arange(n + 1) * DT_FINE
    cdf = special.gammainc(shape, edges * shape / mean)
    w: F64 = np.diff(cdf)
    out: F64 = w / w.sum()
    return out


def _draw_inputs(rng: np.random.Generator) -> _Inputs:
    t0 = float(rng.uniform(6.0, 10.0))
    alpha = float(rng.uniform(2.5, 4.0))
    beta = float(rng.uniform(1.0, 1.8))
    peak = float(rng.uniform(300.0, 500.0))
    r_rc = float(rng.uniform(0.35, 0.5))
    tau_rc = float(rng.uniform(14.0, 20.0))
    tau_v = float(rng.uniform(5.0, 8.0))
    kappa = float(rng.uniform(0.2, 0.4))
    n = EXT_SAMPLES
    t = np.arange(n) * DT_FINE
    tau = np.maximum(t - t0, 0.0)
    fp = peak * (tau / (alpha * beta)) ** alpha * np.exp(alpha - tau / beta)
    nf = 2 * n
    fp_f = np.fft.rfft(fp, nf)
    g_f = np.fft.rfft(_gamma_bins(5.0, tau_rc, n), nf)
    total = np.ones_like(fp_f)
    term = np.ones_like(fp_f)
    for _ in range(12):
        term = term * (r_rc * g_f)
        total = total + term
    aif = np.fft.irfft(fp_f * total, nf)[:n]
    aif = np.where(t < t0, 0.0, np.maximum(aif, 0.0))
    vof = np.fft.irfft(np.fft.rfft(aif, nf) * np.fft.rfft(_gamma_bins(4.0, tau_v, n), nf), nf)
    vof = np.where(t < t0, 0.0, np.maximum(vof[:n], 0.0))
    return _Inputs(t0=t0, aif=aif, vof=vof, kappa=kappa)


def _transport(aif: F64, onset: float, delays: F64, kappa: float, extra_shift: float = 0.0) -> F64:
    """AIF delayed by each ``delays`` entry and dispersed (beta = kappa * delay).

    The transfer function is applied in the Fourier domain; the result is then made
    exactly causal (zero before ``onset + delay``, the AIF being zero before ``onset``)."""
    n = aif.size
    nf = 2 * n
    f = np.fft.rfftfreq(nf, d=DT_FINE)
    spec = np.fft.rfft(aif, nf)
    d = np.asarray(delays, dtype=np.float64)[:, None]
    h = np.exp(-2j * np.pi * f[None, :] * (d + extra_shift)) / (
        1.0 + 2j * np.pi * f[None, :] * kappa * d
    )
    out: F64 = np.fft.irfft(spec[None, :] * h, nf)[:, :n]
    grid = np.arange(n) * DT_FINE
    out[grid[None, :] < onset + d + extra_shift] = 0.0
    np.maximum(out, 0.0, out=out)
    return out


def _sample(curve: F64, times: F64) -> F64:
    grid = np.arange(curve.shape[-1]) * DT_FINE
    out: F64 = np.interp(times, grid, curve)
    return out


def _tissue_table(inp: _Inputs, times: F64, residue: str, td_grid: F64, mtt_grid: F64) -> F32:
    """Per unit flow (1/s): (C_a * h_td * R_mtt)(times) for every grid pair, (nd, nm, T)."""
    n_len = int(math.ceil(times[-1] / DT_FINE)) + 2
    aif_d = _transport(inp.aif, inp.t0, td_grid, inp.kappa, extra_shift=DT_FINE / 2.0)[:, :n_len]
    n2 = 1 << int(math.ceil(math.log2(2 * n_len)))
    a_f = np.fft.rfft(aif_d, n2)
    edges = np.asarray(np.arange(n_len + 1) * DT_FINE, dtype=np.float64)
    integ = _residue_integral(edges[None, :], mtt_grid[:, None], residue)
    r_bins = np.diff(integ, axis=1)
    r_f = np.fft.rfft(r_bins, n2)
    pos = times / DT_FINE
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, n_len - 2)
    w = (pos - i0)[None, :]
    table = np.empty((td_grid.size, mtt_grid.size, times.size), dtype=np.float32)
    for j in range(mtt_grid.size):
        conv = np.fft.irfft(a_f * r_f[j][None, :], n2)
        table[:, j, :] = conv[:, i0] * (1.0 - w) + conv[:, i0 + 1] * w
    return table


# --------------------------------------------------------------------------- noise


def _nps_filter(ny: int, nx: int, dy: float, dx: float) -> F64:
    """Real, radially symmetric rfft2-half filter sqrt(NPS), normalised to unit variance."""
    fy = np.fft.fftfreq(ny, d=dy)[:, None]
    f_full = np.sqrt(fy**2 + np.fft.fftfreq(nx, d=dx)[None, :] ** 2)
    f_half = np.sqrt(fy**2 + np.fft.rfftfreq(nx, d=dx)[None, :] ** 2)

    def h(f: F64) -> F64:
        win = np.where(f < NPS_CUTOFF, 0.5 * (1.0 + np.cos(np.pi * f / NPS_CUTOFF)), 0.0)
        out: F64 = np.sqrt(f) * win
        return out

    norm = math.sqrt(float(np.mean(h(f_full) ** 2)))
    res: F64 = h(f_half) / norm
    return res


def _noise_sd_factors(times: F64) -> F64:
    dt = np.diff(times)
    dt = np.concatenate([dt[:1], dt]) if dt.size else np.array([DOSE_REF_INTERVAL_S])
    rel = np.maximum(dt / DOSE_REF_INTERVAL_S, 1.0)
    out: F64 = rel ** (DOSE_EXPONENT / 2.0)
    return out


# --------------------------------------------------------------------------- validation


def _check_inputs(
    residue: str,
    noise_hu: float,
    seed: int,
    lesion: bool,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    times: ArrayLike | None,
    supersample: tuple[int, int, int] | None,
) -> tuple[tuple[int, int, int], tuple[float, float, float], F64, tuple[int, int, int]]:
    if not isinstance(residue, str) or residue not in RESIDUES:
        raise ValueError(f"residue must be one of {RESIDUES}, got {residue!r}")
    if isinstance(noise_hu, bool) or not isinstance(noise_hu, int | float | np.floating):
        raise ValueError("noise_hu must be a real number")
    if not math.isfinite(float(noise_hu)) or float(noise_hu) < 0.0:
        raise ValueError(f"noise_hu must be finite and >= 0, got {noise_hu!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(lesion, bool | np.bool_):
        raise ValueError("lesion must be a bool")
    shp = tuple(int(v) for v in shape)
    if len(shp) != 3 or any(int(v) != v for v in shape) or shp[0] < 1 or min(shp[1:]) < 16:
        raise ValueError(f"shape must be (Z>=1, Y>=16, X>=16) integers, got {shape!r}")
    spc = tuple(float(v) for v in spacing)
    if len(spc) != 3 or not all(math.isfinite(v) and v > 0.0 for v in spc):
        raise ValueError(f"spacing must be three positive mm values, got {spacing!r}")
    if times is None:
        tt = default_times()
    else:
        tt = np.asarray(times, dtype=np.float64)
        if (
            tt.ndim != 1
            or tt.size < 2
            or not np.all(np.isfinite(tt))
            or tt[0] != 0.0
            or np.any(np.diff(tt) <= 0.0)
            or tt[-1] > 200.0
        ):
            raise ValueError("times must be 1-D, start at 0, increase strictly, end <= 200 s")
    if supersample is None:
        sub = tuple(max(1, int(round(s / f))) for s, f in zip(spc, FINE_TARGET_MM, strict=True))
    else:
        sub = tuple(int(v) for v in supersample)
        if len(sub) != 3 or min(sub) < 1 or max(sub) > 16:
            raise ValueError(f"supersample must be three integers in 1..16, got {supersample!r}")
    return (
        (shp[0], shp[1], shp[2]),
        (spc[0], spc[1], spc[2]),
        tt,
        (sub[0], sub[1], sub[2]),
    )


# --------------------------------------------------------------------------- main


def make_case(
    *,
    residue: str = "exponential",
    noise_hu: float = 10.0,
    seed: int = 0,
    lesion: bool = True,
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_SPACING,
    times: ArrayLike | None = None,
    supersample: tuple[int, int, int] | None = None,
) -> CtpCase:
    """Render one "dosecurve" case (conventions in the module docstring).

    ``shape``/``spacing`` set the acquisition grid (the slab stays centred at the same
    height), ``times`` overrides the irregular default schedule and ``supersample`` the
    fine-grid subdivision per voxel (default about 1 mm x 0.5 mm x 0.5 mm)."""
    shp, spc, tt, sub = _check_inputs(
        residue, noise_hu, seed, lesion, shape, spacing, times, supersample
    )
    noise = float(noise_hu)
    nz, ny, nx = shp
    dz, dy, dx = spc
    s_head, s_lesion, s_inputs, s_noise = np.random.SeedSequence(int(seed)).spawn(4)
    head = _draw_head(np.random.default_rng(s_head))
    vessels = _build_vessels(head)
    les = _draw_lesion(np.random.default_rng(s_lesion), head) if lesion else None
    inp = _draw_inputs(np.random.default_rng(s_inputs))

    frac = _render_fractions(head, vessels, shp, spc, sub)
    f_kind = np.stack([frac[c] for c in _KIND_CLASS]).astype(np.float64)  # (3, Z, Y, X)
    f_par = f_kind.sum(axis=0)

    # vessel roles -> time-curve groups
    group_of_role = np.zeros(len(vessels.roles), dtype=np.int64)
    for i, role in enumerate(vessels.roles):
        base = role.split(":")[-1]
        if role == "sss":
            group_of_role[i] = 4
        elif base in ("ica", "aca", "m1a", "m1b", "m1c"):
            group_of_role[i] = 0
        else:
            group_of_role[i] = 1
        if les is not None and role in les.distal_roles:
            group_of_role[i] = 2
        if les is not None and role in les.clot_roles:
            group_of_role[i] = 3
    f_group = np.zeros((len(_GROUPS), nz, ny, nx))
    for i in range(len(vessels.roles)):
        f_group[group_of_role[i]] += frac[_N_TISSUE + i]
    f_vessel = f_group.sum(axis=0)
    parenchyma = (f_par >= PARENCHYMA_MIN_FRACTION) & (f_vessel < VESSEL_MAX_FRACTION)

    # coarse-centre fields
    zc = SLAB_CENTRE_Z_MM - nz * dz / 2.0 + (np.arange(nz) + 0.5) * dz - head.centre[2]
    yc = -ny * dy / 2.0 + (np.arange(ny) + 0.5) * dy - head.centre[1]
    xc = -nx * dx / 2.0 + (np.arange(nx) + 0.5) * dx - head.centre[0]
    pz, py, px = np.meshgrid(zc, yc, xc, indexing="ij")
    dist, _, _, _ = _envelope(head, px, py, pz)
    depth_mm = np.maximum(-np.asarray(dist, dtype=np.float64), 0.0)
    t_base = 0.7 + 0.7 * np.clip(depth_mm / 30.0, 0.0, 1.0)
    phys = np.zeros(px.shape)
    for k, ph in zip(head.phys_k, head.phys_phase, strict=True):
        phys += np.cos(k[0] * px + k[1] * py + k[2] * pz + ph)
    phys = 1.0 + head.phys_amp * phys / 2.0
    if les is not None:
        pres, s_terr = _pressure(les, px, py, pz, depth_mm)
        flow, vol = _autoregulation(pres, les.cbv_max)
        t_d = np.minimum(t_base + les.delay_scale * _delay_shape(pres), TD_MAX)
    else:
        s_terr = np.zeros(px.shape)
        flow = np.ones(px.shape)
        vol = np.ones(px.shape)
        t_d = t_base
    beta = inp.kappa * t_d

    cbf_k = head.cbf0[:, None, None, None] * (phys * flow)[None]
    cbv_k = head.cbv0[:, None, None, None] * (phys * vol)[None]
    mtt_k = 60.0 * cbv_k / cbf_k

    # reference normal means per kind
    normal = parenchyma & (s_terr == 0.0)
    normal_cbf = np.zeros(3)
    normal_cbv = np.zeros(3)
    for k in range(3):
        wk = f_kind[k][normal]
        if wk.sum() > 0:
            normal_cbf[k] = float((wk * cbf_k[k][normal]).sum() / wk.sum())
            normal_cbv[k] = float((wk * cbv_k[k][normal]).sum() / wk.sum())
        else:
            normal_cbf[k] = float(head.cbf0[k])
            normal_cbv[k] = float(head.cbv0[k])

    cbf_voxel = (f_kind * cbf_k).sum(axis=0)
    cbv_voxel = (f_kind * cbv_k).sum(axis=0)
    safe_par = np.where(f_par > 0, f_par, 1.0)
    cbf_t = cbf_voxel / safe_par
    cbv_t = cbv_voxel / safe_par
    denom = (f_kind * normal_cbf[:, None, None, None]).sum(axis=0)
    cbf_rel = cbf_voxel / np.where(denom > 0, denom, 1.0)
    core = parenchyma & (cbf_rel < CORE_THRESHOLD)
    tmax = t_d + 0.0  # residue peak time is 0 for all RESIDUES
    tmax6 = parenchyma & (tmax > TMAX_THRESHOLD_S)
    voxel_ml = dz * dy * dx / 1000.0

    # ----------------------------------------------------------- dynamic frames
    nt = tt.size
    hu = head.hu
    class_hu = np.array(
        [
            hu["air"],
            hu["scalp"],
            hu["bone"],
            hu["diploe"],
            hu["csf"],
            hu["cortex"],
            hu["wm"],
            hu["deep_gm"],
        ]
    )
    base_img = np.tensordot(class_hu, frac[:_N_TISSUE].astype(np.float64), axes=1)
    group_base = np.array([hu["blood"], hu["blood"], hu["blood"], hu["clot"], hu["blood"]])
    base_img += np.tensordot(group_base, f_group, axes=1)

    lesion_delay = 0.0
    if les is not None:
        p_br = 1.0 - 0.75 * (1.0 - min(les.p_min, les.p_min_deep))
        lesion_delay = min(0.7 + les.delay_scale * float(_delay_shape(np.asarray(p_br))), TD_MAX)
    curves_ext = _transport(inp.aif, inp.t0, np.array([MCA_VESSEL_DELAY, lesion_delay]), inp.kappa)
    aif_s = _sample(inp.aif, tt)
    mca_s = _sample(curves_ext[0], tt)
    distal_s = _sample(curves_ext[1], tt)
    vof_s = _sample(inp.vof, tt)
    group_curves = np.stack([aif_s, mca_s, distal_s, np.zeros(nt), vof_s])  # (5, T)

    frames = np.empty((nt, nz * ny * nx), dtype=np.float32)
    frames[:] = base_img.reshape(1, -1).astype(np.float32)
    frames += (group_curves.T @ f_group.reshape(len(_GROUPS), -1)).astype(np.float32)

    td_grid = np.arange(0.0, TD_MAX + 0.2 + 1e-9, 0.2)
    mtt_lo, mtt_hi, ratio = 1.0, 100.0, 1.04
    n_m = int(math.ceil(math.log(mtt_hi / mtt_lo) / math.log(ratio))) + 1
    mtt_grid = np.asarray(mtt_lo * ratio ** np.arange(n_m), dtype=np.float64)
    table = _tissue_table(inp, tt, residue, td_grid, mtt_grid)
    td_flat = t_d.reshape(-1)
    pos_d = np.clip(td_flat / 0.2, 0.0, td_grid.size - 1.000001)
    i_d = np.floor(pos_d).astype(np.int64)
    w_d = (pos_d - i_d).astype(np.float32)
    for k in range(3):
        fk = f_kind[k].reshape(-1)
        idx = np.nonzero(fk > 1e-6)[0]
        if idx.size == 0:
            continue
        mt = np.clip(mtt_k[k].reshape(-1)[idx], mtt_lo, mtt_hi * 0.999)
        pos_m = np.log(mt / mtt_lo) / math.log(ratio)
        j_m = np.floor(pos_m).astype(np.int64)
        w_m = (pos_m - j_m).astype(np.float32)[:, None]
        id_, wd = i_d[idx], w_d[idx][:, None]
        curve = (
            (1 - wd) * (1 - w_m) * table[id_, j_m]
            + (1 - wd) * w_m * table[id_, j_m + 1]
            + wd * (1 - w_m) * table[id_ + 1, j_m]
            + wd * w_m * table[id_ + 1, j_m + 1]
        )
        scale = (fk[idx] * cbf_k[k].reshape(-1)[idx] / 6000.0).astype(np.float32)
        frames[:, idx] += (curve * scale[:, None]).T
    frames_4d = frames.reshape(nt, nz, ny, nx)

    # ----------------------------------------------------------- dose-modulated noise
    sd_factor = _noise_sd_factors(tt)
    frame_sd = noise * sd_factor
    offsets = np.zeros(nt)
    if noise > 0.0:
        rng_n = np.random.default_rng(s_noise)
        offsets = rng_n.standard_normal(nt) * OFFSET_FRACTION * noise
        filt = _nps_filter(ny, nx, dy, dx)
        ry = yc[:, None]
        rx = xc[None, :]
        w_rad = 1.0 + RADIAL_GAIN * np.exp(-(rx**2 + ry**2) / (2.0 * RADIAL_SIGMA_MM**2))
        w3 = np.broadcast_to(w_rad, (nz, ny, nx))
        w_rms = math.sqrt(float(np.mean(w3[parenchyma] ** 2))) if parenchyma.any() else 1.0
        amp = w_rad / w_rms
        for i in range(nt):
            white = rng_n.standard_normal((nz, ny, nx))
            tex = np.fft.irfft2(np.fft.rfft2(white) * filt, s=(ny, nx))
            frames_4d[i] += (frame_sd[i] * amp[None] * tex + offsets[i]).astype(np.float32)
        np.round(frames_4d, out=frames_4d)

    # ----------------------------------------------------------- truth
    def masked(a: F64) -> F32:
        out: F32 = np.where(parenchyma, a, np.nan).astype(np.float32)
        return out

    kind_map = np.where(parenchyma, np.argmax(f_kind, axis=0) + 1, 0).astype(np.uint8)
    maps: dict[str, NDArray[Any]] = {
        "cbf": masked(cbf_t),
        "cbv": masked(cbv_t),
        "mtt": masked(60.0 * cbv_t / np.where(cbf_t > 0, cbf_t, 1.0)),
        "tmax": masked(tmax),
        "delay": masked(t_d),
        "dispersion": masked(beta),
        "cbf_rel": masked(cbf_rel),
        "cbf_voxel": masked(cbf_voxel),
        "cbv_voxel": masked(cbv_voxel),
        "core": core,
        "tmax6": tmax6,
        "parenchyma": parenchyma,
        "kind": kind_map,
        "fraction_cortex": f_kind[0].astype(np.float32),
        "fraction_deep_gm": f_kind[1].astype(np.float32),
        "fraction_wm": f_kind[2].astype(np.float32),
        "fraction_csf": frac[_CSF].astype(np.float32),
        "fraction_vessel": f_vessel.astype(np.float32),
        "fraction_parenchyma": f_par.astype(np.float32),
    }

    healthy = "R" if (les is None or les.side == "left") else "L"
    aif_roles = [
        i for i, r in enumerate(vessels.roles) if r in (f"{healthy}:ica", f"{healthy}:m1a")
    ]
    f_aif = frac[[_N_TISSUE + i for i in aif_roles]].sum(axis=0)
    aif_voxel = [int(v) for v in np.unravel_index(int(np.argmax(f_aif)), f_aif.shape)]
    f_vein = f_group[4]
    vof_voxel = [int(v) for v in np.unravel_index(int(np.argmax(f_vein)), f_vein.shape)]
    aif_area = float(inp.aif.sum() * DT_FINE)
    vof_area = float(inp.vof.sum() * DT_FINE)
    core_ml = float(core.sum() * voxel_ml)
    tmax6_ml = float(tmax6.sum() * voxel_ml)

    def flist(a: F64) -> list[float]:
        return [float(v) for v in a]

    truth: dict[str, Any] = {
        "seed": int(seed),
        "residue": residue,
        "gamma_shape": GAMMA_SHAPE,
        "noise_hu": noise,
        "lesion": bool(lesion),
        "side": les.side if les is not None else "none",
        "occlusion": les.occlusion if les is not None else "none",
        "core_ml": core_ml,
        "tmax6_ml": tmax6_ml,
        "penumbra_ml": float((tmax6 & ~core).sum() * voxel_ml),
        "voxel_ml": voxel_ml,
        "shape": [nz, ny, nx],
        "spacing": [dz, dy, dx],
        "tmax_definition": "arrival delay t_d relative to the reference AIF + residue peak "
        "time (0 for all residues); dispersion not included",
        "residue_peak_s": 0.0,
        "cbf_units": "mL/100 g/min (no rho, no k_H)",
        "cbv_units": "mL/100 g (no rho, no k_H)",
        "normal_cbf": dict(zip(_KINDS, flist(normal_cbf), strict=True)),
        "normal_cbv": dict(zip(_KINDS, flist(normal_cbv), strict=True)),
        "core_threshold": CORE_THRESHOLD,
        "tmax_threshold_s": TMAX_THRESHOLD_S,
        "collateral_p_min": float(les.p_min) if les is not None else None,
        "deep_p_min": float(les.p_min_deep) if les is not None else None,
        "delay_scale_s": float(les.delay_scale) if les is not None else None,
        "cbv_max_factor": float(les.cbv_max) if les is not None else None,
        "dispersion_per_s": inp.kappa,
        "lesion_input_delay_s": float(lesion_delay) if les is not None else None,
        "lesion_input_dispersion_s": float(inp.kappa * lesion_delay) if les is not None else None,
        "aif_arrival_s": inp.t0,
        "aif_hu": flist(aif_s),
        "vof_hu": flist(vof_s),
        "lesion_input_hu": flist(distal_s) if les is not None else None,
        "aif_area_hu_s": aif_area,
        "vof_area_hu_s": vof_area,
        "vof_area_ratio": vof_area / aif_area,
        "aif_voxel": aif_voxel,
        "vof_voxel": vof_voxel,
        "baseline_frames": int(np.sum(tt < inp.t0)),
        "frame_noise_sd_hu": flist(frame_sd),
        "tube_current_relative": flist(sd_factor ** (-2.0)),
        "frame_offset_hu": flist(offsets),
        "quantised": noise > 0.0,
        "hu_baseline": {k: float(v) for k, v in hu.items()},
    }
    return CtpCase(
        frames=frames_4d,
        times=tt.astype(np.float64),
        spacing=(dz, dy, dx),
        truth=truth,
        maps=maps,
    )
