"""Chat: sessions, streamed turns (SSE), message branches, and the consumers that persist them."""

from handlers.chat.consumer import chat_consumer
from handlers.chat.controller import ChatSessionController
from handlers.chat.message_controller import ChatMessageController
from handlers.chat.titles import titles_consumer

CHAT_CONTROLLERS = [ChatSessionController, ChatMessageController]

__all__ = [
    "CHAT_CONTROLLERS",
    "ChatMessageController",
    "ChatSessionController",
    "chat_consumer",
    "titles_consumer",
]
