"""LLM providers: CRUD with encrypted keys, presets, connection tests, model lists."""

from handlers.providers.controller import PresetController, ProviderController, provider_read
from handlers.providers.deps import GATEWAY_DEPENDENCIES, provide_gateway

PROVIDER_CONTROLLERS = [PresetController, ProviderController]

__all__ = [
    "GATEWAY_DEPENDENCIES",
    "PROVIDER_CONTROLLERS",
    "ProviderController",
    "provide_gateway",
    "provider_read",
]
