"""Anthropic's Messages API on the gateway (``POST /v1/messages``), for Anthropic SDK clients."""

from handlers.anthropic_api.controller import AnthropicController

__all__ = ["AnthropicController"]
