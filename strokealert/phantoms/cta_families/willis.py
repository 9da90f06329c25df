"""CTA family "willis": a parametric circle of Willis on textbook landmarks in an ellipsoidal head.

The arterial tree is a set of named segments (internal carotids from the cervical part through
the petrous canal, cavernous siphon and supraclinoid part to the terminus; A1/ACom/A2 and the
callosomarginal branch; M1 with a bi- or trifurcation into M2 trunks over the insula and M3
cortical branches; posterior communicating arteries; vertebrals joining into the basilar; P1,
P2, P3 and the superior cerebellar and posterior inferior cerebellar arteries), each a cubic
spline through landmark points (mm, relative to the centre of the circle of Willis) with radii
tapering from typical published diameters. Common variants are drawn at population
frequencies. The head is an ellipsoidal skull of varying thickness with a skull base, grey and
white matter, CSF spaces and dural sinuses. Tubes get analytic partial volume over the slice
thickness; the volume then gets a Gaussian reconstruction-kernel blur and Gaussian-correlated
noise. Template frame: x to the patient's left, y posterior, z up (LPS), mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.interpolate import CubicSpline

from strokealert.phantoms.cta_families import CaseLabel, CtaCase

FAMILY = "willis"

SKULL_CENTRE = np.array([0.0, 12.0, 18.0])
"""Centre of the skull ellipsoid in the template frame (mm from the circle of Willis)."""

SIDES = {"L": 1.0, "R": -1.0}
"""Side suffix -> sign of x (LPS: the patient's left is +x)."""

OTHER = {"L": "R", "R": "L"}
"""Side suffix -> the contralateral suffix."""

CHUNK_VOXELS = 1 << 19
"""Voxels per slab when evaluating the tissue model (bounds memory at 512)."""

Vec = np.ndarray


@dataclass
class Segment:
    """One named vessel segment: spline landmarks (template mm) and radii (mm) at both ends."""

    name: str
    points: list[Vec]
    radius: tuple[float, float]
    vein: bool = False
    nodes: Vec = field(default_factory=lambda: np.zeros((0, 3)))  # dense centreline, head mm
    radii: Vec = field(default_factory=lambda: np.zeros(0))  # mm per node
    fill: Vec = field(default_factory=lambda: np.zeros(0))  # fraction of full enhancement
    arc: Vec = field(default_factory=lambda: np.zeros(0))  # mm from the segment's start

    def densify(self, step_mm: float) -> None:
        """Sample the spline through the landmarks every ``step_mm`` (mm)."""
        pts = np.asarray(self.points, dtype=float)
        chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        spline = CubicSpline(chord, pts, bc_type="natural") if len(pts) > 2 else None
        n = max(2, int(np.ceil(chord[-1] / step_mm)) + 1)
        s = np.linspace(0.0, chord[-1], n)
        self.nodes = spline(s) if spline is not None else pts[0] + np.outer(s / chord[-1],
                                                                            pts[1] - pts[0])
        seglen = np.linalg.norm(np.diff(self.nodes, axis=0), axis=1)
        self.arc = np.concatenate([[0.0], np.cumsum(seglen)])
        self.radii = np.linspace(self.radius[0], self.radius[1], n)
        self.fill = np.ones(n)

    @property
    def length(self) -> float:
        """Centreline length (mm)."""
        return float(self.arc[-1])


def _mirror(name: str) -> str:
    """The contralateral partner's name (``M1_L`` <-> ``M1_R``)."""
    if name.endswith("_L"):
        return name[:-2] + "_R"
    if name.endswith("_R"):
        return name[:-2] + "_L"
    return name


def _surface(direction: Vec | tuple[float, float, float], axes: Vec, inset: float) -> Vec:
    """Point ``inset`` mm inside the ellipsoid (centre SKULL_CENTRE, semi-axes ``axes``)."""
    u = np.asarray(direction, dtype=float)
    u = u / np.linalg.norm(u)
    radius = 1.0 / np.sqrt(np.sum((u / axes) ** 2))
    return np.asarray(SKULL_CENTRE + u * (radius - inset), dtype=float)


def _draw_variants(rng: np.random.Generator, label: CaseLabel) -> dict[str, Any]:
    """Circle-of-Willis and MCA variants at population frequencies, then what the label forces."""
    v: dict[str, Any] = {}
    for s in SIDES:
        a1 = rng.choice(["normal", "hypoplastic", "absent"], p=[0.91, 0.08, 0.01])
        pc = rng.choice(["normal", "hypoplastic", "absent", "fetal"], p=[0.45, 0.28, 0.12, 0.15])
        mca = rng.choice(["bifurcation", "trifurcation", "early_bifurcation"],
                         p=[0.65, 0.2, 0.15])
        v[s] = {"A1": str(a1), "PComm": str(pc), "P1": "hypoplastic" if pc == "fetal" else
                "normal", "MCA": str(mca), "duplicated_MCA": bool(rng.random() < 0.02),
                "M2_hypoplastic": None}
    dom = str(rng.choice(["left", "right", "codominant"], p=[0.45, 0.25, 0.30]))
    v["vertebral"] = {"dominance": dom, "hypoplastic": None}
    if dom != "codominant" and rng.random() < 0.15:
        v["vertebral"]["hypoplastic"] = "R" if dom == "left" else "L"
    forced: list[str] = []
    side = str(rng.choice(list(SIDES)))
    if label.kind == "hypoplastic":
        target = str(rng.choice(["A1", "P1", "vertebral", "M2"]))
        if target == "A1":
            v[side]["A1"] = "hypoplastic"
        elif target == "P1":
            v[side]["P1"] = "hypoplastic"
            v[side]["PComm"] = "normal"
        elif target == "vertebral":
            v["vertebral"] = {"dominance": "right" if side == "L" else "left",
                              "hypoplastic": side}
        else:
            v[side]["M2_hypoplastic"] = str(rng.choice(["sup", "inf"]))
        forced.append(f"hypoplastic {target} {side}")
    elif label.kind == "asymmetric_normal":
        options = ["fetal_PCA", "dominant_vertebral", "absent_A1", "duplicated_MCA",
                   "absent_PComm", "trifurcation"]
        for choice in rng.choice(options, size=int(rng.integers(1, 3)), replace=False):
            forced.append(f"{choice} {side}")
            if choice == "fetal_PCA":
                v[side]["PComm"], v[side]["P1"] = "fetal", "hypoplastic"
            elif choice == "dominant_vertebral":
                v["vertebral"] = {"dominance": "left" if side == "L" else "right",
                                  "hypoplastic": "R" if side == "L" else "L"}
            elif choice == "absent_A1":
                v[side]["A1"] = "absent"
                v[OTHER[side]]["A1"] = "normal"
            elif choice == "duplicated_MCA":
                v[side]["duplicated_MCA"] = True
            elif choice == "absent_PComm":
                v[side]["PComm"], v[side]["P1"] = "absent", "normal"
            else:
                v[side]["MCA"] = "trifurcation"
                v[OTHER[side]]["MCA"] = "bifurcation"
    if label.kind == "lvo" and label.side != "none":
        v["L" if label.side == "left" else "R"]["M2_hypoplastic"] = None
    v["forced"] = forced
    return v


def _build_tree(rng: np.random.Generator, var: dict[str, Any], brain_axes: Vec,
                r_scale: float) -> dict[str, Segment]:
    """Named arterial and venous segments with jittered landmarks (template mm)."""
    def jit(x: float, y: float, z: float, sg: float = 1.0, sd: float = 1.5) -> Vec:
        return np.array([sg * x, y, z]) + rng.normal(0.0, sd, 3)

    segs: dict[str, Segment] = {}

    def add(name: str, points: list[Vec], r0: float, r1: float, vein: bool = False) -> None:
        segs[name] = Segment(name, points, (r0 * r_scale, r1 * r_scale), vein)

    tip = jit(0, 5, -6, sd=1.0)
    sca_origin = jit(0, 6, -10, sd=1.0)
    conf = jit(0, 12, -33, sd=2.0)
    add("basilar", [conf, jit(0, 9, -22, sd=1.5), sca_origin, tip], 1.6, 1.4)
    acom = {s: jit(1.6, -20, 5, sg, 0.8) for s, sg in SIDES.items()}
    acom["R"][1:] = acom["L"][1:]
    vert_r = {"codominant": (1.6, 1.6), "left": (1.9, 1.3), "right": (1.3, 1.9)}
    rv = dict(zip(SIDES, vert_r[var["vertebral"]["dominance"]], strict=True))
    if var["vertebral"]["hypoplastic"]:
        rv[var["vertebral"]["hypoplastic"]] = float(rng.uniform(0.75, 0.95))
    add("ACom", [acom["L"], acom["R"]], 0.75, 0.75)
    for s, sg in SIDES.items():
        vs = var[s]
        ica = [jit(24, 14, -80, sg), jit(22, 12, -62, sg), jit(21, 10, -45, sg),
               jit(20, 6, -33, sg), jit(18, -2, -28, sg), jit(15, -8, -24, sg),
               jit(14, -12, -18, sg), jit(14, -16, -13, sg), jit(14, -22, -8, sg, 2.0),
               jit(14, -18, -3, sg), jit(14, -13, -1.5, sg, 1.0), jit(14, -9, 2, sg, 1.0)]
        add(f"ICA_{s}", ica, 2.4, 1.8)
        term, pcomm0 = ica[-1], ica[-2]
        add(f"ophthalmic_{s}", [ica[8], jit(20, -40, -11, sg), jit(28, -58, -16, sg)], 0.5, 0.35)
        xb = rng.uniform(22, 27) if vs["MCA"] == "early_bifurcation" else rng.uniform(32, 40)
        bif = jit(xb, -5, 2, sg, 1.0)
        add(f"M1_{s}", [term, (term + bif) / 2 + rng.normal(0, 1.0, 3) + [0, 0, 1], bif],
            1.5, 1.3)
        trunks = {"sup": [jit(xb + 4, -8, 10, sg), jit(44, -3, 22, sg), jit(45, 6, 32, sg)],
                  "inf": [jit(xb + 4, 2, -3, sg), jit(44, 14, 3, sg), jit(45, 26, 11, sg)]}
        m3dirs = {"sup": [((1, -0.4, 0.3), (0.7, -0.5, 0.8)), ((1, 0.0, 0.45), (0.65, 0.1, 0.95))],
                  "inf": [((1, 0.2, -0.1), (0.8, 0.6, -0.1)), ((1, 0.4, 0.2), (0.6, 0.8, 0.4))]}
        if vs["MCA"] == "trifurcation":
            trunks["mid"] = [jit(xb + 5, -2, 6, sg), jit(45, 8, 14, sg), jit(46, 18, 22, sg)]
            m3dirs["mid"] = [((1, 0.2, 0.3), (0.7, 0.3, 0.7))]
        for trunk, pts in trunks.items():
            r0 = 1.1 if trunk != "mid" else 0.95
            if vs["M2_hypoplastic"] == trunk:
                r0 = float(rng.uniform(0.45, 0.6))
            add(f"M2{trunk}_{s}", [bif, *pts], r0, r0 * 0.8)
            for k, (d_mid, d_end) in enumerate(m3dirs[trunk]):
                mid = _surface((sg * d_mid[0], d_mid[1], d_mid[2]) + rng.normal(0, 0.1, 3),
                               brain_axes, 8.0)
                end = _surface((sg * d_end[0], d_end[1], d_end[2]) + rng.normal(0, 0.1, 3),
                               brain_axes, 3.0)
                add(f"M3{trunk}{k}_{s}", [pts[-1], mid, end], 0.7, 0.45)
        if vs["duplicated_MCA"]:
            add(f"dupMCA_{s}", [(pcomm0 + term) / 2, jit(24, -4, -4, sg), jit(35, 4, -6, sg),
                                jit(44, 14, -5, sg),
                                _surface((sg, 0.1, -0.35), brain_axes, 4.0)], 0.8, 0.55)
        if vs["A1"] != "absent":
            ra1 = rng.uniform(0.4, 0.5) if vs["A1"] == "hypoplastic" else rng.uniform(0.85, 1.1)
            add(f"A1_{s}", [term, jit(8, -14, 4, sg), acom[s]], ra1, ra1 * 0.95)
        a2_genu = jit(3, -33, 25, sg)
        add(f"A2_{s}", [acom[s], jit(2.5, -26, 13, sg), a2_genu, jit(3, -28, 40, sg),
                        jit(3, -12, 50, sg), jit(3, 10, 54, sg), jit(3, 30, 50, sg)], 0.95, 0.6)
        add(f"callosomarginal_{s}", [a2_genu, jit(4, -45, 42, sg),
                                     _surface((sg * 0.05, -0.6, 0.8), brain_axes, 4.0),
                                     _surface((sg * 0.05, -0.1, 1.0), brain_axes, 4.0)], 0.7, 0.45)
        p1p2 = jit(9, 5, -4, sg, 1.0)
        if vs["PComm"] != "absent":
            rpc = {"normal": 0.6, "hypoplastic": 0.35, "fetal": 1.05}[vs["PComm"]]
            add(f"PComm_{s}", [pcomm0, jit(12, -4, -3, sg, 1.0), p1p2], rpc, rpc)
        rp1 = rng.uniform(0.35, 0.5) if vs["P1"] == "hypoplastic" else 1.05
        add(f"P1_{s}", [tip, jit(5, 4.5, -5.5, sg, 0.7), p1p2], rp1, rp1)
        p3 = jit(14, 58, 6, sg)
        add(f"P2_{s}", [p1p2, jit(16, 10, -2, sg), jit(22, 22, 0, sg), jit(20, 40, 4, sg), p3],
            1.0, 0.8)
        add(f"P3calcarine_{s}", [p3, jit(10, 72, 8, sg),
                                 _surface((sg * 0.1, 1.0, 0.05), brain_axes, 8.0)], 0.65, 0.4)
        add(f"P3parietooccipital_{s}", [p3, jit(8, 68, 22, sg),
                                        _surface((sg * 0.1, 0.8, 0.5), brain_axes, 6.0)],
            0.6, 0.4)
        add(f"SCA_{s}", [sca_origin, jit(8, 6, -12, sg), jit(16, 14, -13, sg),
                         jit(18, 28, -15, sg), jit(11, 40, -17, sg)], 0.65, 0.5)
        v_mid = jit(12, 26, -48, sg)
        add(f"vertebral_{s}", [jit(24, 30, -80, sg), jit(20, 30, -62, sg), v_mid,
                               jit(5, 17, -38, sg), conf], rv[s], rv[s] * 0.95)
        add(f"PICA_{s}", [v_mid, jit(15, 34, -50, sg), jit(11, 44, -44, sg),
                          jit(6, 52, -36, sg)], 0.6, 0.45)
    sinus_axes = brain_axes + 2.0
    sss = [_surface(d, sinus_axes, 2.0) for d in [(0, -0.9, 0.3), (0, -0.6, 0.8),
                                                  (0, -0.15, 1), (0, 0.35, 0.95),
                                                  (0, 0.75, 0.65), (0, 0.97, 0.1)]]
    torcula = _surface((0, 1, -0.25), sinus_axes, 4.0)
    add("sagittal_sinus", [*sss, torcula], 2.2, 4.0, vein=True)
    add("straight_sinus", [np.array([0, 38, 22.0]), np.array([0, 60, 10.0]), torcula], 2.0, 2.6,
        vein=True)
    for s, sg in SIDES.items():
        add(f"transverse_sinus_{s}", [torcula, _surface((sg * 0.45, 0.85, -0.3), sinus_axes, 4.0),
                                      _surface((sg * 0.85, 0.4, -0.4), sinus_axes, 4.0),
                                      jit(44, 32, -38, sg), jit(40, 24, -52, sg),
                                      jit(38, 20, -80, sg)], 3.6, 5.0, vein=True)
    return segs


def _retro(seg: Segment, peak: float) -> None:
    """Partial retrograde (collateral) filling rising towards the segment's distal end."""
    seg.fill = peak * seg.arc / max(seg.length, 1e-6)


def _apply_label(rng: np.random.Generator, label: CaseLabel, segs: dict[str, Segment],
                 var: dict[str, Any]) -> dict[str, Any]:
    """Occlusion, stenosis or distal occlusion on the dense tree; returns what was done."""
    side = {"left": "L", "right": "R"}.get(label.side, "L")
    if label.kind == "lvo":
        collateral = float(rng.uniform(0.0, 0.45))
        m3 = [n for n in segs if n.startswith("M3") and n.endswith(side)]
        m2 = [n for n in segs if n.startswith("M2") and n.endswith(side)]
        if label.site == "ICA":
            name, ica = f"ICA_{side}", segs[f"ICA_{side}"]
            s_clot = float(rng.uniform(0.55, 0.85) * ica.length)
            unfilled = [f"M1_{side}", *m2, f"dupMCA_{side}"]
            probe = (f"M1_{side}", 0.3 * segs[f"M1_{side}"].length)
            if f"A1_{side}" in segs:
                _retro(segs[f"A1_{side}"], float(rng.choice([0.0, 0.5])))
            if var[side]["PComm"] == "fetal":
                segs[f"PComm_{side}"].fill[:] = 0.3
                for n in (f"P2_{side}", f"P3calcarine_{side}", f"P3parietooccipital_{side}"):
                    segs[n].fill[:] = 0.5
        elif label.site == "M1":
            name = f"M1_{side}"
            s_clot = float(rng.uniform(0.15, 0.55) * segs[name].length)
            unfilled, probe = m2, (name, s_clot + 2.5)
        elif label.site == "M2":
            trunk = str(rng.choice(["sup", "inf"]))
            name = f"M2{trunk}_{side}"
            s_clot = float(rng.uniform(0.05, 0.35) * segs[name].length)
            unfilled, probe = [], (name, (s_clot + segs[name].length) / 2)
            m3 = [n for n in m3 if n.startswith(f"M3{trunk}")]
        else:
            name, bas = "basilar", segs["basilar"]
            sca_arc = bas.arc[np.argmin(np.linalg.norm(bas.nodes - segs["SCA_L"].nodes[0], axis=1))]
            s_clot = float(rng.uniform(0.35, 0.8) * sca_arc)
            unfilled, probe, m3 = ["SCA_L", "SCA_R"], (name, s_clot + 2.5), []
            for s in SIDES:
                fed = f"PComm_{s}" in segs
                _retro(segs[f"P1_{s}"], 0.6 if fed else 0.0)
                for n in (f"P2_{s}", f"P3calcarine_{s}", f"P3parietooccipital_{s}"):
                    segs[n].fill[:] = 0.9 if fed else collateral * 0.6
        seg = segs[name]
        seg.fill[seg.arc >= s_clot] = 0.0
        for n in unfilled:
            if n in segs:
                segs[n].fill[:] = 0.0
        for n in m3:
            _retro(segs[n], collateral)
        return {"type": "occlusion", "segment": name, "clot_arc_mm": s_clot,
                "unfilled_segments": [n for n in unfilled if n in segs],
                "collateral_fill": collateral, "probe": probe}
    if label.kind == "stenosis":
        name = str(rng.choice([f"ICA_{side}", f"M1_{side}", f"M2sup_{side}", f"M2inf_{side}",
                               "basilar", f"vertebral_{side}"]))
        seg = segs[name]
        lo, hi = (0.6, 0.9) if name.startswith("ICA") else (0.3, 0.7)
        centre = float(rng.uniform(lo, hi) * seg.length)
        half = float(rng.uniform(1.5, 4.0))
        degree = float(rng.uniform(0.5, 0.8))
        bump = np.clip(1 - np.abs(seg.arc - centre) / half, 0, 1)
        seg.radii = seg.radii * (1 - degree * np.sin(bump * np.pi / 2) ** 2)
        return {"type": "stenosis", "segment": name, "centre_arc_mm": centre,
                "length_mm": 2 * half, "degree": degree, "probe": (name, centre)}
    if label.kind == "distal_occlusion":
        name = str(rng.choice([n for n in segs if (n.startswith("M3") or n.startswith("P3"))
                               and n.endswith(side)]))
        seg = segs[name]
        s_clot = float(rng.uniform(0.2, 0.5) * seg.length)
        seg.fill[seg.arc >= s_clot] = 0.0
        return {"type": "distal_occlusion", "segment": name, "clot_arc_mm": s_clot,
                "probe": (name, s_clot + 2.0)}
    return {"type": "none"}


def _rotation(pitch: float, yaw: float, roll: float) -> Vec:
    """Rotation for angles in degrees: pitch about x (left-right), roll about y, yaw about z."""
    p, y, r = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(r), 0, np.sin(r)], [0, 1, 0], [-np.sin(r), 0, np.cos(r)]])
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=float)


