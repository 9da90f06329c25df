"""The console channel (embedded default): one log line per notification, payload only."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from notifications.channels import ChannelBase, Delivery, SendResult

log = logging.getLogger("notifications.console")


@dataclass
class ConsoleChannel(ChannelBase):
    """Logs the PHI-free payload at WARNING so it shows on a default console."""

    def __post_init__(self) -> None:
        self.name = "console"

    def send(self, delivery: Delivery) -> SendResult:
        log.warning("ALERT to %s: %s", delivery.recipient,
                    json.dumps(delivery.payload, ensure_ascii=False))
        return SendResult(provider_id=f"console-{delivery.outbox_id}")
