"""Both usage stores, against a real SQLite file and a real Postgres cluster: same rows in,
same answers out."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crossway.observability.rows import UsageRow
from crossway.observability.store.base import StoreError, UsageStore, percentile
from crossway.observability.store.postgres import PostgresStore
from crossway.observability.store.sqlite import SQLiteStore
from tests.observability.rowkit import T0, make_row

T = TypeVar("T")
Use = Callable[[Callable[[UsageStore], Awaitable[T]]], T]


@pytest.fixture(params=["sqlite", "postgres"])
def use_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Use[Any]]:
    """Run a coroutine against an opened store of each kind (closed afterwards)."""
    if request.param == "sqlite":
        def factory() -> UsageStore:
            return SQLiteStore(tmp_path / "usage.db")
    else:
        url = request.getfixturevalue("pg_url")

        def factory() -> UsageStore:
            return PostgresStore(url)

    def use(fn: Callable[[UsageStore], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            store = factory()
            await store.open()
            try:
                return await fn(store)
            finally:
                await store.close()
        return asyncio.run(go())
    yield use


def _sample() -> list[UsageRow]:
    """Ten Go requests (100..1000 ms), two of them errors, and three Zen ones."""
    rows = [make_row(ts=T0 + i, duration_ms=100.0 * (i + 1), ttfb_ms=10.0 * (i + 1),
                     conversation=f"ses_{i % 2}", key_id="client-a" if i < 6 else "client-b")
            for i in range(10)]
    rows[3] = make_row(ts=T0 + 3, duration_ms=400.0, ttfb_ms=None, status=502, outcome="error",
                       error="upstream refused", cost_usd=None, input_tokens=0,
                       output_tokens=0, key_id="client-a", conversation="ses_1")
    rows[7] = make_row(ts=T0 + 7, duration_ms=800.0, ttfb_ms=80.0, status=200,
                       outcome="upstream_error_mid_stream", key_id="client-b",
                       conversation="ses_1")
    zen = [make_row(ts=T0 + 20 + i, instance="opencode-zen", backend="opencode-zen",
                    backend_type="opencode-zen", target="opencode-zen:claude-haiku-4-5",
                    upstream_model="claude-haiku-4-5", upstream_dialect="anthropic",
                    fast_path=True, duration_ms=50.0, ttfb_ms=5.0, cost_usd=0.002,
                    cost_estimated=True, client_family="sdk-anthropic", conversation=None,
                    cache_read_tokens=500, cache_write_tokens=200, reasoning_tokens=7)
           for i in range(3)]
    return rows + zen


def test_rows_round_trip_and_a_repeated_request_id_loses_nothing(use_store: Use[Any]) -> None:
    """Request ids are unique within a run, not across runs and replicas (a random prefix
    and a counter): a row whose id an earlier run used is kept, not dropped."""
    rows = _sample()
    again = make_row(request_id=rows[0].request_id, ts=T0 + 30, conversation="ses_later")

    async def go(store: UsageStore) -> list[UsageRow]:
        await store.write(rows)
        await store.write([again])
        return await store.recent(100)
    back = use_store(go)
    assert back[0] == again
    back = back[1:]
    assert sorted(back, key=lambda r: r.request_id) == sorted(rows, key=lambda r: r.request_id)
    assert back[0].ts == max(r.ts for r in rows)  # newest first
    assert back[-1].attempt_list()[0]["target"] == "opencode-go:kimi-k2.6"


@pytest.mark.parametrize("per_insert", [128, 32])
def test_a_large_batch_of_columns_is_stored_whole_and_in_order(tmp_path: Path,
                                                               per_insert: int) -> None:
    """A batch of 443 rows (three full INSERTs of 128 and a remainder of 64 + 32 + 16 + 8 +
    2 + 1, or 32-row INSERTs where SQLite allows fewer parameters) as the recorder hands it
    over, a RowBatch of columns over two routes: every row back, equal, booleans as such."""
    from crossway.observability.rows import RowBatch
    rows = [make_row(request_id=f"req_{i:04d}", ts=T0 + i / 10, cost_estimated=i % 3 == 0,
                     fast_path=i % 2 == 0, input_tokens=i, cost_usd=None if i % 5 else i / 7)
            for i in range(443)]

    async def go() -> list[UsageRow]:
        store = SQLiteStore(tmp_path / "usage.db")
        await store.open()
        try:
            store._rows_per_insert = per_insert
            await store.write(RowBatch.of(rows))
            return await store.recent(1000)
        finally:
            await store.close()
    back = asyncio.run(go())
    assert back[::-1] == rows


def test_columns_one_batch_shares_are_bound_once_and_read_back_per_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns holding one value in every row of a batch are bound once per INSERT: batches
    where a column is shared and where it is not, a lone row (every column shared), a float
    column whose shared value is the int 0, NULL in some rows only, and more layouts than
    the store keeps INSERT texts for: every row back as written."""
    from crossway.observability.rows import RowBatch
    from crossway.observability.store import sqlite as sqlite_store
    monkeypatch.setattr(sqlite_store, "MAX_STATEMENTS", 3)
    batches = [
        [make_row(request_id=f"a{i}", ts=T0 + i, status=200, error=None, attempts_json=None,
                  cost_usd=0, cache_read_tokens=0, conversation="ses_1") for i in range(5)],
        [make_row(request_id=f"b{i}", ts=T0 + 10 + i, status=200 if i % 2 else 502,
                  error="refused" if i == 2 else None, cost_usd=i / 3,
                  cache_read_tokens=7, conversation=None if i % 2 else f"ses_{i}")
         for i in range(6)],
        [make_row(request_id="c0", ts=T0 + 20, error="alone", ttfb_ms=None)],
        [make_row(request_id=f"d{i}", ts=T0 + 30 + i, ttfb_ms=None if i else 4.0,
                  instance="opencode-go.2" if i == 1 else "opencode-go")
         for i in range(3)],
    ]

    async def go() -> list[UsageRow]:
        store = SQLiteStore(tmp_path / "usage.db")
        await store.open()
        try:
            for batch in batches + batches[:1]:
                await store.write(RowBatch.of(batch))
                assert len(store._inserts) <= 3
            return await store.recent(100)
        finally:
            await store.close()
    back = sorted(asyncio.run(go()), key=lambda r: (r.ts, r.request_id))
    sent = sorted([r for b in batches + batches[:1] for r in b],
                  key=lambda r: (r.ts, r.request_id))
    assert back == sent
    assert type(back[0].cost_usd) is float and back[0].cost_usd == 0.0


