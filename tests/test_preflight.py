"""Both doors reject malformed requests themselves, with a 400 in their own dialect, before
any upstream is called (the fast path forwards bodies without decoding them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.opencode import FakeOpenCode
from tests.gateway import Gateway, request

OPENAI_BAD: list[tuple[dict[str, Any], str]] = [
    ({"max_tokens": "100"}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"temperature": "0.5"}, "temperature"),
    ({"top_p": True}, "top_p"),
    ({"tool_choice": 3}, "tool_choice"),
    ({"metadata": "not an object"}, "metadata"),
    ({"stream": "yes"}, "stream"),
    ({"stop": [1, 2]}, "stop"),
    ({"tools": {"type": "function"}}, "tools"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,not base64!!"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
]


@pytest.mark.parametrize("model", ["opencode-go/glm-5.1", "opencode-go/minimax-m2.7"],
                         ids=["fast-path", "translated"])
@pytest.mark.parametrize(("extra", "param"), OPENAI_BAD, ids=[p for _, p in OPENAI_BAD])
def test_openai_door_rejects_wrong_types(
    gateway: Gateway, fake_go: FakeOpenCode, model: str, extra: dict[str, Any], param: str
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    status, _, payload = request(gateway, "POST", "/v1/chat/completions",
                                 json.dumps(body).encode(), {"content-type": "application/json"})
    assert status == 400, payload
    err = json.loads(payload)["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert fake_go.completions() == []


ANTHROPIC_BAD: list[tuple[dict[str, Any], str]] = [
    ({"max_tokens": "100"}, "max_tokens"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_k": 1.5}, "top_k"),
    ({"metadata": "x"}, "metadata"),
    ({"tool_choice": "auto"}, "tool_choice"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "%%%"}}]}]},
     "messages.0.content.0.source.data"),
]


@pytest.mark.parametrize(("extra", "param"), ANTHROPIC_BAD, ids=[p for _, p in ANTHROPIC_BAD])
def test_anthropic_door_rejects_wrong_types(
    gateway: Gateway, fake_zen: FakeOpenCode, extra: dict[str, Any], param: str
) -> None:
    # claude-sonnet-4-6 on Zen is a real Anthropic model: the fast path, no decode.
    body = {"model": "opencode-zen/claude-sonnet-4-6", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}], **extra}
    status, _, payload = request(gateway, "POST", "/v1/messages", json.dumps(body).encode(),
                                 {"content-type": "application/json",
                                  "anthropic-version": "2023-06-01"})
    assert status == 400, payload
    body_out = json.loads(payload)
    assert body_out["type"] == "error"
    assert body_out["error"]["type"] == "invalid_request_error"
    assert body_out["error"]["message"].startswith(param)
    assert fake_zen.completions() == []
