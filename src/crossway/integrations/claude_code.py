"""`crossway config claude-code`: the `env` block of Claude Code's settings.json.

Claude Code reads `env` from `~/.claude/settings.json` (or `$CLAUDE_CONFIG_DIR`), and for a
project from `.claude/settings.local.json` (the per-user, git-ignored file: the block holds a
key). It needs some token besides the base URL (without one it answers "Not logged in"), and
resolves its model aliases through ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL; its background
calls use the Haiku alias, so all of them must name models crossway serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crossway.integrations import jsonc
from crossway.integrations.discovery import NO_KEY_PLACEHOLDER, Advertised
from crossway.integrations.files import Edit, IntegrationError
from crossway.integrations.opencode import home_dir, parse_object

# Long enough for a slow reasoning model; crossway keeps the stream alive with pings meanwhile.
REQUEST_TIMEOUT_MS = "1800000"


@dataclass(frozen=True)
class ClaudeModels:
    main: Advertised
    opus: Advertised
    sonnet: Advertised
    haiku: Advertised


def find_file(env: Mapping[str, str], cwd: Path, project: bool) -> Path:
    if project:
        return cwd / ".claude" / "settings.local.json"
    config_dir = env.get("CLAUDE_CONFIG_DIR")
    base = Path(config_dir) if config_dir else home_dir(env) / ".claude"
    return base / "settings.json"


def env_block(origin: str, key: str | None, models: ClaudeModels) -> dict[str, str]:
    return {
        # Claude Code appends /v1/messages itself: the base URL has no /v1.
        "ANTHROPIC_BASE_URL": origin,
        "ANTHROPIC_AUTH_TOKEN": key or NO_KEY_PLACEHOLDER,
        "ANTHROPIC_MODEL": models.main.id,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": models.opus.id,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": models.sonnet.id,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": models.haiku.id,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "API_TIMEOUT_MS": REQUEST_TIMEOUT_MS,
    }


def plan(path: Path, old: str | None, origin: str, key: str | None,
         models: ClaudeModels) -> Edit:
    block = env_block(origin, key, models)
    root = parse_object(path, old, "JSON")
    notes = []
    if root is None:
        prefix = old.rstrip() + "\n" if old and old.strip() else ""
        new = prefix + jsonc.render({"env": block}, "", "  ") + "\n"
        before: dict[str, object] = {}
    else:
        before = root.value
        text = old or ""
        unit = jsonc.indent_unit(text, root)
        env = root.member("env")
        if env is None:
            new = jsonc.set_member(text, root, "env", block, unit)
        elif not isinstance(env.value.value, dict):
            raise IntegrationError(f"{path}: 'env' must be an object; nothing was written")
        else:
            if "ANTHROPIC_API_KEY" in env.value.value:
                notes.append("note: env.ANTHROPIC_API_KEY is also set; Claude Code sends it to "
                             "crossway too. Remove it if it is a real Anthropic key.")
            new = text
            for name, value in block.items():
                node = (jsonc.parse(new) or root).member("env")
                assert node is not None
                new = jsonc.set_member(new, node.value, name, value, unit)
    expected = dict(before)
    old_env = expected.get("env")
    expected["env"] = {**(old_env if isinstance(old_env, dict) else {}), **block}
    parsed = jsonc.parse(new)
    if parsed is None or parsed.value != expected:
        raise IntegrationError(f"internal error: merging into {path} would change settings "
                               "other than crossway's own; nothing was written")
    return Edit(path, old, new, tuple(notes), (key,) if key else ())
