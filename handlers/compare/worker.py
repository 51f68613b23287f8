"""The batch worker: runs every prompt with every model, resumable after a redelivery."""

from __future__ import annotations

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.compare import CompareBatchRequested
from handlers.compare.calls import Answer, run_model
from handlers.compare.ledger import BatchLedger, plan
from handlers.compare.targets import params_of, to_messages
from runtime.bus import Consumer
from runtime.bus.connection import EventBus
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.services import Services

BATCH_SUBJECTS = ("llmforge.compare.batch.*.requested",)


async def run_batch(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    gateway: Gateway,
    batch_id: str,
    *,
    calls: int,
) -> None:
    """Run what is left of the batch with up to ``calls`` model calls at once."""
    pending = await plan(sessions, batch_id)
    if pending is None:
        return  # gone, or finished by an earlier delivery
    batch, items = pending
    ledger = BatchLedger(sessions, bus, batch)
    messages = [to_messages(p, batch.system_prompt) for p in batch.prompts]
    params = params_of(batch.parameters)
    caller = Caller(user_id=batch.user_id, origin="compare")
    queue = iter(items)

    async def work() -> None:
        # One shared iterator: each item is taken by exactly one of the workers.
        for item in queue:
            answer = Answer(model=item.model)
            await run_model(gateway, answer, messages[item.index], params, caller)
            await ledger.store(item, answer)

    # A failure other than the model's own (database, broker) cancels the rest and
    # raises: the message is retried later and resumes from what was stored.
    async with anyio.create_task_group() as group:
        for _ in range(min(calls, len(items))):
            group.start_soon(work)
    await ledger.complete()


def batch_consumer(
    services: Services, *, concurrency: int = 2, calls: int = 4, ack_wait: float = 60.0
) -> Consumer:
    """``concurrency`` batches at once, each with up to ``calls`` model calls in flight.

    A batch runs for minutes: the function host sends ``in_progress`` every third of
    ``ack_wait`` while the handler runs, so the message is not redelivered meanwhile.
    """

    async def handle(event: Event) -> None:
        if not isinstance(event, CompareBatchRequested):
            return
        if services.llm is None:  # a transient start-up state: nak and come back
            raise RuntimeError("the LLM gateway is not running")
        await run_batch(
            services.session_factory, services.bus, services.llm, event.data.batch_id, calls=calls
        )

    return Consumer(
        name="compare-batches",
        subjects=BATCH_SUBJECTS,
        handler=handle,
        concurrency=concurrency,
        ack_wait=ack_wait,
        description="runs batch comparisons: every prompt with every model, resumable",
    )
