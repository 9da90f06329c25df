"""The PHI-free payload (schema ``strokealert.alert/2``, or ``/1`` for receivers set up for it)
and its SMS / e-mail renderings.

Only the fields below ever leave the building: an opaque case id, the finding, the site name, a
link, and (``/2``) ``image_url``: a signed, short-lived link to a de-identified key image, filled
in when the notification is sent (null when the alert has no key image). ``/1`` is ``/2`` without
``image_url``. The payload is shortened to fit FCM's 4096-byte limit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

ALERT_SCHEMA = "strokealert.alert/2"
ALERT_SCHEMA_V1 = "strokealert.alert/1"
ALERT_SCHEMAS = (ALERT_SCHEMA_V1, ALERT_SCHEMA)
SCHEMA_VERSIONS = (1, 2)
ACK_SCHEMA = "strokealert.ack/1"
MAX_PAYLOAD_BYTES = 4096
LEVELS = ("critical", "warning", "manual_review")
KINDS = ("new", "update", "escalation")
ALERT_FIELDS = ("schema", "alert_id", "case_id", "level", "kind", "title", "body", "site",
                "created_at", "url", "image_url")
ALERT_FIELDS_V1 = ALERT_FIELDS[:-1]


class PayloadError(ValueError):
    """An alert that cannot be sent as given (unknown level or kind, missing field)."""


def iso_utc(when: datetime) -> str:
    """``2026-03-14T02:49:02Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encoded_size(payload: dict[str, Any]) -> int:
    """Bytes of the compact UTF-8 JSON encoding."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())


def _fit(payload: dict[str, Any], limit: int) -> dict[str, Any]:
    """Shorten ``body`` then ``title`` (with an ellipsis) until the payload fits ``limit``."""
    for field in ("body", "title"):
        while encoded_size(payload) > limit and payload[field]:
            excess = encoded_size(payload) - limit
            text = payload[field]
            keep = max(0, len(text) - max(excess, 1) - 1)
            payload[field] = text[:keep].rstrip() + "…" if keep else ""
    if encoded_size(payload) > limit:
        raise PayloadError(f"payload exceeds {limit} bytes even without title and body")
    return payload


def alert_payload(*, alert_id: str, case_id: str, level: str, kind: str, title: str, body: str,
                  site: str, created_at: datetime, url: str,
                  limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """The ``strokealert.alert/2`` payload (``image_url`` null until the relay signs one):
    exactly the schema's fields, ≤ ``limit`` bytes."""
    if level not in LEVELS:
        raise PayloadError(f"unknown alert level {level!r} (expected one of {', '.join(LEVELS)})")
    if kind not in KINDS:
        raise PayloadError(f"unknown alert kind {kind!r} (expected one of {', '.join(KINDS)})")
    if not case_id or not title:
        raise PayloadError("an alert needs a case id and a title")
    payload = {"schema": ALERT_SCHEMA, "alert_id": alert_id, "case_id": case_id, "level": level,
               "kind": kind, "title": title, "body": body, "site": site,
               "created_at": iso_utc(created_at), "url": url, "image_url": None}
    return _fit(payload, limit)


def is_alert(payload: dict[str, Any]) -> bool:
    """True for an alert payload of either schema version (not an acknowledgement)."""
    return payload.get("schema") in ALERT_SCHEMAS


def with_image(payload: dict[str, Any], image_url: str | None,
               limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """The alert ``payload`` as ``/2`` carrying ``image_url``, still ≤ ``limit`` bytes."""
    if not is_alert(payload):
        return payload
    return _fit({**payload, "schema": ALERT_SCHEMA, "image_url": image_url}, limit)


def as_version(payload: dict[str, Any], version: int) -> dict[str, Any]:
    """An alert payload in schema version ``version`` (1: no ``image_url``; 2: as is)."""
    if version not in SCHEMA_VERSIONS:
        raise PayloadError(f"unknown alert schema version {version} (expected 1 or 2)")
    if not is_alert(payload) or version == 2:
        return payload
    return {**{k: v for k, v in payload.items() if k != "image_url"}, "schema": ALERT_SCHEMA_V1}


NOT_CANDIDATE = "not_candidate"
"""The ``via`` of a response that the patient is not a candidate: it stops the escalation like
an acknowledgement and is told to the team as what it is."""


def ack_payload(*, alert_id: str, case_id: str, by: str, via: str, at: datetime, site: str,
                url: str) -> dict[str, Any]:
    """The ``strokealert.ack/1`` broadcast: "<by> is on the way" (or, ``via``
    :data:`NOT_CANDIDATE`, "<by>: not a candidate")."""
    if via == NOT_CANDIDATE:
        title, body = f"{by}: not a candidate", "No further paging for this case"
    else:
        title, body = f"{by} is on the way", f"Acknowledged via {via}"
    payload = {"schema": ACK_SCHEMA, "alert_id": alert_id, "case_id": case_id,
               "title": title, "body": body, "by": by,
               "via": via, "site": site, "acknowledged_at": iso_utc(at), "url": url}
    return _fit(payload, MAX_PAYLOAD_BYTES)


def sms_text(payload: dict[str, Any], ref: str, max_chars: int = 480) -> str:
    """The SMS body: level, title, finding, site, link, how to acknowledge, and a reference."""
    if payload["schema"] == ACK_SCHEMA:
        text = f"{payload['title']} ({payload['site']}). {payload['url']}"
    else:
        head = payload["level"].replace("_", " ").upper()
        if payload["kind"] != "new":
            head += f" {payload['kind'].upper()}"
        image = f" Image: {payload['image_url']}" if payload.get("image_url") else ""
        text = (f"[{head}] {payload['title']}. {payload['body']} - {payload['site']} "
                f"{payload['url']}{image} Reply 1 or ACK to acknowledge.")
    suffix = f" #{ref}"
    if len(text) + len(suffix) > max_chars:
        text = text[: max_chars - len(suffix) - 1] + "…"
    return text + suffix


def subject_line(payload: dict[str, Any]) -> str:
    """An e-mail subject for the payload."""
    if payload["schema"] == ACK_SCHEMA:
        return f"[strokealert] {payload['title']}"
    return f"[strokealert {payload['level']}] {payload['title']}"
