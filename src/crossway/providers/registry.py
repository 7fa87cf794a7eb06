"""Backend `type` -> provider class. A new provider family registers here, nowhere else."""

from __future__ import annotations

from crossway.config.settings import BackendSettings
from crossway.errors import ConfigError
from crossway.providers.base import Provider
from crossway.providers.generic import AnthropicProvider, OpenAICompatibleProvider
from crossway.providers.opencode import OpenCodeProvider

PROVIDER_TYPES: dict[str, type[Provider]] = {
    "opencode-go": OpenCodeProvider,
    "opencode-zen": OpenCodeProvider,
    "openai": OpenAICompatibleProvider,
    "anthropic": AnthropicProvider,
}


def backend_types() -> tuple[str, ...]:
    return tuple(PROVIDER_TYPES)


def build_provider(settings: BackendSettings) -> Provider:
    cls = PROVIDER_TYPES.get(settings.type)
    if cls is None:
        raise ConfigError(f"backend {settings.name}: unknown type {settings.type!r}; known "
                          f"types: {', '.join(PROVIDER_TYPES)}")
    return cls(settings)
