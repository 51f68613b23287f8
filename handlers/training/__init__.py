"""Fine-tuning: job routes, the trainer worker, the projection and model serving."""

from handlers.training.controller import TrainingJobController
from handlers.training.export import ExportController
from handlers.training.serving import ServingController

TRAINING_CONTROLLERS = [TrainingJobController, ServingController, ExportController]

__all__ = [
    "TRAINING_CONTROLLERS",
    "ExportController",
    "ServingController",
    "TrainingJobController",
]
