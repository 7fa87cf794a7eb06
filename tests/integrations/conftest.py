"""Helpers for the client-integration tests: real files in a scratch HOME, the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GO_KEY = "sk-test-go-0123456789"
CLIENT_KEY = "sk-crossway-client-0123456789"
_SCRUB = ("OPENCODE_", "CROSSWAY_", "ANTHROPIC_", "OPENAI_", "CODEX_", "CLAUDE_", "XDG_")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The machine's environment minus anything that would configure crossway or a client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(HOME=str(home), PATH="/usr/bin:/bin")
    env.update(extra)
    return env


def crossway(args: list[str], env: dict[str, str], cwd: Path,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`crossway ARGS` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "crossway", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def fixture(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / name, dest)
    return dest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A project folder that is its own repository root (no config found above it)."""
    path = tmp_path / "project"
    (path / ".git").mkdir(parents=True)
    return path
