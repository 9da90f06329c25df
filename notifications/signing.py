"""HMAC-SHA256 signatures: webhook bodies, short-lived key-image URLs, acknowledgement links."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

SIGNATURE_HEADER = "X-Strokealert-Signature"


def body_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``body`` under ``secret`` (the webhook header value)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_body(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(body_signature(secret, body), header)


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
