"""Dependencies of the LLM route families: the process's gateway."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from handlers.deps import services_of
from runtime.errors import ServiceUnavailable
from runtime.llm.gateway import Gateway


def provide_gateway(state: State) -> Gateway:
    gateway = services_of(state).llm
    if gateway is None:
        raise ServiceUnavailable("llm_unavailable", detail="The LLM gateway is not running.")
    return gateway


GATEWAY_DEPENDENCIES = {"gateway": Provide(provide_gateway, sync_to_thread=False)}
