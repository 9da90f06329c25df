"""CTA family "grown": a space-colonisation (constrained-growth) arterial tree, superquadric head.

Only the inflow is placed by hand: both internal carotids (cervical, petrous, cavernous siphon,
supraclinoid) and the basilar artery from the vertebral confluence, each with a short trunk to the
circle of Willis (M1, A1, AComm, P1, PComm). Everything distal is grown by space colonisation
(Runions et al. 2007): attraction points sampled in each vascular territory (MCA lateral
hemisphere, ACA medial frontal/parietal strip, PCA occipital and inferior temporal, SCA
cerebellum) pull branches out of the territory's root (M1 tip, A1 end, P1 end, upper basilar).
Radii follow Murray's law (r_parent^3 = sum r_child^3) upwards from a terminal radius. Every node
carries its segment name (ICA, M1, M2, M3+, A1, AComm, ACA, P1, PComm, PCA, basilar, vertebral,
SCA) so a label can occlude, narrow or thin a named site.

Head: superellipsoid skull (drawn exponents and semi-axes) with outer table, diploe and inner
table; a skull-base floor with anterior, middle and posterior fossae, petrous ridges and clivus;
scalp; brain 28-42 HU (white matter, grey-matter ribbon), sulcal CSF, ventricles, falx, dural
venous sinuses filled according to bolus timing. CT physics: partial volume at the voxel size,
kernel blur and slice profile, beam-hardening dark bands between dense skull-base blobs, dental
metal streaks in the lowest slices for some seeds, calcified plaque in the carotid siphon and
ramp-filtered (non-white) noise. Coordinates: head frame in mm (x to the patient's left, y
posterior, z up) posed into the scanner frame by pitch/yaw/roll and an off-centre shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from strokealert.phantoms.cta_families import CaseLabel, CtaCase

FAMILY = "grown"

SLAB = 16
"""Slices evaluated at a time (bounds the memory of the per-voxel coordinate arrays)."""


@dataclass
class Tree:
    """The arterial tree: nodes (mm, head frame) with parents, radii (mm), names and filling.

    A segment runs from ``parent[i]`` to ``i``; ``fill`` is the contrast fraction of node ``i``
    (1 filled, 0 unopacified blood); ``territory`` names the grown territory of a node or "".
    """

    pos: list[np.ndarray] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)
    radius: list[float] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    territory: list[str] = field(default_factory=list)

    def add(self, p: np.ndarray, parent: int, radius: float, name: str, side: str,
            territory: str = "") -> int:
        """Append one node; returns its index."""
        self.pos.append(np.asarray(p, dtype=float))
        self.parent.append(parent)
        self.radius.append(radius)
        self.name.append(name)
        self.side.append(side)
        self.territory.append(territory)
        return len(self.pos) - 1

    def path(self, points: np.ndarray, parent: int, radius: float, name: str, side: str,
             spacing: float = 1.0) -> list[int]:
        """Add a smooth polyline through ``points`` (mm) sampled every ``spacing`` mm."""
        dense = _spline(points, spacing)
        ids = []
        for p in dense[1:] if parent >= 0 else dense:
            parent = self.add(p, parent, radius, name, side)
            ids.append(parent)
        return ids


def _spline(points: np.ndarray, spacing: float) -> np.ndarray:
    """Catmull-Rom curve through ``points`` (k, 3) resampled every ``spacing`` mm."""
    pts = np.asarray(points, dtype=float)
    ext = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    t = np.linspace(0.0, 1.0, 12)[:-1, None]
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(pts[-1:])
    curve = np.vstack(out)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    n = max(2, int(round(arc[-1] / spacing)) + 1)
    s = np.linspace(0.0, arc[-1], n)
    return np.stack([np.interp(s, arc, curve[:, k]) for k in range(3)], axis=1)


@dataclass(frozen=True)
class Head:
    """Superellipsoid head: semi-axes (mm), exponents and layer thicknesses (mm), HU levels."""

    a: float
    b: float
    c_sup: float
    c_inf: float
    p: float
    q: float
    table_mm: float
    diploe_mm: float
    scalp_mm: float
    csf_gap_mm: float
    ribbon_mm: float
    floor_shift: float
    hu_cortical: float
    hu_diploe: float
    hu_white: float
    hu_grey: float
    hu_csf: float
    gyrus_waves: np.ndarray  # (k, 4): unit wave vector (3) and phase


def _draw_head(rng: np.random.Generator) -> Head:
    k = rng.normal(size=(10, 3))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    waves = np.hstack([k * rng.uniform(2 * np.pi / 22, 2 * np.pi / 12, size=(10, 1)),
                       rng.uniform(0, 2 * np.pi, size=(10, 1))])
    return Head(a=rng.uniform(64, 74), b=rng.uniform(84, 96), c_sup=rng.uniform(70, 82),
                c_inf=rng.uniform(62, 72), p=rng.uniform(2.0, 2.7), q=rng.uniform(1.9, 2.5),
                table_mm=rng.uniform(1.3, 2.2), diploe_mm=rng.uniform(2.0, 4.5),
                scalp_mm=rng.uniform(4.0, 7.0), csf_gap_mm=rng.uniform(1.0, 2.8),
                ribbon_mm=rng.uniform(2.2, 3.4), floor_shift=rng.uniform(-4, 4),
                hu_cortical=rng.uniform(1300, 1800), hu_diploe=rng.uniform(450, 800),
                hu_white=rng.uniform(28, 33), hu_grey=rng.uniform(37, 42),
                hu_csf=rng.uniform(2, 12), gyrus_waves=waves)


def _inner_distance(head: Head, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Approximate distance (mm, positive outside) from the inner skull surface."""
    c = np.where(z > 0, head.c_sup, head.c_inf)
    xy = (np.abs(x / head.a) ** head.p + np.abs(y / head.b) ** head.p) ** (head.q / head.p)
    f = (xy + np.abs(z / c) ** head.q) ** (1.0 / head.q)
    r = np.sqrt(x * x + y * y + z * z)
    return np.asarray(r * (1.0 - 1.0 / np.maximum(f, 1e-6)))


