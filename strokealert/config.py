"""Settings: ``STROKEALERT_*`` environment variables, an optional TOML file, embedded defaults."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "STROKEALERT_CONFIG"


class Settings(BaseSettings):
    """Every setting of the service; names map to ``STROKEALERT_<NAME>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="STROKEALERT_", extra="ignore",
                                      env_nested_delimiter="__")

    # --- storage ---
    data_dir: Path = Path("./var")
    database_url: str | None = None
    retention_days: float = Field(30.0, description="received images older than this are purged")

    # --- DICOM receiver ---
    dicom_host: str = "0.0.0.0"
    dicom_port: int = 11112
    dicom_ae_title: str = "STROKEALERT"
    dicom_allowed_aets: list[str] = Field(
        default_factory=list, description="calling AE titles accepted; empty = any (demo)"
    )
    dicom_duplicate_policy: Literal["discard", "overwrite"] = "discard"
    dicom_max_pdu: int = Field(
        262144, ge=4096, le=16 * 1024 * 1024,
        description="largest PDU accepted (bytes), as negotiated; longer ones are aborted")
    dicom_acse_timeout_s: float = Field(
        15.0, gt=0, description="seconds a connection (TLS handshake included) has to send "
                                "its whole A-ASSOCIATE-RQ")
    dicom_network_timeout_s: float = Field(
        60.0, gt=0, description="seconds a PDU may take to arrive, and an association may idle")
    dicom_dimse_timeout_s: float = Field(
        60.0, gt=0, description="seconds to wait for the rest of a DIMSE message")
    dicom_max_associations: int = Field(
        64, ge=1, description="established associations at once, all calling AEs together")
    dicom_max_associations_per_aet: int = Field(
        32, ge=1, description="established associations at once from one calling AE title")
    dicom_max_pending_connections: int = Field(
        128, ge=1, description="connections not yet associated; when full, the oldest one of "
                               "the address holding most is dropped for a newcomer")
    dicom_max_object_mib: int = Field(
        1024, ge=1, description="largest dataset one C-STORE may carry (MiB); the association "
                                "of a peer sending more is aborted")
    dicom_max_pending_per_address: int = Field(
        16, ge=1, description="connections not yet associated from one IP address; its oldest "
                              "is dropped for its newcomer")
    dicom_tls_cert: Path | None = None
    dicom_tls_key: Path | None = None
    dicom_tls_ca: Path | None = None
    series_quiet_s: float = 5.0
    study_quiet_s: float = 15.0
    retention_interval_s: float = Field(3600.0, description="seconds between retention purges")
    reconcile_interval_s: float = Field(
        3600.0, description="seconds between full reconciliations of the index with the store")

    # --- HL7 v2 feeds (MLLP) ---
    hl7_enabled: bool = Field(False, description="open the HL7 v2 MLLP listener; also on when "
                              "STROKEALERT_HL7_PORT (or hl7_port in the TOML file) is set")
    hl7_host: str = "0.0.0.0"
    hl7_port: int = Field(2575, description="HL7 v2 MLLP listener port")
    hl7_allowed_senders: list[str] = Field(
        default_factory=list, description="sending applications (MSH-3) accepted; others get "
                                          "AR; empty = any")
    hl7_max_message_kib: int = Field(
        1024, ge=1, description="largest MLLP frame (KiB); a longer one closes the connection")
    hl7_read_timeout_s: float = Field(
        60.0, gt=0, description="seconds a connection may idle or take to finish a frame")
    hl7_max_connections: int = Field(32, ge=1, description="MLLP connections open at once")
    hl7_code_stroke_reasons: list[str] = Field(
        default_factory=lambda: ["CODE STROKE", "STROKE ALERT"],
        description="admit reasons (PV2-3 code or text) that open a case on ED arrival")
    hl7_retention_days: float = Field(
        30.0, gt=0, description="stored HL7 messages (raw text, PHI) received longer ago are "
                                "deleted every retention_interval_s; their timeline values stay")

    # --- web / API ---
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    public_url: str = "http://localhost:8000"
    secret_key: str = Field("", description="signing key for sessions and URLs; required when "
                            "the web app listens beyond loopback, else random if unset")
    site_name: str = "Main campus CT"
    timezone: str = "UTC"
    session_max_age_s: int = Field(43200, description="web login lifetime (seconds)")
    login_max_failures: int = Field(5, description="failed logins per user/address per window")
    login_window_s: float = Field(300.0, description="login rate-limit window (seconds)")
    http_max_body_bytes: int = Field(1 << 20, description="largest request body (bytes); 413")
    web_max_streams_per_user: int = Field(8, description="open live worklist streams per user")
    web_stream_poll_s: float = Field(
        5.0, description="live worklist re-read interval without a wake-up (seconds)")
    web_stream_max_s: float = Field(
        300.0, description="a live worklist stream ends (the browser reconnects and logs in "
                           "again) after this long (seconds)")
    web_db_pool_size: int = Field(10, description="database connections of the web app")
    web_db_max_overflow: int = Field(10, description="extra web connections under a burst")
    login_max_failures_per_address: int = Field(
        20, description="failed logins per client address (any username) per window")
    trusted_proxies: str = Field(
        "", description="comma-separated proxy addresses/networks whose X-Forwarded-For is "
                        "believed; none by default")
    session_idle_s: int = Field(3600, description="web login ends after this idle time (seconds)")
    token_default_days: int = Field(30, description="bearer token lifetime when none is asked")
    token_max_days: int = Field(365, description="longest bearer token lifetime (days)")
    oidc_issuer: str | None = Field(None, description="hospital SSO issuer URL; enables OIDC")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_role_claim: str = Field("roles", description="ID-token claim holding the role")
    oidc_default_role: str | None = Field(
        None, description="role for SSO users not created beforehand; unset = refuse them")
    oidc_link_verified_email: bool = Field(
        False, description="link an SSO login to an unlinked SSO-only account named by its "
                           "email when the provider says the email is verified")

    # --- pipeline ---
    executor: Literal["local", "celery"] = "local"
    broker_url: str | None = None
    workers: int = Field(2, description="analysis processes of the local executor")
    job_lease_s: float = Field(600.0, description="a running job not finished by then is retried")
    job_max_attempts: int = 3
    incomplete_wait_s: float = Field(
        90.0, ge=0, description="seconds a series that lacks images waits for them before it is "
                                "analysed anyway (then for manual review, naming what is missing)")
    rule_lvo_critical: bool = True
    rule_defuse3_critical: bool = True
    rule_large_core_ml: float = Field(70.0, description="core at or above this → warning")
    rule_aspects_min: int = Field(
        6, ge=0, le=10, description="LVO without CT perfusion: NCCT ASPECTS at or above this "
                                    "meets the late-window thrombectomy criterion, below → warning")
    perfusion: dict[str, Any] = Field(
        default_factory=dict, description="perfusion.PerfusionConfig fields: a [perfusion] "
        "table in the TOML file, or STROKEALERT_PERFUSION__<FIELD>; checked at start")

    # --- post-deployment monitoring ---
    monitoring: dict[str, Any] = Field(
        default_factory=dict, description="strokealert.monitoring.settings.MonitoringConfig "
        "fields: a [monitoring] table (and [monitoring.oru]) in the TOML file, or "
        "STROKEALERT_MONITORING__<FIELD>; checked at start")

    # --- results to PACS ---
    pacs_enabled: bool = Field(False, description="C-STORE the SC, SEG and SR to the PACS")
    pacs_host: str = "127.0.0.1"
    pacs_port: int = 104
    pacs_ae_title: str = Field("PACS", description="called AE title of the destination")
    pacs_attempts: int = Field(3, description="tries per result object before giving up")
    pacs_retry_wait_s: float = Field(2.0, description="pause between attempts (doubles)")
    pacs_timeout_s: float = Field(30.0, description="association/network timeout")

    # --- notifications ---
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_allow_unsigned: bool = Field(
        False, description="send webhooks without a secret, unsigned (loud warning); "
        "otherwise a webhook URL without a secret refuses to start")
    webhook_schema: Literal[1, 2] = Field(
        1, description="alert payload version the webhook receiver expects: 1 "
        "(strokealert.alert/1) or 2 (adds image_url, a signed short-lived key-image link)")
    notify_console: bool = Field(True, description="log every alert (the embedded channel)")
    escalation_policy: str = Field("stroke", description="policy that pages for new alerts")
    ich_policy: str | None = Field(
        None, description="policy that pages for an alert whose finding is a haemorrhage on "
                          "the NCCT (e.g. stroke team + neurosurgery); unset = escalation_policy")
    scheduler_mode: Literal["embedded", "dedicated"] = Field(
        "embedded", description="dedicated: `strokealert scheduler` runs escalations instead")
    scheduler_interval_s: float = Field(5.0, description="escalation engine wake-up period")
    notify_timeout_s: float = Field(10.0, description="provider HTTP/SMTP timeout")
    notify_max_attempts: int = Field(10, description="tries per notification before failed")
    media_url_ttl_s: int = Field(1800, description="lifetime of signed key-image links (s)")
    mms_enabled: bool = Field(True, description="send MMS with key images where a person has "
                              "an mms contact; off: a plain SMS carrying the signed image link")
    fcm_credentials_file: Path | None = Field(None, description="service-account JSON")
    fcm_project_id: str | None = None
    fcm_endpoint: str | None = Field(None, description="replaces https://fcm.googleapis.com")
    fcm_ttl_s: int = 3600
    # The PWA's own push registration (Firebase web app; public identifiers, not secrets).
    fcm_web_api_key: str | None = Field(None, description="Firebase web app apiKey")
    fcm_web_app_id: str | None = Field(None, description="Firebase web app appId")
    fcm_web_sender_id: str | None = Field(None, description="Firebase messagingSenderId")
    fcm_vapid_key: str | None = Field(None, description="web push certificate public key")
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str | None = Field(None, description="replaces https://api.twilio.com")
    voice_enabled: bool = Field(True, description="place Twilio voice calls for 'voice' rules "
                                "(off: those rules go to the console)")
    voice_call_attempts: int = Field(3, description="calls per page while unanswered / busy")
    voice_retry_s: float = Field(60.0, description="seconds before calling an unanswered "
                                 "page again")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "strokealert@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    @property
    def resolved_ich_policy(self) -> str:
        """The policy that pages for a haemorrhage: ``ich_policy``, else ``escalation_policy``."""
        return self.ich_policy or self.escalation_policy

    def missing_secrets(self) -> list[str]:
        """Why a service with these settings must not start (empty when it may): a web app
        reachable beyond loopback needs ``secret_key``; a webhook needs ``webhook_secret``
        unless ``webhook_allow_unsigned`` says otherwise."""
        problems = []
        if not self.secret_key and not _is_loopback(self.http_host):
            problems.append(f"STROKEALERT_SECRET_KEY is required when the web app listens on "
                            f"{self.http_host} (beyond loopback)")
        if self.webhook_url and not self.webhook_secret and not self.webhook_allow_unsigned:
            problems.append("STROKEALERT_WEBHOOK_URL is set without STROKEALERT_WEBHOOK_SECRET "
                            "(set one, or STROKEALERT_WEBHOOK_ALLOW_UNSIGNED=true to send "
                            "unsigned)")
        return problems

    @property
    def hl7_listening(self) -> bool:
        """True when the MLLP listener opens: ``hl7_enabled``, or a port set explicitly."""
        return self.hl7_enabled or "hl7_port" in self.model_fields_set

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: the configured one, else SQLite inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'strokealert.sqlite3').resolve()}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def output_dir(self) -> Path:
        return self.data_dir / "outputs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, then ``config_file`` (TOML), then the defaults."""
    if config_file is not None:
        if not Path(config_file).is_file():
            raise FileNotFoundError(f"config file not found: {config_file}")
        os.environ[CONFIG_FILE_ENV] = str(config_file)
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached)."""
    return load_settings()
