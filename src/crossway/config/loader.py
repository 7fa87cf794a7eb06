"""Build Settings from a YAML file, the environment and CLI flags (flags win, then env, then file).

File shape (seed 000):

    backends:
      opencode-go:
        api_key: "${OPENCODE_GO_API_KEY}"
        api_url: "https://opencode.ai/zen/go/v1"
        extra:
          model_protocol_overrides: {custom-model: anthropic}
      my-vllm: {type: openai, api_url: "http://127.0.0.1:8001/v1", models: [qwen3]}
    auth: {api_keys: ["${CROSSWAY_API_KEY}"]}
    server: {host: 127.0.0.1, port: 8000, max_body_bytes: 33554432}
    timeouts: {connect: 10, read: 300}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from crossway.config.env_backends import env_backends
from crossway.config.settings import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT,
    BackendSettings,
    Dialect,
    KeySpec,
    ModelsMode,
    Settings,
)
from crossway.errors import ConfigError
from crossway.providers.presets import PRESETS
from crossway.providers.registry import backend_types

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_DIALECT_WORDS: dict[str, Dialect] = {
    "anthropic": "anthropic",
    "messages": "anthropic",
    "openai": "openai_chat",
    "chat": "openai_chat",
    "openai_chat": "openai_chat",
    "responses": "openai_responses",
    "openai_responses": "openai_responses",
    "gemini": "gemini",
    "google": "gemini",
}
_PRESET_NAMES = frozenset(p.name for p in PRESETS) - {"openai"}


class _OpenCodeTier:
    def __init__(self, name: str, key_var: str, url_var: str, url: str) -> None:
        self.name, self.key_var, self.url_var, self.url = name, key_var, url_var, url


OPENCODE_TIERS = (
    _OpenCodeTier("opencode-go", "OPENCODE_GO_API_KEY", "OPENCODE_GO_BASE_URL",
                  "https://opencode.ai/zen/go/v1"),
    _OpenCodeTier("opencode-zen", "OPENCODE_API_KEY", "OPENCODE_ZEN_BASE_URL",
                  "https://opencode.ai/zen/v1"),
)


def interpolate(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string of a YAML tree."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set (used at {where or 'top level'}); "
                f"set it or write ${{{name}:-default}}"
            )
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_settings(
    config_path: str | None,
    env: Mapping[str, str],
    *,
    host: str | None = None,
    port: int | None = None,
) -> Settings:
    path = config_path or env.get("CROSSWAY_CONFIG") or None
    raw: dict[str, Any] = {}
    if path:
        raw = _read_yaml(Path(path))
        raw = cast(dict[str, Any], interpolate(raw, env))
    server = _section(raw, "server")
    timeouts = _section(raw, "timeouts")
    auth = _section(raw, "auth")

    file_backends = _section(raw, "backends")
    backends = [_file_backend(name, spec) for name, spec in file_backends.items()]
    backends = _apply_opencode_env(backends, env)
    listen_host = host or env.get("CROSSWAY_HOST") or str(server.get("host") or DEFAULT_HOST)
    listen_port = port or _int(env.get("CROSSWAY_PORT") or server.get("port") or DEFAULT_PORT,
                               "server.port")
    found = env_backends(env, {b.name for b in backends}, (listen_host, listen_port))
    backends += found.backends  # found.notices travel in Settings, logged by `serve`

    api_keys = [k for k in _str_list(auth.get("api_keys"), "auth.api_keys") if k]
    if env.get("CROSSWAY_API_KEY"):
        api_keys = [env["CROSSWAY_API_KEY"]]

    settings = Settings(
        host=host or env.get("CROSSWAY_HOST") or str(server.get("host") or DEFAULT_HOST),
        port=port or _int(env.get("CROSSWAY_PORT") or server.get("port") or DEFAULT_PORT,
                          "server.port"),
        max_body_bytes=_int(env.get("CROSSWAY_MAX_BODY_BYTES")
                            or server.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES,
                            "server.max_body_bytes"),
        connect_timeout=_float(env.get("CROSSWAY_CONNECT_TIMEOUT")
                               or timeouts.get("connect") or DEFAULT_CONNECT_TIMEOUT,
                               "timeouts.connect"),
        read_timeout=_float(env.get("CROSSWAY_READ_TIMEOUT")
                            or timeouts.get("read") or DEFAULT_READ_TIMEOUT, "timeouts.read"),
        ping_interval=_float(env.get("CROSSWAY_PING_INTERVAL")
                             or server.get("ping_interval") or DEFAULT_PING_INTERVAL,
                             "server.ping_interval"),
        api_keys=tuple(api_keys),
        backends=tuple(backends),
        log_level=str(env.get("CROSSWAY_LOG_LEVEL") or server.get("log_level") or "INFO").upper(),
        source=f"file {path} + environment" if path else "environment",
        routing_section=raw.get("routing"),
        routing_env=env.get("CROSSWAY_ROUTING") or None,
        notices=found.notices,
    )
    settings.routing()  # malformed routing entries stop start-up here, naming the entry
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"config section '{name}' must be a mapping")
    return value


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where} must be an integer, got {value!r}") from exc


def _float(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where} must be a number, got {value!r}") from exc


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{where} must be a string or a list of strings")


def _file_backend(name: str, spec: Any) -> BackendSettings:
    where = f"backends.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a mapping")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"backend name {name!r} may only use letters, digits, '-' and '_'")
    tier = next((t for t in OPENCODE_TIERS if t.name == name), None)
    btype = spec.get("type") or (tier.name if tier else None)
    types = backend_types()
    if btype not in types:
        raise ConfigError(f"{where}.type must be one of {', '.join(types)} (got {btype!r})")
    default_url = next((t.url for t in OPENCODE_TIERS if t.name == btype), None)
    api_url = spec.get("api_url") or default_url
    if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.api_url must be an http(s) URL (got {api_url!r})")

    keys = _file_keys(spec, where)
    overrides = _file_overrides(spec, where)
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigError(f"{where}.headers must be a mapping")
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.options must be a mapping")
    mode_word = spec.get("models_mode") or "discover"
    modes: dict[str, ModelsMode] = {"discover": "discover", "fallback": "fallback",
                                    "allowlist": "allowlist"}
    if mode_word not in modes:
        raise ConfigError(f"{where}.models_mode must be discover, fallback or allowlist")
    mode = modes[mode_word]
    dialect_urls = _dialect_urls(spec.get("dialect_urls"), where) or console_urls(api_url)
    return BackendSettings(
        name=name,
        type=str(btype),
        api_url=api_url.rstrip("/"),
        keys=tuple(keys),
        key_hint=f"{where}.api_key in the config file",
        model_protocol_overrides=overrides,
        models=tuple(_str_list(spec.get("models"), f"{where}.models")),
        headers={str(k): str(v) for k, v in headers.items()},
        # `type: openai` stays the plain OpenAI-compatible backend it always was; any other
        # preset type (deepseek, zai, azure, ...) brings its preset's quirks.
        preset=str(spec.get("preset") or (btype if btype in _PRESET_NAMES else "")),
        models_mode=mode,
        dialect_urls=dialect_urls,
        options={str(k).upper(): str(v) for k, v in options.items()},
    )


def _file_keys(spec: dict[str, Any], where: str) -> list[KeySpec]:
    keys: list[KeySpec] = []
    single = spec.get("api_key")
    if single:
        if not isinstance(single, str):
            raise ConfigError(f"{where}.api_key must be a string")
        keys.append(KeySpec(single, f"config {where}.api_key"))
    for i, k in enumerate(_str_list(spec.get("api_keys"), f"{where}.api_keys"), start=1):
        if k:
            keys.append(KeySpec(k, f"config {where}.api_keys[{i - 1}]", number=i))
    if len(keys) > 1 and keys[0].number is None:
        raise ConfigError(f"{where}: give either api_key or api_keys, not both")
    return keys


def _file_overrides(spec: dict[str, Any], where: str) -> dict[str, Dialect]:
    extra = spec.get("extra") or {}
    if not isinstance(extra, dict):
        raise ConfigError(f"{where}.extra must be a mapping")
    overrides_raw = extra.get("model_protocol_overrides") or spec.get("model_protocol_overrides")
    overrides: dict[str, Dialect] = {}
    for model, word in (overrides_raw or {}).items():
        dialect = _DIALECT_WORDS.get(str(word).lower())
        if dialect is None:
            raise ConfigError(
                f"{where}.extra.model_protocol_overrides.{model}: expected anthropic, openai "
                f"or responses, got {word!r}"
            )
        overrides[str(model)] = dialect
    return overrides


def _dialect_urls(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.dialect_urls must be a mapping of dialect to URL")
    out: dict[str, str] = {}
    for word, url in value.items():
        dialect = _DIALECT_WORDS.get(str(word).lower())
        if dialect is None or not isinstance(url, str) or not url.startswith("http"):
            raise ConfigError(f"{where}.dialect_urls.{word}: expected a dialect (openai, "
                              f"anthropic, responses, gemini) and an http(s) URL")
        out[dialect] = url.rstrip("/")
    return out


def console_urls(url: str) -> dict[str, str]:
    """OpenCode's console inference base (`https://opencode.ai/inference`) serves each API
    family under its own prefix; `/zen/...` URLs serve all of them under one."""
    base = url.rstrip("/")
    if not base.endswith("/inference"):
        return {}
    return {
        "openai_chat": base + "/openai/v1",
        "openai_responses": base + "/openai/v1",
        "anthropic": base + "/anthropic/v1",
        "gemini": base + "/google/v1beta",
    }


def discover_keys(env: Mapping[str, str], var: str) -> list[KeySpec]:
    """`VAR_1`, `VAR_2`, ... become numbered instances; otherwise plain `VAR` is one key."""
    numbered = []
    pattern = re.compile(re.escape(var) + r"_(\d+)$")
    for name, value in env.items():
        m = pattern.match(name)
        if m and value:
            numbered.append(KeySpec(value, name, number=int(m.group(1))))
    if numbered:
        return sorted(numbered, key=lambda k: k.number or 0)
    if env.get(var):
        return [KeySpec(env[var], var)]
    return []


def _apply_opencode_env(
    backends: list[BackendSettings], env: Mapping[str, str]
) -> list[BackendSettings]:
    """The OpenCode tiers always exist (keyless until a key is set), so requests naming them
    get a 503 that says which variable to set rather than a 404."""
    by_name = {b.name: b for b in backends}
    for tier in OPENCODE_TIERS:
        current = by_name.get(tier.name)
        env_keys = discover_keys(env, tier.key_var)
        hint = f"{tier.key_var} (or {tier.key_var}_1, _2, ... for several keys)"
        if current is None:
            current = BackendSettings(name=tier.name, type=tier.name,
                                      api_url=tier.url, key_hint=hint)
        keys = tuple(env_keys) if env_keys else current.keys
        url = (env.get(tier.url_var) or current.api_url).rstrip("/")
        by_name[tier.name] = BackendSettings(
            name=current.name, type=current.type, api_url=url, keys=keys,
            key_hint=hint if not current.keys else current.key_hint,
            model_protocol_overrides=current.model_protocol_overrides,
            models=current.models, headers=current.headers, preset=current.preset,
            models_mode=current.models_mode, options=current.options,
            dialect_urls=console_urls(url) if url != current.api_url else
            current.dialect_urls,
        )
    return list(by_name.values())
