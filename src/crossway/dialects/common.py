"""Small helpers every dialect package shares (one copy, not one per dialect)."""

from __future__ import annotations

import binascii

from crossway.errors import InvalidRequest


def count(value: object) -> int | None:
    """A token count from the wire: ints as they are, floats truncated, anything else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value)
    return None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def partial_suffix(s: str, marker: str) -> int:
    """Length of the longest proper prefix of `marker` that `s` ends with (a marker that may
    still be arriving in the next chunk)."""
    for k in range(min(len(marker) - 1, len(s)), 0, -1):
        if s.endswith(marker[:k]):
            return k
    return 0


def bad(path: str, message: str) -> InvalidRequest:
    """A client request error naming the field, in the words both doors use."""
    return InvalidRequest(f"{path}: {message}", param=path)


def is_base64(data: str) -> bool:
    """Strict base64 (what upstreams accept for inline images); C speed, no copy kept."""
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return True
