"""Preprocessing finds the midline of rotated, off-centre heads, with or without the neck."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from strokealert.lvo import asymmetry
from strokealert.lvo.preprocess import canonicalise
from strokealert.phantoms.cta import Rendered, render

from .conftest import case


def _axis_error_deg(estimated: np.ndarray, true: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(estimated[:, 0] @ true[:, 0], -1, 1))))


def _head_frame_centre(rendered: Rendered, centre_voxel_mm: np.ndarray) -> np.ndarray:
    scanner = centre_voxel_mm + np.array(rendered.origin_mm)
    return rendered.rotation.T @ (scanner - rendered.centre_mm)


def test_rotated_off_centre_head_lands_on_the_same_canonical_grid(m1_left: Rendered,
                                                                  normal: Rendered) -> None:
    straight = render(dataclasses.replace(m1_left.spec, rotation_deg=(0.0, 0.0, 0.0),
                                          offset_mm=(0.0, 0.0, 0.0)))
    tilted = canonicalise(m1_left.volume_hu, m1_left.spacing_mm)
    upright = canonicalise(straight.volume_hu, straight.spacing_mm)
    assert _axis_error_deg(tilted.rotation, m1_left.rotation) < 4.0
    assert _axis_error_deg(upright.rotation, straight.rotation) < 2.0
    # The same anatomy: centroids agree in the head frame, vessel maps overlap.
    assert np.linalg.norm(_head_frame_centre(m1_left, tilted.centre_mm)
                          - _head_frame_centre(straight, upright.centre_mm)) < 4.0
    # Pitch is left uncorrected (6° here): compare blurred axial MIPs.
    a = ndimage.gaussian_filter(tilted.vessel.max(axis=0), 2.0)
    b = ndimage.gaussian_filter(upright.vessel.max(axis=0), 2.0)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.75


def test_neck_coverage_does_not_move_the_head() -> None:
    spec = case(21, "M2", "right", rotation_deg=(-8.0, 10.0, -13.0), offset_mm=(-20.0, 10.0, 0.0))
    head = render(spec)
    with_neck = render(dataclasses.replace(spec, neck=True))
    c_head = canonicalise(head.volume_hu, head.spacing_mm)
    c_neck = canonicalise(with_neck.volume_hu, with_neck.spacing_mm)
    assert with_neck.volume_hu.shape[0] > head.volume_hu.shape[0] + 25
    assert _axis_error_deg(c_neck.rotation, with_neck.rotation) < 4.0
    assert np.linalg.norm(_head_frame_centre(head, c_head.centre_mm)
                          - _head_frame_centre(with_neck, c_neck.centre_mm)) < 4.0


def test_asymmetry_detector_names_the_occluded_side(m1_left: Rendered, ica_right: Rendered,
                                                    normal: Rendered) -> None:
    left = asymmetry.analyse(canonicalise(m1_left.volume_hu, m1_left.spacing_mm).vessel)
    right = asymmetry.analyse(canonicalise(ica_right.volume_hu, ica_right.spacing_mm).vessel)
    none = asymmetry.analyse(canonicalise(normal.volume_hu, normal.spacing_mm).vessel)
    assert left.side == "left" and left.log_ratio[left.territory] < -asymmetry.SIDE_THRESHOLD
    assert right.side == "right"
    assert none.score < min(left.score, right.score)