def _floor(head: Head, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Height (mm) of the cranial floor: anterior, middle and posterior fossae."""
    s1 = 1.0 / (1.0 + np.exp(-(y + 18.0) / 3.0))
    s2 = 1.0 / (1.0 + np.exp(-(y - 4.0 - 0.2 * np.abs(x)) / 4.0))
    za = -24.0 + 0.03 * np.abs(x)
    zm = -42.0 + 12.0 * np.exp(-(x / 13.0) ** 2)
    zp = -66.0 + 0.004 * x * x + 0.002 * (y - 35.0) ** 2
    return np.asarray(za + (zm - za) * s1 + (zp - zm) * s2 + head.floor_shift)


BONE_BLOBS = (  # centre (mm), semi-axes (mm), long-axis direction, HU scale
    ((30.0, 10.0, -40.0), (17.0, 6.0, 6.0), (-0.7, -0.7, 0.15)),
    ((-30.0, 10.0, -40.0), (17.0, 6.0, 6.0), (0.7, -0.7, 0.15)),
    ((0.0, 2.0, -52.0), (14.0, 5.0, 5.0), (0.0, -0.5, 0.87)),
)
"""Petrous ridges (left, right) and clivus: the dense skull-base bone that hardens the beam."""


def _blob_inside(x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: tuple[float, ...],
                 axes: tuple[float, ...], direction: tuple[float, ...]) -> np.ndarray:
    """Ellipsoid membership with its long axis along ``direction``."""
    u = np.asarray(direction) / np.linalg.norm(direction)
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    along = dx * u[0] + dy * u[1] + dz * u[2]
    perp2 = dx * dx + dy * dy + dz * dz - along * along
    return np.asarray((along / axes[0]) ** 2 + perp2 / axes[1] ** 2 <= 1.0)


def _territory(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Vascular territory code per point: 0 MCA, 1 ACA, 2 PCA, 3 SCA (cerebellum)."""
    t = np.zeros(np.shape(x), dtype=np.int8)
    t[(np.abs(x) < 17) & (y < 30) & (z > -8)] = 1
    t[(y > 38) | ((z < -18) & (y > 5) & (np.abs(x) > 14))] = 2
    t[(y > 8) & (z < -40 + 0.2 * (y - 8))] = 3
    return t


def _tissue(head: Head, x: np.ndarray, y: np.ndarray, z: np.ndarray,
            blush: np.ndarray) -> np.ndarray:
    """HU of the unenhanced head (plus parenchymal ``blush``, HU) at head-frame points (mm)."""
    d = _inner_distance(head, x, y, z)
    zf = _floor(head, x, y)
    hu = np.full(x.shape, -1000.0, dtype=np.float32)
    skull_out = head.table_mm * 2 + head.diploe_mm
    hu[d < skull_out + head.scalp_mm] = 45.0
    hu[d < skull_out] = head.hu_cortical
    hu[(d < head.table_mm + head.diploe_mm) & (d >= head.table_mm)] = head.hu_diploe
    hu[d < head.table_mm] = head.hu_cortical
    inside = d < 0
    cavity = inside & (z > zf)
    hu[inside & (z <= zf)] = 40.0  # neck, face soft tissue below the floor
    plate = inside & (z <= zf) & (z > zf - 5.0)
    hu[plate] = head.hu_cortical * 0.85
    sinus = inside & ((x / 15.0) ** 2 + ((y + 30.0) / 20.0) ** 2 + ((z - zf + 15.0) / 10.0) ** 2
                      < 1.0)  # sphenoid and ethmoid air cells below the anterior floor
    hu[sinus] = -950.0
    canal = (x * x + (y - 30) ** 2 < 15.0 ** 2) & inside & (z <= zf + 1)
    hu[canal] = head.hu_csf
    hu[canal & (x * x + (y - 26) ** 2 < 9.0 ** 2)] = head.hu_white
    for centre, axes, direction in BONE_BLOBS:
        hu[_blob_inside(x, y, z, centre, axes, direction)] = head.hu_cortical
    hu[cavity] = head.hu_csf
    depth = np.minimum(-d, z - zf)
    brain = cavity & (depth > head.csf_gap_mm)
    hu[brain] = head.hu_white
    ribbon = brain & (depth < head.csf_gap_mm + head.ribbon_mm + 2.0)
    hu[ribbon] = head.hu_grey
    cortex = brain & (depth < 16.0)
    idx = np.nonzero(cortex)
    if idx[0].size:
        pts = np.stack([x[idx], y[idx], z[idx]], axis=1)
        w = head.gyrus_waves
        field_ = np.cos(pts @ w[:, :3].T + w[:, 3]).sum(axis=1) / np.sqrt(len(w))
        sulcus = np.abs(field_) < 0.16 * (1.0 - depth[idx] / 16.0)
        vals = hu[idx]
        vals[sulcus] = head.hu_csf
        hu[idx] = vals
    vent = ((np.abs(x) - 9) / 6.0) ** 2 + ((y - 5) / 24.0) ** 2 + ((z - 14) / 9.0) ** 2 < 1.0
    vent |= (x / 2.0) ** 2 + ((y - 2) / 14.0) ** 2 + ((z + 5) / 8.0) ** 2 < 1.0
    hu[brain & vent] = head.hu_csf
    hu[cavity & (np.abs(x) < 0.8) & (z > -5)] = 55.0  # falx
    hu[brain & ~vent] += blush[brain & ~vent]
    return hu


def _colonise(tree: Tree, roots: list[int], attractors: np.ndarray, territory: str,
              rng: np.random.Generator, step: float = 2.5, kill: float = 4.5) -> list[int]:
    """Grow from ``roots`` towards ``attractors`` (mm) by space colonisation; new node ids."""
    ids = list(roots)
    pts = np.array([tree.pos[i] for i in ids])
    left = attractors.copy()
    grown: list[int] = []
    for _ in range(160):
        if len(left) == 0:
            break
        nearest = cKDTree(pts).query(left)[1]
        pull = left - pts[nearest]
        pull /= np.maximum(np.linalg.norm(pull, axis=1, keepdims=True), 1e-6)
        total = np.zeros_like(pts)
        np.add.at(total, nearest, pull)
        active = np.unique(nearest)
        dirs = total[active] + rng.normal(scale=0.25, size=(len(active), 3))
        dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-6)
        cand = pts[active] + step * dirs
        dist = cKDTree(pts).query(cand)[0]
        keep = dist > 0.45 * step
        if not keep.any():
            break
        new_pts = cand[keep]
        for parent_local, p in zip(active[keep], new_pts, strict=True):
            nid = tree.add(p, ids[parent_local], 0.0, "grown", tree.side[ids[parent_local]],
                           territory)
            ids.append(nid)
            grown.append(nid)
        pts = np.vstack([pts, new_pts])
        left = left[cKDTree(new_pts).query(left)[0] > kill]
    return grown


