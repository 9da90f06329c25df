"""Build the ASPECTS region atlas shipped as ``aspects_atlas.npz`` from a geometric description.

    .venv/bin/python -m strokealert.ncct.atlas.build

Frame: millimetres, patient LPS (x to the patient's left, y posterior, z up), origin at the
anterior commissure (AC), axial planes parallel to the AC-PC line, as in the Talairach-Tournoux
convention. Every structure is an ellipsoid, a superellipsoid, a shell or a band of distance
placed with published adult mean positions and sizes (sources in ``README.md`` next to this
file); nothing is taken from an image or from another program's code.

Output arrays (z, y, x) on a 1.5 mm isotropic grid:

- ``template``: int16 HU of a template head (air, scalp, skull and skull base, CSF spaces, grey
  cortex, white matter, deep grey nuclei) used as the moving image of the registration;
- ``labels``: uint8, 0 outside the regions, ``1 + i`` for region ``REGIONS[i]`` on the patient's
  left, ``11 + i`` on the right;
- ``score_labels``: ``labels`` eroded by one voxel where the region keeps at least half its
  volume (the thin insular ribbon and internal capsule keep their full extent);
- ``registration_mask``: uint8, the cranial vault and its contents (the metric region);
- ``deep_mask``: uint8, the central brain (ventricles, basal ganglia, insulae, Sylvian
  fissures): the metric region of the refinement that places the deep regions;
- ``origin_mm`` (x, y, z of voxel (0, 0, 0)), ``spacing_mm`` (x, y, z), ``regions``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

REGIONS = ("C", "L", "IC", "I", "M1", "M2", "M3", "M4", "M5", "M6")
"""ASPECTS regions in label order."""
SPACING_MM = 1.5
X_RANGE, Y_RANGE, Z_RANGE = (-90.0, 90.0), (-100.0, 120.0), (-90.0, 96.0)
OUT = Path(__file__).with_name("aspects_atlas.npz")

# Template attenuation (HU), typical adult values at 120 kVp.
HU = {"air": -1000, "scalp": 25, "bone": 900, "base": 700, "csf": 6, "grey": 38, "white": 29,
      "deep": 36, "thalamus": 35}
SKULL_MM, SCALP_MM, SAS_MM, CORTEX_MM = 7.0, 5.0, 2.0, 3.0
GANGLIONIC_Z = (-6.0, 16.0)
"""Axial slab of the ganglionic level (thalamus and basal ganglia), mm above the AC."""
SUPRAGANGLIONIC_Z = (22.0, 44.0)
"""Axial slab of the supraganglionic level (corona radiata, about 2 cm above), mm."""
MCA_SECTORS_DEG = ((-60.0, -18.0), (-18.0, 24.0), (24.0, 66.0))
"""Anterior, lateral and posterior thirds of the MCA cortical arc, as angles in the axial plane
about the hemisphere centre (0 = lateral, negative = anterior)."""
HEMISPHERE_CENTRE = (20.0, 5.0)
"""|x|, y (mm) of the axis about which the sectors are measured."""
M_DEPTH_MM = (20.0, 24.0)
"""Depth below the brain surface of the cortical regions at the ganglionic and
supraganglionic levels (cortex and subcortical white matter)."""

Arr = NDArray[np.float64]
Mask = NDArray[np.bool_]


def _grid() -> tuple[Arr, Arr, Arr]:
    """Coordinates (mm) of every voxel, each (z, y, x)."""
    axes = [np.arange(lo, hi + 1e-6, SPACING_MM) for lo, hi in (Z_RANGE, Y_RANGE, X_RANGE)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return x, y, z


def _ellipsoid(x: Arr, y: Arr, z: Arr, centre: tuple[float, float, float],
               semi: tuple[float, float, float]) -> Arr:
    """Normalised ellipsoid radius (1 on the surface)."""
    return np.asarray(np.sqrt(((x - centre[0]) / semi[0]) ** 2 + ((y - centre[1]) / semi[1]) ** 2
                              + ((z - centre[2]) / semi[2]) ** 2))


def _both(x: Arr, y: Arr, z: Arr, centre: tuple[float, float, float],
          semi: tuple[float, float, float]) -> Mask:
    """A paired structure: the ellipsoid at ``centre`` and its mirror across the midline."""
    return np.asarray(_ellipsoid(np.abs(x), y, z, centre, semi) < 1.0)


def _cavity(x: Arr, y: Arr, z: Arr) -> Mask:
    """Intracranial cavity: cerebral superellipsoid above the anterior fossa, temporal fossae,
    posterior fossa and the brainstem canal (adult inner-table breadth ~135 mm, length ~172 mm,
    vertex ~75 mm above the AC)."""
    cx, cy, cz = 0.0, 14.0, 10.0
    sx, sy, sz = 67.0, 86.0, np.where(z > cz, 65.0, 75.0)
    p = 2.5
    cerebrum = (np.abs((x - cx) / sx) ** p + np.abs((y - cy) / sy) ** p
                + np.abs((z - cz) / sz) ** p) < 1.0
    anterior_floor = -20.0 - 0.12 * np.clip(y + 10.0, 0.0, None)  # orbital roofs, sloping back
    cerebrum &= z > anterior_floor
    temporal = _both(x, y, z, (40.0, 0.0, -22.0), (24.0, 30.0, 20.0))
    posterior = _ellipsoid(x, y, z, (0.0, 44.0, -36.0), (50.0, 36.0, 28.0)) < 1.0
    stem = (np.hypot(x, (y - 18.0) / 1.2) < 13.0) & (z > -80.0) & (z < -10.0)
    return np.asarray(cerebrum | temporal | posterior | stem)


def _ventricles(x: Arr, y: Arr, z: Arr) -> Mask:
    """Lateral (frontal horn, body, atrium, occipital and temporal horns), third and fourth
    ventricles."""
    parts = [_both(x, y, z, (10.0, -16.0, 12.0), (4.5, 13.0, 7.5)),
             _both(x, y, z, (12.0, 12.0, 18.0), (4.5, 20.0, 4.5)),
             _both(x, y, z, (22.0, 34.0, 11.0), (6.0, 9.0, 7.0)),
             _both(x, y, z, (20.0, 50.0, 7.0), (2.5, 9.0, 2.5)),
             _both(x, y, z, (31.0, 6.0, -16.0), (2.5, 14.0, 3.0)),
             _ellipsoid(x, y, z, (0.0, 8.0, -1.0), (2.0, 14.0, 9.0)) < 1.0,
             _ellipsoid(x, y, z, (0.0, 40.0, -34.0), (6.0, 3.5, 6.0)) < 1.0]
    return np.asarray(np.logical_or.reduce(parts))


def _deep(x: Arr, y: Arr, z: Arr) -> dict[str, Mask]:
    """Deep grey nuclei, internal capsule and insular ribbon, both sides (masks)."""
    caudate = _both(x, y, z, (16.0, -12.0, 10.0), (5.0, 11.0, 10.0)) & (z > -4.0)
    lentiform = _both(x, y, z, (24.0, -2.0, 1.0), (7.0, 16.0, 10.5))
    thalamus = _both(x, y, z, (11.0, 17.0, 6.0), (7.5, 13.0, 9.0))
    envelope = _both(x, y, z, (18.0, 2.0, 4.0), (8.0, 24.0, 13.0))
    capsule = envelope & ~caudate & ~lentiform & ~thalamus & (np.abs(x) > 10.0)
    r_ins = _ellipsoid(np.abs(x), y, z, (24.0, -4.0, 3.0), (15.0, 24.0, 14.0))
    insula = (r_ins >= 1.0) & (r_ins < 1.0 + 3.0 / 15.0) & (np.abs(x) > 33.0)
    sylvian = (r_ins >= 1.0 + 3.0 / 15.0) & (r_ins < 1.0 + 5.0 / 15.0) & (np.abs(x) > 33.0)
    sylvian |= (np.abs(z - 3.0) < 1.2) & (r_ins >= 1.0) & (np.abs(y + 4.0) < 18.0)
    return {"C": caudate, "L": lentiform, "IC": capsule, "I": insula, "thalamus": thalamus,
            "sylvian": sylvian}


def _sectors(x: Arr, y: Arr, z: Arr, brain: Mask, depth: Arr, exclude: Mask
             ) -> dict[str, Mask]:
    """M1-M6: cortex and subcortical white matter of the MCA arc at the two levels."""
    theta = np.degrees(np.arctan2(y - HEMISPHERE_CENTRE[1], np.abs(x) - HEMISPHERE_CENTRE[0]))
    out: dict[str, Mask] = {}
    for level, (z0, z1), max_depth, offset in ((0, GANGLIONIC_Z, M_DEPTH_MM[0], 1),
                                               (1, SUPRAGANGLIONIC_Z, M_DEPTH_MM[1], 4)):
        slab = brain & ~exclude & (z >= z0) & (z < z1) & (depth < max_depth)
        slab &= np.abs(x) > (24.0 if level == 0 else 16.0)
        for k, (a0, a1) in enumerate(MCA_SECTORS_DEG):
            out[f"M{k + offset}"] = slab & (theta >= a0) & (theta < a1)
    return out


def build() -> dict[str, NDArray[np.generic]]:
    """The atlas arrays (see the module docstring)."""
    x, y, z = _grid()
    cavity = _cavity(x, y, z)
    step = SPACING_MM
    depth_in = ndimage.distance_transform_edt(cavity, sampling=step)
    dist_out = ndimage.distance_transform_edt(~cavity, sampling=step)
    brain = cavity & (depth_in > SAS_MM)
    depth = np.asarray(depth_in - SAS_MM)
    template = np.full(x.shape, HU["air"], dtype=np.int16)
    head = dist_out < SKULL_MM + SCALP_MM
    base_block = (z < -5.0) & (z > -95.0) & (np.abs(x) < 62.0) & (y > -85.0) & (y < 85.0)
    template[head | base_block] = HU["scalp"]
    template[(dist_out < SKULL_MM) | (base_block & (dist_out < 14.0))] = HU["bone"]
    template[cavity] = HU["csf"]
    template[brain] = HU["white"]
    template[brain & (depth < CORTEX_MM)] = HU["grey"]
    fissure = (np.abs(x) < 1.5) & (z > 24.0 - 30.0 * (np.abs(y - 8.0) > 38.0))
    template[brain & fissure] = HU["csf"]
    ventricles = _ventricles(x, y, z)
    deep = _deep(x, y, z)
    for name, hu in (("thalamus", "thalamus"), ("L", "deep"), ("C", "deep"), ("I", "grey")):
        template[brain & deep[name]] = HU[hu]
    template[brain & (deep["sylvian"] | ventricles)] = HU["csf"]

    solid = brain & ~ventricles & ~deep["sylvian"] & ~fissure
    masks = {name: solid & deep[name] for name in ("C", "L", "IC", "I")}
    masks["C"] &= z < GANGLIONIC_Z[1] + 6.0
    for name in ("L", "IC", "I"):
        masks[name] &= (z >= GANGLIONIC_Z[0]) & (z < GANGLIONIC_Z[1] + 4.0)
    exclude = deep["C"] | deep["L"] | deep["IC"] | deep["I"] | deep["thalamus"] \
        | ventricles | deep["sylvian"]
    masks.update(_sectors(x, y, z, solid, depth, exclude))
    labels = np.zeros(x.shape, dtype=np.uint8)
    score = np.zeros(x.shape, dtype=np.uint8)
    for i, name in enumerate(REGIONS):
        for side_offset, side in ((0, x > 0.0), (10, x < 0.0)):
            m = masks[name] & side
            labels[m] = i + 1 + side_offset
            eroded = ndimage.binary_erosion(m)
            keep = eroded if eroded.sum() >= 0.5 * m.sum() else m
            score[keep] = i + 1 + side_offset
    centre = brain & (_ellipsoid(x, y, z, (0.0, 4.0, 4.0), (46.0, 42.0, 26.0)) < 1.0)
    vault = ndimage.binary_dilation(cavity, iterations=int(round(14.0 / step))) & (z > -40.0)
    return {"template": template, "labels": labels, "score_labels": score,
            "registration_mask": vault.astype(np.uint8), "deep_mask": centre.astype(np.uint8),
            "origin_mm": np.array([X_RANGE[0], Y_RANGE[0], Z_RANGE[0]]),
            "spacing_mm": np.array([step, step, step]), "regions": np.array(REGIONS)}


def main() -> None:
    """Write ``aspects_atlas.npz`` next to this module and print each region's volume (mL)."""
    atlas = build()
    np.savez_compressed(OUT, **atlas)  # type: ignore[arg-type]
    voxel_ml = SPACING_MM ** 3 / 1000.0
    for i, name in enumerate(REGIONS):
        left = int(np.count_nonzero(atlas["labels"] == i + 1)) * voxel_ml
        right = int(np.count_nonzero(atlas["labels"] == i + 11)) * voxel_ml
        print(f"{name:3s} left {left:6.1f} mL  right {right:6.1f} mL")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