@dataclass
class Head:
    """Drawn head and tissue parameters (mm, HU)."""

    axes: Vec  # skull outer semi-axes, template mm
    skull_t: float  # mean calvarial thickness, mm
    base_t: float  # skull-base plate thickness, mm
    scalp: float  # scalp thickness, mm
    cortical: float  # HU of the inner and outer tables
    diploe: float  # HU of the diploe
    wm: float  # HU of white matter (unenhanced)
    gm: float  # HU of grey matter (unenhanced)
    csf: float  # HU of CSF
    soft: float  # HU of muscle / soft tissue
    enh_gm: float  # parenchymal enhancement of grey matter, HU
    ventricles: float  # ventricular size factor
    bumps: Vec  # (3, 4): direction (3) and amplitude of skull thickness waves
    gyri: Vec  # (3, 4): wave vectors (rad/mm) and phases of the gyral pattern
    territory: tuple[str, float] | None  # hypoperfused territory: name, side sign
    territory_drop: float  # HU lost in that territory


def _skull_base(px: Vec, py: Vec) -> Vec:
    """Height (template mm) of the intracranial floor: anterior, middle and posterior fossae."""
    ax = np.abs(px)
    w_ant = 1 / (1 + np.exp((py + 22) / 3))
    w_post = 1 / (1 + np.exp(-(py - 5) / 4))
    w_mid = np.clip(1 - w_ant - w_post, 0, 1)
    z_ant = -3 + 5 * np.exp(-(((ax - 24) / 14) ** 2))
    z_mid = -28 + 16 * np.exp(-((px / 14) ** 4))
    z_post = -52 + 18 * (px / 60) ** 2
    return np.asarray(w_ant * z_ant + w_mid * z_mid + w_post * z_post, dtype=float)


