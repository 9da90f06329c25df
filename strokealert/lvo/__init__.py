"""Large vessel occlusion (LVO) detection on head CTA.

Flow: :mod:`preprocess` (read, head localisation, midline alignment, vessel map, MIPs) →
:mod:`quality` (gate) → :mod:`asymmetry` (non-learned left/right vessel density) and
:mod:`model` (MONAI CNN on the aligned MIPs, calibrated fusion) → :mod:`explain` (Grad-CAM,
key images). :mod:`phantom` makes synthetic CTA with ground truth; :mod:`dataset`,
:mod:`train` and :mod:`evaluate` train and measure the model on synthetic or real cases.
"""

from strokealert.lvo.analyze import LvoResult, analyze_files, analyze_volume, load_model

__all__ = ["LvoResult", "analyze_files", "analyze_volume", "load_model"]
