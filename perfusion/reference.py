"""Digital reference phantom after the design of Kudo et al. (Radiology 2013), and its scoring.

Kudo's phantom graded 13 CTP programs with tissue of every combination of CBV 1-5 mL/100 g
and CBF 2.5-87.5 mL/100 g/min whose MTT lies within 3.4-24 s, delays of 0-3 s, exponential,
linear and box residue functions, several noise levels and 1-2 s sampling. Here the same grid
is made with ``phantoms.cell_phantom`` (one tile per CBV/CBF cell, one slice per delay, AIF and
VOF tiles), and a residue with gamma-distributed transit times (shape 3, between the
exponential and the box) is added. ``score`` reads the median of each tile's centre and
summarises the errors over the grid the way the paper tabulates them: per map, the mean bias,
the range of the cells' biases and the voxel spread within a cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from perfusion.phantoms import Phantom, cell_phantom, regular_times

REFERENCE_CBV = (1.0, 2.0, 3.0, 4.0, 5.0)
REFERENCE_CBF = (2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 87.5)
MTT_LIMITS_S = (3.4, 24.0)
REFERENCE_DELAYS_S = (0.0, 1.0, 2.0, 3.0)
REFERENCE_RESIDUES = ("exponential", "linear", "box", "gamma")
REFERENCE_NOISE_HU = (10.0, 20.0)
REFERENCE_INTERVALS_S = (1.0, 2.0)
COLUMNS = 8
TILE_PX = 24
# Tile border left out of the statistics (px): the curves and maps are smoothed in-plane.
MARGIN_PX = 8
MAPS = ("cbf", "cbv", "mtt", "tmax")


def reference_cells() -> list[tuple[float, float]]:
    """(CBV mL/100 g, CBF mL/100 g/min) pairs of the grid with MTT within MTT_LIMITS_S."""
    low, high = MTT_LIMITS_S
    return [(cbv, cbf) for cbv in REFERENCE_CBV for cbf in REFERENCE_CBF
            if low - 0.05 <= 60.0 * cbv / cbf <= high + 0.05]


def reference_phantom(residue: str = "exponential", noise_hu: float = 10.0,
                      interval_s: float = 1.0, duration_s: float = 60.0, tile_px: int = TILE_PX,
                      seed: int = 0) -> Phantom:
    """The reference grid for one residue shape, noise (HU per voxel and frame) and sampling
    interval (s), 1 mm pixels, 5 mm slices."""
    times = regular_times(int(round(duration_s / interval_s)), interval_s)
    cells: list[tuple[float, float] | None] = list(reference_cells())
    return cell_phantom(cells, COLUMNS, delays_s=REFERENCE_DELAYS_S, residue=residue,
                        noise_hu=noise_hu, times=times, tile_px=tile_px, seed=seed)


def cell_values(maps: Mapping[str, np.ndarray], phantom: Phantom,
                margin_px: int = MARGIN_PX) -> dict[str, np.ndarray]:
    """Per map: median and standard deviation of each tile's centre, (delays, cells) each,
    as ``name`` and ``name_sd``."""
    tile = int(phantom.truth["tile_px"])
    cells = phantom.truth["cells"]
    n_z = len(phantom.truth["delays_s"])
    out: dict[str, np.ndarray] = {}
    for name in MAPS:
        medians = np.empty((n_z, len(cells)))
        spreads = np.empty_like(medians)
        for z in range(n_z):
            for i, (row, col, *_) in enumerate(cells):
                block = maps[name][z, row * tile + margin_px:(row + 1) * tile - margin_px,
                                   col * tile + margin_px:(col + 1) * tile - margin_px]
                medians[z, i], spreads[z, i] = np.median(block), np.std(block)
        out[name], out[f"{name}_sd"] = medians, spreads
    return out


@dataclass
class MapScore:
    """Errors of one map over the grid: relative (fractions) for CBF, CBV, MTT; seconds for
    Tmax. ``bias`` is the mean of the cells' errors, ``low``/``high`` their range and
    ``spread`` the mean voxel standard deviation within a cell (relative to the truth for
    CBF, CBV, MTT)."""

    bias: float
    low: float
    high: float
    spread: float


def score(maps: Mapping[str, np.ndarray], phantom: Phantom) -> dict[str, MapScore]:
    """Per map (cbf, cbv, mtt, tmax): the errors of the tile medians against the truth."""
    values = cell_values(maps, phantom)
    cells = np.array([c[2:] for c in phantom.truth["cells"]], dtype=float)  # cbv, cbf, mtt
    delays = np.array(phantom.truth["delays_s"], dtype=float)[:, None]
    truth = {"cbv": cells[None, :, 0], "cbf": cells[None, :, 1], "mtt": cells[None, :, 2]}
    scores = {}
    for name in MAPS:
        if name == "tmax":
            error = values[name] - delays
            spread = values[f"{name}_sd"]
        else:
            error = values[name] / truth[name] - 1.0
            spread = values[f"{name}_sd"] / truth[name]
        scores[name] = MapScore(float(error.mean()), float(error.min()), float(error.max()),
                                float(spread.mean()))
    return scores
