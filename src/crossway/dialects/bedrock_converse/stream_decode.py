"""ConverseStream events (read from AWS event-stream frames by the Bedrock provider, one
SSEEvent per message, the event type in `event`) -> ir stream events.

Order on the wire: messageStart, content blocks (contentBlockStart only for tool calls;
text and reasoning start with their first delta), messageStop with the stop reason, then
metadata with the usage, which ends the stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects.bedrock_converse.wire import message_id, stop_reason, usage_from_wire
from crossway.dialects.caps import Capabilities
from crossway.dialects.sse import SSEEvent

_ERROR_STATUS = {"rate_limit_error": 429, "overloaded_error": 529,
                 "invalid_request_error": 400}


class StreamDecoder:
    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
        self._started = False
        self._stop: ir.StopReason | None = None
        self._stopped = False

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]:
        if self.done or not event.data:
            return []
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return self._fail("Bedrock sent a stream event that is not JSON")
        if not isinstance(obj, dict):
            return self._fail("Bedrock sent a stream event that is not a JSON object")
        kind = event.event
        if kind == "error":
            found = obj.get("error")
            err: dict[str, Any] = found if isinstance(found, dict) else {}
            etype = str(err.get("type") or "api_error")
            return self._fail(str(err.get("message") or "Bedrock stream error"), etype)
        out: list[ir.StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(ir.MessageStart(id=message_id()))
        if kind == "contentBlockStart":
            use = (obj.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                out.append(ir.ToolCallStart(str(use.get("toolUseId") or message_id()),
                                            str(use.get("name") or "")))
        elif kind == "contentBlockDelta":
            out += _delta(obj.get("delta"))
        elif kind == "messageStop":
            self._stop, self._stopped = stop_reason(obj.get("stopReason")), True
        elif kind == "metadata":
            self.done = True
            out.append(ir.MessageEnd(self._stop, usage_from_wire(obj.get("usage"))))
        return out

    def finish(self) -> list[ir.StreamEvent]:
        if self.done:
            return []
        if self._stopped:  # metadata missing: the answer itself is complete
            self.done = True
            return [ir.MessageEnd(self._stop, ir.Usage())]
        return self._fail("Bedrock ended the stream before messageStop")

    def _fail(self, message: str, etype: str = "api_error") -> list[ir.StreamEvent]:
        self.done = True
        return [ir.StreamError(message, etype, _ERROR_STATUS.get(etype, 502))]


def _delta(delta: Any) -> list[ir.StreamEvent]:
    if not isinstance(delta, dict):
        return []
    if isinstance(delta.get("text"), str):
        return [ir.TextDelta(delta["text"])] if delta["text"] else []
    use = delta.get("toolUse")
    if isinstance(use, dict) and isinstance(use.get("input"), str):
        return [ir.ToolCallDelta(use["input"])]
    reasoning = delta.get("reasoningContent")
    if isinstance(reasoning, dict):
        if isinstance(reasoning.get("text"), str):
            return [ir.ThinkingDelta(reasoning["text"])]
        if isinstance(reasoning.get("signature"), str):
            return [ir.ThinkingSignature(reasoning["signature"])]
    return []
