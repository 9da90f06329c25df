"""NCCT family ``landmarks``: anatomy interpolated through 3-D anatomical landmarks.

Every structure is an implicit surface built from a table of landmark points written below in
Talairach/MNI-like coordinates (mm, RAS as the atlases print them, ``|x|`` for paired
structures; converted to patient LPS on use):

* large closed surfaces (the cranial cavity = inner table, the skin of the head, the deep nuclei)
  are biharmonic radial-basis-function implicits (phi(r) = r plus a linear polynomial, Turk and
  O'Brien style) fitted to on-surface landmarks, off-surface points pushed outward along the
  landmark's radial direction and interior points with their distance to the surface;
* tubular structures (ventricles, brainstem, caudate, vessels, sinuses, petrous ridges) are
  sphere-swept centrelines through landmarks with radii given at the landmarks;
* sheets (tentorium, Sylvian fissure) are thin-plate-spline height functions through landmarks,
  sulci are landmark curves on the brain surface swept inward into thin CSF clefts (distance
  transform of the rasterised sheets); the cortex is the 2-4 mm shell of the (cleft-carved) brain.

Per seed the landmarks are deformed before fitting: global anisotropic scale, a smooth random
displacement field, left/right asymmetry, age-related atrophy (brain pulled away from the inner
table, wider sulci, larger ventricles) and mass effect of large haematomas (deep landmarks pushed
across the midline, ipsilateral ventricle compressed).

The CT physics is in the image domain: a 1 mm (sub-slice) sampling of the posed anatomy
integrated with a Gaussian or triangular slice-sensitivity profile, a Gaussian-plus-Lorentzian
in-plane MTF (with slight overshoot for sharp kernels), beam hardening (cupping plus streaks
between dense bones from line integrals of the bone map along a few hundred directions), and
noise with a ramp-times-window noise-power spectrum whose local SD follows the ray attenuation.

Anatomical sources for the coordinates (approximate, from the published descriptions rather than
from any image): Talairach and Tournoux, Co-planar stereotaxic atlas of the human brain (1988);
Mai, Paxinos and Voss, Atlas of the human brain (2008); Duvernoy, The human brain (1999);
Rhoton, The supratentorial cranial space / The posterior cranial fossa, Neurosurgery 2000-2002;
Barber et al., ASPECTS, Lancet 2000 (territory definitions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial.distance import cdist

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
)

FAMILY = "landmarks"

Arr = NDArray[Any]

TISSUES = (
    "air", "skin", "fat", "muscle", "cortical_bone", "diploe", "sinus_air", "teeth", "metal",
    "orbit_fat", "globe", "dura", "venous_sinus", "artery",
    "sulcal_csf", "cisternal_csf", "ventricular_csf", "choroid_plexus",
    "grey_matter", "white_matter", "caudate", "putamen", "globus_pallidus", "thalamus",
    "internal_capsule", "external_capsule", "claustrum", "insular_cortex",
    "brainstem", "cerebellar_cortex", "cerebellar_white", "oedema", "calcification",
    "subdural_space", "epidural_space",
)
"""Names of the tissue-map values (index into this tuple)."""

T = {name: i for i, name in enumerate(TISSUES)}
PARENCHYMA = tuple(T[n] for n in (
    "grey_matter", "white_matter", "caudate", "putamen", "globus_pallidus", "thalamus",
    "internal_capsule", "external_capsule", "claustrum", "insular_cortex", "brainstem",
    "cerebellar_cortex", "cerebellar_white", "oedema"))
SUPRA_PARENCHYMA = PARENCHYMA[:10]

# ---------------------------------------------------------------------------------------------
# Landmark tables (MNI/Talairach-like RAS mm; rows with x > 0 are paired and mirrored)
# ---------------------------------------------------------------------------------------------

# Inner table of the skull = surface of the cranial cavity. Vault after the convexity outline of
# the Talairach atlas (frontal pole y +70, occipital pole y -104, vertex z +78, widest at the
# supramarginal level x 68); base after Rhoton: orbital roofs z -12..-16, cribriform plate
# z -22, planum/sella, middle fossa floor z -42, petrous ridges z -28..-32 rising laterally,
# clivus down to the basion, posterior fossa floor z -60, opisthion.
CAVITY = (
    (0, 70, 18), (0, 62, 48), (0, 35, 72), (0, 0, 80), (0, -35, 80), (0, -65, 68),
    (0, -90, 45), (0, -104, 15), (0, -100, -8), (0, -88, -35), (0, -70, -56),
    (0, -42, -60), (0, -28, -46), (0, -16, -30), (0, -4, -22), (0, 14, -16), (0, 35, -22),
    (0, 56, -10),
    (18, 52, -14), (32, 40, -11), (22, 26, -15), (25, 68, 16), (46, 54, 22), (30, 60, 48),
    (50, 35, 50), (30, 20, 72), (35, -25, 74), (30, -60, 66), (56, -25, 58), (55, 10, 52),
    (52, -58, 52), (69, -20, 20), (66, 8, 14), (60, 30, 6), (65, -55, 20), (63, -38, -8),
    (40, 22, -34), (46, 0, -43), (56, -16, -38), (30, 6, -36), (62, -18, -18), (24, -18, -31),
    (42, -26, -29), (56, -34, -30), (45, -60, -46), (30, -80, -48), (18, -62, -60),
    (52, -76, -26), (42, -92, -14), (26, -100, 2), (36, -98, 22), (25, -100, 40),
    (50, -85, 36), (48, -40, 66), (14, 70, -2), (35, 64, 0),
)
CAVITY_CENTRE = (0.0, -15.0, 10.0)

# Skull thickness (mm) at landmarks of the vault and base (Lynnerup 2005 vault thickness: frontal
# 6-7, parietal 5-6, temporal squama 3-4, occipital 7-9, external occipital protuberance 12+;
# base: orbital roof thin, sphenoid body/clivus and petrous pyramid solid).
THICKNESS = (
    (0, 70, 18, 14.0), (0, 62, 48, 7.0), (0, 0, 80, 6.5), (0, -65, 68, 6.5),
    (0, -104, 15, 11.0), (0, -100, -8, 14.0), (0, -88, -35, 6.0), (0, -70, -56, 8.0),
    (0, -28, -46, 14.0), (0, -4, -22, 20.0), (0, 14, -16, 8.0), (0, 35, -22, 10.0),
    (25, 68, 16, 9.0), (50, 35, 50, 6.5), (56, -25, 58, 5.5), (52, -58, 52, 6.5),
    (69, -20, 20, 3.5), (66, 8, 14, 3.5), (65, -55, 20, 4.5), (62, -18, -18, 5.0),
    (46, 0, -43, 6.0), (56, -16, -38, 9.0), (30, 6, -36, 9.0), (24, -18, -31, 22.0),
    (42, -26, -29, 25.0), (56, -34, -30, 26.0), (45, -60, -46, 16.0), (30, -80, -48, 6.0),
    (42, -92, -14, 8.0), (32, 40, -11, 3.0), (18, 52, -14, 3.0), (36, -98, 22, 8.0),
)

# Skin surface of the head, vault about 11-13 mm outside the inner table, plus the face down to
# the level of the maxilla (nasion, nose, cheeks, occipital and neck muscles).
HEAD = (
    (0, 84, 20), (0, 75, 58), (0, 42, 85), (0, 0, 93), (0, -40, 93), (0, -75, 78),
    (0, -104, 50), (0, -118, 15), (0, -112, -12), (0, -100, -45), (0, -85, -80),
    (0, 90, -5), (0, 106, -38), (0, 96, -52), (0, 90, -80),
    (30, 82, 20), (52, 64, 26), (36, 72, 56), (58, 40, 60), (36, 20, 84), (42, -25, 87),
    (36, -65, 78), (64, -25, 68), (64, 10, 62), (62, -64, 60), (80, -20, 20), (77, 10, 14),
    (72, 32, 2), (77, -55, 22), (76, -30, -20), (70, 12, -38), (56, 62, -30), (42, 78, -55),
    (30, 86, -20), (66, 30, -70), (72, -40, -62), (52, -88, -48), (60, -10, -82),
    (45, -100, 30), (30, -110, 5), (46, -100, -12), (60, -85, 40), (15, 104, -40),
)

# Tentorium cerebelli as a height field z(x, y): apex at the straight sinus / vein of Galen,
# sloping to the transverse sinuses and the petrous ridges; free edge around the incisura.
TENTORIUM = (
    (0, -48, 2), (0, -75, -1), (0, -100, -3), (22, -60, -8), (45, -76, -18), (55, -88, -20),
    (30, -96, -10), (26, -24, -28), (45, -32, -28), (58, -42, -28), (15, -22, -12),
    (12, -36, -6), (35, -48, -18), (60, -65, -24),
)

# Corpus callosum: top of the arch (genu, body, splenium) in the midsagittal plane.
CALLOSUM_TOP = ((0, 38, 12), (0, 32, 19), (0, 15, 26), (0, -10, 29), (0, -30, 26),
                (0, -40, 20), (0, -44, 10))

# Lateral ventricle centreline (|x|, y, z, radius): frontal horn, foramen of Monro, body,
# atrium (trigone), occipital horn; temporal horn branching from the atrium.
VENTRICLE = ((7, 30, 12, 3.0), (8, 20, 15, 6.0), (10, 6, 17, 6.0), (13, -10, 21, 5.5),
             (18, -26, 21, 5.5), (26, -38, 14, 7.0), (22, -55, 7, 4.5), (17, -68, 4, 2.2))
TEMPORAL_HORN = ((26, -38, 14, 5.0), (32, -30, 0, 3.5), (34, -18, -12, 3.0), (30, -6, -20, 1.6))
VENTRICLE_XSCALE = 1.7  # frontal horns and bodies are narrower than tall
THIRD_VENTRICLE = ((0, 6, 6, 6.5), (0, -6, 4, 7.5), (0, -20, 8, 5.5))
AQUEDUCT = ((0, -27, -4, 1.3), (0, -34, -15, 1.3), (0, -40, -22, 1.6))
FOURTH_VENTRICLE = ((0, -40, -22, 2.5), (0, -46, -30, 6.0), (0, -46, -38, 4.0),
                    (0, -44, -45, 1.8))
SEPTUM = (0, 8, 17)  # septum pellucidum at the foramen of Monro: where midline shift is read

# Caudate: head bulging into the frontal horn, tapering body along the ventricle.
CAUDATE = ((13, 20, 7, 6.0), (14, 10, 12, 6.0), (16, -2, 19, 4.0), (19, -16, 23, 2.8),
           (22, -28, 22, 2.0))
# Putamen, globus pallidus, thalamus: pole landmarks (anterior, posterior, superior, inferior,
# medial, lateral and intermediate) after Mai et al.; centre given last.
PUTAMEN = ((24, 21, 3), (29, -17, 4), (27, 3, 16), (24, 3, -8), (19, 5, 2), (32, 1, 3),
           (30, 13, 9), (31, -9, 10), (22, 11, -4), (26, -9, -4), (21, 16, 10), (25, -14, -1))
PUTAMEN_C = (26, 2, 3)
PALLIDUM = ((18, 7, -1), (20, -12, 0), (19, -3, 7), (18, -3, -6), (13, -4, -2), (23, -2, 1),
            (21, 3, 4), (16, -9, 3))
PALLIDUM_C = (18, -3, 0)
THALAMUS = ((7, -3, 8), (14, -33, 6), (11, -16, 19), (10, -15, -3), (3, -16, 6), (20, -21, 8),
            (18, -28, 3), (16, -9, 14), (5, -26, 12), (8, -8, 0))
THALAMUS_C = (11, -17, 7)
# Insular surface limits (circular sulcus) as an ellipse in (y, z), and the Sylvian fissure
# trace on the lateral surface (stem at the temporal pole, posterior ascending ramus).
INSULA_CENTRE_YZ = (-2.0, 6.0)
INSULA_RADII_YZ = (27.0, 15.0)
SYLVIAN = ((38, 24, -22), (50, 12, -8), (57, -8, 0), (58, -28, 10), (56, -42, 24))

# Brainstem centreline (midbrain, pons with its anterior bulge, medulla, cord), cerebral
# peduncles broader than deep (x scale).
BRAINSTEM = ((0, -24, -3, 10.0), (0, -25, -12, 12.0), (0, -26, -24, 13.5), (0, -30, -40, 10.0),
             (0, -36, -54, 8.0), (0, -42, -82, 6.5))
# Basal cisterns as landmark ellipsoids (centre, radii).
CISTERNS = (((0, 6, -13), (15, 10, 6)),   # suprasellar
            ((0, -42, -2), (9, 7, 6)),    # quadrigeminal
            ((0, -64, -56), (16, 14, 10)))  # cisterna magna

# Named sulci: landmark curves on the lateral convexity (swept toward the hemisphere centre) and
# on the medial surface (swept laterally).
SULCI_LATERAL = (
    ((20, -30, 75), (35, -22, 66), (50, -15, 50), (58, -8, 34)),      # central
    ((20, -12, 73), (38, -5, 63), (52, 2, 46), (58, 8, 30)),          # precentral
    ((20, -44, 72), (38, -36, 63), (52, -31, 48), (60, -26, 32)),     # postcentral
    ((18, 52, 48), (22, 32, 62), (24, 12, 68)),                       # superior frontal
    ((46, 48, 14), (52, 32, 26), (52, 16, 34)),                       # inferior frontal
    ((32, -42, 58), (36, -56, 50), (32, -72, 40), (28, -84, 28)),     # intraparietal
    ((55, 14, -18), (63, -10, -6), (63, -30, 4), (58, -48, 16)),      # superior temporal
    ((52, 2, -36), (60, -24, -26), (58, -50, -16)),                   # inferior temporal
    ((42, -86, 10), (46, -76, -6)),                                   # lateral occipital
    ((28, 56, -8), (16, 46, -14)),                                    # orbital
    ((40, 55, 32), (46, 40, 42)),                                     # middle frontal
)
SULCI_MEDIAL = (
    ((3, -60, 42), (3, -70, 26), (3, -78, 10)),                       # parieto-occipital
    ((3, -66, 4), (3, -84, 5), (3, -100, 6)),                         # calcarine
    ((3, 36, 22), (3, 14, 38), (3, -18, 44), (3, -40, 50)),           # cingulate
)

# Vessels (centreline, radius). Circle of Willis and MCA after Rhoton (2002).
ARTERIES = (
    (((14, 1, -26), (14, 2, -13)), 2.0),                                  # supraclinoid ICA
    (((14, 2, -13), (25, 4, -10), (35, 2, -6)), 1.6),                     # MCA M1
    (((35, 2, -6), (39, -8, 6), (41, -24, 15)), 1.1),                     # MCA M2 inferior
    (((35, 2, -6), (39, 8, 8), (41, 16, 16)), 1.0),                       # MCA M2 superior
    (((14, 2, -13), (4, 12, -9)), 1.2),                                   # ACA A1
    (((2, 12, -9), (2, 30, 0), (2, 38, 15), (2, 28, 32)), 1.0),           # A2 / pericallosal
    (((14, 0, -13), (8, -12, -14)), 0.7),                                 # PCom
    (((0, -10, -17), (8, -12, -15), (18, -26, -10), (22, -46, -4)), 1.1),  # PCA
    (((8, -30, -62), (0, -17, -46)), 1.6),                                # vertebral
)
BASILAR = (((0, -17, -46), (0, -13, -31), (0, -10, -17)), 1.7)
SINUSES = (
    (((0, -48, 2), (0, -75, -1), (0, -98, -2)), 2.6),                     # straight sinus
    (((0, -98, -2), (25, -96, -9), (45, -84, -19), (50, -66, -32), (42, -50, -48)), 3.6),
)
SSS_DEPTH = 4.5  # superior sagittal sinus radius, lying on the midline inner table
# Petrous pyramid (dense otic capsule) along the ridge; mastoid, sphenoid, frontal, maxillary
# air; orbits and globes; upper dentition arc.
PETROUS = ((18, -16, -38, 6.0), (34, -24, -37, 8.5), (50, -34, -39, 9.0))
MASTOID = ((52, -46, -44), (10, 13, 13))
SPHENOID_SINUS = ((0, 6, -36), (15, 11, 10))
FRONTAL_SINUS = ((10, 76, 14), (9, 5, 11))
MAXILLARY_SINUS = ((30, 58, -62), (13, 17, 16))
NASAL = ((0, 72, -52), (11, 26, 22))
ORBIT = ((32, 50, -32), (17, 26, 16))
GLOBE = ((32, 60, -32), 12.0)
TEETH = ((0, 80, -70), (26, 22, 6))

# ASPECTS geometry: sector origin in the axial plane and sector boundaries (degrees from the
# lateral direction, positive anterior).
SECTOR_ORIGIN = (20.0, -6.0)
GANGLIONIC_SECTORS = (("M1", 20.0, 68.0), ("M2", -28.0, 20.0), ("M3", -72.0, -28.0))
SUPRA_SECTORS = (("M4", 20.0, 68.0), ("M5", -28.0, 20.0), ("M6", -72.0, -28.0))


def _lps(row: Sequence[float], side: int) -> tuple[float, float, float]:
    """RAS landmark (|x| for paired) to LPS on ``side`` (+1 patient left, -1 right, 0 midline)."""
    x, y, z = float(row[0]), float(row[1]), float(row[2])
    return (abs(x) * side if side else x, -y, z)


def _sym(rows: Sequence[Sequence[float]]) -> Arr:
    """All LPS points of a landmark table: midline rows once, paired rows on both sides."""
    out: list[tuple[float, float, float]] = []
    for r in rows:
        if abs(float(r[0])) < 1e-6:
            out.append(_lps(r, 0))
        else:
            out.append(_lps(r, 1))
            out.append(_lps(r, -1))
    return np.asarray(out, dtype=np.float64)


def _side_pts(rows: Sequence[Sequence[float]], side: int) -> Arr:
    return np.asarray([_lps(r, side) for r in rows], dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Random streams, deformation
# ---------------------------------------------------------------------------------------------

STREAMS = {"anatomy": 1, "physics": 2, "bleed": 3, "mimic": 4, "ischaemia": 5, "noise": 6,
           "texture": 7}


def _rng(seed: int, stream: str, *extra: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, STREAMS[stream], *extra])


class _Deformation:
    """Smooth random per-seed deformation of landmark coordinates (LPS mm)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.scale = rng.uniform([0.93, 0.93, 0.94], [1.06, 1.07, 1.05])
        self.asym = rng.uniform(-0.025, 0.025)  # patient left bigger (+) or smaller (-)
        self.k = rng.normal(size=(4, 3)) * (2 * math.pi / 160.0)
        self.phase = rng.uniform(0, 2 * math.pi, size=4)
        self.amp = rng.normal(size=(4, 3)) * 1.6
        self.centre = np.array([0.0, 15.0, 10.0])

    def __call__(self, p: Arr) -> Arr:
        q = np.asarray(p, dtype=np.float64).reshape(-1, 3) - self.centre
        q = q * self.scale
        q[:, 0] *= 1.0 + self.asym * np.tanh(q[:, 0] / 20.0)
        for j in range(4):
            q = q + np.sin(q @ self.k[j] + self.phase[j])[:, None] * self.amp[j]
        return np.asarray(q + self.centre).reshape(np.shape(p))


