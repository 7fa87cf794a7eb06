"""Provider presets: one declarative row per upstream family, and discovery from the environment.

A preset says where a provider lives, which dialect it speaks, how it authenticates and which
quirks it has; it is data, not code. `discover(env)` turns environment variables into
backends, with GoModel's conventions (seed 003):

    <P>_API_KEY            one key; <P>_API_KEY_1, _2, ... several keys (numbered instances,
                           as for OpenCode: when numbered keys exist the plain one is ignored)
    <P>_BASE_URL           override the default endpoint (required where there is none)
    <P>_MODELS             comma-separated model list
    <P>_<S>_API_KEY, <P>_<S>_BASE_URL, <P>_<S>_MODELS
                           another instance of the same type, named `<p>-<s>`
    CONFIGURED_PROVIDER_MODELS_MODE=fallback|allowlist
                           configured lists back up the upstream listing, or replace it

Pure: no I/O, nothing read but the mapping given, so every rule is unit-tested with dicts.
crossway.config.env_backends maps DiscoveredBackend to config.settings.BackendSettings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

AuthStyle = Literal[
    "bearer",  # Authorization: Bearer <key>
    "x-api-key",  # Anthropic
    "api-key",  # Azure OpenAI
    "x-goog-api-key",  # Gemini (AI Studio)
    "google-oauth",  # Vertex AI: an OAuth token from Google credentials (google-auth)
    "aws-sigv4",  # Bedrock: SigV4 over the final body (botocore)
    "none",
]
ModelsShape = Literal["openai", "anthropic", "gemini"]
ModelsMode = Literal["discover", "fallback", "allowlist"]
KeyRule = Literal["required", "optional", "none"]

MODELS_MODE_VAR = "CONFIGURED_PROVIDER_MODELS_MODE"


@dataclass(frozen=True, slots=True)
class Quirks:
    """What a provider does differently, as capability flags (never a name comparison)."""

    # Sends `max_completion_tokens`; `max_tokens` is rejected or deprecated (OpenAI's newer
    # models, Azure, Bailian).
    max_completion_tokens: bool = False
    # Reasoning models reject temperature / top_p (OpenAI o-series and GPT-5 reasoning).
    reasoning_rejects_sampling: bool = False
    # Assistant reasoning must go back as `reasoning_content` (DeepSeek).
    reasoning_replay: bool = False
    # Takes `thinking: {"type": "enabled"|"disabled"}`.
    thinking_switch: bool = False
    # Some models always think and reject a disabled switch (Z.ai GLM, error [1210]).
    always_thinking: bool = False
    # Reasoning in and out through OpenRouter's `reasoning` field.
    reasoning_field: bool = False
    # Optional attribution headers the provider reads (OpenRouter's HTTP-Referer, X-Title).
    optional_headers: tuple[str, ...] = ()
    # Deployment in the URL path and `api-version` in the query (Azure OpenAI).
    deployment_in_path: bool = False
    api_version_query: bool = False
    # The model id and method are in the URL, not the body (Gemini, Vertex).
    model_in_path: bool = False
    # A real Anthropic upstream: cache_control passed through untouched, count_tokens
    # forwarded for exact counts, thinking signatures validated.
    anthropic_native: bool = False
    # Reasoning arrives as <think> tags in content (MiniMax on chat routes).
    think_tags: bool = False
    # Model ids (a regular expression) served on the Responses API only.
    responses_models: str = ""


@dataclass(frozen=True, slots=True)
class Preset:
    name: str  # backend type, and the backend name of the unsuffixed instance
    env_prefix: str  # `OPENAI` -> OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODELS
    dialect: str  # the upstream dialect its models speak by default
    base_url: str | None  # None: the user must set <P>_BASE_URL (or the options build it)
    auth: AuthStyle
    example_model: str
    key: KeyRule = "required"
    # The field whose presence registers an instance (API_KEY, BASE_URL or PROJECT).
    trigger: str = "API_KEY"
    # Further fields an instance cannot work without.
    requires: tuple[str, ...] = ()
    # Provider-specific fields read into DiscoveredBackend.options, with defaults.
    options: Mapping[str, str | None] = field(default_factory=dict)
    # Exact variable names of the unsuffixed instance that differ from <P>_<FIELD>.
    var_names: Mapping[str, str] = field(default_factory=dict)
    # Upstream model listing, relative to the base URL (None: not listable with the key).
    models_path: str | None = "/models"
    models_shape: ModelsShape = "openai"
    # The optional dependency group this provider needs (`pip install crossway[vertex]`).
    extra: str | None = None
    quirks: Quirks = Quirks()
    note: str = ""


_OPENAI_REASONING = Quirks(max_completion_tokens=True, reasoning_rejects_sampling=True,
                           # "This model is only supported in v1/responses"
                           responses_models=r"codex|-pro(?:-\d{4}-\d\d-\d\d)?$|"
                                            r"deep-research|computer-use")

PRESETS: tuple[Preset, ...] = (
    Preset("openai", "OPENAI", "openai_chat", "https://api.openai.com/v1", "bearer", "gpt-5.5",
           options={"REASONING_MODELS": None}, quirks=_OPENAI_REASONING),
    Preset("anthropic", "ANTHROPIC", "anthropic", "https://api.anthropic.com/v1", "x-api-key",
           "claude-sonnet-4-20250514", models_shape="anthropic",
           quirks=Quirks(anthropic_native=True)),
    Preset("gemini", "GEMINI", "gemini", "https://generativelanguage.googleapis.com/v1beta",
           "x-goog-api-key", "gemini-2.5-flash", models_shape="gemini",
           quirks=Quirks(model_in_path=True)),
    Preset("vertex", "VERTEX", "gemini", None, "google-oauth", "gemini-2.5-flash",
           key="none", trigger="PROJECT", requires=("LOCATION",),
           options={"PROJECT": None, "LOCATION": None, "AUTH_TYPE": "gcp_adc"},
           models_path=None, extra="vertex", quirks=Quirks(model_in_path=True),
           note="Google credentials: Application Default Credentials or a service account"),
    Preset("deepseek", "DEEPSEEK", "openai_chat", "https://api.deepseek.com", "bearer",
           "deepseek-v4-pro", quirks=Quirks(reasoning_replay=True, thinking_switch=True)),
    Preset("groq", "GROQ", "openai_chat", "https://api.groq.com/openai/v1", "bearer",
           "llama-3.3-70b-versatile"),
    Preset("openrouter", "OPENROUTER", "openai_chat", "https://openrouter.ai/api/v1", "bearer",
           "google/gemini-2.5-flash", options={"HTTP_REFERER": None, "X_TITLE": None},
           quirks=Quirks(reasoning_field=True, optional_headers=("HTTP-Referer", "X-Title"))),
    Preset("zai", "ZAI", "openai_chat", "https://api.z.ai/api/paas/v4", "bearer", "glm-5.1",
           quirks=Quirks(thinking_switch=True, always_thinking=True),
           note="GLM Coding Plan: ZAI_BASE_URL=https://api.z.ai/api/coding/paas/v4"),
    Preset("xai", "XAI", "openai_chat", "https://api.x.ai/v1", "bearer", "grok-4"),
    Preset("bailian", "BAILIAN", "openai_chat",
           "https://dashscope.aliyuncs.com/compatible-mode/v1", "bearer", "qwen3-max",
           quirks=Quirks(max_completion_tokens=True)),
    Preset("minimax", "MINIMAX", "openai_chat", "https://api.minimax.io/v1", "bearer",
           "MiniMax-M3", quirks=Quirks(think_tags=True)),
    Preset("xiaomi", "XIAOMI", "openai_chat", "https://api.xiaomimimo.com/v1", "bearer",
           "mimo-v2.5-pro", quirks=Quirks(thinking_switch=True),
           note="thinking on by default; append [1m] to a model id for 1M context"),
    Preset("opencode-go", "OPENCODE_GO", "openai_chat", "https://opencode.ai/zen/go/v1",
           "bearer", "glm-5.1", options={"MESSAGES_MODELS": None},
           note="routes per model: chat, messages or responses"),
    Preset("opencode-zen", "OPENCODE", "openai_chat", "https://opencode.ai/zen/v1", "bearer",
           "claude-sonnet-4-6", var_names={"BASE_URL": "OPENCODE_ZEN_BASE_URL"},
           note="routes per model: chat, messages or responses"),
    Preset("azure", "AZURE", "openai_chat", None, "api-key", "gpt-5", requires=("BASE_URL",),
           options={"API_VERSION": "2024-10-21", "REASONING_MODELS": None}, models_path=None,
           quirks=Quirks(max_completion_tokens=True, reasoning_rejects_sampling=True,
                         deployment_in_path=True, api_version_query=True)),
    Preset("oracle", "ORACLE", "openai_chat", None, "bearer", "openai.gpt-oss-120b",
           requires=("BASE_URL",)),
    Preset("ollama", "OLLAMA", "openai_chat", None, "bearer", "llama3.2", key="optional",
           trigger="BASE_URL"),
    Preset("vllm", "VLLM", "openai_chat", None, "bearer", "meta-llama/Llama-3.1-8B-Instruct",
           key="optional", trigger="BASE_URL"),
    # Anthropic's models through InvokeModel (Anthropic's body and events, AWS framing);
    # every other family through the Converse API (providers/bedrock.py picks per model).
    Preset("bedrock", "BEDROCK", "anthropic", None, "aws-sigv4",
           "anthropic.claude-3-5-haiku-20241022-v1:0", key="none", trigger="BASE_URL",
           options={"REGION": None}, models_path=None, extra="bedrock",
           quirks=Quirks(anthropic_native=True),
           note="BEDROCK_BASE_URL is a region (us-east-1) or an endpoint URL; AWS credential "
                "chain"),
)

_COMMON_FIELDS = ("BASE_URL", "MODELS", "API_KEY")
_SUFFIX = re.compile(r"[A-Z0-9]+(?:_[A-Z0-9]+)*")
_INDEX = re.compile(r"(.*)_(\d+)")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


@dataclass(frozen=True, slots=True)
class EnvKey:
    """One credential and the variable it came from (for messages; never print the key)."""

    key: str
    source: str
    number: int | None = None  # N of `<P>_API_KEY_N`, None for the plain key


@dataclass(frozen=True, slots=True)
class DiscoveredBackend:
    name: str  # `openai`, `openai-east`
    preset: Preset
    base_url: str
    keys: tuple[EnvKey, ...]
    models: tuple[str, ...]
    # discover: upstream listing only; fallback: the list when the listing fails or is
    # empty; allowlist: the list only, no listing call.
    models_mode: ModelsMode
    options: Mapping[str, str]
    sources: tuple[str, ...]  # the variables that configured it

    @property
    def type(self) -> str:
        return self.preset.name


@dataclass(frozen=True, slots=True)
class Discovery:
    backends: tuple[DiscoveredBackend, ...]
    problems: tuple[str, ...]  # configuration that was ignored, and why, in plain words


@dataclass
class _Group:
    """The variables of one instance (one preset, one suffix)."""

    values: dict[str, str] = field(default_factory=dict)  # field -> value
    sources: dict[str, str] = field(default_factory=dict)  # field -> variable
    keys: list[EnvKey] = field(default_factory=list)  # numbered keys


def preset(name: str) -> Preset:
    for p in PRESETS:
        if p.name == name:
            return p
    raise KeyError(name)


def discover(env: Mapping[str, str], presets: tuple[Preset, ...] = PRESETS) -> Discovery:
    """Backends configured by the environment, in preset order then suffix order."""
    problems: list[str] = []
    mode_word = env.get(MODELS_MODE_VAR, "").strip().lower() or "fallback"
    if mode_word not in ("fallback", "allowlist"):
        problems.append(f"{MODELS_MODE_VAR}={env[MODELS_MODE_VAR]!r} is not fallback or "
                        "allowlist; using fallback")
        mode_word = "fallback"
    groups = _collect(env, presets)
    backends: list[DiscoveredBackend] = []
    for p in presets:
        for suffix in sorted(groups.get(p.name, {}), key=lambda s: (s != "", s)):
            group = groups[p.name][suffix]
            backend = _backend(p, suffix, group, mode_word, problems)
            if backend is not None:
                backends.append(backend)
    return Discovery(tuple(backends), tuple(problems))


def _collect(env: Mapping[str, str],
             presets: tuple[Preset, ...]) -> dict[str, dict[str, _Group]]:
    """Each variable to its (preset, suffix) group. The longest matching prefix claims a
    variable, so OPENCODE_GO_API_KEY belongs to opencode-go, not to an `opencode-zen-go`."""
    exact = {var: (p, fld) for p in presets for fld, var in p.var_names.items()}
    ordered = sorted(presets, key=lambda p: len(p.env_prefix), reverse=True)
    # `OPENCODE_GO_...` is never a suffixed instance of the `OPENCODE` preset.
    prefixes = frozenset(p.env_prefix for p in presets)
    out: dict[str, dict[str, _Group]] = {}
    for var in sorted(env):
        value = env[var].strip()
        if not value:
            continue
        if var in exact:
            p, fld = exact[var]
            _put(out, p, "", fld, None, var, value)
            continue
        for p in ordered:
            parsed = _parse(var, p, prefixes)
            if parsed is not None:
                suffix, fld, number = parsed
                _put(out, p, suffix, fld, number, var, value)
                break
    return out


def _parse(var: str, p: Preset, prefixes: frozenset[str]) -> tuple[str, str, int | None] | None:
    """(suffix, field, key number) for `<P>[_<S>]_<FIELD>[_<N>]`, or None."""
    if not var.startswith(p.env_prefix + "_"):
        return None
    rest = var[len(p.env_prefix) + 1 :]
    number: int | None = None
    m = _INDEX.fullmatch(rest)
    if m is not None and m.group(1).endswith("API_KEY"):
        rest, number = m.group(1), int(m.group(2))
    for fld in (*p.options, *_COMMON_FIELDS):
        if number is not None and fld != "API_KEY":
            continue
        if rest == fld:
            if p.var_names.get(fld, var) != var:
                return None  # this instance reads the field from another variable
            return "", fld, number
        if rest.endswith("_" + fld):
            suffix = rest[: -len(fld) - 1]
            if _SUFFIX.fullmatch(suffix) and f"{p.env_prefix}_{suffix}" not in prefixes:
                return suffix, fld, number
    return None


def _put(out: dict[str, dict[str, _Group]], p: Preset, suffix: str, fld: str,
         number: int | None, var: str, value: str) -> None:
    group = out.setdefault(p.name, {}).setdefault(suffix, _Group())
    if number is not None:
        group.keys.append(EnvKey(value, var, number))
    else:
        group.values[fld] = value
        group.sources[fld] = var


def _var(p: Preset, suffix: str, fld: str) -> str:
    if not suffix and fld in p.var_names:
        return p.var_names[fld]
    return "_".join(x for x in (p.env_prefix, suffix, fld) if x)


def _backend(p: Preset, suffix: str, group: _Group, mode_word: str,
             problems: list[str]) -> DiscoveredBackend | None:
    name = p.name if not suffix else f"{p.name}-{suffix.lower().replace('_', '-')}"
    keys = _keys(group)
    present = set(group.values) | ({"API_KEY"} if keys else set())
    set_vars = sorted({*group.sources.values(), *(k.source for k in group.keys)})
    if p.trigger not in present:
        problems.append(f"{', '.join(set_vars)} set without {_var(p, suffix, p.trigger)}: "
                        f"backend {name} is not registered")
        return None
    missing = [f for f in p.requires if f not in present]
    if missing:
        needed = " and ".join(_var(p, suffix, f) for f in missing)
        problems.append(f"backend {name} needs {needed}; it is not registered")
        return None
    if p.key == "none" and keys:
        problems.append(f"{_var(p, suffix, 'API_KEY')} is ignored: {p.name} does not use API "
                        "keys")
        keys = ()
    options = {f: group.values.get(f) or default for f, default in p.options.items()}
    base_url = _base_url(p, group.values.get("BASE_URL"), options)
    if base_url is None:
        problems.append(f"backend {name} has no endpoint: set {_var(p, suffix, 'BASE_URL')}")
        return None
    models = tuple(m.strip() for m in group.values.get("MODELS", "").split(",") if m.strip())
    mode: ModelsMode = "discover"
    if models:
        mode = "allowlist" if mode_word == "allowlist" or p.models_path is None else "fallback"
    return DiscoveredBackend(
        name=name, preset=p, base_url=base_url, keys=keys, models=models, models_mode=mode,
        options={k: v for k, v in options.items() if v is not None},
        sources=tuple(set_vars),
    )


def _keys(group: _Group) -> tuple[EnvKey, ...]:
    """Numbered keys become numbered instances; otherwise the plain key (as for OpenCode)."""
    if group.keys:
        return tuple(sorted(group.keys, key=lambda k: k.number or 0))
    if "API_KEY" in group.values:
        return (EnvKey(group.values["API_KEY"], group.sources["API_KEY"]),)
    return ()


def _base_url(p: Preset, given: str | None, options: Mapping[str, str | None]) -> str | None:
    if p.name == "bedrock" and given and _REGION.fullmatch(given):
        return f"https://bedrock-runtime.{given}.amazonaws.com"
    if given:
        return given.rstrip("/")
    if p.name == "vertex":
        project, location = options.get("PROJECT"), options.get("LOCATION")
        if not project or not location:
            return None
        host = "aiplatform.googleapis.com" if location == "global" else \
            f"{location}-aiplatform.googleapis.com"
        return f"https://{host}/v1/projects/{project}/locations/{location}/publishers/google"
    return p.base_url
