"""What happens when a target fails: the fallback policy, and the health of targets.

Pure decisions, no I/O. The relay asks `FallbackPolicy.admits` before trying each target of a
plan, `may_fall_back` after every failed attempt and `final_error` when nothing answered; it
reports every attempt's outcome to `Health.record`. These defaults try every target, fall back
on anything that is not the client's own fault and treat every target as healthy; the running
gateway uses resilience.py's subclasses (cooldowns, breakers, budgets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crossway.errors import CrosswayError, ServiceUnavailable
from crossway.failures import AttemptFailed, FailureKind

if TYPE_CHECKING:
    from crossway.exchange import Attempt
    from crossway.routing.plan import Plan, Target


class FallbackPolicy:
    def may_fall_back(self, failure: AttemptFailed, attempts_so_far: int) -> bool:
        """Whether the next target of the plan may be tried after `failure`.

        Never after the client's own error: another upstream would reject the same request
        (and a context overflow must reach the client worded so it compacts)."""
        return failure.kind is not FailureKind.CLIENT_ERROR

    def admits(self, target: Target, attempts: Sequence[Attempt],
               failures: Sequence[AttemptFailed]) -> bool:
        """Whether `target` is tried now (`attempts` and `failures` so far, in order)."""
        return True

    def final_error(self, plan: Plan, failures: Sequence[AttemptFailed]) -> CrosswayError:
        """What the client gets when no target answered."""
        if failures:
            return failures[-1].error
        return ServiceUnavailable(f"no upstream could be tried for model '{plan.requested}'")


class Health:
    """Every attempt's outcome comes here; instance selection asks here first."""

    def record(self, attempt: Attempt) -> None:
        return None

    def usable(self, instance: str, model: str) -> bool:
        return True