# ---------------------------------------------------------------------------------------------
# Implicit surface machinery
# ---------------------------------------------------------------------------------------------

class _Rbf:
    """Biharmonic RBF implicit f(p) (phi = r, linear polynomial), negative inside."""

    def __init__(self, surface: Arr, centre: Arr, offset: float = 6.0,
                 interior: Arr | None = None, smooth: float = 0.05) -> None:
        surface = np.asarray(surface, float)
        n = surface - centre
        n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-9
        outer = surface + offset * n
        inner_list = [surface - 0.5 * offset * n]
        if interior is not None:
            inner_list.append(np.asarray(interior, float).reshape(-1, 3))
        inner = np.concatenate(inner_list)
        inner_val = -cdist(inner, surface).min(axis=1)
        pts = np.concatenate([surface, outer, inner])
        val = np.concatenate([np.zeros(len(surface)), np.full(len(outer), offset), inner_val])
        m = len(pts)
        a = cdist(pts, pts) + smooth * np.eye(m)
        q = np.hstack([np.ones((m, 1)), pts])
        lhs = np.block([[a, q], [q.T, np.zeros((4, 4))]])
        sol = np.linalg.solve(lhs, np.concatenate([val, np.zeros(4)]))
        self.pts, self.w, self.c = pts, sol[:m], sol[m:]

    def __call__(self, p: Arr) -> Arr:
        p = np.asarray(p, float).reshape(-1, 3)
        out = np.empty(len(p))
        for i in range(0, len(p), 60000):
            blk = p[i:i + 60000]
            out[i:i + 60000] = cdist(blk, self.pts) @ self.w + self.c[0] + blk @ self.c[1:]
        return out


class _Tps2:
    """2-D thin-plate spline h(u, v) through landmark values."""

    def __init__(self, uv: Arr, h: Arr, smooth: float = 1.0) -> None:
        uv = np.asarray(uv, float)
        r = cdist(uv, uv)
        a = np.where(r > 0, r * r * np.log(r + 1e-12), 0.0) + smooth * np.eye(len(uv))
        q = np.hstack([np.ones((len(uv), 1)), uv])
        lhs = np.block([[a, q], [q.T, np.zeros((3, 3))]])
        sol = np.linalg.solve(lhs, np.concatenate([np.asarray(h, float), np.zeros(3)]))
        self.uv, self.w, self.c = uv, sol[:len(uv)], sol[len(uv):]

    def __call__(self, u: Arr, v: Arr) -> Arr:
        u, v = np.broadcast_arrays(u, v)
        pts = np.stack([np.ravel(u), np.ravel(v)], axis=1)
        r = cdist(pts, self.uv)
        k = np.where(r > 0, r * r * np.log(r + 1e-12), 0.0)
        out = k @ self.w + self.c[0] + pts @ self.c[1:]
        return np.asarray(out).reshape(u.shape)


class _Grid:
    """Head-frame anatomy grid (LPS mm, isotropic spacing h), arrays (z, y, x)."""

    def __init__(self, h: float) -> None:
        self.h = h
        self.lo = np.array([-88.0, -112.0, -84.0])  # x, y, z
        hi = np.array([88.0, 124.0, 96.0])
        self.n = tuple(int(math.ceil((hi[i] - self.lo[i]) / h)) + 1 for i in range(3))
        self.x = (self.lo[0] + h * np.arange(self.n[0])).astype(np.float32)
        self.y = (self.lo[1] + h * np.arange(self.n[1])).astype(np.float32)
        self.z = (self.lo[2] + h * np.arange(self.n[2])).astype(np.float32)
        self.shape = (self.n[2], self.n[1], self.n[0])

    def box(self, lo: Sequence[float], hi: Sequence[float]) -> tuple[slice, slice, slice]:
        i0 = [max(0, int(math.floor((lo[i] - self.lo[i]) / self.h))) for i in range(3)]
        i1 = [min(self.n[i], int(math.ceil((hi[i] - self.lo[i]) / self.h)) + 1) for i in range(3)]
        return (slice(i0[2], i1[2]), slice(i0[1], i1[1]), slice(i0[0], i1[0]))

    def coords(self, sl: tuple[slice, slice, slice]) -> tuple[Arr, Arr, Arr]:
        """Broadcastable (z, y, x) coordinate views of a box."""
        return (self.z[sl[0]][:, None, None], self.y[sl[1]][None, :, None],
                self.x[sl[2]][None, None, :])

    def points(self, sl: tuple[slice, slice, slice]) -> Arr:
        z, y, x = np.meshgrid(self.z[sl[0]], self.y[sl[1]], self.x[sl[2]], indexing="ij")
        return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)


