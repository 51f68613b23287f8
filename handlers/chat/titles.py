"""Session titles from the first exchange: a short call to the session's model, or a fallback.

Runs as its own consumer on completed turns, so a slow title call never holds up the
persistence of other turns. It acts only while the session still has its default title,
which also makes a redelivered event a no-op once a title was written.
"""

from __future__ import annotations

import asyncio
import re
import time

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.chat import SessionRenamed, SessionRenamedData, TurnCompleted, TurnData
from runtime.bus import Consumer
from runtime.db.models import ChatMessage, ChatSession
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.types import Message, Params
from runtime.outbox import emit, publish_committed
from runtime.services import Services

log = structlog.get_logger(__name__)

MAX_WORDS = 6
MAX_CHARS = 80
TITLE_TIMEOUT_SECONDS = 15.0
# The consumer that writes the turn runs beside this one: give it a moment first.
PERSISTED_WAIT_SECONDS = 2.0
TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. "
    "Answer with the title only: no quotes, no punctuation at the end."
)
_EXCERPT = 2000
# Quotes and Markdown marks models like to wrap a title in (typographic quotes included).
_QUOTES = "\"'`*#_\u201c\u201d\u2018\u2019"
_PREFIX = re.compile(r"^\s*(title\s*:\s*)", re.IGNORECASE)


def _shorten(words: list[str]) -> str:
    text = " ".join(words[:MAX_WORDS])
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rstrip() + "…"
    return text


def clean_title(text: str) -> str | None:
    """The model's answer as a title: first line, no quotes or markup, at most six words."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    line = line.rstrip(".!?:;,").strip()
    words = line.split()
    return _shorten(words) if words else None


def fallback_title(question: str) -> str:
    """The first words of the first question, when the model could not give a title."""
    words = question.split()
    if not words:
        return "New chat"
    title = _shorten(words)
    return title + "…" if len(words) > MAX_WORDS and not title.endswith("…") else title


async def generate_title(gateway: Gateway | None, data: TurnData) -> str:
    question, answer = data.question, data.answer
    if gateway is not None:
        messages = [
            Message(role="system", content=TITLE_PROMPT),
            Message(
                role="user",
                content=f"Question:\n{question[:_EXCERPT]}\n\nAnswer:\n{answer[:_EXCERPT]}",
            ),
        ]
        caller = Caller(user_id=data.user_id, origin="chat")
        try:
            async with asyncio.timeout(TITLE_TIMEOUT_SECONDS):
                done = await gateway.complete(
                    data.model_config_id, messages, Params(max_tokens=32, temperature=0.2), caller
                )
            title = clean_title(done.result.content)
            if title:
                return title
        except Exception as exc:  # any failure has the same remedy: the fallback
            log.info("chat_title_call_failed", session_id=data.session_id, error=repr(exc))
    return fallback_title(question)


async def _wants_title(
    factory: async_sessionmaker[AsyncSession], data: TurnData
) -> ChatSession | None:
    """The session if it still has its default title, once the turn is in the database."""
    deadline = time.monotonic() + PERSISTED_WAIT_SECONDS
    while True:
        async with factory() as session:
            chat = await session.get(ChatSession, data.session_id)
            if chat is None or chat.title_source != "default":
                return None
            written = await session.scalar(
                select(ChatMessage.id).where(ChatMessage.id == data.assistant_message_id)
            )
        if written is not None:
            return chat
        if time.monotonic() > deadline:
            # Nak: the bus redelivers with backoff, by when the turn is written.
            raise RuntimeError(f"turn {data.turn_id} is not persisted yet")
        await asyncio.sleep(0.05)


def titles_consumer(services: Services) -> Consumer:
    factory = services.session_factory

    async def name_session(event: Event) -> None:
        if not isinstance(event, TurnCompleted):
            return
        data = event.data
        chat = await _wants_title(factory, data)
        if chat is None:
            return
        title = await generate_title(services.llm, data)
        async with factory() as session:
            result = await session.execute(
                update(ChatSession)
                .where(ChatSession.id == chat.id, ChatSession.title_source == "default")
                .values(title=title, title_source="generated")
            )
            if getattr(result, "rowcount", 0) != 1:
                return  # renamed by the user meanwhile: their title wins
            renamed = SessionRenamedData(
                session_id=chat.id,
                user_id=chat.user_id,
                title=title,
                previous_title=chat.title,
                model_config_id=chat.model_config_id,
                template_id=chat.template_id,
            )
            emit(session, SessionRenamed(subject=chat.id, data=renamed))  # actor: system
            await session.commit()
            await publish_committed(session, services.bus)

    return Consumer(
        name="chat-titles",
        subjects=("llmforge.chat.turn.*.completed",),
        handler=name_session,
        concurrency=2,
        description="titles a session from its first completed exchange",
    )
