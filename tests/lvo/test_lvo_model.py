"""The shipped model: loads, gives the same answer twice, finds a clear M1 and its side."""

from __future__ import annotations

import numpy as np

from strokealert.lvo import analyze_volume, load_model
from strokealert.lvo.model import CLASSES, FLIP_PERMUTATION, WEIGHTS_PATH, load
from strokealert.phantoms.cta import Rendered


def test_shipped_weights_are_small_and_load() -> None:
    assert WEIGHTS_PATH.stat().st_size < 50 * 2**20
    model = load_model()
    assert model.name.startswith("strokealert-lvo-mipnet@")
    assert 0.0 < model.threshold < 1.0


def test_loaded_model_is_deterministic_and_mirror_equivariant(m1_left: Rendered) -> None:
    first = analyze_volume(m1_left.volume_hu, m1_left.spacing_mm, explain_images=False)
    fresh = load(WEIGHTS_PATH)  # a second, independent load of the same file
    second = analyze_volume(m1_left.volume_hu, m1_left.spacing_mm, model=fresh,
                            explain_images=False)
    assert first.probability == second.probability
    assert first.class_probabilities == second.class_probabilities
    canvas = np.concatenate([first.axial_mip, first.coronal_mip])[None]
    direct = fresh.class_logits(canvas)[0]
    mirrored = fresh.class_logits(canvas[:, :, ::-1].copy())[0]
    assert np.allclose(direct, mirrored[list(FLIP_PERMUTATION)], atol=1e-5)
    assert len(direct) == len(CLASSES)


def test_clear_occlusions_are_found_with_side_and_normal_is_not(m1_left: Rendered,
                                                                ica_right: Rendered,
                                                                normal: Rendered) -> None:
    left = analyze_volume(m1_left.volume_hu, m1_left.spacing_mm)
    assert left.suspected and left.side == "left" and left.site in ("M1", "ICA")
    assert left.heatmap is not None and left.marks is not None
    # The marked segment lies on the patient's left (+x, the right half of the image).
    assert all(col >= left.axial_mip.shape[1] // 2 for _, col in left.marks)
    right = analyze_volume(ica_right.volume_hu, ica_right.spacing_mm)
    assert right.suspected and right.side == "right"
    healthy = analyze_volume(normal.volume_hu, normal.spacing_mm)
    assert not healthy.suspected and healthy.side == "none" and healthy.site is None
    assert healthy.probability < left.probability
