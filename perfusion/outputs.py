"""Outputs: NIfTI maps and masks, and a RAPID-style summary picture (PNG and RGB array).

The picture carries no patient identity (it may travel in a push notification). DICOM objects
made from it (Secondary Capture) are built by the caller, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave

from perfusion.result import VolumeAnalysis

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SUMMARY_PNG = "perfusion_summary.png"
CORE_RGB = (1.0, 0.35, 0.75)  # pink
HYPO_RGB = (0.2, 0.85, 0.3)  # green


@dataclass
class Written:
    """File names written (relative to the output folder) and the pictures' RGB pixels."""

    maps: dict[str, str] = field(default_factory=dict)
    key_images: list[str] = field(default_factory=list)
    key_image_pixels: dict[str, np.ndarray] = field(default_factory=dict)


def write_nifti(volume: np.ndarray, affine_lps: np.ndarray, path: Path) -> None:
    """Write a (z, y, x) volume; NIfTI wants (i, j, k) data and a RAS affine."""
    data = np.ascontiguousarray(np.transpose(volume, (2, 1, 0)))
    if data.dtype == bool:
        data = data.astype(np.uint8)
    image = nib.Nifti1Image(data, LPS_TO_RAS @ affine_lps)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, str(path))


def summary_figure(analysis: VolumeAnalysis) -> Figure:
    """Colour maps per slice with core (pink) and Tmax>6 s (green), volumes, AIF/VOF curves."""
    found = analysis.lesions
    nz = analysis.tissue.shape[0]
    slices = np.unique(np.linspace(0, nz - 1, min(nz, 8)).round().astype(int))
    columns = [("CBF", "cbf", (0, 60), "jet"), ("CBV", "cbv", (0, 6), "jet"),
               ("Tmax", "tmax", (0, 12), "jet")]
    fig = Figure(figsize=(2.0 * (len(columns) + 1), 2.0 * len(slices) + 2.6), dpi=80,
                 facecolor="black")
    rows = len(slices) + 1
    grid = fig.add_gridspec(rows, len(columns) + 1,
                            height_ratios=[1.0] * len(slices) + [1.3])
    base = np.clip((analysis.baseline + 20.0) / 120.0, 0, 1)
    for r, z in enumerate(slices):
        for c, (title, key, (lo, hi), cmap) in enumerate(columns):
            ax = fig.add_subplot(grid[r, c])
            shown = np.ma.masked_where(~analysis.tissue[z], analysis.maps[key][z])
            ax.imshow(base[z], cmap="gray", vmin=0, vmax=1)
            ax.imshow(shown, cmap=cmap, vmin=lo, vmax=hi)
            ax.set_axis_off()
            if r == 0:
                ax.set_title(title, color="white", fontsize=9)
        ax = fig.add_subplot(grid[r, len(columns)])
        overlay = np.dstack([base[z]] * 3)
        overlay[found.hypoperfusion[z]] = HYPO_RGB
        overlay[found.core[z]] = CORE_RGB
        ax.imshow(overlay)
        ax.set_axis_off()
        if r == 0:
            ax.set_title("core / Tmax>6s", color="white", fontsize=9)
    curves = fig.add_subplot(grid[rows - 1, :2])
    curves.plot(analysis.times, analysis.inputs.aif, color="red", label="AIF")
    if analysis.inputs.vof is not None:
        curves.plot(analysis.times, analysis.inputs.vof, color="blue", label="VOF")
    curves.set_xlabel("s", color="white", fontsize=8)
    curves.set_ylabel("HU", color="white", fontsize=8)
    curves.tick_params(colors="white", labelsize=7)
    curves.legend(fontsize=7)
    text = fig.add_subplot(grid[rows - 1, 2:])
    text.set_axis_off()
    ratio = "inf" if found.mismatch_ratio is None else f"{found.mismatch_ratio:.1f}"
    lines = [
        f"CBF<30% volume: {found.core_ml:.0f} mL",
        f"Tmax>6s volume: {found.hypoperfusion_ml.get('tmax6', 0.0):.0f} mL",
        f"Mismatch volume: {found.mismatch_ml:.0f} mL",
        f"Mismatch ratio: {ratio}",
        f"Side: {found.side}  DEFUSE 3: {'yes' if found.defuse3_eligible else 'no'}",
        "Not for diagnostic use",
    ]
    for i, line in enumerate(lines):
        colour = CORE_RGB if i == 0 else HYPO_RGB if i == 1 else "white"
        text.text(0.02, 0.92 - i * 0.17, line, color=colour, fontsize=9,
                  transform=text.transAxes)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.97, bottom=0.06, wspace=0.05, hspace=0.08)
    return fig


def render_rgb(fig: Figure) -> np.ndarray:
    """The figure as an (rows, columns, 3) uint8 array."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def write_all(analysis: VolumeAnalysis, out_dir: Path) -> Written:
    """NIfTI maps and masks, and the summary picture as PNG and as RGB pixels."""
    written = Written()
    volumes = {name: analysis.maps[name] for name in ("cbf", "cbv", "mtt", "tmax", "ttp", "rcbf")}
    volumes["core"] = analysis.lesions.core
    volumes["hypoperfusion"] = analysis.lesions.hypoperfusion
    for name, volume in volumes.items():
        filename = f"{name}.nii.gz"
        write_nifti(volume, analysis.affine, out_dir / filename)
        written.maps[name] = filename
    rgb = render_rgb(summary_figure(analysis))
    imsave(out_dir / SUMMARY_PNG, rgb)
    written.key_images.append(SUMMARY_PNG)
    written.key_image_pixels[SUMMARY_PNG] = rgb
    return written
