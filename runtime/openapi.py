"""The served OpenAPI document, corrected where Litestar's generated one differs from what
the API answers: each route family's error format, empty 204s, event streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RapidocRenderPlugin,
    RedocRenderPlugin,
    StoplightRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.response import ServerSentEvent
from litestar.routes import HTTPRoute

if TYPE_CHECKING:
    from litestar import Litestar, Request

Document = dict[str, Any]
_TEXT: Document = {"type": "string"}
RenderPlugin = TypeVar("RenderPlugin", bound=OpenAPIRenderPlugin)

# Litestar documents a 400 for every route that takes input, in the shape of its own
# ValidationException; our exception handlers answer in these formats instead.
PROBLEM = "Problem"
OPENAI_ERROR = "OpenAIError"
ANTHROPIC_ERROR = "AnthropicError"
DIFY_ERROR = "DifyError"
_ERROR_FORMATS = (
    # (path prefix, media type, component), first match wins
    ("/v1/messages", "application/json", ANTHROPIC_ERROR),
    ("/v1/", "application/json", OPENAI_ERROR),
    ("/api/dify/", "application/json", DIFY_ERROR),
    ("/", "application/problem+json", PROBLEM),
)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A route whose success comes in several formats (a ``format`` query) lists their media
# types in ``opt={"media_types": (...)}``; Litestar documents one.
MEDIA_TYPES_OPT = "media_types"
# One event of a text/event-stream body, as schemathesis and OpenAPI 3.2 read SSE.
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


class RouteFacts(msgspec.Struct, frozen=True):
    """What the document needs from the app's handlers, by (method, path)."""

    streams: frozenset[tuple[str, str]] = frozenset()
    formats: dict[tuple[str, str], tuple[str, ...]] = msgspec.field(default_factory=dict)


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Litestar's schema routes under ``/schema`` (Redoc at the root, Swagger, Elements,
    RapiDoc, the JSON and YAML documents), each serving the corrected document."""
    return [
        _corrected(RedocRenderPlugin)(),
        _corrected(SwaggerRenderPlugin)(),
        _corrected(StoplightRenderPlugin)(),
        _corrected(RapidocRenderPlugin)(),
        _corrected(JsonRenderPlugin)(),
        _corrected(YamlRenderPlugin)(),
    ]


def _corrected(base: type[RenderPlugin]) -> type[RenderPlugin]:
    class Corrected(base):  # type: ignore[valid-type,misc]
        def render(self, request: Request[Any, Any, Any], openapi_schema: Document) -> bytes:
            # Litestar builds the document once per app and hands every route the same
            # dict: correct it the first time (the Problem component marks it done).
            if PROBLEM not in openapi_schema.get("components", {}).get("schemas", {}):
                correct(openapi_schema, route_facts(request.app))
            rendered: bytes = super().render(request, openapi_schema)
            return rendered

    Corrected.__name__ = Corrected.__qualname__ = base.__name__
    return cast("type[RenderPlugin]", Corrected)


def correct(document: Document, facts: RouteFacts) -> Document:
    """Fix ``document`` in place (and return it)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(_error_components())
    for path, method, operation in _operations(document):
        responses = operation.get("responses", {})
        for status, response in responses.items():
            if status == "204":
                # Litestar gives Response[None] a JSON "null" body; a 204 has no body at all.
                response.pop("content", None)
            elif status == "400" and _is_litestar_validation(response):
                media, component = next(
                    (media, name)
                    for prefix, media, name in _ERROR_FORMATS
                    if path.startswith(prefix)
                )
                response["description"] = "The request is invalid"
                response["content"] = {
                    media: {"schema": {"$ref": f"#/components/schemas/{component}"}}
                }
        ok = responses.get("200")
        if ok is None:
            continue
        if (method, path) in facts.streams:
            ok["description"] = "Server-sent events"
            ok["content"] = {"text/event-stream": {"schema": _SSE_EVENT}}
        elif formats := facts.formats.get((method, path)):
            generated = ok.get("content", {})
            ok["content"] = {
                media: generated.get(media, {"schema": {} if "json" in media else _TEXT})
                for media in formats
            }
    return document


def _operations(document: Document) -> Iterator[tuple[str, str, Document]]:
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _is_litestar_validation(response: Document) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return "status_code" in schema.get("properties", {})


def route_facts(app: Litestar) -> RouteFacts:
    streams: set[tuple[str, str]] = set()
    formats: dict[tuple[str, str], tuple[str, ...]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            keys = [(m.lower(), route.path_format) for m in handler.http_methods]
            returned = handler.parsed_fn_signature.return_type.annotation
            if isinstance(returned, type) and issubclass(returned, ServerSentEvent):
                streams.update(keys)
            if media_types := handler.opt.get(MEDIA_TYPES_OPT):
                formats.update(dict.fromkeys(keys, tuple(media_types)))
    return RouteFacts(streams=frozenset(streams), formats=formats)


def _error_components() -> Document:
    # Imported here: the route families' error bodies live with their handlers.
    from handlers.anthropic_api.errors import AnthropicError, AnthropicErrorDetail
    from handlers.dify.schemas import DifyError
    from handlers.openai_api.errors import ErrorBody, ErrorDetail
    from runtime.errors import Problem

    names = {
        "Problem": PROBLEM,
        "ErrorBody": OPENAI_ERROR,
        "ErrorDetail": "OpenAIErrorDetail",
        "DifyError": DIFY_ERROR,
        "AnthropicError": ANTHROPIC_ERROR,
        "AnthropicErrorDetail": "AnthropicErrorDetail",
    }
    _, schemas = msgspec.json.schema_components(
        (Problem, ErrorBody, ErrorDetail, DifyError, AnthropicError, AnthropicErrorDetail),
        ref_template="#/components/schemas/{name}",
    )
    text = msgspec.json.encode({names[k]: v for k, v in schemas.items()}).decode()
    for old, new in names.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    components: Document = msgspec.json.decode(text)
    return components
