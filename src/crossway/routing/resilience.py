"""The running gateway's health and fallback rules: circuit breakers, the key pools, learned
dialects and auto-router stickiness fed from every attempt, and the triggers and budgets of
fallback.

Fallback happens only before the first byte reaches the client (the relay's commit rule).
After a failure the next target is tried when the failure is not the client's own: connect
failures and timeouts, 429, 5xx and 529, OpenCode's ModelError, AuthError, CreditsError,
MonthlyLimitError, FreeTierError. A context overflow is the client's, but may go to a later
model of the chain whose context window is larger. Targets that exist only for one kind of
failure are tried only after it: a model's other dialect after a ModelError on it, another
key of the backend after a failure of the key itself (429, AuthError, billing). Targets whose
breaker is open or whose key rests are skipped. At most `budget.attempts` tries, none started
after `budget.seconds`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from crossway.config.routing import FallbackBudget
from crossway.config.settings import Dialect
from crossway.errors import CrosswayError, RateLimited, ServiceUnavailable
from crossway.failures import AttemptFailed, FailureKind
from crossway.providers import Instance, Provider
from crossway.routing.auto import AutoRouter, ModelTraits, traits_of
from crossway.routing.breaker import Breaker
from crossway.routing.keypool import KeyPool
from crossway.routing.policy import FallbackPolicy, Health
from crossway.routing.state import State, WriteBehind

if TYPE_CHECKING:
    from crossway.exchange import Attempt
    from crossway.observability.setup import InstanceHealth
    from crossway.routing.plan import Plan, Target

log = logging.getLogger("crossway.routing")

_REVOKING = frozenset({"AuthError", "authentication_error", "invalid_api_key"})
# Spend limits of the workspace behind a key (OpenCode answers them with 401): the key rests
# for the window they name, other keys may still have budget.
_BILLING_WINDOWS = {"CreditsError": "hour", "UserLimitError": "month",
                    "MonthlyLimitError": "month"}
OVERFLOW_CODE = "context_length_exceeded"


def key_failure(status: int | None, error_class: str | None) -> str | None:
    """"revoked" (the upstream refused the key), "limited" (the key must rest), or None when
    the failure says nothing about the key."""
    if error_class in _REVOKING:
        return "revoked"
    if error_class in _BILLING_WINDOWS or status == 429:
        return "limited"
    return None


def is_overflow(failure: AttemptFailed) -> bool:
    return failure.kind is FailureKind.CLIENT_ERROR and failure.error.code == OVERFLOW_CODE


class DialectBook:
    """Dialects learned by the retry on the other route, per (backend, model): applied to the
    providers at once, shared through the state so other replicas skip the failed try."""

    def __init__(self, providers: Sequence[Provider], state: State, writer: WriteBehind) -> None:
        self.providers = {p.name: p for p in providers}
        self.state = state
        self.writer = writer

    def learn(self, provider: Provider, model: str, dialect: Dialect) -> None:
        if provider.learn(model, dialect):
            log.warning("backend %s now serves %s on %s (learned from a retry after the "
                        "upstream refused the catalog's route)", provider.name, model, dialect)
            scope = f"{provider.name}|{model}"
            self.writer.submit(lambda: self.state.learn_dialect(scope, dialect))

    async def refresh(self) -> None:
        for scope, dialect in (await self.state.learned_dialects()).items():
            backend, _, model = scope.partition("|")
            provider = self.providers.get(backend)
            if provider is not None and dialect in ("anthropic", "openai_chat",
                                                    "openai_responses"):
                provider.learn(model, dialect)  # type: ignore[arg-type]


class RoutingHealth(Health):
    def __init__(self, breaker: Breaker, pools: Mapping[str, KeyPool[Instance]],
                 dialects: DialectBook, auto: AutoRouter | None) -> None:
        self.breaker = breaker
        self.pools = pools
        self.dialects = dialects
        self.auto = auto

    def record(self, attempt: Attempt) -> None:
        t = attempt.target
        kind = attempt.failure
        # A stream that broke after its first content did answer: the breaker guards against
        # targets that do not (and nothing can be retried after the commit anyway).
        self.breaker.observe(t.instance.name, t.model.id,
                             None if kind is None or attempt.committed else kind.value,
                             attempt.status)
        if kind is None:
            if t.role == "dialect":
                self.dialects.learn(t.provider, t.model.id, t.dialect)
            if t.sticky is not None and self.auto is not None:
                self.auto.answered(t.sticky.router, t.sticky.session_id, t.sticky.model)
            return
        if kind is not FailureKind.UPSTREAM_STATUS:
            return
        pool = self.pools.get(t.provider.name)
        verdict = key_failure(attempt.status, attempt.error_class)
        if pool is None or verdict is None:
            return
        if verdict == "revoked":
            pool.auth_failed(t.instance)
        else:
            window = attempt.limit_name or _BILLING_WINDOWS.get(attempt.error_class or "")
            pool.limited(t.instance, retry_after=attempt.retry_after, window=window,
                         error_class=attempt.error_class)

    def usable(self, instance: str, model: str) -> bool:
        return not self.breaker.is_open(instance, model)

    def report(self) -> list[InstanceHealth]:
        """Open breakers and resting keys, for /metrics, /admin/stats and the dashboard
        (ObservabilityRuntime.register_health); reads in-process tables only."""
        from crossway.observability.setup import InstanceHealth

        now = self.breaker.clock()
        out = [InstanceHealth(instance, model, "open" if now < until else "half_open",
                              until, f"{failures} consecutive upstream failures")
               for instance, model, until, failures in self.breaker.open_entries()]
        for pool in self.pools.values():
            out.extend(InstanceHealth(name, cooldown_until=until, reason=reason)
                       for name, (until, reason) in pool.resting().items())
        return out

    def admits(self, target: Target) -> bool:
        """The target's key is not resting and its breaker lets a request through (claims
        the probe of a half-open breaker: call only right before trying it)."""
        pool = self.pools.get(target.provider.name)
        if pool is not None and not pool.usable(target.instance):
            return False
        return self.breaker.usable(target.instance.name, target.model.id)


class RoutingPolicy(FallbackPolicy):
    def __init__(self, health: RoutingHealth, budget: FallbackBudget,
                 traits: Mapping[str, ModelTraits]) -> None:
        self.health = health
        self.budget = budget
        self.traits = traits

    def may_fall_back(self, failure: AttemptFailed, attempts_so_far: int) -> bool:
        return failure.kind is not FailureKind.CLIENT_ERROR or is_overflow(failure)

    def admits(self, target: Target, attempts: Sequence[Attempt],
               failures: Sequence[AttemptFailed]) -> bool:
        if attempts:
            if len(attempts) >= self.budget.attempts:
                return False
            if time.perf_counter() - attempts[0].started > self.budget.seconds:
                return False
            previous, last = attempts[-1].target, failures[-1]
            if not self._follows(target, previous, last):
                return False
        elif target.role:
            return False  # a retry target whose first try was skipped
        return self.health.admits(target)

    def _follows(self, target: Target, previous: Target, last: AttemptFailed) -> bool:
        same_model = previous.model.id == target.model.id and \
            previous.provider is target.provider
        if target.role == "dialect":
            return same_model and previous.instance is target.instance and \
                last.error_class == "ModelError"
        if target.role == "key":
            return same_model and key_failure(last.status, last.error_class) is not None
        if is_overflow(last):
            return self._context(target) > self._context(previous)
        return True

    def _context(self, target: Target) -> int:
        return traits_of(f"{target.provider.name}/{target.model.id}", self.traits).context

    def final_error(self, plan: Plan, failures: Sequence[AttemptFailed]) -> CrosswayError:
        """The most informative failure: the client's own error; else, when every try was
        rate-limited, the 429 that frees first; else the last other failure."""
        if not failures:
            return self._all_skipped(plan)
        own = [f for f in failures if f.kind is FailureKind.CLIENT_ERROR]
        if own:
            return own[-1].error
        limited = [f for f in failures if isinstance(f.error, RateLimited)]
        if len(limited) == len(failures):
            return min(limited, key=_retry_seconds).error
        last = next(f for f in reversed(failures) if not isinstance(f.error, RateLimited))
        if last.error_class == "ModelError":
            # The retry on the other dialect refused too: the catalog route's answer is
            # the one that names the model as the client asked for it.
            last = next(f for f in failures if f.error_class == "ModelError")
        return last.error

    def _all_skipped(self, plan: Plan) -> CrosswayError:
        opened = self.health.breaker.open_targets()
        now = self.health.breaker.clock()
        waits = [until - now for t in plan.targets
                 if (until := opened.get(Breaker.scope(t.instance.name, t.model.id)))]
        seconds = max(1, math.ceil(min(waits))) if waits else 30
        labels = ", ".join(dict.fromkeys(t.label for t in plan.targets if not t.role))
        return ServiceUnavailable(
            f"every upstream for model '{plan.requested}' is failing or resting ({labels}); "
            f"crossway tries again in {seconds} s", code="upstream_unavailable",
            headers={"retry-after": str(seconds)})


def _retry_seconds(failure: AttemptFailed) -> float:
    try:
        return float(failure.retry_after) if failure.retry_after else math.inf
    except ValueError:
        return math.inf
