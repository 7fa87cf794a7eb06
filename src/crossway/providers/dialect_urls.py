"""One base URL per upstream dialect, for services that serve each API family under its own
prefix (OpenCode's console inference: `/inference/openai/v1`, `/inference/anthropic/v1`,
`/inference/google/v1beta`, listing at `/inference/v1/models`).

A mixin the registry puts in front of a backend's provider class when its settings carry
`dialect_urls`: the provider's own URL building runs unchanged, and its base is swapped for
the dialect's.
"""

from __future__ import annotations

from crossway.config.settings import Dialect
from crossway.providers.base import Instance, Provider
from crossway.transport.base import UpstreamRequest


class PerDialectURLs(Provider):
    def url_for(self, dialect: Dialect, model: str, *, stream: bool) -> str:
        url = super().url_for(dialect, model, stream=stream)
        base = self.settings.dialect_urls.get(dialect)
        if base is None or not url.startswith(self.base_url):
            return url
        return base + url[len(self.base_url):]

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        request = super().models_request(instance)
        if request is not None and request.url == self.base_url + "/models":
            request.url = self.base_url + "/v1/models"
        return request


def with_dialect_urls(cls: type[Provider]) -> type[Provider]:
    """`cls` with PerDialectURLs in front of it (one class per provider class)."""
    return type(f"{cls.__name__}PerDialect", (PerDialectURLs, cls), {})
