"""Health probes and the generated AsyncAPI document."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from events.schema import asyncapi_document
from handlers.system.checks import Readiness, readiness
from runtime.services import Services


class Liveness(msgspec.Struct, kw_only=True):
    status: str = "ok"


class SystemController(Controller):
    tags = ["system"]

    @get("/health/live", operation_id="healthLive", opt={"public": True})
    async def live(self) -> Liveness:
        return Liveness()

    @get("/health/ready", operation_id="healthReady", opt={"public": True})
    async def ready(self, services: Services) -> Response[Readiness]:
        result = await readiness(services)
        status = HTTP_200_OK if result.status == "ready" else HTTP_503_SERVICE_UNAVAILABLE
        return Response(result, status_code=status)

    @get("/asyncapi.json", operation_id="asyncapiDocument", opt={"public": True})
    async def asyncapi(self) -> dict[str, Any]:
        return _ASYNCAPI


_ASYNCAPI = asyncapi_document()