def test_totals_errors_tokens_costs_and_percentiles(use_store: Use[Any]) -> None:
    rows = _sample()

    async def go(store: UsageStore) -> Any:
        await store.write(rows)
        return await store.totals(T0 - 1), await store.totals(T0 + 100)
    t, empty = use_store(go)
    assert t.requests == 13
    assert t.errors == 2  # "error" and "upstream_error_mid_stream"; client_closed is not one
    assert t.error_rate == pytest.approx(2 / 13)
    assert t.input_tokens == 12 * 1000
    assert t.output_tokens == 12 * 100
    assert (t.cache_read_tokens, t.cache_write_tokens, t.reasoning_tokens) == (1500, 600, 21)
    assert t.cost_usd == pytest.approx(9 * 0.01 + 3 * 0.002)
    assert t.estimated_cost_usd == pytest.approx(3 * 0.002)
    assert t.unpriced == 0  # the costless row used no tokens
    durations = sorted(r.duration_ms for r in rows)
    assert t.latency_p50_ms == pytest.approx(percentile(durations, 0.5))
    assert t.latency_p95_ms == pytest.approx(percentile(durations, 0.95))
    assert t.latency_p99_ms == pytest.approx(percentile(durations, 0.99))
    ttfbs = sorted(r.ttfb_ms for r in rows if r.ttfb_ms is not None)
    assert len(ttfbs) == 12
    assert t.ttfb_p50_ms == pytest.approx(percentile(ttfbs, 0.5))
    assert t.ttfb_p99_ms == pytest.approx(percentile(ttfbs, 0.99))
    assert empty.requests == 0 and empty.latency_p50_ms is None


