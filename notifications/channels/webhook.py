"""Webhook: the JSON payload POSTed to a URL (Teams/Slack bridges, paging gateways).

Signed ``X-Strokealert-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
(see :func:`notifications.signing.verify_body`: receivers refuse timestamps outside the replay
window); the ``Idempotency-Key`` header is the outbox key, the same on every retry, so receivers
drop repeats. Without a secret the channel refuses to be built unless ``allow_unsigned`` says
so, and then it warns once. Alerts go out in the schema version the receiver is set up for
(``schema_version`` 2: ``strokealert.alert/2`` with ``image_url``; 1: ``strokealert.alert/1``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import httpx

from notifications.channels import (
    ChannelBase,
    Delivery,
    InDoubtError,
    PermanentError,
    RetryableError,
    SendResult,
)
from notifications.payload import SCHEMA_VERSIONS, PayloadError, as_version
from notifications.signing import SIGNATURE_HEADER, body_signature

log = logging.getLogger(__name__)


class UnsignedWebhookError(ValueError):
    """A webhook channel without a secret that was not explicitly allowed to send unsigned."""


class WebhookChannel(ChannelBase):
    """POSTs each delivery's payload to its address; ``now`` gives Unix seconds to sign with."""

    def __init__(self, secret: str | None, timeout_s: float = 10.0, *,
                 allow_unsigned: bool = False, now: Callable[[], float] = time.time,
                 schema_version: int = 1) -> None:
        if schema_version not in SCHEMA_VERSIONS:
            raise PayloadError(f"unknown alert schema version {schema_version} (expected 1 or 2)")
        if not secret:
            if not allow_unsigned:
                raise UnsignedWebhookError(
                    "a webhook needs a signing secret (or an explicit allowance to send unsigned)")
            log.warning("webhook POSTs go out UNSIGNED: receivers cannot tell them from forgeries")
        self.name = "webhook"
        self.schema_version = schema_version
        self.secret = secret
        self.now = now
        self.client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def send(self, delivery: Delivery) -> SendResult:
        payload = as_version(delivery.payload, self.schema_version)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.dedupe_key,
                   "User-Agent": "strokealert-notifications/1"}
        if self.secret:
            headers[SIGNATURE_HEADER] = body_signature(self.secret, body, int(self.now()))
        try:
            response = self.client.post(delivery.address, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise InDoubtError(f"webhook timeout: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"webhook transport error: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise RetryableError(
                f"webhook HTTP {response.status_code}",
                retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None)
        if response.status_code >= 400:
            raise PermanentError(f"webhook HTTP {response.status_code}: {response.text[:200]}")
        return SendResult(provider_id=response.headers.get("X-Request-Id")
                          or f"webhook-{delivery.outbox_id}")
