"""Settings: one small dataclass per concern, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar, cast

T = TypeVar("T")

# Settings that hold credentials: each may come from a file named by ``<NAME>_FILE`` instead
# (Docker and Kubernetes secrets), so the value never sits in the process environment.
SECRET_SETTINGS = (
    "LLMFORGE_SECRET_KEY",
    "LLMFORGE_MASTER_KEY",
    "LLMFORGE_MASTER_KEY_PREVIOUS",
    "DATABASE_URL",
    "NATS_URL",
    "QDRANT_API_KEY",
    "SWANLAB_API_KEY",
    "LLMFORGE_METRICS_TOKEN",
)

SameSite = Literal["strict", "lax", "none"]


class SettingsError(ValueError):
    """A setting that cannot be used as given; the message names it, never its value."""


class _Env:
    """Typed reads of one environment snapshot; empty values count as unset."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def __call__(self, name: str, default: str | None = None) -> str | None:
        value = self._values.get(name)
        return value if value not in (None, "") else default

    def secret(self, name: str) -> str | None:
        """``name`` from the environment, or the contents of the file ``<name>_FILE`` names."""
        value = self(name)
        path = self(f"{name}_FILE")
        if path is None:
            return value
        if value is not None:
            raise SettingsError(f"{name} and {name}_FILE are both set: set only one of them.")
        try:
            # Files written by `echo` or editors end with a newline that is no part of it.
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SettingsError(f"{name}_FILE={path}: cannot read the file ({reason}).") from None
        if not text:
            raise SettingsError(f"{name}_FILE={path}: the file is empty.")
        return text

    def flag(self, name: str, default: bool) -> bool:
        value = self(name)
        if value is None:
            return default
        return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Request bodies above this are refused with 413 before any handler sees them.
    max_body_bytes: int = 10 * 1024 * 1024
    # Origins of a separately hosted web UI allowed to call the API from a browser.
    cors_origins: tuple[str, ...] = ()
    # Strict-Transport-Security max-age; 0: not sent (set it once HTTPS works end to end).
    hsts_max_age: int = 0
    # The web UI's build; None: web/dist in the source tree (`make up` builds it).
    web_dir: Path | None = None
    # `llmforge worker` only: serve /health/live, /health/ready and /metrics on this port.
    health_port: int | None = None
    # Several API processes on one host share the port; the kernel spreads connections
    # (SO_REUSEPORT, runtime/listen.py).
    reuse_port: bool = False
    # `llmforge up` only: HTTP processes, itself included (runtime/api_processes.py).
    processes: int = 1
    # Seconds an idle keep-alive connection stays open. Longer than clients' and proxies'
    # own idle limits (httpx 5 s, aiohttp 15 s, a cloud load balancer's 60 s): they close
    # first, so no request is sent down a connection the server is closing at that moment
    # (uvicorn's default, 5 s, races httpx's to the millisecond).
    keep_alive_seconds: int = 75


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    # None: the embedded SQLite file in the data directory.
    url: str | None = None
    echo: bool = False


@dataclass(frozen=True, slots=True)
class NatsSettings:
    # None: an embedded nats-server child process with its store in the data directory.
    url: str | None = None
    # Prefix for durable consumer names, so two platforms can share one NATS account.
    consumer_prefix: str = "llmforge"
    # Copies of each stream in a JetStream cluster: 3 keeps every stream through the loss
    # of one node; 1 for a single server (a cluster of 3 needs 3 nodes up to start).
    stream_replicas: int = 1


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    # None: generated once into the data directory (mode 0600).
    secret_key: str | None = None
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    registration_open: bool = True
    # Browsers drop Secure cookies on plain http except on localhost, which is what we serve.
    cookie_secure: bool = True
    # SameSite of the refresh cookie: "none" (which needs Secure) lets a web UI on another
    # site refresh its session with credentialed CORS requests.
    cookie_samesite: SameSite = "strict"
    login_attempts_per_minute: int = 10
    # argon2id cost (RFC 9106 second recommendation); tests lower it to stay fast.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Base64 of 32 bytes encrypting provider keys at rest; None: DATA_DIR/master.key.
    master_key: str | None = None
    # Older master keys, decrypt-only: lets replicas read values during a key rotation.
    master_key_previous: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LlmSettings:
    # How long a replica trusts its cached alias -> model/provider resolution. Short,
    # because another replica may just have disabled the model or changed its key.
    resolve_cache_ttl_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    # Seconds before each retry (jittered); one attempt more than entries in all.
    retry_schedule: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
    timeout_seconds: float = 10.0
    # An endpoint is disabled after this many deliveries in a row gave up, or once it
    # has failed without a single success for this long.
    disable_after_failures: int = 5
    disable_after_seconds: float = 5 * 86400.0
    sender_concurrency: int = 8


