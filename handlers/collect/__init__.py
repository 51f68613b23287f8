"""From conversations to a dataset and a job: preview, scrub, collect, export, one-action train."""

from handlers.collect.controller import CollectController, DatasetTrainController

COLLECT_CONTROLLERS = [CollectController, DatasetTrainController]

__all__ = ["COLLECT_CONTROLLERS", "CollectController", "DatasetTrainController"]
