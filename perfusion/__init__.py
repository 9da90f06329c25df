"""perfusion: standalone CT perfusion analysis (numpy/scipy/SimpleITK; no strokealert imports).

``analyze_files(paths, out_dir, config)`` -> PerfusionResult (``to_json()`` is the ``perfusion``
block of strokealert.analysis/1); ``analyze_volume(frames, times, spacing, ...)`` for arrays.
"""

from perfusion.analyze import analyze_files, analyze_volume
from perfusion.config import PerfusionConfig
from perfusion.errors import PerfusionError
from perfusion.result import PerfusionResult, VolumeAnalysis

__all__ = ["PerfusionConfig", "PerfusionError", "PerfusionResult", "VolumeAnalysis",
           "analyze_files", "analyze_volume"]
