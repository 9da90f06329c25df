"""Results back to PACS: key images (SC), core/hypoperfusion (SEG), measurements (TID 1500 SR).

One call builds every object for a study, one call sends them::

    datasets = build_results(ctp_headers, cta_headers, core_mask=..., hypoperfusion_mask=...,
                             perfusion_block=result["perfusion"], lvo_block=result["lvo"],
                             key_images={"perfusion_summary.png": rgb, "lvo_mip.png": rgb2})
    report = send_to_pacs(datasets, settings)   # never raises; report.failed lists problems

All objects carry the source study's patient and study modules (PACS files them under the
patient's study) and reference the source series. They are in the order SC..., SEG, SR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from strokealert.results.common import (
    SERIES_NUMBER_SC_LVO,
    SERIES_NUMBER_SC_PERFUSION,
    SERIES_NUMBER_SEG,
    SERIES_NUMBER_SR,
    first_time_frame,
    new_uid,
)
from strokealert.results.pacs import ObjectResult, SendReport, send_datasets, send_to_pacs
from strokealert.results.secondary_capture import build_secondary_capture
from strokealert.results.segmentation import build_segmentation
from strokealert.results.structured_report import build_structured_report

__all__ = ["ObjectResult", "SendReport", "build_results", "send_datasets", "send_to_pacs"]

LVO_KEY_IMAGE_PREFIX = "lvo"


def _describe(name: str) -> str:
    stem = name.rsplit(".", 1)[0].replace("_", " ")
    return stem[:1].upper() + stem[1:]


def build_results(
    source_datasets_ctp: Sequence[Dataset] | None,
    source_datasets_cta: Sequence[Dataset] | None,
    *,
    core_mask: np.ndarray | None = None,
    hypoperfusion_mask: np.ndarray | None = None,
    perfusion_block: Mapping[str, Any] | None = None,
    lvo_block: Mapping[str, Any] | None = None,
    key_images: Mapping[str, np.ndarray] | None = None,
) -> list[Dataset]:
    """Every result object for one study, ready for :func:`send_to_pacs`.

    - ``source_datasets_ctp`` / ``_cta``: headers (pixels not needed) of the source series;
      the CTP may hold every time frame — one image per table position is kept.
    - ``core_mask`` / ``hypoperfusion_mask``: (z, y, x) booleans on the CTP slice grid, z in
      rising table position (perfusion's order); both are needed for the SEG.
    - ``perfusion_block`` / ``lvo_block``: the ``strokealert.analysis/1`` blocks; only blocks
      with status ``ok`` are reported.
    - ``key_images``: name -> (rows, columns, 3) uint8 RGB. Names starting with ``lvo``
      (``lvo_mip.png``, ``lvo_heatmap.png``) are filed with the CTA, the others with the CTP
      (or with whichever series exists). One SC series per source series.

    Raises ValueError when a mask does not fit the CTP grid or a key image has no source.
    """
    ctp = first_time_frame(source_datasets_ctp) if source_datasets_ctp else []
    cta = first_time_frame(source_datasets_cta) if source_datasets_cta else []
    results: list[Dataset] = []

    sc_series: dict[str, tuple[str, int, int]] = {}  # source kind -> (uid, number, count)
    for name, rgb in (key_images or {}).items():
        wants_cta = name.lower().startswith(LVO_KEY_IMAGE_PREFIX)
        kind = "cta" if (wants_cta and cta) or not ctp else "ctp"
        sources = cta if kind == "cta" else ctp
        if not sources:
            raise ValueError(f"key image {name!r} has no source series to file it with")
        uid, number, count = sc_series.get(kind) or (
            new_uid(), SERIES_NUMBER_SC_LVO if kind == "cta" else SERIES_NUMBER_SC_PERFUSION, 0)
        sc_series[kind] = (uid, number, count + 1)
        results.append(build_secondary_capture(
            rgb, sources, description=_describe(name), series_instance_uid=uid,
            series_number=number, instance_number=count + 1))

    segmentation = None
    if ctp and core_mask is not None and hypoperfusion_mask is not None:
        segmentation = build_segmentation(ctp, core_mask, hypoperfusion_mask,
                                          series_instance_uid=new_uid(),
                                          series_number=SERIES_NUMBER_SEG)
        results.append(segmentation)

    report = build_structured_report(
        perfusion=perfusion_block, lvo=lvo_block, ctp_images=ctp, cta_images=cta,
        segmentation=segmentation, series_instance_uid=new_uid(), series_number=SERIES_NUMBER_SR)
    if report is not None:
        results.append(report)
    return results
