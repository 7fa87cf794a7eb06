"""routing/auto.py: the documented classifier, the size and image constraints, the default
tables, and conversation stickiness through the state interface."""

from __future__ import annotations

import asyncio

import pytest

from crossway import ir
from crossway.providers.catalog import GO_MODELS, ZEN_MODELS
from crossway.routing.auto import (
    BUILTIN_TRAITS,
    CATEGORIES,
    CHARS_PER_TOKEN,
    DEFAULT_TABLES,
    GO_AUTO,
    TOKENS_PER_IMAGE,
    ZEN_AUTO,
    AutoRouter,
    ModelTraits,
    apply_stickiness,
    classify,
    estimate_tokens,
    read_signals,
    traits_of,
)
from crossway.routing.state import MemoryState, RedisState
from tests.routing.conftest import RedisServer

BASH = ir.Tool("Bash", "Run a shell command", {"type": "object",
                                                "properties": {"command": {"type": "string"}}})
PNG = ir.Image(media_type="image/png", data="iVBORw0KGgo=")


def user(*parts: ir.Part) -> ir.Message:
    return ir.Message("user", list(parts))


def req(*messages: ir.Message, **kw: object) -> ir.Request:
    return ir.Request(model="go-auto", messages=list(messages), **kw)  # type: ignore[arg-type]


def agent_request() -> ir.Request:
    return req(
        user(ir.Text("list the files")),
        ir.Message("assistant", [ir.ToolCall("call_1", "Bash", '{"command": "ls"}')]),
        user(ir.ToolResult("call_1", [ir.Text("README.md\nsrc")])),
        tools=[BASH])


def category(request: ir.Request) -> str:
    return classify("go-auto", request, GO_AUTO).category


# ------------------------------------------------------------------ categories


def test_tool_loop_is_agent() -> None:
    assert category(agent_request()) == "agent"


def test_tools_offered_without_results_yet_are_not_agent() -> None:
    assert category(req(user(ir.Text("hello there")), tools=[BASH])) == "chat"


@pytest.mark.parametrize("thinking", [
    ir.ThinkingConfig("enabled", budget_tokens=16000),
    ir.ThinkingConfig("adaptive", effort="high"),
    ir.ThinkingConfig("adaptive", effort="max"),
    ir.ThinkingConfig("enabled", effort="xhigh"),
])
def test_reasoning_asked(thinking: ir.ThinkingConfig) -> None:
    assert category(req(user(ir.Text("hello")), thinking=thinking)) == "reasoning"


@pytest.mark.parametrize("thinking", [
    ir.ThinkingConfig("adaptive"),  # Claude Code's default: not an ask
    ir.ThinkingConfig("enabled", effort="low"),
    ir.ThinkingConfig("adaptive", effort="medium"),
    ir.ThinkingConfig("disabled"),
])
def test_reasoning_not_asked(thinking: ir.ThinkingConfig) -> None:
    assert category(req(user(ir.Text("hello")), thinking=thinking)) == "chat"


@pytest.mark.parametrize("text", [
    "Explain step by step how TCP slow start works",
    "Prove that the square root of 2 is irrational",
    "ultrathink about this plan",
    "What are the trade-offs between Redis and Postgres for a queue?",
])
def test_reasoning_words(text: str) -> None:
    assert category(req(user(ir.Text(text)))) == "reasoning"


@pytest.mark.parametrize("text", [
    "```python\nprint(1)\n```",
    "Traceback (most recent call last):\n  File \"x.py\", line 1",
    "fix the bug in src/app.py please",
    "why does this function return None?\ndef f(x):\n    return",
    "refactor the regex in parser.rs",
])
def test_code(text: str) -> None:
    assert category(req(user(ir.Text(text)))) == "code"


@pytest.mark.parametrize("text", [
    "hello, how are you?",
    "Write a haiku about autumn",
    "What is the capital of France?",
    "the bug bit me",  # one weak code signal is not enough
])
def test_chat(text: str) -> None:
    assert category(req(user(ir.Text(text)))) == "chat"


def test_only_the_last_user_text_is_read_for_signals() -> None:
    request = req(user(ir.Text("```py\nx = 1\n```")),
                  ir.Message("assistant", [ir.Text("done")]),
                  user(ir.Text("thanks, and how are you?")))
    assert category(request) == "chat"


def test_agent_beats_reasoning_and_code() -> None:
    request = agent_request()
    request.thinking = ir.ThinkingConfig("enabled", budget_tokens=4000)
    request.messages[0] = user(ir.Text("```py\nfix me\n``` step by step"))
    assert category(request) == "agent"


