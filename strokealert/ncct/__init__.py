"""NCCT triage: intracranial haemorrhage (kind, volume, midline shift) and ASPECTS on the
unenhanced head CT, the third analysis beside perfusion (CTP) and LVO (CTA)."""

from __future__ import annotations

from strokealert.ncct.analyze import NcctAnalysis, analyze_files, analyze_volume

__all__ = ["NcctAnalysis", "analyze_files", "analyze_volume"]
