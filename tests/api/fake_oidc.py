"""A loopback OpenID Provider for the single-sign-on tests: a real HTTP server on 127.0.0.1.

It serves discovery, ``/authorize`` (auto-approves the configured user and redirects back with
``code`` and ``state``), ``/token`` (checks the client secret, the redirect URI and PKCE, and
returns an RS256 ID token signed with joserfc) and ``/jwks``. ``id_token_fault`` makes it issue
a bad ID token the way a broken or hostile provider would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

# Ways the token endpoint can spoil the ID token.
FAULTS = ("tampered", "foreign_key", "expired", "wrong_nonce", "no_nonce", "wrong_audience",
          "wrong_issuer")


@dataclass
class Grant:
    """What /authorize remembers for a code until /token redeems it."""

    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    claims: dict[str, Any]


@dataclass
class FakeOIDCProvider:
    """The provider; ``user`` holds the claims of whoever "signs in" at /authorize."""

    client_id: str = "strokealert"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    user: dict[str, Any] = field(default_factory=dict)
    id_token_fault: str | None = None
    lifetime_s: int = 300
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"}, private=True))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-oidc")

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOIDCProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Auto-approve: redirect back with a one-time code and the client's state."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, b"unknown client or response type"
        if "openid" not in query.get("scope", "").split() or not query.get("redirect_uri"):
            return 400, {}, b"openid scope and redirect_uri are required"
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            return 400, {}, b"only S256 PKCE"
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(query["redirect_uri"], query.get("nonce"),
                                  query.get("code_challenge"), dict(self.user))
        back = {"code": code}
        if "state" in query:
            back["state"] = query["state"]
        return 302, {"Location": query["redirect_uri"] + "?" + urlencode(back)}, b""

    def _client_ok(self, headers: Any, form: dict[str, str]) -> bool:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and hmac.compare_digest(secret, self.client_secret)

    def token(self, headers: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Redeem a code (once) for an access token and an ID token."""
        self.token_requests.append(dict(form))
        if not self._client_ok(headers, form):
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.code_challenge:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                     "expires_in": self.lifetime_s, "id_token": self.id_token(grant)}

    def id_token(self, grant: Grant) -> str:
        """The signed ID token for ``grant``, spoiled as ``id_token_fault`` says."""
        fault = self.id_token_fault
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "http://evil.example" if fault == "wrong_issuer" else self.issuer,
            "aud": "someone-else" if fault == "wrong_audience" else self.client_id,
            "iat": now - (3600 if fault == "expired" else 0),
            "exp": now + (-1800 if fault == "expired" else self.lifetime_s),
            "auth_time": now, **grant.claims,
        }
        if grant.nonce and fault != "no_nonce":
            claims["nonce"] = "replayed-nonce" if fault == "wrong_nonce" else grant.nonce
        key = self.key
        if fault == "foreign_key":  # same key id, another private key
            key = RSAKey.generate_key(2048, parameters={"kid": "fake-1"}, private=True)
        token = jwt.encode({"alg": "RS256", "kid": "fake-1", "typ": "JWT"}, claims, key)
        if fault == "tampered":  # a role escalated in transit; the signature no longer fits
            header, _payload, signature = token.split(".")
            forged = {**claims, "sub": "someone-else", "roles": ["admin"], "groups": ["admin"]}
            payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=")
            token = ".".join((header, payload.decode(), signature))
        return token

    def jwks(self) -> dict[str, Any]:
        return KeySet([self.key]).as_dict(private=False)


def _handler_for(provider: FakeOIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            for name, value in {"Content-Type": content_type, "Cache-Control": "no-store",
                                **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, json.dumps(provider.metadata()).encode())
            elif url.path == "/jwks":
                self._send(200, json.dumps(provider.jwks()).encode())
            elif url.path == "/authorize":
                status, headers, body = provider.authorize(query)
                self._send(status, body, headers, "text/plain")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            if urlsplit(self.path).path != "/token":
                self._send(404, b"{}")
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = provider.token(self.headers, form)
            self._send(status, json.dumps(body).encode())

    return Handler
