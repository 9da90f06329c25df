"""Small synthetic CTAs shared by the LVO tests (2 mm voxels: about a second each)."""

from __future__ import annotations

import dataclasses

import pytest

from strokealert.phantoms.cta import TRAIN, CaseSpec, Rendered, draw_case, render


def case(seed: int, site: str | None, side: str = "left", quality: str = "good",
         **changes: object) -> CaseSpec:
    """A training-profile case with the given occlusion, side and quality."""
    spec = draw_case(seed, TRAIN, lvo_site=site, quality=quality)
    fields: dict[str, object] = {"spacing_mm": (2.0, 2.0, 2.0), "collateral": 0.1,
                                 "phase": "arterial", "arterial_enh_hu": 320.0,
                                 "venous_enh_hu": 60.0, **changes}
    if site in ("ICA", "M1", "M2"):
        fields["side"] = side
    if quality == "poor_timing":
        fields.update(arterial_enh_hu=40.0, venous_enh_hu=10.0, phase="poor")
    if site is None:
        fields.update(negative_kind="normal", side="none")
    return dataclasses.replace(spec, **fields)


@pytest.fixture(scope="session")
def m1_left() -> Rendered:
    return render(case(11, "M1", "left", rotation_deg=(6.0, -9.0, 12.0),
                       offset_mm=(18.0, -14.0, 4.0)))


@pytest.fixture(scope="session")
def ica_right() -> Rendered:
    return render(case(12, "ICA", "right"))


@pytest.fixture(scope="session")
def normal() -> Rendered:
    return render(case(13, None, rotation_deg=(0.0, 0.0, 0.0), offset_mm=(0.0, 0.0, 0.0)))
