"""The typed, immutable settings object crossway runs with, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from crossway.config.routing import RoutingSettings

# A key of crossway.providers.registry.PROVIDER_TYPES ("opencode-go", "openai", ...).
BackendType = str
# Upstream wire dialects. Config files say "openai" for chat/completions (seed 000).
Dialect = Literal["anthropic", "openai_chat", "openai_responses", "gemini", "bedrock_converse"]
# Where a backend's model list comes from: the upstream listing only; the listing, with the
# configured list when the listing fails or is empty; the configured list only (seed 003's
# CONFIGURED_PROVIDER_MODELS_MODE).
ModelsMode = Literal["discover", "fallback", "allowlist"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # Anthropic's own request limit (spec B8)
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 300.0  # idle time between upstream bytes; reasoning models go quiet
# Keep-alive while a committed stream is silent: clients and proxies time out idle streams.
DEFAULT_PING_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One upstream credential and where it came from (for messages; never the key itself)."""

    key: str
    source: str  # e.g. "OPENCODE_GO_API_KEY_2" or "config backends.x.api_key"
    number: int | None = None  # N of a numbered instance (`name.N`), None for the plain key

    def masked(self) -> str:
        k = self.key
        return f"{k[:3]}…{k[-4:]}" if len(k) > 12 else "****"


@dataclass(frozen=True, slots=True)
class BackendSettings:
    name: str
    type: BackendType
    api_url: str
    keys: tuple[KeySpec, ...] = ()
    # What a user should set to give this backend a key (named in 503 errors).
    key_hint: str = ""
    # model id -> dialect, overriding the built-in table (and adding models to it).
    model_protocol_overrides: dict[str, Dialect] = field(default_factory=dict)
    # Models this backend serves; for generic backends an empty tuple means "any model
    # named explicitly with this backend's selector".
    models: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    # The provider preset (crossway.providers.presets) whose quirks apply; "" for a plain
    # OpenAI- or Anthropic-compatible backend declared in YAML.
    preset: str = ""
    models_mode: ModelsMode = "discover"
    # A base URL per upstream dialect, where one service has one per API family (OpenCode's
    # console endpoints); a dialect not listed uses `api_url`.
    dialect_urls: dict[str, str] = field(default_factory=dict)
    # Provider-specific settings (Azure's API_VERSION, Vertex's PROJECT/LOCATION/AUTH_TYPE,
    # Bedrock's region), by the field names of the preset.
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    ping_interval: float = DEFAULT_PING_INTERVAL
    api_keys: tuple[str, ...] = ()  # inbound keys clients must present; empty = open
    backends: tuple[BackendSettings, ...] = ()
    log_level: str = "INFO"
    source: str = "defaults"  # where the settings came from, for the start-up log
    # The `routing:` section as written and CROSSWAY_ROUTING's JSON, kept raw so Settings
    # pickles to worker processes; parsed (and checked at load time) by `routing()`.
    routing_section: Any = None
    routing_env: str | None = None
    # Configuration that was ignored at load time, and why, in plain words (logged at start).
    notices: tuple[str, ...] = ()

    def routing(self) -> RoutingSettings:
        from crossway.config.routing import ENV_VAR, load_routing

        env = {ENV_VAR: self.routing_env} if self.routing_env else {}
        return load_routing(self.routing_section, env)

    def backend(self, name: str) -> BackendSettings | None:
        for b in self.backends:
            if b.name == name:
                return b
        return None
