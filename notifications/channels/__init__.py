"""Channels behind one interface: each sends one :class:`Delivery` and reports the provider id.

A channel raises :class:`RetryableError` (timeouts before the request left, 429, 5xx, quota),
:class:`InDoubtError` (the provider may have accepted it: reconcile before resending) or
:class:`PermanentError` (bad address, unregistered token). ``reconcile`` asks the provider
whether an in-doubt delivery was accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivery:
    """What the relay hands a channel: one outbox row, already rendered."""

    outbox_id: int
    dedupe_key: str
    channel: str
    recipient: str
    address: str
    payload: dict[str, Any]
    ref: str
    media_urls: tuple[str, ...] = ()
    ack_url: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_id: str


class ChannelError(Exception):
    """A send that did not succeed."""


class RetryableError(ChannelError):
    """Try again later (``retry_after_s`` if the provider said so)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InDoubtError(ChannelError):
    """The request may have reached the provider (e.g. a read timeout)."""


class PermanentError(ChannelError):
    """Never going to work for this address; ``deactivate_token`` for dead FCM tokens."""

    def __init__(self, message: str, deactivate_token: bool = False) -> None:
        super().__init__(message)
        self.deactivate_token = deactivate_token


class Channel(Protocol):
    name: str

    def send(self, delivery: Delivery) -> SendResult:
        """Send one delivery; raises a :class:`ChannelError` subclass on failure."""
        ...

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult | ChannelError]:
        """Send several (batched where the provider allows); one outcome per delivery."""
        ...

    def reconcile(self, delivery: Delivery) -> str | None:
        """The provider id if the provider already accepted ``delivery``, else None."""
        ...


@dataclass
class ChannelBase:
    """Default ``send_many`` (one by one) and ``reconcile`` (nothing to ask)."""

    name: str = field(default="", init=False)

    def send(self, delivery: Delivery) -> SendResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult | ChannelError]:
        outcomes: list[SendResult | ChannelError] = []
        for delivery in deliveries:
            try:
                outcomes.append(self.send(delivery))
            except ChannelError as exc:
                outcomes.append(exc)
        return outcomes

    def reconcile(self, delivery: Delivery) -> str | None:
        return None
