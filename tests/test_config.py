"""Configuration: YAML + ${VAR} interpolation, environment discovery, precedence, selectors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossway.config.loader import interpolate, load_settings
from crossway.errors import ConfigError
from crossway.providers import build_provider
from crossway.routing.plan import Router
from crossway.routing.selectors import Selector, parse_selector
from tests.gateway import Gateway, request


def test_interpolation_with_defaults_and_nesting() -> None:
    env = {"A": "alpha", "EMPTY": ""}
    tree = {"x": "${A}", "y": ["pre-${A}-post", "${B:-beta}"], "z": {"w": "${EMPTY:-fallback}"},
            "n": 3}
    assert interpolate(tree, env) == {"x": "alpha", "y": ["pre-alpha-post", "beta"],
                                      "z": {"w": "fallback"}, "n": 3}


def test_unset_variable_without_default_names_it(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('backends:\n  opencode-go:\n    api_key: "${OPENCODE_GO_API_KEY}"\n')
    with pytest.raises(ConfigError, match=r"OPENCODE_GO_API_KEY is not set.*backends\.opencode-go"):
        load_settings(str(cfg), {})


def test_seed_shaped_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "backends:\n"
        "  opencode-go:\n"
        '    api_key: "${OPENCODE_GO_API_KEY}"\n'
        '    api_url: "http://127.0.0.1:9/zen/go/v1/"\n'
        "    extra:\n"
        "      model_protocol_overrides:\n"
        "        glm-5.1: anthropic\n"
        "        brand-new: openai\n"
        "  mine:\n"
        "    type: openai\n"
        "    api_url: http://127.0.0.1:9/v1\n"
        "    api_keys: [k1, k2]\n"
        "    models: [m1]\n"
        "server: {port: 9001}\n"
        "timeouts: {connect: 2, read: 30}\n"
    )
    s = load_settings(str(cfg), {"OPENCODE_GO_API_KEY": "sk-go-abcdefghijkl"})
    go = s.backend("opencode-go")
    assert go is not None
    assert go.api_url == "http://127.0.0.1:9/zen/go/v1"
    assert [k.key for k in go.keys] == ["sk-go-abcdefghijkl"]
    assert go.model_protocol_overrides == {"glm-5.1": "anthropic", "brand-new": "openai_chat"}
    assert s.port == 9001 and s.connect_timeout == 2 and s.read_timeout == 30
    mine = build_provider(s.backend("mine"))  # type: ignore[arg-type]
    assert [i.name for i in mine.instances] == ["mine.1", "mine.2"]
    provider = build_provider(go)
    assert provider.lookup("glm-5.1", explicit=False).dialect == "anthropic"  # type: ignore[union-attr]
    assert provider.lookup("brand-new", explicit=False).dialect == "openai_chat"  # type: ignore[union-attr]
    assert provider.lookup("minimax-m2.7", explicit=False).dialect == "anthropic"  # type: ignore[union-attr]
    # OpenCode backends do not accept ids they do not know, even when named explicitly.
    assert provider.lookup("nonsense", explicit=True) is None
    assert mine.lookup("anything", explicit=True) is not None


def test_bad_values_are_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("backends:\n  x:\n    type: nope\n    api_url: http://a\n")
    with pytest.raises(ConfigError, match=r"backends\.x\.type"):
        load_settings(str(cfg), {})
    cfg.write_text("backends:\n  opencode-go:\n    extra: {model_protocol_overrides: {m: grpc}}\n")
    with pytest.raises(ConfigError, match=r"expected anthropic, openai"):
        load_settings(str(cfg), {})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(str(tmp_path / "missing.yaml"), {})


def test_env_discovery_numbered_instances() -> None:
    env = {"OPENCODE_GO_API_KEY": "plain-key-xxxxxxxx", "OPENCODE_GO_API_KEY_2": "two-xxxxxxxxxx",
           "OPENCODE_GO_API_KEY_1": "one-xxxxxxxxxx", "OPENCODE_API_KEY": "zen-xxxxxxxxxx",
           "OPENCODE_ZEN_BASE_URL": "http://127.0.0.1:1/zen/v1"}
    s = load_settings(None, env)
    go = build_provider(s.backend("opencode-go"))  # type: ignore[arg-type]
    zen = build_provider(s.backend("opencode-zen"))  # type: ignore[arg-type]
    # Numbered keys win; the plain key is then not an extra instance.
    assert [(i.name, i.key.key) for i in go.instances] == [
        ("opencode-go.1", "one-xxxxxxxxxx"), ("opencode-go.2", "two-xxxxxxxxxx")]
    assert [i.name for i in zen.instances] == ["opencode-zen"]
    assert zen.base_url == "http://127.0.0.1:1/zen/v1"
    assert go.base_url == "https://opencode.ai/zen/go/v1"


def test_opencode_backends_exist_without_keys() -> None:
    s = load_settings(None, {})
    assert {b.name for b in s.backends} == {"opencode-go", "opencode-zen"}
    assert all(not b.keys for b in s.backends)
    assert "OPENCODE_GO_API_KEY" in s.backend("opencode-go").key_hint  # type: ignore[union-attr]


def test_precedence_flags_env_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server: {host: 0.0.0.0, port: 7000}\nauth: {api_keys: [file-key]}\n"
                   "backends:\n  opencode-go: {api_key: file-go-key}\n")
    s = load_settings(str(cfg), {})
    assert (s.host, s.port, s.api_keys) == ("0.0.0.0", 7000, ("file-key",))
    assert s.backend("opencode-go").keys[0].key == "file-go-key"  # type: ignore[union-attr]
    env = {"CROSSWAY_PORT": "7100", "CROSSWAY_API_KEY": "env-key",
           "OPENCODE_GO_API_KEY": "env-go-key"}
    s = load_settings(str(cfg), env)
    assert (s.port, s.api_keys) == (7100, ("env-key",))
    assert s.backend("opencode-go").keys[0].key == "env-go-key"  # type: ignore[union-attr]
    s = load_settings(str(cfg), env, host="127.0.0.2", port=7200)
    assert (s.host, s.port) == ("127.0.0.2", 7200)


@pytest.mark.parametrize(("text", "expected"), [
    ("opencode-go/glm-5.1", Selector("glm-5.1", "opencode-go")),
    ("opencode-go:glm-5.1", Selector("glm-5.1", "opencode-go")),
    ("opencode-go.2:glm-5.1", Selector("glm-5.1", "opencode-go", 2)),
    ("glm-5.1", Selector("glm-5.1")),
    ("google/gemini-2.5-flash", Selector("google/gemini-2.5-flash")),
    ("local:llama3:8b", Selector("llama3:8b", "local")),
    ("local/org/model", Selector("org/model", "local")),
    ("unknown:thing", Selector("unknown:thing")),
])
def test_selectors(text: str, expected: Selector) -> None:
    assert parse_selector(text, {"opencode-go", "local"}) == expected


def test_router_bare_ids_and_stickiness() -> None:
    env = {"OPENCODE_GO_API_KEY_1": "a" * 16, "OPENCODE_GO_API_KEY_2": "b" * 16,
           "OPENCODE_GO_API_KEY_3": "c" * 16}
    router = Router([build_provider(b) for b in load_settings(None, env).backends])
    # glm-5.1 is on both tiers but only Go has a key: the bare id resolves there.
    plan = router.plan("glm-5.1", "ses_one")
    assert plan.targets[0].label.split(":")[0].startswith("opencode-go.")
    # One conversation always lands on one key; many conversations spread over all keys.
    first = router.plan("opencode-go/glm-5.1", "ses_abc").targets[0].instance.name
    assert all(router.plan("opencode-go/glm-5.1", "ses_abc").targets[0].instance.name == first
               for _ in range(5))
    used = {router.plan("opencode-go/glm-5.1", f"ses_{i}").targets[0].instance.name
            for i in range(60)}
    assert used == {"opencode-go.1", "opencode-go.2", "opencode-go.3"}
    assert router.plan("opencode-go.3:glm-5.1", "s").targets[0].instance.name == "opencode-go.3"


def test_crossway_models_command() -> None:
    env = {"PATH": "/usr/bin:/bin", "OPENCODE_GO_API_KEY_1": "x" * 20}
    out = subprocess.run([sys.executable, "-m", "crossway", "models"], env=env,
                         capture_output=True, text=True, check=True).stdout
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert lines["opencode-go/glm-5.1"] == ["opencode-go.1", "openai_chat", "built-in"]
    assert lines["opencode-go/minimax-m2.7"] == ["opencode-go.1", "anthropic", "built-in"]
    assert lines["opencode-zen/claude-sonnet-4-6"] == ["(no", "key)", "anthropic", "built-in"]
    assert "go-auto" in lines  # routing names are listed with what they route to


def test_config_error_exits_with_message(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('backends:\n  opencode-go:\n    api_key: "${NOT_SET_ANYWHERE}"\n')
    r = subprocess.run([sys.executable, "-m", "crossway", "serve", "--config", str(cfg)],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=20)
    assert r.returncode == 2
    assert "NOT_SET_ANYWHERE is not set" in r.stderr


def test_serve_with_several_workers() -> None:
    with Gateway({"OPENCODE_GO_API_KEY": "sk-test-go-0123456789"}, args=("--workers", "2")) as gw:
        for _ in range(10):
            assert request(gw, "GET", "/healthz")[0] == 200
        time.sleep(0.5)
        assert gw.logs().count("listening on") == 2
