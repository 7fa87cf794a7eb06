"""The response store behind previous_response_id: bounded by count and by bytes, LRU."""

from __future__ import annotations

from crossway.server.response_store import ResponseStore


def _put(store: ResponseStore, rid: str, text: str = "x") -> bool:
    return store.put(rid, {"id": rid, "object": "response"},
                     [{"role": "user", "content": text}])


def test_keeps_the_conversation_and_the_response() -> None:
    store = ResponseStore()
    assert _put(store, "resp_1", "hello")
    entry = store.get("resp_1")
    assert entry is not None
    assert entry.conversation() == [{"role": "user", "content": "hello"}]
    assert entry.response == b'{"id":"resp_1","object":"response"}'
    assert store.get("resp_2") is None


def test_count_bound_evicts_the_least_recently_used() -> None:
    store = ResponseStore(max_entries=2)
    _put(store, "a")
    _put(store, "b")
    assert store.get("a") is not None  # "a" is now the most recent
    _put(store, "c")
    assert store.get("b") is None and store.get("a") is not None and len(store) == 2


def test_byte_bound_holds_and_an_oversized_answer_is_not_kept() -> None:
    store = ResponseStore(max_bytes=400)
    for n in range(10):
        assert _put(store, f"r{n}", "y" * 60)
        assert store.bytes <= 400
    assert store.get("r9") is not None and store.get("r0") is None
    assert not _put(store, "huge", "z" * 1000)
    assert store.get("huge") is None and store.get("r9") is not None


def test_replacing_and_deleting_keep_the_byte_count_exact() -> None:
    store = ResponseStore()
    _put(store, "a", "one")
    first = store.bytes
    _put(store, "a", "one")
    assert store.bytes == first and len(store) == 1
    assert store.delete("a") and store.bytes == 0 and len(store) == 0
    assert not store.delete("a")
