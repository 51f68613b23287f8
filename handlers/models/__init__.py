"""Model configs: the models the platform offers, under the aliases clients send."""

from handlers.models.aliases_controller import ModelAliasController
from handlers.models.aliases_invalidation import alias_invalidation
from handlers.models.controller import ModelConfigController, model_config_read

__all__ = [
    "ModelAliasController",
    "ModelConfigController",
    "alias_invalidation",
    "model_config_read",
]
