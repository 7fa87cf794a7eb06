"""Command line: `crossway serve` runs the gateway, `crossway models` lists what it can route,
`crossway config <client>` points a client at it, `crossway doctor` says what is wrong."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crossway import __version__
from crossway.config.env_backends import NO_KEY_SOURCE
from crossway.config.loader import load_settings
from crossway.config.settings import Settings
from crossway.errors import ConfigError
from crossway.observability import usage_report

log = logging.getLogger("crossway")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crossway", description="LLM API gateway")
    p.add_argument("--version", action="version", version=f"crossway {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--config", help="YAML config file (default: $CROSSWAY_CONFIG)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the port (SO_REUSEPORT; default 1)")
    models = sub.add_parser("models", help="print the routable models")
    models.add_argument("--config", help="YAML config file (default: $CROSSWAY_CONFIG)")
    _add_config_parsers(sub)
    doctor = sub.add_parser("doctor", help="check the configuration, keys, port and clients")
    doctor.add_argument("--config", help="YAML config file (default: $CROSSWAY_CONFIG)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for each upstream check (default 10)")
    usage_report.register(sub)
    return p


def _add_config_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="write crossway into a client's config file")
    clients = config.add_subparsers(dest="client", required=True)
    helps = {"opencode": "merge a crossway provider into opencode.json[c]",
             "claude-code": "merge crossway's env block into Claude Code's settings.json",
             "codex": "merge a crossway model provider into Codex's config.toml"}
    for name, text in helps.items():
        c = clients.add_parser(name, help=text)
        c.add_argument("--config", help="crossway's YAML config file (default: $CROSSWAY_CONFIG)")
        c.add_argument("--file", help="the client config file to edit (default: where the "
                                      "client looks)")
        c.add_argument("--base-url", help="crossway's URL as the client reaches it (default: "
                                          "from crossway's host and port; /v1 is added once)")
        c.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
        if name != "claude-code":
            c.add_argument("--provider-id", default="crossway",
                           help="the provider id in the client config (default crossway)")
            c.add_argument("--key-env", default="CROSSWAY_API_KEY",
                           help="variable the client reads crossway's key from")
    oc = clients.choices["opencode"]
    oc.add_argument("--models", help="all (default), a comma-separated list, or globs such "
                                     "as 'opencode-go/*'")
    oc.add_argument("--default-model", help="also set OpenCode's `model` to this one")
    oc.add_argument("--small-model", help="also set OpenCode's `small_model` to this one")
    oc.add_argument("--literal-key", action="store_true",
                    help="write crossway's key itself instead of {env:CROSSWAY_API_KEY}")
    cc = clients.choices["claude-code"]
    cc.add_argument("--project", action="store_true",
                    help="write .claude/settings.local.json here instead of the user settings")
    for flag in ("--model", "--opus-model", "--sonnet-model", "--haiku-model"):
        cc.add_argument(flag, help="model id for " + (flag[2:-6] or "the main model"))
    cx = clients.choices["codex"]
    cx.add_argument("--model", help="Codex's model (default: crossway picks a strong one)")
    cx.add_argument("--profile", help="write [profiles.NAME] instead of the top-level model")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        _doctor(args)  # reports a configuration error as one of its findings
    if args.command == "usage":
        raise SystemExit(usage_report.run(args))
    try:
        settings = load_settings(args.config, os.environ,
                                 host=getattr(args, "host", None), port=getattr(args, "port", None))
    except ConfigError as exc:
        print(f"crossway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "models":
        _print_models(settings)
    elif args.command == "config":
        _config(args, settings)
    elif args.workers > 1:
        _serve_workers(settings, args.workers)
    else:
        _serve(settings)


def _config(args: argparse.Namespace, settings: Settings) -> None:
    from crossway.integrations.commands import ConfigRequest, run
    from crossway.integrations.files import IntegrationError

    req = ConfigRequest(
        client=args.client, file=args.file, base_url=args.base_url,
        provider_id=getattr(args, "provider_id", "crossway"),
        models=getattr(args, "models", None),
        default_model=getattr(args, "default_model", None) or getattr(args, "model", None),
        small_model=getattr(args, "small_model", None),
        opus_model=getattr(args, "opus_model", None),
        sonnet_model=getattr(args, "sonnet_model", None),
        haiku_model=getattr(args, "haiku_model", None),
        project=getattr(args, "project", False), profile=getattr(args, "profile", None),
        key_env=getattr(args, "key_env", "CROSSWAY_API_KEY"),
        literal_key=getattr(args, "literal_key", False), dry_run=args.dry_run)
    try:
        print(run(req, settings, os.environ, Path.cwd()))
    except IntegrationError as exc:
        print(f"crossway: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _doctor(args: argparse.Namespace) -> None:
    from crossway.integrations.doctor import run_doctor

    code = run_doctor(args.config, os.environ, Path.cwd(), as_json=args.json,
                      timeout=args.timeout)
    raise SystemExit(code)


def _print_models(settings: Settings) -> None:
    from crossway.providers import build_provider
    from crossway.routing.listing import model_rows
    from crossway.routing.setup import build_router

    rows = model_rows(build_router(settings, [build_provider(b) for b in settings.backends]))
    width = max((len(r.model) for r in rows), default=10)
    iwidth = max((len(r.instances) for r in rows), default=10)
    dwidth = max((len(r.dialect) for r in rows), default=10)
    print(f"{'MODEL':<{width}}  {'INSTANCES':<{iwidth}}  {'UPSTREAM DIALECT':<{dwidth}}  SOURCE")
    for r in rows:
        print(f"{r.model:<{width}}  {r.instances:<{iwidth}}  {r.dialect:<{dwidth}}  {r.source}")


def describe_backends(settings: Settings) -> list[str]:
    lines = []
    for b in settings.backends:
        if b.keys:
            inst = ", ".join(
                f"{b.name if k.number is None else f'{b.name}.{k.number}'} "
                + ("(no key needed)" if k.source == NO_KEY_SOURCE
                   else f"(key {k.masked()} from {k.source})") for k in b.keys)
            lines.append(f"backend {b.name} [{b.type}] {b.api_url}: {inst}")
        else:
            lines.append(f"backend {b.name} [{b.type}] {b.api_url}: no API key; "
                         f"set {b.key_hint} to use it")
    # What the environment said that crossway did not take as it stood.
    lines += [f"note: {notice}" for notice in settings.notices]
    return lines


def _serve_workers(settings: Settings, workers: int) -> None:
    """N independent processes bound to one port with SO_REUSEPORT; the kernel spreads
    connections. Each worker is a whole gateway (its own loop, client session, state)."""
    import multiprocessing
    import signal

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_serve, args=(settings, True), name=f"crossway-worker-{i}")
             for i in range(workers)]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: object) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        raise SystemExit(f"crossway: a worker exited with {failed[0]}")


def _serve(settings: Settings, reuse_port: bool = False) -> None:
    from crossway.observability.logsetup import configure
    from crossway.observability.setup import log_format

    try:
        as_json = log_format(os.environ) == "json"
    except ConfigError as exc:
        print(f"crossway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # Lines are written by a thread: a slow terminal or pipe never stalls the event loop.
    listener = configure(settings.log_level, as_json)
    try:
        _run(settings, reuse_port)
    finally:
        listener.stop()


def _run(settings: Settings, reuse_port: bool) -> None:
    from aiohttp import web

    from crossway.server import gctune
    from crossway.server.app import create_app

    try:
        import uvloop
    except ImportError:
        uvloop = None  # type: ignore[assignment]
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("crossway %s starting (settings from %s)", __version__, settings.source)
    for line in describe_backends(settings):
        log.info("%s", line)
    if not any(b.keys for b in settings.backends):
        log.warning("no upstream API key is set: export OPENCODE_GO_API_KEY (OpenCode Go) or "
                    "OPENCODE_API_KEY (OpenCode Zen), or configure a backend in a YAML file; "
                    "until then completion requests answer 503")
    if settings.api_keys:
        log.info("inbound auth on: %d key(s) accepted", len(settings.api_keys))
    app = create_app(settings)
    app.on_startup.append(gctune.on_started)  # after the gateway's own start-up hook
    web.run_app(app, host=settings.host, port=settings.port,
                reuse_port=reuse_port or None, access_log=None,
                # aiohttp's default backlog (128) overflows when clients open many
                # connections at once (docs/benchmarks.md, proposal P4).
                backlog=1024, print=lambda _msg: log.info(
                    "listening on http://%s:%d", settings.host, settings.port))
