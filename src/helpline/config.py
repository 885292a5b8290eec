"""Settings, read once from `HELPLINE_*` environment variables."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from helpline.kit.enums import Role
from helpline.kit.placeholders import DEFAULT_GREETING
from helpline.kit.private import create_private_file, make_private_dir

ROLES = ("customer", "agent", "supervisor", "admin")
PASSWORD_LOGIN_ROLES: dict[str, tuple[str, ...]] = {
    "on": ROLES,
    "customers": ("customer",),
    "off": (),
}


def parse_role_map(raw: str) -> dict[str, str]:
    """`group=role,group=role` as a dict; ValueError on a pair that is not one, or an unknown
    role."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",")):
        if not pair:
            continue
        group, sep, role = (x.strip() for x in pair.rpartition("="))
        if not sep or not group or role not in ROLES:
            raise ValueError(
                f"HELPLINE_OIDC_ROLE_MAP: {pair!r} is not group=role with role one of "
                + ", ".join(ROLES)
            )
        out[group] = role
    return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPLINE_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    # Connections each process keeps, how many more it may open under load, and how long a
    # unit of work waits for one before it answers 503 (docs/operations.md).
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)
    database_pool_timeout_s: float = Field(default=10, gt=0)
    redis_url: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    # The locale when neither the address, the cookie, the user nor the browser names one we
    # have (CONTRACT-2 "Languages"); the pseudo-locale `qps` is offered only when on (tests).
    default_locale: str = "en"
    pseudo_locale: bool = False
    port: int = 8000
    public_url: str | None = None
    max_upload_mb: float = 25
    # Uploaded files: under DATA_DIR/files unless this is s3://BUCKET/PREFIX (an S3-compatible
    # store; the bucket must exist). The same on every process (docs/operations.md).
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    # Memory one upload holds at most before its next part goes to the store (S3: >= 5).
    s3_part_mb: float = Field(default=8, ge=5, le=512)
    allowed_file_types: str = (
        "png,jpg,jpeg,gif,webp,pdf,txt,log,csv,json,xml,md,rtf,zip,gz,7z,"
        "doc,docx,xls,xlsx,ppt,pptx,odt,ods,odp,eml,msg,mp4,mov,mp3,wav,heic"
    )
    rate_limits: str = "on"
    # Failed sign-ins only (CONTRACT-2 "Login limits"): per account and address, per address.
    rate_limit_login_failures: str = "10/minute"
    rate_limit_login_address_failures: str = "100/minute"
    rate_limit_guest: str = "30/minute"
    # Password-reset requests (each may send a mail): per e-mail address and per client address.
    rate_limit_password_reset: str = "5/hour"  # noqa: S105 - a rate, not a password
    rate_limit_password_reset_address: str = "30/hour"  # noqa: S105
    rate_limit_chat_start: str = "10/minute"
    rate_limit_messages: str = "10/second"
    rate_limit_uploads: str = "30/minute"
    # Raising service requests (each mails the customer): per person raising and per customer
    # e-mail address, and per client address for customers' own (offices and mobile carriers
    # put many people behind one address).
    rate_limit_requests: str = "30/hour"
    rate_limit_requests_address: str = "120/hour"
    # WebSocket commands per user (across their connections): relayed typing, and subscribe
    # plus unsubscribe (each subscribe replays from the database).
    rate_limit_typing: str = "5/second"
    rate_limit_subscribe: str = "30 per 10 seconds"
    # Roles that must turn on two-factor sign-in before they may do anything else
    # (comma-separated, e.g. "admin,supervisor"; empty: nobody has to).
    require_totp: str = ""
    # Sessions end this long after their last use, and this long after sign-in at the latest.
    session_idle_s: float = Field(default=86400, gt=0)
    session_max_s: float = Field(default=2592000, gt=0)
    greeting: str = DEFAULT_GREETING  # translated into the customer's language; yours is not
    default_queue: str | None = None
    offline_grace_s: float = 60
    # An agent going offline hands their chats in progress back to the queue (CONTRACT-2).
    requeue_on_offline: str = "on"

    @field_validator("requeue_on_offline")
    @classmethod
    def _requeue_on_offline(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in {"on", "off"}:
            raise ValueError("HELPLINE_REQUEUE_ON_OFFLINE must be 'on' or 'off'")
        return v

    @property
    def requeue_enabled(self) -> bool:
        return self.requeue_on_offline == "on"

    inactivity_warn_s: float = 300
    # Replies while away (CONTRACT-2): an agent's message unread by a customer with no open
    # connection for this long is mailed to them (at most once per chat per 15 min). 0: never.
    away_mail_s: float = Field(default=120, ge=0)
    inactivity_expire_s: float = 120
    outbox_retry_s: float = 5
    # E-mails delivered to one address in any hour; more are dropped (decision 009). 0: no cap.
    mail_per_recipient_hour: int = Field(default=30, ge=0)
    smtp_url: str | None = None
    mail_from: str = "Helpline <helpline@localhost>"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Webhook endpoints on loopback or private addresses (an on-premises CRM); off by default
    # so an admin-given URL cannot reach internal services (docs/operations.md "Webhooks").
    webhook_allow_private: str = "off"

    @field_validator("webhook_allow_private")
    @classmethod
    def _webhook_allow_private(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in {"on", "off"}:
            raise ValueError("HELPLINE_WEBHOOK_ALLOW_PRIVATE must be 'on' or 'off'")
        return v

    @property
    def webhook_private_allowed(self) -> bool:
        return self.webhook_allow_private == "on"

    widget_origins: str = ""
    # Widget identity verification: sites sign their user ids with it (HMAC-SHA256, hex); unset,
    # every widget visitor is a guest and POST /auth/widget answers 401 invalid_identity.
    widget_secret: str | None = None
    sweep_interval_s: float = 1.0
    # SQLite: how often the message writer adds new messages and notes to the search index
    # (decision 029; a search indexes what is left itself first); 0 leaves it all to searches.
    search_index_interval_s: float = Field(default=0.1, ge=0)
    # SQLite: the write-ahead log is started over once it holds this many MB (decision 035):
    # each restart holds the writer for a few ms, a longer log makes every read search more.
    sqlite_wal_restart_mb: int = Field(default=256, ge=1, le=4096)
    # How long the message writer waits after a message arrives for others to join its batch
    # (one transaction, one commit for all of them); 0 writes each batch at once. Under 0.5 ms,
    # uvloop makes it one more turn of the loop: what reached the sockets meanwhile joins.
    message_batch_wait_ms: float = Field(default=0.2, ge=0, le=50)
    # Data governance (docs/operations.md "Retention"): closed chats and requests are removed
    # this many days after closing; unset keeps everything. A queue's retention_days overrides.
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    # How often retention runs (one process at a time), and how many chats or requests one
    # transaction removes: small, so no run holds the database for long.
    retention_interval_s: float = Field(default=3600, gt=0)
    retention_batch: int = Field(default=100, ge=1, le=10000)
    # How often each process compares its subscriptions with the database (lost bus news).
    gap_check_s: float = 2.0
    ws_send_queue: int = Field(default=2048, ge=16)
    # Garbage collection (helpline.gcpolicy): freeze what survives each full collection, so the
    # next one walks only what is new (no pause that grows with the connections held); thaw
    # everything this often so cycles among long-lived objects are freed (0 = never).
    gc_freeze_survivors: bool = True
    gc_thaw_s: float = Field(default=3600, ge=0)
    # A full collection once more than this many collections of generation 1 (CPython: 10):
    # 2 makes them smaller and more frequent, for bursts of connections, at a cost to message
    # latency under steady load (decision 036). 0 = CPython's own threshold.
    gc_full_every: int = Field(default=0, ge=0, le=100)
    # While WebSocket connections open faster than this (a second's count), full collections
    # come every 3rd collection of generation 1: smaller pauses while they arrive; the steady
    # threshold 3 s after (decision 039). 0 = never.
    gc_arrivals_per_s: float = Field(default=50, ge=0)
    # A young collection whenever the young generation's list holds more than this many
    # objects (checked every 100 ms), however low CPython's count of it is: frozen objects
    # dying count it down (helpline.gcpolicy). 0 = CPython's count alone.
    gc_young_limit: int = Field(default=2000, ge=0)
    # How long another thread holding the GIL may keep it from the event loop's thread, and the
    # loop from a database thread whose result is ready (Python's default 5 ms; 0 = leave it).
    gil_switch_ms: float = Field(default=5, ge=0, le=100)
    ws_ping_s: float = 20
    # GET /metrics: a bearer token when set; else open only on a loopback PUBLIC_URL or with
    # METRICS_OPEN (docs/decisions/007-metrics-access.md).
    metrics_token: str | None = None
    metrics_open: bool = False
    # A request head (a WebSocket handshake too) must be complete this long after the
    # connection opens or the request begins, else the connection is closed (slowloris).
    header_timeout_s: float = Field(default=10, gt=0)
    # Idle keep-alive HTTP connections are closed after this (uvicorn's timeout_keep_alive).
    keep_alive_s: float = Field(default=5, gt=0)
    # `helpline serve`'s event loop: uvloop (a locked dependency), or the standard library's.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Open WebSockets per user and process; one more handshake is refused (close 4429).
    ws_max_per_user: int = Field(default=20, ge=1)
    # WebSocket handshakes authenticated at once per process; the others wait their turn, so
    # a reconnection storm is not a hundred database reads (and threads) at once. 0: no limit.
    ws_open_concurrency: int = Field(default=8, ge=0)
    log_level: str = "INFO"
    log_json: bool = True
    # Lower argon2 cost is for tests and benchmarks only; production keeps the library default.
    password_fast_hash: bool = False
    # Password hashing pool (helpline.accounts.passwords): hashes at once (0 = one per core)
    # and sign-ins that may wait for one (0 = 32 per worker); one more answers 503 busy.
    password_hash_workers: int = Field(default=0, ge=0, le=64)
    password_hash_queue: int = Field(default=0, ge=0, le=100_000)
    # How the hashing threads yield to the event loop: only on idle CPU (Linux SCHED_IDLE), or
    # at a lower nice value where the cores never idle (decision 055).
    password_hash_priority: Literal["idle", "low"] = "idle"  # noqa: S105 - not a secret
    # Who may sign in with a password: everyone, customers only (staff use single sign-on), or
    # nobody (docs/operations.md "Connect an identity provider").
    password_login: Literal["on", "customers", "off"] = "on"  # noqa: S105 - a policy
    # Single sign-on with an OpenID provider: on when ISSUER, CLIENT_ID and CLIENT_SECRET are set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_name: str = "single sign-on"
    oidc_scopes: str = "openid profile email groups"
    # The claim holding the person's groups, and which group gives which role
    # ("helpdesk-admins=admin,helpdesk-agents=agent"); no mapped group means customer.
    oidc_role_claim: str = "groups"
    oidc_role_map: str = ""

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in {"on", "off"}:
            raise ValueError("HELPLINE_RATE_LIMITS must be 'on' or 'off'")
        return v

    @field_validator("password_login", mode="before")
    @classmethod
    def _password_login(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("oidc_role_map")
    @classmethod
    def _oidc_role_map(cls, v: str) -> str:
        parse_role_map(v)  # refuse a map naming no known role at start-up, not at sign-in
        return v

    @model_validator(mode="after")
    def _oidc_all_or_nothing(self) -> Settings:
        parts = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        if any(parts) and not all(parts):
            raise ValueError(
                "HELPLINE_OIDC_ISSUER, HELPLINE_OIDC_CLIENT_ID and HELPLINE_OIDC_CLIENT_SECRET "
                "go together: set all three for single sign-on, or none"
            )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def oidc_roles(self) -> dict[str, str]:
        return parse_role_map(self.oidc_role_map)

    @property
    def password_login_roles(self) -> tuple[str, ...]:
        """The roles that may sign in with a password (HELPLINE_PASSWORD_LOGIN)."""
        return PASSWORD_LOGIN_ROLES[self.password_login]

    def password_login_for(self, role: str) -> bool:
        return role in self.password_login_roles

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        v = v.strip()
        if not v.startswith("s3://") or len(v) <= len("s3://"):
            raise ValueError("HELPLINE_STORAGE_URL must be s3://BUCKET[/PREFIX] (or unset)")
        return v

    @field_validator("require_totp")
    @classmethod
    def _require_totp(cls, v: str) -> str:
        # Staff roles only: the setup lives in the console, which customers never see.
        roles = {r.value for r in Role if r.is_staff}
        given = {r.strip().lower() for r in v.split(",") if r.strip()}
        if given - roles:
            unknown = ", ".join(sorted(given - roles))
            raise ValueError(
                f"HELPLINE_REQUIRE_TOTP: {unknown} is not one of agent, supervisor, admin"
            )
        return ",".join(sorted(given))

    @property
    def totp_required_roles(self) -> frozenset[str]:
        return frozenset(r for r in self.require_totp.split(",") if r)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url.split("://", 1)[1]
            elif url.startswith("sqlite:///"):
                url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'helpline.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @cached_property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @cached_property
    def resolved_secret_key(self) -> str:
        """The secret, generated once and kept in the data dir when not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        make_private_dir(self.data_dir)
        key = secrets.token_urlsafe(48)
        # Written whole to a private temporary file, then linked into place: the key never
        # exists with a wider mode, nor half-written, and of two processes starting at once
        # the second to link reads the first one's key.
        tmp = self.data_dir / f".secret_key.{secrets.token_hex(8)}"
        with os.fdopen(create_private_file(tmp, exclusive=True), "w") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink()
        return key

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def allowed_extensions(self) -> frozenset[str]:
        return frozenset(e.strip().lower().lstrip(".") for e in self.allowed_file_types.split(","))

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limits == "on"

    @property
    def served_over_https(self) -> bool:
        return self.resolved_public_url.startswith("https://")

    @property
    def secure_cookies(self) -> bool:
        return self.served_over_https

    @property
    def metrics_access(self) -> Literal["token", "open", "closed"]:
        """Who may read GET /metrics: bearers of METRICS_TOKEN, anyone, or nobody."""
        if self.metrics_token:
            return "token"
        host = urlsplit(self.resolved_public_url).hostname or ""
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        return "open" if self.metrics_open or loopback else "closed"
