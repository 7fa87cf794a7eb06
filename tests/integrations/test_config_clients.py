"""`crossway config claude-code` and `crossway config codex` on real files."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from crossway.config.loader import load_settings
from crossway.integrations.commands import ConfigRequest, run
from crossway.integrations.files import IntegrationError
from tests.integrations.conftest import CLIENT_KEY, GO_KEY, clean_env, crossway, fixture


def config(client: str, home: Path, work: Path, *, key: bool = True, **opts: Any) -> str:
    extra = {"CROSSWAY_API_KEY": CLIENT_KEY} if key else {}
    env = clean_env(home, OPENCODE_GO_API_KEY=GO_KEY, **extra)
    return run(ConfigRequest(client=client, **opts), load_settings(None, env), env, work)


# ------------------------------------------------------------------------------ Claude Code


def test_claude_settings_merge_keeps_other_settings_and_env(home: Path, work: Path) -> None:
    path = fixture("claude_settings.json", home / ".claude" / "settings.json")
    original = json.loads(path.read_text())
    config("claude-code", home, work, base_url="http://127.0.0.1:8000/v1",
           default_model="opencode-go/glm-5.1")
    doc = json.loads(path.read_text())
    assert doc["permissions"] == original["permissions"]
    assert doc["includeCoAuthoredBy"] is False
    env = doc["env"]
    assert env["BASH_DEFAULT_TIMEOUT_MS"] == "60000"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8000"  # Claude Code adds /v1
    assert env["ANTHROPIC_AUTH_TOKEN"] == CLIENT_KEY
    assert env["ANTHROPIC_MODEL"] == "opencode-go/glm-5.1"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "opencode-go/glm-5.1"
    served = {"opencode-go/" + m for m in ("glm-5.3", "kimi-k2.6", "deepseek-v4-flash")}
    assert {env["ANTHROPIC_DEFAULT_SONNET_MODEL"], env["ANTHROPIC_DEFAULT_HAIKU_MODEL"]} <= served
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert int(env["API_TIMEOUT_MS"]) >= 600000
    assert all(isinstance(v, str) for v in env.values())
    assert len(list(path.parent.glob("settings.json.crossway-*.bak"))) == 1


def test_claude_dry_run_masks_the_key_and_writes_nothing(home: Path, work: Path) -> None:
    out = config("claude-code", home, work, dry_run=True)
    assert '"ANTHROPIC_AUTH_TOKEN": "sk-…6789"' in out and CLIENT_KEY not in out
    assert not (home / ".claude").exists()


def test_claude_without_required_key_gets_a_placeholder_token(home: Path, work: Path) -> None:
    config("claude-code", home, work, key=False)
    env = json.loads((home / ".claude" / "settings.json").read_text())["env"]
    assert env["ANTHROPIC_AUTH_TOKEN"] == "crossway-no-key-required"


def test_claude_project_scope_uses_the_private_local_file(home: Path, work: Path) -> None:
    out = config("claude-code", home, work, project=True)
    path = work / ".claude" / "settings.local.json"
    assert f"wrote {path}" in out and path.is_file()
    assert not (home / ".claude").exists()


def test_claude_warns_about_a_real_anthropic_key(home: Path, work: Path) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{"env": {"ANTHROPIC_API_KEY": "sk-ant-real"}}')
    out = config("claude-code", home, work)
    assert "ANTHROPIC_API_KEY is also set" in out
    assert json.loads(path.read_text())["env"]["ANTHROPIC_API_KEY"] == "sk-ant-real"


def test_claude_invalid_settings_are_refused(home: Path, work: Path) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text('{\n  "env": {\n    "A": "1",,\n  }\n}\n')
    env = clean_env(home, OPENCODE_GO_API_KEY=GO_KEY)
    result = crossway(["config", "claude-code"], env, work)
    assert result.returncode == 1 and "line 3, column 14" in result.stderr
    assert path.read_text() == '{\n  "env": {\n    "A": "1",,\n  }\n}\n'


# ------------------------------------------------------------------------------------ Codex


def test_codex_merge_keeps_comments_and_tables(home: Path, work: Path) -> None:
    path = fixture("codex_config.toml", home / ".codex" / "config.toml")
    original = path.read_text()
    out = config("codex", home, work, default_model="opencode-go/kimi-k2.6")
    text = path.read_text()
    for line in original.splitlines():
        if line.startswith("#") or line.startswith("[") or "the team's" in line:
            assert line in text, line
    assert "# what I use at work" in text
    doc = tomllib.loads(text)
    assert doc["model"] == "opencode-go/kimi-k2.6" and doc["model_provider"] == "crossway"
    assert doc["model_providers"]["azure"] == tomllib.loads(original)["model_providers"]["azure"]
    assert doc["model_providers"]["crossway"] == {
        "name": "crossway", "base_url": "http://127.0.0.1:8000/v1",
        "env_key": "CROSSWAY_API_KEY", "wire_api": "responses"}
    assert doc["profiles"] == {"review": {"model": "o4"}}
    assert doc["history"] == {"persistence": "none"}
    assert "Responses API" in out and CLIENT_KEY not in text


def test_codex_profile_leaves_the_default_model_alone(home: Path, work: Path) -> None:
    path = fixture("codex_config.toml", home / ".codex" / "config.toml")
    config("codex", home, work, profile="crossway", key=False)
    doc = tomllib.loads(path.read_text())
    assert doc["model"] == "gpt-5.5" and "model_provider" not in doc
    assert doc["profiles"]["crossway"]["model_provider"] == "crossway"
    assert doc["profiles"]["review"] == {"model": "o4"}
    assert "env_key" not in doc["model_providers"]["crossway"]


def test_codex_home_and_new_file(home: Path, work: Path, tmp_path: Path) -> None:
    env = clean_env(home, OPENCODE_GO_API_KEY=GO_KEY, CODEX_HOME=str(tmp_path / "codex"))
    result = crossway(["config", "codex", "--base-url", "http://localhost:9000/"], env, work)
    assert result.returncode == 0, result.stderr
    doc = tomllib.loads((tmp_path / "codex" / "config.toml").read_text())
    assert doc["model_providers"]["crossway"]["base_url"] == "http://localhost:9000/v1"


def test_codex_invalid_toml_is_refused(home: Path, work: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text('model = "a"\n[broken\n')
    with pytest.raises(IntegrationError, match="not valid TOML"):
        config("codex", home, work)
    assert path.read_text() == 'model = "a"\n[broken\n'


def test_codex_crlf_file_stays_crlf(home: Path, work: Path) -> None:
    path = fixture("codex_config.toml", home / ".codex" / "config.toml")
    path.write_bytes(path.read_text().replace("\n", "\r\n").encode())
    config("codex", home, work)
    text = path.read_bytes().decode()
    assert "\n" not in text.replace("\r\n", "")
    assert "# the team's Azure deployment\r\n" in text
    assert tomllib.loads(text)["model_providers"]["crossway"]["wire_api"] == "responses"
