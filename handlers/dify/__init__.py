"""Dify integration: knowledge bases served through Dify's External Knowledge API."""

from handlers.dify.controller import DifyController

__all__ = ["DifyController"]
