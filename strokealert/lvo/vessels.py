"""Vessel features: where the arterial tree stops on one side and continues on the other.

Works on the canonical vessel map (see :mod:`strokealert.lvo.preprocess`): the midline is
x = 0, patient left is +x, 1.5 mm voxels. The deep brain is cut into cubes of
:data:`BLOCK_MM` mirrored across the midline. An occlusion removes the filling of its segment
and of the territory downstream, so cubes on the occluded side hold less vessel than their
partners: the features measure how much, how concentrated (one connected run of cubes, as a
missing M1 and its branches are, rather than scattered noise), how far from the midline (ICA
terminus and M1 are medial and low, M2 branches lateral and high) and how long the vessel
course is on each side. The posterior circulation has no partner: the basilar is measured as the
share of vessel in the posterior fossa midline and the posterior cerebral territories.

All quantities are shares of the head's own vessel total, so contrast level, noise and head
size cancel; none depends on where one generator puts a given artery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokealert.lvo.preprocess import VOXEL_MM, canonical_grid

BLOCK_MM = 12.0
STRONG_DEFICIT = 0.5  # a cube counts as lacking filling when it holds < 50 % of its partner
PRESENT = 0.35  # vessel-map value counted as a filled lumen voxel (course length)
PROXIMAL_MM = 48.0  # |x| below and z below PROXIMAL_TOP_MM: course of ICA-T, M1, proximal M2
PROXIMAL_TOP_MM = 15.0
EPS = 1e-6

# Mirrored regions along the expected course, canonical mm: (|x|, y, z) ranges. Generous: the
# head's pitch (not corrected) moves them by up to ~20 mm, and trees differ between people.
REGIONS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "terminus": ((4.0, 24.0), (-35.0, 15.0), (-50.0, -5.0)),  # ICA terminus, A1, M1 origin
    "m1": ((15.0, 45.0), (-35.0, 15.0), (-45.0, 5.0)),  # M1 course to the sylvian fissure
    "sylvian": ((35.0, 65.0), (-40.0, 30.0), (-35.0, 30.0)),  # M2 in the insula
    "cortex": ((50.0, 78.0), (-96.0, 96.0), (-30.0, 60.0)),  # M3/M4: distal MCA territory
    "pca": ((4.0, 45.0), (15.0, 80.0), (-45.0, 20.0)),  # P1, P2 and the PCA territory
    # The two M2 divisions: superior (frontal, anterior) and inferior (temporal, posterior).
    "superior_division": ((30.0, 78.0), (-96.0, 0.0), (-20.0, 60.0)),
    "inferior_division": ((30.0, 78.0), (0.0, 60.0), (-45.0, 30.0)),
}
BASILAR_BOX = ((0.0, 9.0), (-10.0, 30.0), (-75.0, -10.0))  # midline, in front of the brainstem

FEATURES = (
    "deficit",  # Σ cube shortfall on the suspected side / vessel total
    "deficit_other",  # the same on the other side (noise and normal asymmetry level)
    "cluster",  # largest connected run of strongly lacking cubes on the suspected side / total
    "cluster_other",
    "proximal",  # shortfall of the cubes along ICA terminus, M1 and proximal M2 / total
    "proximal_other",
    *(f"{name}_ratio" for name in REGIONS),  # log(other / suspected) vessel in each region
    "division",  # the larger of the two division ratios (one M2 branch lost)
    "course",  # log(other / suspected) filled lumen voxels (course length) in the MCA regions
    "basilar",  # log share of the vessel total in the basilar box
    "basilar_terminus",  # log(basilar box / both carotid termini)
    "posterior",  # log share of the vessel total in both PCA regions
)


@dataclass(frozen=True)
class VesselFeatures:
    """Features oriented to the suspected side (the side with the larger deficit)."""

    values: np.ndarray  # (len(FEATURES),) float64
    side: str  # left or right: the side that lacks more vessel
    mark_mm: tuple[float, float, float]  # canonical (x, y, z) of the most lacking cube
    basilar_mark_mm: tuple[float, float, float]  # canonical (x, y, z) of the basilar course
    total: float  # vessel total (mL of full-lumen equivalent)

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in zip(FEATURES, self.values, strict=True)}


def _blocks(volume: np.ndarray, size: int) -> np.ndarray:
    """Sum over cubes of ``size`` voxels (edges trimmed)."""
    nz, ny, nx = (n // size for n in volume.shape)
    trimmed = volume[: nz * size, : ny * size, : nx * size]
    summed: np.ndarray = trimmed.reshape(nz, size, ny, size, nx, size).sum(axis=(1, 3, 5))
    return summed


def _largest_cluster(mask: np.ndarray, weight: np.ndarray) -> float:
    labels, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, 3))
    if n == 0:
        return 0.0
    sums = ndimage.sum_labels(weight, labels, index=np.arange(1, n + 1))
    return float(np.max(sums))


def _box(half: np.ndarray, ranges: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The voxels of a half-head (columns running from the midline out) inside a region."""
    gx, gy, gz = canonical_grid()
    ax = gx[len(gx) // 2:]
    (x0, x1), (y0, y1), (z0, z1) = ranges
    box: np.ndarray = half[np.ix_((gz >= z0) & (gz < z1), (gy >= y0) & (gy < y1),
                                  (ax >= x0) & (ax < x1))]
    return box


def _ratio(other: float, suspected: float, floor: float) -> float:
    """log((other + floor) / (suspected + floor)): positive when the suspected side lacks."""
    return float(np.log((other + floor) / (suspected + floor)))


def extract(vessel: np.ndarray) -> VesselFeatures:
    """Features of a canonical vessel map (z, y, x), patient left = +x."""
    gx, gy, gz = canonical_grid()
    half = len(gx) // 2  # columns < half: patient right (x < 0); the grid is symmetric
    sides = {"left": vessel[:, :, half:], "right": vessel[:, :, :half][:, :, ::-1]}
    ax = gx[half:]  # |x| of the columns of either half (both run from the midline out)
    total = float(vessel.sum()) + EPS
    size = int(round(BLOCK_MM / VOXEL_MM))
    blocks = {s: _blocks(v, size) for s, v in sides.items()}
    # A cube lacks vessel only if no neighbouring cube of its own side holds its partner's
    # amount: a normal tree that runs one cube higher on one side is not a deficit.
    near = {s: ndimage.maximum_filter(b, size=3) for s, b in blocks.items()}
    bx_mm = (np.arange(blocks["left"].shape[2]) + 0.5) * size * VOXEL_MM
    bz_mm = gz[0] + (np.arange(blocks["left"].shape[0]) + 0.5) * size * VOXEL_MM
    course_box = (bz_mm[:, None, None] < PROXIMAL_TOP_MM) & (bx_mm[None, None, :] < PROXIMAL_MM)
    short, deficit, cluster, proximal, region = {}, {}, {}, {}, {}
    for s, o in (("left", "right"), ("right", "left")):
        short[s] = np.clip(blocks[o] - near[s], 0.0, None)
        strong = (near[s] < STRONG_DEFICIT * blocks[o]) & (blocks[o] > 0.002 * total)
        deficit[s] = float(short[s].sum() / total)
        cluster[s] = _largest_cluster(strong, short[s]) / total
        proximal[s] = float((short[s] * course_box).sum() / total)
        region[s] = {name: float(_box(sides[s], r).sum()) for name, r in REGIONS.items()}
    floor = {name: 0.02 * (region["left"][name] + region["right"][name]) + 0.001 * total
             for name in REGIONS}
    mca = ("m1", "sylvian", "cortex")
    lean = sum(_ratio(region["right"][n], region["left"][n], floor[n]) for n in mca)
    lean += 10.0 * (deficit["left"] + proximal["left"] - deficit["right"] - proximal["right"])
    side = "left" if lean >= 0 else "right"
    other = "right" if side == "left" else "left"
    ratios = [_ratio(region[other][n], region[side][n], floor[n]) for n in REGIONS]
    division = max(ratios[-2:])
    filled = {s: sum(float((_box(sides[s], REGIONS[n]) > PRESENT).sum()) for n in mca)
              for s in sides}
    course = _ratio(filled[other], filled[side], 0.02 * (filled["left"] + filled["right"]) + 1)

    basilar_region = float(sum(_box(v, BASILAR_BOX).sum() for v in sides.values()))
    termini = region["left"]["terminus"] + region["right"]["terminus"]
    basilar = float(np.log(basilar_region / total + 1e-3))
    basilar_terminus = float(np.log((basilar_region + 0.01 * total) / (termini + 0.01 * total)))
    posterior = float(np.log((region["left"]["pca"] + region["right"]["pca"]) / total + 1e-3))

    where = np.unravel_index(int(np.argmax(short[side] * (1 + course_box))), short[side].shape)
    bz, by, bx = (int(i) * size + size // 2 for i in where)
    sign = 1.0 if side == "left" else -1.0
    mark = (sign * float(ax[min(bx, len(ax) - 1)]), float(gy[min(by, len(gy) - 1)]),
            float(gz[min(bz, len(gz) - 1)]))
    values = np.array([deficit[side], deficit[other], cluster[side], cluster[other],
                       proximal[side], proximal[other], *ratios, division, course, basilar,
                       basilar_terminus, posterior])
    return VesselFeatures(values, side, mark, _basilar_mark(vessel),
                          total * VOXEL_MM ** 3 / 1000.0)


def _basilar_mark(vessel: np.ndarray) -> tuple[float, float, float]:
    """Canonical (x, y, z) in the middle of the basilar box's vessel, or of the box itself."""
    gx, gy, gz = canonical_grid()
    (_, x1), (y0, y1), (z0, z1) = BASILAR_BOX
    sel_y, sel_z = (gy >= y0) & (gy < y1), (gz >= z0) & (gz < z1)
    box = vessel[np.ix_(sel_z, sel_y, np.abs(gx) < x1)]
    if box.sum() <= 0:
        return (0.0, (y0 + y1) / 2, (z0 + z1) / 2)
    zz, yy, _ = np.nonzero(box > 0)
    return (0.0, float(np.median(gy[sel_y][yy])), float(np.median(gz[sel_z][zz])))
