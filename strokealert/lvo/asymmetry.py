"""Vessel-asymmetry detector (no learning): arterial signal per territory, left vs right.

Works on the canonical vessel map (see :mod:`strokealert.lvo.preprocess`), so the midline is
x = 0 and patient left is +x. Each territory is a box in the canonical head frame (mm,
relative to the intracranial centroid); its density is the summed vessel signal. An occlusion
removes the filling distal to the clot, so the occluded side has less. The posterior
circulation has no partner: the basilar box is compared with the carotid terminations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strokealert.lvo.preprocess import canonical_grid

# name: (|x| range, y range, z range) in mm; boxes are mirrored for the two sides.
TERRITORIES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "carotid_terminus": ((6.0, 30.0), (-32.0, 12.0), (-56.0, -22.0)),
    "mca_proximal": ((20.0, 50.0), (-32.0, 16.0), (-48.0, -10.0)),
    "mca_distal": ((40.0, 80.0), (-70.0, 70.0), (-50.0, 24.0)),
    "pca": ((4.0, 40.0), (14.0, 80.0), (-50.0, 0.0)),
}
BASILAR_BOX = ((0.0, 7.0), (-4.0, 30.0), (-72.0, -26.0))
EPS = 1.0  # mm³-weighted floor so empty boxes give finite ratios
SIDE_THRESHOLD = 0.25  # |log L/R| above which a territory counts as asymmetric


@dataclass(frozen=True)
class AsymmetryResult:
    """Per-territory left/right densities and the detector's verdict."""

    left: dict[str, float]
    right: dict[str, float]
    log_ratio: dict[str, float]  # log(left / right): negative = less signal on the left
    basilar_ratio: float  # log(basilar / mean carotid terminus)
    score: float  # max |log ratio| over the anterior territories
    side: str  # side with less vessel signal in the most asymmetric territory, or none
    territory: str | None

    def features(self) -> np.ndarray:
        """Side-agnostic features for fusion: |log ratios| and the basilar ratio."""
        return np.array([abs(self.log_ratio[k]) for k in TERRITORIES] + [self.basilar_ratio],
                        dtype=np.float32)

    def signed_features(self) -> np.ndarray:
        """log(L/R) per territory (sign carries the side)."""
        return np.array([self.log_ratio[k] for k in TERRITORIES], dtype=np.float32)


def _box_sum(vessel: np.ndarray, xr: tuple[float, float], yr: tuple[float, float],
             zr: tuple[float, float], sign: int) -> float:
    gx, gy, gz = canonical_grid()
    xs = sign * gx
    sel_x = (xs >= xr[0]) & (xs < xr[1])
    sel_y = (gy >= yr[0]) & (gy < yr[1])
    sel_z = (gz >= zr[0]) & (gz < zr[1])
    return float(vessel[np.ix_(sel_z, sel_y, sel_x)].sum()) * 8.0  # 2 mm voxels → mm³


def analyse(vessel: np.ndarray) -> AsymmetryResult:
    """Compare the territories of a canonical vessel map (z, y, x)."""
    left, right, ratio = {}, {}, {}
    for name, (xr, yr, zr) in TERRITORIES.items():
        left[name] = _box_sum(vessel, xr, yr, zr, +1)
        right[name] = _box_sum(vessel, xr, yr, zr, -1)
        ratio[name] = float(np.log((left[name] + EPS) / (right[name] + EPS)))
    xr, yr, zr = BASILAR_BOX
    basilar = _box_sum(vessel, (0.0, xr[1]), yr, zr, +1) + _box_sum(vessel, xr, yr, zr, -1)
    carotid = 0.5 * (left["carotid_terminus"] + right["carotid_terminus"])
    basilar_ratio = float(np.log((basilar + EPS) / (carotid + EPS)))
    anterior = ("carotid_terminus", "mca_proximal", "mca_distal")
    territory = max(anterior, key=lambda k: abs(ratio[k]))
    score = abs(ratio[territory])
    side = "none"
    if score >= SIDE_THRESHOLD:
        side = "left" if ratio[territory] < 0 else "right"
    return AsymmetryResult(left, right, ratio, basilar_ratio, score, side,
                           territory if side != "none" else None)