def test_percentile_definition() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0 * i for i in range(1, 11)], 0.95) == pytest.approx(95.5)


def test_group_bys(use_store: Use[Any]) -> None:
    rows = _sample()

    async def go(store: UsageStore) -> dict[str, Any]:
        await store.write(rows)
        return {dim: await store.group_by(dim, T0 - 1) for dim in
                ("model", "key", "instance", "day", "hour", "client", "conversation",
                 "status", "backend")}
    g = use_store(go)
    by_model = {x.key: x.totals for x in g["model"]}
    assert set(by_model) == {"kimi-k2.6", "claude-haiku-4-5"}
    assert by_model["kimi-k2.6"].requests == 10 and by_model["kimi-k2.6"].errors == 2
    assert by_model["claude-haiku-4-5"].latency_p95_ms == pytest.approx(50.0)
    assert g["model"][0].key == "kimi-k2.6"  # dearest first
    assert {x.key: x.totals.requests for x in g["key"]} == {"client-a": 6, "client-b": 4,
                                                            None: 3}
    assert {x.key: x.totals.requests for x in g["instance"]} == {"opencode-go": 10,
                                                                 "opencode-zen": 3}
    assert [(x.key, x.totals.requests) for x in g["day"]] == [("2026-05-28", 13)]
    assert [(x.key, x.totals.requests) for x in g["hour"]] == [("2026-05-28 22:00", 13)]
    assert {x.key: x.totals.requests for x in g["client"]} == {"claude-code": 10,
                                                               "sdk-anthropic": 3}
    assert {x.key: x.totals.requests for x in g["conversation"]} == {"ses_0": 5, "ses_1": 5,
                                                                     None: 3}
    assert {x.key: x.totals.requests for x in g["status"]} == {"200": 12, "502": 1}
    assert {x.key: x.totals.cost_usd for x in g["backend"]} == pytest.approx(
        {"opencode-go": 0.09, "opencode-zen": 0.006})


def test_windows_limit_and_days_in_order(use_store: Use[Any]) -> None:
    day = 86400.0
    rows = [make_row(ts=T0 - 2 * day), make_row(ts=T0 - day), make_row(ts=T0),
            make_row(ts=T0 + 10), make_row(ts=T0 + 3600)]

    async def go(store: UsageStore) -> Any:
        await store.write(rows)
        return (await store.totals(T0, T0 + 3600),
                await store.group_by("day", T0 - 3 * day),
                await store.group_by("model", T0 - 3 * day, limit=1),
                await store.window_stats(T0 + 3600 + 1))
    window, days, limited, stats = use_store(go)
    assert window.requests == 2  # since inclusive, until exclusive
    assert [(d.key, d.totals.requests) for d in days] == [
        ("2026-05-26", 1), ("2026-05-27", 1), ("2026-05-28", 3)]
    assert len(limited) == 1
    assert {k: v.requests for k, v in stats.items()} == {"5m": 1, "1h": 2, "24h": 3}


def test_groups_are_ordered_dearest_first(use_store: Use[Any]) -> None:
    rows = [make_row(upstream_model="cheap", cost_usd=0.01) for _ in range(3)]
    rows += [make_row(upstream_model="dear", cost_usd=1.0)]
    rows += [make_row(upstream_model="free", cost_usd=0.0) for _ in range(5)]

    async def go(store: UsageStore) -> Any:
        await store.write(rows)
        return await store.group_by("model", T0 - 1)
    assert [g.key for g in use_store(go)] == ["dear", "cheap", "free"]


