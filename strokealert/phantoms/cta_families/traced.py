"""CTA family "traced": an arterial tree traced from published centreline statistics.

Each artery is a guided random walk between anatomical landmarks of a skull frame (carotid
canal, cavernous sinus, sella, sylvian fissure, clivus, foramen magnum): a Bezier bridge whose
lengths and diameters are drawn from published morphometry (mean and SD, e.g. M1 16 +/- 3 mm
long, 2.9 +/- 0.4 mm wide; A1 13 mm; basilar 30 mm by 3 mm), which starts along the drawn
branching angle (60-80 degrees at the MCA bifurcation) and wanders by a smooth random process
whose amplitude (tortuosity) rises with the drawn age (40-90 years).

The head is an ellipsoid deformed by a few real spherical harmonics (degrees 2 and 3); the brain
is split into CSF, grey and white matter by the depth below the inner table (sulcal CSF from a
smooth random field), with ventricles, deep grey nuclei, cisterns, a skull base with clivus and
foramen magnum, orbits, sinuses and the cervical spine.

CT physics: partial volume across the slice (three sub-slices averaged), a soft or an
edge-enhancing reconstruction kernel (with ringing from its sharp cut-off), bolus timing (early
arterial with faint distal filling, arterial, late venous with veins as bright as arteries),
venous sinuses, internal cerebral and cortical veins and the cavernous sinus, and noise shaped by
a noise-power spectrum (ramp times the kernel's MTF squared) scaled to a drawn 5-25 HU.

Head frame: millimetres, x to the patient's left, y posterior, z up (LPS), origin at the centre
of the cranial ellipsoid; a drawn pose (pitch, yaw, roll and offset) places it in the scanner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft
from scipy.ndimage import gaussian_filter, gaussian_filter1d, map_coordinates

from strokealert.phantoms.cta_families import CaseLabel, CtaCase

FAMILY = "traced"

Array = npt.NDArray[np.float64]
Volume = npt.NDArray[np.float32]

MORPHOMETRY_MM: dict[str, tuple[float, float]] = {
    "ICA_diameter": (4.6, 0.6), "ICA_terminus_diameter": (3.8, 0.5),
    "M1_length": (16.0, 3.0), "M1_diameter": (2.9, 0.4),
    "M2_length": (30.0, 6.0), "M2_diameter": (2.2, 0.3),
    "M3_diameter": (1.5, 0.25), "M4_diameter": (1.0, 0.15),
    "A1_length": (13.0, 2.5), "A1_diameter": (2.2, 0.4), "A2_diameter": (2.0, 0.3),
    "PComm_length": (12.0, 3.0), "PComm_diameter": (1.2, 0.4),
    "P1_length": (7.0, 2.0), "P1_diameter": (2.1, 0.4), "P2_diameter": (2.0, 0.3),
    "basilar_length": (30.0, 4.0), "basilar_diameter": (3.0, 0.4),
    "vertebral_diameter": (3.0, 0.6),
}
"""Published morphometry of the intracranial arteries: (mean, SD) in millimetres."""

BLOOD_HU = 40.0
"""Unenhanced blood (HU); iodine adds to it."""


@dataclass
class Vessel:
    """One traced vessel: centreline in the head frame (mm), radii (mm), contrast fill (0-1)."""

    name: str
    side: int  # +1 left, -1 right, 0 midline
    points: Array  # (n, 3) head frame, mm
    radii: Array  # (n,) mm
    parent: str | None = None
    attach: int = 0  # index on the parent's centreline where this vessel starts
    kind: str = "artery"  # artery | vein
    group: str = "trunk"  # trunk | cortical
    fill: Array = field(default_factory=lambda: np.ones(0))
    path_mm: float = 0.0  # centreline distance from the neck to this vessel's start

    def __post_init__(self) -> None:
        if self.fill.size != len(self.points):
            self.fill = np.ones(len(self.points))

    def arclength(self) -> Array:
        """Cumulative centreline length at each point (mm)."""
        steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])


def _unit(v: Array) -> Array:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _draw(rng: np.random.Generator, key: str, scale: float = 1.0, floor: float = 0.3) -> float:
    """A value from :data:`MORPHOMETRY_MM` (mm), clipped to at least ``floor`` times the mean."""
    mean, sd = MORPHOMETRY_MM[key]
    return max(floor * mean, float(rng.normal(mean, sd))) * scale


def _trace(rng: np.random.Generator, p0: Array, p1: Array, r0: float, r1: float, tortuosity: float,
           d0: Array | None = None, step_mm: float = 1.0, free_end: bool = False) -> tuple[Array,
                                                                                        Array]:
    """A guided random walk from ``p0`` to ``p1`` (mm): a Bezier bridge plus smooth wander.

    ``d0`` is the start direction (the branching angle); the wander is a Gaussian-filtered
    random process of amplitude ``tortuosity`` x chord, pinned at both ends (or only at the start
    when ``free_end``). Returns centreline points (n, 3) and linearly tapered radii (n,).
    """
    chord = float(np.linalg.norm(p1 - p0))
    n = max(4, int(math.ceil(chord * (1.0 + 2 * tortuosity) / step_mm)) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    ctrl = p0 + (_unit(d0) * chord * 0.4 if d0 is not None else (p1 - p0) * 0.5)
    base = (1 - t) ** 2 * p0 + 2 * t * (1 - t) * ctrl + t**2 * p1
    wander = gaussian_filter1d(rng.normal(size=(n, 3)), sigma=max(1.0, 7.0 / step_mm), axis=0,
                               mode="nearest")
    wander /= max(float(wander.std()), 1e-9)
    envelope = t if free_end else np.sin(np.pi * t)
    points = base + wander * envelope * tortuosity * chord
    return points, np.linspace(r0, r1, n)


@dataclass
class Head:
    """Skull shape in the head frame: ellipsoid semi-axes (mm) and spherical-harmonic terms."""

    ax: float
    ay: float
    az_up: float
    az_down: float
    sh: dict[str, float]
    bone_mm: float
    scalp_mm: float

    def outer_radius(self, nx: Array, ny: Array, nz: Array) -> Array:
        """Outer skull radius (mm) along unit directions (nx, ny, nz)."""
        az = np.where(nz > 0, self.az_up, self.az_down)
        r = 1.0 / np.sqrt((nx / self.ax) ** 2 + (ny / self.ay) ** 2 + (nz / az) ** 2)
        harmonics = {"Y20": 3 * nz**2 - 1, "Y21": ny * nz, "Y22": nx**2 - ny**2,
                     "Y30": nz * (5 * nz**2 - 3), "Y31": ny * (5 * nz**2 - 1),
                     "Y33": nx * nx * ny - ny**3 / 3, "Y2x": nx * nz}
        shape = 1.0 + sum(self.sh[k] * harmonics[k] for k in self.sh)
        return np.asarray(r * shape)

    def bone_thickness(self, ny: Array, nz: Array) -> Array:
        """Calvarial thickness (mm): thicker occipital and frontal, thinner temporal."""
        return np.asarray(self.bone_mm * (1.0 + 0.35 * np.abs(ny) + 0.15 * nz))

    def inner_point(self, direction: Array, depth_mm: float) -> Array:
        """The point ``depth_mm`` below the inner table along ``direction`` (head frame, mm)."""
        n = _unit(direction)
        nx, ny, nz = (np.array([c]) for c in n)
        radius = self.outer_radius(nx, ny, nz) - self.bone_thickness(ny, nz) - depth_mm
        return n * float(radius[0])


def _draw_head(rng: np.random.Generator) -> Head:
    sh = {k: float(rng.normal(0, s)) for k, s in
          (("Y20", 0.02), ("Y21", 0.03), ("Y22", 0.03), ("Y30", 0.015), ("Y31", 0.02),
           ("Y33", 0.02), ("Y2x", 0.01))}
    return Head(ax=rng.uniform(66, 74), ay=rng.uniform(86, 97), az_up=rng.uniform(70, 80),
                az_down=rng.uniform(56, 62), sh=sh, bone_mm=rng.uniform(4.5, 6.5),
                scalp_mm=rng.uniform(4.0, 7.0))


class Tree:
    """The traced arteries and veins, by name."""

    def __init__(self) -> None:
        self.vessels: dict[str, Vessel] = {}

    def add(self, vessel: Vessel) -> Vessel:
        if vessel.parent is not None:
            parent = self.vessels[vessel.parent]
            vessel.path_mm = parent.path_mm + float(parent.arclength()[vessel.attach])
        self.vessels[vessel.name] = vessel
        return vessel

    def children(self, name: str) -> list[Vessel]:
        return [v for v in self.vessels.values() if v.parent == name]

    def subtree(self, name: str, from_index: int = 0) -> list[Vessel]:
        """Vessels fed by ``name`` beyond ``from_index`` (not ``name`` itself)."""
        found: list[Vessel] = []
        for child in self.children(name):
            if child.attach >= from_index:
                found += [child, *self.subtree(child.name)]
        return found


def _legs(rng: np.random.Generator, waypoints: list[Array], r0: float, r1: float,
          tortuosity: float) -> tuple[Array, Array]:
    """Trace a trunk through landmark ``waypoints`` (mm); radii taper from r0 to r1 (mm)."""
    pts: list[Array] = []
    for a, b in zip(waypoints[:-1], waypoints[1:], strict=True):
        leg, _ = _trace(rng, a, b, 1.0, 1.0, tortuosity)
        pts.append(leg if not pts else leg[1:])
    points = np.concatenate(pts)
    return points, np.linspace(r0, r1, len(points))


def _build_tree(rng: np.random.Generator, head: Head, tortuosity: float, variants: dict[str, Any],
                drawn: dict[str, float]) -> Tree:
    """The arteries and veins of one head, traced between jittered skull-frame landmarks."""
    tree = Tree()
    scale = head.ay / 92.0

    def lm(x: float, y: float, z: float, jitter: float = 1.5) -> Array:
        return np.array([x, y, z]) * scale + rng.normal(0, jitter, 3)

    tort = tortuosity
    for s, sname in ((1, "L"), (-1, "R")):
        # Internal carotid: neck, carotid canal, petrous, cavernous siphon, terminus.
        ica_r = _draw(rng, "ICA_diameter") / 2
        term_r = _draw(rng, "ICA_terminus_diameter") / 2
        way = [lm(s * 24, 6, -105, 0), lm(s * 26, 8, -64), lm(s * 20, -4, -50),
               lm(s * 16, -10, -43), lm(s * 14, -10, -35), lm(s * 14, -21, -32),
               lm(s * 13, -22, -24, 1), lm(s * 13, -14, -20, 1), lm(s * 15, -9, -16, 1)]
        pts, radii = _legs(rng, way, ica_r, term_r, tort * 0.6)
        ica = tree.add(Vessel(f"ICA_{sname}", s, pts, radii))
        terminus = ica.points[-1]
        # Middle cerebral: M1 along the sylvian fissure, then the bifurcation.
        m1_len = _draw(rng, "M1_length")
        drawn[f"M1_length_{sname}"] = round(m1_len, 1)
        m1_dir = _unit(np.array([s * 1.0, -0.2, 0.15]) + rng.normal(0, 0.1, 3))
        m1_r = _draw(rng, "M1_diameter") / 2
        bif = terminus + m1_dir * m1_len / (1 + tort)
        pts, radii = _trace(rng, terminus, bif, m1_r, m1_r * 0.92, tort)
        tree.add(Vessel(f"M1_{sname}", s, pts, radii, parent=ica.name, attach=len(ica.points) - 1))
        angle = math.radians(rng.uniform(60, 80))
        drawn[f"MCA_bifurcation_angle_deg_{sname}"] = round(math.degrees(angle), 1)
        up = _unit(np.array([0.0, 0.0, 1.0]) - m1_dir * m1_dir[2])
        m2_specs = [("sup", np.cos(angle / 2) * m1_dir + np.sin(angle / 2) * up,
                     np.array([s * 38.0, bif[1] / scale + rng.uniform(-4, 8),
                               bif[2] / scale + 24])),
                    ("inf", np.cos(angle / 2) * m1_dir - np.sin(angle / 2) * up,
                     np.array([s * 41.0, bif[1] / scale + 16, bif[2] / scale - 4]))]
        if variants.get("trifurcation") == sname:
            m2_specs.append(("mid", m1_dir, np.array([s * 40.0, bif[1] / scale + 6,
                                                      bif[2] / scale + 10])))
        for part, d0, target in m2_specs:
            m2_r = _draw(rng, "M2_diameter") / 2
            m2_len = _draw(rng, "M2_length")
            end = bif + _unit(target * scale - bif) * m2_len / (1 + tort)
            pts, radii = _trace(rng, bif, end, m2_r, m2_r * 0.85, tort, d0=d0)
            m2 = tree.add(Vessel(f"M2{part}_{sname}", s, pts, radii, parent=f"M1_{sname}",
                                 attach=len(tree.vessels[f"M1_{sname}"].points) - 1))
            _cortical(rng, tree, head, m2, part, s, tort)
        if variants.get("duplicated_MCA") == sname:
            start_i = len(ica.points) - 4
            target = np.array([s * 44.0, 2.0, -26.0]) * scale
            pts, radii = _trace(rng, ica.points[start_i], target, 0.8, 0.6, tort,
                                d0=np.array([s * 1.0, 0.1, -0.2]))
            dup = tree.add(Vessel(f"dupMCA_{sname}", s, pts, radii, parent=ica.name,
                                  attach=start_i))
            _cortical(rng, tree, head, dup, "inf", s, tort, count=2)
        # Anterior cerebral: A1 to the anterior communicating artery, then A2 / pericallosal.
        a1_len = _draw(rng, "A1_length")
        acom = terminus + _unit(lm(s * 1.5, -20, -13, 0.5) - terminus) * a1_len
        a1_r = _draw(rng, "A1_diameter") / 2
        if variants.get("absent_A1") == sname:
            a1_r = 0.0
        elif variants.get("hypoplastic") == f"A1_{sname}":
            a1_r = rng.uniform(0.35, 0.5) * a1_r
        pts, radii = _trace(rng, terminus, acom, a1_r, a1_r, tort * 0.5)
        tree.add(Vessel(f"A1_{sname}", s, pts, radii, parent=ica.name,
                        attach=len(ica.points) - 1))
        a2_r = _draw(rng, "A2_diameter") / 2
        way = [acom, lm(s * 2.0, -28, -2, 1), lm(s * 2.3, -32, 16, 2), lm(s * 2.6, -15, 32, 2),
               lm(s * 2.8, 12, 35, 2), lm(s * 3.0, 38, 28, 2), lm(s * 3.0, 52, 14, 2)]
        pts, radii = _legs(rng, way, a2_r, a2_r * 0.45, tort * 0.5)
        a2 = tree.add(Vessel(f"A2_{sname}", s, pts, radii, parent=f"A1_{sname}",
                             attach=len(tree.vessels[f"A1_{sname}"].points) - 1))
        for frac, direction in ((0.3, (s * 0.25, -0.6, 0.75)), (0.55, (s * 0.25, 0.1, 1.0))):
            i = int(frac * (len(a2.points) - 1))
            target = head.inner_point(np.array(direction), 4.0)
            pts, radii = _trace(rng, a2.points[i], target, 0.7, 0.45, tort)
            tree.add(Vessel(f"A2c{i}_{sname}", s, pts, radii, parent=a2.name, attach=i,
                            group="cortical"))
        # Vertebral arteries to the vertebrobasilar junction; PICA.
        vert_r = _draw(rng, "vertebral_diameter", floor=0.5) / 2
        vert_r *= variants.get(f"vertebral_scale_{sname}", 1.0)
        way = [lm(s * 15, 22, -105, 0), lm(s * 15, 22, -74), lm(s * 19, 28, -65),
               lm(s * 11, 32, -58), lm(s * 1.5, 16, -48, 0.5)]
        pts, radii = _legs(rng, way, vert_r, vert_r, tort * 0.7)
        vert = tree.add(Vessel(f"vertebral_{sname}", s, pts, radii))
        i = int(0.72 * (len(pts) - 1))
        pts, radii = _legs(rng, [vert.points[i], lm(s * 16, 46, -56), lm(s * 22, 64, -44)],
                           0.6, 0.4, tort)
        tree.add(Vessel(f"PICA_{sname}", s, pts, radii, parent=vert.name, attach=i,
                        group="cortical"))
    # Basilar: from the junction up the clivus, length from morphometry.
    vbj = (tree.vessels["vertebral_L"].points[-1] + tree.vessels["vertebral_R"].points[-1]) / 2
    bas_len = _draw(rng, "basilar_length")
    drawn["basilar_length"] = round(bas_len, 1)
    top = vbj + _unit(lm(0, 2, -20, 1) - vbj) * bas_len
    bas_r = _draw(rng, "basilar_diameter") / 2
    pts, radii = _trace(rng, vbj, top, bas_r, bas_r * 0.93, tort * 0.7)
    bas = tree.add(Vessel("basilar", 0, pts, radii, parent="vertebral_L",
                          attach=len(tree.vessels["vertebral_L"].points) - 1))
    for s, sname in ((1, "L"), (-1, "R")):
        i = int(0.25 * (len(bas.points) - 1))
        pts, radii = _legs(rng, [bas.points[i], lm(s * 14, 24, -46), lm(s * 26, 36, -44)],
                           0.45, 0.35, tort)
        tree.add(Vessel(f"AICA_{sname}", s, pts, radii, parent="basilar", attach=i,
                        group="cortical"))
        i = int(0.88 * (len(bas.points) - 1))
        pts, radii = _legs(rng, [bas.points[i], lm(s * 11, 10, -24), lm(s * 20, 32, -26),
                                 lm(s * 14, 56, -30)], 0.6, 0.4, tort)
        tree.add(Vessel(f"SCA_{sname}", s, pts, radii, parent="basilar", attach=i,
                        group="cortical"))
        # P1, PComm (fetal variant: large PComm, thin P1), P2 around the midbrain.
        p1_len = _draw(rng, "P1_length")
        p1_end = top + _unit(lm(s * 8, 2, -19, 0.5) - top) * p1_len
        p1_r = _draw(rng, "P1_diameter") / 2
        pc_r = _draw(rng, "PComm_diameter", floor=0.4) / 2
        if variants.get("fetal_PCA") == sname:
            p1_r, pc_r = p1_r * rng.uniform(0.3, 0.45), rng.uniform(0.95, 1.1)
        elif variants.get("hypoplastic") == f"P1_{sname}":
            p1_r *= rng.uniform(0.35, 0.5)
        pts, radii = _trace(rng, top, p1_end, p1_r, p1_r, tort * 0.5)
        tree.add(Vessel(f"P1_{sname}", s, pts, radii, parent="basilar",
                        attach=len(bas.points) - 1))
        ica = tree.vessels[f"ICA_{sname}"]
        j = int(np.argmin(np.linalg.norm(ica.points - lm(s * 13, -13, -19, 0), axis=1)))
        pts, radii = _trace(rng, ica.points[j], p1_end, pc_r, pc_r, tort * 0.5)
        tree.add(Vessel(f"PComm_{sname}", s, pts, radii, parent=ica.name, attach=j))
        p2_r = _draw(rng, "P2_diameter") / 2
        way = [p1_end, lm(s * 18, 12, -16), lm(s * 23, 30, -10), lm(s * 17, 55, -4),
               lm(s * 10, 72, 2)]
        pts, radii = _legs(rng, way, p2_r, p2_r * 0.5, tort)
        p2 = tree.add(Vessel(f"P2_{sname}", s, pts, radii, parent=f"P1_{sname}",
                             attach=len(tree.vessels[f"P1_{sname}"].points) - 1))
        for frac, direction in ((0.55, (s * 0.5, 0.8, -0.35)), (0.75, (s * 0.25, 0.9, 0.3))):
            i = int(frac * (len(p2.points) - 1))
            target = head.inner_point(np.array(direction), 4.0)
            pts, radii = _trace(rng, p2.points[i], target, 0.75, 0.45, tort)
            tree.add(Vessel(f"P3c{i}_{sname}", s, pts, radii, parent=p2.name, attach=i,
                            group="cortical"))
    _veins(rng, tree, head, scale)
    return tree


def _cortical(rng: np.random.Generator, tree: Tree, head: Head, trunk: Vessel, part: str, s: int,
              tort: float, count: int | None = None) -> None:
    """M3 branches from an M2 trunk to the convexity, each splitting into two M4 branches."""
    for k in range(count if count is not None else int(rng.integers(2, 4))):
        i = int((0.45 + 0.55 * (k + rng.uniform(0, 0.6)) / 3) * (len(trunk.points) - 1))
        i = min(i, len(trunk.points) - 1)
        if part == "sup":
            direction = np.array([s * 1.0, rng.uniform(-0.9, 0.7), rng.uniform(0.3, 1.1)])
        elif part == "inf":
            direction = np.array([s * 1.0, rng.uniform(-0.3, 1.0), rng.uniform(-0.5, 0.1)])
        else:
            direction = np.array([s * 1.0, rng.uniform(-0.3, 0.5), rng.uniform(-0.1, 0.4)])
        target = head.inner_point(direction, 5.0)
        m3_r = _draw(rng, "M3_diameter") / 2
        pts, radii = _trace(rng, trunk.points[i], target, m3_r, m3_r * 0.8, tort * 1.2)
        m3 = tree.add(Vessel(f"M3{part}{k}_{trunk.name}", s, pts, radii, parent=trunk.name,
                             attach=i, group="cortical"))
        for j in range(2):
            bend = _unit(direction) + rng.normal(0, 0.35, 3)
            m4_r = _draw(rng, "M4_diameter") / 2
            pts, radii = _trace(rng, m3.points[-1], head.inner_point(bend, 2.5), m4_r,
                                m4_r * 0.6, tort * 1.4)
            tree.add(Vessel(f"M4{j}_{m3.name}", s, pts, radii, parent=m3.name,
                            attach=len(m3.points) - 1, group="cortical"))


def _veins(rng: np.random.Generator, tree: Tree, head: Head, scale: float) -> None:
    """Dural sinuses, deep and cortical veins and the cavernous sinuses (head frame, mm)."""
    phis = np.radians(np.linspace(35, 192, 40))
    sss = np.array([head.inner_point(np.array([0.0, -math.cos(p), math.sin(p)]), 3.0)
                    for p in phis])
    tree.add(Vessel("superior_sagittal_sinus", 0, sss, np.linspace(1.5, 4.2, len(sss)),
                    kind="vein"))
    torcula = sss[-1]
    galen = np.array([0.0, 20.0, 2.0]) * scale
    pts, radii = _trace(rng, galen, torcula, 2.2, 2.8, 0.02, step_mm=2.0)
    tree.add(Vessel("straight_sinus", 0, pts, radii, kind="vein"))
    dominant = 1 if rng.random() < 0.35 else -1
    for s, sname in ((1, "L"), (-1, "R")):
        size = 1.0 if s == dominant else rng.uniform(0.6, 0.9)
        psis = np.radians(np.linspace(0, 82, 18))
        lateral = [head.inner_point(np.array([s * math.sin(p), math.cos(p), -0.22]), 3.5)
                   for p in psis]
        way = [lateral[-1], np.array([s * 46.0, 30.0, -52.0]) * scale,
               np.array([s * 38.0, 22.0, -70.0]) * scale, np.array([s * 38.0, 22.0, -105.0])]
        sig, _ = _legs(rng, way, 1.0, 1.0, 0.02)
        pts = np.concatenate([np.array(lateral), sig[1:]])
        tree.add(Vessel(f"transverse_sigmoid_{sname}", s, pts,
                        np.full(len(pts), 4.0 * size), kind="vein"))
        way = [np.array([s * 2.5, -12, 8]) * scale, np.array([s * 1.8, 6, 6]) * scale, galen]
        pts, radii = _legs(rng, way, 0.9, 1.3, 0.03)
        tree.add(Vessel(f"internal_cerebral_vein_{sname}", s, pts, radii, kind="vein"))
        way = [np.array([s * 18, -6, -20]) * scale, np.array([s * 16, 10, -12]) * scale, galen]
        pts, radii = _legs(rng, way, 0.8, 1.1, 0.05)
        tree.add(Vessel(f"basal_vein_{sname}", s, pts, radii, kind="vein"))
        pts, radii = _trace(rng, np.array([s * 14.0, -23, -32]) * scale,
                            np.array([s * 14.0, -7, -33]) * scale, 3.5, 4.0, 0.0)
        tree.add(Vessel(f"cavernous_sinus_{sname}", s, pts, radii, kind="vein"))
        for k in range(4):
            start = head.inner_point(np.array([s * 1.0, rng.uniform(-0.8, 0.8),
                                               rng.uniform(-0.1, 0.7)]), 2.0)
            end = sss[int(np.argmin(np.linalg.norm(sss - start, axis=1)))]
            pts, radii = _trace(rng, start, end, 0.7, 1.4, 0.08, step_mm=1.5)
            pts = np.array([head.inner_point(p, 2.0) for p in pts])
            tree.add(Vessel(f"cortical_vein{k}_{sname}", s, pts, radii, kind="vein"))


def _draw_variants(rng: np.random.Generator, label: CaseLabel) -> dict[str, Any]:
    """Anatomical variants: a few in any case, the label's own for the hard negatives."""
    variants: dict[str, Any] = {}
    if rng.random() < 0.15:
        variants["trifurcation"] = str(rng.choice(["L", "R"]))
    for sname in ("L", "R"):
        variants[f"vertebral_scale_{sname}"] = float(rng.uniform(0.8, 1.0))
    if label.kind == "hypoplastic":
        segment = str(rng.choice(["A1", "P1", "vertebral", "M2"]))
        sname = str(rng.choice(["L", "R"]))
        variants["hypoplastic"] = f"{segment}_{sname}"
        if segment == "vertebral":
            variants[f"vertebral_scale_{sname}"] = float(rng.uniform(0.35, 0.5))
    if label.kind == "asymmetric_normal":
        names = ["fetal_PCA", "dominant_vertebral", "absent_A1", "duplicated_MCA",
                 "trifurcation"]
        for name in rng.choice(names, size=int(rng.integers(1, 3)), replace=False):
            sname = str(rng.choice(["L", "R"]))
            if name == "dominant_vertebral":
                variants[f"vertebral_scale_{sname}"] = float(rng.uniform(1.25, 1.45))
                other = "R" if sname == "L" else "L"
                variants[f"vertebral_scale_{other}"] = float(rng.uniform(0.5, 0.7))
            else:
                variants[str(name)] = sname
    return variants


