"""NCCT family "fields": anatomy from smooth random fields and distance maps.

The head outline is a star-shaped surface whose radius is an ellipsoid times a sum of low-order
spherical harmonics (the homogeneous polynomials of degree <= 4 in the unit direction) with drawn
coefficients; the skull is a band of radial distance below that surface whose thickness follows a
smooth noise field. Tissue classes come from the distance to the nearest inner surface (inner
skull, skull base, falx, tentorium, sylvian fissure): a CSF rim, then cortex, then white matter,
the cortex folded into gyri and sulci by the zero level set of a band-limited 3-D noise field.
Ventricles are the sub-level set of a smooth field around a butterfly-shaped midline template;
the deep nuclei are placed relative to them (caudate along the frontal horn wall, thalamus beside
the third ventricle, lentiform lateral of the internal capsule, insula lateral of the lentiform).
ASPECTS regions are angular sectors around the sylvian landmark at the ganglionic (C, L, IC, I,
M1-M3) and supraganglionic (M4-M6) levels.

Physics: each slice averages three finer sub-slices (partial volume at the slice thickness), an
in-plane kernel (Gaussian, or an unsharp mask with ringing for the sharp kernel), noise with a
ramp-shaped noise-power spectrum, beam hardening under the inner table and dark streaks between
the petrous bones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "fields"

FOV_MM = 230.0
"""In-plane field of view: 512 pixels of ~0.45 mm."""
SUBSLICES = 3
"""Finer sub-slices averaged into one slice (partial volume)."""
Z_BOTTOM_MM, Z_TOP_MM = -56.0, 86.0
"""Head-frame extent scanned, skull base to vertex (mm above the ventricular centre)."""
TISSUES = ("air", "scalp", "bone", "csf", "grey", "white", "nucleus", "blood")
"""Tissue classes of :func:`render_labelled` (index in this tuple)."""

_T_AIR, _T_SCALP, _T_BONE, _T_CSF, _T_GM, _T_WM, _T_NUC, _T_BLOOD = range(8)


def _sig(v: np.ndarray, width: float) -> np.ndarray:
    """Logistic step of ``v`` (mm) with ``width`` (mm)."""
    return 1.0 / (1.0 + np.exp(-np.clip(v / width, -40.0, 40.0)))


@dataclass
class _Field:
    """A band-limited random field on a regular grid (mm), sampled trilinearly."""

    grid: np.ndarray  # (x, y, z)
    origin: tuple[float, float, float]
    step: float
    gradient_per_mm: float  # mean |grad| of the field, per mm

    @classmethod
    def draw(cls, rng: np.random.Generator, lo: tuple[float, float, float],
             hi: tuple[float, float, float], step: float, sigma_mm: float,
             band_ratio: float = 0.0) -> _Field:
        """White noise smoothed by a Gaussian of ``sigma_mm`` (a difference of Gaussians, i.e. a
        band-pass, when ``band_ratio`` > 0), normalised to zero mean and unit s.d."""
        shape = tuple(int(np.ceil((h - lo_) / step)) + 1 for lo_, h in zip(lo, hi, strict=True))
        white = rng.standard_normal(shape).astype(np.float32)
        field = ndimage.gaussian_filter(white, sigma_mm / step)
        if band_ratio > 0:
            field = field - ndimage.gaussian_filter(white, sigma_mm * band_ratio / step)
        field = (field - field.mean()) / field.std()
        grads = np.gradient(field, step)
        grad = float(np.mean(np.sqrt(sum(g * g for g in grads))))
        return cls(field.astype(np.float32), lo, step, grad)

    def __call__(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        coords = np.stack([(np.ravel(c) - o) / self.step
                           for c, o in zip((x, y, z), self.origin, strict=True)])
        out = ndimage.map_coordinates(self.grid, coords, order=1, mode="nearest")
        return np.asarray(out.reshape(np.shape(x)), dtype=np.float32)


def _ellipsoid_radius(x: np.ndarray, y: np.ndarray, z: np.ndarray,
                      centre: tuple[float, float, float],
                      axes: tuple[float, float, float]) -> np.ndarray:
    """Normalised radius of an axis-aligned ellipsoid (1 on its surface)."""
    return np.sqrt(((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
                   + ((z - centre[2]) / axes[2]) ** 2)


def _sh_monomials(ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> list[np.ndarray]:
    """The unit-direction monomials of degree 1-4 (they span the spherical harmonics l <= 4)."""
    out = []
    for degree in range(1, 5):
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                out.append(ux ** i * uy ** j * uz ** (degree - i - j))
    return out


class _Head:
    """Everything drawn for one seed, and the maps evaluated at head-frame points (mm)."""

    def __init__(self, seed: int, label: NcctLabel) -> None:
        rng = np.random.default_rng([seed, 19])
        self.rng = rng
        u = rng.uniform
        self.axes = (u(66, 74), u(86, 96), u(78, 86))  # outer skull semi-axes x, y, z
        n_mono = len(_sh_monomials(np.zeros(1), np.zeros(1), np.zeros(1)))
        coeff = rng.normal(0.0, 0.018, n_mono)
        # near-symmetric heads: terms odd in x are small
        odd_x = [i % 2 == 1 for d in range(1, 5) for i in range(d + 1) for _ in range(d + 1 - i)]
        self.sh_coeff = np.where(odd_x, coeff * 0.15, coeff)
        self.skull_mm = u(5.0, 7.0)
        self.scalp_mm = u(4.0, 7.0)
        self.csf_rim_mm = u(1.0, 2.2)
        self.sulcus_half_mm = u(0.45, 0.9)
        self.cortex_mm = u(3.0, 4.2)
        self.ventricle_scale = u(0.85, 1.35)
        self.hu = {"gm": u(35.5, 40.0), "csf": u(2.0, 8.0), "table": u(1300, 1700),
                   "diploe": u(450, 750), "base": u(900, 1350), "scalp": u(20, 35)}
        self.hu["wm"] = float(np.clip(self.hu["gm"] - u(7.0, 11.0), 25.0, 30.0))
        self.hu["nucleus"] = self.hu["gm"] - u(0.0, 2.0)
        self.hu["thalamus"] = self.hu["gm"] - u(1.5, 3.5)
        self.coronal_y = u(-22, -12)
        self.lambdoid_y = u(50, 62)
        box_lo, box_hi = (-125.0, -125.0, -125.0), (125.0, 125.0, 125.0)
        skull_noise = _Field.draw(rng, box_lo, box_hi, 5.0, 12.0)
        self.vent_noise = _Field.draw(rng, box_lo, box_hi, 5.0, 8.0)
        self.depth_noise = _Field.draw(rng, box_lo, box_hi, 5.0, 10.0)
        self.air_noise = _Field.draw(rng, box_lo, box_hi, 5.0, 4.0)
        self.fold = _Field.draw(rng, (-82, -104, -74), (82, 104, 100), 2.0, u(3.2, 4.2), 2.0)
        self.lobule = _Field.draw(rng, box_lo, box_hi, 5.0, 5.0)
        # direction-only maps (outer radius, skull thickness) tabulated on a shell grid
        shell = np.arange(-71.75, 71.8, 3.5)
        gx, gy, gz = np.meshgrid(shell, shell, shell, indexing="ij")
        gr = np.sqrt(gx * gx + gy * gy + gz * gz) + 1e-6
        gux, guy, guz = gx / gr, gy / gr, gz / gr
        self.radius_map = _Field(self.outer_radius(gux, guy, guz).astype(np.float32),
                                 (-71.75, -71.75, -71.75), 3.5, 0.0)
        thick = np.clip(self.skull_mm + 1.3 * skull_noise(gux * 60, guy * 60, guz * 60), 3.5, 9.5)
        self.skull_map = _Field(thick.astype(np.float32), (-71.75, -71.75, -71.75), 3.5, 0.0)
        vs = self.ventricle_scale
        # landmarks (x magnitudes; mirrored by side), relative to the ventricles
        self.fh_x = 1.2 + 5.0 * vs  # frontal horn centre
        self.fh_lat = self.fh_x + 4.5 * vs
        self.caudate_x = self.fh_lat + 3.5
        self.thal_x = 2.2 * vs + 9.0
        self.ic_x = self.caudate_x + 4.0 + u(3.0, 4.5) / 2 + 1.0
        self.lent_x = self.ic_x + u(3.0, 4.5) / 2 + 1.5 + 5.5
        self.insula_x = self.lent_x + 5.5 + u(3.5, 5.0)
        self.sylvian_x = self.insula_x + 2.5
        self.pose = {"pitch_deg": u(-15, 15), "yaw_deg": u(-10, 10), "roll_deg": u(-10, 10)}
        self.offset_mm = (u(-4, 4), u(-6, 6))  # head centre off the isocentre (x, y)
        self.label = label
        self.isch_delta = u(2.5, 6.0)
        self.isch_blur = u(0.3, 0.6)
        self.bleeds = self._draw_bleeds()
        self.midline_shift_mm, self.shift_side = self._mass_effect()
        self.mimic_params = self._draw_mimics()

    # --- drawing -------------------------------------------------------------------------------
    def _draw_bleeds(self) -> list[dict[str, Any]]:
        u = self.rng.uniform
        bleeds = []
        for kind in self.label.bleeds:
            side = 1.0 if self.rng.random() < 0.5 else -1.0
            b: dict[str, Any] = {"kind": kind, "side": "left" if side > 0 else "right",
                                 "sign": side, "hu": u(56, 84)}
            if kind == "intraparenchymal":
                if self.rng.random() < 0.55:
                    b["site"] = "basal ganglia"
                    b["centre"] = (side * (self.lent_x + u(-2, 2)), u(-6, 4), u(-4, 6))
                else:
                    b["site"] = "lobar"
                    b["centre"] = (side * u(30, 42), u(-40, 40), u(12, 34))
                b["semi_axes"] = (u(9, 17), u(12, 22), u(9, 16))
                b["lobulation"] = u(0.08, 0.2)
            elif kind == "intraventricular":
                b["level_y"] = u(14, 26)  # fluid level (y, posterior = dependent, supine)
                b["third"] = bool(self.rng.random() < 0.5)
            elif kind == "subarachnoid":
                if self.rng.random() < 0.5:
                    b["site"] = "sylvian"
                    b["centre"] = (side * self.sylvian_x, u(-10, 10), u(-6, 8))
                else:
                    b["site"] = "basal cisterns"
                    b["centre"] = (0.0, u(0, 8), -14.0)
                b["radius"] = u(40, 55)
            elif kind == "subdural":
                b["direction"] = self._unit((side * 1.0, u(-0.5, 0.4), u(0.1, 0.6)))
                b["half_angle_deg"] = u(45, 65)
                b["thickness_mm"] = u(6, 15)
            else:  # epidural: within one bone, between the coronal and lambdoid sutures
                b["direction"] = self._unit((side * 1.0, u(0.0, 0.6), u(0.0, 0.5)))
                b["half_angle_deg"] = u(25, 35)
                b["thickness_mm"] = u(12, 22)
            bleeds.append(b)
        return bleeds

    @staticmethod
    def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
        a = np.asarray(v, dtype=float)
        a = a / np.linalg.norm(a)
        return (float(a[0]), float(a[1]), float(a[2]))

    def _mass_effect(self) -> tuple[float, float]:
        """Midline shift (mm) and the side it pushes from (+1: the bleed is on the left)."""
        push = {1.0: 0.0, -1.0: 0.0}
        for b in self.bleeds:
            if b["kind"] == "intraparenchymal":
                a, bb, c = b["semi_axes"]
                push[b["sign"]] += 4.0 / 3.0 * np.pi * a * bb * c / 1000.0
            elif b["kind"] in ("subdural", "epidural"):
                push[b["sign"]] += b["thickness_mm"] * b["half_angle_deg"] / 10.0
        side = 1.0 if push[1.0] >= push[-1.0] else -1.0
        net = abs(push[1.0] - push[-1.0])
        return float(np.clip((net - 12.0) * 0.15, 0.0, 11.0)), side

    def _draw_mimics(self) -> dict[str, Any]:
        u = self.rng.uniform
        return {"calcification_hu": u(150, 420), "mca_side": 1.0 if self.rng.random() < 0.5
                else -1.0, "mca_hu": u(55, 70), "contrast_gm": u(6, 12),
                "vessel_hu": u(110, 170), "streak_z": u(-30, 10), "streak_amp": u(50, 110),
                "streak_angles": u(0, np.pi, 7), "falx_y": u(-30, 30), "falx_z": u(30, 55)}

    # --- maps ----------------------------------------------------------------------------------
    def outer_radius(self, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:
        """Outer-table radius (mm) along the unit direction: ellipsoid x spherical harmonics."""
        ax, ay, az = self.axes
        base = 1.0 / np.sqrt((ux / ax) ** 2 + (uy / ay) ** 2 + (uz / az) ** 2)
        mods = _sh_monomials(ux, uy, uz)
        pert = sum(c * m for c, m in zip(self.sh_coeff, mods, strict=True))
        return np.asarray(base * (1.0 + pert))

    def floor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height (mm) of the cranial floor: anterior, middle and posterior fossae, petrous
        ridges."""
        ax = np.abs(x)
        w_post = _sig(y - 8.0, 4.0)
        w_mid = _sig(y + 22.0, 4.0) * (1.0 - w_post) * _sig(ax - 17.0, 4.0)
        zf = -24.0 + w_mid * (-44.0 + 24.0) + w_post * (-64.0 + 24.0)
        # petrous ridge from the apex (18, 2) to (52, 26)
        t = np.clip(((ax - 18.0) * 34.0 + (y - 2.0) * 24.0) / (34.0 ** 2 + 24.0 ** 2), 0, 1)
        d = np.hypot(ax - 18.0 - 34.0 * t, y - 2.0 - 24.0 * t)
        zf = zf + 22.0 * np.exp(-0.5 * (d / 5.0) ** 2) * _sig(ax - 14.0, 2.0)
        sella = 10.0 * np.exp(-0.5 * ((ax / 9.0) ** 2 + ((y + 8.0) / 7.0) ** 2))
        return np.asarray(zf + sella)

    def shift_x(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Brain x in the undisplaced frame: the mass effect pushes tissue across the midline."""
        if self.midline_shift_mm <= 0:
            return x
        g = (np.exp(-0.5 * (x / 28.0) ** 2) * np.exp(-0.5 * (y / 55.0) ** 2)
             * np.exp(-0.5 * ((z - 10.0) / 35.0) ** 2))
        return x + self.shift_side * self.midline_shift_mm * g

    def septum_shift_mm(self) -> float:
        """Displacement of the septum pellucidum (mm) where the midline shift is measured."""
        x = 0.0
        for _ in range(30):
            xs = float(self.shift_x(np.array([x]), np.array([-15.0]), np.array([12.0]))[0])
            x -= xs
        return abs(x)

    def ventricle_field(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """< 1 inside the ventricles: butterfly template plus smooth noise."""
        vs = self.ventricle_scale
        ax = np.abs(x)
        # frontal horns lean outwards upwards (the butterfly in coronal section)
        fh = _ellipsoid_radius(ax - 0.35 * (z - 10.0), y, z, (self.fh_x, -20.0, 10.0),
                               (4.5 * vs, 14.0, 8.5))
        parts = [
            fh,
            _ellipsoid_radius(ax, y, z, (self.fh_x + 2.5, 6.0, 16.0), (5.0 * vs, 22.0, 5.0 * vs)),
            _ellipsoid_radius(ax, y, z, (19.0, 30.0, 9.0), (6.5 * vs, 9.0, 8.0 * vs)),
            _ellipsoid_radius(ax, y, z, (17.0, 44.0, 7.0), (3.0 * vs, 10.0, 3.0 * vs)),
            _ellipsoid_radius(ax, y, z, (27.0, -6.0, -18.0), (2.5 * vs, 13.0, 3.0 * vs)),
            _ellipsoid_radius(x, y, z, (0.0, 6.0, -4.0), (1.6 * vs + 0.6, 13.0, 8.0)),
            _ellipsoid_radius(x, y, z, (0.0, 34.0, -44.0), (6.0, 3.5, 6.0)),
        ]
        field = np.minimum.reduce(parts)
        field = field - 0.12 * self.vent_noise(x, y, z)
        septum = (ax < 0.9) & (y < 22.0) & (z > 2.0)
        return np.where(septum, 2.0, field)

    def nuclei(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
        """Deep nuclei and the internal capsule (boolean maps, either side)."""
        ax = np.abs(x)
        caudate = ((_ellipsoid_radius(ax, y, z, (self.caudate_x, -16.0, 5.0), (4.3, 10.0, 8.5))
                    < 1.0)
                   | (_ellipsoid_radius(ax, y, z, (self.caudate_x + 1.5, 6.0, 18.0),
                                        (2.8, 13.0, 3.0)) < 1.0))
        ic_line = 0.22 * np.abs(y - 2.0)  # the internal capsule bends, its genu medial
        lentiform = _ellipsoid_radius(ax - ic_line, y, z, (self.lent_x, -2.0, -1.0),
                                      (5.5, 14.0, 9.0)) < 1.0
        thalamus = _ellipsoid_radius(ax, y, z, (self.thal_x, 12.0, 0.0), (7.5, 12.0, 8.0)) < 1.0
        ic = ((_ellipsoid_radius(ax - ic_line, y, z, (self.ic_x, 1.0, 1.0), (3.0, 19.0, 9.5))
               < 1.0) & ~caudate & ~lentiform & ~thalamus)
        return {"caudate": caudate, "lentiform": lentiform, "thalamus": thalamus, "ic": ic}


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Head-to-scanner rotation from pitch (about x), roll (about y), yaw (about z), degrees."""
    p, r, w = np.radians([pitch, roll, yaw])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(r), 0, np.sin(r)], [0, 1, 0], [-np.sin(r), 0, np.cos(r)]])
    rz = np.array([[np.cos(w), -np.sin(w), 0], [np.sin(w), np.cos(w), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


def _slab(head: _Head, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HU, blood kind (0 or 1 + index), ASPECTS region (0, 1-10 left, 11-20 right) and tissue
    class at the head-frame points (arrays of one shape)."""
    label = head.label
    hu = head.hu
    r = np.sqrt(xs * xs + ys * ys + zs * zs) + 1e-6
    ux, uy, uz = xs / r, ys / r, zs / r
    shell = (ux * 60, uy * 60, uz * 60)
    depth = head.radius_map(*shell) - r  # mm below the outer table (radial)
    skull_t = head.skull_map(*shell)
    depth_b = depth - skull_t  # below the inner table
    floor = head.floor(xs, ys)
    above_floor = zs - floor

    out = np.full(xs.shape, -1000.0, dtype=np.float32)
    tissue = np.zeros(xs.shape, dtype=np.uint8)
    scalp = depth > -head.scalp_mm
    out[scalp] = hu["scalp"]
    out[scalp & (depth > -head.scalp_mm * 0.6) & (depth < -1.0)] = -70.0  # subcutaneous fat
    tissue[scalp] = _T_SCALP
    # skull: outer and inner tables with diploe between, sutures as thin gaps
    bone = (depth >= 0) & (depth_b < 0)
    frac = depth / skull_t
    table = (frac < 0.3) | (frac > 0.72)
    bone_hu = np.where(table, hu["table"], hu["diploe"]).astype(np.float32)
    suture = ((np.abs(ys - head.coronal_y - 0.25 * zs) < 0.6)
              | (np.abs(ys - head.lambdoid_y + 0.45 * zs) < 0.6)) & (zs > -20)
    bone_hu[suture] = 180.0
    out[bone] = bone_hu[bone]
    tissue[bone] = _T_BONE
    inside = depth_b >= 0
    # skull base: bone plate under the cranial floor, air cells, soft tissue below
    base = inside & (above_floor < 0)
    base_bone = base & (above_floor > -7.0)
    out[base] = 40.0
    tissue[base] = _T_SCALP
    out[base_bone] = hu["base"]
    tissue[base_bone] = _T_BONE
    # orbits under the anterior fossa: fat cones holding the globes
    ax_ = np.abs(xs)
    orbit = base & ~base_bone & (_ellipsoid_radius(ax_, ys, zs, (30.0, -58.0, -40.0),
                                                   (16.0, 26.0, 14.0)) < 1.0)
    out[orbit] = -80.0
    globe = orbit & (_ellipsoid_radius(ax_, ys, zs, (32.0, -68.0, -40.0),
                                       (11.5, 11.5, 11.5)) < 1.0)
    out[globe] = 12.0
    air = base & (((_ellipsoid_radius(xs, ys, zs, (0.0, -22.0, -44.0), (13.0, 11.0, 9.0)) < 1.0))
                  | ((np.abs(xs) > 42) & (ys > 5) & (ys < 35)
                     & (head.air_noise(xs, ys, zs) > 0.4)))
    out[air] = -850.0
    tissue[air] = _T_AIR
    brain = inside & (above_floor >= 0)

    # brain coordinates displaced by the mass effect
    xw = head.shift_x(xs, ys, zs)
    axw = np.abs(xw)
    side = np.where(xw >= 0, 0, 1)  # 0 left (LPS +x), 1 right
    core = _ellipsoid_radius(xw * 0.0, ys, zs, (0.0, 2.0, 4.0), (1.0, 40.0, 21.0)) < 1.0
    posterior_fossa = (ys > 4.0) & (zs < -30.0 + 0.12 * (ys - 4.0))
    tent = np.where(ys > 4.0, np.abs(zs - (-30.0 + 0.12 * (ys - 4.0))), 1e3)
    d_mid = np.where(core | posterior_fossa | (zs < -22), 1e3, axw - 0.3)
    # sylvian fissure: a sheet from the insula running laterally and forwards
    lateral = axw > head.sylvian_x
    d_syl = np.where(lateral & (np.abs(zs - 0.0) < 16) & (zs > -22),
                     np.abs(0.866 * (ys + 2.0) + 0.5 * (axw - head.sylvian_x)) - 0.6, 1e3)
    d_cistern = np.where((ys / 16.0) ** 2 + ((zs - 2.0) / 14.0) ** 2 < 1.0,
                         np.abs(axw - head.sylvian_x) - 0.4, 1e3)
    surf = np.minimum.reduce([depth_b, above_floor, d_mid, tent, d_syl, d_cistern])
    # cortical folding: sulci are the zero set of a band-limited field, down to a drawn depth
    sulc_depth = 11.0 + 4.0 * head.depth_noise(xw, ys, zs)
    near = brain & (surf < 25.0)
    fold = np.full(xs.shape, 9.0, dtype=np.float32)
    fold[near] = np.abs(head.fold(xw[near], ys[near], zs[near])) / head.fold.gradient_per_mm
    d_sulc = np.sqrt(np.maximum(fold - head.sulcus_half_mm, 0) ** 2
                     + np.maximum(surf - sulc_depth, 0) ** 2)
    sulcus = (fold < head.sulcus_half_mm) & (surf < sulc_depth)
    to_csf = np.minimum(surf - head.csf_rim_mm, d_sulc)
    csf_sub = brain & ((surf < head.csf_rim_mm) | sulcus)
    gm = brain & ~csf_sub & (to_csf < head.cortex_mm)
    out[brain] = hu["wm"]
    tissue[brain] = _T_WM
    out[gm] = hu["gm"]
    tissue[gm] = _T_GM
    # cerebellum: folia (finer folding), vermis; brainstem and the cisterns around it
    cereb = brain & posterior_fossa & ~gm & ~csf_sub
    folia = np.abs(head.fold(2.2 * xw[cereb], 2.2 * ys[cereb], 2.2 * zs[cereb]))
    out[cereb] = np.where(folia > 0.5, hu["gm"] - 1.0, hu["wm"] + 2.0)
    tissue[cereb] = np.where(folia > 0.5, _T_GM, _T_WM)
    stem_r = np.hypot(xw / 12.0, (ys - 14.0) / 11.0)
    stem_zone = brain & (zs < -10) & (zs > floor - 30)
    cistern = stem_zone & (stem_r >= 1.0) & (stem_r < 1.3) & (zs > -34)
    supra = brain & (_ellipsoid_radius(xw, ys, zs, (0.0, -6.0, -15.0), (9.0, 7.0, 4.0)) < 1.0)
    stem = stem_zone & (stem_r < 1.0)
    out[stem] = hu["wm"] + 3.0
    tissue[stem] = _T_WM
    csf_sub = csf_sub | cistern | supra
    # where subarachnoid blood can lie: the CSF spaces, sulci distended by the blood
    sah_space = csf_sub | (brain & (fold < 2.0 * head.sulcus_half_mm) & (surf < sulc_depth))
    # insula ribbon medial to the sylvian cistern
    band = (ys / 17.0) ** 2 + ((zs - 2.0) / 12.0) ** 2 < 1.0
    insula = brain & band & (axw > head.insula_x - 2.2) & (axw < head.insula_x + 1.2)
    out[insula] = hu["gm"]
    tissue[insula] = _T_GM
    # deep nuclei and the internal capsule
    deep = brain & (axw < 50) & (np.abs(ys) < 62) & (zs < 40) & (zs > -52)
    nuc = {}
    for name, part in head.nuclei(xw[deep], ys[deep], zs[deep]).items():
        nuc[name] = np.zeros(xs.shape, dtype=bool)
        nuc[name][deep] = part
    for name in ("caudate", "lentiform", "thalamus"):
        m = brain & nuc[name]
        out[m] = hu["thalamus"] if name == "thalamus" else hu["nucleus"]
        tissue[m] = _T_NUC
    ic = brain & nuc["ic"]
    out[ic] = hu["wm"] - 0.5
    tissue[ic] = _T_WM
    vent = np.zeros(xs.shape, dtype=bool)
    vent[deep] = head.ventricle_field(xw[deep], ys[deep], zs[deep]) < 1.0
    csf = csf_sub | vent
    out[csf] = hu["csf"]
    tissue[csf] = _T_CSF
    falx = brain & (d_mid < 1e2) & (axw < 0.6)
    out[falx] = 55.0
    tentorium = brain & (tent < 0.5) & (axw > 4)
    out[tentorium] = 50.0
    # beam hardening: a darker band under the inner table
    out[brain] -= (4.0 * np.exp(-np.maximum(depth_b[brain], 0) / 3.5)).astype(np.float32)

    # ASPECTS regions: nuclei, capsule, insula, and cortical sectors around the sylvian point
    regions = np.zeros(xs.shape, dtype=np.uint8)
    theta = np.degrees(np.arctan2(ys, axw - 15.0))  # 0 lateral, negative anterior
    mca = brain & (depth_b < 22.0) & (axw > 20.0) & ~insula & ~csf & (tissue != _T_NUC)
    gang = (zs > -10) & (zs < 11)
    supg = (zs > 14) & (zs < 32)
    sectors = ((-80.0, -30.0), (-30.0, 30.0), (30.0, 80.0))
    region_masks = {"C": brain & nuc["caudate"] & gang, "L": brain & nuc["lentiform"] & gang,
                    "IC": ic & gang, "I": insula & gang}
    for k, (lo, hi) in enumerate(sectors):
        in_sector = mca & (theta >= lo) & (theta < hi)
        region_masks[f"M{k + 1}"] = in_sector & gang
        region_masks[f"M{k + 4}"] = in_sector & supg
    for i, name in enumerate(ASPECTS_REGIONS):
        regions[region_masks[name]] = (i + 1 + 10 * side[region_masks[name]]).astype(np.uint8)
    # early ischaemic change: hypoattenuation and loss of grey-white differentiation
    if label.ischaemic_regions:
        want = 0 if label.ischaemic_side == "left" else 1
        hit = np.zeros(xs.shape, dtype=bool)
        for name in label.ischaemic_regions:
            hit |= region_masks[name] & (side == want)
        hit &= ~csf
        grey = hit & ((tissue == _T_GM) | (tissue == _T_NUC))
        out[hit] -= head.isch_delta
        out[grey] -= head.isch_blur * (hu["gm"] - hu["wm"]) * 0.5

    sinus = brain & (d_mid < 1e2) & (axw < 3.0) & (depth_b < 4.0) & (ys > -40)
    _mimics(head, out, brain, csf, sinus, xw, ys, zs, d_mid, gm)
    blood = _bleeds(head, out, brain, sah_space & ~vent, vent, tissue, xs, xw, ys, zs, ux, uy,
                    uz, depth_b)
    tissue[blood > 0] = _T_BLOOD
    return out, blood, regions, tissue


def _mimics(head: _Head, out: np.ndarray, brain: np.ndarray, csf: np.ndarray,
            sinus: np.ndarray, xw: np.ndarray, ys: np.ndarray, zs: np.ndarray,
            d_mid: np.ndarray, gm: np.ndarray) -> None:
    """Draw the labelled mimics into ``out`` (HU), in place."""
    mp = head.mimic_params
    calc = mp["calcification_hu"]
    axw = np.abs(xw)
    for name in head.label.mimics:
        if name == "choroid_plexus_calcification":
            m = brain & (_ellipsoid_radius(axw, ys, zs, (19.0, 31.0, 9.0), (2.6, 3.2, 2.6)) < 1)
            out[m] = calc
        elif name == "pineal_calcification":
            out[brain & (_ellipsoid_radius(xw, ys, zs, (0.0, 22.0, 3.0), (2.8, 3.2, 2.8)) < 1)] = \
                calc
        elif name == "basal_ganglia_calcification":
            m = brain & (_ellipsoid_radius(axw, ys, zs, (head.lent_x - 3.5, -1.0, -1.0),
                                           (2.2, 4.5, 3.0)) < 1)
            out[m] = 0.7 * calc
        elif name == "falx_calcification":
            m = brain & (d_mid < 1e2) & (axw < 1.3) & (_ellipsoid_radius(
                xw, ys, zs, (0.0, mp["falx_y"], mp["falx_z"]), (2.0, 7.0, 4.0)) < 1)
            out[m] = calc + 100.0
        elif name == "hyperdense_vessel":
            s = mp["mca_side"]
            t = np.clip((s * xw - 6.0) / (head.insula_x - 8.0), 0, 1)
            d = np.sqrt((s * xw - 6.0 - t * (head.insula_x - 8.0)) ** 2 + (ys + 4.0) ** 2
                        + (zs + 12.0 - 6.0 * t) ** 2)
            out[brain & (d < 1.9) & (s * xw > 5.0)] = mp["mca_hu"]
        elif name == "residual_contrast":
            out[gm] += mp["contrast_gm"]
            out[sinus] = mp["vessel_hu"]
            branches = brain & csf & (np.abs(head.fold(3 * xw, 3 * ys, 3 * zs)) < 0.12)
            out[branches] = mp["vessel_hu"]


def _bleeds(head: _Head, out: np.ndarray, brain: np.ndarray, sah_space: np.ndarray,
            vent: np.ndarray, tissue: np.ndarray, xs: np.ndarray, xw: np.ndarray, ys: np.ndarray,
            zs: np.ndarray, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray,
            depth_b: np.ndarray) -> np.ndarray:
    """Draw the labelled bleeds into ``out`` (HU) and return the blood kind map."""
    blood = np.zeros(xs.shape, dtype=np.uint8)
    for b in head.bleeds:
        kind_id = BLEED_KINDS.index(b["kind"]) + 1
        if b["kind"] == "intraparenchymal":
            rad = _ellipsoid_radius(xw, ys, zs, b["centre"], b["semi_axes"])
            rad = rad - b["lobulation"] * head.lobule(xw, ys, zs)
            m = brain & (rad < 1.0)
            oedema = brain & (rad >= 1.0) & (rad < 1.35) & ~(tissue == _T_CSF)
            out[oedema] -= 5.0
            clot = b["hu"] + 4.0 * head.lobule(2 * xw[m], 2 * ys[m], 2 * zs[m])
            out[m] = np.clip(clot, 52.0, 88.0)
        elif b["kind"] == "intraventricular":
            dependent = ys > b["level_y"]
            if b["third"]:
                dependent |= np.abs(xw) < 4
            m = vent & dependent
            out[m] = b["hu"] - 6.0
        elif b["kind"] == "subarachnoid":
            ball = np.sqrt((xw - b["centre"][0]) ** 2 + (ys - b["centre"][1]) ** 2
                           + (zs - b["centre"][2]) ** 2) < b["radius"]
            m = sah_space & ball
            out[m] = b["hu"] - 4.0
        else:
            d = b["direction"]
            cosang = np.clip(ux * d[0] + uy * d[1] + uz * d[2], -1, 1)
            ang = np.degrees(np.arccos(cosang)) / b["half_angle_deg"]
            if b["kind"] == "subdural":  # crescent: long, tapering, crosses sutures
                taper = np.maximum(np.cos(np.pi / 2 * np.minimum(ang, 1.0)), 0.0)
                t = b["thickness_mm"] * taper ** 0.7
                m = brain & (depth_b < t) & (ang < 1.0) & (b["sign"] * xs > 2.0)
            else:  # lens, stopped by the coronal and lambdoid sutures
                t = b["thickness_mm"] * (1.0 - np.minimum(ang, 1.0) ** 2)
                m = (brain & (depth_b < t) & (ang < 1.0) & (ys > head.coronal_y + 0.25 * zs + 1)
                     & (ys < head.lambdoid_y - 0.45 * zs - 1))
            out[m] = b["hu"]
        blood[m] = kind_id
    return blood


def _kernel_and_noise(vol: np.ndarray, px: float, rng: np.random.Generator) -> dict[str, Any]:
    """In-plane kernel blur (Gaussian or unsharp mask with ringing) and ramp-NPS noise, in
    place. Returns what was applied."""
    sharp = bool(rng.random() < 0.4)
    sigma_mm = rng.uniform(0.5, 0.8) if sharp else rng.uniform(0.7, 1.1)
    s = max(sigma_mm / px, 0.3)
    blurred = ndimage.gaussian_filter(vol, (0, s, s))
    amount = rng.uniform(0.3, 0.6) if sharp else 0.0
    if sharp:  # edge enhancement; the ringing is bounded as the scanner's soft-tissue kernel's
        soft = np.clip(blurred, -100.0, 150.0)
        blurred = blurred + amount * (soft - ndimage.gaussian_filter(soft, (0, 3 * s, 3 * s)))
    vol[...] = blurred
    noise_sd = rng.uniform(3.0, 8.0)
    f_cut = rng.uniform(0.35, 0.6) if sharp else rng.uniform(0.22, 0.35)  # cycles/mm
    ny, nx = vol.shape[1:]
    fy = np.fft.fftfreq(ny, px)[:, None]
    fx = np.fft.rfftfreq(nx, px)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    amp = np.sqrt(f * np.exp(-((f / f_cut) ** 2))).astype(np.float32)  # sqrt of the ramp NPS
    for k in range(vol.shape[0]):
        white = rng.standard_normal((ny, nx)).astype(np.float32)
        tex = np.fft.irfft2(np.fft.rfft2(white) * amp, s=(ny, nx))
        vol[k] += (tex * (noise_sd / max(float(tex.std()), 1e-6))).astype(np.float32)
    return {"kernel": "Hr64" if sharp else "Hr38", "kernel_sigma_mm": round(sigma_mm, 3),
            "unsharp_amount": round(amount, 3), "noise_sd_hu": round(noise_sd, 2),
            "noise_nps": "ramp f*exp(-(f/fc)^2)", "noise_fc_cycles_per_mm": round(f_cut, 3)}


def _streaks(head: _Head, vol: np.ndarray, zs_head: np.ndarray, x: np.ndarray,
             y: np.ndarray) -> None:
    """Dark streaks between the petrous bones, and the labelled streak artefact, in place."""
    n = vol.shape[1]
    for k, z in enumerate(zs_head):
        w = np.exp(-0.5 * ((z + 42.0) / 6.0) ** 2)
        if w > 0.05:
            band = np.exp(-0.5 * ((y - 12.0) / 6.0) ** 2) * (np.abs(x) < 40)
            vol[k] -= (w * 14.0 * band * (0.6 + 0.4 * np.cos(y * 1.3))).astype(np.float32)
    if "streak_artefact" in head.label.mimics:
        mp = head.mimic_params
        src = (0.0, -60.0)
        for k, z in enumerate(zs_head):
            if abs(z - mp["streak_z"]) > 9.0:
                continue
            acc = np.zeros((n, n), dtype=np.float32)
            for i, a in enumerate(mp["streak_angles"]):
                perp = np.abs((x - src[0]) * np.sin(a) - (y - src[1]) * np.cos(a))
                acc += ((-1) ** i * mp["streak_amp"] * np.exp(-0.5 * (perp / 1.0) ** 2)
                        ).astype(np.float32)
            head_mask = vol[k] > -300
            vol[k][head_mask] += acc[head_mask]


def _render(seed: int, label: NcctLabel, matrix: int
            ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    head = _Head(seed, label)
    rng = np.random.default_rng([seed, 19, 1])
    thickness = float(rng.choice([3.0, 4.0, 5.0]))
    n_slices = int(np.clip(round((Z_TOP_MM - Z_BOTTOM_MM) / thickness), 28, 45))
    z_centres = Z_BOTTOM_MM + thickness * (np.arange(n_slices) + 0.5)
    px = FOV_MM / matrix
    coords = (np.arange(matrix) - (matrix - 1) / 2) * px
    rot = _rotation(head.pose["pitch_deg"], head.pose["yaw_deg"], head.pose["roll_deg"])
    tx, ty = head.offset_mm
    inv = rot.T
    vol = np.empty((n_slices, matrix, matrix), dtype=np.float32)
    blood_fine_ml = {k: 0.0 for k in BLEED_KINDS}
    blood = np.zeros(vol.shape, dtype=np.uint8)
    regions = np.zeros(vol.shape, dtype=np.uint8)
    tissue = np.zeros(vol.shape, dtype=np.uint8)
    fine_voxel_ml = px * px * thickness / SUBSLICES / 1000.0
    chunk = max(1, int(2_400_000 // (matrix * matrix * SUBSLICES)))
    ygrid, xgrid = np.meshgrid(coords, coords, indexing="ij")
    for k0 in range(0, n_slices, chunk):
        ks = np.arange(k0, min(n_slices, k0 + chunk))
        offs = (np.arange(SUBSLICES) + 0.5) / SUBSLICES - 0.5
        zf = (z_centres[ks][:, None] + offs[None, :] * thickness).ravel()
        shape = (len(zf), matrix, matrix)
        px_ = np.broadcast_to(xgrid - tx, shape)
        py_ = np.broadcast_to(ygrid - ty, shape)
        pz_ = np.broadcast_to(zf[:, None, None], shape)
        hx = (inv[0, 0] * px_ + inv[0, 1] * py_ + inv[0, 2] * pz_).astype(np.float32)
        hy = (inv[1, 0] * px_ + inv[1, 1] * py_ + inv[1, 2] * pz_).astype(np.float32)
        hz = (inv[2, 0] * px_ + inv[2, 1] * py_ + inv[2, 2] * pz_).astype(np.float32)
        hu, kinds, reg, tis = _slab(head, hx, hy, hz)
        n = len(ks)
        vol[ks] = hu.reshape(n, SUBSLICES, matrix, matrix).mean(axis=1)
        kinds = kinds.reshape(n, SUBSLICES, matrix, matrix)
        counts = np.stack([(kinds == i + 1).sum(axis=1) for i in range(len(BLEED_KINDS))])
        for i, kind in enumerate(BLEED_KINDS):
            blood_fine_ml[kind] += float(counts[i].sum()) * fine_voxel_ml
        best = counts.argmax(axis=0)
        blood[ks] = np.where(counts.sum(axis=0) * 2 > SUBSLICES, best + 1, 0).astype(np.uint8)
        regions[ks] = reg.reshape(n, SUBSLICES, matrix, matrix)[:, SUBSLICES // 2]
        tissue[ks] = tis.reshape(n, SUBSLICES, matrix, matrix)[:, SUBSLICES // 2]
    _streaks(head, vol, z_centres, xgrid, ygrid)
    physics = _kernel_and_noise(vol, px, rng)
    np.clip(vol, -1024.0, 3071.0, out=vol)
    details = _details(head, label, physics, thickness, px, blood_fine_ml, rot, (tx, ty),
                       z_centres, matrix)
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=vol,
                    spacing_mm=(thickness, px, px), blood_mask=blood, details=details)
    return case, regions, tissue


def _details(head: _Head, label: NcctLabel, physics: dict[str, Any], thickness: float,
             px: float, blood_ml: dict[str, float], rot: np.ndarray,
             shift: tuple[float, float], z_centres: np.ndarray, matrix: int) -> dict[str, Any]:
    """What was drawn, JSON-ready (positions in scanner LPS mm)."""

    def to_scanner(p: tuple[float, float, float]) -> list[float]:
        q = rot @ np.asarray(p, dtype=float) + np.array([shift[0], shift[1], 0.0])
        return [round(float(v), 1) for v in q]

    bleeds = []
    iph_largest: dict[str, Any] | None = None
    for b in head.bleeds:
        entry: dict[str, Any] = {"kind": b["kind"], "side": b["side"],
                                 "hu": round(b["hu"], 1)}
        if "centre" in b:
            entry["centre_lps_mm"] = to_scanner(b["centre"])
        if "site" in b:
            entry["site"] = b["site"]
        if b["kind"] == "intraparenchymal":
            a, bb, c = (2 * v / 10.0 for v in b["semi_axes"])  # diameters, cm (x, y, z)
            entry["abc_cm"] = [round(max(a, bb), 2), round(min(a, bb), 2), round(c, 2)]
            entry["abc2_ml"] = round(a * bb * c / 2.0, 1)
            if iph_largest is None or entry["abc2_ml"] > iph_largest["abc2_ml"]:
                iph_largest = entry
        if b["kind"] in ("subdural", "epidural"):
            entry["max_thickness_mm"] = round(b["thickness_mm"], 1)
        bleeds.append(entry)
    half = (matrix - 1) / 2 * px
    return {
        "pose": {k: round(v, 2) for k, v in head.pose.items()}
        | {"offset_mm": [round(v, 2) for v in head.offset_mm]},
        "slice_thickness_mm": thickness, "pixel_mm": round(px, 4),
        "partial_volume_subslices": SUBSLICES, **physics,
        "tissue_hu": {k: round(float(v), 1) for k, v in head.hu.items()},
        "bleeds": bleeds,
        "blood_volume_ml_by_kind": {k: round(v, 3) for k, v in blood_ml.items() if v > 0},
        "blood_volume_ml": round(sum(blood_ml.values()), 3),
        "largest_iph_abc_cm": iph_largest["abc_cm"] if iph_largest else None,
        "largest_iph_abc2_ml": iph_largest["abc2_ml"] if iph_largest else None,
        "midline_shift_mm": round(head.septum_shift_mm(), 2),
        "midline_shift_towards": ("right" if head.shift_side > 0 else "left")
        if head.midline_shift_mm > 0 else None,
        "ischaemic_delta_hu": round(head.isch_delta, 2) if label.ischaemic_regions else None,
        "mimics": list(label.mimics),
        "origin_mm": (-half, -half, float(z_centres[0])),
    }


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one NCCT case (deterministic for ``seed``); ``matrix`` pixels over 230 mm."""
    return _render(seed, label, matrix)[0]


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """:func:`render` plus the ASPECTS region map (0 none, 1-10 the regions of
    :data:`ASPECTS_REGIONS` on the left, 11-20 on the right) and the tissue map (index in
    :data:`TISSUES`), both (z, y, x) at the centre of each slice."""
    return _render(seed, label, matrix)
