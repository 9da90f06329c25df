"""HMAC-SHA256 signatures: webhook bodies, short-lived key-image URLs, acknowledgement links."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

SIGNATURE_HEADER = "X-Strokealert-Signature"
REPLAY_WINDOW_S = 300
"""Default tolerance (seconds) between a webhook's signed timestamp and the receiver's clock."""


def body_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The webhook header value ``t=<timestamp>,v1=<hex>``: ``timestamp`` in Unix seconds,
    ``v1`` the HMAC-SHA256 under ``secret`` of ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_body(secret: str, body: bytes, header: str | None, now: float,
                tolerance_s: float = REPLAY_WINDOW_S) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` with a timestamp at most
    ``tolerance_s`` seconds from ``now`` (Unix seconds) in either direction (replays of
    older captures and far-future timestamps are refused)."""
    if header is None:
        return False
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = body_signature(secret, body, int(timestamp))
    return hmac.compare_digest(expected, f"t={timestamp},v1={signature}")


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_url(base_url: str, path: str, secret: str, expires_at: int, **params: str) -> str:
    """``base_url + path`` with ``exp`` (Unix seconds) and ``sig`` over path, params and expiry."""
    query = dict(sorted({**params, "exp": str(expires_at)}.items()))
    sig = _mac(secret, path + "?" + urlencode(query))
    return f"{base_url.rstrip('/')}{path}?{urlencode({**query, 'sig': sig})}"


def verify_signed(path: str, query: dict[str, str], secret: str, now: int) -> bool:
    """True when ``query`` carries a valid, unexpired signature for ``path``."""
    params = {k: v for k, v in query.items() if k != "sig"}
    if "exp" not in params or "sig" not in query:
        return False
    try:
        if int(params["exp"]) < now:
            return False
    except ValueError:
        return False
    expected = _mac(secret, path + "?" + urlencode(dict(sorted(params.items()))))
    return hmac.compare_digest(expected, query["sig"])
