"""crossway with its recording taken out, for bench/run's `recording` phase only.

    python -m bench.bare serve --port 8080

The same gateway as `python -m crossway`, except that the observability runtime it builds
keeps only the access log: no recorder (no usage rows, no live figures, no quota meter) and
no usage store. What the `recording` phase measures is the CPU per request of crossway as
shipped against this, both pinned to the same CPU and loaded in alternating rounds, which is
what recording, the live figures, `/metrics` and the store cost together.
"""

from __future__ import annotations

from collections.abc import Mapping

from crossway import cli
from crossway.config.settings import Settings
from crossway.observability.setup import ObservabilityRuntime
from crossway.observability.sinks import AccessLog

_shipped = ObservabilityRuntime.create


def _without_recording(settings: Settings,
                       env: Mapping[str, str] | None = None) -> ObservabilityRuntime:
    rt = _shipped(settings, env)
    if rt.writer is not None:
        raise SystemExit("bench.bare expects CROSSWAY_USAGE=off (no store to leave unopened)")
    rt.sinks = [s for s in rt.sinks if isinstance(s, AccessLog)]
    return rt


if __name__ == "__main__":
    ObservabilityRuntime.create = _without_recording  # type: ignore[method-assign]
    cli.main()
