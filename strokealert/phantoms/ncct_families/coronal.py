"""The ``coronal`` family: head NCCT phantoms lofted from a coronal-section atlas.

Anatomy
-------
The head is written down the way a coronal neuroanatomy atlas draws it: as outlines in coronal
(x-z) sections at anterior-posterior stations, measured in millimetres from the anterior
commissure (AC) in a head frame with x to the patient's left, y posterior and z up. The stations
are the frontal pole, the genu of the corpus callosum with the frontal horns and caudate heads,
the anterior commissure (putamen, pallidum, insula, anterior limb of the internal capsule,
temporal poles, sylvian fissures), the mammillary bodies and third ventricle (thalami, posterior
limb, hippocampi and temporal horns, basilar artery, pons), the pulvinar with the atria and
their choroid glomus, the splenium (occipital horns, tentorium, cerebellum, fourth ventricle)
and the occipital pole, plus a few in-between stations where an outline changes fast.

Each structure's outline in a section is either a star (radii at fixed angles about a centre:
8 angles round the circle for a paired structure, given for the patient's right side, or 7
angles over a half circle for a midline one) or, for thin slabs (sylvian stem, insular
cistern, internal capsule, third ventricle, temporal horn), an ellipse with a tilt. Outlines
are interpolated round each section by a periodic cubic spline and lofted along y by
monotone cubic (PCHIP) interpolation, closing over elliptical end caps; a table of the loft
and of its slopes gives a level function of approximately signed distance (mm, negative
inside). Paired structures are mirrored to the left with their own per-seed perturbation of
every station, so the two sides differ. Vessels and sigmoid sinuses are tapered tubes.

The brain is the union of the cerebrum, the temporal lobes and the brainstem; the
interhemispheric fissure (down to the corpus callosum), the sylvian stem and the insular
cistern are carved out of it; occipital and temporal lobes stand on the tentorium, the
cerebellum and vermis hang below it. The endocranium is a smooth union of the unshrunk brain,
the cerebellum and a sellar filler, offset by a dural gap; the skull is a shell on it whose
thickness varies (thin temporal squama, occipital protuberance, thick skull base), with outer
and inner tables and diploe, a frontal sinus, petrous pyramids with mastoid air cells, clivus,
sphenoid body and sinus, sella with pituitary, orbits with globes and lenses, ethmoid, nasal
and maxillary air, zygomatic arches, the face and the neck. Scalp (skin, subcutaneous fat)
and temporalis muscle lie outside. Cortex is a grey ribbon of drawn thickness over a folded
surface: a band-limited field of random plane waves is tabulated on the sphere of directions
about each hemisphere's centre and its zero lines are the sulci, so each sulcus runs radially
into the brain, roughly perpendicular to the surface; sulci get wider and deeper with
age-related atrophy, which also shrinks the brain inside the skull and enlarges the
ventricles and fissures. Cerebellar folia are concentric fissures. Deep nuclei, internal
capsule, ventricles, choroid glomus, pineal, falx, tentorium, venous sinuses and the circle
of Willis are lofts or tubes. Per seed: head size and shape (three scales), age and atrophy,
ventricle size, asymmetry (per-structure station perturbations and petalia), tissue HU in
physiological ranges, and a smooth random polynomial deformation of the whole head frame.

Pathology
---------
Bleeds of each kind live where that kind occurs: intraparenchymal (lobar, deep
putaminal/thalamic, cerebellar, pontine; lobulated, may carry an oedema rim, a fluid level
perpendicular to gravity or a hypodense swirl), intraventricular (layering in the dependent
occipital horns, its level solved for the drawn volume, or a cast of one lateral ventricle),
subarachnoid (blood filling the CSF of the basal cisterns, a sylvian fissure or convexity
sulci), subdural (crescent against the inner table over a convexity, crossing sutures but
not the midline or below the tentorium) and epidural (biconvex lens stopped by the sutures).
Drawn volumes run from about 0.5 to 80 mL, skewed small; big bleeds push the brain (a
displacement field applied to brain coordinates only, giving effacement and midline shift).
Bleed volumes are measured on a fine grid from the same level functions that paint them.
Early ischaemia lowers grey matter more than white in the labelled ASPECTS regions of one
side (mean drop of the drawn delta, 2-6 HU); region boundaries do not move. ASPECTS regions:
C, L, IC and I are the caudate, lentiform, capsule and insular-ribbon tissue; M1-M6 are MCA
cortex with subcortical white matter in anterior/lateral/posterior sectors about the
sylvian region at the ganglionic level (M1-M3) and above it (M4-M6). Mimics: choroid, pineal,
pallidal and falcine calcification, hyperdense MCA or basilar segment, streaks from the skull
base or dental work, and residual iodinated contrast in vessels, sinuses and choroid.

Physics
-------
Each slice integrates odd-numbered sub-slices with a flat-topped slice-sensitivity profile;
in plane, each structure's level function gives its area fraction over a pixel-wide edge.
Beam hardening is modelled in projection space: a bone-path sinogram of each slice (a cached
sparse projector on a coarse grid) suffers a quadratic loss of attenuation, whose filtered
back-projection adds cupping under the inner table and dark bands between dense structures.
A kernel MTF (soft, standard or sharp, the sharp one with edge overshoot) blurs each slice.
Noise is ramp-shaped (NPS proportional to frequency times the MTF squared), scaled by a map
of projection variance back-projected from the slice's attenuation, so it is correlated,
rises centrally and at the skull base and averages 3-6 HU in brain. Output is int16 HU with
-1024 outside the reconstruction circle; geometry follows the drawn pose (pitch +-15 deg, roll
and yaw +-8 deg), field of view, slice thickness and foramen-magnum-to-vertex coverage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage, sparse
from scipy.interpolate import CubicSpline, PchipInterpolator

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
)

FAMILY = "coronal"

Arr = NDArray[Any]

TISSUES: tuple[str, ...] = (
    "air", "fat", "soft_tissue", "muscle", "bone", "diploe", "petrous", "csf", "ventricle",
    "grey", "white", "caudate", "putamen", "pallidum", "thalamus", "internal_capsule", "insula",
    "hippocampus", "brainstem", "cerebellum", "choroid_plexus", "pineal", "pituitary", "dura",
    "venous_sinus", "artery", "globe", "lens", "blood", "oedema", "calcification",
)
"""Tissue classes of the tissue map (uint8 index into this tuple)."""

_T = {name: i for i, name in enumerate(TISSUES)}
_PARENCHYMA = ("grey", "white", "insula", "caudate", "putamen", "pallidum", "internal_capsule",
               "thalamus")
_ISCH_FACTOR = {"grey": 1.15, "insula": 1.15, "white": 0.85, "internal_capsule": 0.85,
                "caudate": 1.0, "putamen": 1.0, "pallidum": 1.0}
_KERNELS = {"soft": ("H30s", "J30s", "SOFT", "FC20"),
            "standard": ("Hr38", "H40s", "STANDARD", "UB"),
            "sharp": ("Hr44", "H45s", "FC26", "Hr49")}
_NTH = 48  # angular samples of a star table
_DY = 1.0  # y step of loft tables, mm
_BIG = np.float32(1.0e3)
_MU_WATER = 0.0195  # linear attenuation of water at the effective energy, 1/mm
_FILL = -1024
_ALL = (slice(None), slice(None), slice(None))


# --------------------------------------------------------------------------------------------
# The coronal atlas (mm from the AC; u = distance from the midline on the structure's side).
# Star stations: (y, cu, cz, radii...) with 8 radii at 0, 45, ..., 315 deg (0 = lateral,
# 90 = up) for paired structures, or 7 radii at -90, -60, ..., 90 deg for midline ones.
# Ellipse stations: (y, cu, cz, a, b, phi): semi-axis a along phi (deg from lateral towards
# up), b across it.
# --------------------------------------------------------------------------------------------

_HALF = "half"
_FULL = "full"

_STARS: dict[str, tuple[str, float, float, tuple[tuple[float, ...], ...]]] = {
    # name: (kind, front cap, back cap, stations)
    "cerebrum": (_HALF, 8.0, 10.0, (
        (-64, 0, 14, 16, 18, 22, 25, 26, 26, 25),       # frontal pole
        (-50, 0, 14, 26, 30, 39, 45, 47, 46, 45),
        (-28, 0, 14, 31, 35, 48, 57, 60, 58, 56),       # genu
        (-8, 0, 14, 29, 33, 46, 62, 64, 61, 58),
        (0, 0, 14, 29, 33, 46, 64, 65, 62, 59),         # anterior commissure
        (14, 0, 14, 30, 34, 47, 66, 66, 62, 59),        # mammillary bodies
        (34, 0, 14, 33, 38, 52, 67, 67, 63, 59),        # pulvinar
        (50, 0, 16, 36, 44, 58, 66, 65, 60, 56),        # splenium
        (72, 0, 18, 40, 47, 62, 58, 56, 53, 50),
        (90, 0, 20, 32, 36, 42, 40, 38, 36, 33),        # occipital pole
    )),
    "temporal": (_FULL, 6.0, 12.0, (
        (-24, 36, -26, 5, 5, 5, 5, 5, 5, 5, 5),         # temporal pole
        (-14, 40, -25, 13, 12, 10, 11, 12, 12, 12, 13),
        (0, 43, -22, 19, 15, 14, 15, 16, 15, 15, 17),
        (16, 44, -20, 21, 17, 15, 16, 18, 16, 17, 19),
        (32, 45, -17, 21, 18, 16, 16, 17, 16, 17, 19),
        (48, 46, -13, 20, 17, 15, 15, 15, 15, 17, 18),
        (64, 45, -9, 16, 14, 12, 12, 12, 12, 14, 15),
    )),
    "brainstem": (_HALF, 5.0, 4.0, (
        (14, 0, -30, 10, 9, 9, 9, 9, 9, 9),
        (22, 0, -32, 36, 18, 16, 15, 15, 16, 24),
        (32, 0, -32, 40, 19, 17, 16, 15, 16, 22),
        (40, 0, -40, 32, 18, 11, 10, 9, 8, 8),
    )),
    "cerebellum": (_FULL, 8.0, 6.0, (
        (42, 18, -38, 12, 13, 14, 12, 9, 10, 11, 12),
        (52, 22, -36, 22, 26, 28, 22, 16, 16, 18, 20),
        (64, 24, -35, 25, 29, 30, 24, 20, 18, 19, 22),
        (78, 22, -33, 22, 25, 27, 21, 18, 15, 16, 19),
        (88, 16, -31, 13, 15, 16, 13, 12, 10, 10, 11),
    )),
    "vermis": (_HALF, 4.0, 6.0, (
        (44, 0, -30, 10, 9, 8, 7, 7, 6, 6),
        (62, 0, -34, 22, 18, 12, 10, 14, 22, 30),
        (82, 0, -34, 18, 14, 10, 9, 11, 16, 20),
    )),
    "basal_filler": (_HALF, 4.0, 4.0, (
        (-14, 0, -24, 4, 5, 6, 6, 5, 4, 4),
        (0, 0, -24, 8, 10, 14, 15, 12, 8, 6),
        (12, 0, -26, 9, 10, 12, 12, 10, 8, 8),
    )),
    "caudate": (_FULL, 4.0, 6.0, (
        (-24, 11, 8, 3, 3, 3, 2, 2, 2, 3, 3),
        (-14, 13, 9, 6, 7, 7, 5, 3.5, 4, 6, 6),
        (0, 14, 13, 4.5, 4.5, 4, 3, 3, 3, 3.5, 4),
        (14, 16, 18, 3, 3, 2.5, 2, 2, 2, 2, 3),
        (30, 19, 19, 2, 2, 2, 1.5, 1.5, 1.5, 1.5, 2),
    )),
    "putamen": (_FULL, 4.0, 4.0, (
        (-20, 20, 6, 3, 3, 3, 2, 2, 2, 3, 3),
        (-10, 22, 4, 5, 7, 10, 6, 4, 5, 8, 6),
        (2, 24.5, 2, 5, 7, 11, 6, 4.5, 5, 8, 6),
        (14, 26, 1, 4, 5, 8, 5, 4, 4, 6, 4.5),
        (22, 27, 2, 2.5, 3, 4, 3, 2.5, 2.5, 3, 2.5),
    )),
    "pallidum": (_FULL, 3.0, 3.0, (
        (-6, 18, 0, 2, 2, 2, 2, 2, 2, 2, 2),
        (3, 18.5, -0.5, 3, 3.5, 5, 3, 2.5, 3, 4.5, 3.5),
        (12, 19.5, -0.5, 2.5, 3, 4, 2.5, 2, 2.5, 3.5, 3),
    )),
    "thalamus": (_FULL, 3.0, 5.0, (
        (2, 7, 7, 3, 3, 3, 2, 2, 2, 3, 3),
        (12, 8.5, 7, 8, 8, 7, 5, 5, 5, 7, 7),
        (24, 10.5, 7, 8.5, 8, 7, 6, 7, 6, 7, 7),
        (32, 13, 6, 6, 6, 6, 6, 8, 6, 5, 5),
    )),
    "hippocampus": (_FULL, 3.0, 5.0, (
        (4, 27, -19, 3, 3, 3, 3, 3, 3, 3, 3),
        (16, 27, -17, 6, 4.5, 4, 4, 5, 4.5, 4, 5),
        (30, 25, -9, 4.5, 4, 3.5, 3.5, 4, 4, 4, 4.5),
    )),
    "lateral_ventricle": (_FULL, 3.0, 5.0, (
        (-32, 7, 11, 2, 2, 2, 2, 1.5, 2, 2, 2),
        (-22, 8, 12, 5, 6, 7, 5, 6.7, 5, 5, 4),         # frontal horn at the genu
        (-6, 9, 16, 6, 5, 4, 4, 7.7, 4, 3, 3),          # body
        (14, 11, 19, 7, 4, 3.5, 3.5, 9.5, 3, 2.5, 3),
        (36, 21, 14, 8, 9, 9, 8, 8, 8, 10, 9),          # atrium
        (50, 24, 10, 4, 4, 5, 4, 4, 4, 4, 4),           # occipital horn
        (64, 23, 8, 2, 2, 2, 2, 2, 2, 2, 2),
    )),
    "fourth_ventricle": (_HALF, 2.0, 2.0, (
        (38, 0, -37, 3, 3, 3, 4, 3, 3, 3),
        (43, 0, -38, 5, 6, 7, 8, 7, 5, 4),
        (48, 0, -37, 3, 4, 5, 5, 4, 3, 2),
    )),
    "choroid_glomus": (_FULL, 2.0, 2.0, (
        (31, 20, 12, 2, 2, 2, 2, 2, 2, 2, 2),
        (37, 21, 12, 4.5, 4, 3.5, 3.5, 4, 4, 4.5, 4.5),
        (44, 22, 11, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5),
    )),
    "pineal": (_HALF, 2.0, 2.0, (
        (32, 0, 3, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5),
        (36, 0, 3, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5),
    )),
    "pituitary": (_HALF, 2.0, 2.0, (
        (0, 0, -27, 3, 4, 5, 6, 5, 4, 3),
        (8, 0, -27, 3, 4, 5, 6, 5, 4, 3),
    )),
    "cavernous": (_FULL, 2.0, 2.0, (
        (-2, 12, -26, 4, 4, 4, 4, 3, 4, 4, 4),
        (12, 12, -26, 5, 5, 5, 4, 3, 4, 5, 5),
    )),
    "face": (_HALF, 4.0, 10.0, (
        (-96, 0, -40, 8, 8, 10, 10, 8, 6, 5),
        (-84, 0, -45, 30, 32, 30, 34, 36, 34, 30),
        (-66, 0, -50, 38, 44, 56, 62, 58, 48, 42),
        (-40, 0, -55, 40, 52, 64, 68, 66, 56, 45),
        (-10, 0, -60, 38, 50, 62, 66, 66, 58, 50),
        (15, 0, -62, 34, 44, 54, 56, 56, 50, 44),
    )),
    "neck": (_HALF, 10.0, 12.0, (
        (-5, 0, -85, 20, 25, 30, 35, 40, 40, 40),
        (30, 0, -85, 25, 40, 50, 55, 56, 52, 48),
        (70, 0, -85, 25, 40, 52, 58, 58, 52, 45),
        (100, 0, -80, 15, 25, 35, 40, 40, 35, 30),
    )),
    "orbit": (_FULL, 2.0, 3.0, (
        (-72, 33, -32, 19, 18, 17, 18, 19, 18, 17, 18),
        (-50, 27, -32, 16, 15, 15, 14, 13, 14, 15, 15),
        (-35, 21, -31, 9, 9, 9, 8, 8, 8, 9, 9),
        (-24, 15, -30, 3, 3, 3, 3, 3, 3, 3, 3),
    )),
    "globe": (_FULL, 6.0, 6.0, (
        (-70, 32, -32, 10, 10, 10, 10, 10, 10, 10, 10),
        (-64, 32, -32, 12, 12, 12, 12, 12, 12, 12, 12),
        (-58, 32, -32, 10, 10, 10, 10, 10, 10, 10, 10),
    )),
    "lens": (_FULL, 1.0, 1.0, (
        (-75, 32, -32, 4, 4, 4, 4, 4, 4, 4, 4),
        (-73, 32, -32, 4, 4, 4, 4, 4, 4, 4, 4),
    )),
    "ethmoid": (_HALF, 3.0, 3.0, (
        (-70, 0, -30, 10, 11, 11, 10, 10, 8, 6),
        (-45, 0, -32, 12, 12, 12, 11, 11, 9, 7),
        (-28, 0, -32, 10, 10, 10, 9, 9, 8, 6),
    )),
    "nasal": (_HALF, 4.0, 4.0, (
        (-86, 0, -62, 14, 12, 10, 10, 10, 12, 14),
        (-50, 0, -62, 18, 16, 14, 15, 14, 14, 16),
        (-10, 0, -62, 16, 14, 12, 12, 12, 12, 12),
    )),
    "maxillary": (_FULL, 4.0, 4.0, (
        (-72, 25, -62, 10, 10, 10, 10, 8, 10, 10, 10),
        (-55, 27, -60, 15, 15, 14, 13, 9, 13, 15, 15),
        (-38, 25, -58, 11, 11, 11, 10, 8, 10, 11, 11),
    )),
    "nasopharynx": (_HALF, 4.0, 4.0, (
        (-6, 0, -70, 12, 12, 12, 12, 10, 8, 6),
        (12, 0, -70, 10, 10, 10, 10, 8, 6, 5),
    )),
    "sphenoid_body": (_HALF, 3.0, 3.0, (
        (-24, 0, -38, 12, 14, 16, 16, 14, 12, 12),
        (-6, 0, -40, 16, 18, 20, 20, 18, 16, 14),
        (8, 0, -40, 14, 16, 18, 17, 15, 13, 14),
    )),
    "sphenoid_sinus": (_HALF, 3.0, 3.0, (
        (-20, 0, -38, 8, 10, 11, 11, 10, 8, 8),
        (-6, 0, -40, 11, 13, 15, 15, 13, 11, 10),
        (4, 0, -41, 9, 11, 12, 12, 10, 8, 7),
    )),
    "mastoid": (_FULL, 5.0, 5.0, (
        (20, 48, -40, 8, 8, 8, 8, 8, 8, 8, 8),
        (32, 52, -44, 12, 12, 11, 10, 9, 10, 13, 13),
        (44, 50, -46, 8, 8, 8, 8, 8, 8, 8, 8),
    )),
}

_ELLIPSES: dict[str, tuple[bool, float, float, tuple[tuple[float, ...], ...]]] = {
    # name: (paired, front cap, back cap, stations (y, cu, cz, a, b, phi))
    "sylvian": (True, 4.0, 6.0, (
        (-20, 44, -10, 10, 1.2, 5),
        (-6, 50, -7, 14, 1.6, 5),
        (12, 52, -4, 15, 1.6, 10),
        (30, 54, 2, 13, 1.4, 18),
        (42, 55, 8, 8, 1.0, 25),
    )),
    "insular_cistern": (True, 4.0, 5.0, (
        (-14, 36, 2, 8, 1.0, 80),
        (0, 37, 5, 13, 1.2, 78),
        (14, 38, 6, 14, 1.2, 78),
        (28, 39, 8, 10, 1.0, 75),
    )),
    "internal_capsule": (True, 4.0, 4.0, (
        (-18, 15.5, 8, 8, 1.5, 75),
        (-6, 17, 7, 12, 2.5, 72),
        (4, 17.5, 5, 13, 3.0, 70),
        (16, 19.5, 4, 13, 3.0, 68),
        (26, 22, 6, 9, 2.5, 65),
    )),
    "temporal_horn": (True, 3.0, 2.0, (
        (2, 31, -18, 2.0, 0.8, 15),
        (16, 30, -15, 4.0, 1.2, 25),
        (30, 28, -6, 5.0, 2.5, 50),
        (38, 25, 3, 5.0, 3.5, 70),
    )),
    "third_ventricle": (False, 2.0, 3.0, (
        (-4, 0, -2, 7, 1.0, 90),
        (10, 0, 2, 11, 2.0, 90),
        (24, 0, 6, 7, 1.5, 90),
    )),
    "clivus": (False, 3.0, 3.0, (
        (2, 0, -32, 11, 7, 0),
        (10, 0, -40, 12, 12, 0),
        (18, 0, -52, 11, 11, 0),
        (24, 0, -62, 9, 6, 0),
    )),
}

_TUBES: dict[str, tuple[bool, str, float, float, tuple[tuple[float, float, float], ...]]] = {
    # name: (paired, tissue, radius at start, radius at end, points (u, y, z))
    "ica": (True, "artery", 2.0, 1.9, ((14, 8, -60), (15, 4, -45), (14, 2, -34), (13, -2, -26),
                                       (12, -4, -18), (11, -3, -13))),
    "mca": (True, "artery", 1.5, 1.3, ((11, -3, -13), (20, -4, -11), (29, -4, -8), (35, -2, -5))),
    "mca_sup": (True, "artery", 1.0, 0.8, ((35, -2, -5), (37, 6, 4), (38, 16, 12), (40, 28, 18))),
    "mca_inf": (True, "artery", 1.0, 0.8, ((35, -2, -5), (38, 8, -3), (41, 20, 0))),
    "aca": (True, "artery", 1.2, 1.1, ((11, -3, -13), (6, -8, -11), (1.8, -12, -9))),
    "pericallosal": (True, "artery", 1.0, 0.8, ((1.8, -12, -9), (1.8, -20, 0), (2.0, -27, 12),
                                                (2.0, -22, 26), (2.0, -5, 30), (2.0, 20, 30))),
    "pcom": (True, "artery", 0.7, 0.7, ((11, -3, -13), (8, 6, -16))),
    "basilar": (False, "artery", 1.8, 1.6, ((0, 12, -62), (0, 8, -45), (0, 6, -30), (0, 8, -18))),
    "pca": (True, "artery", 1.1, 0.9, ((0, 8, -18), (8, 10, -16), (15, 18, -12), (20, 30, -8),
                                       (22, 46, -4), (20, 62, 0))),
    "vertebral": (True, "artery", 1.6, 1.6, ((10, 28, -78), (8, 24, -68), (3, 16, -63),
                                             (0, 12, -62))),
    "sigmoid": (True, "venous_sinus", 3.6, 4.2, ((50, 60, -24), (53, 48, -32), (49, 38, -45),
                                                 (42, 32, -58))),
    "straight": (False, "venous_sinus", 2.4, 2.8, ((0, 40, 7), (0, 48, 6), (0, 70, -3),
                                                   (0, 94, -12))),
    "optic_nerve": (True, "soft_tissue", 2.2, 2.0, ((30, -54, -32), (22, -40, -31),
                                                    (15, -27, -30))),
    "aqueduct": (False, "ventricle", 0.9, 0.9, ((0, 28, -3), (0, 32, -14), (0, 38, -28))),
    "zygoma": (True, "bone", 3.5, 3.0, ((58, -52, -40), (65, -28, -37), (63, -2, -35))),
    "petrous": (True, "petrous", 6.0, 10.0, ((14, 8, -32), (30, 18, -36), (46, 30, -40))),
}


# --------------------------------------------------------------------------------------------
# Loft tables
# --------------------------------------------------------------------------------------------

def _side_bbox(lo: tuple[Arr, Arr], hi: tuple[Arr, Arr], side: int | None
               ) -> tuple[Arr, Arr]:
    """Atlas bbox (mm) of one side (0 right, 1 left) of a per-side loft or, for ``None``, of
    both."""
    if side is None:
        return np.minimum(lo[0], lo[1]), np.maximum(hi[0], hi[1])
    return lo[side], hi[side]


@dataclass(frozen=True)
class _Star:
    """A star loft tabulated for both sides: radius and a distance-normalising factor on a
    (side, y, theta) grid (mm), plus section centres (mm)."""

    half: bool
    y0: float
    ny: int
    rad: Arr  # flat (2 * ny * (NTH + 1),) float32, radius mm
    gain: Arr  # same, 1 / |grad(rho - R)|
    cu: Arr  # (2 * ny,) float32, centre u mm
    cz: Arr  # (2 * ny,) float32, centre z mm
    lo: tuple[Arr, Arr]  # per side: atlas bbox low (x, y, z)
    hi: tuple[Arr, Arr]

    def bbox(self, side: int | None) -> tuple[Arr, Arr]:
        """Atlas bbox (mm) of one side (0 right, 1 left) or, for ``None``, of both."""
        return _side_bbox(self.lo, self.hi, side)


@dataclass(frozen=True)
class _Ellipse:
    """An ellipse loft tabulated per side: columns cu, cz, cos phi, sin phi, m/a, m/b, m."""

    paired: bool
    y0: float
    ny: int
    par: Arr  # (2 * ny, 7) float32
    lo: tuple[Arr, Arr]
    hi: tuple[Arr, Arr]

    def bbox(self, side: int | None) -> tuple[Arr, Arr]:
        """Atlas bbox (mm) of one side or both."""
        return _side_bbox(self.lo, self.hi, side)


@dataclass(frozen=True)
class _Tube:
    """A polyline tube (atlas mm): segment starts, ends, radii at both ends, per side."""

    paired: bool
    tissue: str
    p0: tuple[Arr, Arr]  # per side (n, 3)
    p1: tuple[Arr, Arr]
    r0: Arr  # (n,)
    r1: Arr


def _cap_factor(d: Arr, length: float) -> Arr:
    """Elliptical end-cap profile: radius fraction at distance ``d`` (mm) past an end
    station for a cap of ``length`` mm."""
    return np.sqrt(np.clip(1.0 - (d / max(length, 1e-3)) ** 2, 0.0, 1.0))


def _y_grid(y_first: float, y_last: float, cap_f: float, cap_b: float) -> Arr:
    """The y samples (mm) of a loft table spanning both caps."""
    n = int(math.ceil((y_last + cap_b - (y_first - cap_f)) / _DY)) + 1
    return (y_first - cap_f + _DY * np.arange(n)).astype(np.float64)


def _periodic_radii(radii: Arr, half: bool) -> Arr:
    """Radii (stations, k) at the station angles -> (stations, NTH + 1) on the table's theta
    grid (-pi..pi inclusive) by a periodic cubic spline; half outlines are mirrored."""
    if half:
        mirrored = radii[:, -2:0:-1]  # 60, 30, 0, -30, -60 mapped to 120..240
        vals = np.concatenate([radii, mirrored], axis=1)
        ang = np.radians(np.arange(-90.0, 270.0, 30.0))
    else:
        vals = radii
        ang = np.radians(np.arange(0.0, 360.0, 45.0))
    ang_ext = np.concatenate([ang, [ang[0] + 2 * np.pi]])
    vals_ext = np.concatenate([vals, vals[:, :1]], axis=1)
    spline = CubicSpline(ang_ext, vals_ext, axis=1, bc_type="periodic")
    theta = -np.pi + 2 * np.pi * np.arange(_NTH + 1) / _NTH
    wrapped = ang_ext[0] + np.mod(theta - ang_ext[0], 2 * np.pi)
    out: Arr = np.maximum(np.asarray(spline(wrapped)), 0.05)
    return out


def _build_star(stations: tuple[tuple[float, ...], ...], half: bool, cap_f: float, cap_b: float,
                sides: tuple[Arr, Arr]) -> _Star:
    """Tabulate a star loft. ``sides`` holds, per side, the perturbed station array
    (stations, 3 + k): y, cu, cz, radii (mm)."""
    del stations
    rads, gains, cus, czs, los, his = [], [], [], [], [], []
    base = sides[0]
    y_st = base[:, 0]
    yg = _y_grid(float(y_st[0]), float(y_st[-1]), cap_f, cap_b)
    ny = len(yg)
    dtheta = 2 * np.pi / _NTH
    for st in sides:
        rs = _periodic_radii(st[:, 3:], half)
        inner = np.clip(yg, y_st[0], y_st[-1])
        rad = np.asarray(PchipInterpolator(y_st, rs, axis=0)(inner))
        cu = np.asarray(PchipInterpolator(y_st, st[:, 1])(inner))
        cz = np.asarray(PchipInterpolator(y_st, st[:, 2])(inner))
        fac = np.ones(ny)
        front = yg < y_st[0]
        back = yg > y_st[-1]
        fac[front] = _cap_factor(y_st[0] - yg[front], cap_f)
        fac[back] = _cap_factor(yg[back] - y_st[-1], cap_b)
        rad = np.maximum(rad * fac[:, None], 0.0)
        r_y = np.gradient(rad, _DY, axis=0)
        r_t = np.gradient(rad, dtheta, axis=1)
        gain = 1.0 / np.sqrt(1.0 + r_y ** 2 + (r_t / np.maximum(rad, 2.0)) ** 2)
        gain = np.clip(gain, 0.25, 1.0)
        rads.append(rad.astype(np.float32).ravel())
        gains.append(gain.astype(np.float32).ravel())
        cus.append(cu.astype(np.float32))
        czs.append(cz.astype(np.float32))
        theta = -np.pi + dtheta * np.arange(_NTH + 1)
        ux = cu[:, None] + rad * np.cos(theta)[None, :]
        uz = cz[:, None] + rad * np.sin(theta)[None, :]
        los.append((float(ux.min()), float(yg[0]), float(uz.min())))
        his.append((float(ux.max()), float(yg[-1]), float(uz.max())))
    lo_s, hi_s = [], []
    for side in (0, 1):
        sign = 1.0 if side == 1 else -1.0
        if half:
            umax = max(abs(los[side][0]), abs(his[side][0]))
            xs = (-umax, umax)
        else:
            xs = (sign * los[side][0], sign * his[side][0])
        lo_s.append(np.array([min(xs), los[side][1], los[side][2]], dtype=np.float64))
        hi_s.append(np.array([max(xs), his[side][1], his[side][2]], dtype=np.float64))
    return _Star(half=half, y0=float(yg[0]), ny=ny, rad=np.concatenate(rads),
                 gain=np.concatenate(gains), cu=np.concatenate(cus), cz=np.concatenate(czs),
                 lo=(lo_s[0], lo_s[1]), hi=(hi_s[0], hi_s[1]))


def _build_ellipse(paired: bool, cap_f: float, cap_b: float, sides: tuple[Arr, Arr]) -> _Ellipse:
    """Tabulate an ellipse loft from per-side station arrays (y, cu, cz, a, b, phi)."""
    y_st = sides[0][:, 0]
    yg = _y_grid(float(y_st[0]), float(y_st[-1]), cap_f, cap_b)
    ny = len(yg)
    pars, los, his = [], [], []
    for side, st in enumerate(sides):
        inner = np.clip(yg, y_st[0], y_st[-1])
        cols = [np.interp(inner, y_st, st[:, k]) for k in range(1, 6)]
        cu, cz, a, b, phi = cols
        fac = np.ones(ny)
        front = yg < y_st[0]
        back = yg > y_st[-1]
        fac[front] = _cap_factor(y_st[0] - yg[front], cap_f)
        fac[back] = _cap_factor(yg[back] - y_st[-1], cap_b)
        a = np.maximum(a, 0.05)
        b = np.maximum(b, 0.05)
        m = np.minimum(a, b)
        ph = np.radians(phi)
        par = np.stack([cu, cz, np.cos(ph), np.sin(ph), m / a, m / b, m * fac], axis=1)
        pars.append(par.astype(np.float32))
        ext = np.maximum(a, b)
        sign = 1.0 if side == 1 else -1.0
        if paired:
            xs = (sign * float((cu - ext).min()), sign * float((cu + ext).max()))
        else:
            e = float(ext.max() + np.abs(cu).max())
            xs = (-e, e)
        los.append(np.array([min(xs), yg[0], float((cz - ext).min())]))
        his.append(np.array([max(xs), yg[-1], float((cz + ext).max())]))
    return _Ellipse(paired=paired, y0=float(yg[0]), ny=ny, par=np.concatenate(pars, axis=0),
                    lo=(los[0], los[1]), hi=(his[0], his[1]))


def _lerp_index(y: Arr, y0: float, ny: int) -> tuple[Arr, Arr, Arr]:
    """Row index, weight and out-of-range distance (mm) of ``y`` on a loft table."""
    fy = (y - np.float32(y0)) * np.float32(1.0 / _DY)
    fc = np.clip(fy, 0.0, ny - 1.001)
    iy = fc.astype(np.int32)
    wy = (fc - iy).astype(np.float32)
    out = np.abs(fy - fc).astype(np.float32) * np.float32(_DY)
    return iy, wy, out


def _star_level(tab: _Star, x: Arr, y: Arr, z: Arr, side: int | None) -> Arr:
    """Approximate signed distance (atlas mm, negative inside) to a star loft. ``side`` 0/1
    evaluates that side's copy of a paired structure; ``None`` a midline one (|x|)."""
    iy, wy, out = _lerp_index(y, tab.y0, tab.ny)
    if side is None:
        u = np.abs(x)
        row = iy + (x >= 0).astype(np.int32) * tab.ny
    else:
        u = x if side == 1 else -x
        row = iy + side * tab.ny
    cu = tab.cu[row] * (1 - wy) + tab.cu[row + 1] * wy
    cz = tab.cz[row] * (1 - wy) + tab.cz[row + 1] * wy
    du = u - cu
    dz = z - cz
    rho = np.sqrt(du * du + dz * dz)
    ft = (np.arctan2(dz, du) + np.float32(np.pi)) * np.float32(_NTH / (2 * np.pi))
    it = np.minimum(ft.astype(np.int32), _NTH - 1)
    wt = (ft - it).astype(np.float32)
    stride = _NTH + 1
    i00 = row * stride + it
    i10 = i00 + stride
    w00 = (1 - wy) * (1 - wt)
    w01 = (1 - wy) * wt
    w10 = wy * (1 - wt)
    w11 = wy * wt
    rad = (tab.rad[i00] * w00 + tab.rad[i00 + 1] * w01 + tab.rad[i10] * w10
           + tab.rad[i10 + 1] * w11)
    gain = (tab.gain[i00] * w00 + tab.gain[i00 + 1] * w01 + tab.gain[i10] * w10
            + tab.gain[i10 + 1] * w11)
    raw = rho - rad
    level = raw * (gain + (1 - gain) * np.clip(np.abs(raw) * np.float32(0.1), 0.0, 1.0))
    return _past_ends(level, raw, out)


