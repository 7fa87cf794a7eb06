"""GET /v1/models for agents: chat models only, OpenAI shape plus metadata, capped at 256
unless ?all=1, and ids equal to the ones `crossway config` writes into client configs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossway.dialects import registry
from tests.fakes.opencode import FakeOpenCode
from tests.gateway import Gateway, request
from tests.integrations.conftest import clean_env, crossway

GO_KEY = "sk-test-go-0123456789"  # the shared gateway fixture's keys (tests/conftest.py)
ZEN_KEY = "sk-test-zen-0123456789"


def models(gw: Gateway, query: str = "", **headers: str) -> dict[str, Any]:
    status, _, body = request(gw, "GET", "/v1/models" + query, headers=headers)
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_openai_shape_with_metadata(gateway: Gateway) -> None:
    data = models(gateway)["data"]
    by_id = {m["id"]: m for m in data}
    glm = by_id["opencode-go/glm-5.1"]
    assert glm["object"] == "model" and glm["owned_by"] == "opencode-go"
    assert isinstance(glm["created"], int)
    assert glm["context_length"] == 202752 and glm["max_output_tokens"] == 131072
    assert glm["modalities"] == {"input": ["text"], "output": ["text"]}
    assert glm["capabilities"] == {"tools": True, "reasoning": True, "vision": False}
    assert by_id["opencode-go/kimi-k2.6"]["capabilities"]["vision"] is True
    assert by_id["opencode-zen/claude-sonnet-4-6"]["context_length"] == 1000000
    # models whose upstream dialect crossway does not speak (it would answer 501) are not
    # listed; grok-4.5 and gpt-5.5 are served over the Responses API
    responses = "openai_responses" in registry.names()
    assert ("opencode-go/grok-4.5" in by_id) == responses
    assert ("opencode-zen/gpt-5.5" in by_id) == responses
    assert len(data) == len(by_id)


def test_anthropic_shape_when_anthropic_version_is_sent(gateway: Gateway) -> None:
    body = models(gateway, **{"anthropic-version": "2023-06-01"})
    assert body["has_more"] is False and body["first_id"] == body["data"][0]["id"]
    assert {"type", "id", "display_name", "created_at"} == set(body["data"][0])
    assert {m["id"] for m in body["data"]} == {m["id"] for m in models(gateway)["data"]}


def test_ids_equal_those_written_into_client_configs(gateway: Gateway, fake_go: FakeOpenCode,
                                                     fake_zen: FakeOpenCode, home: Path,
                                                     work: Path) -> None:
    env = clean_env(home, OPENCODE_GO_API_KEY=GO_KEY, OPENCODE_GO_BASE_URL=fake_go.base_url,
                    OPENCODE_API_KEY=ZEN_KEY, OPENCODE_ZEN_BASE_URL=fake_zen.base_url,
                    CROSSWAY_PORT=str(gateway.port))
    result = crossway(["config", "opencode"], env, work)
    assert result.returncode == 0, result.stderr
    doc = json.loads((home / ".config" / "opencode" / "opencode.json").read_text())
    written = set(doc["provider"]["crossway"]["models"])
    assert written == {m["id"] for m in models(gateway)["data"]}


@pytest.fixture(scope="module")
def big_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A generic backend listing 300 chat models and some that are not chat models."""
    ids = [f"model-{i:03d}" for i in range(300)]
    ids += ["text-embedding-3-small", "whisper-1", "tts-1"]
    cfg = tmp_path_factory.mktemp("big") / "crossway.yaml"
    cfg.write_text("backends:\n  lab:\n    type: openai\n    api_url: http://127.0.0.1:9/v1\n"
                   f"    api_key: sk-lab-0123456789\n    models: {json.dumps(ids)}\n")
    with Gateway({"CROSSWAY_CONFIG": str(cfg)}) as gw:
        yield gw


def test_at_most_256_unless_all(big_gateway: Gateway) -> None:
    capped = models(big_gateway)["data"]
    assert len(capped) == 256
    # the keyed backend's models come first, so the cut keeps the ones that work
    assert all(m["owned_by"] == "lab" for m in capped)
    everything = models(big_gateway, "?all=1")["data"]
    lab = [m["id"] for m in everything if m["owned_by"] == "lab"]
    assert len(lab) == 300 and len(everything) > 300
    assert not {"lab/text-embedding-3-small", "lab/whisper-1", "lab/tts-1"} & set(lab)
    unknown = next(m for m in everything if m["id"] == "lab/model-000")
    assert unknown["context_length"] is None and unknown["capabilities"]["tools"] is True
    body = models(big_gateway, **{"anthropic-version": "2023-06-01"})
    assert len(body["data"]) == 256 and body["has_more"] is True
