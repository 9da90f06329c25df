"""Synthetic head CTA with an arterial tree, venous sinuses and known occlusions.

Coordinates: the head frame is patient LPS in millimetres (x to the patient's left, y
posterior, z superior) with its origin at the centre of the brain. A pose (rotation and
translation) places the head in the scanner frame; arrays are (z, y, x) with z rising towards
the head, exactly what :func:`strokealert.phantoms.series.write_volume` writes.

Vessels are polylines with a radius and a per-segment contrast filling (1 = normal arterial
enhancement, 0 = no contrast behind a clot, in between = collateral or stagnant filling). They
are rendered with partial volume: each voxel takes the fraction of its extent inside the lumen.
Everything is vectorised over voxels; the only Python loops run over vessel segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strokealert.phantoms.series import SeriesInfo, StudyInfo, write_volume

LVO_SITES = ("ICA", "M1", "M2", "basilar")
NEGATIVE_KINDS = ("normal", "distal_m3", "stenosis")
PHASES = ("early_arterial", "arterial", "late_arterial", "venous")

BLOOD_HU = 40.0  # unenhanced blood
BRAIN_HU = 34.0


@dataclass(frozen=True)
class Profile:
    """Ranges the generator draws from; training and evaluation use disjoint settings."""

    name: str
    noise_hu: tuple[float, ...]  # noise standard deviations (HU), one picked per case
    slice_mm: tuple[float, ...]  # slice spacing/thickness choices (mm) at full resolution
    pixel_mm: tuple[float, ...]  # in-plane pixel size choices (mm)
    max_rotation_deg: float
    max_offset_mm: float
    phases: tuple[str, ...]
    phase_weights: tuple[float, ...]


TRAIN = Profile("train", noise_hu=(6.0, 10.0, 15.0), slice_mm=(1.5, 2.0, 2.5),
                pixel_mm=(1.8, 2.0), max_rotation_deg=15.0, max_offset_mm=20.0,
                phases=PHASES, phase_weights=(0.2, 0.45, 0.2, 0.15))
HELDOUT = Profile("heldout", noise_hu=(4.0, 8.0, 12.0, 20.0), slice_mm=(1.25, 1.75, 2.25, 3.0),
                  pixel_mm=(1.6, 2.2), max_rotation_deg=15.0, max_offset_mm=25.0,
                  phases=PHASES, phase_weights=(0.2, 0.4, 0.25, 0.15))
FULL = Profile("full", noise_hu=(8.0, 12.0), slice_mm=(0.625, 1.0, 1.25), pixel_mm=(0.45,),
               max_rotation_deg=15.0, max_offset_mm=20.0, phases=("arterial",),
               phase_weights=(1.0,))


@dataclass
class CaseSpec:
    """Everything that defines one synthetic CTA; ``truth()`` is what ``truth.json`` holds."""

    seed: int
    lvo_site: str | None  # ICA, M1, M2, basilar or None
    side: str  # left/right/none (patient side, LPS)
    negative_kind: str | None  # normal, distal_m3, stenosis when no LVO
    variants: list[str]
    phase: str
    arterial_enh_hu: float  # enhancement of a normally filled artery above blood
    venous_enh_hu: float
    collateral: float  # filling of territory distal to the clot (0..1)
    noise_hu: float
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    rotation_deg: tuple[float, float, float]  # about x (pitch), y (roll), z (yaw)
    offset_mm: tuple[float, float, float]
    head_scale: float
    neck: bool
    motion_mm: float  # 0: none; else shift of a block of slices (misregistration)
    truncated: bool  # coverage misses the vertex and upper MCA territory
    quality: str  # good, poor_timing, motion, coverage
    extras: dict[str, Any] = field(default_factory=dict)

    def truth(self) -> dict[str, Any]:
        data = asdict(self)
        data["lvo"] = self.lvo_site is not None
        return data


def _three_floats(values: np.ndarray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])


def draw_case(seed: int, profile: Profile = TRAIN, *, lvo_site: str | None = "random",
              quality: str = "random") -> CaseSpec:
    """Draw a case. ``lvo_site`` "random" draws 60 % LVO (ICA/M1/M2/basilar) and 40 % negatives."""
    rng = np.random.default_rng(seed)
    if lvo_site == "random":
        lvo_site = rng.choice(np.array(["ICA", "M1", "M2", "basilar", None], dtype=object),
                              p=[0.13, 0.17, 0.17, 0.13, 0.40])
    side = "none" if lvo_site in (None, "basilar") else str(rng.choice(["left", "right"]))
    negative_kind = None
    if lvo_site is None:
        negative_kind = str(rng.choice(NEGATIVE_KINDS, p=[0.5, 0.3, 0.2]))
        if negative_kind != "normal":
            side = "none"
    variants = [v for v, p in (("hypoplastic_a1", 0.12), ("fetal_pca", 0.15),
                               ("hypoplastic_p1", 0.1), ("hypoplastic_vertebral", 0.15),
                               ("calcification", 0.3)) if rng.random() < p]
    if quality == "random":
        quality = str(rng.choice(["good", "poor_timing", "motion", "coverage"],
                                 p=[0.94, 0.02, 0.02, 0.02]))
    phase = str(rng.choice(profile.phases, p=profile.phase_weights))
    arterial = {"early_arterial": (140, 260), "arterial": (250, 450), "late_arterial": (200, 330),
                "venous": (130, 200)}[phase]
    venous = {"early_arterial": (0, 30), "arterial": (20, 90), "late_arterial": (90, 180),
              "venous": (180, 300)}[phase]
    arterial_enh = float(rng.uniform(*arterial))
    venous_enh = float(rng.uniform(*venous))
    if quality == "poor_timing":
        phase = "poor"
        arterial_enh = float(rng.uniform(25, 60))
        venous_enh = float(rng.uniform(0, 30))
    slice_mm, pixel_mm = float(rng.choice(profile.slice_mm)), float(rng.choice(profile.pixel_mm))
    spacing = (slice_mm, pixel_mm, pixel_mm)
    rot = _three_floats(rng.uniform(-profile.max_rotation_deg, profile.max_rotation_deg, 3))
    off = _three_floats(rng.uniform(-profile.max_offset_mm, profile.max_offset_mm, 3)
                        * np.array([1.0, 1.0, 0.4]))
    return CaseSpec(
        seed=seed, lvo_site=None if lvo_site is None else str(lvo_site), side=side,
        negative_kind=negative_kind, variants=variants, phase=phase,
        arterial_enh_hu=arterial_enh, venous_enh_hu=venous_enh,
        collateral=float(rng.uniform(0.0, 0.45)), noise_hu=float(rng.choice(profile.noise_hu)),
        spacing_mm=spacing, rotation_deg=rot, offset_mm=off,
        head_scale=float(rng.uniform(0.9, 1.1)), neck=bool(rng.random() < 0.4),
        motion_mm=float(rng.uniform(6, 12)) if quality == "motion" else 0.0,
        truncated=quality == "coverage", quality=quality,
    )


@dataclass
class Vessel:
    """A polyline (n, 3) in head-frame mm with radii (n,) and filling per segment (n-1,)."""

    name: str
    points: np.ndarray
    radius: np.ndarray
    fill: np.ndarray
    kind: str = "artery"  # artery, vein, calcium

    def cut(self, at: float, fill_after: float, fill_before: float | None = None) -> None:
        """Clot at fraction ``at`` of the length: segments beyond get ``fill_after``."""
        n = len(self.fill)
        start = int(np.clip(round(at * n), 0, n - 1))
        self.fill[start:] = fill_after
        if fill_before is not None:
            self.fill[:start] = fill_before


def _polyline(points: list[tuple[float, float, float]], radius: tuple[float, float],
              rng: np.random.Generator, step_mm: float = 3.0, wiggle_mm: float = 1.5
              ) -> tuple[np.ndarray, np.ndarray]:
    """Resample control points every ``step_mm`` with smooth random tortuosity."""
    ctrl = np.asarray(points, dtype=np.float64)
    seg = np.linalg.norm(np.diff(ctrl, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(cum[-1] / step_mm) + 1, 2)
    s = np.linspace(0.0, cum[-1], n)
    pts = np.stack([np.interp(s, cum, ctrl[:, k]) for k in range(3)], axis=1)
    if wiggle_mm > 0 and n > 2:
        phase = rng.uniform(0, 2 * np.pi, 3)
        freq = rng.uniform(0.5, 1.5, 3) * 2 * np.pi / max(cum[-1], 1.0)
        bump = np.sin(np.pi * s / cum[-1])[:, None]  # endpoints stay fixed
        pts += wiggle_mm * bump * np.sin(freq[None, :] * s[:, None] + phase[None, :])
    rad = np.linspace(radius[0], radius[1], n)
    return pts, rad


def build_vessels(spec: CaseSpec) -> list[Vessel]:
    """The arterial tree, veins and calcifications of ``spec`` in the head frame (mm)."""
    rng = np.random.default_rng(spec.seed + 7919)
    k = spec.head_scale
    willis = np.array([rng.uniform(-2, 2), rng.uniform(-12, -4), rng.uniform(-34, -26)])
    cal = rng.uniform(0.85, 1.15)  # overall calibre
    vessels: list[Vessel] = []

    def add(name: str, pts: list[tuple[float, float, float]], r: tuple[float, float],
            kind: str = "artery", relative: bool = True, wiggle: float = 1.5) -> Vessel:
        arr = [tuple(np.array(p) * k + (willis if relative else 0.0)) for p in pts]
        line, rad = _polyline(arr, (r[0] * cal, r[1] * cal), rng, wiggle_mm=wiggle)
        v = Vessel(name, line, rad, np.ones(len(line) - 1), kind)
        vessels.append(v)
        return v

    def j(scale: float = 3.0) -> np.ndarray:
        return rng.uniform(-scale, scale, 3)

    low = -170.0 if spec.neck else -100.0
    for s, side in ((1, "left"), (-1, "right")):
        tx = s * rng.uniform(12.5, 15.5)
        add(f"ICA_{side}", [(s * 23, 14, low), (s * 22, 12, -70), (s * 20, 8, -45),
                            (s * 18, -2, -34), (s * 16, -11, -22), (s * 17, -7, -11),
                            (s * 15, -2, -4), (tx, 0, 0)], (2.4, 2.1), wiggle=1.0)
        bif = np.array([s * rng.uniform(34, 42), rng.uniform(-3, 3), rng.uniform(0, 6)])
        add(f"M1_{side}", [(tx, 0, 0), tuple((np.array([tx, 0, 0]) + bif) / 2 + j(1.5)),
                           tuple(bif)], (1.55, 1.4), wiggle=1.2)
        sup_end = bif + np.array([s * 10, -4, 18]) + j()
        inf_end = bif + np.array([s * 12, 10, 6]) + j()
        add(f"M2sup_{side}", [tuple(bif), tuple(bif + np.array([s * 7, -4, 8])), tuple(sup_end)],
            (1.15, 1.05))
        add(f"M2inf_{side}", [tuple(bif), tuple(bif + np.array([s * 8, 5, 2])), tuple(inf_end)],
            (1.15, 1.05))
        for trunk, end, targets in (
            ("sup", sup_end, [(s * 60, -30, 60), (s * 64, -5, 70), (s * 62, 18, 65)]),
            ("inf", inf_end, [(s * 64, 22, 40), (s * 60, 45, 35), (s * 62, 5, 25)]),
        ):
            for i, target in enumerate(targets):
                tip = np.array(target) + j(6)
                mid = (end + tip) / 2 + np.array([s * 6, 0, 0]) + j(4)
                add(f"M3{trunk}{i}_{side}", [tuple(end), tuple(mid), tuple(tip)], (0.85, 0.6),
                    wiggle=2.0)
        a1_r = 0.45 if ("hypoplastic_a1" in spec.variants and s == 1) else 1.05
        add(f"A1_{side}", [(tx, 0, 0), (s * 6, -12, 3), (s * 1.3, -16, 4)], (a1_r, a1_r))
        add(f"A2_{side}", [(s * 1.3, -16, 4), (s * 3, -30, 20), (s * 3, -36, 45), (s * 3, -12, 70),
                           (s * 3, 30, 78)], (1.0, 0.8), wiggle=1.0)
        vert_r = 0.9 if ("hypoplastic_vertebral" in spec.variants and s == -1) else 1.7
        add(f"V_{side}", [(s * 20, 26, low), (s * 20, 28, -80), (s * 12, 30, -50),
                          (s * 3, 24, -37), (0, 22, -35)], (vert_r, vert_r * 0.9), wiggle=1.0)
        fetal = "fetal_pca" in spec.variants and s == 1
        p1_r = 0.5 if (fetal or ("hypoplastic_p1" in spec.variants and s == -1)) else 1.1
        add(f"P1_{side}", [(0, 16, -4), (s * 10, 14, -3)], (p1_r, p1_r), wiggle=0.5)
        pcom_r = 1.1 if fetal else 0.55
        add(f"Pcom_{side}", [(s * 10, 14, -3), (s * 14, 6, -2), (s * 15, -1, -2)],
            (pcom_r, pcom_r))
        add(f"P2_{side}", [(s * 10, 14, -3), (s * 22, 28, 2), (s * 25, 45, 8), (s * 20, 66, 14),
                           (s * 12, 78, 24)], (1.0, 0.7))
        add(f"SCA_{side}", [(0, 17, -8), (s * 12, 22, -10), (s * 18, 38, -13), (s * 12, 55, -10)],
            (0.7, 0.55))
    add("Acom", [(-1.3, -16, 4), (1.3, -16, 4)], (0.7, 0.7), wiggle=0.0)
    add("basilar", [(0, 22, -35), (0, 20, -20), (0, 16, -4)], (1.75, 1.6), wiggle=1.0)

    # Venous sinuses and jugulars (head frame, not relative to the circle of Willis).
    def vein(name: str, pts: list[tuple[float, float, float]], r: float) -> None:
        add(name, pts, (r, r), kind="vein", relative=False, wiggle=1.0)

    vein("SSS", [(0, -62, 30), (0, -40, 58), (0, 0, 68), (0, 45, 58), (0, 75, 25), (0, 84, 0)],
         3.0)
    vein("straight", [(0, 20, 18), (0, 55, 12), (0, 84, 0)], 2.2)
    for s, side in ((1, "left"), (-1, "right")):
        vein(f"transverse_{side}", [(0, 84, 0), (s * 35, 78, -8), (s * 55, 55, -20),
                                    (s * 48, 35, -38), (s * 38, 28, -60), (s * 32, 25, low)], 3.2)
        vein(f"cortical_{side}", [(s * 55, -20, 40), (s * 30, -10, 60), (s * 3, 0, 68)], 1.2)
    if "calcification" in spec.variants:
        for s in (1, -1):
            if rng.random() < 0.7:
                centre = willis + k * np.array([s * 16.5, -9, -18]) + j(2)
                add(f"calcium_{s}", [tuple(centre), tuple(centre + j(1.2))],
                    (rng.uniform(0.6, 1.3),) * 2, kind="calcium", relative=False, wiggle=0.0)
    apply_occlusion(spec, {v.name: v for v in vessels}, rng)
    return vessels


def apply_occlusion(spec: CaseSpec, by_name: dict[str, Vessel], rng: np.random.Generator) -> None:
    """Remove the contrast filling behind the clot and set collateral filling downstream."""
    side = spec.side if spec.side in ("left", "right") else str(rng.choice(["left", "right"]))
    c = spec.collateral
    mca = [n for n in by_name if n.endswith(f"_{side}") and n.startswith(("M2", "M3"))]
    if spec.lvo_site == "ICA":
        by_name[f"ICA_{side}"].cut(rng.uniform(0.78, 0.9), 0.0, fill_before=rng.uniform(0.2, 0.6))
        by_name[f"M1_{side}"].fill[:] = 0.0
        by_name[f"A1_{side}"].fill[:] = rng.choice([0.0, rng.uniform(0.4, 0.9)])
        for n in mca:
            by_name[n].fill[:] = c
    elif spec.lvo_site == "M1":
        by_name[f"M1_{side}"].cut(rng.uniform(0.0, 0.5), 0.0)
        for n in mca:
            by_name[n].fill[:] = c
    elif spec.lvo_site == "M2":
        trunk = str(rng.choice(["sup", "inf"]))
        by_name[f"M2{trunk}_{side}"].cut(rng.uniform(0.0, 0.35), 0.0)
        for n in mca:
            if n.startswith(f"M3{trunk}"):
                by_name[n].fill[:] = c
        spec.extras["m2_trunk"] = trunk
    elif spec.lvo_site == "basilar":
        by_name["basilar"].cut(rng.uniform(0.0, 0.5), 0.0)
        for n in ("SCA_left", "SCA_right"):
            by_name[n].fill[:] = c * 0.5
        for s in ("left", "right"):
            by_name[f"P1_{s}"].fill[:] = rng.uniform(0.2, 0.8)  # retrograde through Pcom
        for s in ("left", "right"):
            by_name[f"V_{s}"].fill[:] = rng.uniform(0.5, 1.0)
    elif spec.negative_kind == "distal_m3":
        name = str(rng.choice([n for n in mca if n.startswith("M3")]))
        by_name[name].cut(rng.uniform(0.3, 0.6), 0.0)
        spec.extras["distal_branch"] = name
    elif spec.negative_kind == "stenosis":
        name = str(rng.choice([f"M1_{side}", f"ICA_{side}"]))
        v = by_name[name]
        n_points = len(v.radius)
        at = int(rng.uniform(0.3, 0.7) * n_points) if name.startswith("M1") \
            else int(0.8 * n_points)
        v.radius[max(at - 1, 0):at + 2] *= rng.uniform(0.35, 0.6)
        spec.extras["stenosis"] = name


@dataclass
class Rendered:
    """A synthetic CTA volume (z, y, x) in HU with its geometry."""

    volume_hu: np.ndarray
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    origin_mm: tuple[float, float, float]  # LPS (x, y, z) of voxel (0, 0, 0)
    spec: CaseSpec
    rotation: np.ndarray  # head frame → scanner frame
    centre_mm: np.ndarray  # brain centre in scanner LPS


def rotation_matrix(pitch_deg: float, roll_deg: float, yaw_deg: float) -> np.ndarray:
    """R = Rz(yaw) · Ry(roll) · Rx(pitch), acting on LPS (x, y, z) column vectors."""
    a, b, c = np.deg2rad([pitch_deg, roll_deg, yaw_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    rotation: np.ndarray = rz @ ry @ rx
    return rotation


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def render(spec: CaseSpec, *, matrix: int | None = None) -> Rendered:
    """Render ``spec`` on its grid. ``matrix`` fixes the in-plane size (e.g. 512)."""
    rng = np.random.default_rng(spec.seed + 104729)
    dz, dy, dx = spec.spacing_mm
    fov = 240.0
    nx = matrix or int(round(fov / dx))
    ny = nx
    k = spec.head_scale
    z_low = (-175.0 if spec.neck else -105.0) * k
    z_high = (40.0 if spec.truncated else 92.0) * k
    nz = int(round((z_high - z_low) / dz)) + 1
    rot = rotation_matrix(*spec.rotation_deg)
    centre = np.array([spec.offset_mm[0], spec.offset_mm[1], -z_low + spec.offset_mm[2]])
    origin = np.array([-(nx - 1) * dx / 2, -(ny - 1) * dy / 2, 0.0])
    semi = np.array([68.0, 86.0, 64.0]) * k * rng.uniform(0.95, 1.05, 3)

    vol = np.empty((nz, ny, nx), dtype=np.float32)
    ys = origin[1] + dy * np.arange(ny, dtype=np.float32)
    xs = origin[0] + dx * np.arange(nx, dtype=np.float32)
    inv = rot.T.astype(np.float32)
    for zsl in _chunks(nz, 24):
        zs = origin[2] + dz * np.arange(zsl.start, zsl.stop, dtype=np.float32)
        px = xs[None, None, :] - np.float32(centre[0])
        py = ys[None, :, None] - np.float32(centre[1])
        pz = zs[:, None, None] - np.float32(centre[2])
        hx = inv[0, 0] * px + inv[0, 1] * py + inv[0, 2] * pz
        hy = inv[1, 0] * px + inv[1, 1] * py + inv[1, 2] * pz
        hz = inv[2, 0] * px + inv[2, 1] * py + inv[2, 2] * pz
        vol[zsl] = _tissue(hx, hy, hz, semi, k)
    scale = max(dx, dy, dz)
    excess = np.zeros_like(vol)
    for vessel in build_vessels(spec):
        if vessel.kind == "vein":
            value = np.full(len(vessel.fill), BLOOD_HU - BRAIN_HU + spec.venous_enh_hu)
        elif vessel.kind == "calcium":
            value = np.full(len(vessel.fill), rng.uniform(500, 900))
        else:
            value = BLOOD_HU - BRAIN_HU + spec.arterial_enh_hu * vessel.fill
        pts = (rot @ vessel.points.T).T + centre
        _draw_tube(excess, pts, vessel.radius, value, origin, (dz, dy, dx), scale)
    vol += excess
    if spec.motion_mm > 0:
        _misregister(vol, spec.motion_mm / dx, rng)
    vol += rng.normal(0.0, spec.noise_hu, vol.shape).astype(np.float32)
    return Rendered(vol, (dz, dy, dx), (float(origin[0]), float(origin[1]), float(origin[2])),
                    spec, rot, centre)


# Layers outside (+) / inside (−) the brain surface, in mm of depth: (upper edge, HU).
_LAYERS = ((-1.5, 38.0), (0.5, 8.0), (2.0, 1250.0), (4.5, 750.0), (7.0, 1250.0), (13.0, 45.0))


def _tissue(hx: np.ndarray, hy: np.ndarray, hz: np.ndarray, semi: np.ndarray,
            k: float) -> np.ndarray:
    """HU of air, scalp, skull (tables and diploe), CSF, grey/white matter, ventricles, neck.

    Concentric layers use the depth below the brain-surface ellipsoid along the ray from the
    centre, d = r (1 − 1/ρ), one ellipsoid evaluation for all of them.
    """
    a, b, c = semi
    rho = np.sqrt((hx / a) ** 2 + (hy / b) ** 2 + (hz / c) ** 2)
    depth = np.sqrt(hx * hx + hy * hy + hz * hz) * (1.0 - 1.0 / np.maximum(rho, 1e-3))
    edges = np.array([e for e, _ in _LAYERS], dtype=np.float32)
    values = np.array([v for _, v in _LAYERS] + [-1000.0], dtype=np.float32)
    out: np.ndarray = values[np.digitize(depth, edges, right=True)]
    low = hz < -70 * k  # below the skull: the cranial layers give way to the neck
    out[low & (depth <= 13.0)] = 45.0
    neck = (((hx / (58 * k)) ** 2 + ((hy - 12 * k) / (62 * k)) ** 2) < 1) & (hz < -40 * k)
    out[neck & (out == -1000.0)] = 45.0
    white = ((hx / (0.72 * a)) ** 2 + (hy / (0.7 * b)) ** 2 + ((hz - 8 * k) / (0.62 * c)) ** 2
             < 1) & ~low
    out[white] = 29.0
    near = (np.abs(hz - 10 * k) < 9 * k) & (np.abs(hy) < 22 * k) & (np.abs(hx) < 15 * k)
    for s in (1, -1):
        vent = near & (((hx - s * 9 * k) / (6 * k)) ** 2 + (hy / (22 * k)) ** 2
                       + ((hz - 10 * k) / (9 * k)) ** 2 < 1)
        out[vent] = 6.0
    spine = ((hx / (10 * k)) ** 2 + ((hy - 28 * k) / (10 * k)) ** 2 < 1) & (hz < -78 * k)
    out[spine] = 700.0
    return out


def _draw_tube(excess: np.ndarray, pts: np.ndarray, radius: np.ndarray, value: np.ndarray,
               origin: np.ndarray, spacing: tuple[float, float, float], blur_mm: float) -> None:
    """Max-composite partial-volume capsules (pts[i] → pts[i+1]) into ``excess`` (in place)."""
    dz, dy, dx = spacing
    shape = np.array(excess.shape)
    step = np.array([dz, dy, dx])
    for i in range(len(pts) - 1):
        if value[i] <= 0:
            continue
        a, b = pts[i], pts[i + 1]
        r = max(radius[i], radius[i + 1])
        lo_mm = np.minimum(a, b) - r - blur_mm
        hi_mm = np.maximum(a, b) + r + blur_mm
        lo = np.floor((lo_mm[::-1] - origin[::-1]) / step).astype(int)
        hi = np.ceil((hi_mm[::-1] - origin[::-1]) / step).astype(int) + 1
        lo, hi = np.maximum(lo, 0), np.minimum(hi, shape)
        if np.any(hi <= lo):
            continue
        z = origin[2] + dz * np.arange(lo[0], hi[0])[:, None, None] - a[2]
        y = origin[1] + dy * np.arange(lo[1], hi[1])[None, :, None] - a[1]
        x = origin[0] + dx * np.arange(lo[2], hi[2])[None, None, :] - a[0]
        ab = b - a
        t = np.clip((x * ab[0] + y * ab[1] + z * ab[2]) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        d = np.sqrt((x - t * ab[0]) ** 2 + (y - t * ab[1]) ** 2 + (z - t * ab[2]) ** 2)
        # Fraction of a voxel of size blur_mm inside a lumen of radius r (linear ramp).
        frac = np.clip((r - d) / blur_mm + 0.5, 0.0, 1.0) * min(1.0, 2 * r / blur_mm + 0.25)
        region = excess[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        np.maximum(region, (frac * value[i]).astype(np.float32), out=region)


def _misregister(vol: np.ndarray, shift_px: float, rng: np.random.Generator) -> None:
    """Patient motion during the helical scan: a block of slices shifted in plane (in place)."""
    nz = vol.shape[0]
    start = int(rng.uniform(0.35, 0.6) * nz)
    stop = min(nz, start + int(rng.uniform(0.1, 0.2) * nz))
    shift = int(round(shift_px))
    vol[start:stop] = np.roll(vol[start:stop], (shift, -shift // 2), axis=(2, 1))


def write_dicom(rendered: Rendered, out_dir: Path) -> dict[str, Any]:
    """Write the volume as a CTA DICOM series plus ``truth.json``; returns the truth dict."""
    out_dir.mkdir(parents=True, exist_ok=True)
    series = SeriesInfo(series_number=4, description="CTA Head Neck Angio", contrast=True,
                        kernel="Hv40", kvp=100.0)
    dz, dy, dx = rendered.spacing_mm
    paths = write_volume(rendered.volume_hu, out_dir / "dicom", study=StudyInfo(), series=series,
                         spacing_mm=(dz, dy, dx), origin_mm=rendered.origin_mm, signed=True)
    truth = rendered.spec.truth()
    truth.update({
        "schema": "strokealert.phantom.cta/1",
        "images": len(paths),
        "shape_zyx": list(rendered.volume_hu.shape),
        "brain_centre_lps_mm": [round(float(v), 2) for v in rendered.centre_mm],
        "head_to_scanner_rotation": np.round(rendered.rotation, 6).tolist(),
    })
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth
