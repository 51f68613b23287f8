"""A session's current branch as Markdown or JSON, for download."""

from __future__ import annotations

import re
from datetime import datetime

from handlers.chat.schemas import Export, Message, Session

_SAFE = re.compile(r"[^\w.-]+")


def filename(session: Session, extension: str) -> str:
    stem = _SAFE.sub("-", session.title).strip("-")[:60] or "chat"
    return f"{stem}.{extension}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def markdown(session: Session, messages: list[Message], model: str | None) -> str:
    lines = [f"# {session.title}", ""]
    details = [f"Model: {model or session.model_config_id or 'none'}"]
    details.append(f"Created: {session.created_at.isoformat(timespec='seconds')}")
    lines += [" · ".join(details), ""]
    if session.system_prompt:
        lines += ["## System", "", session.system_prompt, ""]
    for message in messages:
        heading = "User" if message.role == "user" else "Assistant"
        if message.status != "completed":
            heading += f" ({message.status})"
        lines += [f"## {heading}", ""]
        if message.reasoning:
            lines += ["<details><summary>Reasoning</summary>", "", _quote(message.reasoning)]
            lines += ["", "</details>", ""]
        lines += [message.content, ""]
    return "\n".join(lines).rstrip() + "\n"


def as_json(session: Session, messages: list[Message], now: datetime) -> Export:
    return Export(session=session, messages=messages, exported_at=now)
