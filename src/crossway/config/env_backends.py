"""Backends configured by environment variables alone (seed 003's conventions).

crossway.providers.presets.discover reads the variables; this turns what it found into
BackendSettings, with the rules that need the rest of the configuration: a backend the YAML
file declares wins over the environment's, the OpenCode tiers keep their own handling
(loader._apply_opencode_env), and a base URL pointing at crossway itself is ignored (Claude
Code users export ANTHROPIC_BASE_URL=http://127.0.0.1:8000 to reach crossway; taking that as
an upstream would send every request in a loop).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from crossway.config.settings import BackendSettings, KeySpec
from crossway.providers.presets import DiscoveredBackend, discover

# Handled by the loader's OpenCode rules (keyless tiers always exist, numbered keys).
_OWN_RULES = frozenset(("opencode-go", "opencode-zen"))
NO_KEY_SOURCE = "no key needed"


@dataclass(frozen=True, slots=True)
class EnvBackends:
    backends: tuple[BackendSettings, ...]
    notices: tuple[str, ...]


def env_backends(env: Mapping[str, str], declared: Collection[str],
                 listen: tuple[str, int]) -> EnvBackends:
    found = discover(env)
    notices = list(found.problems)
    out: list[BackendSettings] = []
    for d in found.backends:
        if d.type in _OWN_RULES:
            continue
        if d.name in declared:
            notices.append(f"backend {d.name} is declared in the config file; the environment's "
                           f"{', '.join(d.sources)} are not used for it")
            continue
        if is_own_address(d.base_url, listen):
            var = next((s for s in d.sources if s.endswith("BASE_URL")), "its base URL")
            if d.preset.base_url is None:
                notices.append(f"{var}={d.base_url} points at crossway itself; backend "
                               f"{d.name} is not registered (it would send requests in a loop)")
                continue
            notices.append(f"{var}={d.base_url} points at crossway itself (a client's "
                           f"setting); backend {d.name} uses {d.preset.base_url}")
            d = dataclasses.replace(d, base_url=d.preset.base_url)
        out.append(to_settings(d))
    return EnvBackends(tuple(out), tuple(notices))


def to_settings(d: DiscoveredBackend) -> BackendSettings:
    p = d.preset
    keys = tuple(KeySpec(k.key, k.source, k.number) for k in d.keys)
    if not keys and p.key in ("optional", "none"):
        # One keyless instance: Ollama, a vLLM without --api-key, Vertex and Bedrock (their
        # credentials come from Google's or AWS's own chain).
        keys = (KeySpec("", NO_KEY_SOURCE),)
    key_var = f"{d.name.upper().replace('-', '_')}_API_KEY"
    return BackendSettings(
        name=d.name,
        type=d.type,
        api_url=d.base_url.rstrip("/"),
        keys=keys,
        key_hint=f"{key_var} (or {key_var}_1, _2, ... for several keys)",
        models=d.models,
        preset=p.name,
        models_mode=d.models_mode,
        options=dict(d.options),
    )


_LOCAL = frozenset(("localhost", "0.0.0.0", "::", "::1"))


def is_own_address(url: str, listen: tuple[str, int]) -> bool:
    """Whether `url` reaches the address crossway listens on."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    listen_host, listen_port = listen
    if port != listen_port:
        return False
    return host == listen_host.lower() or (_is_local(host) and (
        _is_local(listen_host) or listen_host in ("0.0.0.0", "::")))


def _is_local(host: str) -> bool:
    if host in _LOCAL:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