def _past_ends(level: Arr, raw: Arr, out: Arr) -> Arr:
    """Beyond a loft's end caps the level is the distance to the end section's rim."""
    beyond = out > 0
    if not beyond.any():
        return level
    res: Arr = np.where(beyond, np.sqrt(np.maximum(raw, 0.0) ** 2 + out * out), level)
    return res


def _ellipse_level(tab: _Ellipse, x: Arr, y: Arr, z: Arr, side: int | None) -> Arr:
    """Approximate signed distance (atlas mm) to an ellipse loft (``side`` as for stars)."""
    iy, wy, out = _lerp_index(y, tab.y0, tab.ny)
    if side is None:
        u = np.abs(x)
        row = iy + (x >= 0).astype(np.int32) * tab.ny
    else:
        u = x if side == 1 else -x
        row = iy + side * tab.ny
    p = tab.par[row] * (1 - wy)[..., None] + tab.par[row + 1] * wy[..., None]
    du = u - p[..., 0]
    dz = z - p[..., 1]
    pa = du * p[..., 2] + dz * p[..., 3]
    pb = dz * p[..., 2] - du * p[..., 3]
    level = np.sqrt((pa * p[..., 4]) ** 2 + (pb * p[..., 5]) ** 2) - p[..., 6]
    return _past_ends(level, level, out)