def _ellipsoid(px: Vec, py: Vec, pz: Vec, c: tuple[float, float, float],
               a: tuple[float, float, float]) -> Vec:
    """Boolean mask inside the ellipsoid with centre ``c`` and semi-axes ``a`` (mm)."""
    inside = (((px - c[0]) / a[0]) ** 2 + ((py - c[1]) / a[1]) ** 2
              + ((pz - c[2]) / a[2]) ** 2) < 1.0
    return np.asarray(inside, dtype=bool)


def _tissue(px: Vec, py: Vec, pz: Vec, h: Head) -> Vec:
    """HU of the non-vascular head at template points (mm): air, scalp, bone, brain, CSF."""
    rel = (px - SKULL_CENTRE[0], py - SKULL_CENTRE[1], pz - SKULL_CENTRE[2])
    q = [r / a for r, a in zip(rel, h.axes, strict=True)]
    rho = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) + 1e-6
    dist = np.sqrt(rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2)
    depth = dist * (1 / rho - 1)  # mm inside the outer skull surface (negative outside)
    u = [c / rho for c in q]
    thick = (h.skull_t + 2.5 * np.clip(u[1], 0, None) ** 2 + 1.2 * np.clip(-u[1], 0, None) ** 2
             - 3.0 * u[0] ** 2 * np.exp(-(((u[2] - 0.05) / 0.3) ** 2)))
    for b in h.bumps:
        thick = thick + b[3] * np.sin(b[0] * u[0] + b[1] * u[1] + b[2] * u[2])
    thick = np.maximum(thick, 2.0)
    zb = _skull_base(px, py)
    hu = np.full(px.shape, -1000.0, dtype=np.float32)
    low = pz < zb - h.base_t
    neck = ((px / 58) ** 2 + ((py - 20) / 62) ** 2 < 1) & (pz < -20)
    fat_tex = np.sin(0.21 * px + 0.13 * pz) * np.sin(0.17 * py - 0.11 * pz)
    soft = np.where(fat_tex > 0.55, -90.0, h.soft)
    hu = np.where(low & ((depth > -h.scalp) | neck), soft, hu)
    shell_zone = ~low | (pz > zb - h.base_t - 10)
    scalp = (depth > -h.scalp) & (depth <= 0) & shell_zone
    hu = np.where(scalp, np.where((depth > -0.6 * h.scalp) & (depth < -0.25 * h.scalp), -70.0,
                                  h.soft - 10), hu)
    frac = depth / thick
    bone_hu = np.where((frac < 0.28) | (frac > 0.72), h.cortical, h.diploe)
    hu = np.where((depth > 0) & (depth < thick) & shell_zone, bone_hu, hu)
    frontal_sinus = _ellipsoid(px, py, pz, (0, -h.axes[1] + SKULL_CENTRE[1] + 6, 14),
                               (16, 5, 9))
    hu = np.where(frontal_sinus & (depth > 1) & (depth < thick), -900.0, hu)
    inner = depth >= thick
    d_in = depth - thick
    # skull base: plate, central sphenoid/clival block, petrous ridges, mastoids
    base = (pz <= zb) & ~low & (depth > 0)
    hu = np.where(base, h.cortical * 0.85, hu)
    block = _ellipsoid(px, py, pz, (0, -6, -30), (17, 30, 16)) & (pz <= zb)  # sphenoid, clivus
    hu = np.where(block, h.cortical * 0.7, hu)
    hu = np.where(_ellipsoid(px, py, pz, (0, -20, -26), (13, 11, 8)), -950.0, hu)
    nasal = (np.abs(px) < 14) & (py < -40) & (pz < -8) & (pz > -60) & (depth > 4)
    hu = np.where(nasal, np.where(np.abs(px) < 1.0, h.diploe, -950.0), hu)
    for sg in (1.0, -1.0):
        # petrous ridge: distance to the line (14, 6, -20) -> (50, 28, -32), mirrored
        a = np.array([14 * sg, 6.0, -20.0])
        d = np.array([36 * sg, 22.0, -12.0])
        t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1] + (pz - a[2]) * d[2]) / (d @ d),
                    0, 1)
        dd = (px - a[0] - t * d[0]) ** 2 + (py - a[1] - t * d[1]) ** 2 + (pz - a[2] - t * d[2]) ** 2
        hu = np.where((dd < 36) & (depth > 0), h.cortical * 1.05, hu)
        mastoid = _ellipsoid(px, py, pz, (50 * sg, 30, -34), (11, 12, 11)) & (depth > 0)
        cells = np.sin(1.3 * px) * np.sin(1.3 * py) * np.sin(1.3 * pz) > 0.1
        hu = np.where(mastoid, np.where(cells, -700.0, 900.0), hu)
        globe = _ellipsoid(px, py, pz, (32 * sg, -66, -20), (11.5, 11.5, 11.5))
        orbit = _ellipsoid(px, py, pz, (30 * sg, -58, -20), (15, 24, 14))
        hu = np.where(orbit & ~globe & (pz < zb), -90.0, hu)
        hu = np.where(globe & (pz < zb), 10.0, hu)
    # brain
    brain = inner & (pz > zb)
    g = sum(np.sin(w[0] * px + w[1] * py + w[2] * pz + w[3]) for w in h.gyri) / 3.0
    cortex_depth = 3.0 + 2.5 * (1 + g)
    grey = d_in < cortex_depth
    for sg in (1.0, -1.0):
        grey |= _ellipsoid(px, py, pz, (18 * sg, -2, 12), (9, 14, 9))
        grey |= _ellipsoid(px, py, pz, (10 * sg, 14, 12), (8, 11, 8))
    yc = 19 + 0.2 * np.maximum(-pz - 20, 0)
    stem = ((px / 10) ** 2 + ((py - yc) / 11) ** 2 < 1) & (pz < 0)
    cereb = (py > 14) & (pz < -10 - 0.1 * (py - 14))
    folia = np.sin(0.9 * np.sqrt(px ** 2 + (py - 40) ** 2 + (pz + 30) ** 2)) > -0.3
    tissue = np.where(grey, h.gm, h.wm)
    tissue = np.where(cereb & ~stem, np.where(folia, h.gm - 1, h.wm + 1), tissue)
    tissue = np.where(stem, h.wm + 2, tissue)
    enh = np.where(tissue > (h.gm + h.wm) / 2 - 1, h.enh_gm, h.enh_gm * 0.4)
    if h.territory is not None:
        name, sg = h.territory
        side_x = sg * px
        mask = {"mca": (side_x > 22) & (py > -45) & (py < 65) & (pz > -15),
                "m2sup": (side_x > 22) & (pz > 15) & (py < 40),
                "m2inf": (side_x > 22) & (pz < 30) & (py > -10) & (pz > -15),
                "posterior": (py > 35) | cereb | stem}[name]
        enh = np.where(mask, -h.territory_drop, enh)
    tissue = tissue + enh
    csf = (d_in < 1.2) | ((np.abs(g) < 0.07) & (d_in < 9))
    vs = h.ventricles
    for sg in (1.0, -1.0):
        csf |= _ellipsoid(px, py, pz, (11 * sg, -5, 24), (6 * vs, 26, 5 * vs))
        csf |= _ellipsoid(px, py, pz, (18 * sg, 30, 18), (4 * vs, 14, 5 * vs))
        csf |= _ellipsoid(px, py, pz, (30 * sg, 2, -4), (3 * vs, 13, 3.5 * vs))
        csf |= _ellipsoid(px, py, pz, (43 * sg, 5, 10), (4, 22, 18))  # Sylvian fissure
    csf |= _ellipsoid(px, py, pz, (0, 2, 8), (2.0 * vs, 14, 8))
    csf |= _ellipsoid(px, py, pz, (0, 32, -32), (6, 4, 6))
    csf |= _ellipsoid(px, py, pz, (0, -6, -1), (18, 14, 6))  # suprasellar cistern
    csf |= (np.abs(px) < 12) & (py > 1) & (py < yc - 10) & (pz < -4) & (pz > -45)
    csf |= (np.abs(px) < 1.6) & ((pz > 38) | ((py < -30) & (pz > 2)))
    tissue = np.where(csf, h.csf, tissue)
    tissue = np.where((np.abs(px) < 0.5) & (pz > 38), 55.0, tissue)  # falx
    hu = np.where(brain, tissue, hu)
    # foramen magnum: medulla and CSF pass through the skull base
    fm = (px ** 2 + (py - 26) ** 2 < 15 ** 2) & (pz < zb + 2) & (pz > -100)
    hu = np.where(fm & ~brain & (pz > zb - h.base_t - 30),
                  np.where(px ** 2 + (py - yc) ** 2 < 81, h.wm + 2, h.csf), hu)
    dens = (px ** 2 + (py - 20) ** 2 < 49) & (pz < -58)
    ring = (np.abs(np.sqrt(px ** 2 + (py - 28) ** 2) - 19) < 2.5) & (pz < -54) & (pz > -62)
    hu = np.where(dens | ring, h.diploe + 200, hu)
    return hu.astype(np.float32)


