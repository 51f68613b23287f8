"""One process of the platform: its connections, HTTP server, consumers and relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
import uvicorn

from runtime.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar

    from runtime.services import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Roles:
    """What this process runs; ``llmforge up`` runs everything."""

    http: bool = True
    consumers: bool = True
    # None: every consumer group; else only those named (`worker --only`).
    only: frozenset[str] | None = None


class Platform:
    def __init__(self, settings: Settings, *, nats_url: str, roles: Roles = Roles()) -> None:
        self.settings = settings
        self.nats_url = nats_url
        self.roles = roles
        self._stack = contextlib.AsyncExitStack()
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self.port: int | None = None
        # The served Litestar app (its state holds per-app caches); None without the HTTP role.
        self.app: Litestar | None = None

    @property
    def requests_served(self) -> int:
        """HTTP requests this process's server has read (processes sharing a port split them)."""
        return self._server.server_state.total_requests if self._server is not None else 0

    @property
    def url(self) -> str:
        assert self.port is not None, "HTTP role not started"
        return f"http://{self.settings.server.host}:{self.port}"

    async def start(self) -> None:
        from events import STREAMS
        from handlers.consumers import build_consumers
        from runtime.bus import EventBus, FunctionHost
        from runtime.db import create_engine, create_session_factory
        from runtime.outbox import OutboxRelay
        from runtime.secret_key import with_secret_key
        from runtime.services import Services

        self.settings = with_secret_key(self.settings)
        try:
            engine = create_engine(self.settings.database_url, echo=self.settings.database.echo)
            self._stack.push_async_callback(engine.dispose)
            bus = await EventBus.connect(self.nats_url, name=f"llmforge-{_role_name(self.roles)}")
            self._stack.push_async_callback(bus.close)
            await bus.provision(STREAMS, replicas=self.settings.nats.stream_replicas)
            services = Services(
                settings=self.settings,
                engine=engine,
                session_factory=create_session_factory(engine),
                bus=bus,
            )
            _start_llm(services, self._stack)
            await _start_knowledge(services, self._stack, self.roles)
            self.services = services

            if self.roles.consumers:
                host = FunctionHost(
                    bus,
                    build_consumers(services, self.roles.only),
                    prefix=self.settings.nats.consumer_prefix,
                )
                await host.start()
                self._stack.push_async_callback(host.stop)

            if self.roles.http:
                relay = OutboxRelay(services.session_factory, bus)
                relay.start()
                self._stack.push_async_callback(relay.stop)
                await self._serve_http(services)
            elif self.settings.server.health_port is not None:
                # A worker serves only its probes and metrics, for orchestrators' checks.
                await self._serve_http(services, probes_only=True)
        except BaseException:
            await self._stack.aclose()
            raise
        log.info("platform_started", roles=_role_name(self.roles), port=self.port)

    async def _serve_http(self, services: object, *, probes_only: bool = False) -> None:
        from runtime.app import create_app
        from runtime.services import Services

        assert isinstance(services, Services)
        if probes_only:
            app, port = _probe_app(services), self.settings.server.health_port or 0
        else:
            app = self.app = create_app(services)
            port = self.settings.server.port
        config = uvicorn.Config(
            app,
            host=self.settings.server.host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_keep_alive=self.settings.server.keep_alive_seconds,
            timeout_graceful_shutdown=10,
        )
        server = _EmbeddedServer(config)
        self._server = server
        sockets = None
        if self.settings.server.reuse_port and not probes_only:
            from runtime.listen import reuse_port_sockets

            sockets = reuse_port_sockets(config.host, port)
        self._server_task = asyncio.create_task(server.serve(sockets), name="http")
        self._stack.push_async_callback(self._stop_http)
        while not server.started:
            if self._server_task.done():
                await self._server_task  # surfaces the bind error
                raise RuntimeError("HTTP server exited during start-up")
            await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]

    async def _stop_http(self) -> None:
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._server_task, return_exceptions=True)

    async def stop(self) -> None:
        await self._stack.aclose()
        log.info("platform_stopped")

    async def wait(self) -> None:
        """Block until the HTTP server exits (or forever for a worker)."""
        if self._server_task is not None:
            await asyncio.shield(self._server_task)
        else:
            await asyncio.Event().wait()


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the CLI stops every part in order instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _start_llm(services: Services, stack: contextlib.AsyncExitStack) -> None:
    """The keyring and the LLM gateway; closed (pool, pending call events) before the bus."""
    from runtime.llm.clients import ClientPool
    from runtime.llm.gateway import Gateway
    from runtime.llm.recorder import CallRecorder
    from runtime.llm.resolver import ModelResolver
    from runtime.security.master_key import load_keyring

    keyring = load_keyring(services.settings)
    ttl = services.settings.llm.resolve_cache_ttl_seconds
    resolver = ModelResolver(services.session_factory, keyring, ttl=ttl)
    recorder = CallRecorder(services.bus, services.session_factory)
    gateway = Gateway(resolver, ClientPool(), recorder)
    stack.push_async_callback(gateway.aclose)
    services.keyring, services.llm = keyring, gateway


def _probe_app(services: Services) -> Litestar:
    """A worker's HTTP surface: /health/live, /health/ready (database, NATS) and /metrics."""
    from litestar import Litestar
    from litestar.datastructures import State

    from handlers.deps import DEPENDENCIES
    from handlers.system import SystemController, metrics

    return Litestar(
        route_handlers=[SystemController, metrics],
        dependencies=DEPENDENCIES,
        state=State({"services": services}),
        logging_config=None,
        openapi_config=None,
    )


def owns_embedded_store(roles: Roles) -> bool:
    """The process that runs the knowledge consumers opens Qdrant Edge's files (one may)."""
    return roles.consumers and (roles.only is None or "knowledge" in roles.only)


async def _start_knowledge(
    services: Services, stack: contextlib.AsyncExitStack, roles: Roles
) -> None:
    """Vector store and embedding models: cheap now, they open files on first use.

    Without a Qdrant server, one process owns the embedded store and serves it over NATS
    to the others (``runtime/vectors/remote.py``).
    """
    from runtime.embeddings import EmbeddingModels
    from runtime.vectors import VectorStore, open_vector_store
    from runtime.vectors.remote import RemoteVectorStore, VectorStoreServer, rpc_subject

    settings = services.settings
    subject = rpc_subject(settings.nats.consumer_prefix)
    vectors: VectorStore
    if settings.qdrant_url or owns_embedded_store(roles):
        vectors = open_vector_store(settings)
        stack.push_async_callback(vectors.close)
        if not settings.qdrant_url:
            server = VectorStoreServer(vectors, services.bus.nc, subject)
            await server.start()
            stack.push_async_callback(server.stop)
    else:
        vectors = RemoteVectorStore(services.bus.nc, subject)
    services.vectors = vectors
    services.embeddings = EmbeddingModels(settings, services.llm)


def _role_name(roles: Roles) -> str:
    if roles.http and roles.consumers:
        return "all"
    return "api" if roles.http else "worker"
