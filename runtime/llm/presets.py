"""Known providers: base URL, wire protocol and docs, so adding one is a name and a key."""

from __future__ import annotations

from typing import Literal

import msgspec

ProviderType = Literal["openai-compatible", "anthropic", "gemini", "dify"]
PROVIDER_TYPES: tuple[str, ...] = ("openai-compatible", "anthropic", "gemini", "dify")


class Preset(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    type: ProviderType
    base_url: str
    requires_key: bool
    docs_url: str
    notes: str = ""


def _oa(
    id: str, name: str, base_url: str, docs_url: str, notes: str = "", *, key: bool = True
) -> Preset:
    return Preset(
        id=id,
        name=name,
        type="openai-compatible",
        base_url=base_url,
        requires_key=key,
        docs_url=docs_url,
        notes=notes,
    )


_LOCAL = "Local server: no key unless you started it with one."

PRESETS: tuple[Preset, ...] = (
    _oa("openai", "OpenAI", "https://api.openai.com/v1", "https://platform.openai.com/docs"),
    _oa(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        "https://api-docs.deepseek.com/",
        "deepseek-reasoner streams its thinking as reasoning_content.",
    ),
    _oa(
        "qwen",
        "Qwen (DashScope compatible mode)",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "https://help.aliyun.com/zh/model-studio/compatibility-of-openai-with-dashscope",
        "Outside mainland China use https://dashscope-intl.aliyuncs.com/compatible-mode/v1.",
    ),
    _oa(
        "zhipu",
        "Zhipu GLM (BigModel)",
        "https://open.bigmodel.cn/api/paas/v4",
        "https://docs.bigmodel.cn/",
        "International endpoint: https://api.z.ai/api/paas/v4.",
    ),
    _oa(
        "moonshot",
        "Moonshot (Kimi)",
        "https://api.moonshot.cn/v1",
        "https://platform.moonshot.cn/docs",
        "International endpoint: https://api.moonshot.ai/v1.",
    ),
    _oa(
        "siliconflow",
        "SiliconFlow",
        "https://api.siliconflow.cn/v1",
        "https://docs.siliconflow.cn/",
    ),
    _oa(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        "https://openrouter.ai/docs",
        "Model ids look like vendor/model, e.g. anthropic/claude-sonnet-4.",
    ),
    _oa("groq", "Groq", "https://api.groq.com/openai/v1", "https://console.groq.com/docs/openai"),
    _oa("mistral", "Mistral", "https://api.mistral.ai/v1", "https://docs.mistral.ai/api/"),
    _oa("xai", "xAI (Grok)", "https://api.x.ai/v1", "https://docs.x.ai/docs/api-reference"),
    _oa(
        "together",
        "Together AI",
        "https://api.together.xyz/v1",
        "https://docs.together.ai/docs/openai-api-compatibility",
    ),
    _oa(
        "fireworks",
        "Fireworks AI",
        "https://api.fireworks.ai/inference/v1",
        "https://docs.fireworks.ai/tools-sdks/openai-compatibility",
    ),
    _oa(
        "ollama",
        "Ollama",
        "http://127.0.0.1:11434/v1",
        "https://github.com/ollama/ollama/blob/main/docs/openai.md",
        _LOCAL,
        key=False,
    ),
    _oa(
        "vllm",
        "vLLM",
        "http://127.0.0.1:8000/v1",
        "https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
        _LOCAL + " Port 8000 clashes with llmforge's default port.",
        key=False,
    ),
    _oa(
        "lmstudio",
        "LM Studio",
        "http://127.0.0.1:1234/v1",
        "https://lmstudio.ai/docs/app/api/endpoints/openai",
        _LOCAL,
        key=False,
    ),
    _oa(
        "llamacpp",
        "llama.cpp server",
        "http://127.0.0.1:8080/v1",
        "https://github.com/ggml-org/llama.cpp/tree/master/tools/server",
        _LOCAL,
        key=False,
    ),
    Preset(
        id="anthropic",
        name="Anthropic",
        type="anthropic",
        base_url="https://api.anthropic.com",
        requires_key=True,
        docs_url="https://docs.anthropic.com/en/api/messages",
        notes="Extended thinking arrives as reasoning.",
    ),
    Preset(
        id="gemini",
        name="Google Gemini",
        type="gemini",
        base_url="https://generativelanguage.googleapis.com",
        requires_key=True,
        docs_url="https://ai.google.dev/api",
        notes="Thought summaries arrive as reasoning.",
    ),
)

PRESETS_BY_ID: dict[str, Preset] = {p.id: p for p in PRESETS}


def preset(preset_id: str) -> Preset | None:
    return PRESETS_BY_ID.get(preset_id)
