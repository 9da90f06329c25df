"""Metaball family: the elderly head as nested implicit blob fields.

Every structure is an implicit surface: a sum of isotropic Gaussian kernels placed on a
skeleton (tubes along polylines with a radius profile), on a surface (sheets: sulci, fissures,
the falx plane) or filling a solid (a lattice cloud of control points weighted by an
inside-ness), thresholded at an iso-level. Nested structures are iso-levels of one field: the
cranial cavity cloud (plateau 2, surface at 1) gives the inner table, and its inverted error
function profile, ``d = sigma * sqrt(2) * erfinv(F - 1)``, turns it into a distance so that the
dura, the skull tables with the diploe, the scalp and the cerebral convexity (the cavity shrunk
by an atrophy-dependent CSF margin) are offsets of the same metaball. Negative fields carve:
sulci (sheets grown as curves over the cerebral hull, wider with atrophy), the Sylvian and
interhemispheric fissures, the basal cisterns and a few cerebellar fissures; the grey ribbon
(2.5-4 mm) is the band within the cortical thickness of the nearest carved or convexity surface
(a Taubin first-order distance of the carve field). Ventricles, caudate, lentiform, thalamus,
brainstem, venous sinuses (superior sagittal, straight, transverse, sigmoid, torcular), the
circle of Willis, orbits with globes, lenses, nerves and muscles, paranasal and mastoid air with
bony walls, petrous pyramids, clivus, sphenoid, condyles, C1 and the dens are further blob
fields; the tentorium and the falx are thin dural sheets bounding the cerebrum and cerebellum.

The patient is 60-90 years old: atrophy (sulcal and Sylvian widening, an Evans index of
0.25-0.38 that sizes the frontal horns), leukoaraiosis (patchy periventricular blob fields,
3-8 HU darker white matter) in about half the seeds, and old lacunes or a chronic cortical
infarct (CSF density) in about a third; none of these depends on the label.

The scanner: the head is posed (pitch, yaw, roll, translation) and the fields are evaluated by
splatting the blobs onto a coarse scanner-frame grid (multi-resolution Gaussian blur), then
interpolated onto a fine grid (in-plane supersampling for small matrices, 2-7 sub-slices per
slice) where tissues are assigned and averaged into thick slices (slice-profile partial volume).
An MTF-like Gaussian in-plane kernel (soft or standard, 0.6-1.2 mm FWHM), noise with a
ramp-times-Hann noise power spectrum (3-7 HU in brain, more at the skull base), cupping towards
the centre, a Hounsfield bar between the petrous bones and a +/-3 HU calibration offset follow.
Early ischaemia lowers grey matter by the drawn delta and white matter by two thirds of it in
the labelled ASPECTS regions, with a soft border, grey-white loss and sulcal effacement.

Haemorrhage is a further field per kind, from its own random stream of the seed: an
intraparenchymal blob cloud scaled to a drawn volume (oedema rim, fluid level when
anticoagulated), intraventricular sediment below a horizontal (gravity, scanner frame) level or a
ventricular cast, subarachnoid blood in the cisternal/Sylvian/convexity CSF, and subdural
(crescent, falx, tentorium) or epidural (lens) margins measured from the inner table. Blood
density follows the drawn haematocrit. Mimics (calcifications, dense vessel, clip streaks,
residual contrast) are drawn only when the label names them.
"""

from __future__ import annotations

import functools
import math
import numbers
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage, special

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

FAMILY = "metaball"

TISSUES = ("air", "soft_tissue", "fat", "muscle", "bone", "diploe", "petrous", "sinus_air",
           "orbital_fat", "vitreous", "lens", "nerve", "dura", "venous_sinus", "csf",
           "ventricle", "grey", "white", "caudate", "lentiform", "thalamus", "brainstem",
           "cerebellar_cortex", "cerebellar_white", "choroid_plexus", "artery", "leukoaraiosis",
           "lacune", "old_infarct", "blood", "oedema", "calcification", "thrombus", "metal")
"""Tissue names; the index is the value in the tissue map."""

