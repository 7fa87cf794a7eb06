"""count_tokens uses a real BPE whose vocabulary ships in a package: no download, ever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crossway.tokens import TOKENS_PER_IMAGE, TOKENS_PER_MESSAGE, TOKENS_PER_TOOL, TokenCounter

NO_DOWNLOAD = """
import requests, urllib.request, socket
def refuse(*a, **k):
    raise SystemExit("tried to reach the network: " + repr(a[:1]))
requests.get = requests.Session.request = refuse
urllib.request.urlopen = refuse
socket.create_connection = refuse
from crossway.tokens import TokenCounter
print(TokenCounter().count_text("hello world"))
"""


def test_vocabulary_loads_offline_from_an_empty_cache(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    r = subprocess.run([sys.executable, "-c", NO_DOWNLOAD], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"


def test_counts_every_part_of_a_request() -> None:
    counter = TokenCounter()
    text = counter.count_text
    body = {
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBORw0KGgo="}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Look at it.", "signature": "s"},
                {"type": "tool_use", "id": "t", "name": "zoom", "input": {"factor": 2}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "a cat"}]},
        ],
        "tools": [{"name": "zoom", "description": "Zoom in",
                   "input_schema": {"type": "object", "properties": {}}}],
    }
    joined = "\n".join(["You are terse.", "What is in this picture?", "Look at it.", "zoom",
                        '{"factor":2}', "a cat", "zoom", "Zoom in",
                        '{"type":"object","properties":{}}'])
    expected = (text(joined) + 3 * TOKENS_PER_MESSAGE + TOKENS_PER_IMAGE + TOKENS_PER_TOOL)
    assert counter.count_request(body) == expected
    assert text("hello world") == 2 and text("") == 0
