"""The haemorrhage key image: the axial slice through the largest bleed, window 0–80 HU, the
bleed's contour in red, a caption without PHI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

ICH_IMAGE = "ncct_ich.png"
WINDOW_HU = (0.0, 80.0)
MIN_SIZE_PX = 384


def ich_image(hu: np.ndarray, mask: np.ndarray | None, caption: str, out_dir: Path,
              pixel_aspect: float = 1.0) -> str:
    """Write :data:`ICH_IMAGE` to ``out_dir`` and return its name. ``hu`` and ``mask`` are
    (z, y, x) on one grid; the slice is the one with most of ``mask`` (the middle slice when
    there is none). Patient left is drawn on the image's right (radiological convention)."""
    z = int(mask.sum(axis=(1, 2)).argmax()) if mask is not None and mask.any() \
        else hu.shape[0] // 2
    low, high = WINDOW_HU
    grey = (np.clip((hu[z] - low) / (high - low), 0.0, 1.0) * 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    if mask is not None and mask[z].any():
        edge = mask[z] & ~ndimage.binary_erosion(mask[z])
        edge = ndimage.binary_dilation(edge)
        rgb[edge] = (255, 40, 40)
    image = Image.fromarray(rgb)
    scale = max(1.0, MIN_SIZE_PX / max(image.size))
    image = image.resize((int(image.width * scale), int(image.height * scale * pixel_aspect)),
                         Image.Resampling.NEAREST)
    footer = Image.new("RGB", (image.width, 40), (0, 0, 0))
    draw = ImageDraw.Draw(footer)
    draw.text((8, 6), caption, fill=(255, 255, 255))
    draw.text((8, 22), "Triage aid only - not a diagnosis. R | L", fill=(200, 200, 200))
    full = Image.new("RGB", (image.width, image.height + footer.height))
    full.paste(image, (0, 0))
    full.paste(footer, (0, image.height))
    out_dir.mkdir(parents=True, exist_ok=True)
    full.save(out_dir / ICH_IMAGE)
    return ICH_IMAGE