@dataclass(frozen=True, slots=True)
class EventFeedSettings:
    # SSE comment sent on an idle stream so proxies and clients keep the connection.
    heartbeat_seconds: float = 15.0
    # Events buffered per connection; a client this far behind is cut off to resume.
    queue_size: int = 1000


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    # Jobs one trainer worker runs at once; 0: one per CUDA GPU found, or 1 on the CPU.
    slots: int = 0
    # Largest dataset upload; the body is streamed to disk and cut off past this.
    max_dataset_bytes: int = 100 * 1024 * 1024
    # Redelivery delay of a job whose worker died; the worker heartbeats every third.
    ack_wait_seconds: float = 30.0
    # Seconds between SIGTERM and SIGKILL when a job or a served model is stopped.
    stop_grace_seconds: float = 5.0
    # SwanLab: offline (files only) or local by default; cloud when an API key is set.
    swanlab_mode: str = "offline"
    swanlab_api_key: str | None = None
    swanlab_host: str | None = None
    swanlab_project: str = "llmforge"
    # The `llamafactory-cli` to run; default: the one beside this Python.
    cli: str | None = None
    # CPU threads of each trainer, model-server and export process (OMP/MKL); 0: torch's default,
    # one per core. Set it where other work shares the cores: OpenMP threads that spin
    # while waiting for a busy core slow a CPU run down several times.
    cpu_threads: int = 0


