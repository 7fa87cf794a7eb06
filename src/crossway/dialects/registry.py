"""Dialect name -> the registered Dialect object; the client dialect of a request path."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

import crossway.dialects
from crossway.dialects import openai_chat
from crossway.dialects.base import Dialect
from crossway.errors import NotImplementedYet


def _discover() -> dict[str, Dialect]:
    """Every dialect package that defines a `DIALECT` object registers itself: adding a
    dialect touches only its own package."""
    found: dict[str, Dialect] = {}
    for info in sorted(pkgutil.iter_modules(crossway.dialects.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"crossway.dialects.{info.name}")
        dialect = getattr(module, "DIALECT", None)
        if isinstance(dialect, Dialect):
            found[dialect.name] = dialect
    return found


_DIALECTS: dict[str, Dialect] = _discover()
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
