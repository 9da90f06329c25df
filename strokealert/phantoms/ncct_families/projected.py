"""NCCT family "projected": an atlas of axial levels lofted into a head, imaged in the projection
domain (issue 19, the third independent family, held out from the tuning of the NCCT rules).

Anatomy: every structure is a closed star-shaped outline (radii at fixed polar angles around a
centre) given at a few key axial levels, from the foramen magnum to the vertex, and lofted between
them (centres and radii interpolated linearly in z); small structures are lofted ellipsoids and
vessels/sinuses are tubes around polylines. Sizes follow adult morphometry (inner skull width
~134 mm, skull 4-8 mm, Evans index ~0.22-0.32 with age, third ventricle 2-7 mm). The cortex is a
ribbon under the brain surface folded by sulci: the zero set of a random wave field evaluated on
the radial projection of each point onto a sphere, so clefts run perpendicular to the surface.
Per seed: head size, age (atrophy), asymmetry, a smooth cubic B-spline deformation (mirror-odd in
x so the midline stays a plane), mass effect of bleeds (incompressible inflation of a sphere),
head pose and position.

Physics: each slice is the average of 1 mm sub-slices sampled through the posed head (partial
volume), forward projected in parallel beam (a sparse distance-driven projector) as attenuation
and bone line integrals; beam hardening is a polynomial on them (a water term the scanner's
correction only partly undoes -> cupping; an uncorrected bone term -> dark streaks between dense
bones), photon counts are Poisson at a dose set for the drawn brain noise (with photon starvation
behind metal), then the log data are filtered (Ram-Lak / Shepp-Logan / cosine / Hann window and
cut-off) and back-projected on a grid of at most 256 pixels, resampled to the requested matrix.
Noise texture and streaks come out of the reconstruction.

Coordinates: head frame in mm, x to the patient's left, y posterior, z up from the foramen magnum;
arrays (z, y, x); the scanner frame is the head frame rotated by the pose about a point in the
brain and shifted by the offset. Label maps (tissue, ASPECTS regions, blood) are sampled at the
slice centres on the output matrix.

Not modelled: fan-beam/helical geometry, scatter, focal-spot and detector blur (other than the
reconstruction filter), the non-linear partial-volume effect within a detector row, motion,
electronic noise; blood is always acute (48-92 HU); no fractures, herniation geometry or
hydrocephalus (mass effect is a radial push).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "projected"

TISSUES = ("air", "scalp", "fat", "soft_tissue", "bone", "marrow", "sinus_air", "eye", "csf",
           "ventricle", "grey", "white", "nucleus", "thalamus", "brainstem", "cerebellum", "dura",
           "venous_sinus", "vessel", "choroid_plexus", "pineal", "calcification", "blood",
           "oedema", "metal")
"""Tissue classes of the tissue map (index into this tuple)."""

Arr = npt.NDArray[Any]
_T = {name: i for i, name in enumerate(TISSUES)}
_PARENCHYMA = (_T["grey"], _T["white"], _T["nucleus"], _T["thalamus"])
_NA = 72  # polar angles of every outline
_ANG = np.arange(_NA) * (2.0 * np.pi / _NA)
_MIRROR = (_NA // 2 - np.arange(_NA)) % _NA
_MU_WATER = 0.0195  # linear attenuation of water at the effective energy, 1/mm
_HEAD_GRID_MM = 0.92  # finest head-grid spacing
_MAX_RECON = 256  # reconstruction grid limit (pixels)
_FILTERS = ("ramlak", "shepplogan", "cosine", "hann")
_CENTRE = np.array([0.0, 5.0, 58.0])  # brain centre in the standard atlas, mm


# ---------------------------------------------------------------------------------------------
# Shapes: lofted outlines and tubes, evaluated as a signed depth (mm, > 0 inside)


class _Shape(Protocol):
    def depth(self, x: Arr, y: Arr, z: Arr) -> Arr: ...

    def box(self) -> tuple[float, float, float, float, float, float]: ...


_DZ = 0.25  # z step of the lofted radius tables, mm
_NT = 360  # angle bins of the lofted radius tables


@dataclass(frozen=True)
class _Loft:
    """Star-shaped outlines at key levels ``z`` (mm, increasing): centres ``c`` (k, 2) and radii
    ``r`` (k, _NA) at the angles :data:`_ANG`, interpolated linearly between levels."""

    z: Arr
    c: Arr
    r: Arr

    def box(self) -> tuple[float, float, float, float, float, float]:
        rmax = self.r.max(axis=1)
        return (float((self.c[:, 0] - rmax).min()), float((self.c[:, 0] + rmax).max()),
                float((self.c[:, 1] - rmax).min()), float((self.c[:, 1] + rmax).max()),
                float(self.z[0]), float(self.z[-1]))

    def _tables(self) -> tuple[Arr, Arr, Arr, Arr]:
        """Centres (n, 2), radii and the normal factor 1/sqrt(1 + (dr/dz)^2) (n, _NT; at least
        0.3, so that far from a steep surface the depth is not squashed) lofted to every
        :data:`_DZ` of height and :data:`_NT` angles."""
        cached = self.__dict__.get("_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        zf = np.arange(self.z[0], self.z[-1] + _DZ, _DZ)
        t = np.interp(zf, self.z, np.arange(len(self.z), dtype=np.float64))
        i0 = np.minimum(t.astype(np.int64), len(self.z) - 2)
        w = (t - i0)[:, None]
        c = self.c[i0] * (1 - w) + self.c[i0 + 1] * w
        ang = np.arange(_NT) * (2 * np.pi / _NT)
        ext = np.concatenate([_ANG, [2 * np.pi]])
        rk = np.array([np.interp(ang, ext, np.concatenate([row, row[:1]])) for row in self.r])
        r = rk[i0] * (1 - w) + rk[i0 + 1] * w
        slope = (rk[i0 + 1] - rk[i0]) / (self.z[i0 + 1] - self.z[i0])[:, None]
        out = (c.astype(np.float32), r.astype(np.float32),
               np.maximum(1 / np.sqrt(1 + slope * slope), 0.3).astype(np.float32), zf)
        object.__setattr__(self, "_cache", out)
        return out

    def depth(self, x: Arr, y: Arr, z: Arr) -> Arr:
        """Depth (mm) below the lofted surface along its normal; negative outside (beyond the
        end levels, minus the distance past them)."""
        c, r, norm, zf = self._tables()
        z0, z1 = float(zf[0]), float(zf[-1])
        zr = np.rint((z - z0) * np.float32(1 / _DZ))
        zi = np.clip(zr, 0, len(zf) - 1, out=zr).astype(np.intp)
        dx, dy = x - c[zi, 0], y - c[zi, 1]
        ai = np.rint(np.arctan2(dy, dx) * np.float32(_NT / (2 * np.pi))).astype(np.intp)
        flat = zi * _NT + ai % _NT
        gap = r.ravel()[flat] - np.hypot(dx, dy)
        out = gap * norm.ravel()[flat]
        past = np.maximum(z - z1, z0 - z)
        beyond = past > 0
        if beyond.any():
            out[beyond] = -np.hypot(np.minimum(gap[beyond], 0), past[beyond])
        return np.asarray(out, dtype=np.float32)

    def mirrored(self, factor: float = 1.0) -> _Loft:
        """The same outline on the other side of the midline, lateral size times ``factor``."""
        c = self.c.copy()
        c[:, 0] *= -factor
        return _Loft(self.z, c, self.r[:, _MIRROR] * factor)


@dataclass(frozen=True)
class _Tube:
    """A tube of ``radius`` (mm) around a polyline ``points`` (m, 3) given as (x, y, z)."""

    points: Arr
    radius: float

    def box(self) -> tuple[float, float, float, float, float, float]:
        lo, hi = self.points.min(axis=0) - self.radius, self.points.max(axis=0) + self.radius
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), float(lo[2]),
                float(hi[2]))

    def depth(self, x: Arr, y: Arr, z: Arr) -> Arr:
        best = np.full(x.shape, np.inf, dtype=np.float32)
        for a, b in zip(self.points[:-1], self.points[1:], strict=True):
            ab = b - a
            t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / float(ab @ ab)
            t = np.clip(t, 0.0, 1.0)
            d = np.sqrt((x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2
                        + (z - a[2] - t * ab[2]) ** 2)
            best = np.minimum(best, d)
        return (self.radius - best).astype(np.float32)

    def mirrored(self, factor: float = 1.0) -> _Tube:
        p = self.points.copy()
        p[:, 0] *= -factor
        return _Tube(p, self.radius)


def _oval(a: float, b_ant: float, b_post: float, p: float = 2.2, a_med: float | None = None,
          p_med: float | None = None) -> Arr:
    """Radii (mm) at :data:`_ANG` of a superellipse: half-width ``a`` towards +x (``a_med`` with
    exponent ``p_med`` towards -x), ``b_ant`` towards -y (anterior), ``b_post`` towards +y."""
    c, s = np.cos(_ANG), np.sin(_ANG)
    ax = np.where(c >= 0, a, a if a_med is None else a_med)
    px = np.where(c >= 0, p, p if p_med is None else p_med)
    by = np.where(s >= 0, b_post, b_ant)
    return np.asarray((np.abs(c / ax) ** px + np.abs(s / by) ** px) ** (-1.0 / px))


def _wobble(rng: np.random.Generator, amp: float, kmax: int = 5) -> Arr:
    """A smooth random factor around 1 on the polar angles (Fourier harmonics 2..kmax)."""
    f = np.zeros(_NA)
    for k in range(2, kmax + 1):
        f += rng.normal(0, amp / k) * np.cos(k * _ANG + rng.uniform(0, 2 * np.pi))
    return np.asarray(np.exp(f))


def _midline_loft(rows: Sequence[tuple[float, float, float, float]], p: float,
                  wobble: Arr) -> _Loft:
    """Loft of midline outlines given per level as (z, half-width, y_ant, y_post), mm."""
    z = np.array([r[0] for r in rows])
    c = np.array([[0.0, (r[2] + r[3]) / 2] for r in rows])
    radii = np.array([_oval(r[1], (r[3] - r[2]) / 2, (r[3] - r[2]) / 2, p) * wobble
                      for r in rows])
    return _Loft(z, c, radii)


def _box_loft(rows: Sequence[tuple[float, float, float, float, float]], p: float,
              wobble: Arr) -> _Loft:
    """Loft of left-side outlines per level as (z, x_medial, x_lateral, y_ant, y_post), mm."""
    z = np.array([r[0] for r in rows])
    c = np.array([[(r[1] + r[2]) / 2, (r[3] + r[4]) / 2] for r in rows])
    radii = np.array([_oval((r[2] - r[1]) / 2, (r[4] - r[3]) / 2, (r[4] - r[3]) / 2, p)
                      * wobble for r in rows])
    return _Loft(z, c, radii)


def _blob(centre: Sequence[float], semi: Sequence[float], yaw_deg: float = 0.0,
          wobble: Arr | None = None, tilt: Sequence[float] = (0.0, 0.0), levels: int = 9) -> _Loft:
    """An ellipsoid (centre x, y, z; semi-axes mm; in-plane rotation) as a loft; ``tilt`` moves
    the centre by (dx, dy) mm per mm of z."""
    cx, cy, cz = centre
    ax, ay, az = semi
    t = np.linspace(-1.0, 1.0, levels)
    a = math.radians(yaw_deg)
    base = 1.0 / np.sqrt((np.cos(_ANG - a) / ax) ** 2 + (np.sin(_ANG - a) / ay) ** 2)
    if wobble is not None:
        base = base * wobble
    prof = np.sqrt(np.clip(1 - t * t, 0.0, 1.0))
    c = np.stack([cx + tilt[0] * az * t, cy + tilt[1] * az * t], axis=1)
    return _Loft(cz + az * t, c, np.maximum(prof[:, None] * base[None, :], 0.05))


# ---------------------------------------------------------------------------------------------
# The subject: what varies per seed


@dataclass(frozen=True)
class _Subject:
    age: float
    atrophy: float  # 0 young .. 1 marked
    scale: tuple[float, float, float]  # head size factors (x, y, z)
    asym: float  # right/left size factor of lateral structures
    skull_mm: float
    scalp_mm: float
    sas_mm: float  # subarachnoid space over the convexity
    sulcus_mm: float
    cortex_mm: float
    vent: float  # ventricle size factor
    third_mm: float
    grey: float
    white: float
    csf: float
    bone: float
    diploe: float


def _subject(rng: np.random.Generator) -> _Subject:
    age = float(rng.uniform(25, 92))
    atrophy = float(np.clip((age - 35) / 55 + rng.normal(0, 0.12), 0, 1))
    s = float(rng.normal(1.0, 0.035))
    grey = float(rng.uniform(35, 45))
    white = float(np.clip(rng.uniform(25, 32), None, grey - 5))
    return _Subject(
        age=age, atrophy=atrophy,
        scale=(s * float(rng.normal(1, 0.02)), s * float(rng.normal(1, 0.02)),
               s * float(rng.normal(1, 0.025))),
        asym=float(rng.normal(1.0, 0.02)), skull_mm=float(rng.uniform(4.5, 7.0)),
        scalp_mm=float(rng.uniform(4.0, 7.0)), sas_mm=1.0 + 3.0 * atrophy,
        sulcus_mm=0.7 + 2.3 * atrophy, cortex_mm=float(rng.uniform(2.4, 3.2)),
        vent=0.9 + 0.42 * atrophy + float(rng.normal(0, 0.04)), third_mm=2.0 + 4.5 * atrophy,
        grey=grey, white=white, csf=float(rng.uniform(2, 9)), bone=float(rng.uniform(1100, 1500)),
        diploe=float(rng.uniform(450, 750)))


# ---------------------------------------------------------------------------------------------
# The head grid: patient space, its atlas coordinates (deformed) and the painted volumes


@dataclass
class _Head:
    h: float
    x: Arr
    y: Arr
    z: Arr
    atlas: list[Arr]  # (z, y, x) float32 standard-atlas coordinates x, y, z of each voxel (skull)
    mass: list[Arr] | None  # mass-effect displacement of the brain in atlas mm, or None
    reach: float  # largest |displacement| (mm) between patient and atlas space
    scale: tuple[float, float, float]
    hu: Arr
    tissue: Arr
    region: Arr
    blood: Arr

    def crop(self, box: Sequence[float], margin: float = 2.0) -> tuple[slice, slice, slice]:
        """Index slices of the grid covering an atlas box (xmin, xmax, ymin, ymax, zmin, zmax)."""
        m = self.reach + margin
        out = []
        for axis, (lo, hi), s in ((self.z, box[4:6], self.scale[2]),
                                  (self.y, box[2:4], self.scale[1]),
                                  (self.x, box[0:2], self.scale[0])):
            i0 = int(np.searchsorted(axis, lo * s - m))
            i1 = int(np.searchsorted(axis, hi * s + m))
            out.append(slice(i0, max(i0, i1)))
        return out[0], out[1], out[2]

    def coords(self, sl: tuple[slice, slice, slice], brain: bool) -> tuple[Arr, Arr, Arr]:
        """Atlas coordinates in a crop; ``brain`` adds the mass effect."""
        x, y, z = (a[sl] for a in self.atlas)
        if brain and self.mass is not None:
            x, y, z = (a + m[sl] for a, m in zip((x, y, z), self.mass, strict=True))
        return x, y, z

    def eval(self, shape: _Shape, brain: bool = True) -> tuple[tuple[slice, slice, slice], Arr]:
        """Depth of ``shape`` (mm, > 0 inside) over the crop that holds it."""
        sl = self.crop(shape.box())
        return sl, shape.depth(*self.coords(sl, brain))

    def paint(self, sl: tuple[slice, slice, slice], mask: Arr, tissue: str,
              hu: float | Arr) -> None:
        t = self.tissue[sl]
        t[mask] = _T[tissue]
        v = self.hu[sl]
        v[mask] = hu if np.isscalar(hu) else np.asarray(hu)[mask]

    def fill(self, shape: _Shape, tissue: str, hu: float, brain: bool = True,
             within: Sequence[str] | None = None, grow: float = 0.0) -> None:
        """Paint the inside of ``shape`` (grown by ``grow`` mm), optionally only over tissues."""
        sl, d = self.eval(shape, brain)
        mask = d > -grow
        if within is not None:
            mask &= np.isin(self.tissue[sl], [_T[w] for w in within])
        self.paint(sl, mask, tissue, hu)


def _bspline_basis(coord: Arr, n: int) -> Arr:
    """Cubic B-spline weights (len(coord), n) of ``n`` control points spanning ``coord``."""
    t = (coord - coord[0]) / (coord[-1] - coord[0]) * (n - 3) + 1.0
    d = np.abs(t[:, None] - np.arange(n)[None, :])
    return np.where(d < 1, 2 / 3 - d * d + d ** 3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))


def _smooth_field(rng: np.random.Generator, x: Arr, y: Arr, z: Arr, n: int,
                  parity: int = 0) -> Arr:
    """A smooth random field (z, y, x) of unit-ish amplitude on a cubic B-spline lattice of ``n``
    control points per axis; ``parity`` +1/-1 makes it even/odd in x (a symmetric grid)."""
    ctrl = rng.normal(0.0, 1.0, (n, n, n))
    if parity:
        ctrl = (ctrl + parity * ctrl[:, :, ::-1]) / 2
    bz, by, bx = _bspline_basis(z, n), _bspline_basis(y, n), _bspline_basis(x, n)
    f = np.tensordot(ctrl, bx, axes=([2], [1]))  # (n, n, nx)
    f = np.tensordot(by, f, axes=([1], [1]))  # (ny, n, nx)
    f = np.tensordot(bz, f, axes=([1], [1]))  # (nz, ny, nx)
    return np.asarray(f, dtype=np.float32)


@dataclass(frozen=True)
class _Mass:
    """A space-occupying lesion: centre (patient mm) and equivalent radius (mm)."""

    centre: tuple[float, float, float]
    radius: float


def _mass_displacement(x: Arr, y: Arr, z: Arr, masses: Sequence[_Mass],
                       gain: float) -> tuple[Arr, Arr, Arr]:
    """Patient -> atlas displacement (mm) of tissue pushed away by inflating spheres.

    Incompressible: tissue at distance d from a centre came from (d^3 - r^3)^(1/3); beyond 2r
    the displacement is multiplied by ``gain`` (the skull confines the brain, so the far field
    is larger than in an infinite medium); it fades to zero towards the inner table."""
    out = [np.zeros(np.broadcast(x, y, z).shape, np.float32) for _ in range(3)]
    fade = np.clip(1.15 - ((x / 62.0) ** 2 + ((y - 5) / 82.0) ** 2
                           + ((z - 62) / 62.0) ** 2), 0.0, 1.0) ** 0.5
    for m in masses:
        d = [x - m.centre[0], y - m.centre[1], z - m.centre[2]]
        dist = np.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2) + 1e-3
        src = np.cbrt(np.maximum(dist ** 3 - m.radius ** 3, 0.0))
        far = 1.0 + (gain - 1.0) * np.clip(dist / m.radius - 1.0, 0.0, 1.0)
        f = (src / dist - 1.0) * far * fade
        for i in range(3):
            out[i] += (d[i] * f).astype(np.float32)
    return out[0], out[1], out[2]


def _make_head(subj: _Subject, rng: np.random.Generator, spacing: float,
               masses: Sequence[_Mass], mass_gain: float) -> tuple[_Head, float]:
    """The patient-space grid with its atlas coordinates; also returns the deformation's reach."""
    sx, sy, sz = subj.scale
    half_x = 94.0 * sx
    nx = int(2 * math.ceil(half_x / spacing)) + 1
    x = (np.arange(nx) - (nx - 1) / 2) * spacing
    y = np.arange(-122.0 * sy, 122.0 * sy, spacing)
    z = np.arange(-22.0 * sz, 158.0 * sz, spacing)
    amp = float(rng.uniform(1.5, 3.5))
    ux = amp * _smooth_field(rng, x, y, z, 5, parity=-1)
    uy = amp * _smooth_field(rng, x, y, z, 5, parity=+1)
    uz = amp * _smooth_field(rng, x, y, z, 5, parity=+1)
    zz, yy, xx = (a.astype(np.float32) for a in np.meshgrid(z, y, x, indexing="ij",
                                                             sparse=True))
    atlas = [(xx + ux) / sx, (yy + uy) / sy, (zz + uz) / sz]
    reach = float(max(np.abs(u).max() for u in (ux, uy, uz)))
    mass = None
    if masses:
        mx, my, mz = _mass_displacement(xx, yy, zz, masses, mass_gain)
        mass = [mx / sx, my / sy, mz / sz]
        reach += float(max(np.abs(m).max() for m in (mx, my, mz)))
    shape = (len(z), len(y), len(x))
    head = _Head(h=spacing, x=x, y=y, z=z, atlas=[np.asarray(a, np.float32) for a in atlas],
                 mass=mass, reach=reach, scale=subj.scale,
                 hu=np.full(shape, -1000.0, np.float32), tissue=np.zeros(shape, np.uint8),
                 region=np.zeros(shape, np.uint8), blood=np.zeros(shape, np.uint8))
    return head, amp


