"""Logging for `crossway serve`: records are queued on the event loop (a QueueHandler) and
written by a thread in batches every 50 ms (LogWriter), so a slow terminal, pipe or disk never
stalls a request. With CROSSWAY_LOG_FORMAT=json every line is one JSON object: the access
line's own object for requests (records.py json_line), {ts, level, logger, message} for the
rest."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import threading
from typing import TextIO

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS = "crossway.access"


class _LoopQueueHandler(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The stock prepare() formats the message and copies the record on the loop thread;
        # the listener's formatter does that work in its thread instead. Only records that
        # would not survive the hand-over (arguments that may change, an exception's
        # traceback) are resolved here.
        if record.args or record.exc_info or record.stack_info:
            record.msg = record.getMessage()
            record.args = None
            if record.exc_info:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
        return record


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == ACCESS and message.startswith("{"):
            return message  # already one JSON object
        obj: dict[str, object] = {"ts": round(record.created, 3), "level": record.levelname,
                                  "logger": record.name, "message": message}
        if record.exc_text or record.exc_info:
            obj["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return orjson.dumps(obj).decode()


class LogWriter(threading.Thread):
    """Writes queued records every `interval` seconds, in batches. Unlike QueueListener it
    never blocks on the queue: a producer's put() then has no sleeping thread to wake, so a
    busy gateway pays no thread switch per log line (measured: docs/benchmarks.md)."""

    def __init__(self, q: queue.SimpleQueue[logging.LogRecord], handler: logging.Handler,
                 interval: float = 0.05) -> None:
        super().__init__(name="crossway-log-writer", daemon=True)
        self.queue, self.handler, self.interval = q, handler, interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        q, handle = self.queue, self.handler.handle
        while True:
            try:
                record = q.get_nowait()
            except queue.Empty:
                return
            handle(record)

    def stop(self) -> None:
        """Write what is queued and end the thread."""
        self._stopping.set()
        self.join(5)


def configure(level: str, as_json: bool, stream: TextIO | None = None) -> LogWriter:
    """Route every log record through a queue to a writer thread; returns it started (stop
    it at exit so the last lines are written)."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT))
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_LoopQueueHandler(q))
    root.setLevel(level)
    writer = LogWriter(q, out)
    writer.start()
    return writer
