"""System prompt templates with variables, versions and full-text search."""

from handlers.prompts.controller import PromptController

__all__ = ["PromptController"]