# ---------------------------------------------------------------------------------------------
# The atlas: key levels of the cranial cavity, skull base, brain and deep structures (left side;
# the right side is mirrored). Standard head: inner skull 134 x 178 mm, vertex 133 mm above the
# foramen magnum; y = 0 near the foramina of Monro.

_MAIN_CAVITY = ((30, 58, -30, 84), (38, 64, -45, 88), (44, 66, -76, 90), (52, 66, -86, 90),
                (62, 67, -88, 90), (75, 67, -88, 88), (90, 64, -84, 84), (98, 61, -80, 80))
_VERTEX_Z = 133.0  # top of the inner table above the foramen magnum, mm (standard head)
_TEMPORAL_FOSSA = ((9, 33, 40, -22, -16), (13, 24, 52, -40, -6), (18, 19, 58, -46, 2),
                   (25, 16, 62, -48, 10), (33, 14, 64, -48, 14), (40, 12, 64, -46, 16))
_POSTERIOR_FOSSA = ((-6, 10, 10, 28), (-2, 17, 4, 40), (4, 35, 0, 60), (12, 48, 0, 76),
                    (20, 54, 2, 84), (28, 55, 4, 87), (36, 50, 8, 86), (44, 36, 14, 78),
                    (50, 12, 22, 50))
_FACE = ((-24, 50, -70, 58), (-12, 58, -86, 64), (0, 66, -94, 80), (15, 70, -98, 90),
         (30, 70, -99, 92), (42, 62, -97, 70), (52, 40, -94, 10), (58, 8, -90, -70))


