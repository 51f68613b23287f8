"""Helpers of the evaluation, alias and closed-loop tests: a scripted provider and a judge."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import httpx

from handlers.evaluation.judge import JUDGE_SYSTEM
from tests.fakes.base import Exchange, RecordedRequest, Scenario
from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures.fake_providers import FAKE_API_KEY
from tests.integration.gateway_support import add_model, add_provider

# (answer A, answer B, the reference answer or "") -> the judge's reply
Judge = Callable[[str, str, str], str]
_ANSWER = re.compile(r"\[Answer (A|B)\]\n(.*?)\n\[End of answer \1\]", re.DOTALL)
_REFERENCE = re.compile(r"\[Reference answer, for guidance\]\n(.*?)\n\n\[Answer A\]", re.DOTALL)


def prefers(marker: str) -> Judge:
    """A judge that prefers the answer containing ``marker`` (whatever its position)."""

    def decide(a: str, b: str, reference: str) -> str:
        if (marker in a) == (marker in b):
            return "They are equally good.\nVERDICT: TIE"
        return f"One answer is better.\nVERDICT: {'A' if marker in a else 'B'}"

    return decide


def always_first(a: str, b: str, reference: str) -> str:
    """A judge with pure position bias."""
    return "The first one.\nVERDICT: A"


def closer_to_reference(a: str, b: str, reference: str) -> str:
    """Prefers the answer sharing more words with the reference; a tie when level."""
    words = set(reference.lower().split())
    score_a, score_b = (len(words & set(x.lower().split())) for x in (a, b))
    if score_a == score_b:
        return "Equally close to the reference.\nVERDICT: TIE"
    return f"Closer to the reference.\nVERDICT: {'A' if score_a > score_b else 'B'}"


def is_judge_call(request: RecordedRequest) -> bool:
    messages = (request.json or {}).get("messages", [])
    return bool(messages) and messages[0].get("content") == JUDGE_SYSTEM


def judged_answers(request: RecordedRequest) -> dict[str, str]:
    """The answers a judge request showed, by position ("A", "B")."""
    prompt = request.json["messages"][-1]["content"]
    return {m.group(1): m.group(2) for m in _ANSWER.finditer(prompt)}


def reference_of(request: RecordedRequest) -> str:
    found = _REFERENCE.search(request.json["messages"][-1]["content"])
    return found.group(1) if found else ""


class ScriptedFake(FakeOpenAI):
    """Answers each upstream model with its own text; judge requests go to ``judge``."""

    def __init__(self, answers: dict[str, str], judge: Judge | None = None) -> None:
        super().__init__(api_key=FAKE_API_KEY)
        self.answers = answers
        self.judge = judge
        self.scenario = dataclasses.replace(self.scenario, models=list(answers))

    def chat_requests(self, model: str) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == "/v1/chat/completions" and (r.json or {}).get("model") == model
        ]

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        request = exchange.request
        if request.path == "/v1/chat/completions" and scenario.status == 200:
            if is_judge_call(request) and self.judge is not None:
                shown = judged_answers(request)
                text = self.judge(shown.get("A", ""), shown.get("B", ""), reference_of(request))
            else:
                text = self.answers.get(request.json.get("model"), "I do not know that model.")
            # One token per word, so the usage the fake reports is predictable.
            scenario = dataclasses.replace(scenario, tokens=re.findall(r"\S+\s*", text))
        await super().handle(exchange, scenario)


async def fake_models(
    client: httpx.AsyncClient, admin: dict[str, str], fake: ScriptedFake, name: str = "scripted"
) -> dict[str, str]:
    """One provider for the fake and one model config per scripted model: upstream -> id."""
    provider = await add_provider(
        client,
        admin,
        type="openai-compatible",
        name=name,
        base_url=fake.base_url,
        api_key=FAKE_API_KEY,
    )
    ids = {}
    for upstream in fake.answers:
        model = await add_model(
            client, admin, provider_id=provider["id"], model_id=upstream, alias=upstream
        )
        ids[upstream] = str(model["id"])
    return ids


async def chat(
    client: httpx.AsyncClient, key: str, model: str, content: str = "Hello?", **extra: Any
) -> httpx.Response:
    """A non-streamed /v1 chat completion with a personal API key."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }
    return await client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )
