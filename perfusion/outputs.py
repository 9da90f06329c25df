"""Outputs: NIfTI maps, a RAPID-style summary PNG and the same image as DICOM Secondary Capture.

The PNG carries no patient identity (it may travel in a push notification); the Secondary
Capture copies the study's patient/study modules so that PACS files it with the study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from perfusion.config import PerfusionConfig

if TYPE_CHECKING:
    from perfusion.analyze import VolumeAnalysis

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SUMMARY_PNG = "perfusion_summary.png"
SUMMARY_DCM = "perfusion_summary_sc.dcm"
CORE_RGB = (1.0, 0.35, 0.75)  # pink
HYPO_RGB = (0.2, 0.85, 0.3)  # green


@dataclass
class Written:
    maps: dict[str, str] = field(default_factory=dict)
    key_images: list[str] = field(default_factory=list)
    dicom_files: list[str] = field(default_factory=list)


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


def secondary_capture(rgb: np.ndarray, reference: Dataset | None) -> Dataset:
    """A Secondary Capture dataset of ``rgb`` in the study and frame of ``reference``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName", "StudyDescription"):
        if reference is not None and keyword in reference:
            setattr(ds, keyword, reference.data_element(keyword).value)
    if "StudyInstanceUID" not in ds:
        ds.StudyInstanceUID = generate_uid()
    now = datetime.now()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SeriesNumber = 9901
    ds.InstanceNumber = 1
    ds.SeriesDescription = "Perfusion summary (not for diagnostic use)"
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return ds


def write_all(analysis: VolumeAnalysis, out_dir: Path, reference: Dataset | None,
              config: PerfusionConfig) -> Written:
    """NIfTI maps and masks, the summary PNG and (optionally) its Secondary Capture."""
    written = Written()
    volumes = {name: analysis.maps[name] for name in ("cbf", "cbv", "mtt", "tmax", "ttp", "rcbf")}
    volumes["core"] = analysis.lesions.core
    volumes["hypoperfusion"] = analysis.lesions.hypoperfusion
    for name, volume in volumes.items():
        filename = f"{name}.nii.gz"
        write_nifti(volume, analysis.affine, out_dir / filename)
        written.maps[name] = filename
    fig = summary_figure(analysis)
    rgb = render_rgb(fig)
    fig.savefig(out_dir / SUMMARY_PNG, facecolor="black")
    written.key_images.append(SUMMARY_PNG)
    if config.secondary_capture:
        sc = secondary_capture(rgb, reference)
        sc.save_as(out_dir / SUMMARY_DCM, enforce_file_format=True)
        written.dicom_files.append(SUMMARY_DCM)
    return written
