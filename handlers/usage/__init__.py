"""Usage accounting: the consumer projecting gateway calls, and the summary route."""

from handlers.usage.consumer import USAGE_SUBJECTS, usage_consumer, write_usage_rows
from handlers.usage.controller import UsageController

__all__ = ["USAGE_SUBJECTS", "UsageController", "usage_consumer", "write_usage_rows"]