def _sample_attractors(head: Head, rng: np.random.Generator, code: int, side: float,
                       count: int) -> np.ndarray:
    """``count`` points (mm) in one hemisphere's territory ``code``, most of them near cortex."""
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < count:
        p = rng.uniform([0, -95, -70], [75, 100, 85], size=(4000, 3))
        p[:, 0] *= side
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        d = _inner_distance(head, x, y, z)
        depth = np.minimum(-d, z - _floor(head, x, y))
        ok = (depth > head.csf_gap_mm + 1) & (_territory(x, y, z) == code) & (np.abs(x) > 1.5)
        ok &= rng.uniform(size=len(p)) < np.where(depth < 18, 1.0, 0.25)
        out.append(p[ok])
    return np.vstack(out)[:count]


def _murray(tree: Tree, grown: list[int], root_radius: float) -> float:
    """Murray radii for the grown nodes of one territory; returns the terminal radius (mm)."""
    sub = set(grown)
    children: dict[int, list[int]] = {}
    for i in grown:
        children.setdefault(tree.parent[i], []).append(i)
    n_term = sum(1 for i in grown if i not in children)
    r_term = max(root_radius / max(n_term, 1) ** (1 / 3), 0.25)
    cube = {i: 0.0 for i in grown}
    for i in reversed(grown):
        if i not in children:
            cube[i] = r_term ** 3
        par = tree.parent[i]
        if par in sub:
            cube[par] += cube[i]
    for i in grown:
        tree.radius[i] = min(cube[i] ** (1 / 3), root_radius)
    return float(r_term)


def _children(tree: Tree) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for i, par in enumerate(tree.parent):
        kids.setdefault(par, []).append(i)
    return kids


def _subtree(kids: dict[int, list[int]], start: int) -> list[int]:
    out, stack = [], [start]
    while stack:
        i = stack.pop()
        out.append(i)
        stack.extend(kids.get(i, []))
    return out


def _name_mca(tree: Tree, kids: dict[int, list[int]], root: int, m2_len: float,
              divisions: list[list[int]]) -> None:
    """Name an MCA tree: M1 continuation to the first fork, M2 for ``m2_len`` mm, then M3+."""
    node = root
    while len(kids.get(node, [])) == 1:
        node = kids[node][0]
        tree.name[node] = "M1"
    for child in kids.get(node, []):
        division = _subtree(kids, child)
        divisions.append(division)
        dist = {node: 0.0}
        for i in division:
            dist[i] = dist[tree.parent[i]] + float(np.linalg.norm(tree.pos[i]
                                                                  - tree.pos[tree.parent[i]]))
            tree.name[i] = "M2" if dist[i] <= m2_len else "M3+"


@dataclass
class Anatomy:
    """The tree plus the named node lists a label acts on."""

    tree: Tree
    segments: dict[str, list[int]]
    divisions: dict[str, list[list[int]]]
    variants: list[str]
    terminal_radius_mm: dict[str, float]
    thinned: list[int]


