"""Quotas: per-user and per-API-key request rates and monthly budgets, and their guard."""

from handlers.quotas.controller import QuotaAdminController, QuotaController
from handlers.quotas.enforcer import BudgetExceeded, QuotaEnforcer
from handlers.quotas.guard import enforcer_of, within_quota

QUOTA_CONTROLLERS = [QuotaAdminController, QuotaController]

__all__ = [
    "QUOTA_CONTROLLERS",
    "BudgetExceeded",
    "QuotaAdminController",
    "QuotaController",
    "QuotaEnforcer",
    "enforcer_of",
    "within_quota",
]
