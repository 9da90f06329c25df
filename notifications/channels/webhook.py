"""Webhook: the JSON payload POSTed to a URL (Teams/Slack bridges, paging gateways).

Signed ``X-Strokealert-Signature: sha256=<hex HMAC-SHA256 of the body>``; the
``Idempotency-Key`` header is the outbox key, the same on every retry, so receivers drop repeats.
"""

from __future__ import annotations

import json

import httpx

from notifications.channels import (
    ChannelBase,
    Delivery,
    InDoubtError,
    PermanentError,
    RetryableError,
    SendResult,
)
from notifications.signing import SIGNATURE_HEADER, body_signature


class WebhookChannel(ChannelBase):
    def __init__(self, secret: str | None = None, timeout_s: float = 10.0) -> None:
        self.name = "webhook"
        self.secret = secret
        self.client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def send(self, delivery: Delivery) -> SendResult:
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.dedupe_key,
                   "User-Agent": "strokealert-notifications/1"}
        if self.secret:
            headers[SIGNATURE_HEADER] = body_signature(self.secret, body)
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
