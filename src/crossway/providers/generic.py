"""Generic backends declared in YAML: any OpenAI-compatible service (OpenAI, DeepSeek, vLLM,
Ollama, OpenRouter, ...) and any native Anthropic service."""

from __future__ import annotations

from crossway.config.settings import Dialect
from crossway.dialects import Capabilities
from crossway.providers.base import Provider
from crossway.providers.catalog import family_capabilities


class OpenAICompatibleProvider(Provider):
    default_dialect: Dialect = "openai_chat"

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        # Same-named families behave the same behind any OpenAI-compatible host
        # (DeepSeek's own API, a vLLM serving Kimi, ...).
        return family_capabilities(model, dialect)


class AnthropicProvider(Provider):
    default_dialect: Dialect = "anthropic"

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities(anthropic_native=True)
