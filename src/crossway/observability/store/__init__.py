"""The usage store: which one to use, from the environment.

- `CROSSWAY_USAGE=off` disables the store (and `crossway usage`).
- `CROSSWAY_DATABASE_URL=postgresql://user:password@host:5432/db` stores in Postgres;
  `sqlite:///abs/path/usage.db` (or unset) stores in a SQLite file, by default
  `$XDG_DATA_HOME/crossway/usage.db` (`~/.local/share/crossway/usage.db`; on macOS
  `~/Library/Application Support/crossway/usage.db`; on Windows
  `%LOCALAPPDATA%\\crossway\\usage.db`).
- `CROSSWAY_USAGE_RETENTION_DAYS` (default 90; 0 keeps rows forever).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from crossway.errors import ConfigError
from crossway.observability.store.base import UsageStore
from crossway.observability.store.writer import UsageWriter

DEFAULT_RETENTION_DAYS = 90.0
_OFF = frozenset({"off", "0", "false", "no", "disabled"})


def usage_enabled(env: Mapping[str, str]) -> bool:
    return env.get("CROSSWAY_USAGE", "").strip().lower() not in _OFF


def default_sqlite_path(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform.startswith("win"):
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "crossway" / "usage.db"


def store_for_url(url: str | None, env: Mapping[str, str]) -> UsageStore:
    """The store a database URL names; None or empty means the default SQLite file."""
    if not url:
        from crossway.observability.store.sqlite import SQLiteStore
        return SQLiteStore(default_sqlite_path(env))
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from crossway.observability.store.postgres import PostgresStore
        return PostgresStore(url)
    if scheme == "sqlite":
        from crossway.observability.store.sqlite import SQLiteStore
        # sqlite:///abs/path (and sqlite:////abs/path) name an absolute file; sqlite:rel.db
        # a file relative to the working directory.
        path = url.split(":", 1)[1]
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if not path.strip("/"):
            raise ConfigError("CROSSWAY_DATABASE_URL sqlite:// needs a file path, "
                              "e.g. sqlite:///var/lib/crossway/usage.db")
        return SQLiteStore(path)
    raise ConfigError(f"CROSSWAY_DATABASE_URL must start with postgresql:// or sqlite:// "
                      f"(got {scheme}://...)")


def store_from_env(env: Mapping[str, str]) -> UsageStore | None:
    """The configured store (not yet opened), or None when usage recording is off."""
    if not usage_enabled(env):
        return None
    return store_for_url(env.get("CROSSWAY_DATABASE_URL", "").strip() or None, env)


def retention_days_from_env(env: Mapping[str, str]) -> float | None:
    raw = env.get("CROSSWAY_USAGE_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise ConfigError(f"CROSSWAY_USAGE_RETENTION_DAYS must be a number of days "
                          f"(got {raw!r})") from None
    if days < 0:
        raise ConfigError("CROSSWAY_USAGE_RETENTION_DAYS cannot be negative")
    return days or None


def writer_from_env(env: Mapping[str, str]) -> UsageWriter | None:
    """The batch writer over the configured store, or None when recording is off.
    Call `await writer.start()` on the running loop and `await writer.close()` at exit."""
    store = store_from_env(env)
    if store is None:
        return None
    return UsageWriter(store, retention_days=retention_days_from_env(env))
