"""Explainability and key images: Grad-CAM heat map and de-identified MIP PNGs.

The key images are drawn from the aligned vessel map only (no header text, no burnt-in
annotations of the scanner), so they carry no PHI. Orientation follows radiological
convention: patient right on the image left.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw
from scipy import ndimage

from strokealert.lvo.model import CLASSES, LvoModel, network_input
from strokealert.lvo.preprocess import canonical_grid

UPSCALE = 4


def grad_cam(model: LvoModel, canvas: np.ndarray, class_name: str) -> np.ndarray:
    """Grad-CAM of ``class_name`` on the last residual stage, upsampled to the canvas (0..1)."""
    from monai.visualize.class_activation_maps import GradCAM

    network = model.network
    cam = GradCAM(nn_module=network, target_layers="layer4")
    with torch.enable_grad():
        heat = cam(x=network_input(canvas[None]), class_idx=CLASSES.index(class_name))
    network.eval()
    heat_map: np.ndarray = heat[0, 0].detach().numpy().astype(np.float32)
    heat_map -= heat_map.min()
    return heat_map / heat_map.max() if heat_map.max() > 0 else heat_map


def vessel_deficit(canvas: np.ndarray) -> np.ndarray:
    """Where the mirror image has vessel and this side has none (0..1, smoothed): the missing
    segment of a lateral occlusion stands out on its own side."""
    missing = np.clip(canvas[:, ::-1] - canvas, 0.0, None)
    smooth: np.ndarray = ndimage.gaussian_filter(missing, 1.5)
    return smooth / smooth.max() if smooth.max() > 0 else smooth


def marker(heat: np.ndarray, side: str, site: str | None) -> tuple[tuple[int, int], ...]:
    """(row, col) of the suspected segment on the axial and on the coronal part of the canvas.

    The hottest point of ``heat`` on the suspected side (midline band for the basilar).
    """
    n_axial = len(canonical_grid()[1])
    width = heat.shape[1]
    cols = np.arange(width)
    x_mm = canonical_grid()[0]
    if site == "basilar":
        allowed = np.abs(x_mm) < 10
    elif side == "left":
        allowed = x_mm > 0
    elif side == "right":
        allowed = x_mm < 0
    else:
        allowed = np.ones(width, dtype=bool)
    points = []
    for part in (heat[:n_axial], heat[n_axial:]):
        masked = np.where(allowed[None, :], part, -1.0)
        r, c = np.unravel_index(int(np.argmax(masked)), masked.shape)
        points.append((int(r), int(cols[c])))
    return (points[0], (points[1][0] + n_axial, points[1][1]))


def _gray(image: np.ndarray) -> np.ndarray:
    return (np.clip(image / 1.0, 0, 1) * 255).astype(np.uint8)


def key_images(axial: np.ndarray, coronal: np.ndarray, heat: np.ndarray | None,
               marks: tuple[tuple[int, int], ...] | None, caption: str, out_dir: Path,
               prefix: str = "lvo") -> list[str]:
    """Write ``<prefix>_mip.png`` (axial + coronal MIP, segment marked) and, with a heat map,
    ``<prefix>_heatmap.png``. Returns the file names (relative to ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n_axial = axial.shape[0]
    base = np.concatenate([axial, coronal], axis=0)
    gray = ndimage.zoom(_gray(base), UPSCALE, order=1)
    rgb = np.stack([gray] * 3, axis=-1)
    names = []
    for kind in ("mip", "heatmap"):
        if kind == "heatmap" and heat is None:
            continue
        canvas = rgb.copy()
        if kind == "heatmap":
            hot = ndimage.zoom(heat, UPSCALE, order=1)
            colours = (colormaps["inferno"](hot)[..., :3] * 255).astype(np.float32)
            alpha = 0.55 * np.clip(hot, 0, 1)[..., None]
            canvas = (canvas * (1 - alpha) + colours * alpha).astype(np.uint8)
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        draw.line([(0, n_axial * UPSCALE), (image.width, n_axial * UPSCALE)], fill=(90, 90, 90))
        if marks:
            for r, c in marks:
                y, x, rad = r * UPSCALE, c * UPSCALE, 7 * UPSCALE
                draw.ellipse([x - rad, y - rad, x + rad, y + rad], outline=(255, 64, 64), width=3)
        footer = Image.new("RGB", (image.width, 44), (0, 0, 0))
        text = ImageDraw.Draw(footer)
        text.text((4, 2), caption, fill=(255, 255, 255))
        text.text((4, 16), "axial MIP (top), coronal MIP (bottom); R = image left", fill=(200,) * 3)
        text.text((4, 30), "Not for diagnostic use", fill=(255, 200, 0))
        for label, x in (("R", 4), ("L", image.width - 12)):
            draw.text((x, 4), label, fill=(255, 255, 0))
        full = Image.new("RGB", (image.width, image.height + footer.height))
        full.paste(image, (0, 0))
        full.paste(footer, (0, image.height))
        name = f"{prefix}_{kind}.png"
        full.save(out_dir / name, optimize=False)
        names.append(name)
    return names
