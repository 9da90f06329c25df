"""ASPECTS on the unenhanced head CT: atlas regions, mirror comparison, score and key image.

The shipped atlas (``atlas/``) is registered to the scan (:mod:`.aspects_registration`); in each
of the ten regions per side the attenuation is summarised by the interquartile mean (the mean of
the middle half of the values, a robust median) of the voxels between ``TISSUE_HU`` (CSF below,
blood and calcification above left out), on the atlas regions eroded by one atlas voxel. A
region has early ischaemic change when it is darker than its mirror region by at least its
threshold (``THRESHOLD_HU``): hypoattenuation and the loss of grey-white differentiation both
lower it. The side is the one with more affected regions; the score is 10 minus them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from strokealert.ncct.aspects_registration import Registration, register_atlas

REGIONS = ("C", "L", "IC", "I", "M1", "M2", "M3", "M4", "M5", "M6")
"""The ten ASPECTS regions of one MCA territory (caudate, lentiform, internal capsule, insular
ribbon, M1-M3 at the ganglionic level, M4-M6 at the supraganglionic level)."""
REGION_NAMES = {"C": "caudate", "L": "lentiform", "IC": "internal capsule", "I": "insula",
                "M1": "M1", "M2": "M2", "M3": "M3", "M4": "M4", "M5": "M5", "M6": "M6"}
TISSUE_HU = (15.0, 60.0)
"""Voxels outside this window (CSF; blood, calcification, bone) do not enter a region's value."""
THRESHOLD_HU = {"C": 1.5, "L": 1.5, "IC": 1.5, "I": 1.5, "M1": 1.5, "M2": 1.5,
                "M3": 1.5, "M4": 1.5, "M5": 1.5, "M6": 1.5}
"""A region is affected when it is this much darker (HU) than its mirror region; chosen on the
``geometric``, ``fields``, ``projected`` and ``landmarks`` generator families (30 cases each,
matrix 256: ``python -m strokealert.ncct.aspects_evaluate --train
geometric,fields,projected,landmarks``), never on the held-out ``template`` family. Until 6 Dec
2026 the deep regions took 2.25 HU (chosen on ``geometric`` and ``fields`` alone)."""
MIN_VOXELS = 40
"""Fewer tissue voxels than this on either side: the region is not assessed (not covered)."""
WINDOW_HU = (20.0, 60.0)
"""Stroke window of the key image (level 40, width 40)."""


class AspectsError(ValueError):
    """ASPECTS cannot be scored on this scan (the atlas did not register)."""


@dataclass(frozen=True)
class AspectsResult:
    """The score of the affected side and how it was reached."""

    score: int
    side: str  # left / right / none
    regions: list[str]
    per_region: dict[str, dict[str, Any]]
    registration: dict[str, float | bool]
    labels: NDArray[np.uint8] = field(repr=False)  # registered regions on the scan grid

    def to_block(self) -> dict[str, Any]:
        """The ``aspects`` block of the analysis result (JSON-ready)."""
        return {"score": self.score, "side": self.side, "regions": list(self.regions),
                "per_region": self.per_region, "registration": self.registration}


def _interquartile_means(values: NDArray[np.floating], codes: NDArray[np.integer],
                         n_codes: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per code 1..n_codes: mean of the values between the 25th and 75th percentile, and the
    number of values (NaN where there are none)."""
    order = np.lexsort((values, codes))
    v, c = values[order], codes[order]
    counts = np.bincount(c, minlength=n_codes + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    means = np.full(n_codes + 1, np.nan)
    for code in range(1, n_codes + 1):
        n = int(counts[code])
        if n:
            lo, hi = starts[code] + n // 4, starts[code] + max(n // 4 + 1, n - n // 4)
            means[code] = float(v[lo:hi].mean())
    return means, counts


def region_values(volume_hu: NDArray[np.floating], score_labels: NDArray[np.uint8]
                  ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Interquartile mean HU and tissue voxel count of labels 1..20 (index = label)."""
    flat = score_labels.ravel()
    idx = np.flatnonzero(flat)
    vals = np.asarray(volume_hu, dtype=np.float32).ravel()[idx]
    keep = (vals > TISSUE_HU[0]) & (vals < TISSUE_HU[1])
    return _interquartile_means(vals[keep], flat[idx][keep].astype(np.int64), 2 * len(REGIONS))


def score_from_values(means: NDArray[np.float64], counts: NDArray[np.int64],
                      thresholds: dict[str, float] | None = None
                      ) -> tuple[int, str, list[str], dict[str, dict[str, Any]]]:
    """Score, side, affected regions and the per-region table from the region values
    (index 1 + i: region i on the left, 11 + i on the right)."""
    thresholds = thresholds or THRESHOLD_HU
    per: dict[str, dict[str, Any]] = {}
    hits: dict[str, list[tuple[str, float]]] = {"left": [], "right": []}
    for i, name in enumerate(REGIONS):
        left, right = means[1 + i], means[11 + i]
        assessed = bool(min(counts[1 + i], counts[11 + i]) >= MIN_VOXELS)
        delta = float(left - right) if assessed else float("nan")
        darker = "left" if delta < 0 else "right"
        affected = assessed and abs(delta) >= thresholds[name]
        if affected:
            hits[darker].append((name, abs(delta)))
        per[name] = {"left_hu": _round(left), "right_hu": _round(right),
                     "delta_hu": _round(delta), "assessed": assessed,
                     "affected": darker if affected else None}
    n_left, n_right = len(hits["left"]), len(hits["right"])
    if n_left == n_right == 0:
        return 10, "none", [], per
    if n_left != n_right:
        side = "left" if n_left > n_right else "right"
    else:
        side = "left" if sum(d for _, d in hits["left"]) >= sum(d for _, d in hits["right"]) \
            else "right"
    regions = [name for name, _ in hits[side]]
    return 10 - len(regions), side, regions, per


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 2)