def _tentorium_z(x: Arr, y: Arr) -> Arr:
    """Height (mm) of the tentorium over (x, y): 47 at the incisura, ~28 at its attachments."""
    return np.asarray(47.0 - 17.0 * np.clip((y - 25.0) / 55.0, 0, None) ** 2
                      - 19.0 * (x / 55.0) ** 2)


def _dome(rows: Sequence[tuple[float, float, float, float]], top: float, n: int = 14
          ) -> list[tuple[float, float, float, float]]:
    """Levels above the last row closing the outline as a half-ellipsoid up to ``top``."""
    z0, a, ya, yp = rows[-1]
    t = np.sin(np.linspace(0, np.pi / 2, n + 1)[1:])  # denser towards the top
    out = list(rows)
    for ti in t:
        f = math.sqrt(max(1 - ti * ti, 0.0025))
        out.append((z0 + (top - z0) * ti, a * f, ya * f, yp * f))
    return out


def _cavities(rng: np.random.Generator) -> tuple[list[_Loft], _Loft]:
    main = _midline_loft(_dome(_MAIN_CAVITY, _VERTEX_Z), 2.4, _wobble(rng, 0.03, 4)
                         * (1 + 0.05 * np.clip(np.sin(_ANG), 0, None)))
    temporal = _box_loft(_TEMPORAL_FOSSA, 2.2, _wobble(rng, 0.05, 4))
    fossa = _midline_loft(_POSTERIOR_FOSSA, 2.3, _wobble(rng, 0.04, 4))
    return [main, temporal, temporal.mirrored()], fossa


def _union_depth(head: _Head, shapes: Sequence[_Shape], brain: bool) -> Arr:
    """Depth (mm) inside the union of ``shapes`` over the whole grid (-1000 far outside)."""
    out = np.full(head.hu.shape, -1e3, np.float32)
    for shape in shapes:
        sl, d = head.eval(shape, brain)
        np.maximum(out[sl], d, out=out[sl])
    return out


def _paint_skull(head: _Head, subj: _Subject, rng: np.random.Generator, supra: list[_Loft],
                 fossa: _Loft) -> tuple[Arr, Arr, Arr]:
    """Scalp, face/neck soft tissue and the bony shell of the cranial cavity; returns the depth
    below the inner table over the whole grid (max over the cavity components), and that of the
    supratentorial cavity and of the posterior fossa alone."""
    full = (slice(None), slice(None), slice(None))
    xa, ya, za = head.coords(full, brain=False)
    upper = _union_depth(head, supra, brain=False)
    lower = _union_depth(head, [fossa], brain=False)
    cav = np.maximum(upper, lower)
    thick = subj.skull_mm * (1 + 0.25 * np.clip(ya / 85.0, 0, 1)
                             - 0.3 * np.clip(np.abs(xa) / 66.0, 0, 1) ** 6)
    outer = cav + thick
    skin = outer + subj.scalp_mm
    sl, face = head.eval(_midline_loft(_FACE, 2.3, _wobble(rng, 0.03, 4)), brain=False)
    np.maximum(skin[sl], face, out=skin[sl])
    fat_mm = float(rng.uniform(1.2, 3.0))
    inside = skin > 0
    head.paint(full, inside, "soft_tissue", 45.0)
    head.paint(full, inside & (skin < 1.8 + fat_mm), "fat", -85.0)
    head.paint(full, inside & (skin < 1.8), "scalp", 38.0)
    bone = (outer > 0) & (cav <= 0)
    head.paint(full, bone, "bone", subj.bone)
    head.paint(full, bone & (outer > 1.6) & (cav < -1.6), "marrow", subj.diploe)
    head.paint(full, cav > 0, "csf", subj.csf)
    return cav, upper, lower


def _sulcal_field(rng: np.random.Generator, x: Arr, y: Arr, z: Arr, depth: Arr, wavelength: float,
                  waves: int = 12) -> Arr:
    """Signed distance-like folding field (mm): random plane waves evaluated on the radial
    projection of each point onto a 70 mm sphere around the brain centre."""
    d = np.stack([x - _CENTRE[0], y - _CENTRE[1], z - _CENTRE[2]])
    radius = np.sqrt((d * d).sum(axis=0)) + 1e-3
    d *= 70.0 / radius
    bend = 0.45 * depth  # clefts curve as they go deep
    d += bend * np.stack([np.sin(d[1] / 9.0), np.sin(d[2] / 11.0), np.sin(d[0] / 10.0)])
    f = np.zeros(x.shape, np.float32)
    grad = np.zeros((3,) + x.shape, np.float32)
    for _ in range(waves):
        k = rng.normal(size=3)
        k = (k * (2 * np.pi / wavelength * rng.uniform(0.8, 1.25) / np.linalg.norm(k))).astype(
            np.float32)
        phase = np.tensordot(k, d, axes=1) + np.float32(rng.uniform(0, 2 * np.pi))
        f += np.cos(phase)
        grad -= k[:, None].reshape((3,) + (1,) * x.ndim) * np.sin(phase)
    return np.asarray(f / (np.sqrt((grad * grad).sum(axis=0)) + 1e-3), np.float32)


def _paint_brain(head: _Head, subj: _Subject, rng: np.random.Generator, cav: Arr,
                 supra: list[_Loft], fossa: _Loft, parts: tuple[Arr, Arr]) -> Arr:
    """Cerebrum (white matter, cortical ribbon, sulci, interhemispheric fissure, falx) and the
    posterior fossa (cerebellum with folia, tentorium); returns the cortical depth (mm)."""
    full = (slice(None), slice(None), slice(None))
    xb, yb, zb = head.coords(full, brain=True)
    if head.mass is None:  # the brain sits where the skull says
        cav_b, fossa_d = parts
    else:
        cav_b = _union_depth(head, supra, brain=True)
        fossa_d = _union_depth(head, [fossa], brain=True)
    zt = _tentorium_z(xb, yb)
    infra = (fossa_d > 0) & (zb < zt)
    deep_box = ((xb / 30.0) ** 2 + ((yb - 5) / 42.0) ** 2 + ((zb - 58) / 28.0) ** 2) < 1
    medial = np.where(deep_box, 1e3, np.abs(xb) - (0.8 + subj.sulcus_mm))
    depth = np.minimum(cav_b - subj.sas_mm, medial)
    del medial, cav_b
    depth = np.where(fossa_d > 0, np.minimum(depth, zb - zt - 1.0 - subj.sas_mm / 2), depth)
    cerebrum = (depth > 0) & ~infra & (cav > 0)
    shell = cerebrum & (depth < 22)
    fold = np.full(head.hu.shape, 1e3, np.float32)
    fold[shell] = np.abs(_sulcal_field(rng, xb[shell], yb[shell], zb[shell], depth[shell],
                                       float(rng.uniform(26, 34))))
    sulcal_depth = float(rng.uniform(12, 17))
    head.paint(full, cerebrum, "white", subj.white)
    grey = cerebrum & ((depth < subj.cortex_mm)
                       | ((fold < subj.sulcus_mm / 2 + subj.cortex_mm)
                          & (depth < sulcal_depth + subj.cortex_mm)))
    head.paint(full, grey, "grey", subj.grey)
    head.paint(full, cerebrum & (fold < subj.sulcus_mm / 2) & (depth < sulcal_depth), "csf",
               subj.csf)
    del fold, grey, shell, cerebrum
    # cerebellum: folia as thin curved horizontal lamellae
    cereb_depth = np.minimum(fossa_d - subj.sas_mm * 0.6, zt - zb - 1.0)
    cereb = infra & (cereb_depth > 0) & (cav > 0)
    head.paint(full, cereb, "cerebellum", subj.grey - 3.0)
    x, y, z, d = xb[cereb], yb[cereb], zb[cereb], cereb_depth[cereb]
    del cereb_depth
    lam = np.sin(2 * np.pi * (z + 4 * np.sin(x / 17.0) + 3 * np.sin(y / 13.0))
                 / float(rng.uniform(6.5, 8.5)))
    for part, tissue, hu in (((d > 14) & (np.abs(x) > 12), "white", subj.white),
                             ((np.abs(lam) < 0.12 + 0.1 * subj.atrophy) & (d < 9), "csf",
                              subj.csf)):
        mask = np.zeros(cereb.shape, bool)
        mask[cereb] = part
        head.paint(full, mask, tissue, hu)
    # falx and tentorium (dura), over the fissures
    in_cav = cav > 0
    fissure = in_cav & ~deep_box & ~infra & (np.abs(xb) < 0.8 + subj.sulcus_mm) & (zb > zt)
    head.paint(full, fissure, "csf", subj.csf)
    dura_hu = float(rng.uniform(42, 58))
    head.paint(full, fissure & (np.abs(xb) < 0.55), "dura", dura_hu)
    head.paint(full, in_cav & (fossa_d > 0) & (np.abs(zb - zt) < 0.6) & (yb > 18), "dura",
               dura_hu)
    return depth


