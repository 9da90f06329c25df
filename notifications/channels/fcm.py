"""Firebase Cloud Messaging (HTTP v1) through firebase-admin's ``send_each_for_multicast``.

Android: high priority, TTL, a ``tag`` (alert + escalation step) so a resent in-doubt push
replaces itself on the phone. APNs: ``apns-priority: 10``, ``apns-push-type: alert``,
``apns-expiration`` and ``apns-collapse-id`` (same purpose). An alert's key image (the payload's
signed, short-lived ``image_url``) is ``notification.image`` (Android shows it expanded) and
``apns.fcm_options.image`` with ``mutable-content`` (the iOS notification service extension
fetches it).
``UnregisteredError`` / ``SenderIdMismatchError`` deactivate the token; ``QuotaExceededError``,
5xx and transport errors are retried.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

from notifications.channels import (
    ChannelBase,
    ChannelError,
    Delivery,
    PermanentError,
    RetryableError,
    SendResult,
)

MAX_TOKENS_PER_CALL = 500


class FcmChannel(ChannelBase):
    """Push to one device token per delivery; deliveries with equal payloads share a call."""

    def __init__(self, credentials_file: str, project_id: str | None = None,
                 ttl_s: int = 3600, timeout_s: float = 10.0, endpoint: str | None = None,
                 app_name: str | None = None, parallel_calls: int = 8) -> None:
        """``endpoint`` replaces ``https://fcm.googleapis.com`` (a proxy, or a test fake)."""
        self.name = "push"
        self.ttl_s = ttl_s
        self.parallel_calls = parallel_calls
        cred = credentials.Certificate(credentials_file)
        options: dict[str, Any] = {"httpTimeout": timeout_s}
        if project_id:
            options["projectId"] = project_id
        self.app = firebase_admin.initialize_app(
            cred, options=options, name=app_name or f"notifications-{uuid.uuid4().hex[:12]}")
        if endpoint:  # firebase-admin has no public setting for the FCM host
            service = messaging._get_messaging_service(self.app)
            service._fcm_url = (f"{endpoint.rstrip('/')}/v1/projects/{service._project_id}"
                                "/messages:send")

    def close(self) -> None:
        firebase_admin.delete_app(self.app)

    def _message(self, payload: dict[str, Any], tokens: list[str], collapse: str,
                 ack_url: str | None) -> messaging.MulticastMessage:
        data = {"payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)}
        if ack_url:
            data["ack_url"] = ack_url
        expiration = str(int(time.time()) + self.ttl_s)
        with warnings.catch_warnings():  # 7.x prefers installation ids; apps hand us tokens
            warnings.simplefilter("ignore", DeprecationWarning)
            message = messaging.MulticastMessage(tokens=tokens)
        return self._fill(message, payload, data, collapse, expiration)

    def _fill(self, message: messaging.MulticastMessage, payload: dict[str, Any],
              data: dict[str, str], collapse: str, expiration: str) -> messaging.MulticastMessage:
        image = payload.get("image_url") or None
        message.data = data
        message.notification = messaging.Notification(title=payload["title"],
                                                       body=payload["body"], image=image)
        message.android = messaging.AndroidConfig(
            priority="high", ttl=timedelta(seconds=self.ttl_s), collapse_key=collapse[:64],
            notification=messaging.AndroidNotification(tag=collapse, channel_id="stroke-alert"))
        message.apns = messaging.APNSConfig(
            headers={"apns-priority": "10", "apns-push-type": "alert",
                     "apns-expiration": expiration, "apns-collapse-id": collapse[:64]},
            payload=messaging.APNSPayload(aps=messaging.Aps(
                sound="default", category="STROKE_ALERT", mutable_content=image is not None)),
            fcm_options=messaging.APNSFCMOptions(image=image) if image else None)
        return message

    @staticmethod
    def _outcome(exc: Exception | None,
                 response: messaging.SendResponse) -> SendResult | ChannelError:
        if exc is None:
            return SendResult(provider_id=response.message_id)
        if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
            return PermanentError(f"{type(exc).__name__}: {exc}", deactivate_token=True)
        if isinstance(exc, messaging.QuotaExceededError | exceptions.UnavailableError
                      | exceptions.InternalError | exceptions.DeadlineExceededError
                      | exceptions.UnknownError | exceptions.ResourceExhaustedError):
            return RetryableError(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, exceptions.FirebaseError) and exc.http_response is not None \
                and exc.http_response.status_code >= 500:
            return RetryableError(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, exceptions.FirebaseError) and exc.http_response is None:
            return RetryableError(f"transport: {exc}")  # never reached FCM's answer
        return PermanentError(f"{type(exc).__name__}: {exc}")

    def send(self, delivery: Delivery) -> SendResult:
        outcome = self.send_many([delivery])[0]
        if isinstance(outcome, ChannelError):
            raise outcome
        return outcome

    def _send_chunk(self, chunk: list[Delivery]) -> list[SendResult | ChannelError]:
        step = chunk[0].dedupe_key.rsplit("|", 1)[-1]
        collapse = f"sa-{chunk[0].payload['alert_id']}-{step}"[:64]
        message = self._message(chunk[0].payload, [d.address for d in chunk], collapse,
                                chunk[0].ack_url)
        try:
            batch = messaging.send_each_for_multicast(message, app=self.app)
        except (exceptions.FirebaseError, ValueError) as exc:
            return [RetryableError(f"multicast failed: {exc}") for _ in chunk]
        return [self._outcome(response.exception, response) for response in batch.responses]

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult | ChannelError]:
        """Group deliveries with the same payload into multicast calls of ≤ 500 tokens."""
        groups: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            key = json.dumps([delivery.payload, delivery.ack_url,
                              delivery.dedupe_key.rsplit("|", 1)[-1]], sort_keys=True)
            groups.setdefault(key, []).append(delivery)
        chunks = [group[start:start + MAX_TOKENS_PER_CALL] for group in groups.values()
                  for start in range(0, len(group), MAX_TOKENS_PER_CALL)]
        outcomes: dict[int, SendResult | ChannelError] = {}
        with ThreadPoolExecutor(max_workers=min(self.parallel_calls, len(chunks) or 1)) as pool:
            for chunk, results in zip(chunks, pool.map(self._send_chunk, chunks), strict=True):
                for delivery, outcome in zip(chunk, results, strict=True):
                    outcomes[delivery.outbox_id] = outcome
        return [outcomes[d.outbox_id] for d in deliveries]
