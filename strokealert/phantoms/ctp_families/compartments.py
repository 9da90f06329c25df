"""CTP phantom family "compartments": a tracer-kinetic head slab with an ischaemic lesion made of
three nested compartments (oligaemic rim, penumbra, core) with irregular borders.

This generator was written independently of the perfusion analysis it is meant to test. It is
held-out test data: nothing here was tuned against any analysis.

Coordinates and conventions
---------------------------
Arrays are indexed ``(z, y, x)``: x increases towards the patient's LEFT, y towards posterior, z
from inferior to superior. Anatomy is built in an anatomical frame whose origin is the anterior
commissure (AC); the image frame is related to it by a small random yaw (+-3 degrees) and an
in-plane shift (+-2.5 mm); the image centre sits on the centre of the brain (12-18 mm behind the
AC). The slab is centred 23-27 mm above the AC, so the default 16 x 5 mm slab covers roughly
15 mm below to 65 mm above the AC (posterior fossa / basal ganglia / lateral ventricles /
centrum semiovale). Frames are in HU and include the unenhanced baseline; ``times`` start at 0.

Head geometry (anatomy RNG stream, independent of lesion, residue and noise)
---------------------------------------------------------------------------
* Brain outline: in each axial plane a superquadric ``(|cos t|/a)^n + (|sin t|/b)^n = r^-n``
  (half-width a 59-66 mm, half-length b 71-78 mm, exponent n 2.1-2.9 per seed) scaled by a
  vertical profile (a superquadric cap of exponent 2.0-2.8 above z0 = 5-12 mm, an elliptical
  taper below) and multiplied by ``1 + sum(bumps) + wobble``: Gaussian bumps in (angle, z) for the
  frontal (left/right), temporal (low z, antero-lateral) and occipital lobes with per-seed
  amplitudes (a little frontal/occipital petalia asymmetry), plus low-amplitude harmonics of
  order 3-6. Shells outside the outline use radial offsets along the in-plane radius, inflated
  by ``kappa = sqrt(1 + (dR/dz)^2)`` to mimic the oblique cut near the vertex: extra-axial CSF
  (0.6-3.5 mm, grows with atrophy), skull 4-9 mm (smoothly varying harmonics, thicker
  frontally/occipitally) made of an inner table (1.2-1.8 mm), diploe (500-800 HU) and an outer
  table (1.5-2.2 mm) of cortical bone (1350-1800 HU), then scalp (3-5.5 mm, 25-45 HU), then air
  (-1000 HU). Skull-base bone (petrous ridges, dorsum sellae/clinoids, lesser sphenoid wings)
  is added as ellipsoids in the lowest slices.
* Cortex: a grey-matter ribbon 2-4 mm thick (harmonic field) below the outline. Sulci are radial
  CSF clefts (about 34 around the circumference, none at the midline) of random depth 5-16 mm,
  width 0.6-1.2 mm widened by atrophy, with a random tilt along z, a bend with depth and a finite
  vertical extent; each cleft is lined with cortex. The interhemispheric fissure is a midline CSF
  sheet (lined with cortex) except over the corpus callosum / diencephalon block and the
  posterior fossa. Sylvian fissures are curved CSF sheets on both sides: a convex insular cistern
  sheet and a lateral stem running from the insula to the lateral surface (medially towards the
  suprasellar cistern in the lowest slices), both lined with cortex (insula and opercula).
* Deep structures (ellipsoids, with per-seed jitter and small left/right asymmetry): caudate
  head and body, putamen, globus pallidus, thalamus (deep grey matter), hippocampus (grey
  matter), anterior and posterior limbs of the internal capsule (white matter, carved into the
  deep grey), midbrain (white matter) with a perimesencephalic cistern, suprasellar cistern.
  Ventricles: frontal horns, bodies, atria, occipital and temporal horns, third and fourth
  ventricles; lateral ventricle size scales with ``0.8 + 0.9 * atrophy`` where the per-seed
  atrophy/age factor is uniform in [0, 1] (it also widens sulci, fissures and extra-axial CSF).
  A septum pellucidum (|x| < 0.8 mm) separates the lateral ventricles.
* Posterior fossa: below a tentorium ``z = zt0 - 0.006 x^2 - 0.12 max(0, y - 45)`` and behind
  the incisura, cerebellum with a folia pattern (concentric GM/WM shells, ~60 % GM), a dural
  tentorial sheet and cortex lining the tentorial surface of the occipital lobe.
* Vessels (tubes along polylines with linearly varying radius): ICA (2.2 mm radius), M1 split
  into proximal and distal halves, superior and inferior M2 divisions over the insula, three
  cortical (M4) branches per division on the surface, A1 and A2/pericallosal arteries, basilar
  and P1/P2 segments of the PCA; superior sagittal sinus (following the inner table posteriorly,
  and anteriorly above z = 20 mm), torcular, straight sinus and transverse sinuses.
* Partial volume: labels are evaluated on a fine grid (3 samples through the slice, at least 2
  and about 0.75 mm in plane) and averaged; vessels use a soft (linear over one fine sample)
  occupancy. Overlapping vessels are renormalised to a total fraction <= 1 and the labelled
  tissue fills the rest of each fine sample.

Baseline (unenhanced) HU per class, per seed: GM 37-41, deep GM 35-39, WM 27-31, CSF 3-9,
blood 40-46, scalp 25-45, diploe 500-800, cortical bone 1350-1800, air -1000, plus a smooth
+-1 HU texture in the brain.

Physiology
----------
Indicator dilution (central volume principle): the enhancement of the tissue part of a voxel is
``dHU(t) = f_tis * (rho / k_H) * CBF / 6000 * (AIF_local (x) R)(t)`` with rho = 1.04 g/mL,
k_H = 0.73, CBF in mL/100 g/min, CBV in mL/100 g, MTT = 60 * CBV / CBF s and ``f_tis`` the
grey + deep grey + white matter volume fraction of the voxel (a voxel's tissue is one compartment
whose CBF and CBV are the fraction-weighted means of its classes; CSF, bone and vessels dilute
it). ``R(0) = 1`` and its area is MTT:

* ``exponential``: ``R(t) = exp(-t / MTT)``;
* ``gamma``: the survival function of gamma distributed transit times, shape 3, mean MTT;
* ``box``: ``R(t) = 1`` for ``t < MTT``.

Local AIF: ``AIF_local(t) = (h_beta (x) AIF)(t - d)`` with arrival delay d and a unit-area
exponential vascular transport kernel ``h_beta(t) = exp(-t / beta) / beta`` (a delta for
beta = 0). Convolutions use a 0.05 s grid with cell-integrated residue and kernel (exact areas)
and FFTs long enough to be linear; each frame is the mean over a centred 0.55 s acquisition
window. Per voxel, the response is interpolated (linearly in log MTT, beta and time) from a
table over 170 MTT nodes (0.5-400 s) and 13 beta nodes (0-3 s).

Normal perfusion (perfusion RNG stream): per-seed means GM CBF 45-70 with GM MTT 3.6-5.2 s
(CBV clipped to 3.5-5.5), WM CBF = 0.36-0.48 x GM CBF clipped to 15-28 with WM MTT 4.6-6.6 s
(CBV clipped to 1.4-2.8), deep grey CBF 0.85-0.97 x GM, CBV 0.85-1.0 x GM. A smooth random
field (correlation 6-12 mm) modulates CBF with a per-seed sd of 5-15 % (clipped at +-2 sd) and
CBV through a partly correlated field. Normal delays ``d`` lie in 0-1.5 s (base 0.2-0.8 s, a
smooth field, slightly later posteriorly) with no dispersion (beta = 0). A guard keeps normal
tissue above 0.36 x the reference normal flow (essentially never binding).

Arterial input (AIF RNG stream)
-------------------------------
First pass = an injection rectangle of 4-6 s convolved with a local-density random walk (LDRW)
cardiopulmonary transit density ``sqrt(lam / (2 pi mu t)) exp(-lam (t - mu)^2 / (2 mu t))``
(mu 5-9 s, lam 5-12). Recirculation = first pass convolved with a broader LDRW (mu 7-10 s,
lam 3-6; mean delay 8-13 s) scaled to 10-25 % of the first-pass area. Steady state = a plateau
rising with the cumulative first pass dispersed by a very broad LDRW (mu 14-22 s, lam 1.5-3) to
5-10 % of the first-pass peak, decaying with a 150-400 s washout. The sum is shifted so that it
first reaches 5 % of its maximum at the arrival time 3-9 s after the first frame (and it is
exactly zero 2.5 s before that), and scaled to a peak of 250-600 HU. Arterial tubes carry the
AIF shifted by small branch delays (ICA 0, M1 0.1-0.2 s, M2 0.4 s, cortical 0.8 s, ACA
0.3-0.6 s, PCA/basilar 0.2-0.6 s). Veins carry the AIF delayed by 4-7 s, dispersed by an
exponential kernel (1.5-3 s) and scaled to a peak of 1.0-1.8 x the arterial peak. Occluded
branches (distal M1 and its M2/M4 branches, or one M2 division and its M4 branches) fill weakly
and late: AIF delayed 4-9 s, dispersed with beta = 3 s, scaled by 0.15-0.4.

Lesion (lesion RNG stream; ``lesion=True``)
-------------------------------------------
Side left/right 50/50; site M1 (55 %, lenticulostriate/basal ganglia territory involved in 55 %
of M1 cases, giving deep cores) or M2 (superior or inferior division). A soft MCA territory is
built from sigmoids of the ACA border (moving laterally with height), the PCA border, the
thalamus (spared), the hemisphere, the M2 division plane, and (when the deep territory is not
involved) the lenticulostriate region, each perturbed by smooth random fields. A severity field
is ``S = T * ((g + deep_boost) * exp(0.35 n_L) + 0.07 n_s)`` where T is the territory weight, g a
Gaussian around a site-specific focus (insula/putamen for M1, frontal or temporo-parietal
convexity for M2), and n_L (9 mm) and n_s (2.5 mm) unit smooth fields: boundaries are noisy and
non-concentric. Compartments are nested super-level sets of S, with thresholds set by target
volumes counted over parenchyma: core (10 % of lesion cases have none; else log-uniform
1.5-100 mL), penumbra (+30-150 mL) and rim (+15-50 mL), scaled by 0.6 for M2, by slab thickness
/ 80 mm, and capped by the available territory. Hence the core always lies inside the penumbra,
which lies inside the rim.

* Delays: piecewise-linear in S (rim 2 s at its outer border, penumbra 5 s at its border, core
  6.5-8 s at its border, 8-14 s at the maximum) plus a smooth +-0.5 s field, clipped to
  rim [2, 5], penumbra [5, 14], core [6.3, 14] s. Dispersion ``beta = beta_max * clip((d - 1.5) /
  12.5, 0, 1)``, beta_max 2-3 s.
* Rim: rCBF 0.7-1.0 of the local normal flow (smooth field + position), CBV 95-115 %.
* Penumbra: rCBF = a smooth random field mixed with the depth in the penumbra, mapped affinely
  onto [lo, hi] with lo = max(0.3, 1.08 x core threshold / local normal flow) (<= 0.85) and
  hi = max(0.8, lo + 0.05): in grey matter it spans 0.3-0.8; in low-flow white matter the lower
  end is raised so that penumbra never falls below the core threshold (no clipping, no fixed
  floor). CBV 90-140 % of normal.
* Core: CBF = rCBF x min(local normal, reference normal) with rCBF 0.03-0.28 (field + depth),
  so every core voxel is below 0.3 x normal_cbf; CBV 20-60 % of normal; delay >= 6.3 s.
* Safety coupling (documented, normally inactive): any parenchyma voxel whose CBF is below the
  core threshold gets ``d >= 6.3 s``. Since tmax >= d, ``core`` is inside ``tmax6`` by
  construction.

Truth definitions
-----------------
* ``parenchyma``: (GM + deep GM + WM) fraction >= 0.5 and vessel fraction <= 0.005.
* ``tmax`` = ``d + t_peak`` where ``t_peak`` is the time at which ``(h_beta (x) R)(t)`` peaks
  (its mode; earliest time of the maximum). Without dispersion, t_peak = 0 for all three
  residues (all are non-increasing from R(0) = 1), so tmax = d. For the exponential residue,
  ``t_peak = MTT beta ln(MTT / beta) / (MTT - beta)`` (MTT when beta = MTT); for the gamma
  residue it is MTT x a universal function of beta / MTT computed numerically (cached). The
  dispersed box response ``1 - exp(-t / beta)`` rises until MTT, a plateau whose strict
  maximum at its far end no deconvolution of noisy data can place (and which would put the
  whole lesion, oligaemic rim included, beyond 6 s); for the box, t_peak is the time it
  reaches 95 % of its maximum, ``-beta ln(1 - 0.95 (1 - exp(-MTT / beta)))`` (0 without
  dispersion, like the others).
* CBF and CBV truth are the tissue's own values (not the dispersed apparent ones, not diluted by
  CSF partial volume); maps are NaN outside parenchyma.
* ``normal_cbf`` = mean truth CBF over parenchyma with tmax < 4 s in the hemisphere without the
  lesion (anatomical x of the opposite sign), or the whole brain when there is no lesion.
* ``core`` = parenchyma with CBF < 0.3 x normal_cbf; ``tmax6`` / ``tmax4`` = parenchyma with
  tmax > 6 s / > 4 s; volumes = voxel count x voxel volume in mL.

Noise (noise RNG stream)
------------------------
Per seed one of: ``white`` Gaussian; ``fbp`` (white noise filtered in each slice with the
amplitude ``sqrt(|f|) * W(f)``, so that the noise power spectrum is the ramp |f| times W^2, with
W a generalised Hamming apodisation window ``a + (1 - a) cos(pi f / fc)`` (a 0.5-0.7, i.e. Hann
to beyond Hamming) that reaches its cut-off fc at 0.9-1.4 x the in-plane Nyquist frequency along
the radial frequency); ``blur`` (Gaussian blur of sigma 0.5-1 pixel). Filtering is periodic in
the FFT domain and normalised by the mean squared filter gain, so the expected per-voxel sd is
exactly ``noise_hu`` in uniform tissue.
Noise is independent between frames and slices. Slices whose centre lies below z = -2 mm (the
posterior fossa / skull base) get 1.3 x the sd (photon starvation by the skull base). Each frame
also receives a global offset drawn uniformly in +-1 HU (only when ``noise_hu > 0``, so that
``noise_hu = 0`` gives exact noise-free data).

Sources drawn on (from memory, for the physiology and conventions, not for code): Meier &
Zierler 1954 and Zierler 1962 (indicator dilution, central volume principle); Ostergaard et al.
1996 (CBF/CBV/MTT definitions with rho and the hematocrit correction k_H); Calamante et al. 2000
and 2004 (delay and dispersion with an exponential vascular transport model); Sheppard 1962 and
Bassingthwaighte et al. 1966 (random-walk indicator-dilution densities); Mouridsen et al. 2006
(gamma-distributed capillary transit times); Astrup et al. 1981 and Campbell et al. 2011
(penumbra/core thresholds, rCBF < 30 %, Tmax > 6 s); Tatu et al. 1998 (arterial territories);
Kak & Slaney 1988 and Boedeker et al. 2007 (FBP ramp/apodisation, CT noise power spectra);
Kudo et al. 2013 (digital CTP phantoms).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, special

RESIDUES = ("exponential", "gamma", "box")
NOISE_KINDS = ("white", "fbp", "blur")

RHO = 1.04  # g/mL, brain density
K_H = 0.73  # large/small vessel hematocrit correction
DT = 0.05  # s, fine time grid
ACQ_SAMPLES = 11  # frames average 11 fine samples = 0.55 s centred on the frame time
CORE_REL = 0.3
TMAX_CORE_MIN = 6.3
PF_Z_MM = -2.0  # slices centred below this (mm from the AC) get stronger noise
PF_NOISE = 1.3

_S_ANAT, _S_PERF, _S_AIF, _S_LESION, _S_NOISE = 1101, 2203, 3307, 4409, 5501

AIR, SOFT, BONE, DIPLOE, CSF, GM, DEEP, WM = range(8)
_N_CLASSES = 8

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_MTT_NODES = np.geomspace(0.5, 400.0, 170)
_BETA_NODES = np.linspace(0.0, 3.0, 13)


@dataclass
class CtpCase:
    frames: NDArray[np.float32]
    times: NDArray[np.float64]
    spacing: tuple[float, float, float]
    truth: dict[str, Any]
    maps: dict[str, NDArray[Any]]


# --------------------------------------------------------------------------------------------
# small helpers


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([stream, int(seed)])


def _f64(x: Any) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _sigmoid(x: Any) -> FloatArray:
    return _f64(special.expit(x))


def _wrap(a: Any) -> FloatArray:
    return _f64((np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi)


def _smooth_field(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    spacing: tuple[float, ...],
    sigma_mm: float,
) -> FloatArray:
    """Unit-sd, zero-mean Gaussian random field with Gaussian correlation of ``sigma_mm``."""
    w = rng.standard_normal(shape)
    sig = tuple(max(sigma_mm / s, 0.25) for s in spacing)
    f = _f64(ndimage.gaussian_filter(w, sig, mode="reflect"))
    sd = float(f.std())
    return (f - f.mean()) / sd if sd > 0 else f


def _uniform01(n: FloatArray) -> FloatArray:
    """Map a unit Gaussian field onto [0, 1] (normal CDF)."""
    return _f64(special.ndtr(n))


# --------------------------------------------------------------------------------------------
# residues, dispersion and the peak-time truth


def _residue_integral(residue: str, mtt: FloatArray, t: FloatArray) -> FloatArray:
    """Integral of R from 0 to t (broadcasting)."""
    if residue == "exponential":
        return _f64(mtt * -np.expm1(-t / mtt))
    if residue == "gamma":
        x = t / (mtt / 3.0)
        return _f64(t * special.gammaincc(3.0, x) + mtt * special.gammainc(4.0, x))
    if residue == "box":
        return _f64(np.minimum(t, mtt))
    raise ValueError(f"unknown residue {residue!r}; expected one of {RESIDUES}")


def _cell_edges(n: int) -> tuple[FloatArray, FloatArray]:
    t = _f64(np.arange(n) * DT)
    return _f64(np.maximum(t - DT / 2.0, 0.0)), t + DT / 2.0


def _residue_cells(residue: str, mtt: FloatArray, n: int) -> FloatArray:
    lo, hi = _cell_edges(n)
    m = mtt[:, None]
    return _residue_integral(residue, m, hi[None, :]) - _residue_integral(residue, m, lo[None, :])


def _kernel_cells(beta: FloatArray, n: int) -> FloatArray:
    """Cell integrals of the unit-area exponential kernel (a delta for beta = 0)."""
    lo, hi = _cell_edges(n)
    out = np.zeros((beta.size, n))
    for i, b in enumerate(beta):
        if b <= 0:
            out[i, 0] = 1.0
        else:
            out[i] = np.exp(-lo / b) - np.exp(-hi / b)
    return out


@functools.lru_cache(maxsize=1)
def _gamma_peak_table() -> tuple[FloatArray, FloatArray]:
    """Mode (in units of MTT) of h_beta (x) R_gamma as a function of rho = beta / MTT."""
    rho = np.geomspace(1e-3, 20.0, 360)
    du = 5e-4
    u = np.arange(0.0, 8.0 + du, du)
    s = np.exp(-3.0 * u) * (1.0 + 3.0 * u + 4.5 * u * u)
    decay = np.exp(-du / rho)
    gain = 1.0 - decay
    y = np.zeros_like(rho)
    prev = np.ones_like(rho)
    tau = np.full(rho.shape, np.nan)
    for k in range(1, u.size):
        y = y * decay + gain * 0.5 * (s[k - 1] + s[k])
        diff = s[k] - y
        hit = (diff <= 0.0) & np.isnan(tau)
        if hit.any():
            frac = prev[hit] / (prev[hit] - diff[hit])
            tau[hit] = u[k - 1] + frac * du
            if not np.isnan(tau).any():
                break
        prev = diff
    tau = np.where(np.isnan(tau), u[-1], tau)
    return np.concatenate(([0.0], rho)), np.concatenate(([0.0], tau))


def dispersed_residue_peak(residue: str, mtt: Any, beta: Any) -> FloatArray:
    """Time (s) at which ``(h_beta (x) R)(t)`` peaks: the ``t_peak`` of ``tmax = d + t_peak``."""
    m = _f64(mtt)
    b = np.broadcast_to(_f64(beta), m.shape).astype(np.float64)
    m = np.broadcast_to(m, b.shape).astype(np.float64)
    out = np.zeros(m.shape)
    pos = b > 0
    if residue == "exponential":
        rho = b[pos] / m[pos]
        near = np.abs(1.0 - rho) < 1e-6
        safe = np.where(near, 0.5, rho)
        val = np.where(near, 1.0, safe * np.log(1.0 / safe) / (1.0 - safe))
        out[pos] = m[pos] * val
    elif residue == "gamma":
        rho_n, tau_n = _gamma_peak_table()
        out[pos] = m[pos] * np.interp(b[pos] / m[pos], rho_n, tau_n)
    elif residue == "box":
        out[pos] = -b[pos] * np.log1p(-0.95 * -np.expm1(-m[pos] / b[pos]))
    else:
        raise ValueError(f"unknown residue {residue!r}; expected one of {RESIDUES}")
    return out


def _convolve_fine(a: FloatArray, cells: FloatArray) -> FloatArray:
    n = a.size
    size = sfft.next_fast_len(2 * n)
    return _f64(sfft.irfft(sfft.rfft(a, size) * sfft.rfft(cells, size), size)[:n])


def _shift(curve: FloatArray, delay: float) -> FloatArray:
    t = np.arange(curve.size) * DT
    return _f64(np.interp(t - delay, t, curve, left=0.0))


def _window(curve: FloatArray) -> FloatArray:
    return _f64(ndimage.uniform_filter1d(curve, ACQ_SAMPLES, axis=-1, mode="constant"))


def _tissue_table(aif: FloatArray, residue: str) -> FloatArray:
    """(n_mtt, n_beta, n_t) responses ``(AIF (x) h_beta (x) R_mtt)`` in HU s, window-averaged."""
    n = aif.size
    size = sfft.next_fast_len(3 * n)
    fa = sfft.rfft(aif, size)
    fr = sfft.rfft(_residue_cells(residue, _MTT_NODES, n), size, axis=-1)
    fh = sfft.rfft(_kernel_cells(_BETA_NODES, n), size, axis=-1)
    out = np.empty((_MTT_NODES.size, _BETA_NODES.size, n))
    for ib in range(_BETA_NODES.size):
        out[:, ib, :] = sfft.irfft(fr * (fa * fh[ib])[None, :], size, axis=-1)[:, :n]
    return _window(out)


def _sample_table(
    table: FloatArray, mtt: FloatArray, beta: FloatArray, delay: FloatArray, times: FloatArray
) -> FloatArray:
    """Trilinear interpolation of the table at (log mtt, beta, times - delay): (T, V)."""
    n_m, n_b, n_t = table.shape
    lm = np.log(np.clip(mtt, _MTT_NODES[0], _MTT_NODES[-1]) / _MTT_NODES[0])
    lm = np.clip(lm / math.log(_MTT_NODES[1] / _MTT_NODES[0]), 0.0, n_m - 1 - 1e-9)
    im = np.floor(lm).astype(np.int64)
    fm = lm - im
    lb = np.clip(beta / (_BETA_NODES[1] - _BETA_NODES[0]), 0.0, n_b - 1 - 1e-9)
    ib = np.floor(lb).astype(np.int64)
    fb = lb - ib
    flat = table.reshape(-1)
    out = np.zeros((times.size, mtt.size))
    chunk = 8192
    for s0 in range(0, mtt.size, chunk):
        sl = slice(s0, s0 + chunk)
        tt = np.clip((times[:, None] - delay[None, sl]) / DT, 0.0, n_t - 1 - 1e-9)
        it = np.floor(tt).astype(np.int64)
        ft = tt - it
        acc = np.zeros(tt.shape)
        for da in (0, 1):
            wa = fm[sl] if da else 1.0 - fm[sl]
            for db in (0, 1):
                wb = fb[sl] if db else 1.0 - fb[sl]
                w = wa * wb
                if not np.any(w > 0):
                    continue
                base = ((im[sl] + da) * n_b + (ib[sl] + db)) * n_t
                idx = base[None, :] + it
                acc += w[None, :] * (flat[idx] * (1.0 - ft) + flat[idx + 1] * ft)
        out[:, sl] = acc
    return out


# --------------------------------------------------------------------------------------------
# arterial input


def _ldrw(t: FloatArray, mu: float, lam: float) -> FloatArray:
    out = np.zeros_like(t)
    pos = t > 0
    tp = t[pos]
    out[pos] = np.sqrt(lam / (2.0 * np.pi * mu * tp)) * np.exp(
        -lam * (tp - mu) ** 2 / (2.0 * mu * tp)
    )
    area = out.sum() * DT
    return out / area if area > 0 else out


def _aif_params(seed: int) -> dict[str, float]:
    r = _rng(seed, _S_AIF)
    return {
        "arrival_s": float(r.uniform(3.0, 9.0)),
        "peak_hu": float(r.uniform(250.0, 600.0)),
        "injection_s": float(r.uniform(4.0, 6.0)),
        "cp_mu_s": float(r.uniform(5.0, 9.0)),
        "cp_lambda": float(r.uniform(5.0, 12.0)),
        "recirculation_fraction": float(r.uniform(0.10, 0.25)),
        "recirculation_mu_s": float(r.uniform(7.0, 10.0)),
        "recirculation_lambda": float(r.uniform(3.0, 6.0)),
        "plateau_fraction": float(r.uniform(0.05, 0.10)),
        "plateau_mu_s": float(r.uniform(14.0, 22.0)),
        "plateau_lambda": float(r.uniform(1.5, 3.0)),
        "washout_s": float(r.uniform(150.0, 400.0)),
        "venous_delay_s": float(r.uniform(4.0, 7.0)),
        "venous_beta_s": float(r.uniform(1.5, 3.0)),
        "venous_peak_ratio": float(r.uniform(1.0, 1.8)),
    }


def _make_aif(p: dict[str, float], n: int) -> FloatArray:
    """AIF enhancement (HU) on the fine grid t = k * DT, k < n (not window-averaged)."""
    m = n + int(80.0 / DT)
    s = _f64(np.arange(m) * DT)
    rect = (s < p["injection_s"]).astype(np.float64)
    fp = _convolve_fine(rect, _ldrw(s, p["cp_mu_s"], p["cp_lambda"]) * DT)
    area_fp = fp.sum() * DT
    rec = p["recirculation_fraction"] * _convolve_fine(
        fp, _ldrw(s, p["recirculation_mu_s"], p["recirculation_lambda"]) * DT
    )
    disp = _convolve_fine(fp, _ldrw(s, p["plateau_mu_s"], p["plateau_lambda"]) * DT)
    cum = np.cumsum(disp) * DT / area_fp
    s_pk = float(s[int(np.argmax(fp))])
    plateau = (
        p["plateau_fraction"] * fp.max() * cum * np.exp(-np.maximum(s - s_pk, 0.0) / p["washout_s"])
    )
    tot = fp + rec + plateau
    k5 = int(np.argmax(tot >= 0.05 * tot.max()))
    s5 = float(s[k5 - 1] + DT * (0.05 * tot.max() - tot[k5 - 1]) / (tot[k5] - tot[k5 - 1]))
    t = np.arange(n) * DT
    ta = p["arrival_s"]
    aif = np.interp(t - ta + s5, s, tot, left=0.0)
    ramp = np.clip((t - (ta - 2.5)) / 2.0, 0.0, 1.0)
    aif *= ramp * ramp * (3.0 - 2.0 * ramp)
    return _f64(aif * p["peak_hu"] / aif.max())


# --------------------------------------------------------------------------------------------
# anatomy


@dataclass
class _Ellipsoid:
    label: int
    centre: tuple[float, float, float]
    semi: tuple[float, float, float]
    yaw: float = 0.0
    min_abs_x: float = 0.0


@dataclass
class _Branch:
    name: str
    group: str
    side: int
    points: FloatArray  # (n, 3) anatomical mm
    radius: FloatArray  # (n,)


@dataclass
class _Harm:
    """Smooth function of (angle, z): base + sum amp_k cos(k theta + phase_k + zf_k z)."""

    base: float
    coef: FloatArray  # (k, 4): order, amp, phase, zfreq
    lo: float
    hi: float

    def __call__(self, theta: FloatArray, z: float) -> FloatArray:
        v = np.full(theta.shape, self.base)
        for order, amp, phase, zf in self.coef:
            v += amp * np.cos(order * theta + phase + zf * z)
        return _f64(np.clip(v, self.lo, self.hi))


def _harm(rng: np.random.Generator, base: float, amp: float, lo: float, hi: float) -> _Harm:
    k = np.arange(1, 6, dtype=np.float64)
    coef = np.stack(
        [
            k,
            amp * rng.uniform(0.3, 1.0, 5) / np.sqrt(k),
            rng.uniform(0, 2 * np.pi, 5),
            rng.uniform(-0.02, 0.02, 5),
        ],
        axis=1,
    )
    return _Harm(base, coef, lo, hi)


@dataclass
class _Anatomy:
    rot: float
    tx: float
    ty: float
    z_mid: float
    yc: float
    a: float
    b: float
    n_sq: float
    z0: float
    c_top: float
    m_top: float
    c_inf: float
    bumps: FloatArray  # (k, 5): amp, theta, sigma_theta, z, sigma_z
    wobble: FloatArray  # (k, 3): order, amp, phase
    gap: _Harm
    skull: _Harm
    scalp: _Harm
    cortex: _Harm
    t_inner: float
    t_outer: float
    atrophy: float
    sulci: FloatArray  # (K, 7): phi0, tilt, bend, depth, width, zc, hz
    sylvian: dict[int, dict[str, float]]
    fissure_w: float
    tent_z0: float
    folia_phase: float
    ellipsoids: list[_Ellipsoid]
    csf_spaces: list[_Ellipsoid]
    bones: list[_Ellipsoid]
    branches: list[_Branch] = field(default_factory=list)
    hu: dict[str, float] = field(default_factory=dict)

    # --- outline -------------------------------------------------------------------------
    def profile(self, z: float) -> float:
        if z >= self.z0:
            q = min((z - self.z0) / self.c_top, 1.0)
            return float((1.0 - q**self.m_top) ** (1.0 / self.m_top))
        q = min((self.z0 - z) / self.c_inf, 1.0)
        return float(math.sqrt(1.0 - q * q))

    def kappa(self, z: float) -> float:
        r0 = 0.5 * (self.a + self.b)
        slope = r0 * (self.profile(z + 0.5) - self.profile(z - 0.5))
        return float(min(3.0, math.sqrt(1.0 + slope * slope)))

    def radius(self, theta: FloatArray, z: float) -> FloatArray:
        c = np.abs(np.cos(theta)) / self.a
        s = np.abs(np.sin(theta)) / self.b
        sq = (c**self.n_sq + s**self.n_sq) ** (-1.0 / self.n_sq)
        mod = np.ones_like(theta)
        for amp, th0, sth, zc, sz in self.bumps:
            mod += amp * np.exp(-0.5 * (_wrap(theta - th0) / sth) ** 2 - 0.5 * ((z - zc) / sz) ** 2)
        for order, amp, phase in self.wobble:
            mod += amp * np.cos(order * theta + phase)
        return _f64(sq * self.profile(z) * mod)

    def inner_table(self, theta: float, z: float) -> float:
        th = np.array([theta])
        return float(self.radius(th, z)[0] + self.gap(th, z)[0] * self.kappa(z))


def _sample_anatomy(seed: int) -> _Anatomy:
    r = _rng(seed, _S_ANAT)
    u = r.uniform
    atrophy = float(u(0.0, 1.0))
    vs = 0.8 + 0.9 * atrophy
    # lobar bulges: (amp, theta, sigma_theta, z, sigma_z); theta = atan2(y, x), x left, y post.
    fr_l, fr_r = u(0.03, 0.06), u(0.035, 0.07)
    oc_l, oc_r = u(0.035, 0.065), u(0.03, 0.055)
    bumps = np.array(
        [
            [fr_l, -np.pi / 2 + 0.55, 0.35, 22.0, 28.0],
            [fr_r, -np.pi / 2 - 0.55, 0.35, 22.0, 28.0],
            [u(0.03, 0.07), -0.3, 0.35, -12.0, 14.0],
            [u(0.03, 0.07), np.pi + 0.3, 0.35, -12.0, 14.0],
            [oc_l, np.pi / 2 - 0.35, 0.3, 12.0, 25.0],
            [oc_r, np.pi / 2 + 0.35, 0.3, 12.0, 25.0],
        ]
    )
    wobble = np.stack(
        [np.arange(3, 7, dtype=np.float64), u(0.003, 0.01, 4), u(0, 2 * np.pi, 4)], axis=1
    )
    an = _Anatomy(
        rot=float(np.deg2rad(u(-3.0, 3.0))),
        tx=float(u(-2.5, 2.5)),
        ty=0.0,
        z_mid=float(u(23.0, 27.0)),
        yc=float(u(12.0, 18.0)),
        a=float(u(59.0, 66.0)),
        b=float(u(71.0, 78.0)),
        n_sq=float(u(2.1, 2.9)),
        z0=float(u(5.0, 12.0)),
        c_top=0.0,
        m_top=float(u(2.0, 2.8)),
        c_inf=float(u(48.0, 60.0)),
        bumps=bumps,
        wobble=wobble,
        gap=_harm(r, 0.6 + 2.2 * atrophy, 0.5, 0.5, 3.5),
        skull=_harm(r, float(u(5.0, 6.5)), 2.0, 4.0, 9.0),
        scalp=_harm(r, float(u(3.5, 4.8)), 1.0, 3.0, 5.5),
        cortex=_harm(r, float(u(2.4, 3.2)), 0.8, 2.0, 4.0),
        t_inner=float(u(1.2, 1.8)),
        t_outer=float(u(1.5, 2.2)),
        atrophy=atrophy,
        sulci=np.zeros((0, 7)),
        sylvian={},
        fissure_w=float(u(1.0, 2.0) * (1.0 + atrophy)),
        tent_z0=float(u(2.0, 6.0)),
        folia_phase=float(u(0.0, 2 * np.pi)),
        ellipsoids=[],
        csf_spaces=[],
        bones=[],
    )
    an.ty = an.yc + float(u(-2.5, 2.5))
    an.c_top = float(u(72.0, 80.0)) - an.z0
    # skull thicker frontally and occipitally: add an order-2 term with fixed phase
    an.skull.coef = np.vstack([an.skull.coef, [[2.0, -1.0, 0.0, 0.0]]])

    # sulci
    k_sulci = int(r.integers(30, 39))
    base = np.linspace(0.0, 2 * np.pi, k_sulci, endpoint=False)
    phi = base + u(-0.3, 0.3, k_sulci) * (2 * np.pi / k_sulci) + u(0, 2 * np.pi)
    phi = _wrap(phi)
    keep = (np.abs(_wrap(phi - np.pi / 2)) > 0.14) & (np.abs(_wrap(phi + np.pi / 2)) > 0.14)
    phi = phi[keep]
    k = phi.size
    an.sulci = np.stack(
        [
            phi,
            u(-0.15, 0.15, k),
            u(-0.25, 0.25, k),
            u(5.0, 16.0, k) * (1.0 + 0.2 * atrophy),
            u(0.6, 1.2, k) * (1.0 + 1.5 * atrophy),
            u(-20.0, 75.0, k),
            u(25.0, 60.0, k),
        ],
        axis=1,
    )

    for s in (1, -1):
        an.sylvian[s] = {
            "ui0": float(u(36.0, 40.0)),
            "ky": float(u(0.002, 0.006)),
            "kz": float(u(0.002, 0.006)),
            "yic": float(u(-6.0, 0.0)),
            "zic": float(u(6.0, 12.0)),
            "hy": float(u(20.0, 24.0)),
            "hz": float(u(16.0, 20.0)),
            "wic": float(u(1.2, 2.2) * (1.0 + atrophy)),
            "ys0": float(u(-8.0, 2.0)),
            "ku": float(u(0.1, 0.5)),
            "kq": float(u(-0.006, 0.006)),
            "kzs": float(u(0.5, 1.0)),
            "zsc": float(u(2.0, 6.0)),
            "hzs": float(u(16.0, 20.0)),
            "ws": float(u(1.5, 3.0) * (1.0 + 0.8 * atrophy)),
        }

    def jit(v: float, d: float = 1.5) -> float:
        return float(v + u(-d, d))

    def sc(v: float, f: float = 0.1) -> float:
        return float(v * u(1.0 - f, 1.0 + f))

    ell: list[_Ellipsoid] = []
    for s in (1, -1):
        # deep grey matter
        horn_edge = 1.5 + 8.0 * vs
        ell.append(
            _Ellipsoid(
                DEEP,
                (s * jit(horn_edge + 2.0), jit(-12), jit(9)),
                (sc(5.5), sc(9.0), sc(9.0)),
                s * 0.2,
            )
        )
        ell.append(
            _Ellipsoid(
                DEEP,
                (s * jit(horn_edge * 0.8 + 3.0), jit(6), jit(19)),
                (sc(3.5), sc(14.0), sc(4.0)),
                s * 0.15,
            )
        )
        ell.append(
            _Ellipsoid(
                DEEP, (s * jit(25.0), jit(-1), jit(2)), (sc(5.5), sc(15.0), sc(10.0)), s * 0.17
            )
        )
        ell.append(
            _Ellipsoid(
                DEEP, (s * jit(18.5, 1.0), jit(-1), jit(0)), (sc(3.5), sc(9.0), sc(6.0)), s * 0.17
            )
        )
        ell.append(
            _Ellipsoid(
                DEEP, (s * jit(10.5, 1.0), jit(16), jit(6)), (sc(8.0), sc(14.0), sc(9.0)), -s * 0.26
            )
        )
        ell.append(
            _Ellipsoid(
                GM, (s * jit(27.0), jit(18), jit(-12)), (sc(5.0), sc(16.0), sc(5.0)), -s * 0.3
            )
        )
    for s in (1, -1):
        # internal capsule (white matter carved into the deep grey)
        ell.append(_Ellipsoid(WM, (s * 17.5, -9.0, 6.0), (2.2, 10.0, 9.0), -s * 0.45))
        ell.append(_Ellipsoid(WM, (s * 19.5, 9.0, 5.0), (2.2, 11.0, 9.0), s * 0.45))
    # perimesencephalic cistern then midbrain
    mb_c = (0.0, jit(24.0), jit(-18.0))
    mb_s = (sc(13.0), sc(11.0), 16.0)
    cist = 2.0 + 1.5 * atrophy
    ell.append(_Ellipsoid(CSF, mb_c, (mb_s[0] + cist, mb_s[1] + cist, mb_s[2] + cist)))
    ell.append(_Ellipsoid(WM, mb_c, mb_s))
    an.ellipsoids = ell

    # CSF spaces painted last inside the brain
    csf: list[_Ellipsoid] = []
    for s in (1, -1):
        csf += [
            _Ellipsoid(
                CSF,
                (s * (1.5 + 4.0 * vs), jit(-14, 1.0), jit(13, 1.0)),
                (4.0 * vs, sc(13.0), 9.0 * (0.8 + 0.2 * vs)),
                s * 0.25,
                0.8,
            ),
            _Ellipsoid(
                CSF,
                (s * (2.5 + 4.5 * vs), jit(8, 1.0), jit(21, 1.0)),
                (4.2 * vs, sc(20.0), 5.0 * (0.7 + 0.3 * vs)),
                -s * 0.08,
                0.8,
            ),
            _Ellipsoid(
                CSF,
                (s * jit(21.0, 1.0), jit(34, 1.0), jit(12, 1.0)),
                (5.0 * vs, 9.0, 8.0),
                -s * 0.5,
            ),
            _Ellipsoid(
                CSF,
                (s * jit(17.0, 1.0), jit(48, 1.0), jit(10, 1.0)),
                (2.5 * vs, 10.0, 4.0),
                s * 0.3,
            ),
            _Ellipsoid(
                CSF,
                (s * jit(30.0, 1.0), jit(8, 1.0), jit(-12, 1.0)),
                (2.0 * vs, 12.0, 3.0),
                -s * 0.35,
            ),
        ]
    csf += [
        _Ellipsoid(CSF, (0.0, jit(6.0, 1.0), jit(3.0, 1.0)), (1.5 * vs, 13.0, 9.0)),
        _Ellipsoid(CSF, (0.0, jit(42.0, 1.0), -18.0), (6.0, 4.0, 6.0)),
        _Ellipsoid(CSF, (0.0, jit(-4.0, 1.0), -14.0), (14.0, 10.0, 5.0)),
    ]
    an.csf_spaces = csf
    an.bones = []
    for s in (1, -1):
        an.bones.append(
            _Ellipsoid(
                BONE, (s * jit(33.0), jit(23.0), jit(-22.0, 1.0)), (24.0, 7.0, 9.0), -s * 0.65
            )
        )
        an.bones.append(
            _Ellipsoid(
                BONE, (s * jit(27.0), jit(-20.0), jit(-15.0, 1.0)), (22.0, 3.0, 3.0), s * 0.15
            )
        )
    an.bones.append(_Ellipsoid(BONE, (0.0, jit(2.0), jit(-16.5, 1.0)), (10.0, 3.0, 4.0)))

    an.hu = {
        "gm": float(u(37.0, 41.0)),
        "deep": float(u(35.0, 39.0)),
        "wm": float(u(27.0, 31.0)),
        "csf": float(u(3.0, 9.0)),
        "blood": float(u(40.0, 46.0)),
        "soft": float(u(25.0, 45.0)),
        "diploe": float(u(500.0, 800.0)),
        "bone": float(u(1350.0, 1800.0)),
        "air": -1000.0,
    }
    an.branches = _sample_vessels(an, r)
    return an


def _polar_point(an: _Anatomy, theta: float, z: float, dr: float) -> list[float]:
    rr = an.inner_table(theta, z) + dr
    return [rr * math.cos(theta), an.yc + rr * math.sin(theta), z]


def _sample_vessels(an: _Anatomy, r: np.random.Generator) -> list[_Branch]:
    u = r.uniform
    out: list[_Branch] = []

    def add(name: str, group: str, side: int, pts: list[list[float]], rad: list[float]) -> None:
        out.append(
            _Branch(
                name, group, side, np.array(pts, dtype=np.float64), np.array(rad, dtype=np.float64)
            )
        )

    for s in (1, -1):
        nm = "left" if s > 0 else "right"
        j = [float(v) for v in u(-1.5, 1.5, 12)]
        add(
            f"ica_{nm}",
            "ica",
            s,
            [[s * (15 + j[0]), -4 + j[1], -24], [s * (14 + j[0]), -3, -8], [s * 13, -1, -4]],
            [2.3, 2.2, 2.0],
        )
        m1_mid = [s * (22 + j[2]), 0.0 + j[3], -3 + 0.5 * j[4]]
        add(f"m1p_{nm}", "m1p", s, [[s * 13, -1, -4], m1_mid], [1.6, 1.55])
        bif = [s * (35 + j[5]), 2 + j[6], 1 + j[7]]
        add(f"m1d_{nm}", "m1d", s, [m1_mid, [s * 30, 1 + j[3], -1], bif], [1.55, 1.5, 1.45])
        add(
            f"m2s_{nm}",
            "m2s",
            s,
            [bif, [s * 37, -6 + j[8], 10], [s * 39, -12 + j[9], 25], [s * 42, -14, 40]],
            [1.2, 1.15, 1.1, 1.0],
        )
        add(
            f"m2s2_{nm}",
            "m2s",
            s,
            [bif, [s * 37, 4 + j[10], 12], [s * 40, 6, 30], [s * 43, 4, 44]],
            [1.1, 1.05, 1.0, 0.9],
        )
        add(
            f"m2i_{nm}",
            "m2i",
            s,
            [bif, [s * 38, 10, 4 + j[11]], [s * 41, 20, 10], [s * 45, 30, 16]],
            [1.2, 1.15, 1.05, 1.0],
        )
        # cortical (M4) branches climbing on the convexity in the subarachnoid space
        for div, (t_lo, t_hi, z_lo) in (("m4s", (-1.0, -0.25, 14.0)), ("m4i", (0.05, 0.8, -8.0))):
            for kb in range(3):
                th0 = float(u(t_lo, t_hi))
                if s < 0:
                    th0 = np.pi - th0
                z_a = z_lo + float(u(0, 10))
                zs = np.linspace(z_a, z_a + float(u(25, 40)), 6)
                dth = float(u(-0.15, 0.15))
                pts = [
                    _polar_point(an, th0 + dth * q / 5.0, float(zz), -0.6)
                    for q, zz in enumerate(zs)
                ]
                add(f"{div}{kb}_{nm}", div, s, pts, [0.75] * 6)
        # A1 to the midline
        add(
            f"a1_{nm}",
            "aca",
            s,
            [[s * 13, -1, -4], [s * 6, -10, -2], [s * 1.8, -16, 0]],
            [1.2, 1.1, 1.0],
        )
        add(
            f"a2_{nm}",
            "aca",
            s,
            [
                [s * 1.8, -16, 0],
                [s * 1.8, -28, 12],
                [s * 1.8, -31, 28],
                [s * 1.8, -20, 38],
                [s * 1.8, 0, 40],
                [s * 1.8, 25, 38],
            ],
            [1.0, 1.0, 0.95, 0.9, 0.85, 0.8],
        )
        add(
            f"pca_{nm}",
            "pca",
            s,
            [
                [0, 10, -14],
                [s * 8, 12, -12],
                [s * 18, 22, -10],
                [s * 22, 38, -6],
                [s * 15, 60, -2],
                [s * 10, 80, 2],
            ],
            [1.2, 1.15, 1.1, 1.05, 0.95, 0.9],
        )
    add("basilar", "basilar", 0, [[0, 13, -32], [0, 10, -14]], [1.7, 1.6])

    # venous sinuses following the inner table
    sss: list[list[float]] = []
    rad: list[float] = []
    for z in np.arange(-5.0, 66.0, 4.0):
        rs = 4.0 if z < 40 else 3.5
        p = _polar_point(an, np.pi / 2, float(z), -0.8 * rs)
        sss.append([0.0, p[1], float(z)])
        rad.append(rs)
    add("sss_posterior", "sinus", 0, sss, rad)
    ant: list[list[float]] = []
    rad = []
    for z in np.arange(20.0, 66.0, 4.0):
        rs = 1.5 + 1.5 * (z - 20.0) / 45.0
        p = _polar_point(an, -np.pi / 2, float(z), -0.8 * rs)
        ant.append([0.0, p[1], float(z)])
        rad.append(rs)
    add("sss_anterior", "sinus", 0, ant, rad)
    tor = _polar_point(an, np.pi / 2, -5.0, -4.0)
    add("torcular", "sinus", 0, [[0.0, tor[1], -7.0], [0.0, tor[1], -3.0]], [5.0, 5.0])
    add("straight_sinus", "sinus", 0, [[0.0, tor[1], -4.0], [0.0, 45.0, 8.0]], [2.5, 2.2])
    for s in (1, -1):
        pts = []
        for q in range(7):
            th = np.pi / 2 - s * 1.2 * q / 6.0
            pts.append(_polar_point(an, th, -5.0 - 10.0 * q / 6.0, -2.5))
        add(
            f"transverse_{'left' if s > 0 else 'right'}",
            "sinus",
            s,
            pts,
            [3.5 - 0.1 * q for q in range(7)],
        )
    return out


@dataclass
class _Grid:
    """Image sampling geometry (image mm coordinates, origin at the image centre)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    z: FloatArray  # slice centres, anatomical z (mm from the AC)
    yi: FloatArray
    xi: FloatArray
    cos: float
    sin: float
    tx: float
    ty: float

    def to_anat(self, xi: FloatArray, yi: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (self.cos * xi - self.sin * yi + self.tx, self.sin * xi + self.cos * yi + self.ty)

    def to_image(self, xa: FloatArray, ya: FloatArray) -> tuple[FloatArray, FloatArray]:
        dx, dy = xa - self.tx, ya - self.ty
        return self.cos * dx + self.sin * dy, -self.sin * dx + self.cos * dy


def _make_grid(
    an: _Anatomy, shape: tuple[int, int, int], spacing: tuple[float, float, float]
) -> _Grid:
    nz, ny, nx = shape
    sz, sy, sx = spacing
    return _Grid(
        shape=shape,
        spacing=spacing,
        z=_f64(an.z_mid + (np.arange(nz) - (nz - 1) / 2.0) * sz),
        yi=_f64((np.arange(ny) - (ny - 1) / 2.0) * sy),
        xi=_f64((np.arange(nx) - (nx - 1) / 2.0) * sx),
        cos=math.cos(an.rot),
        sin=math.sin(an.rot),
        tx=an.tx,
        ty=an.ty,
    )


def _fine_axis(centres: FloatArray, step: float, f: int) -> FloatArray:
    off = ((np.arange(f) + 0.5) / f - 0.5) * step
    return _f64((centres[:, None] + off[None, :]).ravel())


def _crop(
    xf: FloatArray, yf: FloatArray, grid: _Grid, box: tuple[float, float, float, float]
) -> tuple[slice, slice]:
    """Index ranges of the fine in-plane axes covering an anatomical (x0, x1, y0, y1) box."""
    x0, x1, y0, y1 = box
    cx = np.array([x0, x1, x0, x1])
    cy = np.array([y0, y0, y1, y1])
    ix, iy = grid.to_image(cx, cy)
    sx = slice(int(np.searchsorted(xf, ix.min())), int(np.searchsorted(xf, ix.max(), "right")))
    sy = slice(int(np.searchsorted(yf, iy.min())), int(np.searchsorted(yf, iy.max(), "right")))
    return sy, sx


def _ellipsoid_planes(
    ellipsoids: Iterable[_Ellipsoid],
    xa: FloatArray,
    ya: FloatArray,
    z: float,
    xf: FloatArray,
    yf: FloatArray,
    grid: _Grid,
) -> Iterator[tuple[_Ellipsoid, tuple[slice, slice], BoolArray]]:
    """Each ellipsoid that the plane at ``z`` cuts, with its crop and its mask in the crop."""
    for e in ellipsoids:
        cx, cy, cz = e.centre
        ax, ay, az = e.semi
        qz = ((z - cz) / az) ** 2
        if qz >= 1.0:
            continue
        rr = max(ax, ay)
        sl = _crop(xf, yf, grid, (cx - rr, cx + rr, cy - rr, cy + rr))
        x = xa[sl] - cx
        y = ya[sl] - cy
        c, s = math.cos(e.yaw), math.sin(e.yaw)
        lx = c * x + s * y
        ly = -s * x + c * y
        m = (lx / ax) ** 2 + (ly / ay) ** 2 + qz <= 1.0
        if e.min_abs_x > 0:
            m &= np.abs(xa[sl]) > e.min_abs_x
        yield e, sl, m


def _label_plane(
    an: _Anatomy,
    grid: _Grid,
    xa: FloatArray,
    ya: FloatArray,
    r: FloatArray,
    th: FloatArray,
    z: float,
    xf: FloatArray,
    yf: FloatArray,
) -> NDArray[np.int8]:
    kap = an.kappa(z)
    big_r = an.radius(th, z)
    depth = big_r - r
    gap = an.gap(th, z) * kap
    ts = an.skull(th, z) * kap
    scalp = an.scalp(th, z) * kap
    lab = np.full(r.shape, AIR, dtype=np.int8)
    lab[r <= big_r + gap + ts + scalp] = SOFT
    rin = big_r + gap
    bone = (r > rin) & (r <= rin + ts)
    lab[bone] = BONE
    dip = bone & (r > rin + an.t_inner * kap) & (r < rin + ts - an.t_outer * kap)
    lab[dip] = DIPLOE
    lab[(r > big_r) & (r <= rin)] = CSF
    brain = depth >= 0
    lab[brain] = WM
    g = an.cortex(th, z) * kap

    # deep structures, capsules, midbrain and its cistern
    for e, sl, m in _ellipsoid_planes(an.ellipsoids, xa, ya, z, xf, yf, grid):
        sub = lab[sl]
        sub[m & brain[sl]] = e.label

    # posterior fossa: cerebellum with folia, tentorium
    y_notch = 28.0 + 0.2 * np.abs(xa)
    z_tent = an.tent_z0 - 0.006 * xa * xa - 0.12 * np.maximum(ya - 45.0, 0.0)
    behind = brain & (ya > y_notch)
    pf = behind & (z < z_tent) & (ya > 37.0 - 0.2 * np.abs(xa))
    if pf.any():
        rho = np.sqrt(xa * xa + (ya - 62.0) ** 2 + (z + 30.0) ** 2)
        az = np.arctan2(ya - 62.0, xa)
        rho = (
            rho
            + 2.0 * np.sin(3.0 * az + an.folia_phase)
            + 1.2 * np.sin(5.0 * az - 0.2 * z + 2.0 * an.folia_phase)
        )
        folia = np.sin(2 * np.pi * rho / 3.2 + an.folia_phase) > -0.35
        lab[pf & folia] = GM
        lab[pf & ~folia] = WM
    above = behind & (z >= z_tent) & (z - z_tent < g)
    lab[above] = GM
    lab[behind & (np.abs(z - z_tent) < 0.6)] = SOFT

    # cortical ribbon
    lab[brain & (depth < g)] = GM

    # sulci (nearest cleft in angle)
    sul = an.sulci
    taper = np.clip(1.0 - ((z - sul[:, 5]) / sul[:, 6]) ** 2, 0.0, 1.0)
    active = taper > 0
    csf_mask = np.zeros(r.shape, dtype=bool)
    if active.any():
        phi = (sul[active, 0] + sul[active, 1] * (z - 25.0) / 60.0) % (2 * np.pi)
        order = np.argsort(phi)
        phi_s = phi[order]
        idx_act = np.flatnonzero(active)[order]
        thm = th % (2 * np.pi)
        k_hi = np.searchsorted(phi_s, thm) % phi_s.size
        k_lo = (k_hi - 1) % phi_s.size
        d_hi = np.abs(_wrap(thm - phi_s[k_hi]))
        d_lo = np.abs(_wrap(thm - phi_s[k_lo]))
        kk = np.where(d_hi < d_lo, k_hi, k_lo)
        sel = idx_act[kk]
        dperp = r * np.abs(_wrap(thm - phi_s[kk] - sul[sel, 2] * depth / 20.0))
        dep = sul[sel, 3] * np.sqrt(taper[sel]) * kap
        half = 0.5 * sul[sel, 4]
        lab[brain & (depth < dep + g) & (dperp < half + g)] = GM
        csf_mask |= brain & (depth < dep) & (dperp < half)

    # sylvian fissures
    for s, p in an.sylvian.items():
        uu = s * xa
        ui = p["ui0"] - p["ky"] * (ya - p["yic"]) ** 2 - p["kz"] * (z - p["zic"]) ** 2
        tap = 1.0 - ((ya - p["yic"]) / p["hy"]) ** 2 - ((z - p["zic"]) / p["hz"]) ** 2
        ok = brain & (tap > 0) & (uu > 10.0)
        half = 0.5 * p["wic"] * np.sqrt(np.clip(tap, 0.0, 1.0))
        dist = np.abs(uu - ui)
        lab[ok & (dist < half + 3.0)] = GM
        csf_mask |= ok & (dist < half)
        zt = 1.0 - ((z - p["zsc"]) / p["hzs"]) ** 2
        if zt > 0:
            umin = float(np.interp(z, [-8.0, -2.0], [14.0, p["ui0"] - 3.0]))
            du = uu - p["ui0"]
            ys = p["ys0"] + p["ku"] * du + p["kq"] * du * du + p["kzs"] * (z - 5.0)
            ok2 = brain & (uu > umin)
            dist2 = np.abs(ya - ys)
            half2 = 0.5 * p["ws"] * math.sqrt(zt)
            lab[ok2 & (dist2 < half2 + g)] = GM
            csf_mask |= ok2 & (dist2 < half2)

    # interhemispheric fissure outside the callosal / diencephalic block and posterior fossa
    arch = np.clip(1.0 - ((ya - 5.0) / 37.0) ** 2, 0.0, 1.0)
    block = (ya > -32.0) & (ya < 42.0) & (z < 22.0 + 8.0 * arch)
    allowed = brain & ~block & ~pf
    ax_ = np.abs(xa)
    lab[allowed & (ax_ < 0.5 * an.fissure_w + g)] = GM
    csf_mask |= allowed & (ax_ < 0.5 * an.fissure_w)

    lab[csf_mask] = CSF
    for _, sl, m in _ellipsoid_planes(an.csf_spaces, xa, ya, z, xf, yf, grid):
        sub = lab[sl]
        sub[m & brain[sl]] = CSF
    for _, sl, m in _ellipsoid_planes(an.bones, xa, ya, z, xf, yf, grid):
        sub = lab[sl]
        sub[m & (sub != AIR)] = BONE
    return lab


def _tube_block(
    br: _Branch, grid: _Grid, zf: FloatArray, yf: FloatArray, xf: FloatArray, h: float
) -> FloatArray | None:
    """Soft occupancy (0..1) of a branch on a fine block (len(zf), len(yf), len(xf))."""
    occ: FloatArray | None = None
    pts = br.points
    ix, iy = grid.to_image(pts[:, 0], pts[:, 1])
    ip = np.stack([ix, iy, pts[:, 2]], axis=1)
    for k in range(pts.shape[0] - 1):
        p0, p1 = ip[k], ip[k + 1]
        r0, r1 = float(br.radius[k]), float(br.radius[k + 1])
        m = max(r0, r1) + h
        lo = np.minimum(p0, p1) - m
        hi = np.maximum(p0, p1) + m
        kz = slice(int(np.searchsorted(zf, lo[2])), int(np.searchsorted(zf, hi[2], "right")))
        ky = slice(int(np.searchsorted(yf, lo[1])), int(np.searchsorted(yf, hi[1], "right")))
        kx = slice(int(np.searchsorted(xf, lo[0])), int(np.searchsorted(xf, hi[0], "right")))
        if kz.start >= kz.stop or ky.start >= ky.stop or kx.start >= kx.stop:
            continue
        z = zf[kz][:, None, None]
        y = yf[ky][None, :, None]
        x = xf[kx][None, None, :]
        v = p1 - p0
        vv = float(v @ v)
        t = ((x - p0[0]) * v[0] + (y - p0[1]) * v[1] + (z - p0[2]) * v[2]) / max(vv, 1e-12)
        t = np.clip(t, 0.0, 1.0)
        d = np.sqrt(
            (x - p0[0] - t * v[0]) ** 2 + (y - p0[1] - t * v[1]) ** 2 + (z - p0[2] - t * v[2]) ** 2
        )
        o = np.clip((r0 + t * (r1 - r0) - d) / h + 0.5, 0.0, 1.0)
        if not o.any():
            continue
        if occ is None:
            occ = np.zeros((zf.size, yf.size, xf.size))
        sub = occ[kz, ky, kx]
        np.maximum(sub, o, out=sub)
    return occ


def _build_anatomy(an: _Anatomy, grid: _Grid) -> tuple[FloatArray, dict[str, FloatArray]]:
    """Class fractions (8, Z, Y, X) and per-branch vessel fractions."""
    nz, ny, nx = grid.shape
    sz, sy, sx = grid.spacing
    fz = 3
    fy = max(2, math.ceil(sy / 0.8))
    fx = max(2, math.ceil(sx / 0.8))
    yf = _fine_axis(grid.yi, sy, fy)
    xf = _fine_axis(grid.xi, sx, fx)
    xi2, yi2 = np.meshgrid(xf, yf)
    xa, ya = grid.to_anat(xi2, yi2)
    yr = ya - an.yc
    r = np.hypot(xa, yr)
    th = np.arctan2(yr, xa)
    h = 0.5 * ((sy / fy) + (sx / fx))
    fractions = np.zeros((_N_CLASSES, nz, ny, nx))
    vessels: dict[str, FloatArray] = {}
    for k in range(nz):
        zf = _fine_axis(grid.z[k : k + 1], sz, fz)
        labs = np.stack([_label_plane(an, grid, xa, ya, r, th, float(z), xf, yf) for z in zf])
        occs: dict[str, FloatArray] = {}
        for br in an.branches:
            o = _tube_block(br, grid, zf, yf, xf, h)
            if o is not None:
                occs[br.name] = o
        free = np.ones(labs.shape)
        if occs:
            tot = np.sum(list(occs.values()), axis=0)
            scale = np.where(tot > 1.0, 1.0 / np.maximum(tot, 1e-12), 1.0)
            for name, o in occs.items():
                frac = (o * scale).reshape(fz, ny, fy, nx, fx).mean(axis=(0, 2, 4))
                if name not in vessels:
                    vessels[name] = np.zeros((nz, ny, nx))
                vessels[name][k] = frac
            free = 1.0 - np.minimum(tot, 1.0)
        for c in range(_N_CLASSES):
            fractions[c, k] = ((labs == c) * free).reshape(fz, ny, fy, nx, fx).mean(axis=(0, 2, 4))
    return fractions, vessels


# --------------------------------------------------------------------------------------------
# lesion plan


def lesion_plan(seed: int) -> dict[str, Any]:
    """The per-seed lesion draws (used by make_case when lesion=True)."""
    r = _rng(seed, _S_LESION)
    no_core = bool(r.random() < 0.10)
    side = "left" if r.random() < 0.5 else "right"
    site = "M1" if r.random() < 0.55 else "M2"
    division = "superior" if r.random() < 0.5 else "inferior"
    deep_draw = r.random() < 0.55
    deep = bool(site == "M1" and deep_draw)
    core_draw = float(np.exp(r.uniform(np.log(1.5), np.log(100.0))))
    core_ml = 0.0 if no_core else core_draw
    return {
        "no_core": no_core,
        "side": side,
        "site": site,
        "division": division if site == "M2" else "none",
        "deep": deep,
        "core_target_ml": core_ml,
        "penumbra_extra_ml": float(r.uniform(30.0, 150.0)),
        "rim_extra_ml": float(r.uniform(15.0, 50.0)),
        "d_max_s": float(r.uniform(8.0, 14.0)),
        "d_core_edge_s": float(r.uniform(6.5, 8.0)),
        "beta_max_s": float(r.uniform(2.0, 3.0)),
        "occluded_delay_s": float(r.uniform(4.0, 9.0)),
        "occluded_fill": float(r.uniform(0.15, 0.4)),
        "focus_jitter": [float(v) for v in r.uniform(-5.0, 5.0, 3)],
        "width_mm": float(r.uniform(25.0, 45.0) if site == "M1" else r.uniform(18.0, 30.0)),
    }


def noise_plan(seed: int) -> dict[str, Any]:
    """The per-seed noise texture choice and its parameters."""
    r = _rng(seed, _S_NOISE)
    kind = NOISE_KINDS[int(r.integers(0, 3))]
    cutoff = float(r.uniform(0.9, 1.4))
    blur = float(r.uniform(0.5, 1.0))
    window_a = float(r.uniform(0.5, 0.7))
    return {"kind": kind, "fbp_cutoff": cutoff, "fbp_window_a": window_a, "blur_sigma_px": blur}


def _noise_filter(kind: str, ny: int, nx: int, p: dict[str, Any]) -> FloatArray | None:
    if kind == "white":
        return None
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.fftfreq(nx)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    if kind == "fbp":
        fc = 0.5 * p["fbp_cutoff"]
        a = p["fbp_window_a"]
        w = np.where(f < fc, a + (1.0 - a) * np.cos(np.pi * f / fc), 0.0)
        hf = np.sqrt(f) * w
    else:
        sig = p["blur_sigma_px"]
        hf = np.exp(-2.0 * np.pi**2 * sig**2 * f * f)
    hf = hf / math.sqrt(float(np.mean(hf * hf)))
    return _f64(hf[:, : nx // 2 + 1])


def _add_noise(
    frames: NDArray[np.float32], seed: int, noise_hu: float, grid: _Grid
) -> tuple[FloatArray, dict[str, Any], FloatArray]:
    """Add noise and per-frame offsets in place; returns (offsets, plan, per-slice sd factor)."""
    p = noise_plan(seed)
    n_frames = frames.shape[0]
    nz, ny, nx = grid.shape
    factor = _f64(np.where(grid.z < PF_Z_MM, PF_NOISE, 1.0))
    if noise_hu <= 0:
        return np.zeros(n_frames), p, factor
    r = _rng(seed, _S_NOISE + 1)  # the noise realisations (the plan uses _S_NOISE)
    jitter = _f64(r.uniform(-1.0, 1.0, n_frames))
    hf = _noise_filter(p["kind"], ny, nx, p)
    sd = (noise_hu * factor)[:, None, None]
    for k in range(n_frames):
        w = r.standard_normal((nz, ny, nx))
        if hf is not None:
            w = sfft.irfft2(sfft.rfft2(w, axes=(1, 2)) * hf[None], s=(ny, nx), axes=(1, 2))
        frames[k] += (w * sd + jitter[k]).astype(np.float32)
    return jitter, p, factor


# --------------------------------------------------------------------------------------------
# the case


def _validate(
    residue: str,
    noise_hu: float,
    interval_s: float,
    n_frames: int,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    seed: int,
) -> None:
    if residue not in RESIDUES:
        raise ValueError(f"unknown residue {residue!r}; expected one of {RESIDUES}")
    if noise_hu < 0 or not math.isfinite(noise_hu):
        raise ValueError("noise_hu must be a finite number >= 0")
    if interval_s <= 0 or n_frames < 2:
        raise ValueError("need interval_s > 0 and n_frames >= 2")
    if len(shape) != 3 or min(shape) < 1 or len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError("shape and spacing must be 3 positive values (z, y, x)")
    if seed < 0:
        raise ValueError("seed must be >= 0")


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
) -> CtpCase:
    """Generate one synthetic CTP case (see the module docstring for the model)."""
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    _validate(residue, noise_hu, interval_s, n_frames, shape, spacing, seed)
    nz, ny, nx = shape
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    times = np.arange(n_frames, dtype=np.float64) * interval_s

    # ---------------- anatomy
    an = _sample_anatomy(seed)
    grid = _make_grid(an, shape, spacing)
    frac, vessels = _build_anatomy(an, grid)
    f_gm, f_deep, f_wm = frac[GM], frac[DEEP], frac[WM]
    f_tis = f_gm + f_deep + f_wm
    v_tot = np.zeros(shape)
    for v in vessels.values():
        v_tot += v
    parenchyma = (f_tis >= 0.5) & (v_tot <= 0.005)
    xi2, yi2 = np.meshgrid(grid.xi, grid.yi)
    xa2, ya2 = grid.to_anat(xi2, yi2)
    xa3 = np.broadcast_to(xa2[None], shape)
    ya3 = np.broadcast_to(ya2[None], shape)
    za3 = np.broadcast_to(grid.z[:, None, None], shape)

    hu = an.hu
    baseline = (
        frac[AIR] * hu["air"]
        + frac[SOFT] * hu["soft"]
        + frac[BONE] * hu["bone"]
        + frac[DIPLOE] * hu["diploe"]
        + frac[CSF] * hu["csf"]
        + f_gm * hu["gm"]
        + f_deep * hu["deep"]
        + f_wm * hu["wm"]
        + v_tot * hu["blood"]
    )
    # ---------------- normal perfusion
    pr = _rng(seed, _S_PERF)
    cbf_gm = float(pr.uniform(45.0, 70.0))
    cbv_gm = float(np.clip(cbf_gm * pr.uniform(3.6, 5.2) / 60.0, 3.5, 5.5))
    cbf_wm = float(np.clip(cbf_gm * pr.uniform(0.36, 0.48), 15.0, 28.0))
    cbv_wm = float(np.clip(cbf_wm * pr.uniform(4.6, 6.6) / 60.0, 1.4, 2.8))
    cbf_deep = cbf_gm * float(pr.uniform(0.85, 0.97))
    cbv_deep = cbv_gm * float(pr.uniform(0.85, 1.0))
    field_sd = float(pr.uniform(0.05, 0.15))
    corr = float(pr.uniform(6.0, 12.0))
    d_base = float(pr.uniform(0.2, 0.8))
    n_cbf = _smooth_field(pr, shape, spacing, corr)
    n_cbv = 0.6 * n_cbf + 0.8 * _smooth_field(pr, shape, spacing, corr)
    n_del = _smooth_field(pr, shape, spacing, 15.0)
    tex = _smooth_field(pr, shape, spacing, 4.0)
    baseline = baseline + 0.7 * np.clip(tex, -1.5, 1.5) * f_tis

    safe = np.maximum(f_tis, 1e-9)
    cbf_n = (f_gm * cbf_gm + f_deep * cbf_deep + f_wm * cbf_wm) / safe
    cbv_n = (f_gm * cbv_gm + f_deep * cbv_deep + f_wm * cbv_wm) / safe
    cbf_n = cbf_n * (1.0 + field_sd * np.clip(n_cbf, -2.0, 2.0))
    cbv_n = cbv_n * (1.0 + field_sd * np.clip(n_cbv, -2.0, 2.0))
    d_n = np.clip(d_base + 0.3 * n_del + 0.3 * _sigmoid((ya3 - 50.0) / 10.0), 0.0, 1.5)

    has_lesion = bool(lesion)
    plan = lesion_plan(seed) if has_lesion else None
    s_sign = 0 if plan is None else (1 if plan["side"] == "left" else -1)
    ref_region = parenchyma if s_sign == 0 else parenchyma & (s_sign * xa3 < 0)
    if not ref_region.any():
        ref_region = parenchyma
    ref0 = float(cbf_n[ref_region].mean()) if ref_region.any() else cbf_gm
    cbf_n = np.maximum(cbf_n, 0.36 * ref0)
    ref = float(cbf_n[ref_region].mean()) if ref_region.any() else cbf_gm
    thr = CORE_REL * ref

    cbf = cbf_n.copy()
    cbv = cbv_n.copy()
    delay = d_n.copy()
    beta = np.zeros(shape)
    comp = np.zeros(shape, dtype=np.uint8)
    occluded: set[str] = set()
    lesion_info: dict[str, Any] = {}
    if plan is not None:
        occluded = _occluded_groups(plan)
        cbf, cbv, delay, beta, comp, lesion_info = _apply_lesion(
            seed,
            plan,
            grid,
            xa3,
            ya3,
            za3,
            parenchyma,
            cbf_n,
            cbv_n,
            d_n,
            ref,
            voxel_ml,
            an,
        )
    # safety coupling: sub-threshold flow is always severely delayed
    low = (f_tis > 0) & (cbf < thr)
    delay = np.where(low, np.maximum(delay, TMAX_CORE_MIN), delay)

    mtt = np.clip(60.0 * cbv / np.maximum(cbf, 1e-6), _MTT_NODES[0], _MTT_NODES[-1])
    t_peak = dispersed_residue_peak(residue, mtt, beta)
    tmax = delay + t_peak

    # ---------------- curves
    n_tab = int(math.ceil((times[-1] + 2.0) / DT)) + ACQ_SAMPLES + 2
    # vascular curves on at least 120 s so that peaks are normalised on the whole bolus
    n_fine = max(n_tab, int(120.0 / DT))
    ap = _aif_params(seed)
    aif = _make_aif(ap, n_fine)
    aif_w = _window(aif)
    t_fine = np.arange(n_fine) * DT
    vof = _shift(
        _convolve_fine(aif, _kernel_cells(np.array([ap["venous_beta_s"]]), n_fine)[0]),
        ap["venous_delay_s"],
    )
    vof = vof * ap["venous_peak_ratio"] * ap["peak_hu"] / vof.max()
    vof_w = _window(vof)
    occl_curve = np.zeros(n_fine)
    if plan is not None:
        occl = _convolve_fine(aif, _kernel_cells(np.array([3.0]), n_fine)[0])
        occl_curve = _window(plan["occluded_fill"] * _shift(occl, plan["occluded_delay_s"]))
    branch_delay = {
        "ica": 0.0,
        "m1p": 0.1,
        "m1d": 0.2,
        "m2s": 0.4,
        "m2i": 0.4,
        "m4s": 0.8,
        "m4i": 0.8,
        "aca": 0.45,
        "pca": 0.6,
        "basilar": 0.25,
    }

    frames = np.empty((n_frames,) + shape, dtype=np.float32)
    frames[:] = baseline.astype(np.float32)[None]
    flat = frames.reshape(n_frames, -1)
    by_name = {b.name: b for b in an.branches}
    for name, vf in vessels.items():
        br = by_name[name]
        if br.group == "sinus":
            curve = vof_w
        elif (br.group, br.side) in {(g, s_sign) for g in occluded}:
            curve = occl_curve
        else:
            curve = _shift(aif_w, branch_delay[br.group])
        samp = np.interp(times, t_fine, curve)
        idx = np.flatnonzero(vf > 0)
        flat[:, idx] += np.outer(samp, vf.ravel()[idx]).astype(np.float32)

    table = _tissue_table(aif[:n_tab], residue)
    tis = np.flatnonzero(f_tis > 1e-4)
    resp = _sample_table(table, mtt.ravel()[tis], beta.ravel()[tis], delay.ravel()[tis], times)
    amp = f_tis.ravel()[tis] * (RHO / K_H) * cbf.ravel()[tis] / 6000.0
    flat[:, tis] += (resp * amp[None, :]).astype(np.float32)

    jitter, nplan, nfactor = _add_noise(frames, seed, noise_hu, grid)

    # ---------------- truth
    hemi_ok = parenchyma if s_sign == 0 else parenchyma & (s_sign * xa3 < 0)
    normal_sel = hemi_ok & (tmax < 4.0)
    if not normal_sel.any():
        normal_sel = parenchyma & (tmax < 4.0)
    normal_cbf = float(cbf[normal_sel].mean()) if normal_sel.any() else float("nan")
    core = parenchyma & (cbf < CORE_REL * normal_cbf)
    tmax6 = parenchyma & (tmax > 6.0)
    tmax4 = parenchyma & (tmax > 4.0)

    def masked(a: FloatArray) -> NDArray[np.float32]:
        return np.where(parenchyma, a, np.nan).astype(np.float32)

    comp = np.where(f_tis > 0, comp, 0).astype(np.uint8)
    aif_arts = [n for n in vessels if by_name[n].group == "ica" and by_name[n].side != s_sign]
    aif_vox = [0, 0, 0]
    if aif_arts:
        best = max(aif_arts, key=lambda n: float(vessels[n].max()))
        aif_vox = [int(i) for i in np.unravel_index(int(np.argmax(vessels[best])), shape)]
    vof_vox = [0, 0, 0]
    if "sss_posterior" in vessels:
        vof_vox = [
            int(i) for i in np.unravel_index(int(np.argmax(vessels["sss_posterior"])), shape)
        ]
    truth: dict[str, Any] = {
        "family": "compartments",
        "seed": int(seed),
        "residue": residue,
        "noise_hu": float(noise_hu),
        "noise_kind": nplan["kind"],
        "noise_params": {k: v for k, v in nplan.items() if k != "kind"},
        "noise_factor_by_slice": [float(v) for v in nfactor],
        "frame_offset_hu": [float(v) for v in jitter],
        "side": "none" if plan is None else plan["side"],
        "lesion_site": "none" if plan is None else plan["site"],
        "m2_division": "none" if plan is None else plan["division"],
        "deep_involvement": False if plan is None else bool(plan["deep"]),
        "planned_no_core": False if plan is None else bool(plan["no_core"]),
        "core_ml": float(core.sum() * voxel_ml),
        "tmax6_ml": float(tmax6.sum() * voxel_ml),
        "tmax4_ml": float(tmax4.sum() * voxel_ml),
        "penumbra_compartment_ml": float(((comp == 2) & parenchyma).sum() * voxel_ml),
        "rim_compartment_ml": float(((comp == 1) & parenchyma).sum() * voxel_ml),
        "parenchyma_ml": float(parenchyma.sum() * voxel_ml),
        "normal_cbf": normal_cbf,
        "normal_cbf_reference_used": ref,
        "gm_cbf": cbf_gm,
        "gm_cbv": cbv_gm,
        "wm_cbf": cbf_wm,
        "wm_cbv": cbv_wm,
        "deep_gm_cbf": cbf_deep,
        "deep_gm_cbv": cbv_deep,
        "perfusion_field_sd": field_sd,
        "atrophy": an.atrophy,
        "voxel_ml": voxel_ml,
        "shape": list(shape),
        "spacing": list(spacing),
        "interval_s": float(interval_s),
        "acquisition_window_s": ACQ_SAMPLES * DT,
        "aif": {k: float(v) for k, v in ap.items()},
        "aif_hu": [float(v) for v in np.interp(times, t_fine, aif_w)],
        "vof_hu": [float(v) for v in np.interp(times, t_fine, vof_w)],
        "aif_voxel": aif_vox,
        "vof_voxel": vof_vox,
        "occluded_branches": sorted(occluded),
        "tmax_definition": "delay + time of the peak of (exponential dispersion kernel (x) R)",
        "lesion": lesion_info,
        "slice_z_mm": [float(v) for v in grid.z],
    }
    maps: dict[str, NDArray[Any]] = {
        "cbf": masked(cbf),
        "cbv": masked(cbv),
        "tmax": masked(tmax),
        "delay": masked(delay),
        "core": core,
        "tmax6": tmax6,
        "tmax4": tmax4,
        "parenchyma": parenchyma,
        "lesion": comp,
        "gm_fraction": (f_gm + f_deep).astype(np.float32),
        "wm_fraction": f_wm.astype(np.float32),
        "tissue_fraction": f_tis.astype(np.float32),
        "vessel_fraction": v_tot.astype(np.float32),
        "csf_fraction": frac[CSF].astype(np.float32),
    }
    return CtpCase(frames=frames, times=times, spacing=spacing, truth=truth, maps=maps)


def _occluded_groups(plan: dict[str, Any]) -> set[str]:
    if plan["site"] == "M1":
        return {"m1d", "m2s", "m2i", "m4s", "m4i"}
    if plan["division"] == "superior":
        return {"m2s", "m4s"}
    return {"m2i", "m4i"}


def _apply_lesion(
    seed: int,
    plan: dict[str, Any],
    grid: _Grid,
    xa: FloatArray,
    ya: FloatArray,
    za: FloatArray,
    parenchyma: BoolArray,
    cbf_n: FloatArray,
    cbv_n: FloatArray,
    d_n: FloatArray,
    ref: float,
    voxel_ml: float,
    an: _Anatomy,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.uint8], dict[str, Any]]:
    shape = grid.shape
    spacing = grid.spacing
    r = _rng(seed, _S_LESION + 1)  # the lesion's random fields (the plan uses _S_LESION)
    n_t1 = _smooth_field(r, shape, spacing, 12.0)
    n_t2 = _smooth_field(r, shape, spacing, 12.0)
    n_big = _smooth_field(r, shape, spacing, 9.0)
    n_small = _smooth_field(r, shape, spacing, 2.5)
    u_cbf = _uniform01(_smooth_field(r, shape, spacing, 5.0))
    u_cbv = _uniform01(_smooth_field(r, shape, spacing, 5.0))
    n_del = _smooth_field(r, shape, spacing, 8.0)

    s = 1 if plan["side"] == "left" else -1
    u = s * xa
    x_aca = 9.0 + 13.0 * np.clip((za + 5.0) / 60.0, 0.0, 1.0)
    t_aca = _sigmoid((u - x_aca - 5.0 * n_t1) / 2.5)
    y_pca = 58.0 + 0.3 * (u - 30.0) + 5.0 * n_t2
    t_pca = _sigmoid((y_pca - ya) / 3.0)
    t_thal = 1.0 - _sigmoid((18.0 - u) / 2.0) * _sigmoid((ya - 3.0) / 2.0) * _sigmoid(
        (22.0 - za) / 2.0
    )
    hemi = np.where(u > 0, _sigmoid(u / 1.0), 0.0)
    q = ((u - 20.0) / 12.0) ** 2 + ((ya + 2.0) / 20.0) ** 2 + ((za - 8.0) / 15.0) ** 2
    deep_soft = _sigmoid((1.0 - q) / 0.15)
    terr = t_aca * t_pca * t_thal * hemi
    fj = plan["focus_jitter"]
    if plan["site"] == "M1":
        focus = (32.0, -2.0, 10.0)
    else:
        q_div = (ya - 2.0) + 0.6 * (12.0 - za) + 6.0 * n_t2
        if plan["division"] == "superior":
            terr = terr * _sigmoid(-q_div / 4.0)
            focus = (45.0, -20.0, 35.0)
        else:
            terr = terr * _sigmoid(q_div / 4.0)
            focus = (48.0, 25.0, 8.0)
    if not plan["deep"]:
        terr = terr * (1.0 - deep_soft)
    dist2 = (
        (u - focus[0] - fj[0]) ** 2 + (ya - focus[1] - fj[1]) ** 2 + (za - focus[2] - fj[2]) ** 2
    )
    g = np.exp(-0.5 * dist2 / plan["width_mm"] ** 2)
    boost = 0.4 * deep_soft if plan["deep"] else 0.0
    sev = terr * ((g + boost) * np.exp(0.35 * n_big) + 0.07 * n_small)
    sev = np.where(u > 0, np.maximum(sev, 0.0), 0.0)

    # thresholds from target volumes (counted over parenchyma on the lesion side)
    scale = (shape[0] * spacing[0]) / 80.0 * (0.6 if plan["site"] == "M2" else 1.0)
    cand = np.sort(sev[parenchyma & (u > 0)])[::-1]
    cand = cand[cand > 0.03 * max(float(cand[0]) if cand.size else 0.0, 1e-9)]
    n_avail = cand.size
    n_core = int(round(plan["core_target_ml"] * scale / voxel_ml))
    n_pen = int(round(plan["penumbra_extra_ml"] * scale / voxel_ml))
    n_rim = int(round(plan["rim_extra_ml"] * scale / voxel_ml))
    n_core = min(n_core, int(0.6 * n_avail))
    if plan["no_core"]:
        n_core = 0
    n_pen = max(1, min(n_pen, int(0.85 * n_avail) - n_core))
    n_rim = max(1, min(n_rim, n_avail - n_core - n_pen - 1))
    s_max = float(cand[0]) if n_avail else 1.0

    def level(n: int) -> float:
        n = int(np.clip(n, 1, max(n_avail, 1)))
        return float(cand[n - 1]) if n_avail else 1.0

    has_core = n_core > 0
    t3 = level(n_core) if has_core else s_max
    t2 = level(n_core + n_pen)
    t1 = level(n_core + n_pen + n_rim)
    # strict nesting: values strictly above a threshold belong to the compartment
    t1 = min(t1, np.nextafter(t2, -np.inf))
    comp = np.zeros(shape, dtype=np.uint8)
    comp[sev >= t1] = 1
    comp[sev >= t2] = 2
    if has_core:
        comp[sev >= t3] = 3

    # delays
    if has_core:
        knots_x = [t1, t2, t3, max(s_max, t3 + 1e-9)]
        knots_y = [
            2.0,
            5.0,
            plan["d_core_edge_s"],
            max(plan["d_max_s"], plan["d_core_edge_s"] + 1.0),
        ]
    else:
        knots_x = [t1, t2, max(s_max, t2 + 1e-9)]
        knots_y = [2.0, 5.0, plan["d_max_s"]]
    kx = np.maximum.accumulate(np.array(knots_x, dtype=np.float64))
    kx = kx + np.arange(kx.size) * 1e-12
    d_les = np.interp(sev, kx, np.array(knots_y)) + 0.5 * np.clip(n_del, -2.0, 2.0)
    delay = d_n.copy()
    rim, pen, cor = comp == 1, comp == 2, comp == 3
    delay[rim] = np.clip(d_les[rim], 2.0, 5.0)
    delay[pen] = np.clip(d_les[pen], 5.0, 14.0)
    delay[cor] = np.clip(d_les[cor], TMAX_CORE_MIN, 14.0)
    in_les = comp > 0
    beta = np.zeros(shape)
    beta[in_les] = plan["beta_max_s"] * np.clip((delay[in_les] - 1.5) / 12.5, 0.0, 1.0)

    # flows and volumes
    thr = CORE_REL * ref
    local = np.maximum(cbf_n, 1e-6)
    cbf = cbf_n.copy()
    cbv = cbv_n.copy()
    p_rim = np.clip((sev - t1) / max(t2 - t1, 1e-12), 0.0, 1.0)
    hi_pen = t3 if has_core else s_max
    p_pen = np.clip((sev - t2) / max(hi_pen - t2, 1e-12), 0.0, 1.0)
    p_core = np.clip((sev - t3) / max(s_max - t3, 1e-12), 0.0, 1.0)
    mix_rim = np.clip(0.5 * p_rim + 0.5 * u_cbf, 0.0, 1.0)
    mix_pen = np.clip(0.55 * p_pen + 0.45 * u_cbf, 0.0, 1.0)
    mix_core = np.clip(0.55 * p_core + 0.45 * u_cbf, 0.0, 1.0)

    lo_rim = np.minimum(np.maximum(0.7, 1.15 * thr / local), 0.97)
    r_rim = 1.0 - (1.0 - lo_rim) * mix_rim
    lo_pen = np.minimum(np.maximum(0.3, 1.08 * thr / local), 0.85)
    hi_p = np.maximum(0.8, lo_pen + 0.05)
    r_pen = hi_p - (hi_p - lo_pen) * mix_pen
    r_core = 0.28 - 0.25 * mix_core
    cbf[rim] = (local * r_rim)[rim]
    cbf[pen] = (local * r_pen)[pen]
    cbf[cor] = (np.minimum(local, ref) * r_core)[cor]
    cbv[rim] = (cbv_n * (0.95 + 0.2 * u_cbv))[rim]
    cbv[pen] = (cbv_n * (0.9 + 0.5 * u_cbv))[pen]
    cbv[cor] = (cbv_n * (0.6 - 0.4 * np.clip(0.5 * p_core + 0.5 * u_cbv, 0.0, 1.0)))[cor]

    info = {
        "thresholds": [float(t1), float(t2), float(t3) if has_core else None],
        "core_compartment_ml": float((cor & parenchyma).sum() * voxel_ml),
        "volume_scale": float(scale),
        "available_ml": float(n_avail * voxel_ml),
        "focus_mm": [
            float(s * (focus[0] + fj[0])),
            float(focus[1] + fj[1]),
            float(focus[2] + fj[2]),
        ],
        "plan": {k: v for k, v in plan.items()},
    }
    return cbf, cbv, delay, beta, comp, info
