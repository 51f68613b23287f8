"""Model comparison: one prompt streamed by several models at once, batches, votes."""

from handlers.compare.batch_controller import BatchController
from handlers.compare.consumer import RUN_SUBJECTS, run_record_consumer, save_runs
from handlers.compare.controller import CompareController
from handlers.compare.worker import BATCH_SUBJECTS, batch_consumer

COMPARE_CONTROLLERS = [CompareController, BatchController]

__all__ = [
    "BATCH_SUBJECTS",
    "COMPARE_CONTROLLERS",
    "RUN_SUBJECTS",
    "BatchController",
    "CompareController",
    "batch_consumer",
    "run_record_consumer",
    "save_runs",
]