def _tube_level(tube: _Tube, side: int, x: Arr, y: Arr, z: Arr, seg: int) -> Arr:
    """Distance (atlas mm) to one tapered segment of a tube, minus its radius."""
    a = tube.p0[side][seg]
    b = tube.p1[side][seg]
    d = b - a
    dd = float(d @ d) or 1.0
    px = x - np.float32(a[0])
    py = y - np.float32(a[1])
    pz = z - np.float32(a[2])
    t = np.clip((px * np.float32(d[0]) + py * np.float32(d[1]) + pz * np.float32(d[2]))
                * np.float32(1.0 / dd), 0.0, 1.0)
    ex = px - t * np.float32(d[0])
    ey = py - t * np.float32(d[1])
    ez = pz - t * np.float32(d[2])
    r = np.float32(tube.r0[seg]) + t * np.float32(tube.r1[seg] - tube.r0[seg])
    out: Arr = np.sqrt(ex * ex + ey * ey + ez * ez) - r
    return out


def _smin(a: Arr, b: Arr, k: float) -> Arr:
    """Polynomial smooth minimum (union) of two level functions with blend radius ``k`` mm."""
    h = np.clip(np.float32(k) - np.abs(a - b), 0.0, None) * np.float32(1.0 / k)
    out: Arr = np.minimum(a, b) - h * h * np.float32(k * 0.25)
    return out


def _smoothstep(x: Arr) -> Arr:
    """Cubic smoothstep of ``x`` clipped to [0, 1]."""
    t = np.clip(x, 0.0, 1.0)
    out: Arr = t * t * (3.0 - 2.0 * t)
    return out


# --------------------------------------------------------------------------------------------
# The head model drawn per seed
# --------------------------------------------------------------------------------------------

@dataclass
class _Head:
    """Everything about one seed's head: atlas tables, frame warp, tissue HU, parameters."""

    seed: int
    scale: Arr  # (3,) head mm per atlas mm along x, y, z
    warp: Arr  # (3, 9) polynomial warp coefficients, atlas mm
    stars: dict[str, _Star]
    ellipses: dict[str, _Ellipse]
    tubes: dict[str, _Tube]
    gyri: tuple[Arr, Arr]  # per hemisphere (n_el, n_az + 1) distance-to-sulcus tables, mm
    hu: dict[str, float]
    params: dict[str, Any]

    @property
    def mean_scale(self) -> float:
        """Geometric mean of the three head scales."""
        return float(np.prod(self.scale) ** (1.0 / 3.0))


_WARP_CENTRE = np.array([0.0, 15.0, 5.0])


def _to_atlas(head: _Head, x: Arr, y: Arr, z: Arr) -> tuple[Arr, Arr, Arr]:
    """Head-frame mm -> atlas mm: undo the head scales, then add the smooth polynomial warp."""
    ax = x * np.float32(1.0 / head.scale[0])
    ay = y * np.float32(1.0 / head.scale[1])
    az = z * np.float32(1.0 / head.scale[2])
    qx = (ax - np.float32(_WARP_CENTRE[0])) * np.float32(0.01)
    qy = (ay - np.float32(_WARP_CENTRE[1])) * np.float32(0.01)
    qz = (az - np.float32(_WARP_CENTRE[2])) * np.float32(0.01)
    mono = (qx, qy, qz, qx * qx, qy * qy, qz * qz, qx * qy, qx * qz, qy * qz)
    out = []
    for comp, base in enumerate((ax, ay, az)):
        acc = base.copy()
        for k, m in enumerate(mono):
            c = float(head.warp[comp, k])
            if c != 0.0:
                acc += np.float32(c) * m
        out.append(acc)
    return out[0], out[1], out[2]


def _perturb_star(st: Arr, half: bool, rng: np.random.Generator, sd_r: float, sd_c: float,
                  side_gain: float) -> Arr:
    """One side's copy of star stations with per-station radius and centre noise."""
    out = st.copy()
    n = len(st)
    out[:, 3:] *= side_gain * (1.0 + sd_r * rng.standard_normal((n, 1)))
    out[:, 3:] *= 1.0 + 0.5 * sd_r * rng.standard_normal(out[:, 3:].shape)
    if not half:
        out[:, 1] += sd_c * rng.standard_normal(n)
    out[:, 2] += sd_c * rng.standard_normal(n)
    out[:, 3:] = np.maximum(out[:, 3:], 0.3)
    return out


def _ventricle_stations(st: Arr, v: float) -> Arr:
    """Lateral ventricle stations enlarged by ``v``: radii scale, septal (medial) walls stay."""
    out = st.copy()
    medial = st[:, 1] - st[:, 7]
    near = medial < 3.0
    out[:, 3:] *= v
    out[near, 1] = medial[near] + v * st[near, 7]
    return out


_GROUP_SD = {"brain": (0.03, 0.8), "deep": (0.06, 0.6), "ventricle": (0.08, 0.5),
             "face": (0.05, 1.5), "small": (0.08, 0.5)}
_STAR_GROUP = {"cerebrum": "brain", "temporal": "brain", "brainstem": "brain",
               "cerebellum": "brain", "vermis": "brain", "basal_filler": "face",
               "caudate": "deep", "putamen": "deep", "pallidum": "deep", "thalamus": "deep",
               "hippocampus": "deep", "lateral_ventricle": "ventricle",
               "fourth_ventricle": "ventricle", "choroid_glomus": "small", "pineal": "small",
               "pituitary": "small", "cavernous": "small", "face": "face", "neck": "face",
               "orbit": "face", "globe": "small", "lens": "small", "ethmoid": "face",
               "nasal": "face", "maxillary": "face", "nasopharynx": "face",
               "sphenoid_body": "face", "sphenoid_sinus": "face", "mastoid": "face"}


def _gyral_tables(rng: np.random.Generator, wavelength: float) -> tuple[Arr, Arr]:
    """Per hemisphere, a table over (elevation, azimuth) of the distance (mm on a 62 mm
    sphere) to the nearest zero line of a band-limited random-wave field: the sulcal map."""
    r_ref = 62.0
    n_az, n_el, n_w = 144, 72, 40
    az = np.linspace(-np.pi, np.pi, n_az + 1)
    el = np.linspace(-np.pi / 2, np.pi / 2, n_el)
    ce, se = np.cos(el)[:, None], np.sin(el)[:, None]
    d = np.stack([ce * np.cos(az)[None, :], ce * np.sin(az)[None, :],
                  np.broadcast_to(se, (n_el, n_az + 1))], axis=-1)
    k = 2 * np.pi / wavelength * r_ref
    tables = []
    for _ in range(2):
        w = rng.standard_normal((n_w, 3))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        k_each = k * rng.uniform(0.85, 1.15, n_w)
        phase = rng.uniform(0, 2 * np.pi, n_w)
        amp = rng.standard_normal(n_w)
        arg = np.einsum("ijc,wc->ijw", d, w) * k_each + phase
        g = np.einsum("ijw,w->ij", np.cos(arg), amp)
        grad = -np.einsum("ijw,w,wc->ijc", np.sin(arg), amp * k_each, w)
        grad_t = grad - np.sum(grad * d, axis=-1, keepdims=True) * d
        gmag = np.linalg.norm(grad_t, axis=-1) / r_ref
        dist = np.abs(g) / np.maximum(gmag, 1e-3)
        tables.append(np.clip(dist, 0.0, 25.0).astype(np.float32))
    return tables[0], tables[1]


def _draw_tissue_hu(rng: np.random.Generator) -> dict[str, float]:
    """Drawn HU of every tissue class (blood and calcification are drawn per lesion)."""
    white = rng.uniform(22.0, 30.0)
    grey = float(np.clip(white + rng.uniform(6.0, 12.0), 32.0, 42.0))
    if grey - white < 6.0:
        white = grey - 6.0
    csf = rng.uniform(0.0, 10.0)
    bone = rng.uniform(900.0, 1700.0)
    hu = {
        "air": rng.uniform(-1005.0, -995.0), "fat": rng.uniform(-110.0, -85.0),
        "soft_tissue": rng.uniform(40.0, 60.0), "muscle": rng.uniform(40.0, 60.0),
        "bone": bone, "diploe": rng.uniform(300.0, 800.0),
        "petrous": float(np.clip(bone + rng.uniform(50.0, 400.0), 700.0, 1800.0)),
        "csf": csf, "ventricle": float(np.clip(csf + rng.uniform(-1.0, 1.0), 0.0, 10.0)),
        "grey": grey, "white": white,
        "caudate": float(np.clip(grey + rng.uniform(-3.0, 1.0), 33.0, 42.0)),
        "putamen": float(np.clip(grey + rng.uniform(-3.0, 1.0), 33.0, 42.0)),
        "pallidum": float(np.clip(grey + rng.uniform(-5.0, -1.0), 33.0, 42.0)),
        "thalamus": float(np.clip(grey + rng.uniform(-5.0, -1.0), 33.0, 42.0)),
        "internal_capsule": float(np.clip(white + rng.uniform(-1.0, 1.0), 22.0, 30.0)),
        "insula": grey, "hippocampus": float(np.clip(grey - rng.uniform(0.0, 2.0), 32.0, 42.0)),
        "brainstem": float(np.clip(white + rng.uniform(1.0, 4.0), 22.0, 33.0)),
        "cerebellum": float(np.clip(grey - rng.uniform(0.0, 3.0), 32.0, 42.0)),
        "choroid_plexus": rng.uniform(30.0, 42.0), "pineal": rng.uniform(35.0, 45.0),
        "pituitary": rng.uniform(40.0, 55.0), "dura": rng.uniform(45.0, 60.0),
        "venous_sinus": rng.uniform(40.0, 55.0), "artery": rng.uniform(40.0, 55.0),
        "globe": rng.uniform(5.0, 15.0), "lens": rng.uniform(80.0, 110.0),
        "oedema": rng.uniform(15.0, 25.0),
    }
    return {k: float(v) for k, v in hu.items()}


@lru_cache(maxsize=8)
def _head(seed: int) -> _Head:
    """Draw the head of ``seed``: size, shape, age, atrophy, asymmetry, tissue HU, warp."""
    rng = np.random.default_rng([seed, 11])
    age = float(rng.uniform(25.0, 92.0))
    atrophy = float(np.clip((age - 30.0) / 60.0 * rng.uniform(0.6, 1.35), 0.0, 1.0))
    size = rng.uniform(0.93, 1.06)
    scale = size * np.array([rng.uniform(0.94, 1.06), rng.uniform(0.95, 1.05),
                             rng.uniform(0.96, 1.04)])
    warp = rng.standard_normal((3, 9)) * 1.1
    vent = float(np.clip(0.8 + 0.9 * atrophy + 0.08 * rng.standard_normal(), 0.7, 1.9))
    petalia = rng.uniform(0.0, 0.03)
    side_gain = {0: 1.0 + petalia / 2, 1: 1.0 - petalia / 2}
    stars: dict[str, _Star] = {}
    for name, (kind, cap_f, cap_b, stations) in _STARS.items():
        st = np.array(stations, dtype=np.float64)
        half = kind == _HALF
        if name in ("lateral_ventricle",):
            st = _ventricle_stations(st, vent)
        elif name in ("fourth_ventricle",):
            st[:, 3:] *= 0.6 + 0.4 * vent
        elif name == "choroid_glomus":
            st[:, 1] += 2.0 * (vent - 1.0)
        sd_r, sd_c = _GROUP_SD[_STAR_GROUP[name]]
        gain = side_gain if _STAR_GROUP[name] == "brain" else {0: 1.0, 1: 1.0}
        sides = (_perturb_star(st, half, rng, sd_r, sd_c, gain[0]),
                 _perturb_star(st, half, rng, sd_r, sd_c, gain[1]))
        stars[name] = _build_star(stations, half, cap_f, cap_b, sides)
    widen = {"sylvian": 1.0 + 1.8 * atrophy, "insular_cistern": 1.0 + 1.5 * atrophy,
             "temporal_horn": vent ** 1.5, "third_ventricle": vent ** 2}
    ellipses: dict[str, _Ellipse] = {}
    for name, (paired, cap_f, cap_b, stations) in _ELLIPSES.items():
        st = np.array(stations, dtype=np.float64)
        st[:, 4] *= widen.get(name, 1.0)
        sides_e: list[Arr] = []
        for _ in range(2):
            s2 = st.copy()
            s2[:, 1] += 0.5 * rng.standard_normal(len(st)) * (1.0 if paired else 0.0)
            s2[:, 2] += 0.5 * rng.standard_normal(len(st))
            s2[:, 3] *= 1.0 + 0.05 * rng.standard_normal(len(st))
            s2[:, 4] *= 1.0 + 0.05 * rng.standard_normal(len(st))
            sides_e.append(s2)
        ellipses[name] = _build_ellipse(paired, cap_f, cap_b, (sides_e[0], sides_e[1]))
        if name == "insular_cistern":
            zone = tuple(_insula_zone_stations(s3, 2.6) for s3 in sides_e)
            ellipses["insula_zone"] = _build_ellipse(True, cap_f, cap_b, (zone[0], zone[1]))
    tubes: dict[str, _Tube] = {}
    for name, (paired, tissue, r0, r1, pts) in _TUBES.items():
        p = np.array(pts, dtype=np.float64)
        per_side = []
        for side in (0, 1):
            q = p + 0.6 * rng.standard_normal(p.shape)
            if not paired:
                q[:, 0] = 0.0 + 0.3 * rng.standard_normal(len(p))
            elif side == 0:
                q[:, 0] = -q[:, 0]
            per_side.append(q)
        n = len(p) - 1
        rs = np.linspace(r0, r1, n + 1)
        tubes[name] = _Tube(paired=paired, tissue=tissue,
                            p0=(per_side[0][:-1], per_side[1][:-1]),
                            p1=(per_side[0][1:], per_side[1][1:]), r0=rs[:-1], r1=rs[1:])
    wavelength = float(rng.uniform(17.0, 21.0))
    gyri = _gyral_tables(rng, wavelength)
    hu = _draw_tissue_hu(rng)
    params: dict[str, Any] = {
        "age_years": round(age, 1), "atrophy": round(atrophy, 3),
        "scale": [round(float(s), 4) for s in scale], "ventricle_scale": round(vent, 3),
        "petalia": round(float(petalia), 4),
        "atrophy_offset_mm": round(0.3 + 3.0 * atrophy, 3),
        "sulcal_width_mm": round(0.5 + 2.4 * atrophy + rng.uniform(0.0, 0.4), 3),
        "sulcal_depth_mm": round(7.5 + 4.5 * atrophy + rng.uniform(-1.0, 1.5), 3),
        "cortex_mm": round(float(rng.uniform(2.3, 3.0) - 0.3 * atrophy), 3),
        "gyral_wavelength_mm": round(wavelength, 3),
        "interhemispheric_mm": round(1.0 + 3.0 * atrophy + rng.uniform(0.0, 0.5), 3),
        "dural_gap_mm": round(float(rng.uniform(1.0, 1.6)), 3),
        "skull_mm": round(float(rng.uniform(5.0, 8.5)), 3),
        "scalp_mm": round(float(rng.uniform(3.5, 7.0)), 3),
        "scalp_fat_mm": round(float(rng.uniform(1.5, 4.0)), 3),
        "temporalis_mm": round(float(rng.uniform(5.0, 12.0)), 3),
        "frontal_sinus": round(float(0.0 if rng.random() < 0.12 else rng.uniform(0.3, 1.0)), 3),
        "mastoid_pneumatisation": round(float(rng.uniform(0.3, 1.0)), 3),
        "folia_mm": round(float(rng.uniform(4.0, 5.5)), 3),
    }
    return _Head(seed=seed, scale=scale, warp=warp, stars=stars, ellipses=ellipses, tubes=tubes,
                 gyri=gyri, hu=hu, params=params)


def _insula_zone_stations(cistern: Arr, cortex_mm: float) -> Arr:
    """Stations of the insular-ribbon zone: the cistern's ellipse moved medially across its
    long axis by its half width plus half a cortex, a little longer, a cortex-and-a-bit thick."""
    out = cistern.copy()
    phi = np.radians(cistern[:, 5])
    shift = cistern[:, 4] + 0.5 * cortex_mm + 0.4
    out[:, 1] = cistern[:, 1] - shift * np.sin(phi)
    out[:, 2] = cistern[:, 2] + shift * np.cos(phi)
    out[:, 3] = cistern[:, 3] + 2.0
    out[:, 4] = 0.5 * cortex_mm + 1.6
    return out


