"""ACK: the original-mode acknowledgement of one message (MSH, MSA, and ERR unless AA).

MSA-1 is ``AA`` (accepted and committed), ``AE`` (stored, content error: for review) or ``AR``
(stored, rejected whole: unreadable header, unsupported type or processing id, sender not
allowed); MSA-2 echoes MSH-10. ERR-3 carries the HL7 table 0357 code, ERR-8 a text without PHI.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from strokealert.hl7.parse import Header, Hl7Error

RECEIVING_APPLICATION = "STROKEALERT"
_counter = itertools.count(1)


def _clean(text: str) -> str:
    """``text`` with the default HL7 delimiters and segment breaks taken out."""
    return "".join(" " if ch in "|^~\\&\r\n" else ch for ch in text)


def build_ack(header: Header, error: Hl7Error | None = None) -> str:
    """The ACK text (segments joined by ``\\r``) for a message with ``header``: AA without
    ``error``, else its AE/AR with an ERR segment."""
    now = datetime.now(UTC)
    trigger = header.trigger
    msh = "|".join(["MSH", "^~\\&", RECEIVING_APPLICATION, _clean(header.receiving_facility),
                    _clean(header.sending_application), _clean(header.sending_facility),
                    f"{now:%Y%m%d%H%M%S}+0000", "",
                    f"ACK^{_clean(trigger)}^ACK" if trigger else "ACK",
                    f"SA{now:%Y%m%d%H%M%S}{next(_counter):06d}",
                    _clean(header.processing_id) or "P", _clean(header.version) or "2.5.1"])
    code = "AA" if error is None else error.ack
    segments = [msh, f"MSA|{code}|{_clean(header.control_id or '')}"]
    if error is not None:
        text = _clean(error.text)
        segments.append(f"ERR|||{error.code}^{text[:80]}^HL70357|E||||{text[:250]}")
    return "\r".join(segments) + "\r"
