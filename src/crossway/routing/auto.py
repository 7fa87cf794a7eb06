"""Auto routers (`go-auto`, `auto`, `zen-auto`): pick a model chain per request from what the
request contains, with no model call spent on classification.

The classifier, in order (deterministic; the first rule that applies wins):

1. agent     -- tools are offered and the history holds tool results (a tool loop under way);
2. reasoning -- the client asked for reasoning (`thinking` enabled with a budget, or an effort
                of high / max / xhigh; Anthropic "adaptive" alone is a client default and does
                not count), or the last user text asks for it ("step by step", "prove", "derive",
                "think hard", "ultrathink", "trade-offs", ...);
3. code      -- the last user text shows code: a ``` fence, a traceback, a line defining a
                function or class, or two of: code keywords (`def`, `import`, `#include`,
                ...), source file names, words such as bug / refactor / compile / unit test,
                lines ending in `{`, `}` or `;`;
4. chat      -- anything else.

Then two constraints override the category: images anywhere in the conversation make it
`vision` (only models that accept images can read them), and an estimated size (input plus an
output reserve) above the context window of the category's first model makes it `long`. The
chosen chain is then filtered to models that accept the images and whose window fits; if that
leaves nothing, the other categories' chains are searched in the order long, vision, agent,
code, reasoning, chat; if still nothing, the unfiltered chain is used (the upstream's
context-overflow error then tells the client to compact).

Size estimate: characters / `CHARS_PER_TOKEN` (3.5) over the system prompt, message texts,
reasoning, tool calls and results and the tool definitions, plus `TOKENS_PER_IMAGE` per image
and 3 per message. cl100k averages about 4 characters per token on English and 3 to 3.5 on code
and JSON; the lower ratio errs towards a larger estimate, so a request near a window's edge goes
to a larger window rather than into an overflow. No tokenizer: this runs on every auto request.

Stickiness: a conversation stays on the model that last answered it (prompt caches keep
hitting) as long as that model can take the request; the chain then follows as its fallbacks.
`remember` records the model that answered, so after a failure the conversation moves to the
fallback that served it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import orjson

from crossway import ir
from crossway.providers.catalog import CONTEXT_LIMITS, INPUT_MODALITIES
from crossway.routing.state import State, WriteBehind

Category = Literal["agent", "code", "reasoning", "long", "vision", "chat"]
CATEGORIES: tuple[Category, ...] = ("agent", "code", "reasoning", "long", "vision", "chat")
_SEARCH_ORDER: tuple[Category, ...] = ("long", "vision", "agent", "code", "reasoning", "chat")

CHARS_PER_TOKEN = 3.5
TOKENS_PER_IMAGE = 1600  # as tokens.py: Anthropic's figure for a ~1.15 megapixel image
TOKENS_PER_MESSAGE = 3
OUTPUT_RESERVE_CAP = 8192  # of max_tokens counted against the window (upstreams clamp anyway)
DEFAULT_CONTEXT = 128_000
STICKY_TTL = 7 * 24 * 3600.0
_STICKY_CACHE = 20_000
_SCAN_CHARS = 8000  # of the last user text read for signals


@dataclass(frozen=True, slots=True)
class ModelTraits:
    context: int = DEFAULT_CONTEXT  # tokens, input and output together
    vision: bool = False  # accepts images


def _t(context: int, vision: bool = False) -> ModelTraits:
    return ModelTraits(context, vision)


# Context windows and image input come from providers/catalog.py (models.dev figures, the
# same ones client configs get), so routing and clients agree on what fits. The ids below have
# no public figure there; these are routing's own estimates for them. Unknown ids get
# DEFAULT_CONTEXT, text only. Override or extend with `routing.models` in the config.
_ESTIMATED: Mapping[str, ModelTraits] = {
    "glm-5.3": _t(200_000), "deepseek-v4-flash-vision-exp": _t(128_000, True),
    "qwen3.8-max": _t(262_144), "grok-4.5": _t(256_000, True),
    "gpt-5.6-luna": _t(400_000, True), "gpt-5.6-sol": _t(400_000, True),
    "gpt-5.6-terra": _t(400_000, True), "claude-opus-5": _t(200_000, True),
}


def _builtin_traits() -> dict[str, ModelTraits]:
    traits = dict(_ESTIMATED)
    for model in {**CONTEXT_LIMITS, **INPUT_MODALITIES}:
        known = traits.get(model, ModelTraits())
        traits[model] = ModelTraits(CONTEXT_LIMITS.get(model, known.context),
                                    "image" in INPUT_MODALITIES.get(model, ()) or known.vision)
    return traits


BUILTIN_TRAITS: Mapping[str, ModelTraits] = MappingProxyType(_builtin_traits())


def _chain(prefix: str, *models: str) -> tuple[str, ...]:
    return tuple(prefix + m for m in models)


# Go: the flat subscription has request allowances per model (spec A9: DeepSeek V4 Flash about
# 7,600 per 5 hours, Kimi K3 about 110), so the expensive models come last in their chains.
GO_AUTO: Mapping[Category, tuple[str, ...]] = {
    "agent": _chain("opencode-go/", "kimi-k2.7-code", "glm-5.2", "deepseek-v4-pro",
                    "minimax-m3"),
    "code": _chain("opencode-go/", "kimi-k2.7-code", "deepseek-v4-pro", "glm-5.2"),
    "reasoning": _chain("opencode-go/", "deepseek-v4-pro", "glm-5.3", "kimi-k3"),
    "long": _chain("opencode-go/", "minimax-m3", "deepseek-v4-pro", "qwen3.7-plus"),
    "vision": _chain("opencode-go/", "kimi-k2.6", "qwen3.7-plus", "mimo-v2-omni"),
    "chat": _chain("opencode-go/", "deepseek-v4-flash", "glm-5.1", "mimo-v2.5"),
}
# Zen is paid per token: strong models where they matter, cheap ones for chat.
ZEN_AUTO: Mapping[Category, tuple[str, ...]] = {
    "agent": _chain("opencode-zen/", "claude-sonnet-4-6", "kimi-k2.7-code", "glm-5.2"),
    "code": _chain("opencode-zen/", "claude-sonnet-4-6", "kimi-k2.7-code", "deepseek-v4-pro"),
    "reasoning": _chain("opencode-zen/", "gpt-5.5", "claude-opus-4-7", "deepseek-v4-pro"),
    "long": _chain("opencode-zen/", "gpt-5.5", "deepseek-v4-pro", "minimax-m3"),
    "vision": _chain("opencode-zen/", "claude-sonnet-4-6", "gpt-5.4-mini", "kimi-k2.6"),
    "chat": _chain("opencode-zen/", "deepseek-v4-flash", "gpt-5.4-mini", "glm-5.1"),
}
DEFAULT_TABLES: Mapping[str, Mapping[Category, tuple[str, ...]]] = {
    "go-auto": GO_AUTO,
    "auto": GO_AUTO,
    "zen-auto": ZEN_AUTO,
}

_REASONING = re.compile(
    r"step[- ]by[- ]step|\bprove\b|\bproof\b|\bderive\b|\bderivation\b|ultrathink|"
    r"think (?:hard|harder|carefully|deeply|it through)|\btrade-?offs?\b|\btheorem\b|"
    r"\breason (?:about|through)\b|\bcompare and contrast\b|\bpros and cons\b",
    re.IGNORECASE)
_CODE_STRONG = re.compile(
    r"```|Traceback \(most recent call last\)|^\s+at [\w.$]+\(|"
    r"^\s*(?:def|class|fn|func|function)\s+\w+\s*[(:<{]", re.MULTILINE)
_CODE_WEAK = (
    re.compile(r"\b(?:def|class|function|import|return|const|let|var|fn|impl|struct|"
               r"async|await|lambda|public|private|#include|SELECT|INSERT)\b"),
    re.compile(r"\b[\w./-]+\.(?:py|js|ts|tsx|jsx|go|rs|java|kt|c|cc|cpp|h|hpp|rb|php|cs|"
               r"swift|sh|sql|ya?ml|toml|json|html|css)\b"),
    re.compile(r"\b(?:bug|debug|refactor|compile[sd]?|compiler|stack ?trace|unit tests?|"
               r"regex|exception|segfault|null pointer|syntax error|type error)\b",
               re.IGNORECASE),
    re.compile(r"[{};]\s*$|^\s*(?:if|for|while)\s*\(", re.MULTILINE),
)
_EFFORT_ASKS = frozenset({"high", "max", "xhigh"})


@dataclass(frozen=True, slots=True)
class Signals:
    """What the classifier saw, for logs and tests."""

    tools: bool
    tool_results: bool
    images: bool
    reasoning_asked: bool
    reasoning_words: bool
    code: bool
    tokens: int  # estimated input tokens


@dataclass(frozen=True, slots=True)
class AutoDecision:
    router: str
    category: Category
    models: tuple[str, ...]  # the chain to try, first is primary
    signals: Signals
    sticky: bool = False  # models[0] is the conversation's previous model


def _walk(request: ir.Request) -> tuple[int, int, bool]:
    """One pass over the conversation: (characters, images, has tool results)."""
    chars = sum(len(t.text) for t in request.system)
    images = 0
    tool_results = False
    for message in request.messages:
        for part in message.content:
            if isinstance(part, ir.Text):
                chars += len(part.text)
            elif isinstance(part, ir.ToolResult):
                tool_results = True
                for inner in part.content:
                    if isinstance(inner, ir.Text):
                        chars += len(inner.text)
                    else:
                        images += 1
            elif isinstance(part, ir.ToolCall):
                chars += len(part.name) + len(part.arguments)
            elif isinstance(part, ir.Thinking):
                chars += len(part.text)
            elif isinstance(part, ir.Image):
                images += 1
            elif isinstance(part, ir.RedactedThinking):
                chars += len(part.data)
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.parameters))
    return chars, images, tool_results


def _tokens(request: ir.Request, chars: int, images: int) -> int:
    return (int(chars / CHARS_PER_TOKEN) + images * TOKENS_PER_IMAGE
            + TOKENS_PER_MESSAGE * len(request.messages))


def estimate_tokens(request: ir.Request) -> int:
    chars, images, _ = _walk(request)
    return _tokens(request, chars, images)


def read_signals(request: ir.Request) -> Signals:
    chars, images, tool_results = _walk(request)
    text = _last_user_text(request)
    return Signals(
        tools=bool(request.tools),
        tool_results=tool_results,
        images=images > 0,
        reasoning_asked=_reasoning_asked(request.thinking),
        reasoning_words=bool(_REASONING.search(text)),
        code=_looks_like_code(text),
        tokens=_tokens(request, chars, images),
    )


def _last_user_text(request: ir.Request) -> str:
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        texts = [p.text for p in message.content if isinstance(p, ir.Text)]
        if texts:
            return "\n".join(texts)[-_SCAN_CHARS:]
    return ""


def _reasoning_asked(thinking: ir.ThinkingConfig | None) -> bool:
    if thinking is None or thinking.type == "disabled":
        return False
    if thinking.effort is not None:
        return thinking.effort.lower() in _EFFORT_ASKS
    return thinking.type == "enabled"


def _looks_like_code(text: str) -> bool:
    if not text:
        return False
    if _CODE_STRONG.search(text):
        return True
    return sum(1 for pattern in _CODE_WEAK if pattern.search(text)) >= 2


def base_category(signals: Signals) -> Category:
    if signals.tools and signals.tool_results:
        return "agent"
    if signals.reasoning_asked or signals.reasoning_words:
        return "reasoning"
    if signals.code:
        return "code"
    return "chat"


def traits_of(model: str, traits: Mapping[str, ModelTraits]) -> ModelTraits:
    """Traits by exact model string, then by bare id (after the last `/`)."""
    found = traits.get(model)
    if found is None:
        found = traits.get(model.rsplit("/", 1)[-1])
    return found or ModelTraits()


def needed_tokens(request: ir.Request, signals: Signals) -> int:
    return signals.tokens + min(request.max_tokens or 0, OUTPUT_RESERVE_CAP)


def classify(
    router: str,
    request: ir.Request,
    table: Mapping[Category, tuple[str, ...]],
    traits: Mapping[str, ModelTraits] = BUILTIN_TRAITS,
) -> AutoDecision:
    """The category and model chain for one request (no stickiness; see the module doc)."""
    signals = read_signals(request)
    need = needed_tokens(request, signals)
    category = "vision" if signals.images else base_category(signals)
    primary = table.get(category, ())
    if primary and traits_of(primary[0], traits).context < need:
        category = "long"

    def fits(model: str) -> bool:
        t = traits_of(model, traits)
        return t.context >= need and (t.vision or not signals.images)

    for candidate in (category, *_SEARCH_ORDER):
        chain = tuple(m for m in table.get(candidate, ()) if fits(m))
        if chain:
            return AutoDecision(router, category, chain, signals)
    return AutoDecision(router, category, tuple(table.get(category, ())), signals)


def apply_stickiness(chain: tuple[str, ...], previous: str | None,
                     eligible: Callable[[str], bool]) -> tuple[tuple[str, ...], bool]:
    """Put the conversation's previous model first when it can still take the request."""
    if previous is None or not eligible(previous):
        return chain, False
    return (previous, *(m for m in chain if m != previous)), True


