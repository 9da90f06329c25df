"""Synthetic CT-perfusion phantom family "gradient": an M1 occlusion with a graded deficit.

Independent, held-out generator (numpy + scipy only).  Axes are (z, y, x): x increases towards
the patient's LEFT, y towards posterior, z from inferior to superior.

Model
-----
Head (built at 2x in-plane resolution, then 2x2 block-averaged so borders carry partial
volume): an axial slab through the basal ganglia / lateral ventricles.  The brain outline is an
ellipse (60 x 74 mm half-axes, x seed scale) modulated by a Fourier series of random harmonics
(k = 2..5, interpolated between bottom and top of the slab) and tapered towards the vertex.
Outside it: a 1.5 mm CSF gap, a 5-7 mm skull (inner and outer tables 1100-1400 HU, diploe
600-800 HU), 4-6 mm scalp and air.  Random in-plane rotation (+-8 deg) and shift (+-6 mm).
Grey matter is an outer ribbon ~3 mm thick with an irregular inner border (smooth random
"gyral" noise), plus medial cortex along the interhemispheric fissure, insulae and basal
ganglia; white matter elsewhere; lateral ventricles are two crescents, with interhemispheric
and Sylvian CSF.  Baseline HU: GM 36-40, WM 26-30, CSF 0-10, blood 40.

Perfusion: GM CBF 50-60 mL/100 g/min, CBV 4-4.5 mL/100 g; WM CBF 20-25, CBV 2-2.5 (mixed
GM/WM voxels take the fraction-weighted mean), each multiplied by (1 + 0.08 F) with F a smooth,
unit-sd Gaussian random field; arrival delay 0-1 s from a smooth field.

Stroke (M1 occlusion, random side): a deficit depth d in [0, 1] = raised cosine of the
noise-perturbed distance from a centre in the lateral MCA territory (insula / operculum),
radius 25-45 mm, faded out towards the midline.  Relative CBF = 1 - 0.95 d^p (p in 0.7-1.5),
relative CBV = 1 - 0.65 smoothstep((d - 0.6) / 0.4) and delay = base + s(d) (0.5 +
12 max(d^0.7, 0.5 h)), where s(d) = smoothstep(d / 0.05) and h = smoothstep((0.32 N - CBF) /
(0.02 N)) (N: normal CBF).  h = 1 whenever CBF < 0.3 N, so every core voxel has delay > 6.5 s:
core is guaranteed to lie inside Tmax > 6 s, without clamping CBF or CBV anywhere.

Arterial input: gamma variate (alpha 2.5-4, arrival 3-8 s) plus a delayed, exponentially
dispersed recirculation of 10-20 % of its area, scaled to a 300-550 HU peak.  Arteries (ICA,
M1, ACA, PCA, Sylvian MCA branches) are tubes of 2-4 mm diameter; the occluded M1 and its
distal branches enhance weakly (25 %) and late (+6 s, dispersed).  The venous output
(superior sagittal and transverse sinuses) is the AIF delayed 4-6 s, dispersed, with a peak of
1.0-1.5x the arterial peak.

Tissue enhancement (HU) = (rho / k_H) CBF / 6000 (AIF (x) R)(t - delay), rho = 1.04 g/mL,
k_H = 0.73, with R(0) = 1 and area MTT = 60 CBV / CBF: "exponential" exp(-t/MTT), "gamma"
(transit times gamma-distributed, shape 3, mean MTT; R = 1 - CDF), "box" (R = 1 for t < MTT).
Convolutions are done on a 0.05 s grid for a log-spaced table of MTTs (2 % steps) and each
voxel is read from the table by bilinear interpolation in (log MTT, t - delay), after averaging
over a 0.5 s acquisition window centred on each frame time.  Tissue enhancement is scaled by
the voxel's tissue (GM + WM) fraction; the truth maps hold the tissue's own CBF/CBV.

Noise: white Gaussian noise filtered in-plane with a Gaussian (sigma 0.7 px, periodic edges)
and rescaled by the kernel's exact gain so the per-voxel sd is noise_hu; new for every frame.

Truth: parenchyma = GM + WM fraction >= 0.5 and no vessel in the voxel.  normal_cbf = mean true
CBF of parenchyma in the hemisphere without the lesion with delay < 4 s (whole brain when there
is no lesion); core = parenchyma with CBF < 0.3 normal_cbf; tmax6 = parenchyma with delay > 6 s
(Tmax of all three residues equals the delay).  Volumes in mL = voxel count x voxel volume.

Sources (textbook values, no code): tracer-kinetic indicator-dilution model and hematocrit /
density constants as in Ostergaard et al., MRM 1996 and Konstas et al., AJNR 2009 (CTP
review); gamma-variate AIF (Thompson et al., Circ Res 1964; Madsen, PMB 1992); normal GM/WM
CBF and CBV ranges and the rCBF < 30 % core / Tmax > 6 s penumbra thresholds (Campbell et al.,
Stroke 2011; Lansberg et al. DEFUSE 2, Lancet Neurol 2012).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.special import erf

RESIDUES = ("exponential", "gamma", "box")

FArr = NDArray[np.float64]
BArr = NDArray[np.bool_]

_DT = 0.05  # s, fine time grid
_HALF_WIN = 0.25  # s, half acquisition window
_RHO_OVER_KH = 1.04 / 0.73

# Labels of the high-resolution model.
_AIR, _SCALP, _TABLE, _DIPLOE, _CSF, _GM, _WM, _ART, _OCCL, _VEIN = range(10)
_N_LABELS = 10


@dataclass
class CtpCase:
    frames: NDArray[np.float32]  # (T, Z, Y, X) HU
    times: NDArray[np.float64]  # (T,) s from the first frame
    spacing: tuple[float, float, float]  # (z, y, x) mm
    truth: dict[str, Any]  # JSON-serialisable
    maps: dict[str, NDArray[Any]]  # cbf, cbv, tmax (float32, NaN outside parenchyma), core, tmax6


def _smoothstep(x: FArr | float) -> FArr:
    t = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), dtype=np.float64)


def _smooth_field(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]
) -> FArr:
    """Smooth Gaussian random field normalised to zero mean and unit sd."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=sigma, mode="wrap")
    sd = float(g.std())
    return np.asarray((g - g.mean()) / (sd if sd > 0 else 1.0), dtype=np.float64)


