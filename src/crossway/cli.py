"""Command line: `crossway serve` runs the gateway, `crossway models` lists what it can route."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from crossway import __version__
from crossway.config.loader import load_settings
from crossway.config.settings import Settings
from crossway.errors import ConfigError

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
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, os.environ,
                                 host=getattr(args, "host", None), port=getattr(args, "port", None))
    except ConfigError as exc:
        print(f"crossway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "models":
        _print_models(settings)
    elif args.workers > 1:
        _serve_workers(settings, args.workers)
    else:
        _serve(settings)


def _print_models(settings: Settings) -> None:
    from crossway.providers import build_provider
    from crossway.routing.plan import Router

    router = Router([build_provider(b) for b in settings.backends])
    rows = []
    for r in router.routes():
        instances = ",".join(i.name for i in r.provider.instances) or "(no key)"
        rows.append((r.public_id, instances, r.model.dialect))
    width = max((len(r[0]) for r in rows), default=10)
    iwidth = max((len(r[1]) for r in rows), default=10)
    print(f"{'MODEL':<{width}}  {'INSTANCES':<{iwidth}}  UPSTREAM DIALECT")
    for model, inst, dialect in rows:
        print(f"{model:<{width}}  {inst:<{iwidth}}  {dialect}")


def describe_backends(settings: Settings) -> list[str]:
    lines = []
    for b in settings.backends:
        if b.keys:
            inst = ", ".join(
                f"{b.name if k.number is None else f'{b.name}.{k.number}'} "
                f"(key {k.masked()} from {k.source})" for k in b.keys)
            lines.append(f"backend {b.name} [{b.type}] {b.api_url}: {inst}")
        else:
            lines.append(f"backend {b.name} [{b.type}] {b.api_url}: no API key; "
                         f"set {b.key_hint} to use it")
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
    from aiohttp import web

    from crossway.server.app import create_app

    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                reuse_port=reuse_port or None, access_log=None,
                # aiohttp's default backlog (128) overflows when clients open many
                # connections at once (docs/benchmarks.md, proposal P4).
                backlog=1024, print=lambda _msg: log.info(
                    "listening on http://%s:%d", settings.host, settings.port))
