"""Geometric NCCT family: a head atlas of superellipsoids and their boolean combinations.

Anatomy (head frame, mm, LPS: x to the patient's left, y posterior, z up; origin near the
foramen of Monro):

- intracranial cavity: a superellipsoid cut by a skull-base floor (anterior, middle and posterior
  fossae), inside an ellipsoidal skull shell of drawn thickness (outer/inner tables, diploe,
  coronal and lambdoid sutures), scalp with a fat layer; below the floor the skull base, orbits,
  sphenoid sinus and the petrous bones with mastoid air cells;
- brain: the cavity less a subarachnoid gap; a 2-4 mm grey cortical shell with sulci carved by
  mirrored pairs of wobbly planar grooves; interhemispheric fissure with the falx;
- ventricles: lateral ventricles as curved tubes (frontal horn, body, atrium, occipital and
  temporal horns, cross-sections interpolated along y), a slit third ventricle, fourth ventricle;
- deep grey: caudate head (ellipsoid lateral to the frontal horn), lentiform (biconvex lens),
  thalamus (ellipsoid); internal capsule as the wedge medial to the lens; insular ribbon as a
  thin curved sheet with the Sylvian fissure lateral to it; brainstem, cisterns, cerebellum;
- ASPECTS regions: C, L, IC, I as the structures above; M1-M3 the anterior, lateral and
  posterior sectors (angle about the vertical axis) of the outer 25 mm of the hemisphere at the
  ganglionic level, M4-M6 the same sectors at the supraganglionic level.

Physics: partial volume by averaging three samples across each slice, Gaussian kernel blur,
beam-hardening cupping (HU rising towards the inner table), white noise filtered by a small
Gaussian (correlated texture), and for the streak mimic bright/dark radial lines from the
petrous bones with a dark band between them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "geometric"

Arr = NDArray[Any]
Vec = tuple[float, float, float]
Pts = tuple[Arr, ...]  # x, y, z coordinate arrays (mm)

FULL_MATRIX = 512
FULL_PIXEL_MM = 0.45
SUBSAMPLES = (-1.0 / 3.0, 0.0, 1.0 / 3.0)  # sample offsets across a slice, in slice thicknesses
CHUNK_VOXELS = 2_400_000  # samples evaluated at once (bounds memory)
KERNELS = (("H30s", 0.75), ("Hr38", 0.6), ("J40s", 0.5), ("FC21", 0.85))  # name, blur sigma mm
GANGLIONIC_Z = (-6.0, 16.0)  # head-frame z range of M1-M3, mm
SUPRAGANGLIONIC_Z = (22.0, 50.0)  # head-frame z range of M4-M6, mm
SECTORS_DEG = ((35.0, 70.0), (70.0, 110.0), (110.0, 150.0))  # anterior, lateral, posterior
M_DEPTH_MM = 25.0  # depth of the M regions below the brain surface
# Lateral ventricle centreline along y (head frame): centre x (lateral), z, radii x, z (mm).
LV_Y = (-34.0, -22.0, -6.0, 12.0, 26.0, 34.0, 48.0)
LV_X = (5.0, 6.0, 6.5, 8.5, 17.0, 20.0, 16.0)
LV_Z = (12.0, 15.0, 18.0, 18.0, 13.0, 10.0, 8.0)
LV_RX = (2.0, 4.5, 4.0, 4.0, 6.0, 5.0, 1.5)
LV_RZ = (4.0, 7.0, 4.5, 4.5, 7.0, 5.0, 2.0)
TH_Y = (-14.0, 0.0, 14.0, 26.0)  # temporal horn, same columns
TH_X = (27.0, 29.0, 28.0, 20.0)
TH_Z = (-20.0, -16.0, -8.0, 8.0)
TH_RX = (2.0, 2.5, 2.5, 4.0)
TH_RZ = (2.5, 3.0, 3.0, 5.0)


def _sig(v: Arr, width: float) -> Arr:
    """Smooth step from 0 to 1 over about ``width`` mm."""
    return 1.0 / (1.0 + np.exp(-v / width))


def _ell(p: Pts, c: Vec, axes: Vec) -> Arr:
    """Squared ellipsoid level: < 1 inside the ellipsoid of centre ``c`` and semi-axes ``axes``."""
    return ((p[0] - c[0]) / axes[0]) ** 2 + ((p[1] - c[1]) / axes[1]) ** 2 + \
        ((p[2] - c[2]) / axes[2]) ** 2


def _segment_distance(p: Pts, a: Vec, b: Vec) -> Arr:
    """Distance (mm) from points to the segment a-b."""
    ab = np.subtract(b, a)
    t = ((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1] + (p[2] - a[2]) * ab[2]) / float(ab @ ab)
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(np.sqrt((p[0] - a[0] - t * ab[0]) ** 2 + (p[1] - a[1] - t * ab[1]) ** 2
                              + (p[2] - a[2] - t * ab[2]) ** 2))


def _rotation(pitch: float, yaw: float, roll: float) -> Arr:
    """Head-to-scanner rotation for angles in degrees (pitch about x, roll about y, yaw about z)."""
    p, r, y = (math.radians(v) for v in (pitch, roll, yaw))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


@dataclass
class _Sulcus:
    """A groove: points with |n·(q-p) + wobble| < half_width, |t·(q-p)| < half_length, shallow."""

    point: Arr
    normal: Arr
    tangent: Arr
    half_length: float
    depth: float
    half_width: float
    wobble_amp: float
    wobble_k: float


@dataclass
class _Blob:
    """An ellipsoid (optionally lobulated) of one HU value."""

    centre: Vec
    axes: Vec
    hu: float
    lobes: tuple[tuple[float, float, float, float], ...] = ()  # (ux, uy, uz, amplitude)


class _Head:
    """All drawn parameters of one head and the tissue model evaluated at sample points."""

    def __init__(self, streams: tuple[np.random.Generator, np.random.Generator,
                                      np.random.Generator], label: NcctLabel) -> None:
        rng, lesion_rng, mimic_rng = streams  # apart: a label leaves the anatomy unchanged
        u = rng.uniform
        self.label = label
        self.pose = {"pitch_deg": u(-15, 15), "yaw_deg": u(-15, 15), "roll_deg": u(-15, 15)}
        self.rot = _rotation(self.pose["pitch_deg"], self.pose["yaw_deg"], self.pose["roll_deg"])
        self.translation = np.array([u(-4, 4), u(-6, 6), 0.0])
        self.cavity_axes: Vec = (u(64, 72), u(82, 92), u(56, 64))
        self.cavity_centre: Vec = (0.0, u(2, 8), u(6, 12))
        self.cavity_low_c = u(75, 90)
        self.exponent = u(2.3, 2.8)
        self.skull_mm = u(5.0, 8.0)
        self.scalp_mm = u(4.0, 7.0)
        self.sas_mm = u(1.0, 2.5)  # subarachnoid gap (atrophy)
        self.cortex_mm = u(2.5, 4.0)
        self.vent_scale = u(0.85, 1.4)
        self.third_mm = u(1.2, 3.0)
        self.fissure_mm = u(1.2, 2.5)
        self.sylvian_mm = u(1.5, 3.0)
        self.gm = u(35.0, 40.0)
        self.wm = self.gm - u(8.0, 11.0)
        self.csf = u(2.0, 8.0)
        self.table_hu = u(1100, 1500)
        self.diploe_hu = u(350, 700)
        self.cupping_hu = u(2.0, 5.0)
        self.coronal_y = u(-18, -8)
        self.lambdoid_y = u(52, 62)
        self.sulci = self._draw_sulci(rng)
        self.shift_mm = 0.0
        self.shift_dir = 0.0
        self.isch_delta = lesion_rng.uniform(2.0, 6.0) if label.ischaemic_regions else 0.0
        self.isch_gw_loss = lesion_rng.uniform(0.5, 0.85) if label.ischaemic_regions else 0.0
        self.isch_side = {"left": 1.0, "right": -1.0}.get(label.ischaemic_side, 0.0)
        self.bleeds: list[dict[str, Any]] = []
        self._draw_bleeds(lesion_rng)
        self.calcs: list[_Blob] = []
        self.segments: list[tuple[Vec, Vec, float, float]] = []  # a, b, radius mm, HU
        self.mimic_details: dict[str, Any] = {}
        self.residual = "residual_contrast" in label.mimics
        self.streak_angles = self.streak_amps = np.zeros((2, 0))
        self._draw_vessels_and_mimics(mimic_rng)

    # ---- drawing -------------------------------------------------------------------------------
    def _surface_point(self, direction: Arr) -> Arr:
        """Point of the cavity surface along ``direction`` from the cavity centre."""
        a = self.cavity_axes
        low = direction[2] < 0
        c = self.cavity_low_c if low else a[2]
        level = (abs(direction[0] / a[0]) ** self.exponent + abs(direction[1] / a[1])
                 ** self.exponent + abs(direction[2] / c) ** self.exponent) ** (1 / self.exponent)
        return np.asarray(np.asarray(self.cavity_centre) + direction / level)

    def _draw_sulci(self, rng: np.random.Generator) -> list[_Sulcus]:
        """Mirrored pairs of grooves over the convexity (a few dozen in all)."""
        out: list[_Sulcus] = []
        for _ in range(int(rng.integers(36, 48))):
            d = rng.normal(size=3)
            d[0] = abs(d[0]) + 0.15
            d[2] = abs(d[2]) * 1.2 - 0.25
            d /= np.linalg.norm(d)
            p = self._surface_point(d)
            n = np.cross(d, rng.normal(size=3))
            n /= np.linalg.norm(n)
            t = np.cross(d, n)
            shape = (rng.uniform(15, 35), rng.uniform(9, 18), rng.uniform(0.5, 1.0),
                     rng.uniform(0.5, 2.5), rng.uniform(0.1, 0.35))
            for mirror in (1.0, -1.0):
                m = np.array([mirror, 1.0, 1.0])
                jitter = rng.normal(0, 1.5, 3) if mirror < 0 else np.zeros(3)
                out.append(_Sulcus(p * m + jitter, n * m, t * m, *shape))
        return out

    def _draw_bleeds(self, rng: np.random.Generator) -> None:
        """Positions, sizes and HU of the labelled haemorrhages; midline shift from their mass."""
        u = rng.uniform
        shift = 0.0
        for kind in self.label.bleeds:
            side = float(rng.choice((-1.0, 1.0)))
            b: dict[str, Any] = {"kind": kind, "side": "left" if side > 0 else "right"}
            if kind == "intraparenchymal":
                deep = rng.random() < 0.5
                vol = float(np.exp(u(np.log(4), np.log(45 if deep else 60))))
                if deep:
                    c = (side * u(20, 26), u(-10, 0), u(0, 8))
                else:
                    ang = math.radians(u(40, 140))
                    c = (side * 45 * math.sin(ang), -45 * math.cos(ang) - 2, u(24, 40))
                r = (3 * vol * 1000 / (4 * math.pi)) ** (1 / 3)
                ax = np.array([u(0.8, 1.25), u(0.8, 1.25), u(0.7, 1.1)])
                ax = r * ax / np.prod(ax) ** (1 / 3)
                lobes = tuple((*(v / np.linalg.norm(v)), u(0.05, 0.15))
                              for v in rng.normal(size=(int(rng.integers(2, 5)), 3)))
                b.update(location="basal ganglia" if deep else "lobar", centre_head_mm=c,
                         blob=_Blob(c, (float(ax[0]), float(ax[1]), float(ax[2])),
                                    u(60, 85), lobes),
                         oedema_hu=u(5, 9), oedema_mm=u(2, 5))
                a_cm, b_cm = 2 * max(ax[0], ax[1]) / 10, 2 * min(ax[0], ax[1]) / 10
                b.update(abc_cm=(float(a_cm), float(b_cm), float(2 * ax[2] / 10)))
                shift += float(np.clip((vol - 20) * 0.15, 0, 10)) * -side
            elif kind == "intraventricular":
                b.update(location="ventricles", hu=u(55, 75), level_mm=u(2, 10),
                         cast_third=bool(rng.random() < 0.5))
            elif kind == "subarachnoid":
                basal = rng.random() < 0.5
                c = (0.0, -10.0, -12.0) if basal else (side * 40, -4.0, 4.0)
                b.update(location="basal cisterns" if basal else "sylvian fissure",
                         centre_head_mm=c, radius_mm=u(30, 45), hu=u(55, 75))
            else:
                sdh = kind == "subdural"
                ang = math.radians(u(60, 110) if sdh else u(80, 110))
                z = u(10, 35) if sdh else u(0, 25)
                d = np.array([side * math.sin(ang), -math.cos(ang), z / 60])
                thick = u(5, 18) if sdh else u(8, 22)
                b.update(location="convexity" if sdh else "temporoparietal",
                         direction=d / np.linalg.norm(d), thickness_mm=thick,
                         extent_rad=u(0.8, 1.2) if sdh else u(0.45, 0.7),
                         hu=u(55, 80) if sdh else u(60, 85))
                shift += max(0.0, (thick - 7) * 0.7) * -side
            self.bleeds.append(b)
        self.shift_mm = float(min(abs(shift), 15.0))
        self.shift_dir = float(np.sign(shift))

    def _draw_vessels_and_mimics(self, rng: np.random.Generator) -> None:
        """Normal vessels (about 42 HU), calcifications, hyperdense MCA, residual contrast."""
        u = rng.uniform
        m = self.label.mimics
        tree: list[tuple[Vec, Vec]] = [((0.0, -2.0, -42.0), (0.0, -2.0, -14.0))]
        for s in (1.0, -1.0):
            tree += [((12 * s, -10.0, -20.0), (12 * s, -10.0, -8.0)),
                     ((12 * s, -10.0, -8.0), (38 * s, -6.0, -4.0)),
                     ((38 * s, -6.0, -4.0), (42 * s, 10.0, 8.0)),
                     ((12 * s, -10.0, -8.0), (2 * s, -20.0, -6.0)),
                     ((1.5 * s, -20.0, -6.0), (1.5 * s, -36.0, 22.0)),
                     ((0.0, -2.0, -14.0), (20 * s, 15.0, -8.0))]
        vessel_hu = u(150, 300) if self.residual else u(38, 46)
        self.segments = [(a, b, 1.5, vessel_hu) for a, b in tree]
        if "hyperdense_vessel" in m:
            s = float(rng.choice((-1.0, 1.0)))
            hu = u(55, 70)
            self.segments.append(((12 * s, -10.0, -8.0), (38 * s, -6.0, -4.0), 2.0, hu))
            self.mimic_details["hyperdense_vessel"] = {"side": "left" if s > 0 else "right",
                                                       "segment": "M1", "hu": hu}
        if self.residual:
            self.mimic_details["residual_contrast"] = {"vessel_hu": vessel_hu,
                                                       "cortex_gain_hu": u(4, 8),
                                                       "sinus_hu": u(120, 200)}
        blobs: dict[str, list[_Blob]] = {
            "choroid_plexus_calcification": [
                _Blob((s * 18.5, 28.0, 13.0), (r, r, r), u(150, 350))
                for s in (1.0, -1.0) for r in (u(2.5, 3.5),)],
            "pineal_calcification": [_Blob((0.0, 16.0, 5.0), (u(2.5, 3.5),) * 3, u(150, 300))],
            "basal_ganglia_calcification": [
                _Blob((s * 19.0, -4.0, 3.0), (r, 1.4 * r, r), u(110, 250))
                for s in (1.0, -1.0) for r in (u(2.0, 3.5),)],
            "falx_calcification": [_Blob((0.0, u(-30, 20), u(40, 52)), (1.0, u(4, 8), u(2, 4)),
                                         u(200, 500))],
        }
        for name, bl in blobs.items():
            if name in m:
                self.calcs += bl
                self.mimic_details[name] = [
                    {"centre_head_mm": b.centre, "hu": b.hu,
                     "centre_lps_mm": [float(v) for v in self.to_scanner(b.centre)]} for b in bl]
        if "streak_artefact" in m:
            self.mimic_details["streak_artefact"] = {
                "lines": int(rng.integers(10, 20)), "amplitude_hu": u(40, 120),
                "width_mm": u(0.6, 1.4), "bar_hu": -u(15, 40)}
            lines = self.mimic_details["streak_artefact"]["lines"]
            signs = np.where(np.arange(lines) % 2 == 0, 1.0, -1.0)
            self.streak_angles = rng.uniform(0, math.pi, (2, lines))  # per petrous apex, rad
            self.streak_amps = u(0.4, 1.0, (2, lines)) * signs  # fractions of amplitude_hu

    # ---- geometry ------------------------------------------------------------------------------
    def to_head(self, ps: Pts) -> Pts:
        """Scanner LPS mm to head-frame mm."""
        r = self.rot
        x, y, z = (ps[i] - self.translation[i] for i in range(3))
        return (r[0, 0] * x + r[1, 0] * y + r[2, 0] * z, r[0, 1] * x + r[1, 1] * y + r[2, 1] * z,
                r[0, 2] * x + r[1, 2] * y + r[2, 2] * z)

    def to_scanner(self, ph: Vec) -> Arr:
        """Head-frame mm to scanner LPS mm."""
        return np.asarray(self.rot @ np.asarray(ph) + self.translation)

    def _level(self, x: Arr, y: Arr, z: Arr, grow: float) -> tuple[Arr, Arr]:
        """Superellipsoid level of the cavity grown by ``grow`` mm, and the radius from its
        centre (level < 1 inside)."""
        a, c0, e = self.cavity_axes, self.cavity_centre, self.exponent
        dx, dy, dz = x - c0[0], y - c0[1], z - c0[2]
        cz = np.where(dz > 0, a[2] + grow, self.cavity_low_c + grow)
        lev = (np.abs(dx / (a[0] + grow)) ** e + np.abs(dy / (a[1] + grow)) ** e
               + np.abs(dz / cz) ** e) ** (1 / e)
        return lev, np.sqrt(dx * dx + dy * dy + dz * dz)

    @staticmethod
    def _floor(x: Arr, y: Arr) -> Arr:
        """Skull-base floor height z (mm): anterior, middle (sella centrally), posterior fossa."""
        w_post = _sig(y - 18.0, 4.0)
        w_ant = _sig(-y - 30.0, 4.0)
        w_lat = _sig(np.abs(x) - 16.0, 3.0)
        middle = -20.0 * (1 - w_lat) - 38.0 * w_lat
        return -18.0 * w_ant + (1 - w_ant) * (-52.0 * w_post + (1 - w_post) * middle)

    # ---- tissue model --------------------------------------------------------------------------
    def sample(self, ps: Pts) -> Pts:
        """HU (before blur and noise), blood code (0 or 1 + kind index) and ASPECTS region code
        (0, 1 + index for the left side, 11 + index for the right) at scanner points ``ps``."""
        shape = ps[0].shape
        hx, hy, hz = (a.reshape(-1) for a in self.to_head(ps))
        lev_scalp, _ = self._level(hx, hy, hz, self.skull_mm + self.scalp_mm)
        inside = np.flatnonzero(lev_scalp < 1)  # air elsewhere
        hu = np.full(hx.size, -1000.0, dtype=np.float32)
        blood = np.zeros(hx.size, dtype=np.uint8)
        region = np.zeros(hx.size, dtype=np.uint8)
        hu[inside], blood[inside], region[inside] = self._sample_head(
            tuple(a.reshape(-1)[inside] for a in ps), hx[inside], hy[inside], hz[inside])
        return hu.reshape(shape), blood.reshape(shape), region.reshape(shape)

    def _sample_head(self, ps: Pts, hx: Arr, hy: Arr, hz: Arr) -> tuple[Arr, Arr, Arr]:
        """:meth:`sample` at points inside the scalp (scanner ``ps`` and head-frame coordinates,
        flat arrays)."""
        n = hx.shape
        hu = np.full(n, 42.0, dtype=np.float32)
        lev_in, rad = self._level(hx, hy, hz, 0.0)
        floor = self._floor(hx, hy)
        with np.errstate(divide="ignore", invalid="ignore"):
            radial = rad * (1.0 / np.maximum(lev_in, 1e-3) - 1.0)  # + inside the inner table
        depth_in = np.minimum(radial, hz - floor)  # distance below the inner table, mm
        cavity = depth_in > 0
        lev_out, _ = self._level(hx, hy, hz, self.skull_mm)
        lev_scalp, _ = self._level(hx, hy, hz, self.skull_mm + self.scalp_mm)
        head = lev_scalp < 1
        # scalp: skin, fat, galea
        fat = head & (lev_scalp > 1 - 0.6 * self.scalp_mm / (self.cavity_axes[0] + 12))
        fat &= lev_out > 1 + 0.25 * self.scalp_mm / self.cavity_axes[0]
        hu[fat] = -85.0
        # skull shell with diploe and sutures; base plate below the floor
        bone = (lev_out < 1) & ~cavity & ((hz > floor - 9.0) | (lev_in >= 1))
        out_depth = -radial  # mm beyond the inner table
        mid = (out_depth > 0.3 * self.skull_mm) & (out_depth < 0.7 * self.skull_mm)
        hu[bone] = self.table_hu
        hu[bone & mid] = self.diploe_hu
        suture = bone & ((np.abs(hy - self.coronal_y) < 0.5) | (np.abs(hy - self.lambdoid_y) < 0.5))
        suture &= hz > 0
        hu[suture] = 250.0
        base = head & ~cavity & ~bone & (lev_out < 1)
        hu[base] = 40.0
        self._skull_base(hx, hy, hz, base, hu)
        # cavity: CSF, then brain
        hu[cavity] = self.csf
        depth = depth_in - self.sas_mm  # below the brain surface
        brain = depth > 0
        hu[brain] = self.wm
        hu[brain & (depth < self.cortex_mm)] = self.gm
        self._carve_sulci(hx, hy, hz, depth, brain, hu)
        qx = hx - self.shift_dir * self.shift_mm * np.exp(-(hx / 30.0) ** 2) * \
            np.clip((70.0 - hz) / 50.0, 0.0, 1.0)
        q = (qx, hy, hz)
        region = np.zeros(n, dtype=np.uint8)
        self._m_regions(q, depth, brain, hu, region)
        ventricle = np.zeros(n, dtype=bool)
        self._midline(q, depth, brain, hu, ventricle)
        # the deep structures live in a box: evaluate them on its voxels only
        deep = np.flatnonzero(cavity & (hz > -62) & (hz < 32) & (np.abs(qx) < 56)
                              & (hy > -50) & (hy < 66))
        qd = tuple(a.reshape(-1)[deep] for a in q)
        sub = [a.reshape(-1)[deep] for a in (depth, brain, hu, region, ventricle, cavity)]
        depth_d, brain_d, hu_d, region_d, ventricle_d, cavity_d = sub
        for side_index, s in enumerate((1.0, -1.0)):
            self._hemisphere(qd, s, side_index, brain_d, hu_d, region_d, ventricle_d)
        self._posterior_fossa(qd, brain_d, cavity_d, hu_d)
        for a, b, r, v in self.segments:
            hu_d[_segment_distance(qd, a, b) < r] = v
        hu.reshape(-1)[deep] = hu_d
        region.reshape(-1)[deep] = region_d
        ventricle.reshape(-1)[deep] = ventricle_d
        if self.residual:
            extra = self.mimic_details["residual_contrast"]
            hu[brain & (np.abs(hu - self.gm) < 0.01)] += extra["cortex_gain_hu"]
            sinus = cavity & (np.abs(hx) < 4) & (depth_in < 6) & (hz > 0) & (hy > -50)
            hu[sinus] = extra["sinus_hu"]
        self._ischaemia(hu, region, brain)
        blood = self._blood(q, ps, hx, hy, hz, depth_in, depth, cavity, brain, ventricle, hu)
        for blob in self.calcs:
            hu[_ell(q, blob.centre, blob.axes) < 1] = blob.hu
        hu[cavity] += self.cupping_hu * np.clip(lev_in[cavity], 0.0, 1.0) ** 4
        return hu, blood, region

    def _skull_base(self, x: Arr, y: Arr, z: Arr, base: Arr, hu: Arr) -> None:
        """Orbits, sphenoid sinus, petrous bones with mastoid air below the floor."""
        p = (x, y, z)
        hu[base & (_ell(p, (0.0, -12.0, -38.0), (11.0, 9.0, 8.0)) < 1)] = -950.0
        for s in (1.0, -1.0):
            hu[base & (_ell(p, (31 * s, -62.0, -30.0), (17.0, 16.0, 14.0)) < 1)] = -85.0
            hu[base & (_ell(p, (31 * s, -66.0, -30.0), (12.0, 12.0, 12.0)) < 1)] = 12.0
            petrous = base & (_segment_distance(p, (46 * s, 24.0, -40.0), (14 * s, -4.0, -36.0))
                              < 8.0)
            hu[petrous] = 1700.0
            mastoid = petrous & (_ell(p, (44 * s, 26.0, -42.0), (7.0, 7.0, 7.0)) < 1)
            hu[mastoid & ((np.sin(x * 1.3) * np.sin(y * 1.1) * np.sin(z * 1.7)) > 0.1)] = -600.0

    def _carve_sulci(self, x: Arr, y: Arr, z: Arr, depth: Arr, brain: Arr, hu: Arr) -> None:
        """CSF grooves with grey lining in the cortical band."""
        band = np.flatnonzero(brain & (depth < 20.0))
        if band.size == 0:
            return
        bx, by, bz, bd = x.ravel()[band], y.ravel()[band], z.ravel()[band], depth.ravel()[band]
        csf = np.zeros(band.size, dtype=bool)
        grey = np.zeros(band.size, dtype=bool)
        for s in self.sulci:
            rx, ry, rz = bx - s.point[0], by - s.point[1], bz - s.point[2]
            along = rx * s.tangent[0] + ry * s.tangent[1] + rz * s.tangent[2]
            near = np.flatnonzero((np.abs(along) < s.half_length + self.cortex_mm)
                                  & (bd < s.depth + self.cortex_mm))
            if near.size == 0:
                continue
            along = along[near]
            dist = np.abs(rx[near] * s.normal[0] + ry[near] * s.normal[1]
                          + rz[near] * s.normal[2] + s.wobble_amp * np.sin(s.wobble_k * along))
            taper = 1.0 - (along / (s.half_length + self.cortex_mm)) ** 2
            deep = s.depth * np.clip(taper, 0.0, 1.0)
            csf[near[(dist < s.half_width) & (bd[near] < deep)]] = True
            grey[near[(dist < s.half_width + self.cortex_mm)
                      & (bd[near] < deep + self.cortex_mm)]] = True
        flat = hu.reshape(-1)
        flat[band[grey]] = self.gm
        flat[band[csf]] = self.csf

    def _m_regions(self, q: Pts, depth: Arr, brain: Arr, hu: Arr, region: Arr) -> None:
        """M1-M6: anterior, lateral and posterior sectors of the outer hemisphere at the
        ganglionic and supraganglionic levels (sulcal CSF excluded)."""
        z = q[2]
        for lo_hi, names in ((GANGLIONIC_Z, ("M1", "M2", "M3")),
                             (SUPRAGANGLIONIC_Z, ("M4", "M5", "M6"))):
            idx = np.flatnonzero(brain & (depth < M_DEPTH_MM) & (z >= lo_hi[0]) & (z < lo_hi[1])
                                 & (np.abs(q[0]) > 3.0))
            x, y = q[0].reshape(-1)[idx], q[1].reshape(-1)[idx]
            theta = np.degrees(np.arctan2(np.abs(x), -(y + 2.0)))
            solid = np.abs(hu.reshape(-1)[idx] - self.csf) > 0.01
            for (a0, a1), name in zip(SECTORS_DEG, names, strict=True):
                code = 1 + ASPECTS_REGIONS.index(name) + np.where(x > 0, 0, 10)
                inside = solid & (theta >= a0) & (theta < a1)
                region.reshape(-1)[idx[inside]] = code[inside]

    def _hemisphere(self, q: Pts, s: float, side_index: int, brain: Arr, hu: Arr,
                    region: Arr, ventricle: Arr) -> None:
        """Deep nuclei, internal capsule, insula, Sylvian fissure and lateral ventricle of the
        hemisphere on side ``s`` (+1 left), with their ASPECTS region codes."""
        xl, y, z = s * q[0], q[1], q[2]
        p = (xl, y, z)
        codes = {name: 1 + i + 10 * side_index for i, name in enumerate(ASPECTS_REGIONS)}
        # insula ribbon and Sylvian fissure
        x_ins = 36.0 + 0.012 * (y + 5.0) ** 2 + 0.01 * (z - 4.0) ** 2
        span = brain & (y > -28) & (y < 18) & (z > -10) & (z < 20)
        ribbon = span & (np.abs(xl - x_ins) < 1.5)
        sylv = span & (((xl >= x_ins + 1.5) & (xl < x_ins + 1.5 + self.sylvian_mm))
                       | ((xl >= x_ins) & (np.abs(z - 4.0) < self.sylvian_mm / 2)))
        lining = span & (xl > x_ins + 1.5) & (xl < x_ins + 4.0 + self.sylvian_mm)
        lining |= span & (xl > x_ins) & (np.abs(z - 4.0) < self.sylvian_mm / 2 + self.cortex_mm)
        hu[lining] = self.gm
        hu[ribbon] = self.gm
        hu[sylv] = self.csf
        region[ribbon] = codes["I"]
        region[sylv] = 0
        # lentiform lens, caudate head, thalamus, internal capsule wedge
        half_t, face_r = 7.0, (15.0 ** 2 + 7.0 ** 2) / 14.0
        v, w = y + 5.0, (z - 4.0) * 15.0 / 11.0
        rr = v * v + w * w
        lens_half = np.sqrt(np.maximum(face_r ** 2 - rr, 0.0)) - (face_r - half_t)
        lens = brain & (np.abs(xl - 25.0) < lens_half)
        caudate = brain & (_ell(p, (13.5, -20.0, 13.0), (4.5, 9.0, 8.0)) < 1)
        thalamus = brain & (_ell(p, (9.0, 8.0, 5.0), (7.0, 13.0, 9.0)) < 1)
        medial = 25.0 - np.maximum(lens_half, 0.0)
        capsule = brain & (rr < 19.0 ** 2) & (lens_half > -2.0) & (xl < medial) \
            & (xl > medial - 6.0) & ~caudate & ~thalamus & (y > -26) & (y < 20)
        hu[capsule] = self.wm - 1.5
        hu[lens] = self.gm - 1.0
        hu[caudate] = self.gm - 0.5
        hu[thalamus] = self.gm - 2.0
        region[capsule] = codes["IC"]
        region[lens] = codes["L"]
        region[caudate] = codes["C"]
        region[thalamus] = 0
        # lateral ventricle: curved tube with cross-sections along y, and the temporal horn
        k = self.vent_scale
        for ys, xs, zs, rxs, rzs in ((LV_Y, LV_X, LV_Z, LV_RX, LV_RZ),
                                     (TH_Y, TH_X, TH_Z, TH_RX, TH_RZ)):
            inside_y = (y >= ys[0]) & (y <= ys[-1])
            xc, zc = np.interp(y, ys, xs), np.interp(y, ys, zs)
            rx, rz = k * np.interp(y, ys, rxs), k * np.interp(y, ys, rzs)
            xc = np.maximum(xc, rx + 1.0) if ys is LV_Y else xc
            tube = brain & inside_y & (((xl - xc) / rx) ** 2 + ((z - zc) / rz) ** 2 < 1)
            ventricle |= tube
            hu[tube] = self.csf
            region[tube] = 0

    def _midline(self, q: Pts, depth: Arr, brain: Arr, hu: Arr,
                 ventricle: Arr) -> None:
        """Third ventricle, interhemispheric fissure with medial cortex and the falx."""
        x, y, z = q
        third = brain & (_ell(q, (0.0, -1.0, 2.0), (self.third_mm, 11.0, 10.0)) < 1)
        hu[third] = self.csf
        ventricle |= third
        floor_z = 28.0 - 43.0 * (1 - _sig(38.0 - np.abs(y + 3.0), 3.0))
        fissure_zone = brain & (z > floor_z)
        hu[fissure_zone & (np.abs(x) < self.fissure_mm / 2 + self.cortex_mm)] = self.gm
        hu[fissure_zone & (np.abs(x) < self.fissure_mm / 2)] = self.csf
        hu[fissure_zone & (np.abs(x) < 0.5) & (depth > -self.sas_mm)] = 48.0

    def _posterior_fossa(self, q: Pts, brain: Arr, cavity: Arr,
                         hu: Arr) -> None:
        """Cerebellum below the tentorium, brainstem with its cisterns, fourth ventricle."""
        x, y, z = q
        tent = -8.0 - 0.25 * np.clip(y - 15.0, 0.0, None)
        below = brain & (y > 12) & (z < tent)
        hu[below] = self.gm - 1.5
        hu[below & (_ell(q, (0.0, 40.0, -30.0), (30.0, 14.0, 9.0)) < 1)] = self.wm + 1.0
        hu[cavity & (np.abs(z - tent) < 0.6) & (y > 12)] = 45.0
        stem_r = np.sqrt(x * x + (y - 10.0) ** 2)
        low = cavity & (z < -8) & (z > -60)
        hu[low & (stem_r >= 11.0) & (stem_r < 14.5)] = self.csf
        hu[low & (stem_r < 11.0)] = self.wm + 2.0
        hu[cavity & (_ell(q, (0.0, -16.0, -12.0), (10.0, 8.0, 3.5)) < 1)] = self.csf
        hu[cavity & (_ell(q, (0.0, 24.0, -34.0), (4.5, 3.0, 6.0)) < 1)] = self.csf

    def _ischaemia(self, hu: Arr, region: Arr, brain: Arr) -> None:
        """Early ischaemic change: grey loses its contrast to white, the region darkens."""
        if not self.label.ischaemic_regions:
            return
        offset = 0 if self.isch_side > 0 else 10
        codes = [1 + ASPECTS_REGIONS.index(r) + offset for r in self.label.ischaemic_regions]
        affected = brain & np.isin(region, codes) & (hu > self.csf + 10)
        grey = affected & (hu > self.wm + 3)
        hu[grey] -= self.isch_gw_loss * (hu[grey] - self.wm)
        hu[affected] -= self.isch_delta

    def _blood(self, q: Pts, ps: Pts, hx: Arr, hy: Arr,
               hz: Arr, depth_in: Arr, depth: Arr, cavity: Arr, brain: Arr, ventricle: Arr,
               hu: Arr) -> Arr:
        """Draw every labelled bleed into ``hu``; return the blood code per sample."""
        code = np.zeros(hu.shape, dtype=np.uint8)
        csf_space = cavity & (np.abs(hu - self.csf) < 0.01) & ~ventricle
        for b in self.bleeds:
            k = np.uint8(1 + BLEED_KINDS.index(b["kind"]))
            kind = b["kind"]
            if kind == "intraparenchymal":
                blob: _Blob = b["blob"]
                c, ax = blob.centre, blob.axes
                dx, dy, dz = ((q[i] - c[i]) / ax[i] for i in range(3))
                rad = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-6
                lobe = 1.0 + sum(a * np.sin(3.0 * (ux * dx + uy * dy + uz * dz) / rad + 1.0)
                                 for ux, uy, uz, a in blob.lobes)
                oedema = brain & (rad < lobe + b["oedema_mm"] / min(ax))
                hu[oedema & (hu > self.csf + 10)] -= b["oedema_hu"]
                mask = cavity & (rad < lobe)
                hu[mask] = (blob.hu + 3.0 * np.sin(dx * 5.0) * np.sin(dy * 4.0))[mask]
            elif kind == "intraventricular":
                level = self.to_scanner((0.0, 28.0, 10.0))[1] + b["level_mm"] - 8.0
                mask = ventricle & (ps[1] > level)
                if b["cast_third"]:
                    mask |= ventricle & (np.abs(q[0]) < self.third_mm + 0.5) & (q[2] < 14)
                hu[mask] = b["hu"]
            elif kind == "subarachnoid":
                mask = csf_space & (_ell(q, b["centre_head_mm"], (b["radius_mm"],) * 3) < 1)
                mask &= depth_in > 0.5
                hu[mask] = b["hu"]
            else:
                d = b["direction"]
                cc = self.cavity_centre
                vx, vy, vz = hx - cc[0], hy - cc[1], hz - cc[2]
                norm = np.sqrt(vx * vx + vy * vy + vz * vz) + 1e-6
                cosang = np.clip((vx * d[0] + vy * d[1] + vz * d[2]) / norm, -1.0, 1.0)
                frac = np.clip(1.0 - (np.arccos(cosang) / b["extent_rad"]) ** 2, 0.0, 1.0)
                if kind == "subdural":
                    mask = cavity & (depth_in < b["thickness_mm"] * frac)
                else:
                    mask = cavity & (depth_in < b["thickness_mm"] * np.sqrt(frac))
                    mask &= (hy > self.coronal_y + 0.5) & (hy < self.lambdoid_y - 0.5)
                hu[mask] = b["hu"]
            code[mask] = k
        return code


def _slab_points(z_mm: Arr, matrix: int, pixel: float) -> Pts:
    """Scanner LPS coordinates (mm) of the in-plane grid at the sample heights ``z_mm``."""
    axis = (np.arange(matrix, dtype=np.float32) - (matrix - 1) / 2.0) * pixel
    zz = np.broadcast_to(z_mm[:, None, None], (z_mm.size, matrix, matrix)).astype(np.float32)
    yy = np.broadcast_to(axis[None, :, None], zz.shape)
    xx = np.broadcast_to(axis[None, None, :], zz.shape)
    return xx, yy, zz


def _streaks(head: _Head, vol: Arr, z_mm: Arr, pixel: float) -> None:
    """Bright/dark radial lines from both petrous apices and a dark bar between them."""
    sd = head.mimic_details["streak_artefact"]
    nz, ny, nx = vol.shape
    axis_y = (np.arange(ny) - (ny - 1) / 2.0) * pixel
    axis_x = (np.arange(nx) - (nx - 1) / 2.0) * pixel
    yy, xx = np.meshgrid(axis_y, axis_x, indexing="ij")
    sources = [head.to_scanner((14 * s, -4.0, -36.0)) for s in (1.0, -1.0)]
    angles, amps = head.streak_angles, sd["amplitude_hu"] * head.streak_amps
    for iz in range(nz):
        pattern = np.zeros((ny, nx))
        for src, ang, amp in zip(sources, angles, amps, strict=True):
            weight = math.exp(-((z_mm[iz] - src[2]) / 10.0) ** 2)
            if weight < 0.02:
                continue
            rx, ry = xx - src[0], yy - src[1]
            for a, h in zip(ang, amp, strict=True):
                perp = np.abs(-rx * math.sin(a) + ry * math.cos(a))
                along = np.abs(rx * math.cos(a) + ry * math.sin(a))
                pattern += weight * h * np.exp(-(perp / sd["width_mm"]) ** 2 - along / 80.0)
        a_, b_ = sources
        w_bar = math.exp(-((z_mm[iz] - (a_[2] + b_[2]) / 2) / 8.0) ** 2)
        pts = (xx, yy, np.full_like(xx, z_mm[iz]))
        d_bar = _segment_distance(pts, tuple(a_), tuple(b_))
        pattern += w_bar * sd["bar_hu"] * np.exp(-(d_bar / 6.0) ** 2)
        vol[iz] += (pattern * (vol[iz] > -500)).astype(np.float32)


def render_with_regions(seed: int, label: NcctLabel, *,
                        matrix: int = FULL_MATRIX) -> tuple[NcctCase, Arr]:
    """Render a case and return it with its ASPECTS region volume (z, y, x) uint8: 0 outside,
    1 + index in ASPECTS_REGIONS on the patient's left, 11 + index on the right."""
    started = time.perf_counter()
    anatomy, lesions, mimics, rng = (np.random.default_rng(s) for s in
                                     np.random.SeedSequence([seed, 19_2026]).spawn(4))
    head = _Head((anatomy, lesions, mimics), label)
    pixel = FULL_PIXEL_MM * FULL_MATRIX / matrix
    thickness = float(rng.choice((3.0, 4.0, 5.0)))
    nz = int(np.clip(round(float(rng.uniform(130, 150)) / thickness), 30, 45))
    vertex = head.cavity_centre[2] + head.cavity_axes[2] + head.skull_mm + head.scalp_mm + 4
    z_bottom = vertex - nz * thickness
    z_centres = z_bottom + (np.arange(nz) + 0.5) * thickness
    vol = np.empty((nz, matrix, matrix), dtype=np.float32)
    regions = np.zeros(vol.shape, dtype=np.uint8)
    fractions = np.zeros((len(BLEED_KINDS),) + vol.shape, dtype=np.float16)
    per_chunk = max(1, CHUNK_VOXELS // (matrix * matrix * len(SUBSAMPLES)))
    for z0 in range(0, nz, per_chunk):
        zs = z_centres[z0:z0 + per_chunk]
        z_sub = (zs[:, None] + np.asarray(SUBSAMPLES)[None, :] * thickness).ravel()
        hu, blood, region = head.sample(_slab_points(z_sub, matrix, pixel))
        shape = (zs.size, len(SUBSAMPLES), matrix, matrix)
        vol[z0:z0 + zs.size] = hu.reshape(shape).mean(axis=1)
        regions[z0:z0 + zs.size] = region.reshape(shape)[:, 1]
        blood4 = blood.reshape(shape)
        for k in range(len(BLEED_KINDS)):
            fractions[k, z0:z0 + zs.size] = (blood4 == k + 1).mean(axis=1)
    total = fractions.astype(np.float32).sum(axis=0)
    blood_mask = np.where(total >= 0.5, np.argmax(fractions, axis=0) + 1, 0).astype(np.uint8)
    kernel_name, kernel_sigma = KERNELS[int(rng.integers(len(KERNELS)))]
    vol = ndimage.gaussian_filter(vol, (0.0, kernel_sigma / pixel, kernel_sigma / pixel))
    if "streak_artefact" in label.mimics:
        _streaks(head, vol, z_centres, pixel)
    # every sample across the slice is blood, and so are the in-plane neighbours (no blur mix)
    pure = ndimage.binary_erosion(total > 0.999, np.ones((1, 3, 3), dtype=bool))
    clean_blood = {BLEED_KINDS[k - 1]: float(vol[pure & (blood_mask == k)].mean())
                   for k in np.unique(blood_mask[pure]) if k}
    noise_sd = float(rng.uniform(3.0, 8.0))
    noise_corr_mm = float(rng.uniform(0.4, 1.0))
    noise = rng.standard_normal(vol.shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, (0.0, noise_corr_mm / pixel, noise_corr_mm / pixel))
    noise *= noise_sd / max(float(noise.std()), 1e-6)
    vol += noise
    np.clip(vol, -1024.0, 3071.0, out=vol)
    voxel_ml = thickness * pixel * pixel / 1000.0
    bleeds = []
    for b in head.bleeds:
        k = BLEED_KINDS.index(b["kind"])
        entry = {key: val for key, val in b.items() if key not in ("blob", "direction")}
        if "centre_head_mm" in b:
            entry["centre_lps_mm"] = [float(v) for v in head.to_scanner(b["centre_head_mm"])]
        if "blob" in b:
            entry["hu"] = b["blob"].hu
        entry["volume_ml"] = float(fractions[k].astype(np.float32).sum() * voxel_ml)
        bleeds.append(entry)
    iph = [b for b in bleeds if b["kind"] == "intraparenchymal"]
    largest = max(iph, key=lambda b: b["volume_ml"]) if iph else None
    details: dict[str, Any] = {
        "pose": {**head.pose, "translation_mm": [float(v) for v in head.translation]},
        "kernel": kernel_name, "kernel_sigma_mm": kernel_sigma, "noise_sd_hu": noise_sd,
        "noise_correlation_mm": noise_corr_mm, "cupping_hu": head.cupping_hu,
        "slice_thickness_mm": thickness, "pixel_mm": pixel,
        "origin_mm": [-(matrix - 1) / 2 * pixel, -(matrix - 1) / 2 * pixel,
                      float(z_centres[0])],
        "tissue_hu": {"grey": head.gm, "white": head.wm, "csf": head.csf},
        "bleeds": bleeds, "blood_volume_by_kind_ml": {
            BLEED_KINDS[k]: float(fractions[k].astype(np.float32).sum() * voxel_ml)
            for k in range(len(BLEED_KINDS)) if fractions[k].any()},
        "blood_mean_hu_pure_voxels_before_noise": clean_blood,
        "largest_iph_abc_cm": largest["abc_cm"] if largest else None,
        "largest_iph_abc2_ml": (float(np.prod(largest["abc_cm"])) / 2) if largest else None,
        "midline_shift_mm": head.shift_mm,
        "midline_shift_towards": ("left" if head.shift_dir > 0 else "right")
        if head.shift_mm else None,
        "ischaemia": {"delta_hu": head.isch_delta, "grey_white_loss": head.isch_gw_loss},
        "mimics": head.mimic_details,
        "render_s": time.perf_counter() - started,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=vol,
                    spacing_mm=(thickness, pixel, pixel), blood_mask=blood_mask, details=details)
    return case, regions


def render(seed: int, label: NcctLabel, *, matrix: int = FULL_MATRIX) -> NcctCase:
    """Render one deterministic case of this family (full size 512 × 512, 0.45 mm pixels)."""
    return render_with_regions(seed, label, matrix=matrix)[0]