def _build_tree(head: Head, rng: np.random.Generator, variants: dict[str, str]) -> Anatomy:
    """Hand-placed inflow trunks and the circle, then the territories grown from their roots."""
    t = Tree()
    seg: dict[str, list[int]] = {}

    def j(scale: float = 2.0) -> np.ndarray:
        """A random offset (mm) of ``scale`` standard deviation per axis."""
        return rng.normal(scale=scale, size=3)

    zc = rng.uniform(-30, -24) + head.floor_shift * 0.5
    r_ica, r_m1, r_a1, r_p1 = (rng.uniform(2.0, 2.5), rng.uniform(1.3, 1.6),
                               rng.uniform(0.9, 1.2), rng.uniform(0.9, 1.2))
    r_bas, r_vert = rng.uniform(1.4, 1.8), rng.uniform(1.3, 1.7)
    conf = np.array([0, 18, -60.0]) + j(1.0)
    tip = np.array([0, 6, zc - 3]) + j(1.0)
    vert_r = {"left": r_vert, "right": r_vert}
    if variants.get("dominant_vertebral"):
        vert_r[variants["dominant_vertebral"]] = r_vert * 1.35
        other = "right" if variants["dominant_vertebral"] == "left" else "left"
        vert_r[other] = r_vert * 0.55
    if variants.get("hypoplastic") == "vertebral":
        vert_r[variants["hypoplastic_side"]] = r_vert * 0.45
    first = -1
    for side, sx in (("left", 1.0), ("right", -1.0)):
        pts = np.array([[sx * 13, 34, -92], [sx * 12, 30, -75], [sx * 6, 22, -66], conf])
        ids = t.path(pts + np.vstack([j(1.5), j(1.5), j(1.0), [0, 0, 0]]), -1, vert_r[side],
                     "vertebral", side)
        seg[f"vertebral_{side}"] = ids
        if first < 0:
            first = ids[-1]
    bas_pts = np.array([conf, conf + [0, -6, 12] + j(1.0), tip])
    seg["basilar"] = t.path(bas_pts, first, r_bas, "basilar", "none")
    sca_root = seg["basilar"][max(0, len(seg["basilar"]) - 4)]
    tip_id = seg["basilar"][-1]
    grown_roots: dict[str, list[tuple[list[int], float]]] = {}
    for side, sx in (("left", 1.0), ("right", -1.0)):
        ica_pts = np.array([[sx * 24, 8, -95], [sx * 23, 6, -66], [sx * 22, 4, -52],
                            [sx * 17, -8, -46], [sx * 15, -17, -40], [sx * 14, -19, zc - 6],
                            [sx * 15, -10, zc], [sx * 16, -7, zc + 3]], dtype=float)
        ica_pts[1:] += np.vstack([j(1.2) for _ in range(len(ica_pts) - 1)])
        seg[f"ICA_{side}"] = t.path(ica_pts, -1, r_ica, "ICA", side)
        term = seg[f"ICA_{side}"][-1]
        term_p = t.pos[term]
        m1_end = term_p + [sx * rng.uniform(16, 24), rng.uniform(-4, 4), rng.uniform(0, 4)]
        m1_pts = np.array([term_p, (term_p + m1_end) / 2 + j(1.0) + [0, 0, -1.5], m1_end])
        seg[f"M1_{side}"] = t.path(m1_pts, term, r_m1, "M1", side)
        mca_roots = [seg[f"M1_{side}"][-1]]
        if variants.get("duplicated_mca") == side:
            dup_end = term_p + [sx * 14, -6, 6] + j(1.5)
            dup = t.path(np.array([term_p, dup_end]), term, r_m1 * 0.7, "M1", side)
            seg[f"M1dup_{side}"] = dup
            mca_roots.append(dup[-1])
        grown_roots[f"MCA_{side}"] = [(mca_roots, r_m1)]
        a1_end = np.array([sx * 1.5, -22 + rng.uniform(-3, 3), zc + 6 + rng.uniform(-2, 2)])
        r_this_a1 = r_a1 * (0.45 if variants.get("hypoplastic") == f"A1_{side}" else 1.0)
        if variants.get("absent_a1") == side:
            a1 = [t.add(a1_end, -1, r_a1, "A1_absent", side)]
        else:
            a1 = t.path(np.array([term_p, (term_p + a1_end) / 2 + j(1.0), a1_end]), term,
                        r_this_a1, "A1", side)
        seg[f"A1_{side}"] = a1
        grown_roots[f"ACA_{side}"] = [([a1[-1]], r_a1 * 0.95)]
        p1_end = tip + [sx * rng.uniform(9, 13), rng.uniform(2, 6), rng.uniform(0, 3)]
        r_this_p1 = r_p1
        if variants.get("fetal_pca") == side:
            r_this_p1 = r_p1 * 0.35
        if variants.get("hypoplastic") == f"P1_{side}":
            r_this_p1 = r_p1 * 0.45
        seg[f"P1_{side}"] = t.path(np.array([tip, (tip + p1_end) / 2 + j(0.8), p1_end]), tip_id,
                                   r_this_p1, "P1", side)
        r_pcomm = r_p1 * 1.05 if variants.get("fetal_pca") == side else rng.uniform(0.35, 0.6)
        pc_start = t.pos[seg[f"ICA_{side}"][-4]]
        seg[f"PComm_{side}"] = t.path(np.array([pc_start, (pc_start + p1_end) / 2 + j(1.0),
                                                p1_end]), seg[f"ICA_{side}"][-4], r_pcomm,
                                      "PComm", side)
        grown_roots[f"PCA_{side}"] = [([seg[f"P1_{side}"][-1]], r_p1)]
        grown_roots[f"SCA_{side}"] = [([sca_root], 0.7)]
    acomm_r = r_a1 * (0.9 if variants.get("absent_a1") else 0.45)
    seg["AComm"] = t.path(np.array([t.pos[seg["A1_left"][-1]], t.pos[seg["A1_right"][-1]]]),
                          seg["A1_left"][-1], acomm_r, "AComm", "none", spacing=0.8)
    counts = {"MCA": 260, "ACA": 90, "PCA": 110, "SCA": 40}
    codes = {"MCA": 0, "ACA": 1, "PCA": 2, "SCA": 3}
    divisions: dict[str, list[list[int]]] = {}
    grown_by: dict[str, list[int]] = {}
    terminal: dict[str, float] = {}
    for key, roots in grown_roots.items():
        terr, side = key.split("_")
        sx = 1.0 if side == "left" else -1.0
        att = _sample_attractors(head, rng, codes[terr], sx, counts[terr])
        root_ids, r_root = roots[0]
        if terr == "SCA":
            start = t.pos[sca_root] + [sx * 6, 4, 0]
            root_ids = [t.add(start, sca_root, r_root, "SCA", side, key)]
        grown = _colonise(t, root_ids, att, key, rng)
        grown_by[key] = grown
        terminal[key] = round(_murray(t, grown, r_root), 3)
        name = {"MCA": "M3+", "ACA": "ACA", "PCA": "PCA", "SCA": "SCA"}[terr]
        for i in grown:
            t.name[i] = name
    kids_all = _children(t)
    m2_len = float(rng.uniform(14, 24))
    for side in ("left", "right"):
        divisions[side] = []
        for root in grown_roots[f"MCA_{side}"][0][0]:
            _name_mca(t, kids_all, root, m2_len, divisions[side])
    for key, grown in grown_by.items():
        seg[key] = grown
    thinned: list[int] = []
    hypo = variants.get("hypoplastic")
    if hypo == "M2":
        thin = min(divisions[variants["hypoplastic_side"]], key=len)
        for i in thin:
            t.radius[i] *= 0.5
        thinned = [i for i in thin if t.name[i] == "M2"]
    elif hypo == "vertebral":
        thinned = seg[f"vertebral_{variants['hypoplastic_side']}"]
    elif hypo:
        thinned = seg[hypo]
    for s in ("left", "right"):
        seg[f"M2_{s}"] = [i for d in divisions[s] for i in d if t.name[i] == "M2"]
    return Anatomy(tree=t, segments=seg, divisions=divisions,
                   variants=[f"{k}={v}" for k, v in variants.items()],
                   terminal_radius_mm=terminal, thinned=thinned)


def _draw_variants(rng: np.random.Generator, label: CaseLabel) -> dict[str, str]:
    """Normal variants: always for ``asymmetric_normal``, sometimes for any other case."""
    variants: dict[str, str] = {}
    options = ["fetal_pca", "dominant_vertebral", "absent_a1", "duplicated_mca"]
    n = int(rng.integers(1, 3)) if label.kind == "asymmetric_normal" else int(
        rng.uniform() < 0.25)
    for v in rng.choice(options, size=n, replace=False):
        variants[str(v)] = str(rng.choice(["left", "right"]))
    if label.kind == "hypoplastic":
        which = str(rng.choice(["A1", "P1", "vertebral", "M2"]))
        side = str(rng.choice(["left", "right"]))
        variants.pop("absent_a1", None)
        variants["hypoplastic"] = f"{which}_{side}" if which in ("A1", "P1") else which
        variants["hypoplastic_side"] = side
    return variants


