"""Running the web app: a uvicorn server in a thread, as a service component."""

from __future__ import annotations

import threading
import time

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from strokealert.api.app import create_app
from strokealert.config import Settings


class WebComponent:
    """The web/API server on ``settings.http_host:http_port`` (start/stop with the service)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session] | None = None,
                 *, port: int | None = None) -> None:
        self.app = create_app(settings, factory)
        self.config = uvicorn.Config(self.app, host=settings.http_host,
                                     port=port or settings.http_port, log_level="warning",
                                     timeout_graceful_shutdown=2, access_log=False,
                                     # X-Forwarded-For: only from trusted_proxies (client_ip)
                                     proxy_headers=False)
        self.server = uvicorn.Server(self.config)
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"web server did not start on port {self.config.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.app.state.stopping.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