_INSULA_X = 36.0  # distance of the insular cortex from the midline, mm
_SECTORS = (32.0, 64.0, 100.0, 140.0)  # MCA sector limits (deg from anterior): M1|M2|M3, M4|M5|M6
_GANGLIONIC_Z = (47.0, 71.0)
_SUPRAGANGLIONIC_Z = (76.0, 98.0)


@dataclass(frozen=True)
class _Deep:
    """Left-side deep structures of one subject (the right side is their mirror)."""

    caudate: _Loft
    caudate_body: _Loft
    putamen: _Loft
    pallidum: _Loft
    thalamus: _Loft
    capsule: _Loft
    insula: _Loft
    insula_region: _Loft
    cistern: _Loft
    stem: _Loft
    ventricle: tuple[_Loft, ...]
    choroid: _Loft


def _deep(subj: _Subject, rng: np.random.Generator) -> _Deep:
    v, sw = subj.vent, subj.sulcus_mm

    def wob() -> Arr:
        return _wobble(rng, 0.06, 4)

    cm = 1.0 + 8.0 * v  # medial edge of the caudate head (half the bicaudate distance)
    return _Deep(
        caudate=_blob((cm + 5.5, -16, 64), (5.5, 9, 12), wobble=wob()),
        caudate_body=_blob((cm + 3.0, 4, 79), (3.2, 15, 6), yaw_deg=8),
        putamen=_blob((25, -4, 57), (5.5, 14, 9.5), wobble=wob()),
        pallidum=_blob((18.5, -2, 56), (3.2, 8.5, 6.5)),
        thalamus=_blob((subj.third_mm / 2 + 10, 12, 62), (9.5, 13, 9.5), wobble=wob()),
        capsule=_blob((18.5, 7, 59), (11, 2.8, 9), yaw_deg=58),
        insula=_blob((_INSULA_X, -6, 58), (2.2, 18, 12)),
        insula_region=_blob((_INSULA_X - 1, -6, 58), (4.5, 18, 12)),
        cistern=_blob((_INSULA_X + 3.4, -6, 58), (1.0 + sw / 2, 19, 13)),
        stem=_blob((_INSULA_X + 16, -9, 56), (16, 0.8 + sw / 2, 9), yaw_deg=-12),
        ventricle=(
            _blob((1.2 + 7.5 * v, -20, 68), (7.5 * v, 11, 9), yaw_deg=25, wobble=wob()),
            _blob((1.2 + 7.0 * v, 6, 79), (7.0 * v, 24, 6.5)),
            _blob((15 + 5 * v, 30, 68), (6.5 * v, 10, 10), wobble=wob()),
            _blob((17, 46, 64), (10, 3.5 * v, 5), yaw_deg=100),
            _blob((27, 14, 55), (10, 4 * v, 7), yaw_deg=70),
            _blob((30, -10, 46), (12, 2.5 * v, 3.5 * v), yaw_deg=80)),
        choroid=_blob((15 + 5 * v, 31, 67), (3.5, 5, 3.5)))


def _sides(shape: _Loft, asym: float) -> tuple[_Loft, _Loft]:
    """(left, right) copies of a left-side shape."""
    return shape, shape.mirrored(asym)


def _paint_deep(head: _Head, subj: _Subject, deep: _Deep) -> None:
    """Sylvian fissures and insulae, basal ganglia, thalami, ventricles, cisterns, brainstem."""
    g, c = subj.grey, subj.csf
    cerebrum = ("grey", "white", "csf")
    for side in (0, 1):
        for cleft in (deep.cistern, deep.stem):
            head.fill(_sides(cleft, subj.asym)[side], "grey", g, within=cerebrum,
                      grow=subj.cortex_mm)
        head.fill(_sides(deep.insula, subj.asym)[side], "grey", g, within=cerebrum)
        for cleft in (deep.cistern, deep.stem):
            head.fill(_sides(cleft, subj.asym)[side], "csf", c, within=("grey", "white"))
        head.fill(_sides(deep.putamen, subj.asym)[side], "nucleus", g - 1.0)
        head.fill(_sides(deep.pallidum, subj.asym)[side], "nucleus", g - 4.0)
        head.fill(_sides(deep.caudate, subj.asym)[side], "nucleus", g - 1.0)
        head.fill(_sides(deep.caudate_body, subj.asym)[side], "nucleus", g - 1.5)
        head.fill(_sides(deep.thalamus, subj.asym)[side], "thalamus", g - 3.0)
    for side in (0, 1):
        for part in deep.ventricle:
            head.fill(_sides(part, subj.asym)[side], "ventricle", c)
    head.fill(_blob((0, 3, 57), (subj.third_mm / 2, 13, 10)), "ventricle", c)
    sl, _ = head.eval(_blob((0, -5, 74), (2, 30, 12)))
    xb = head.coords(sl, brain=True)[0]
    head.paint(sl, (head.tissue[sl] == _T["ventricle"]) & (np.abs(xb) < 0.9), "white",
               subj.white)
    for side in (0, 1):
        head.fill(_sides(deep.choroid, subj.asym)[side], "choroid_plexus", 38.0,
                  within=("ventricle",))
    a = subj.atrophy
    for centre, semi in (((0, -9, 44), (13, 9, 3.5)), ((0, 9, 45), (18, 15, 6.5)),
                         ((0, 25, 50), (7, 6, 5)), ((0, -7, 26), (11, 6, 14)),
                         ((0, 66, 6), (15 * (1 + 0.3 * a), 12, 10))):
        head.fill(_blob(centre, semi), "csf", c)
    stem_hu = subj.white + 2.0
    for stem_centre, stem_semi in (((0, 8, 44), (13, 11, 7.5)), ((0, 5, 26), (16, 12.5, 11)),
                                   ((0, 12, 7), (9, 8.5, 10)), ((0, 16, -10), (6, 5.5, 10))):
        head.fill(_blob(stem_centre, stem_semi), "brainstem", stem_hu)
    head.fill(_blob((0, 24, 25), (7, 5, 8)), "ventricle", c)
    head.fill(_Tube(np.array([[0, 18, 34], [0, 13, 47]], float), 1.0), "ventricle", c)
    head.fill(_blob((0, 24, 57), (3.5, 4, 3)), "pineal", 35.0)


def _paint_base(head: _Head, subj: _Subject) -> None:
    """Skull base, orbits, paranasal sinuses, mastoids, C1 (bone-frame coordinates)."""

    def fill(shape: _Loft | _Tube, tissue: str, hu: float) -> None:
        head.fill(shape, tissue, hu, brain=False)

    dense = subj.bone + 350.0
    fill(_Tube(np.array([[0, -20, 40], [0, -8, 20], [0, 2, 0]], float), 7.0), "bone", subj.bone)
    fill(_Tube(np.array([[0, -20, 40], [0, -8, 20], [0, 2, 0]], float), 4.0), "marrow", 300.0)
    fill(_blob((0, -28, 30), (16, 13, 11)), "bone", subj.bone)
    fill(_blob((0, -29, 30), (12, 10, 8)), "sinus_air", -950.0)
    fill(_blob((0, -16, 38), (6, 5, 3.5)), "soft_tissue", 45.0)
    for side in (0, 1):
        f = (1.0, subj.asym)[side]
        sgn = (1.0, -1.0)[side]
        petrous = _Tube(np.array([[56, 18, 19], [34, 6, 24], [16, -8, 28]], float)
                        * [sgn * f, 1, 1], 7.5)
        fill(petrous, "bone", dense)
        mastoid = _blob((sgn * 50 * f, 28, 12), (10, 13, 13))
        sl, d = head.eval(mastoid, brain=False)
        xa, ya, za = head.coords(sl, brain=False)
        cells = np.sin(xa / 2.1) * np.sin(ya / 1.9 + 1) * np.sin(za / 2.3 + 2) > 0.05
        head.paint(sl, d > 0, "bone", subj.bone)
        head.paint(sl, (d > 1.5) & cells, "sinus_air", -800.0)
        for shape, tissue, hu in (
                (_blob((31, -62, 30), (17, 24, 15)), "bone", subj.bone),
                (_blob((30, -60, 30), (15, 22, 13)), "fat", -90.0),
                (_blob((32, -70, 30), (12, 12, 12)), "eye", 12.0),
                (_blob((32, -81, 30), (4.5, 2, 4.5)), "eye", 110.0),
                (_blob((12, -58, 33), (7, 16, 10)), "sinus_air", -900.0),
                (_blob((27, -58, 8), (16, 16, 15)), "bone", subj.bone),
                (_blob((27, -58, 8), (14, 14, 13)), "sinus_air", -950.0),
                (_Tube(np.array([[44, -60, 20], [58, -30, 22], [60, 0, 22]], float), 3.0),
                 "bone", subj.bone)):
            fill(shape.mirrored(f) if side else shape, tissue, hu)
    fill(_blob((0, -65, 12), (11, 22, 16)), "sinus_air", -950.0)
    fill(_blob((0, -28, -4), (13, 8, 10)), "sinus_air", -950.0)
    fill(_blob((0, 8, -8), (30, 26, 5)), "bone", subj.bone)
    fill(_blob((0, 14, -8), (13, 14, 6)), "csf", subj.csf)
    fill(_blob((0, 16, -10), (6, 5.5, 10)), "brainstem", subj.white + 2.0)
    fill(_blob((0, -6, -8), (6, 6, 8)), "bone", subj.bone)


