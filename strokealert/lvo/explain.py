"""Key image: the occluded segment marked on a thin-slab MIP aligned to the vessel.

The slab is cut from the canonical (midline-aligned) CTA: an axial slab of
:data:`SLAB_MM` through the segment that lacks filling for the ICA terminus, M1 and M2 (their
course lies in the axial plane of the aligned head), a coronal slab through the basilar artery
(which runs head-to-foot). Without a finding, the axial slab through the circle of Willis. The
image is drawn from voxel values only, with a fixed caption: no header text, so no PHI.
Orientation follows radiological convention: patient right on the image left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from strokealert.lvo.preprocess import VOXEL_MM, canonical_grid

SLAB_MM = 16.0  # thickness of the key image's MIP slab
UPSCALE = 3
MARK_RADIUS_MM = 9.0
KEY_IMAGE = "lvo_mip.png"


@dataclass(frozen=True)
class KeyView:
    """Which slab to show and where the finding is, in canonical mm (x, y, z)."""

    plane: str  # axial or coronal
    centre_mm: tuple[float, float, float]
    marked: bool


def view_for(site: str | None, mark_mm: tuple[float, float, float],
             basilar_mm: tuple[float, float, float], willis_z_mm: float) -> KeyView:
    """The slab for a finding at ``site`` (None: no finding, the circle of Willis)."""
    if site == "basilar":
        return KeyView("coronal", basilar_mm, True)
    if site is None:
        return KeyView("axial", (0.0, 0.0, willis_z_mm), False)
    return KeyView("axial", mark_mm, True)


def willis_level_mm(vessel: np.ndarray) -> float:
    """Canonical height (mm) of the axial slab with the most vessel in the lower head."""
    gz = canonical_grid()[2]
    per_slice = ndimage.uniform_filter1d(vessel.sum(axis=(1, 2)), int(SLAB_MM / VOXEL_MM))
    low = gz < 10.0
    return float(gz[low][int(np.argmax(per_slice[low]))])


def slab_mip(hu: np.ndarray, view: KeyView) -> tuple[np.ndarray, tuple[int, int]]:
    """(MIP image in HU, (row, col) of the centre) of the slab; axial rows run anterior to
    posterior, coronal rows superior to inferior; columns run patient right to left."""
    gx, gy, gz = canonical_grid()
    x, y, z = view.centre_mm
    half = SLAB_MM / 2
    col = int(np.argmin(np.abs(gx - x)))
    if view.plane == "axial":
        sel = np.abs(gz - z) <= half
        image = hu[sel].max(axis=0)
        return image, (int(np.argmin(np.abs(gy - y))), col)
    sel = np.abs(gy - y) <= half
    image = hu[:, sel].max(axis=1)[::-1]
    return image, (len(gz) - 1 - int(np.argmin(np.abs(gz - z))), col)


def key_image(hu: np.ndarray, view: KeyView, tissue_hu: float, arterial_hu: float,
              caption: str, out_dir: Path) -> str:
    """Write :data:`KEY_IMAGE` (the slab MIP, the segment circled) and return its name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    image, (row, col) = slab_mip(hu, view)
    low, high = tissue_hu - 40.0, max(arterial_hu, tissue_hu + 150.0)
    gray = (np.clip((image - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    big = Image.fromarray(ndimage.zoom(gray, UPSCALE, order=1)).convert("RGB")
    draw = ImageDraw.Draw(big)
    if view.marked:
        r = MARK_RADIUS_MM / VOXEL_MM * UPSCALE
        cy, cx = (row + 0.5) * UPSCALE, (col + 0.5) * UPSCALE
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(255, 64, 64), width=3)
    header = Image.new("RGB", (big.width, 20), (0, 0, 0))
    marks = ImageDraw.Draw(header)
    for label, x in (("R", 4), ("L", big.width - 12)):
        marks.text((x, 4), label, fill=(255, 255, 0))
    footer = Image.new("RGB", (big.width, 44), (0, 0, 0))
    text = ImageDraw.Draw(footer)
    text.text((4, 2), caption, fill=(255, 255, 255))
    text.text((4, 16), f"{view.plane} {SLAB_MM:g} mm slab MIP, midline-aligned; R = image left",
              fill=(200, 200, 200))
    text.text((4, 30), "Not for diagnostic use", fill=(255, 200, 0))
    full = Image.new("RGB", (big.width, header.height + big.height + footer.height))
    full.paste(header, (0, 0))
    full.paste(big, (0, header.height))
    full.paste(footer, (0, header.height + big.height))
    full.save(out_dir / KEY_IMAGE, optimize=False)
    return KEY_IMAGE
