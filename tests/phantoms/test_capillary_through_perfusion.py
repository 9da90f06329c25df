"""The held-out CTP family that found the tilted-slice repair (perfusion.motion.repair_slices),
through the analysis. perfusion's own tests import nothing of strokealert, so it lives here."""

from __future__ import annotations

import perfusion
from perfusion.config import PerfusionConfig
from strokealert.phantoms.ctp_families import capillary


def test_tilted_head_of_the_capillary_family() -> None:
    """The held-out family that found it (7 Dec): four frames tilted by up to 1.5 degrees put
    -1200 HU into the bottom slice's AIF and the core read 759 mL for 127."""
    case = capillary.make_case(residue="exponential", noise_hu=10.0, seed=1)
    analysis = perfusion.analyze_volume(case.frames, case.times, case.spacing,
                                        PerfusionConfig(write_outputs=False))
    assert analysis.motion is not None
    repaired_frames = {t for t, _ in analysis.motion.repaired}
    assert repaired_frames == set(case.truth["motion"]["frames"])
    assert analysis.inputs.aif.min() > -50.0
    assert abs(analysis.lesions.core_ml - case.truth["core_ml"]) < 10.0
    assert analysis.lesions.side == case.truth["side"]
