"""`crossway doctor` against real processes: the fake OpenCode Go upstream (with its
key-checking usage endpoint), a running crossway, and real client config files."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossway.integrations.doctor import service_findings
from tests.gateway import Gateway, free_port
from tests.integrations.conftest import CLIENT_KEY, GO_KEY, clean_env, crossway
from tests.integrations.fakes import FakeGoWithUsage

ZEN_KEY = "sk-test-zen-0123456789"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGoWithUsage]:
    with FakeGoWithUsage(keys=(GO_KEY,)) as f:
        yield f


def doctor(home: Path, work: Path, **env: str) -> tuple[int, dict[str, Any], str]:
    result = crossway(["doctor", "--json", "--timeout", "5"], clean_env(home, **env), work)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"doctor printed no JSON: {result.stdout}\n{result.stderr}")
    return result.returncode, report, result.stdout + result.stderr


def only(report: dict[str, Any], area: str, name: str | None = None) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["area"] == area
             and (name is None or f["name"].startswith(name))]
    assert len(found) == 1, (area, name, report["findings"])
    return found[0]


def test_healthy_setup(fake: FakeGoWithUsage, home: Path, work: Path) -> None:
    fake.reset()
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
           "OPENCODE_API_KEY": ZEN_KEY, "OPENCODE_ZEN_BASE_URL": "http://127.0.0.1:9/zen/v1",
           "CROSSWAY_API_KEY": CLIENT_KEY}
    with Gateway(env) as gw:
        env["CROSSWAY_PORT"] = str(gw.port)
        assert crossway(["config", "opencode"], clean_env(home, **env), work).returncode == 0
        assert crossway(["config", "claude-code"], clean_env(home, **env), work).returncode == 0
        code, report, text = doctor(home, work, **env)
    assert code == 0 and report["ok"] is True, text
    go = only(report, "key", "opencode-go")
    assert go["status"] == "ok" and "GET /usage" in go["detail"]
    zen = only(report, "key", "opencode-zen")
    assert zen["status"] == "not_checkable" and zen["level"] == "info"
    assert "not checkable without spending quota" in zen["detail"]
    assert only(report, "server")["detail"].startswith("crossway ")
    assert only(report, "client", "opencode")["status"] == "ok"
    assert only(report, "client", "claude-code")["status"] == "ok"
    assert only(report, "clock")["status"] == "ok"
    for secret in (GO_KEY, ZEN_KEY, CLIENT_KEY):
        assert secret not in text
    # checked with the free usage call, once with the key and once without; no completion
    usage = [r for r in fake.requests if r.route == "usage"]
    assert sorted(bool(r.headers.get("authorization")) for r in usage) == [False, True]
    assert fake.completions() == []


def test_wrong_key_is_rejected(fake: FakeGoWithUsage, home: Path, work: Path) -> None:
    code, report, text = doctor(home, work, OPENCODE_GO_API_KEY="sk-wrong-key-0123456789",
                                OPENCODE_GO_BASE_URL=fake.base_url,
                                CROSSWAY_PORT=str(free_port()))
    assert code == 1 and report["ok"] is False
    go = only(report, "key", "opencode-go")
    assert go["status"] == "rejected" and "Invalid API key." in go["detail"]
    assert "OPENCODE_GO_API_KEY" in go["fix"] and "sk-…6789" in go["detail"]
    assert "sk-wrong-key-0123456789" not in text


def test_unreachable_upstream(home: Path, work: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/zen/go/v1"
    code, report, _ = doctor(home, work, OPENCODE_GO_API_KEY=GO_KEY, OPENCODE_GO_BASE_URL=url,
                             CROSSWAY_PORT=str(free_port()))
    assert code == 1
    go = only(report, "key", "opencode-go")
    assert go["status"] == "unreachable" and "cannot connect" in go["detail"]
    assert only(report, "server")["status"] == "ok"  # the port is free


def test_client_config_pointing_elsewhere(fake: FakeGoWithUsage, home: Path,
                                          work: Path) -> None:
    port = free_port()
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
           "CROSSWAY_PORT": str(port)}
    assert crossway(["config", "opencode", "--base-url", "http://127.0.0.1:1234"],
                    clean_env(home, **env), work).returncode == 0
    codex_dir = home / ".codex"
    codex_dir.mkdir()
    (codex_dir / "config.toml").write_text(
        f'[model_providers.crossway]\nbase_url = "http://127.0.0.1:{port}/v1/v1"\n')
    code, report, _ = doctor(home, work, **env)
    assert code == 1
    oc = only(report, "client", "opencode")
    assert oc["status"] == "broken"
    assert f"points at http://127.0.0.1:1234/v1, but this crossway is at " \
           f"http://127.0.0.1:{port}/v1" in oc["detail"]
    cx = only(report, "client", "codex")
    assert cx["status"] == "broken" and "repeats /v1" in cx["detail"]


def test_client_with_the_wrong_key(fake: FakeGoWithUsage, home: Path, work: Path) -> None:
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
           "CROSSWAY_PORT": str(free_port()), "CROSSWAY_API_KEY": "sk-old-client-key-000"}
    assert crossway(["config", "claude-code"], clean_env(home, **env), work).returncode == 0
    env["CROSSWAY_API_KEY"] = CLIENT_KEY
    code, report, text = doctor(home, work, **env)
    assert code == 1
    cc = only(report, "client", "claude-code")
    assert cc["status"] == "broken" and "is not the key this crossway requires" in cc["detail"]
    assert "sk-old-client-key-000" not in text and CLIENT_KEY not in text


def test_endpoint_that_does_not_check_keys_is_not_reported_ok(
        fake: FakeGoWithUsage, home: Path, work: Path, tmp_path: Path) -> None:
    # The fake's GET /models (like OpenCode's) answers with or without a key.
    cfg = tmp_path / "crossway.yaml"
    cfg.write_text(f"backends:\n  lab:\n    type: openai\n    api_url: {fake.base_url}\n"
                   f"    api_key: sk-lab-key-0123456789\n")
    code, report, _ = doctor(home, work, OPENCODE_GO_API_KEY=GO_KEY,
                             OPENCODE_GO_BASE_URL=fake.base_url, CROSSWAY_CONFIG=str(cfg),
                             CROSSWAY_PORT=str(free_port()))
    lab = only(report, "key", "lab")
    assert lab["status"] == "not_checkable" and "answers without a key too" in lab["detail"]
    assert code == 0


def test_clock_skew_from_the_upstreams_date_header(home: Path, work: Path) -> None:
    with FakeGoWithUsage(keys=(GO_KEY,), date_offset=900) as skewed:
        code, report, _ = doctor(home, work, OPENCODE_GO_API_KEY=GO_KEY,
                                 OPENCODE_GO_BASE_URL=skewed.base_url,
                                 CROSSWAY_PORT=str(free_port()))
    clock = only(report, "clock")
    assert code == 1 and clock["status"] == "broken"
    assert 895 <= int(clock["detail"].split(" ")[0]) <= 905 and "NTP" in clock["fix"]


def test_port_taken_by_another_program(fake: FakeGoWithUsage, home: Path, work: Path) -> None:
    code, report, _ = doctor(home, work, OPENCODE_GO_API_KEY=GO_KEY,
                             OPENCODE_GO_BASE_URL=fake.base_url, CROSSWAY_PORT=str(fake.port))
    server = only(report, "server")
    assert code == 1 and server["status"] == "broken" and "not crossway" in server["detail"]


def test_no_key_at_all_and_a_bad_config_file(home: Path, work: Path, tmp_path: Path) -> None:
    code, report, _ = doctor(home, work, CROSSWAY_PORT=str(free_port()))
    assert code == 1 and only(report, "backend", "all")["status"] == "broken"
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends: [")
    code, report, _ = doctor(home, work, CROSSWAY_CONFIG=str(bad))
    assert code == 1 and only(report, "config")["status"] == "broken"
    assert "not valid YAML" in only(report, "config")["detail"]


def test_text_output(fake: FakeGoWithUsage, home: Path, work: Path) -> None:
    env = clean_env(home, OPENCODE_GO_API_KEY="sk-wrong-key-0123456789",
                    OPENCODE_GO_BASE_URL=fake.base_url, CROSSWAY_PORT=str(free_port()))
    result = crossway(["doctor"], env, work)
    assert result.returncode == 1
    assert "REJECTED" in result.stdout and "fix: replace the key in OPENCODE_GO_API_KEY" \
        in result.stdout
    assert result.stdout.rstrip().endswith("something is broken (see above)")


def test_services_are_checked_only_when_configured(tmp_path: Path) -> None:
    assert asyncio.run(service_findings({}, 2)) == []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = {"CROSSWAY_REDIS_URL": f"redis://:hunter2-secret@127.0.0.1:{port}/0",
               "CROSSWAY_DATABASE_URL":
                   f"postgresql://u:pw-secret@127.0.0.1:{free_port()}/crossway"}
        redis, database = asyncio.run(service_findings(env, 2))
    assert (redis.name, redis.level) == ("CROSSWAY_REDIS_URL", "ok")
    assert redis.detail == f"redis://127.0.0.1:{port} reachable"
    assert database.level == "broken" and "unreachable" in database.detail
    assert "secret" not in redis.detail + database.detail
    sqlite = {"CROSSWAY_DATABASE_URL": f"sqlite:///{tmp_path}/usage.db"}
    (found,) = asyncio.run(service_findings(sqlite, 2))
    assert found.level == "ok"
    missing = {"CROSSWAY_DATABASE_URL": f"sqlite:///{tmp_path}/nope/usage.db"}
    (found,) = asyncio.run(service_findings(missing, 2))
    assert found.level == "broken" and "folder missing" in found.detail


def test_running_crossway_with_another_client_key(fake: FakeGoWithUsage, home: Path,
                                                  work: Path) -> None:
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url}
    with Gateway({**env, "CROSSWAY_API_KEY": CLIENT_KEY}) as gw:
        code, report, _ = doctor(home, work, CROSSWAY_PORT=str(gw.port),
                                 CROSSWAY_API_KEY="sk-some-other-key-000", **env)
        server = only(report, "server")
        assert code == 1 and "refuses this configuration's client key" in server["detail"]
        code, report, _ = doctor(home, work, CROSSWAY_PORT=str(gw.port), **env)
        assert "this configuration has none" in only(report, "server")["detail"]
