"""LLM provider adapters: one normalized stream over OpenAI-compatible, Anthropic and Gemini."""
