"""Security headers on every response, chosen by what the response is: the web UI, the API
documentation pages, or anything else (JSON, SSE, CSV, assets)."""

from __future__ import annotations

from litestar.types import Scope

from runtime.settings import ServerSettings

RawHeaders = list[tuple[bytes, bytes]]

# The single-page app: a Vite build served from this origin. Styles need 'unsafe-inline'
# (Vue style bindings, Element Plus and ECharts set style attributes); scripts do not.
# img-src has no remote hosts on purpose: a model's Markdown answer cannot make the browser
# fetch an attacker's image URL (a prompt-injection exfiltration channel).
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# JSON, SSE, CSV, assets: nothing in them may load or run anything, nor be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Litestar's documentation pages (Redoc, Swagger, …) load their bundles from public CDNs
# with inline bootstrap scripts.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https:; "
    "style-src 'self' 'unsafe-inline' https:; img-src 'self' data: https:; "
    "font-src 'self' data: https:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# Features this platform never uses; denied so injected content cannot ask for them.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

_CONTENT_TYPE = b"content-type"
_CACHE_CONTROL = b"cache-control"
_CSP = b"content-security-policy"
_HTML = b"text/html"


def _encode(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode(), value.encode()) for name, value in headers.items())


class SecurityHeaders:
    """Appends the headers in place when a response starts (a ``request_context_middleware``
    hook): one scan of the response's few headers, then a precomputed tuple per kind."""

    def __init__(self, *, hsts_max_age: int = 0, docs_path: str | None = "/schema") -> None:
        common = {
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            "permissions-policy": PERMISSIONS_POLICY,
        }
        if hsts_max_age > 0:
            # Only when configured: it pins browsers to HTTPS for this host for max-age.
            common["strict-transport-security"] = f"max-age={hsts_max_age}"
        page = {**common, "cross-origin-opener-policy": "same-origin"}
        self._ui = _encode({**page, "content-security-policy": UI_CSP})
        self._docs = _encode({**page, "content-security-policy": DOCS_CSP})
        self._api = _encode({**common, "content-security-policy": API_CSP})
        self._api_no_csp = _encode(common)
        # Tokens, keys and personal data must not sit in a browser or proxy cache; routes
        # that want caching (the web UI's files, SSE) say so themselves.
        self._no_store = ((_CACHE_CONTROL, b"no-store"),)
        self._docs_prefix = docs_path.rstrip("/") if docs_path else None

    @classmethod
    def from_settings(cls, server: ServerSettings, docs_path: str | None) -> SecurityHeaders:
        return cls(hsts_max_age=server.hsts_max_age, docs_path=docs_path)

    def __call__(self, scope: Scope, headers: RawHeaders) -> None:
        html = has_cache_control = has_csp = False
        for name, value in headers:
            if name == _CONTENT_TYPE:
                html = value.startswith(_HTML)
            elif name == _CACHE_CONTROL:
                has_cache_control = True
            elif name == _CSP:
                has_csp = True
        if html:
            docs = self._docs_prefix is not None and scope["path"].startswith(self._docs_prefix)
            headers.extend(self._docs if docs else self._ui)
            return
        headers.extend(self._api_no_csp if has_csp else self._api)
        if not has_cache_control:
            headers.extend(self._no_store)
