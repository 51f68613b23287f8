"""/v1 stream framing: byte-exact OpenAI chunks built from pre-encoded parts."""

from __future__ import annotations

import base64
import json
import struct

from handlers.openai_api.convert import embedding_object
from handlers.openai_api.framing import ChunkFramer, error_event
from runtime.llm.presets import PRESETS, PRESETS_BY_ID
from runtime.llm.types import StreamError


def _decode(frame: bytes) -> dict[str, object]:
    assert frame.startswith(b"data: ")
    assert frame.endswith(b"\n\n")
    body: dict[str, object] = json.loads(frame[6:])
    return body


def test_chunks_are_openai_chat_completion_chunks() -> None:
    framer = ChunkFramer("chatcmpl-1", 1700, 'm"odel', include_usage=False)
    head = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700,
        "model": 'm"odel',
    }
    content = _decode(framer.content('a "quoted"\nline'))
    assert content == {
        **head,
        "choices": [
            {
                "index": 0,
                "delta": {"content": 'a "quoted"\nline'},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }
    assert _decode(framer.role())["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    reasoning = _decode(framer.reasoning("hm"))["choices"]
    assert reasoning[0]["delta"] == {"reasoning_content": "hm"}  # type: ignore[index]
    finish = _decode(framer.finish("length"))["choices"]
    assert finish[0]["delta"] == {}  # type: ignore[index]
    assert finish[0]["finish_reason"] == "length"  # type: ignore[index]
    assert _decode(framer.finish("weird"))["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]


def test_with_include_usage_every_chunk_carries_a_null_usage() -> None:
    framer = ChunkFramer("c", 1, "m", include_usage=True)
    assert _decode(framer.content("x"))["usage"] is None
    assert _decode(framer.finish("stop"))["usage"] is None


def test_mid_stream_errors_are_error_objects_the_sdks_raise() -> None:
    body = _decode(error_event(StreamError(error="rate_limited", message="slow")))
    assert body == {
        "error": {
            "message": "slow",
            "type": "upstream_error",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    }


def test_base64_embeddings_are_little_endian_float32() -> None:
    encoded = embedding_object(0, [1.5, -2.0], "base64").embedding
    assert isinstance(encoded, str)
    assert struct.unpack("<2f", base64.b64decode(encoded)) == (1.5, -2.0)


def test_presets_cover_the_documented_providers() -> None:
    assert len({p.id for p in PRESETS}) == len(PRESETS)
    wanted = {
        "openai",
        "deepseek",
        "qwen",
        "zhipu",
        "moonshot",
        "siliconflow",
        "openrouter",
        "groq",
        "mistral",
        "xai",
        "together",
        "fireworks",
        "ollama",
        "vllm",
        "lmstudio",
        "llamacpp",
        "anthropic",
        "gemini",
    }
    assert wanted <= PRESETS_BY_ID.keys()
    local = {p.id: p.base_url for p in PRESETS if not p.requires_key}
    assert local == {
        "ollama": "http://127.0.0.1:11434/v1",
        "vllm": "http://127.0.0.1:8000/v1",
        "lmstudio": "http://127.0.0.1:1234/v1",
        "llamacpp": "http://127.0.0.1:8080/v1",
    }
    assert all(p.base_url.startswith(("http://", "https://")) and p.docs_url for p in PRESETS)


async def test_stream_body_is_one_write_per_token_plus_one_at_the_end() -> None:
    from types import SimpleNamespace
    from typing import Any

    from handlers.openai_api.framing import DONE, sse_chunks
    from runtime.llm.types import ContentDelta, Finish, Usage

    class FakeStream:
        meter = SimpleNamespace(
            usage=Usage(input_tokens=3, output_tokens=2),
            server_timing=lambda: "upstream;dur=1",
        )

        async def __aiter__(self) -> Any:
            for delta in (ContentDelta("a"), ContentDelta("b"), Finish("stop")):
                yield delta

    framer = ChunkFramer("c", 1, "m", include_usage=True)
    writes = [w async for w in sse_chunks(FakeStream(), framer, include_usage=True)]  # type: ignore[arg-type]
    assert writes[0] == framer.role() + framer.content("a")
    assert writes[1] == framer.content("b")
    assert writes[2].startswith(framer.finish("stop") + b"data: ")
    assert writes[2].endswith(b": server-timing upstream;dur=1\n\n" + DONE)
    assert len(writes) == 3
