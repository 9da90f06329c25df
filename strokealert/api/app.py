"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException as FastAPIHTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from strokealert import NOT_A_MEDICAL_DEVICE, __version__, db
from strokealert.api.metrics import registry_for
from strokealert.api.routers import (
    auth,
    cases,
    health,
    monitoring,
    notifications,
    pages,
    phone,
)
from strokealert.api.security import (
    FIREBASE_CONNECT,
    LoginLimiter,
    SecurityHeaders,
    SessionSigner,
    parse_proxies,
)
from strokealert.config import Settings
from strokealert.quality.measures import case_flags

HERE = Path(__file__).parent
STATIC = HERE / "static"
PUBLIC_ROOT_FILES = {"/manifest.webmanifest": ("manifest.webmanifest",
                                               "application/manifest+json"),
                     "/sw.js": ("sw.js", "text/javascript")}


def _oidc_client(app: FastAPI, settings: Settings) -> object | None:
    """The hospital SSO client (authorization code flow with PKCE), or None when unset; the
    flow's state, nonce and PKCE verifier live in the signed ``sa_oidc`` cookie."""
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    from authlib.integrations.starlette_client import OAuth
    from starlette.middleware.sessions import SessionMiddleware

    app.add_middleware(SessionMiddleware, secret_key=app.state.secret,
                       session_cookie="sa_oidc", https_only=app.state.https, same_site="lax")
    oauth = OAuth()
    oauth.register("hospital", client_id=settings.oidc_client_id,
                   client_secret=settings.oidc_client_secret,
                   server_metadata_url=settings.oidc_issuer.rstrip("/")
                   + "/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid profile email",
                                  "code_challenge_method": "S256"})
    client: object | None = oauth.create_client("hospital")
    return client


def web_push_config(settings: Settings) -> dict[str, object] | None:
    """What the PWA needs to obtain its own FCM token (Firebase web app config and the web push
    VAPID public key), or None unless every part is set. Public identifiers, not secrets."""
    firebase = {"apiKey": settings.fcm_web_api_key, "projectId": settings.fcm_project_id,
                "messagingSenderId": settings.fcm_web_sender_id, "appId": settings.fcm_web_app_id}
    if not all(firebase.values()) or not settings.fcm_vapid_key:
        return None
    return {"firebase": firebase, "vapidKey": settings.fcm_vapid_key}


def web_engine(settings: Settings) -> Engine:
    """The web app's own engine and pool, apart from the alert path's (relay, pipeline), so
    that no page load waits for, or makes an alert wait for, a database connection."""
    return db.make_engine(settings.resolved_database_url, pool_size=settings.web_db_pool_size,
                          max_overflow=settings.web_db_max_overflow, pool_timeout=10)


def create_app(settings: Settings, factory: sessionmaker[Session] | None = None) -> FastAPI:
    """The web app and API; ``factory`` defaults to :func:`web_engine`. Request bodies over
    ``http_max_body_bytes`` get 413 (declared or streamed)."""
    from strokealert.alerting import signing_secret

    app = FastAPI(title="strokealert", version=__version__, description=NOT_A_MEDICAL_DEVICE,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  max_body_size=settings.http_max_body_bytes)
    state = app.state
    state.settings = settings
    state.factory = factory or db.make_session_factory(web_engine(settings))
    state.secret = signing_secret(settings)
    state.https = settings.public_url.startswith("https://")
    state.zone = ZoneInfo(settings.timezone)
    state.signer = SessionSigner(state.secret, settings.session_max_age_s)
    state.limiter = LoginLimiter(state.factory, settings.login_max_failures,
                                 settings.login_max_failures_per_address, settings.login_window_s)
    state.trusted_proxies = parse_proxies(settings.trusted_proxies)
    state.metrics_registry = registry_for(state.factory, settings)
    state.stopping = threading.Event()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    push_config = web_push_config(settings)
    templates.env.globals.update(disclaimer=NOT_A_MEDICAL_DEVICE, version=__version__,
                                 push_config=push_config, case_flags=case_flags,
                                 **monitoring.template_globals(state.factory))
    state.templates = templates
    state.case_feed = cases.case_feed(state)
    state.oidc = _oidc_client(app, settings)
    app.add_middleware(SecurityHeaders, https=state.https,
                       connect_extra=FIREBASE_CONNECT if push_config else ())

    for router in (health.router, auth.router, cases.router, pages.router,
                   notifications.router, phone.router, monitoring.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    for path, (name, media) in PUBLIC_ROOT_FILES.items():
        def _serve(name: str = name, media: str = media) -> Response:
            return FileResponse(STATIC / name, media_type=media,
                                headers={"Service-Worker-Allowed": "/"})
        app.add_api_route(path, _serve, include_in_schema=False, methods=["GET"])

    @app.exception_handler(FastAPIHTTPException)
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        """Pages get a login page (401) or an error page; the API gets JSON."""
        wants_html = ("text/html" in request.headers.get("accept", "")
                      and not request.url.path.startswith("/api/"))
        if wants_html and exc.status_code == 401:
            from strokealert.api.routers.auth import login_page

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return login_page(request, status_code=401, next_url=target)
        if wants_html and exc.status_code in (403, 404, 422):
            return templates.TemplateResponse(request, "error.html",
                                              {"status": exc.status_code, "detail": exc.detail},
                                              status_code=exc.status_code)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    return app
