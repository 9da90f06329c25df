"""The service refuses to start a webhook that would POST alerts unsigned (settings check)."""

from __future__ import annotations

from pathlib import Path

from strokealert.config import Settings


def test_settings_refuse_a_webhook_without_secret_unless_allowed(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/hooks"
    base = {"data_dir": tmp_path, "http_host": "127.0.0.1", "webhook_url": url}
    problems = Settings(**base).missing_secrets()
    assert len(problems) == 1 and "STROKEALERT_WEBHOOK_SECRET" in problems[0]
    assert Settings(**base, webhook_secret="s").missing_secrets() == []
    assert Settings(**base, webhook_allow_unsigned=True).missing_secrets() == []