def _paint_vessels(head: _Head, subj: _Subject, cav: Arr, hu_art: float, hu_ven: float) -> None:
    """Circle of Willis arteries and dural venous sinuses at the given densities (HU)."""
    arteries = [
        _Tube(np.array([[14, -14, 26], [13, -13, 44]], float), 2.2),
        _Tube(np.array([[13, -13, 44], [24, -11, 46], [35, -6, 48]], float), 1.5),
        _Tube(np.array([[13, -13, 44], [4, -19, 46], [1.2, -26, 52]], float), 1.0),
        _Tube(np.array([[1.5, -6, 41], [10, 0, 43], [18, 12, 46], [15, 28, 47]], float), 1.1)]
    for tube in arteries:
        for shape in (tube, tube.mirrored(subj.asym)):
            head.fill(shape, "vessel", hu_art, within=("csf", "grey", "white", "nucleus"))
    head.fill(_Tube(np.array([[0, -7, 6], [0, -6, 41]], float), 1.6), "vessel", hu_art,
              within=("csf", "brainstem"))
    full = (slice(None), slice(None), slice(None))
    xa, ya, za = head.coords(full, brain=False)
    sss = (cav > 0) & (cav < 7) & (np.abs(xa) < 4.5 * (1 - cav / 7)) & (za > 45) & (ya > -75)
    trans = ((cav > 0) & (cav < 6) & (np.abs(za - _tentorium_z(xa, ya)) < 3.5) & (ya > 35)
             & (np.abs(xa) > 8))
    head.paint(full, sss | trans, "venous_sinus", hu_ven)
    sigmoid = _Tube(np.array([[52, 50, 28], [54, 32, 20], [42, 22, 6], [36, 20, -2]], float), 4.0)
    for shape in (sigmoid, sigmoid.mirrored(subj.asym),
                  _Tube(np.array([[0, 28, 52], [0, 80, 33]], float), 2.8)):
        head.fill(shape, "venous_sinus", hu_ven, brain=False,
                  within=("csf", "dura", "bone", "marrow", "cerebellum", "grey", "white"))


def _paint_regions(head: _Head, subj: _Subject, deep: _Deep, depth: Arr) -> None:
    """The ASPECTS region map: 1-10 on the patient's left, 11-20 on the right."""
    idx = {name: i + 1 for i, name in enumerate(ASPECTS_REGIONS)}
    par = np.isin(head.tissue, _PARENCHYMA)
    for side, offset in ((0, 0), (1, 10)):
        for shape, name, tissues in ((deep.caudate, "C", ("nucleus",)),
                                     (deep.putamen, "L", ("nucleus",)),
                                     (deep.pallidum, "L", ("nucleus",)),
                                     (deep.capsule, "IC", ("white",)),
                                     (deep.insula_region, "I", ("grey", "white"))):
            sl, d = head.eval(_sides(shape, subj.asym)[side])
            mask = (d > 0) & np.isin(head.tissue[sl], [_T[t] for t in tissues])
            reg = head.region[sl]
            reg[mask & (reg == 0)] = idx[name] + offset
    full = (slice(None), slice(None), slice(None))
    xb, yb, zb = head.coords(full, brain=True)
    phi = np.degrees(np.arctan2(np.abs(xb), -(yb - 5.0)))
    for (z0, z1), names, reach in ((_GANGLIONIC_Z, ("M1", "M2", "M3"), 26.0),
                                   (_SUPRAGANGLIONIC_Z, ("M4", "M5", "M6"), 30.0)):
        band = par & (zb >= z0) & (zb <= z1) & (depth < reach) & (head.region == 0)
        for name, lo, hi in zip(names, _SECTORS[:-1], _SECTORS[1:], strict=True):
            sector = band & (phi >= lo) & (phi < hi)
            head.region[sector & (xb > 0)] = idx[name]
            head.region[sector & (xb <= 0)] = idx[name] + 10


# ---------------------------------------------------------------------------------------------
# Haemorrhage: planned before the anatomy (their mass effect deforms it), painted after it

_IPH_SITES = {"putamen": (25.0, -4.0, 57.0), "thalamus": (13.0, 12.0, 62.0),
              "frontal": (30.0, -50.0, 75.0), "parietal": (35.0, 30.0, 90.0),
              "temporal": (45.0, -12.0, 45.0), "occipital": (24.0, 64.0, 62.0)}
_SUTURES_Y = (-18.0, 62.0)  # coronal and lambdoid sutures (atlas y, mm)
_ECC = np.array([0.0, 5.0, 62.0])  # centre of the extra-axial angles (atlas mm)


@dataclass(frozen=True)
class _Bleed:
    kind: str
    volume_ml: float  # target
    side: int  # +1 left, -1 right
    centre: tuple[float, float, float]  # patient mm
    shape: dict[str, Any]


def _log_volume(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _plan_bleeds(label: NcctLabel, subj: _Subject, seed: int) -> list[_Bleed]:
    """Kind, size and place of each bleed of the label (one of each kind)."""
    s = np.array(subj.scale)
    plans = []
    for kind in label.bleeds:
        rng = np.random.default_rng([seed, 30 + BLEED_KINDS.index(kind)])
        side = int(rng.choice([1, -1]))
        shape: dict[str, Any] = {}
        if kind == "intraparenchymal":
            site = str(rng.choice(list(_IPH_SITES)))
            volume = _log_volume(rng, 1.0, 80.0)
            atlas = np.array(_IPH_SITES[site]) * [side, 1, 1] + rng.normal(0, 2.5, 3)
            if site not in ("putamen", "thalamus"):
                atlas = atlas + [side * rng.uniform(-5, 2), 0, 0]
            shape = {"site": site, "semi": rng.uniform(0.7, 1.3, 3),
                     "yaw": float(rng.uniform(0, 180)), "wobble": _wobble(rng, 0.16, 5),
                     "oedema_mm": float(rng.uniform(1.5, 3.0) + 0.04 * volume),
                     "hu": float(rng.uniform(58, 82))}
            centre = atlas * s
        elif kind in ("subdural", "epidural"):
            sdh = kind == "subdural"
            volume = _log_volume(rng, 1.5, 80.0)
            az = float(rng.uniform(-55, 55) if sdh else rng.uniform(-10, 35))
            el = float(rng.uniform(0, 30) if sdh else rng.uniform(-5, 30))
            extent = float(np.clip((volume / 25.0) ** (1 / 3), 0.45, 1.0) if sdh
                           else np.clip((volume / 30.0) ** (1 / 3), 0.7, 1.3))
            shape = {"az": az, "el": el, "hu": float(rng.uniform(55, 80)),
                     "az_max": extent * float(rng.uniform(55, 80) if sdh
                                              else rng.uniform(18, 32)),
                     "el_max": extent * float(rng.uniform(28, 40) if sdh
                                              else rng.uniform(15, 26))}
            n = np.array([math.cos(math.radians(el)) * math.cos(math.radians(az)) * side,
                          math.cos(math.radians(el)) * math.sin(math.radians(az)),
                          math.sin(math.radians(el))])
            reach = 1.0 / math.sqrt((n[0] / 64) ** 2 + (n[1] / 84) ** 2 + (n[2] / 68) ** 2)
            centre = (_ECC + n * (reach - 4.0)) * s
        elif kind == "intraventricular":
            mode = str(rng.choice(["layering", "cast"]))
            volume = _log_volume(rng, 1.0, 8.0) if mode == "layering" else 0.0  # cast: all
            shape = {"mode": mode, "both": bool(rng.uniform() < 0.6),
                     "hu": float(rng.uniform(55, 80))}
            centre = np.array([side * 18.0, 30.0, 66.0]) * s
        else:
            pattern = str(rng.choice(["basal", "convexity"]))
            az, el = float(rng.uniform(-70, 70)), float(rng.uniform(20, 55))
            n = np.array([math.cos(math.radians(el)) * math.cos(math.radians(az)) * side,
                          math.cos(math.radians(el)) * math.sin(math.radians(az)),
                          math.sin(math.radians(el))])
            reach = 1.0 / math.sqrt((n[0] / 64) ** 2 + (n[1] / 84) ** 2 + (n[2] / 68) ** 2)
            volume = 0.0
            shape = {"pattern": pattern, "radius": float(rng.uniform(18, 30)),
                     "hu": float(rng.uniform(55, 75))}
            centre = (_ECC + n * (reach - 6.0)) * s if pattern == "convexity" else (
                np.array([0.0, -9.0, 44.0]) * s)
        plans.append(_Bleed(kind, volume, side, (float(centre[0]), float(centre[1]),
                                                 float(centre[2])), shape))
    return plans


def _swollen_ml(b: _Bleed) -> float:
    """Volume (mL) a bleed occupies: parenchymal ones with their oedema; 0 for those that
    only fill CSF spaces."""
    if b.kind == "intraparenchymal":
        return 1.5 * b.volume_ml
    return b.volume_ml if b.kind in ("subdural", "epidural") else 0.0


def _masses(plans: Sequence[_Bleed]) -> list[_Mass]:
    """Space-occupying bleeds: parenchymal (with oedema) and extra-axial collections."""
    return [_Mass(b.centre, (3000.0 * _swollen_ml(b) / (4 * math.pi)) ** (1 / 3))
            for b in plans if _swollen_ml(b) > 0]


def _mass_gain(plans: Sequence[_Bleed], masses: Sequence[_Mass], subj: _Subject,
               seed: int) -> float:
    """Far-field gain of the mass effect giving a midline shift of about 1 mm per 12 mL of net
    one-sided mass, times a drawn compliance (less shift with atrophy); within 1-10 (beyond,
    the radial map of :func:`_mass_displacement` would fold)."""
    if not masses:
        return 1.0
    rng = np.random.default_rng([seed, 3])
    net = abs(sum(b.side * _swollen_ml(b) for b in plans))
    target = net / 12.0 * float(rng.uniform(0.7, 1.2)) * (1 - 0.4 * subj.atrophy)
    low, high = _midline_shift(masses, 1.0, subj.scale), _midline_shift(masses, 10.0, subj.scale)
    if high <= low + 1e-6:
        return 1.0
    return float(np.clip(1 + 9 * (target - low) / (high - low), 1.0, 10.0))


def _patient(head: _Head, sl: tuple[slice, slice, slice]) -> tuple[Arr, Arr, Arr]:
    """Patient coordinates (mm) of a crop, as broadcastable arrays."""
    return (head.x[sl[2]][None, None, :], head.y[sl[1]][None, :, None],
            head.z[sl[0]][:, None, None])


def _patient_crop(head: _Head, centre: Sequence[float], half: float) -> tuple[slice, slice, slice]:
    out = []
    for axis, c in ((head.z, centre[2]), (head.y, centre[1]), (head.x, centre[0])):
        out.append(slice(int(np.searchsorted(axis, c - half)),
                         int(np.searchsorted(axis, c + half))))
    return out[0], out[1], out[2]


def _blood_hu(rng: np.random.Generator, shape: tuple[int, ...], base: float) -> Arr:
    """Heterogeneous acute blood (HU): a smooth random field around ``base``, within 48-92."""
    if min(shape) < 2:
        return np.full(shape, base, np.float32)
    f = _smooth_field(rng, np.arange(shape[2], dtype=float), np.arange(shape[1], dtype=float),
                      np.arange(shape[0], dtype=float), 6)
    return np.clip(base + 7.0 * f, 48, 92).astype(np.float32)


def _paint_bleed(head: _Head, b: _Bleed, cav: Arr, gravity: Arr, seed: int) -> None:
    """Paint one bleed into the head grid (tissue 'blood', blood label, HU)."""
    rng = np.random.default_rng([seed, 40 + BLEED_KINDS.index(b.kind)])
    code = BLEED_KINDS.index(b.kind) + 1
    voxel_ml = head.h ** 3 / 1000.0
    if b.kind == "intraparenchymal":
        sl = _patient_crop(head, b.centre, 45.0)
        x, y, z = _patient(head, sl)
        tis = head.tissue[sl]
        allowed = np.isin(tis, _PARENCHYMA + (_T["csf"], _T["vessel"], _T["choroid_plexus"]))
        r = (3000.0 * b.volume_ml / (4 * math.pi)) ** (1 / 3)
        semi = b.shape["semi"] / np.prod(b.shape["semi"]) ** (1 / 3)
        mask = np.zeros(tis.shape, bool)
        depth = np.zeros(tis.shape, np.float32)
        for _ in range(4):
            blob = _blob(b.centre, tuple(r * semi), b.shape["yaw"], b.shape["wobble"])
            depth = blob.depth(np.broadcast_to(x, tis.shape), np.broadcast_to(y, tis.shape),
                               np.broadcast_to(z, tis.shape))
            mask = (depth > 0) & allowed
            got = max(float(mask.sum()) * voxel_ml, 0.05)
            r *= (b.volume_ml / got) ** (1 / 3)
        oedema = (depth > -b.shape["oedema_mm"]) & ~mask & np.isin(tis, _PARENCHYMA)
        head.paint(sl, oedema, "oedema", float(np.median(head.hu[sl][oedema]) - 9.0)
                   if oedema.any() else 18.0)
    elif b.kind in ("subdural", "epidural"):
        sl = _patient_crop(head, b.centre, 110.0)
        xa, ya, za = head.coords(sl, brain=False)
        c = cav[sl]
        v = [xa - _ECC[0], ya - _ECC[1], za - _ECC[2]]
        norm = np.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2) + 1e-3
        el = np.degrees(np.arcsin(v[2] / norm))
        az = np.degrees(np.arctan2(v[1], v[0] * b.side))
        q2 = ((az - b.shape["az"]) / b.shape["az_max"]) ** 2 + (
            (el - b.shape["el"]) / b.shape["el_max"]) ** 2
        prof = np.clip(1 - q2, 0, 1) ** (0.35 if b.kind == "subdural" else 0.5)
        ok = (c > 0) & (xa * b.side > 1.2) & (za > _tentorium_z(xa, ya) + 1)
        if b.kind == "epidural":
            lo, hi = _SUTURES_Y
            yc = _ECC[1] + math.sin(math.radians(b.shape["az"])) * 80
            band = (lo, hi) if lo <= yc <= hi else ((-200.0, lo) if yc < lo else (hi, 200.0))
            ok &= (ya > band[0]) & (ya < band[1])
        thick = 8.0
        mask = np.zeros(c.shape, bool)
        for _ in range(5):
            mask = ok & (c < thick * prof)
            got = max(float(mask.sum()) * voxel_ml, 0.05)
            thick = float(np.clip(thick * (b.volume_ml / got) ** 0.85, 1.2, 35.0))
    elif b.kind == "intraventricular":
        sl = _patient_crop(head, (0.0, 0.0, 60.0 * head.scale[2]), 200.0)
        xb, yb, zb = head.coords(sl, brain=True)
        vent = np.isin(head.tissue[sl], (_T["ventricle"], _T["choroid_plexus"]))
        sides = vent & ((np.abs(xb) > 0.9) if b.shape["both"] else (xb * b.side > 0.9))
        if b.shape["mode"] == "cast":
            mask = vent & (((xb * b.side > 0.9) & (zb > 40)) | ((np.abs(xb) < 4) & (zb > 45)
                                                                & (zb < 70)))
        else:
            x, y, z = _patient(head, sl)
            g = gravity[0] * x + gravity[1] * y + gravity[2] * z
            cand = sides & (yb > 18) & (zb > 50)
            n = int(round(b.volume_ml / voxel_ml))
            vals = np.broadcast_to(g, cand.shape)[cand]
            level = np.sort(vals)[-min(max(n, 1), len(vals))] if len(vals) else np.inf
            mask = cand & (g >= level)
    else:
        sl = _patient_crop(head, b.centre, 70.0 if b.shape["pattern"] == "basal" else 40.0)
        xb, yb, zb = head.coords(sl, brain=True)
        csf = (head.tissue[sl] == _T["csf"]) & (cav[sl] > 0)
        if b.shape["pattern"] == "basal":
            near = ((xb ** 2 + (yb + 9) ** 2 + (zb - 44) ** 2) < 28.0 ** 2) | (
                (np.abs(xb) > 26) & (np.abs(xb) < 62) & (yb > -32) & (yb < 14) & (zb > 42)
                & (zb < 72)) | ((np.abs(xb) < 3) & (yb < -25) & (zb > 45) & (zb < 85))
        else:
            x, y, z = _patient(head, sl)
            near = (((x - b.centre[0]) ** 2 + (y - b.centre[1]) ** 2 + (z - b.centre[2]) ** 2)
                    < b.shape["radius"] ** 2)
        mask = csf & near
    hu = _blood_hu(rng, mask.shape, b.shape["hu"])
    head.paint(sl, mask, "blood", hu)
    head.blood[sl][mask] = code


