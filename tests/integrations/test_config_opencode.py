"""`crossway config opencode` on real files: merges keep every comment, trailing comma and
other provider; only crossway's own entry changes; bad files are refused with nothing written."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from crossway.config.loader import load_settings
from crossway.dialects import registry
from crossway.integrations import jsonc
from crossway.integrations.commands import ConfigRequest, run
from crossway.integrations.files import IntegrationError
from crossway.integrations.opencode import validate
from tests.integrations.conftest import (
    CLIENT_KEY,
    FIXTURES,
    GO_KEY,
    clean_env,
    crossway,
    fixture,
)


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return clean_env(home, OPENCODE_GO_API_KEY=GO_KEY, CROSSWAY_API_KEY=CLIENT_KEY, **extra)


def config(home: Path, work: Path, *, env: dict[str, str] | None = None, **opts: Any) -> str:
    env = env or env_for(home)
    return run(ConfigRequest(client="opencode", **opts), load_settings(None, env), env, work)


def load(path: Path) -> Any:
    root = jsonc.parse(path.read_text())
    assert root is not None
    return root.value


def global_file(home: Path) -> Path:
    return home / ".config" / "opencode" / "opencode.json"


def test_merge_into_commented_jsonc_replaces_only_crossways_entry(home: Path, work: Path) -> None:
    path = fixture("opencode_commented.jsonc", work / "opencode.jsonc")
    original = path.read_text()
    (work / "sub").mkdir()
    out = config(home, work / "sub", base_url="http://127.0.0.1:8000/v1/v1/")
    assert f"wrote {path}" in out and "fixed baseURL http://127.0.0.1:8000/v1/v1" in out
    new = path.read_text()
    # every byte outside crossway's entry is unchanged
    old_root, new_root = jsonc.parse(original), jsonc.parse(new)
    assert old_root is not None and new_root is not None
    old_entry = old_root.member("provider").value.member("crossway").value  # type: ignore[union-attr]
    new_entry = new_root.member("provider").value.member("crossway").value  # type: ignore[union-attr]
    assert new[:new_entry.start] == original[:old_entry.start]
    assert new[new_entry.end:] == original[old_entry.end:]
    doc, before = new_root.value, old_root.value
    assert {k: v for k, v in doc["provider"].items() if k != "crossway"} == \
        {k: v for k, v in before["provider"].items() if k != "crossway"}
    assert doc["mcp"] == before["mcp"] and doc["theme"] == before["theme"]
    entry = doc["provider"]["crossway"]
    assert entry["npm"] == "@ai-sdk/openai-compatible"
    assert entry["options"] == {"baseURL": "http://127.0.0.1:8000/v1",
                                "apiKey": "{env:CROSSWAY_API_KEY}"}
    assert isinstance(entry["models"], dict)
    glm = entry["models"]["opencode-go/glm-5.1"]
    assert glm["limit"] == {"context": 202752, "output": 131072}
    assert glm["tool_call"] is True and glm["reasoning"] is True and glm["attachment"] is False
    assert entry["models"]["opencode-go/kimi-k2.6"]["attachment"] is True
    assert validate(doc) == []
    # backup of the exact previous text
    (backup,) = path.parent.glob("opencode.jsonc.crossway-*.bak")
    assert backup.read_text() == original
    assert CLIENT_KEY not in new and GO_KEY not in new


def test_insert_into_file_without_crossway_keeps_its_indentation(home: Path, work: Path) -> None:
    path = fixture("opencode_four_spaces.json", global_file(home))
    original = path.read_text()
    config(home, work, models="opencode-go/glm-5.1,opencode-go/minimax-m2.7",
           default_model="opencode-go/glm-5.1", small_model="glm-5.1")
    new = path.read_text()
    assert new.startswith(original[:original.index('        }\n    },')])
    assert '\n        "crossway": {\n            "npm": "@ai-sdk/openai-compatible",' in new
    assert new.endswith('    "autoupdate": false,\n    "model": "crossway/opencode-go/glm-5.1",\n'
                        '    "small_model": "crossway/opencode-go/glm-5.1"\n}\n')
    doc = json.loads(new)
    assert set(doc["provider"]["crossway"]["models"]) == {"opencode-go/glm-5.1",
                                                          "opencode-go/minimax-m2.7"}
    assert doc["provider"]["openrouter"] == json.loads(original)["provider"]["openrouter"]


def test_missing_file_is_created_private(home: Path, work: Path) -> None:
    out = config(home, work)
    path = global_file(home)
    assert f"wrote {path}" in out and "previous version" not in out
    doc = json.loads(path.read_text())
    assert doc["$schema"] == "https://opencode.ai/config.json"
    assert validate(doc) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a model is offered only when crossway speaks its upstream's dialect (grok-4.5 is
    # served over the Responses API)
    offered = "opencode-go/grok-4.5" in doc["provider"]["crossway"]["models"]
    assert offered == ("openai_responses" in registry.names())


def test_empty_and_comment_only_files(home: Path, work: Path) -> None:
    path = global_file(home)
    path.parent.mkdir(parents=True)
    path.write_text("")
    config(home, work)
    assert validate(json.loads(path.read_text())) == []
    path.write_text("// set up later\n")
    config(home, work)
    text = path.read_text()
    assert text.startswith("// set up later\n{")
    assert validate(load(path)) == []


def test_no_key_required_writes_a_placeholder_not_an_env_reference(home: Path,
                                                                   work: Path) -> None:
    env = clean_env(home, OPENCODE_GO_API_KEY=GO_KEY)
    config(home, work, env=env)
    options = json.loads(global_file(home).read_text())["provider"]["crossway"]["options"]
    assert options["apiKey"] == "crossway-no-key-required"


def test_second_run_changes_nothing(home: Path, work: Path) -> None:
    config(home, work)
    text = global_file(home).read_text()
    assert "already up to date" in config(home, work)
    assert global_file(home).read_text() == text
    assert list(global_file(home).parent.glob("*.bak")) == []


def test_dry_run_prints_diff_and_masks_a_literal_key(home: Path, work: Path) -> None:
    out = config(home, work, dry_run=True, literal_key=True)
    assert "+++ " in out and "dry run" in out and '"apiKey": "sk-…6789"' in out
    assert CLIENT_KEY not in out
    assert not global_file(home).exists()


def test_project_file_in_a_parent_folder_wins_over_the_global_one(home: Path,
                                                                   work: Path) -> None:
    fixture("opencode_four_spaces.json", global_file(home))
    project = fixture("opencode_four_spaces.json", work / "opencode.json")
    sub = work / "src" / "deep"
    sub.mkdir(parents=True)
    out = config(home, sub)
    assert f"wrote {project}" in out
    assert "crossway" in json.loads(project.read_text())["provider"]
    assert "crossway" not in json.loads(global_file(home).read_text())["provider"]


def test_models_glob_and_unknown_model(home: Path, work: Path) -> None:
    config(home, work, models="opencode-go/glm-*")
    models = json.loads(global_file(home).read_text())["provider"]["crossway"]["models"]
    assert models and all(m.startswith("opencode-go/glm-") for m in models)
    with pytest.raises(IntegrationError, match="matches no model"):
        config(home, work, models="opencode-go/nope-*")
    with pytest.raises(IntegrationError, match="does not serve"):
        config(home, work, default_model="nope")


def test_invalid_json_names_line_and_column_and_writes_nothing(home: Path, work: Path) -> None:
    path = global_file(home)
    path.parent.mkdir(parents=True)
    bad = '{\n  "provider": {\n    "x": { "npm": "a" }\n    "y": {}\n  }\n}\n'
    path.write_text(bad)
    result = crossway(["config", "opencode"], env_for(home), work)
    assert result.returncode == 1
    assert "not valid JSON/JSONC" in result.stderr and "line 4, column 5" in result.stderr
    assert "nothing was written" in result.stderr
    assert path.read_text() == bad
    assert sorted(p.name for p in path.parent.iterdir()) == ["opencode.json"]


def test_read_only_file_is_refused_with_nothing_written(home: Path, work: Path) -> None:
    path = fixture("opencode_four_spaces.json", global_file(home))
    before = path.read_text()
    os.chmod(path, 0o444)
    result = crossway(["config", "opencode"], env_for(home), work)
    assert result.returncode == 1
    assert "read-only" in result.stderr and "nothing was written" in result.stderr
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["opencode.json"]


def test_provider_of_the_wrong_shape_is_refused(home: Path, work: Path) -> None:
    path = global_file(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"provider": ["crossway"]}')
    with pytest.raises(IntegrationError, match="'provider' must be an object"):
        config(home, work)
    assert path.read_text() == '{"provider": ["crossway"]}'


def test_validate_catches_the_known_breakages() -> None:
    assert validate({"provider": {"x": {"models": ["a"]}}}) == \
        ["provider.x.models is not an object (a list is not accepted)"]
    assert validate({"provider": {"x": {"baseURL": "u", "options": {}}}}) == \
        ["provider.x.baseURL belongs inside options"]
    assert validate({"provider": {"x": {"models": {"m": {"limit": {"context": 1}}}}}}) == \
        ["provider.x.models.m.limit needs numbers context and output"]
    assert validate({"model": "nomodel"}) == ["'model' must be 'provider/model'"]


def test_crlf_file_keeps_crlf_line_ends(home: Path, work: Path) -> None:
    path = global_file(home)
    path.parent.mkdir(parents=True)
    original = (FIXTURES / "opencode_commented.jsonc").read_text().replace("\n", "\r\n")
    path.write_bytes(original.encode())
    config(home, work)
    new = path.read_bytes().decode()
    assert "\n" not in new.replace("\r\n", "")
    assert new.startswith(original[:original.index('    "crossway": {')])
    assert validate(load(path)) == []


def test_every_run_keeps_its_own_backup(home: Path, work: Path) -> None:
    path = fixture("opencode_four_spaces.json", global_file(home))
    first = path.read_text()
    config(home, work, models="opencode-go/glm-5.1")
    second = path.read_text()
    config(home, work, models="opencode-go/glm-5")
    backups = sorted(path.parent.glob("opencode.json.crossway-*.bak"))
    assert sorted(b.read_text() for b in backups) == sorted([first, second])
