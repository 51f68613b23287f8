"""The OpenAI-compatible API: any OpenAI SDK can use llmforge's models unmodified."""

from handlers.openai_api.controller import OpenAIController

__all__ = ["OpenAIController"]
