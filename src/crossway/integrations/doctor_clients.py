"""Do the installed clients' configs point at this crossway, with one `/v1` and its key?"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossway.integrations import claude_code, codex, jsonc, opencode
from crossway.integrations.discovery import v1
from crossway.integrations.files import masked


@dataclass(frozen=True, slots=True)
class ClientFinding:
    client: str
    path: str
    status: str  # ok | warn | broken | info
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """This crossway as clients should see it."""

    origin: str  # no /v1
    key: str | None
    served: frozenset[str]  # advertised model ids


def check_clients(target: Target, env: Mapping[str, str], cwd: Path) -> list[ClientFinding]:
    found = [
        *_opencode(target, env, cwd),
        *_claude(target, env, cwd),
        *_codex(target, env),
    ]
    return found


def _load_json(path: Path) -> tuple[Any, str | None]:
    try:
        root = jsonc.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read it: {exc}"
    except jsonc.JsoncError as exc:
        return None, f"not valid JSON: {exc}"
    return (root.value if root is not None else {}), None


def _opencode(t: Target, env: Mapping[str, str], cwd: Path) -> list[ClientFinding]:
    path = opencode.find_file(env, cwd)
    fix = "run `crossway config opencode`"
    if not path.is_file():
        if shutil.which("opencode", path=env.get("PATH")):
            return [ClientFinding("opencode", str(path), "info",
                                  "OpenCode is installed but has no config for crossway", fix)]
        return []
    doc, err = _load_json(path)
    if err is not None:
        return [ClientFinding("opencode", str(path), "broken", err, "fix the file, then " + fix)]
    providers = doc.get("provider") if isinstance(doc, dict) else None
    entries = {pid: p for pid, p in (providers or {}).items()
               if isinstance(p, dict) and (pid == "crossway" or _points_here(p, t))}
    if not entries:
        return [ClientFinding("opencode", str(path), "info",
                              "no provider entry points at crossway", fix)]
    out = []
    for pid, p in entries.items():
        options = _dict(p.get("options"))
        url = str(options.get("baseURL", ""))
        problems = _url_problems(url, v1(t.origin))
        problems += _key_problems(str(options.get("apiKey", "")), t.key, env, opencode_env=True)
        models = _dict(p.get("models"))
        stale = sorted(m for m in models if m not in t.served)
        status = "broken" if problems else ("warn" if stale else "ok")
        detail = "; ".join(problems) or f"provider {pid} -> {url}"
        if stale and not problems:
            detail += f"; {len(stale)} model(s) crossway does not serve: {', '.join(stale[:5])}"
        out.append(ClientFinding("opencode", str(path), status, detail,
                                 fix if status != "ok" else ""))
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _points_here(p: dict[str, Any], t: Target) -> bool:
    options = p.get("options")
    url = options.get("baseURL") if isinstance(options, dict) else None
    return isinstance(url, str) and url.startswith(t.origin)


def _url_problems(url: str, want: str) -> list[str]:
    if "/v1/v1" in url:
        return [f"base URL {url} repeats /v1 (requests would go to /v1/v1/...)"]
    if url.rstrip("/") != want:
        return [f"points at {url or '(no URL)'}, but this crossway is at {want}"]
    return []


def _key_problems(value: str, key: str | None, env: Mapping[str, str], *,
                  opencode_env: bool = False) -> list[str]:
    """Does the key the client will send match what crossway requires?"""
    if key is None:
        return []  # crossway takes any key, or none
    var = None
    if opencode_env and value.startswith("{env:") and value.endswith("}"):
        var = value[5:-1]
    if var is not None:
        if var not in env:
            return [f"its key comes from ${var}, which is not set here"]
        value = env[var]
    if value != key:
        shown = masked(value) if value else "(none)"
        return [f"its key {shown} is not the key this crossway requires ({masked(key)})"]
    return []


def _claude(t: Target, env: Mapping[str, str], cwd: Path) -> list[ClientFinding]:
    paths = [claude_code.find_file(env, cwd, project=False),
             claude_code.find_file(env, cwd, project=True)]
    out = []
    for path in (p for p in paths if p.is_file()):
        doc, err = _load_json(path)
        block = doc.get("env") if isinstance(doc, dict) else None
        if err is not None:
            out.append(ClientFinding("claude-code", str(path), "broken", err))
            continue
        if not isinstance(block, dict) or "ANTHROPIC_BASE_URL" not in block:
            continue
        url = str(block["ANTHROPIC_BASE_URL"]).rstrip("/")
        problems = []
        if url.endswith("/v1"):
            problems.append(f"ANTHROPIC_BASE_URL {url} ends in /v1; Claude Code adds /v1 "
                            "itself")
        elif url != t.origin:
            problems.append(f"points at {url}, but this crossway is at {t.origin}")
        token = str(block.get("ANTHROPIC_AUTH_TOKEN") or block.get("ANTHROPIC_API_KEY") or "")
        problems += _key_problems(token, t.key, env)
        named = [str(block[k]) for k in block if k.startswith("ANTHROPIC_") and
                 k.endswith("_MODEL") and isinstance(block[k], str)]
        stale = sorted({m for m in named if m not in t.served})
        status = "broken" if problems or stale else "ok"
        detail = "; ".join(problems) or f"env points at {url}"
        if stale:
            detail += f"; names model(s) crossway does not serve: {', '.join(stale)}"
        out.append(ClientFinding("claude-code", str(path), status, detail,
                                 "run `crossway config claude-code`" if status != "ok" else ""))
    if not out and shutil.which("claude", path=env.get("PATH")):
        out.append(ClientFinding("claude-code", str(paths[0]), "info",
                                 "Claude Code is installed but not configured for crossway",
                                 "run `crossway config claude-code`"))
    return out


def _codex(t: Target, env: Mapping[str, str]) -> list[ClientFinding]:
    path = codex.find_file(env)
    if not path.is_file():
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [ClientFinding("codex", str(path), "broken", f"cannot read it: {exc}")]
    providers = doc.get("model_providers") or {}
    out = []
    for pid, p in providers.items():
        url = str(p.get("base_url", "")) if isinstance(p, dict) else ""
        if pid != "crossway" and not url.startswith(t.origin):
            continue
        problems = _url_problems(url, v1(t.origin))
        env_key = p.get("env_key")
        if t.key is not None:
            if not env_key:
                problems.append("no env_key: Codex would send no key")
            else:
                problems += _key_problems("{env:" + str(env_key) + "}", t.key, env,
                                          opencode_env=True)
        status = "broken" if problems else "ok"
        out.append(ClientFinding("codex", str(path), status,
                                 "; ".join(problems) or f"provider {pid} -> {url}",
                                 "run `crossway config codex`" if problems else ""))
    return out
