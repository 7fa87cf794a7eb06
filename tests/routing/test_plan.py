"""Plans and the fallback policy as pure decisions: Claude names, aliases and fallbacks, the
targets a model becomes (key, other dialect, other keys), keys resting at plan time, which
target the policy admits after which failure, and which failure the client finally sees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import pytest

from crossway.config.loader import load_settings
from crossway.errors import InvalidRequest, NotFound, RateLimited, UpstreamError
from crossway.exchange import Attempt
from crossway.failures import AttemptFailed, FailureKind
from crossway.providers import build_provider
from crossway.routing.keypool import KeysCooling
from crossway.routing.plan import Router, Target
from crossway.routing.resilience import RoutingPolicy
from crossway.routing.setup import RoutingRuntime

GO = {"OPENCODE_GO_API_KEY": "sk-go-0123456789abcdef"}
ZEN = {"OPENCODE_API_KEY": "sk-zen-0123456789abcdef"}
TWO_GO = {"OPENCODE_GO_API_KEY_1": "sk-go-1111111111111111",
          "OPENCODE_GO_API_KEY_2": "sk-go-2222222222222222"}


def runtime(env: Mapping[str, str], routing: object | None = None) -> RoutingRuntime:
    full = dict(env)
    if routing is not None:
        full["CROSSWAY_ROUTING"] = json.dumps(routing)
    settings = load_settings(None, full)
    return RoutingRuntime.create(settings, [build_provider(b) for b in settings.backends],
                                 env={})


def labels(router: Router, model: str, session: str = "ses_plantest0001") -> list[str]:
    return [f"{t.label}{'/' + t.role if t.role else ''}"
            for t in router.plan(model, session).targets]


def test_claude_names_map_to_go_without_a_native_backend() -> None:
    router = runtime(GO).router
    # no request to classify: go-auto's chat chain
    assert labels(router, "claude-opus-5-5")[0] == "opencode-go:deepseek-v4-flash"
    assert labels(router, "claude-sonnet-4-6[1m]")[0] == "opencode-go:deepseek-v4-flash"
    assert labels(router, "claude-haiku-4-5-20251001") == ["opencode-go:deepseek-v4-flash",
                                                           "opencode-go:deepseek-v4-flash"
                                                           "/dialect"]
    assert labels(router, "anthropic/claude-3-5-haiku-latest")[0] == \
        "opencode-go:deepseek-v4-flash"


def test_the_real_claude_model_wins_where_served() -> None:
    router = runtime({**GO, **ZEN}).router
    assert labels(router, "claude-sonnet-4-6")[0] == "opencode-zen:claude-sonnet-4-6"
    assert labels(router, "claude-haiku-4-5-20251001")[0] == "opencode-zen:claude-haiku-4-5"
    assert labels(router, "claude-sonnet-4-6[1m]")[0] == "opencode-zen:claude-sonnet-4-6"
    assert labels(router, "claude-opus-5-5")[0].startswith("opencode-go:")  # Zen lacks it
    mapped = runtime({**GO, **ZEN}, {"claude": {"native": False,
                                                "sonnet": "opencode-go/glm-5.1"}}).router
    assert labels(mapped, "claude-sonnet-4-6")[0] == "opencode-go:glm-5.1"


def test_claude_names_go_to_zen_when_only_zen_has_a_key() -> None:
    router = runtime(ZEN).router
    assert labels(router, "claude-opus-5-5")[0] == "opencode-zen:deepseek-v4-flash"  # zen-auto
    assert labels(router, "claude-sonnet-4-6")[0] == "opencode-zen:claude-sonnet-4-6"
    assert labels(router, "claude-haiku-3-9")[0] == "opencode-zen:deepseek-v4-flash"


def test_zen_auto_only_with_a_zen_key() -> None:
    assert "zen-auto" not in runtime(GO).router.routing_names()
    assert "zen-auto" in runtime({**GO, **ZEN}).router.routing_names()
    with pytest.raises(NotFound):
        runtime(GO).router.plan("zen-auto", "ses_x")


def test_aliases_and_fallbacks_expand_depth_first_without_repeats() -> None:
    routing = {"aliases": {"fast": ["opencode-go/glm-5.1", "opencode-go/kimi-k2.6"]},
               "fallbacks": {"opencode-go/glm-5.1": ["opencode-go/deepseek-v4-pro",
                                                     "opencode-go/kimi-k2.6"]}}
    router = runtime(GO, routing).router
    chain = [x for x in labels(router, "fast") if "/dialect" not in x]
    assert chain == ["opencode-go:glm-5.1", "opencode-go:deepseek-v4-pro",
                     "opencode-go:kimi-k2.6"]
    # a bare id takes the fallbacks of its public id
    assert [x for x in labels(router, "glm-5.1") if "/" not in x] == chain
    assert router.aliases()["fast"] == ["opencode-go/glm-5.1", "opencode-go/kimi-k2.6"]


def test_a_model_becomes_key_dialect_and_other_key_targets() -> None:
    async def run() -> None:  # a pool of several keys writes stickiness behind, in a loop
        router = runtime(TWO_GO).router
        targets = router.plan("opencode-go/minimax-m2.7", "ses_plantest0001").targets
        assert [t.role for t in targets] == ["", "dialect", "key"]
        assert targets[0].instance is targets[1].instance
        assert (targets[0].dialect, targets[1].dialect) == ("anthropic", "openai_chat")
        assert targets[2].instance is not targets[0].instance
        # an explicit instance is that key only
        assert labels(router, "opencode-go.2:glm-5.1") == [
            "opencode-go.2:glm-5.1", "opencode-go.2:glm-5.1/dialect"]

    asyncio.run(run())


def test_resting_keys_at_plan_time() -> None:
    rt = runtime(GO, {"fallbacks": {"opencode-go/glm-5.1": ["opencode-zen/glm-5.1"]}})
    pool = rt.router.pools["opencode-go"]
    pool._cool(pool.members[0], "900", "5 hour", "GoUsageLimitError")
    with pytest.raises(KeysCooling) as info:
        rt.router.plan("kimi-k2.6", "ses_x")
    assert info.value.status == 429 and 899 <= info.value.retry_after <= 900
    assert "GoUsageLimitError: 5 hour" in info.value.message
    both = runtime({**GO, **ZEN}, {"fallbacks": {"opencode-go/glm-5.1":
                                                 ["opencode-zen/glm-5.1"]}})
    pool = both.router.pools["opencode-go"]
    pool._cool(pool.members[0], "900", None, None)
    assert labels(both.router, "opencode-go/glm-5.1") == [
        "opencode-zen:glm-5.1", "opencode-zen:glm-5.1/dialect"]


# ------------------------------------------------------------------ the policy


def failed(kind: FailureKind, error: Exception, **kw: object) -> AttemptFailed:
    assert isinstance(error, InvalidRequest | RateLimited | UpstreamError | NotFound)
    return AttemptFailed(kind, error, **kw)  # type: ignore[arg-type]


def test_admits_retry_targets_only_after_their_failure() -> None:
    rt = runtime(TWO_GO, {"budget": {"attempts": 3}})
    policy = rt.policy
    assert isinstance(policy, RoutingPolicy)

    async def plan() -> tuple[Target, ...]:
        return rt.router.plan("opencode-go/minimax-m2.7", "ses_a").targets

    primary, moved, other_key = asyncio.run(plan())
    assert policy.admits(primary, [], [])
    assert not policy.admits(moved, [], [])  # a retry target with nothing before it
    tried = [Attempt(primary, fast=False)]
    server = failed(FailureKind.UPSTREAM_STATUS, UpstreamError("boom", status=500), status=500)
    model = failed(FailureKind.UPSTREAM_STATUS, NotFound("Model x is not supported"),
                   status=401, error_class="ModelError")
    limit = failed(FailureKind.UPSTREAM_STATUS, RateLimited("slow down"), status=429,
                   retry_after="30")
    assert not policy.admits(moved, tried, [server]) and policy.admits(moved, tried, [model])
    assert not policy.admits(other_key, tried, [server])
    assert policy.admits(other_key, tried, [limit])
    budget = tried * 3
    assert not policy.admits(other_key, budget, [limit] * 3)  # 3 attempts spent


def test_final_error_is_the_most_telling() -> None:
    policy = runtime(GO).policy
    plan = runtime(GO).router.plan("glm-5.1", "ses_a")
    soon = failed(FailureKind.UPSTREAM_STATUS, RateLimited("a"), status=429, retry_after="300")
    late = failed(FailureKind.UPSTREAM_STATUS, RateLimited("b"), status=429, retry_after="600")
    server = failed(FailureKind.UPSTREAM_STATUS, UpstreamError("c", status=500), status=500)
    own = failed(FailureKind.CLIENT_ERROR, InvalidRequest("d"))
    first = failed(FailureKind.UPSTREAM_STATUS, NotFound("Model glm-5.1 is not supported"),
                   status=401, error_class="ModelError")
    second = failed(FailureKind.UPSTREAM_STATUS, NotFound("on the other route"), status=401,
                    error_class="ModelError")
    assert policy.final_error(plan, [late, soon]) is soon.error
    assert policy.final_error(plan, [server, own]) is own.error
    assert policy.final_error(plan, [server, late]) is server.error
    assert policy.final_error(plan, [first, second]) is first.error
    skipped = policy.final_error(plan, [])
    assert skipped.status == 503 and "glm-5.1" in skipped.message
