"""Loopback fakes of the providers' HTTP APIs, for tests that drive the real SDKs.

* :class:`FakeFcm` — Google's OAuth token endpoint and FCM HTTP v1 ``messages:send``; keeps every
  request, and a per-phone view (a phone shows one notification per ``tag``).
* :class:`FakeTwilio` — Twilio REST ``Messages.json`` create (form) and list (with ``To``/``From``
  filters) and ``Calls.json`` create (Programmable Voice, inline TwiML), basic-auth checked.
* :class:`FakeWebhook` — a JSON receiver that keeps bodies and headers.
* :class:`FakeSmtp` — a minimal SMTP server keeping each message.

Each fake takes scripted faults (``fail(...)``): HTTP statuses, or ``"hang"`` (answer after the
client's timeout, dropping the request) or ``"accept_then_hang"`` (process it, then hang).
"""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from requests.structures import CaseInsensitiveDict


@dataclass
class Recorded:
    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


class _HttpFake:
    """A threaded loopback HTTP server with request recording and a fault script."""

    hang_s = 3.0
    response_ms = 0.0
    """Milliseconds before each answer: a provider's round trip over the internet (benchmarks)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # headers and body are two writes: no Nagle delay between
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path,
                                  CaseInsensitiveDict(self.headers.items()), body)
                status, headers, payload = fake.dispatch(record)
                if fake.response_ms:
                    time.sleep(fake.response_ms / 1000.0)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _handle  # noqa: N815 (http.server API)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, *faults: str) -> None:
        """Queue faults for the next requests: ``"500"``, ``"429"``, ``"hang"``, ..."""
        with self.lock:
            self.faults.extend(faults)

    def _next_fault(self, record: Recorded) -> str | None:
        with self.lock:
            self.requests.append(record)
            return self.faults.pop(0) if self.faults else None

    def dispatch(self, record: Recorded) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _fcm_error(status: int, grpc: str, code: str | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc}
    if code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                             "errorCode": code}]
    return {"error": error}


class FakeFcm(_HttpFake):
    """OAuth2 token endpoint (``/token``) + FCM v1 (``/v1/projects/<id>/messages:send``)."""

    access_token = "fake-access-token"

    def __init__(self) -> None:
        super().__init__()
        self.unregistered: set[str] = set()
        # (token, android tag) arrivals: a phone shows one notification per tag, however many
        self.shown: Counter[tuple[str, str]] = Counter()
        self.sent: list[dict[str, Any]] = []  # accepted messages, in order
        self.token_requests = 0
        self.token_faults: dict[str, list[str]] = {}

    def fail_token(self, token: str, *faults: str) -> None:
        """Queue faults for the next requests to ``token`` only."""
        with self.lock:
            self.token_faults.setdefault(token, []).extend(faults)

    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/messages:send")]

    def dispatch(self, record: Recorded) -> tuple[int, dict[str, str], Any]:
        if record.path == "/token":
            with self.lock:
                self.token_requests += 1
            form = record.form()
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            return 200, {"Content-Type": "application/json"}, {
                "access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"}
        fault = self._next_fault(record)
        if record.headers.get("Authorization") != f"Bearer {self.access_token}":
            return 401, {}, _fcm_error(401, "UNAUTHENTICATED", None, "bad token")
        message = record.json()["message"]
        token = message["token"]
        with self.lock:
            queued = self.token_faults.get(token)
            if fault is None and queued:
                fault = queued.pop(0)
        if fault == "hang":
            time.sleep(self.hang_s)
            return 503, {}, _fcm_error(503, "UNAVAILABLE", None, "late")
        if fault == "429":
            return 429, {"Content-Type": "application/json"}, _fcm_error(
                429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "quota exceeded")
        if fault is not None and fault.isdigit():
            return int(fault), {"Content-Type": "application/json"}, _fcm_error(
                int(fault), "INTERNAL", "INTERNAL", "boom")
        if token in self.unregistered:
            return 404, {"Content-Type": "application/json"}, _fcm_error(
                404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
        project = record.path.split("/")[3]
        with self.lock:
            self.sent.append(message)
            tag = message.get("android", {}).get("notification", {}).get("tag", "")
            self.shown[(token, tag)] += 1
            name = f"projects/{project}/messages/{len(self.sent)}"
        return 200, {"Content-Type": "application/json"}, {"name": name}

    def service_account(self, path: Path, project_id: str = "stroke-test",
                        pem: str | None = None) -> Path:
        """Write a service-account JSON (RSA key ``pem``, else a fresh one) whose
        ``token_uri`` is this fake."""
        if pem is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        path.write_text(json.dumps({
            "type": "service_account", "project_id": project_id,
            "private_key_id": uuid.uuid4().hex, "private_key": pem,
            "client_email": f"alerts@{project_id}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{self.url}/token",
        }))
        return path


class FakeTwilio(_HttpFake):
    """``/2010-04-01/Accounts/<sid>/Messages.json``: POST creates, GET lists (To/From);
    ``Calls.json``: POST places a call (kept in :attr:`calls` with its form, TwiML included)."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "twilio-token"):
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []

    def creates(self) -> list[Recorded]:
        """Message creations (SMS / MMS), in order."""
        return [r for r in self.requests if r.method == "POST" and "/Messages" in r.path]

    def call_creates(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and "/Calls" in r.path]

    def _call(self, form: dict[str, list[str]]) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = "CA" + uuid.uuid4().hex
        return {"sid": sid, "account_sid": self.account_sid, "to": form["To"][0],
                "from": form["From"][0], "status": "queued", "direction": "outbound-api",
                "api_version": "2010-04-01", "date_created": now, "date_updated": now,
                "start_time": None, "end_time": None, "duration": None, "price": None,
                "twiml": form.get("Twiml", [""])[0], "form": form,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
                "subresource_uris": {}}

    def _resource(self, form: dict[str, list[str]]) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = "SM" + uuid.uuid4().hex
        return {"sid": sid, "account_sid": self.account_sid, "to": form["To"][0],
                "from": form["From"][0], "body": form["Body"][0], "status": "queued",
                "num_media": str(len(form.get("MediaUrl", []))), "num_segments": "1",
                "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": now, "date_updated": now, "date_sent": now,
                "price": None, "error_code": None, "error_message": None,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
                "subresource_uris": {}}

    def dispatch(self, record: Recorded) -> tuple[int, dict[str, str], Any]:
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()).decode()
        json_type = {"Content-Type": "application/json"}
        if record.headers.get("Authorization") != expected:
            return 401, json_type, {"code": 20003, "message": "Authenticate", "status": 401}
        path = urlparse(record.path)
        if path.path == f"/2010-04-01/Accounts/{self.account_sid}/Calls.json" \
                and record.method == "POST":
            fault = self._next_fault(record)
            if fault is not None and fault.isdigit():
                return int(fault), json_type, {"code": 20500, "message": "provider trouble",
                                               "status": int(fault)}
            call = self._call(record.form())
            with self.lock:
                self.calls.append(call)
            return 201, json_type, call
        if path.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, json_type, {"code": 20404, "message": "not found", "status": 404}
        if record.method == "GET":
            query = parse_qs(path.query)
            with self.lock:
                found = [m for m in self.messages
                         if m["to"] == query.get("To", [m["to"]])[0]
                         and m["from"] == query.get("From", [m["from"]])[0]]
            return 200, json_type, {
                "messages": found, "end": max(0, len(found) - 1), "first_page_uri": path.path,
                "next_page_uri": None, "page": 0, "page_size": 50, "previous_page_uri": None,
                "start": 0, "uri": path.path}
        fault = self._next_fault(record)
        if fault == "hang":
            time.sleep(self.hang_s)
            return 503, json_type, {"code": 20500, "message": "late", "status": 503}
        if fault is not None and fault.isdigit():
            return int(fault), json_type, {"code": 20429 if fault == "429" else 20500,
                                           "message": "provider trouble",
                                           "status": int(fault)}
        resource = self._resource(record.form())
        with self.lock:
            self.messages.append(resource)
        if fault == "accept_then_hang":
            time.sleep(self.hang_s)
        return 201, json_type, resource


class FakeWebhook(_HttpFake):
    """Keeps every POST; answers scripted faults, else 200."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[Recorded] = []

    def dispatch(self, record: Recorded) -> tuple[int, dict[str, str], Any]:
        fault = self._next_fault(record)
        if fault == "hang":
            time.sleep(self.hang_s)
        if fault is not None and fault.isdigit():
            return int(fault), {"Retry-After": "1"} if fault == "429" else {}, b""
        with self.lock:
            self.accepted.append(record)
        return 200, {"X-Request-Id": uuid.uuid4().hex}, b"{}"

    def deliveries(self) -> Counter[str]:
        """How many times each ``Idempotency-Key`` was accepted (answered 200)."""
        return Counter(r.headers["Idempotency-Key"] for r in self.accepted)


class FakeSmtp:
    """Just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, QUIT) to accept and keep messages."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.raw: list[bytes] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 fake-smtp ready")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 fake-smtp")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        fake.raw.append(data)
                        fake.messages.append(message_from_bytes(data))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