def _render_tubes(segs: dict[str, Segment], to_scanner: Any, grid: dict[str, Any],
                  artery_hu: float, vein_hu: float) -> tuple[Vec, Vec]:
    """Occupancy (0-1) and added enhancement (HU) of every tube, with partial volume.

    Each pair of consecutive centreline nodes is a capsule; occupancy comes from the analytic
    distance with a soft edge one pixel wide, averaged over three depths within the slice.
    """
    nz, ny, nx = grid["shape"]
    dz, dy, dx = grid["spacing"]
    x0, y0, z0 = grid["origin"]
    occ_vol = np.zeros((nz, ny, nx), dtype=np.float32)
    enh_vol = np.zeros((nz, ny, nx), dtype=np.float32)
    sub = np.array([-1 / 3, 0.0, 1 / 3]) * dz
    edge = dx
    for seg in segs.values():
        nodes = to_scanner(seg.nodes)
        enh = seg.fill * (vein_hu if seg.vein else artery_hu)
        for a, b, ra, rb, ea, eb in zip(nodes[:-1], nodes[1:], seg.radii[:-1], seg.radii[1:],
                                        enh[:-1], enh[1:], strict=True):
            m = max(ra, rb) + edge
            lo = np.minimum(a, b) - m
            hi = np.maximum(a, b) + m
            i0, i1 = max(int(np.ceil((lo[0] - x0) / dx)), 0), min(int((hi[0] - x0) / dx) + 1, nx)
            j0, j1 = max(int(np.ceil((lo[1] - y0) / dy)), 0), min(int((hi[1] - y0) / dy) + 1, ny)
            k0 = max(int(np.ceil((lo[2] - dz / 2 - z0) / dz)), 0)
            k1 = min(int((hi[2] + dz / 2 - z0) / dz) + 1, nz)
            if i0 >= i1 or j0 >= j1 or k0 >= k1:
                continue
            xs = (x0 + dx * np.arange(i0, i1) - a[0])[None, None, None, :]
            ys = (y0 + dy * np.arange(j0, j1) - a[1])[None, None, :, None]
            zs = ((z0 + dz * np.arange(k0, k1))[:, None] + sub[None, :] - a[2])[:, :, None, None]
            v = b - a
            t = np.clip((xs * v[0] + ys * v[1] + zs * v[2]) / max(v @ v, 1e-9), 0, 1)
            d = np.sqrt((xs - t * v[0]) ** 2 + (ys - t * v[1]) ** 2 + (zs - t * v[2]) ** 2)
            r = ra + t * (rb - ra)
            occ = np.clip((r - d) / edge + 0.5, 0, 1) * np.minimum(1.0, 2 * r / edge)
            occ_k = occ.mean(axis=1)
            enh_k = (occ * (ea + t * (eb - ea))).mean(axis=1)
            box = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
            np.maximum(occ_vol[box], occ_k, out=occ_vol[box])
            np.maximum(enh_vol[box], enh_k, out=enh_vol[box])
    return occ_vol, enh_vol


