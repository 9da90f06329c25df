"""DICOM: the C-STORE receiver, the store, series completion and classification, a sender."""
