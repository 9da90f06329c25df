"""How the library tells its host's workers there is work: a :class:`Waker` it is given.

The engine calls :meth:`Waker.notify` inside the transaction that wrote the work (outbox rows,
an escalation started or stopped); the host delivers the wake-up once that transaction commits
(e.g. PostgreSQL ``pg_notify``) to whatever it subscribed on the channel (``Relay.wake``, the
scheduler). Without a waker, workers find the work on their fallback poll.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

OUTBOX_CHANNEL = "notifications_outbox"
"""Outbox rows were written (alert, acknowledgement, escalation step): wake the relay."""
ESCALATION_CHANNEL = "notifications_escalation"
"""An escalation started, moved or stopped: the scheduler re-reads the next due time."""


class Waker(Protocol):
    def notify(self, session: Session, channel: str) -> None:
        """Wake ``channel``'s listeners once ``session``'s transaction commits."""
        ...