def _upsample(c: Arr, shape: tuple[int, ...], k: int) -> Arr:
    """Separable linear interpolation of a coarse lattice (every k-th fine node) to ``shape``."""
    out = c.astype(np.float32)
    for axis in range(3):
        pos = np.arange(shape[axis], dtype=np.float64) / k
        i0 = np.clip(np.floor(pos).astype(int), 0, out.shape[axis] - 2)
        w = np.clip(pos - i0, 0.0, 1.0).astype(np.float32)
        sh = [1, 1, 1]
        sh[axis] = -1
        a0 = np.take(out, i0, axis=axis)
        a1 = np.take(out, i0 + 1, axis=axis)
        out = a0 + (a1 - a0) * w.reshape(sh)
    return out


def _coarse_field(func: Callable[[Arr], Arr], grid: _Grid, sl: tuple[slice, slice, slice],
                  coarse_mm: float, normalise: bool = True) -> Arr:
    """Evaluate ``func`` (points (N, 3) LPS) on a coarse lattice over the box ``sl`` and
    interpolate to the fine grid; optionally divide by |grad| to approximate a distance."""
    k = max(1, int(round(coarse_mm / grid.h)))
    shape = tuple(s.stop - s.start for s in sl)
    nc = [(n - 1) // k + 2 for n in shape]
    zc = grid.lo[2] + grid.h * (sl[0].start + k * np.arange(nc[0]))
    yc = grid.lo[1] + grid.h * (sl[1].start + k * np.arange(nc[1]))
    xc = grid.lo[0] + grid.h * (sl[2].start + k * np.arange(nc[2]))
    zz, yy, xx = np.meshgrid(zc, yc, xc, indexing="ij")
    f = func(np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1)).reshape(zz.shape)
    if normalise:
        g = np.gradient(f, k * grid.h)
        f = f / np.maximum(np.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2), 0.35)
    return _upsample(f, shape, k)


