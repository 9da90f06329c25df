"""A small 3-D segmentation network for acute blood on NCCT (issue 19): MONAI ``UNet``.

The scan is resampled to a coarse working grid of :data:`GRID_MM` (block means in-plane, linear
between slices), windowed into two channels (:data:`WINDOWS_HU`, scaled to 0–1) and segmented;
the blood probability goes back to the input grid by linear interpolation. The weights ship in
the package (``weights/ich_net.pt``, training metadata in ``weights/ich_net.json``) and are
loaded once per process. :mod:`strokealert.ncct.ich_train` trains it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets.unet import UNet

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "ich_net.pt"
GRID_MM = (3.0, 2.0, 2.0)  # (z, y, x) spacing of the network's working grid
WINDOWS_HU = ((0.0, 100.0), (-20.0, 200.0))  # input channels: HU windows scaled to 0–1
CHANNELS = (8, 16, 32, 64)
RES_UNITS = 0  # plain convolutions: a residual unit per level triples the CPU time
DIVISOR = 8  # the grid is padded to a multiple of this (three stride-2 levels)
INFERENCE_THREADS = 2


def build_model() -> UNet:
    """The untrained network: 2 input channels, 1 output logit per voxel."""
    return UNet(spatial_dims=3, in_channels=len(WINDOWS_HU), out_channels=1, channels=CHANNELS,
                strides=(2,) * (len(CHANNELS) - 1), num_res_units=RES_UNITS)


def grid_shape(shape: Sequence[int], spacing_mm: Sequence[float]) -> tuple[int, int, int]:
    """Size (z, y, x) of the working grid covering a volume of ``shape`` at ``spacing_mm``."""
    return (max(1, round(shape[0] * spacing_mm[0] / GRID_MM[0])),
            max(1, round(shape[1] * spacing_mm[1] / GRID_MM[1])),
            max(1, round(shape[2] * spacing_mm[2] / GRID_MM[2])))


def to_grid(values: np.ndarray, spacing_mm: Sequence[float]) -> np.ndarray:
    """``values`` (z, y, x) on the input grid → float32 on the working grid: in-plane block
    means (area), then linear between slices. Works for HU and for 0/1 masks (fractions)."""
    size = grid_shape(values.shape, spacing_mm)
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    with torch.no_grad():
        planar = F.interpolate(tensor, size=(values.shape[0], size[1], size[2]), mode="area")
        out = F.interpolate(planar, size=size, mode="trilinear", align_corners=False)
    return np.asarray(out[0, 0].numpy())


def channels(hu_grid: torch.Tensor) -> torch.Tensor:
    """(..., z, y, x) HU → (..., 2, z, y, x) network input: each window clipped, scaled 0–1."""
    parts = [((hu_grid - low) / (high - low)).clamp(0.0, 1.0) for low, high in WINDOWS_HU]
    return torch.stack(parts, dim=-4)


def _pad(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Pad the last three axes of ``x`` (with HU −1000 → channel 0) to multiples of
    :data:`DIVISOR`; returns the padded tensor and the original size."""
    size = (int(x.shape[-3]), int(x.shape[-2]), int(x.shape[-1]))
    pads: list[int] = []
    for n in reversed(size):
        pads += [0, (-n) % DIVISOR]
    return F.pad(x, pads, value=-1000.0), size


def logits_on_grid(model: torch.nn.Module, hu_grid: np.ndarray) -> torch.Tensor:
    """Whole-grid logits (z, y, x) for HU on the working grid (no gradients)."""
    padded, size = _pad(torch.from_numpy(np.ascontiguousarray(hu_grid, dtype=np.float32)))
    with torch.no_grad():
        out: torch.Tensor = model(channels(padded)[None])[0, 0]
    return out[:size[0], :size[1], :size[2]]


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def load(path: Path) -> torch.nn.Module:
    """The network with the weights at ``path`` (a state dict), in eval mode."""
    model = build_model()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    return model


@lru_cache(maxsize=1)
def shipped() -> torch.nn.Module:
    """The shipped network (loaded once per process)."""
    return load(WEIGHTS_PATH)


def metadata(path: Path = WEIGHTS_PATH) -> dict[str, Any]:
    """Training metadata written beside a weights file (``.json``), empty when absent."""
    sidecar = path.with_suffix(".json")
    return dict(json.loads(sidecar.read_text())) if sidecar.exists() else {}


def predict_blood(volume_hu: np.ndarray, spacing_mm: Sequence[float],
                  model: torch.nn.Module | None = None) -> np.ndarray:
    """Blood probability (0–1, float32) on the input grid of a (z, y, x) NCCT in HU with
    ``spacing_mm`` (z, y, x); ``model`` defaults to the shipped network."""
    net = model if model is not None else shipped()
    with torch_threads(INFERENCE_THREADS):
        grid = to_grid(np.asarray(volume_hu), spacing_mm)
        with torch.no_grad():
            prob = torch.sigmoid(logits_on_grid(net, grid))[None, None]
            full = F.interpolate(prob, size=tuple(volume_hu.shape), mode="trilinear",
                                 align_corners=False)
    return np.asarray(full[0, 0].numpy(), dtype=np.float32)
