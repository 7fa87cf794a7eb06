"""`crossway doctor`: what is wrong with this setup and how to fix it.

Checks, in order: the configuration parses; which backends and keys are configured (masked);
each key against its upstream (doctor_keys); the port (free, or crossway already running
and accepting this configuration's key); each installed client's config (doctor_clients);
the clock, from upstreams' Date headers; services the configuration names (Redis, a
database). Exit status 1 when anything is broken, 0 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from crossway.config.loader import load_settings
from crossway.config.settings import Settings
from crossway.errors import ConfigError
from crossway.integrations import discovery
from crossway.integrations.commands import router_for
from crossway.integrations.doctor_clients import Target, check_clients
from crossway.integrations.doctor_keys import KeyResult, check_key

# Clock skew worth a warning, and the one that breaks signed requests (AWS SigV4 allows 5 min).
SKEW_WARN = 30.0
SKEW_BROKEN = 300.0
# The environment variables naming the external services crossway uses (shared routing state,
# the usage store), with the port their URLs default to.
SERVICE_SETTINGS = {"CROSSWAY_REDIS_URL": 6379, "CROSSWAY_DATABASE_URL": 5432}
_KEY_LEVEL = {"ok": "ok", "slow": "warn", "not_checkable": "info", "rejected": "broken",
              "unreachable": "broken"}


@dataclass(frozen=True, slots=True)
class Finding:
    area: str  # config | backend | key | server | client | clock | service
    name: str
    status: str  # ok | info | warn | broken; key findings use their own words (see doctor_keys)
    detail: str
    fix: str = ""
    level: str = "ok"  # ok | info | warn | broken, for every finding


def run_doctor(config_path: str | None, env: Mapping[str, str], cwd: Path, *,
               as_json: bool = False, timeout: float = 10.0) -> int:
    findings = asyncio.run(diagnose(config_path, env, cwd, timeout))
    broken = any(f.level == "broken" for f in findings)
    if as_json:
        print(json.dumps({"ok": not broken, "findings": [asdict(f) for f in findings]},
                         indent=2))
    else:
        print(render(findings, broken))
    return 1 if broken else 0


def render(findings: list[Finding], broken: bool) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.status.upper():<14}{f.area:<8}{f.name}: {f.detail}")
        if f.fix:
            lines.append(f"{'':<22}fix: {f.fix}")
    lines.append("something is broken (see above)" if broken else "no problems found")
    return "\n".join(lines)


async def diagnose(config_path: str | None, env: Mapping[str, str], cwd: Path,
                   timeout: float) -> list[Finding]:
    try:
        settings = load_settings(config_path, env)
    except ConfigError as exc:
        return [_f("config", "settings", "broken", str(exc),
                   "fix the configuration file or variable it names")]
    findings = [_f("config", "settings", "ok", f"parsed (from {settings.source})")]
    findings += backend_findings(settings)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        keys = await asyncio.gather(*(check_key(session, b, k, timeout)
                                      for b in settings.backends for k in b.keys))
        findings += [_key_finding(r, settings) for r in keys]
        findings += await server_findings(session, settings, timeout)
    findings += clock_findings(keys)
    findings += client_findings(settings, env, cwd)
    findings += await service_findings(env, timeout)
    return findings


def _f(area: str, name: str, status: str, detail: str, fix: str = "") -> Finding:
    return Finding(area, name, status, detail, fix, status)


def backend_findings(settings: Settings) -> list[Finding]:
    out = []
    for b in settings.backends:
        if b.keys:
            out.append(_f("backend", b.name, "ok",
                          f"[{b.type}] {b.api_url}, {len(b.keys)} key(s)"))
        else:
            out.append(_f("backend", b.name, "info",
                          f"[{b.type}] {b.api_url}, no key: requests to it answer 503",
                          f"set {b.key_hint} to use it"))
    if not any(b.keys for b in settings.backends):
        out.append(_f("backend", "all", "broken", "no backend has an API key, so crossway can "
                      "serve nothing", "export OPENCODE_GO_API_KEY (OpenCode Go) or "
                      "OPENCODE_API_KEY (OpenCode Zen), or configure a backend"))
    return out


def _key_finding(r: KeyResult, settings: Settings) -> Finding:
    backend = settings.backend(r.backend)
    fix = ""
    if r.status == "rejected" and backend is not None:
        fix = f"replace the key in {r.source}"
    elif r.status == "unreachable" and backend is not None:
        fix = f"check the network and the backend URL {backend.api_url}"
    detail = f"key {r.masked} from {r.source}: {r.detail}"
    return Finding("key", r.instance, r.status, detail, fix, _KEY_LEVEL[r.status])


async def server_findings(session: aiohttp.ClientSession, settings: Settings,
                          timeout: float) -> list[Finding]:
    origin = discovery.origin(settings)
    name = f"{settings.host}:{settings.port}"
    if not _port_open(settings):
        return [_f("server", name, "ok",
                   "port free; crossway is not running (start it with `crossway serve`)")]
    key = discovery.client_key(settings)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        limit = aiohttp.ClientTimeout(total=timeout)
        async with session.get(origin + "/healthz", timeout=limit) as resp:
            health = await resp.json(content_type=None) if resp.status == 200 else None
        async with session.get(origin + "/v1/models", headers=headers, timeout=limit) as resp:
            models_status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return [_f("server", name, "broken", f"port taken by a program that is not crossway "
                   f"({type(exc).__name__})", "stop it or choose another port (--port)")]
    if not (isinstance(health, dict) and health.get("status") == "ok" and "version" in health):
        return [_f("server", name, "broken", "port taken by a program that is not crossway",
                   "stop it or choose another port (--port)")]
    if models_status == 401:
        what = "this configuration's client key" if key else \
            "requests without a client key, and this configuration has none"
        return [_f("server", name, "broken", f"crossway {health['version']} is running but "
                   f"refuses {what}", "restart it with this configuration, or set "
                   "CROSSWAY_API_KEY to the key it runs with")]
    return [_f("server", name, "ok", f"crossway {health['version']} is running here")]


def _port_open(settings: Settings) -> bool:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    try:
        with socket.create_connection((host, settings.port), timeout=2):
            return True
    except OSError:
        return False


def clock_findings(keys: list[KeyResult]) -> list[Finding]:
    skews = [(abs(r.skew), r.skew, r.instance) for r in keys if r.skew is not None]
    if not skews:
        return [_f("clock", "skew", "info", "not measured (no upstream answered with a Date "
                   "header)")]
    _, skew, where = max(skews)
    detail = f"{skew:+.0f} s against {where}'s clock"
    if abs(skew) >= SKEW_BROKEN:
        return [_f("clock", "skew", "broken", detail, "set the system clock (enable NTP)")]
    if abs(skew) >= SKEW_WARN:
        return [_f("clock", "skew", "warn", detail, "set the system clock (enable NTP)")]
    return [_f("clock", "skew", "ok", detail)]


def client_findings(settings: Settings, env: Mapping[str, str], cwd: Path) -> list[Finding]:
    served = frozenset(a.id for a in discovery.advertised(router_for(settings)))
    target = Target(discovery.origin(settings), discovery.client_key(settings), served)
    return [_f("client", f"{c.client} ({c.path})", c.status, c.detail, c.fix)
            for c in check_clients(target, env, cwd)]


async def service_findings(env: Mapping[str, str], timeout: float) -> list[Finding]:
    """Only services the configuration names; nothing is reported for the others."""
    out = []
    for var, default_port in SERVICE_SETTINGS.items():
        url = (env.get(var) or "").strip()
        if url:
            out.append(await _reachable(var, url, default_port, timeout))
    return out


async def _reachable(name: str, url: str, default_port: int, timeout: float) -> Finding:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        folder = Path(parts.path).parent
        ok = folder.is_dir()
        return _f("service", name, "ok" if ok else "broken",
                  f"{parts.scheme} file in {folder}" + ("" if ok else ": folder missing"))
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    where = f"{parts.scheme}://{host}:{port}"  # never the password in the URL
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return _f("service", name, "broken", f"{where} unreachable ({exc})",
                  "start it or fix the URL")
    return _f("service", name, "ok", f"{where} reachable")