Arr = npt.NDArray[Any]
_T = {name: i for i, name in enumerate(TISSUES)}
_GREYISH = (_T["grey"], _T["caudate"], _T["lentiform"])
_WHITISH = (_T["white"], _T["leukoaraiosis"])
_PARENCHYMA = (_T["grey"], _T["white"], _T["caudate"], _T["lentiform"], _T["leukoaraiosis"])
_SQ2PI = math.sqrt(2.0 * math.pi)
_C0 = np.array([0.0, 14.0, 10.0])  # template centre of the cranial cavity
_MAX_SLICES = 64
_MIN_SLICES = 28


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per (seed, purpose): label-free draws stay label-free."""
    return np.random.default_rng([seed & 0xFFFFFFFFFFFF, zlib.crc32(stream.encode())])


# ----------------------------------------------------------------------------------------------
# Blobs and their builders (template coordinates: an MNI-like LPS frame, origin at the anterior
# commissure, mm; the builders scale them to the patient by S)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Blobs:
    """Isotropic Gaussian kernels: centres (N, 3) head frame (mm), sigma (N,), peak (N,)."""

    c: Arr
    s: Arr
    a: Arr

    @staticmethod
    def empty() -> _Blobs:
        return _Blobs(np.zeros((0, 3)), np.zeros(0), np.zeros(0))

    def __add__(self, other: _Blobs) -> _Blobs:
        return _Blobs(np.concatenate([self.c, other.c]), np.concatenate([self.s, other.s]),
                      np.concatenate([self.a, other.a]))

    def times(self, k: float | Arr) -> _Blobs:
        return _Blobs(self.c, self.s, self.a * k)

    def __len__(self) -> int:
        return int(self.a.size)


def _cat(parts: Sequence[_Blobs]) -> _Blobs:
    out = _Blobs.empty()
    for p in parts:
        out = out + p
    return out


def _qsig(s: Arr) -> Arr:
    """Quantise kernel widths to steps of sqrt(2) so that a field needs few blurs."""
    return np.asarray(np.exp2(np.round(np.log2(np.maximum(s, 0.35)) * 2.0) / 2.0))


@dataclass(frozen=True)
class _Scale:
    """Template -> patient scaling (per axis) and the mean scale for radii."""

    v: Arr

    @property
    def mean(self) -> float:
        return float(np.cbrt(np.prod(self.v)))

    def pt(self, q: Arr | Sequence[Any]) -> Arr:
        return np.asarray(q, dtype=float) * self.v

    def tpl(self, p: Arr) -> Arr:
        return p / self.v


def _tube(sc: _Scale, pts: Sequence[Sequence[float]] | Arr, radii: Sequence[float] | Arr,
          k: float = 2.0) -> _Blobs:
    """Kernels along a polyline whose iso-surface (F = 1) is a tube of the given radii."""
    p = sc.pt(np.asarray(pts, dtype=float))
    r = np.asarray(radii, dtype=float) * sc.mean
    if len(p) == 1:
        sig = _qsig(r / k)
        return _Blobs(p, sig, np.exp(r ** 2 / (2 * sig ** 2)))
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    step = 0.6 * float(_qsig(np.array([r.min() / k]))[0])
    n = max(2, int(math.ceil(s[-1] / step)) + 1)
    t = np.linspace(0.0, s[-1], n)
    step = s[-1] / (n - 1)
    c = np.stack([np.interp(t, s, p[:, i]) for i in range(3)], axis=1)
    rr = np.interp(t, s, r)
    sig = _qsig(rr / k)
    amp = step * np.exp(rr ** 2 / (2 * sig ** 2)) / (_SQ2PI * sig)
    return _Blobs(c, sig, amp)


def _ball(sc: _Scale, centre: Sequence[float], radius: float, k: float = 2.0) -> _Blobs:
    return _tube(sc, [centre], [radius], k)


def _snap(sigma: float) -> float:
    return float(_qsig(np.array([sigma]))[0])


def _sheet(sc: _Scale, q: Arr, w: Arr, cell: float, sigma: float) -> _Blobs:
    """Kernels on a surface sampled with ``cell`` mm^2 per point: a slab of half-width ``w``."""
    sigma = _snap(sigma)
    keep = w > -sigma
    ws = w[keep]
    amp = np.exp(np.sign(ws) * ws ** 2 / (2 * sigma ** 2)) * cell / (2 * math.pi * sigma ** 2)
    return _Blobs(sc.pt(q[keep]), np.full(int(keep.sum()), sigma), amp)


def _fill(sc: _Scale, sd: Callable[[Arr], Arr], lo: Sequence[float], hi: Sequence[float],
          spacing: float, sigma: float, snap: bool = True) -> _Blobs:
    """A lattice cloud filling the solid ``sd > 0`` (template); plateau 2, surface at 1."""
    sigma = _snap(sigma) if snap else sigma
    axes = [np.arange(lo[i], hi[i] + spacing / 2, spacing) for i in range(3)]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    w = np.clip(0.5 + sd(g) / spacing, 0.0, 1.0)
    keep = w > 0
    cellv = spacing ** 3 * float(np.prod(sc.v))
    amp = 2.0 * cellv / ((2 * math.pi) ** 1.5 * sigma ** 3) * w[keep]
    return _Blobs(sc.pt(g[keep]), np.full(int(keep.sum()), sigma), amp)


def _sd_ell(q: Arr, c: Sequence[float], ax: Sequence[float]) -> Arr:
    """Approximate signed distance (positive inside) to an axis-aligned ellipsoid, along rays."""
    d = q - np.asarray(c, dtype=float)
    n = np.sqrt(((d / np.asarray(ax, dtype=float)) ** 2).sum(-1))
    r = np.sqrt((d ** 2).sum(-1))
    return np.where(n > 1e-9, r * (1.0 / np.maximum(n, 1e-9) - 1.0), float(min(ax)))


def _ell(c: Sequence[float], ax: Sequence[float]) -> Callable[[Arr], Arr]:
    """The signed-distance function of one ellipsoid (for the lattice fills)."""
    cc, aa = tuple(float(v) for v in c), tuple(float(v) for v in ax)

    def sd(q: Arr) -> Arr:
        return _sd_ell(q, cc, aa)

    return sd


def _sd_chain(q: Arr, pts: Sequence[Sequence[float]], radii: Sequence[float]) -> Arr:
    """Signed distance (positive inside) to a chain of capsules with linearly varying radius."""
    p = np.asarray(pts, dtype=float)
    r = np.asarray(radii, dtype=float)
    best = np.full(q.shape[:-1], -1e9)
    for i in range(len(p) - 1):
        ab = p[i + 1] - p[i]
        t = np.clip(((q - p[i]) @ ab) / float(ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(q - (p[i] + t[..., None] * ab), axis=-1)
        best = np.maximum(best, r[i] + t * (r[i + 1] - r[i]) - d)
    return best


def _ray_surface(sd: Callable[[Arr], Arr], c0: Arr, u: Arr, r_hi: float = 160.0,
                 iters: int = 22) -> Arr:
    """Distance from ``c0`` along unit rays ``u`` to the surface ``sd = 0`` (bisection)."""
    lo = np.zeros(len(u))
    hi = np.full(len(u), r_hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        inside = sd(c0 + mid[:, None] * u) > 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return np.asarray(0.5 * (lo + hi))


def _grad(sd: Callable[[Arr], Arr], q: Arr, h: float = 0.7) -> Arr:
    g = np.stack([(sd(q + h * e) - sd(q - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    return np.asarray(g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-9))


def _unit(v: Arr) -> Arr:
    return np.asarray(v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12))


def _mirror(pts: Sequence[Sequence[float]], side: int) -> list[list[float]]:
    return [[side * p[0], p[1], p[2]] for p in pts]


# ----------------------------------------------------------------------------------------------
# Anatomy
# ----------------------------------------------------------------------------------------------


@dataclass
class _Anatomy:
    """Everything about the patient that depends on the seed only."""

    sc: _Scale
    p: dict[str, float]  # scalar parameters (template mm unless named *_mm)
    fields: dict[str, _Blobs]
    sd_cav: Callable[[Arr], Arr]
    sd_face: Callable[[Arr], Arr]
    skel: dict[str, Arr]  # template landmark polylines
    info: dict[str, Any] = field(default_factory=dict)

    # --- analytic helpers, all on template coordinates ---
    def x_mid(self, y: Arr, z: Arr) -> Arr:
        return self.p["mid0"] + self.p["mid1"] * np.sin((y + 80.0) / 190.0 * math.pi) * (
            0.5 + 0.5 * np.clip((z + 20.0) / 90.0, 0.0, 1.0))

    def z_ss(self, y: Arr) -> Arr:
        yg, zg = self.p["y_galen"], self.p["z_galen"]
        return np.where(y < yg, zg - 0.6 * (yg - y), zg - 0.35 * (y - yg))

    def z_tent(self, x: Arr, y: Arr) -> Arr:
        a = np.interp(y, [45.0, 95.0], [0.014, 0.004])
        return np.asarray(self.z_ss(y) - a * x ** 2)

    def y_pet(self, x: Arr) -> Arr:
        ax = np.abs(x)
        return np.where(ax > 14.0, 4.0 + 0.72 * (ax - 14.0), 4.0)

    def z_falx_edge(self, y: Arr) -> Arr:
        ve = self.p["ve"]
        edge = np.interp(y, [-90.0, -70.0, -45.0, -30.0, 30.0, 40.0],
                         [-25.0, -16.0, 14.0, 31.0 + 2 * ve, 31.0 + 2 * ve, 14.0])
        return np.where(y > 40.0, self.z_ss(y), edge)

    def z_fissure(self, y: Arr) -> Arr:
        ve = self.p["ve"]
        z = np.interp(y, [-90.0, -36.0, -28.0, 34.0, 42.0], [-40.0, -40.0, 25.0 + 2 * ve,
                                                             25.0 + 2 * ve, 2.0])
        return np.asarray(np.where(y > 42.0, self.z_ss(y) - 2.0, z))

    def x_cleft(self, y: Arr, z: Arr) -> Arr:
        return np.asarray(self.p["x_ins"] + self.p["w_syl"] - 0.005 * (y + 4.0) ** 2
                          - 0.006 * (z - 4.0) ** 2)

    def margin(self, x: Arr, y: Arr, z: Arr) -> Arr:
        """CSF margin between the inner table and the cerebral or cerebellar surface."""
        frontal = 1.0 / (1.0 + np.exp((y + 25.0) / 12.0))
        m = self.p["m0"] * (1.0 + self.p["m_front"] * frontal)
        infra = (y > self.y_pet(x)) & (z < self.z_tent(x, y))
        return np.asarray(np.where(infra, self.p["m_cb"], m))


def _cavity_sd(p: dict[str, float]) -> Callable[[Arr], Arr]:
    """Signed distance of the cranial cavity in template coordinates (inner table)."""
    ax_sup = (p["cav_w"], p["cav_l"], p["cav_h"])
    pet = [[14.0, 4.0, -37.0], [28.0, 14.0, -38.0], [44.0, 26.0, -40.0], [58.0, 34.0, -42.0]]
    pet_r = [6.0, 8.0, 8.5, 8.0]
    chan = [[0.0, 38.0, -50.0], [0.0, 37.0, -66.0], [0.0, 36.0, -80.0], [0.0, 36.0, -125.0]]
    chan_r = [17.0, 15.0, 12.5, 10.5]
    n_cl = np.array([0.0, 36.0, 18.0]) / math.hypot(36.0, 18.0)

    def sd(q: Arr) -> Arr:
        x, y, z = q[..., 0], q[..., 1], q[..., 2]
        cav = _sd_ell(q, (0.0, 14.0, 10.0), ax_sup)
        cav = np.maximum(cav, _sd_ell(q, (0.0, 60.0, -40.0), (54.0, 42.0, 27.0)))
        ax = np.abs(x)
        y_r = -10.0 - 0.55 * np.maximum(ax - 10.0, 0.0)
        z_af = -16.0 + 0.1 * np.maximum(-y - 45.0, 0.0) + 0.1 * np.maximum(ax - 35.0, 0.0)
        cut = np.minimum(y_r - y, z_af - z)
        cut = np.maximum(cut, _sd_ell(q, (0.0, -16.0, -46.0), (20.0, 22.0, 18.0)))
        cl = np.minimum(np.minimum(-((q - np.array([0.0, 4.0, -26.0])) @ n_cl), -24.0 - z),
                        22.0 - ax)
        cut = np.maximum(cut, cl)
        qm = np.stack([ax, y, z], axis=-1)
        cut = np.maximum(cut, _sd_chain(qm, pet, pet_r))
        cav = np.minimum(cav, -cut)
        return np.asarray(np.maximum(cav, _sd_chain(q, chan, chan_r)))

    return sd


def _face_sd() -> Callable[[Arr], Arr]:
    def sd(q: Arr) -> Arr:
        ax = np.abs(q[..., 0])
        qm = np.stack([ax, q[..., 1], q[..., 2]], axis=-1)
        f = _sd_ell(q, (0.0, -46.0, -64.0), (52.0, 44.0, 30.0))
        f = np.maximum(f, _sd_ell(q, (0.0, -58.0, -32.0), (62.0, 32.0, 22.0)))
        f = np.maximum(f, _sd_ell(q, (0.0, -22.0, -46.0), (60.0, 44.0, 30.0)))
        f = np.maximum(f, _sd_ell(qm, (40.0, -55.0, -50.0), (24.0, 28.0, 24.0)))
        f = np.maximum(f, _sd_ell(q, (0.0, 30.0, -98.0), (58.0, 68.0, 44.0)))
        f = np.maximum(f, _sd_ell(q, (0.0, 58.0, -70.0), (52.0, 46.0, 22.0)))
        f = np.maximum(f, _sd_ell(qm, (48.0, -8.0, -78.0), (14.0, 26.0, 20.0)))
        f = np.maximum(f, _sd_chain(q, [[0.0, -88.0, -22.0], [0.0, -101.0, -42.0],
                                        [0.0, -106.0, -56.0]], [6.0, 9.0, 11.0]))
        return np.maximum(f, _sd_ell(qm, (31.0, -74.0, -34.0), (13.5, 13.5, 13.5)))

    return sd


def _hull_curves(an_sd: Callable[[Arr], Arr], rng: np.random.Generator, n_seed: int,
                 p: dict[str, float], z_tent: Callable[[Arr, Arr], Arr],
                 y_pet: Callable[[Arr], Arr]) -> list[tuple[Arr, Arr]]:
    """Sulcal curves grown over the cerebral hull: (points (n, 3), inward normals (n, 3))."""
    m_t = p["m0"]

    def hull_sd(q: Arr) -> Arr:
        return an_sd(q) - m_t

    k = np.arange(n_seed * 3) + 0.5
    phi = np.arccos(1 - 2 * k / (n_seed * 3))
    th = math.pi * (1 + 5 ** 0.5) * k
    u = np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], axis=1)
    u = _unit(u + rng.normal(0, 0.04, u.shape))
    r = _ray_surface(hull_sd, _C0, u)
    pts = _C0 + r[:, None] * u
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    ok = (np.abs(x) > 7.0) & (z > -42.0) & ~((y > y_pet(x) - 2.0) & (z < z_tent(x, y) + 5.0))
    ok &= ~((y < -25.0) & (z < -8.0) & (np.abs(x) < 30.0))
    idx = np.flatnonzero(ok)
    idx = rng.permutation(idx)[:n_seed]
    seeds = pts[idx]
    n = len(seeds)
    lengths = rng.uniform(10.0, 32.0, n)
    x, y, z = seeds[:, 0], seeds[:, 1], seeds[:, 2]
    pref = _unit(rng.normal(0, 1, (n, 3)))
    frontal = y < -18.0
    central = (~frontal) & (y < 30.0) & (z > 12.0)
    temporal = (z <= 12.0) & (np.abs(x) > 30.0) & (y < 45.0)
    pref[frontal] = [0.0, 1.0, 0.0]
    pref[central] = [0.0, -0.35, 1.0]
    pref[temporal] = [0.0, 1.0, 0.15]
    pref = _unit(pref + rng.normal(0, 0.45, (n, 3)))
    step = 1.6
    n_steps = int(math.ceil(lengths.max() / step / 2)) + 1
    halves: list[list[Arr]] = []
    for sign in (1.0, -1.0):
        cur = seeds.copy()
        t = pref * sign
        seq = [cur]
        for _ in range(n_steps):
            nrm = _unit(cur - _C0)
            t = _unit(t - (t * nrm).sum(1, keepdims=True) * nrm + rng.normal(0, 0.22, t.shape))
            nxt = cur + step * t
            cur = nxt + hull_sd(nxt)[:, None] * _unit(nxt - _C0)
            seq.append(cur)
        halves.append(seq)
    fw = np.stack(halves[0], axis=1)
    bw = np.stack(halves[1], axis=1)
    lines = []
    cell = 2.5
    occ = np.zeros((72, 88, 72), bool)  # template occupancy (2.5 mm), origin (-90, -100, -80)
    org = np.array([-90.0, -100.0, -80.0])
    for i in range(n):
        m = int(lengths[i] / step / 2)
        line = np.concatenate([bw[i, 1:m + 1][::-1], fw[i, :m + 1]])
        idx = np.clip(((line - org) / cell).astype(int), 1, np.array(occ.shape) - 2)
        bad = occ[idx[:, 0], idx[:, 1], idx[:, 2]]
        if bad.any():
            # keep the longest conflict-free run
            runs = np.split(np.arange(len(line)), np.flatnonzero(np.diff(bad.astype(int))) + 1)
            good = [r for r in runs if not bad[r[0]]]
            if not good:
                continue
            best = max(good, key=len)
            line, idx = line[best], idx[best]
        if len(line) < 4:
            continue
        for dz in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    occ[idx[:, 0] + dz, idx[:, 1] + dy, idx[:, 2] + dx] = True
        lines.append(line)
    if not lines:
        return []
    allp = np.concatenate(lines)
    alln = _grad(hull_sd, allp)
    out: list[tuple[Arr, Arr]] = []
    k0 = 0
    for line in lines:
        out.append((line, alln[k0:k0 + len(line)]))
        k0 += len(line)
    return out


@functools.lru_cache(maxsize=8)
def _anatomy(seed: int) -> _Anatomy:
    rng = _rng(seed, "anatomy")
    age = float(rng.uniform(60.0, 90.0))
    evans = float(rng.uniform(0.25, 0.38))
    ve = (evans - 0.25) / 0.13
    atro = float(np.clip(0.45 * ve + 0.55 * (age - 60.0) / 30.0 + rng.normal(0, 0.1), 0.0, 1.0))
    g = rng.uniform(0.9, 1.0)
    sc = _Scale(g * (1.0 + rng.normal(0.0, 0.025, 3)))
    p: dict[str, float] = {
        "age": age, "evans": evans, "ve": ve, "atrophy": atro,
        "cav_w": 70.0, "cav_l": 88.0, "cav_h": 70.0,
        "mid0": float(rng.normal(0.0, 0.8)), "mid1": float(rng.normal(0.0, 1.2)),
        "y_galen": 40.0, "z_galen": 4.0,
        "m0": 0.9 + 3.0 * atro + float(rng.uniform(-0.3, 0.3)),
        "m_front": 0.25 + 0.35 * atro, "m_cb": 0.8 + 1.6 * atro,
        "t_ctx": float(np.clip(3.7 - 0.9 * atro + rng.uniform(-0.3, 0.3), 2.5, 4.0)),
        "t_cb": float(rng.uniform(5.5, 7.5)),
        "w_syl": 1.2 + 3.0 * atro + float(rng.uniform(-0.3, 0.3)),
        "w_ih": 0.9 + 2.4 * atro,
        "w_sulc": 0.45 + 1.7 * atro,
        "x_ins": 38.5 + float(rng.normal(0, 0.8)),
        "bs_thr": 0.5 - 0.22 * atro,
        "t_sk": float(rng.uniform(4.8, 7.5)), "t_sc": float(rng.uniform(3.5, 6.0)),
        "t_fat": float(rng.uniform(0.8, 2.8)), "t_temporalis": float(rng.uniform(5.0, 10.0)),
        "t_dura": 0.9,
        "sig_cav": 7.0, "sig_face": 6.0,
    }
    p["x_fhl"] = 70.0 * evans
    sd_cav = _cavity_sd(p)
    sd_face = _face_sd()
    f: dict[str, list[_Blobs]] = {}

    def add(name: str, b: _Blobs) -> None:
        f.setdefault(name, []).append(b)

    # cranial cavity, face and neck: lattice clouds
    add("cav", _fill(sc, sd_cav, (-76, -80, -130), (76, 108, 86), 8.0, p["sig_cav"],
                     snap=False))
    add("face", _fill(sc, sd_face, (-72, -122, -150), (72, 130, -4), 7.0, p["sig_face"],
                      snap=False))

    # skull-base bone masses
    for s in (-1, 1):
        add("pet", _tube(sc, _mirror([[14, 4, -35], [26, 13, -36], [40, 23, -38],
                                      [52, 31, -40]], s), [4.5, 6.5, 7.5, 6.5]))
        add("base", _tube(sc, _mirror([[14, 30, -68], [20, 30, -76]], s), [6.0, 6.5]))
        add("base", _tube(sc, _mirror([[22, 28, -80], [22, 26, -90]], s), [7.0, 6.0]))
        add("base", _fill(sc, _ell((s * 48.0, 28.0, -46.0),
                                                      (12.0, 13.0, 16.0)),
                          (s * 48 - 14, 12, -66), (s * 48 + 14, 44, -26), 3.0, 3.0))
        add("base", _tube(sc, _mirror([[60, -8, -44], [57, -40, -44], [46, -64, -40]], s),
                          [3.5, 3.5, 4.0]))
        add("base", _tube(sc, _mirror([[50, 4, -50], [50, -4, -68], [48, -12, -92]], s),
                          [5.0, 5.0, 5.5]))
        add("base", _tube(sc, _mirror([[44, -70, -40], [42, -62, -56]], s), [5.0, 6.0]))
    add("base", _tube(sc, [[0, 2, -28], [0, 12, -44], [0, 20, -58], [0, 22, -64]],
                      [6.0, 8.0, 6.5, 4.0]))
    add("base", _fill(sc, _ell((0.0, -20.0, -40.0), (15.5, 14.5, 12.0)),
                      (-18, -36, -54), (18, -4, -26), 2.0, 2.0))
    add("base", _tube(sc, [[0, -80, -26], [0, -62, -40], [0, -40, -50]], [1.2, 1.2, 1.2]))
    add("base", _tube(sc, [[0, 15, -72], [0, 15, -100]], [5.5, 6.0]))
    add("base", _tube(sc, [[-12, 4, -78], [0, 2, -78], [12, 4, -78]], [4.0, 4.0, 4.0]))

    # air spaces: with bony walls ("airb") and without ("airs")
    fs = float(rng.uniform(0.5, 1.3)) if rng.uniform() < 0.85 else 0.0
    if fs > 0:
        for s in (-1, 1):
            cx = s * 8.0 + float(rng.normal(0, 1.5))
            add("airb", _fill(sc, _ell((cx, -77.5, -6.0),
                                                           (7.0 * fs, 3.2, 9.0 * fs)),
                              (cx - 12, -86, -16), (cx + 12, -74, 6), 1.5, 1.4))
    for _ in range(int(rng.integers(16, 26))):
        c = [float(rng.choice([-1, 1]) * rng.uniform(3.5, 12.5)), float(rng.uniform(-74, -44)),
             float(rng.uniform(-46, -24))]
        add("airb", _ball(sc, c, float(rng.uniform(2.4, 3.8))))
    spf = float(rng.uniform(0.7, 1.15))
    add("airb", _fill(sc, _ell((float(rng.normal(0, 2)), -22.0, -40.0),
                                            (12.0 * spf, 11.0 * spf, 9.0 * spf)),
                      (-16, -36, -52), (16, -8, -28), 2.5, 2.2))
    for s in (-1, 1):
        add("airb", _fill(sc, _ell((s * 27.0, -58.0, -64.0),
                                                      (12.5, 15.0, 16.0)),
                          (s * 27 - 14, -76, -82), (s * 27 + 14, -40, -46), 3.0, 2.5))
        add("airb", _fill(sc, _ell((s * 5.5, -62.0, -58.0),
                                                      (4.2, 26.0, 14.0)),
                          (s * 5.5 - 6, -90, -74), (s * 5.5 + 6, -34, -42), 2.0, 1.6))
        pn = int(rng.integers(6, 26))
        for _ in range(pn):
            c = [s * float(rng.uniform(40, 56)), float(rng.uniform(18, 38)),
                 float(rng.uniform(-60, -34))]
            add("airb", _ball(sc, c, float(rng.uniform(1.4, 3.2))))
        add("airs", _tube(sc, _mirror([[78, 18, -40], [56, 18, -39]], s), [3.5, 3.0]))
    add("airs", _fill(sc, _ell((0.0, -18.0, -72.0), (13.0, 10.0, 9.0)),
                      (-15, -30, -84), (15, -6, -60), 2.5, 2.2))
    add("airs", _tube(sc, [[0, -14, -78], [0, -10, -95], [0, -8, -130]], [7.0, 7.0, 6.0]))

    # orbits: cone, globe, lens, nerve and muscles
    for s in (-1, 1):
        add("orb", _tube(sc, _mirror([[13, -36, -26], [22, -56, -30], [31, -74, -33],
                                      [32, -82, -34]], s), [3.0, 10.0, 16.0, 17.0]))
        add("globe", _ball(sc, [s * 31.0, -74.0, -34.0], 12.0, k=3.0))
        add("lens", _tube(sc, _mirror([[31, -84.2, -34], [31, -83.0, -34]], s), [3.6, 3.6]))
        add("onv", _tube(sc, _mirror([[29, -63, -33], [20, -50, -30], [13, -36, -26],
                                      [7, -20, -18], [1, -8, -14]], s),
                         [2.2, 2.2, 2.2, 2.2, 2.6]))
        for a_pt, b_pt in (([17, -40, -27], [20, -66, -33]), ([20, -40, -28], [42, -68, -33]),
                           ([16, -40, -22], [30, -66, -22]), ([16, -40, -31], [30, -66, -46])):
            add("onv", _tube(sc, _mirror([a_pt, b_pt], s), [2.0, 2.4]))

    # ventricles (sized by the Evans index)
    x_fhl = p["x_fhl"]
    r_fh = 5.0 + 3.5 * ve
    x_fh = x_fhl - r_fh
    asym = 1.0 + rng.normal(0, 0.05, 2)
    vent: list[_Blobs] = []
    lat: dict[int, _Blobs] = {}
    for j, s in enumerate((-1, 1)):
        k_a = float(asym[j])
        chain: list[list[float]] = [[0.6 * x_fh, -27, 9], [x_fh, -21, 11], [x_fh - 1.0, -12, 14],
                 [0.85 * x_fh, -3, 17], [9 + 6 * ve, 6, 20], [11 + 6 * ve, 18, 21],
                 [21 + 4 * ve, 32, 15], [23 + 2 * ve, 44, 9], [20, 56, 7], [17, 64, 6]]
        radii = [0.45 * r_fh, r_fh, 0.85 * r_fh, 0.75 * r_fh, 4.0 + 3 * ve, 4.0 + 3 * ve,
                 6.5 + 3.5 * ve, 5.0 + 2.5 * ve, 3.2 + 2 * ve, 2.0 + ve]
        b = _tube(sc, _mirror(chain, s), [r * k_a for r in radii])
        rm = 2.3 + 1.3 * ve
        b = b + _tube(sc, _mirror([[1.3 + rm, -25, 10], [1.3 + rm, -14, 13],
                                   [1.3 + rm, -4, 16]], s), [rm * 0.8, rm, rm * 0.9])
        b = b + _tube(sc, _mirror([[22, 32, 12], [30, 22, -3], [31, 10, -12], [30, -2, -18],
                                   [28, -10, -20]], s),
                      [k_a * r for r in (5.0 + 2 * ve, 3.2 + 1.5 * ve, 2.5 + 1.3 * ve,
                                         2.0 + ve, 1.5 + ve)])
        lat[s] = b
        vent.append(b)
    w3 = 1.2 + 3.0 * ve + 1.2 * atro
    yy, zz = np.meshgrid(np.arange(-8, 26, 1.5), np.arange(-14, 12, 1.5), indexing="ij")
    ell = ((yy - 9.0) / 15.5) ** 2 + ((zz + 1.0) / 11.0) ** 2
    q3 = np.stack([np.zeros(yy.size), yy.ravel(), zz.ravel()], axis=1)
    w3v = w3 * np.sqrt(np.clip(1 - ell.ravel(), 0, 1)) - 0.4 * (ell.ravel() > 1)
    third = _sheet(sc, q3, w3v, 1.5 * 1.5 * sc.mean ** 2, 1.6)
    aque = _tube(sc, [[0, 26, -6], [0, 32, -16], [0, 36, -22]], [1.0 + 0.3 * ve] * 3)
    fourth = _tube(sc, [[0, 36, -22], [0, 40, -30], [0, 41, -38], [0, 42, -45]],
                   [1.5, 4.0 + ve, 3.0, 1.5])
    fourth = fourth + _tube(sc, [[-9, 40, -32], [0, 40, -31], [9, 40, -32]], [1.8, 3.0, 1.8])
    vent += [third, aque, fourth]
    f["vent"] = vent
    f["vent_L"], f["vent_R"], f["vent_3"] = [lat[1]], [lat[-1]], [third]
    f["vent_4"] = [aque, fourth]
    chor = _Blobs.empty()
    for s in (-1, 1):
        chor = chor + _tube(sc, _mirror([[19 + 4 * ve, 26, 17], [22 + 4 * ve, 33, 14],
                                         [24 + 3 * ve, 38, 11]], s), [1.4, 2.3, 1.6])
    f["chor"] = [chor]

    # deep grey nuclei
    for s in (-1, 1):
        xc = s * (x_fhl - 2.0 - 2.5 * ve + 1.8)
        axc = 3.9 - 1.0 * ve
        add("caud", _fill(sc, _ell((xc, -12.0, 9.0),
                                                                 (axc, 8.5, 8.5)),
                          (xc - 6, -24, -2), (xc + 6, 0, 20), 2.0, 1.8))
        add("caud", _tube(sc, _mirror([[x_fhl - 3.5 - 2 * ve + 1.5, -4, 16],
                                       [11 + 6 * ve + 5.5, 8, 21],
                                       [12 + 6 * ve + 5.0, 20, 23]], s), [3.0, 2.2, 1.8]))
        xp = s * (28.0 + 1.2 * ve)
        add("lent", _fill(sc, _ell((xp, -1.0, 2.0), (5.5, 15.0, 10.0)),
                          (xp - 8, -18, -10), (xp + 8, 16, 14), 2.0, 1.8))
        add("lent", _fill(sc, _ell((s * 20.5, 1.0, 0.0), (4.0, 8.0, 6.0)),
                          (s * 20.5 - 6, -9, -8), (s * 20.5 + 6, 11, 8), 2.0, 1.8))
        xt = s * (10.5 + 1.5 * ve)
        add("thal", _fill(sc, _ell((xt, 17.0, 6.0), (7.5, 13.0, 9.0)),
                          (xt - 9, 2, -5), (xt + 9, 32, 17), 2.0, 2.0))

    # brainstem and its cistern sleeve
    bs = _tube(sc, [[0, 24, -7], [0, 26, -14], [0, 27, -22], [0, 28, -31], [0, 30, -40],
                    [0, 33, -48], [0, 35, -56], [0, 36, -66], [0, 36, -80], [0, 36, -125]],
               [9.5, 11.0, 12.0, 13.5, 11.5, 9.0, 8.0, 7.0, 6.0, 5.5])
    for s in (-1, 1):
        bs = bs + _tube(sc, _mirror([[8, 20, -10], [12, 13, -7], [14, 8, -4]], s), [5.0, 4.5, 4.0])
    bs = bs + _ball(sc, [0, 33, -8], 5.5)
    f["bs"] = [bs]

    # venous sinuses, projected onto the inner table
    def on_table(items: list[tuple[Arr, Arr, Arr]]) -> list[Arr]:
        """Project points onto the inner table (rays from per-item centres), inset by r."""
        qs = np.concatenate([q for q, _, _ in items])
        cs = np.concatenate([np.broadcast_to(c, q.shape) for q, c, _ in items])
        rs = np.concatenate([r for _, _, r in items])
        u = _unit(qs - cs)
        d = _ray_surface(sd_cav, cs, u, iters=20)
        pts = cs + (d - rs / sc.mean - 0.4)[:, None] * u
        return np.split(pts, np.cumsum([len(q) for q, _, _ in items])[:-1])

    beta = np.radians(np.linspace(25.0, 196.0, 40))
    u_sss = np.stack([np.zeros_like(beta), -np.cos(beta), np.sin(beta)], axis=1)
    r_sss = np.interp(beta, [beta[0], beta[-1]], [1.6, 4.6])
    c_t = np.array([0.0, 40.0, -16.0])
    c_s = np.array([0.0, 40.0, -45.0])
    dom = 1 if rng.uniform() < 0.7 else -1
    items: list[tuple[Arr, Arr, Arr]] = [(_C0 + 50 * u_sss, _C0, r_sss),
                                         (np.array([[0.0, 96.0, -12.0]]), c_t, np.array([5.5]))]
    radii_ts: dict[int, tuple[Arr, Arr]] = {}
    for s in (-1, 1):
        gam = np.radians(np.linspace(0.0, 76.0, 16))
        ut = np.stack([s * np.sin(gam), np.cos(gam), -0.25 * gam], axis=1)
        rt = np.full(16, 4.2 if s == dom else 3.2)
        sig_q = np.array([[s * 47.0, 40.0, -32.0], [s * 43.0, 33.0, -42.0],
                          [s * 38.0, 29.0, -52.0], [s * 34.0, 27.0, -60.0]])
        rs = np.array([3.8, 3.6, 3.6, 4.0]) * (1.1 if s == dom else 0.9)
        items += [(c_t + 40 * _unit(ut), c_t, rt), (sig_q, c_s, rs)]
        radii_ts[s] = (rt, rs)
    proj = on_table(items)
    f_sin = [_tube(sc, proj[0], r_sss), _ball(sc, proj[1][0], 5.5)]
    trans_pts: dict[int, Arr] = {}
    for j, s in enumerate((-1, 1)):
        tp, sp = proj[2 + 2 * j], proj[3 + 2 * j]
        trans_pts[s] = tp
        f_sin.append(_tube(sc, np.concatenate([tp, sp]), np.concatenate(radii_ts[s])))
    f_sin.append(_tube(sc, [[0, 38, 4], [0, 44, 2], [0, 92, -14]], [3.0, 2.6, 2.8]))
    f["sin"] = f_sin

    # arteries
    art: dict[str, Arr] = {}
    arts: list[_Blobs] = []
    for s in (-1, 1):
        sd_ = "L" if s > 0 else "R"
        ica = _mirror([[15, -2, -40], [16, -6, -28], [14, -4, -18], [13, -2, -14]], s)
        m1 = _mirror([[13, -2, -14], [22, -4, -13], [30, -6, -12], [36, -6, -10]], s)
        m2a = _mirror([[36, -6, -10], [40, -2, -4], [41, 8, 6], [42, 20, 14]], s)
        m2b = _mirror([[36, -6, -10], [41, 2, -10], [44, 16, -6], [46, 30, 0]], s)
        a1 = _mirror([[13, -2, -14], [7, -10, -11], [1.6, -14, -10]], s)
        a2 = _mirror([[1.6, -14, -10], [1.3, -18, -4], [1.3, -25, 6], [1.3, -28, 18],
                      [1.3, -20, 30]], s)
        pca = _mirror([[0, 11, -17], [8, 12, -16], [16, 18, -14], [22, 30, -10],
                       [24, 44, -4]], s)
        pcom = _mirror([[13, -2, -15], [10, 6, -16], [8, 12, -16]], s)
        vert = _mirror([[8, 24, -66], [4, 19, -58], [0, 16, -52]], s)
        art["m1" + sd_] = np.array(m1 + m2a[1:3])
        for pts, r in ((ica, 2.0), (m1, 1.6), (m2a, 1.1), (m2b, 1.1), (a1, 1.1), (a2, 1.0),
                       (pca, 1.1), (pcom, 0.7), (vert, 1.4)):
            arts.append(_tube(sc, pts, [r] * len(pts)))
    basilar = [[0, 16, -52], [0, 12, -40], [0, 10, -28], [0, 11, -17]]
    art["basilar"] = np.array(basilar)
    arts.append(_tube(sc, basilar, [1.6] * 4))
    f["art"] = arts

    # carve field (CSF clefts and cisterns) -------------------------------------------------
    carve: list[_Blobs] = []
    # interhemispheric fissure
    ys = np.arange(-82.0, 108.0, 1.6)
    zs = np.arange(-40.0, 86.0, 1.6)
    yy, zz = np.meshgrid(ys, zs, indexing="ij")
    yy, zz = yy.ravel(), zz.ravel()
    an_tmp = _Anatomy(sc, p, {}, sd_cav, sd_face, {})
    keep = zz > an_tmp.z_fissure(yy)
    q_ih = np.stack([an_tmp.x_mid(yy, zz), yy, zz], axis=1)[keep]
    keep2 = sd_cav(q_ih) > -6.0
    q_ih = q_ih[keep2]
    depth = np.clip(sd_cav(q_ih) - p["m0"], 0.0, None)
    w_ih = p["w_ih"] * (1.0 + 0.6 * np.exp(-depth / 12.0)) - 0.15
    carve.append(_sheet(sc, q_ih, w_ih, 1.6 * 1.6 * sc.v[1] * sc.v[2], 2.0))
    # Sylvian fissures
    for s in (-1, 1):
        ws = p["w_syl"] * float(rng.uniform(0.85, 1.15))
        ya = np.arange(-28.0, 38.0, 1.6)
        xa = np.arange(p["x_ins"] + ws - 1.0, 76.0, 1.6)
        yy, xx = np.meshgrid(ya, xa, indexing="ij")
        yy, xx = yy.ravel(), xx.ravel()
        zz = -12.0 + 0.3 * (yy + 28.0) + 0.004 * (yy + 28.0) ** 2 - 0.7 * (xx - 40.0)
        qa = np.stack([s * xx, yy, zz], axis=1)
        end = np.clip((yy + 28.0) / 6.0, 0, 1) * np.clip((38.0 - yy) / 10.0, 0, 1)
        carve.append(_sheet(sc, qa, 0.55 * ws * end - 0.3 * (1 - end),
                            1.6 * 1.6 * sc.v[0] * sc.v[1], 2.0))
        yb, zb = np.meshgrid(np.arange(-28.0, 22.0, 1.6), np.arange(-16.0, 24.0, 1.6),
                             indexing="ij")
        yb, zb = yb.ravel(), zb.ravel()
        ell = ((yb + 4.0) / 25.0) ** 2 + ((zb - 4.0) / 19.0) ** 2
        xb = an_tmp.x_cleft(yb, zb)
        qb = np.stack([s * xb, yb, zb], axis=1)
        carve.append(_sheet(sc, qb, ws * np.sqrt(np.clip(1 - ell, 0, 1)) - 0.5 * (ell > 1),
                            1.6 * 1.6 * sc.v[1] * sc.v[2], 2.4))
        xs_, ys_ = np.meshgrid(np.arange(14.0, 38.0, 1.6), np.arange(-17.0, -7.0, 1.6),
                               indexing="ij")
        qc = np.stack([s * xs_.ravel(), ys_.ravel(), -15.0 + 0.25 * (xs_.ravel() - 14.0)],
                      axis=1)
        carve.append(_sheet(sc, qc, np.full(xs_.size, 0.8 * ws), 1.6 * 1.6 * sc.v[0] * sc.v[1],
                            2.0))
    # basal cisterns
    cisterns: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = [
        ((0.0, -4.0, -17.0), (13.0 + 2 * atro, 10.0, 5.5)),
        ((0.0, 12.0, -16.0), (5.0, 5.0, 6.0)),
        ((0.0, 41.0, -4.0), (8.0 + 2 * atro, 6.5, 6.5)),
        ((0.0, 76.0, -60.0), (12.0 * (1 + 0.4 * atro), 12.0, 9.0))]
    for cis_c, cis_ax in cisterns:
        lo = [cis_c[i] - cis_ax[i] - 4 for i in range(3)]
        hi = [cis_c[i] + cis_ax[i] + 4 for i in range(3)]
        carve.append(_fill(sc, _ell(cis_c, cis_ax), lo, hi, 2.0, 2.0))
    # sulci
    curves = _hull_curves(sd_cav, rng, int(rng.integers(210, 250)), p, an_tmp.z_tent,
                          an_tmp.y_pet)
    sul_q: list[Arr] = []
    sul_w: list[Arr] = []
    for line, nrm in curves:
        n = len(line)
        if n < 3:
            continue
        tn = (np.arange(n) + 0.5) / n
        taper = np.sqrt(np.sin(math.pi * tn))
        dmax = float(rng.uniform(7.0, 17.0))
        w0 = p["w_sulc"] * float(rng.uniform(0.7, 1.3))
        for dd in np.arange(-4.0, dmax + 0.1, 1.6):
            wd = w0 * (1.0 - 0.55 * np.clip(dd / dmax, 0, 1)) * taper - 0.35
            wd = wd - 0.8 * np.clip((dd - dmax * (0.6 + 0.4 * taper)) / 2.0, 0, None)
            sul_q.append(line + dd * nrm)
            sul_w.append(wd)
    if sul_q:
        carve.append(_sheet(sc, np.concatenate(sul_q), np.concatenate(sul_w),
                            1.6 * 1.6 * sc.mean ** 2, 2.0))
    # cerebellar fissures
    for s in (-1, 1):
        for zf in rng.uniform(-58.0, -24.0, 4):
            xs_, ys_ = np.meshgrid(np.arange(4.0, 60.0, 1.6), np.arange(30.0, 104.0, 1.6),
                                   indexing="ij")
            xs_, ys_ = xs_.ravel(), ys_.ravel()
            zq = zf + 0.12 * (ys_ - 60.0) + 0.004 * (xs_ - 20.0) ** 2
            q = np.stack([s * xs_, ys_, zq], axis=1)
            dcav = sd_cav(q)
            ok = (dcav > -3.0) & (dcav < 11.0)
            wq = 0.6 + 0.5 * atro - 0.1 * np.clip(dcav[ok], 0, None)
            carve.append(_sheet(sc, q[ok], wq, 1.6 * 1.6 * sc.mean ** 2, 1.5))
    f["carve"] = carve

    # leukoaraiosis (about half the seeds)
    lrng = _rng(seed, "leukoaraiosis")
    leuko = lrng.uniform() < 0.5
    sev = float(lrng.uniform(0.45, 1.0)) if leuko else 0.0
    drop = float(lrng.uniform(3.0, 8.0)) if leuko else 0.0
    if leuko:
        lb: list[_Blobs] = []
        for s in (-1, 1):
            for c in ([x_fhl * 0.7, -30, 12], [x_fhl + 3, -18, 20], [26 + 3 * ve, 38, 18],
                      [24 + 3 * ve, 48, 12], [16 + 6 * ve, 10, 29], [18 + 6 * ve, 24, 28]):
                cc = [s * c[0] + lrng.normal(0, 2), c[1] + lrng.normal(0, 3),
                      c[2] + lrng.normal(0, 2)]
                lb.append(_ball(sc, cc, float(lrng.uniform(3.5, 7.0) * sev), k=1.6))
        for _ in range(int(lrng.integers(4, 6 + int(20 * sev)))):
            cc = [float(lrng.choice([-1, 1]) * lrng.uniform(14, 34)), float(lrng.uniform(-30, 40)),
                  float(lrng.uniform(16, 46))]
            lb.append(_ball(sc, cc, float(lrng.uniform(2.0, 5.0)), k=1.6))
        f["leuko"] = lb

    # old lesions (about a third of seeds)
    orng = _rng(seed, "old_lesions")
    old: list[dict[str, Any]] = []
    if orng.uniform() < 0.34:
        side = int(orng.choice([-1, 1]))
        if orng.uniform() < 0.6:
            for _ in range(int(orng.integers(1, 3))):
                kind = int(orng.integers(0, 3))
                c = ([28.0, -2.0, 2.0], [11.0, 17.0, 6.0], [22.0, 6.0, 26.0])[kind]
                side_l = int(orng.choice([-1, 1]))
                cc = [side_l * c[0] + orng.normal(0, 2), c[1] + orng.normal(0, 4),
                      c[2] + orng.normal(0, 2)]
                r = float(orng.uniform(2.0, 5.5))
                add("lac", _ball(sc, cc, r))
                old.append({"kind": "lacune", "centre_tpl": [float(v) for v in cc],
                            "radius_mm": r * sc.mean})
        else:
            terr = str(orng.choice(["mca_frontal", "mca_parietal", "pca"]))
            u0 = {"mca_frontal": [0.7, -0.6, 0.35], "mca_parietal": [0.7, 0.45, 0.55],
                  "pca": [0.3, 0.95, -0.1]}[terr]
            u = _unit(np.array([side * u0[0], u0[1], u0[2]]) + orng.normal(0, 0.08, 3))
            rs = _ray_surface(sd_cav, _C0, u[None, :])[0] - p["m0"] - 1.0
            depth_w = float(orng.uniform(15.0, 28.0))
            pts = [_C0 + (rs - d) * u for d in np.linspace(-2.0, depth_w, 6)]
            rad = list(np.linspace(float(orng.uniform(8.0, 13.0)), 2.5, 6))
            add("inf", _tube(sc, pts, rad, k=2.2))
            old.append({"kind": "chronic_cortical_infarct", "territory": terr,
                        "side": "left" if side > 0 else "right"})

    fields = {k: _cat(v) for k, v in f.items()}
    an = _Anatomy(sc, p, fields, sd_cav, sd_face,
                  {"trans_L": trans_pts[1], "trans_R": trans_pts[-1], **art})
    an.info = {
        "age_years": round(age, 1), "evans_index": round(evans, 3),
        "atrophy": round(atro, 3), "scale": [round(float(v), 4) for v in sc.v],
        "cortex_thickness_mm": round(p["t_ctx"] * sc.mean, 2),
        "csf_margin_mm": round(p["m0"] * sc.mean, 2),
        "skull_thickness_mm": round(p["t_sk"] * sc.mean, 2),
        "n_sulci": len(curves), "leukoaraiosis": bool(leuko),
        "leukoaraiosis_severity": round(sev, 3), "leukoaraiosis_drop_hu": round(drop, 2),
        "old_lesions": old, "frontal_sinus": fs > 0,
        "dominant_transverse_sinus": "left" if dom > 0 else "right",
        "model": "metaball: lattice clouds, tube skeletons and carving sheets",
    }
    an.p["leuko_drop"] = drop
    an.skel["lat_L"] = lat[1].c
    an.skel["lat_R"] = lat[-1].c
    return an


# ----------------------------------------------------------------------------------------------
# Densities, pose and acquisition
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _densities(seed: int) -> dict[str, float]:
    r = _rng(seed, "densities")
    grey = float(r.uniform(35.0, 42.0))
    white = float(r.uniform(max(24.0, grey - 12.0), min(31.0, grey - 7.0)))
    csf = float(r.uniform(2.0, 9.0))
    bone = float(r.uniform(1000.0, 1750.0))
    anaemic = r.uniform() < 0.15
    hct = float(r.uniform(0.22, 0.30) if anaemic else r.uniform(0.34, 0.50))
    clot = float(np.clip(20.0 + 120.0 * hct + r.normal(0, 2.0), 46.0, 84.0))
    venous = float(np.clip(24.0 + 65.0 * hct + r.normal(0, 1.5), 40.0, 60.0))
    return {
        "grey": grey, "white": white, "csf": csf, "bone": bone, "venous": venous,
        "artery": venous + float(r.uniform(0.0, 3.0)), "haematocrit": hct, "clot": clot,
        "anaemic": float(anaemic),
        "dura": float(r.uniform(38.0, 50.0)), "soft_tissue": float(r.uniform(30.0, 48.0)),
        "fat": float(r.uniform(-110.0, -75.0)), "muscle": float(r.uniform(42.0, 58.0)),
        "diploe": bone * float(r.uniform(0.3, 0.5)),
        "petrous": min(bone * float(r.uniform(1.1, 1.25)), 2400.0),
        "vitreous": float(r.uniform(4.0, 14.0)), "lens": float(r.uniform(85.0, 120.0)),
        "nerve": float(r.uniform(28.0, 36.0)), "orbital_fat": float(r.uniform(-105.0, -70.0)),
        "sinus_air": float(r.uniform(-1000.0, -960.0)),
        "caudate": grey - float(r.uniform(0.0, 2.0)),
        "lentiform": grey - float(r.uniform(0.0, 2.5)),
        "thalamus": grey - float(r.uniform(1.5, 4.5)),
        "brainstem": white + float(r.uniform(2.0, 6.0)),
        "cerebellar_cortex": grey - float(r.uniform(0.0, 3.0)),
        "cerebellar_white": white + float(r.uniform(0.0, 3.0)),
        "choroid_plexus": float(r.uniform(28.0, 40.0)),
        "lacune": csf + float(r.uniform(0.0, 4.0)),
        "old_infarct": csf + float(r.uniform(3.0, 10.0)),
        "oedema": white - float(r.uniform(5.0, 10.0)),
    }


@dataclass(frozen=True)
class _Pose:
    rot: Arr  # head -> scanner rotation
    shift: Arr  # scanner position of the head origin (x, y, z)
    angles: tuple[float, float, float]  # pitch, yaw, roll (deg)

    def to_scanner(self, p: Arr) -> Arr:
        return np.asarray(p @ self.rot.T + self.shift)

    def head_coords(self, zs: Arr, ys: Arr, xs: Arr) -> tuple[Arr, Arr, Arr]:
        """Head-frame x, y, z of the scanner grid (zs, ys, xs), broadcast to 3-D."""
        dz = (zs - self.shift[2])[:, None, None]
        dy = (ys - self.shift[1])[None, :, None]
        dx = (xs - self.shift[0])[None, None, :]
        r = self.rot
        out = tuple(r[0, j] * dx + r[1, j] * dy + r[2, j] * dz for j in range(3))
        return out[0], out[1], out[2]


def _rotation(pitch: float, yaw: float, roll: float) -> Arr:
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    ry = np.array([[math.cos(c), 0, math.sin(c)], [0, 1, 0], [-math.sin(c), 0, math.cos(c)]])
    return np.asarray(rz @ ry @ rx)


@dataclass(frozen=True)
class _Acq:
    pose: _Pose
    fov: float
    thick: float
    n_slices: int
    z0: float  # scanner z of the first slice centre
    kernel: str
    soft: bool
    fwhm: float
    noise_sd: float
    base_factor: float
    nps_cut: float
    cupping: float
    bar_hu: float
    bar_w: float
    offset: float
    cut: bool
    head_pts: Arr  # scanner-frame samples of the head surface


def _head_surface(an: _Anatomy) -> Arr:
    """Template samples of the outer head surface (for the FOV, crop and coverage)."""
    sc, p = an.sc, an.p
    n = 500
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    th = math.pi * (1 + 5 ** 0.5) * k
    u = np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], axis=1)
    def sd(q: Arr) -> Arr:
        d = q - _C0
        ux = np.abs(d[..., 0]) / np.maximum(np.linalg.norm(d, axis=-1), 1e-6)
        off = p["t_sk"] + p["t_sc"] + 3.0 + p["t_temporalis"] * np.clip((ux - 0.5) / 0.4, 0, 1)
        return np.asarray(np.maximum(an.sd_cav(q) + off, an.sd_face(q) + 1.0))

    pts = []
    for c in (_C0, np.array([0.0, 0.0, -60.0]), np.array([0.0, -50.0, -50.0])):
        r = _ray_surface(sd, c, u, r_hi=200.0, iters=17)
        pts.append(c + r[:, None] * u)
    q = np.concatenate(pts)
    return sc.pt(q)


@functools.lru_cache(maxsize=16)
def _acquisition(seed: int) -> _Acq:
    an = _anatomy(seed)
    r = _rng(seed, "acquisition")
    fov = float(r.uniform(220.0, 250.0))
    thick = float(np.round(r.uniform(3.0, 5.0) * 4) / 4)
    soft = bool(r.uniform() < 0.5)
    kernel = str(r.choice(["H30s", "Hr32", "FC20", "UB", "SOFT"] if soft else
                          ["H40s", "Hr38", "FC26", "UC", "STANDARD"]))
    fwhm = float(r.uniform(0.9, 1.2) if soft else r.uniform(0.6, 0.9))
    pitch, yaw, roll = (float(r.uniform(-15, 15)), float(r.uniform(-8, 8)),
                        float(r.uniform(-6, 6)))
    rot = _rotation(pitch, yaw, roll)
    rad = 15.0 * math.sqrt(float(r.uniform()))
    ang = float(r.uniform(0, 2 * math.pi))
    tz = float(r.uniform(-30.0, 30.0))
    t = np.array([rad * math.cos(ang), rad * math.sin(ang), tz])
    cut = bool(r.uniform() < 0.06)
    head_t = _head_surface(an)
    base = head_t @ rot.T
    ext = np.abs(base[:, :2]).max()

    def fits(tt: Arr, f: float) -> bool:
        xy = base[:, :2] + tt[:2]
        return bool(np.abs(xy).max() <= f / 2 - 3.0)

    if not cut:
        scale = 1.0
        while scale > 0 and not fits(t * np.array([scale, scale, 1.0]), fov):
            scale -= 0.1
        scale = max(scale, 0.0)
        t = t * np.array([scale, scale, 1.0])
        if not fits(t, fov):
            fov = float(min(250.0, 2 * (ext + 3.5)))
            t[:2] = 0.0
    else:
        t[:2] = t[:2] / max(np.linalg.norm(t[:2]), 1e-6) * 15.0
    pose = _Pose(rot, t, (pitch, yaw, roll))
    hs = pose.to_scanner(head_t)
    fm = an.sc.pt(np.array([[16 * math.cos(a), 38 + 16 * math.sin(a), -64.0]
                            for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)]))
    z_lo = float(pose.to_scanner(fm)[:, 2].min() - r.uniform(3.0, 12.0))
    z_hi = float(hs[:, 2].max() + r.uniform(0.0, 3.0))
    n = int(math.ceil((z_hi - z_lo) / thick)) + 1
    if n > _MAX_SLICES:
        z_lo += (n - _MAX_SLICES) * thick * 0.3
        n = _MAX_SLICES
    n = max(n, _MIN_SLICES)
    return _Acq(pose=pose, fov=fov, thick=thick, n_slices=n, z0=z_lo, kernel=kernel,
                soft=soft, fwhm=fwhm, noise_sd=float(r.uniform(3.0, 7.0)),
                base_factor=float(r.uniform(1.3, 1.8)),
                nps_cut=float(r.uniform(0.35, 0.5) if soft else r.uniform(0.5, 0.7)),
                cupping=float(r.uniform(2.0, 5.0)), bar_hu=float(r.uniform(8.0, 25.0)),
                bar_w=float(r.uniform(2.0, 4.0)), offset=float(r.uniform(-3.0, 3.0)), cut=cut,
                head_pts=hs)


# ----------------------------------------------------------------------------------------------
# Field evaluation on a scanner-frame grid
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    z: Arr
    y: Arr
    x: Arr

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.z), len(self.y), len(self.x))

    @property
    def origin(self) -> Arr:
        return np.array([self.z[0], self.y[0], self.x[0]])

    @property
    def step(self) -> Arr:
        return np.array([self.z[1] - self.z[0], self.y[1] - self.y[0], self.x[1] - self.x[0]])


def _up_axis(a: Arr, f: int, n: int, axis: int) -> Arr:
    """Linear interpolation by an integer factor along ``axis`` (sample i -> i * f), n samples."""
    if f == 1:
        return np.asarray(np.take(a, np.arange(n), axis=axis))
    m = a.shape[axis]
    shape = list(a.shape)
    shape[axis] = (m - 1) * f + 1
    out = np.empty(shape, a.dtype)
    lo = [slice(None)] * a.ndim
    hi = [slice(None)] * a.ndim
    lo[axis], hi[axis] = slice(0, m - 1), slice(1, m)
    a0, a1 = a[tuple(lo)], a[tuple(hi)]
    d = a1 - a0
    for j in range(f):
        dst = [slice(None)] * a.ndim
        dst[axis] = slice(j, (m - 1) * f, f)
        if j == 0:
            out[tuple(dst)] = a0
        else:
            out[tuple(dst)] = a0 + d * np.float32(j / f)
    last = [slice(None)] * a.ndim
    last[axis] = slice((m - 1) * f, (m - 1) * f + 1)
    src = [slice(None)] * a.ndim
    src[axis] = slice(m - 1, m)
    out[tuple(last)] = a[tuple(src)]
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(0, n)
    return out[tuple(idx)]


def _evaluate(b: _Blobs, g: _Grid, pose: _Pose, weights: Arr | None = None) -> Arr:
    """Sum of the kernels on the grid: trilinear splat + Gaussian blur, per kernel width, on a
    grid decimated so that the blur stays short, within the kernels' bounding box; then
    interpolated back to ``g``."""
    out = np.zeros(g.shape, np.float32)
    if len(b) == 0:
        return out
    amp_all = b.a if weights is None else b.a * weights
    cs = pose.to_scanner(b.c)[:, ::-1]
    org, step, n0 = g.origin, g.step, np.array(g.shape)
    groups: dict[tuple[int, tuple[float, ...]], list[float]] = {}
    for sv in np.unique(b.s):
        lev = 0
        while lev < 3 and sv / (step.max() * 2 ** (lev + 1)) >= 0.9:
            lev += 1
        h = step * 2 ** lev
        sb = np.sqrt(np.maximum(sv ** 2 - h ** 2 / 6.0, (0.5 * h) ** 2)) / h
        groups.setdefault((lev, tuple(np.round(sb, 2))), []).append(float(sv))
    for (lev, sbt), svs in groups.items():
        m = np.isin(b.s, svs)
        fct = 2 ** lev
        h = step * fct
        sb = np.array(sbt)
        pad = np.ceil(3.0 * sb).astype(int) + 1
        nl = (n0 - 1) // fct + 2 + 2 * pad
        u = (cs[m] - org) / h + pad
        ok = np.all((u >= 0) & (u < nl - 1), axis=1)
        if not ok.any():
            continue
        u = u[ok]
        amp = amp_all[m][ok] * (2 * math.pi) ** 1.5 * np.prod(b.s[m][ok][:, None] / h, axis=1)
        lo = np.maximum(np.floor(u.min(0)).astype(int) - pad, 0)
        hi = np.minimum(np.ceil(u.max(0)).astype(int) + pad + 2, nl)
        nb = hi - lo
        u = u - lo
        i0 = np.floor(u).astype(np.int64)
        fr = u - i0
        idx = []
        wts = []
        for dz in (0, 1):
            wz = fr[:, 0] if dz else 1 - fr[:, 0]
            for dy in (0, 1):
                wy = fr[:, 1] if dy else 1 - fr[:, 1]
                for dx in (0, 1):
                    wx = fr[:, 2] if dx else 1 - fr[:, 2]
                    idx.append(((i0[:, 0] + dz) * nb[1] + i0[:, 1] + dy) * nb[2] + i0[:, 2] + dx)
                    wts.append(amp * wz * wy * wx)
        acc = np.bincount(np.concatenate(idx), np.concatenate(wts), minlength=int(np.prod(nb)))
        vol = acc.reshape(tuple(nb)).astype(np.float32)
        vol = ndimage.gaussian_filter(vol, sb, mode="constant", truncate=2.6)
        # level index i (padded) <-> fine index (i - pad) * fct
        start = (lo - pad) * fct
        for ax in range(3):
            vol = _up_axis(vol, fct, (int(nb[ax]) - 1) * fct + 1, ax)
        a0 = np.maximum(start, 0)
        a1 = np.minimum(start + np.array(vol.shape), n0)
        if np.any(a1 <= a0):
            continue
        src = tuple(slice(int(a0[i] - start[i]), int(a1[i] - start[i])) for i in range(3))
        dst = tuple(slice(int(a0[i]), int(a1[i])) for i in range(3))
        out[dst] += vol[src]
    return out


def _taubin(f: Arr, level: float, step: Arr, lo: float = -6.0, hi: float = 12.0) -> Arr:
    """First-order distance (mm) to the iso-surface ``f = level``: positive where f < level."""
    gz, gy, gx = np.gradient(f, *[float(s) for s in step])
    gn = np.sqrt(gz * gz + gy * gy + gx * gx)
    return np.asarray(np.clip((level - f) / np.maximum(gn, 1e-4), lo, hi), dtype=np.float32)


def _erf_dist(f: Arr, sigma: float) -> Arr:
    """Distance (mm, positive inside) from a lattice cloud of plateau 2 with surface at 1."""
    d = sigma * math.sqrt(2.0) * special.erfinv(np.clip(f - 1.0, -0.995, 0.995))
    return np.asarray(d, dtype=np.float32)


def _seg_dist(q: Arr, pts: Sequence[Sequence[float]]) -> Arr:
    p = np.asarray(pts, dtype=float)
    best = np.full(q.shape[:-1], np.inf)
    for i in range(len(p) - 1):
        ab = p[i + 1] - p[i]
        t = np.clip(((q - p[i]) @ ab) / float(ab @ ab), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(q - (p[i] + t[..., None] * ab), axis=-1))
    return best


_PLIC = [[14.5, 1.0, 2.0], [18.0, 10.0, 4.0], [21.5, 19.0, 6.0]]
_LEVELS = (-6.0, 14.0, 40.0)


def _aspects(an: _Anatomy, xh: Arr, yh: Arr, zh: Arr, caud: Arr, lent: Arr, white: Arr,
             grey: Arr, par: Arr, cvx: Arr) -> Arr:
    """ASPECTS region codes (0 none, 1-10 left, 11-20 right) of head-frame points."""
    sc, p = an.sc, an.p
    xq, yq, zq = xh / sc.v[0], yh / sc.v[1], zh / sc.v[2]
    xm = an.x_mid(yq, zq)
    left = xq > xm
    ax = np.abs(xq - xm)
    gang = (zq >= _LEVELS[0]) & (zq <= _LEVELS[1])
    sup = (zq > _LEVELS[1]) & (zq <= _LEVELS[2])
    ic = white & gang & (_seg_dist(np.stack([ax, yq, zq], axis=-1), _PLIC) < 4.5)
    xcl = an.x_cleft(yq, zq)
    ins = (grey & gang & (ax >= p["x_ins"] - p["t_ctx"] - 3.5) & (ax <= xcl + 0.5)
           & (yq > -28.0) & (yq < 20.0) & ~caud & ~lent)
    theta = np.degrees(np.arctan2(yq - 2.0, ax - 24.0))
    depth = cvx / sc.mean
    x_vb = 15.0 + 9.0 * p["ve"]
    cort = par & ~caud & ~lent & ~ic & ~ins & (yq <= 55.0)
    cg = cort & gang & (ax >= 18.0) & (depth <= 28.0)
    cs = cort & sup & (ax >= 22.0) & (depth <= 32.0) & (ax >= x_vb + 2.0)
    s1 = (theta >= -95.0) & (theta < -35.0)
    s2 = (theta >= -35.0) & (theta < 25.0)
    s3 = (theta >= 25.0) & (theta < 80.0)
    lab = np.zeros(xq.shape, np.uint8)
    lab[cg & s1] = 5
    lab[cg & s2 & (ax > xcl - 1.0)] = 6
    lab[cg & s3] = 7
    lab[cs & s1] = 8
    lab[cs & s2] = 9
    lab[cs & s3] = 10
    lab[ins] = 4
    lab[ic] = 3
    lab[lent & gang] = 2
    lab[caud & gang] = 1
    return np.where(lab > 0, lab + np.where(left, 0, 10), 0).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Label plans: bleeds, mimics, ischaemia (each from its own stream of the seed)
# ----------------------------------------------------------------------------------------------


def _unit_cloud_volume(offs: Arr, sig: Arr, amp: Arr) -> float:
    ax = np.arange(-3.2, 3.2, 0.08)
    zz, yy, xx = np.meshgrid(ax, ax, ax, indexing="ij", sparse=True)
    f = np.zeros((len(ax),) * 3, np.float32)
    for o, s, a in zip(offs, sig, amp, strict=True):
        f += (a * np.exp(-((xx - o[0]) ** 2 + (yy - o[1]) ** 2 + (zz - o[2]) ** 2)
                         / (2 * s * s))).astype(np.float32)
    return float((f > 1.0).sum()) * 0.08 ** 3


@dataclass
class _Plan:
    """What the label adds: kernels per field, coarse margin fields and densities."""

    blobs: dict[str, _Blobs] = field(default_factory=dict)
    hu_w: dict[str, Arr] = field(default_factory=dict)
    par: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _plan(seed: int, label: NcctLabel, an: _Anatomy, hu: dict[str, float]) -> _Plan:
    sc = an.sc
    pl = _Plan()
    clot = hu["clot"]
    for kind in label.bleeds:
        r = _rng(seed, "bleed:" + kind)
        side = 1 if r.uniform() < 0.5 else -1
        sname = "left" if side > 0 else "right"
        if kind == "intraparenchymal":
            deep = r.uniform() < 0.4
            if deep:
                site = str(r.choice(["putamen", "thalamus"]))
                c = [28.0, -1.0, 2.0] if site == "putamen" else [11.0, 17.0, 6.0]
                vol = float(np.exp(r.uniform(math.log(2.0), math.log(35.0))))
            else:
                site = str(r.choice(["frontal", "parietal", "temporal", "occipital"]))
                c = {"frontal": [32.0, -40.0, 24.0], "parietal": [32.0, 36.0, 38.0],
                     "temporal": [45.0, 4.0, -14.0], "occipital": [22.0, 64.0, 10.0]}[site]
                vol = float(np.exp(r.uniform(math.log(3.0), math.log(55.0))))
            cq = np.array([side * c[0], c[1], c[2]]) + r.normal(0, 2.5, 3)
            nb = int(r.integers(3, 9))
            offs = r.normal(0, 0.42, (nb, 3))
            offs[0] = 0.0
            sig = r.uniform(0.35, 0.55, nb)
            sig[0] = 0.62
            amp = r.uniform(1.3, 2.2, nb)
            amp[0] = 2.6
            s = (vol * 1000.0 / _unit_cloud_volume(offs, sig, amp)) ** (1.0 / 3.0)
            centre = sc.pt(cq)
            pl.blobs["iph"] = _Blobs(centre + offs * s, sig * s, amp)
            anticoag = _rng(seed, "anticoagulation").uniform() < 0.3
            level = bool(anticoag and r.uniform() < 0.7)
            pl.par["iph"] = {"hu": float(np.clip(clot + r.normal(0, 2.0), 46.0, 85.0)),
                             "oedema": bool(r.uniform() < 0.65), "level": level,
                             "level_off": float(r.uniform(-0.2, 0.4) * s),
                             "cells": float(np.clip(clot + r.uniform(5, 12), 55, 92)),
                             "serum": float(r.uniform(22.0, 35.0)), "centre": centre}
            pl.info[kind] = {"site": site, "deep": bool(deep), "side": sname,
                             "target_ml": round(vol, 2), "fluid_level": level,
                             "anticoagulated": bool(anticoag)}
        elif kind == "intraventricular":
            mode = str(r.choice(["layer", "cast", "both"], p=[0.55, 0.25, 0.2]))
            both_sides = r.uniform() < 0.7
            target = str(r.choice(["third", "fourth", "lateral"]))
            pl.par["ivh"] = {"mode": mode, "depth": float(r.uniform(10.0, 24.0)),
                             "sides": [1, -1] if both_sides else [side], "target": target,
                             "cast_side": side,
                             "hu_layer": float(np.clip(clot + r.uniform(0, 8), 50, 85)),
                             "hu_cast": float(np.clip(clot + r.normal(0, 2), 48, 82))}
            pl.info[kind] = {"mode": mode, "cast": target if mode != "layer" else None,
                             "layer_sides": "both" if both_sides else sname}
        elif kind == "subarachnoid":
            pats = [pt for pt, pr in (("basal", 0.6), ("sylvian_left", 0.45),
                                      ("sylvian_right", 0.45), ("convexity", 0.35))
                    if r.uniform() < pr]
            if not pats:
                pats = ["basal"]
            bl: list[_Blobs] = []
            for pt in pats:
                if pt == "basal":
                    basal: list[tuple[list[float], float]] = [
                        ([0, -4, -16], 8.0), ([0, 12, -18], 6.0), ([14, 22, -10], 6.0),
                        ([-14, 22, -10], 6.0), ([0, 10, -32], 6.0), ([0, -20, 0], 6.0)]
                    for c, sg in basal:
                        bl.append(_Blobs(sc.pt([c]), np.array([sg]),
                                         np.array([r.uniform(1.7, 2.6)])))
                elif pt.startswith("sylvian"):
                    s2 = 1 if pt.endswith("left") else -1
                    for yv in np.linspace(-22, 26, 6):
                        zv = -12.0 + 0.3 * (yv + 26.0)
                        bl.append(_Blobs(sc.pt([[s2 * 42.0, yv, zv]]), np.array([7.0]),
                                         np.array([r.uniform(1.6, 2.4)])))
                else:
                    u = _unit(np.array([side * r.uniform(0.5, 0.9), r.uniform(-0.5, 0.5),
                                        r.uniform(0.3, 0.8)]))
                    rr = _ray_surface(an.sd_cav, _C0, u[None, :])[0]
                    for _ in range(3):
                        q = _C0 + (rr - 6.0) * u + r.normal(0, 8.0, 3)
                        bl.append(_Blobs(sc.pt([q]), np.array([9.0]),
                                         np.array([r.uniform(1.6, 2.4)])))
            pl.blobs["sah"] = _cat(bl)
            pl.par["sah"] = {"hu": float(np.clip(clot - r.uniform(0, 10), 48.0, 70.0))}
            pl.info[kind] = {"patterns": pats}
        elif kind == "subdural":
            variant = str(r.choice(["convexity", "falx", "tentorium"], p=[0.7, 0.15, 0.15]))
            thick = float(r.uniform(3.0, 15.0) if variant == "convexity" else r.uniform(3.0, 6.0))
            hyper = bool(r.uniform() < 0.35)
            u0 = _unit(np.array([side * r.uniform(0.75, 1.0), r.uniform(-0.5, 0.5),
                                 r.uniform(-0.1, 0.6)]))
            pl.par["sdh"] = {"variant": variant, "side": side, "thick": thick, "hyper": hyper,
                             "u0": u0, "theta": float(r.uniform(35.0, 65.0)),
                             "yc": float(r.uniform(-30.0, 40.0)), "ly": float(r.uniform(25, 45)),
                             "xc": float(side * r.uniform(15, 35)),
                             "yt": float(r.uniform(55.0, 80.0)), "rt": float(r.uniform(18, 30)),
                             "hu": float(np.clip(clot - r.uniform(0, 6), 50.0, 70.0)),
                             "serum": float(r.uniform(36.0, 42.0))}
            if hyper:
                pl.blobs["sdh_mix"] = _Blobs(sc.pt(r.uniform([-75, -80, -40], [75, 105, 85],
                                                              (900, 3))),
                                             np.full(900, 3.0), r.uniform(0.3, 1.2, 900))
            pl.info[kind] = {"variant": variant, "side": sname,
                             "max_thickness_mm": round(thick * sc.mean, 1),
                             "hyperacute_mixed": hyper}
        elif kind == "epidural":
            loc = str(r.choice(["temporal", "parietal", "frontal"], p=[0.5, 0.3, 0.2]))
            base = {"temporal": [1.0, 0.05, -0.2], "parietal": [0.8, 0.4, 0.55],
                    "frontal": [0.55, -0.8, 0.3]}[loc]
            u0 = _unit(np.array([side * base[0], base[1], base[2]]) + r.normal(0, 0.08, 3))
            thick = float(r.uniform(8.0, 24.0))
            swirl = bool(r.uniform() < 0.25)
            pl.par["edh"] = {"u0": u0, "theta": float(r.uniform(16.0, 30.0)), "thick": thick,
                             "hu": float(np.clip(clot + r.uniform(0, 6), 50.0, 80.0)),
                             "swirl": swirl}
            if swirl:
                pl.blobs["edh_mix"] = _Blobs(sc.pt(r.uniform([-75, -80, -40], [75, 105, 85],
                                                             (700, 3))),
                                             np.full(700, 2.5), r.uniform(0.3, 1.0, 700))
            pl.info[kind] = {"location": loc, "side": sname,
                             "max_thickness_mm": round(thick * sc.mean, 1), "swirl": swirl}
    calc: list[_Blobs] = []
    calc_hu: list[Arr] = []
    for mimic in label.mimics:
        r = _rng(seed, "mimic:" + mimic)
        if mimic == "choroid_plexus_calcification":
            ve = an.p["ve"]
            sides = [1, -1] if r.uniform() < 0.8 else [int(r.choice([-1, 1]))]
            hv = float(r.uniform(120, 400))
            for s in sides:
                for _ in range(int(r.integers(2, 5))):
                    c = [s * (22 + 4 * ve) + r.normal(0, 1.2), 33 + r.normal(0, 2.0),
                         14 + r.normal(0, 1.5)]
                    calc.append(_ball(sc, c, float(r.uniform(1.5, 3.0))))
                    calc_hu.append(np.full(len(calc[-1]), hv))
            pl.info[mimic] = {"sides": len(sides), "hu": round(hv, 1)}
        elif mimic == "pineal_calcification":
            hv = float(r.uniform(120, 500))
            calc.append(_ball(sc, [0.0, 30.0 + r.normal(0, 1), 2.0 + r.normal(0, 1)],
                              float(r.uniform(2.5, 4.0))))
            calc_hu.append(np.full(len(calc[-1]), hv))
            pl.info[mimic] = {"hu": round(hv, 1)}
        elif mimic == "basal_ganglia_calcification":
            hv = float(r.uniform(70, 220))
            for s in (-1, 1):
                for _ in range(int(r.integers(3, 8))):
                    c = [s * 20.5 + r.normal(0, 1.5), 1.0 + r.normal(0, 3.5), r.normal(0, 2.5)]
                    calc.append(_ball(sc, c, float(r.uniform(1.2, 2.5))))
                    calc_hu.append(np.full(len(calc[-1]), hv))
            pl.info[mimic] = {"hu": round(hv, 1), "site": "globus pallidus, bilateral"}
        elif mimic == "falx_calcification":
            hv = float(r.uniform(250, 800))
            n_p = int(r.integers(2, 5))
            for _ in range(n_p):
                y0 = float(r.uniform(-50.0, 25.0))
                z0 = float(an.z_falx_edge(np.array(y0))) + float(r.uniform(8.0, 30.0))
                ln = float(r.uniform(6.0, 20.0))
                ang = float(r.uniform(0, math.pi))
                x0 = float(an.x_mid(np.array(y0), np.array(z0)))
                a_pt = [x0, y0, z0]
                b_pt = [x0, y0 + ln * math.cos(ang), z0 + ln * math.sin(ang)]
                calc.append(_tube(sc, [a_pt, b_pt], [float(r.uniform(0.9, 1.5))] * 2))
                calc_hu.append(np.full(len(calc[-1]), hv))
            pl.info[mimic] = {"plaques": n_p, "hu": round(hv, 1)}
        elif mimic == "hyperdense_vessel":
            vessel = "mca" if r.uniform() < 0.7 else "basilar"
            s = 1 if r.uniform() < 0.5 else -1
            key = "basilar" if vessel == "basilar" else ("m1L" if s > 0 else "m1R")
            pl.blobs["dense"] = _tube(sc, an.skel[key], [float(r.uniform(1.9, 2.3))] *
                                      len(an.skel[key]))
            pl.par["dense_hu"] = float(r.uniform(55.0, 80.0))
            pl.info[mimic] = {"vessel": vessel if vessel == "basilar" else
                              ("left" if s > 0 else "right") + " MCA",
                              "hu": round(pl.par["dense_hu"], 1)}
        elif mimic == "streak_artefact":
            site = str(r.choice(["acom", "mca_left", "mca_right", "pcom", "basilar_tip"]))
            sites: dict[str, list[float]] = {
                "acom": [0, -15, -9], "mca_left": [36, -6, -10], "mca_right": [-36, -6, -10],
                "pcom": [float(r.choice([-10, 10])), 4, -16], "basilar_tip": [0, 11, -16]}
            c = sites[site]
            d = _unit(r.normal(0, 1, 3))
            clip_a = np.array(c, dtype=float) - 4.0 * d
            clip_b = np.array(c, dtype=float) + 4.0 * d
            pl.blobs["metal"] = _tube(sc, np.stack([clip_a, clip_b]), [1.6, 1.6])
            pl.par["streak"] = {"centre": sc.pt(np.array(c, dtype=float)),
                                "n": int(r.integers(6, 13)),
                                "angles": r.uniform(0, math.pi, 12).tolist(),
                                "amp": float(r.uniform(150, 400)),
                                "signs": r.choice([-1.0, -1.0, 0.6], 12).tolist(),
                                "width": float(r.uniform(0.8, 1.8))}
            pl.info[mimic] = {"object": "aneurysm clip", "site": site}
        elif mimic == "residual_contrast":
            pl.par["contrast"] = {"artery": float(r.uniform(150, 250)),
                                  "venous": float(r.uniform(100, 200)),
                                  "choroid_plexus": float(r.uniform(60, 100)),
                                  "dura": float(r.uniform(5, 15))}
            pl.info[mimic] = {k: round(v, 1) for k, v in pl.par["contrast"].items()}
    if calc:
        pl.blobs["calc"] = _cat(calc)
        pl.hu_w["calc"] = np.concatenate(calc_hu)
    return pl


# ----------------------------------------------------------------------------------------------
# The renderer
# ----------------------------------------------------------------------------------------------


def _smoothstep(x: Arr) -> Arr:
    t = np.clip(x, 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def _cap(u: tuple[Arr, Arr, Arr], u0: Sequence[float] | Arr, width_deg: float) -> Arr:
    """A smooth bump (1 at ``u0``) on the sphere of directions ``u`` (three components)."""
    v = _unit(np.asarray(u0, dtype=float))
    c = u[0] * np.float32(v[0]) + u[1] * np.float32(v[1]) + u[2] * np.float32(v[2])
    k = np.float32(1.0 / (1.0 - math.cos(math.radians(width_deg))))
    return np.asarray(np.exp((c - np.float32(1.0)) * k))


@dataclass
class _Geometry:
    n: int  # matrix
    pix: float
    ss: int  # in-plane supersampling
    k: int  # coarse in-plane decimation of the fine grid
    n_sub: int  # sub-slices per slice
    hf: float  # fine in-plane step
    z_slices: Arr
    fine_z: Arr  # (n_slices, n_sub)
    cols: tuple[int, int]  # output columns (and rows) covered by the coarse crop
    rows: tuple[int, int]
    coarse: _Grid
    cy0: int  # coarse global index of the crop start
    cx0: int

    def fine_xy(self, j: Arr) -> Arr:
        return np.asarray(-self.n * self.pix / 2.0 + (j + 0.5) * self.hf)


def _geometry(acq: _Acq, matrix: int) -> _Geometry:
    fov, n = acq.fov, matrix
    pix = fov / n
    ss = 2 if pix > 2.5 else 1
    hf = pix / ss
    k = max(1, int(round((1.9 if pix <= 2.5 else 3.4) / hf)))
    if n <= 96:
        n_sub = 2
    elif n <= 160:
        n_sub = max(3, int(math.ceil(acq.thick / 1.1)))
    elif n <= 384:
        n_sub = max(4, int(math.ceil(acq.thick / 0.75)))
    else:
        n_sub = max(3, int(math.ceil(acq.thick / 1.0)))
    zs = acq.z0 + acq.thick * np.arange(acq.n_slices)
    fine_z = zs[:, None] + ((np.arange(n_sub) + 0.5) / n_sub - 0.5)[None, :] * acq.thick
    hp = acq.head_pts
    inz = (hp[:, 2] > zs[0] - 2 * acq.thick) & (hp[:, 2] < zs[-1] + 2 * acq.thick)
    hp = hp[inz] if inz.any() else hp
    half = fov / 2.0

    def span(v: Arr) -> tuple[int, int]:
        lo = int(math.floor((float(v.min()) - 4.0 + half) / pix))
        hi = int(math.ceil((float(v.max()) + 4.0 + half) / pix))
        return max(lo, 0), min(hi, n)

    cols, rows = span(hp[:, 0]), span(hp[:, 1])
    nc = int(math.ceil((n * ss - 1) / k)) + 1

    def crange(r: tuple[int, int]) -> tuple[int, int]:
        return max(0, (r[0] * ss) // k - 1), min(nc, int(math.ceil((r[1] * ss - 1) / k)) + 2)

    cyr, cxr = crange(rows), crange(cols)
    hz = 1.9 if pix <= 2.5 else 3.4
    zc = np.arange(fine_z.min() - 2 * hz, fine_z.max() + 2 * hz + 1e-6, hz)
    ci = np.arange(nc) * k
    coarse = _Grid(zc, -fov / 2 + (ci[cyr[0]:cyr[1]] + 0.5) * hf,
                   -fov / 2 + (ci[cxr[0]:cxr[1]] + 0.5) * hf)
    return _Geometry(n, pix, ss, k, n_sub, hf, zs, fine_z, cols, rows, coarse, cyr[0], cxr[0])


@functools.lru_cache(maxsize=2)
def _anatomy_fields(seed: int, matrix: int) -> dict[str, Arr]:
    """Label-free coarse fields (cached: labels of one seed share them)."""
    an, acq = _anatomy(seed), _acquisition(seed)
    geo = _geometry(acq, matrix)
    g, pose, sc, p = geo.coarse, acq.pose, an.sc, an.p
    out: dict[str, Arr] = {}
    for name in ("cav", "face", "base", "pet", "airb", "airs", "orb", "globe", "lens", "onv",
                 "vent", "chor", "caud", "lent", "thal", "bs", "sin", "art", "carve", "leuko",
                 "lac", "inf"):
        if name in an.fields:
            out[name] = _evaluate(an.fields[name], g, pose)
    xh, yh, zh = pose.head_coords(g.z, g.y, g.x)
    xq, yq, zq = xh / sc.v[0], yh / sc.v[1], zh / sc.v[2]
    sm = sc.mean
    dic = _erf_dist(out.pop("cav"), p["sig_cav"])
    dface = _erf_dist(out.pop("face"), p["sig_face"])
    ux, uy, uz = [(a - c).astype(np.float32) for a, c in zip((xq, yq, zq), _C0, strict=True)]
    nrm = np.sqrt(ux * ux + uy * uy + uz * uz) + np.float32(1e-6)
    u = (ux / nrm, uy / nrm, uz / nrm)
    srng = _rng(seed, "skull")
    tsk = p["t_sk"] + 1.4 * _cap(u, [0, -1, 0.3], 40) + 4.0 * _cap(u, [0, 0.97, -0.25], 12)
    tsk = tsk + 7.0 * _cap(u, [0, -0.985, -0.17], 15)  # glabella, housing the frontal sinus
    for s in (-1, 1):
        tsk = tsk - 2.6 * _cap(u, [s, 0.05, -0.2], 24)
    for _ in range(5):
        tsk = tsk + srng.uniform(-0.9, 0.9) * _cap(u, _unit(srng.normal(0, 1, 3)), 30)
    base_thin = np.maximum(_cap(u, [0, -0.5, -0.87], 32), 0.8 * _cap(u, [0, 0.1, -1.0], 40))
    tsk = tsk * (1.0 - 0.62 * base_thin)
    tsk = np.clip(tsk, 1.8, 14.0) * sm
    tmus = np.zeros_like(tsk)
    for s in (-1, 1):
        tmus = tmus + p["t_temporalis"] * _cap(u, [s, 0.05, -0.1], 32)
    tmus = tmus * _smoothstep((zq + 50.0) / 10.0) * sm
    tsc = (p["t_sc"] + 2.0 * _cap(u, [0, 0.9, -0.45], 40)) * sm
    out["dic"] = dic
    out["tsk"] = tsk.astype(np.float32)
    out["tmus"] = tmus.astype(np.float32)
    out["dhead"] = np.maximum(dic + tsk + tsc + tmus, dface).astype(np.float32)
    out["margin"] = (an.margin(xq, yq, zq) * sm).astype(np.float32)
    tz = (zq - an.z_tent(xq, yq)) * sc.v[2]
    pf = (yq - an.y_pet(xq)) * sc.v[1]
    cbf = (yq - (32.0 - 0.5 * np.abs(xq))) * sc.v[1]
    tmem = np.minimum(pf, np.maximum(np.abs(xq) - 15.0, yq - 40.0) * sm)
    fx = (xq - an.x_mid(yq, zq)) * sc.v[0]
    fe = (zq - an.z_falx_edge(yq)) * sc.v[2]
    # signed margins (> 0 inside): supratentorial, infratentorial (cerebellar), membranes
    out["tz"] = tz.astype(np.float32)
    out["pf"] = pf.astype(np.float32)
    out["fx"] = fx.astype(np.float32)
    out["fe"] = fe.astype(np.float32)
    out["tmem"] = tmem.astype(np.float32)
    out["supra"] = np.maximum(-pf, tz - 1.2).astype(np.float32)
    out["infra"] = np.minimum(np.minimum(pf, -tz - 1.2), cbf).astype(np.float32)
    out["tent"] = np.minimum(0.55 - np.abs(tz), tmem).astype(np.float32)
    out["falx"] = np.minimum(0.5 - np.abs(fx), np.minimum(fe, 3.0)).astype(np.float32)
    out["sept"] = np.minimum(np.minimum(0.7 - np.abs(fx), (zq - 11.0) * sc.v[2]),
                             (22.0 - yq) * sc.v[1]).astype(np.float32)
    if "orb" in out:
        out["orbw"] = np.where(yq > -78.0, out["orb"], 0.0).astype(np.float32)
    out["dbs"] = _taubin(out["bs"], p["bs_thr"], g.step)
    return out


@dataclass
class _Ctx:
    """Per-render state shared by the shading of the chunks."""

    an: _Anatomy
    acq: _Acq
    geo: _Geometry
    hu: dict[str, float]
    plan: _Plan
    f: dict[str, Arr]
    delta: float = 0.0
    label: NcctLabel = field(default_factory=NcctLabel)


def _label_fields(ctx: _Ctx, seed: int) -> None:
    """Add the label's coarse fields (ischaemia, bleeds, mimics) to ``ctx.f`` (copies)."""
    an, acq, geo, pl, label = ctx.an, ctx.acq, ctx.geo, ctx.plan, ctx.label
    g, pose, sc = geo.coarse, acq.pose, an.sc
    f = ctx.f
    carve = f["carve"]
    cvx = f["dic"] - f["margin"]
    need_h = bool(label.ischaemic_regions) or bool(label.bleeds)
    xh = yh = zh = np.zeros(0)
    if need_h:
        xh, yh, zh = pose.head_coords(g.z, g.y, g.x)
    if label.ischaemic_regions:
        r = _rng(seed, "ischaemia")
        ctx.delta = float(r.uniform(2.0, 6.0))
        trans = float(r.uniform(3.0, 6.0))
        swell = float(r.uniform(0.2, 0.6))  # mm the swollen cortical surface moves out
        dcarve0 = _taubin(carve, 1.0, g.step)
        vent = f["vent"] > 1
        supra = (f["pf"] <= 0) | (f["tz"] > 1.2)
        par = (f["dic"] > 0) & supra & (cvx > 0) & (dcarve0 > 0) & (f["dbs"] > 0) & ~vent
        caud, lent, thal = (f["caud"] > 1) & par, (f["lent"] > 1) & par, (f["thal"] > 1) & par
        rest = par & ~caud & ~lent & ~thal
        codes = _aspects(an, xh, yh, zh, caud, lent, rest, rest, par, cvx)
        off = 0 if label.ischaemic_side == "left" else 10
        sel = [ASPECTS_REGIONS.index(rg) + 1 + off for rg in set(label.ischaemic_regions)]
        cort = [c for c in sel if (c - off) >= 4]
        sig = trans / 2.5 / g.step

        def weight(cs: list[int]) -> Arr:
            if not cs:
                return np.zeros(g.shape, np.float32)
            b = ndimage.gaussian_filter(np.isin(codes, cs).astype(np.float32), sig)
            return np.asarray(np.clip((b - 0.15) / 0.6, 0.0, 1.0), dtype=np.float32)

        f["isch"] = weight(sel)
        wc = weight(cort)
        if float(wc.max()) > 0:
            f["cvx0"] = cvx.astype(np.float32)
            f["dcarve0"] = dcarve0
            f["dcarve"] = (dcarve0 + swell * wc).astype(np.float32)
            cvx = cvx + swell * wc
        pl.info["ischaemia"] = {"delta_hu": ctx.delta, "transition_mm": trans,
                                "swelling": swell, "side": label.ischaemic_side,
                                "regions": sorted(set(label.ischaemic_regions))}
    f["cvx"] = cvx.astype(np.float32)
    if "dcarve" not in f:
        f["dcarve"] = _taubin(carve, 1.0, g.step)
    for name in ("iph", "sah", "calc", "dense", "metal", "sdh_mix", "edh_mix"):
        if name in pl.blobs:
            f[name] = _evaluate(pl.blobs[name], g, pose)
    if "calc" in pl.blobs:
        f["calc_hu"] = _evaluate(pl.blobs["calc"], g, pose, pl.hu_w["calc"])
    if not label.bleeds:
        return
    xq, yq, zq = xh / sc.v[0], yh / sc.v[1], zh / sc.v[2]
    xm = an.x_mid(yq, zq)
    dic = f["dic"]
    infra = (f["pf"] > 0) & (f["tz"] < 0)
    if "ivh" in pl.par:
        iv = pl.par["ivh"]
        if iv["mode"] in ("layer", "both"):
            parts = []
            for s in iv["sides"]:
                key = "lat_L" if s > 0 else "lat_R"
                cen = an.skel[key]
                post = sc.tpl(cen)[:, 1] > 24.0 * 1.0
                ymax = float(pose.to_scanner(cen[post])[:, 1].max()) + 3.0 * sc.mean
                y_level = ymax - iv["depth"]
                ys = np.broadcast_to(g.y[None, :, None], g.shape)
                m = np.minimum((yq - 24.0) * sc.v[1], ys - y_level)
                m = np.minimum(m, (xq - xm) * s * sc.v[0])
                parts.append(m)
            f["ivh_layer"] = np.max(np.stack(parts), axis=0).astype(np.float32)
        if iv["mode"] in ("cast", "both"):
            key = {"third": "vent_3", "fourth": "vent_4"}.get(
                iv["target"], "vent_L" if iv["cast_side"] > 0 else "vent_R")
            f["ivh_cast"] = _evaluate(an.fields[key], g, pose)
    if "sdh" in pl.par:
        sp = pl.par["sdh"]
        s = sp["side"]
        if sp["variant"] == "convexity":
            uu = _unit(np.stack([xq - _C0[0], yq - _C0[1], zq - _C0[2]], axis=-1))
            th = np.degrees(np.arccos(np.clip((uu * sp["u0"]).sum(-1), -1, 1)))
            prof = 1.0 - (th / sp["theta"]) ** 2
            t = sp["thick"] * sc.mean * np.sign(prof) * np.abs(prof) ** 0.6
            m = np.minimum(dic - 0.4, 0.4 + t - dic)
            m = np.minimum(m, (xq - xm) * s * sc.v[0] - 2.0)
        elif sp["variant"] == "falx":
            prof = 1.0 - ((yq - sp["yc"]) / sp["ly"]) ** 2
            t = sp["thick"] * sc.mean * np.clip(prof, 0, 1) ** 0.5
            fx = f["fx"] * s
            m = np.minimum(np.minimum(fx - 0.6, 0.6 + t - fx), f["fe"] + 2.0)
            m = np.minimum(m, np.minimum(dic - 0.5, prof * 10.0))
        else:
            d2 = ((xq - sp["xc"]) ** 2 + (yq - sp["yt"]) ** 2) / sp["rt"] ** 2
            t = sp["thick"] * sc.mean * np.clip(1.0 - d2, 0, 1) ** 0.5
            tz = f["tz"]
            m = np.minimum(np.minimum(tz - 0.6, 0.6 + t - tz), f["tmem"])
            m = np.minimum(m, np.minimum(dic - 0.5, (1.0 - d2) * 10.0))
        if sp["variant"] == "convexity":
            m = np.where(infra, -1.0, m)
        f["sdh"] = m.astype(np.float32)
    if "edh" in pl.par:
        ep = pl.par["edh"]
        uu = _unit(np.stack([xq - _C0[0], yq - _C0[1], zq - _C0[2]], axis=-1))
        th = np.degrees(np.arccos(np.clip((uu * ep["u0"]).sum(-1), -1, 1)))
        prof = 1.0 - (th / ep["theta"]) ** 2
        t = ep["thick"] * sc.mean * np.sign(prof) * np.sqrt(np.abs(prof))
        f["edh"] = np.minimum(dic + 0.2, t - dic).astype(np.float32)


