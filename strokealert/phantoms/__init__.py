"""Synthetic DICOM with known ground truth (``strokealert phantom ...``), all in one place.

``series`` writes CT Image Storage files from arrays in HU (the writer every other generator,
test and benchmark uses); ``ctp`` the perfusion series (arrays from ``perfusion.phantoms``),
``cta`` the head CTA with occlusions (also the LVO model's training data), ``study`` a whole
stroke study (CTA and CTP of one patient). This package imports only ``perfusion`` and
``strokealert.errors``: the analyses and the tests build on it, never the other way round.
"""
