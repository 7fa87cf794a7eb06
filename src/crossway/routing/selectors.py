"""Parse a request's model string into (backend or instance, model id).

Accepted forms: `opencode-go/glm-5.1` (advertised), `opencode-go:glm-5.1`,
`opencode-go.2:glm-5.1` (one key), and a bare `glm-5.1`. Model ids may themselves contain
`/` or `:` (`google/gemini-2.5-flash`, `llama3:8b`), so a prefix only counts as a selector
when it names a configured backend or instance.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_INSTANCE = re.compile(r"^(?P<backend>[A-Za-z0-9_-]+)(?:\.(?P<n>\d+))?$")


@dataclass(frozen=True, slots=True)
class Selector:
    model: str
    backend: str | None = None
    instance: int | None = None  # N of `backend.N`

    @property
    def explicit(self) -> bool:
        return self.backend is not None


def parse_selector(value: str, backends: Collection[str]) -> Selector:
    value = value.strip()
    for sep in (":", "/"):
        head, found, tail = value.partition(sep)
        if not found or not tail:
            continue
        m = _INSTANCE.match(head)
        if m and m.group("backend") in backends:
            n = m.group("n")
            return Selector(tail, m.group("backend"), int(n) if n is not None else None)
    return Selector(value)
