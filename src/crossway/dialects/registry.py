"""Dialect name -> the registered Dialect object; the client dialect of a request path."""

from __future__ import annotations

from collections.abc import Mapping

from crossway.dialects import anthropic, openai_chat
from crossway.dialects.base import Dialect
from crossway.errors import NotImplementedYet

_DIALECTS: dict[str, Dialect] = {d.name: d for d in (anthropic.DIALECT, openai_chat.DIALECT)}
# Paths no dialect claims (and errors before routing) answer in OpenAI's shape, the one most
# generic clients parse.
DEFAULT: Dialect = openai_chat.DIALECT
# What users call the dialects crossway knows of but cannot speak yet.
_KNOWN_NAMES = {"openai_responses": "OpenAI Responses", "gemini": "Gemini generateContent"}


def get(name: str) -> Dialect:
    found = _DIALECTS.get(name)
    if found is None:
        raise NotImplementedYet(
            f"this model's upstream speaks the {_KNOWN_NAMES.get(name, name)} API, which this "
            "crossway version cannot talk to yet",
            code="dialect_not_supported",
        )
    return found


def names() -> tuple[str, ...]:
    return tuple(_DIALECTS)


def for_client(path: str, headers: Mapping[str, str]) -> Dialect:
    """The dialect a client speaks, from the path it called (and, on shared paths such as
    /v1/models, a header only that dialect's clients send)."""
    for dialect in _DIALECTS.values():
        if path.startswith(dialect.client_paths):
            return dialect
    for dialect in _DIALECTS.values():
        if dialect.client_header and dialect.client_header in headers:
            return dialect
    return DEFAULT