def score_aspects(volume_hu: NDArray[np.floating], spacing_mm: tuple[float, float, float],
                  registration: Registration | None = None) -> AspectsResult:
    """Score ASPECTS on an axial NCCT ``volume_hu`` ((z, y, x) HU, patient LPS, z rising to the
    vertex) with ``spacing_mm`` (z, y, x). Raises :class:`AspectsError` when the atlas does not
    register (brain overlap below the floor)."""
    reg = registration or register_atlas(volume_hu, spacing_mm)
    if not reg.ok:
        raise AspectsError(f"ASPECTS atlas did not register (brain overlap "
                           f"{reg.brain_dice:.2f})")
    means, counts = region_values(volume_hu, reg.score_labels)
    score, side, regions, per = score_from_values(means, counts)
    return AspectsResult(score=score, side=side, regions=regions, per_region=per,
                         registration=reg.quality(), labels=reg.labels)


_COLOURS = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
            (204, 121, 167), (153, 153, 255), (0, 200, 200), (170, 220, 80), (255, 140, 200))


def _best_slice(labels: NDArray[np.uint8], names: tuple[str, ...]) -> int:
    """The axial slice showing most of the regions ``names`` (then most of their voxels)."""
    codes = [1 + REGIONS.index(n) + off for n in names for off in (0, 10)]
    voxels = np.stack([(labels == c).sum(axis=(1, 2)) for c in codes])  # (codes, z)
    present = (voxels > 0).sum(axis=0)
    return int(np.lexsort((voxels.sum(axis=0), present))[-1])


def _panel(result: AspectsResult, slice_hu: NDArray[np.floating], labels: NDArray[np.uint8],
           scale: int) -> tuple[Image.Image, set[str]]:
    lo, hi = WINDOW_HU
    grey = (np.clip((np.asarray(slice_hu, dtype=np.float32) - lo) / (hi - lo), 0, 1) * 255)
    rgb = np.repeat(np.repeat(np.stack([grey] * 3, axis=-1), scale, 0), scale, 1)
    lab = np.repeat(np.repeat(labels, scale, 0), scale, 1)
    edge = np.zeros(lab.shape, dtype=bool)
    edge[1:, :] |= lab[1:, :] != lab[:-1, :]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    drawn: set[str] = set()
    affected_codes = [1 + REGIONS.index(n) + (0 if result.side == "left" else 10)
                      for n in result.regions]
    hit = np.isin(lab, affected_codes)
    rgb[hit] = 0.55 * rgb[hit] + 0.45 * np.array([255.0, 40.0, 40.0])
    for code in np.unique(lab[lab > 0]):
        name = REGIONS[(int(code) - 1) % 10]
        drawn.add(name)
        rgb[edge & (lab == code)] = _COLOURS[REGIONS.index(name)]
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for code in np.unique(lab[lab > 0]):
        ys, xs = np.nonzero(lab == code)
        name = REGIONS[(int(code) - 1) % 10]
        draw.text((float(xs.mean()) - 6, float(ys.mean()) - 5), name, fill=(255, 255, 255))
    for text, x in (("R", 4), ("L", image.width - 12)):
        draw.text((x, 4), text, fill=(255, 255, 0))
    return image, drawn


def write_aspects_key_image(result: AspectsResult, volume_hu: NDArray[np.floating],
                            path: Path) -> list[str]:
    """Write a PNG key image: the ganglionic and supraganglionic slices side by side in the
    stroke window, the regions outlined and the affected ones filled red, patient right on the
    image left, no patient data. Returns the names of the regions drawn."""
    scale = max(1, 512 // volume_hu.shape[2])
    panels, drawn = [], set()
    for names in (REGIONS[:7], REGIONS[7:]):
        k = _best_slice(result.labels, names)
        image, seen = _panel(result, volume_hu[k], result.labels[k], scale)
        panels.append(image)
        drawn |= seen
    width = sum(p.width for p in panels)
    footer = 44
    canvas = Image.new("RGB", (width, panels[0].height + footer))
    x = 0
    for p in panels:
        canvas.paste(p, (x, 0))
        x += p.width
    draw = ImageDraw.Draw(canvas)
    caption = (f"ASPECTS {result.score} ({result.side})" + (
        ": " + ", ".join(REGION_NAMES[r] for r in result.regions) if result.regions else ""))
    draw.text((4, panels[0].height + 2), caption, fill=(255, 255, 255))
    draw.text((4, panels[0].height + 16), "ganglionic (left panel), supraganglionic (right); "
              "red = early ischaemic change", fill=(200, 200, 200))
    draw.text((4, panels[0].height + 30), "Not for diagnostic use", fill=(255, 200, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return [r for r in REGIONS if r in drawn]
