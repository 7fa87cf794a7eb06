"""Backend `type` -> provider class. A new provider family registers here, nowhere else.

Every preset of crossway.providers.presets is a type; the OpenAI-compatible ones share one
class, driven by their preset's data.
"""

from __future__ import annotations

from crossway.config.settings import BackendSettings
from crossway.errors import ConfigError
from crossway.providers.azure import AzureOpenAIProvider
from crossway.providers.base import Provider
from crossway.providers.bedrock import BedrockProvider
from crossway.providers.dialect_urls import with_dialect_urls
from crossway.providers.gemini import GeminiProvider, VertexProvider
from crossway.providers.generic import AnthropicProvider, OpenAICompatibleProvider
from crossway.providers.opencode import OpenCodeProvider
from crossway.providers.presets import PRESETS

_FAMILIES: dict[str, type[Provider]] = {
    "opencode-go": OpenCodeProvider,
    "opencode-zen": OpenCodeProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "vertex": VertexProvider,
    "azure": AzureOpenAIProvider,
    "bedrock": BedrockProvider,
}

PROVIDER_TYPES: dict[str, type[Provider]] = {
    "opencode-go": OpenCodeProvider,
    "opencode-zen": OpenCodeProvider,
    "openai": OpenAICompatibleProvider,
    "anthropic": AnthropicProvider,
    **{p.name: _FAMILIES.get(p.name, OpenAICompatibleProvider) for p in PRESETS},
}


def backend_types() -> tuple[str, ...]:
    return tuple(PROVIDER_TYPES)


def build_provider(settings: BackendSettings) -> Provider:
    cls = PROVIDER_TYPES.get(settings.type)
    if cls is None:
        raise ConfigError(f"backend {settings.name}: unknown type {settings.type!r}; known "
                          f"types: {', '.join(PROVIDER_TYPES)}")
    if settings.dialect_urls:
        cls = with_dialect_urls(cls)
    return cls(settings)
