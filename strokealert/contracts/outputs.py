"""Files an analysis writes to its output folder beside the ``strokealert.analysis/1`` result.

They are not listed in the result (the contract keeps its keys): readers find them by name in
the folder that holds the block's key images.
"""

from __future__ import annotations

from typing import Final

# The LVO analysis' de-identified CTA slab, a NumPy ``.npz`` without pickles and without any
# DICOM header: ``hu`` int16 (slice, row, column) thin-slab MIPs in HU, slices from the feet
# towards the head, rows anterior → posterior, columns patient right → left (radiological);
# ``spacing_mm`` float (slice step, row, column); ``thickness_mm`` float (MIP slab thickness).
CTA_SLAB_FILE: Final = "cta_slab.npz"

# The NCCT analysis' haemorrhage label map, a NumPy ``.npz`` without pickles: ``labels`` uint8
# (slice, row, column) on the NCCT volume's LPS grid (:func:`strokealert.dicom.volume.read_volume`),
# 0 for no blood and ``1 + i`` for the i-th kind of ``contracts.analysis.BLEED_KINDS``. The
# pipeline builds the haemorrhage DICOM SEG from it.
NCCT_BLOOD_FILE: Final = "ncct_blood.npz"