@dataclass(frozen=True, slots=True)
class KnowledgeSettings:
    # Uploads above this are refused with 413 and nothing is kept.
    max_upload_bytes: int = 50 * 1024 * 1024
    # Chunks per embedding call: big enough to keep the cores busy, small enough that
    # progress events and heartbeats stay frequent.
    embed_batch_size: int = 32
    # Where the local embedding model is exported to ONNX once; None: DATA_DIR/models.
    model_cache_dir: Path | None = None
    # Threads of the local embedding model; 0: one per core.
    embedding_threads: int = 0
    # Attempts at one indexing event before the document is marked failed.
    index_max_attempts: int = 4
    # Redelivery delay of a document whose worker died; the worker heartbeats every third.
    ack_wait_seconds: float = 60.0
    # For a Qdrant server that requires one (with QDRANT_URL).
    qdrant_api_key: str | None = None


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    # When set, GET /metrics requires `Authorization: Bearer <token>`.
    metrics_token: str | None = None
    # A scrape waits this long for the broker and the database, then answers without them.
    scrape_timeout_seconds: float = 2.0
    # OTLP/HTTP base URL (``/v1/traces`` is appended); None: no tracing, nothing imported.
    otel_endpoint: str | None = None
    otel_service_name: str = "llmforge"
    # How long finished spans wait to be sent in one batch (OTEL_BSP_SCHEDULE_DELAY).
    otel_export_delay_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    # Limits of every user without a quota of their own (per field); None: unlimited.
    default_requests_per_minute: int | None = None
    default_monthly_tokens: int | None = None
    default_monthly_cost: float | None = None
    # How long a replica trusts its cached quota rows; a change drops them at once in the
    # replica that made it, the others see it within this window.
    cache_ttl_seconds: float = 5.0
    # How long a subject's monthly spend is reused before the usage projection is read again.
    spend_cache_ttl_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    # auto: console renderer on a terminal, JSON lines otherwise.
    format: str = "auto"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./data")
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    nats: NatsSettings = field(default_factory=NatsSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    log: LogSettings = field(default_factory=LogSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    qdrant_url: str | None = None
    webhooks_allow_private: bool = False
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    event_feed: EventFeedSettings = field(default_factory=EventFeedSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return normalize_database_url(self.database.url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'llmforge.db').resolve()}"


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick async drivers."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _optional(value: str | None, kind: Callable[[str], T]) -> T | None:
    return None if value is None else kind(value)


def _cors_origins(value: str | None) -> tuple[str, ...]:
    """Browser origins as they send them: scheme://host[:port], no path (``*`` wildcards)."""
    origins = tuple(o.strip() for o in (value or "").split(",") if o.strip())
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        malformed = scheme not in ("http", "https") or not sep or not rest or "/" in rest
        if origin != "*" and malformed:
            # A trailing slash or a path never matches the Origin header a browser sends.
            raise SettingsError(
                f"LLMFORGE_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com"
            )
    return origins


def _samesite(value: str | None, secure: bool) -> SameSite:
    samesite = (value or "strict").strip().lower()
    if samesite not in ("strict", "lax", "none"):
        raise SettingsError("LLMFORGE_COOKIE_SAMESITE must be strict, lax or none.")
    if samesite == "none" and not secure:
        # Browsers drop a SameSite=None cookie that is not Secure.
        raise SettingsError("LLMFORGE_COOKIE_SAMESITE=none needs LLMFORGE_COOKIE_SECURE on.")
    return cast("SameSite", samesite)


def _at_least_one(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name} must be a whole number >= 1, not {text!r}.")
    return value


def load_settings(overrides: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment; ``overrides`` (CLI options) win over it.

    Raises ``SettingsError`` for a value that cannot work (a secret set twice or in an
    unreadable file, an impossible cookie or CORS combination).
    """
    values = dict(os.environ)
    for name in overrides or {}:
        # An option beats the environment, its file variant included.
        values.pop(f"{name}_FILE", None)
    _env = _Env({**values, **(overrides or {})})
    _flag = _env.flag
    origins = _env("LLMFORGE_CORS_ORIGINS")
    cookie_secure = _flag("LLMFORGE_COOKIE_SECURE", True)
    return Settings(
        data_dir=Path(_env("LLMFORGE_DATA_DIR", "./data") or "./data"),
        server=ServerSettings(
            host=_env("LLMFORGE_HOST", "127.0.0.1") or "127.0.0.1",
            port=int(_env("LLMFORGE_PORT", "8000") or 8000),
            max_body_bytes=int(_env("LLMFORGE_MAX_BODY_BYTES", str(10 * 1024 * 1024)) or 0),
            web_dir=Path(web_dir) if (web_dir := _env("LLMFORGE_WEB_DIR")) else None,
            health_port=_optional(_env("LLMFORGE_HEALTH_PORT"), int),
            cors_origins=_cors_origins(origins),
            hsts_max_age=int(_env("LLMFORGE_HSTS_MAX_AGE", "0") or 0),
            reuse_port=_flag("LLMFORGE_REUSE_PORT", False),
            processes=_at_least_one(
                "LLMFORGE_API_PROCESSES", _env("LLMFORGE_API_PROCESSES", "1") or "1"
            ),
            keep_alive_seconds=_at_least_one(
                "LLMFORGE_KEEP_ALIVE", _env("LLMFORGE_KEEP_ALIVE", "75") or "75"
            ),
        ),
        database=DatabaseSettings(
            url=_env.secret("DATABASE_URL"), echo=_flag("LLMFORGE_DATABASE_ECHO", False)
        ),
        nats=NatsSettings(
            url=_env.secret("NATS_URL"),
            consumer_prefix=_env("LLMFORGE_CONSUMER_PREFIX", "llmforge") or "llmforge",
            stream_replicas=int(_env("LLMFORGE_STREAM_REPLICAS", "1") or 1),
        ),
        security=SecuritySettings(
            secret_key=_env.secret("LLMFORGE_SECRET_KEY"),
            access_token_ttl_seconds=int(_env("LLMFORGE_ACCESS_TOKEN_TTL", "900") or 900),
            refresh_token_ttl_seconds=int(_env("LLMFORGE_REFRESH_TOKEN_TTL", "604800") or 0),
            registration_open=_flag("LLMFORGE_REGISTRATION_OPEN", True),
            cookie_secure=cookie_secure,
            cookie_samesite=_samesite(_env("LLMFORGE_COOKIE_SAMESITE", "strict"), cookie_secure),
            login_attempts_per_minute=int(_env("LLMFORGE_LOGIN_RATE_LIMIT", "10") or 10),
            argon2_time_cost=int(_env("LLMFORGE_ARGON2_TIME_COST", "3") or 3),
            argon2_memory_kib=int(_env("LLMFORGE_ARGON2_MEMORY_KIB", "65536") or 65536),
            argon2_parallelism=int(_env("LLMFORGE_ARGON2_PARALLELISM", "4") or 4),
            master_key=_env.secret("LLMFORGE_MASTER_KEY"),
            master_key_previous=tuple(
                k.strip()
                for k in (_env.secret("LLMFORGE_MASTER_KEY_PREVIOUS") or "").split(",")
                if k.strip()
            ),
        ),
        llm=LlmSettings(
            resolve_cache_ttl_seconds=float(_env("LLMFORGE_LLM_CACHE_TTL", "2") or 2),
        ),
        log=LogSettings(
            level=(_env("LLMFORGE_LOG_LEVEL", "INFO") or "INFO").upper(),
            format=_env("LLMFORGE_LOG_FORMAT", "auto") or "auto",
        ),
        qdrant_url=_env("QDRANT_URL"),
        webhooks_allow_private=_flag("LLMFORGE_WEBHOOKS_ALLOW_PRIVATE", False),
        webhooks=WebhookSettings(
            retry_schedule=tuple(
                float(x) for x in (_env("LLMFORGE_WEBHOOKS_RETRY_SCHEDULE") or "").split(",") if x
            )
            or WebhookSettings().retry_schedule,
            timeout_seconds=float(_env("LLMFORGE_WEBHOOKS_TIMEOUT", "10") or 10),
            disable_after_failures=int(_env("LLMFORGE_WEBHOOKS_DISABLE_AFTER_FAILURES", "5") or 5),
            disable_after_seconds=float(
                _env("LLMFORGE_WEBHOOKS_DISABLE_AFTER_SECONDS", "432000") or 432000
            ),
        ),
        event_feed=EventFeedSettings(
            heartbeat_seconds=float(_env("LLMFORGE_EVENTS_HEARTBEAT", "15") or 15),
        ),
        knowledge=KnowledgeSettings(
            max_upload_bytes=int(
                _env("LLMFORGE_KNOWLEDGE_MAX_UPLOAD_BYTES", str(50 * 1024 * 1024)) or 0
            ),
            model_cache_dir=Path(cache_dir)
            if (cache_dir := _env("LLMFORGE_EMBEDDINGS_CACHE_DIR"))
            else None,
            embedding_threads=int(_env("LLMFORGE_EMBEDDINGS_THREADS", "0") or 0),
            ack_wait_seconds=float(_env("LLMFORGE_KNOWLEDGE_ACK_WAIT", "60") or 60),
            qdrant_api_key=_env.secret("QDRANT_API_KEY"),
        ),
        training=TrainingSettings(
            slots=int(_env("LLMFORGE_TRAINING_SLOTS", "0") or 0),
            max_dataset_bytes=int(
                _env("LLMFORGE_TRAINING_MAX_DATASET_BYTES", str(100 * 1024 * 1024)) or 0
            ),
            ack_wait_seconds=float(_env("LLMFORGE_TRAINING_ACK_WAIT", "30") or 30),
            stop_grace_seconds=float(_env("LLMFORGE_TRAINING_STOP_GRACE", "5") or 5),
            swanlab_mode=_env("SWANLAB_MODE", "offline") or "offline",
            swanlab_api_key=_env.secret("SWANLAB_API_KEY"),
            swanlab_host=_env("SWANLAB_HOST"),
            swanlab_project=_env("LLMFORGE_SWANLAB_PROJECT", "llmforge") or "llmforge",
            cli=_env("LLMFORGE_LLAMAFACTORY_CLI"),
            cpu_threads=int(_env("LLMFORGE_TRAINING_CPU_THREADS", "0") or 0),
        ),
        quotas=QuotaSettings(
            default_requests_per_minute=_optional(
                _env("LLMFORGE_DEFAULT_REQUESTS_PER_MINUTE"), int
            ),
            default_monthly_tokens=_optional(_env("LLMFORGE_DEFAULT_MONTHLY_TOKENS"), int),
            default_monthly_cost=_optional(_env("LLMFORGE_DEFAULT_MONTHLY_COST"), float),
            cache_ttl_seconds=float(_env("LLMFORGE_QUOTA_CACHE_TTL", "5") or 5),
            spend_cache_ttl_seconds=float(_env("LLMFORGE_QUOTA_SPEND_CACHE_TTL", "5") or 5),
        ),
        observability=ObservabilitySettings(
            metrics_token=_env.secret("LLMFORGE_METRICS_TOKEN"),
            scrape_timeout_seconds=float(_env("LLMFORGE_METRICS_SCRAPE_TIMEOUT", "2") or 2),
            # Ours wins; the standard OpenTelemetry variable works too.
            otel_endpoint=_env("LLMFORGE_OTEL_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT"),
            otel_service_name=_env("OTEL_SERVICE_NAME", "llmforge") or "llmforge",
            # Milliseconds, as OpenTelemetry's own variable is.
            otel_export_delay_seconds=float(_env("OTEL_BSP_SCHEDULE_DELAY") or 5000) / 1000,
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