# --------------------------------------------------------------------------------------------
# Scan geometry
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Scan:
    """Per-scan acquisition: pose, geometry, kernel, noise and beam hardening."""

    rot: Arr  # (3, 3) head -> scanner rotation
    trans: Arr  # (3,) scanner mm of the head origin
    pitch: float
    roll: float
    yaw: float
    fov: float
    thickness: float
    n_sub: int
    z0: float  # scanner z of the centre of slice 0, mm
    nz: int
    kernel_class: str
    kernel: str
    noise_sd: float
    bh_beta: float
    gravity: Arr  # unit vector of gravity in the head frame


def _rotation(pitch: float, roll: float, yaw: float) -> Arr:
    """Head -> scanner rotation: yaw about z, roll about y, pitch about x (degrees); positive
    pitch tips the vertex anteriorly (flexion)."""
    p, r, w = np.radians([pitch, roll, yaw])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(r), 0, np.sin(r)], [0, 1, 0], [-np.sin(r), 0, np.cos(r)]])
    rz = np.array([[np.cos(w), -np.sin(w), 0], [np.sin(w), np.cos(w), 0], [0, 0, 1]])
    out: Arr = rz @ ry @ rx
    return out


def _draw_scan(seed: int, head: _Head) -> _Scan:
    """Draw pose, FOV, slice thickness, coverage, kernel, noise and beam-hardening strength."""
    rng = np.random.default_rng([seed, 22])
    pitch = float(rng.uniform(-15.0, 15.0))
    roll = float(rng.uniform(-8.0, 8.0))
    yaw = float(rng.uniform(-8.0, 8.0))
    rot = _rotation(pitch, roll, yaw)
    s = head.scale
    centre = np.array([0.0, 8.0 * s[1], 0.0])
    offset = np.array([rng.uniform(-8.0, 8.0), rng.uniform(-10.0, 10.0), rng.uniform(-40, 40)])
    trans = offset - rot @ centre
    fov = float(rng.uniform(220.0, 250.0))
    thickness = float(rng.choice([2.5, 3.0, 3.75, 4.0, 4.8, 5.0]))
    n_sub = 3
    # Foramen magnum and the skin over the vertex, in scanner z.
    fm = rot @ (np.array([0.0, 40.0, -62.0]) * s) + trans
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    el = np.radians(np.linspace(20, 90, 8))
    pts = []
    for e in el:
        for a in t:
            pts.append([82 * np.cos(e) * np.cos(a), 12 + 100 * np.cos(e) * np.sin(a),
                        4 + 86 * np.sin(e)])
    skin = (rot @ (np.array(pts) * s).T).T + trans
    bottom = float(fm[2] - rng.uniform(0.0, 18.0))
    top = float(skin[:, 2].max() + rng.uniform(-4.0, 22.0))
    coverage = float(np.clip(top - bottom, 120.0, 210.0))
    nz = int(round(coverage / thickness))
    z0 = bottom + thickness / 2
    kclass = str(rng.choice(["soft", "standard", "standard", "sharp"]))
    kernel = str(rng.choice(_KERNELS[kclass]))
    gravity = rot.T @ np.array([0.0, 1.0, 0.0])
    return _Scan(rot=rot, trans=trans, pitch=pitch, roll=roll, yaw=yaw, fov=fov,
                 thickness=thickness, n_sub=n_sub, z0=z0, nz=nz, kernel_class=kclass,
                 kernel=kernel, noise_sd=float(rng.uniform(3.0, 6.0)),
                 bh_beta=float(rng.uniform(0.6, 1.4)), gravity=gravity)


# --------------------------------------------------------------------------------------------
# Sampling grids
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Grid:
    """A regular grid: head-frame mm = ``off + mat @ (k, i, j)``."""

    shape: tuple[int, int, int]
    mat: Arr  # (3, 3) columns: head mm per step of k, i, j
    off: Arr  # (3,)

    def coords(self) -> tuple[Arr, Arr, Arr]:
        """Head-frame x, y, z (float32 mm) of every grid point."""
        k = np.arange(self.shape[0], dtype=np.float32)[:, None, None]
        i = np.arange(self.shape[1], dtype=np.float32)[None, :, None]
        j = np.arange(self.shape[2], dtype=np.float32)[None, None, :]
        out = []
        for c in range(3):
            m = self.mat[c].astype(np.float32)
            arr = np.float32(self.off[c]) + m[0] * k + m[1] * i + m[2] * j
            out.append(np.ascontiguousarray(np.broadcast_to(arr, self.shape), dtype=np.float32))
        return out[0], out[1], out[2]

    def block(self, lo: Arr, hi: Arr) -> tuple[slice, slice, slice] | None:
        """Index slices covering the head-frame box [lo, hi] (mm), or None when empty."""
        inv = np.linalg.inv(self.mat)
        corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])
                            for c in (lo[2], hi[2])])
        idx = (inv @ (corners - self.off).T).T
        lo_i = np.floor(idx.min(axis=0)).astype(int)
        hi_i = np.ceil(idx.max(axis=0)).astype(int) + 1
        sl = []
        for d in range(3):
            a = max(int(lo_i[d]), 0)
            b = min(int(hi_i[d]), self.shape[d])
            if b <= a:
                return None
            sl.append(slice(a, b))
        return sl[0], sl[1], sl[2]

    def sub(self, sl: tuple[slice, slice, slice]) -> _Grid:
        """The sub-grid selected by ``sl``."""
        start = np.array([s.start for s in sl], dtype=np.float64)
        shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start, sl[2].stop - sl[2].start)
        return _Grid(shape=shape, mat=self.mat, off=self.off + self.mat @ start)


def _atlas_box_to_head(head: _Head, lo: Arr, hi: Arr, pad: float = 5.0) -> tuple[Arr, Arr]:
    """Head-frame box (mm) that contains an atlas box after the warp (padded)."""
    s = head.scale
    a = np.minimum(lo * s, hi * s) - pad * s
    b = np.maximum(lo * s, hi * s) + pad * s
    return a, b


# --------------------------------------------------------------------------------------------
# Pathology drawing
# --------------------------------------------------------------------------------------------

@dataclass
class _Bleed:
    """One haemorrhage: kind, where, how big and how it looks (atlas frame)."""

    kind: str
    hu: float
    side: str
    centre: Arr  # atlas mm
    target_ml: float
    info: dict[str, Any] = field(default_factory=dict)
    axes: Arr = field(default_factory=lambda: np.eye(3))  # rows: unit axes (IPH)
    radii: Arr = field(default_factory=lambda: np.ones(3))  # IPH semi-axes, mm
    lobes: Arr = field(default_factory=lambda: np.zeros((0, 5)))  # IPH boundary lobes
    normal: Arr = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))  # SDH/EDH direction
    gamma_max: float = 0.5  # SDH/EDH angular half-extent, rad
    t_max: float = 1.0  # SDH/EDH maximal thickness, mm
    level0: float = 0.0  # IVH dependent level along gravity, mm
    rim_mm: float = 0.0
    oedema_hu: float = 20.0
    fluid: float = 0.0  # HU added below a fluid level (0: none)
    fluid_at: float = 0.0  # fluid level along gravity from the centre, mm
    swirl: float = 0.0  # HU removed in swirls (0: none)
    push: float = 0.0  # mass effect amplitude, mm
    shift: float = 0.0  # midline shift, mm
    bbox: tuple[Arr, Arr] = field(default_factory=lambda: (np.zeros(3), np.zeros(3)))


@dataclass
class _Pathology:
    """The pathology of one label on one head."""

    bleeds: list[_Bleed]
    isch_delta: float | None
    isch_side: str
    isch_regions: tuple[str, ...]
    mimics: dict[str, dict[str, Any]]
    gravity: Arr


_HEAD_CENTRE = np.array([0.0, 12.0, 14.0])
_SDH_R = 70.0  # nominal endocranial radius for extent formulas, mm


def _lognormal_ml(rng: np.random.Generator, median: float, hi: float) -> float:
    """A bleed volume (mL): log-normal about ``median``, clipped to [0.5, hi]."""
    return float(np.clip(median * math.exp(1.0 * rng.standard_normal()), 0.5, hi))


