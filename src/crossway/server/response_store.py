"""Recent Responses answers, so a client can continue with `previous_response_id` alone.

A Responses client that stores (the openai SDK's default, `store: true`) may send only its new
turn plus the id of the answer it continues; upstreams are asked statelessly (`store: false`),
so crossway keeps each stored answer's whole conversation (the input items it resolved to,
then the output items) and prepends it before routing. In-process and bounded by count and by
bytes, least recently used first out: a restart or another replica forgets everything, and a
continuation of a forgotten id is answered with OpenAI's own 400 (Codex never relies on it:
it sends `store: false` and its full history every turn).

Entries are kept serialised (orjson): their size is known exactly and nobody can mutate them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_MAX_ENTRIES = 2048
DEFAULT_MAX_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Stored:
    response: bytes  # the response object the client got (for GET /v1/responses/{id})
    items: bytes  # the conversation as input items: resolved input, then the output

    @property
    def size(self) -> int:
        return len(self.response) + len(self.items)

    def conversation(self) -> list[Any]:
        items = orjson.loads(self.items)
        assert isinstance(items, list)
        return items


class ResponseStore:
    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._bytes = 0
        # Handlers run on one event loop, but GET/DELETE and a finishing stream interleave
        # at awaits only; the lock keeps the byte count honest if a thread ever shares it.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, response_id: str, response: dict[str, Any], items: list[Any]) -> bool:
        """Keep one answer; False when it alone exceeds the byte bound (nothing is kept)."""
        entry = Stored(orjson.dumps(response), orjson.dumps(items))
        if entry.size > self.max_bytes:
            return False
        with self._lock:
            old = self._entries.pop(response_id, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[response_id] = entry
            self._bytes += entry.size
            while self._entries and (len(self._entries) > self.max_entries
                                     or self._bytes > self.max_bytes):
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
        return True

    def get(self, response_id: str) -> Stored | None:
        with self._lock:
            entry = self._entries.get(response_id)
            if entry is not None:
                self._entries.move_to_end(response_id)
            return entry

    def delete(self, response_id: str) -> bool:
        with self._lock:
            entry = self._entries.pop(response_id, None)
            if entry is None:
                return False
            self._bytes -= entry.size
            return True
