"""Evaluation of fine-tuned models: base vs fine-tuned on held-out prompts, judged pairwise."""

from handlers.evaluation.consumer import evaluator_consumer
from handlers.evaluation.controller import EvaluationController

__all__ = ["EvaluationController", "evaluator_consumer"]
