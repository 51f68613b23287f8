"""SQLAlchemy models for the whole domain; later features add columns, not tables."""

from runtime.db.models.aliases import ModelAlias, ModelAliasChange
from runtime.db.models.audit import AuditLog
from runtime.db.models.auth import ApiKey, RefreshToken, Role, User
from runtime.db.models.base import Base, new_id, utcnow
from runtime.db.models.chat import ChatMessage, ChatSession
from runtime.db.models.compare import (
    CompareBatch,
    CompareResult,
    CompareRun,
    CompareVote,
    CompareVoteOutcome,
)
from runtime.db.models.evaluation import TrainingEvaluation, TrainingEvaluationExample
from runtime.db.models.knowledge import Document, KnowledgeBase
from runtime.db.models.outbox import OutboxEvent
from runtime.db.models.prompts import PromptTemplate, PromptTemplateVersion
from runtime.db.models.providers import ModelConfig, Provider
from runtime.db.models.quotas import Quota
from runtime.db.models.training import Dataset, ModelServer, TrainingJob, TrainingMetric
from runtime.db.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "ChatMessage",
    "ChatSession",
    "CompareBatch",
    "CompareResult",
    "CompareRun",
    "CompareVote",
    "CompareVoteOutcome",
    "Dataset",
    "Document",
    "KnowledgeBase",
    "ModelAlias",
    "ModelAliasChange",
    "ModelConfig",
    "ModelServer",
    "OutboxEvent",
    "PromptTemplate",
    "PromptTemplateVersion",
    "Provider",
    "Quota",
    "RefreshToken",
    "Role",
    "TrainingEvaluation",
    "TrainingEvaluationExample",
    "TrainingJob",
    "TrainingMetric",
    "User",
    "Webhook",
    "WebhookDelivery",
    "new_id",
    "utcnow",
]