# ---------------------------------------------------------------------------------------------
# Mimics and early ischaemic change


def _paint_mimics(head: _Head, subj: _Subject, deep: _Deep, mimics: Sequence[str],
                  seed: int) -> dict[str, Any]:
    """Bright things that are not blood; returns where they were put."""
    rng = np.random.default_rng([seed, 50])
    placed: dict[str, Any] = {}
    if "choroid_plexus_calcification" in mimics:
        r = float(rng.uniform(1.6, 3.0))
        for side in (0, 1):
            ch = _sides(deep.choroid, subj.asym)[side]
            c = ch.c[len(ch.c) // 2]
            head.fill(_blob((c[0], c[1], float(ch.z.mean())), (r, r * 1.2, r)),
                      "calcification", float(rng.uniform(100, 300)))
        placed["choroid_plexus_calcification"] = r
    if "pineal_calcification" in mimics:
        r = float(rng.uniform(1.5, 3.0))
        head.fill(_blob((0, 24, 57), (r, r, r)), "calcification", float(rng.uniform(100, 300)))
        placed["pineal_calcification"] = r
    if "basal_ganglia_calcification" in mimics:
        semi = (float(rng.uniform(1.6, 3.0)), float(rng.uniform(2.5, 5.0)), 2.5)
        for side in (0, 1):
            head.fill(_sides(_blob((18.5, -2, 56), semi), subj.asym)[side], "calcification",
                      float(rng.uniform(100, 250)), within=("nucleus",))
        placed["basal_ganglia_calcification"] = semi
    if "falx_calcification" in mimics:
        plaques = []
        for _ in range(int(rng.integers(1, 4))):
            y0, z0 = float(rng.uniform(-50, 40)), float(rng.uniform(80, 115))
            ly, lz = float(rng.uniform(4, 10)), float(rng.uniform(3, 8))
            sl = head.crop((-3, 3, y0 - ly, y0 + ly, z0 - lz, z0 + lz))
            xb, yb, zb = head.coords(sl, brain=True)
            mask = ((np.abs(xb) < 1.1) & (((yb - y0) / ly) ** 2 + ((zb - z0) / lz) ** 2 < 1)
                    & np.isin(head.tissue[sl], (_T["dura"], _T["csf"])))
            head.paint(sl, mask, "calcification", float(rng.uniform(150, 500)))
            plaques.append((y0, z0))
        placed["falx_calcification"] = plaques
    if "hyperdense_vessel" in mimics:
        hu = float(rng.uniform(55, 70))
        if rng.uniform() < 0.7:
            tube = _Tube(np.array([[13, -13, 44], [24, -11, 46], [35, -6, 48]], float), 1.9)
            side = int(rng.choice([1, -1]))
            head.fill(tube if side > 0 else tube.mirrored(subj.asym), "vessel", hu,
                      within=("csf", "grey", "white", "vessel", "nucleus"))
            placed["hyperdense_vessel"] = "left MCA" if side > 0 else "right MCA"
        else:
            head.fill(_Tube(np.array([[0, -7, 6], [0, -6, 41]], float), 2.0), "vessel", hu,
                      within=("csf", "brainstem", "vessel"))
            placed["hyperdense_vessel"] = "basilar"
    if "streak_artefact" in mimics:
        az, zc = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(60, 100))
        n = np.array([math.cos(az), math.sin(az)])
        radius = 1.0 / math.sqrt((n[0] / 64) ** 2 + (n[1] / 88) ** 2) + subj.skull_mm + 4.5
        centre = (float(n[0] * radius), float(5 + n[1] * radius), zc)
        head.fill(_blob(centre, (2.0, 2.0, 1.5)), "metal", 14000.0, brain=False,
                  within=("scalp", "fat", "soft_tissue", "air"))
        placed["streak_artefact"] = {"metal_at_mm": centre}
    return placed


def _ischaemia(head: _Head, label: NcctLabel, delta: float) -> None:
    """Darken the labelled regions by ``delta`` HU and blur grey/white differentiation there."""
    offset = 0 if label.ischaemic_side == "left" else 10
    codes = [ASPECTS_REGIONS.index(r) + 1 + offset for r in label.ischaemic_regions]
    mask = np.isin(head.region, codes) & np.isin(head.tissue, _PARENCHYMA)
    if not mask.any():
        return
    idx = np.argwhere(mask)
    pad = 4
    lo, hi = np.maximum(idx.min(axis=0) - pad, 0), idx.max(axis=0) + pad + 1
    sl = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    par = np.isin(head.tissue[sl], _PARENCHYMA).astype(np.float32)
    sigma = 1.8 / head.h
    hu = head.hu[sl]
    blur = ndimage.gaussian_filter(hu * par, sigma) / np.maximum(
        ndimage.gaussian_filter(par, sigma), 1e-3)
    m = mask[sl]
    hu[m] = 0.2 * hu[m] + 0.8 * blur[m] - delta


# ---------------------------------------------------------------------------------------------
# Acquisition: pose, projection, beam hardening, photon noise, filtered back-projection