def _path_len(tree: Tree, ids: list[int]) -> np.ndarray:
    p = np.array([tree.pos[i] for i in ids])
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])


def _apply_label(anat: Anatomy, label: CaseLabel, rng: np.random.Generator,
                 ) -> tuple[np.ndarray, dict[str, Any], list[int], list[int]]:
    """Per-node fill (0-1) and radius changes for ``label``; returns fill, details, the node ids
    truth says are unfilled (or narrowed/thinned) and their contralateral partners."""
    t, seg = anat.tree, anat.segments
    n = len(t.pos)
    fill = np.ones(n)
    kids = _children(t)
    info: dict[str, Any] = {}
    marked: list[int] = []
    partner: list[int] = []
    side = label.side
    other = "right" if side == "left" else "left"
    collateral = float(rng.uniform(0.0, 0.5))

    def starve(nodes: list[int]) -> None:
        for i in nodes:
            fill[i] = 0.0

    def collaterals(start: int, dead_mm: float) -> None:
        """Zero a subtree near its root, refilling distally to ``collateral`` (retrograde)."""
        dist = {t.parent[start]: 0.0}
        for i in _subtree(kids, start):
            dist[i] = dist.get(t.parent[i], 0.0) + float(np.linalg.norm(
                t.pos[i] - t.pos[t.parent[i]]))
            fill[i] = 0.0 if dist[i] < dead_mm else collateral * min(1.0, (dist[i] - dead_mm)
                                                                     / 20.0)

    if label.kind == "lvo":
        info["collateral_grade"] = round(collateral, 3)
        if label.site == "ICA":
            ica = seg[f"ICA_{side}"]
            arc = _path_len(t, ica)
            clot = float(rng.uniform(0.15, 0.55)) * arc[-1]
            t_occl = bool(rng.uniform() < 0.6)
            info["ica_pattern"] = "T-occlusion" if t_occl else "ICA with circle collaterals"
            dead = [i for i, s in zip(ica, arc, strict=True) if s >= clot]
            if t_occl:
                collaterals(seg[f"M1_{side}"][0], 35.0)
                for i in seg[f"A1_{side}"]:
                    fill[i] = 0.0
                pc = seg[f"PComm_{side}"]
                fill[pc] = 0.0
            else:
                dead = [i for i, s in zip(ica, arc, strict=True) if clot <= s < arc[-6]]
                for i in _subtree(kids, ica[-6]):
                    if fill[i] > 0.0:
                        fill[i] = 0.6
            starve(dead)
            marked = dead[-14:]
            partner = seg[f"ICA_{other}"][-len(marked):]
            info["clot_mm"] = t.pos[dead[0]].round(1).tolist()
        elif label.site == "M1":
            m1 = seg[f"M1_{side}"]
            arc = _path_len(t, m1)
            clot_i = int(np.searchsorted(arc, rng.uniform(0.15, 0.5) * arc[-1]))
            collaterals(m1[clot_i], 30.0)
            marked = [i for i in m1[clot_i:]]
            partner = seg[f"M1_{other}"][clot_i:]
            info["clot_mm"] = t.pos[m1[clot_i]].round(1).tolist()
        elif label.site == "M2":
            divs = sorted(anat.divisions[side], key=len, reverse=True)
            div = divs[int(rng.integers(0, min(2, len(divs))))]
            collaterals(div[0], 22.0)
            marked = [i for i in div if t.name[i] == "M2"][3:15]
            partner = _nearest_named(t, [t.pos[i] * [-1, 1, 1] for i in marked], "M2", other)
            info["clot_mm"] = t.pos[div[0]].round(1).tolist()
            info["m2_division_nodes"] = len(div)
        else:  # basilar
            bas = seg["basilar"]
            arc = _path_len(t, bas)
            clot_i = int(np.searchsorted(arc, rng.uniform(0.3, 0.7) * arc[-1]))
            pcomm_refill = float(rng.uniform(0.3, 0.9))
            for i in bas[clot_i:]:
                fill[i] = 0.0
            for s in ("left", "right"):
                fill[seg[f"P1_{s}"]] = 0.0
                for key in (f"PCA_{s}",):
                    fill[seg[key]] = pcomm_refill
                fill[seg[f"SCA_{s}"]] = collateral * 0.5
                fill[kids[seg["basilar"][max(0, len(bas) - 4)]]] = 0.0
            marked = bas[clot_i:]
            partner = bas[:clot_i]  # the filled basilar below the clot (may lie off the volume)
            info["clot_mm"] = t.pos[bas[clot_i]].round(1).tolist()
            info["pcomm_refill"] = round(pcomm_refill, 3)
    elif label.kind == "hypoplastic":
        marked = anat.thinned
        info["hypoplastic_radius_mm"] = round(float(np.mean([t.radius[i] for i in marked])), 2)
    elif label.kind == "stenosis":
        site = str(rng.choice(["ICA", "M1", "basilar"]))
        s = str(rng.choice(["left", "right"])) if site != "basilar" else "none"
        ids = seg["basilar"] if site == "basilar" else seg[f"{site}_{s}"]
        if site == "ICA":
            ids = [i for i in ids if t.pos[i][2] > -46]
        arc = _path_len(t, ids)
        centre = rng.uniform(0.3, 0.7) * arc[-1]
        severity = float(rng.uniform(0.5, 0.8))
        length = float(rng.uniform(2.5, 5.0))
        for i, a in zip(ids, arc, strict=True):
            t.radius[i] *= 1.0 - severity * np.exp(-0.5 * ((a - centre) / (length / 2.355)) ** 2)
        marked = [i for i, a in zip(ids, arc, strict=True) if abs(a - centre) < length / 3]
        info.update(stenosis_site=site, stenosis_side=s, stenosis_severity=round(severity, 3),
                    stenosis_length_mm=round(length, 2))
    elif label.kind == "distal_occlusion":
        which = str(rng.choice(["MCA", "PCA"]))
        s = str(rng.choice(["left", "right"]))
        grown = seg[f"{which}_{s}"]
        depth: dict[int, float] = {}
        for i in grown:
            par = t.parent[i]
            depth[i] = depth.get(par, 0.0) + float(np.linalg.norm(t.pos[i] - t.pos[par]))
        low = 30.0 if which == "MCA" else 14.0
        cands = [i for i in grown if depth[i] > low and 6 <= len(_subtree(kids, i)) <= 40
                 and (which == "PCA" or t.name[i] == "M3+")]
        if not cands:
            cands = [i for i in grown if depth[i] > low] or grown
        start = cands[int(rng.integers(0, len(cands)))]
        dead = _subtree(kids, start)
        starve(dead)
        marked = dead
        info.update(distal_site="M3/M4" if which == "MCA" else "P2/P3", distal_side=s,
                    distal_nodes=len(dead), clot_mm=t.pos[start].round(1).tolist())
    return fill, info, marked, partner


