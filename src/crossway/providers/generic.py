"""Generic backends declared in YAML: any OpenAI-compatible service (OpenAI, DeepSeek, vLLM,
Ollama, OpenRouter, ...) and any native Anthropic service."""

from __future__ import annotations

from crossway.config.settings import Dialect
from crossway.dialects import Capabilities
from crossway.providers.base import Provider


class OpenAICompatibleProvider(Provider):
    default_dialect: Dialect = "openai_chat"

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities(anthropic_native=False)


class AnthropicProvider(Provider):
    default_dialect: Dialect = "anthropic"

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities(anthropic_native=True)
