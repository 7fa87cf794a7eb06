"""The aiohttp application: routes, the auth and error middleware, start-up and shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from crossway.config.settings import Settings
from crossway.dialects import registry
from crossway.errors import CrosswayError, NotFound, ServiceUnavailable
from crossway.observability.records import RequestRecord
from crossway.observability.setup import ObservabilityRuntime
from crossway.observability.sinks import deliver
from crossway.providers import build_provider
from crossway.relay import Relay
from crossway.routing.resilience import RoutingHealth
from crossway.routing.setup import RoutingRuntime
from crossway.server import auth
from crossway.server.errors import error_response
from crossway.server.routes import completions, count_tokens, health, models, register_declared
from crossway.server.state import STATE, AppState
from crossway.tokens import TokenCounter
from crossway.transport.http import create_transport

log = logging.getLogger("crossway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Auth, error rendering in the client's dialect, and the per-request record."""
    state = request.app[STATE]
    path = request.path
    if path.startswith(auth.ADMIN_PREFIXES):
        return await _operator(request, handler, state)
    dialect = registry.for_client(path, request.headers)
    record = RequestRecord(state.ids.next(), request.method, path, dialect.name,
                           user_agent=request.headers.get("user-agent"))
    request["record"] = record
    in_flight = state.observability.live.in_flight if state.observability else None
    if in_flight is not None:
        in_flight[record.request_id] = record
    response: web.StreamResponse
    try:
        if state.api_keys and path not in auth.OPEN_PATHS:
            record.key_id = auth.check(request.headers, state.api_keys)
        response = await handler(request)
    except CrosswayError as err:
        record.outcome, record.error = "error", err.message
        response = error_response(err, dialect, record.request_id)
    except web.HTTPNotFound:
        response = error_response(
            NotFound(f"no route for {request.method} {path}"), dialect,
            record.request_id)
    except web.HTTPMethodNotAllowed as exc:
        err405 = CrosswayError(f"{request.method} is not allowed on {path}",
                               status=405)
        response = error_response(err405, dialect, record.request_id)
        response.headers["allow"] = ",".join(sorted(exc.allowed_methods))
    except web.HTTPException:
        raise
    except Exception as exc:
        # A bug of ours: log it with its traceback, tell the client no internals.
        log.exception("unhandled error on %s %s", request.method, path)
        record.outcome, record.error = "error", type(exc).__name__
        response = error_response(
            CrosswayError(f"internal error in crossway ({type(exc).__name__}); see the "
                          f"gateway log for {record.request_id}"), dialect, record.request_id)
    finally:
        if in_flight is not None:
            in_flight.pop(record.request_id, None)
    record.status = response.status
    record.mark_ended()
    if not response.prepared:
        response.headers["x-request-id"] = record.request_id
        response.headers.update(record.served_headers())
    if path not in auth.OPEN_PATHS:
        # After the response is on its way: the sinks' work is not the client's latency.
        asyncio.get_running_loop().call_soon(deliver, state.sinks, record)
    return response


async def _operator(request: web.Request, handler: Handler,
                    state: AppState) -> web.StreamResponse:
    """/admin/*, /metrics, /dashboard: the admin key (auth.AdminAccess), no request record
    (a dashboard polling every few seconds is not traffic), errors as plain JSON."""
    try:
        if state.observability is None:
            raise ServiceUnavailable("observability is not set up in this process")
        state.observability.admin.check(request.path, request.headers)
        return await handler(request)
    except CrosswayError as err:
        body = {"error": {"message": err.message, "type": err.openai_type, "code": err.code}}
        return web.json_response(body, status=err.status, dumps=_dumps)
    except web.HTTPNotFound:
        body = {"error": {"message": f"no route for {request.method} {request.path}",
                          "type": "not_found_error", "code": None}}
        return web.json_response(body, status=404, dumps=_dumps)


def _dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def _report_tokenizer_failure(fut: asyncio.Future[TokenCounter]) -> None:
    exc = None if fut.cancelled() else fut.exception()
    if exc is not None:
        log.error("the token counter failed to load (%s: %s); count_tokens requests will "
                  "fail", type(exc).__name__, exc)


def create_app(settings: Settings) -> web.Application:
    providers = [build_provider(b) for b in settings.backends]
    routing = RoutingRuntime.create(settings, providers)
    observability = ObservabilityRuntime.create(settings)
    # Breaker and cooldown state per instance, for /metrics, /admin/stats and the dashboard.
    if isinstance(routing.health, RoutingHealth):
        observability.register_health(routing.health.report)
    state = AppState(
        settings=settings,
        router=routing.router,
        api_keys=tuple(k.encode() for k in settings.api_keys),
        health=routing.health,
        sinks=observability.sinks,
        routing=routing,
        observability=observability,
    )
    # The body limit is enforced (with a dialect-shaped 413) in server/body.py; aiohttp's
    # own limit equals it and is translated there too.
    app = web.Application(middlewares=[edge], client_max_size=settings.max_body_bytes)
    app[STATE] = state

    for prefix in ("", "/anthropic"):
        app.router.add_post(prefix + "/v1/messages", completions.messages)
        app.router.add_post(prefix + "/v1/messages/count_tokens", count_tokens.count_tokens)
    app.router.add_post("/v1/chat/completions", completions.chat_completions)
    app.router.add_post("/chat/completions", completions.chat_completions)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/anthropic/v1/models", models.list_models)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_route("HEAD", "/", health.hello)
    app.router.add_get("/", health.hello, allow_head=False)
    app.router.add_route("HEAD", "/api/hello", health.hello)
    app.router.add_post("/api/event_logging/{tail:.*}", health.event_logging)
    register_declared(app)  # route modules that declare ROUTES (admin, responses, ...)

    async def start(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        # Not awaited here: cold start is the time to the first served request (~0.3 s less).
        state.tokens = loop.run_in_executor(None, TokenCounter)
        state.tokens.add_done_callback(_report_tokenizer_failure)
        await routing.start()
        await observability.start()
        state.relay = Relay(create_transport(settings), policy=routing.policy,
                            health=routing.health, ping_interval=settings.ping_interval,
                            reasoning=state.reasoning)

    async def stop(app: web.Application) -> None:
        if state.relay is not None:
            await state.relay.transport.close()
        await observability.close()
        await routing.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
