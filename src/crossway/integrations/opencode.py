"""`crossway config opencode`: crossway as an OpenCode provider, merged into opencode.json[c].

OpenCode reads `provider.<id>` records (`npm`, `name`, `options.baseURL`, `options.apiKey`,
`models.<id>` records with `limit`, `tool_call`, `reasoning`, `attachment`, `modalities`).
Its project config is the nearest `opencode.json[c]` from the working directory up to the
repository root; its global config lives in `$XDG_CONFIG_HOME/opencode` (else
`~/.config/opencode`, on macOS and Windows too). Only crossway's own provider entry (and
`model` / `small_model` when asked) is replaced; every other byte of the file stays.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossway.integrations import jsonc
from crossway.integrations.discovery import (
    CLIENT_KEY_ENV,
    NO_KEY_PLACEHOLDER,
    Advertised,
    v1,
)
from crossway.integrations.files import Edit, IntegrationError

NPM = "@ai-sdk/openai-compatible"
SCHEMA = "https://opencode.ai/config.json"
NAMES = ("opencode.jsonc", "opencode.json")


@dataclass(frozen=True)
class OpenCodeOptions:
    provider_id: str = "crossway"
    default_model: Advertised | None = None
    small_model: Advertised | None = None
    key_env: str = CLIENT_KEY_ENV
    literal_key: bool = False  # write the key itself instead of {env:VAR}


def home_dir(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) if home else Path.home()


def find_file(env: Mapping[str, str], cwd: Path) -> Path:
    """The file OpenCode would read: project first, else the global one (created if absent)."""
    here = cwd.resolve()
    while True:
        for name in NAMES:
            if (here / name).is_file():
                return here / name
        if (here / ".git").exists() or here.parent == here:
            break
        here = here.parent
    config_home = env.get("XDG_CONFIG_HOME")
    folder = (Path(config_home) if config_home else home_dir(env) / ".config") / "opencode"
    for name in NAMES:
        if (folder / name).is_file():
            return folder / name
    return folder / "opencode.json"


def model_entry(m: Advertised) -> dict[str, Any]:
    f = m.facts
    entry: dict[str, Any] = {"name": m.id, "tool_call": f.tool_call, "reasoning": f.reasoning,
                             "attachment": f.image_input}
    if f.context and f.output:
        # Without limits OpenCode assumes 128K of context and compacts at the wrong time.
        entry["limit"] = {"context": f.context, "output": f.output}
    entry["modalities"] = {"input": list(f.input_modalities), "output": ["text"]}
    return entry


def provider_entry(models: Sequence[Advertised], origin: str, key: str | None,
                   opts: OpenCodeOptions) -> dict[str, Any]:
    if key is None:
        api_key = NO_KEY_PLACEHOLDER
    elif opts.literal_key:
        api_key = key
    else:
        api_key = "{env:" + opts.key_env + "}"
    return {
        "npm": NPM,
        "name": "crossway",
        "options": {"baseURL": v1(origin), "apiKey": api_key},
        "models": {m.id: model_entry(m) for m in models},
    }


def plan(path: Path, old: str | None, models: Sequence[Advertised], origin: str,
         key: str | None, opts: OpenCodeOptions) -> Edit:
    """The merged file text; raises IntegrationError (nothing written) on a file it cannot
    merge into safely."""
    entry = provider_entry(models, origin, key, opts)
    top: dict[str, str] = {}
    if opts.default_model is not None:
        top["model"] = f"{opts.provider_id}/{opts.default_model.id}"
    if opts.small_model is not None:
        top["small_model"] = f"{opts.provider_id}/{opts.small_model.id}"
    root = parse_object(path, old)
    notes = _notes(root, opts.provider_id, path)
    if root is None:
        doc: dict[str, Any] = {"$schema": SCHEMA, "provider": {opts.provider_id: entry}, **top}
        prefix = old.rstrip() + "\n" if old and old.strip() else ""
        new = prefix + jsonc.render(doc, "", "  ") + "\n"
        before: dict[str, Any] = {}
    else:
        new = _splice(old or "", root, entry, top, opts.provider_id)
        before = root.value
    _check(path, before, new, entry, top, opts.provider_id, fresh=root is None)
    secrets = (key,) if key and opts.literal_key else ()
    return Edit(path, old, new, tuple(notes), secrets)


def parse_object(path: Path, old: str | None, kind: str = "JSON/JSONC") -> jsonc.Node | None:
    """A client's config file (None when it does not exist yet), which must hold an object;
    a clear IntegrationError otherwise, before anything is written."""
    if old is None:
        return None
    try:
        root = jsonc.parse(old)
    except jsonc.JsoncError as exc:
        raise IntegrationError(f"{path} is not valid {kind}: {exc}; nothing was written. "
                               "Fix the file (or move it away) and run the command again.") \
            from None
    if root is not None and not isinstance(root.value, dict):
        raise IntegrationError(f"{path} must hold a JSON object at the top level; nothing was "
                               "written")
    return root


def _splice(text: str, root: jsonc.Node, entry: dict[str, Any], top: dict[str, str],
            provider_id: str) -> str:
    unit = jsonc.indent_unit(text, root)
    provider = root.member("provider")
    if provider is None:
        text = jsonc.set_member(text, root, "provider", {provider_id: entry}, unit)
    elif not isinstance(provider.value.value, dict):
        kind = type(provider.value.value).__name__
        raise IntegrationError(
            f"'provider' must be an object of provider id -> provider (OpenCode's schema), "
            f"found a {kind}; nothing was written")
    else:
        text = jsonc.set_member(text, provider.value, provider_id, entry, unit)
    for key, value in top.items():
        root = jsonc.parse(text) or root
        text = jsonc.set_member(text, root, key, value, unit)
    return text


def _notes(root: jsonc.Node | None, provider_id: str, path: Path) -> list[str]:
    if root is None:
        return []
    notes = []
    if root.member("providers") is not None:
        notes.append(f"note: {path} also has a 'providers' key; OpenCode reads only 'provider'")
    provider = root.member("provider")
    old = provider.value.member(provider_id) if provider and provider.value.members else None
    if old is not None and isinstance(old.value.value, dict):
        url = (old.value.value.get("options") or {}).get("baseURL")
        if isinstance(url, str) and "/v1/v1" in url:
            notes.append(f"fixed baseURL {url} (it repeated /v1)")
    return notes


def _check(path: Path, before: dict[str, Any], new: str, entry: dict[str, Any],
           top: dict[str, str], provider_id: str, *, fresh: bool) -> None:
    """The merged text must parse, have OpenCode's shape, and differ from the old content only
    in what crossway owns; otherwise refuse (a bug here must not cost a user their config)."""
    try:
        parsed = jsonc.parse(new)
    except jsonc.JsoncError as exc:
        raise IntegrationError(f"internal error: merging into {path} gave invalid JSONC "
                               f"({exc}); nothing was written") from None
    after = parsed.value if parsed is not None else None
    expected = copy.deepcopy(before)
    providers = expected.setdefault("provider", {})
    providers[provider_id] = entry
    expected.update(top)
    if fresh:
        expected["$schema"] = SCHEMA
    if after != expected:
        raise IntegrationError(f"internal error: merging into {path} would change settings "
                               "other than crossway's own; nothing was written")
    problems = validate(after)
    if problems:
        raise IntegrationError(f"the merged {path} would not match OpenCode's config schema: "
                               + "; ".join(problems) + "; nothing was written")


def validate(doc: Any) -> list[str]:
    """The parts of OpenCode's config schema crossway writes: `provider` a record of objects,
    each `models` a record of objects, `options.baseURL` a URL, limits numbers."""
    if not isinstance(doc, dict):
        return ["the top level is not an object"]
    problems: list[str] = []
    providers = doc.get("provider", {})
    if not isinstance(providers, dict):
        return ["'provider' is not an object"]
    for pid, p in providers.items():
        if not isinstance(p, dict):
            problems.append(f"provider.{pid} is not an object")
            continue
        models = p.get("models", {})
        if not isinstance(models, dict):
            problems.append(f"provider.{pid}.models is not an object (a list is not accepted)")
        elif not all(isinstance(v, dict) for v in models.values()):
            problems.append(f"provider.{pid}.models has a value that is not an object")
        else:
            for mid, m in models.items():
                limit = m.get("limit")
                if limit is not None and not (
                        isinstance(limit, dict)
                        and all(isinstance(limit.get(k), int) for k in ("context", "output"))):
                    problems.append(f"provider.{pid}.models.{mid}.limit needs numbers "
                                    "context and output")
        options = p.get("options", {})
        if not isinstance(options, dict):
            problems.append(f"provider.{pid}.options is not an object")
        elif "baseURL" in p:
            problems.append(f"provider.{pid}.baseURL belongs inside options")
    for key in ("model", "small_model"):
        if key in doc and not (isinstance(doc[key], str) and "/" in doc[key]):
            problems.append(f"'{key}' must be 'provider/model'")
    return problems
