"""The work behind `crossway config <client>`: read the settings crossway would run with, pick
the models, find the client's file, merge, then write it (or print the diff)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crossway.config.settings import Settings
from crossway.integrations import claude_code, codex, discovery, opencode
from crossway.integrations.discovery import Advertised
from crossway.integrations.files import (
    Edit,
    IntegrationError,
    keep_newlines,
    read_config,
    report,
)
from crossway.providers import build_provider
from crossway.routing.plan import Router
from crossway.routing.setup import build_router


@dataclass(frozen=True)
class ConfigRequest:
    """What the user asked for on the command line (None: crossway chooses)."""

    client: str  # opencode | claude-code | codex
    file: str | None = None
    base_url: str | None = None
    provider_id: str = "crossway"
    models: str | None = None
    default_model: str | None = None
    small_model: str | None = None
    opus_model: str | None = None
    sonnet_model: str | None = None
    haiku_model: str | None = None
    project: bool = False
    profile: str | None = None
    key_env: str = discovery.CLIENT_KEY_ENV
    literal_key: bool = False
    dry_run: bool = False


def router_for(settings: Settings) -> Router:
    """The router as the gateway builds it, so configs and GET /v1/models agree on names."""
    return build_router(settings, [build_provider(b) for b in settings.backends])


def run(req: ConfigRequest, settings: Settings, env: Mapping[str, str], cwd: Path) -> str:
    """Apply the request; returns what to print. Raises IntegrationError for the user."""
    models = discovery.advertised(router_for(settings))
    if not models:
        raise IntegrationError("crossway serves no model with this configuration; "
                               "`crossway doctor` says why")
    try:
        origin = discovery.origin(settings, req.base_url)
        edit = _plan(req, settings, models, origin, env, cwd)
    except ValueError as exc:
        raise IntegrationError(str(exc)) from None
    text, _ = report(edit, req.dry_run)
    return text


def _plan(req: ConfigRequest, settings: Settings, models: list[Advertised], origin: str,
          env: Mapping[str, str], cwd: Path) -> Edit:
    key = discovery.client_key(settings)
    if req.client == "opencode":
        path = Path(req.file).expanduser() if req.file else opencode.find_file(env, cwd)
        chosen = discovery.select(models, req.models)
        opts = opencode.OpenCodeOptions(
            provider_id=req.provider_id, key_env=req.key_env, literal_key=req.literal_key,
            default_model=_named(chosen, req.default_model, "--default-model"),
            small_model=_named(chosen, req.small_model, "--small-model"))
        return keep_newlines(read_config(path),
                             lambda old: opencode.plan(path, old, chosen, origin, key, opts))
    if req.client == "claude-code":
        path = (Path(req.file).expanduser() if req.file
                else claude_code.find_file(env, cwd, req.project))
        main = _named(models, req.default_model, "--model") or _pick(models, discovery.STRONG)
        picked = claude_code.ClaudeModels(
            main=main,
            opus=_named(models, req.opus_model, "--opus-model") or main,
            sonnet=(_named(models, req.sonnet_model, "--sonnet-model")
                    or _pick(models, discovery.BALANCED)),
            haiku=_named(models, req.haiku_model, "--haiku-model")
            or _pick(models, discovery.FAST))
        return keep_newlines(read_config(path),
                             lambda old: claude_code.plan(path, old, origin, key, picked))
    if req.client == "codex":
        path = Path(req.file).expanduser() if req.file else codex.find_file(env)
        model = _named(models, req.default_model, "--model") or _pick(models, discovery.STRONG)
        copts = codex.CodexOptions(model=model, provider_id=req.provider_id,
                                   profile=req.profile, key_env=req.key_env)
        return keep_newlines(read_config(path), lambda old: codex.plan(
            path, old, origin, key is not None, copts))
    raise IntegrationError(f"unknown client {req.client!r}: opencode, claude-code or codex")


def _named(models: list[Advertised], wanted: str | None, flag: str) -> Advertised | None:
    return discovery.resolve(models, wanted, flag) if wanted else None


def _pick(models: list[Advertised], preference: tuple[str, ...]) -> Advertised:
    found = discovery.pick(models, preference)
    assert found is not None, "run() checked that models is not empty"
    return found