def _seg_dist(u: FArr, v: FArr, a: tuple[float, float], b: tuple[float, float]) -> FArr:
    """Distance (mm) from points (u, v) to the segment a-b."""
    du, dv = b[0] - a[0], b[1] - a[1]
    len2 = du * du + dv * dv
    t = np.clip(((u - a[0]) * du + (v - a[1]) * dv) / max(len2, 1e-12), 0.0, 1.0)
    return np.asarray(np.hypot(u - a[0] - t * du, v - a[1] - t * dv), dtype=np.float64)


def _ellipse(u: FArr, v: FArr, cu: float, cv: float, su: float, sv: float) -> BArr:
    return np.asarray(((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2 < 1.0)


def _gamma_variate(t: FArr, t0: float, alpha: float, beta: float) -> FArr:
    s = np.clip(t - t0, 0.0, None) / beta
    return np.asarray(np.where(t > t0, s**alpha * np.exp(-s), 0.0), dtype=np.float64)


def _disperse(curve: FArr, shift_s: float, tau_s: float) -> FArr:
    """Delay a fine-grid curve by shift_s and convolve it with a unit-area exp(-t/tau)."""
    t = np.arange(curve.size) * _DT
    shifted = np.interp(t - shift_s, t, curve, left=0.0, right=float(curve[-1]))
    k = np.exp(-t / tau_s)
    k /= k.sum()
    return np.asarray(np.convolve(shifted, k)[: curve.size], dtype=np.float64)


def _window_avg(curves: FArr) -> FArr:
    """Average each fine-grid curve (last axis) over [t - 0.25, t + 0.25] (exact, trapezoid)."""
    n = int(round(_HALF_WIN / _DT))
    c = np.concatenate([np.zeros(curves.shape[:-1] + (1,)), curves], axis=-1)
    cum = np.cumsum(0.5 * (c[..., 1:] + c[..., :-1]), axis=-1) * _DT  # integral to t_j
    cum = np.concatenate([np.zeros(curves.shape[:-1] + (n,)), cum], axis=-1)
    last = cum[..., -1:]
    cum = np.concatenate([cum, np.repeat(last, n, axis=-1)], axis=-1)
    m = curves.shape[-1]
    # index j + n in padded array is t_j; curves are ~flat past the end, padding is negligible.
    hi = cum[..., 2 * n : 2 * n + m]
    lo = cum[..., 0:m]
    return np.asarray((hi - lo) / (2 * n * _DT), dtype=np.float64)


def _residue_table(residue: str, mtts: FArr, n: int) -> FArr:
    """R_m averaged over each fine-grid interval [j dt, (j + 1) dt], shape (M, n)."""
    t0 = np.arange(n) * _DT
    t1 = t0 + _DT
    m = mtts[:, None]
    if residue == "exponential":
        return np.asarray(m / _DT * (np.exp(-t0 / m) - np.exp(-t1 / m)), dtype=np.float64)
    if residue == "box":
        return np.asarray(np.clip((m - t0) / _DT, 0.0, 1.0), dtype=np.float64)
    x = (t0 + 0.5 * _DT) / (m / 3.0)
    return np.asarray(np.exp(-x) * (1.0 + x + 0.5 * x * x), dtype=np.float64)


def _conv_table(aif: FArr, res: FArr) -> FArr:
    n = aif.size
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    out = np.fft.irfft(np.fft.rfft(res, nfft, axis=-1) * np.fft.rfft(aif, nfft), nfft, axis=-1)
    return np.asarray(out[:, :n] * _DT, dtype=np.float64)


def _lookup(table: FArr, log_lo: float, dlog: float, log_x: FArr, tau: FArr) -> FArr:
    """Bilinear read of table[m, j] at (log MTT, time tau)."""
    n_m, n_t = table.shape
    fm = np.clip((log_x - log_lo) / dlog, 0.0, n_m - 1.0)
    i0 = np.minimum(np.floor(fm).astype(np.int64), n_m - 2)
    wm = fm - i0
    fj = np.clip(tau / _DT, 0.0, n_t - 1.0)
    j0 = np.minimum(np.floor(fj).astype(np.int64), n_t - 2)
    wj = fj - j0
    a = table[i0, j0] * (1 - wj) + table[i0, j0 + 1] * wj
    b = table[i0 + 1, j0] * (1 - wj) + table[i0 + 1, j0 + 1] * wj
    return np.asarray(a * (1 - wm) + b * wm, dtype=np.float64)


def _build_labels(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    side: int,
    rot: float,
    shift: tuple[float, float],
) -> tuple[NDArray[np.int8], dict[str, float]]:
    """High-resolution (Z, 2Y, 2X) label volume."""
    nz, ny, nx = shape
    dz, dy, dx = spacing
    z_ext = nz * dz
    yy = (np.arange(2 * ny) + 0.5) * dy / 2 - ny * dy / 2
    xx = (np.arange(2 * nx) + 0.5) * dx / 2 - nx * dx / 2
    ximg, yimg = np.meshgrid(xx, yy)
    c, s = math.cos(rot), math.sin(rot)
    u = c * (ximg - shift[0]) + s * (yimg - shift[1])
    v = -s * (ximg - shift[0]) + c * (yimg - shift[1])
    rho = np.hypot(u, v)
    theta = np.arctan2(v, u)

    scale = float(rng.uniform(0.94, 1.04))
    a0, b0 = 60.0 * scale, 74.0 * scale
    ks = np.arange(2, 6)
    amp_lo = rng.uniform(0.0, 0.03, ks.size) / np.sqrt(ks - 1.0)
    amp_hi = rng.uniform(0.0, 0.03, ks.size) / np.sqrt(ks - 1.0)
    ph_lo = rng.uniform(0, 2 * np.pi, ks.size)
    ph_hi = ph_lo + rng.normal(0.0, 0.4, ks.size)
    skull_t = float(rng.uniform(5.0, 7.0))
    scalp_t = float(rng.uniform(4.0, 6.0))
    gap = 1.5
    gyri = _smooth_field(rng, (nz, 2 * ny, 2 * nx), (0.6, 2.5 / (dy / 2), 2.5 / (dx / 2)))

    def radius(th: FArr | float, zf: float, taper: float) -> FArr:
        th = np.asarray(th, dtype=np.float64)
        a, b = a0 * taper, b0 * taper
        ell = a * b / np.sqrt((b * np.cos(th)) ** 2 + (a * np.sin(th)) ** 2)
        amp = (1 - zf) * amp_lo + zf * amp_hi
        ph = (1 - zf) * ph_lo + zf * ph_hi
        mod = 1.0 + np.sum(amp[:, None] * np.cos(ks[:, None] * th.ravel()[None] + ph[:, None]), 0)
        return np.asarray(ell * mod.reshape(th.shape), dtype=np.float64)

    labels = np.zeros((nz, 2 * ny, 2 * nx), dtype=np.int8)
    low_lim = max(dz, 10.0)
    for iz in range(nz):
        z_mm = (iz + 0.5) * dz
        zf = z_mm / z_ext
        taper = math.sqrt(max(0.1, 1.0 - ((z_mm + 0.25 * z_ext) / (1.45 * z_ext)) ** 2))
        a_eff, b_eff = a0 * taper, b0 * taper
        rb = radius(theta, zf, taper)
        lab = np.full(rho.shape, _AIR, dtype=np.int8)
        lab[rho < rb + gap + skull_t + scalp_t] = _SCALP
        lab[rho < rb + gap + skull_t] = _TABLE
        lab[rho < rb + gap + 0.7 * skull_t] = _DIPLOE
        lab[rho < rb + gap + 0.3 * skull_t] = _TABLE
        lab[rho < rb + gap] = _CSF
        brain = rho < rb
        lab[brain] = _WM
        thick = np.clip(3.0 * (1.0 + 0.5 * gyri[iz]), 1.0, 6.0)
        lab[brain & (rb - rho < thick)] = _GM
        fiss_zone = brain & ((v < -0.3 * b_eff) | (v > 0.4 * b_eff))
        lab[fiss_zone & (np.abs(u) < 1.2 + thick)] = _GM
        lab[fiss_zone & (np.abs(u) < 1.2)] = _CSF
        for sd in (-1.0, 1.0):
            if z_mm < 0.45 * z_ext:  # basal ganglia
                lab[_ellipse(u, v, sd * 20.0, -2.0, 8.0, 14.0)] = _GM
            if z_mm < 0.55 * z_ext:  # insula + Sylvian fissure
                ui = sd * 0.6 * a_eff
                lab[_ellipse(u, v, ui, -3.0, 4.0, 18.0)] = _GM
                lab[_ellipse(u, v, ui + sd * 4.5, -3.0, 1.5, 14.0)] = _CSF
            vs = float(_smoothstep((0.65 * z_ext - z_mm) / (0.25 * z_ext)))
            if vs > 0.05:  # lateral ventricle crescent
                f = 0.3 + 0.7 * vs
                outer = _ellipse(u, v, sd * 9.0 * f, -2.0, 6.0 * f, 24.0 * f)
                inner = _ellipse(u, v, sd * 13.5 * f, -5.0, 5.0 * f, 15.0 * f)
                lab[outer & ~inner] = _CSF
        # arteries
        tubes: list[tuple[tuple[float, float], tuple[float, float], float, int]] = []
        for sd in (-1.0, 1.0):
            occl = _OCCL if sd == side else _ART
            if z_mm < low_lim:
                tubes.append(((sd * 14.0, -18.0), (sd * 14.0, -18.0), 2.0, _ART))  # ICA
                tubes.append(((sd * 15.5, -18.0), (sd * 0.55 * a0, -12.0), 1.5, occl))  # M1
                tubes.append(((sd * 8.0, 8.0), (sd * 28.0, 40.0), 1.2, _ART))  # PCA
            elif z_mm < 0.5 * z_ext:  # Sylvian MCA branches
                ub = sd * (0.6 * a_eff + 4.5)
                tubes.append(((ub, -15.0), (ub, 12.0), 1.0, occl))
            if z_mm < 0.55 * z_ext:  # ACA
                tubes.append(((sd * 2.5, -18.0), (sd * 2.5, -0.8 * b_eff), 1.0, _ART))
        for p0, p1, r, lb in tubes:
            lab[_seg_dist(u, v, p0, p1) < r] = lb
        # veins: superior sagittal sinus, transverse sinuses
        rpost = float(radius(np.pi / 2, zf, taper))
        lab[np.hypot(u, v - (rpost + gap)) < 3.0] = _VEIN
        if z_mm < low_lim:
            angs = np.pi / 2 + np.array([0.3, 0.6, 0.9, 1.2])
            for sd in (-1.0, 1.0):
                pts = []
                for ang in angs:
                    th = np.pi - ang if sd > 0 else ang
                    rr = float(radius(th, zf, taper)) + gap
                    pts.append((rr * math.cos(th), rr * math.sin(th)))
                for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
                    lab[_seg_dist(u, v, p0, p1) < 2.5] = _VEIN
        labels[iz] = lab
    info = {"scale": scale, "a_mm": a0, "b_mm": b0, "skull_mm": skull_t, "scalp_mm": scalp_t}
    return labels, info


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
    if residue not in RESIDUES:
        raise ValueError(f"residue must be one of {RESIDUES}, got {residue!r}")
    if noise_hu < 0 or n_frames < 2 or interval_s <= 0:
        raise ValueError("need noise_hu >= 0, n_frames >= 2, interval_s > 0")
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    dz, dy, dx = spacing
    z_ext = nz * dz

    # --- global random parameters (drawn in a fixed order, independent of options) ---
    side_draw = 1 if rng.random() < 0.5 else -1
    side = side_draw if lesion else 0
    rot = math.radians(float(rng.uniform(-8.0, 8.0)))
    shift = (float(rng.uniform(-6.0, 6.0)), float(rng.uniform(-6.0, 6.0)))
    hu_gm, hu_wm = float(rng.uniform(36, 40)), float(rng.uniform(26, 30))
    hu_csf = float(rng.uniform(0, 10))
    hu_table, hu_diploe = float(rng.uniform(1100, 1400)), float(rng.uniform(600, 800))
    hu_scalp, hu_blood = 20.0, 40.0
    cbf_gm, cbv_gm = float(rng.uniform(50, 60)), float(rng.uniform(4.0, 4.5))
    cbf_wm, cbv_wm = float(rng.uniform(20, 25)), float(rng.uniform(2.0, 2.5))
    p_exp = float(rng.uniform(0.7, 1.5))
    les_r = float(rng.uniform(25, 45))
    les_u = float(rng.uniform(0.5, 0.65)) * 60.0
    les_v = float(rng.uniform(-20, 10))
    les_z = float(rng.uniform(0.3, 0.6)) * z_ext
    aif_t0, aif_alpha = float(rng.uniform(3, 8)), float(rng.uniform(2.5, 4.0))
    aif_tpk = float(rng.uniform(3.5, 6.0))
    aif_peak = float(rng.uniform(300, 550))
    rc_frac, rc_shift, rc_tau = (
        float(rng.uniform(0.1, 0.2)),
        float(rng.uniform(7, 10)),
        float(rng.uniform(3, 5)),
    )
    vof_shift, vof_ratio = float(rng.uniform(4, 6)), float(rng.uniform(1.0, 1.5))

    labels, head = _build_labels(rng, shape, spacing, side_draw, rot, shift)
    if not lesion:
        labels[labels == _OCCL] = _ART
    onehot = np.stack([labels == k for k in range(_N_LABELS)]).astype(np.float32)
    frac = onehot.reshape(_N_LABELS, nz, ny, 2, nx, 2).mean(axis=(3, 5)).astype(np.float64)
    del onehot, labels
    fg, fw = frac[_GM], frac[_WM]
    ft = fg + fw
    fves = frac[_ART] + frac[_OCCL] + frac[_VEIN]
    hus = [-1000.0, hu_scalp, hu_table, hu_diploe, hu_csf, hu_gm, hu_wm]
    hus += [hu_blood] * 3
    baseline = np.tensordot(np.asarray(hus), frac, axes=1)

    # native-resolution head-frame coordinates
    yy = (np.arange(ny) + 0.5) * dy - ny * dy / 2
    xx = (np.arange(nx) + 0.5) * dx - nx * dx / 2
    ximg, yimg = np.meshgrid(xx, yy)
    c, s = math.cos(rot), math.sin(rot)
    u2 = c * (ximg - shift[0]) + s * (yimg - shift[1])
    v2 = -s * (ximg - shift[0]) + c * (yimg - shift[1])
    zc = (np.arange(nz) + 0.5) * dz
    u = np.broadcast_to(u2, shape)
    v = np.broadcast_to(v2, shape)
    z = np.broadcast_to(zc[:, None, None], shape)

    # --- perfusion fields ---
    sig = (8.0 / dz, 8.0 / dy, 8.0 / dx)
    f_cbf = _smooth_field(rng, shape, sig)
    f_cbv = _smooth_field(rng, shape, sig)
    f_del = _smooth_field(rng, shape, sig)
    f_les = _smooth_field(rng, shape, (10.0 / dz, 10.0 / dy, 10.0 / dx))
    with np.errstate(invalid="ignore", divide="ignore"):
        base_cbf = np.where(ft > 0, (fg * cbf_gm + fw * cbf_wm) / ft, cbf_wm)
        base_cbv = np.where(ft > 0, (fg * cbv_gm + fw * cbv_wm) / ft, cbv_wm)
    delay0 = 0.5 * (1.0 + erf(f_del / math.sqrt(2.0)))  # 0-1 s

    if lesion:
        dist = np.sqrt((u - side * les_u) ** 2 + (v - les_v) ** 2 + (z - les_z) ** 2)
        q = dist / les_r * (1.0 + 0.2 * np.clip(f_les, -2.5, 2.5))
        d = np.where(q < 1.0, 0.5 * (1.0 + np.cos(np.pi * np.clip(q, 0, 1))), 0.0)
        d = d * _smoothstep((side * u - 2.0) / 15.0)
    else:
        d = np.zeros(shape)
    cbf = base_cbf * (1.0 + 0.08 * f_cbf) * (1.0 - 0.95 * d**p_exp)
    cbv = base_cbv * (1.0 + 0.08 * f_cbv) * (1.0 - 0.65 * _smoothstep((d - 0.6) / 0.4))

    paren = (ft >= 0.5) & (fves <= 0.0)
    contra = paren & (side * u < 0) if lesion else paren
    n0 = float(cbf[contra].mean())
    h = _smoothstep((0.32 * n0 - cbf) / (0.02 * n0))
    gate = _smoothstep(d / 0.05)
    delay = delay0 + gate * (0.5 + 12.0 * np.maximum(d**0.7, 0.5 * h))
    normal_cbf = float(cbf[contra & (delay < 4.0)].mean())
    if abs(normal_cbf - n0) > 1e-9 * n0:  # contralateral delays are < 1 s by construction
        raise RuntimeError("normal CBF depends on the deficit; model inconsistency")
    core = paren & (cbf < 0.3 * normal_cbf)
    tmax6 = paren & (delay > 6.0)
    if np.any(core & ~tmax6):
        raise RuntimeError("core outside tmax6; model inconsistency")

    # --- input functions ---
    times = np.arange(n_frames, dtype=np.float64) * interval_s
    n_fine = int(math.ceil((times[-1] + 1.0) / _DT)) + 2
    tf = np.arange(n_fine, dtype=np.float64) * _DT
    fp = _gamma_variate(tf, aif_t0, aif_alpha, aif_tpk / aif_alpha)
    rc = _disperse(fp, rc_shift, rc_tau)
    aif = fp + rc_frac * rc * fp.sum() / max(float(rc.sum()), 1e-12)
    aif *= aif_peak / aif.max()
    late = 0.25 * _disperse(aif, 6.0, 4.0)
    vof = _disperse(aif, vof_shift, 2.0)
    vof *= vof_ratio * aif_peak / vof.max()

    def at_frames(curve: FArr) -> FArr:
        return np.asarray(np.interp(times, tf, _window_avg(curve[None])[0]), dtype=np.float64)

    aif_f, late_f, vof_f = at_frames(aif), at_frames(late), at_frames(vof)

    # --- tissue curves ---
    frames = np.repeat(baseline[None], n_frames, axis=0)
    flat = frames.reshape(n_frames, -1)
    idx = np.flatnonzero(ft.ravel() > 0.01)
    cbf_v = cbf.ravel()[idx]
    mtt_v = 60.0 * cbv.ravel()[idx] / np.maximum(cbf_v, 1e-6)
    log_mtt = np.log(np.clip(mtt_v, 0.2, 600.0))
    lo, hi = float(log_mtt.min()), float(log_mtt.max())
    n_m = max(2, int(math.ceil((hi - lo) / 0.02)) + 1)
    dlog = max((hi - lo) / (n_m - 1), 1e-9)
    mtts = np.exp(lo + dlog * np.arange(n_m))
    table = _window_avg(_conv_table(aif, _residue_table(residue, mtts, n_fine)))
    del_v = delay.ravel()[idx]
    k = _RHO_OVER_KH / 6000.0 * ft.ravel()[idx] * cbf_v
    for start in range(0, idx.size, 65536):
        sl = slice(start, start + 65536)
        tau = times[None, :] - del_v[sl, None]
        vals = _lookup(table, lo, dlog, log_mtt[sl, None], tau)
        flat[:, idx[sl]] += (k[sl, None] * vals).T
    frames += frac[_ART][None] * aif_f[:, None, None, None]
    frames += frac[_OCCL][None] * late_f[:, None, None, None]
    frames += frac[_VEIN][None] * vof_f[:, None, None, None]

    # --- noise ---
    if noise_hu > 0:
        sigma_px = 0.7
        w1 = ndimage.gaussian_filter1d(np.eye(1, 15, 7).ravel(), sigma_px, mode="constant")
        gain = float(np.sum(w1**2))  # 2-D separable kernel: sqrt(sum w^2) = sum w1^2
        for it in range(n_frames):
            wn = rng.standard_normal(shape)
            cn = ndimage.gaussian_filter(wn, sigma=(0.0, sigma_px, sigma_px), mode="wrap")
            frames[it] += cn * (noise_hu / gain)

    voxel_ml = dz * dy * dx / 1000.0
    nan = np.float32(np.nan)
    maps: dict[str, NDArray[Any]] = {
        "cbf": np.where(paren, cbf, nan).astype(np.float32),
        "cbv": np.where(paren, cbv, nan).astype(np.float32),
        "tmax": np.where(paren, delay, nan).astype(np.float32),
        "core": core,
        "tmax6": tmax6,
    }
    truth: dict[str, Any] = {
        "family": "gradient",
        "core_ml": float(core.sum() * voxel_ml),
        "tmax6_ml": float(tmax6.sum() * voxel_ml),
        "side": {1: "left", -1: "right", 0: "none"}[side],
        "residue": residue,
        "noise_hu": float(noise_hu),
        "seed": int(seed),
        "normal_cbf": normal_cbf,
        "voxel_ml": voxel_ml,
        "parenchyma_ml": float(paren.sum() * voxel_ml),
        "core_voxels": int(core.sum()),
        "tmax6_voxels": int(tmax6.sum()),
        "lesion": bool(lesion),
        "lesion_centre_head_mm": [side * les_u, les_v, les_z] if lesion else None,
        "lesion_radius_mm": les_r if lesion else None,
        "rcbf_exponent": p_exp if lesion else None,
        "rotation_deg": math.degrees(rot),
        "shift_mm": list(shift),
        "gm_cbf": cbf_gm,
        "gm_cbv": cbv_gm,
        "wm_cbf": cbf_wm,
        "wm_cbv": cbv_wm,
        "aif": {
            "arrival_s": aif_t0,
            "alpha": aif_alpha,
            "time_to_peak_s": aif_tpk,
            "peak_hu": aif_peak,
            "recirculation_fraction": rc_frac,
        },
        "vof": {"delay_s": vof_shift, "peak_ratio": vof_ratio},
        "baseline_hu": {"gm": hu_gm, "wm": hu_wm, "csf": hu_csf, "bone": hu_table},
        "head": head,
        "interval_s": float(interval_s),
        "n_frames": int(n_frames),
        "spacing": [float(dz), float(dy), float(dx)],
        "shape": [int(nz), int(ny), int(nx)],
    }
    return CtpCase(
        frames=frames.astype(np.float32),
        times=times,
        spacing=(float(dz), float(dy), float(dx)),
        truth=truth,
        maps=maps,
    )