class AutoRouter:
    """The auto routers by name, with per-conversation stickiness kept in `state`.

    The conversation -> model record is cached in-process (one shared-state read per
    conversation per process) and written only when the answering model changes. `choose` /
    `remember` await the shared state; `route` / `answered` are their synchronous twins."""

    def __init__(
        self,
        state: State,
        tables: Mapping[str, Mapping[Category, tuple[str, ...]]] | None = None,
        traits: Mapping[str, ModelTraits] | None = None,
        sticky_ttl: float = STICKY_TTL,
        writer: WriteBehind | None = None,
    ) -> None:
        self.state = state
        self.writer = writer or WriteBehind()
        self.tables = dict(DEFAULT_TABLES)
        self.tables.update(tables or {})
        self.traits = dict(BUILTIN_TRAITS)
        self.traits.update(traits or {})
        self.sticky_ttl = sticky_ttl
        self._cache: dict[str, str] = {}

    def names(self) -> frozenset[str]:
        return frozenset(self.tables)

    def models(self) -> Iterable[str]:
        """Every model any table names (for start-up validation)."""
        return sorted({m for t in self.tables.values() for c in t.values() for m in c})

    async def choose(self, router: str, request: ir.Request, session_id: str) -> AutoDecision:
        """The decision with stickiness, reading the conversation's record from the shared
        state when this process has not seen the conversation yet."""
        key = f"{router}:{session_id}"
        previous = self._cache.get(key)
        if previous is None:
            previous = await self._fetch(key)
        return self._sticky_decision(router, request, previous)

    def route(self, router: str, request: ir.Request, session_id: str) -> AutoDecision:
        """`choose` without waiting, for synchronous routing code: a conversation this
        process has not seen yet is classified afresh, and its shared record is fetched in
        the background for its next request."""
        key = f"{router}:{session_id}"
        previous = self._cache.get(key)
        if previous is None:
            self.writer.submit(lambda: self._fetch(key))
        return self._sticky_decision(router, request, previous)

    def _sticky_decision(self, router: str, request: ir.Request,
                         previous: str | None) -> AutoDecision:
        decision = classify(router, request, self.tables[router], self.traits)
        need = needed_tokens(request, decision.signals)

        def eligible(model: str) -> bool:
            t = traits_of(model, self.traits)
            return t.context >= need and (t.vision or not decision.signals.images)

        chain, sticky = apply_stickiness(decision.models, previous or None, eligible)
        return AutoDecision(router, decision.category, chain, decision.signals, sticky)

    async def remember(self, router: str, session_id: str, model: str) -> None:
        """Record the model that answered this conversation (call after a success)."""
        key = f"{router}:{session_id}"
        if self._cache.get(key) != model:
            self._put(key, model)
            await self.state.set_sticky("model", key, model, self.sticky_ttl)

    def answered(self, router: str, session_id: str, model: str) -> None:
        """`remember` for synchronous code: the shared-state write runs behind."""
        key = f"{router}:{session_id}"
        if self._cache.get(key) != model:
            self._put(key, model)
            self.writer.submit(lambda: self.state.set_sticky("model", key, model,
                                                             self.sticky_ttl))

    async def _fetch(self, key: str) -> str:
        value = await self.state.sticky("model", key) or ""
        if key not in self._cache:
            self._put(key, value)
        return self._cache.get(key, value)

    def _put(self, key: str, model: str) -> None:
        if key not in self._cache and len(self._cache) >= _STICKY_CACHE:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = model
