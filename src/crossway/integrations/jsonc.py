"""JSONC (JSON with comments and trailing commas) parsed with source positions, so a client's
config file can be edited by splicing text: every byte outside the entries crossway owns stays
as the user wrote it (comments, trailing commas, indentation, key order).

Why not a library: the maintained round-trip JSON5/JSONC parsers on PyPI either rebuild the
file from a syntax tree (inserting a member means hand-building whitespace nodes) or drive a
Node.js process at run time. Splicing needs only positions, which this small parser gives.

The dialect is what OpenCode and VS Code read: JSON plus `//` and `/* */` comments and
trailing commas in objects and arrays. Duplicate keys: the last one wins (JavaScript).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class JsoncError(ValueError):
    """Invalid JSONC, with a 1-based line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.reason, self.line, self.column = message, line, column


@dataclass
class Node:
    """A value and where it sits in the text (`end` is exclusive)."""

    start: int
    end: int
    value: Any
    members: list[Member] = field(default_factory=list)  # objects only, in file order

    def member(self, key: str) -> Member | None:
        found = None
        for m in self.members:
            if m.key == key:
                found = m  # the last duplicate wins, as in JavaScript
        return found


@dataclass
class Member:
    key: str
    key_start: int
    value: Node


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> JsoncError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return JsoncError(message, line, column)

    def skip(self) -> None:
        """Whitespace and comments."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                nl = text.find("\n", self.pos)
                self.pos = n if nl < 0 else nl + 1
            elif text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise self.error("unterminated /* comment")
                self.pos = close + 2
            else:
                return

    def value(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.error("unexpected end of file, expected a value")
        c = self.text[self.pos]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            start = self.pos
            return Node(start, self.pos_after_string(), self.string_value(start))
        for word, val in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                start, self.pos = self.pos, self.pos + len(word)
                return Node(start, self.pos, val)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            num = float(m.group()) if any(ch in m.group() for ch in ".eE") else int(m.group())
            return Node(m.start(), m.end(), num)
        raise self.error(f"unexpected character {c!r}")

    def pos_after_string(self) -> int:
        text, i = self.text, self.pos + 1
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                self.pos = i + 1
                return self.pos
            if ch == "\n":
                break
            i += 1
        raise self.error("unterminated string")

    def string_value(self, start: int) -> str:
        try:
            result: str = json.loads(self.text[start:self.pos])
        except ValueError:
            raise self.error("invalid escape in string", start) from None
        return result

    def obj(self) -> Node:
        start = self.pos
        self.pos += 1
        node = Node(start, start, {})
        while True:
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == "}":
                self.pos += 1
                node.end = self.pos
                node.value = {m.key: m.value.value for m in node.members}
                return node
            if self.pos >= len(self.text) or self.text[self.pos] != '"':
                raise self.error("expected a double-quoted key or '}'")
            key_start = self.pos
            self.pos_after_string()
            key = self.string_value(key_start)
            self.skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                raise self.error(f"expected ':' after key {key!r}")
            self.pos += 1
            node.members.append(Member(key, key_start, self.value()))
            self.separator("}")

    def arr(self) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == "]":
                self.pos += 1
                return Node(start, self.pos, items)
            items.append(self.value().value)
            self.separator("]")

    def separator(self, close: str) -> None:
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] == ",":
            self.pos += 1
        elif self.pos >= len(self.text) or self.text[self.pos] != close:
            raise self.error(f"expected ',' or '{close}'")


def parse(text: str) -> Node | None:
    """The document's root node, or None for a file holding only whitespace and comments."""
    p = _Parser(text)
    p.skip()
    if p.pos >= len(text):
        return None
    root = p.value()
    p.skip()
    if p.pos < len(text):
        raise p.error("unexpected text after the top-level value")
    return root


# ------------------------------------------------------------------------------ splicing


_INLINE_WIDTH = 72


def render(value: Any, indent: str, unit: str) -> str:
    """`value` as JSON whose continuation lines start at `indent`. Objects and arrays holding
    only scalars stay on one line when short (`"limit": {"context": 1, "output": 2}`), so a
    generated entry reads like one written by hand."""
    if isinstance(value, dict | list) and value:
        flat = json.dumps(value, ensure_ascii=False)
        items = value.values() if isinstance(value, dict) else value
        if len(flat) <= _INLINE_WIDTH and not any(isinstance(v, dict | list) for v in items):
            return flat
        inner = indent + unit
        if isinstance(value, dict):
            parts = [f"{json.dumps(k, ensure_ascii=False)}: {render(v, inner, unit)}"
                     for k, v in value.items()]
            return "{\n" + ",\n".join(inner + p for p in parts) + "\n" + indent + "}"
        parts = [render(v, inner, unit) for v in value]
        return "[\n" + ",\n".join(inner + p for p in parts) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def line_indent(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    m = re.match(r"[ \t]*", text[line_start:pos])
    return m.group() if m else ""


def indent_unit(text: str, root: Node) -> str:
    """The file's indentation step, read from the root object's first member ("  " if none)."""
    if root.members:
        first = root.members[0].key_start
        ind = line_indent(text, first)
        if ind and text[text.rfind("\n", 0, first) + 1:first] == ind:
            return ind
    return "  "


def set_member(text: str, obj: Node, key: str, value: Any, unit: str) -> str:
    """Return `text` with `obj[key] = value`: the old value's text replaced in place, or a new
    last member appended in the object's own style (trailing comma kept if it uses one)."""
    existing = obj.member(key)
    if existing is not None:
        indent = line_indent(text, existing.key_start)
        v = existing.value
        return text[:v.start] + render(value, indent, unit) + text[v.end:]
    if not obj.members:
        outer = line_indent(text, obj.start)
        inner = outer + unit
        member = f"\n{inner}{json.dumps(key)}: {render(value, inner, unit)}"
        close = obj.end - 1
        if text[obj.start + 1:close].strip():  # only comments inside: keep them after it
            return text[:obj.start + 1] + member + text[obj.start + 1:]
        return text[:obj.start + 1] + member + f"\n{outer}" + text[close:]
    last = obj.members[-1]
    first_start = obj.members[0].key_start
    one_line = "\n" not in text[obj.start:obj.end]
    indent = line_indent(text, first_start) if not one_line else ""
    after, has_comma = _after_last(text, last.value.end)
    member = f"{json.dumps(key)}: {render(value, indent, unit)}"
    if one_line:
        insert = f" {member}" + ("," if has_comma else "")
    else:
        insert = f"\n{indent}{member}" + ("," if has_comma else "")
    text = text[:after] + insert + text[after:]
    if not has_comma:
        text = text[:last.value.end] + "," + text[last.value.end:]
    return text


def _after_last(text: str, value_end: int) -> tuple[int, bool]:
    """Where a new member goes after the last one: past its comma (if any) and past a comment
    on the same line, so that comment stays with the member it describes."""
    i = value_end
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    has_comma = i < n and text[i] == ","
    if has_comma:
        i += 1
    else:
        i = value_end
    j = i
    while j < n and text[j] in " \t":
        j += 1
    if text.startswith("//", j):
        nl = text.find("\n", j)
        return (n if nl < 0 else nl), has_comma
    if text.startswith("/*", j):
        close = text.find("*/", j)
        if close >= 0 and "\n" not in text[j:close]:
            return close + 2, has_comma
    return i, has_comma
