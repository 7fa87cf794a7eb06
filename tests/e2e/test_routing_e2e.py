"""Claude Code (the real CLI, headless) run as a new user runs it: no `--model`, only an
OpenCode Go key. It names its own Claude models (its default opus/sonnet, haiku for background
work); crossway must route every one of them to Go models, and the answer must come back."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import CLIENT_KEY, Case, base_env, run_client
from tests.fakes.opencode import CATALOG, FakeOpenCode, Reply
from tests.gateway import Gateway

CLIENT = "claude-code"
pytestmark = pytest.mark.timeout(240, func_only=True)
GO_KEY = "sk-test-go-routing-e2e-0123"
GO_MODELS = {m for models in CATALOG["go"].values() for m in models}


@pytest.fixture(scope="module")
def go_only() -> Iterator[tuple[Gateway, FakeOpenCode]]:
    with FakeOpenCode(tier="go", keys=(GO_KEY,)) as fake:
        env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url}
        with Gateway(env) as gw:
            yield gw, fake


def test_claude_code_without_model_on_a_go_key(claude_bin: Path, go_only: tuple[Gateway,
                                               FakeOpenCode], workdir: Path, tmp_path: Path,
                                               e2e_case: Case) -> None:
    gateway, fake = go_only
    fake.reset()
    fake.script(Reply(text="Hello from a Go model.", when_tools=True))
    home = tmp_path / "home"
    home.mkdir()
    env = base_env(home) | {
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "IS_SANDBOX": "1",
    }
    argv: list[str | Path] = [claude_bin, "-p", "Say hello.", "--output-format", "json",
                              "--bare", "--no-session-persistence"]
    run = run_client(argv, env, workdir, case=e2e_case)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result.get("is_error") is False, run.describe(gateway)
    assert result["result"] == "Hello from a Go model.", run.describe(gateway)
    sent = fake.completions()
    assert sent, run.describe(gateway)
    for req in sent:  # every request Claude Code made reached a Go model and was answered
        assert req.status == 200 and req.model in GO_MODELS, (req.model, req.status)
    deadline = time.monotonic() + 3  # access lines are written a little after each answer
    while True:
        access = [line for line in gateway.logs().splitlines() if "crossway.access" in line]
        if len(access) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    asked = [re.search(r" model=(\S+) target=(\S+) .* status=(\d+)", line) for line in access]
    assert asked and all(m is not None for m in asked), access
    for m in asked:  # Claude Code named Claude models; each went to Go and was answered
        assert m is not None
        name, target, status = m.groups()
        assert name.startswith("claude-") and target.startswith("opencode-go:"), m.group(0)
        assert status == "200", m.group(0)
