"""Reading and rewriting a client's config file safely: refuse early (read-only file, unreadable
text) with nothing written, keep a backup of the previous version, replace atomically (a
crash leaves the old file or the new one, never half of each), print a diff for --dry-run."""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class IntegrationError(Exception):
    """A problem the user must fix before crossway can write a client's config."""


@dataclass(frozen=True)
class Edit:
    """The new text for one client config file, and what a user should be told about it."""

    path: Path
    old: str | None  # None: the file does not exist yet
    new: str
    notes: tuple[str, ...] = ()
    # Values never printed in full (the client key inside a --dry-run diff).
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True)
class Written:
    path: Path
    backup: Path | None
    changed: bool


def read_config(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise IntegrationError(f"{path} is a directory, not a config file") from None
    except OSError as exc:
        raise IntegrationError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrationError(f"{path} is not UTF-8 text (byte {exc.start}); nothing was "
                               "written") from None


def keep_newlines(old: str | None, merge: Callable[[str | None], Edit]) -> Edit:
    """Run `merge` on `old` with LF line ends and give the result the file's own line ends:
    a file saved with CRLF (Windows editors) stays CRLF, inserted lines included."""
    if old is None or "\r\n" not in old:
        return merge(old)
    edit = merge(old.replace("\r\n", "\n"))
    return dataclasses.replace(edit, old=old, new=edit.new.replace("\n", "\r\n"))


def check_writable(path: Path) -> None:
    """Refuse a read-only file even when running as root: a file made read-only says its owner
    does not want it changed, and root would otherwise overwrite it silently."""
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    if st is not None and not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise IntegrationError(
            f"{path} is read-only (mode {stat.S_IMODE(st.st_mode):04o}); nothing was written. "
            "Make it writable (chmod u+w) or choose another file with --file.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise IntegrationError(f"cannot write in {parent}; nothing was written")


def write(edit: Edit, *, now: float | None = None) -> Written:
    """Write `edit` atomically; the previous file is kept as `<name>.crossway-<time>.bak`."""
    if not edit.changed:
        return Written(edit.path, None, False)
    path = edit.path
    check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o600  # a new file may hold a key: readable by its owner only
    if edit.old is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        backup = path.with_name(f"{path.name}.crossway-{stamp}.bak")
        n = 1
        while backup.exists():  # two runs within a second: never overwrite an older backup
            n += 1
            backup = path.with_name(f"{path.name}.crossway-{stamp}-{n}.bak")
        backup.write_bytes(path.read_bytes())
        mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(edit.new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Written(path, backup, True)


def diff(edit: Edit) -> str:
    """A unified diff of the edit, with secrets masked."""
    old = (edit.old or "").splitlines(keepends=True)
    new = edit.new.splitlines(keepends=True)
    label = str(edit.path)
    text = "".join(difflib.unified_diff(old, new, label if edit.old is not None else "/dev/null",
                                        label))
    return mask(text, edit.secrets)


def mask(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, masked(s))
    return text


def masked(key: str) -> str:
    """Same rule as KeySpec.masked: enough to recognise a key, never enough to use it."""
    return f"{key[:3]}…{key[-4:]}" if len(key) > 12 else "****"


def report(edit: Edit, dry_run: bool) -> tuple[str, Written | None]:
    """Apply (or only show) one edit; returns the text to print and what was written."""
    lines: list[str] = []
    if not edit.changed:
        lines.append(f"{edit.path}: already up to date, nothing written")
        return "\n".join([*lines, *edit.notes]), None
    if dry_run:
        lines.append(diff(edit).rstrip("\n"))
        lines.append(f"(dry run: {edit.path} not written)")
        return "\n".join([*lines, *edit.notes]), None
    done = write(edit)
    lines.append(f"wrote {done.path}")
    if done.backup is not None:
        lines.append(f"previous version kept as {done.backup}")
    return "\n".join([*lines, *edit.notes]), done
