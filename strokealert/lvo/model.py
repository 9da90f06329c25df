"""The LVO network (a MONAI ResNet over aligned vessel MIPs) and its calibrated late fusion.

Input: the canonical vessel canvas (axial MIP above coronal MIP, 128 × 80 at 2 mm) and its
left-right mirror image as a second channel, so every filter sees the two hemispheres side by
side (the DeepSymNet idea on MIPs). Output: 8 classes, ``none`` plus ICA/M1/M2 on either side
and basilar. At inference the canvas is also run mirrored (labels swapped) and the logits
averaged, which makes the model exactly left-right equivariant.

p(LVO) is then a logistic fusion of the network's logit with the vessel-asymmetry features,
fitted on a validation split; that fit is also the probability calibration (Platt scaling).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.networks.nets.resnet import ResNet

CLASSES = ("none", "ICA_left", "M1_left", "M2_left", "ICA_right", "M1_right", "M2_right",
           "basilar")
# Class index after mirroring the image left-right.
FLIP_PERMUTATION = (0, 4, 5, 6, 1, 2, 3, 7)
MODEL_NAME = "strokealert-lvo-mipnet"
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "lvo_mipnet.pt"


def class_index(site: str | None, side: str) -> int:
    """Class index of a ground-truth (site, side); basilar ignores the side."""
    if site is None:
        return 0
    if site == "basilar":
        return CLASSES.index("basilar")
    return CLASSES.index(f"{site}_{side}")


def build_network() -> torch.nn.Module:
    """A small 2-D ResNet from ``monai.networks`` (about 1.2 M parameters)."""
    return ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=[16, 32, 64, 128],
                  spatial_dims=2, n_input_channels=2, conv1_t_size=5, conv1_t_stride=2,
                  num_classes=len(CLASSES))


def network_input(canvases: np.ndarray) -> torch.Tensor:
    """(N, H, W) canvases → (N, 2, H, W): the image and its mirror."""
    x = torch.as_tensor(np.ascontiguousarray(canvases), dtype=torch.float32)
    return torch.stack([x, torch.flip(x, dims=[-1])], dim=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-5, 1 - 1e-5)
    logit: np.ndarray = np.log(p / (1 - p))
    return logit


@dataclass
class Prediction:
    """Calibrated output for one CTA."""

    probability: float  # calibrated p(LVO)
    cnn_probability: float  # 1 − p(none) from the network alone
    class_probabilities: dict[str, float]
    site: str | None  # most likely site among the LVO classes
    side: str  # left/right/none from the network


@dataclass
class LvoModel:
    """Network weights + fusion/calibration + operating threshold + provenance."""

    network: torch.nn.Module
    fusion_weights: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0, 0, 0, 0]))
    fusion_bias: float = 0.0
    threshold: float = 0.5
    version: str = "0.0.0"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{MODEL_NAME}@{self.version}"

    @torch.no_grad()
    def class_logits(self, canvases: np.ndarray) -> np.ndarray:
        """Mirror-averaged logits (N, 8) for (N, H, W) canvases."""
        self.network.eval()
        x = network_input(canvases)
        direct = self.network(x)
        mirrored = self.network(torch.flip(x, dims=[-1]))[:, list(FLIP_PERMUTATION)]
        logits: np.ndarray = ((direct + mirrored) / 2).numpy().astype(np.float64)
        return logits

    def fuse(self, cnn_p: np.ndarray, asym_features: np.ndarray) -> np.ndarray:
        """Calibrated p(LVO) from the network's p and the asymmetry features (N, 5)."""
        z = np.column_stack([_logit(cnn_p), asym_features])
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-(z @ self.fusion_weights
                                                         + self.fusion_bias)))
        return probability

    def predict(self, canvases: np.ndarray, asym_features: np.ndarray) -> list[Prediction]:
        logits = self.class_logits(canvases)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        cnn_p = 1.0 - probs[:, 0]
        fused = self.fuse(cnn_p, asym_features)
        out = []
        for row, p_cnn, p in zip(probs, cnn_p, fused, strict=True):
            best = int(np.argmax(row[1:])) + 1
            name = CLASSES[best]
            site, _, side = name.partition("_")
            out.append(Prediction(float(p), float(p_cnn),
                                  {c: float(v) for c, v in zip(CLASSES, row, strict=True)},
                                  site, side or "none"))
        return out

    def save(self, path: Path) -> Path:
        """One file: state dict + fusion + metadata (torch.save, weights-only loadable)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({
            "state_dict": {k: v.detach().clone() for k, v in self.network.state_dict().items()},
            "meta": json.dumps({
                "fusion_weights": [float(v) for v in self.fusion_weights],
                "fusion_bias": float(self.fusion_bias), "threshold": float(self.threshold),
                "version": self.version, "metadata": self.metadata, "classes": list(CLASSES),
            }),
        }, buffer)
        path.write_bytes(buffer.getvalue())
        return path


def load(path: Path = WEIGHTS_PATH) -> LvoModel:
    """Load a saved model (safe ``weights_only`` unpickling)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    if tuple(meta["classes"]) != CLASSES:
        raise ValueError(f"{path} was trained for other classes: {meta['classes']}")
    network = build_network()
    network.load_state_dict(blob["state_dict"])
    network.eval()
    return LvoModel(network, np.array(meta["fusion_weights"]), meta["fusion_bias"],
                    meta["threshold"], meta["version"], meta["metadata"])


@lru_cache(maxsize=1)
def shipped() -> LvoModel:
    """The model shipped in the package (loaded once per process)."""
    if not WEIGHTS_PATH.exists():
        raise FileNotFoundError(f"no LVO weights at {WEIGHTS_PATH}; run `strokealert lvo train`")
    return load(WEIGHTS_PATH)
