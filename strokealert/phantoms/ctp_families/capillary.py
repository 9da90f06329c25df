"""CT perfusion phantom family "capillary": capillary transit-time heterogeneity.

A reader's manual
=================

What a case is
--------------
``make_case`` renders one dynamic CT perfusion acquisition of a synthetic head, in
Hounsfield units, together with the perfusion values that were used to render it.
Everything about the head and the stroke is drawn from ``seed``; ``residue`` and
``noise_hu`` only change the residue-function shape family and the noise level, so
cases that differ only in those share the same head, the same lesion and the same
(scaled) noise pattern.

Axes and units
--------------
* Arrays are indexed ``(z, y, x)``; frames are ``(t, z, y, x)``.
* ``x`` increases towards the patient's LEFT, ``y`` towards POSTERIOR, ``z`` towards
  the vertex.  Millimetre coordinates: ``x = (i - (nx - 1) / 2) * dx``,
  ``y = (j - (ny - 1) / 2) * dy`` and ``z = (k + 0.5) * dz`` above the slab's lower
  plane, which sits just above the skull base (dorsum sellae, anterior clinoids and
  petrous ridges reach into the first 5 mm).  The default slab (16 x 5 mm) runs from
  the supraclinoid internal carotid arteries and the M1 segments to the centrum
  semiovale.  Head-centred anatomy is placed with a small random pose (yaw, pitch,
  roll of a few degrees, a few mm of offset) and a random size; a field of view under
  about 190 mm crops the head.
* ``times`` are seconds from the first frame; frames are absolute HU (baseline
  included), float32, not rounded.
* CBF in mL/100 g/min, CBV in mL/100 g, MTT, CTH, Tmax in s, K^trans in mL/100 g/min,
  volumes in mL.

Anatomy
-------
Analytic, partial-volumed: a cerebrum (ellipsoid with a frontal taper), cerebellum
and brainstem, a 2.5 mm layer of subarachnoid CSF, skull (inner table, diploe, outer
table, thickness drawn), scalp and air; dense skull-base bone (petrous ridges, dorsum
sellae, anterior clinoids) in the lowest slice.  Inside the brain: cortical grey
ribbon (2.4-3.2 mm) along the outer surface and along sulci (the zero set of a
band-limited random field, 5-15 mm deep), interhemispheric and Sylvian fissures,
white matter, deep grey nuclei (caudate, lentiform, thalamus), lateral, third and
fourth ventricles, basal cisterns.  Tissue fractions on the output grid come from
signed distances with a ramp whose width is the voxel's extent along the surface
normal (so 5 mm slices blur horizontal surfaces more than vertical ones).

Vessels are tubes rasterised by supersampling (about 1 x 0.75 x 0.75 mm): both
supraclinoid ICAs, M1, superior and inferior M2 divisions, A1/A2 (pericallosal),
basilar tip and PCAs; superior sagittal sinus (tapering 1.5 -> 4 mm radius), straight
sinus, transverse sinuses.  Small vessels are partial-volumed, so they look less
bright than their blood (e.g. an M1 in a 5 mm slice reaches about half its contrast).
The territories (ACA, MCA superior and inferior divisions, lenticulostriate deep MCA,
PCA, posterior fossa) are smooth maps used to place the lesion.

Haemodynamics
-------------
Arterial input (the supraclinoid ICA curve, enhancement above baseline)::

    C_a(t) = P g(t; t0, alpha, beta)                      first pass, gamma variate
           + r P g(t; t0 + dr, alpha, beta * b)           recirculation hump
           + e P (1 - exp(-(t - t_on) / tau))^2 exp(-(t - t_on) / tau_w)   equilibrium

with peak ``P`` 250-600 HU, arrival 3-8 s after the first frame.  Arteries carry
``C_a`` with small transit delays; arteries distal to the clot fill through
collaterals: ``C_a`` delayed (3-8 s) and dispersed (exponential, 1.5-4 s), with the
same area.  The clot is hyperdense and does not enhance.  Veins carry
``C_v = C_a (x) h_v`` where ``h_v`` is a unit-area gamma transit-time density (mean
5-8 s, superficial; 1.5 s more for the straight sinus), so the venous area equals the
arterial area (indicator conservation) and the venous curve is later, broader and
lower.

Tissue (per voxel, with ``rho = 1.04 g/mL`` and ``k_H = 0.73``)::

    C_t(t) = (rho / k_H) * CBF / 6000 * (C_a (x) e_beta (x) R)(t - Tmax)
             + rho * K^trans / 6000 / (1 - Hct) * int_0^{t - Tmax} C_a     (leak)

so that ``CBV = (k_H / rho) * int C_t / int C_a`` and ``MTT = 60 CBV / CBF = int R``.
``e_beta`` is a unit-area exponential dispersion (0.25-4.5 s) of the tissue's input and
``Tmax`` its delay; the truth ``tmax`` is that delay alone: the time of the peak of
the residue (R is maximal at t = 0) relative to the ICA input, dispersion NOT
included (a deconvolution with the ICA curve will put the peak a little later where
the dispersion is large).

The residue is the survival function of the capillary transit-time distribution
(Jespersen & Ostergaard, JCBFM 2012) with mean MTT and standard deviation CTH:

* ``"exponential"``: well-mixed compartment, ``R = exp(-t / MTT)``; CTH = MTT always
  (this shape cannot express a change in heterogeneity; the lesion acts through MTT).
* ``"gamma"``: gamma-distributed transit times; normal relative heterogeneity
  ``CTH / MTT = 1 / sqrt(k)`` with the shape ``k`` drawn in 2-5 per case.
* ``"box"``: plug flow with a narrow, uniform transit spread (normal CTH / MTT drawn
  in 0.06-0.14), i.e. a flat residue that falls linearly around MTT.

In ischaemic tissue the relative heterogeneity is multiplied by 0.85-0.7 in the
oligaemia/penumbra (flow homogenisation as perfusion pressure falls) and by 1.2-1.45
in the core (capillary dysfunction, no-reflow); the multipliers are quantised to
(0.7, 0.85, 1, 1.2, 1.45).  Normal grey matter has CBF 50-66, white matter 2.2-2.8
times less; CBV 3.8-4.8 and 1.7-2.3; smooth texture of about 8 % on top.

Lesion
------
An occlusion (ICA-T, M1 proximal or distal, M2 superior or inferior division) on a
drawn side; the affected territory gets a severity field that grows with depth (deep
white matter and, for proximal occlusions, lenticulostriate territory do worst),
falls near neighbouring territories (leptomeningeal collaterals, reach and grade
drawn) and has a smooth random component.  Thresholds on severity give target core
and Tmax > 6 s fractions of the territory (core targets 0-80 % of the territory, at
most 150 mL; about a third of the cases get cores of 0-2 %, i.e. 0-5 mL).  Oligaemia:
Tmax 2-6 s, CBF 0.8-1 of normal, CBV up to +15 %.  Penumbra: Tmax > 6 s (up to
8-16 s), CBF from 0.8 of normal down to just above the core threshold, CBV raised
(autoregulation).  Core: CBF 0.2-0.95 of the core threshold, CBV 0.25-0.7 of normal,
a 1-3 HU baseline drop (oedema) and, in its most severe part, a blood-brain-barrier
leak (Patlak, K^trans 0.2-2 mL/100 g/min) that makes a late, slowly rising
enhancement.

Truth
-----
* ``parenchyma``: voxels whose brain-tissue fraction (grey + white + deep grey +
  cerebellum + brainstem) is >= 0.5.  The maps ``cbf``, ``cbv``, ``tmax`` (and the
  extra ``mtt``, ``cth``, ``ktrans`` and ``dispersion``, the time constant of the
  exponential dispersion of the tissue's input as rendered) are float32 with NaN
  outside parenchyma; they
  are the values of the tissue in the voxel (per 100 g of parenchyma), while the
  rendered signal is scaled by the parenchymal fraction (partial volume with CSF,
  bone or vessels lowers what a deconvolution measures in that voxel).
  ``parenchyma_fraction`` (float32) is the fraction itself.
* ``normal_cbf``: mean pre-lesion CBF of supratentorial parenchyma (cortex, white
  matter, deep grey) in the hemisphere contralateral to the lesion (both hemispheres
  without a lesion).
* ``core = parenchyma & (cbf < 0.3 * normal_cbf)``;
  ``tmax6 = parenchyma & (tmax > 6)``.  ``core_ml``, ``tmax6_ml`` count those voxels
  times ``voxel_ml``.  The maps are in the first frame's position.
* ``truth["aif"]["curve_hu"]`` and ``truth["vof"]["curve_hu"]``: the noise-free ICA
  and superior-sagittal-sinus enhancement at ``times``; ``aif_voxel`` / ``vof_voxel``
  are the voxels with the largest ICA (contralateral) / SSS fraction and
  ``aif_fraction`` / ``vof_fraction`` those fractions.

Noise and nuisances
-------------------
Low-dose iterative reconstruction: per frame and slice, Gaussian noise with a
noise-power spectrum ``NPS(f) ~ (f + f0) exp(-(f / fc)^2)`` (f in 1/mm, ``fc``
0.08-0.13, ``f0`` 0.03-0.06: a peak near 0.05 1/mm, much power below it, blotchy
texture), independent between frames (and between slices).  Its standard deviation
follows a map ``~ (mean over view angles of exp(line integral of mu))^(0.4)``
computed from the head itself: higher in the brain centre and behind dense skull-base
bone.  The map is scaled so that the pooled
standard deviation over supratentorial parenchyma equals ``noise_hu``.  Nuisances:
rigid head motion in 1-4 consecutive frames (translation <= 2 mm, rotation <= 2
degrees, back in place afterwards), a linear baseline drift (<= 1.5 HU/min inside the
head) and a static beam-hardening pattern (darkening with the mean and the largest
bone path through the voxel: cupping and dark bands between petrous ridges).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, special

FAMILY = "capillary"
RESIDUES = ("exponential", "gamma", "box")

RHO = 1.04  # g/mL, brain density
K_H = 0.73  # (1 - Hct_large) / (1 - Hct_small)
HCT_LARGE = 0.45
CORE_RCBF = 0.3
TMAX_THRESHOLD_S = 6.0
PV_THRESHOLD = 0.5
MU_WATER = 0.019  # 1/mm, effective energy
DT = 0.1  # s, fine time grid

CTH_MULTIPLIERS = (0.7, 0.85, 1.0, 1.2, 1.45)
BETA_LEVELS = (0.25, 0.5, 0.9, 1.5, 2.3, 3.3, 4.5)
MTT_GRID = np.geomspace(0.8, 32.0, 72)

Arr = NDArray[Any]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# random streams: independent so that residue / noise do not change the head
_ANATOMY, _LESION, _HAEMO, _RESIDUE, _SCANNER, _NOISE = 1, 2, 3, 4, 5, 6


@dataclass
class CtpCase:
    frames: NDArray[np.float32]  # (T, Z, Y, X) HU, absolute (baseline included)
    times: NDArray[np.float64]  # (T,) s from the first frame
    spacing: tuple[float, float, float]  # (z, y, x) mm
    truth: dict[str, Any]  # JSON-serialisable
    maps: dict[str, NDArray[Any]]  # "cbf", "cbv", "tmax", "core", "tmax6", ...


@dataclass(frozen=True)
class Nuisances:
    """Which nuisances :func:`make_case` renders (all by default; the tests turn them off to
    check the rest): the blood-brain-barrier leak, head motion, baseline drift and beam
    hardening."""

    leak: bool = True
    motion: bool = True
    drift: bool = True
    beam_hardening: bool = True


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, 0xCA91]))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# ----------------------------------------------------------------------------- geometry


def _rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> F64:
    """Rotation matrix acting on (x, y, z) column vectors."""
    a, b, c = (math.radians(v) for v in (yaw_deg, pitch_deg, roll_deg))
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    ry = np.array([[math.cos(c), 0, math.sin(c)], [0, 1, 0], [-math.sin(c), 0, math.cos(c)]])
    return np.asarray(rz @ rx @ ry, dtype=np.float64)


@dataclass
class _Grid:
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    x: F64  # (X,) grid mm
    y: F64
    z: F64
    rot: F64  # head -> grid rotation
    origin: F64  # rotation centre (head coords)
    shift: F64
    scale: float
    scale_centre: F64

    @staticmethod
    def make(
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        rot: F64,
        shift: F64,
        scale: float,
    ) -> _Grid:
        nz, ny, nx = shape
        dz, dy, dx = spacing
        return _Grid(
            shape=shape,
            spacing=spacing,
            x=np.asarray((np.arange(nx) - (nx - 1) / 2.0) * dx, dtype=np.float64),
            y=np.asarray((np.arange(ny) - (ny - 1) / 2.0) * dy, dtype=np.float64),
            z=np.asarray((np.arange(nz) + 0.5) * dz, dtype=np.float64),
            rot=rot,
            origin=np.array([0.0, 0.0, 40.0]),
            shift=shift,
            scale=scale,
            scale_centre=np.array([0.0, 0.0, 20.0]),
        )

    def head_coords(self) -> tuple[F32, F32, F32]:
        """Head (anatomical) mm coordinates of every voxel centre, each (Z, Y, X)."""
        rt = self.rot.T
        px = self.x[None, None, :] - self.origin[0] - self.shift[0]
        py = self.y[None, :, None] - self.origin[1] - self.shift[1]
        pz = self.z[:, None, None] - self.origin[2] - self.shift[2]
        out = []
        for r in range(3):
            v = rt[r, 0] * px + rt[r, 1] * py + rt[r, 2] * pz + self.origin[r]
            out.append(np.broadcast_to(v, self.shape).astype(np.float32))
        return out[0], out[1], out[2]

    def to_template(self, hx: F32, hy: F32, hz: F32) -> tuple[F32, F32, F32]:
        c = self.scale_centre
        s = np.float32(1.0 / self.scale)
        return (
            ((hx - c[0]) * s + c[0]).astype(np.float32),
            ((hy - c[1]) * s + c[1]).astype(np.float32),
            ((hz - c[2]) * s + c[2]).astype(np.float32),
        )

    def template_to_grid(self, pts: F64) -> F64:
        """(N, 3) template (x, y, z) -> grid (x, y, z) mm."""
        c = self.scale_centre
        head = (pts - c) * self.scale + c
        return np.asarray((head - self.origin) @ self.rot.T + self.origin + self.shift)


def _ramp(sd: Arr, w: Arr | float) -> F32:
    """Fraction of a voxel inside a surface at signed distance ``sd`` (negative inside)."""
    return np.clip(0.5 - sd / w, 0.0, 1.0).astype(np.float32)


def _width(grid: _Grid, nx: Arr, ny: Arr, nz: Arr) -> F32:
    dz, dy, dx = grid.spacing
    w = np.sqrt((nx * dx) ** 2 + (ny * dy) ** 2 + (nz * dz) ** 2)
    return np.maximum(w, 0.5).astype(np.float32)


def _ellipsoid(
    p: tuple[F32, F32, F32],
    centre: Sequence[float],
    axes: Sequence[float],
    rot: F64 | None = None,
) -> tuple[F32, F32, F32, F32]:
    """Approximate signed distance (mm, template) and unit normal of an ellipsoid."""
    ux = p[0] - np.float32(centre[0])
    uy = p[1] - np.float32(centre[1])
    uz = p[2] - np.float32(centre[2])
    if rot is not None:
        r = rot.astype(np.float32)
        ux, uy, uz = (
            r[0, 0] * ux + r[0, 1] * uy + r[0, 2] * uz,
            r[1, 0] * ux + r[1, 1] * uy + r[1, 2] * uz,
            r[2, 0] * ux + r[2, 1] * uy + r[2, 2] * uz,
        )
    ax, ay, az = (np.float32(a) for a in axes)
    rr = np.sqrt((ux / ax) ** 2 + (uy / ay) ** 2 + (uz / az) ** 2)
    rr = np.maximum(rr, np.float32(1e-4))
    gx, gy, gz = ux / (ax * ax), uy / (ay * ay), uz / (az * az)
    gn = np.maximum(np.sqrt(gx * gx + gy * gy + gz * gz), np.float32(1e-9))
    sd = (rr - 1.0) * rr / gn
    if rot is not None:  # normal back to the template frame
        r = rot.astype(np.float32)
        gx, gy, gz = (
            r[0, 0] * gx + r[1, 0] * gy + r[2, 0] * gz,
            r[0, 1] * gx + r[1, 1] * gy + r[2, 1] * gz,
            r[0, 2] * gx + r[1, 2] * gy + r[2, 2] * gz,
        )
    return (
        sd.astype(np.float32),
        (gx / gn).astype(np.float32),
        (gy / gn).astype(np.float32),
        (gz / gn).astype(np.float32),
    )


def _sigmoid(v: Arr) -> F32:
    return (0.5 * (1.0 + np.tanh(0.5 * v))).astype(np.float32)


@dataclass
class _Field:
    """Band-limited random field: a sum of plane waves with random directions."""

    dirs: F64
    freqs: F64
    phases: F64

    @staticmethod
    def draw(rng: np.random.Generator, n: int, lam_min: float, lam_max: float) -> _Field:
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return _Field(d, 1.0 / rng.uniform(lam_min, lam_max, n), rng.uniform(0, 2 * np.pi, n))

    def eval(self, x: Arr, y: Arr, z: Arr, gradient: bool = False) -> tuple[F32, F32 | None]:
        n = len(self.freqs)
        amp = np.float32(math.sqrt(2.0 / n))
        val = np.zeros(x.shape, np.float32)
        grad = np.zeros((3, *x.shape), np.float32) if gradient else None
        for k in range(n):
            w = 2 * np.pi * self.freqs[k]
            d = self.dirs[k] * w
            arg = np.float32(d[0]) * x + np.float32(d[1]) * y + np.float32(d[2]) * z
            arg += np.float32(self.phases[k])
            val += amp * np.cos(arg)
            if grad is not None:
                s = -amp * np.sin(arg)
                grad[0] += np.float32(d[0]) * s
                grad[1] += np.float32(d[1]) * s
                grad[2] += np.float32(d[2]) * s
        return val, grad


# ----------------------------------------------------------------------------- anatomy


@dataclass
class _Anatomy:
    frac: dict[str, F32]  # tissue fractions (sum to 1 with vessel channels)
    channels: dict[str, F32]  # vessel channel fractions
    hu: dict[str, float]
    hx: F32  # head coordinates (mm)
    hy: F32
    hz: F32
    tx: F32  # template coordinates
    ty: F32
    tz: F32
    depth: F32  # depth below the cerebral surface, mm
    info: dict[str, Any]


def _draw_anatomy_params(rng: np.random.Generator) -> dict[str, Any]:
    p: dict[str, Any] = {
        "yaw_deg": _u(rng, -4, 4),
        "pitch_deg": _u(rng, -5, 5),
        "roll_deg": _u(rng, -3, 3),
        "shift_mm": [_u(rng, -4, 4), _u(rng, -5, 5), _u(rng, -3, 3)],
        "brain_scale": _u(rng, 0.94, 1.04),
        "ventricle_scale": _u(rng, 0.8, 1.5),
        "csf_layer_mm": _u(rng, 1.8, 3.2),
        "inner_table_mm": _u(rng, 1.5, 2.5),
        "diploe_mm": _u(rng, 2.0, 4.0),
        "outer_table_mm": _u(rng, 1.5, 2.5),
        "scalp_mm": _u(rng, 4.0, 7.0),
        "cortex_mm": _u(rng, 2.4, 3.2),
        "sulcus_halfwidth_mm": _u(rng, 0.8, 1.4),
    }
    p["hu"] = {
        "gm": _u(rng, 36, 42),
        "wm": 0.0,
        "deep": 0.0,
        "cerebellum": _u(rng, 34, 38),
        "brainstem": _u(rng, 29, 33),
        "csf": _u(rng, 3, 8),
        "blood": _u(rng, 40, 46),
        "clot": _u(rng, 52, 62),
        "table": _u(rng, 1300, 1800),
        "diploe": _u(rng, 450, 750),
        "skull_base": _u(rng, 1700, 2100),
        "scalp": _u(rng, 10, 40),
        "air": -1000.0,
    }
    p["hu"]["wm"] = p["hu"]["gm"] - _u(rng, 8, 12)
    p["hu"]["deep"] = p["hu"]["gm"] - _u(rng, 2, 5)
    gm = _u(rng, 50, 66)
    p["cbf"] = {
        "gm": gm,
        "wm": gm / _u(rng, 2.2, 2.8),
        "deep": gm * _u(rng, 0.8, 0.95),
        "cerebellum": gm * _u(rng, 0.8, 0.95),
        "brainstem": 0.0,
    }
    p["cbf"]["brainstem"] = p["cbf"]["wm"] * _u(rng, 1.2, 1.5)
    p["cbv"] = {
        "gm": _u(rng, 3.8, 4.8),
        "wm": _u(rng, 1.7, 2.3),
        "deep": _u(rng, 3.5, 4.3),
        "cerebellum": _u(rng, 3.8, 4.6),
        "brainstem": _u(rng, 2.2, 2.8),
    }
    p["delay"] = {
        "anterior_s": _u(rng, 0.3, 0.9),
        "posterior_extra_s": _u(rng, 0.2, 0.6),
        "white_extra_s": _u(rng, 0.3, 0.8),
    }
    p["dispersion_s"] = _u(rng, 0.4, 0.8)
    return p


_DEEP = {  # template ellipsoids (centre, axes), mirrored with the x sign
    "caudate": ((13.0, -10.0, 32.0), (6.0, 10.0, 10.0)),
    "lentiform": ((23.0, 0.0, 20.0), (7.0, 15.0, 10.0)),
    "thalamus": ((10.0, 18.0, 24.0), (9.0, 13.0, 9.0)),
}


def _ventricles(vs: float) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    k = 0.8 + 0.2 * vs
    out: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = []
    for s in (-1.0, 1.0):
        out += [
            ((s * 7.0 * k, -18.0, 34.0), (4.5 * vs, 14.0, 9.0 * vs)),
            ((s * 9.0 * k, 8.0, 45.0), (5.5 * vs, 24.0, 6.5 * vs)),
            ((s * 20.0 * k, 34.0, 36.0), (5.5 * vs, 14.0, 8.0 * vs)),
            ((s * 31.0, 6.0, 6.0), (2.5 * vs, 12.0, 2.5 * vs)),
        ]
    out.append(((0.0, 8.0, 22.0), (1.5 * vs, 14.0, 9.0)))
    out.append(((0.0, 44.0, -8.0), (6.0, 5.0, 8.0)))
    return out


def _min_sd(items: list[tuple[F32, F32, F32, F32]]) -> tuple[F32, F32, F32, F32]:
    sd, nx, ny, nz = (a.copy() for a in items[0])
    for s2, x2, y2, z2 in items[1:]:
        m = s2 < sd
        sd = np.where(m, s2, sd)
        nx = np.where(m, x2, nx)
        ny = np.where(m, y2, ny)
        nz = np.where(m, z2, nz)
    return sd, nx, ny, nz


def _build_anatomy(grid: _Grid, p: dict[str, Any], rng: np.random.Generator) -> _Anatomy:
    hx, hy, hz = grid.head_coords()
    tx, ty, tz = grid.to_template(hx, hy, hz)
    pt = (tx, ty, tz)
    sc = np.float32(grid.scale)

    # fields drawn before any shape-dependent work (identical draws for every grid)
    sulci = _Field.draw(rng, 64, 15.0, 22.0)
    sulcus_depth = _Field.draw(rng, 12, 40.0, 80.0)

    # cerebrum with a frontal taper
    taper = 1.0 - 0.12 * np.clip(-ty / 78.0, 0.0, 1.0) ** 2
    sd_cer, ncx, ncy, ncz = _ellipsoid((tx / taper, ty, tz), (0, 0, 25), (62, 78, 80))
    sd_cbl, nbx, nby, nbz = _ellipsoid(pt, (0, 58, -18), (52, 30, 32))
    sd_bs, nsx, nsy, nsz = _ellipsoid(pt, (0, 22, 0), (13, 14, 30))
    sd_brain, nx, ny, nz = _min_sd([(sd_cer, ncx, ncy, ncz), (sd_cbl, nbx, nby, nbz)])
    sd_brain = sd_brain * sc
    w_brain = _width(grid, nx, ny, nz)

    csf = float(p["csf_layer_mm"])
    edges = np.cumsum(
        [0.0, p["inner_table_mm"], p["diploe_mm"], p["outer_table_mm"], p["scalp_mm"]]
    )
    sd_ic = sd_brain - np.float32(csf)
    f_le = [np.clip(0.5 + (np.float32(e) - sd_ic) / w_brain, 0.0, 1.0) for e in edges]
    brain = _ramp(sd_brain, w_brain)
    frac: dict[str, F32] = {}
    frac["air"] = (1.0 - f_le[4]).astype(np.float32)
    frac["scalp"] = (f_le[4] - f_le[3]).astype(np.float32)
    frac["table"] = (f_le[3] - f_le[2] + f_le[1] - f_le[0]).astype(np.float32)
    frac["diploe"] = (f_le[2] - f_le[1]).astype(np.float32)
    intracranial = f_le[0]
    csf_outer = np.clip(intracranial - brain, 0.0, 1.0)

    # skull-base bone (in the intracranial space of the lowest slices)
    sb: list[F32] = []
    for s in (-1.0, 1.0):
        u = np.array([-0.8 * s, -0.6, 0.0])
        v = np.array([0.6, -0.8 * s, 0.0]) * (1 if s > 0 else -1)
        rot = np.stack([u / np.linalg.norm(u), v / np.linalg.norm(v), [0.0, 0.0, 1.0]])
        sd_p, px_, py_, pz_ = _ellipsoid(pt, (32 * s, 28, -5), (26, 8, 9.5), rot)
        sb.append(_ramp(sd_p * sc, _width(grid, px_, py_, pz_)))
        sd_c, cx_, cy_, cz_ = _ellipsoid(pt, (12 * s, -6, -1), (3, 7, 3.5))
        sb.append(_ramp(sd_c * sc, _width(grid, cx_, cy_, cz_)))
    sd_d, dx_, dy_, dz_ = _ellipsoid(pt, (0, 13, -3), (7, 3, 7))
    sb.append(_ramp(sd_d * sc, _width(grid, dx_, dy_, dz_)))
    i_sb = np.maximum.reduce(sb)
    frac["skull_base"] = (i_sb * intracranial).astype(np.float32)
    keep = 1.0 - i_sb
    csf_outer = csf_outer * keep
    in_brain = brain * keep

    # depth below the cerebral surface, sulci, fissures
    depth = np.maximum(-sd_cer * sc, 0.0).astype(np.float32)
    near = sd_brain < 4.0
    phi, gphi = sulci.eval(hx[near], hy[near], hz[near], gradient=True)
    assert gphi is not None
    gn = np.maximum(np.sqrt((gphi**2).sum(axis=0)), 1e-6)
    dist_sheet = np.full(grid.shape, 1e3, np.float32)
    dist_sheet[near] = np.abs(phi) / gn
    n_s = np.zeros((3, *grid.shape), np.float32)
    n_s[:, near] = gphi / gn
    w_sheet = _width(grid, n_s[0], n_s[1], n_s[2])
    dval, _ = sulcus_depth.eval(hx[near], hy[near], hz[near])
    sdepth = np.zeros(grid.shape, np.float32)
    sdepth[near] = 12.0 + 6.0 * np.clip(dval, -1.0, 1.0)
    hw = float(p["sulcus_halfwidth_mm"])
    beyond = np.maximum(depth - sdepth, 0.0)
    dist_sulcus = np.sqrt(beyond**2 + dist_sheet**2)
    i_sulc = _ramp(dist_sulcus - hw, w_sheet)

    # interhemispheric fissure outside the callosal bridge; Sylvian fissure/insular cistern
    bridge = (ty - 5.0) ** 2 / 40.0**2 + (tz - 20.0) ** 2 / 32.0**2 < 1.0
    dist_ih = np.where(bridge, 1e3, np.abs(tx) * sc).astype(np.float32)
    w_x = float(grid.spacing[2])
    i_ih = _ramp(dist_ih - 1.2, w_x)
    x_ins = 36.0 + 0.05 * ty
    box_ins = _sigmoid((ty + 22) / 2) * _sigmoid((18 - ty) / 2)
    box_ins = box_ins * _sigmoid((tz - 2) / 2) * _sigmoid((38 - tz) / 2)
    d_ins = (np.abs(np.abs(tx) - x_ins) * sc + (1.0 - box_ins) * 1e3).astype(np.float32)
    i_ins = _ramp(d_ins - 1.5, w_x)
    z_syl = 12.0 + 0.22 * ty
    box_syl = _sigmoid((np.abs(tx) - x_ins) / 1.5) * _sigmoid((ty + 30) / 2)
    box_syl = box_syl * _sigmoid((40 - ty) / 2)
    d_syl = (np.abs(tz - z_syl) * sc * 0.976 + (1.0 - box_syl) * 1e3).astype(np.float32)
    w_syl = _width(grid, np.zeros(1), np.full(1, -0.215), np.full(1, 0.976))
    i_syl = _ramp(d_syl - 1.5, w_syl)

    # ventricles and cisterns
    vent = []
    for c, a in _ventricles(float(p["ventricle_scale"])):
        s_v, vx, vy, vz = _ellipsoid(pt, c, a)
        vent.append(_ramp(s_v * sc, _width(grid, vx, vy, vz)))
    i_vent = np.maximum.reduce(vent)
    s_ss, sx_, sy_, sz_ = _ellipsoid(pt, (0, 2, 3), (16, 14, 7))
    cist = [_ramp(s_ss * sc, _width(grid, sx_, sy_, sz_))]
    shell = np.abs(sd_bs * sc - 1.2) - 1.2
    cist.append(_ramp(shell, _width(grid, nsx, nsy, nsz)) * _sigmoid((28.0 - tz) / 2.0))
    s_q, qx_, qy_, qz_ = _ellipsoid(pt, (0, 36, 18), (10, 6, 6))
    cist.append(_ramp(s_q * sc, _width(grid, qx_, qy_, qz_)))
    i_cist = np.maximum.reduce(cist)

    i_cbl = _ramp(sd_cbl * sc, _width(grid, nbx, nby, nbz))
    cerebrum_part = 1.0 - i_cbl
    i_fiss = np.maximum.reduce([i_ih, i_ins, i_syl]) * cerebrum_part
    i_sulc = i_sulc * cerebrum_part
    csf_in = 1.0 - (1.0 - i_vent) * (1.0 - i_cist) * (1.0 - i_sulc) * (1.0 - i_fiss)
    par = in_brain * (1.0 - csf_in)

    i_bs = _ramp(sd_bs * sc, _width(grid, nsx, nsy, nsz)) * cerebrum_part
    cere = np.clip(1.0 - i_cbl - i_bs, 0.0, 1.0)
    deep = []
    for c, a in _DEEP.values():
        for s in (-1.0, 1.0):
            s_d, ex, ey, ez = _ellipsoid(pt, (s * c[0], c[1], c[2]), a)
            deep.append(_ramp(s_d * sc, _width(grid, ex, ey, ez)))
    i_deep = np.maximum.reduce(deep) * cere

    # cortical ribbon: within cortex_mm of the outer surface, a sulcus or a fissure
    d_csf = np.minimum.reduce(
        [depth, np.maximum(dist_sulcus - hw, 0.0), np.maximum(dist_ih - 1.2, 0.0),
         np.maximum(d_ins - 1.5, 0.0), np.maximum(d_syl - 1.5, 0.0)]
    )
    w_gm = np.where(depth <= d_csf + 0.01, w_brain, w_sheet)
    i_gm = _ramp(d_csf - np.float32(p["cortex_mm"]), w_gm) * np.clip(cere - i_deep, 0.0, 1.0)

    frac["csf"] = (csf_outer + in_brain * csf_in).astype(np.float32)
    frac["cerebellum"] = (par * i_cbl).astype(np.float32)
    frac["brainstem"] = (par * i_bs).astype(np.float32)
    frac["deep"] = (par * i_deep).astype(np.float32)
    frac["gm"] = (par * i_gm).astype(np.float32)
    frac["wm"] = np.clip(
        par - frac["cerebellum"] - frac["brainstem"] - frac["deep"] - frac["gm"], 0.0, 1.0
    ).astype(np.float32)

    return _Anatomy(
        frac=frac,
        channels={},
        hu=dict(p["hu"]),
        hx=hx,
        hy=hy,
        hz=hz,
        tx=tx,
        ty=ty,
        tz=tz,
        depth=depth,
        info={},
    )


# ----------------------------------------------------------------------------- vessels

# channel names: each is one time curve
_CHANNELS = ("ica", "near", "far", "collateral", "clot", "vein", "vein_deep")


def _polyline(pts: Sequence[Sequence[float]] | Arr, step: float = 2.0) -> F64:
    a = np.asarray(pts, dtype=np.float64)
    seg = np.linalg.norm(np.diff(a, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(math.ceil(s[-1] / step)), 1) + 1
    ss = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(ss, s, a[:, k]) for k in range(3)], axis=1)


@dataclass
class _Vessel:
    name: str
    pts: F64  # template (x, y, z), dense polyline
    r0: float
    r1: float
    classify: Callable[[F64], NDArray[np.int64]]  # arc length (mm, template) -> channel id


def _const(ch: str) -> Callable[[F64], NDArray[np.int64]]:
    i = _CHANNELS.index(ch)

    def f(arc: F64) -> NDArray[np.int64]:
        return np.full(arc.shape, i, np.int64)

    return f


def _split(before: str, clot_from: float, clot_to: float, after: str) -> Callable[
    [F64], NDArray[np.int64]
]:
    ib, ic, ia = _CHANNELS.index(before), _CHANNELS.index("clot"), _CHANNELS.index(after)

    def f(arc: F64) -> NDArray[np.int64]:
        out = np.full(arc.shape, ib, np.int64)
        out[arc >= clot_from] = ic
        out[arc >= clot_to] = ia
        return out

    return f


def _arc_length(pts: F64) -> F64:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])


def _vessel_tree(side: str, occlusion: str, clot_u: float, clot_len: float) -> list[_Vessel]:
    """Template vessels; ``side``/``occlusion`` choose which segments are clot/collateral."""
    out: list[_Vessel] = []
    for s, name in ((1.0, "left"), (-1.0, "right")):
        hit = name == side
        ica = _polyline([(12.0 * s, -7, -16), (12.5 * s, -6, -6), (13.5 * s, -4, 3),
                         (15 * s, -1, 9)])
        m1 = _polyline([(15 * s, -1, 9), (25 * s, -2, 11), (35 * s, -3, 13), (42 * s, -2, 15)])
        m2s = _polyline([(42 * s, -2, 15), (40 * s, -10, 24), (38 * s, -14, 35),
                         (42 * s, -8, 48), (48 * s, 0, 58)])
        m2i = _polyline([(42 * s, -2, 15), (41 * s, 10, 18), (41 * s, 22, 24), (46 * s, 34, 30)])
        a1 = _polyline([(15 * s, -1, 9), (8 * s, -8, 11), (1.6 * s, -14, 12)])
        a2 = _polyline([(1.6 * s, -14, 12), (1.6 * s, -28, 22), (1.6 * s, -32, 36),
                        (1.6 * s, -22, 50), (1.6 * s, -2, 58), (1.6 * s, 20, 58),
                        (1.6 * s, 35, 50)])
        pca = _polyline([(0.8 * s, 14, 2), (8 * s, 16, 4), (16 * s, 24, 8), (22 * s, 38, 10),
                         (24 * s, 55, 12), (20 * s, 70, 14)])
        l_ica, l_m1 = _arc_length(ica)[-1], _arc_length(m1)[-1]
        l_m2s, l_m2i = _arc_length(m2s)[-1], _arc_length(m2i)[-1]
        cls: dict[str, Callable[[F64], NDArray[np.int64]]] = {
            "ica": _const("ica"),
            "m1": _const("near"),
            "m2s": _const("far"),
            "m2i": _const("far"),
            "a1": _const("near"),
        }
        if hit and occlusion == "ICA-T":
            cls["ica"] = _split("ica", l_ica - 4.0, 1e9, "clot")
            cls["m1"] = _split("near", 0.0, clot_len, "collateral")
            cls["a1"] = _split("near", 0.0, 4.0, "far")
            cls["m2s"] = _const("collateral")
            cls["m2i"] = _const("collateral")
        elif hit and occlusion.startswith("M1"):
            c0 = clot_u * l_m1
            cls["m1"] = _split("near", c0, c0 + clot_len, "collateral")
            cls["m2s"] = _const("collateral")
            cls["m2i"] = _const("collateral")
        elif hit and occlusion in ("M2-superior", "M2-inferior"):
            key = "m2s" if occlusion == "M2-superior" else "m2i"
            c0 = clot_u * (l_m2s if key == "m2s" else l_m2i)
            cls[key] = _split("far", c0, c0 + clot_len, "collateral")
        out += [
            _Vessel(f"ica_{name}", ica, 2.2, 2.2, cls["ica"]),
            _Vessel(f"m1_{name}", m1, 1.5, 1.4, cls["m1"]),
            _Vessel(f"m2s_{name}", m2s, 1.0, 0.9, cls["m2s"]),
            _Vessel(f"m2i_{name}", m2i, 1.0, 0.9, cls["m2i"]),
            _Vessel(f"a1_{name}", a1, 1.1, 1.1, cls["a1"]),
            _Vessel(f"a2_{name}", a2, 1.0, 0.9, _const("far")),
            _Vessel(f"pca_{name}", pca, 1.1, 1.0, _const("far")),
        ]
        # transverse sinus along the posterior fossa
        th = np.radians(np.linspace(0.0, 100.0, 11))
        tr = np.stack([s * 45.5 * np.sin(th), 58 + 27.5 * np.cos(th), np.full(th.shape, 0.5)], 1)
        out.append(_Vessel(f"transverse_{name}", _polyline(tr), 3.5, 3.0, _const("vein")))
    out.append(_Vessel("basilar", _polyline([(0, 18, -25), (0, 16, -10), (0, 14, 2)]), 1.6, 1.6,
                       _const("near")))
    psi = np.linspace(0.0, np.pi + math.asin(23.0 / 83.0), 60)
    sss = np.stack([np.zeros_like(psi), -77.0 * np.cos(psi), 25.0 + 79.0 * np.sin(psi)], 1)
    sss = np.concatenate([sss, [[0.0, 85.0, 1.0]]])
    out.append(_Vessel("sss", _polyline(sss), 1.5, 4.0, _const("vein")))
    out.append(_Vessel("straight", _polyline([(0, 32, 32), (0, 50, 22), (0, 66, 10), (0, 82, 2)]),
                       2.5, 2.8, _const("vein_deep")))
    return out


def _rasterise_vessels(grid: _Grid, vessels: list[_Vessel]) -> dict[str, F32]:
    """Fractions of every channel by supersampling around each tube."""
    nz, ny, nx = grid.shape
    dz, dy, dx = grid.spacing
    nsub = (
        int(np.clip(math.ceil(dz / 1.0), 1, 6)),
        int(np.clip(math.ceil(dy / 0.75), 1, 4)),
        int(np.clip(math.ceil(dx / 0.75), 1, 4)),
    )
    offs = np.stack(
        np.meshgrid(
            *[((np.arange(n) + 0.5) / n - 0.5) * d
              for n, d in zip(nsub, (dz, dy, dx), strict=True)],
            indexing="ij",
        ),
        axis=-1,
    ).reshape(-1, 3)  # (S, 3) z, y, x
    acc = np.zeros((len(_CHANNELS), nz * ny * nx), np.float32)
    half_diag = 0.5 * math.sqrt(dz * dz + dy * dy + dx * dx)
    for v in vessels:
        g = grid.template_to_grid(v.pts)  # (N, 3) x, y, z grid mm
        arc = _arc_length(v.pts)
        a, b = g[:-1], g[1:]
        ab = b - a
        l2 = np.maximum((ab**2).sum(axis=1), 1e-9)
        rmax = max(v.r0, v.r1) * grid.scale + half_diag
        lo = g.min(axis=0) - rmax
        hi = g.max(axis=0) + rmax
        ix = np.nonzero((grid.x >= lo[0]) & (grid.x <= hi[0]))[0]
        iy = np.nonzero((grid.y >= lo[1]) & (grid.y <= hi[1]))[0]
        iz = np.nonzero((grid.z >= lo[2]) & (grid.z <= hi[2]))[0]
        if len(ix) == 0 or len(iy) == 0 or len(iz) == 0:
            continue
        cz, cy, cx = np.meshgrid(iz, iy, ix, indexing="ij")
        cen = np.stack([grid.x[cx.ravel()], grid.y[cy.ravel()], grid.z[cz.ravel()]], axis=1)
        d0, _, k0 = _seg_distance(cen, a, ab, l2)
        sel = d0 < rmax
        if not sel.any():
            continue
        flat = (cz.ravel() * ny + cy.ravel()) * nx + cx.ravel()
        flat = flat[sel]
        cen = cen[sel]
        pts = cen[:, None, :] + offs[None, :, ::-1]  # (M, S, 3) x, y, z
        window = int(math.ceil((half_diag + 1.0) / 2.0)) + 1  # pieces are <= 2 mm long
        kp = np.repeat(k0[sel], len(offs))
        d, arcp = _seg_distance_local(pts.reshape(-1, 3), kp, a, ab, l2, arc, window)
        frac_arc = np.clip(arcp / max(arc[-1], 1e-9), 0.0, 1.0)
        radius = (v.r0 + (v.r1 - v.r0) * frac_arc**2) * grid.scale
        inside = d < radius
        ch = v.classify(arcp)
        vox = np.repeat(flat, len(offs))
        w = inside.astype(np.float32) / len(offs)
        idx = ch * acc.shape[1] + vox
        acc.ravel()[:] += np.bincount(idx, weights=w, minlength=acc.size).astype(np.float32)
    total = acc.sum(axis=0)
    over = total > 1.0
    acc[:, over] /= total[over]
    return {c: acc[i].reshape(grid.shape) for i, c in enumerate(_CHANNELS)}


def _seg_distance(
    p: F64, a: F64, ab: F64, l2: F64, arc: F64 | None = None
) -> tuple[F64, F64, NDArray[np.int64]]:
    """Distance of points (N, 3) to a polyline (pieces a + t ab); arc position; piece."""
    best = np.full(len(p), np.inf)
    best_t = np.zeros(len(p))
    best_k = np.zeros(len(p), np.int64)
    for k in range(len(a)):
        t = np.clip(((p - a[k]) @ ab[k]) / l2[k], 0.0, 1.0)
        q = p - (a[k] + t[:, None] * ab[k])
        d = np.einsum("ij,ij->i", q, q)
        m = d < best
        best = np.where(m, d, best)
        best_t = np.where(m, t, best_t)
        best_k = np.where(m, k, best_k)
    arcp = np.zeros(len(p)) if arc is None else arc[best_k] + best_t * np.diff(arc)[best_k]
    return np.sqrt(best), arcp, best_k


def _seg_distance_local(
    p: F64, k0: NDArray[np.int64], a: F64, ab: F64, l2: F64, arc: F64, window: int
) -> tuple[F64, F64]:
    """As _seg_distance, testing only pieces k0 - window .. k0 + window for each point."""
    offs = np.arange(-window, window + 1)
    kk = np.clip(k0[:, None] + offs[None, :], 0, len(a) - 1)  # (N, W)
    ak, abk = a[kk], ab[kk]  # (N, W, 3)
    t = np.clip(np.einsum("nwj,nwj->nw", p[:, None, :] - ak, abk) / l2[kk], 0.0, 1.0)
    q = p[:, None, :] - (ak + t[..., None] * abk)
    d = np.einsum("nwj,nwj->nw", q, q)
    j = np.argmin(d, axis=1)
    rows = np.arange(len(p))
    kb = kk[rows, j]
    return np.sqrt(d[rows, j]), arc[kb] + t[rows, j] * np.diff(arc)[kb]


# ----------------------------------------------------------------------------- territories


def _vessel_total(an: _Anatomy) -> F32:
    total = np.zeros(an.tx.shape, np.float32)
    for f in an.channels.values():
        total += f
    return total


def _territories(an: _Anatomy) -> dict[str, F32]:
    tx, ty, tz = an.tx, an.ty, an.tz
    ax = np.abs(tx)
    occ = _sigmoid((ty - (38.0 - 0.25 * (tz - 30.0))) / 4.0)
    low_temporal = _sigmoid((ty - 12.0) / 4.0) * _sigmoid((12.0 - tz) / 3.0)
    thal = []
    for s in (-1.0, 1.0):
        c, a = _DEEP["thalamus"]
        sd, *_ = _ellipsoid((tx, ty, tz), (s * c[0], c[1], c[2]), a)
        thal.append(_sigmoid(-sd / 2.0))
    pca = np.maximum.reduce([occ, low_temporal, *thal])
    x_aca = 12.0 + 0.4 * np.maximum(tz - 15.0, 0.0)
    aca = _sigmoid((x_aca - ax) / 3.0) * _sigmoid((40.0 - ty) / 4.0) * (1.0 - pca)
    brain = an.frac["gm"] + an.frac["wm"] + an.frac["deep"]
    supra = brain / np.maximum(brain + an.frac["cerebellum"] + an.frac["brainstem"], 1e-6)
    mca = np.clip(1.0 - aca - pca, 0.0, 1.0) * supra
    deep = []
    for s in (-1.0, 1.0):
        sd, *_ = _ellipsoid((tx, ty, tz), (20.0 * s, -4.0, 24.0), (13.0, 20.0, 15.0))
        deep.append(_sigmoid(-sd / 2.0))
    m_deep = np.maximum.reduce(deep) * mca
    sup = _sigmoid((tz - (28.0 + 0.5 * ty)) / 5.0)
    return {
        "left": _sigmoid(tx / 1.0),
        "aca": (aca * supra).astype(np.float32),
        "pca": (pca * supra).astype(np.float32),
        "mca": mca.astype(np.float32),
        "mca_deep": m_deep.astype(np.float32),
        "mca_sup": ((mca - m_deep) * sup).astype(np.float32),
        "mca_inf": ((mca - m_deep) * (1.0 - sup)).astype(np.float32),
    }


# ----------------------------------------------------------------------------- haemodynamics


def _gamma_variate(t: F64, t0: float, alpha: float, beta: float) -> F64:
    tau = np.maximum(t - t0, 0.0)
    x = tau / (alpha * beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(tau > 0, np.exp(alpha * np.log(np.maximum(x, 1e-300)) + alpha - tau / beta), 0)
    return np.asarray(g, dtype=np.float64)


def _draw_haemo(rng: np.random.Generator) -> dict[str, Any]:
    h: dict[str, Any] = {
        "peak_hu": _u(rng, 250, 600),
        "arrival_s": _u(rng, 3.0, 8.0),
        "alpha": _u(rng, 2.5, 4.0),
        "beta_s": _u(rng, 1.0, 1.6),
        "recirculation_fraction": _u(rng, 0.08, 0.18),
        "recirculation_delay_s": _u(rng, 9.0, 14.0),
        "recirculation_broadening": _u(rng, 1.6, 2.2),
        "equilibrium_fraction": _u(rng, 0.05, 0.10),
        "equilibrium_rise_s": _u(rng, 8.0, 15.0),
        "equilibrium_washout_s": _u(rng, 300.0, 600.0),
    }
    v = {
        "mean_transit_s": _u(rng, 5.0, 8.0),
        "shape": _u(rng, 3.0, 6.0),
        "deep_extra_s": 1.5,
    }
    art = {
        "near_delay_s": 0.25,
        "far_delay_s": 0.5,
        "far_dispersion_s": 0.3,
        "collateral_delay_s": _u(rng, 3.0, 8.0),
        "collateral_dispersion_s": _u(rng, 1.5, 4.0),
        "scalp_cbf": _u(rng, 3.0, 6.0),
        "scalp_mtt_s": _u(rng, 12.0, 20.0),
    }
    return {"aif": h, "vof": v, "arteries": art}


def _aif(t: F64, h: dict[str, Any]) -> F64:
    p, t0 = float(h["peak_hu"]), float(h["arrival_s"])
    a, b = float(h["alpha"]), float(h["beta_s"])
    c = p * _gamma_variate(t, t0, a, b)
    t1 = t0 + float(h["recirculation_delay_s"])
    b2 = b * float(h["recirculation_broadening"])
    c += p * float(h["recirculation_fraction"]) * _gamma_variate(t, t1, a, b2)
    t_on = t1
    x = np.maximum(t - t_on, 0.0)
    rise = (1.0 - np.exp(-x / float(h["equilibrium_rise_s"]))) ** 2
    wash = np.exp(-x / float(h["equilibrium_washout_s"]))
    c += p * float(h["equilibrium_fraction"]) * rise * wash
    return np.asarray(c)


def _conv(sig: F64, kernel: F64) -> F64:
    """Linear convolution truncated to len(sig) (kernel: probabilities per bin)."""
    n = len(sig)
    nf = sfft.next_fast_len(2 * n)
    out = sfft.irfft(sfft.rfft(sig, nf) * sfft.rfft(kernel[:n], nf), nf)[:n]
    return np.asarray(out)


def _exp_kernel(beta: float, n: int) -> F64:
    e = np.exp(-np.arange(n + 1) * DT / max(beta, 1e-6))
    return np.asarray(e[:-1] - e[1:])


def _gamma_kernel(mean: float, shape: float, n: int) -> F64:
    edges = np.arange(n + 1) * DT
    cdf = special.gammainc(shape, edges / (mean / shape))
    k = np.diff(cdf)
    return np.asarray(k / k.sum())


def _shift(sig: F64, delay: float) -> F64:
    t = np.arange(len(sig)) * DT
    return np.asarray(np.interp(t - delay, t, sig, left=0.0))


def _sample(sig: F64, times: F64, delay: float | F64 = 0.0) -> F64:
    t = np.arange(len(sig)) * DT
    return np.asarray(np.interp(times - delay, t, sig, left=0.0))


# ----------------------------------------------------------------------------- residues


def _residue_s(family: str, mtt: F64, h: float, t: F64) -> F64:
    """S(t) = E[(T - t)+] = int_t^inf R, for arrays mtt (M, 1) and t (1, L+1)."""
    if family == "exponential":
        return np.asarray(mtt * np.exp(-t / mtt))
    if family == "gamma":
        k = 1.0 / (h * h)
        x = t / (mtt / k)
        return np.asarray(mtt * special.gammaincc(k + 1.0, x) - t * special.gammaincc(k, x))
    a = mtt * (1.0 - math.sqrt(3.0) * h)
    b = mtt * (1.0 + math.sqrt(3.0) * h)
    mid = (b - t) ** 2 / (2.0 * np.maximum(b - a, 1e-9))
    return np.asarray(np.where(t <= a, mtt - t, np.where(t < b, mid, 0.0)))


def _relative_cth(family: str, rp: dict[str, Any]) -> list[float]:
    if family == "exponential":
        return [1.0]
    if family == "gamma":
        h0 = 1.0 / math.sqrt(float(rp["gamma_shape"]))
        return [float(np.clip(m * h0, 0.15, 1.4)) for m in CTH_MULTIPLIERS]
    h0 = float(rp["box_relative_cth"])
    return [float(np.clip(m * h0, 0.02, 0.5)) for m in CTH_MULTIPLIERS]


def _tables(family: str, rel_cth: list[float], c_in: F64) -> F32:
    """Q[iM, ih, ib, k] = (C_a (x) e_beta (x) R_{M,h})(k dt), HU*s."""
    n = len(c_in)
    nf = sfft.next_fast_len(2 * n)
    edges = np.asarray(np.arange(n + 1) * DT, dtype=np.float64)[None, :]
    a_f = sfft.rfft(c_in, nf)
    r_f = []
    for h in rel_cth:
        s = _residue_s(family, MTT_GRID[:, None], h, edges)
        r = (s[:, :-1] - s[:, 1:]) / DT
        r_f.append(sfft.rfft(r, nf, axis=-1))
    rf = np.stack(r_f, axis=1)  # (M, H, nf)
    out = np.empty((len(MTT_GRID), len(rel_cth), len(BETA_LEVELS), n), np.float32)
    for ib, beta in enumerate(BETA_LEVELS):
        ef = sfft.rfft(_exp_kernel(beta, n), nf)
        q = sfft.irfft(rf * (a_f * ef)[None, None, :] * DT, nf, axis=-1, workers=2)
        out[:, :, ib, :] = q[..., :n]
    return out


# ----------------------------------------------------------------------------- physiology


@dataclass
class _Model:
    grid: _Grid
    anatomy: _Anatomy
    par_frac: F32
    parenchyma: NDArray[np.bool_]
    cbf: F32  # voxel values (tissue), 0 where no parenchyma
    cbv: F32
    delay: F32
    beta: F32
    cth_level: NDArray[np.int64]
    ktrans: F32
    core_drop: F32
    normal_cbf: float
    truth: dict[str, Any]
    haemo: dict[str, Any]
    residue_params: dict[str, Any]


def _mix(frac: dict[str, F32], values: dict[str, float], par: F32) -> F32:
    acc = np.zeros(par.shape, np.float32)
    for k in ("gm", "wm", "deep", "cerebellum", "brainstem"):
        acc += frac[k] * np.float32(values[k])
    return (acc / np.maximum(par, 1e-6)).astype(np.float32)


def _draw_lesion(rng: np.random.Generator) -> dict[str, Any]:
    side = "left" if rng.random() < 0.5 else "right"
    u = rng.random()
    occ = "ICA-T" if u < 0.2 else ("M1-proximal" if u < 0.45 else ("M1-distal" if u < 0.62 else (
        "M2-superior" if u < 0.82 else "M2-inferior")))
    c = rng.random()
    if c < 0.3:
        f_core = _u(rng, 0.0, 0.02)
    elif c < 0.6:
        f_core = _u(rng, 0.05, 0.3)
    else:
        f_core = _u(rng, 0.3, 0.8)
    f_t6 = f_core + (1.0 - f_core) * _u(rng, 0.45, 0.92)
    return {
        "side": side,
        "occlusion": occ,
        "aca_involved": bool(rng.random() < 0.5) and occ == "ICA-T",
        "collateral_grade": _u(rng, 0.0, 1.0),
        "collateral_reach_mm": _u(rng, 8.0, 20.0),
        "core_fraction_target": f_core,
        "tmax6_fraction_target": f_t6,
        "delay_max_s": _u(rng, 8.0, 16.0),
        "dispersion_max_s": _u(rng, 2.0, 4.5),
        "clot_position": _u(rng, 0.15, 0.6),
        "clot_length_mm": _u(rng, 5.0, 12.0),
        "ktrans_max": _u(rng, 0.5, 2.0),
        "leak_fraction_of_core": _u(rng, 0.2, 0.6),
        "core_hu_drop": _u(rng, 1.0, 3.0),
        "field": _Field.draw(rng, 24, 25.0, 60.0),
        "core_cbf_floor": _u(rng, 0.15, 0.3),
    }


def _build_model(
    seed: int,
    lesion: bool,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> _Model:
    rng_a = _rng(seed, _ANATOMY)
    ap = _draw_anatomy_params(rng_a)
    grid = _Grid.make(
        shape,
        spacing,
        _rotation(ap["yaw_deg"], ap["pitch_deg"], ap["roll_deg"]),
        np.asarray(ap["shift_mm"], dtype=np.float64),
        float(ap["brain_scale"]),
    )
    an = _build_anatomy(grid, ap, rng_a)
    tex1 = _Field.draw(rng_a, 12, 30.0, 80.0)
    tex2 = _Field.draw(rng_a, 12, 15.0, 40.0)
    lp = _draw_lesion(_rng(seed, _LESION))
    side = lp["side"] if lesion else "none"
    occlusion = lp["occlusion"] if lesion else "none"
    vessels = _vessel_tree(side, occlusion, lp["clot_position"], lp["clot_length_mm"])
    an.channels = _rasterise_vessels(grid, vessels)
    f_vess = np.clip(_vessel_total(an), 0.0, 1.0).astype(np.float32)
    for k in an.frac:
        an.frac[k] = (an.frac[k] * (1.0 - f_vess)).astype(np.float32)

    fr = an.frac
    par = (fr["gm"] + fr["wm"] + fr["deep"] + fr["cerebellum"] + fr["brainstem"]).astype(
        np.float32
    )
    parenchyma = par >= PV_THRESHOLD
    perf = par > 1e-3

    # base physiology
    cbf = np.zeros(shape, np.float32)
    cbv = np.zeros(shape, np.float32)
    cbf[perf] = _mix(fr, ap["cbf"], par)[perf]
    cbv[perf] = _mix(fr, ap["cbv"], par)[perf]
    t1, _ = tex1.eval(an.hx[perf], an.hy[perf], an.hz[perf])
    t2, _ = tex2.eval(an.hx[perf], an.hy[perf], an.hz[perf])
    cbf[perf] *= 1.0 + 0.08 * np.clip(t1, -2.0, 2.0)
    cbv[perf] *= 1.0 + 0.05 * np.clip(t1, -2.0, 2.0) + 0.03 * np.clip(t2, -2.0, 2.0)
    terr = _territories(an)
    dl = ap["delay"]
    post = np.clip(terr["pca"] + fr["cerebellum"] / np.maximum(par, 1e-6)
                   + fr["brainstem"] / np.maximum(par, 1e-6), 0.0, 1.0)
    white = fr["wm"] / np.maximum(par, 1e-6)
    delay = (dl["anterior_s"] + dl["posterior_extra_s"] * post
             + dl["white_extra_s"] * white).astype(np.float32)
    delay_t = np.zeros(shape, np.float32)
    delay_t[perf] = delay[perf] + 0.15 * np.clip(t2, -2.0, 2.0)
    delay_t = np.maximum(delay_t, 0.0)
    beta = np.full(shape, ap["dispersion_s"], np.float32)
    cth_level = np.full(shape, CTH_MULTIPLIERS.index(1.0), np.int64)
    ktrans = np.zeros(shape, np.float32)
    core_drop = np.zeros(shape, np.float32)

    supra = parenchyma & ((fr["gm"] + fr["wm"] + fr["deep"]) >= 0.5 * par)
    left = an.tx > 0
    if side == "left":
        ref = supra & ~left
    elif side == "right":
        ref = supra & left
    else:
        ref = supra
    normal_cbf = float(cbf[ref].mean()) if ref.any() else float(ap["cbf"]["gm"] * 0.6)
    thr = CORE_RCBF * normal_cbf
    cbf[perf] = np.maximum(cbf[perf], 1.15 * thr)

    ltruth: dict[str, Any] = {"occlusion": occlusion}
    if lesion:
        sgn = 1.0 if side == "left" else -1.0
        hemi = _sigmoid(sgn * an.tx / 1.0)
        occ = occlusion
        if occ in ("M2-superior", "M2-inferior"):
            terr_a = terr["mca_sup"] if occ == "M2-superior" else terr["mca_inf"]
        elif occ == "M1-distal":
            terr_a = terr["mca_sup"] + terr["mca_inf"]
        else:
            terr_a = terr["mca"]
            if lp["aca_involved"]:
                terr_a = terr_a + 0.6 * terr["aca"]
        a_map = np.clip(terr_a * hemi, 0.0, 1.0)
        neighbour = np.clip((terr["aca"] + terr["pca"] + terr["mca"]) * hemi - a_map, 0.0, 1.0)
        neighbour = neighbour * (par > 0.2)
        sig = [float(lp["collateral_reach_mm"]) / s for s in spacing]
        colprox = ndimage.gaussian_filter(neighbour.astype(np.float32), sig, mode="constant")
        colprox = colprox / max(float(colprox.max()), 1e-6)
        xi = np.zeros(shape, np.float32)
        xi[perf], _ = lp["field"].eval(an.hx[perf], an.hy[perf], an.hz[perf])
        depth_term = np.clip(an.depth / 25.0, 0.0, 1.0)
        deep_bonus = terr["mca_deep"] * (0.0 if occ in ("M1-distal", "M2-superior",
                                                        "M2-inferior") else 0.3)
        w_col = 0.4 + 1.2 * float(lp["collateral_grade"])
        s_raw = 0.6 + 0.35 * depth_term + deep_bonus - w_col * colprox + 0.18 * xi
        sev = (a_map * np.clip(s_raw, 0.02, None)).astype(np.float32)
        sev[~perf] = 0.0
        terr_set = parenchyma & (a_map >= 0.5)
        vals = sev[terr_set]
        f_t6 = float(lp["tmax6_fraction_target"])
        # core target: a fraction of the territory, at most 150 mL
        n_max = 150.0 / (float(np.prod(spacing)) / 1000.0)
        f_core = min(float(lp["core_fraction_target"]), n_max / max(vals.size, 1))
        s_max = float(np.quantile(vals, 0.995)) if vals.size else 1.0
        q_t6 = float(np.quantile(vals, 1.0 - f_t6)) if vals.size else s_max
        q_core = float(np.quantile(vals, 1.0 - f_core)) if vals.size and f_core > 0 else np.inf
        q_core = max(q_core, q_t6 + 1e-6)
        d0 = delay_t
        uo = np.clip(sev / max(q_t6, 1e-6), 0.0, 1.0)
        q_end = q_core if np.isfinite(q_core) else s_max + 1e-6
        up = np.clip((sev - q_t6) / max(q_end - q_t6, 1e-6), 0.0, 1.0)
        ut = np.clip((sev - q_t6) / max(s_max - q_t6, 1e-6), 0.0, 1.0)
        v = np.clip((sev - q_core) / max(s_max - q_core, 1e-6), 0.0, 1.0)
        in_t6 = sev > q_t6
        in_core = sev >= q_core
        dmax = float(lp["delay_max_s"])
        d_olig = d0 + np.maximum(TMAX_THRESHOLD_S - 0.05 - d0, 0.0) * uo**1.3
        d_pen = TMAX_THRESHOLD_S + 0.05 + (dmax - TMAX_THRESHOLD_S - 0.05) * ut**0.8
        new_delay = np.where(in_t6, d_pen, d_olig)
        new_delay = np.maximum(new_delay, d0)
        b0 = float(ap["dispersion_s"])
        bmax = float(lp["dispersion_max_s"])
        frac_d = np.clip((new_delay - d0) / max(dmax - float(np.min(d0[perf])), 1e-6), 0.0, 1.0)
        beta_new = b0 + (bmax - b0) * frac_d
        base_cbf, base_cbv = cbf.copy(), cbv.copy()
        c_olig = np.maximum(base_cbf * (1.0 - 0.2 * uo), 1.1 * thr)
        c_pen = 1.05 * thr + np.maximum(0.8 * base_cbf - 1.05 * thr, 0.0) * (1.0 - up) ** 1.2
        floor = float(lp["core_cbf_floor"])
        c_core = thr * (0.95 - (0.95 - floor) * v**0.8)
        new_cbf = np.where(in_core, c_core, np.where(in_t6, c_pen, c_olig))
        v_olig = base_cbv * (1.0 + 0.15 * uo)
        v_pen = base_cbv * (1.15 + 0.2 * np.sin(np.pi * np.clip(up * 0.8, 0, 1)) - 0.1 * up)
        v_core = base_cbv * (0.7 - 0.45 * v)
        new_cbv = np.where(in_core, v_core, np.where(in_t6, v_pen, v_olig))
        m_cont = np.where(in_core, 1.2 + 0.25 * v, np.where(in_t6, 0.85 - 0.15 * up,
                                                             1.0 - 0.15 * uo))
        lv = np.argmin(np.abs(m_cont[..., None] - np.asarray(CTH_MULTIPLIERS)), axis=-1)
        aff = perf & (sev > 0.0) & (a_map > 0.02)
        cbf = np.where(aff, new_cbf, cbf).astype(np.float32)
        cbv = np.where(aff, new_cbv, cbv).astype(np.float32)
        delay_t = np.where(aff, new_delay, delay_t).astype(np.float32)
        beta = np.where(aff, beta_new, beta).astype(np.float32)
        cth_level = np.where(aff, lv, cth_level)
        core_vox = aff & in_core
        core_drop = np.where(core_vox, np.float32(lp["core_hu_drop"]), 0.0).astype(np.float32)
        if np.isfinite(q_core):
            leak = core_vox & parenchyma & (v >= 1.0 - float(lp["leak_fraction_of_core"]))
            kmax = float(lp["ktrans_max"])
            kt = kmax * (0.4 + 0.6 * np.clip(v, 0.0, 1.0))
            ktrans = np.where(leak, np.clip(kt, 0.2, 2.0), 0.0).astype(np.float32)
        ltruth = {
            "occlusion": occlusion,
            "aca_involved": bool(lp["aca_involved"]),
            "collateral_grade": float(lp["collateral_grade"]),
            "collateral_reach_mm": float(lp["collateral_reach_mm"]),
            "core_fraction_target": f_core,
            "tmax6_fraction_target": f_t6,
            "territory_ml": float(terr_set.sum() * np.prod(spacing) / 1000.0),
            "delay_max_s": dmax,
            "dispersion_max_s": bmax,
            "clot_position": float(lp["clot_position"]),
            "clot_length_mm": float(lp["clot_length_mm"]),
            "core_cbf_floor_of_threshold": floor,
            "core_hu_drop": float(lp["core_hu_drop"]),
            "ktrans_max": float(lp["ktrans_max"]),
            "leak_fraction_of_core": float(lp["leak_fraction_of_core"]),
            "leak_ml": float((ktrans > 0).sum() * np.prod(spacing) / 1000.0),
        }
    # keep MTT inside the table
    mtt = np.where(perf, 60.0 * cbv / np.maximum(cbf, 1e-6), 4.0)
    mtt_c = np.clip(mtt, 1.0, 30.0)
    cbv = np.where(perf, mtt_c * cbf / 60.0, 0.0).astype(np.float32)
    # dispersion as rendered: the nearest tabulated level (log scale)
    levels = np.asarray(BETA_LEVELS)
    ib = np.argmin(np.abs(np.log(np.maximum(beta, 1e-3))[..., None] - np.log(levels)), axis=-1)
    beta = levels[ib].astype(np.float32)

    truth: dict[str, Any] = {
        "side": side,
        "lesion_model": ltruth,
        "anatomy": {k: v for k, v in ap.items()},
        "normal_cbf": normal_cbf,
    }
    rp_rng = _rng(seed, _RESIDUE)
    residue_params = {
        "gamma_shape": _u(rp_rng, 2.0, 5.0),
        "box_relative_cth": _u(rp_rng, 0.06, 0.14),
    }
    return _Model(
        grid=grid,
        anatomy=an,
        par_frac=par,
        parenchyma=parenchyma,
        cbf=cbf,
        cbv=cbv,
        delay=delay_t,
        beta=beta,
        cth_level=cth_level.astype(np.int64),
        ktrans=ktrans,
        core_drop=core_drop,
        normal_cbf=normal_cbf,
        truth=truth,
        haemo=_draw_haemo(_rng(seed, _HAEMO)),
        residue_params=residue_params,
    )


# ----------------------------------------------------------------------------- scanner


def _reduce(vol: F32, spacing: tuple[float, float, float]) -> tuple[F32, float, int]:
    """Average in-plane k x k blocks (pixels >= about 2.5 mm; projection maps are smooth)."""
    px = 0.5 * (spacing[1] + spacing[2])
    k = max(1, int(round(2.5 / px)))
    nz, ny, nx = vol.shape
    ny2, nx2 = -(-ny // k), -(-nx // k)
    v = np.pad(vol, ((0, 0), (0, ny2 * k - ny), (0, nx2 * k - nx)), mode="edge")
    v = v.reshape(nz, ny2, k, nx2, k).mean(axis=(2, 4))
    return v.astype(np.float32), px * k, k


def _expand(small: F32, k: int, shape: tuple[int, int, int]) -> F32:
    """Inverse of _reduce (linear interpolation between block centres)."""
    if k == 1:
        return small.astype(np.float32)
    ny2, nx2 = small.shape[1], small.shape[2]
    yy = (np.arange(shape[1]) + 0.5) / k - 0.5
    xx = (np.arange(shape[2]) + 0.5) / k - 0.5
    out = np.empty(shape, np.float32)
    gy, gx = np.meshgrid(np.clip(yy, 0, ny2 - 1), np.clip(xx, 0, nx2 - 1), indexing="ij")
    for z in range(shape[0]):
        out[z] = ndimage.map_coordinates(small[z], [gy, gx], order=1, mode="nearest")
    return out


def _line_integrals(vol: F32, px: float, n_angles: int, fn: Callable[[F32], F32]) -> tuple[
    F32, F32
]:
    """Mean and max over view angles of fn(in-plane line integral through each voxel)."""
    mean = np.zeros(vol.shape, np.float32)
    vmax = np.zeros(vol.shape, np.float32)
    for k in range(n_angles):
        ang = 180.0 * k / n_angles
        r = ndimage.rotate(vol, ang, axes=(1, 2), reshape=False, order=1, mode="constant")
        s = fn((r.sum(axis=2, keepdims=True) * px).astype(np.float32))
        b = ndimage.rotate(np.broadcast_to(s, vol.shape), -ang, axes=(1, 2), reshape=False,
                           order=1, mode="nearest")
        mean += b
        np.maximum(vmax, b, out=vmax)
    return (mean / n_angles).astype(np.float32), vmax.astype(np.float32)


def _identity(a: F32) -> F32:
    return a


def _exp(a: F32) -> F32:
    return np.exp(a).astype(np.float32)


def _beam_hardening(static: F32, spacing: tuple[float, float, float]) -> tuple[F32, F32]:
    """Mean and largest bone path (mm of 1000 HU bone) through each voxel, full grid."""
    bone = np.clip((static - 100.0) / 1000.0, 0.0, None).astype(np.float32)
    small, px, k = _reduce(bone, spacing)
    b_mean, b_max = _line_integrals(small, px, 36, _identity)
    b_max = ndimage.gaussian_filter(b_max, (0, 1.0, 1.0))
    shape = (static.shape[0], static.shape[1], static.shape[2])
    return _expand(b_mean, k, shape), _expand(b_max, k, shape)


def _noise_sigma_map(static: F32, spacing: tuple[float, float, float], norm_mask: Arr) -> F32:
    mu = np.clip(MU_WATER * (1.0 + static / 1000.0), 0.0, None).astype(np.float32)
    small, px, k = _reduce(mu, spacing)
    var, _ = _line_integrals(small, px, 18, _exp)
    g = _expand(var, k, (static.shape[0], static.shape[1], static.shape[2])) ** 0.4
    ref = float(np.sqrt(np.mean(g[norm_mask] ** 2))) if norm_mask.any() else float(g.mean())
    return (g / ref).astype(np.float32)


def _nps_filter(shape2: tuple[int, int], spacing2: tuple[float, float], f0: float,
                fc: float) -> F32:
    fy = sfft.fftfreq(shape2[0], d=spacing2[0])
    fx = sfft.rfftfreq(shape2[1], d=spacing2[1])
    fxf = sfft.fftfreq(shape2[1], d=spacing2[1])
    f_full = np.sqrt(fy[:, None] ** 2 + fxf[None, :] ** 2)
    nps_full = (f_full + f0) * np.exp(-((f_full / fc) ** 2))
    norm = math.sqrt(float(nps_full.mean()))
    f = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    out = np.sqrt((f + f0) * np.exp(-((f / fc) ** 2))) / norm
    return np.asarray(out, dtype=np.float32)


def _motion_matrix(rot_deg: Sequence[float], trans_mm: Sequence[float], grid: _Grid) -> tuple[
    F64, F64
]:
    """Index-space (z, y, x) affine for ndimage.affine_transform: output -> input."""
    r = _rotation(rot_deg[0], rot_deg[1], rot_deg[2])  # acts on (x, y, z)
    perm = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=np.float64)  # xyz <-> zyx
    rz = perm @ r @ perm
    sp = np.asarray(grid.spacing, dtype=np.float64)
    centre_mm = np.array([grid.z.mean(), 0.0, 0.0])
    t_zyx = np.array([trans_mm[2], trans_mm[1], trans_mm[0]])
    # moved(p) = R (p - c) + c + t ; output q samples input at R^T (q - c - t) + c
    a_mm = rz.T
    off_mm = centre_mm - rz.T @ (centre_mm + t_zyx)
    # index i -> mm: p = origin + i * sp with origin = (z0, y0, x0)
    origin = np.array([grid.z[0], grid.y[0], grid.x[0]])
    mat = (a_mm * sp[None, :]) / sp[:, None]
    off = (a_mm @ origin + off_mm - origin) / sp
    return mat, off


# ----------------------------------------------------------------------------- public API


def _validate(
    residue: str,
    noise_hu: float,
    seed: int,
    interval_s: float,
    n_frames: int,
    lesion: bool,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    if residue not in RESIDUES:
        raise ValueError(f"residue must be one of {RESIDUES}, got {residue!r}")
    if isinstance(noise_hu, bool) or not isinstance(noise_hu, (int, float)):
        raise ValueError("noise_hu must be a number")
    if not math.isfinite(float(noise_hu)) or not 0.0 <= float(noise_hu) <= 200.0:
        raise ValueError("noise_hu must be finite and in [0, 200]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)):
        raise ValueError("interval_s must be a number")
    if not math.isfinite(float(interval_s)) or not 0.2 <= float(interval_s) <= 10.0:
        raise ValueError("interval_s must be in [0.2, 10] s")
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)):
        raise ValueError("n_frames must be an integer")
    if not 8 <= int(n_frames) <= 600:
        raise ValueError("n_frames must be in [8, 600]")
    if (int(n_frames) - 1) * float(interval_s) > 900.0:
        raise ValueError("acquisition longer than 900 s")
    if not isinstance(lesion, (bool, np.bool_)):
        raise ValueError("lesion must be a bool")
    try:
        shp = tuple(int(v) for v in shape)
        spc = tuple(float(v) for v in spacing)
    except (TypeError, ValueError) as exc:
        raise ValueError("shape and spacing must be 3 numbers each") from exc
    if len(shp) != 3 or len(spc) != 3:
        raise ValueError("shape and spacing must have 3 entries (z, y, x)")
    if any(isinstance(v, bool) for v in (*shape, *spacing)):
        raise ValueError("shape and spacing must be numbers")
    if any(int(v) != v for v in shape):
        raise ValueError("shape must be integers")
    if not (1 <= shp[0] <= 256 and 16 <= shp[1] <= 1024 and 16 <= shp[2] <= 1024):
        raise ValueError("shape must be (1-256, 16-1024, 16-1024)")
    if not all(math.isfinite(v) and 0.2 <= v <= 20.0 for v in spc):
        raise ValueError("spacing must be in [0.2, 20] mm")
    if int(n_frames) * shp[0] * shp[1] * shp[2] > 400_000_000:
        raise ValueError("case too large (frames x voxels > 4e8)")
    return (shp[0], shp[1], shp[2]), (spc[0], spc[1], spc[2])


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, _Field):
        return None
    return v


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
    nuisances: Nuisances = Nuisances(),
) -> CtpCase:
    """Render one case of the capillary family (see the module docstring)."""
    shp, spc = _validate(residue, noise_hu, seed, interval_s, n_frames, lesion, shape, spacing)
    seed, n_frames = int(seed), int(n_frames)
    interval_s, noise_hu = float(interval_s), float(noise_hu)
    model = _build_model(seed, bool(lesion), shp, spc)
    frames, truth = _render(model, residue, noise_hu, seed, interval_s, n_frames, nuisances)
    times = np.arange(n_frames, dtype=np.float64) * interval_s

    par = model.parenchyma
    nan = np.float32(np.nan)
    mtt = np.where(par, 60.0 * model.cbv / np.maximum(model.cbf, 1e-6), nan)
    rel = _relative_cth(residue, model.residue_params)
    if residue == "exponential":
        cth = mtt
    else:
        rel_arr = np.asarray(rel, np.float32)
        cth = np.where(par, rel_arr[model.cth_level] * mtt, nan)
    maps: dict[str, NDArray[Any]] = {
        "cbf": np.where(par, model.cbf, nan).astype(np.float32),
        "cbv": np.where(par, model.cbv, nan).astype(np.float32),
        "tmax": np.where(par, model.delay, nan).astype(np.float32),
    }
    thr = CORE_RCBF * model.normal_cbf
    maps["core"] = par & (maps["cbf"] < thr)
    maps["tmax6"] = par & (maps["tmax"] > TMAX_THRESHOLD_S)
    maps["mtt"] = mtt.astype(np.float32)
    maps["cth"] = np.asarray(cth, dtype=np.float32)
    maps["ktrans"] = np.where(par, model.ktrans, nan).astype(np.float32)
    maps["dispersion"] = np.where(par, model.beta, nan).astype(np.float32)
    maps["parenchyma_fraction"] = model.par_frac.astype(np.float32)

    voxel_ml = float(np.prod(spc)) / 1000.0
    core_ml = float(maps["core"].sum()) * voxel_ml
    t6_ml = float(maps["tmax6"].sum()) * voxel_ml
    truth.update(
        {
            "family": FAMILY,
            "residue": residue,
            "noise_hu": noise_hu,
            "seed": seed,
            "interval_s": interval_s,
            "n_frames": n_frames,
            "shape": list(shp),
            "spacing": list(spc),
            "lesion": bool(lesion),
            "side": model.truth["side"],
            "core_ml": core_ml,
            "tmax6_ml": t6_ml,
            "penumbra_ml": float((maps["tmax6"] & ~maps["core"]).sum()) * voxel_ml,
            "normal_cbf": model.normal_cbf,
            "normal_cbf_region": "mean pre-lesion CBF of supratentorial parenchyma (cortex, "
            "white matter, deep grey; fraction >= 0.5) contralateral to the lesion (both "
            "hemispheres without a lesion)",
            "core_threshold_cbf": thr,
            "voxel_ml": voxel_ml,
            "parenchyma_rule": "brain-tissue fraction (grey + white + deep grey + cerebellum + "
            "brainstem) >= 0.5",
            "core_rule": "parenchyma & cbf < 0.3 * normal_cbf",
            "tmax6_rule": "parenchyma & tmax > 6 s (tmax = delay of the tissue's input "
            "relative to the ICA input, dispersion not included)",
            "units": {
                "cbf": "mL/100 g/min", "cbv": "mL/100 g", "tmax": "s", "mtt": "s",
                "cth": "s", "ktrans": "mL/100 g/min", "frames": "HU", "times": "s",
            },
            "constants": {
                "rho_g_per_ml": RHO, "k_h": K_H, "hct_large": HCT_LARGE,
                "tissue_scale": RHO / K_H, "time_step_s": DT,
                "tissue_model": "C_t = (rho/k_h) cbf/6000 (C_a * e_beta * R)(t - tmax) "
                "+ rho ktrans/6000/(1-hct) int_0^(t-tmax) C_a",
            },
            "lesion_model": model.truth["lesion_model"],
            "anatomy": _jsonable(model.truth["anatomy"]),
        }
    )
    return CtpCase(
        frames=frames,
        times=times,
        spacing=spc,
        truth=_jsonable(truth),
        maps=maps,
    )


def _render(
    model: _Model,
    residue: str,
    noise_hu: float,
    seed: int,
    interval_s: float,
    n_frames: int,
    options: Nuisances,
) -> tuple[F32, dict[str, Any]]:
    grid, an = model.grid, model.anatomy
    shape = grid.shape
    nvox = int(np.prod(shape))
    times = np.arange(n_frames, dtype=np.float64) * interval_s
    t_last = float(times[-1])
    n_fine = int(math.ceil((t_last + 2.0) / DT)) + 2
    tf = np.asarray(np.arange(n_fine) * DT, dtype=np.float64)
    hp = model.haemo
    c_a = _aif(tf, hp["aif"])

    # ---------------- static image
    hu = an.hu
    fr = an.frac
    static = np.zeros(shape, np.float32)
    for k in ("air", "scalp", "table", "diploe", "skull_base", "csf", "gm", "wm", "deep",
              "cerebellum", "brainstem"):
        static += fr[k] * np.float32(hu[k])
    for ch, f in an.channels.items():
        static += f * np.float32(hu["clot"] if ch == "clot" else hu["blood"])
    static -= model.core_drop * model.par_frac

    sc = _rng(seed, _SCANNER)
    scanner: dict[str, Any] = {
        "bh_mean_hu_per_mm": _u(sc, 0.08, 0.2),
        "bh_streak_hu_per_mm": _u(sc, 0.03, 0.1),
        "drift_hu_per_min": _u(sc, -1.5, 1.5),
        "motion_frames": int(sc.integers(1, 5)),
        "motion_start_fraction": _u(sc, 0.3, 0.85),
        "motion_translation_mm": [_u(sc, -1.0, 1.0) for _ in range(3)],
        "motion_rotation_deg": [_u(sc, -1.0, 1.0) for _ in range(3)],
    }
    head = 1.0 - fr["air"]
    intracranial = fr["csf"] + fr["gm"] + fr["wm"] + fr["deep"] + fr["cerebellum"] + fr[
        "brainstem"] + _vessel_total(an)
    bh = np.zeros(shape, np.float32)
    if options.beam_hardening:
        b_mean, b_max = _beam_hardening(static, grid.spacing)
        brain_mask = model.parenchyma
        ref = float(np.median(b_mean[brain_mask])) if brain_mask.any() else 0.0
        bh = -(scanner["bh_mean_hu_per_mm"] * (b_mean - ref)
               + scanner["bh_streak_hu_per_mm"] * (b_max - b_mean))
        bh = np.clip(bh, -12.0, 6.0) * np.clip(intracranial, 0.0, 1.0)
        bh = bh.astype(np.float32)

    # ---------------- dynamic content (noise-free, first-frame position)
    frames = np.empty((n_frames, *shape), np.float32)
    frames[:] = (static + bh)[None]
    ff = frames.reshape(n_frames, nvox)

    # vessels
    art = hp["arteries"]
    vp = hp["vof"]
    curves_f = {
        "ica": c_a,
        "near": _shift(c_a, art["near_delay_s"]),
        "far": _shift(_conv(c_a, _exp_kernel(art["far_dispersion_s"], n_fine)),
                      art["far_delay_s"]),
        "collateral": _shift(_conv(c_a, _exp_kernel(art["collateral_dispersion_s"], n_fine)),
                             art["collateral_delay_s"]),
        "clot": np.zeros(n_fine),
        "vein": _conv(c_a, _gamma_kernel(vp["mean_transit_s"], vp["shape"], n_fine)),
        "vein_deep": _conv(c_a, _gamma_kernel(vp["mean_transit_s"] + vp["deep_extra_s"],
                                              vp["shape"], n_fine)),
    }
    curves = {k: _sample(v, times) for k, v in curves_f.items()}
    for ch, f in an.channels.items():
        idx = np.flatnonzero(f > 0)
        if idx.size:
            ff[:, idx] += (f.ravel()[idx][None, :] * curves[ch][:, None]).astype(np.float32)

    # scalp (slow, low-flow enhancement)
    scalp_r = np.exp(-(np.arange(n_fine) + 0.5) * DT / art["scalp_mtt_s"])
    scalp_c = _conv(c_a, scalp_r) * DT * (RHO / K_H) * art["scalp_cbf"] / 6000.0
    idx = np.flatnonzero(fr["scalp"] > 0.01)
    ff[:, idx] += (fr["scalp"].ravel()[idx][None, :]
                   * _sample(scalp_c, times)[:, None]).astype(np.float32)

    # tissue: convolution tables over MTT x relative CTH x dispersion
    rel = _relative_cth(residue, model.residue_params)
    tab = _tables(residue, rel, c_a)
    n_h = len(rel)
    perf_idx = np.flatnonzero(model.par_frac.ravel() > 1e-3)
    cbf = model.cbf.ravel()[perf_idx].astype(np.float64)
    cbv = model.cbv.ravel()[perf_idx].astype(np.float64)
    mtt = np.clip(60.0 * cbv / np.maximum(cbf, 1e-6), MTT_GRID[0], MTT_GRID[-1] * 0.999)
    im = np.clip(np.searchsorted(MTT_GRID, mtt, side="right") - 1, 0, len(MTT_GRID) - 2)
    wm = (mtt - MTT_GRID[im]) / (MTT_GRID[im + 1] - MTT_GRID[im])
    ih = model.cth_level.ravel()[perf_idx] if n_h > 1 else np.zeros(perf_idx.size, np.int64)
    bvox = model.beta.ravel()[perf_idx]
    ib = np.argmin(np.abs(np.log(bvox[:, None]) - np.log(np.asarray(BETA_LEVELS))[None, :]),
                   axis=1)
    n_b = len(BETA_LEVELS)
    row_a = ((im * n_h + ih) * n_b + ib) * n_fine
    row_b = (((im + 1) * n_h + ih) * n_b + ib) * n_fine
    tflat = tab.ravel()
    dly = model.delay.ravel()[perf_idx].astype(np.float64)
    amp = (model.par_frac.ravel()[perf_idx] * (RHO / K_H) * cbf / 6000.0)
    kt = model.ktrans.ravel()[perf_idx]
    leak_sel = np.flatnonzero(kt > 0) if options.leak else np.zeros(0, np.int64)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (c_a[1:] + c_a[:-1])) * DT])
    leak_amp = (model.par_frac.ravel()[perf_idx][leak_sel] * RHO * kt[leak_sel].astype(
        np.float64) / 6000.0 / (1.0 - HCT_LARGE))
    for j, tj in enumerate(times):
        u = (tj - dly) / DT
        i0 = np.clip(np.floor(u).astype(np.int64), 0, n_fine - 2)
        w = np.clip(u - i0, 0.0, 1.0)
        w = np.where(u < 0, 0.0, w)
        va = tflat[row_a + i0] * (1.0 - w) + tflat[row_a + i0 + 1] * w
        vb = tflat[row_b + i0] * (1.0 - w) + tflat[row_b + i0 + 1] * w
        val = (1.0 - wm) * va + wm * vb
        val = np.where(u < 0, 0.0, val)
        ff[j, perf_idx] += (amp * val).astype(np.float32)
        if leak_sel.size:
            lv = np.interp(tj - dly[leak_sel], tf, cum, left=0.0)
            ff[j, perf_idx[leak_sel]] += (leak_amp * lv).astype(np.float32)

    # drift
    if options.drift:
        drift = scanner["drift_hu_per_min"] * times / 60.0
        frames += (drift[:, None, None, None] * head[None]).astype(np.float32)

    # motion (first frame never moves)
    motion_truth: dict[str, Any] = {"frames": [], "translation_mm": [], "rotation_deg": []}
    if options.motion and n_frames >= 4:
        nm = min(int(scanner["motion_frames"]), n_frames - 2)
        start = int(round(scanner["motion_start_fraction"] * (n_frames - nm - 1)))
        start = int(np.clip(start, 1, n_frames - nm))
        tvec = np.asarray(scanner["motion_translation_mm"])
        tvec = tvec / max(np.linalg.norm(tvec), 1e-9) * 2.0 * float(np.clip(
            np.abs(tvec).max(), 0.3, 1.0))
        tvec[2] *= 0.5
        rvec = np.asarray(scanner["motion_rotation_deg"])
        rvec = rvec / max(float(np.linalg.norm(rvec)), 1.0) * 2.0
        for m in range(nm):
            j = start + m
            prof = math.sin(math.pi * (m + 1) / (nm + 1))
            tr = tvec * prof
            rt = rvec * prof
            mat, off = _motion_matrix(list(rt), list(tr), grid)
            frames[j] = ndimage.affine_transform(frames[j], mat, offset=off, order=1,
                                                 mode="constant", cval=float(hu["air"]))
            motion_truth["frames"].append(j)
            motion_truth["translation_mm"].append([float(v) for v in tr])
            motion_truth["rotation_deg"].append([float(v) for v in rt])

    # noise
    nz_rng = _rng(seed, _NOISE)
    f0 = _u(nz_rng, 0.03, 0.06)
    fc = _u(nz_rng, 0.08, 0.13)
    norm_mask = model.parenchyma & (
        (fr["gm"] + fr["wm"] + fr["deep"]) >= 0.5 * np.maximum(model.par_frac, 1e-6))
    sigma = _noise_sigma_map(static, grid.spacing, norm_mask)
    filt = _nps_filter((shape[1], shape[2]), (grid.spacing[1], grid.spacing[2]), f0, fc)
    noise_seed = int(nz_rng.integers(0, 2**63 - 1))
    if noise_hu > 0:
        gen = np.random.default_rng(noise_seed)
        for j in range(n_frames):
            white = gen.standard_normal((shape[0], shape[1], shape[2]), dtype=np.float32)
            nf = sfft.irfft2(sfft.rfft2(white) * filt, s=(shape[1], shape[2]))
            frames[j] += (np.float32(noise_hu) * sigma * nf).astype(np.float32)

    # ---------------- truth about the inputs
    sgn_contra = {"left": -1.0, "right": 1.0, "none": -1.0}[model.truth["side"]]
    ica = an.channels["ica"] * (np.sign(an.tx) == sgn_contra)
    if not ica.any():
        ica = an.channels["ica"]
    aif_vox = np.unravel_index(int(np.argmax(ica)), shape)
    sss = an.channels["vein"] * (np.abs(an.hx) < 8.0)  # SSS / torcula, not the transverse
    if not sss.any():
        sss = an.channels["vein"]
    vof_vox = np.unravel_index(int(np.argmax(sss)), shape)
    truth: dict[str, Any] = {
        "aif": {
            **hp["aif"],
            "model": "gamma-variate first pass + gamma-variate recirculation + equilibrium",
            "peak_hu_fine": float(c_a.max()),
            "curve_hu": [float(v) for v in curves["ica"]],
            "area_hu_s_window": float(np.trapezoid(curves["ica"], times)),
        },
        "vof": {
            **hp["vof"],
            "model": "C_a convolved with a unit-area gamma transit-time density",
            "curve_hu": [float(v) for v in curves["vein"]],
            "area_hu_s_window": float(np.trapezoid(curves["vein"], times)),
        },
        "arteries": dict(art),
        "aif_voxel": [int(v) for v in aif_vox],
        "aif_fraction": float(an.channels["ica"][aif_vox]),
        "vof_voxel": [int(v) for v in vof_vox],
        "vof_fraction": float(an.channels["vein"][vof_vox]),
        "residue_model": {
            "family": residue,
            "gamma_shape": float(model.residue_params["gamma_shape"]),
            "box_relative_cth": float(model.residue_params["box_relative_cth"]),
            "relative_cth_levels": rel,
            "cth_multipliers": list(CTH_MULTIPLIERS),
            "dispersion_levels_s": list(BETA_LEVELS),
            "mtt_grid_s": [float(MTT_GRID[0]), float(MTT_GRID[-1]), len(MTT_GRID)],
        },
        "noise": {
            "model": "per-frame Gaussian, NPS (f + f0) exp(-(f/fc)^2), attenuation-dependent "
            "level, pooled sd over supratentorial parenchyma = noise_hu",
            "f0_per_mm": f0,
            "fc_per_mm": fc,
            "sigma_map_range": [float(sigma[norm_mask].min()), float(sigma[norm_mask].max())]
            if norm_mask.any() else [1.0, 1.0],
        },
        "motion": motion_truth,
        "drift_hu_per_min": scanner["drift_hu_per_min"] if options.drift else 0.0,
        "beam_hardening": {
            "mean_hu_per_mm": scanner["bh_mean_hu_per_mm"],
            "streak_hu_per_mm": scanner["bh_streak_hu_per_mm"],
            "range_hu": [float(bh.min()), float(bh.max())],
        },
    }
    return frames, truth