# ------------------------------------------------------------------ constraints


def test_images_go_to_models_that_accept_them() -> None:
    decision = classify("go-auto", req(user(ir.Text("what is this?"), PNG)), GO_AUTO)
    assert decision.category == "vision"
    assert decision.models
    assert all(traits_of(m, BUILTIN_TRAITS).vision for m in decision.models)


def test_image_in_a_tool_result_counts() -> None:
    request = agent_request()
    request.messages[2] = user(ir.ToolResult("call_1", [ir.Text("shot"), PNG]))
    decision = classify("go-auto", request, GO_AUTO)
    assert decision.category == "vision"
    assert read_signals(request).images


def test_long_when_the_primary_window_is_too_small() -> None:
    table = {**GO_AUTO, "chat": ("opencode-go/glm-5.1",), "long": ("opencode-go/minimax-m3",)}
    small = req(user(ir.Text("hi " * 1000)))
    assert classify("go-auto", small, table).category == "chat"
    big = req(user(ir.Text("x" * int(210_000 * CHARS_PER_TOKEN))))
    decision = classify("go-auto", big, table)
    assert decision.category == "long"
    assert decision.models == ("opencode-go/minimax-m3",)


def test_chain_keeps_only_models_whose_window_fits() -> None:
    traits = {"a": ModelTraits(100_000), "b": ModelTraits(300_000), "c": ModelTraits(50_000)}
    table = {"chat": ("a", "b", "c"), "long": ("c",)}
    request = req(user(ir.Text("y" * int(150_000 * CHARS_PER_TOKEN))))
    decision = classify("r", request, table, traits)  # type: ignore[arg-type]
    assert decision.category == "long"  # a (the chat primary) is too small
    assert decision.models == ("b",)  # long's own chain does not fit: searched on


def test_nothing_fits_keeps_the_unfiltered_chain() -> None:
    traits = {"a": ModelTraits(1000)}
    table = {"chat": ("a",), "long": ("a",)}
    decision = classify("r", req(user(ir.Text("z" * 100_000))), table, traits)  # type: ignore[arg-type]
    assert decision.models == ("a",)


def test_output_reserve_counts_against_the_window() -> None:
    traits = {"a": ModelTraits(10_000), "b": ModelTraits(1_000_000)}
    table = {"chat": ("a", "b")}
    text = ir.Text("w" * int(5000 * CHARS_PER_TOKEN))
    assert classify("r", req(user(text)), table, traits).models == ("a", "b")  # type: ignore[arg-type]
    decision = classify("r", req(user(text), max_tokens=32000), table, traits)  # type: ignore[arg-type]
    assert decision.models == ("b",)


def test_estimate_tokens() -> None:
    assert estimate_tokens(req(user(ir.Text("a" * 350)))) == 100 + 3
    assert estimate_tokens(req(user(PNG))) == TOKENS_PER_IMAGE + 3
    with_tool = estimate_tokens(req(user(ir.Text("")), tools=[BASH]))
    assert with_tool > 20
    request = agent_request()
    request.system = [ir.Text("s" * 700)]
    assert estimate_tokens(request) > 200


def test_traits_lookup() -> None:
    assert traits_of("opencode-go/kimi-k3", BUILTIN_TRAITS) == BUILTIN_TRAITS["kimi-k3"]
    assert traits_of("opencode-go/brand-new", BUILTIN_TRAITS) == ModelTraits()
    custom = {**BUILTIN_TRAITS, "opencode-go/kimi-k3": ModelTraits(1000)}
    assert traits_of("opencode-go/kimi-k3", custom).context == 1000


# ------------------------------------------------------------------ default tables


def test_default_tables_cover_every_category_with_catalog_models() -> None:
    assert DEFAULT_TABLES["auto"] is DEFAULT_TABLES["go-auto"]
    for table, catalog, prefix in ((GO_AUTO, GO_MODELS, "opencode-go/"),
                                   (ZEN_AUTO, ZEN_MODELS, "opencode-zen/")):
        assert set(table) == set(CATEGORIES)
        for chain in table.values():
            assert chain
            for model in chain:
                assert model.startswith(prefix) and model.removeprefix(prefix) in catalog
        assert all(traits_of(m, BUILTIN_TRAITS).vision for m in table["vision"])


# ------------------------------------------------------------------ stickiness


