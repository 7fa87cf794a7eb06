"""Azure OpenAI: the deployment in the path, `api-version` in the query, an `api-key` header.

AZURE_BASE_URL is the resource endpoint (`https://NAME.openai.azure.com`, with or without
`/openai`); a model id is the deployment name. A base URL ending in `/openai/v1` selects
Azure's v1 API instead, which takes the model in the body like OpenAI and no api-version.
Deployments cannot be listed with an API key, so models come from AZURE_MODELS (or are named
explicitly: `azure/<deployment>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crossway.config.settings import BackendSettings, Dialect
from crossway.providers.base import Instance
from crossway.providers.generic import OpenAICompatibleProvider
from crossway.transport.base import UpstreamRequest

if TYPE_CHECKING:
    from crossway.routing.plan import Target

DEFAULT_API_VERSION = "2024-10-21"

_PATHS = {"openai_chat": "/chat/completions", "openai_responses": "/responses"}


class AzureOpenAIProvider(OpenAICompatibleProvider):
    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        base = self.base_url.removesuffix("/")
        self.v1 = base.endswith("/openai/v1")
        self.resource = base if self.v1 else base.removesuffix("/openai")
        self.api_version = settings.options.get("API_VERSION") or DEFAULT_API_VERSION

    def url_for(self, dialect: Dialect, model: str, *, stream: bool) -> str:
        path = _PATHS.get(dialect, "/chat/completions")
        if self.v1:
            return self.resource + path
        return f"{self.resource}/openai/deployments/{quote(model, safe='')}{path}"

    def prepare(self, target: Target, body: dict[str, Any], *, stream: bool,
                session_id: str, client_headers: Mapping[str, str]) -> UpstreamRequest:
        request = super().prepare(target, body, stream=stream, session_id=session_id,
                                  client_headers=client_headers)
        if not self.v1:
            request.params["api-version"] = self.api_version
        return request

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        h = super().headers(target, session_id=session_id, stream=stream,
                            client_headers=client_headers)
        h.pop("authorization", None)
        h["api-key"] = target.instance.key.key
        return h

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        return None
