"""Generic backends: any OpenAI-compatible service (OpenAI, DeepSeek, Groq, OpenRouter, Z.ai,
xAI, Bailian, MiniMax, Xiaomi, Oracle, vLLM, Ollama, ...) and any native Anthropic service.

One class each; what differs between services is data: the preset named by the backend's
settings (crossway.providers.presets) gives quirk flags, which become capabilities of its
models, and a models listing shape. A YAML backend without a preset gets none of them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from crossway.config.settings import BackendSettings, Dialect
from crossway.dialects import Capabilities
from crossway.errors import AuthenticationFailed, CrosswayError, InvalidRequest, UpstreamError
from crossway.providers.base import Instance, ModelInfo, Provider, UpstreamFailure
from crossway.providers.catalog import family_capabilities
from crossway.providers.presets import Preset, Quirks, preset
from crossway.providers.quirks import apply_chat_quirks, apply_responses_quirks
from crossway.transport.base import UpstreamRequest

if TYPE_CHECKING:
    from crossway.routing.plan import Target

# OpenAI's reasoning models (o-series, GPT-5 except its chat variants): the quirk flags of
# the OpenAI and Azure presets apply to these ids only.
_REASONING_MODEL = re.compile(r"^(?:o\d|gpt-5(?!.*-chat))")
# Z.ai's code for an invalid parameter; an always-thinking GLM model uses it to refuse
# `thinking: disabled`.
_ZAI_INVALID = "[1210]"


def preset_of(settings: BackendSettings) -> Preset | None:
    if not settings.preset:
        return None
    try:
        return preset(settings.preset)
    except KeyError:
        return None


def apply_quirks(caps: Capabilities, quirks: Quirks, model: str,
                 reasoning_models: frozenset[str] = frozenset()) -> Capabilities:
    """A model's capabilities with its provider's quirk flags folded in. `reasoning_models`:
    ids known to be reasoning models whatever their name (Azure deployments are named by
    their owner: AZURE_REASONING_MODELS)."""
    reasoning = model in reasoning_models or bool(
        _REASONING_MODEL.match(model.rsplit("/", 1)[-1]))
    changes: dict[str, Any] = {}
    if quirks.max_completion_tokens:
        changes["max_completion_tokens"] = True
    if quirks.reasoning_rejects_sampling and reasoning:
        changes["reasoning_rejects_sampling"] = True
        changes["reasoning_effort"] = True
    if quirks.reasoning_replay:
        changes["reasoning_replay"] = True
    if quirks.thinking_switch:
        changes["thinking_switch"] = True
    if quirks.always_thinking:
        changes["always_thinking"] = True
    if quirks.reasoning_field:
        changes["reasoning_field"] = True
        changes["reasoning_effort"] = True
    if quirks.anthropic_native:
        changes["anthropic_native"] = True
    return dataclasses.replace(caps, **changes) if changes else caps


def key_refused(provider: Provider, instance: Instance, err: CrosswayError) -> CrosswayError:
    """An upstream that refuses our key is not the client's credentials failing: a 401 would
    make Claude Code ask its user to log in again. Say which key was refused instead."""
    if not isinstance(err, AuthenticationFailed):
        return err
    out = UpstreamError(f"{instance.name} ({provider.base_url}) rejected the API key from "
                        f"{instance.key.source}: {err.message}", code=err.code)
    out.should_retry = False
    return out


class PresetMixin(Provider):
    """What every preset-driven provider shares: quirks as capabilities, keyless instances,
    the models mode, and the listing shape."""

    def __init__(self, settings: BackendSettings) -> None:
        self.preset = preset_of(settings)
        super().__init__(settings)
        # The routing runtime reads listings of backends that have one (discovery.py);
        # an allowlist exposes its configured models and nothing else (seed 003).
        self.lists_models = bool(self.instances) and settings.models_mode != "allowlist" \
            and self.preset is not None and self.preset.models_path is not None
        if settings.models_mode == "allowlist":
            self.open_catalog = False

    @property
    def quirks(self) -> Quirks:
        return self.preset.quirks if self.preset is not None else Quirks()

    # ------------------------------------------------------------ a dialect per model

    def dialect_for(self, model: str) -> Dialect:
        """The dialect `model` is served on; providers whose models differ override it."""
        return self.default_dialect

    def builtin_models(self) -> dict[str, Dialect]:
        return {m: self.dialect_for(m) for m in self.settings.models}

    def guess_dialect(self, model: str) -> Dialect | None:
        return self.dialect_for(model)

    def lookup(self, model: str, *, explicit: bool) -> ModelInfo | None:
        if model in self._models or not (explicit and self.open_catalog):
            return super().lookup(model, explicit=explicit)
        dialect = self.dialect_for(model)
        return ModelInfo(model, dialect, self.capabilities(model, dialect))

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        h = super().headers(target, session_id=session_id, stream=stream,
                            client_headers=client_headers)
        if not target.instance.key.key:
            # Ollama, vLLM without --api-key: no credential at all rather than an empty one.
            h.pop("authorization", None)
            h.pop("x-api-key", None)
        return h

    def map_error(self, instance: Instance, failure: UpstreamFailure) -> CrosswayError:
        return key_refused(self, instance, super().map_error(instance, failure))

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        if self.settings.models_mode == "allowlist":
            return None  # seed 003: an allowlist skips the upstream listing
        if self.preset is not None and self.preset.models_path is None:
            return None
        return super().models_request(instance)

    def parse_models(self, body: bytes) -> list[str]:
        listed = self.listed_models(body)
        configured = list(self.settings.models)
        if self.settings.models_mode == "allowlist":
            return configured
        if self.settings.models_mode == "fallback" and not listed:
            return configured
        return listed

    def listed_models(self, body: bytes) -> list[str]:
        return super().parse_models(body)


_RESPONSES: Dialect = "openai_responses"


class OpenAICompatibleProvider(PresetMixin):
    default_dialect: Dialect = "openai_chat"

    def dialect_for(self, model: str) -> Dialect:
        # OpenAI serves its -pro and codex models on /responses only.
        pattern = self.quirks.responses_models
        if pattern and re.search(pattern, model.rsplit("/", 1)[-1]):
            return _RESPONSES
        return self.default_dialect

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        # Same-named families behave the same behind any OpenAI-compatible host
        # (DeepSeek's own API, a vLLM serving Kimi, ...).
        listed = self.settings.options.get("REASONING_MODELS") or ""
        reasoning = frozenset(m.strip() for m in listed.split(",") if m.strip())
        return apply_quirks(family_capabilities(model, dialect), self.quirks, model, reasoning)

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        h = super().headers(target, session_id=session_id, stream=stream,
                            client_headers=client_headers)
        # OpenRouter's optional attribution headers, from the backend's options.
        for name in self.quirks.optional_headers:
            value = self.settings.options.get(name.upper().replace("-", "_"))
            if value:
                h[name] = value
        return h

    def prepare(self, target: Target, body: dict[str, Any], *, stream: bool, session_id: str,
                client_headers: Mapping[str, str]) -> UpstreamRequest:
        if target.dialect == self.default_dialect:
            body = apply_chat_quirks(body, target.caps)
        elif target.dialect == _RESPONSES:
            body = apply_responses_quirks(body, target.caps)
        return super().prepare(target, body, stream=stream, session_id=session_id,
                               client_headers=client_headers)

    def map_error(self, instance: Instance, failure: UpstreamFailure) -> CrosswayError:
        if failure.status == 400 and _ZAI_INVALID in failure.message and \
                "think" in failure.message.lower():
            return InvalidRequest(
                f"{failure.message} ({self.name}: this model always thinks and cannot be "
                "asked not to)", code=failure.error_class)
        return super().map_error(instance, failure)


class AnthropicProvider(PresetMixin):
    """A real Anthropic upstream (or a compatible one declared in YAML)."""

    default_dialect: Dialect = "anthropic"

    def count_tokens_request(self, target: Target, body: dict[str, Any], *, session_id: str,
                             client_headers: Mapping[str, str]) -> UpstreamRequest:
        """`POST /v1/messages/count_tokens` for the client's body: Anthropic counts exactly
        (its tokenizer, tools and images included) where crossway can only estimate."""
        headers = self.headers(target, session_id=session_id, stream=False,
                               client_headers=client_headers)
        return UpstreamRequest("POST", self.base_url + "/messages/count_tokens", headers,
                               orjson.dumps({**body, "model": target.model.id}))

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities(anthropic_native=True)

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        request = super().models_request(instance)
        if request is None:
            return None
        # Anthropic lists with its own auth headers; 1000 is its page size limit.
        request.headers.pop("authorization", None)
        if instance.key.key:
            request.headers["x-api-key"] = instance.key.key
        request.headers["anthropic-version"] = "2023-06-01"
        request.params["limit"] = "1000"
        return request
