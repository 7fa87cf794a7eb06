"""The reasoning-token cache for clients whose dialect cannot carry tokens, as data."""

from __future__ import annotations

from crossway import ir
from crossway.reasoning_cache import Block, BlockCollector, ReasoningCache, blocks_of


def _history(text: str) -> ir.Request:
    return ir.Request("m", [
        ir.Message("user", [ir.Text("hi")]),
        ir.Message("assistant", [ir.Thinking(text), ir.ToolCall("c1", "Bash", "{}")]),
    ])


def test_a_stream_s_blocks_come_back_for_the_same_conversation() -> None:
    collector = BlockCollector()
    for ev in (ir.MessageStart(), ir.ThinkingDelta("Look "), ir.ThinkingDelta("it up."),
               ir.ThinkingSignature("crossway.v2.sig1"), ir.ThinkingDelta("Then"),
               ir.ThinkingEncrypted("crossway.v2.enc2"), ir.ToolCallStart("c1", "Bash")):
        collector.feed(ev)
    cache = ReasoningCache()
    cache.remember("ses_a", collector.blocks())
    req = _history("Look it up.Then")  # a chat client gets the deltas concatenated
    cache.restore("ses_a", req)
    thinking = [p for p in req.messages[1].content if isinstance(p, ir.Thinking)]
    assert [(t.text, t.signature, t.encrypted_content) for t in thinking] == [
        ("Look it up.", "crossway.v2.sig1", None), ("Then", None, "crossway.v2.enc2")]
    assert isinstance(req.messages[1].content[-1], ir.ToolCall)


def test_other_conversations_edited_text_and_tokenless_answers_miss() -> None:
    cache = ReasoningCache()
    cache.remember("ses_a", [Block("Plan.", signature="crossway.v2.s")])
    cache.remember("ses_a", [Block("No token here.")])
    assert len(cache) == 1
    for session, text in (("ses_b", "Plan."), ("ses_a", "Plan, edited."),
                          ("ses_a", "No token here.")):
        req = _history(text)
        cache.restore(session, req)
        assert req.messages[1].content[0] == ir.Thinking(text)
    req = _history("  Plan.\n")  # whitespace a client trimmed or added does not matter
    cache.restore("ses_a", req)
    assert req.messages[1].content[0] == ir.Thinking("Plan.", "crossway.v2.s")


def test_bounded_oldest_first_and_unary_answers() -> None:
    cache = ReasoningCache(max_entries=2)
    resp = ir.Response("r", "m", [ir.Thinking("one", "crossway.v2.1"), ir.Text("x")],
                       "end_turn", ir.Usage())
    cache.remember("s", blocks_of(resp))
    cache.remember("s", [Block("two", "crossway.v2.2")])
    cache.remember("s", [Block("three", "crossway.v2.3")])
    assert len(cache) == 2
    first = _history("one")
    cache.restore("s", first)
    assert first.messages[1].content[0] == ir.Thinking("one")  # evicted: dropped later, safe
    third = _history("three")
    cache.restore("s", third)
    assert third.messages[1].content[0] == ir.Thinking("three", "crossway.v2.3")
