"""E-mail over SMTP (optionally STARTTLS and login); ``Message-ID`` is stable per delivery."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from notifications.channels import (
    ChannelBase,
    Delivery,
    InDoubtError,
    PermanentError,
    RetryableError,
    SendResult,
)
from notifications.payload import ACK_SCHEMA, sms_text, subject_line


class SmtpChannel(ChannelBase):
    def __init__(self, host: str, port: int = 25, sender: str = "strokealert@localhost", *,
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout_s: float = 10.0) -> None:
        self.name = "email"
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.timeout_s = timeout_s

    def _message(self, delivery: Delivery) -> EmailMessage:
        payload = delivery.payload
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = delivery.address
        message["Subject"] = subject_line(payload)
        domain = self.sender.rsplit("@", 1)[-1]
        message["Message-ID"] = f"<{delivery.dedupe_key.replace('|', '.')}@{domain}>"
        lines = [sms_text(payload, delivery.ref, max_chars=4000)]
        if payload["schema"] != ACK_SCHEMA and delivery.ack_url:
            lines.append(f"Acknowledge: {delivery.ack_url}")
        lines.append("Notification-only triage aid; it does not replace the radiologist's read.")
        message.set_content("\n\n".join(lines))
        return message

    def send(self, delivery: Delivery) -> SendResult:
        message = self._message(delivery)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise RetryableError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except TimeoutError as exc:
            raise InDoubtError(f"SMTP timeout: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"SMTP error: {exc}") from exc
        if refused:
            raise PermanentError(f"recipient refused: {refused}")
        return SendResult(provider_id=str(message["Message-ID"]))
