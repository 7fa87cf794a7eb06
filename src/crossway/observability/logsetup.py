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
import time
from typing import TextIO

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS = "crossway.access"
# A log record, or an access line as (unix time, message) (see access()).
QueueItem = logging.LogRecord | tuple[float, str]


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


# Set by configure(): puts one access line straight on the writer's queue (see access()).
_access_queue: queue.SimpleQueue[QueueItem] | None = None


def access(message: str) -> bool:
    """Queue an access line for the writer thread without the logging machinery on the
    event loop (a LogRecord, the logger hierarchy, a handler lock: ~10 µs a request,
    docs/benchmarks.md); the writer makes the same LogRecord, so the line reads the same.
    False when configure() has not run (the caller then logs the usual way)."""
    q = _access_queue
    if q is None:
        return False
    q.put((time.time(), message))
    return True


class LogWriter(threading.Thread):
    """Writes queued records every `interval` seconds, in batches: the lines of a batch
    formatted here and written with one write(2). Unlike QueueListener it never blocks on
    the queue: a producer's put() then has no sleeping thread to wake, so a busy gateway
    pays no thread switch per log line (measured: docs/benchmarks.md)."""

    def __init__(self, q: queue.SimpleQueue[QueueItem], handler: logging.StreamHandler[TextIO],
                 interval: float = 0.05, access_format: str | None = None) -> None:
        super().__init__(name="crossway-log-writer", daemon=True)
        self.queue, self.handler, self.interval = q, handler, interval
        # "text" or "json" when the handler's formatter is configure()'s own: access lines
        # are then written without a LogRecord each (see _access_line).
        self.access_format = access_format
        self._second, self._stamp = -1, ""
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        q, format_, lines = self.queue, self.handler.format, []
        record: logging.LogRecord | None = None
        while True:
            try:
                item = q.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                line = self._access_line(*item)
                if line is not None:
                    lines.append(line)
                    continue
                record = _access_record(*item)
            else:
                record = item
            try:
                lines.append(format_(record))
            except Exception:  # a record that cannot be formatted: logging's own report
                self.handler.handleError(record)
        if not lines:
            return
        try:
            self.handler.stream.write("\n".join(lines) + "\n")
            self.handler.flush()
        except Exception:  # the stream is gone or full: logging's own report, to stderr
            self.handler.handleError(record or _access_record(time.time(), lines[-1]))

    def _access_line(self, created: float, message: str) -> str | None:
        """The access line exactly as configure()'s formatter writes its LogRecord (a test
        compares the two), without making one: a LogRecord and Formatter.format cost this
        thread ~10 µs a request, mostly the record's ~20 fields and strftime, which here
        runs once a second. None where only the formatter knows the answer."""
        if self.access_format == "json":
            return message if message.startswith("{") else None
        if self.access_format != "text":
            return None
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(logging.Formatter.default_time_format,
                                        time.localtime(created))
        # Formatter.formatTime's "%s,%03d" of the record's msecs, then TEXT_FORMAT.
        msecs = int((created - second) * 1000)
        return f"{self._stamp},{msecs:03d} INFO {ACCESS}: {message}"

    def stop(self) -> None:
        """Write what is queued and end the thread."""
        global _access_queue
        if _access_queue is self.queue:
            _access_queue = None
        self._stopping.set()
        self.join(5)


def _access_record(created: float, message: str) -> logging.LogRecord:
    record = logging.LogRecord(ACCESS, logging.INFO, __file__, 0, message, None, None, "log")
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def configure(level: str, as_json: bool, stream: TextIO | None = None) -> LogWriter:
    """Route every log record through a queue to a writer thread; returns it started (stop
    it at exit so the last lines are written)."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT))
    global _access_queue
    q: queue.SimpleQueue[QueueItem] = queue.SimpleQueue()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(_LoopQueueHandler(q))
    root.setLevel(level)
    writer = LogWriter(q, out, access_format="json" if as_json else "text")
    writer.start()
    _access_queue = q
    return writer
