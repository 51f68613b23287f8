"""The admin statistics dashboard: gateway usage, latency percentiles, users, training, RAG."""

from handlers.stats.controller import StatsController

__all__ = ["StatsController"]
