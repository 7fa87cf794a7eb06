"""Tool calls a model wrote into its text instead of the tool-call channel (spec A7, B12).

- Kimi leaks its raw special tokens: `<|tool_calls_section_begin|><|tool_call_begin|>
  functions.get_weather:0<|tool_call_argument_begin|>{"city":"Paris"}<|tool_call_end|>
  <|tool_calls_section_end|>`. Special tokens never occur in prose, so these are always parsed.
- Qwen / Hermes-style models sometimes answer `<tool_call>{"name": ..., "arguments": {...}}
  </tool_call>` (or Qwen3-Coder's `<function=NAME><parameter=K>V</parameter></function>`).
  Prose can mention that tag, so this is parsed only for models whose capabilities say so.

The scanner is chunk-safe: a marker split across stream chunks is held back until it is
complete, and text outside envelopes flows through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from crossway.dialects.common import partial_suffix

KIMI_BEGIN = "<|tool_calls_section_begin|>"
KIMI_END = "<|tool_calls_section_end|>"
KIMI_CALL = "<|tool_call_begin|>"
KIMI_ARGS = "<|tool_call_argument_begin|>"
KIMI_CALL_END = "<|tool_call_end|>"
HERMES_BEGIN = "<tool_call>"
HERMES_END = "</tool_call>"

_KIMI_NAME = re.compile(r"^(?:functions\.)?(?P<name>.+?)(?::\d+)?$")
_QWEN_FUNCTION = re.compile(r"<function=(?P<name>[^>\s]+)>(?P<body>.*?)(?:</function>|$)", re.S)
_QWEN_PARAM = re.compile(r"<parameter=(?P<key>[^>\s]+)>(?P<value>.*?)(?:</parameter>|$)", re.S)


@dataclass(frozen=True, slots=True)
class TextToolCall:
    id: str | None
    name: str
    arguments: str  # JSON text


Piece = str | TextToolCall


class TextToolScanner:
    __slots__ = ("_buf", "_ends", "_markers", "_open")

    def __init__(self, *, hermes: bool = False) -> None:
        self._markers: tuple[str, ...] = (KIMI_BEGIN, HERMES_BEGIN) if hermes else (KIMI_BEGIN,)
        self._ends = {KIMI_BEGIN: KIMI_END, HERMES_BEGIN: HERMES_END}
        self._open: str | None = None  # the begin marker of the envelope being captured
        self._buf = ""

    def feed(self, text: str) -> list[Piece]:
        if self._open is None and not self._buf and "<" not in text:
            return [text]  # the common case: no marker can start here
        s = self._buf + text
        self._buf = ""
        out: list[Piece] = []
        while s:
            if self._open is not None:
                end = self._ends[self._open]
                i = s.find(end)
                if i < 0:
                    self._buf = s
                    return out
                out.extend(_parse(self._open, s[:i]))
                self._open = None
                s = s[i + len(end):]
                continue
            found = [(i, m) for m in self._markers if (i := s.find(m)) >= 0]
            if found:
                i, marker = min(found)
                if i:
                    out.append(s[:i])
                self._open = marker
                s = s[i + len(marker):]
                continue
            keep = max((partial_suffix(s, m) for m in self._markers), default=0)
            if keep:
                self._buf = s[-keep:]
                s = s[:-keep]
            if s:
                out.append(s)
            break
        return out

    def flush(self) -> list[Piece]:
        """At the end of the text: an unterminated envelope is parsed for what it holds (Kimi
        may stop right after the last call); a held-back partial marker was just text."""
        rest, self._buf = self._buf, ""
        if self._open is None:
            return [rest] if rest else []
        opened, self._open = self._open, None
        calls = _parse(opened, rest)
        return calls or ([opened + rest] if rest else [])


def scan_complete(text: str, *, hermes: bool = False) -> list[Piece]:
    scanner = TextToolScanner(hermes=hermes)
    return scanner.feed(text) + scanner.flush()



def _parse(marker: str, body: str) -> list[Piece]:
    return _parse_kimi(body) if marker == KIMI_BEGIN else _parse_hermes(body)


def _parse_kimi(section: str) -> list[Piece]:
    calls: list[Piece] = []
    for chunk in section.split(KIMI_CALL)[1:]:
        chunk = chunk.split(KIMI_CALL_END, 1)[0]
        name_id, _, args = chunk.partition(KIMI_ARGS)
        name_id = name_id.strip()
        m = _KIMI_NAME.match(name_id)
        if not m:
            continue
        calls.append(TextToolCall(name_id, m.group("name"), _json_object_text(args)))
    return calls


def _parse_hermes(body: str) -> list[Piece]:
    body = body.strip()
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        args = obj.get("arguments", obj.get("parameters", {}))
        text = args if isinstance(args, str) else orjson.dumps(args).decode()
        return [TextToolCall(None, obj["name"], _json_object_text(text))]
    m = _QWEN_FUNCTION.search(body)
    if m is None:
        return [HERMES_BEGIN + body + HERMES_END]  # not a call after all: keep the text
    params: dict[str, object] = {}
    for p in _QWEN_PARAM.finditer(m.group("body")):
        value = p.group("value").strip()
        try:
            params[p.group("key")] = orjson.loads(value)
        except orjson.JSONDecodeError:
            params[p.group("key")] = value
    return [TextToolCall(None, m.group("name"), orjson.dumps(params).decode())]


def _json_object_text(args: str) -> str:
    args = args.strip()
    return args if args else "{}"
