"""Large vessel occlusion (LVO) detection on head CTA, by looking at the vessels in 3-D.

Flow: :mod:`preprocess` (read, brain, midline alignment, 1.5 mm vessel map with Hessian
tubularity) → :mod:`quality` (gate) → :mod:`vessels` (mirrored left/right features along the
course of ICA terminus, M1, M2 and the basilar) → :mod:`model` (small multinomial classifier
and out-of-distribution gate) → :mod:`explain` (thin-slab key image). :mod:`corpus` renders the
synthetic generator families; :mod:`dataset`, :mod:`train` and :mod:`evaluate` train and
measure the model on them (leave-one-family-out) or on a hospital's own cases.
"""

from strokealert.lvo.analyze import LvoResult, analyze_files, analyze_volume, load_model

__all__ = ["LvoResult", "analyze_files", "analyze_volume", "load_model"]
