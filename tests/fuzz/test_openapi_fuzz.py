"""Property-based fuzzing of the OpenAPI surface with schemathesis: every operation, as an
admin and as a plain user, must never answer 5xx and must answer as its schema declares.

Each caller owns one thing of every kind (a prompt, a chat with a message, a knowledge base
with a document, a dataset, a training job and its adapter, a webhook, a key, a compare run
and batch): half the cases aim at those ids, so the handlers behind the ownership lookups
meet generated bodies and queries too; the rest use generated ids. Valid (positive) and
invalid (negative) input both; invalid input must be a 4xx, never a crash.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.fixtures.app import PlatformFactory
from tests.integration.knowledge_support import knowledge_settings
from tests.integration.owned_support import owned_things
from tests.integration.permission_support import admin_session, login, make_user

# Bounded for CI (2 cores): examples per operation and caller, and a time budget after
# which the remaining operations are skipped (and listed). Deterministic: the same cases
# every run, so a failure reproduces. Dig deeper locally with LLMFORGE_FUZZ_EXAMPLES=100
# LLMFORGE_FUZZ_BUDGET=3600 (and LLMFORGE_FUZZ_DB=postgresql).
MAX_EXAMPLES = int(os.environ.get("LLMFORGE_FUZZ_EXAMPLES", "15"))
BUDGET_SECONDS = float(os.environ.get("LLMFORGE_FUZZ_BUDGET", "90"))

# Streams that stay open as long as the client listens: a fuzzer would only time out.
ENDLESS = {("GET", "/api/events")}
# A missing message is looked for for 2 s (its row may still be on the bus): these routes
# get the callers' own ids only, or each generated id would cost that wait.
OWN_IDS_ONLY = {"message_id"}

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
]
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# Routes whose answers are not declared yet (outside this suite's reach): held to "no 5xx"
# only, each with its fix. A route serving several formats lists their media types in
# ``opt={"media_types": (...)}`` (runtime/openapi.py documents them).
UNDECLARED_FORMATS = {
    ("GET", "/api/datasets/{dataset_id}/export"): "handlers/collect: declare "
    '``opt={"media_types": ("application/x-ndjson", "application/json")}``',  # bytes today
}


@dataclass
class Caller:
    headers: dict[str, str]
    # Path parameter name -> the id of the caller's own thing of that kind.
    ids: dict[str, str]


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    runs: int = 0
    calls: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _order(operation: Any) -> tuple[bool, str]:
    # Deletions last: the callers' things stay there for the other operations.
    return operation.method.upper() == "DELETE", operation.label


def _fuzz_all(schema_dict: dict[str, Any], base_url: str, callers: dict[str, Caller]) -> Report:
    """Synchronous (schemathesis drives ``requests``): runs in a thread beside the server."""
    schema = schemathesis.openapi.from_dict(schema_dict)
    report = Report()
    deadline = time.monotonic() + BUDGET_SECONDS
    session = requests.Session()
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    for operation in operations:
        if (operation.method.upper(), operation.path) in ENDLESS:
            continue
        for who, caller in callers.items():
            if time.monotonic() > deadline:
                report.skipped.append(f"{operation.label} as {who}")
                continue
            report.runs += 1
            started = time.monotonic()
            failure = _fuzz_one(operation, base_url, caller, session, report)
            report.seconds[f"{operation.label} as {who}"] = time.monotonic() - started
            if failure:
                report.failures.append(f"{operation.label} as {who}: {failure}")
    return report


def _follows_live(operation: Any) -> bool:
    """An event feed (GET, text/event-stream): open until what it follows ends."""
    ok = operation.definition.raw.get("responses", {}).get("200", {})
    return operation.method.upper() == "GET" and "text/event-stream" in ok.get("content", {})


def _strategy(operation: Any, caller: Caller) -> st.SearchStrategy[schemathesis.Case]:
    names = PATH_PARAMETER.findall(operation.path)
    mine = {name: caller.ids[name] for name in names if name in caller.ids}
    strategies = []
    if not OWN_IDS_ONLY & set(names):
        strategies += [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
    # The streams of the callers' own jobs, batches and documents follow them live, until
    # they end: with generated ids only (a 404 at once) or each case would wait out its time.
    if mine and not _follows_live(operation):
        strategies += [
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=mine),
            operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=mine),
        ]
    return st.one_of(strategies)


def _fuzz_one(
    operation: Any, base_url: str, caller: Caller, session: requests.Session, report: Report
) -> str | None:
    checks = CHECKS
    if (operation.method.upper(), operation.path) in UNDECLARED_FORMATS:
        checks = [not_a_server_error]

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: it would eat the budget
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=_strategy(operation, caller))
    def run(case: schemathesis.Case) -> None:
        report.calls += 1
        response = case.call(base_url=base_url, session=session, headers=caller.headers, timeout=30)
        case.validate_response(response, checks=checks)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups distinct failures
        return str(exc).strip()[:4000]
    return None


@pytest.fixture
def db_backend() -> str:
    # One database keeps CI in budget; LLMFORGE_FUZZ_DB=postgresql looks for dialect bugs.
    return os.environ.get("LLMFORGE_FUZZ_DB", "sqlite")


async def _caller(platform: Any, client: httpx.AsyncClient, email: str, role: str) -> Caller:
    user_id = await make_user(platform, email, role)
    headers = await login(client, email)
    things = await owned_things(platform, client, user_id, headers)
    return Caller(headers, {name: v for ids in things.values() for name, v in ids.items()})


async def test_no_operation_answers_5xx_or_outside_its_schema(
    platform_factory: PlatformFactory,
) -> None:
    platform = await platform_factory(
        # Webhooks to the loopback (a closed port); the shared embedding model cache.
        overrides={"webhooks_allow_private": True, "knowledge": knowledge_settings()}
    )
    async with httpx.AsyncClient(base_url=platform.url, timeout=30.0) as client:
        await admin_session(platform, client)  # the platform's first admin
        callers = {
            "admin": await _caller(platform, client, "fuzz-admin@example.com", "admin"),
            "user": await _caller(platform, client, "fuzz-user@example.com", "user"),
        }
        schema_dict = (await client.get("/schema/openapi.json")).json()
    started = time.monotonic()
    report = await asyncio.to_thread(_fuzz_all, schema_dict, platform.url, callers)
    print(
        f"fuzzed {report.runs} operation runs with {report.calls} calls "
        f"in {time.monotonic() - started:.0f} s"
    )
    slowest = sorted(report.seconds.items(), key=lambda item: -item[1])[:8]
    print("slowest:", ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest))
    if report.skipped:
        print(f"out of budget, not fuzzed this run: {report.skipped}")
    assert not report.failures, "\n\n".join(report.failures)