class _Up:
    """Coarse -> fine interpolation for one chunk (z by weights, in-plane by factor k); local
    fields are interpolated within their bounding box only."""

    def __init__(self, f: dict[str, Arr], geo: _Geometry, zf: Arr, r0: int, r1: int, c0: int,
                 c1: int) -> None:
        g, k, ss = geo.coarse, geo.k, geo.ss
        zi = (zf - g.z[0]) / (g.z[1] - g.z[0])
        self.i0 = np.clip(np.floor(zi).astype(int), 0, len(g.z) - 2)
        self.w = (zi - self.i0).astype(np.float32)[:, None, None]
        jy0, jy1, jx0, jx1 = r0 * ss, r1 * ss, c0 * ss, c1 * ss
        gy0, gx0 = jy0 // k, jx0 // k
        self.y0, self.y1 = gy0 - geo.cy0, (jy1 - 1) // k + 2 - geo.cy0
        self.x0, self.x1 = gx0 - geo.cx0, (jx1 - 1) // k + 2 - geo.cx0
        self.oy, self.ox = jy0 - gy0 * k, jx0 - gx0 * k
        self.ny, self.nx = jy1 - jy0, jx1 - jx0
        self.k = k
        self.f = f
        self.shape = (len(zf), self.ny, self.nx)

    def _box(self, c: Arr, zsel: Arr | slice, ya: int, yb: int, xa: int,
             xb: int) -> tuple[Arr, slice, slice]:
        k = self.k
        blk = c[:, self.y0 + ya:self.y0 + yb, self.x0 + xa:self.x0 + xb]
        i0 = self.i0[zsel]
        a = blk[i0] + (blk[i0 + 1] - blk[i0]) * self.w[zsel]
        ny_b, nx_b = (a.shape[1] - 1) * k + 1, (a.shape[2] - 1) * k + 1
        if k > 1:
            a = _up_axis(_up_axis(a, k, ny_b, 1), k, nx_b, 2)
        fy, fx = ya * k - self.oy, xa * k - self.ox
        y0, y1 = max(0, fy), min(self.ny, fy + ny_b)
        x0, x1 = max(0, fx), min(self.nx, fx + nx_b)
        return a[:, y0 - fy:y1 - fy, x0 - fx:x1 - fx], slice(y0, y1), slice(x0, x1)

    def __call__(self, name: str) -> Arr:
        box, _, _ = self._box(self.f[name], slice(None), 0, self.y1 - self.y0, 0,
                              self.x1 - self.x0)
        return np.ascontiguousarray(box)

    def opt(self, name: str, thr: float) -> Arr | None:
        if name not in self.f:
            return None
        c = self.f[name]
        zlo, zhi = int(self.i0.min()), int(self.i0.max()) + 2
        sub = c[zlo:zhi, self.y0:self.y1, self.x0:self.x1]
        if sub.size == 0:
            return None
        hit = np.asarray(sub >= thr)
        mz: Arr = np.asarray(hit.any(axis=(1, 2)))
        if not mz.any():
            return None
        my: Arr = np.asarray(hit.any(axis=(0, 2)))
        mx: Arr = np.asarray(hit.any(axis=(0, 1)))
        za, zb = zlo + int(np.argmax(mz)), zlo + len(mz) - int(np.argmax(mz[::-1]))
        ya, yb = int(np.argmax(my)), len(my) - int(np.argmax(my[::-1]))
        xa, xb = int(np.argmax(mx)), len(mx) - int(np.argmax(mx[::-1]))
        ya, yb = max(ya - 1, 0), min(yb + 1, len(my))
        xa, xb = max(xa - 1, 0), min(xb + 1, len(mx))
        zsel = np.flatnonzero((self.i0 + 1 >= za - 1) & (self.i0 <= zb))
        out = np.zeros(self.shape, np.float32)
        if zsel.size == 0 or yb - ya < 2 or xb - xa < 2:
            return out
        box, sy, sx = self._box(c, zsel, ya, yb, xa, xb)
        out[zsel[0]:zsel[-1] + 1, sy, sx] = box
        return out


