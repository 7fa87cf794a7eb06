"""`crossway config <client>` end to end: the generated file is the only setup a real client
gets, and it reaches crossway (which requires a client key here) and the fake OpenCode Go.

OpenCode: `crossway config opencode` writes the global opencode.json of a scratch HOME; then
`opencode run` without --model (the generated `model` is used) and with the key only in
CROSSWAY_API_KEY, as the generated `{env:CROSSWAY_API_KEY}` expects. Claude Code: `crossway
config claude-code` writes ~/.claude/settings.json; then `claude -p` without --model and with
no ANTHROPIC_* variable. The variables OpenCode gets besides that only keep it offline.
Codex waits for crossway's Responses front door (its generator is tested in
tests/integrations).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import Case, base_env, offline_home, run_client
from tests.fakes.opencode import FakeOpenCode, Reply
from tests.gateway import Gateway

CLIENT = "crossway config"
pytestmark = pytest.mark.timeout(240, func_only=True)

GO_KEY = "sk-test-go-0123456789"  # tests/conftest.py's fake_go key
CLIENT_KEY = "sk-e2e-generated-config-key"
MODEL = "opencode-go/glm-5.1"


@pytest.fixture(scope="module")
def keyed_gateway(fake_go: FakeOpenCode) -> Iterator[Gateway]:
    """crossway requiring a client key, in front of the fake Go tier."""
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake_go.base_url,
           "CROSSWAY_API_KEY": CLIENT_KEY}
    with Gateway(env) as gw:
        yield gw


def generate(args: list[str], gw: Gateway, home: Path, cwd: Path) -> str:
    """`crossway config ...` as a user runs it, with the settings crossway itself runs with."""
    env = base_env(home) | {"OPENCODE_GO_API_KEY": GO_KEY, "CROSSWAY_API_KEY": CLIENT_KEY,
                            "CROSSWAY_PORT": str(gw.port)}
    result = subprocess.run([sys.executable, "-m", "crossway", "config", *args], env=env,
                            cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return result.stdout


def upstream_turns(fake: FakeOpenCode, gw: Gateway, describe: str) -> list[dict[str, object]]:
    sent = fake.completions()
    assert sent, f"nothing reached the upstream\n{describe}\n{gw.logs()[-3000:]}"
    for req in sent:
        assert req.status == 200, req.body[:500]
        assert req.json["model"] == "glm-5.1"
        assert CLIENT_KEY not in json.dumps(req.headers) + req.body.decode()
    return [r.json for r in sent]


def test_opencode_with_only_the_generated_config(
        opencode_bin: Path, keyed_gateway: Gateway, fake_go: FakeOpenCode, workdir: Path,
        tmp_path: Path, e2e_case: Case) -> None:
    e2e_case.dialect = "chat"
    home = offline_home(tmp_path / "home")
    out = generate(["opencode", "--base-url", keyed_gateway.url + "/v1/v1/",
                    "--default-model", MODEL, "--small-model", MODEL],
                   keyed_gateway, home, workdir)
    config = home / ".config" / "opencode" / "opencode.json"
    assert f"wrote {config}" in out
    assert json.loads(config.read_text())["provider"]["crossway"]["options"]["baseURL"] == \
        keyed_gateway.url + "/v1"
    answer = "Hello through a generated OpenCode config."
    fake_go.script(Reply(text=answer, when_tools=True))
    env = base_env(home) | {
        "CROSSWAY_API_KEY": CLIENT_KEY,
        # offline switches only (no model list download, no updates, no LSP downloads)
        "OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    }
    run = run_client([opencode_bin, "run", "--format", "json", "Say hello."], env, workdir,
                     case=e2e_case)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    text = [e["part"]["text"] for e in events if e.get("type") == "text"]
    assert run.returncode == 0 and text == [answer], run.describe(keyed_gateway)
    bodies = upstream_turns(fake_go, keyed_gateway, run.describe(keyed_gateway))
    assert any("Say hello." in json.dumps(b["messages"]) for b in bodies)


def test_claude_code_with_only_the_generated_settings(
        claude_bin: Path, keyed_gateway: Gateway, fake_go: FakeOpenCode, workdir: Path,
        tmp_path: Path, e2e_case: Case) -> None:
    e2e_case.dialect = "chat"
    home = tmp_path / "home"
    home.mkdir()
    out = generate(["claude-code", "--model", MODEL], keyed_gateway, home, workdir)
    settings = home / ".claude" / "settings.json"
    assert f"wrote {settings}" in out
    answer = "Hello through generated Claude Code settings."
    fake_go.script(Reply(text=answer))
    env = base_env(home)
    assert not any(k.startswith("ANTHROPIC_") for k in env)
    run = run_client([claude_bin, "-p", "Say hello.", "--output-format", "json",
                      "--no-session-persistence"], env, workdir, case=e2e_case)
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"Claude Code printed no JSON result\n{run.describe(keyed_gateway)}")
    assert result.get("is_error") is False, run.describe(keyed_gateway)
    assert result["result"] == answer
    (body,) = upstream_turns(fake_go, keyed_gateway, run.describe(keyed_gateway))
    assert "Say hello." in json.dumps(body["messages"])
