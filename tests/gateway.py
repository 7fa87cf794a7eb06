"""Run crossway as a real process on 127.0.0.1 for tests (the way users run it)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

# Environment variables that would make a test depend on the developer's machine.
_SCRUB_PREFIXES = ("OPENCODE_", "CROSSWAY_", "ANTHROPIC_", "OPENAI_",
                   # providers configured by environment alone (seed 003's table)
                   "GEMINI_", "VERTEX_", "DEEPSEEK_", "GROQ_", "OPENROUTER_", "ZAI_", "XAI_",
                   "BAILIAN_", "MINIMAX_", "XIAOMI_", "AZURE_", "ORACLE_", "OLLAMA_", "VLLM_",
                   "BEDROCK_", "CONFIGURED_PROVIDER_MODELS_MODE",
                   # the credential chains Vertex and Bedrock read
                   "AWS_", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_")


def request(gw: Gateway, method: str, path: str, body: bytes | None = None,
            headers: Mapping[str, str] | None = None,
            timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (no client library opinions): status, lower-cased headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    def __init__(self, env: Mapping[str, str], args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
        base.update(env)
        base.setdefault("CROSSWAY_LOG_LEVEL", "DEBUG")
        # The usage store (SQLite under the data directory) of a test gateway is its own,
        # never the developer's real one.
        self._data = tempfile.TemporaryDirectory(prefix="crossway-data-")
        base.setdefault("XDG_DATA_HOME", self._data.name)
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="crossway-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crossway", "serve", "--port", str(self.port), *args],
            env=base, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crossway exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"crossway did not become ready:\n{self.logs()}")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._data.cleanup()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
