"""From the relay's record to the usage row, and the sink that hands rows to the store.

`to_row` flattens one finished RequestRecord (with its attempts) into the `UsageRow` every
consumer reads (rows.py says what each field means); rowbatch.py makes the same rows for the
plain records of a batch a column at a time. Cost, in this order:

- the upstream's own figure (Zen/Go cost frames and bodies, spec A8) when any attempt carries
  one: the sum of those figures, `cost_estimated` False;
- else crossway's price table (prices.py), per attempt that reported usage, summed and
  marked `cost_estimated`;
- else None (a model without a known price; counted as `unpriced` by the store).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from crossway import ir
from crossway.observability import prices, rowbatch
from crossway.observability.live import LiveStats
from crossway.observability.quota import GO_BACKEND_TYPE, QuotaMeter
from crossway.observability.records import RequestRecord, attempt_dict
from crossway.observability.rows import (
    RowBatch,
    UsageRow,
    attempts_json,
    client_family,
    new_row,
)
from crossway.observability.store.writer import UsageWriter

log = logging.getLogger("crossway")

BATCH_S = 0.25  # records wait at most this long to become rows (see Recorder.accept)
MAX_CACHED = 1000  # distinct User-Agents / models remembered (clients may send anything)
# The error class OpenCode Go answers when a key's dollar limit is reached (spec A9).
GO_LIMIT_ERROR = "GoUsageLimitError"


def total_usage(record: RequestRecord) -> ir.Usage | None:
    """Tokens of every attempt that reported usage (usually only the answering one)."""
    found = [a.usage for a in record.attempts if a.usage is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    return ir.Usage(
        input_tokens=sum(u.input_tokens for u in found),
        output_tokens=sum(u.output_tokens for u in found),
        cache_read_tokens=sum(u.cache_read_tokens for u in found),
        cache_creation_tokens=sum(u.cache_creation_tokens for u in found),
        reasoning_tokens=sum(u.reasoning_tokens or 0 for u in found))


PriceLookup = Callable[[str, str], prices.Price | None]


def record_cost(record: RequestRecord,
                price_of: PriceLookup = prices.price_of) -> tuple[float | None, bool]:
    """(cost in USD, estimated?) for the request; see the module docstring."""
    reported = record.cost
    if reported is not None:
        return reported, False
    total: float | None = None
    for a in record.attempts:
        u = a.usage
        if u is None:
            continue
        price = price_of(a.target.provider.settings.type, a.target.model.id)
        if price is not None:
            total = (total or 0.0) + price.cost(u.input_tokens, u.output_tokens,
                                                u.cache_read_tokens, u.cache_creation_tokens)
    return total, total is not None


def to_row(record: RequestRecord, now: float, family: str | None = None,
           price_of: PriceLookup = prices.price_of) -> UsageRow:
    """The record as the store keeps it. `now` (perf_counter) ends a record never closed;
    `family` and `price_of` let a caller pass what it has cached. Built positionally in
    UsageRow's field order. Most rows are made a column at a time instead (rowbatch.py);
    this makes the others (fallbacks, failures, records without usage)."""
    attempts = record.attempts
    n = len(attempts)
    usage = total_usage(record)
    cost, estimated = record_cost(record, price_of)
    ended = record.ended or now
    fb = record.first_byte
    if family is None:
        family = client_family(record.user_agent or "")
    if n:
        last = attempts[-1]
        target = last.target
        instance = target.instance
        provider = instance.provider
        model_id = target.model.id
        where: _Where = (
            f"{instance.name}:{model_id}", instance.name, provider.name,
            provider.settings.type, model_id, target.dialect)
        fast = last.fast
        # A lone attempt that served the client as it answered needs no JSON of its own.
        plain = n == 1 and last.failure is None and last.status == record.status
    else:
        where, fast, plain = _NOWHERE, False, True
    return new_row((
        record.request_id, record.wall_started, record.client_dialect, family,
        record.session_id, record.model, *where, fast, record.stream, record.status,
        record.outcome, n, n - 1 if n > 1 else 0,
        (ended - record.started) * 1000.0,
        (fb - record.started) * 1000.0 if fb is not None else None,
        *(_tokens(usage) if usage is not None else _NO_TOKENS),
        cost, estimated, record.key_id, record.error,
        None if plain else attempts_json([attempt_dict(a) for a in attempts])))


# target, instance, backend, backend_type, upstream_model, upstream_dialect
_Where = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
_NOWHERE: _Where = (None, None, None, None, None, None)
_NO_TOKENS: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)


def _tokens(u: ir.Usage) -> tuple[int, int, int, int, int]:
    return (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_creation_tokens,
            u.reasoning_tokens or 0)


def report_go_limits(record: RequestRecord, meter: QuotaMeter) -> None:
    """Tell the quota meter about every Go key the upstream said is over a limit."""
    for a in record.attempts:
        if a.error_class == GO_LIMIT_ERROR and \
                a.target.provider.settings.type == GO_BACKEND_TYPE:
            meter.report_limit(a.target.instance.name, a.limit_name, a.retry_after)


class Recorder:
    """The record sink behind everything but the access log: records are kept for up to
    BATCH_S seconds, then made into rows (one per request) in one go and handed to the live
    figures, the store's writer (which never blocks) and the quota meter (when a Go key was
    refused for a spent limit)."""

    def __init__(self, live: LiveStats, writer: UsageWriter | None, meter: QuotaMeter) -> None:
        self.live = live
        self.writer = writer
        self.meter = meter
        # A handful of User-Agents and models repeat for every request: look each up once.
        self._families: dict[str | None, str] = {}
        self._prices: dict[tuple[str, str], prices.Price | None] = {}
        self._price_of = self._price  # bound once, not per request
        self._pending: list[RequestRecord] = []

    def _family(self, user_agent: str | None) -> str:
        family = self._families.get(user_agent)
        if family is None:
            family = client_family(user_agent or "")
            if len(self._families) < MAX_CACHED:
                self._families[user_agent] = family
        return family

    def _price(self, backend_type: str, model: str) -> prices.Price | None:
        key = (backend_type, model)
        if key in self._prices:
            return self._prices[key]
        price = prices.price_of(backend_type, model)
        if len(self._prices) < MAX_CACHED:
            self._prices[key] = price
        return price

    def accept(self, record: RequestRecord) -> None:
        """Keep the record; its row is made with the rest of its batch every BATCH_S
        seconds, or when someone reads the figures (`flush`): most rows of a batch are made
        a column at a time (rowbatch.py)."""
        pending = self._pending
        pending.append(record)
        if len(pending) == 1:
            asyncio.get_running_loop().call_later(BATCH_S, self.flush)

    def flush(self) -> None:
        """Rows for the records kept so far, to the live figures and the store (the stats
        endpoints call this first, so a request answered a moment ago is counted)."""
        records, self._pending = self._pending, []
        if not records:
            return
        rows, listed = self._rows(records)
        try:
            self.live.add_rows(rows, listed)
        except Exception:
            # The since-start figures miss this batch; the store still gets it. Said loudly.
            log.exception("since-start figures failed on %d requests", len(rows))
        if self.writer is not None:
            self.writer.put_many(rows)

    def _plain_rows(self, columns: rowbatch.Columns) -> RowBatch:
        """Rows of records that are all plain, from their columns (rowbatch.plain_columns)."""
        return rowbatch.plain_rows(columns, self._families, self._family, self._price_of)

    def _rows(self, records: list[RequestRecord]) -> tuple[RowBatch, list[tuple[str, str, str]]]:
        """The batch's rows in its order, and (instance, model, result) of every attempt of
        the rows that list their attempts."""
        flags: list[bool] | None = None
        columns = rowbatch.plain_columns(records)
        if columns is not None:
            try:
                return self._plain_rows(columns), []
            except Exception:  # a bug: the batch goes row by row instead, said loudly
                log.exception("making %d usage rows at once failed", len(records))
                flags = [False] * len(records)
        if flags is None:
            flags = list(map(rowbatch.plain, records))
        simple = [r for r, f in zip(records, flags, strict=True) if f]
        columns = rowbatch.plain_columns(simple)  # None only when there are none
        if simple and columns is None:
            raise ValueError("records that are not plain cannot be made into rows at once")
        made = iter(self._plain_rows(columns) if columns is not None else ())
        rows: list[UsageRow] = []
        listed: list[tuple[str, str, str]] = []
        for record, flag in zip(records, flags, strict=True):
            if flag:
                rows.append(next(made))
                continue
            try:
                row = to_row(record, time.perf_counter(), self._family(record.user_agent),
                             self._price_of)
                if row.attempts_json is not None:
                    listed += [(a.target.instance.name, a.target.model.id,
                                a.failure.value if a.failure else "ok")
                               for a in record.attempts]
                if row.outcome != "ok" or row.fallbacks:
                    report_go_limits(record, self.meter)
            except Exception:
                # One bad record must not lose the others of its batch; said loudly.
                log.exception("recording %s failed", record.request_id)
                continue
            rows.append(row)
        return RowBatch.of(rows), listed
