"""The batch writer: takes usage rows from the event loop and writes them in the background.

`put_many()` is what the recorder calls with each batch of rows (a RowBatch, kept as it
is; `put()` takes one row): it appends to a bounded in-memory buffer and returns, whatever
the store is doing. A background task writes the buffer every `flush_interval` seconds, or
sooner once `batch_size` rows wait (whole batches, joined), so a row is visible in the store
within a couple of seconds. A slow disk or a database that is down never reaches a
request: rows that cannot be kept are dropped, counted, and the outage logged once (when it
starts and when it ends), not once per row.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crossway.observability.rows import RowBatch, UsageRow
from crossway.observability.store.base import StoreError, UsageStore

log = logging.getLogger("crossway.usage")

PRUNE_INTERVAL_S = 3600.0


@dataclass(slots=True)
class WriterCounters:
    """Totals since start, for /metrics (all monotonic)."""

    rows_written: int = 0
    rows_dropped: int = 0
    write_errors: int = 0


class UsageWriter:
    def __init__(self, store: UsageStore, *, max_queue: int = 20_000, batch_size: int = 500,
                 flush_interval: float = 1.0, retention_days: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.counters = WriterCounters()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retention_days = retention_days
        self._clock = clock
        self._buffer: collections.deque[RowBatch] = collections.deque()
        self._queued = 0  # rows in _buffer
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._closing = False
        self._inflight = 0
        self._outage_since: float | None = None  # set while writes fail
        self._outage_dropped = 0
        self._overflowing = False
        self._next_prune = 0.0

    # --- request path -------------------------------------------------------------------

    def put(self, row: UsageRow) -> None:
        """Queue one row; never blocks, never raises."""
        self.put_many(RowBatch.of([row]))

    def put_many(self, rows: Sequence[UsageRow]) -> None:
        """Queue a batch of rows (kept as a RowBatch: the recorder's are already one);
        never blocks, never raises. Rows beyond the queue's bound are dropped, counted and
        said once until the store catches up."""
        batch = RowBatch.of(rows)
        n = len(batch)
        room = self._max_queue - self._queued if not self._closing else 0
        if n > room:
            self.counters.rows_dropped += n - max(room, 0)
            if not self._overflowing:
                self._overflowing = True
                log.error("usage store is not keeping up (%d rows waiting, %s): dropping "
                          "usage rows until it catches up", self._queued,
                          self.store.description)
            if room <= 0:
                return
            batch, n = batch[:room], room
        if not n:
            return
        self._buffer.append(batch)
        self._queued += n
        if self._queued >= self._batch_size:
            self._wake.set()

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def healthy(self) -> bool:
        """False while the store is failing (for /admin/stats)."""
        return self._outage_since is None and not self._overflowing

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store (a failure is logged and retried at each flush) and start writing."""
        await self._ensure_open()
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="crossway-usage-writer")

    async def flush(self) -> None:
        """Wait until every row queued so far has been written or dropped."""
        while self._buffer or self._inflight:
            self._wake.set()
            await asyncio.sleep(0.005)

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to `timeout` seconds), then close the store."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                self._drop(self._queued, "the store did not finish before shutdown")
                self._buffer.clear()
                self._queued = 0
        elif self._buffer:
            self._drop(self._queued, "the writer was closed without being started")
            self._buffer.clear()
            self._queued = 0
        await self.store.close()

    # --- background ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            # Wait out the interval unless a full batch is ready: fewer, larger transactions
            # cost the loop's process less CPU than writing each trickle of rows at once.
            if self._queued < self._batch_size and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            while self._buffer:
                await self._write(self._take())
                if self._queued < self._batch_size and not self._closing:
                    break
            if self._overflowing and self._queued < self._max_queue // 2:
                self._overflowing = False
                log.warning("usage store caught up; %d rows dropped in total so far",
                            self.counters.rows_dropped)
            if self._closing and not self._buffer:
                return
            await self._maybe_prune()

    def _take(self) -> RowBatch:
        """The queued batches, up to about batch_size rows (whole batches: the recorder's
        are a few hundred rows at most), as one."""
        taken = [self._buffer.popleft()]
        n = len(taken[0])
        while self._buffer and n + len(self._buffer[0]) <= self._batch_size:
            n += len(self._buffer[0])
            taken.append(self._buffer.popleft())
        self._queued -= n
        return RowBatch.concat(taken)

    async def _ensure_open(self) -> bool:
        if self._opened:
            return True
        try:
            await self.store.open()
        except Exception as exc:  # any failure: requests go on, the outage is reported
            self._fail(exc)
            return False
        self._opened = True
        return True

    async def _write(self, batch: RowBatch) -> None:
        self._inflight = len(batch)
        try:
            if not await self._ensure_open():
                self._drop(len(batch), None)
                return
            await self.store.write(batch)
        except Exception as exc:  # StoreError, or a bug: either way rows are lost, loudly
            self._fail(exc)
            self._drop(len(batch), None)
        else:
            self.counters.rows_written += len(batch)
            self._recovered()
        finally:
            self._inflight = 0

    def _fail(self, exc: BaseException) -> None:
        self.counters.write_errors += 1
        if self._outage_since is not None:
            return
        self._outage_since = self._clock()
        self._outage_dropped = 0
        detail = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
        log.error("usage store unavailable (%s); requests continue, their usage rows are "
                  "dropped until it recovers", detail,
                  exc_info=None if isinstance(exc, StoreError) else exc)

    def _drop(self, n: int, reason: str | None) -> None:
        self.counters.rows_dropped += n
        self._outage_dropped += n
        if reason and n:
            log.error("usage store: %d rows dropped: %s", n, reason)

    def _recovered(self) -> None:
        if self._outage_since is None:
            return
        log.warning("usage store recovered after %.0f s; %d usage rows were lost meanwhile",
                    self._clock() - self._outage_since, self._outage_dropped)
        self._outage_since = None

    async def _maybe_prune(self) -> None:
        if self._retention_days is None or not self._opened:
            return
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_INTERVAL_S
        try:
            deleted = await self.store.prune(self._retention_days, now)
        except Exception as exc:  # the writer must outlive a failed prune; it retries hourly
            log.warning("usage store: pruning rows older than %g days failed: %s",
                        self._retention_days, exc,
                        exc_info=None if isinstance(exc, StoreError) else exc)
            return
        if deleted:
            log.info("usage store: pruned %d rows older than %g days", deleted,
                     self._retention_days)
