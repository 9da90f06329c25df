"""The alert contract admits no PHI field, and payloads stay ≤ 4096 bytes.

(tests/alerting/test_alerting_phi.py sends a whole escalation from a real DICOM header through
every channel and checks that no identifier reaches any of them.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.engine import AlertSpec
from notifications.payload import MAX_PAYLOAD_BYTES, PayloadError, alert_payload, encoded_size


def test_the_contract_accepts_no_extra_fields_and_long_text_is_shortened() -> None:
    with pytest.raises(TypeError):
        AlertSpec(case_id="c", level="critical", kind="new", title="t",  # type: ignore[call-arg]
                  body="b", site="s", url="u", patient_name="DOE^JANE")
    payload = alert_payload(alert_id="a" * 36, case_id="c" * 36, level="critical", kind="new",
                            title="LVO suspected: " + "Ä" * 3000, body="x" * 9000,
                            site="Main campus CT2",
                            created_at=datetime(2026, 3, 14, 2, 49, tzinfo=UTC),
                            url="https://strokealert.example.org/cases/" + "c" * 36)
    assert encoded_size(payload) <= MAX_PAYLOAD_BYTES
    assert payload["title"].startswith("LVO suspected: ") and payload["body"] == ""
    assert payload["title"].endswith("…")
    with pytest.raises(PayloadError, match="level"):
        alert_payload(alert_id="a", case_id="c", level="urgent", kind="new", title="t",
                      body="b", site="s", created_at=datetime(2026, 3, 14, tzinfo=UTC), url="u")
