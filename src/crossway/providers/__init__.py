"""Upstream providers: where and how to call, model catalogs, error remapping."""

from __future__ import annotations

from crossway.config.settings import BackendSettings
from crossway.providers.base import Instance, ModelInfo, Provider, UpstreamFailure
from crossway.providers.generic import AnthropicProvider, OpenAICompatibleProvider
from crossway.providers.opencode import OpenCodeProvider

__all__ = ["Instance", "ModelInfo", "Provider", "UpstreamFailure", "build_provider"]


def build_provider(settings: BackendSettings) -> Provider:
    if settings.type in ("opencode-go", "opencode-zen"):
        return OpenCodeProvider(settings)
    if settings.type == "anthropic":
        return AnthropicProvider(settings)
    return OpenAICompatibleProvider(settings)
