"""Training datasets: streamed upload, validation by line and field, stats, preview."""

from handlers.datasets.controller import DatasetController

__all__ = ["DatasetController"]