def test_apply_stickiness() -> None:
    chain = ("a", "b", "c")
    assert apply_stickiness(chain, None, lambda m: True) == (chain, False)
    assert apply_stickiness(chain, "b", lambda m: True) == (("b", "a", "c"), True)
    assert apply_stickiness(chain, "z", lambda m: True) == (("z", "a", "b", "c"), True)
    assert apply_stickiness(chain, "z", lambda m: m != "z") == (chain, False)


def test_conversation_stays_on_its_model_until_it_fails() -> None:
    router = AutoRouter(MemoryState())

    async def run() -> None:
        first = await router.choose("go-auto", req(user(ir.Text("hello"))), "ses_1")
        assert first.category == "chat" and not first.sticky
        await router.remember("go-auto", "ses_1", first.models[0])
        # The next turn asks for code: same conversation, same model (its cache is warm).
        second = await router.choose(
            "go-auto", req(user(ir.Text("```py\nx\n```"))), "ses_1")
        assert second.category == "code"
        assert second.sticky and second.models[0] == first.models[0]
        assert set(second.models[1:]) == set(GO_AUTO["code"]) - {first.models[0]}
        # Its model failed and a fallback answered: the conversation moves there.
        await router.remember("go-auto", "ses_1", "opencode-go/glm-5.2")
        third = await router.choose("go-auto", req(user(ir.Text("hi"))), "ses_1")
        assert third.models[0] == "opencode-go/glm-5.2"
        # Other conversations and other routers are separate.
        other = await router.choose("go-auto", req(user(ir.Text("hi"))), "ses_2")
        assert not other.sticky
        zen = await router.choose("zen-auto", req(user(ir.Text("hi"))), "ses_1")
        assert not zen.sticky and zen.models == ZEN_AUTO["chat"]

    asyncio.run(run())


def test_sticky_model_that_cannot_take_an_image_is_not_kept() -> None:
    router = AutoRouter(MemoryState())

    async def run() -> None:
        await router.remember("go-auto", "ses_1", "opencode-go/deepseek-v4-flash")
        decision = await router.choose(
            "go-auto", req(user(ir.Text("and this?"), PNG)), "ses_1")
        assert not decision.sticky
        assert decision.models[0] != "opencode-go/deepseek-v4-flash"

    asyncio.run(run())


def test_tables_and_traits_are_overridable() -> None:
    router = AutoRouter(MemoryState(), tables={"go-auto": {**GO_AUTO, "chat": ("x/y",)}},
                        traits={"x/y": ModelTraits(50_000)})

    async def run() -> None:
        decision = await router.choose("go-auto", req(user(ir.Text("hi"))), "ses_1")
        assert decision.models == ("x/y",)
        assert router.names() == {"go-auto", "auto", "zen-auto"}
        assert "x/y" in router.models()

    asyncio.run(run())


def test_stickiness_is_shared_between_replicas(redis_server: RedisServer) -> None:
    async def run() -> None:
        sa, sb = RedisState.from_url(redis_server.url), RedisState.from_url(redis_server.url)
        try:
            await AutoRouter(sa).remember("go-auto", "ses_9", "opencode-go/kimi-k3")
            decision = await AutoRouter(sb).choose(
                "go-auto", req(user(ir.Text("hi"))), "ses_9")
            assert decision.sticky and decision.models[0] == "opencode-go/kimi-k3"
        finally:
            await sa.close()
            await sb.close()

    asyncio.run(run())


def test_synchronous_twins(redis_server: RedisServer) -> None:
    async def run() -> None:
        sa, sb = RedisState.from_url(redis_server.url), RedisState.from_url(redis_server.url)
        try:
            a, b = AutoRouter(sa), AutoRouter(sb)
            first = a.route("go-auto", req(user(ir.Text("hi"))), "ses_s")
            assert not first.sticky
            a.answered("go-auto", "ses_s", "opencode-go/glm-5.1")
            assert a.route("go-auto", req(user(ir.Text("hi"))), "ses_s").models[0] == \
                "opencode-go/glm-5.1"
            await a.writer.flush()
            # Replica b has not seen the conversation: fresh decision now, the shared
            # record for its next request.
            assert not b.route("go-auto", req(user(ir.Text("hi"))), "ses_s").sticky
            await b.writer.flush()
            again = b.route("go-auto", req(user(ir.Text("hi"))), "ses_s")
            assert again.sticky and again.models[0] == "opencode-go/glm-5.1"
        finally:
            await sa.close()
            await sb.close()

    asyncio.run(run())
