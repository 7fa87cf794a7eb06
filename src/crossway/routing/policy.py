"""What happens when a target fails: the fallback policy, and the health of targets.

Pure decisions, no I/O. The relay asks `FallbackPolicy.may_fall_back` after every failed
attempt and reports every attempt's outcome to `Health.record`; the router asks
`Health.usable` when it picks an instance. The defaults here fall back on anything that
is not the client's own fault and treat every target as healthy; cooldowns, circuit
breakers and attempt budgets subclass these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossway.failures import AttemptFailed, FailureKind

if TYPE_CHECKING:
    from crossway.exchange import Attempt


class FallbackPolicy:
    def may_fall_back(self, failure: AttemptFailed, attempts_so_far: int) -> bool:
        """Whether the next target of the plan may be tried after `failure`.

        Never after the client's own error: another upstream would reject the same request
        (and a context overflow must reach the client worded so it compacts)."""
        return failure.kind is not FailureKind.CLIENT_ERROR


class Health:
    """Every attempt's outcome comes here; instance selection asks here first."""

    def record(self, attempt: Attempt) -> None:
        return None

    def usable(self, instance: str, model: str) -> bool:
        return True
