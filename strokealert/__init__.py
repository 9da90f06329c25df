"""strokealert: stroke alert service (DICOM ingest, perfusion, LVO, alerts, audit).

Not a medical device: a notification-only triage aid that never replaces the radiologist's read.
"""

__version__ = "0.1.0"

NOT_A_MEDICAL_DEVICE = (
    "strokealert is not a medical device. It is a notification-only triage aid and is not "
    "for diagnostic use; every finding must be confirmed by a qualified physician."
)
