"""Upstream providers: where and how to call, model catalogs, error remapping."""

from __future__ import annotations

from crossway.providers.base import Instance, ModelInfo, Provider, UpstreamFailure
from crossway.providers.registry import build_provider

__all__ = ["Instance", "ModelInfo", "Provider", "UpstreamFailure", "build_provider"]
