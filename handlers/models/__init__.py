"""Model configs: the models the platform offers, under the aliases clients send."""

from handlers.models.controller import ModelConfigController, model_config_read

__all__ = ["ModelConfigController", "model_config_read"]
