"""Preprocessing finds the midline of rotated, off-centre heads, with or without the neck."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from strokealert.lvo import vessels
from strokealert.lvo.preprocess import canonicalise
from strokealert.lvo.vessels import FEATURES
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


def test_vessel_features_name_the_side_that_lacks_filling(m1_left: Rendered,
                                                          ica_right: Rendered,
                                                          normal: Rendered) -> None:
    found = {name: vessels.extract(canonicalise(r.volume_hu, r.spacing_mm).vessel)
             for name, r in (("m1", m1_left), ("ica", ica_right), ("normal", normal))}
    assert found["m1"].side == "left" and found["m1"].mark_mm[0] > 0
    assert found["ica"].side == "right" and found["ica"].mark_mm[0] < 0
    sylvian = FEATURES.index("sylvian_ratio")
    assert found["normal"].values[sylvian] < min(found["m1"].values[sylvian],
                                                 found["ica"].values[sylvian]) - 0.5
