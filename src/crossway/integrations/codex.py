"""`crossway config codex`: a `model_providers.<id>` table in Codex's config.toml.

Codex reads `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`). It accepts only
`wire_api = "responses"` and appends `/responses` to `base_url`, so the URL ends in `/v1`. The
key is never written: `env_key` names the variable Codex reads it from. tomlkit edits the
document in place, so comments, key order and other tables stay as the user wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.items import Table

from crossway.integrations.discovery import CLIENT_KEY_ENV, Advertised, v1
from crossway.integrations.files import Edit, IntegrationError
from crossway.integrations.opencode import home_dir


@dataclass(frozen=True)
class CodexOptions:
    model: Advertised
    provider_id: str = "crossway"
    profile: str | None = None  # write `profiles.<name>` instead of the top-level model
    key_env: str = CLIENT_KEY_ENV


def find_file(env: Mapping[str, str]) -> Path:
    codex_home = env.get("CODEX_HOME")
    return (Path(codex_home) if codex_home else home_dir(env) / ".codex") / "config.toml"


def provider_table(origin: str, key_required: bool, opts: CodexOptions) -> Table:
    t = tomlkit.table()
    t["name"] = "crossway"
    t["base_url"] = v1(origin)
    if key_required:
        t["env_key"] = opts.key_env
    t["wire_api"] = "responses"
    return t


def plan(path: Path, old: str | None, origin: str, key_required: bool,
         opts: CodexOptions) -> Edit:
    try:
        doc = tomlkit.parse(old or "")
    except ParseError as exc:
        raise IntegrationError(f"{path} is not valid TOML: {exc}; nothing was written. Fix "
                               "the file (or move it away) and run the command again.") from None
    providers = doc.get("model_providers")
    if providers is None:
        providers = tomlkit.table(is_super_table=True)
        doc["model_providers"] = providers
    elif not isinstance(providers, dict):
        raise IntegrationError(f"{path}: model_providers must be a table; nothing was written")
    table = provider_table(origin, key_required, opts)
    table.add(tomlkit.nl())
    providers[opts.provider_id] = table
    if opts.profile is None:
        doc["model"] = opts.model.id
        doc["model_provider"] = opts.provider_id
    else:
        profiles = doc.get("profiles")
        if profiles is None:
            profiles = tomlkit.table(is_super_table=True)
            doc["profiles"] = profiles
        profile = tomlkit.table()
        profile["model"] = opts.model.id
        profile["model_provider"] = opts.provider_id
        profiles[opts.profile] = profile
    new = tomlkit.dumps(doc)
    try:
        tomlkit.parse(new)
    except ParseError as exc:
        raise IntegrationError(f"internal error: merging into {path} gave invalid TOML "
                               f"({exc}); nothing was written") from None
    notes: tuple[str, ...] = (
        "note: Codex speaks only the OpenAI Responses API, which crossway serves at "
        f"{v1(origin)}/responses, translated for every model.",)
    if key_required:
        notes += (f"note: Codex reads the key from ${opts.key_env}; export it where Codex "
                  "runs.",)
    return Edit(path, old, new, notes)