def _tube_sdf(points: Arr, nodes: Arr, radii: Arr, scale: Sequence[float] = (1, 1, 1)) -> Arr:
    """Signed distance to a sphere-swept polyline with radii interpolated along it; ``scale``
    multiplies the coordinates first (anisotropic cross-sections)."""
    s = np.asarray(scale, np.float32)
    p = np.asarray(points, np.float32) * s
    nd = (np.asarray(nodes, float) * s).astype(np.float32)
    best = np.full(len(p), np.inf, np.float32)
    for i in range(len(nd) - 1):
        a, b = nd[i], nd[i + 1]
        ab = b - a
        pa = p - a
        t = np.clip((pa @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        q = pa - t[:, None] * ab
        d = np.sqrt(np.einsum("ij,ij->i", q, q)) - (radii[i] + t * (radii[i + 1] - radii[i]))
        np.minimum(best, d, out=best)
    return best


def _tube_in(grid: _Grid, outer: tuple[slice, slice, slice], nodes: Arr, radii: Arr,
             scale: Sequence[float] = (1, 1, 1)) -> Arr:
    """Boolean mask (shape of the ``outer`` box) of the inside of a swept tube."""
    shape = tuple(s.stop - s.start for s in outer)
    out = np.zeros(shape, bool)
    sl, d = _tube_on_grid(grid, nodes, radii, scale, margin=1.0)
    a = [max(sl[i].start, outer[i].start) for i in range(3)]
    b = [min(sl[i].stop, outer[i].stop) for i in range(3)]
    if any(b[i] <= a[i] for i in range(3)):
        return out
    src = tuple(slice(a[i] - sl[i].start, b[i] - sl[i].start) for i in range(3))
    dst = tuple(slice(a[i] - outer[i].start, b[i] - outer[i].start) for i in range(3))
    out[dst] = d[src] < 0
    return out


def _tube_on_grid(grid: _Grid, nodes: Arr, radii: Arr, scale: Sequence[float] = (1, 1, 1),
                  margin: float = 3.0) -> tuple[tuple[slice, slice, slice], Arr]:
    r = float(np.max(radii)) / min(scale) + margin
    sl = grid.box(nodes.min(axis=0) - r, nodes.max(axis=0) + r)
    shape = tuple(s.stop - s.start for s in sl)
    d = _tube_sdf(grid.points(sl), nodes, np.asarray(radii, float), scale)
    return sl, d.reshape(shape).astype(np.float32)


def _ellipsoid(grid: _Grid, centre: Arr, radii: Sequence[float]
               ) -> tuple[tuple[slice, slice, slice], Arr]:
    """Normalised ellipsoid function (< 1 inside) over its box."""
    r = np.asarray(radii, float)
    sl = grid.box(centre - r - 2, centre + r + 2)
    z, y, x = grid.coords(sl)
    e = ((x - centre[0]) / r[0]) ** 2 + ((y - centre[1]) / r[1]) ** 2 + (
        (z - centre[2]) / r[2]) ** 2
    return sl, np.asarray(e, np.float32)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> Arr:
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return np.asarray(n / max(float(n.std()), 1e-6))


# ---------------------------------------------------------------------------------------------
# The anatomy (head frame)
# ---------------------------------------------------------------------------------------------

class _Anatomy:
    """Labelled head on the anatomy grid: tissue, HU, ASPECTS region and blood maps."""

    def __init__(self, seed: int, label: NcctLabel, grid: _Grid) -> None:
        self.seed, self.label, self.g = seed, label, grid
        rng = _rng(seed, "anatomy")
        self.deform = _Deformation(rng)
        self.age = float(rng.uniform(35, 90))
        self.atrophy = float(np.clip((self.age - 45) / 45, 0, 1) * rng.uniform(0.4, 1.2))
        self.falx_tilt = rng.uniform(-0.02, 0.02, size=2)
        hu = self.hu_table = self._draw_hu(rng)
        self.cortex_mm = float(rng.uniform(2.3, 3.6))
        self.gap_mm = 1.2 + 3.0 * self.atrophy + float(rng.uniform(0, 0.8))
        self.sulcus_mm = 1.0 + 2.2 * self.atrophy + float(rng.uniform(0, 0.5))
        self.sylvian_mm = 2.0 + 3.5 * self.atrophy + float(rng.uniform(0, 1.0))
        self.ventricle_scale = 1.0 + 0.55 * self.atrophy + float(rng.uniform(-0.08, 0.1))
        self.details: dict[str, Any] = {"age_years": round(self.age, 1),
                                        "atrophy": round(self.atrophy, 3)}
        self.rng = rng
        self._zones: list[tuple[str, tuple[tuple[slice, slice, slice], Arr]]] | None = None
        self.deep_masks: dict[int, dict[str, Any]] = {}
        self.bleed_rng = _rng(seed, "bleed")
        self.plans = self._plan_bleeds()
        self.tissue = np.zeros(grid.shape, np.uint8)
        self.aspects = np.zeros(grid.shape, np.uint8)
        self.blood = np.zeros(grid.shape, np.uint8)
        self._build()
        lut = np.array([hu.get(n, 0.0) for n in TISSUES], np.float32)
        self.hu = lut[self.tissue]
        self._textures()
        self._draw_bleeds()
        self._mimics()
        self._ischaemia()

    # -- tissue values ---------------------------------------------------------------------
    @staticmethod
    def _draw_hu(rng: np.random.Generator) -> dict[str, float]:
        while True:
            white = float(rng.uniform(23, 31))
            gw = float(rng.uniform(6, 14))
            if 35.5 <= white + gw <= 44.5:
                break
        grey = white + gw
        cort = float(rng.uniform(1400, 1800))
        return {"air": -1000.0, "skin": 40.0, "fat": float(rng.uniform(-110, -85)),
                "muscle": float(rng.uniform(40, 55)), "cortical_bone": cort,
                "diploe": float(rng.uniform(700, 950)), "sinus_air": -990.0, "teeth": 2200.0,
                "metal": 3000.0, "orbit_fat": -95.0, "globe": 10.0,
                "dura": float(rng.uniform(42, 55)), "venous_sinus": float(rng.uniform(42, 55)),
                "artery": float(rng.uniform(38, 48)), "sulcal_csf": float(rng.uniform(2, 8)),
                "grey_matter": grey, "white_matter": white,
                "caudate": grey - float(rng.uniform(0, 2)),
                "putamen": grey - float(rng.uniform(0.5, 2.5)),
                "globus_pallidus": grey - float(rng.uniform(2, 4.5)),
                "thalamus": grey - float(rng.uniform(1.5, 4)),
                "internal_capsule": white - float(rng.uniform(0, 1.5)),
                "external_capsule": white, "claustrum": grey - 2.0, "insular_cortex": grey,
                "brainstem": white + float(rng.uniform(1, 4)),
                "cerebellar_cortex": grey - float(rng.uniform(0, 2)),
                "cerebellar_white": white + float(rng.uniform(0, 2)),
                "oedema": white - float(rng.uniform(4, 6)), "calcification": 250.0,
                "choroid_plexus": float(rng.uniform(28, 38)), "subdural_space": 5.0,
                "epidural_space": 5.0} | {"cisternal_csf": 0.0, "ventricular_csf": 0.0}

    # -- bleed plans (before the anatomy: they move landmarks) ------------------------------
    def _plan_bleeds(self) -> list[dict[str, Any]]:
        rng = self.bleed_rng
        plans: list[dict[str, Any]] = []
        for kind in self.label.bleeds:
            if rng.random() < 0.5:
                vol = float(np.exp(rng.uniform(np.log(1.0), np.log(5.0))))
            else:
                vol = float(np.exp(rng.uniform(np.log(0.5), np.log(60.0))))
            side = 1 if rng.random() < 0.5 else -1
            plan: dict[str, Any] = {"kind": kind, "volume_ml": vol, "side": side}
            if kind == "intraparenchymal":
                plan["site"] = str(rng.choice(["putamen", "thalamus", "lobar", "lobar",
                                               "cerebellum"], p=[.35, .15, .2, .15, .15]))
            elif kind == "intraventricular":
                plan["pattern"] = "layering" if rng.random() < 0.7 else "casting"
            elif kind == "subarachnoid":
                plan["pattern"] = "basal" if rng.random() < 0.55 else "convexity"
            elif kind == "subdural":
                plan["site"] = str(rng.choice(["convexity", "falx", "tentorium"],
                                              p=[.7, .2, .1]))
            plans.append(plan)
        masses = [p for p in plans if p["kind"] in ("intraparenchymal", "subdural", "epidural")
                  and p.get("site") != "cerebellum"]
        net = sum(p["side"] * p["volume_ml"] for p in masses)  # opposite sides partly cancel
        mass = abs(net)
        self.shift_mm = float(np.clip(0.2 * (mass - 15.0), 0.0, 13.0))
        self.shift_side = 1 if net >= 0 else -1
        self.compress = float(np.clip(mass / 80.0, 0.0, 0.45))
        return plans

    # -- landmark helpers -------------------------------------------------------------------
    def P(self, rows: Sequence[Sequence[float]], side: int | None = None,
          deep: bool = False) -> Arr:
        """Deformed LPS landmarks; ``deep`` ones also take the midline shift."""
        pts = _sym(rows) if side is None else _side_pts(rows, side)
        pts = self.deform(pts)
        if deep and self.shift_mm > 0:
            pts = pts + self._shift(pts)
        return np.asarray(pts)

    def _shift(self, pts: Arr) -> Arr:
        sept = self.deform(np.array(_lps(SEPTUM, 0)))
        d2 = (pts[:, 1] - sept[1]) ** 2 + (pts[:, 2] - sept[2]) ** 2
        fall = np.exp(-d2 / (2 * 38.0 ** 2)) * np.exp(-np.maximum(np.abs(pts[:, 0]) - 10, 0)
                                                     / 45.0)
        out = np.zeros_like(pts)
        out[:, 0] = -self.shift_side * self.shift_mm * fall
        return out

    def _tube_rows(self, rows: Sequence[Sequence[float]], side: int, deep: bool = True,
                   rscale: float = 1.0) -> tuple[Arr, Arr]:
        nodes = self.P([r[:3] for r in rows], side, deep)
        radii = np.array([r[3] for r in rows], float) * rscale
        return nodes, radii

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        g, tis = self.g, self.tissue
        full = (slice(0, g.shape[0]), slice(0, g.shape[1]), slice(0, g.shape[2]))
        centre = self.deform(np.array(CAVITY_CENTRE) * [-1, -1, 1])
        cav_pts = self.deform(_sym(CAVITY))
        cav = _Rbf(cav_pts, centre, offset=8.0,
                   interior=np.array([centre, centre + [0, 0, 30], centre + [0, -40, -30]]))
        self.cav_rbf = cav
        head = _Rbf(self.deform(_sym(HEAD)), centre, offset=8.0)
        d_in = _coarse_field(cav, g, full, 4.0)
        # foramen magnum and spinal canal
        z, y, x = g.coords(full)
        fm = self.deform(np.array([0.0, 42.0, -58.0]))
        canal = np.sqrt((x - fm[0]) ** 2 + ((y - fm[1]) / 1.15) ** 2) - 15.0
        canal = np.where(z < fm[2] + 4, canal, 99.0).astype(np.float32)
        d_in = np.minimum(d_in, canal)
        self.d_in = d_in
        d_skin = _coarse_field(head, g, full, 4.0)
        d_skin = np.minimum(d_skin, d_in - 8.0)  # the scalp never thinner than 8 mm
        # skull thickness field (Shepard interpolation of thickness landmarks)
        tp = self.deform(_sym([r[:3] for r in THICKNESS]))
        tv = np.concatenate([[r[3]] if abs(r[0]) < 1e-6 else [r[3], r[3]] for r in THICKNESS])

        def thick(p: Arr) -> Arr:
            w = np.exp(-cdist(p, tp) ** 2 / (2 * 13.0 ** 2)) + 1e-12
            return np.asarray((w @ tv) / w.sum(axis=1))

        thickness = _coarse_field(thick, g, full, 8.0, normalise=False)
        headm = d_skin < 0
        tis[headm] = T["muscle"]
        tis[headm & (d_skin > -1.8)] = T["skin"]
        tis[headm & (d_skin <= -1.8) & (d_skin > -4.5) & (d_in > thickness + 1.2)] = T["fat"]
        bone = (d_in >= 0) & (d_in < thickness) & headm
        outer_t = np.minimum(1.8, thickness / 3)
        inner_t = np.minimum(1.4, thickness / 3)
        diploe = bone & (d_in > inner_t) & (d_in < thickness - outer_t)
        tis[bone] = T["cortical_bone"]
        tis[diploe] = T["diploe"]
        self._skull_base(headm, d_in, thickness)
        del thickness, diploe, outer_t, inner_t
        cavm = d_in < 0
        tis[cavm] = T["sulcal_csf"]
        self.cavm = cavm
        # tentorium and falx
        tent_pts = self.deform(_sym(TENTORIUM))
        tent = _Tps2(tent_pts[:, :2], tent_pts[:, 2], smooth=2.0)
        self.z_tent = tent(g.x[None, :], g.y[:, None]).astype(np.float32)  # (y, x)
        self.falx_x = (self.falx_tilt[0] * g.y[:, None] + self.falx_tilt[1] * g.z[None, :]
                       ).astype(np.float32)  # (z? no: y, z) -> used as [z, y]
        self.falx_x = self.falx_x.T[:, :, None]  # (z, y, 1)
        cc = self.P(CALLOSUM_TOP, None, deep=False)
        order = np.argsort(cc[:, 1])
        self.cc_y, self.cc_z = cc[order, 1], cc[order, 2]
        self._brain()
        self._deep()
        self._posterior_fossa()
        self._vessels()
        self._aspects()

    def _skull_base(self, headm: Arr, d_in: Arr, thickness: Arr) -> None:
        g, tis = self.g, self.tissue
        out = (d_in >= 0) & headm
        for (c, r), name in ((ORBIT, "orbit_fat"), (MAXILLARY_SINUS, "sinus_air")):
            for side in (1, -1):
                cc = self.deform(np.array(_lps(c, side)))
                sl, e = _ellipsoid(g, cc, r)
                m = (e < 1) & out[sl] & (d_in[sl] > 2.5)
                tis[sl][m] = T[name]
                if name == "orbit_fat":
                    shell = (e >= 1) & (e < 1.25) & out[sl] & (d_in[sl] > 1.0)
                    tis[sl][shell] = T["cortical_bone"]
        for side in (1, -1):
            gc = self.deform(np.array(_lps(GLOBE[0], side)))
            sl, e = _ellipsoid(g, gc, [GLOBE[1]] * 3)
            tis[sl][e < 1] = T["globe"]
        for (c, r), name in ((NASAL, "sinus_air"), (SPHENOID_SINUS, "sinus_air")):
            cc = self.deform(np.array(_lps(c, 0)))
            sl, e = _ellipsoid(g, cc, r)
            tis[sl][(e < 1) & out[sl] & (d_in[sl] > 2.0)] = T[name]
        for side in (1, -1):
            cc = self.deform(np.array(_lps(FRONTAL_SINUS[0], side)))
            sl, e = _ellipsoid(g, cc, FRONTAL_SINUS[1])
            m = (e < 1) & (d_in[sl] > 2.0) & (d_in[sl] < thickness[sl] - 2.0)
            tis[sl][m] = T["sinus_air"]
        # petrous pyramids (dense otic capsule) and mastoid air cells
        tex = _rng(self.seed, "texture", 1)
        for side in (1, -1):
            nodes, radii = self._tube_rows(PETROUS, side, deep=False)
            sl, d = _tube_on_grid(g, nodes, radii)
            tis[sl][(d < 0) & (d_in[sl] >= 0)] = T["cortical_bone"]
            cc = self.deform(np.array(_lps(MASTOID[0], side)))
            sl, e = _ellipsoid(g, cc, MASTOID[1])
            cells = _smooth_noise(tex, e.shape, 1.2 / g.h)
            m = (e < 1) & (d_in[sl] >= 0) & headm[sl]
            tis[sl][m] = T["cortical_bone"]
            tis[sl][m & (cells > 0.1)] = T["sinus_air"]
        # upper dentition
        tc = self.deform(np.array(_lps(TEETH[0], 0)))
        sl, e = _ellipsoid(g, tc, TEETH[1])
        z, y, x = g.coords(sl)
        arch = (e < 1) & (e > 0.55) & (y < tc[1] + 8) & headm[sl]
        tis[sl][arch] = T["teeth"]
        self.teeth_box = (sl, arch)

    def _brain(self) -> None:
        g, tis = self.g, self.tissue
        z, y, x = g.coords((slice(0, g.shape[0]), slice(0, g.shape[1]), slice(0, g.shape[2])))
        d_in = self.d_in
        # extra-axial collections are planned now: they push the brain surface inward
        self.extra = np.zeros(g.shape, np.float32)  # local collection thickness (mm) pushed
        self._plan_extra_axial()
        d_cb = d_in + self.gap_mm + self.extra
        above = (z - self.z_tent[None]) - 1.5
        d_cb = np.maximum(d_cb, -above)
        # interhemispheric fissure: above the corpus callosum, and in front of / behind it
        cc_top = np.interp(g.y, self.cc_y, self.cc_z, left=-200, right=-200).astype(np.float32)
        fissure_zone = (z > cc_top[None, :, None] + 1.0)
        half = 0.9 + 1.8 * self.atrophy
        dx = np.abs(x - self.falx_x)
        d_cb = np.where(fissure_zone, np.maximum(d_cb, half - dx), d_cb)
        # sulci: landmark curves swept inward, rasterised, distance transformed
        sheet = self._sulcal_sheets()
        sl = g.box((-80, -110, -60), (80, 85, 92))
        d_sul = np.full(g.shape, 99.0, np.float32)
        d_sul[sl] = ndimage.distance_transform_edt(~sheet[sl], sampling=g.h).astype(np.float32)
        del sheet
        # Sylvian fissure: plate z = syl(y) lateral to the insula (on each side)
        brain = d_cb < 0
        for _name, zone in self._cistern_zones():
            brain[zone[0]] &= ~zone[1]
        cist = self.cavm & ~brain
        self.d_cb = d_cb
        grey = brain & ((d_cb > -self.cortex_mm) | (d_sul < self.sulcus_mm / 2 + self.cortex_mm))
        csf_cleft = brain & (d_sul < self.sulcus_mm / 2)
        tis[brain] = T["white_matter"]
        tis[grey] = T["grey_matter"]
        tis[csf_cleft] = T["sulcal_csf"]
        del grey, csf_cleft, d_sul
        self.brain = brain
        # basal cisterns labelled
        for _name, zone in self._cistern_zones():
            s2, m = zone
            tis[s2][m & cist[s2] & (tis[s2] == T["sulcal_csf"])] = T["cisternal_csf"]
        # dura: falx and tentorium
        falx = (dx < 0.6 + 0.5 * g.h / 2) & fissure_zone & self.cavm & ~brain & (above > -1.5)
        tis[falx] = T["dura"]
        zt = z - self.z_tent[None]
        notch = (np.abs(x) < 14 + 0.25 * np.maximum(0, y - 20)) & (y < 50)
        tent_m = (np.abs(zt) < 0.6 + g.h / 4) & self.cavm & ~brain & ~notch
        tis[tent_m] = T["dura"]

    def _cistern_zones(self) -> list[tuple[str, tuple[tuple[slice, slice, slice], Arr]]]:
        if self._zones is not None:
            return self._zones
        out: list[tuple[str, tuple[tuple[slice, slice, slice], Arr]]] = []
        for c, r in CISTERNS:
            cc = self.P([c], 0, deep=True)[0]
            sl, e = _ellipsoid(self.g, cc, r)
            out.append(("cistern", (sl, e < 1)))
        nodes, radii = self._tube_rows(BRAINSTEM, 0, deep=False)
        sl, d = _tube_on_grid(self.g, nodes, radii + 4.0, scale=(0.85, 1, 1))
        z = self.g.coords(sl)[0]
        top = self.P([THALAMUS_C], 1, deep=False)[0, 2] - 10.0  # below the diencephalon
        out.append(("perimesencephalic", (sl, (d < 0) & (z < top))))
        self._zones = out
        return out

    def _surface_point(self, p: Arr, centre: Arr) -> Arr:
        """Project points onto the brain surface along rays from ``centre`` (bisection)."""
        direction = p - centre
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        lo = np.zeros(len(p))
        hi = np.full(len(p), 140.0)
        for _ in range(22):
            mid = (lo + hi) / 2
            f = self.cav_rbf(centre + mid[:, None] * direction) + self.gap_mm
            inside = f < 0
            lo = np.where(inside, mid, lo)
            hi = np.where(inside, hi, mid)
        return np.asarray(centre + lo[:, None] * direction)

    def _sulcal_sheets(self) -> Arr:
        g = self.g
        rng = self.rng
        sheet = np.zeros(g.shape, bool)
        pts_all: list[Arr] = []
        for side in (1, -1):
            hc = self.deform(np.array(_lps((28, -18, 16), side)))
            curves: list[Arr] = [self.P(c, side) for c in SULCI_LATERAL]
            # secondary sulci, random per seed
            for _ in range(34):
                u = rng.normal(size=3)
                u[0] = abs(u[0]) * side * 1.2
                u[2] = abs(u[2]) * 0.9 + 0.1
                u /= np.linalg.norm(u)
                t = np.cross(u, rng.normal(size=3))
                t /= np.linalg.norm(t)
                length = rng.uniform(14, 34)
                s = np.linspace(-length / 2, length / 2, 5)
                curves.append(hc + 80 * u + s[:, None] * t)
            dense_all: list[Arr] = []
            depths: list[float] = []
            for c in curves:
                c = np.asarray(c, float)
                seg = np.linalg.norm(np.diff(c, axis=0), axis=1)
                tt = np.concatenate([[0], np.cumsum(seg)])
                n = max(2, int(tt[-1] / (g.h * 0.7)))
                ts = np.linspace(0, tt[-1], n)
                dense_all.append(np.stack([np.interp(ts, tt, c[:, i]) for i in range(3)], 1))
                depths.append(float(rng.uniform(9, 17)))
            surf_all = self._surface_point(np.concatenate(dense_all), hc)
            start = 0
            for dense, depth in zip(dense_all, depths, strict=True):
                surf = surf_all[start:start + len(dense)]
                start += len(dense)
                inward = hc - surf
                inward /= np.linalg.norm(inward, axis=1, keepdims=True)
                steps = np.arange(-2.0, depth, g.h * 0.7)
                pts_all.append((surf[:, None, :] + steps[None, :, None] * inward[:, None, :]
                                ).reshape(-1, 3))
            for cmed in SULCI_MEDIAL:
                cm = self.P(cmed, side)
                seg = np.linalg.norm(np.diff(cm, axis=0), axis=1)
                tt = np.concatenate([[0], np.cumsum(seg)])
                ts = np.linspace(0, tt[-1], max(2, int(tt[-1] / (g.h * 0.7))))
                dense = np.stack([np.interp(ts, tt, cm[:, i]) for i in range(3)], axis=1)
                steps = np.arange(0.0, rng.uniform(9, 14), g.h * 0.7)
                lat = np.array([float(side), 0.0, 0.0])
                dense[:, 0] = 0.0
                pts_all.append((dense[:, None, :] + steps[None, :, None] * lat).reshape(-1, 3))
        p = np.concatenate(pts_all)
        idx = np.round((p - g.lo) / g.h).astype(int)
        ok = np.all((idx >= 0) & (idx < np.array(g.n)), axis=1)
        idx = idx[ok]
        sheet[idx[:, 2], idx[:, 1], idx[:, 0]] = True
        # the Sylvian fissure: a plate through the landmark trace, from the surface to the insula
        for side in (1, -1):
            tr = self.P(SYLVIAN, side, deep=True)
            ys = np.linspace(tr[:, 1].min(), tr[:, 1].max(), 60)
            order = np.argsort(tr[:, 1])
            zs = np.interp(ys, tr[order, 1], tr[order, 2])
            xs_out = np.interp(ys, tr[order, 1], tr[order, 0])
            ins = self.P([(36, 0, 0)], side, deep=True)[0, 0]
            pts = []
            for yy, zz, xo in zip(ys, zs, xs_out, strict=True):
                xr = np.arange(ins, xo + 12 * side, 0.7 * g.h * side)
                pts.append(np.stack([xr, np.full_like(xr, yy), np.full_like(xr, zz)], 1))
            pp = np.concatenate(pts)
            idx = np.round((pp - g.lo) / g.h).astype(int)
            ok = np.all((idx >= 0) & (idx < np.array(g.n)), axis=1)
            idx = idx[ok]
            sheet[idx[:, 2], idx[:, 1], idx[:, 0]] = True
            if g.h < 1.2:  # the Sylvian fissure is wider than a sulcus: thicken the plate
                for dz in (-1, 1):
                    zi = np.clip(idx[:, 2] + dz, 0, g.n[2] - 1)
                    sheet[zi, idx[:, 1], idx[:, 0]] = True
        return sheet

    def _deep(self) -> None:
        g, tis = self.g, self.tissue
        brain = self.brain
        for side in (1, -1):
            ipsi = side == self.shift_side and self.shift_mm > 0
            vs = self.ventricle_scale * (1 - self.compress if ipsi else 1.0 + 0.3 * self.compress)
            lo = self.P([(0, 48, -32)], side, True)[0]
            hi = self.P([(46, -80, 40)], side, True)[0]
            sl = g.box(np.minimum(lo, hi), np.maximum(lo, hi))
            shape = tuple(s.stop - s.start for s in sl)
            sub = tis[sl]
            br = brain[sl]

            def rbf_mask(rows: Sequence[Sequence[float]], c: Sequence[float],
                         outer: tuple[slice, slice, slice] = sl,
                         shape: tuple[int, ...] = shape, side: int = side) -> Arr:
                surf = self.P(rows, side, True)
                cc = self.P([c], side, True)[0]
                f = _Rbf(surf, cc, offset=3.0, interior=cc[None])
                own = g.box(surf.min(axis=0) - 4, surf.max(axis=0) + 4)
                a = [max(own[i].start, outer[i].start) for i in range(3)]
                b = [min(own[i].stop, outer[i].stop) for i in range(3)]
                box = tuple(slice(a[i], b[i]) for i in range(3))
                out = np.zeros(shape, bool)
                val = _coarse_field(f, g, box, 2.0, normalise=False)  # type: ignore[arg-type]
                out[tuple(slice(a[i] - outer[i].start, b[i] - outer[i].start)
                          for i in range(3))] = val < 0
                return out

            caud_n, caud_r = self._tube_rows(CAUDATE, side)
            caud = _tube_in(g, sl, caud_n, caud_r)
            put = rbf_mask(PUTAMEN, PUTAMEN_C)
            pal = rbf_mask(PALLIDUM, PALLIDUM_C)
            pal &= ~put | self._medial(sl, side, 22)
            thal = rbf_mask(THALAMUS, THALAMUS_C)
            lent = put | pal
            d_lent = ndimage.distance_transform_edt(~lent, sampling=g.h)
            d_ct = ndimage.distance_transform_edt(~(caud | thal), sampling=g.h)
            d_put = ndimage.distance_transform_edt(~put, sampling=g.h)
            z, y, x = g.coords(sl)
            pc = self.P([PUTAMEN_C], side, True)[0]
            lateral = (x - pc[0]) * side > 0
            ic = (d_lent < 7) & (d_ct < 7) & ~lateral & (d_lent + d_ct < 11) & br
            ic &= (z > pc[2] - 12) & (z < pc[2] + 22)
            sub[ic & ~lent & ~caud & ~thal] = T["internal_capsule"]
            # external capsule, claustrum, extreme capsule, insula, insular cistern
            yc, zc = INSULA_CENTRE_YZ
            ins_c = self.P([(36, yc, zc)], side, True)[0]
            ell = ((y - ins_c[1]) / INSULA_RADII_YZ[0]) ** 2 + (
                (z - ins_c[2]) / INSULA_RADII_YZ[1]) ** 2 < 1
            lat_band = lateral & ell & br
            w_ins = 1.5 + self.sylvian_mm
            sub[lat_band & (d_put < 2.2)] = T["external_capsule"]
            sub[lat_band & (d_put >= 2.2) & (d_put < 3.4)] = T["claustrum"]
            sub[lat_band & (d_put >= 3.4) & (d_put < 5.2)] = T["external_capsule"]
            insula = lat_band & (d_put >= 5.2) & (d_put < 5.2 + self.cortex_mm + 0.5)
            sub[insula] = T["insular_cortex"]
            cistern = lat_band & (d_put >= 5.7 + self.cortex_mm) & (
                d_put < 5.7 + self.cortex_mm + w_ins)
            sub[cistern] = T["sulcal_csf"]
            # grey lining of the opercula facing the insular cistern
            lining = lat_band & (d_put >= 5.7 + self.cortex_mm + w_ins) & (
                d_put < 8.7 + 2 * self.cortex_mm + w_ins) & (sub == T["white_matter"])
            sub[lining] = T["grey_matter"]
            sub[put & br] = T["putamen"]
            sub[pal & br] = T["globus_pallidus"]
            sub[thal & br] = T["thalamus"]
            sub[caud & br] = T["caudate"]
            self.deep_masks[side] = {
                "sl": sl, "caud": caud & br, "lent": lent & br, "put": put & br,
                "pal": pal & br, "thal": thal & br, "ic": (sub == T["internal_capsule"]),
                "insula": insula}
            # lateral ventricle (frontal horn to occipital horn) and temporal horn
            vent = np.zeros(shape, bool)
            for rows in (VENTRICLE, TEMPORAL_HORN):
                n, r = self._tube_rows(rows, side, rscale=vs)
                vent |= _tube_in(g, sl, n, r, scale=(VENTRICLE_XSCALE, 1, 1))
            vent &= self.cavm[sl]
            sub[vent] = T["ventricular_csf"]
            self.deep_masks[side]["vent"] = vent
            # choroid plexus glomus in the atrium
            at = self.P([VENTRICLE[5][:3]], side, True)[0] + [0, 2, -2]
            cp = np.sqrt((x - at[0]) ** 2 + (y - at[1]) ** 2 + ((z - at[2]) * 1.3) ** 2) < 3.5
            sub[cp & vent] = T["choroid_plexus"]
            self.deep_masks[side]["choroid"] = cp & vent
        # third ventricle, aqueduct
        for rows3, xs in ((THIRD_VENTRICLE, 3.2), (AQUEDUCT, 1.0)):
            n, r = self._tube_rows(rows3, 0, rscale=self.ventricle_scale)
            sl, d = _tube_on_grid(g, n, r, scale=(xs, 1, 1))
            tis[sl][(d < 0) & self.cavm[sl]] = T["ventricular_csf"]

    def _medial(self, sl: tuple[slice, slice, slice], side: int, x_abs: float) -> Arr:
        z, y, x = self.g.coords(sl)
        xm = self.P([(x_abs, 0, 0)], side, True)[0, 0]
        return np.asarray((x - xm) * side < 0)

    def _posterior_fossa(self) -> None:
        g, tis = self.g, self.tissue
        sl = g.box((-80, -10, -84), (80, 112, 30))
        z, y, x = g.coords(sl)
        nodes, radii = self._tube_rows(BRAINSTEM, 0, deep=False)
        shape = tuple(s.stop - s.start for s in sl)
        bsl, bd = _tube_on_grid(g, nodes, radii, scale=(0.85, 1, 1), margin=7.0)
        d_bs = np.full(shape, 99.0, np.float32)
        a = [max(bsl[i].start, sl[i].start) for i in range(3)]
        b = [min(bsl[i].stop, sl[i].stop) for i in range(3)]
        d_bs[tuple(slice(a[i] - sl[i].start, b[i] - sl[i].start) for i in range(3))] = bd[
            tuple(slice(a[i] - bsl[i].start, b[i] - bsl[i].start) for i in range(3))]
        d_in = self.d_in[sl]
        below = (z - self.z_tent[None][:, sl[1], sl[2]]) < -1.5
        pons_back = self.deform(np.array(_lps((0, -36, -30), 0)))[1]
        behind = (y > pons_back) | (np.abs(x) > 24)
        sub = tis[sl]
        cm_c, cm_r = CISTERNS[2]
        csl, e = _ellipsoid(g, self.deform(np.array(_lps(cm_c, 0))), cm_r)
        magna = np.zeros(g.shape, bool)
        magna[csl] = e < 1
        cereb = (d_in + self.gap_mm < 0) & below & behind & (d_bs > 2.0) & ~magna[sl] & (
            z > self.deform(np.array([0, 0, -70.0]))[2])
        depth = -(d_in + self.gap_mm)
        cen = self.deform(np.array(_lps((0, -62, -34), 0)))
        r = np.sqrt((x - cen[0]) ** 2 + ((y - cen[1]) * 1.2) ** 2 + ((z - cen[2]) * 1.6) ** 2)
        folia = np.abs(np.sin(np.pi * r / 4.2)) < 0.16 + 0.12 * self.atrophy
        core = np.sqrt((np.abs(x - cen[0]) - 20.0) ** 2 + ((y - cen[1]) * 1.1) ** 2 +
                       ((z - cen[2]) * 1.4) ** 2) < 13
        sub[cereb] = T["cerebellar_cortex"]
        sub[cereb & core & (depth > 8)] = T["cerebellar_white"]
        sub[cereb & folia & (depth < 9) & ~core] = T["sulcal_csf"]
        top = self.P([THALAMUS_C], 1, deep=False)[0, 2] - 8.0
        stem = (d_bs < 0) & (d_in < 0) & (z < top)
        sub[stem] = T["brainstem"]
        for rows in (FOURTH_VENTRICLE,):
            n, rr = self._tube_rows(rows, 0, deep=False, rscale=self.ventricle_scale)
            sub[_tube_in(g, sl, n, rr, scale=(0.6, 1, 1)) & (d_in < 0)] = T["ventricular_csf"]
        n, rr = self._tube_rows(AQUEDUCT, 0, rscale=self.ventricle_scale)
        sub[_tube_in(g, sl, n, rr) & (d_in < 0)] = T["ventricular_csf"]
        # CSF around the brainstem not claimed by parenchyma is cisternal
        near = (d_bs < 6) & (sub == T["sulcal_csf"]) & ~cereb
        sub[near] = T["cisternal_csf"]
        sub[magna[sl] & (sub == T["sulcal_csf"])] = T["cisternal_csf"]

    def _vessels(self) -> None:
        g, tis = self.g, self.tissue
        self.vessel_masks: dict[str, list[tuple[tuple[slice, slice, slice], Arr]]] = {
            "artery": [], "sinus": [], "mca": [], "basilar": []}
        specs: list[tuple[Arr, Arr, str]] = []
        for rows, r in ARTERIES:
            for side in (1, -1):
                nodes = self.P(rows, side, deep=False)
                specs.append((nodes, np.full(len(nodes), r), "artery"))
        bn = self.P(BASILAR[0], 0)
        specs.append((bn, np.full(len(bn), BASILAR[1]), "basilar"))
        for srows, r in SINUSES:
            sides = (0,) if abs(srows[1][0]) < 1e-6 else (1, -1)
            for side in sides:
                nodes = self.P(srows, side)
                specs.append((nodes, np.full(len(nodes), r), "sinus"))
        # superior sagittal sinus: midline cavity landmarks moved in by its radius
        sss = self.deform(_sym(CAVITY[:8]))
        c = self.deform(np.array(CAVITY_CENTRE) * [-1, -1, 1])
        sss = sss + (c - sss) / np.linalg.norm(c - sss, axis=1, keepdims=True) * (SSS_DEPTH - 1)
        specs.append((sss, np.full(len(sss), SSS_DEPTH), "sinus"))
        for nodes, radii, kind in specs:
            sl, d = _tube_on_grid(g, nodes, radii)
            m = (d < 0) & self.cavm[sl]
            if kind == "sinus":
                m = (d < 0) & (self.d_in[sl] < 1.0) & (self.d_in[sl] > -3 * SSS_DEPTH)
                tis[sl][m] = T["venous_sinus"]
            else:
                m &= ~np.isin(tis[sl], PARENCHYMA[:2]) | (d < -0.2)
                tis[sl][m] = T["artery"]
            self.vessel_masks["sinus" if kind == "sinus" else "artery"].append((sl, m))
            if kind == "basilar":
                self.vessel_masks["basilar"].append((sl, m))
        self.mca_nodes = {side: self.P(ARTERIES[1][0], side) for side in (1, -1)}
        self.basilar_nodes = bn

    def _aspects(self) -> None:
        g = self.g
        asp = self.aspects
        for side in (1, -1):
            base = 0 if side == 1 else 10
            dm = self.deep_masks[side]
            sl = dm["sl"]
            sub = asp[sl]
            z, y, x = g.coords(sl)
            cauc = self.P([CAUDATE[2][:3]], side, True)[0]
            head = dm["caud"] & ((y - cauc[1]) < 2.0)  # caudate head: anterior of the body
            sub[head] = base + 1
            sub[dm["lent"]] = base + 2
            genu = self.P([(14, 6, 10)], side, True)[0]
            sub[dm["ic"] & (y > genu[1] - 1.0)] = base + 3  # genu and posterior limb
            sub[dm["insula"]] = base + 4
        # MCA cortex sectors at the ganglionic and supraganglionic levels
        thal = self.P([THALAMUS_C], 1, True)[0]
        vb = self.P([VENTRICLE[3][:3]], 1, True)[0]
        z_g = float(thal[2])
        z_s = float(vb[2]) + 6.0
        bands = ((z_g - 8.0, z_g + 7.0, GANGLIONIC_SECTORS), (z_s - 7.0, z_s + 9.0,
                                                                SUPRA_SECTORS))
        for z0, z1, sectors in bands:
            sl = g.box((-90, -130, z0), (90, 130, z1))
            sl = (slice(sl[0].start, max(sl[0].start + 1, sl[0].stop - 1)), sl[1], sl[2])
            z, y, x = g.coords(sl)
            tis = self.tissue[sl]
            paren = np.isin(tis, (T["grey_matter"], T["white_matter"]))
            cortexish = self.d_cb[sl] > -20.0
            for side in (1, -1):
                base = 0 if side == 1 else 10
                o = self.P([(SECTOR_ORIGIN[0], SECTOR_ORIGIN[1], 0)], side, True)[0]
                lat = (x - o[0]) * side
                ant = -(y - o[1])
                ang = np.degrees(np.arctan2(ant, lat))
                on_side = (x * side > 4.0) & paren & cortexish & (lat > -5)
                if sectors is SUPRA_SECTORS:
                    on_side &= np.abs(x) > 18.0
                for name, a0, a1 in sectors:
                    k = ASPECTS_REGIONS.index(name) + 1 + base
                    asp[sl][on_side & (ang >= a0) & (ang < a1) & (asp[sl] == 0)] = k

        asp[~np.isin(self.tissue, PARENCHYMA)] = 0  # regions are parenchyma only

    # -- extra-axial planning ----------------------------------------------------------------
    def _plan_extra_axial(self) -> None:
        g = self.g
        z, y, x = g.coords((slice(0, g.shape[0]), slice(0, g.shape[1]), slice(0, g.shape[2])))
        self.extra_masks: list[tuple[dict[str, Any], Arr]] = []
        vox_ml = g.h ** 3 / 1000.0
        for plan in self.plans:
            if plan["kind"] not in ("subdural", "epidural"):
                continue
            side = plan["side"]
            rng = self.bleed_rng
            vol = plan["volume_ml"]
            site = plan.get("site", "temporal")
            if plan["kind"] == "epidural":
                c = self.P([(62, rng.uniform(-30, 5), rng.uniform(-12, 22))], side)[0]
                # lens: thickness about 0.4 x radius, V = (2/3) pi R^2 t
                radius = float(np.clip((vol * 1000.0 / (0.8 * math.pi / 3)) ** (1 / 3), 7, 50))
                # sutures: coronal (front) and lambdoid (back) limit the lens
                coronal = self.deform(np.array([0, -12.0, 0]))[1]
                lambdoid = self.deform(np.array([0, 75.0, 0]))[1]
                dist = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
                prof = np.sqrt(np.clip(1 - (dist / radius) ** 2, 0, None))
                prof = np.where((y > coronal) & (y < lambdoid) & (x * side > 10), prof, 0.0)
                depth = -self.d_in
            elif site == "convexity":
                c = self.P([(56, rng.uniform(-40, 20), rng.uniform(18, 48))], side)[0]
                radius = float(np.clip(55 + 8 * vol ** (1 / 3), 60, 95))
                dist = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + ((z - c[2]) * 1.2) ** 2)
                prof = np.clip(1 - (dist / radius) ** 2, 0, None) ** 0.6
                prof = np.where(x * side > 5, prof, 0.0)
                depth = -self.d_in
            elif site == "falx":
                c = self.P([(0, rng.uniform(-40, 20), rng.uniform(30, 55))], 0)[0]
                radius = float(np.clip(40 + 6 * vol ** (1 / 3), 40, 75))
                dist = np.sqrt((y - c[1]) ** 2 + (z - c[2]) ** 2 + 0 * x)
                prof = np.clip(1 - (dist / radius) ** 2, 0, None) ** 0.6
                prof = np.where((x - self.falx_x) * side > 0.7, prof, 0.0)
                depth = np.abs(x - self.falx_x) - 0.7 + 0 * y + 0 * z
            else:  # tentorium
                c = self.P([(30, -65, 0)], side)[0]
                radius = 38.0
                dist = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + 0 * z)
                prof = np.clip(1 - (dist / radius) ** 2, 0, None) ** 0.6
                zt = z - self.z_tent[None]
                prof = np.where((zt > 0.7) & (x * side > 8), prof, 0.0)
                depth = zt - 0.7
            prof = np.asarray(prof, np.float32)
            depth = np.asarray(depth, np.float32)
            cand = self.cavm & (prof > 0.02) & (depth >= 0)
            s = np.where(cand, depth / np.maximum(prof, 1e-3), np.inf)
            n = max(1, int(round(vol / vox_ml)))
            flat = s[cand]
            if len(flat) == 0:
                continue
            level = float(np.partition(flat, min(n, len(flat) - 1))[min(n, len(flat) - 1)])
            level = min(level, 16.0 if plan["kind"] == "epidural" else 15.0)
            mask = s < level
            self.extra = np.maximum(self.extra, np.where(prof > 0.02, level * prof, 0.0)
                                    .astype(np.float32) * (depth < level * prof + 3))
            plan["thickness_mm"] = round(level, 2)
            self.extra_masks.append((plan, mask))

    # -- textures, bleeds, mimics, ischaemia ---------------------------------------------------
    def _textures(self) -> None:
        tex = _rng(self.seed, "texture", 2)
        g = self.g
        n = _smooth_noise(tex, tuple(max(4, s // 2) for s in g.shape), 1.0)
        n = ndimage.zoom(n, [a / b for a, b in zip(g.shape, n.shape, strict=True)], order=1)
        n = n[:g.shape[0], :g.shape[1], :g.shape[2]]
        if n.shape != g.shape:
            n = np.pad(n, [(0, a - b) for a, b in zip(g.shape, n.shape, strict=True)], "edge")
        dip = self.tissue == T["diploe"]
        self.hu[dip] += 120 * n[dip]
        par = np.isin(self.tissue, PARENCHYMA)
        self.hu[par] += 0.8 * n[par]

    def _draw_bleeds(self) -> None:
        g, rng = self.g, self.bleed_rng
        vox_ml = g.h ** 3 / 1000.0
        self.bleed_volumes: dict[str, float] = {}
        self.bleed_info: list[dict[str, Any]] = []
        tis = self.tissue
        for plan in self.plans:
            kind = plan["kind"]
            n = max(1, int(round(plan["volume_ml"] / vox_ml)))
            mask: Arr | None = None
            if kind in ("subdural", "epidural"):
                for p, m in self.extra_masks:
                    if p is plan:
                        mask = m
                if mask is None:
                    continue
                tis[mask] = T["subdural_space" if kind == "subdural" else "epidural_space"]
            elif kind == "intraparenchymal":
                mask = self._iph(plan, n)
            elif kind == "intraventricular":
                vent = tis == T["ventricular_csf"]
                idx = np.flatnonzero(vent)
                zc, yc, xc = np.unravel_index(idx, g.shape)
                if plan["pattern"] == "layering":
                    key = -(g.y[yc] + 0.15 * np.abs(g.z[zc]))  # dependent = posterior
                else:
                    at = self.P([VENTRICLE[5][:3]], plan["side"], True)[0]
                    key = np.sqrt((g.x[xc] - at[0]) ** 2 + (g.y[yc] - at[1]) ** 2 +
                                  (g.z[zc] - at[2]) ** 2)
                n = min(n, int(0.8 * len(idx)))
                pick = idx[np.argsort(key, kind="stable")[:n]]
                mask = np.zeros(g.shape, bool)
                mask.flat[pick] = True
            elif kind == "subarachnoid":
                cand = np.isin(tis, (T["sulcal_csf"], T["cisternal_csf"])) & self.cavm
                cand &= ~(self.d_in > -0.6)
                if plan["pattern"] == "basal":
                    c = self.P([CISTERNS[0][0]], 0, True)[0]
                else:
                    c = self._surface_point(self.P([(60, rng.uniform(-50, 20),
                                                     rng.uniform(10, 50))], plan["side"]),
                                            self.deform(np.array(_lps((25, -18, 16),
                                                                      plan["side"]))))[0]
                idx = np.flatnonzero(cand)
                zc, yc, xc = np.unravel_index(idx, g.shape)
                key = np.sqrt((g.x[xc] - c[0]) ** 2 + (g.y[yc] - c[1]) ** 2 +
                              (g.z[zc] - c[2]) ** 2)
                if plan["pattern"] == "basal":  # spread along the Sylvian fissures too
                    key = key * np.where(np.abs(g.z[zc] - c[2]) < 14, 0.55, 1.0)
                key = key + rng.uniform(0, 4, size=key.shape)
                n = min(n, len(idx))
                pick = idx[np.argsort(key)[:n]]
                mask = np.zeros(g.shape, bool)
                mask.flat[pick] = True
            if mask is None or not mask.any():
                continue
            vol = float(mask.sum()) * vox_ml
            self.bleed_volumes[kind] = round(self.bleed_volumes.get(kind, 0.0) + vol, 3)
            self._blood_hu(mask, kind, plan)
            self.blood[mask] = 1 + BLEED_KINDS.index(kind)
            info = {k: v for k, v in plan.items() if k != "volume_ml"}
            info["volume_ml"] = round(vol, 3)
            self.bleed_info.append(info)

    def _iph(self, plan: dict[str, Any], n: int) -> Arr:
        g, rng = self.g, self.bleed_rng
        side = plan["side"]
        site = plan["site"]
        if site == "putamen":
            c = self.P([PUTAMEN_C], side, True)[0]
        elif site == "thalamus":
            c = self.P([THALAMUS_C], side, True)[0]
        elif site == "cerebellum":
            c = self.P([(24, -62, -36)], side)[0]
        else:
            lobes = ((40, 30, 25), (45, -45, 30), (45, -20, -15), (25, -75, 15), (30, 10, 45))
            c = self.P([lobes[int(rng.integers(len(lobes)))]], side, True)[0]
        c = c + rng.normal(size=3) * 2.0
        r0 = (3 * n * g.h ** 3 / (4 * math.pi)) ** (1 / 3)
        box = r0 * 2.2 + 6
        sl = g.box(c - box, c + box)
        z, y, x = g.coords(sl)
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        r = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2) + 1e-6
        u = np.stack(np.broadcast_arrays(dx / r, dy / r, dz / r))
        pert = np.zeros(r.shape)
        for _ in range(5):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            pert = pert + rng.uniform(0.05, 0.15) * np.sin(
                rng.uniform(2, 4) * np.tensordot(v, u, 1) + rng.uniform(0, 6.3))
        s = r / (1 + pert)
        par = np.isin(self.tissue[sl], PARENCHYMA + (T["sulcal_csf"],))
        if site != "cerebellum":
            par &= self.brain[sl] | np.isin(self.tissue[sl], SUPRA_PARENCHYMA)
        s = np.where(par, s, np.inf)
        flat = np.sort(s.ravel())
        k = min(n, int(np.isfinite(flat).sum())) - 1
        level = flat[max(k, 0)]
        loc = s <= level
        mask = np.zeros(g.shape, bool)
        mask[sl] = loc
        # perihaematomal oedema rim
        d = ndimage.distance_transform_edt(~loc, sampling=g.h)
        rim = (d > 0) & (d < rng.uniform(1.5, 3.5)) & np.isin(self.tissue[sl], PARENCHYMA)
        self.tissue[sl][rim] = T["oedema"]
        self.hu[sl][rim] = self.hu_table["oedema"]
        return mask

    def _blood_hu(self, mask: Arr, kind: str, plan: dict[str, Any]) -> None:
        g, rng = self.g, self.bleed_rng
        base = float(rng.uniform(58, 78))
        idx = np.flatnonzero(mask)
        zc, yc, xc = np.unravel_index(idx, g.shape)
        het = rng.normal(size=len(idx)) * 2.0
        lo = np.array([zc.min(), yc.min(), xc.min()])
        hi = np.array([zc.max(), yc.max(), xc.max()]) + 1
        sm = _smooth_noise(rng, tuple(int(v) for v in (hi - lo)), 1.5 / g.h)
        het += 5.0 * sm[zc - lo[0], yc - lo[1], xc - lo[2]]
        val = base + het
        if kind in ("intraparenchymal", "epidural"):  # clot retraction: denser core
            sub = np.zeros(tuple(int(v) for v in (hi - lo)), bool)
            sub[zc - lo[0], yc - lo[1], xc - lo[2]] = True
            depth = ndimage.distance_transform_edt(sub, sampling=g.h)
            val += np.clip(depth[zc - lo[0], yc - lo[1], xc - lo[2]] - 1.5, 0, 4) * 2.0
        if kind in ("intraventricular", "subdural") and rng.random() < 0.4:
            # haematocrit level: dependent (posterior) part denser
            ys = g.y[yc]
            cut = float(np.quantile(ys, 0.5))
            val += np.where(ys > cut, 8.0, -8.0)
            plan["haematocrit_level"] = True
        self.hu.flat[idx] = np.clip(val, 50.0, 90.0)

    def _mimics(self) -> None:
        g, rng = self.g, _rng(self.seed, "mimic")
        self.mimics_placed: list[dict[str, Any]] = []
        hu, tis = self.hu, self.tissue
        for name in self.label.mimics:
            info: dict[str, Any] = {"name": name}
            if name == "choroid_plexus_calcification":
                for side in (1, -1):
                    dm = self.deep_masks[side]
                    m = dm["choroid"]
                    v = rng.uniform(100, 400)
                    hu[dm["sl"]][m] = v
                    tis[dm["sl"]][m] = T["calcification"]
                info["hu"] = "100-400"
            elif name == "pineal_calcification":
                c = self.P([(0, -30, 2)], 0, True)[0]
                sl, e = _ellipsoid(g, c, [rng.uniform(2, 3.5)] * 3)
                hu[sl][e < 1] = rng.uniform(150, 400)
                tis[sl][e < 1] = T["calcification"]
            elif name == "basal_ganglia_calcification":
                for side in (1, -1):
                    dm = self.deep_masks[side]
                    m = dm["pal"]
                    speck = _smooth_noise(rng, m.shape, 0.8 / g.h) > 0.6
                    if not (m & speck).any():
                        speck = np.ones_like(m)
                    hu[dm["sl"]][m & speck] = rng.uniform(100, 300)
                    tis[dm["sl"]][m & speck] = T["calcification"]
            elif name == "falx_calcification":
                falx = tis == T["dura"]
                zc, yc, xc = np.nonzero(falx & (np.abs(g.x)[None, None, :] < 3))
                for _ in range(int(rng.integers(2, 5))):
                    i = int(rng.integers(len(zc)))
                    c = np.array([g.x[xc[i]], g.y[yc[i]], g.z[zc[i]]])
                    sl, e = _ellipsoid(g, c, (1.6, rng.uniform(3, 7), rng.uniform(3, 7)))
                    m = e < 1
                    hu[sl][m] = rng.uniform(250, 700)
                    tis[sl][m] = T["calcification"]
            elif name == "hyperdense_vessel":
                which = "mca" if rng.random() < 0.75 else "basilar"
                side = 1 if rng.random() < 0.5 else -1
                nodes = self.mca_nodes[side] if which == "mca" else self.basilar_nodes
                length = rng.uniform(10, 20)
                seg = _polyline_head(nodes, length)
                sl, d = _tube_on_grid(g, seg, np.full(len(seg), 1.9), margin=1.0)
                m = (d < 0) & self.cavm[sl] & ~np.isin(tis[sl], PARENCHYMA)
                hu[sl][m] = rng.uniform(60, 80)
                tis[sl][m] = T["artery"]
                info.update(vessel=which, side="left" if side == 1 else "right",
                            length_mm=round(length, 1))
            elif name == "residual_contrast":
                v = rng.uniform(100, 250)
                for kind in ("artery", "sinus"):
                    for sl, m in self.vessel_masks[kind]:
                        hu[sl][m] = v * rng.uniform(0.8, 1.0)
                for side in (1, -1):
                    dm = self.deep_masks[side]
                    hu[dm["sl"]][dm["choroid"]] = v * 0.7
            elif name == "streak_artefact":
                info["note"] = "beam-hardening streaks amplified"
            self.mimics_placed.append(info)

    def _ischaemia(self) -> None:
        self.delta: float | None = None
        lab = self.label
        if not lab.ischaemic_regions:
            return
        rng = _rng(self.seed, "ischaemia")
        self.delta = float(rng.uniform(2.0, 6.0))
        self.soft_edge = bool(rng.random() < 0.5)
        base = 0 if lab.ischaemic_side == "left" else 10
        ks = [ASPECTS_REGIONS.index(r) + 1 + base for r in lab.ischaemic_regions]
        m = np.isin(self.aspects, ks) & np.isin(self.tissue, PARENCHYMA) & (self.blood == 0)
        w = np.ones(m.shape, np.float32)
        if self.soft_edge:
            d = ndimage.distance_transform_edt(m, sampling=self.g.h)
            w = np.clip(0.5 + d / 3.0, 0.5, 1.0).astype(np.float32)
        self.hu[m] -= self.delta * w[m]
        if "I" in lab.ischaemic_regions:  # loss of grey-white contrast in the insular ribbon
            ins = m & (self.aspects == base + 4)
            self.hu[ins] = np.minimum(self.hu[ins], self.hu_table["white_matter"] + 1.0)


def _polyline_head(nodes: Arr, length: float) -> Arr:
    """The first ``length`` mm of a polyline, densely sampled."""
    seg = np.linalg.norm(np.diff(nodes, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    ts = np.linspace(0, min(length, t[-1]), 12)
    return np.stack([np.interp(ts, t, nodes[:, i]) for i in range(3)], axis=1)


# ---------------------------------------------------------------------------------------------
# CT physics in the image domain
# ---------------------------------------------------------------------------------------------

KERNELS = (("Hr32", 0.55, 0.10, 0.00), ("Hr36", 0.45, 0.12, 0.05), ("Hr40", 0.38, 0.15, 0.10),
           ("Hr44", 0.30, 0.18, 0.22))
"""(name, Gaussian sigma as a fraction of 1 mm, Lorentzian fraction, overshoot)."""


def _rotation(pitch: float, yaw: float, roll: float) -> Arr:
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return np.asarray(rz @ ry @ rx)


def _radial_freq(n: int, px: float) -> Arr:
    fy = np.fft.fftfreq(n, px)[:, None]
    fx = np.fft.rfftfreq(n, px)[None, :]
    return np.asarray(np.sqrt(fx ** 2 + fy ** 2))


class _Sino:
    """Pixel-driven line integrals of a small square image along many directions."""

    def __init__(self, n: int, px: float, n_angles: int = 240) -> None:
        self.n, self.px, self.na = n, px, n_angles
        th = np.linspace(0, np.pi, n_angles, endpoint=False)
        c = (np.arange(n) - (n - 1) / 2) * px
        yy, xx = np.meshgrid(c, c, indexing="ij")
        s = np.cos(th)[:, None] * xx.ravel()[None] + np.sin(th)[:, None] * yy.ravel()[None]
        self.nb = int(math.ceil(n * 1.45))
        b = np.clip(np.round(s / px + self.nb / 2).astype(np.int64), 0, self.nb - 1)
        self.idx = b + (np.arange(n_angles) * self.nb)[:, None]
        f = np.abs(np.fft.rfftfreq(2 * self.nb, px))
        self.ramp = f * (0.5 + 0.5 * np.cos(np.pi * f / f.max()))

    def project(self, img: Arr) -> Arr:
        """Line integrals (mm x value) of one image: (angles, bins)."""
        keep = np.flatnonzero(img.ravel() != 0)
        idx = self.idx[:, keep]
        w = np.broadcast_to(img.ravel()[keep][None], idx.shape)
        return np.bincount(idx.ravel(), weights=w.ravel(),
                           minlength=self.na * self.nb).reshape(self.na, self.nb) * self.px

    def smear(self, sino: Arr) -> Arr:
        """Mean over directions of each pixel's ray value (no filtering)."""
        flat = sino.reshape(-1, self.na * self.nb)
        out = flat[:, self.idx].mean(axis=1)
        return np.asarray(out.reshape(sino.shape[:-2] + (self.n, self.n)))

    def filtered_smear(self, sino: Arr) -> Arr:
        f = np.fft.irfft(np.fft.rfft(sino, 2 * self.nb, axis=1) * self.ramp, axis=1)[:, :self.nb]
        return self.smear(f) * np.pi


def _resize(img: Arr, n: int) -> Arr:
    return np.asarray(ndimage.zoom(img, n / img.shape[0], order=1, grid_mode=True,
                                   mode="nearest"))


def _scan(anat: _Anatomy, seed: int, label: NcctLabel, matrix: int
          ) -> tuple[Arr, Arr, Arr, Arr, dict[str, Any]]:
    g = anat.g
    rng = _rng(seed, "physics")
    pitch, yaw, roll = (float(rng.uniform(-1, 1) * rng.uniform(0, 15)) for _ in range(3))
    R = _rotation(pitch, yaw, roll)
    offset = np.array([rng.uniform(-12, 12), rng.uniform(-14, 10), 0.0])
    fov = float(rng.uniform(200, 260))
    px = fov / matrix
    thick = float(rng.choice([2.5, 3.0, 4.0, 5.0]))
    ssp = "gaussian" if rng.random() < 0.6 else "triangular"
    fwhm = thick * float(rng.uniform(1.0, 1.15))
    kname, ksig, klor, kover = KERNELS[int(rng.integers(len(KERNELS)))]
    noise_sd = float(rng.uniform(3.0, 7.0))
    f_peak = float(rng.uniform(0.2, 0.5))
    cup_hu = float(rng.uniform(1.0, 4.0))
    bh_amp = float(rng.uniform(0.6, 1.2))
    dental = bool(rng.random() < 0.3)
    if "streak_artefact" in label.mimics:
        bh_amp *= float(rng.uniform(2.5, 4.0))
    # coverage: foramen magnum (basion/opisthion) to the vertex of the skin
    fm = anat.deform(_sym([(0, -35, -60), (0, -70, -58), (20, -50, -62)]))
    head_idx = np.argwhere(anat.tissue[::3, ::3, ::3] > 0) * 3
    head_pts = np.stack([g.x[head_idx[:, 2]], g.y[head_idx[:, 1]], g.z[head_idx[:, 0]]], 1)
    zs_head = (head_pts @ R.T)[:, 2]
    z_lo = float((fm @ R.T)[:, 2].min()) - 4.0
    z_hi = float(zs_head.max()) + 2.0
    n_sl = int(math.ceil((z_hi - z_lo) / thick)) + 1
    zc = z_lo + thick * np.arange(n_sl)
    # sub-slice sampling
    m_sub = max(2, int(round(thick / 0.9)))
    dzs = thick / m_sub
    sig = fwhm / 2.3548
    ext = 1.6 * fwhm
    zsub = np.arange(z_lo - ext, zc[-1] + ext + 1e-6, dzs)
    n_in = min(matrix, int(math.ceil(fov / max(g.h, 0.5))))
    px_in = fov / n_in
    cin = (np.arange(n_in) - (n_in - 1) / 2) * px_in
    yy, xx = np.meshgrid(cin, cin, indexing="ij")
    # scanner q = R p + offset  =>  p = R^T (q - offset)
    base = np.stack([xx.ravel() - offset[0], yy.ravel() - offset[1],
                     np.zeros(xx.size) - offset[2]], 1) @ R  # rows: R^T (q0 - t)
    ez = R[2]  # R^T e_z
    out = np.zeros((n_sl, n_in, n_in), np.float32)
    wsum = np.zeros(n_sl)
    for z in zsub:
        dzk = z - zc
        if ssp == "gaussian":
            w = np.exp(-0.5 * (dzk / sig) ** 2)
        else:
            w = np.clip(1 - np.abs(dzk) / fwhm, 0, None)
        ks = np.flatnonzero(w > 1e-3)
        if len(ks) == 0:
            continue
        p = base + z * ez
        ci = ((p - g.lo) / g.h).T[::-1]
        sub = ndimage.map_coordinates(anat.hu, ci, order=1, cval=-1000.0,
                                      output=np.float32).reshape(n_in, n_in)
        for kw in ks:
            out[kw] += w[kw] * sub
            wsum[kw] += w[kw]
    out /= wsum[:, None, None].astype(np.float32)
    # label maps: nearest neighbour at the slice centres, on the output matrix
    cm = (np.arange(matrix) - (matrix - 1) / 2) * px
    yy2, xx2 = np.meshgrid(cm, cm, indexing="ij")
    base2 = np.stack([xx2.ravel() - offset[0], yy2.ravel() - offset[1],
                      np.zeros(xx2.size) - offset[2]], 1) @ R
    tissue = np.zeros((n_sl, matrix, matrix), np.uint8)
    aspects = np.zeros_like(tissue)
    blood = np.zeros_like(tissue)
    shp = np.array(g.shape)
    for kk in range(n_sl):
        p = base2 + zc[kk] * ez
        ii = np.round((p - g.lo) / g.h).astype(np.int64)[:, ::-1]
        ok = np.all((ii >= 0) & (ii < shp), axis=1)
        flat = np.ravel_multi_index(tuple(np.clip(ii, 0, shp - 1).T), g.shape)
        for src, dst in ((anat.tissue, tissue), (anat.aspects, aspects), (anat.blood, blood)):
            dst[kk] = np.where(ok, src.ravel()[flat], 0).reshape(matrix, matrix)
    # beam hardening (cupping + streaks) and noise-SD map from line integrals
    ns = 128 if n_in >= 128 else n_in
    sino = _Sino(ns, fov / ns, 180)
    small = np.stack([_resize(s, ns) for s in out])
    bone = np.clip((small - 250.0) / 1000.0, 0, None)
    water = np.clip((small + 1000.0) / 1000.0, 0, 1.3)
    if dental:
        tooth = small > 1800
        bone = bone + np.where(tooth, 4.0, 0.0)
    streaks = np.zeros_like(small)
    cup = np.zeros_like(small)
    varmap = np.zeros_like(small)
    step = max(1, int(round(4.0 / thick)))  # artefact maps every ~4 mm, interpolated between
    done = sorted(set(range(0, n_sl, step)) | {n_sl - 1})
    for kd in done:
        k = int(kd)
        pb = sino.project(bone[k])
        pw = sino.project(water[k])
        st = -sino.filtered_smear(pb ** 2)
        st = st - ndimage.gaussian_filter(st, 10.0 / sino.px)  # keep the streaks only
        near = ndimage.distance_transform_edt(bone[k] < 0.3, sampling=sino.px)
        # dark bands in full, bright side bands weaker and only away from the bone (no rim that
        # could pass for a thin subdural collection)
        st = np.minimum(st, 0.0) + 0.35 * np.maximum(st, 0.0) * np.clip((near - 10.0) / 6.0, 0, 1)
        streaks[k] = st * np.clip((near - 2.0) / 6.0, 0.0, 1.0)
        att = 0.019 * pw + 0.045 * pb  # mm path * mu (per mm), water and extra for bone
        both = sino.smear(np.stack([pw, np.exp(np.clip(att, 0, 12))]))
        cup[k], varmap[k] = both[0], both[1]
    for arr in (streaks, cup, varmap):
        for ki in range(n_sl):
            if ki in done:
                continue
            j = max(d for d in done if d < ki)
            j2 = min(d for d in done if d > ki)
            w2 = (ki - j) / (j2 - j)
            arr[ki] = (1 - w2) * arr[j] + w2 * arr[j2]
    intra = np.stack([_resize(t.astype(np.float32), ns) for t in
                      np.isin(tissue, PARENCHYMA + (T["ventricular_csf"],))]) > 0.5
    streaks *= 2.0 * bh_amp
    streak_p99 = float(np.percentile(np.abs(streaks[intra]), 99)) if intra.any() else 0.0
    cup = -cup_hu * (cup / max(float(cup.max()), 1e-6)) ** 2
    sd = np.sqrt(varmap)
    ref = float(np.median(sd[intra])) if intra.any() else float(np.median(sd))
    sd = noise_sd * sd / max(ref, 1e-6)
    # MTF and upsampling to the output matrix
    f = _radial_freq(matrix, px)
    mtf = (1 - klor) * np.exp(-2 * (math.pi * ksig * f) ** 2) + klor * np.exp(
        -2 * math.pi * 0.25 * f)
    mtf *= 1 + kover * np.sin(np.clip(f / 0.9, 0, 1) * math.pi) ** 2
    vol = np.empty((n_sl, matrix, matrix), np.float32)
    nrng = _rng(seed, "noise", matrix)
    nps = np.sqrt(f * np.exp(-(f / (f_peak * math.sqrt(2))) ** 2))
    nps_norm = math.sqrt(float(np.mean(
        np.concatenate([nps, nps[:, 1:-1 if matrix % 2 == 0 else None]], axis=1) ** 2)))
    dental_done = False
    for kn in range(n_sl):
        k = int(kn)
        img = out[k] if n_in == matrix else _resize(out[k], matrix)
        img = np.fft.irfft2(np.fft.rfft2(img + 1000.0) * mtf, s=(matrix, matrix)) - 1000.0
        art = streaks[k] + cup[k] * (small[k] > -300)
        img = img + _resize(art, matrix) * (img > -500)
        wn = nrng.standard_normal((matrix, matrix))
        noise = np.fft.irfft2(np.fft.rfft2(wn) * nps, s=(matrix, matrix)) / max(nps_norm, 1e-9)
        img = img + noise * _resize(sd[k], matrix) * (img > -900)
        vol[k] = img
        dental_done = dental_done or bool((small[k] > 1800).any())
    vol = np.clip(vol, -1024, 3071).astype(np.float32)
    origin = (float(cm[0]), float(cm[0]), float(zc[0]))
    details = {
        "kernel": kname, "slice_thickness_mm": thick, "ssp": ssp, "ssp_fwhm_mm": round(fwhm, 3),
        "sub_slice_mm": round(dzs, 3), "fov_mm": round(fov, 2), "pixel_mm": px,
        "noise_sd_hu": round(noise_sd, 3), "nps_peak_cycles_per_mm": round(f_peak, 3),
        "cupping_hu": round(cup_hu, 3), "beam_hardening_scale": round(bh_amp, 3),
        "streak_p99_hu": round(streak_p99, 3),
        "dental_metal": dental and dental_done,
        "pitch_deg": round(pitch, 3), "yaw_deg": round(yaw, 3), "roll_deg": round(roll, 3),
        "pose_matrix": R.round(8).tolist(), "pose_offset_mm": offset.round(4).tolist(),
        "origin_mm": origin, "anatomy_grid_mm": g.h,
    }
    return vol, tissue, aspects, blood, details


def _anatomy_h(matrix: int) -> float:
    return float(np.clip(230.0 / matrix * 1.35, 0.8, 1.6))


def render_labelled(seed: int, label: NcctLabel, *, matrix: int = 512
                    ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """Render one case; also return its ASPECTS region map and tissue map (uint8, volume
    shape): regions 1-10 = ASPECTS_REGIONS on the patient's left, 11-20 on the right;
    tissues index :data:`TISSUES`."""
    anat = _Anatomy(seed, label, _Grid(_anatomy_h(matrix)))
    vol, tissue, aspects, blood, det = _scan(anat, seed, label, matrix)
    details: dict[str, Any] = {
        **det,
        "ischaemic_delta_hu": None if anat.delta is None else round(anat.delta, 4),
        "ischaemic_soft_edge": bool(getattr(anat, "soft_edge", False)),
        "bleed_volumes_ml": dict(anat.bleed_volumes),
        "bleeds": anat.bleed_info,
        "midline_shift_mm": round(anat.shift_mm, 3) if anat.bleed_info else 0.0,
        "mimics_placed": anat.mimics_placed,
        "tissue_hu": {k: round(v, 2) for k, v in anat.hu_table.items()},
        **anat.details,
    }
    case = NcctCase(family=FAMILY, seed=seed, label=label, volume_hu=vol,
                    spacing_mm=(float(det["slice_thickness_mm"]), float(det["pixel_mm"]),
                                float(det["pixel_mm"])),
                    blood_mask=blood, details=details)
    return case, aspects, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """Render one case of the ``landmarks`` family."""
    return render_labelled(seed, label, matrix=matrix)[0]