def render(seed: int, label: CaseLabel, *, matrix: int = 512) -> CtaCase:
    """Render one head CTA (HU, (z, y, x), LPS) of the willis family for ``seed`` and ``label``.

    ``matrix`` is the in-plane size; pixels are 0.4-0.5 mm at 512 and proportionally larger
    below, slices 0.6-1.25 mm at 512 (scaled by sqrt(512 / matrix) below), covering
    45-62 mm below the circle of Willis (below the foramen magnum) to the vertex.
    """
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.93, 1.07, 3)
    axes = np.array([rng.uniform(70, 77), rng.uniform(87, 94), rng.uniform(78, 85)])
    skull_t = float(rng.uniform(5.0, 7.5))
    brain_axes = axes - skull_t - 2.0
    var = _draw_variants(rng, label)
    segs = _build_tree(rng, var, brain_axes, float(rng.uniform(0.9, 1.1)))
    pixel = float(rng.uniform(0.4, 0.5)) * 512 / matrix
    dz = float(rng.uniform(0.6, 1.25)) * np.sqrt(512 / matrix)
    for seg in segs.values():
        seg.points = [p * scale for p in seg.points]
        seg.densify(min(1.0, 0.7 * pixel))
    finding = _apply_label(rng, label, segs, var)

    pitch, yaw, roll = (float(a) for a in rng.uniform(-20, 20, 3))
    rot = _rotation(pitch, yaw, roll)
    offset = np.array([rng.uniform(-8, 8), rng.uniform(-8, 8), 0.0])
    shift = offset - rot @ (SKULL_CENTRE * scale)  # scanner position of the template origin

    def to_scanner(p: Vec) -> Vec:
        return np.asarray(np.asarray(p) @ rot.T + shift, dtype=float)

    m_axes = rot @ np.diag(axes * scale)
    top = float(offset[2] + np.linalg.norm(m_axes[2]) + 6.0)
    z_top = top + float(rng.uniform(-2, 10))  # the vertex, sometimes just clipped
    bottom = float(shift[2] - rng.uniform(45, 62))  # below the foramen magnum
    nz = int(round((z_top - bottom) / dz)) + 1
    origin = (-(matrix - 1) * pixel / 2, -(matrix - 1) * pixel / 2, z_top - (nz - 1) * dz)
    grid = {"shape": (nz, matrix, matrix), "spacing": (dz, pixel, pixel), "origin": origin}

    phase = str(rng.choice(["early_arterial", "peak_arterial", "late_arterial_venous"],
                           p=[0.25, 0.5, 0.25]))
    artery_hu = float({"early_arterial": rng.uniform(220, 400), "peak_arterial":
                       rng.uniform(300, 500), "late_arterial_venous": rng.uniform(200, 350)}[phase])
    vein_hu = float({"early_arterial": rng.uniform(0, 30), "peak_arterial": rng.uniform(20, 80),
                     "late_arterial_venous": rng.uniform(100, 220)}[phase])
    territory: tuple[str, float] | None = None
    if finding["type"] == "occlusion":
        sg = SIDES["L" if label.side == "left" else "R"]
        territory = {"ICA": ("mca", sg), "M1": ("mca", sg), "basilar": ("posterior", 1.0),
                     "M2": ("m2sup" if "sup" in finding["segment"] else "m2inf", sg)}[
                         str(label.site)]
    head = Head(axes=axes, skull_t=skull_t, base_t=float(rng.uniform(5, 9)),
                scalp=float(rng.uniform(4, 7)), cortical=float(rng.uniform(1500, 1900)),
                diploe=float(rng.uniform(550, 900)), wm=float(rng.uniform(26, 31)),
                gm=float(rng.uniform(35, 40)), csf=float(rng.uniform(4, 12)),
                soft=float(rng.uniform(40, 55)), enh_gm=float(rng.uniform(2, 5)),
                ventricles=float(rng.uniform(0.8, 1.6)),
                bumps=np.column_stack([rng.normal(0, 3, (3, 3)), rng.uniform(0.3, 0.9, 3)]),
                gyri=np.column_stack([rng.normal(0, 0.3, (3, 3)), rng.uniform(0, 6.3, 3)]),
                territory=territory, territory_drop=float(rng.uniform(0.5, 3.0)))

    occ, enh = _render_tubes(segs, to_scanner, grid, artery_hu, vein_hu)
    blood_hu = float(rng.uniform(38, 48))
    vol = np.empty((nz, matrix, matrix), dtype=np.float32)
    xs = origin[0] + pixel * np.arange(matrix)
    ys = origin[1] + pixel * np.arange(matrix)
    per = max(1, CHUNK_VOXELS // (matrix * matrix))
    inv = rot.T / scale[:, None]  # scanner offset -> template mm
    for k0 in range(0, nz, per):
        k1 = min(nz, k0 + per)
        zs = origin[2] + dz * np.arange(k0, k1)
        zz, yy, xx = np.meshgrid(zs - shift[2], ys - shift[1], xs - shift[0], indexing="ij")
        px = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2] * zz
        py = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2] * zz
        pz = inv[2, 0] * xx + inv[2, 1] * yy + inv[2, 2] * zz
        tissue = _tissue(px, py, pz, head)
        o = occ[k0:k1]
        vol[k0:k1] = tissue * (1 - o) + blood_hu * o + enh[k0:k1]
    del occ, enh
    plaque = bool(rng.random() < 0.3)
    if plaque:
        for s in SIDES:
            ica = segs[f"ICA_{s}"]
            n = int(np.argmin(np.abs(ica.arc - rng.uniform(0.55, 0.75) * ica.length)))
            spot = to_scanner(ica.nodes[n] + rng.normal(0, 1, 3) * ica.radii[n] * 0.7)
            idx = np.round((np.array(spot[::-1]) - np.array(origin[::-1]))
                           / np.array(grid["spacing"])).astype(int)
            if np.all(idx >= 1) and np.all(idx < np.array(vol.shape) - 1):
                vol[idx[0], idx[1] - 1:idx[1] + 1, idx[2] - 1:idx[2] + 1] = rng.uniform(600, 1100)

    fwhm = float(rng.uniform(0.6, 1.1))
    sig = fwhm / 2.355
    vol = ndimage.gaussian_filter(vol, (0.3, max(sig / pixel, 0.3), max(sig / pixel, 0.3)))
    noise_sd = float(rng.uniform(6, 14)) / (512 / matrix) ** 0.5
    corr = float(rng.uniform(0.7, 1.3))
    noise = rng.standard_normal(vol.shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, (0.5, corr, corr))
    noise *= noise_sd / float(noise[:: max(1, nz // 16)].std())
    vol += noise
    del noise
    np.clip(vol, -1024, 3071, out=vol)

    def vox(p: Vec) -> list[int]:
        s = to_scanner(p)
        return [int(round((s[2] - origin[2]) / dz)), int(round((s[1] - origin[1]) / pixel)),
                int(round((s[0] - origin[0]) / pixel))]

    if "probe" in finding:
        name, at = finding.pop("probe")
        seg = segs[name]
        at = float(min(at, seg.length - 1.0))
        finding["probe_vox"] = vox(seg.nodes[int(np.argmin(np.abs(seg.arc - at)))])
        finding["probe_segment"] = name
        ref = segs.get(_mirror(name))
        if name == "basilar":
            # proximal reference on the basilar itself: before the clot or the stenosis
            lesion = finding.get("clot_arc_mm", finding.get("centre_arc_mm", at))
            ref_at = max(0.5, float(lesion) - 6.0)
        else:
            ref_at = at / seg.length * (ref.length if ref else 0.0)
        if ref is not None:
            finding["reference_vox"] = vox(ref.nodes[int(np.argmin(np.abs(ref.arc - ref_at)))])
            finding["reference_segment"] = ref.name
        if finding["type"] == "occlusion":
            finding["clot_lps_mm"] = [float(c) for c in to_scanner(
                seg.nodes[int(np.argmin(np.abs(seg.arc - finding["clot_arc_mm"])))])]
    details: dict[str, Any] = {
        "variants": var, "finding": finding,
        "segments": sorted(segs),
        "pose_deg": {"pitch": pitch, "yaw": yaw, "roll": roll},
        "head_offset_mm": [float(c) for c in offset], "head_scale": [float(c) for c in scale],
        "head_origin_lps_mm": [float(c) for c in shift],
        "origin_mm": [float(c) for c in origin],
        "fov_mm": pixel * matrix, "slice_mm": dz, "coverage_mm": nz * dz,
        "bolus_phase": phase, "artery_enhancement_hu": artery_hu,
        "venous_enhancement_hu": vein_hu, "blood_hu": blood_hu,
        "skull_thickness_mm": skull_t, "calcified_plaque": plaque,
        "kernel": "Hv36" if fwhm > 0.85 else "Hv40", "kernel_fwhm_mm": fwhm,
        "noise_sd_hu": noise_sd, "noise_correlation_px": corr,
        "territory": list(territory) if territory else None,
    }
    return CtaCase(family=FAMILY, seed=seed, label=label, volume_hu=vol, spacing_mm=(
        dz, pixel, pixel), details=details)
