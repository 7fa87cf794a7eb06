"""The list shared by GET /v1/models and the client configs, and where clients find crossway."""

from __future__ import annotations

import pytest

from crossway.config.loader import load_settings
from crossway.config.settings import Settings
from crossway.integrations import discovery
from crossway.integrations.commands import router_for
from crossway.integrations.opencode import model_entry


def models(**env: str) -> list[discovery.Advertised]:
    return discovery.advertised(router_for(load_settings(None, env)))


@pytest.mark.parametrize("given", [
    "http://localhost:20128", "http://localhost:20128/", "http://localhost:20128/v1",
    "http://localhost:20128/v1/", "http://localhost:20128/v1///", "http://localhost:20128/v1/v1",
    " http://localhost:20128/v1/v1/ ",
])
def test_exactly_one_v1_whatever_the_input(given: str) -> None:
    origin = discovery.origin(Settings(), given)
    assert origin == "http://localhost:20128"
    assert discovery.v1(origin) == "http://localhost:20128/v1"


def test_origin_from_settings_and_path_prefixes() -> None:
    assert discovery.origin(Settings(host="0.0.0.0", port=9000)) == "http://127.0.0.1:9000"
    assert discovery.origin(Settings(host="::1", port=9000)) == "http://[::1]:9000"
    assert discovery.origin(Settings(), "https://gw.example/team/v1") == \
        "https://gw.example/team"
    with pytest.raises(ValueError, match="http"):
        discovery.origin(Settings(), "localhost:8000")


def test_select_pick_and_resolve() -> None:
    all_models = models(OPENCODE_GO_API_KEY="sk-go-0123456789")
    ids = {m.id for m in all_models}
    assert "opencode-go/glm-5.1" in ids and "opencode-zen/glm-5.1" in ids
    backed = [m for m in all_models if m.owned_by != "crossway"]  # not routing names
    assert all(m.ready == m.id.startswith("opencode-go/") for m in backed)
    assert {"go-auto", "auto"} <= {m.id for m in all_models if m.owned_by == "crossway"}
    glm = discovery.select(all_models, "opencode-go/glm-*, opencode-zen/claude-haiku-4-5")
    assert {m.id for m in glm} >= {"opencode-go/glm-5.1", "opencode-zen/claude-haiku-4-5"}
    # defaults come from backends that have a key
    strong = discovery.pick(all_models, discovery.STRONG)
    assert strong is not None and strong.id == "opencode-go/glm-5.3"
    fast = discovery.pick(all_models, discovery.FAST)
    assert fast is not None and fast.id == "opencode-go/deepseek-v4-flash"
    assert discovery.resolve(all_models, "opencode-zen/glm-5.1", "--model").owned_by == \
        "opencode-zen"
    with pytest.raises(ValueError, match="several backends"):
        discovery.resolve(all_models, "glm-5.1", "--model")
    assert discovery.resolve(all_models, "claude-haiku-4-5", "--model").id == \
        "opencode-zen/claude-haiku-4-5"


def test_routing_names_look_like_their_most_limited_model() -> None:
    router = router_for(load_settings(None, {"OPENCODE_GO_API_KEY": "sk-go-0123456789"}))
    chain = ["opencode-go/glm-5.1", "opencode-go/kimi-k2.6", "nope"]
    found = discovery.advertised(router, {"go-auto": chain, "empty": ["nope"]})
    alias = found[-1]
    assert alias.id == "go-auto" and alias.owned_by == "crossway" and alias.ready
    assert "empty" not in {m.id for m in found}
    assert alias.facts.context == 202752 and alias.facts.output == 65536
    assert alias.facts.image_input and alias.facts.reasoning and alias.facts.tool_call
    entry = model_entry(alias)
    assert entry["limit"] == {"context": 202752, "output": 65536} and entry["attachment"]
    assert discovery.metadata(alias)["capabilities"] == {"tools": True, "reasoning": True,
                                                        "vision": True}