def test_cost_windows_per_go_instance(use_store: Use[Any]) -> None:
    rows = [
        make_row(ts=T0 - 100, cost_usd=1.0),
        make_row(ts=T0 - 4000, cost_usd=2.0, cost_estimated=True),
        make_row(ts=T0 - 50, instance="opencode-go.2", cost_usd=0.5),
        make_row(ts=T0 - 50, instance="opencode-go.2", cost_usd=None),  # tokens, no price
        make_row(ts=T0 - 50, backend_type="opencode-zen", instance="opencode-zen",
                 cost_usd=9.0),
    ]

    async def go(store: UsageStore) -> Any:
        await store.write(rows)
        return await store.cost_windows("opencode-go", [T0 - 3600, T0 - 86400])
    sums = use_store(go)
    assert set(sums) == {"opencode-go", "opencode-go.2"}
    hour, day = sums["opencode-go"]
    assert (hour.cost_usd, hour.estimated_usd, hour.requests) == (1.0, 0.0, 1)
    assert (day.cost_usd, day.estimated_usd, day.requests) == (3.0, 2.0, 2)
    hour2, _ = sums["opencode-go.2"]
    assert (hour2.cost_usd, hour2.requests, hour2.unpriced) == (0.5, 2, 1)


def test_retention_prune(use_store: Use[Any]) -> None:
    day = 86400.0
    rows = [make_row(ts=T0 - 40 * day), make_row(ts=T0 - 31 * day), make_row(ts=T0 - day)]

    async def go(store: UsageStore) -> Any:
        await store.write(rows)
        deleted = await store.prune(30, T0)
        return deleted, await store.recent(10)
    deleted, left = use_store(go)
    assert deleted == 2
    assert [r.request_id for r in left] == [rows[2].request_id]


def test_sqlite_writers_sharing_a_file_agree_on_routes(tmp_path: Path) -> None:
    """Two gateways (--workers, or a restart) write one SQLite file: each learns route ids
    from the file itself, so rows of new and shared routes come back whole, including a
    request that never reached an upstream (no target, no instance) and a failed write."""
    path = tmp_path / "usage.db"
    unrouted = make_row(request_id="req_unrouted", ts=T0 + 1, target=None, instance=None,
                        backend=None, backend_type=None, upstream_model=None,
                        upstream_dialect=None, status=401, outcome="error", attempts=0,
                        fallbacks=0, attempts_json=None, error="bad key")
    a_rows = [make_row(request_id="req_a1", ts=T0 + 2), make_row(request_id="req_a2",
              ts=T0 + 3, key_id="team-a", fast_path=True, attempts_json=None), unrouted]
    b_rows = [make_row(request_id="req_b1", ts=T0 + 4, key_id="team-a", fast_path=True,
                       attempts_json=None),
              make_row(request_id="req_b2", ts=T0 + 5, client_family="codex",
                       model_requested="gpt-5.6-luna", cost_usd=None)]

    async def go() -> list[UsageRow]:
        one, two = SQLiteStore(path), SQLiteStore(path)
        await one.open()
        await two.open()
        try:
            await one.write(a_rows)
            await two.write(b_rows)
            with pytest.raises(StoreError):  # a batch the database refuses: nothing of it
                await two.write([make_row(request_id="req_x", client_family="new-route",
                                          ts=None)])  # type: ignore[arg-type]
            await two.write([make_row(request_id="req_b3", ts=T0 + 6,
                                      client_family="new-route")])
            await one.write([make_row(request_id="req_a3", ts=T0 + 7)])
            return await one.recent(100)
        finally:
            await one.close()
            await two.close()
    back = {r.request_id: r for r in asyncio.run(go())}
    assert set(back) == {"req_a1", "req_a2", "req_unrouted", "req_b1", "req_b2", "req_b3",
                         "req_a3"}
    for row in (*a_rows, *b_rows):
        assert back[row.request_id] == row
    assert back["req_b3"].client_family == "new-route"
    with sqlite3.connect(path) as conn:
        # a1/a3, a2/b1, unrouted, b2, b3: five distinct routes, each stored once
        assert conn.execute("SELECT COUNT(*) FROM routes").fetchone()[0] == 5
