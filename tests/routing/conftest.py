"""A real, throwaway `redis-server` for the shared-state tests.

`scripts/ensure-redis` is run once per test session (it installs Debian's redis-server when it
is missing and we are root). Each test that asks for `redis_server` gets its own server on a
free 127.0.0.1 port, with no persistence, in a temporary directory; tests may stop and start it
again on the same port to simulate an outage. When redis-server truly cannot be installed, those
tests are skipped with the script's reason.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
             "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {err}")
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The first test needing Redis may install it (apt-get update + install): allow for
    # that beyond the suite's per-test timeout.
    for item in items:
        if "redis_binary" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(660))


@pytest.fixture(scope="session")
def redis_binary() -> str:
    result = subprocess.run([str(ROOT / "scripts" / "ensure-redis")], capture_output=True,
                            text=True, timeout=600, check=False)
    if result.returncode != 0:
        pytest.skip(f"no redis-server: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