def _draw_iph(rng: np.random.Generator) -> _Bleed:
    """An intraparenchymal bleed: lobar, deep, cerebellar or pontine."""
    site = str(rng.choice(["lobar", "deep", "cerebellar", "pontine"], p=[0.4, 0.35, 0.15, 0.1]))
    side_sign = 1.0 if rng.random() < 0.5 else -1.0
    c: tuple[float, ...]
    if site == "lobar":
        lobe = str(rng.choice(["frontal", "parietal", "temporal", "occipital"]))
        c = {"frontal": (32, -36, 24), "parietal": (36, 36, 40), "temporal": (46, 12, -18),
             "occipital": (26, 74, 14)}[lobe]
        ml = _lognormal_ml(rng, 14.0, 80.0)
        detail = lobe
    elif site == "deep":
        nucleus = str(rng.choice(["putamen", "thalamus"], p=[0.6, 0.4]))
        c = (24.0, 2.0, 3.0) if nucleus == "putamen" else (11.0, 18.0, 7.0)
        ml = _lognormal_ml(rng, 10.0, 60.0 if nucleus == "putamen" else 25.0)
        detail = nucleus
    elif site == "cerebellar":
        c = (24.0, 64.0, -38.0)
        ml = _lognormal_ml(rng, 6.0, 30.0)
        detail = "hemisphere"
    else:
        c, side_sign = (0.0, 24.0, -33.0), 0.0
        ml = _lognormal_ml(rng, 2.0, 8.0)
        detail = "pons"
    centre = np.array([side_sign * c[0], c[1], c[2]], dtype=np.float64)
    centre += rng.uniform(-3.0, 3.0, 3) * (0.4 if site in ("deep", "pontine") else 1.0)
    ratios = np.array([1.0, rng.uniform(0.6, 1.0), rng.uniform(0.5, 0.9)])
    r0 = (3.0 * ml * 1000.0 / (4.0 * np.pi * np.prod(ratios))) ** (1.0 / 3.0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lobes = np.concatenate([rng.standard_normal((4, 3)), rng.uniform(0, 2 * np.pi, (4, 1)),
                            rng.uniform(0.05, 0.14, (4, 1))], axis=1)
    b = _Bleed(kind="intraparenchymal", hu=float(rng.uniform(50.0, 85.0)),
               side=_side_name(side_sign), centre=centre, target_ml=ml,
               info={"site": site, "location": detail}, axes=q.T, radii=r0 * ratios * 1.04,
               lobes=lobes)
    if rng.random() < 0.6:
        b.rim_mm = float(rng.uniform(2.0, 5.0) * min(1.0, 0.4 + ml / 20.0))
    if ml > 12.0 and rng.random() < 0.35:
        b.fluid = float(rng.uniform(8.0, 15.0))
        b.fluid_at = float(rng.uniform(-0.2, 0.4) * r0)
    if rng.random() < 0.25:
        b.swirl = float(rng.uniform(10.0, 20.0))
    if ml > 10.0:
        b.push = 1.0
        b.shift = float(min(0.12 * ml, 10.0))
    ext = float(r0 * ratios.max() * 1.25 + b.rim_mm + 2)
    b.bbox = (centre - ext, centre + ext)
    return b


def _side_name(sign: float) -> str:
    """'left', 'right' or 'midline' for a sign of atlas x."""
    return "left" if sign > 0 else "right" if sign < 0 else "midline"


def _draw_ivh(rng: np.random.Generator, gravity: Arr) -> _Bleed:
    """An intraventricular bleed: dependent layering in the occipital horns, or a cast."""
    mode = str(rng.choice(["layering", "cast"], p=[0.6, 0.4]))
    which = str(rng.choice(["left", "right", "both"], p=[0.3, 0.3, 0.4]))
    if mode == "cast":
        which = "left" if rng.random() < 0.5 else "right"
        ml = 60.0
    else:
        ml = _lognormal_ml(rng, 3.0, 12.0)
    sign = 1.0 if which == "left" else -1.0 if which == "right" else 0.0
    centre = np.array([sign * 22.0, 40.0, 12.0])
    b = _Bleed(kind="intraventricular", hu=float(rng.uniform(45.0, 80.0)),
               side=which if which != "both" else "midline", centre=centre, target_ml=ml,
               info={"pattern": mode, "ventricles": which})
    b.bbox = (np.array([-40.0, -40.0, -10.0]), np.array([40.0, 75.0, 35.0]))
    del gravity
    return b


def _draw_sah(rng: np.random.Generator) -> _Bleed:
    """A subarachnoid bleed: basal cisterns, one sylvian fissure or convexity sulci."""
    pattern = str(rng.choice(["basal", "sylvian", "convexity"], p=[0.4, 0.3, 0.3]))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if pattern == "basal":
        centre = np.array([0.0, 8.0, -16.0])
        radii = np.array([rng.uniform(16, 30), rng.uniform(14, 26), rng.uniform(8, 14)])
        sign = 0.0
    elif pattern == "sylvian":
        centre = np.array([sign * 48.0, 5.0, -3.0])
        radii = np.array([rng.uniform(12, 22), rng.uniform(14, 28), rng.uniform(8, 14)])
    else:
        az = rng.uniform(-0.6, 0.9)
        el = rng.uniform(0.3, 0.9)
        d = np.array([sign * np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        centre = _HEAD_CENTRE + 60.0 * d
        radii = np.full(3, rng.uniform(8, 22))
    b = _Bleed(kind="subarachnoid", hu=float(rng.uniform(50.0, 80.0)), side=_side_name(sign),
               centre=centre, target_ml=0.0, info={"pattern": pattern},
               radii=radii)
    ext = float(radii.max() + 3)
    b.bbox = (centre - ext, centre + ext)
    return b


def _draw_extra_axial(rng: np.random.Generator, kind: str) -> _Bleed:
    """A subdural crescent or an epidural lens over a convexity of one side."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if kind == "subdural":
        ml = _lognormal_ml(rng, 12.0, 80.0)
        az = rng.uniform(-0.5, 0.7)
        el = rng.uniform(0.05, 0.7)
        gmax = float(np.clip(0.45 + 0.12 * math.log(ml + 1.0), 0.45, 1.0))
        area = 2 * np.pi * _SDH_R ** 2 * (1 - math.cos(gmax))
        t_max = float(np.clip(ml * 1000.0 / (0.62 * area), 0.8, 24.0))
        hu = float(rng.uniform(50.0, 80.0))
        compartment = "convexity"
    else:
        ml = _lognormal_ml(rng, 14.0, 80.0)
        compartment = str(rng.choice(["temporal", "frontal", "parietal"], p=[0.5, 0.25, 0.25]))
        az, el = {"temporal": (0.05, -0.05), "frontal": (-0.75, 0.45),
                  "parietal": (0.45, 0.75)}[compartment]
        az += rng.uniform(-0.12, 0.12)
        el += rng.uniform(-0.1, 0.1)
        gmax = float(np.clip(0.28 + 0.06 * math.log(ml + 1.0), 0.28, 0.55))
        base = (_SDH_R * gmax) ** 2
        t_max = float(np.clip(ml * 1000.0 / (2.0 / 3.0 * np.pi * base), 1.5, 32.0))
        hu = float(rng.uniform(55.0, 88.0))
    normal = np.array([sign * np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    centre = _HEAD_CENTRE + 64.0 * normal
    b = _Bleed(kind=kind, hu=hu, side=_side_name(sign), centre=centre, target_ml=ml,
               info={"compartment": compartment}, normal=normal, gamma_max=gmax, t_max=t_max)
    if ml > 10.0:
        b.push = 1.0
        b.shift = float(min(0.16 * ml, 14.0))
    if kind == "epidural" and rng.random() < 0.3:
        b.swirl = float(rng.uniform(12.0, 22.0))
    b.bbox = _cap_box(normal, gmax, t_max)
    return b


def _cap_box(normal: Arr, gmax: float, t_max: float) -> tuple[Arr, Arr]:
    """Atlas box of the shell of directions within ``gmax`` (rad) of ``normal`` about the
    head centre, between 40 mm and the endocranium (plus margins)."""
    rng = np.random.default_rng(0)
    d = rng.standard_normal((4000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    d = np.concatenate([d[d @ normal >= math.cos(min(gmax * 1.15 + 0.05, math.pi))], [normal]])
    pts = np.concatenate([_HEAD_CENTRE + r * d for r in (40.0, 70.0, 100.0)])
    return pts.min(axis=0) - 4.0, pts.max(axis=0) + 4.0


def _draw_pathology(seed: int, label: NcctLabel, scan: _Scan) -> _Pathology:
    """Draw the label's bleeds, ischaemia and mimics; each from its own random stream so a
    lesion looks the same whatever else the label holds."""
    bleeds = []
    for kind in BLEED_KINDS:
        if kind not in label.bleeds:
            continue
        rng = np.random.default_rng([seed, 100 + BLEED_KINDS.index(kind)])
        if kind == "intraparenchymal":
            bleeds.append(_draw_iph(rng))
        elif kind == "intraventricular":
            bleeds.append(_draw_ivh(rng, scan.gravity))
        elif kind == "subarachnoid":
            bleeds.append(_draw_sah(rng))
        else:
            bleeds.append(_draw_extra_axial(rng, kind))
    delta = None
    if label.ischaemic_regions:
        delta = float(np.random.default_rng([seed, 200]).uniform(2.0, 6.0))
    mimics: dict[str, dict[str, Any]] = {}
    for name in MIMICS:
        if name in label.mimics:
            mimics[name] = _draw_mimic(np.random.default_rng([seed, 300 + MIMICS.index(name)]),
                                       name)
    return _Pathology(bleeds=bleeds, isch_delta=delta, isch_side=label.ischaemic_side,
                      isch_regions=tuple(label.ischaemic_regions), mimics=mimics,
                      gravity=scan.gravity)


def _draw_mimic(rng: np.random.Generator, name: str) -> dict[str, Any]:
    """Parameters of one mimic (positions in the atlas frame, mm; HU)."""
    side = str(rng.choice(["left", "right", "both"]))
    if name == "choroid_plexus_calcification":
        return {"hu": float(rng.uniform(120.0, 450.0)), "radius_mm": float(rng.uniform(1.8, 3.5)),
                "side": side}
    if name == "pineal_calcification":
        return {"hu": float(rng.uniform(100.0, 500.0)), "radius_mm": float(rng.uniform(1.5, 3.0))}
    if name == "basal_ganglia_calcification":
        return {"hu": float(rng.uniform(100.0, 300.0)), "side": side,
                "foci": int(rng.integers(2, 6)), "radius_mm": float(rng.uniform(1.3, 2.5)),
                "jitter": rng.uniform(-2.5, 2.5, (6, 3)).tolist()}
    if name == "falx_calcification":
        return {"hu": float(rng.uniform(200.0, 900.0)), "y_mm": float(rng.uniform(-40.0, 30.0)),
                "length_mm": float(rng.uniform(6.0, 16.0)), "thickness_mm": float(rng.uniform(1.5,
                                                                                              3.0))}
    if name == "hyperdense_vessel":
        vessel = str(rng.choice(["mca", "basilar"], p=[0.75, 0.25]))
        return {"vessel": vessel, "side": "left" if rng.random() < 0.5 else "right",
                "hu": float(rng.uniform(62.0, 85.0))}
    if name == "streak_artefact":
        return {"source": str(rng.choice(["petrous", "dental"])),
                "amplitude_hu": float(rng.uniform(25.0, 80.0)), "streaks": int(rng.integers(6, 16)),
                "seed": int(rng.integers(0, 2 ** 31))}
    return {"artery_hu": float(rng.uniform(90.0, 250.0)),
            "venous_sinus_hu": float(rng.uniform(90.0, 200.0)),
            "choroid_plexus_hu": float(rng.uniform(60.0, 120.0))}


# --------------------------------------------------------------------------------------------
# Level fields of a grid
# --------------------------------------------------------------------------------------------

def _z_tent(u: Arr, y: Arr) -> Arr:
    """Atlas z (mm) of the tentorium at lateral distance ``u`` and depth ``y``: a ridge along
    the straight sinus sloping down to the transverse sinuses."""
    zmid = np.minimum(np.float32(-6.0) + np.float32(9.0 / 38.0) * (y - np.float32(10.0)),
                      np.float32(3.0) - np.float32(17.0 / 48.0) * (y - np.float32(48.0)))
    out: Arr = zmid - np.float32(0.40) * u
    return out


def _tent_present(u: Arr, y: Arr) -> Arr:
    """Where the tentorium exists (behind its free edge round the midbrain)."""
    out: Arr = y > np.maximum(np.float32(48.0) - np.float32(1.5) * u, np.float32(14.0))
    return out


def _z_floor(y: Arr) -> Arr:
    """Atlas z (mm) of the floor of the interhemispheric fissure (corpus callosum)."""
    return np.interp(y, [-40.0, -33.0, -28.0, -15.0, 10.0, 35.0, 46.0, 52.0, 56.0],
                     [-90.0, -90.0, 16.0, 22.0, 25.0, 24.0, 20.0, 14.0, -90.0]).astype(np.float32)


def _grid_atlas(head: _Head, grid: _Grid) -> tuple[Arr, Arr, Arr]:
    """Atlas coordinates of a grid. The map is quadratic along k, so three planes give it
    exactly: A(k) = A0 + k (G + k H)."""
    nk = grid.shape[0]
    if nk < 3:
        return _to_atlas(head, *grid.coords())
    planes = []
    for k in range(3):
        g = _Grid(shape=(1, grid.shape[1], grid.shape[2]), mat=grid.mat,
                  off=grid.off + grid.mat[:, 0] * k)
        planes.append(_to_atlas(head, *g.coords()))
    kk = np.arange(nk, dtype=np.float32)[:, None, None]
    out = []
    for c in range(3):
        a0, a1, a2 = planes[0][c], planes[1][c], planes[2][c]
        h = np.float32(0.5) * (a2 - 2.0 * a1 + a0)
        g1 = a1 - a0 - h
        out.append((a0 + kk * (g1 + kk * h)).astype(np.float32))
    return out[0], out[1], out[2]


def _upsample2(c: Arr, ni: int, nj: int) -> Arr:
    """Linear 2x upsampling along the last two axes of fields computed on every other
    in-plane sample, cropped to (ni, nj)."""
    nk, ci, cj = c.shape
    mid = np.empty((nk, 2 * ci - 1, cj), dtype=np.float32)
    mid[:, ::2] = c
    mid[:, 1::2] = 0.5 * (c[:, :-1] + c[:, 1:])
    out = np.empty((nk, 2 * ci - 1, 2 * cj - 1), dtype=np.float32)
    out[:, :, ::2] = mid
    out[:, :, 1::2] = 0.5 * (mid[:, :, :-1] + mid[:, :, 1:])
    res: Arr = out[:, :ni, :nj]
    return res


class _Fields:
    """Level fields (head mm, negative inside) of a grid or of explicit points: the skull
    frame A (atlas mm) and the brain frame B (A less any mass-effect displacement). Smooth
    whole-head fields of a fine grid are computed on every other in-plane sample and
    interpolated."""

    def __init__(self, head: _Head, path: _Pathology, grid: _Grid | None,
                 coords: tuple[Arr, Arr, Arr] | None = None, brain: bool = True,
                 coarse: bool = False, exterior: bool = True) -> None:
        self.head = head
        self.path = path
        self.grid = grid
        if grid is not None:
            self.A = _grid_atlas(head, grid)
        elif coords is not None:
            self.A = _to_atlas(head, *coords)
        else:
            raise ValueError("a grid or explicit coordinates are needed")
        self.shape: tuple[int, ...] = tuple(self.A[0].shape)
        self.ms = np.float32(head.mean_scale)
        self.push = max((b.push * (b.t_max if b.kind in ("subdural", "epidural") else 6.0)
                         for b in path.bleeds), default=0.0) + max(
            (b.shift for b in path.bleeds), default=0.0)
        self.B = self.A
        self.exterior = exterior
        self.b_lofts = brain
        self.sm: dict[str, Arr] = {}
        if coarse and grid is not None and min(grid.shape[1:]) >= 16:
            cg = _Grid(shape=(grid.shape[0], (grid.shape[1] + 2) // 2, (grid.shape[2] + 2) // 2),
                       mat=grid.mat * np.array([1.0, 2.0, 2.0])[None, :], off=grid.off)
            small = _Fields(head, path, cg, brain=False, exterior=exterior)
            if brain and self.push > 0:
                small._brain_lofts()
            for key, val in small.sm.items():
                self.sm[key] = _upsample2(val, grid.shape[1], grid.shape[2])
        else:
            self._smooth_fields()
        self.cer_A, self.tmp_A, self.bs_A = self.sm["cer_A"], self.sm["tmp_A"], self.sm["bs_A"]
        self.cb_A, self.endo, self.thick = self.sm["cb_A"], self.sm["endo"], self.sm["thick"]
        self.w_tm, self.w_base, self.w_fs = self.sm["w_tm"], self.sm["w_base"], self.sm["w_fs"]
        x, y, _ = self.A
        self.ztent_A = _z_tent(np.abs(x), y)
        self.tent_A = _tent_present(np.abs(x), y)
        self._brain_ready = False
        if brain:
            self.ensure_brain()

    def ensure_brain(self) -> None:
        """Compute the brain-frame fields once."""
        if self._brain_ready:
            return
        if self.push > 0 and "ux" not in self.sm:
            self._brain_lofts()
        if self.push > 0:
            self.B = (self.A[0] - self.sm["ux"], self.A[1] - self.sm["uy"],
                      self.A[2] - self.sm["uz"])
        self._brain_fields()
        self._brain_ready = True

    # -- helpers --------------------------------------------------------------------------
    def block(self, lo: Arr, hi: Arr, pad: float = 4.0) -> tuple[slice, slice, slice] | None:
        """Index block of an atlas box (padded, mm); everything for explicit points."""
        if self.grid is None:
            return _ALL
        a, b = _atlas_box_to_head(self.head, lo, hi, pad)
        return self.grid.block(a, b)

    def sides(self, name: str) -> list[int | None]:
        """Sides to evaluate for a structure: [0, 1] if paired, else [None]."""
        if name in self.head.stars:
            return [None] if self.head.stars[name].half else [0, 1]
        if name in self.head.ellipses:
            return [0, 1] if self.head.ellipses[name].paired else [None]
        return [0, 1] if self.head.tubes[name].paired else [0]

    def level(self, name: str, frame: str = "B",
              side: int | None = -1) -> list[tuple[tuple[slice, slice, slice], Arr]]:
        """(block, level in head mm) pairs of a loft or tube, on its own blocks. ``side``
        -1 means every side the structure has."""
        coords = self.B if frame == "B" else self.A
        pad = 4.0 + (self.push if frame == "B" else 0.0)
        out = []
        if name in self.head.tubes:
            tube = self.head.tubes[name]
            for tsd in ([0, 1] if tube.paired else [0]) if side == -1 else [side or 0]:
                for seg in range(len(tube.r0)):
                    lo = np.minimum(tube.p0[tsd][seg], tube.p1[tsd][seg]) - tube.r1[seg] - 1
                    hi = np.maximum(tube.p0[tsd][seg], tube.p1[tsd][seg]) + tube.r1[seg] + 1
                    blk = self.block(lo, hi, pad)
                    if blk is None:
                        continue
                    x, y, z = (c[blk] for c in coords)
                    out.append((blk, _tube_level(tube, tsd, x, y, z, seg) * self.ms))
            return out
        sides = self.sides(name) if side == -1 else [side]
        for sd in sides:
            tab: _Star | _Ellipse = (self.head.stars[name] if name in self.head.stars
                                     else self.head.ellipses[name])
            lo, hi = tab.bbox(sd)
            blk = self.block(lo, hi, pad)
            if blk is None:
                continue
            x, y, z = (c[blk] for c in coords)
            if isinstance(tab, _Star):
                lev = _star_level(tab, x, y, z, sd)
            else:
                lev = _ellipse_level(tab, x, y, z, sd)
            out.append((blk, lev * self.ms))
        return out

    def full(self, name: str, frame: str = "B", side: int | None = -1) -> Arr:
        """A structure's level on the whole grid (BIG outside its blocks)."""
        arr = np.full(self.shape, _BIG, dtype=np.float32)
        for blk, lev in self.level(name, frame, side):
            np.minimum(arr[blk], lev, out=arr[blk])
        return arr

    # -- smooth whole-head fields ------------------------------------------------------
    def _smooth_fields(self) -> None:
        """Endocranium, skull thickness and its weights, face and neck (skull frame), and
        with mass effect the displacement and the brain lofts in the brain frame."""
        p = self.head.params
        sm = self.sm
        sm["cer_A"] = self.full("cerebrum", "A")
        sm["tmp_A"] = self.full("temporal", "A")
        sm["bs_A"] = self.full("brainstem", "A")
        sm["cb_A"] = np.minimum(self.full("cerebellum", "A"), self.full("vermis", "A"))
        if self.exterior:
            sm["face"] = self.full("face", "A")
            sm["neck"] = self.full("neck", "A")
        basal = self.full("basal_filler", "A")
        young = _smin(_smin(sm["cer_A"], sm["tmp_A"], 3.0), sm["bs_A"], 7.0)
        young = _smin(_smin(young, sm["cb_A"], 9.0), basal, 6.0)
        sm["endo"] = young - np.float32(p["dural_gap_mm"])
        x, y, z = self.A
        ax = np.abs(x)
        w_sq = (np.exp(-((y + 5.0) / 24.0) ** 2 - ((z + 6.0) / 16.0) ** 2)
                * _smoothstep((ax - 35.0) / 15.0))
        w_occ = np.exp(-(x / 16.0) ** 2 - ((y - 96.0) / 14.0) ** 2 - ((z + 14.0) / 12.0) ** 2)
        sm["w_base"] = _smoothstep((-18.0 - z) / 14.0).astype(np.float32)
        sm["w_fs"] = (np.float32(p["frontal_sinus"]) * np.exp(
            -(x / 18.0) ** 2 - ((y + 70.0) / 12.0) ** 2 - ((z - 2.0) / 12.0) ** 2)).astype(
            np.float32)
        sm["thick"] = (np.float32(p["skull_mm"]) * (1.0 - 0.45 * w_sq) + 5.0 * w_occ
                       + 4.0 * sm["w_base"] + 9.0 * sm["w_fs"]).astype(np.float32)
        sm["w_tm"] = (_smoothstep((ax - 30.0) / 15.0) * _smoothstep((z + 38.0) / 8.0)
                      * _smoothstep((42.0 - z) / 10.0) * _smoothstep((y + 52.0) / 10.0)
                      * _smoothstep((30.0 - y) / 10.0)).astype(np.float32)
        if self.push > 0 and self.b_lofts:
            self._brain_lofts()

    def _brain_lofts(self) -> None:
        """Mass-effect displacement and the brain lofts in the displaced (brain) frame."""
        sm = self.sm
        x, y, z = self.A
        ux, uy, uz = self._displacement(sm["endo"])
        sm["ux"], sm["uy"], sm["uz"] = ux, uy, uz
        self.B = (x - ux, y - uy, z - uz)
        sm["cer_B"] = self.full("cerebrum", "B")
        sm["tmp_B"] = self.full("temporal", "B")
        sm["bs_B"] = self.full("brainstem", "B")
        sm["cb_B"] = np.minimum(self.full("cerebellum", "B"), self.full("vermis", "B"))
        self.B = self.A

    def _displacement(self, endo: Arr) -> tuple[Arr, Arr, Arr]:
        """Displacement (atlas mm) of brain tissue by the bleeds' mass effect."""
        x, y, z = self.A
        ux = np.zeros_like(x)
        uy = np.zeros_like(x)
        uz = np.zeros_like(x)
        depth = np.clip(-endo / self.ms, 0.0, None)
        taper = _smoothstep(depth / 12.0)
        for b in self.path.bleeds:
            if b.push <= 0:
                continue
            c = b.centre.astype(np.float32)
            if b.kind == "intraparenchymal":
                dx, dy, dz = x - c[0], y - c[1], z - c[2]
                r = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
                rb = float(np.prod(b.radii) ** (1 / 3))
                mag = np.where(r >= rb, rb ** 3 / 3.0 / np.maximum(r, rb) ** 2, r / 3.0)
                mag = mag * taper / r
                ux += mag * dx
                uy += mag * dy
                uz += mag * dz
            else:
                hc = _HEAD_CENTRE.astype(np.float32)
                dx, dy, dz = x - hc[0], y - hc[1], z - hc[2]
                r = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
                n = b.normal.astype(np.float32)
                cosg = np.clip((dx * n[0] + dy * n[1] + dz * n[2]) / r, -1.0, 1.0)
                thick = _extra_axial_profile(b, np.arccos(cosg))
                ell = 20.0 + b.t_max
                mag = -thick / self.ms * np.exp(-depth / ell) * _smoothstep(depth / 4.0) / r
                ux += mag * dx
                uy += mag * dy
                uz += mag * dz
            if b.shift > 0 and b.side in ("left", "right"):
                sgn = 1.0 if b.side == "left" else -1.0
                g = np.exp(-((y - c[1]) ** 2 + (z - c[2]) ** 2) / (2 * 40.0 ** 2)
                           - (x / 45.0) ** 2)
                ux -= np.float32(sgn * b.shift) * g * _smoothstep(depth / 15.0)
        return ux, uy, uz

    # -- brain frame --------------------------------------------------------------------
    def _brain_fields(self) -> None:
        """Brain, cerebellum, brainstem, sulci, folia and ventricles (brain frame)."""
        p = self.head.params
        ms = self.ms
        if self.push <= 0:
            cer, tmp, bs, cb = self.cer_A, self.tmp_A, self.bs_A, self.cb_A
            ztent, tent = self.ztent_A, self.tent_A
        else:
            cer, tmp, bs, cb = (self.sm[k] for k in ("cer_B", "tmp_B", "bs_B", "cb_B"))
            ztent = _z_tent(np.abs(self.B[0]), self.B[1])
            tent = _tent_present(np.abs(self.B[0]), self.B[1])
        x, y, z = self.B
        above = np.where(tent, (ztent + 1.0 - z) * ms, -_BIG)
        below = np.where(tent, (z - ztent + 1.0) * ms, -_BIG)
        off = np.float32(p["atrophy_offset_mm"])
        brain = np.minimum(np.maximum(cer, above), np.maximum(tmp, above))
        brain = np.minimum(brain, bs) + off
        half_w = np.float32(p["interhemispheric_mm"] * 0.5)
        fissure = np.maximum(np.abs(x) * ms - half_w, (_z_floor(y) - z) * ms)
        brain = np.maximum(brain, -fissure)
        self.syl = self.full("sylvian", "B")
        self.inscist = self.full("insular_cistern", "B")
        brain = np.maximum(brain, np.maximum(-self.syl, -self.inscist))
        self.brain = brain
        self.bs = bs + off
        self.cb = np.maximum(cb, below) + np.float32(0.7) * off
        self.zone = self.full("insula_zone", "B")
        self._sulci()
        self._folia()
        lat = [np.minimum(self.full("lateral_ventricle", "B", sd),
                          self.full("temporal_horn", "B", sd)) for sd in (0, 1)]
        self.lat = (lat[0], lat[1])
        vent = np.minimum(lat[0], lat[1])
        for name in ("third_ventricle", "fourth_ventricle", "aqueduct"):
            np.minimum(vent, self.full(name, "B"), out=vent)
        self.vent = vent

    def _sulci(self) -> None:
        """Sulcal CSF level, distance to the nearest sulcus and distance to CSF (q)."""
        p = self.head.params
        depth_max = np.float32(p["sulcal_depth_mm"])
        cortex = np.float32(p["cortex_mm"])
        s = -self.brain
        x, y, z = self.B
        deep = (np.abs(x) < 20.0) & (z < 4.0) & (y > -16.0) & (y < 46.0)
        shell = (s > -1.5) & (s < depth_max + cortex + 1.5) & ~deep & (self.zone > 2.5)
        self.sul_d = np.full(self.shape, _BIG, dtype=np.float32)
        idx = np.nonzero(shell)
        if idx[0].size:
            xs, ys, zs = x[idx], y[idx], z[idx]
            left = xs >= 0
            cx = np.where(left, np.float32(26.0), np.float32(-26.0))
            vx, vy, vz = (xs - cx) * np.where(left, 1, -1).astype(np.float32), ys - 14.0, zs - 14.0
            r = np.sqrt(vx * vx + vy * vy + vz * vz) + np.float32(1e-3)
            az = np.arctan2(vy, vx)
            el = np.arcsin(np.clip(vz / r, -1.0, 1.0))
            d0 = _sphere_lookup(self.head.gyri, left, az, el)
            self.sul_d[idx] = d0 * (r / 62.0) * self.ms
        half = np.float32(p["sulcal_width_mm"] * 0.5)
        self.sul_h = half * np.clip(1.0 - s / depth_max, 0.0, 1.0)
        self.sulc = np.maximum(self.sul_d - self.sul_h, s - depth_max)
        self.q = np.minimum(s, self.sulc)

    def _folia(self) -> None:
        """Cerebellar folial fissures (concentric about each hemisphere's core)."""
        p = self.head.params
        lam = np.float32(p["folia_mm"])
        x, y, z = self.B
        cx = np.where(x >= 0, np.float32(18.0), np.float32(-18.0))
        rc = np.sqrt((x - cx) ** 2 + (y - 62.0) ** 2 + (z + 34.0) ** 2) * self.ms
        wavy = rc + np.float32(1.6) * np.sin(y * np.float32(0.23) + z * np.float32(0.11)) * np.cos(
            x * np.float32(0.19)) + np.float32(0.8) * np.sin(z * np.float32(0.37))
        dist = np.abs(wavy - lam * np.round(wavy / lam))
        w = np.float32(0.15 + 0.45 * p["atrophy"]) * (np.float32(1.2) + np.sin(
            x * np.float32(0.31) - y * np.float32(0.17)))
        s_cb = -self.cb
        self.folia = np.maximum(dist - w, s_cb - np.float32(5.0))


def _sphere_lookup(tables: tuple[Arr, Arr], left: Arr, az: Arr, el: Arr) -> Arr:
    """Bilinear lookup of the per-hemisphere sulcal-distance tables at (azimuth, elevation)."""
    tab = np.stack([tables[0], tables[1]])
    n_el, n_az1 = tables[0].shape
    fa = (az + np.float32(np.pi)) * np.float32((n_az1 - 1) / (2 * np.pi))
    fe = (el + np.float32(np.pi / 2)) * np.float32((n_el - 1) / np.pi)
    ia = np.clip(fa.astype(np.int32), 0, n_az1 - 2)
    ie = np.clip(fe.astype(np.int32), 0, n_el - 2)
    wa = np.clip(fa - ia, 0.0, 1.0).astype(np.float32)
    we = np.clip(fe - ie, 0.0, 1.0).astype(np.float32)
    flat = tab.ravel()
    base = left.astype(np.int32) * (n_el * n_az1) + ie * n_az1 + ia
    v00, v01 = flat[base], flat[base + 1]
    v10, v11 = flat[base + n_az1], flat[base + n_az1 + 1]
    out: Arr = (v00 * (1 - wa) * (1 - we) + v01 * wa * (1 - we) + v10 * (1 - wa) * we
                + v11 * wa * we)
    return out


def _extra_axial_profile(b: _Bleed, gamma: Arr) -> Arr:
    """Thickness (head mm) of a subdural crescent or epidural lens at angle ``gamma`` (rad)
    from its centre direction."""
    t = np.clip(1.0 - (gamma / b.gamma_max) ** 2, 0.0, 1.0)
    if b.kind == "subdural":
        return np.float32(b.t_max) * t ** np.float32(0.7)
    return np.float32(b.t_max) * np.sqrt(t)


# --------------------------------------------------------------------------------------------
# Lesion level functions
# --------------------------------------------------------------------------------------------

def _bleed_paint(F: _Fields, b: _Bleed) -> tuple[tuple[slice, slice, slice], Arr, Arr, Arr] | None:
    """Block, blood level (head mm), blood HU and oedema-rim level of one bleed on a grid."""
    blk = F.block(b.bbox[0], b.bbox[1], 2.0 + (F.push if b.kind == "intraventricular" else 0))
    if blk is None:
        return None
    if b.kind not in ("subdural", "epidural"):
        F.ensure_brain()
    x, y, z = (c[blk] for c in F.A)
    ms = F.ms
    c = b.centre.astype(np.float32)
    dx, dy, dz = x - c[0], y - c[1], z - c[2]
    g = F.path.gravity.astype(np.float32)
    along = (dx * g[0] + dy * g[1] + dz * g[2]) * ms
    hu = np.full(dx.shape, np.float32(b.hu), dtype=np.float32)
    rim = np.full(dx.shape, _BIG, dtype=np.float32)
    if b.kind == "intraparenchymal":
        ax = b.axes.astype(np.float32)
        loc = [dx * ax[i, 0] + dy * ax[i, 1] + dz * ax[i, 2] for i in range(3)]
        rad = b.radii.astype(np.float32)
        qn = np.sqrt(sum((loc[i] / rad[i]) ** 2 for i in range(3))) + np.float32(1e-4)
        mod = np.ones_like(qn)
        for lob in b.lobes:
            nv = lob[:3].astype(np.float32)
            proj = (loc[0] * nv[0] + loc[1] * nv[1] + loc[2] * nv[2]) / (qn * float(rad.mean()))
            mod += np.float32(lob[4]) * np.cos(np.float32(2.2) * proj + np.float32(lob[3]))
        level = (qn - mod) * np.float32(rad.mean()) * ms
        if b.info["site"] == "cerebellar":
            clip = F.cb[blk]
        elif b.info["site"] == "pontine":
            clip = F.bs[blk]
        else:
            clip = np.maximum(F.brain[blk], -F.vent[blk])
        if b.rim_mm > 0:
            rim = np.maximum(level - np.float32(b.rim_mm), clip)
        level = np.maximum(level, clip)
        if b.fluid > 0:
            hu += np.float32(b.fluid) * _smoothstep((along - b.fluid_at) / 1.5 + 0.5)
        if b.swirl > 0:
            ang = np.arctan2(loc[1], loc[0])
            rr = np.sqrt(loc[0] ** 2 + loc[1] ** 2)
            hu -= np.float32(b.swirl) * (np.cos(2.0 * ang + 0.5 * rr + 0.3 * loc[2]) > 0.55)
    elif b.kind == "intraventricular":
        if b.info["ventricles"] == "left":
            level = F.lat[1][blk].copy()
        elif b.info["ventricles"] == "right":
            level = F.lat[0][blk].copy()
        else:
            level = np.minimum(F.lat[0][blk], F.lat[1][blk])
        if b.info["pattern"] == "layering":
            level = np.maximum(level, np.float32(b.level0) - along)
    elif b.kind == "subarachnoid":
        rad = b.radii.astype(np.float32)
        qn = np.sqrt((dx / rad[0]) ** 2 + (dy / rad[1]) ** 2 + (dz / rad[2]) ** 2)
        region = (qn - 1.0) * np.float32(rad.min()) * ms
        s = -F.brain[blk]
        depth_max = np.float32(F.head.params["sulcal_depth_mm"])
        wide = np.maximum(F.sul_h[blk], np.float32(0.9))
        sulc = np.maximum(F.sul_d[blk] - wide, s - depth_max)
        l_sa = np.maximum(F.endo[blk], -np.minimum(F.brain[blk], F.cb[blk]))
        l_su = np.maximum(F.brain[blk], sulc)
        l_fo = np.maximum(F.cb[blk], F.folia[blk])
        csf = np.minimum(np.minimum(l_sa, l_su), l_fo)
        level = np.maximum(np.maximum(region, csf), -F.vent[blk])
    else:
        hc = _HEAD_CENTRE.astype(np.float32)
        vx, vy, vz = x - hc[0], y - hc[1], z - hc[2]
        r = np.sqrt(vx * vx + vy * vy + vz * vz) + np.float32(1e-3)
        n = b.normal.astype(np.float32)
        gam = np.arccos(np.clip((vx * n[0] + vy * n[1] + vz * n[2]) / r, -1.0, 1.0))
        thick = _extra_axial_profile(b, gam)
        sgn = np.float32(1.0 if b.side == "left" else -1.0)
        endo = F.endo[blk]
        if b.kind == "epidural":
            thick = thick * _suture_factor(b.info["compartment"], x * sgn, y, z)
            margin = np.float32(0.5)
        else:
            margin = np.float32(2.5)
        level = np.maximum(endo, -endo - thick)
        level = np.maximum(level, (margin - sgn * x) * ms)
        level = np.maximum(level, np.where(F.tent_A[blk], (F.ztent_A[blk] + 2.0 - z) * ms, -_BIG))
        if b.swirl > 0:
            hu -= np.float32(b.swirl) * (np.cos(0.55 * x + 0.45 * y + 0.5 * z) > 0.6)
    return blk, level.astype(np.float32), hu, rim


def _suture_factor(compartment: str, u: Arr, y: Arr, z: Arr) -> Arr:
    """Fraction (0..1) of an epidural lens allowed at atlas (u, y, z): the lens stops at the
    coronal, lambdoid and squamosal sutures and at the midline."""
    y_cor = -8.0 + 0.3 * (z - 40.0)
    y_lam = 68.0 - 0.25 * (55.0 - z)
    mid = _smoothstep(u / 3.0)
    if compartment == "temporal":
        f = (_smoothstep((y + 30.0) / 4.0) * _smoothstep((y_lam - y) / 4.0)
             * _smoothstep((16.0 - z) / 4.0))
    elif compartment == "frontal":
        f = _smoothstep((y_cor - y) / 4.0) * _smoothstep((z + 12.0) / 4.0)
    else:
        f = (_smoothstep((y - y_cor) / 4.0) * _smoothstep((y_lam - y) / 4.0)
             * _smoothstep((z - 16.0) / 4.0))
    out: Arr = (f * mid).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------
# Painting
# --------------------------------------------------------------------------------------------


class _Painter:
    """Back-to-front compositing with in-plane partial volume: a structure with level ``f``
    (head mm) covers the fraction clip(0.5 - f / pixel, 0, 1) of a sample; labels go to the
    last structure whose level is <= 0 there."""

    def __init__(self, shape: tuple[int, int, int], px: float, air_hu: float) -> None:
        self.hu = np.full(shape, np.float32(air_hu), dtype=np.float32)
        self.tis = np.zeros(shape, dtype=np.uint8)
        self.blood = np.zeros(shape, dtype=np.uint8)
        self.inv_w = np.float32(1.0 / px)

    def paint(self, blk: tuple[slice, slice, slice], level: Arr, tissue: str,
              value: float | Arr) -> None:
        """Composite a structure of constant or per-sample HU ``value`` on block ``blk``."""
        a = np.clip(np.float32(0.5) - level * self.inv_w, 0.0, 1.0)
        h = self.hu[blk]
        if isinstance(value, np.ndarray):
            h += a * (value - h)
        else:
            h += a * (np.float32(value) - h)
        t = self.tis[blk]
        t[level <= 0] = _T[tissue]

    def paint_list(self, pairs: list[tuple[tuple[slice, slice, slice], Arr]], tissue: str,
                   value: float) -> None:
        """Composite every (block, level) pair of a structure."""
        for blk, lev in pairs:
            self.paint(blk, lev, tissue, value)


def _shell(pairs: list[tuple[tuple[slice, slice, slice], Arr]],
           grow: float) -> list[tuple[tuple[slice, slice, slice], Arr]]:
    """The same structure grown outwards by ``grow`` mm (for bony walls)."""
    return [(blk, lev - np.float32(grow)) for blk, lev in pairs]


def _paint_exterior(F: _Fields, P: _Painter) -> None:
    """Scalp, temporalis, neck, face skeleton, sinuses, orbits, skull and skull base."""
    p = F.head.params
    hu = F.head.hu
    face = np.minimum(F.sm["face"], F.sm["neck"])
    vault = F.endo - F.thick - np.float32(p["scalp_mm"]) - np.float32(p["temporalis_mm"]) * F.w_tm
    skin = np.minimum(vault, face)
    P.paint(_ALL, skin, "soft_tissue", hu["soft_tissue"])
    ds = -skin
    fat = np.float32(p["scalp_fat_mm"])
    P.paint(_ALL, np.maximum(1.3 - ds, ds - (1.3 + fat)), "fat", hu["fat"])
    neck = F.sm["neck"]
    P.paint(_ALL, np.maximum(neck + 6.0, 6.0 - F.endo), "muscle", hu["muscle"])
    tm = np.maximum(F.thick + 0.5 - F.endo,
                    F.endo - F.thick - np.float32(p["temporalis_mm"]) * F.w_tm)
    P.paint(_ALL, np.where(F.w_tm > 0.05, tm, _BIG), "muscle", hu["muscle"])
    bone = hu["bone"]
    for name in ("orbit", "maxillary", "ethmoid", "nasal", "nasopharynx"):
        P.paint_list(_shell(F.level(name, "A"), 1.6), "bone", bone)
    P.paint_list(F.level("sphenoid_body", "A"), "bone", bone)
    P.paint_list(F.level("clivus", "A"), "bone", bone)
    mast = F.level("mastoid", "A")
    P.paint_list(_shell(mast, 2.0), "bone", bone)
    P.paint_list(F.level("zygoma", "A"), "bone", bone)
    # The calvarium and its tables.
    P.paint(_ALL, F.endo - F.thick, "bone", bone)
    t_in, t_out = np.float32(1.6), np.float32(1.8)
    dip = np.maximum(t_in - F.endo, F.endo - (F.thick - t_out))
    dip = np.where((F.thick > 4.3) & (F.w_base < 0.5) & (F.w_fs < 0.3), dip, _BIG)
    P.paint(_ALL, dip, "diploe", hu["diploe"])
    sinus = np.maximum(np.maximum(2.0 - F.endo, F.endo - (F.thick - 2.0)), (0.35 - F.w_fs) * 20)
    P.paint(_ALL, sinus, "air", hu["air"])
    P.paint_list(F.level("petrous", "A"), "petrous", hu["petrous"])
    # Air spaces and orbital contents.
    cells = float(p["mastoid_pneumatisation"])
    for blk, lev in mast:
        x, y, z = (c[blk] for c in F.A)
        lattice = np.cos(1.7 * x) + np.cos(1.7 * y) + np.cos(1.7 * z)
        P.paint(blk, np.maximum(lev + 1.0, (np.abs(lattice) - 1.6 * cells) * 2.0), "air",
                hu["air"])
    for blk, lev in F.level("ethmoid", "A"):
        x, y, z = (c[blk] for c in F.A)
        lattice = np.cos(1.2 * x) + np.cos(1.1 * y) + np.cos(1.2 * z)
        P.paint(blk, np.maximum(lev, (np.abs(lattice) - 1.9) * 2.0), "air", hu["air"])
    for name in ("nasal", "maxillary", "nasopharynx", "sphenoid_sinus"):
        P.paint_list(F.level(name, "A"), "air", hu["air"])
    for blk, lev in F.level("nasal", "A"):
        x = F.A[0][blk]
        P.paint(blk, np.maximum(lev, np.abs(x) * F.ms - 1.0), "bone", bone)
        turb = np.maximum(lev, 9.0 - np.abs(x) * F.ms)
        P.paint(blk, np.maximum(turb, np.cos(0.55 * F.A[2][blk]) * 3.0), "soft_tissue",
                hu["soft_tissue"])
    P.paint_list(F.level("orbit", "A"), "fat", hu["fat"])
    P.paint_list(F.level("optic_nerve", "A"), "soft_tissue", hu["soft_tissue"])
    P.paint_list(F.level("globe", "A"), "globe", hu["globe"])
    P.paint_list(F.level("lens", "A"), "lens", hu["lens"])


def _paint_intracranial(F: _Fields, P: _Painter, path: _Pathology) -> None:
    """CSF, dura and sinuses, brain, cerebellum, brainstem, deep nuclei, ventricles, vessels."""
    p = F.head.params
    hu = dict(F.head.hu)
    contrast = path.mimics.get("residual_contrast")
    if contrast:
        hu["artery"] = contrast["artery_hu"]
        hu["venous_sinus"] = contrast["venous_sinus_hu"]
        hu["choroid_plexus"] = contrast["choroid_plexus_hu"]
    ms = F.ms
    P.paint(_ALL, F.endo, "csf", hu["csf"])
    x, y, z = F.A
    depth = -F.endo
    sss_w = (3.0 + 2.0 * np.clip((y + 60.0) / 150.0, 0.0, 1.0)) * (1.0 - depth / 8.0)
    arc = np.arctan2(z - 5.0, y - 15.0)
    sss = np.maximum(np.maximum(np.abs(x) * ms - sss_w, depth - 8.0), F.endo)
    sss = np.where((arc > -0.25) & (arc < 2.95), sss, _BIG)
    P.paint(_ALL, sss, "venous_sinus", hu["venous_sinus"])
    ts_h = 3.6 * (1.0 - depth / 7.0)
    ts = np.maximum(np.maximum(np.abs(z - F.ztent_A) * ms - ts_h, depth - 7.0), F.endo)
    ts = np.where((y > 42.0) & F.tent_A, ts, _BIG)
    P.paint(_ALL, ts, "venous_sinus", hu["venous_sinus"])
    for name in ("sigmoid", "straight"):
        P.paint_list(F.level(name, "A"), "venous_sinus", hu["venous_sinus"])
    P.paint_list(F.level("cavernous", "A"), "venous_sinus", hu["venous_sinus"])
    tent = np.maximum(np.abs(z - F.ztent_A) * ms - 0.4, F.endo)
    P.paint(_ALL, np.where(F.tent_A, tent, _BIG), "dura", hu["dura"])
    bx, by, bz = F.B
    z_falx = np.maximum(_z_floor(by) + 9.0, -14.0)
    falx = np.maximum(np.abs(bx) * ms - 0.4, (z_falx - bz) * ms)
    falx = np.maximum(falx, np.where(_tent_present(np.abs(bx), by), (_z_tent(np.abs(bx), by)
                                                                      - bz) * ms, -_BIG))
    P.paint(_ALL, np.maximum(falx, F.endo), "dura", hu["dura"])
    P.paint_list(F.level("pituitary", "A"), "pituitary", hu["pituitary"])
    # Cerebrum: grey ribbon, white matter, sulcal CSF.
    P.paint(_ALL, F.brain, "grey", hu["grey"])
    P.paint(_ALL, np.float32(p["cortex_mm"]) - F.q, "white", hu["white"])
    P.paint(_ALL, np.maximum(F.sulc, F.brain), "csf", hu["csf"])
    P.paint(_ALL, F.cb, "cerebellum", hu["cerebellum"])
    P.paint(_ALL, F.cb + 9.0, "white", hu["white"] + 2.0)
    P.paint(_ALL, np.maximum(F.folia, F.cb), "csf", hu["csf"])
    P.paint(_ALL, F.bs, "brainstem", hu["brainstem"])
    # Deep grey nuclei round the internal capsule.
    P.paint_list(F.level("internal_capsule"), "internal_capsule", hu["internal_capsule"])
    for name in ("putamen", "pallidum", "caudate", "thalamus", "hippocampus"):
        P.paint_list(F.level(name), name, hu[name])
    insula = (F.zone < 0) & (P.tis == _T["grey"])
    P.tis[insula] = _T["insula"]
    P.paint(_ALL, F.vent, "ventricle", hu["ventricle"])
    P.paint_list(F.level("choroid_glomus"), "choroid_plexus", hu["choroid_plexus"])
    P.paint_list(F.level("pineal"), "pineal", hu["pineal"])
    hyper = path.mimics.get("hyperdense_vessel")
    for name in ("ica", "mca", "mca_sup", "mca_inf", "aca", "pericallosal", "pcom", "basilar",
                 "pca", "vertebral"):
        tube = F.head.tubes[name]
        for sd in ([0, 1] if tube.paired else [0]):
            value = hu["artery"]
            if hyper and name == hyper["vessel"] and (
                    name == "basilar" or sd == (1 if hyper["side"] == "left" else 0)):
                value = max(value, hyper["hu"])
            P.paint_list(F.level(name, "B", sd), "artery", value)


def _regions(F: _Fields, tis: Arr) -> Arr:
    """ASPECTS region codes (0 none, 1..10 left, 11..20 right) from tissue and position."""
    x, y, z = F.B
    u = np.abs(x)
    ang = np.degrees(np.arctan2(y - 8.0, u - 8.0))
    s = -F.brain
    code = np.zeros(tis.shape, dtype=np.uint8)
    code[tis == _T["caudate"]] = 1
    code[(tis == _T["putamen"]) | (tis == _T["pallidum"])] = 2
    code[tis == _T["internal_capsule"]] = 3
    code[tis == _T["insula"]] = 4
    gw = (tis == _T["grey"]) | (tis == _T["white"])
    gang = gw & (z >= -12.0) & (z < 16.0) & (u > 20.0) & (s < 22.0) & (ang > -68.0) & (ang < 70.0)
    code[gang & (ang < -22.0)] = 5
    code[gang & (ang >= -22.0) & (ang <= 22.0)] = 6
    code[gang & (ang > 22.0)] = 7
    sup = (gw & (z >= 16.0) & (z <= 48.0) & (u > 18.0 + 0.25 * (z - 16.0)) & (s < 26.0)
           & (ang > -65.0) & (ang < 65.0))
    code[sup & (ang < -20.0)] = 8
    code[sup & (ang >= -20.0) & (ang <= 20.0)] = 9
    code[sup & (ang > 20.0)] = 10
    right = (x < 0) & (code > 0)
    code[right] += 10
    return code


def _darken(P: _Painter, codes: Arr, path: _Pathology) -> None:
    """Early ischaemic change: lower parenchyma in the labelled regions of one side, grey
    more than white (loss of grey-white differentiation)."""
    if path.isch_delta is None:
        return
    base = 0 if path.isch_side == "left" else 10
    wanted = np.array([base + 1 + ASPECTS_REGIONS.index(r) for r in path.isch_regions])
    hit = np.isin(codes, wanted)
    if not hit.any():
        return
    factor = np.zeros(len(TISSUES), dtype=np.float32)
    for name, f in _ISCH_FACTOR.items():
        factor[_T[name]] = f
    P.hu[hit] -= np.float32(path.isch_delta) * factor[P.tis[hit]]


@dataclass(frozen=True)
class _Calc:
    """A calcification: head-frame centre (mm), radii (mm), HU and its mimic name."""

    name: str
    centre: Arr
    radii: Arr
    hu: float


def _paint_calcs(F: _Fields, P: _Painter, calcs: list[_Calc],
                 centre_k: Arr | None) -> dict[str, int]:
    """Paint calcifications (head frame) and count their samples on slice centres."""
    counts: dict[str, int] = {}
    grid = F.grid
    if grid is None:
        return counts
    for c in calcs:
        a, b = c.centre - c.radii - 1.0, c.centre + c.radii + 1.0
        blk = grid.block(a, b)
        if blk is None:
            counts.setdefault(c.name, 0)
            continue
        x, y, z = grid.sub(blk).coords()
        r = c.radii.astype(np.float32)
        qn = np.sqrt(((x - c.centre[0]) / r[0]) ** 2 + ((y - c.centre[1]) / r[1]) ** 2
                     + ((z - c.centre[2]) / r[2]) ** 2)
        lev = (qn - 1.0) * np.float32(r.min())
        P.paint(blk, lev, "calcification", c.hu)
        inside = lev <= 0
        if centre_k is not None:
            inside = inside & centre_k[blk[0]][:, None, None]
        counts[c.name] = counts.get(c.name, 0) + int(np.count_nonzero(inside))
    return counts


def _paint_grid(head: _Head, path: _Pathology, grid: _Grid, px: float, calcs: list[_Calc],
                centre_k: Arr | None) -> tuple[Arr, Arr, Arr, Arr, dict[str, int]]:
    """Paint every structure and lesion on ``grid``: HU, tissue, blood code, ASPECTS code and
    calcification sample counts."""
    F = _Fields(head, path, grid, coarse=px < 1.6)
    P = _Painter(grid.shape, px, head.hu["air"])
    _paint_exterior(F, P)
    _paint_intracranial(F, P, path)
    codes = _regions(F, P.tis)
    _darken(P, codes, path)
    counts = _paint_calcs(F, P, calcs, centre_k)
    for b in path.bleeds:
        got = _bleed_paint(F, b)
        if got is None:
            continue
        blk, level, value, rim = got
        if b.rim_mm > 0:
            P.paint(blk, rim, "oedema", b.oedema_hu)
        P.paint(blk, level, "blood", value)
        P.blood[blk][level <= 0] = 1 + BLEED_KINDS.index(b.kind)
    return P.hu, P.tis, P.blood, codes, counts


# --------------------------------------------------------------------------------------------
# Bleed volumes (fine sampling of the same level functions)
# --------------------------------------------------------------------------------------------

_PAINT_ORDER = ("subarachnoid", "subdural", "epidural", "intraventricular", "intraparenchymal")
_COARSE_MM = 3.0
_FINE = 3  # fine samples per coarse step and axis


def _axis_grid(lo: Arr, hi: Arr, step: float) -> _Grid:
    """An axis-aligned head-frame grid (k: z, i: y, j: x) covering [lo, hi] mm."""
    n = np.ceil((hi - lo) / step).astype(int) + 1
    mat = np.array([[0.0, 0.0, step], [0.0, step, 0.0], [step, 0.0, 0.0]])
    return _Grid(shape=(int(n[2]), int(n[1]), int(n[0])), mat=mat, off=lo.astype(np.float64))


def _fine_points(head: _Head, path: _Pathology, b: _Bleed) -> tuple[Arr, Arr, Arr] | None:
    """Fine sample points (head mm, shaped (n, 1, 1)) in every coarse cell that the bleed's
    level function says could hold some of it."""
    lo, hi = _atlas_box_to_head(head, b.bbox[0], b.bbox[1], 3.0)
    grid = _axis_grid(lo, hi, _COARSE_MM)
    F = _Fields(head, path, grid, brain=False, exterior=False)
    got = _bleed_paint(F, b)
    if got is None:
        return None
    blk, level = got[0], got[1]
    k, i, j = np.nonzero(level < _COARSE_MM)
    if k.size == 0:
        return None
    idx = np.stack([k + blk[0].start, i + blk[1].start, j + blk[2].start]).astype(np.float64)
    centres = grid.off[:, None] + grid.mat @ idx  # (3, n)
    off = (np.arange(_FINE) - (_FINE - 1) / 2) * (_COARSE_MM / _FINE)
    ox, oy, oz = np.meshgrid(off, off, off, indexing="ij")
    pts = [(centres[c][:, None] + o.ravel()[None, :]).reshape(-1, 1, 1).astype(np.float32)
           for c, o in enumerate((ox, oy, oz))]
    return pts[0], pts[1], pts[2]


def _calibrate_ivh(head: _Head, path: _Pathology, b: _Bleed) -> None:
    """Solve the dependent level of a layering intraventricular bleed for its drawn volume."""
    b.level0 = -float(_BIG)
    if b.info["pattern"] != "layering":
        return
    pts = _fine_points(head, path, b)
    if pts is None:
        return
    F = _Fields(head, path, None, coords=pts, brain=False, exterior=False)
    got = _bleed_paint(F, b)
    if got is None:
        return
    level = got[1].ravel()
    c = b.centre.astype(np.float32)
    g = path.gravity.astype(np.float32)
    along = (((F.A[0] - c[0]) * g[0] + (F.A[1] - c[1]) * g[1] + (F.A[2] - c[2]) * g[2])
             * F.ms).ravel()
    inside = np.sort(along[level <= 0])[::-1]
    dv = (_COARSE_MM / _FINE) ** 3 / 1000.0
    n = int(round(b.target_ml / dv))
    if 0 < n < inside.size:
        b.level0 = float(inside[n - 1])
    else:
        b.info["filled"] = True


def _finalise_bleeds(head: _Head, path: _Pathology) -> dict[str, float]:
    """Order the bleeds as painted, solve layering levels and measure every bleed's volume
    (mL) where later-painted bleeds do not cover it."""
    path.bleeds.sort(key=lambda bl: _PAINT_ORDER.index(bl.kind))
    for b in path.bleeds:
        b.oedema_hu = head.hu["oedema"]
        if b.kind == "intraventricular":
            _calibrate_ivh(head, path, b)
    volumes: dict[str, float] = {}
    dv = (_COARSE_MM / _FINE) ** 3 / 1000.0
    for n, b in enumerate(path.bleeds):
        pts = _fine_points(head, path, b)
        if pts is None:
            volumes[b.kind] = 0.0
            continue
        F = _Fields(head, path, None, coords=pts, brain=False, exterior=False)
        got = _bleed_paint(F, b)
        occ = got[1] <= 0 if got is not None else np.zeros(pts[0].shape, dtype=bool)
        for later in path.bleeds[n + 1:]:
            lo, hi = _atlas_box_to_head(head, later.bbox[0], later.bbox[1], 3.0)
            near = np.ones(occ.shape, dtype=bool)
            for c in range(3):
                near &= (pts[c] >= lo[c]) & (pts[c] <= hi[c])
            if not (near & occ).any():
                continue
            other = _bleed_paint(F, later)
            if other is not None:
                occ &= other[1] > 0
        volumes[b.kind] = round(float(np.count_nonzero(occ)) * dv, 4)
    return volumes


# --------------------------------------------------------------------------------------------
# CT physics
# --------------------------------------------------------------------------------------------

_NC = 64  # coarse grid for the projector
_NA = 60  # projection angles


@lru_cache(maxsize=2)
def _projector(n: int, n_ang: int) -> tuple[Any, int, float]:
    """Sparse parallel-beam projector of an n x n grid (pixel units, linear interpolation
    over detector bins), its bin count and the gain that makes its FBP exact on a disc."""
    nb = int(math.ceil(n * math.sqrt(2.0))) + 3
    c = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n]
    xs = (xx - c).ravel()
    ys = (yy - c).ravel()
    pix = np.arange(n * n)
    rows, cols, vals = [], [], []
    for a in range(n_ang):
        th = np.pi * a / n_ang
        s = xs * np.cos(th) + ys * np.sin(th) + (nb - 1) / 2.0
        k = np.floor(s).astype(int)
        w = s - k
        rows += [a * nb + k, a * nb + k + 1]
        cols += [pix, pix]
        vals += [1.0 - w, w]
    mat = sparse.csr_matrix((np.concatenate(vals).astype(np.float32),
                             (np.concatenate(rows), np.concatenate(cols))),
                            shape=(n_ang * nb, n * n))
    disc = ((xx - c) ** 2 + (yy - c) ** 2 < (n / 3.0) ** 2).astype(np.float32)
    rec = _fbp_raw(np.asarray(mat @ disc.ravel()).reshape(n_ang, nb, 1), mat, n)[0]
    centre = rec[int(c) - 3:int(c) + 4, int(c) - 3:int(c) + 4].mean()
    return mat, nb, float(1.0 / centre)


def _fbp_raw(sino: Arr, mat: Any, n: int) -> Arr:
    """Filtered back-projection (ramp with Hann apodisation) of (angles, bins, slices)."""
    n_ang, nb, ns = sino.shape
    size = 1 << int(math.ceil(math.log2(2 * nb)))
    f = sfft.rfftfreq(size)
    filt = (f * 0.5 * (1.0 + np.cos(2.0 * np.pi * f))).astype(np.float32)
    q = sfft.irfft(sfft.rfft(sino, n=size, axis=1) * filt[None, :, None], n=size, axis=1)
    q = np.ascontiguousarray(q[:, :nb, :], dtype=np.float32).reshape(n_ang * nb, ns)
    img = np.asarray(mat.T @ q) * np.float32(np.pi / n_ang)
    out: Arr = img.T.reshape(ns, n, n)
    return out


def _coarse(vol: Arr, n: int) -> Arr:
    """Slices resampled to n x n (anti-aliased), for projection-space models."""
    m = vol.shape[1]
    sm = ndimage.gaussian_filter(vol, sigma=(0.0, 0.45 * m / n, 0.45 * m / n), mode="nearest")
    out: Arr = ndimage.zoom(sm, (1.0, n / m, n / m), order=1, mode="nearest", grid_mode=True)
    return out.astype(np.float32)


def _fine(img: Arr, m: int) -> Arr:
    """Coarse slices resampled back to m x m."""
    n = img.shape[1]
    out: Arr = ndimage.zoom(img, (1.0, m / n, m / n), order=1, mode="nearest", grid_mode=True)
    return out.astype(np.float32)


def _beam_hardening(coarse: Arr, fov: float, beta: float) -> Arr:
    """HU error of each coarse slice from bone beam hardening: the bone line integrals lose
    attenuation quadratically (polychromatic spectrum) and the loss is reconstructed by FBP,
    cupping the brain under the inner table and darkening rays between dense bone. The
    scanner's calibration keeps the typical soft-tissue level (the slice's median error over
    soft tissue is removed), leaving the relative cupping and streaks."""
    mat, nb, gain = _projector(_NC, _NA)
    ns = coarse.shape[0]
    pxc = fov / _NC
    bone = np.clip((coarse - 150.0) / 1000.0, 0.0, 3.0).reshape(ns, -1).T
    path = np.asarray(mat @ bone) * np.float32(pxc * _MU_WATER)  # bone attenuation, unitless
    err = -np.float32(0.022 * beta) * path ** 2
    sino = err.reshape(_NA, nb, ns)
    dmu = _fbp_raw(sino, mat, _NC) * np.float32(gain / pxc)
    out: Arr = dmu * np.float32(1000.0 / _MU_WATER)
    soft = (coarse > -50.0) & (coarse < 120.0)
    for k in range(ns):
        if np.count_nonzero(soft[k]) > 10:
            out[k] -= np.float32(np.median(out[k][soft[k]]))
    return out


def _relative_sd(coarse: Arr, fov: float) -> Arr:
    """Noise sd (arbitrary units) per coarse pixel: the back-projected projection variance
    exp(L) of each slice's attenuation L. Soft tissue counts as water, so lesions and
    ischaemia do not change the noise of a head."""
    mat, _, _ = _projector(_NC, _NA)
    ns = coarse.shape[0]
    pxc = fov / _NC
    mu = np.where(coarse < -500.0, 0.0, 1.0 + np.clip((coarse - 150.0) / 1000.0, 0.0, 2.0))
    atten = np.asarray(mat @ mu.reshape(ns, -1).T.astype(np.float32)) * np.float32(
        pxc * _MU_WATER)
    var = np.asarray(mat.T @ np.exp(np.minimum(atten, 12.0)))
    out: Arr = np.sqrt(np.maximum(var, 1e-6)).T.reshape(ns, _NC, _NC).astype(np.float32)
    return out


def _noise_map(coarse: Arr, fov: float, head: _Head) -> Arr:
    """Relative noise sd per coarse pixel, 1 at the centre of a water head of this seed's
    size inside a 7 mm skull (so brain averages about 1)."""
    c = (_NC - 1) / 2.0
    yy, xx = np.mgrid[0:_NC, 0:_NC]
    r = np.hypot(xx - c, yy - c) * (fov / _NC)
    radius = 80.0 * head.mean_scale
    ref_img = np.where(r < radius, 0.0, -1000.0)
    ref_img = np.where((r >= radius) & (r < radius + 7.0), 1100.0, ref_img)[None].astype(
        np.float32)
    ref = float(_relative_sd(ref_img, fov)[0, int(c), int(c)])
    out: Arr = (_relative_sd(coarse, fov) / (1.1 * ref)).astype(np.float32)
    return out


def _mtf(m: int, px: float, kernel_class: str) -> Arr:
    """Kernel MTF on the rfft2 grid of an m x m slice (pixel ``px`` mm)."""
    fc, boost = {"soft": (0.42, 0.0), "standard": (0.54, 0.15), "sharp": (0.72, 0.5)}[
        kernel_class]
    fy = sfft.fftfreq(m, d=px)[:, None]
    fx = sfft.rfftfreq(m, d=px)[None, :]
    r2 = (fx * fx + fy * fy) / fc ** 2
    out: Arr = (np.exp(-r2) * (1.0 + boost * r2)).astype(np.float32)
    return out


def _noise(shape: tuple[int, int, int], px: float, kernel_class: str,
           rng: np.random.Generator) -> Arr:
    """Unit-sd CT noise with a ramp-shaped NPS (frequency x MTF^2): correlated, grainy."""
    m = shape[1]
    fy = sfft.fftfreq(m, d=px)[:, None]
    fx = sfft.rfftfreq(m, d=px)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    amp = np.sqrt((f + 0.02) * _mtf(m, px, kernel_class) ** 2).astype(np.float32)
    white = rng.standard_normal(shape, dtype=np.float32)
    out = sfft.irfft2(sfft.rfft2(white, workers=2) * amp, s=(m, m), workers=2)
    sd = float(out.std()) or 1.0
    res: Arr = (out / sd).astype(np.float32)
    return res


def _streaks(vol: Arr, scan: _Scan, head: _Head, px: float, info: dict[str, Any]) -> list[int]:
    """Add streak artefacts from the petrous bones or dental work to the slices near their
    source (dark bar between the sources, alternating streaks through them); return the
    slices touched."""
    rng = np.random.default_rng(info["seed"])
    nz, m, _ = vol.shape
    if info["source"] == "petrous":
        atlas = [np.array([-30.0, 18.0, -36.0]), np.array([30.0, 18.0, -36.0])]
    else:
        atlas = [np.array([-18.0, -78.0, -74.0]), np.array([18.0, -78.0, -74.0])]
    src = [scan.rot @ (a * head.scale) + scan.trans for a in atlas]
    zc = scan.z0 + scan.thickness * np.arange(nz)
    zs = 0.5 * (src[0][2] + src[1][2])
    near = np.nonzero(np.abs(zc - zs) < 12.0)[0]
    if near.size == 0:
        near = np.array([0, 1][:nz]) if zs < zc[0] else np.array([nz - 2, nz - 1][-nz:])
    coords = -scan.fov / 2 + px / 2 + px * np.arange(m, dtype=np.float32)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    amp = float(info["amplitude_hu"])
    width = max(0.8, 0.5 * px)
    pattern = np.zeros((m, m), dtype=np.float32)
    d = src[1][:2] - src[0][:2]
    length = float(np.hypot(*d)) or 1.0
    th = math.atan2(d[1], d[0])
    along = (xx - src[0][0]) * math.cos(th) + (yy - src[0][1]) * math.sin(th)
    perp = -(xx - src[0][0]) * math.sin(th) + (yy - src[0][1]) * math.cos(th)
    bar = np.exp(-0.5 * (perp / 4.0) ** 2) * _smoothstep(along / 6.0) * _smoothstep(
        (length - along) / 6.0)
    pattern -= np.float32(0.6 * amp) * bar.astype(np.float32)
    for n in range(int(info["streaks"])):
        s = src[n % 2]
        ang = rng.uniform(0, np.pi)
        dist = np.abs(-(xx - s[0]) * math.sin(ang) + (yy - s[1]) * math.cos(ang))
        run = np.abs((xx - s[0]) * math.cos(ang) + (yy - s[1]) * math.sin(ang))
        sign = 1.0 if n % 3 == 0 else -1.0
        pattern += np.float32(sign * amp * rng.uniform(0.4, 1.0)) * (
            np.exp(-0.5 * (dist / width) ** 2) * np.exp(-run / 90.0)).astype(np.float32)
    for k in near:
        wz = math.exp(-((zc[k] - zs) / 9.0) ** 2) if abs(zc[k] - zs) < 12.0 else 0.6
        vol[k] += np.float32(wz) * pattern
    return [int(k) for k in near]


def _physics(vol: Arr, scan: _Scan, head: _Head, px: float, path: _Pathology,
             seed: int) -> tuple[Arr, dict[str, Any]]:
    """Beam hardening, streaks, kernel blur, textured noise and the reconstruction circle."""
    nz, m, _ = vol.shape
    coarse = _coarse(vol, _NC)
    vol += _fine(_beam_hardening(coarse, scan.fov, scan.bh_beta), m)
    sd_map = _fine(_noise_map(coarse, scan.fov, head), m)
    info: dict[str, Any] = {}
    streak = path.mimics.get("streak_artefact")
    if streak is not None:
        info["streak_slices"] = _streaks(vol, scan, head, px, streak)
    spec = sfft.rfft2(vol, workers=2) * _mtf(m, px, scan.kernel_class)
    vol = sfft.irfft2(spec, s=(m, m), workers=2).astype(np.float32)
    rng = np.random.default_rng([seed, 33, m])
    vol += _noise(vol.shape, px, scan.kernel_class, rng) * sd_map * np.float32(scan.noise_sd)
    c = -scan.fov / 2 + px / 2 + px * np.arange(m)
    outside = (c[:, None] ** 2 + c[None, :] ** 2) > (scan.fov / 2) ** 2
    vol[:, outside] = _FILL
    return vol, info


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

_HEAD_LO = np.array([-100.0, -118.0, -112.0])
_HEAD_HI = np.array([100.0, 132.0, 106.0])


def _atlas_to_head(head: _Head, a: Arr) -> Arr:
    """Invert the atlas map at one point by fixed-point iteration (head mm)."""
    p = a * head.scale
    for _ in range(6):
        got = np.array([float(v[0]) for v in _to_atlas(head, *(np.array([c], dtype=np.float32)
                                                              for c in p))])
        p = p + (a - got) * head.scale
    out: Arr = p
    return out


def _snap(p: Arr, scan: _Scan, px: float) -> Arr:
    """Move a head-frame point to the nearest voxel centre of the rendered volume."""
    s = scan.rot @ p + scan.trans
    x0 = -scan.fov / 2 + px / 2
    m = int(round(scan.fov / px))
    j = np.clip(np.round((s[0] - x0) / px), 0, m - 1)
    i = np.clip(np.round((s[1] - x0) / px), 0, m - 1)
    k = np.clip(np.round((s[2] - scan.z0) / scan.thickness), 0, scan.nz - 1)
    snapped = np.array([x0 + j * px, x0 + i * px, scan.z0 + k * scan.thickness])
    out: Arr = scan.rot.T @ (snapped - scan.trans)
    return out


def _place_calcs(head: _Head, path: _Pathology, scan: _Scan, px: float) -> list[_Calc]:
    """Calcifications of the drawn mimics, centred on voxel centres (head frame)."""
    calcs: list[_Calc] = []
    v = head.params["ventricle_scale"]
    for name, info in path.mimics.items():
        if name == "choroid_plexus_calcification":
            sides = [1.0, -1.0] if info["side"] == "both" else [
                1.0 if info["side"] == "left" else -1.0]
            for sgn in sides:
                c = _snap(_atlas_to_head(head, np.array([sgn * (21.0 + 2 * (v - 1)), 37.0, 12.0])),
                          scan, px)
                r = info["radius_mm"]
                calcs.append(_Calc(name, c, np.array([r, r * 1.3, r]), info["hu"]))
        elif name == "pineal_calcification":
            c = _snap(_atlas_to_head(head, np.array([0.0, 34.0, 3.0])), scan, px)
            r = info["radius_mm"]
            calcs.append(_Calc(name, c, np.array([r, r * 1.2, r]), info["hu"]))
        elif name == "basal_ganglia_calcification":
            sides = [1.0, -1.0] if info["side"] == "both" else [
                1.0 if info["side"] == "left" else -1.0]
            for sgn in sides:
                c = _snap(_atlas_to_head(head, np.array([sgn * 18.5, 3.0, -0.5])), scan, px)
                r = info["radius_mm"]
                for f in range(int(info["foci"])):
                    jit = np.array(info["jitter"][f]) * (0.0 if f == 0 else 1.0)
                    calcs.append(_Calc(name, c + jit, np.full(3, r * (1.0 if f == 0 else 0.7)),
                                       info["hu"]))
        elif name == "falx_calcification":
            y = info["y_mm"]
            z = float(_z_floor(np.array([y]))[0]) + 24.0
            c = _snap(_atlas_to_head(head, np.array([0.0, y, z])), scan, px)
            ln, th = info["length_mm"], info["thickness_mm"]
            calcs.append(_Calc(name, c, np.array([th / 2, ln / 2, ln / 3]), info["hu"]))
    return calcs


def _ssp_weights(n_sub: int) -> Arr:
    """Sub-slice weights of a flat-topped slice-sensitivity profile (FWHM = thickness)."""
    off = (np.arange(n_sub) - (n_sub - 1) / 2) / n_sub  # in slice thicknesses
    w = 2.0 ** (-np.abs(2.0 * off) ** 4)
    out: Arr = (w / w.sum()).astype(np.float32)
    return out


def render_labelled(seed: int, label: NcctLabel, *,
                    matrix: int = 512) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    """The case, its ASPECTS region map (uint8, 0 outside, 1..10 = patient's LEFT hemisphere
    regions in ASPECTS_REGIONS order, 11..20 = RIGHT) and its tissue map (uint8 indices into
    TISSUES), both sampled at slice centres, same shape as the volume."""
    if not 64 <= int(matrix) <= 1024:
        raise ValueError("matrix must lie in 64..1024")
    m = int(matrix)
    head = _head(int(seed))
    scan = _draw_scan(int(seed), head)
    path = _draw_pathology(int(seed), label, scan)
    volumes = _finalise_bleeds(head, path)
    px = scan.fov / m
    n_sub = scan.n_sub
    dz_sub = scan.thickness / n_sub
    rt = scan.rot.T
    x0 = -scan.fov / 2 + px / 2
    mat = np.stack([rt @ np.array([0.0, 0.0, dz_sub]), rt @ np.array([0.0, px, 0.0]),
                    rt @ np.array([px, 0.0, 0.0])], axis=1)
    s0 = np.array([x0, x0, scan.z0 - scan.thickness / 2 + dz_sub / 2])
    grid = _Grid(shape=(scan.nz * n_sub, m, m), mat=mat, off=rt @ (s0 - scan.trans))
    calcs = _place_calcs(head, path, scan, px)
    weights = _ssp_weights(n_sub)
    nz = scan.nz
    vol = np.empty((nz, m, m), dtype=np.float32)
    tissue = np.zeros((nz, m, m), dtype=np.uint8)
    region = np.zeros((nz, m, m), dtype=np.uint8)
    blood = np.zeros((nz, m, m), dtype=np.uint8)
    counts: dict[str, int] = {}
    per_slab = max(1, int(2.0e6 // (n_sub * m * m)))
    hlo, hhi = _atlas_box_to_head(head, _HEAD_LO, _HEAD_HI, 4.0)
    mid = n_sub // 2
    for a in range(0, nz, per_slab):
        b = min(nz, a + per_slab)
        slab = grid.sub((slice(a * n_sub, b * n_sub), slice(0, m), slice(0, m)))
        hu = np.full(slab.shape, np.float32(head.hu["air"]), dtype=np.float32)
        tis = np.zeros(slab.shape, dtype=np.uint8)
        reg = np.zeros(slab.shape, dtype=np.uint8)
        bld = np.zeros(slab.shape, dtype=np.uint8)
        blk = slab.block(hlo, hhi)
        if blk is not None:
            centre_k = (np.arange(blk[0].start, blk[0].stop) % n_sub) == mid
            got = _paint_grid(head, path, slab.sub(blk), px, calcs, centre_k)
            hu[blk], tis[blk], bld[blk], reg[blk] = got[0], got[1], got[2], got[3]
            for key, val in got[4].items():
                counts[key] = counts.get(key, 0) + val
        vol[a:b] = np.einsum("kszx,s->kzx", hu.reshape(b - a, n_sub, m, m), weights)
        tissue[a:b] = tis[mid::n_sub]
        region[a:b] = reg[mid::n_sub]
        blood[a:b] = bld[mid::n_sub]
    vol, phys = _physics(vol, scan, head, px, path, int(seed))
    volume = np.clip(np.rint(vol), -32768, 32767).astype(np.int16)
    outside = volume == _FILL
    tissue[outside] = _T["air"]
    region[outside] = 0
    blood[outside] = 0
    details = _details(head, scan, path, volumes, counts, phys, m)
    case = NcctCase(family=FAMILY, seed=int(seed), label=label, volume_hu=volume,
                    spacing_mm=(float(scan.thickness), float(px), float(px)), blood_mask=blood,
                    details=details)
    return case, region, tissue


def render(seed: int, label: NcctLabel, *, matrix: int = 512) -> NcctCase:
    """The case alone (see :func:`render_labelled`)."""
    return render_labelled(seed, label, matrix=matrix)[0]


def _details(head: _Head, scan: _Scan, path: _Pathology, volumes: dict[str, float],
             counts: dict[str, int], phys: dict[str, Any], m: int) -> dict[str, Any]:
    """The case's ``details``: acquisition, head parameters, tissue HU, lesions, mimics."""
    px = scan.fov / m
    bleeds: dict[str, dict[str, Any]] = {}
    for b in path.bleeds:
        entry: dict[str, Any] = {"hu": round(b.hu, 2), "side": b.side, **b.info,
                                 "target_ml": round(b.target_ml, 3),
                                 "centre_mm": [round(float(v), 2) for v in b.centre * head.scale]}
        if b.kind == "intraparenchymal":
            entry["oedema_rim_mm"] = round(b.rim_mm, 2)
            entry["oedema_hu"] = round(b.oedema_hu, 2) if b.rim_mm > 0 else None
            entry["fluid_level"] = b.fluid > 0
        if b.kind in ("subdural", "epidural"):
            entry["max_thickness_mm"] = round(b.t_max, 2)
        entry["swirl"] = b.swirl > 0
        entry["midline_shift_mm"] = round(b.shift, 2)
        bleeds[b.kind] = entry
    mimics: dict[str, dict[str, Any]] = {}
    for name, info in path.mimics.items():
        entry = {k: v for k, v in info.items() if k not in ("jitter", "seed")}
        if name.endswith("_calcification"):
            entry["samples"] = int(counts.get(name, 0))
        if name == "streak_artefact":
            entry["slices"] = phys.get("streak_slices", [])
        mimics[name] = entry
    return {
        "kernel": scan.kernel, "kernel_class": scan.kernel_class,
        "slice_thickness_mm": float(scan.thickness), "sub_slices": scan.n_sub,
        "noise_sd_hu": round(scan.noise_sd, 3), "fov_mm": round(scan.fov, 3), "matrix": m,
        "coverage_mm": round(scan.nz * scan.thickness, 2),
        "pose": {"pitch_deg": round(scan.pitch, 3), "roll_deg": round(scan.roll, 3),
                 "yaw_deg": round(scan.yaw, 3)},
        "origin_mm": [round(-scan.fov / 2 + px / 2, 5), round(-scan.fov / 2 + px / 2, 5),
                      round(scan.z0, 5)],
        "beam_hardening": round(scan.bh_beta, 3),
        "head": dict(head.params), "tissue_hu": {k: round(v, 2) for k, v in head.hu.items()},
        "ischaemic_delta_hu": None if path.isch_delta is None else round(path.isch_delta, 3),
        "bleed_volumes_ml": dict(volumes), "bleeds": bleeds, "mimics": mimics,
    }