@dataclass(frozen=True)
class _Scan:
    fov: float  # mm
    thickness: float  # mm
    recon: int  # reconstruction grid (pixels)
    views: int  # projections over 180 degrees
    sub: int  # 1 mm sub-slices per slice (set with the thickness)
    pose: tuple[float, float, float]  # pitch, yaw, roll (deg)
    offset: tuple[float, float, float]  # scanner position of the head's pivot (mm)
    pivot: tuple[float, float, float]  # head-frame centre of rotation (mm)
    kernel: str
    cutoff: float  # filter cut-off, fraction of the Nyquist frequency
    noise_sd: float  # target noise SD in brain (HU)
    bh_water: float  # quadratic beam-hardening coefficient of the line integral
    bh_residual: float  # fraction of it the scanner's water correction misses
    bh_bone: float  # quadratic coefficient on the bone line integral (uncorrected)
    dental: bool

    @property
    def rotation(self) -> Arr:
        """Head -> scanner rotation: yaw (z) after roll (y) after pitch (x)."""
        p, y, r = (math.radians(a) for a in self.pose)
        rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
        ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
        rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
        return np.asarray(rz @ ry @ rx)


def _draw_scan(seed: int, matrix: int) -> _Scan:
    rng = np.random.default_rng([seed, 2])
    recon = int(min(matrix, _MAX_RECON))
    kernel = str(rng.choice(_FILTERS))
    thickness = float(rng.choice([3.0, 5.0]))
    return _Scan(
        fov=float(rng.uniform(220, 250)), thickness=thickness, recon=recon,
        views=int(round(1.25 * recon)), sub=int(thickness),
        pose=(float(rng.uniform(-15, 15)), float(rng.uniform(-15, 15)),
              float(rng.uniform(-15, 15))),
        offset=(float(rng.uniform(-10, 10)), float(rng.uniform(-12, 8)), 0.0),
        pivot=(0.0, 5.0, 60.0),
        kernel=kernel, cutoff=float(rng.uniform(0.75, 1.0)), noise_sd=float(rng.uniform(3, 8)),
        bh_water=float(rng.uniform(0.012, 0.022)), bh_residual=float(rng.uniform(0.0, 0.04)),
        bh_bone=float(rng.uniform(0.04, 0.10)), dental=bool(rng.uniform() < 0.3))


@lru_cache(maxsize=2)
def _projector(n: int, views: int) -> tuple[sparse.csc_matrix, Arr, int]:
    """Parallel-beam projector of an n x n grid of unit pixels (only those inside the inscribed
    circle, whose flat indices are returned) and the number of detector bins per view.

    Each pixel's shadow on the detector is a box of width |cos| + |sin| (bins) centred on its
    projected centre, shared among the (at most three) bins it overlaps in proportion to the
    overlap (a distance-driven footprint: no moire from pixel-driven splatting); entries are
    path lengths in pixels."""
    c = np.arange(n) - (n - 1) / 2
    xx, yy = np.meshgrid(c, c)
    inside = (xx * xx + yy * yy) <= (n / 2) ** 2
    flat = np.flatnonzero(inside)
    xs, ys = xx.ravel()[flat], yy.ravel()[flat]
    theta = np.arange(views) * (np.pi / views)
    bins = int(math.ceil(n * math.sqrt(2))) + 4
    cos, sin = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    width = (np.abs(cos) + np.abs(sin))[None, :]
    base = (np.arange(views, dtype=np.int32) * bins)[None, :, None]
    rows = np.empty((len(flat), views, 3), np.int32)
    data = np.empty((len(flat), views, 3), np.float32)
    step = 4096  # pixels per block: bounded temporaries
    for i in range(0, len(flat), step):
        u = (np.outer(xs[i:i + step], cos) + np.outer(ys[i:i + step], sin)
             + np.float32((bins - 1) / 2))
        lo, hi = u - width / 2, u + width / 2
        k = np.floor(lo + 0.5).astype(np.int32)[:, :, None] + np.arange(3, dtype=np.int32)
        overlap = np.minimum(hi[:, :, None], k + 0.5) - np.maximum(lo[:, :, None], k - 0.5)
        rows[i:i + step] = base + k
        data[i:i + step] = np.clip(overlap, 0, None) / width[:, :, None]
    ptr = np.arange(len(flat) + 1, dtype=np.int64) * 3 * views
    mat = sparse.csc_matrix((data.ravel(), rows.ravel(), ptr), shape=(views * bins, len(flat)))
    return mat, flat, bins