def _shade(ctx: _Ctx, up: _Up, ys_f: Arr) -> tuple[Arr, Arr, Arr, Arr]:
    """Tissue codes, HU, blood kind codes and the cvx distance on one fine chunk."""
    an, hu, pl, label = ctx.an, ctx.hu, ctx.plan, ctx.label
    p, sm = an.p, an.sc.mean
    T = _T
    dic, tsk, dhead = up("dic"), up("tsk"), up("dhead")
    tis = np.zeros(up.shape, np.uint8)
    head = dhead > 0
    tis[head] = T["soft_tissue"]
    outside = -(dic + tsk)
    t_fat = p["t_fat"] * sm
    tis[head & (dhead > 1.6) & (dhead < 1.6 + t_fat) & (outside > 0.5)] = T["fat"]
    tm = up.opt("tmus", 0.3)
    if tm is not None:
        tis[head & (outside > 0.3) & (outside < tm - 0.3) & (dhead > 1.6 + t_fat)] = T["muscle"]
    shell = (dic <= 0) & (outside < 0)
    rel = -dic
    t_in, t_out = 1.3 * sm, 1.8 * sm
    tis[shell] = T["bone"]
    tis[shell & (rel > t_in) & (rel < tsk - t_out)] = T["diploe"]
    base = up.opt("base", 0.8)
    if base is not None:
        tis[(base > 1) & head & (dic <= 0)] = T["bone"]
    airb = up.opt("airb", 0.4)
    if airb is not None:
        nic = dic < -0.3
        tis[(airb > 0.55) & nic & head] = T["bone"]
        tis[(airb > 1) & nic] = T["sinus_air"]
    airs = up.opt("airs", 0.8)
    if airs is not None:
        tis[(airs > 1) & (dic < -0.3)] = T["sinus_air"]
    orbw = up.opt("orbw", 0.4)
    if orbw is not None:
        tis[(orbw > 0.55) & (orbw <= 1) & (dic < 0)] = T["bone"]
    orb = up.opt("orb", 0.8)
    if orb is not None:
        tis[(orb > 1) & (dic < -1.0)] = T["orbital_fat"]
    onv = up.opt("onv", 0.8)
    if onv is not None:
        tis[(onv > 1) & (dic < -1.0)] = T["nerve"]
    globe = up.opt("globe", 0.8)
    if globe is not None:
        tis[globe > 1] = T["soft_tissue"]
        tis[globe > 1.8] = T["vitreous"]
    lens = up.opt("lens", 0.8)
    if lens is not None:
        tis[lens > 1] = T["lens"]
    # intracranial contents
    ic = dic > 0
    tis[ic] = T["csf"]
    tis[ic & (dic < p["t_dura"] * sm)] = T["dura"]
    cvx, dcv, dbs = up("cvx"), up("dcarve"), up("dbs")
    phi = np.minimum(np.minimum(cvx, dcv), dbs)
    supra = up("supra")
    phi_c = np.minimum(phi, supra)
    cer = ic & (phi_c > 0)
    if "dcarve0" in up.f:  # swollen cortex keeps its ribbon: measured from the dry surface
        phi_r = np.minimum(np.minimum(np.minimum(up("cvx0"), up("dcarve0")), dbs), supra)
    else:
        phi_r = phi_c
    tis[cer] = T["white"]
    tis[cer & (phi_r < p["t_ctx"] * sm)] = T["grey"]
    psi = np.minimum(phi, up("infra"))
    cb = ic & (psi > 0)
    tis[cb] = T["cerebellar_white"]
    tis[cb & (psi < p["t_cb"] * sm)] = T["cerebellar_cortex"]
    deep = np.zeros(up.shape, bool)
    for name, code in (("lent", "lentiform"), ("caud", "caudate"), ("thal", "thalamus")):
        fld = up.opt(name, 0.8)
        if fld is not None:
            m = (fld > 1) & (cer if name != "thal" else ic & ~cb)
            tis[m] = T[code]
            deep |= m
    bs = up.opt("bs", 0.8)
    if bs is not None:
        tis[ic & (bs > 1)] = T["brainstem"]
    vent = up.opt("vent", 0.8)
    vm = np.zeros(up.shape, bool)
    if vent is not None:
        vm = ic & (vent > 1)
        tis[vm] = T["ventricle"]
        chor = up.opt("chor", 0.8)
        if chor is not None:
            tis[vm & (chor > 1)] = T["choroid_plexus"]
    falx = up.opt("falx", 0.0)
    if falx is not None:
        tis[ic & (falx > 0) & ~vm] = T["dura"]
    tent = up.opt("tent", 0.0)
    if tent is not None:
        tis[ic & (tent > 0)] = T["dura"]
    sept = up.opt("sept", 0.0)
    if sept is not None:
        tis[vm & (sept > 0)] = T["white"]
    if base is not None:
        tis[(base > 1) & head & ic & ~vm] = T["bone"]
    pet = up.opt("pet", 0.8)
    if pet is not None:
        tis[(pet > 1) & head] = T["petrous"]
    sin = up.opt("sin", 0.8)
    if sin is not None:
        tis[(sin > 1) & (dic > -1.0)] = T["venous_sinus"]
    art = up.opt("art", 0.8)
    if art is not None:
        tis[(art > 1) & ic] = T["artery"]
    if onv is not None:
        tis[(onv > 1) & ic] = T["nerve"]
    lac = up.opt("lac", 0.8)
    if lac is not None:
        tis[(lac > 1) & (cer | deep)] = T["lacune"]
    inf = up.opt("inf", 0.8)
    if inf is not None:
        tis[(inf > 1) & cer] = T["old_infarct"]
    lw = up.opt("leuko", 0.2)
    if lw is not None:
        tis[(tis == T["white"]) & (lw > 0.6)] = T["leukoaraiosis"]
    # mimics
    hu_calc = None
    calc = up.opt("calc", 0.8)
    if calc is not None:
        cm = calc > 1
        tis[cm] = T["calcification"]
        hu_calc = (cm, up("calc_hu") / np.maximum(calc, 1e-6))
    dense = up.opt("dense", 0.8)
    if dense is not None:
        tis[(dense > 1) & ic] = T["thrombus"]
    metal = up.opt("metal", 0.8)
    if metal is not None:
        tis[metal > 1] = T["metal"]
    # HU
    lut = np.array([hu.get(name, 0.0) for name in TISSUES], dtype=np.float32)
    lut[T["air"]] = -1000.0
    lut[T["metal"]] = 3071.0
    lut[T["leukoaraiosis"]] = hu["white"]
    lut[T["venous_sinus"]] = hu["venous"]
    lut[T["ventricle"]] = hu["csf"]
    lut[T["blood"]] = hu["clot"]
    lut[T["thrombus"]] = pl.par.get("dense_hu", 60.0)
    if "contrast" in pl.par:
        cp = pl.par["contrast"]
        lut[T["artery"]] = cp["artery"]
        lut[T["venous_sinus"]] = cp["venous"]
        lut[T["choroid_plexus"]] = cp["choroid_plexus"]
        lut[T["dura"]] += cp["dura"]
    h = lut[tis]
    if lw is not None and p.get("leuko_drop", 0.0) > 0:
        wm = (tis == T["white"]) | (tis == T["leukoaraiosis"])
        h -= np.where(wm, p["leuko_drop"] * np.clip(lw, 0.0, 1.0), 0.0).astype(np.float32)
    if "isch" in up.f:
        w = up("isch")
        gm = np.isin(tis, _GREYISH)
        wm2 = np.isin(tis, _WHITISH)
        h -= (ctx.delta * w * (gm + (2.0 / 3.0) * wm2)).astype(np.float32)
    if hu_calc is not None:
        h[hu_calc[0]] = hu_calc[1][hu_calc[0]]
    # bleeds
    kc = np.zeros(up.shape, np.uint8)

    def put(mask: Arr, kind: str, value: Arr | float, code: str = "blood") -> None:
        tis[mask] = T[code]
        kc[mask] = BLEED_KINDS.index(kind) + 1
        h[mask] = value[mask] if isinstance(value, np.ndarray) else value

    if "subarachnoid" in label.bleeds:
        fs = up("sah")
        m = (fs > 1) & (tis == T["csf"]) & ic & (dic > p["t_dura"] * sm)
        frac = np.clip(0.8 + 0.2 * (fs - 1.0), 0.8, 1.0)
        put(m, "subarachnoid", hu["csf"] + frac * (pl.par["sah"]["hu"] - hu["csf"]))
    if "intraventricular" in label.bleeds:
        iv = pl.par["ivh"]
        vmask = np.isin(tis, (T["ventricle"], T["choroid_plexus"]))
        if "ivh_layer" in up.f:
            put(vmask & (up("ivh_layer") > 0), "intraventricular", iv["hu_layer"])
        if "ivh_cast" in up.f:
            put(vmask & (up("ivh_cast") > 1), "intraventricular", iv["hu_cast"])
    if "intraparenchymal" in label.bleeds:
        ip = pl.par["iph"]
        fi = up("iph")
        ok = ic & (dic > 1.5) & ~vm
        m = (fi > 1) & ok
        if ip["oedema"]:
            rim = (fi > 0.45) & ~m & ok & np.isin(tis, _PARENCHYMA + (T["thalamus"],))
            tis[rim] = T["oedema"]
            h[rim] = hu["oedema"]
        val: Arr | float = ip["hu"]
        if ip["level"]:
            y_level = float(ctx.acq.pose.to_scanner(ip["centre"][None, :])[0, 1]) + ip["level_off"]
            val = np.where(ys_f[None, :, None] > y_level, ip["cells"], ip["serum"]) * np.ones(
                up.shape, np.float32)
        put(m, "intraparenchymal", val)
    if "subdural" in label.bleeds:
        sp = pl.par["sdh"]
        m = (up("sdh") > 0) & ic
        val = sp["hu"]
        if sp["hyper"]:
            mix = np.clip(up("sdh_mix"), 0.0, 1.0)
            val = sp["serum"] + (sp["hu"] - sp["serum"]) * (0.3 + 0.7 * mix)
        put(m, "subdural", val)
    if "epidural" in label.bleeds:
        ep = pl.par["edh"]
        m = (up("edh") > 0) & (dic > -0.2)
        val = ep["hu"]
        if ep["swirl"]:
            val = ep["hu"] - 18.0 * np.clip(up("edh_mix"), 0.0, 1.0)
        put(m, "epidural", val)
    return tis, h, kc, cvx


