"""One scaled-out deployment on this machine: the processes compose.yaml runs, as processes.

Two ``llmforge api`` and 2 workers (``worker --except training`` and ``worker --only
training``) against a 3-node NATS JetStream cluster (streams replicated 3 times) and a
fresh PostgreSQL database. Every process shares one data directory, as the containers
share a volume: uploads and datasets written by an API process are read by a worker.

Without a Qdrant server on this machine, the embedded vector store admits one process: only
the worker that runs the ``knowledge`` group opens it (see README, "Scale-out").
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from events import Event, decode_event
from handlers.auth import create_user
from runtime.db import create_engine, create_session_factory
from runtime.db.migrate import upgrade
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params
from tests.fixtures.db import PG_ADMIN_DSN
from tests.integration.knowledge_support import MODEL_CACHE
from tests.scaleout.cluster import NatsCluster, free_ports
from tests.scaleout.supervisor import ManagedProcess, Supervisor

PASSWORD = "scale-out password"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))
API_NAMES = ("api-1", "api-2")
WORKER = "worker"
TRAINER = "trainer"


def base_env(data_dir: Path, database_url: str, nats_url: str) -> dict[str, str]:
    """What every process of one deployment shares (compose's ``x-app`` environment)."""
    return {
        "LLMFORGE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "LLMFORGE_STREAM_REPLICAS": "3",
        "LLMFORGE_SECRET_KEY": secrets.token_urlsafe(48),
        "LLMFORGE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "LLMFORGE_LOG_FORMAT": "json",
        "LLMFORGE_COOKIE_SECURE": "false",
        # Cheap hashes: this is about processes, not password cost.
        "LLMFORGE_ARGON2_TIME_COST": "1",
        "LLMFORGE_ARGON2_MEMORY_KIB": "1024",
        "LLMFORGE_ARGON2_PARALLELISM": "1",
        "LLMFORGE_LOGIN_RATE_LIMIT": "100000",
        # A killed worker's message comes back within seconds, not the production minute.
        "LLMFORGE_TRAINING_ACK_WAIT": "3",
        "LLMFORGE_KNOWLEDGE_ACK_WAIT": "3",
        "LLMFORGE_EMBEDDINGS_CACHE_DIR": str(MODEL_CACHE),
        "LLMFORGE_EMBEDDINGS_THREADS": "1",
        "LLMFORGE_LLM_CACHE_TTL": "0.5",
        "LLMFORGE_EVENTS_HEARTBEAT": "2",
    }


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database; dropped afterwards."""
    name = f"llmforge_so_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    try:
        await upgrade(url.replace("postgresql://", "postgresql+asyncpg://", 1))
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass
class Deployment:
    root: Path
    cluster: NatsCluster
    database_url: str
    env: dict[str, str]
    supervisor: Supervisor = field(default_factory=Supervisor)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["LLMFORGE_DATA_DIR"])

    def api(self, index: int) -> ManagedProcess:
        return self.supervisor[API_NAMES[index]]

    @property
    def api_urls(self) -> list[str]:
        return [p.url for name, p in self.supervisor.processes.items() if name in API_NAMES]

    @property
    def worker(self) -> ManagedProcess:
        return self.supervisor[WORKER]

    @property
    def trainer(self) -> ManagedProcess:
        return self.supervisor[TRAINER]

    def add_single(self, env: Mapping[str, str] | None = None) -> None:
        """The baseline: one ``llmforge up`` process runs the API and every consumer."""
        [port] = free_ports(1)
        name = API_NAMES[0]
        self.supervisor.add(
            ManagedProcess(
                name,
                ["up", "--port", str(port)],
                {**self.env, **(env or {})},
                self.root / "logs" / f"{name}.log",
                port=port,
            )
        )

    def add_processes(self, env: Mapping[str, str] | None = None) -> None:
        env = {**self.env, **(env or {})}
        for name, port in zip(API_NAMES, free_ports(len(API_NAMES)), strict=True):
            self.supervisor.add(
                ManagedProcess(
                    name,
                    ["api", "--port", str(port)],
                    env,
                    self.root / "logs" / f"{name}.log",
                    port=port,
                )
            )
        roles = {WORKER: ["--except", "training"], TRAINER: ["--only", "training"]}
        for (name, only), port in zip(roles.items(), free_ports(len(roles)), strict=True):
            # Workers serve their probes only: readiness means consumers bound, DB and NATS up.
            self.supervisor.add(
                ManagedProcess(
                    name,
                    ["worker", *only],
                    {**env, "LLMFORGE_HEALTH_PORT": str(port)},
                    self.root / "logs" / f"{name}.log",
                    port=port,
                )
            )

    async def add_user(self, email: str, role: str = "user") -> str:
        """Straight into the database (no registration round trip); returns the user id."""
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with create_session_factory(engine)() as session:
                user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
                await session.commit()
                return str(user.id)
        finally:
            await engine.dispose()

    async def login(
        self, http: httpx.AsyncClient, email: str, role: str = "user"
    ) -> dict[str, str]:
        """Create the user and return its Authorization header (any API process will do)."""
        await self.add_user(email, role)
        return await self.token(http, email)

    async def token(self, http: httpx.AsyncClient, email: str) -> dict[str, str]:
        """Log in as an existing user; its Authorization header."""
        response = await http.post(
            f"{self.api_urls[0]}/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def chat_model(self, http: httpx.AsyncClient, upstream_url: str, admin: str) -> str:
        """An admin adds an OpenAI-compatible provider on the fake upstream and a model."""
        headers = await self.login(http, admin, "admin")
        url = self.api_urls[-1]
        provider = await http.post(
            f"{url}/api/providers",
            headers=headers,
            json={
                "name": f"Fake for {admin}",
                "type": "openai-compatible",
                "base_url": upstream_url,
                "api_key": "test-key",
                "settings": {"max_attempts": 1},
            },
        )
        assert provider.status_code == 201, provider.text
        model = await http.post(
            f"{url}/api/models",
            headers=headers,
            json={
                "provider_id": provider.json()["id"],
                "model_id": "up-chat",
                "alias": f"chat-{admin.split('@')[0]}",
            },
        )
        assert model.status_code == 201, model.text
        model_id: str = model.json()["id"]
        return model_id

    async def stream_events(self, *streams: str, within: float = 30.0) -> list[Event]:
        """Every event stored in these streams, stream by stream, in stream order.

        Waits out a stream without a leader (an election after a node was lost).
        """
        deadline = time.monotonic() + within
        nc = await nats.connect(servers=self.cluster.url.split(","))
        try:
            js = nc.jetstream(timeout=5)
            while True:
                try:
                    return [e for stream in streams for e in await _read_stream(js, stream)]
                except (TimeoutError, ServiceUnavailableError, NoStreamResponseError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await nc.close()

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


async def _read_stream(js: JetStreamContext, stream: str) -> list[Event]:
    state = (await js.stream_info(stream)).state
    found: list[Event] = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        msg = await js.get_msg(stream, seq)
        assert msg.data is not None
        found.append(decode_event(msg.data))
    return found


@asynccontextmanager
async def deployment(
    root: Path,
    *,
    env: Mapping[str, str] | None = None,
    start: bool = True,
    single: bool = False,
) -> AsyncIterator[Deployment]:
    """Cluster, database and the four processes, all stopped and removed afterwards.

    ``single``: the baseline instead, one ``llmforge up`` on one nats-server.
    """
    async with (
        pg_database() as database_url,
        NatsCluster(root / "nats", size=1 if single else 3) as cluster,
    ):
        data_dir = root / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        deployed = Deployment(
            root, cluster, database_url, base_env(data_dir, database_url, cluster.url)
        )
        if single:
            deployed.env["LLMFORGE_STREAM_REPLICAS"] = "1"
            deployed.add_single(env)
        else:
            deployed.add_processes(env)
        try:
            if start:
                await deployed.supervisor.start()
            yield deployed
        except BaseException:
            print(deployed.supervisor.logs())
            raise
        finally:
            deployed.supervisor.stop_all()