def _ramp_filter(bins: int, kind: str, cutoff: float) -> Arr:
    """Frequency response (rfft layout) of the band-limited ramp (Kak & Slaney) and window."""
    pad = 1 << int(math.ceil(math.log2(2 * bins)))
    n = np.concatenate([np.arange(0, pad // 2 + 1), np.arange(-pad // 2 + 1, 0)])
    h = np.zeros(pad)
    h[0] = 0.25
    odd = n % 2 == 1
    h[odd] = -1.0 / (np.pi * n[odd]) ** 2
    ramp = np.real(np.fft.rfft(h))
    f = np.fft.rfftfreq(pad) / (0.5 * cutoff)  # 1 at the cut-off
    window = {"ramlak": np.ones_like(f), "shepplogan": np.sinc(f / 2),
              "cosine": np.cos(np.pi * f / 2), "hann": 0.5 * (1 + np.cos(np.pi * f))}[kind]
    return np.asarray(ramp * window * (f <= 1.0))


def _fbp(sino: Arr, scan: _Scan, pixels: Arr | None = None) -> Arr:
    """Filtered back-projection of sinograms (views * bins, slices) in pixel units -> (pixels
    inside the circle, or only ``pixels`` of them, slices), attenuation per pixel."""
    mat, _, bins = _projector(scan.recon, scan.views)
    resp = _ramp_filter(bins, scan.kernel, scan.cutoff)
    pad = 2 * (len(resp) - 1)
    q = np.empty(sino.shape, np.float32)
    for i in range(0, sino.shape[1], 8):  # a few slices at a time: bounded FFT buffers
        s = sino[:, i:i + 8].reshape(scan.views, bins, -1)
        f = np.fft.irfft(np.fft.rfft(s, n=pad, axis=1) * resp[None, :, None], n=pad, axis=1)
        q[:, i:i + 8] = f[:, :bins, :].reshape(scan.views * bins, -1)
    back = mat if pixels is None else mat[:, pixels]
    return np.asarray(back.T @ q) * np.float32(np.pi / scan.views)


def _water_correct(p: Arr, scan: _Scan) -> Arr:
    """The scanner's water beam-hardening correction (inverse of its own quadratic model)."""
    c = scan.bh_water * (1 - scan.bh_residual)
    return np.asarray((1 - np.sqrt(np.clip(1 - 4 * c * p, 0.05, None))) / (2 * c))


def _sample(vol: Arr, head: _Head, pts: Arr, order: int, cval: float) -> Arr:
    """Sample a head-grid volume at head-frame points (3, n) (mm)."""
    idx = np.stack([(pts[2] - head.z[0]) / head.h, (pts[1] - head.y[0]) / head.h,
                    (pts[0] - head.x[0]) / head.h])
    return np.asarray(ndimage.map_coordinates(vol, idx, order=order, cval=cval,
                                              prefilter=False))


def _slice_points(scan: _Scan, n: int, z: float, flat: Arr | None = None) -> Arr:
    """Head-frame points (3, k) of the pixel centres of an n x n scanner slice at height z."""
    c = (np.arange(n) - (n - 1) / 2) * (scan.fov / n)
    xx, yy = np.meshgrid(c, c)
    xs, ys = xx.ravel(), yy.ravel()
    if flat is not None:
        xs, ys = xs[flat], ys[flat]
    s = np.stack([xs, ys, np.full(xs.shape, z)]) - np.array(scan.offset)[:, None]
    return np.asarray(scan.rotation.T @ s + np.array(scan.pivot)[:, None])


def _acquire(head: _Head, scan: _Scan, slices_z: Arr, seed: int) -> tuple[Arr, float]:
    """Reconstructed slices (len(slices_z), recon, recon) in HU and the photons per ray."""
    rng = np.random.default_rng([seed, 60])
    mat, flat, bins = _projector(scan.recon, scan.views)
    pix = scan.fov / scan.recon
    nz, ns = len(slices_z), scan.sub
    cols = np.zeros((len(flat), 2 * nz), np.float32)  # per slice: attenuation, bone excess
    offsets = ((np.arange(ns) + 0.5) / ns - 0.5) * scan.thickness
    for i, zc in enumerate(slices_z):
        for dz in offsets:  # thin sub-slices averaged into the slice (partial volume)
            hu = _sample(head.hu, head, _slice_points(scan, scan.recon, zc + dz, flat), 1,
                         -1000.0)
            cols[:, i] += np.maximum(1 + hu / 1000.0, 0.0)
            cols[:, nz + i] += np.maximum(hu - 250.0, 0.0) / 1000.0
    cols *= np.float32(_MU_WATER * pix / ns)
    line = mat @ cols
    del cols

    def hardened(i: int) -> Arr:
        """Measured (polychromatic) line integrals of slice i: a quadratic water term and a
        quadratic term on the bone line integral."""
        p, b = line[:, i], line[:, nz + i]
        return np.asarray(np.maximum(p - scan.bh_water * p * p - scan.bh_bone * b * b, 0.0))

    # dose: photons per ray so that the noise SD in brain at mid-height is scan.noise_sd
    ref = int(np.argmin(np.abs(slices_z - np.percentile(slices_z, 60))))
    pm = hardened(ref)
    slope = 1 / np.sqrt(np.clip(1 - 4 * scan.bh_water * (1 - scan.bh_residual) * pm, 0.05, None))
    sd_unit = np.sqrt(np.exp(pm)) * slope
    tissue = _sample(head.tissue, head, _slice_points(scan, scan.recon, slices_z[ref], flat), 0,
                     0.0)
    brain = np.flatnonzero(np.isin(tissue, _PARENCHYMA))
    probe = brain[::max(1, len(brain) // 3000)] if len(brain) > 50 else np.arange(len(flat))
    unit = _fbp((sd_unit * rng.standard_normal(len(sd_unit)))[:, None].astype(np.float32), scan,
                probe)[:, 0]
    sd1 = float(np.std(unit)) * 1000 / (_MU_WATER * pix)
    photons = (sd1 / scan.noise_sd) ** 2
    sino = np.empty((line.shape[0], nz), np.float32)
    for i in range(nz):
        counts = rng.poisson(photons * np.exp(-hardened(i)))
        noisy = np.log(photons / np.maximum(counts, 0.5))
        sino[:, i] = _water_correct(noisy, scan)
    recon = _fbp(sino, scan)
    out = np.full((nz, scan.recon * scan.recon), -1024.0, np.float32)
    out[:, flat] = (1000.0 * (recon / (_MU_WATER * pix) - 1.0)).T
    return out.reshape(nz, scan.recon, scan.recon), photons


def _coverage(head: _Head, scan: _Scan) -> tuple[_Scan, Arr]:
    """Fit the head in the field of view (shrinking the offset, widening the FOV if needed) and
    place slices from below the foramen magnum to above the vertex; returns slice centres."""
    pts = np.argwhere(head.tissue[::3, ::3, ::3] != _T["air"]) * 3
    pivot = np.array(scan.pivot) * head.scale
    body = np.stack([head.x[pts[:, 2]], head.y[pts[:, 1]], head.z[pts[:, 0]]]) - pivot[:, None]
    rot = scan.rotation
    cover = rot @ body
    z_lo = float((rot @ (np.array([0.0, 15.0, -8.0]) * head.scale - pivot))[2])
    z_hi = float(cover[2].max()) + 1.0
    cover = cover[:, (cover[2] > z_lo - scan.thickness) & (cover[2] < z_hi)]
    for shrink in (1.0, 0.5, 0.0):
        off = (scan.offset[0] * shrink, scan.offset[1] * shrink, 0.0)
        r = float(np.hypot(cover[0] + off[0], cover[1] + off[1]).max())
        if r <= scan.fov / 2 - 4:
            break
    fov = max(scan.fov, 2 * (r + 4))
    n = int(math.ceil((z_hi - z_lo) / scan.thickness))
    centres = z_lo + (np.arange(n) + 0.5) * scan.thickness
    fitted = _Scan(**{**scan.__dict__, "fov": fov, "offset": off,
                      "pivot": (float(pivot[0]), float(pivot[1]), float(pivot[2]))})
    return fitted, centres


def _labels(head: _Head, scan: _Scan, slices_z: Arr, matrix: int) -> tuple[Arr, Arr, Arr]:
    """Tissue, region and blood maps (z, y, x) at the slice centres on the output matrix."""
    code = (head.tissue.astype(np.int32) | (head.region.astype(np.int32) << 5)
            | (head.blood.astype(np.int32) << 10))
    out = np.empty((len(slices_z), matrix, matrix), np.int32)
    for i, zc in enumerate(slices_z):
        out[i] = _sample(code, head, _slice_points(scan, matrix, float(zc)), 0,
                         0.0).reshape(matrix, matrix)
    return ((out & 31).astype(np.uint8), ((out >> 5) & 31).astype(np.uint8),
            ((out >> 10) & 31).astype(np.uint8))


def _resample(img: Arr, matrix: int, fov: float) -> Arr:
    """Recon slices (z, n, n) -> (z, matrix, matrix) over the same FOV (linear), air outside
    the reconstruction circle."""
    n = img.shape[1]
    if n == matrix:
        return img
    c = (np.arange(matrix) - (matrix - 1) / 2) * (n / matrix) + (n - 1) / 2
    yy, xx = np.meshgrid(c, c, indexing="ij")
    out = np.empty((img.shape[0], matrix, matrix), np.float32)
    for i in range(img.shape[0]):
        out[i] = ndimage.map_coordinates(img[i], [yy, xx], order=1, cval=-1024.0)
    r = np.hypot(*(((np.arange(matrix) - (matrix - 1) / 2) * fov / matrix)[:, None],
                   ((np.arange(matrix) - (matrix - 1) / 2) * fov / matrix)[None, :]))
    out[:, r > fov / 2 - fov / n] = -1024.0
    return out


def _abc2(mask: Arr, spacing: tuple[float, float, float]) -> float | None:
    """ABC/2 (mL) of the largest connected component of ``mask`` (Kothari's slice weighting)."""
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == int(np.argmax(sizes)) + 1
    areas = comp.sum(axis=(1, 2))
    k = int(np.argmax(areas))
    pts = np.argwhere(comp[k]).astype(float) * [spacing[1], spacing[2]]
    if len(pts) > 600:
        pts = pts[np.linspace(0, len(pts) - 1, 600).astype(int)]
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
    a = math.sqrt(float(d2[i, j])) + spacing[1]
    axis = (pts[j] - pts[i]) / max(a - spacing[1], 1e-6)
    perp = pts @ np.array([-axis[1], axis[0]])
    b = float(perp.max() - perp.min()) + spacing[1]
    weights = np.where(areas >= 0.75 * areas[k], 1.0, np.where(areas >= 0.25 * areas[k], 0.5,
                                                                  0.0))
    c = float(weights.sum()) * spacing[0]
    return a * b * c / 2 / 1000.0


def _midline_shift(masses: Sequence[_Mass], gain: float, scale: tuple[float, float, float]
                   ) -> float:
    """Lateral displacement (mm) of the septum pellucidum at the foramina of Monro."""
    if not masses:
        return 0.0
    target = np.array([0.0, -5.0 * scale[1], 66.0 * scale[2]])
    p = target.copy()
    for _ in range(12):
        u = _mass_displacement(p[:1], p[1:2], p[2:], masses, gain)
        p = target - np.array([float(u[0][0]), float(u[1][0]), float(u[2][0])])
    return abs(float(p[0]))


def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, Arr, Arr]:
    """Render one case: the NCCT volume (HU, (z, y, x)), the ASPECTS region map (uint8: 1-10 on
    the patient's left, 11-20 on the right) and the tissue map (index in :data:`TISSUES`)."""
    subj = _subject(np.random.default_rng([seed, 1]))
    scan = _draw_scan(seed, matrix)
    plans = _plan_bleeds(label, subj, seed)
    masses = _masses(plans)
    gain = _mass_gain(plans, masses, subj, seed)
    spacing = float(np.clip(scan.fov / matrix, _HEAD_GRID_MM, 2.0))
    head, deform_mm = _make_head(subj, np.random.default_rng([seed, 4]), spacing, masses, gain)
    rng = np.random.default_rng([seed, 5])
    supra, fossa = _cavities(rng)
    cav, upper, lower = _paint_skull(head, subj, rng, supra, fossa)
    depth = _paint_brain(head, subj, rng, cav, supra, fossa, (upper, lower))
    del upper, lower
    deep = _deep(subj, rng)
    _paint_deep(head, subj, deep)
    _paint_base(head, subj)
    contrast = "residual_contrast" in label.mimics
    crng = np.random.default_rng([seed, 7])
    hu_art = float(crng.uniform(80, 200) if contrast else crng.uniform(40, 46))
    hu_ven = float(crng.uniform(80, 180) if contrast else crng.uniform(48, 58))
    _paint_vessels(head, subj, cav, hu_art, hu_ven)
    if contrast:
        head.hu[head.tissue == _T["choroid_plexus"]] = float(crng.uniform(80, 150))
    _paint_regions(head, subj, deep, depth)
    del depth
    par = np.isin(head.tissue, _PARENCHYMA)
    head.hu[par] += 1.2 * _smooth_field(rng, head.x, head.y, head.z, 16)[par]
    placed = _paint_mimics(head, subj, deep, label.mimics, seed)
    gravity = scan.rotation.T @ np.array([0.0, 1.0, 0.0])
    for plan in plans:
        _paint_bleed(head, plan, cav, gravity, seed)
    del cav
    delta = None
    if label.ischaemic_regions:
        delta = float(np.random.default_rng([seed, 6]).uniform(2, 6))
        _ischaemia(head, label, delta)
    if scan.dental:
        for sgn in (1, -1):
            head.fill(_blob((sgn * 17.0, -72.0, -6.0), (2.5, 3.0, 2.0)), "metal", 14000.0,
                      brain=False)
    scan, slices_z = _coverage(head, scan)
    recon, photons = _acquire(head, scan, slices_z, seed)
    volume = np.clip(np.rint(_resample(recon, matrix, scan.fov)), -1024, 3071).astype(np.int16)
    tissue, region, blood = _labels(head, scan, slices_z, matrix)
    pix = scan.fov / matrix
    spacing_mm = (scan.thickness, pix, pix)
    voxel_ml = scan.thickness * pix * pix / 1000.0
    half = (matrix - 1) / 2 * pix
    iph = blood == BLEED_KINDS.index("intraparenchymal") + 1
    details: dict[str, Any] = {
        "kernel": scan.kernel.upper(), "filter_cutoff": round(scan.cutoff, 3),
        "origin_mm": (-half, -half, float(slices_z[0])),
        "ischaemic_delta_hu": delta,
        "bleed_volumes_ml": {k: float((blood == i + 1).sum()) * voxel_ml
                             for i, k in enumerate(BLEED_KINDS) if k in label.bleeds},
        "bleed_target_ml": {p.kind: round(p.volume_ml, 2) for p in plans if p.volume_ml > 0},
        "bleed_sites": {p.kind: {"side": "left" if p.side > 0 else "right",
                                 **{k: v for k, v in p.shape.items()
                                    if k in ("site", "mode", "pattern")}} for p in plans},
        "largest_iph_abc2_ml": _abc2(iph, spacing_mm) if iph.any() else None,
        "midline_shift_mm": round(_midline_shift(masses, gain, subj.scale), 2),
        "pitch_deg": scan.pose[0], "yaw_deg": scan.pose[1], "roll_deg": scan.pose[2],
        "offset_mm": scan.offset, "fov_mm": scan.fov, "slice_thickness_mm": scan.thickness,
        "noise_sd_hu": round(scan.noise_sd, 2), "photons_per_ray": round(photons, 1),
        "views": scan.views, "recon_matrix": scan.recon, "sub_slices": scan.sub,
        "beam_hardening": {"water": scan.bh_water, "residual": scan.bh_residual,
                           "bone": scan.bh_bone},
        "dental_metal": scan.dental, "age": round(subj.age, 1),
        "atrophy": round(subj.atrophy, 3), "ventricle_scale": round(subj.vent, 3),
        "third_ventricle_mm": round(subj.third_mm, 2), "skull_mm": round(subj.skull_mm, 2),
        "grey_hu": subj.grey, "white_hu": subj.white, "csf_hu": subj.csf,
        "deformation_mm": round(deform_mm, 2), "mimics_placed": placed,
        "head_grid_mm": head.h}
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                    spacing_mm=spacing_mm, blood_mask=blood, details=details)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]
