"""Brain mask and baseline: intracranial parenchyma without skull, air, CSF or large vessels.

The baseline is the mean of the frames before the bolus reaches the brain. The intracranial
space is what the skull (> 300 HU) encloses, slice by slice; without a closed skull (phantoms,
skull-stripped data) the soft-tissue range alone is used.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from perfusion.config import PerfusionConfig

BONE_HU = 300.0


def bolus_arrival_frame(frames: np.ndarray, head: np.ndarray) -> int:
    """First frame where the mean curve of the earliest-peaking strong vessels has risen (10 %
    of its peak).

    Strong vessels peak above a quarter of the 99.9th percentile of all peaks and above 8
    times the noise (so that no noisy tissue counts): arteries and the venous sinuses. The
    sinuses peak later and, in CT perfusion, often higher than arteries thinned by partial
    volume, and outnumber them; the arrival is read from the vessels that peak within a frame
    of the earliest (the first percentile of their peak times). The mean of every vessel above
    half the 99.9th percentile rose with the sinus in a phantom whose sinus outshone its
    arteries: arrival 7-15 s late, a baseline holding the arterial peak, an AIF 200 HU below
    zero before its bolus and Tmax > 6 s half its truth at 20 HU.
    """
    voxels = frames[:, head]
    if voxels.shape[1] == 0:
        return 1
    enhancement = voxels - voxels[:2].mean(axis=0)
    peak = enhancement.max(axis=0)
    noise = float(np.median(np.abs(voxels[1] - voxels[0]))) / 0.6745 / np.sqrt(2.0)
    vessels = peak >= max(0.25 * float(np.percentile(peak, 99.9)), 8.0 * noise)
    if not vessels.any():
        vessels = peak >= float(peak.max())
    vessel_curves = enhancement[:, vessels]
    time_to_peak = np.argmax(vessel_curves, axis=0)
    earliest = time_to_peak <= np.percentile(time_to_peak, 1) + 1
    curve = vessel_curves[:, earliest].mean(axis=1)
    rise = np.flatnonzero(curve > 0.1 * curve.max())
    return int(max(1, rise[0] if rise.size else 1))


def baseline_frames(arrival: int) -> slice:
    """Frames before the arrival: the earliest arteries are below a tenth of their peak there
    and the tissue, which fills after them, has not begun to rise."""
    return slice(0, max(1, arrival))


def head_region(baseline: np.ndarray) -> np.ndarray:
    """Inside the head and not bone: the intracranial space when a closed skull is seen."""
    bone = baseline > BONE_HU
    soft = (baseline > -100) & (baseline < 150)
    if bone.sum() < 0.002 * bone.size:
        return soft
    inside = np.zeros_like(bone)
    for z in range(bone.shape[0]):
        filled = ndimage.binary_fill_holes(bone[z])
        inside[z] = filled & ~bone[z]
    # Slices where the skull is open (vertex, skull base): fall back to soft tissue inside the
    # convex outline of the closed slices' intracranial area.
    closed = inside.reshape(inside.shape[0], -1).sum(axis=1) > 0.02 * inside[0].size
    if closed.any():
        union = inside[closed].any(axis=0)
        for open_z in np.flatnonzero(~closed):
            inside[open_z] = soft[open_z] & ndimage.binary_erosion(union, iterations=3)
    # No erosion from the skull: brain touching it (no CSF between) is brain; partial-volume
    # bone is left out by the tissue HU range of ``tissue_mask``.
    return inside & soft


def tissue_mask(baseline_smooth: np.ndarray, head: np.ndarray, peak_enhancement: np.ndarray,
                config: PerfusionConfig, exclude: np.ndarray | None = None) -> np.ndarray:
    """Parenchyma: head region, tissue HU range (no CSF), no large vessel enhancement, and
    none of ``exclude`` (whose enhancement is not taken for a vessel's)."""
    low, high = config.tissue_hu
    tissue = head & (baseline_smooth >= low) & (baseline_smooth <= high)
    seeds = peak_enhancement > config.vessel_enhancement_hu
    if exclude is not None:
        seeds &= ~exclude
        tissue &= ~exclude
    vessels = ndimage.binary_dilation(seeds, structure=np.ones((1, 3, 3)))
    tissue &= ~vessels
    opened: np.ndarray = ndimage.binary_opening(tissue, structure=np.ones((1, 2, 2)))
    return opened


def smooth_in_mask(volume: np.ndarray, mask: np.ndarray,
                   sigma_px: tuple[float, float]) -> np.ndarray:
    """Normalised in-plane Gaussian: averages only voxels inside ``mask`` (z, y, x)."""
    weights = ndimage.gaussian_filter(mask.astype(np.float32), (0, *sigma_px))
    values = ndimage.gaussian_filter(np.where(mask, volume, 0).astype(np.float32), (0, *sigma_px))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mask, values / np.maximum(weights, 1e-6), 0).astype(np.float32)
