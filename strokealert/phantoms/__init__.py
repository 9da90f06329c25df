"""Synthetic DICOM studies with known ground truth (``strokealert phantom ...``)."""
