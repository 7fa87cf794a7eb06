"""Record sinks: everything that consumes a finished request record (the access log first;
stats, metrics and the usage store next). The edge hands each record to every sink after the
response is on its way; a sink must return at once (a slow one queues work for a thread or a
batch writer, it never blocks the event loop)."""

from __future__ import annotations

import logging
from typing import Protocol

from crossway.observability.records import RequestRecord

log = logging.getLogger("crossway")


class RecordSink(Protocol):
    def accept(self, record: RequestRecord) -> None: ...


class AccessLog:
    """One line per request on logger `crossway.access` (a JSON object when `as_json`)."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json

    def accept(self, record: RequestRecord) -> None:
        record.log(self.as_json)


def deliver(sinks: list[RecordSink], record: RequestRecord) -> None:
    for sink in sinks:
        try:
            sink.accept(record)
        except Exception:
            # One broken sink must not take the others (or the request) with it; said loudly.
            log.exception("record sink %s failed on %s", type(sink).__name__, record.request_id)
