"""Fake LLM providers for tests and benchmarks: real HTTP on loopback, each wire format exact."""

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import Disconnect, Exchange, FakeServer, RecordedRequest, Scenario
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.openai_server import FakeOpenAI

__all__ = [
    "Disconnect",
    "Exchange",
    "FakeAnthropic",
    "FakeGemini",
    "FakeOpenAI",
    "FakeServer",
    "RecordedRequest",
    "Scenario",
]