def _clear_of_bone(head: Head, tree: Tree, ids: list[int], margin: float = 4.0) -> list[int]:
    """The nodes of ``ids`` lying at least ``margin`` mm above the cranial floor, off the blobs."""
    p = np.array([tree.pos[i] for i in ids]).reshape(-1, 3)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    ok = z > _floor(head, x, y) + margin
    for centre, axes, direction in BONE_BLOBS:
        grown_axes = tuple(a + margin for a in axes)
        ok &= ~_blob_inside(x, y, z, centre, grown_axes, direction)
    return [i for i, keep in zip(ids, ok, strict=True) if keep]


def _nearest_named(t: Tree, points: list[np.ndarray], name: str, side: str) -> list[int]:
    cands = [i for i in range(len(t.pos)) if t.name[i] == name and t.side[i] == side]
    if not cands or not points:
        return []
    idx = cKDTree(np.array([t.pos[i] for i in cands])).query(np.array(points))[1]
    return [cands[k] for k in np.atleast_1d(idx)]


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation (head -> scanner) from pitch about x, roll about y, yaw about z (degrees)."""
    a, b, c = np.radians([pitch, roll, yaw])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


def _paint(frac: np.ndarray, val: np.ndarray, a: np.ndarray, b: np.ndarray, r: float,
           value: float, spacing: np.ndarray, centre: np.ndarray) -> None:
    """Partial-volume capsule from ``a`` to ``b`` (scanner mm, (x, y, z)) of radius ``r`` mm.

    Voxels take the capsule's coverage fraction where it exceeds what is there (``val`` HU).
    """
    sp = spacing[::-1]  # (x, y, z) mm
    h = float(np.mean(sp[:2]))
    lo = np.floor((np.minimum(a, b) - r - h) / sp + centre).astype(int)
    hi = np.ceil((np.maximum(a, b) + r + h) / sp + centre).astype(int) + 1
    shape = frac.shape[::-1]
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, shape)
    if np.any(hi <= lo):
        return
    xs = (np.arange(lo[0], hi[0]) - centre[0]) * sp[0]
    ys = (np.arange(lo[1], hi[1]) - centre[1]) * sp[1]
    zs = (np.arange(lo[2], hi[2]) - centre[2]) * sp[2]
    zz, yy, xx = zs[:, None, None], ys[None, :, None], xs[None, None, :]
    ab = b - a
    ll = float(ab @ ab)
    s = ((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1] + (zz - a[2]) * ab[2]) / max(ll, 1e-9)
    s = np.clip(s, 0.0, 1.0)
    d = np.sqrt((xx - a[0] - s * ab[0]) ** 2 + (yy - a[1] - s * ab[1]) ** 2
                + (zz - a[2] - s * ab[2]) ** 2)
    f = np.clip((r - d) / h + 0.5, 0.0, 1.0) * min(1.0, 2.0 * r / h)
    box = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    better = f > frac[box]
    frac[box] = np.where(better, f, frac[box])
    val[box] = np.where(better, value, val[box])


def _speck(vol: np.ndarray, pc: np.ndarray, r: float, hu: float, spacing: np.ndarray,
           centre: np.ndarray) -> None:
    """Raise a calcified speck (radius ``r`` mm, ``hu`` HU) at scanner point ``pc`` (x, y, z)."""
    sp = spacing[::-1]
    idx = np.round(pc / sp + centre).astype(int)
    rad = np.ceil(r / sp).astype(int) + 1
    lo = np.maximum(idx - rad, 0)
    hi = np.minimum(idx + rad + 1, np.array(vol.shape[::-1]))
    if np.any(hi <= lo):
        return
    xs = (np.arange(lo[0], hi[0]) - centre[0]) * sp[0] - pc[0]
    ys = (np.arange(lo[1], hi[1]) - centre[1]) * sp[1] - pc[1]
    zs = (np.arange(lo[2], hi[2]) - centre[2]) * sp[2] - pc[2]
    dist = np.sqrt(zs[:, None, None] ** 2 + ys[None, :, None] ** 2 + xs[None, None, :] ** 2)
    weight = np.clip((r - dist) / sp[0] + 0.5, 0.0, 1.0)
    box = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    vol[box] = np.maximum(vol[box], (1 - weight) * vol[box] + weight * hu)


def _beam_hardening(image: np.ndarray, xg: np.ndarray, yg: np.ndarray, z: float, pa: np.ndarray,
                    pb: np.ndarray, amp: float, width: float) -> None:
    """Darken the band between two dense blobs ``pa``, ``pb`` (scanner mm) in one axial image.

    A sinogram-free stand-in for beam hardening: rays through both blobs lose ``amp`` HU in a
    Gaussian band ``width`` mm wide, fading with the slice's distance from the blobs' level.
    """
    wz = float(np.exp(-0.5 * ((z - 0.5 * (pa[2] + pb[2])) / 8.0) ** 2))
    if wz < 0.05:
        return
    ab = pb[:2] - pa[:2]
    s = np.clip(((xg - pa[0]) * ab[0] + (yg - pa[1]) * ab[1]) / float(ab @ ab), 0, 1)
    d2 = (xg - pa[0] - s * ab[0]) ** 2 + (yg - pa[1] - s * ab[1]) ** 2
    image -= (amp * wz * np.exp(-0.5 * d2 / width ** 2)).astype(np.float32)


@dataclass(frozen=True)
class Metal:
    """A dental filling at scanner point (x, y, z) mm with radiating streaks (angles rad, HU)."""

    x: float
    y: float
    z: float
    angles: np.ndarray
    amps: np.ndarray

    def streak(self, image: np.ndarray, xg: np.ndarray, yg: np.ndarray, z: float) -> None:
        """Add the bright/dark streaks to one axial image at height ``z`` mm (within 6 mm)."""
        if abs(z - self.z) >= 6.0:
            return
        rr = np.hypot(xg - self.x, yg - self.y)
        th = np.arctan2(yg - self.y, xg - self.x)
        streak = np.zeros_like(rr)
        for angle, amp in zip(self.angles, self.amps, strict=True):
            dth = np.angle(np.exp(2j * (th - angle))) / 2  # lines through the point
            streak += amp * np.exp(-0.5 * (dth / 0.012) ** 2)
        fall = np.exp(-abs(z - self.z) / 3.0)
        image += (fall * streak / (1.0 + rr / 25.0)).astype(np.float32)
        image[rr < 2.0] = 3071.0


def _ramp_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float,
                cutoff: float) -> np.ndarray:
    """Per-slice noise with a ramp x Hann spectrum (CT filtered back-projection texture), HU."""
    ny, nx = shape[-2:]
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.sqrt(kx * kx + ky * ky) / 0.5
    spectrum = k * np.where(k < cutoff, 0.5 + 0.5 * np.cos(np.pi * k / cutoff), 0.0)
    white = rng.standard_normal(shape, dtype=np.float32)
    out = np.fft.irfft2(np.fft.rfft2(white) * spectrum, s=(ny, nx)).astype(np.float32)
    return out * (sigma / max(float(out.std()), 1e-6))


def render(seed: int, label: CaseLabel, *, matrix: int = 512) -> CtaCase:
    """Render one head CTA of this family for ``label``; deterministic for ``seed``.

    ``matrix`` is the in-plane size (512: 0.43-0.50 mm pixels, 0.6-1.25 mm slices); smaller
    matrices get proportionally larger pixels and slices sqrt(512 / matrix) times thicker.
    """
    anat_rng = np.random.default_rng([seed, 1])
    label_rng = np.random.default_rng([seed, 2])
    pose_rng = np.random.default_rng([seed, 3])
    phys_rng = np.random.default_rng([seed, 4])
    head = _draw_head(anat_rng)
    anat = _build_tree(head, anat_rng, _draw_variants(label_rng, label))
    tree = anat.tree
    fill, occl, marked, partner = _apply_label(anat, label, label_rng)

    fov = pose_rng.uniform(220, 250)
    px = fov / matrix
    dz = pose_rng.uniform(0.6, 1.25) * np.sqrt(512 / matrix)
    coverage = pose_rng.uniform(120, 160)
    top = head.c_sup + head.table_mm * 2 + head.diploe_mm + pose_rng.uniform(-2, 10)
    nz = int(round(coverage / dz))
    zc_head = top - coverage / 2
    pitch, yaw, roll = pose_rng.uniform(-20, 20, size=3)
    rot = _rotation(pitch, yaw, roll)
    shift = np.array([*pose_rng.uniform(-8, 8, size=2), pose_rng.uniform(-4, 4)])
    trans = shift - rot @ np.array([0.0, 0.0, zc_head])
    spacing = np.array([dz, px, px])
    shape = (nz, matrix, matrix)
    centre = (np.array(shape[::-1]) - 1) / 2.0  # (x, y, z) index of the scanner origin

    contrast = phys_rng.uniform(260, 480)
    venous = phys_rng.uniform(0.1, 0.9)  # bolus timing: 0 early arterial, 1 late venous
    blush_hu = phys_rng.uniform(2.0, 5.0)

    # parenchymal blush: supply of each brain region from its nearest grown terminal
    grown_ids = [i for i, tr in enumerate(tree.territory) if tr]
    gpos = np.array([tree.pos[i] for i in grown_ids])
    gfill = fill[grown_ids]
    supply_tree = cKDTree(gpos)

    vol = np.empty(shape, dtype=np.float32)
    zi = np.arange(nz)
    yv = (np.arange(matrix) - centre[1]) * px
    xv = (np.arange(matrix) - centre[0]) * px
    inv = rot.T
    for z0 in range(0, nz, SLAB):
        zs = (zi[z0:z0 + SLAB] - centre[2]) * dz
        zz, yy, xx = np.meshgrid(zs.astype(np.float32), yv.astype(np.float32),
                                 xv.astype(np.float32), indexing="ij")
        hx = inv[0, 0] * (xx - trans[0]) + inv[0, 1] * (yy - trans[1]) + inv[0, 2] * (zz - trans[2])
        hy = inv[1, 0] * (xx - trans[0]) + inv[1, 1] * (yy - trans[1]) + inv[1, 2] * (zz - trans[2])
        hz = inv[2, 0] * (xx - trans[0]) + inv[2, 1] * (yy - trans[1]) + inv[2, 2] * (zz - trans[2])
        del xx, yy, zz
        coarse = np.stack([hx[:, ::4, ::4], hy[:, ::4, ::4], hz[:, ::4, ::4]], axis=-1)
        sup = gfill[supply_tree.query(coarse.reshape(-1, 3))[1]].reshape(coarse.shape[:3])
        sup = sup.repeat(4, axis=1).repeat(4, axis=2)[:, :matrix, :matrix]
        vol[z0:z0 + SLAB] = _tissue(head, hx, hy, hz, (blush_hu * sup).astype(np.float32))
        del hx, hy, hz

    def to_scanner(p: np.ndarray) -> np.ndarray:
        return np.asarray(rot @ p + trans)

    frac = np.zeros(shape, dtype=np.float32)
    val = np.zeros(shape, dtype=np.float32)
    blood = 40.0
    for i in range(len(tree.pos)):
        par = tree.parent[i]
        if par < 0 or tree.name[i] == "A1_absent" or tree.name[tree.parent[i]] == "A1_absent":
            continue
        hu = blood + (contrast - blood) * fill[i]
        _paint(frac, val, to_scanner(tree.pos[par]), to_scanner(tree.pos[i]),
               max(tree.radius[i], 0.15), hu, spacing, centre)
    # dural venous sinuses: superior sagittal, transverse and sigmoid, filled by bolus timing
    ang = np.linspace(-0.2, 1.25, 14) * np.pi / 2
    sss = np.stack([np.zeros_like(ang), -np.cos(ang) * (head.b - 3) * 0.9 + 8,
                    np.sin(ang) * (head.c_sup - 4)], axis=1)
    sss[:, 1] = np.clip(sss[:, 1], -80, head.b - 6)
    venous_hu = blood + (contrast - blood) * venous * phys_rng.uniform(0.6, 0.95)
    r_sinus = phys_rng.uniform(2.5, 3.8)
    sinus_paths = [sss]
    for sx in (1.0, -1.0):
        sinus_paths.append(np.array([sss[-1], [sx * 30, head.b - 14, sss[-1][2] - 4],
                                     [sx * 48, head.b * 0.55, -38], [sx * 40, 25, -58],
                                     [sx * 28, 18, -75]]))
    for path in sinus_paths:
        for p, q in zip(path[:-1], path[1:], strict=True):
            _paint(frac, val, to_scanner(p), to_scanner(q), r_sinus, venous_hu, spacing, centre)
    val -= vol  # in place: vol + frac * (val - vol), no full-size temporaries
    val *= frac
    vol += val
    del frac, val

    plaque: list[list[float]] = []
    if phys_rng.uniform() < 0.6:
        siphon = [i for s in ("left", "right") for i in anat.segments[f"ICA_{s}"]
                  if -50 < tree.pos[i][2] < -36]
        for _ in range(int(phys_rng.integers(1, 5))):
            i = siphon[int(phys_rng.integers(0, len(siphon)))]
            offset = phys_rng.normal(size=3)
            offset *= tree.radius[i] * 0.9 / np.linalg.norm(offset)
            hu_p, r_p = phys_rng.uniform(600, 1200), phys_rng.uniform(0.5, 1.2)
            _speck(vol, to_scanner(tree.pos[i] + offset), r_p, hu_p, spacing, centre)
            plaque.append([round(float(v), 1) for v in (*tree.pos[i] + offset, hu_p)])

    blur_px = phys_rng.uniform(0.5, 0.9) * (matrix / 512) ** 0.5
    kernel = "Hv40" if blur_px > 0.65 else "Hv44"
    ndimage.gaussian_filter(vol, sigma=(0.42, blur_px, blur_px), output=vol)

    # beam hardening: dark bands between dense skull-base blobs, per axial slice
    blobs = [to_scanner(np.array(c)) for c, _, _ in BONE_BLOBS]
    bh_amp = phys_rng.uniform(25, 70)
    bh_width = phys_rng.uniform(3.0, 6.0)
    pairs = [(0, 1), (0, 2), (1, 2)]
    metal = None
    if phys_rng.uniform() < 0.4:
        metal = Metal(x=phys_rng.uniform(-20, 20), y=-phys_rng.uniform(45, 60),
                      z=(0 - centre[2]) * dz + 4.0, angles=phys_rng.uniform(0, np.pi, size=7),
                      amps=phys_rng.choice([-1.0, 1.0], size=7) * phys_rng.uniform(300, 900, 7))
    noise_sigma = phys_rng.uniform(6, 14)
    cutoff = phys_rng.uniform(0.6, 1.0)
    xg, yg = np.meshgrid(xv, yv)
    for z0 in range(0, nz, SLAB):
        zs = (zi[z0:z0 + SLAB] - centre[2]) * dz
        slab = vol[z0:z0 + SLAB]
        for k, zval in enumerate(zs):
            for a_i, b_i in pairs:
                _beam_hardening(slab[k], xg, yg, float(zval), blobs[a_i], blobs[b_i], bh_amp,
                                bh_width)
            if metal is not None:
                metal.streak(slab[k], xg, yg, float(zval))
        slab += _ramp_noise(phys_rng, slab.shape, noise_sigma, cutoff)
        np.clip(slab, -1024, 3071, out=slab)

    def voxel(p: np.ndarray) -> list[int]:
        q = to_scanner(p) / spacing[::-1] + centre
        return [int(round(q[2])), int(round(q[1])), int(round(q[0]))]

    def in_volume(ids: list[int]) -> list[list[int]]:
        """Voxel indices (z, y, x) of the nodes ``ids`` that lie inside the volume."""
        vox = [voxel(tree.pos[i]) for i in ids]
        return [v for v in vox if all(0 <= v[k] < shape[k] for k in range(3))]

    details: dict[str, Any] = {
        "generator": "space-colonisation arterial tree in a superellipsoid head",
        "variants": anat.variants,
        "pose_deg": {"pitch": round(float(pitch), 2), "yaw": round(float(yaw), 2),
                     "roll": round(float(roll), 2)},
        "offcentre_mm": [round(float(v), 1) for v in shift],
        "fov_mm": round(float(fov), 1), "coverage_mm": round(float(nz * dz), 1),
        "head": {"semi_axes_mm": [round(head.a, 1), round(head.b, 1), round(head.c_sup, 1),
                                  round(head.c_inf, 1)],
                 "exponents": [round(head.p, 2), round(head.q, 2)],
                 "skull_mm": round(2 * head.table_mm + head.diploe_mm, 2)},
        "tree_nodes": len(tree.pos),
        "segment_nodes": {name: tree.name.count(name) for name in sorted(set(tree.name))},
        "murray_terminal_radius_mm": anat.terminal_radius_mm,
        "grown_nodes": {k: len(v) for k, v in anat.segments.items()
                        if k.split("_")[0] in ("MCA", "ACA", "PCA", "SCA")},
        "contrast_hu": round(float(contrast), 1), "venous_phase": round(float(venous), 3),
        "beam_hardening_hu": round(float(bh_amp), 1),
        "noise_sigma_hu": round(float(noise_sigma), 2),
        "noise": "ramp x Hann filtered", "kernel": kernel, "blur_px": round(float(blur_px), 3),
        "plaque_mm_hu": plaque,
        "metal_artefact_mm": None if metal is None else [round(metal.x, 1), round(metal.y, 1),
                                                          round(metal.z, 1)],
        "head_centre_voxel": voxel(np.zeros(3)),
        "label_effect": occl,
        "truth_voxels": in_volume(_clear_of_bone(head, tree, marked)),
        "contralateral_voxels": in_volume(_clear_of_bone(head, tree, partner)),
    }
    return CtaCase(family=FAMILY, seed=seed, label=label, volume_hu=vol,
                   spacing_mm=(float(dz), float(px), float(px)), details=details)