def _index_at(vessel: Vessel, fraction: float) -> int:
    """The centreline index at ``fraction`` of the vessel's length."""
    arc = vessel.arclength()
    return int(np.searchsorted(arc, fraction * arc[-1]).clip(0, len(arc) - 1))


def _occlude(tree: Tree, vessel: Vessel, index: int, collateral: float) -> list[Vessel]:
    """No contrast beyond ``index``; cortical branches downstream keep ``collateral`` (0-1)."""
    vessel.fill[index:] = 0.0
    downstream = tree.subtree(vessel.name, index)
    for v in downstream:
        v.fill[:] = collateral if v.group == "cortical" else 0.0
    return [vessel, *downstream]


def _apply_label(rng: np.random.Generator, tree: Tree, label: CaseLabel,
                 variants: dict[str, Any]) -> dict[str, Any]:
    """Occlude, narrow or thin the tree for ``label``; returns probes (head frame) and facts.

    The result has ``unfilled`` and ``filled`` probe points (mm, head frame; a filled probe is
    the contralateral partner where there is one), ``territory`` (centreline points whose
    parenchyma fills less) and ``facts`` for ``details``.
    """
    vs = tree.vessels
    side = {"left": "L", "right": "R"}.get(label.side, "L")
    other = "R" if side == "L" else "L"
    collateral = float(rng.uniform(0.15, 0.5)) if rng.random() < 0.6 else 0.0
    out: dict[str, Any] = {"unfilled": [], "filled": [], "territory": [], "facts": {}}
    facts: dict[str, Any] = out["facts"]
    if label.kind == "lvo":
        facts["collateral_fill"] = round(collateral, 2)
        if label.site == "basilar":
            bas = vs["basilar"]
            clot = _index_at(bas, rng.uniform(0.35, 0.65))
            hit = _occlude(tree, bas, clot, collateral)
            for sname in ("L", "R"):
                pcomm = vs[f"PComm_{sname}"]
                refill = min(1.0, float(pcomm.radii[0]) / 0.9) if pcomm.radii[0] > 0.45 else 0.3
                for v in [vs[f"P2_{sname}"], *tree.subtree(f"P2_{sname}")]:
                    v.fill[:] = refill
            probe = (clot + len(bas.points) - 1) // 2
            out["unfilled"].append(bas.points[probe])
            out["filled"].append(bas.points[max(1, clot // 3)])
            facts["occluded_vessel"] = "basilar"
        else:
            name = {"ICA": f"ICA_{side}", "M1": f"M1_{side}",
                    "M2": f"M2{rng.choice(['sup', 'inf'])}_{side}"}[str(label.site)]
            vessel = vs[name]
            span = {"ICA": (0.45, 0.8), "M1": (0.15, 0.55), "M2": (0.1, 0.35)}[str(label.site)]
            clot = _index_at(vessel, rng.uniform(*span))
            hit = _occlude(tree, vessel, clot, collateral)
            facts["occluded_vessel"] = name
            if label.site == "ICA":
                vs[f"PComm_{side}"].fill[:] = 1.0  # retrograde from the posterior circulation
                if rng.random() < 0.5:
                    vs[f"A1_{side}"].fill[:] = 1.0
                for v in [vs[f"A2_{side}"], *tree.subtree(f"A2_{side}")]:
                    v.fill[:] = 1.0  # across the anterior communicating artery
                facts["A1_filled_via_ACom"] = bool(vs[f"A1_{side}"].fill[0] > 0)
                m1, m1_other = vs[f"M1_{side}"], vs[f"M1_{other}"]
                i = len(m1.points) // 2
                out["unfilled"].append(m1.points[i])
                out["filled"].append(m1_other.points[min(i, len(m1_other.points) - 1)])
            else:
                partner = vs[name.replace(f"_{side}", f"_{other}")]
                i = min(clot + max(3, (len(vessel.points) - clot) // 2), len(vessel.points) - 2)
                out["unfilled"].append(vessel.points[i])
                out["filled"].append(partner.points[min(i, len(partner.points) - 2)])
        facts["clot_head_mm"] = [round(float(c), 1) for c in hit[0].points[clot]]
        out["territory"] = [v.points[v.fill < 1] for v in hit]
    elif label.kind == "stenosis":
        name = str(rng.choice([f"ICA_{side}", f"M1_{side}", "basilar"]))
        vessel = vs[name]
        arc = vessel.arclength()
        centre = arc[-1] * (rng.uniform(0.85, 0.95) if name.startswith("ICA")
                            else rng.uniform(0.3, 0.7))
        severity, width = rng.uniform(0.5, 0.8), rng.uniform(1.5, 3.5)
        vessel.radii *= 1 - severity * np.exp(-(((arc - centre) / width) ** 2))
        facts.update(stenosis_vessel=name, stenosis_fraction=round(float(severity), 2),
                     stenosis_at_mm=round(float(centre), 1))
    elif label.kind == "hypoplastic":
        name = str(variants["hypoplastic"])
        if name.startswith("M2"):
            trunk = vs[f"M2sup_{name[-1]}"]
            trunk.radii *= rng.uniform(0.4, 0.5)
            for v in tree.subtree(trunk.name):
                v.radii *= 0.75
        facts["hypoplastic_vessel"] = name
    elif label.kind == "distal_occlusion":
        pool = [v for v in vs.values() if v.kind == "artery" and v.group == "cortical"
                and (v.name.startswith(("M3", "M4", "P3c")))]
        vessel = pool[int(rng.integers(len(pool)))]
        clot = _index_at(vessel, rng.uniform(0.2, 0.5))
        hit = _occlude(tree, vessel, clot, 0.0)
        facts.update(occluded_vessel=vessel.name,
                     clot_head_mm=[round(float(c), 1) for c in vessel.points[clot]])
        out["unfilled"].append(vessel.points[min(clot + 3, len(vessel.points) - 1)])
        out["territory"] = [v.points[v.fill < 1] for v in hit]
    return out


def _rotation(pitch: float, yaw: float, roll: float) -> Array:
    """Rotation (head frame to scanner) from pitch about x, roll about y, yaw about z (deg)."""
    a, b, c = (math.radians(v) for v in (pitch, roll, yaw))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


@dataclass
class Grid:
    """Scanner grid: shape (z, y, x), spacing (mm) and the world coordinate of each index."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    def coord(self, axis: int, index: npt.ArrayLike) -> Array:
        """World coordinate (mm) of fractional ``index`` along ``axis`` (0 z, 1 y, 2 x)."""
        return (np.asarray(index, float) - (self.shape[axis] - 1) / 2) * self.spacing[axis]

    def index(self, axis: int, coord: npt.ArrayLike) -> Array:
        """Fractional index of world coordinate ``coord`` (mm) along ``axis``."""
        return np.asarray(coord, float) / self.spacing[axis] + (self.shape[axis] - 1) / 2


SUBSLICES = (-1 / 3, 0.0, 1 / 3)
"""Sub-slice offsets (in slice thicknesses) averaged for partial volume along z."""


def _rasterise(vessels: list[tuple[Array, Array, Array]], grid: Grid) -> tuple[Volume, Volume]:
    """Tube occupancy (0-1, partial volume) and blood HU of world centrelines on ``grid``.

    ``vessels`` holds (points (n, 3) world mm x/y/z, radii (n,) mm, blood HU (n,)). Each
    segment's capsule is sampled at three sub-slices and averaged; overlapping tubes keep the
    larger occupancy. Loops run over segments only.
    """
    occ = np.zeros(grid.shape, np.float32)
    blood = np.full(grid.shape, BLOOD_HU, np.float32)
    dz, dy, dx = grid.spacing
    soft = max(dx, 0.3)
    sub = np.array(SUBSLICES)
    for points, radii, hu in vessels:
        for a, b, ra, rb, hu_seg in zip(points[:-1], points[1:], radii[:-1], radii[1:],
                                        (hu[:-1] + hu[1:]) / 2, strict=True):
            if max(ra, rb) <= 0.05:
                continue
            pad = max(ra, rb) + soft
            lo, hi = np.minimum(a, b) - pad, np.maximum(a, b) + pad
            ranges = []
            for axis, (c_lo, c_hi) in zip((2, 1, 0), zip(lo, hi, strict=True), strict=True):
                i0 = max(0, int(math.floor(float(grid.index(axis, np.array(c_lo))))))
                i1 = min(grid.shape[axis], int(math.ceil(float(grid.index(axis, np.array(c_hi)))))
                         + 1)
                ranges.append((i0, i1))
            (x0, x1), (y0, y1), (z0, z1) = ranges
            if x0 >= x1 or y0 >= y1 or z0 >= z1:
                continue
            xs = grid.coord(2, np.arange(x0, x1))[None, None, :] - a[0]
            ys = grid.coord(1, np.arange(y0, y1))[None, :, None] - a[1]
            zs = (grid.coord(0, np.arange(z0, z1))[:, None] + sub[None, :] * dz).reshape(-1)
            zs = zs[:, None, None] - a[2]
            ab = b - a
            t = np.clip((xs * ab[0] + ys * ab[1] + zs * ab[2]) / max(float(ab @ ab), 1e-9), 0, 1)
            dist = np.sqrt((xs - t * ab[0]) ** 2 + (ys - t * ab[1]) ** 2 + (zs - t * ab[2]) ** 2)
            local = np.clip((ra + t * (rb - ra) - dist) / soft + 0.5, 0, 1)
            local = local.reshape(z1 - z0, len(sub), y1 - y0, x1 - x0).mean(axis=1)
            region = (slice(z0, z1), slice(y0, y1), slice(x0, x1))
            better = local > occ[region]
            occ[region] = np.where(better, local, occ[region])
            blood[region] = np.where(better, hu_seg, blood[region])
    return occ, blood


@dataclass
class Anatomy:
    """What the tissue model needs besides the skull: clivus line, sulci, blush, territory."""

    head: Head
    scale: float
    atrophy: float  # extra sulcal CSF with age, mm
    clivus: tuple[Array, Array]  # basilar start and end (head frame, mm)
    sulcal_waves: Array  # (k, 4): wave vector (rad/mm) and phase
    blush_grey: float  # HU of parenchymal enhancement, grey matter
    blush_white: float
    deficit: float  # fraction of the blush lost in the hypoperfused territory
    territory: Array | None  # coarse map (head frame, 4 mm cells from -120 mm), 0-1


def _territory_map(points: list[Array]) -> Array | None:
    """A smooth 0-1 map (4 mm cells over +/-120 mm, head frame) around downstream centrelines."""
    pts = np.concatenate(points) if points else np.zeros((0, 3))
    if len(pts) == 0:
        return None
    cells = np.zeros((60, 60, 60))
    idx = np.clip(np.round((pts + 120.0) / 4.0).astype(int), 0, 59)
    np.add.at(cells, (idx[:, 0], idx[:, 1], idx[:, 2]), 1.0)
    smooth = gaussian_filter(cells, 3.0)
    return np.asarray(np.clip(smooth / max(float(smooth.max()) * 0.25, 1e-9), 0, 1))


def _ellipsoid(ux: Volume, uy: Volume, uz: Volume, centre: tuple[float, float, float],
               axes: tuple[float, float, float]) -> npt.NDArray[np.bool_]:
    return np.asarray(((ux - centre[0]) / axes[0]) ** 2 + ((uy - centre[1]) / axes[1]) ** 2
                      + ((uz - centre[2]) / axes[2]) ** 2 < 1.0)


def _tissue(ux: Volume, uy: Volume, uz: Volume, anat: Anatomy) -> Volume:
    """Unenhanced-plus-blush HU of head-frame points (mm): scalp, bone, skull base, brain."""
    head, k = anat.head, anat.scale
    rho = np.sqrt(ux * ux + uy * uy + uz * uz) + np.float32(1e-3)
    nx, ny, nz = ux / rho, uy / rho, uz / rho
    r_out = head.outer_radius(nx, ny, nz).astype(np.float32)
    thick = head.bone_thickness(ny, nz).astype(np.float32)
    r_in = r_out - thick
    hu = np.full(ux.shape, -1000.0, np.float32)
    ax = np.abs(ux)
    neck = (uz < -30 * k) & ((ux / (50 * k)) ** 2 + ((uy - 12 * k) / (56 * k)) ** 2 < 1)
    face = _ellipsoid(ux, uy, uz, (0, -52 * k, -58 * k), (56 * k, 46 * k, 44 * k))
    hu[(rho < r_out + head.scalp_mm) | neck | face] = 45.0
    ant = 1 / (1 + np.exp((uy + 35 * k) / 4))
    post = 1 / (1 + np.exp(-(uy - 4 * k - 0.35 * ax) / 4))  # behind clivus and petrous ridges
    floor = (-42 + 24 * ant - 14 * post + 11 * np.exp(-((ux / (14 * k)) ** 2)) * (1 - ant)
             * (1 - post)) * k
    magnum = (ux**2 + (uy - 28 * k) ** 2 < (15 * k) ** 2) & (post > 0.5)
    cranium = rho < r_out
    shell = cranium & (rho >= r_in)
    depth_in_bone = np.clip((r_out - rho) / thick, 0, 1)
    hu[shell] = (650 + 1050 * (2 * depth_in_bone[shell] - 1) ** 2)
    plate = cranium & (uz <= floor) & (uz > floor - 9 * k) & ~magnum
    hu[plate] = 1050 + 250 * np.sin(ux[plate] * 0.7) * np.sin(uy[plate] * 0.5)
    for centre, axes, value in (((0, -14, -44), (12, 10, 8), -900.0),
                                ((22, -50, -52), (12, 14, 14), -900.0),
                                ((-22, -50, -52), (12, 14, 14), -900.0),
                                ((46, 24, -52), (9, 9, 8), -650.0),
                                ((-46, 24, -52), (9, 9, 8), -650.0),
                                ((32, -68, -32), (16, 17, 15), -80.0),
                                ((-32, -68, -32), (16, 17, 15), -80.0),
                                ((32, -74, -32), (11, 11, 11), 12.0),
                                ((-32, -74, -32), (11, 11, 11), 12.0)):
        inside = _ellipsoid(ux, uy, uz, tuple(c * k for c in centre),  # type: ignore[arg-type]
                            tuple(a * k for a in axes))  # type: ignore[arg-type]
        hu[inside & (uz < floor)] = value
    spine = (uz < -62 * k) & ((ux / (12 * k)) ** 2 + ((uy - 6 * k) / (10 * k)) ** 2 < 1)
    hu[spine] = 520.0
    canal = (uz < -55 * k) & (ux**2 + (uy - 26 * k) ** 2 < (8 * k) ** 2)
    hu[canal] = 10.0
    # Clivus: a bony ridge in front of the basilar artery.
    b0, b1 = anat.clivus
    axis = _unit(b1 - b0)
    front = _unit(np.cross(np.array([1.0, 0, 0]), axis))
    front = front if front[1] < 0 else -front
    along = (ux - b0[0]) * axis[0] + (uy - b0[1]) * axis[1] + (uz - b0[2]) * axis[2]
    ahead = (ux - b0[0]) * front[0] + (uy - b0[1]) * front[1] + (uz - b0[2]) * front[2]
    clivus = (ax < 12 * k) & (ahead > 7.0) & (ahead < 14) & (along > -10) & (along < 26)
    hu[clivus] = 950.0
    # Brain: CSF, grey and white matter by depth below the inner table.
    brain = (rho < r_in) & (uz > floor)
    stem = (uz < -15 * k) & (ux**2 + (uy - 18 * k - 0.2 * (-uz - 15 * k)) ** 2 < (14 * k) ** 2)
    brain |= stem & (uz > -95 * k)
    if not brain.any():
        return hu
    bx, by, bz = ux[brain], uy[brain], uz[brain]
    depth = (r_in[brain] - rho[brain])
    w = anat.sulcal_waves
    sulc = 0.5 + 0.5 * (np.sin(w[0, 0] * bx + w[0, 1] * by + w[0, 2] * bz + w[0, 3])
                        * np.sin(w[1, 0] * bx + w[1, 1] * by + w[1, 2] * bz + w[1, 3]))
    csf_w = 0.6 + (1.6 + anat.atrophy) * sulc
    grey_w = 2.2 + 1.6 * (1 - sulc)
    blush = np.ones_like(bx)
    if anat.territory is not None:
        coords = np.stack([(bx + 120) / 4, (by + 120) / 4, (bz + 120) / 4])
        blush -= anat.deficit * map_coordinates(anat.territory, coords, order=1, mode="nearest")
    tissue = np.where(depth < csf_w + grey_w, 38.0 + anat.blush_grey * blush,
                      28.0 + anat.blush_white * blush)
    deep_grey = np.zeros(bx.shape, bool)
    for sx in (1, -1):
        deep_grey |= _ellipsoid(bx, by, bz, (sx * 11 * k, 12 * k, -2 * k), (8 * k, 11 * k, 8 * k))
        deep_grey |= _ellipsoid(bx, by, bz, (sx * 21 * k, -6 * k, 1 * k), (7 * k, 14 * k, 9 * k))
    tissue = np.where(deep_grey, 36.0 + anat.blush_grey * blush, tissue)
    csf = depth < csf_w
    csf |= (np.abs(bx) < 0.8 + 1.2 * sulc) & (bz > -8 * k)
    for sx in (1, -1):
        bend = 3 * k * np.cos(by / (18 * k))
        csf |= _ellipsoid(bx, by, bz - bend, (sx * 9 * k, 4 * k, 10 * k),
                          (5 * k * (1 + 0.3 * anat.atrophy), 27 * k, 6 * k))
        sylvian = np.abs(bz - (-13 * k + 0.3 * (np.abs(bx) - 15 * k)))
        csf |= (sylvian < 1.0 + 1.5 * sulc) & (np.abs(bx) > 15 * k) & (np.abs(bx) < 44 * k) & (
            by > -26 * k) & (by < 12 * k) & (sx * bx > 0) & (depth > 6)
    csf |= _ellipsoid(bx, by, bz, (0, -6 * k, -22 * k), (14 * k, 12 * k, 8 * k))
    csf |= (np.abs(bx) < 2.2 * k) & (by > -6 * k) & (by < 14 * k) & (bz > -16 * k) & (bz < 2 * k)
    stem_r2 = bx**2 + (by - 18 * k - 0.2 * (-bz - 15 * k)) ** 2
    stem_csf = (bz < -18 * k) & (stem_r2 > (10.5 * k) ** 2) & (stem_r2 < (14 * k) ** 2)
    hu[brain] = np.where(csf | stem_csf, 7.0, tissue)
    return hu


def _physics(volume: Volume, grid: Grid, rng: np.random.Generator, kernel: dict[str, float],
             noise_sd: float) -> None:
    """In place: the kernel's MTF in-plane and noise with the kernel's NPS (f x MTF^2), per slab.

    A sharp kernel boosts mid frequencies and cuts off steeply (ringing at edges); a soft one is
    Gaussian. Noise is white noise shaped by sqrt(NPS) and scaled to ``noise_sd`` HU.
    """
    _, ny, nx = volume.shape
    _, dy, dx = grid.spacing
    f50, boost = kernel["mtf50_lp_mm"], kernel["boost"]

    def mtf(f: Array) -> Array:
        gain = np.exp(-math.log(2) * (f / f50) ** 2)
        if boost > 0:
            gain = gain * (1 + boost * (f / f50) ** 2) / (1 + np.exp((f - 1.7 * f50) / 0.015))
        return np.asarray(gain)

    def radial(fx: Array) -> Array:
        return np.asarray(np.sqrt(sfft.fftfreq(ny, dy)[:, None] ** 2 + fx[None, :] ** 2))

    f_half, f_full = radial(sfft.rfftfreq(nx, dx)), radial(sfft.fftfreq(nx, dx))
    amp_full = np.sqrt(f_full + 0.02 * f50) * mtf(f_full)
    gain = mtf(f_half)
    nps_amp = np.sqrt(f_half + 0.02 * f50) * gain * (noise_sd / math.sqrt(
        float(np.mean(amp_full**2))))
    for z0 in range(0, volume.shape[0], 16):
        slab = volume[z0:z0 + 16]
        white = rng.standard_normal(slab.shape, dtype=np.float32)
        spec = (sfft.rfft2(slab, norm="ortho") * gain
                + sfft.rfft2(white, norm="ortho") * nps_amp)
        volume[z0:z0 + 16] = sfft.irfft2(spec, s=(ny, nx), norm="ortho").astype(np.float32)


PHASES = {"early_arterial": 0.25, "arterial": 0.45, "late_venous": 0.30}
"""Bolus timing and how often each is drawn."""


def render(seed: int, label: CaseLabel, *, matrix: int = 512) -> CtaCase:
    """Render one head CTA of this family for ``label`` (deterministic for ``seed``).

    ``matrix`` is the in-plane size; the field of view (200-250 mm) is shared by all sizes, so
    smaller matrices get proportionally larger pixels, and slices (0.6-1.25 mm at 512) grow with
    them up to 1.6 pixels. Returns HU (z, y, x) as float32 in patient LPS.
    """
    rng = np.random.default_rng([seed, 0x7ACED])
    age = float(rng.uniform(40, 90))
    tortuosity = 0.03 + 0.0012 * (age - 40) + float(rng.uniform(0, 0.02))
    head = _draw_head(rng)
    variants = _draw_variants(rng, label)
    drawn: dict[str, float] = {}
    tree = _build_tree(rng, head, tortuosity, variants, drawn)
    outcome = _apply_label(rng, tree, label, variants)

    # Pose, field of view and coverage.
    pitch, yaw, roll = (float(rng.uniform(-20, 20)) for _ in range(3))
    rot = _rotation(pitch, yaw, roll)
    fov = float(rng.uniform(200, 250))
    dx = fov / matrix
    thickness_512 = float(rng.uniform(0.6, 1.25))
    dz = min(thickness_512 * 512 / matrix, 1.6 * dx)
    dirs = rng.normal(size=(400, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    dirs[:, 2] = np.abs(dirs[:, 2])
    top_pts = np.array([head.outer_radius(*(np.array([c]) for c in d))[0] * d for d in dirs])
    k = head.ay / 92.0
    base_pts = np.array([[26, 8, -64], [-26, 8, -64], [0, 30, -62], [0, -40, -45]]) * k
    top = float((top_pts @ rot.T)[:, 2].max()) + float(rng.uniform(2, 10))
    bottom = float((base_pts @ rot.T)[:, 2].min()) - float(rng.uniform(0, 10))
    coverage = float(np.clip(top - bottom, 120, 165))
    bottom = top - coverage
    nz = int(round(coverage / dz))
    offset = np.array([rng.uniform(-8, 8), rng.uniform(-10, 10), -(top + bottom) / 2])
    grid = Grid((nz, matrix, matrix), (dz, dx, dx))

    # Bolus timing.
    phase = str(rng.choice(list(PHASES), p=list(PHASES.values())))
    iodine = float(rng.uniform(250, 480))
    reach_mm = float(rng.uniform(70, 130)) if phase == "early_arterial" else math.inf
    arterial = float(rng.uniform(0.72, 0.9)) if phase == "late_venous" else 1.0
    venous = {"early_arterial": rng.uniform(0.02, 0.1), "arterial": rng.uniform(0.2, 0.45),
              "late_venous": rng.uniform(0.85, 1.05) * arterial}[phase]
    world: list[tuple[Array, Array, Array]] = []
    for v in tree.vessels.values():
        if v.kind == "vein":
            hu = np.full(len(v.points), BLOOD_HU + iodine * float(venous))
        else:
            path = v.path_mm + v.arclength()
            reach = np.exp(-np.maximum(0.0, path - 110.0) / reach_mm)
            hu = BLOOD_HU + iodine * arterial * v.fill * reach
        world.append((v.points @ rot.T + offset, v.radii, hu))
    occ, blood = _rasterise(world, grid)

    anat = Anatomy(head=head, scale=k, atrophy=max(0.0, (age - 50) / 20),
                   clivus=(tree.vessels["basilar"].points[0], tree.vessels["basilar"].points[-1]),
                   sulcal_waves=np.column_stack([rng.normal(0, 0.25, (2, 3)),
                                                 rng.uniform(0, 2 * np.pi, 2)]),
                   blush_grey=float(rng.uniform(3, 8)) * (0.5 if phase == "early_arterial"
                                                          else 1.0),
                   blush_white=float(rng.uniform(1, 3)), deficit=float(rng.uniform(0.5, 0.9)),
                   territory=_territory_map(outcome["territory"]))
    # Tissue on three sub-slices per slice, only inside the head's rotated bounding box.
    volume = np.full(grid.shape, -1000.0, np.float32)
    ext = np.array([head.ax, head.ay, head.az_up]) * 1.15 + head.scalp_mm + 6
    corners = np.array([[sx * ext[0], sy * ext[1], ext[2] if sz > 0 else -125.0]
                        for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) @ rot.T + offset
    (x0, x1), (y0, y1) = ((max(0, int(grid.index(axis, corners[:, c].min()))),
                           min(matrix, int(grid.index(axis, corners[:, c].max())) + 2))
                          for axis, c in ((2, 0), (1, 1)))
    ys = grid.coord(1, np.arange(y0, y1))[None, :, None] - offset[1]
    xs = grid.coord(2, np.arange(x0, x1))[None, None, :] - offset[0]
    sub = np.array(SUBSLICES)
    chunk = max(1, 2_000_000 // ((y1 - y0) * (x1 - x0) * len(sub)))
    for z0 in range(0, nz, chunk):
        z1 = min(nz, z0 + chunk)
        zs = (grid.coord(0, np.arange(z0, z1))[:, None] + sub[None, :] * dz).reshape(-1)
        zs = zs[:, None, None] - offset[2]
        ux, uy, uz = ((rot[0, i] * xs + rot[1, i] * ys + rot[2, i] * zs).astype(np.float32)
                      for i in range(3))
        fine = _tissue(ux, uy, uz, anat)
        volume[z0:z1, y0:y1, x0:x1] = fine.reshape(z1 - z0, len(sub), y1 - y0,
                                                   x1 - x0).mean(axis=1)
        volume[z0:z1] *= 1 - occ[z0:z1]
        volume[z0:z1] += occ[z0:z1] * blood[z0:z1]
    del occ, blood
    sharp = bool(rng.random() < 0.45)
    kernel = {"mtf50_lp_mm": float(rng.uniform(0.5, 0.7) if sharp else rng.uniform(0.3, 0.42)),
              "boost": float(rng.uniform(0.6, 1.2)) if sharp else 0.0}
    noise_sd = float(rng.uniform(5, 25))
    _physics(volume, grid, rng, kernel, noise_sd)

    def to_lps(p: Array) -> list[float]:
        return [round(float(c), 2) for c in rot @ p + offset]

    details: dict[str, Any] = {
        "generator": "traced centreline statistics", "age_years": round(age, 1),
        "tortuosity": round(tortuosity, 3), "variants": variants, "morphometry_mm": drawn,
        "head_mm": {"semi_axes": [round(head.ax, 1), round(head.ay, 1), round(head.az_up, 1),
                                  round(head.az_down, 1)], "bone": round(head.bone_mm, 2),
                    "spherical_harmonics": {n: round(c, 4) for n, c in head.sh.items()}},
        "pose_deg": {"pitch": round(pitch, 1), "yaw": round(yaw, 1), "roll": round(roll, 1)},
        "head_centre_lps": to_lps(np.zeros(3)), "fov_mm": round(fov, 1),
        "slice_thickness_mm": round(dz, 3), "coverage_mm": round(coverage, 1),
        "phase": phase, "iodine_hu": round(iodine, 1), "venous_fraction": round(venous, 2),
        "early_reach_mm": None if math.isinf(reach_mm) else round(reach_mm, 1),
        "kernel": "Hv64" if sharp else "Hv36", "kernel_class": "sharp" if sharp else "soft",
        "mtf50_lp_mm": round(kernel["mtf50_lp_mm"], 3), "kernel_boost": round(kernel["boost"], 2),
        "noise_sd_hu": round(noise_sd, 1), "partial_volume_subslices": len(sub),
        "unfilled_probes_lps": [to_lps(p) for p in outcome["unfilled"]],
        "filled_probes_lps": [to_lps(p) for p in outcome["filled"]],
        "white_matter_probe_lps": to_lps(np.array([30.0, 5.0, 30.0]) * k),
        **outcome["facts"],
    }
    if "clot_head_mm" in details:
        details["clot_lps"] = to_lps(np.array(details.pop("clot_head_mm")))
    return CtaCase(family=FAMILY, seed=seed, label=label, volume_hu=volume,
                   spacing_mm=(dz, dx, dx), details=details)