def _pool(a: Arr, n_sub: int, ss: int) -> Arr:
    nz, ny, nx = a.shape
    b = a.reshape(nz // n_sub, n_sub, ny // ss, ss, nx // ss, ss)
    return np.asarray(b.mean(axis=(1, 3, 5), dtype=np.float32))


def _noise(seed: int, acq: _Acq, shape: tuple[int, int, int], pix: float) -> Arr:
    """Unit-variance noise with a ramp x Hann noise power spectrum (per slice)."""
    r = _rng(seed, "noise")
    nz, ny, nx = shape
    white = r.standard_normal(shape).astype(np.float32)
    fy = np.fft.fftfreq(ny, d=pix)[:, None]
    fx = np.fft.rfftfreq(nx, d=pix)[None, :]
    fr = np.sqrt(fy * fy + fx * fx)
    fc = acq.nps_cut
    filt = np.where(fr < fc, fr * np.cos(np.pi * fr / (2 * fc)) ** 2, 0.0)
    if not np.any(filt > 0):
        filt = fr
    out = np.fft.irfft2(np.fft.rfft2(white, axes=(1, 2)) * filt, s=(ny, nx), axes=(1, 2))
    sd = float(out.std())
    return np.asarray(out / max(sd, 1e-9), dtype=np.float32)


def _render(seed: int, label: NcctLabel, matrix: int) -> tuple[NcctCase, Arr, Arr]:
    if not isinstance(matrix, numbers.Integral) or isinstance(matrix, bool | np.bool_) or not (
            64 <= int(matrix) <= 512):
        raise ValueError(f"matrix must be an int in 64..512, got {matrix!r}")
    matrix = int(matrix)
    an, acq, hu = _anatomy(seed), _acquisition(seed), dict(_densities(seed))
    geo = _geometry(acq, matrix)
    base_f = _anatomy_fields(seed, matrix)
    ctx = _Ctx(an, acq, geo, hu, _plan(seed, label, an, hu), dict(base_f), label=label)
    _label_fields(ctx, seed)
    n, ss, n_sub, nsl = geo.n, geo.ss, geo.n_sub, acq.n_slices
    vol = np.full((nsl, n, n), -1000.0, np.float32)
    tmap = np.zeros((nsl, n, n), np.uint8)
    rmap = np.zeros((nsl, n, n), np.uint8)
    icf = np.zeros((nsl, n, n), np.float32)
    cup = np.zeros((nsl, n, n), np.float32)
    kinds = [k for k in BLEED_KINDS if k in label.bleeds]
    bfrac = {k: np.zeros((nsl, n, n), np.float32) for k in kinds}
    fine_counts = {k: 0 for k in kinds}
    (c0, c1), (r0, r1) = geo.cols, geo.rows
    per = max(1, int(1.5e6 // max(1, n_sub * (r1 - r0) * (c1 - c0) * ss * ss)))
    cz = n_sub // 2
    pose = acq.pose
    for s0 in range(0, nsl, per):
        s1 = min(nsl, s0 + per)
        zf = geo.fine_z[s0:s1].ravel()
        up = _Up(ctx.f, geo, zf, r0, r1, c0, c1)
        ys_f = geo.fine_xy(np.arange(r0 * ss, r1 * ss))
        xs_f = geo.fine_xy(np.arange(c0 * ss, c1 * ss))
        tis, h, kc, cvx = _shade(ctx, up, ys_f)
        vol[s0:s1, r0:r1, c0:c1] = _pool(h, n_sub, ss)
        dpos = np.maximum(up("dic"), 0.0)
        icf[s0:s1, r0:r1, c0:c1] = _pool((dpos > 0).astype(np.float32), n_sub, ss)
        cup[s0:s1, r0:r1, c0:c1] = _pool(dpos, n_sub, ss)
        for i, k in enumerate(BLEED_KINDS):
            if k in bfrac:
                mk = kc == i + 1
                fine_counts[k] += int(mk.sum())
                bfrac[k][s0:s1, r0:r1, c0:c1] = _pool(mk.astype(np.float32), n_sub, ss)
        tc = tis[cz::n_sub, ss // 2::ss, ss // 2::ss]
        tmap[s0:s1, r0:r1, c0:c1] = tc
        xh, yh, zh = pose.head_coords(zf[cz::n_sub], ys_f[ss // 2::ss], xs_f[ss // 2::ss])
        caud, lent = tc == _T["caudate"], tc == _T["lentiform"]
        grey = tc == _T["grey"]
        white = np.isin(tc, _WHITISH)
        par = np.isin(tc, _PARENCHYMA)
        rmap[s0:s1, r0:r1, c0:c1] = _aspects(an, xh, yh, zh, caud, lent, white, grey, par,
                                             cvx[cz::n_sub, ss // 2::ss, ss // 2::ss])
    # scanner artefacts
    zs = geo.z_slices
    xs = -acq.fov / 2 + (np.arange(n) + 0.5) * geo.pix
    ys = xs.copy()
    bar = _hounsfield_bar(an, acq, zs, ys, xs)
    vol += (bar - acq.cupping * _smoothstep(cup / np.maximum(icf, 1e-3) / 22.0)) * icf
    streak_info = None
    if "streak" in ctx.plan.par:
        st = _streaks(ctx.plan.par["streak"], acq, zs, ys, xs)
        vol += st * (tmap > 0)
        streak_info = True
    sig_px = acq.fwhm / 2.3548 / geo.pix
    vol = ndimage.gaussian_filter(vol, (0.0, sig_px, sig_px), truncate=3.0)
    noise = _noise(seed, acq, vol.shape, geo.pix)
    z_sb = float(pose.to_scanner(an.sc.pt(np.array([[0.0, 18.0, -36.0]])))[0, 2])
    factor = 1.0 + (acq.base_factor - 1.0) * np.clip((z_sb + 15.0 - zs) / 30.0, 0.0, 1.0)
    vol += noise * (acq.noise_sd * factor)[:, None, None].astype(np.float32)
    vol += acq.offset
    vol = np.clip(vol, -1024.0, 3071.0).astype(np.float32)
    mask = np.zeros(vol.shape, np.uint8)
    if kinds:
        stack = np.stack([bfrac[k] for k in kinds])
        tot = stack.sum(0)
        best = np.argmax(stack, axis=0)
        codes = np.array([BLEED_KINDS.index(k) + 1 for k in kinds], np.uint8)
        mask = np.where(tot >= 0.5 - 1e-6, codes[best], 0).astype(np.uint8)
    fine_ml = geo.hf * geo.hf * acq.thick / n_sub / 1000.0
    vols = {k: round(fine_counts[k] * fine_ml, 3) for k in kinds}
    cut = bool((tmap[:, [0, -1], :] > 0).any() or (tmap[:, :, [0, -1]] > 0).any())
    pl = ctx.plan
    details: dict[str, Any] = {
        "family": FAMILY,
        "origin_mm": [float(xs[0]), float(ys[0]), float(zs[0])],
        "kernel": acq.kernel,
        "pose": {"pitch_deg": round(pose.angles[0], 3), "yaw_deg": round(pose.angles[1], 3),
                 "roll_deg": round(pose.angles[2], 3),
                 "translation_mm": [round(float(v), 3) for v in pose.shift],
                 "rotation_head_to_lps": [[round(float(v), 6) for v in row] for row in pose.rot],
                 "head_cut_by_fov": cut},
        "physics": {"fov_mm": round(acq.fov, 3), "pixel_mm": round(geo.pix, 4),
                    "slice_thickness_mm": acq.thick, "n_slices": nsl,
                    "kernel_class": "soft" if acq.soft else "standard",
                    "mtf_fwhm_mm": round(acq.fwhm, 3), "noise_sd_hu": round(acq.noise_sd, 3),
                    "noise_skull_base_factor": round(acq.base_factor, 3),
                    "nps": "ramp x Hann", "nps_cutoff_cycles_per_mm": round(acq.nps_cut, 3),
                    "cupping_hu": round(acq.cupping, 3),
                    "hounsfield_bar_hu": round(acq.bar_hu, 3),
                    "hounsfield_bar_width_mm": round(acq.bar_w, 3),
                    "calibration_offset_hu": round(acq.offset, 3), "kvp": 120.0,
                    "subslices": n_sub, "supersampling": ss,
                    "fine_step_mm": [round(acq.thick / n_sub, 4), round(geo.hf, 4)],
                    "coarse_step_mm": [round(float(v), 4) for v in geo.coarse.step]},
        "hu": {k: round(float(v), 3) for k, v in hu.items()},
        "anatomy": dict(an.info),
        "bleed_volumes_ml": vols,
        "bleeds": {k: v for k, v in pl.info.items() if k in BLEED_KINDS},
        "mimics": {k: v for k, v in pl.info.items() if k in MIMICS},
        "ischaemic_delta_hu": float(ctx.delta) if label.ischaemic_regions else None,
        "ischaemia": pl.info.get("ischaemia"),
        "streaks": streak_info,
        "tissues": list(TISSUES),
        "region_codes": {"left": {r: i + 1 for i, r in enumerate(ASPECTS_REGIONS)},
                         "right": {r: i + 11 for i, r in enumerate(ASPECTS_REGIONS)}},
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=vol,
                    spacing_mm=(float(acq.thick), float(geo.pix), float(geo.pix)),
                    blood_mask=mask, details=details)
    return case, rmap, tmap


def _hounsfield_bar(an: _Anatomy, acq: _Acq, zs: Arr, ys: Arr, xs: Arr) -> Arr:
    """Dark beam-hardening band between the petrous pyramids on posterior-fossa slices."""
    out = np.zeros((len(zs), len(ys), len(xs)), np.float32)
    pts = {s: acq.pose.to_scanner(an.sc.pt(np.array(_mirror(
        [[16, 6, -35], [26, 13, -36], [36, 20, -37], [46, 28, -38]], s)))) for s in (-1, 1)}
    yy, xx = ys[:, None], xs[None, :]
    for i, z in enumerate(zs):
        cen = []
        wsum = 0.0
        for s in (-1, 1):
            w = np.exp(-((pts[s][:, 2] - z) ** 2) / (2 * (acq.thick / 2 + 4.0) ** 2))
            if w.sum() < 0.5:
                break
            cen.append((pts[s][:, :2] * w[:, None]).sum(0) / w.sum())
            wsum += float(w.max())
        if len(cen) < 2:
            continue
        a, b = cen
        ab = b - a
        ln = float(np.hypot(*ab))
        t = ((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(ln * ln, 1e-6)
        d = np.abs((xx - a[0]) * ab[1] - (yy - a[1]) * ab[0]) / max(ln, 1e-6)
        along = _smoothstep(np.minimum(t, 1 - t) * 6.0 + 0.3)
        amp = acq.bar_hu * min(1.0, wsum / 2.0)
        out[i] = -amp * np.exp(-d * d / (2 * acq.bar_w ** 2)) * along
    return out


def _streaks(sp: dict[str, Any], acq: _Acq, zs: Arr, ys: Arr, xs: Arr) -> Arr:
    """Alternating dark and bright streaks radiating from a metal clip."""
    out = np.zeros((len(zs), len(ys), len(xs)), np.float32)
    c = acq.pose.to_scanner(sp["centre"][None, :])[0]
    yy, xx = ys[:, None] - c[1], xs[None, :] - c[0]
    rr = np.sqrt(xx * xx + yy * yy)
    pat = -0.5 * sp["amp"] * np.exp(-rr * rr / (2 * 8.0 ** 2))
    for k in range(sp["n"]):
        ang = sp["angles"][k]
        d = np.abs(-math.sin(ang) * xx + math.cos(ang) * yy)
        pat = pat + sp["signs"][k] * sp["amp"] * np.exp(-d * d / (2 * sp["width"] ** 2)) * (
            12.0 / (rr + 12.0))
    for i, z in enumerate(zs):
        w = math.exp(-((z - c[2]) ** 2) / (2 * (acq.thick / 2 + 3.0) ** 2))
        if w > 0.02:
            out[i] = pat * w
    return out


def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """Render ``label`` for ``seed``; return the case, the ASPECTS region map (0 none, 1-10 the
    regions of :data:`ASPECTS_REGIONS` on the patient's left, 11-20 on the right) and the tissue
    map (indices into :data:`TISSUES`), both uint8 and shaped like the volume."""
    return _render(seed, label, matrix)


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render ``label`` for ``seed`` as a synthetic non-contrast head CT."""
    return _render(seed, label, matrix)[0]
