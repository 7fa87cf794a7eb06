"""The Converse half of the fake Bedrock (tests/fakes/bedrock.py): request rules and answers.

Bedrock's Converse rules, in its words: known top-level fields only; a conversation starts
with a user turn and alternates roles; content blocks hold exactly one known member, text is
never blank; toolUse and toolResult blocks need a `toolConfig`; a turn's toolResults answer
the previous turn's toolUses; tool names match `[a-zA-Z0-9_-]{1,64}`. Stream payloads carry
a random `p` padding field, as Bedrock's do.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

MODELS = frozenset(("meta.llama3-70b-instruct-v1:0", "amazon.nova-pro-v1:0",
                    "us.deepseek.r1-v1:0"))
REASONING_MODELS = frozenset(("us.deepseek.r1-v1:0",))
_TOP = frozenset(("messages", "system", "inferenceConfig", "toolConfig",
                  "additionalModelRequestFields", "additionalModelResponseFieldPaths",
                  "guardrailConfig", "performanceConfig", "promptVariables", "requestMetadata"))
_BLOCKS = frozenset(("text", "image", "document", "video", "toolUse", "toolResult",
                     "reasoningContent", "cachePoint", "guardContent"))
_INFERENCE = frozenset(("maxTokens", "temperature", "topP", "stopSequences"))
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
ALTERNATE = ("A conversation must alternate between user and assistant roles. Make sure the "
             "conversation alternates between user and assistant roles and try again.")
NEEDS_TOOL_CONFIG = ("The toolConfig field must be defined when using toolUse and toolResult "
                     "content blocks.")


class ConverseInvalid(Exception):
    """A ValidationException with this message."""


def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise ConverseInvalid("Malformed input request, please reformat your input.")
    for key in body:
        if key not in _TOP:
            raise ConverseInvalid(f"Unknown parameter in input: \"{key}\"")
    for key in body.get("inferenceConfig") or {}:
        if key not in _INFERENCE:
            raise ConverseInvalid(f"Unknown parameter in inferenceConfig: \"{key}\"")
    tools = _tools(body.get("toolConfig"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
        raise ConverseInvalid("A conversation must start with a user message. Try again with "
                              "a conversation that starts with a user message.")
    previous_uses: set[str] = set()
    for i, m in enumerate(messages):
        if i and m.get("role") == messages[i - 1].get("role"):
            raise ConverseInvalid(ALTERNATE)
        uses: set[str] = set()
        for j, block in enumerate(m.get("content") or ()):
            kind = _block(block, f"messages.{i}.content.{j}")
            if kind in ("toolUse", "toolResult") and tools is None:
                raise ConverseInvalid(NEEDS_TOOL_CONFIG)
            if kind == "toolUse":
                uses.add(block["toolUse"]["toolUseId"])
            if kind == "toolResult" and block["toolResult"].get("toolUseId") not in \
                    previous_uses:
                raise ConverseInvalid(f"The toolResult blocks at messages.{i}.content do not "
                                      "match the toolUse blocks of the previous turn.")
        previous_uses = uses


def _tools(config: Any) -> set[str] | None:
    if config is None:
        return None
    names = set()
    for t in config.get("tools") or ():
        spec = t.get("toolSpec") or {}
        name = spec.get("name", "")
        if not _TOOL_NAME.fullmatch(name):
            raise ConverseInvalid(f"Value '{name}' at 'toolConfig.tools.member.toolSpec.name' "
                                  "failed to satisfy constraint: Member must satisfy regular "
                                  "expression pattern: [a-zA-Z0-9_-]+")
        if not isinstance((spec.get("inputSchema") or {}).get("json"), dict):
            raise ConverseInvalid(f"toolSpec {name}: inputSchema.json is required")
        names.add(name)
    return names


def _block(block: Any, where: str) -> str:
    keys = [k for k in block if k in _BLOCKS] if isinstance(block, dict) else []
    if len(keys) != 1 or len(block) != 1:
        raise ConverseInvalid(f"The content block at {where} must hold exactly one member")
    kind = keys[0]
    if kind == "text" and not str(block["text"]).strip():
        raise ConverseInvalid(f"The text field in the ContentBlock object at {where} is blank. "
                              "Add text to the text field, and try again.")
    return kind


def events(body: dict[str, Any], model: str, text: str, reasoning: str,
           calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The ConverseStream events of an answer, in order."""
    out: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if reasoning and model in REASONING_MODELS:
        out += [("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                    "reasoningContent": {"text": reasoning}}}),
                ("contentBlockStop", {"contentBlockIndex": index})]
        index += 1
    if text and not calls:
        half = len(text) // 2 or 1
        out += [("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                for piece in (text[:half], text[half:]) if piece]
        out.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for name, args in calls:
        out += [("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {
                    "toolUseId": "tooluse_" + secrets.token_hex(8), "name": name}}}),
                ("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                    "toolUse": {"input": json.dumps(args)}}}),
                ("contentBlockStop", {"contentBlockIndex": index})]
        index += 1
    prompt = max(1, len(json.dumps(body["messages"])) // 4)
    out += [("messageStop", {"stopReason": "tool_use" if calls else "end_turn"}),
            ("metadata", {"usage": {"inputTokens": prompt, "outputTokens": len(text) // 4 + 1,
                                    "totalTokens": prompt + len(text) // 4 + 1},
                          "metrics": {"latencyMs": 120}})]
    return out


def assemble(stream: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The Converse (non-stream) answer for the same events."""
    blocks: dict[int, dict[str, Any]] = {}
    stop, usage = "end_turn", {}
    for kind, ev in stream:
        i = ev.get("contentBlockIndex", 0)
        if kind == "contentBlockStart":
            use = ev["start"]["toolUse"]
            blocks[i] = {"toolUse": {**use, "input": ""}}
        elif kind == "contentBlockDelta":
            d = ev["delta"]
            if "text" in d:
                blocks.setdefault(i, {"text": ""})["text"] += d["text"]
            elif "toolUse" in d:
                blocks[i]["toolUse"]["input"] += d["toolUse"]["input"]
            else:
                blocks[i] = {"reasoningContent": {"reasoningText": {
                    "text": d["reasoningContent"]["text"]}}}
        elif kind == "messageStop":
            stop = ev["stopReason"]
        elif kind == "metadata":
            usage = ev["usage"]
    for block in blocks.values():
        if "toolUse" in block:
            block["toolUse"]["input"] = json.loads(block["toolUse"]["input"])
    return {"output": {"message": {"role": "assistant",
                                   "content": [blocks[i] for i in sorted(blocks)]}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 120}}


def padded(event: dict[str, Any]) -> bytes:
    return json.dumps({**event, "p": "abcdefghij"[: secrets.randbelow(10) + 1]}).encode()
