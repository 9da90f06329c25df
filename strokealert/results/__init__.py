"""Results back to PACS: key images (SC), core/hypoperfusion and haemorrhage (SEG),
measurements (TID 1500 SR).

One call builds every object for a study, one call sends them::

    datasets = build_results(ctp_headers, cta_headers, core_mask=..., hypoperfusion_mask=...,
                             perfusion_block=result["perfusion"], lvo_block=result["lvo"],
                             key_images={"perfusion_summary.png": rgb, "lvo_mip.png": rgb2})
    report = send_to_pacs(datasets, settings)   # never raises; report.failed lists problems

All objects carry the source study's patient and study modules (PACS files them under the
patient's study) and reference the source series. They are in the order SC..., SEG..., SR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from strokealert.results.common import (
    SERIES_NUMBER_SC_LVO,
    SERIES_NUMBER_SC_NCCT,
    SERIES_NUMBER_SC_PERFUSION,
    SERIES_NUMBER_SEG,
    SERIES_NUMBER_SEG_NCCT,
    SERIES_NUMBER_SR,
    first_time_frame,
    new_uid,
)
from strokealert.results.pacs import ObjectResult, SendReport, send_datasets, send_to_pacs
from strokealert.results.secondary_capture import build_secondary_capture
from strokealert.results.segmentation import build_haemorrhage_segmentation, build_segmentation
from strokealert.results.structured_report import build_structured_report

__all__ = ["ObjectResult", "SendReport", "build_results", "send_datasets", "send_to_pacs"]

# Key images are filed with the series they were computed from, told by their name's prefix.
SOURCE_BY_PREFIX = {"lvo": "cta", "ncct": "ncct"}
SC_SERIES_NUMBER = {"ctp": SERIES_NUMBER_SC_PERFUSION, "cta": SERIES_NUMBER_SC_LVO,
                    "ncct": SERIES_NUMBER_SC_NCCT}


def _describe(name: str) -> str:
    stem = name.rsplit(".", 1)[0].replace("_", " ")
    return stem[:1].upper() + stem[1:]


def _source_kind(name: str, available: Mapping[str, Sequence[Dataset]]) -> str | None:
    """The kind of series (``ctp``, ``cta``, ``ncct``) a key image is filed with: the one its
    name's prefix names, else the CTP, else whichever exists."""
    wanted = next((kind for prefix, kind in SOURCE_BY_PREFIX.items()
                   if name.lower().startswith(prefix)), "ctp")
    for kind in (wanted, "ctp", "cta", "ncct"):
        if available.get(kind):
            return kind
    return None


def build_results(
    source_datasets_ctp: Sequence[Dataset] | None,
    source_datasets_cta: Sequence[Dataset] | None,
    *,
    core_mask: np.ndarray | None = None,
    hypoperfusion_mask: np.ndarray | None = None,
    perfusion_block: Mapping[str, Any] | None = None,
    lvo_block: Mapping[str, Any] | None = None,
    key_images: Mapping[str, np.ndarray] | None = None,
    source_datasets_ncct: Sequence[Dataset] | None = None,
    blood_labels: np.ndarray | None = None,
    bleed_kinds: Sequence[str] = (),
    ncct_block: Mapping[str, Any] | None = None,
) -> list[Dataset]:
    """Every result object for one study, ready for :func:`send_to_pacs`.

    - ``source_datasets_ctp`` / ``_cta`` / ``_ncct``: headers (pixels not needed) of the source
      series; the CTP may hold every time frame — one image per table position is kept.
    - ``core_mask`` / ``hypoperfusion_mask``: (z, y, x) booleans on the CTP slice grid, z in
      rising table position (perfusion's order); both are needed for the SEG.
    - ``blood_labels``: (z, y, x) uint8 on the NCCT's LPS grid, ``1 + i`` for ``bleed_kinds[i]``
      (the NCCT analysis' label map); a haemorrhage SEG is made when it holds blood.
    - ``perfusion_block`` / ``lvo_block`` / ``ncct_block``: the ``strokealert.analysis/1``
      blocks; only blocks with status ``ok`` are reported.
    - ``key_images``: name -> (rows, columns, 3) uint8 RGB. Names starting with ``lvo``
      (``lvo_mip.png``) are filed with the CTA, with ``ncct`` (``ncct_ich.png``) with the NCCT,
      the others with the CTP (or with whichever series exists). One SC series per source.

    Raises ValueError when a mask does not fit its grid or a key image has no source.
    """
    ctp = first_time_frame(source_datasets_ctp) if source_datasets_ctp else []
    cta = first_time_frame(source_datasets_cta) if source_datasets_cta else []
    ncct = first_time_frame(source_datasets_ncct) if source_datasets_ncct else []
    available = {"ctp": ctp, "cta": cta, "ncct": ncct}
    results: list[Dataset] = []

    sc_series: dict[str, tuple[str, int]] = {}  # source kind -> (uid, count)
    for name, rgb in (key_images or {}).items():
        kind = _source_kind(name, available)
        if kind is None:
            raise ValueError(f"key image {name!r} has no source series to file it with")
        uid, count = sc_series.get(kind) or (new_uid(), 0)
        sc_series[kind] = (uid, count + 1)
        results.append(build_secondary_capture(
            rgb, available[kind], description=_describe(name), series_instance_uid=uid,
            series_number=SC_SERIES_NUMBER[kind], instance_number=count + 1))

    segmentation = None
    if ctp and core_mask is not None and hypoperfusion_mask is not None:
        segmentation = build_segmentation(ctp, core_mask, hypoperfusion_mask,
                                          series_instance_uid=new_uid(),
                                          series_number=SERIES_NUMBER_SEG)
        results.append(segmentation)
    haemorrhage = None
    if ncct and blood_labels is not None:
        haemorrhage = build_haemorrhage_segmentation(
            ncct, blood_labels, bleed_kinds, series_instance_uid=new_uid(),
            series_number=SERIES_NUMBER_SEG_NCCT)
        if haemorrhage is not None:
            results.append(haemorrhage)

    report = build_structured_report(
        perfusion=perfusion_block, lvo=lvo_block, ctp_images=ctp, cta_images=cta,
        segmentation=segmentation, series_instance_uid=new_uid(), series_number=SERIES_NUMBER_SR,
        ncct=ncct_block, ncct_images=ncct, haemorrhage_segmentation=haemorrhage)
    if report is not None:
        results.append(report)
    return results
