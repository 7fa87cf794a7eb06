"""The attempt loop: for each target of a plan, build the upstream request, send it through
the transport, and answer the client through the downstream.

One Attempt per target tried. A target is committed to only once its answer starts reaching
the client (a whole unary body, or a stream's first content); a failure before that becomes
an AttemptFailed, and the fallback policy decides whether the next target may be tried.
After the commit, a stream reports failures in-band and no second upstream request is made.
"""

from __future__ import annotations

import asyncio
import functools
import time

import orjson

from crossway import adapt, failures
from crossway.dialects import registry
from crossway.dialects.base import Dialect
from crossway.downstream import JSON_HEADERS, Downstream
from crossway.errors import CrosswayError, NotImplementedYet
from crossway.exchange import Attempt, Exchange
from crossway.failures import AttemptFailed, TransportFailure
from crossway.reasoning_cache import ReasoningCache, blocks_of
from crossway.relay_stream import body_cost, pump_stream
from crossway.routing.plan import Target
from crossway.routing.policy import FallbackPolicy, Health
from crossway.transport.base import MAX_ERROR_BODY, MAX_RESPONSE_BODY, Transport, UpstreamResponse


class Relay:
    def __init__(self, transport: Transport, *, policy: FallbackPolicy | None = None,
                 health: Health | None = None, ping_interval: float = 10.0,
                 reasoning: ReasoningCache | None = None) -> None:
        self.transport = transport
        self.policy = policy or FallbackPolicy()
        self.health = health or Health()
        self.ping_interval = ping_interval
        # Reasoning tokens of clients whose dialect cannot carry them (OpenAI chat).
        self.reasoning = reasoning

    async def handle(self, ex: Exchange, down: Downstream) -> None:
        """Answer `ex` through `down`, or raise the most relevant CrosswayError (nothing
        reached the client then)."""
        failed: list[AttemptFailed] = []
        for target in ex.plan.targets:
            if not self.policy.admits(target, ex.record.attempts, failed):
                continue
            try:
                upstream = registry.get(target.dialect)
            except NotImplementedYet as exc:
                attempt = Attempt(target, fast=False)
                ex.record.attempts.append(attempt)
                failed.append(failures.unsupported(exc))
                attempt.fail(failed[-1])
                continue
            attempt = Attempt(target, fast=ex.client is upstream
                              and upstream.passthrough_ok(ex.body, target.caps))
            ex.record.attempts.append(attempt)
            try:
                await self._attempt(ex, attempt, upstream, down)
            except AttemptFailed as failure:
                attempt.fail(failure)
                self.health.record(attempt)
                failed.append(failure)
                if attempt.committed or not self.policy.may_fall_back(
                        failure, len(ex.record.attempts)):
                    break
                continue
            self.health.record(attempt)
            return
        raise self.policy.final_error(ex.plan, failed)

    async def _attempt(self, ex: Exchange, attempt: Attempt, upstream: Dialect,
                       down: Downstream) -> None:
        t = attempt.target
        body = self._body(ex, attempt, upstream)
        prepare = functools.partial(t.provider.prepare, t, body, stream=ex.stream,
                                    session_id=ex.plan.session_id, client_headers=ex.headers)
        try:
            if t.provider.blocking_prepare:
                # Cloud credentials (files, token endpoints) are fetched by blocking calls:
                # never on the event loop.
                request = await asyncio.get_running_loop().run_in_executor(None, prepare)
            else:
                request = prepare()
        except CrosswayError as exc:
            # The provider cannot build or sign this request (an optional extra missing, no
            # cloud credentials): this target cannot be used, another one may.
            raise failures.unsupported(exc) from exc
        try:
            resp = await self.transport.send(request)
        except TransportFailure as exc:
            raise failures.from_transport(exc, t.instance.name, t.provider.base_url) from exc
        attempt.status = resp.status
        attempt.mark_first_byte()
        try:
            if resp.status >= 400:
                raise await self._upstream_error(resp, t)
            if ex.stream:
                await pump_stream(ex, attempt, upstream, resp, down,
                                  ping_interval=self.ping_interval,
                                  reasoning=self._keeper(ex))
            else:
                await self._unary(ex, attempt, upstream, resp, down)
        except TransportFailure as exc:
            raise failures.from_transport(exc, t.instance.name, t.provider.base_url) from exc
        finally:
            resp.release()
            if attempt.ended is None:
                attempt.ended = time.perf_counter()

    def _body(self, ex: Exchange, attempt: Attempt, upstream: Dialect) -> dict[str, object]:
        t = attempt.target
        if attempt.fast:
            return upstream.passthrough_body(ex.body, model=t.model.id, caps=t.caps,
                                             stream=ex.stream)
        try:
            req = ex.ir_request()
            keeper = self._keeper(ex)
            if keeper is not None and not ex.reasoning_restored:
                keeper.restore(ex.plan.session_id, req)
                ex.reasoning_restored = True
            adapted = adapt.for_target(req, upstream, t.caps)
            attempt.restore_names = adapted.restore_names
            return upstream.encode_request(adapted.request, t.model.id, t.caps)
        except CrosswayError as exc:
            # The client's request cannot be expressed (malformed, or a history the target's
            # dialect rejects): no other target would do better.
            raise failures.client_error(exc) from exc

    def _keeper(self, ex: Exchange) -> ReasoningCache | None:
        return None if ex.client.carries_reasoning_tokens else self.reasoning

    async def _upstream_error(self, resp: UpstreamResponse, t: Target) -> AttemptFailed:
        try:
            raw = await resp.read(MAX_ERROR_BODY)
        except TransportFailure:
            raw = b""  # the status says enough; the body was unreadable or huge
        failure = t.provider.parse_failure(resp.status, raw, resp.headers)
        error = t.provider.map_error(t.instance, failure)
        return failures.from_upstream(error, status=resp.status,
                                      error_class=failure.error_class,
                                      retry_after=failure.retry_after,
                                      limit_name=failure.limit_name)

    async def _unary(self, ex: Exchange, attempt: Attempt, upstream: Dialect,
                     resp: UpstreamResponse, down: Downstream) -> None:
        t = attempt.target
        raw = await resp.read(MAX_RESPONSE_BODY)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise failures.protocol(f"{t.instance.name} answered HTTP {resp.status} with a "
                                    "body that is not JSON") from exc
        if not isinstance(data, dict):
            raise failures.protocol(
                f"{t.instance.name} answered with a JSON {type(data).__name__}")
        requested = ex.plan.requested
        # Zen's own figure for this request (spec A8). On the fast path the field is left in
        # the body, as Zen itself answers it: SDKs ignore fields they do not know, and a
        # client of crossway sees what a client of Zen sees.
        attempt.cost = body_cost(data)
        if attempt.fast:
            # Only usage is read from a passed-through body (a full decode costs ~4 us more).
            attempt.usage = upstream.passthrough_unary(data, requested)
            out = data
        else:
            try:
                parsed = upstream.decode_response(data, t.caps)
                adapt.restore_response(parsed, attempt.restore_names)
                out = ex.client.encode_response(parsed, requested, ex.ir_request())
            except CrosswayError as exc:
                raise failures.AttemptFailed(failures.FailureKind.PROTOCOL, exc) from exc
            attempt.usage = parsed.usage
            keeper = self._keeper(ex)
            if keeper is not None:
                keeper.remember(ex.plan.session_id, blocks_of(parsed))
        body = orjson.dumps(out)
        attempt.committed = True
        ex.record.mark_first_byte()
        # x-crossway-target/-attempts: added by the edge to every unprepared response.
        await down.reply(200, body, JSON_HEADERS)
        ex.record.mark_ended()
