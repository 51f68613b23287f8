"""The model-server consumer: runs ``llamafactory-cli api`` for as long as it is wanted.

The handler lives as long as the server (heartbeating its message), so a stopping worker
takes its servers down and the message goes back: another worker serves the model again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from events import Event
from events.training import (
    ServerRequested,
    ServerStarted,
    ServerStartedData,
    ServerStopped,
    ServerStoppedData,
    ServerStopRequested,
)
from runtime.bus import Consumer
from runtime.db.models import ModelServer as ServerRow
from runtime.services import Services
from trainer.process import cli_path
from trainer.serving import ModelServer, ServeSpec

log = structlog.get_logger(__name__)


def server_consumer(services: Services) -> Consumer:
    settings = services.settings.training
    bus = services.bus

    async def serve(event: Event) -> None:
        if not isinstance(event, ServerRequested):
            return
        d = event.data
        async with services.session_factory() as session:
            row = await session.get(ServerRow, d.server_id)
            if row is None or row.status in ("stopped", "failed"):
                return
        stop = asyncio.Event()

        async def on_stop(msg: Msg) -> None:
            stop.set()

        subscription = await bus.js.subscribe(
            ServerStopRequested.SUBJECT.format(subject=d.server_id),
            stream="LLMFORGE_TRAINING",
            cb=on_stop,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        ids = {
            "server_id": d.server_id,
            "model_config_id": d.model_config_id,
            "owner_id": d.owner_id,
        }
        server = ModelServer(
            ServeSpec(
                base_model_path=d.base_model_path,
                adapter_path=d.adapter_path,
                template=d.template,
                finetuning_type=d.finetuning_type,
                model_name=d.model_name,
                log_path=Path(d.log_path),
            ),
            cli=cli_path(settings.cli),
            grace=settings.stop_grace_seconds,
            cpu_threads=settings.cpu_threads,
        )
        try:
            try:
                await server.start()
            except RuntimeError as exc:
                data = ServerStoppedData(**ids, reason="failed", error=str(exc))
                await bus.publish(ServerStopped(subject=d.server_id, data=data))
                return
            started = ServerStartedData(
                **ids,
                base_url=server.base_url,
                port=server.port,
                host=socket.gethostname(),
                pid=server.child.pid if server.child else None,
            )
            await bus.publish(ServerStarted(subject=d.server_id, data=started))
            exited = asyncio.create_task(server.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            requested = not exited.done()
            exited.cancel()
            await server.stop()
            data = ServerStoppedData(
                **ids,
                reason="requested" if requested else "exited",
                error=None if requested else server.failure("exited"),
            )
            await bus.publish(ServerStopped(subject=d.server_id, data=data))
        finally:
            await asyncio.shield(server.stop())
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    return Consumer(
        name="model-server",
        subjects=[ServerRequested.SUBJECT.format(subject="*")],
        handler=serve,
        concurrency=4,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=3,
        backoff=(5.0, 30.0),
        fetch_batch=1,
        description="serves local models and adapters with llamafactory-cli api",
    )
