"""Every metric the process exports, on one registry, and the cheap hooks that feed them."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    disable_created_metrics,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from events.llm import LlmCallData
from runtime.observability.http import HttpMetrics

# `*_created` timestamps double the series count and no dashboard here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Our own registry, not prometheus_client's global one: a library that registers on the
# global registry cannot collide with these names or leak series into /metrics.
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# The HTTP series are kept by the middleware itself (runtime/observability/http.py).
HTTP_METRICS = HttpMetrics()
REGISTRY.register(HTTP_METRICS)

LLM_CALLS = Counter(
    "llmforge_llm_calls",
    "Gateway calls by model alias and outcome (ok, error, cancelled).",
    ["model", "status"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "llmforge_llm_tokens",
    "Tokens of gateway calls by model alias and kind; reasoning tokens are part of output.",
    ["model", "kind"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "llmforge_llm_cost",
    "Cost of gateway calls by model alias, in the model config's currency unit.",
    ["model"],
    registry=REGISTRY,
)

SCRAPE_ERRORS = Counter(
    "llmforge_scrape_errors",
    "Scrape-time sources (consumers, dead_letters, training_jobs) that failed or timed out.",
    ["source"],
    registry=REGISTRY,
)
SCRAPE_SOURCES = ("consumers", "dead_letters", "training_jobs")
for _source in SCRAPE_SOURCES:
    # Present at zero from the start, so a rate() or an alert has a series to read.
    SCRAPE_ERRORS.labels(_source)


def observe_llm_call(data: LlmCallData) -> None:
    """Count one finished gateway call: once per call, never per token."""
    model = data.model_alias
    LLM_CALLS.labels(model, data.status).inc()
    LLM_TOKENS.labels(model, "input").inc(data.input_tokens)
    LLM_TOKENS.labels(model, "output").inc(data.output_tokens)
    LLM_TOKENS.labels(model, "reasoning").inc(data.reasoning_tokens)
    if data.cost:
        LLM_COST.labels(model).inc(data.cost)
