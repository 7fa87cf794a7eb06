"""Each upstream key checked with the cheapest request its upstream authenticates.

Never a completion (that spends quota). A key counts as accepted only when the upstream was
seen to check it: the same request without the key must be refused while the keyed one
succeeds. An endpoint that answers without a key too says nothing about the key, so the key
is reported as "not checkable without spending quota" rather than as fine.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import urllib.parse
from dataclasses import dataclass

import aiohttp
import orjson

from crossway.config.settings import BackendSettings, KeySpec
from crossway.errors import ConfigError
from crossway.providers import build_provider

SLOW_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Probe:
    path: str  # appended to the backend's base URL
    header: str  # "authorization" (Bearer) or "x-api-key"
    why: str


# OpenCode's tiers, whose free authenticating request is not their model listing. Every other
# backend is checked with its provider's own listing request (Provider.models_request: the
# right URL, auth header and version headers for Gemini, Anthropic, OpenAI-compatible
# services, ...); a provider without one (Bedrock, Azure) is not checkable for free.
PROBES: dict[str, Probe | None] = {
    # Go's usage endpoint looks the key up and answers 401 for an unknown one.
    "opencode-go": Probe("/usage", "authorization", "GET /usage"),
    # Zen's GET /models uses a key only to hide disabled models; every route that
    # authenticates goes on to run (and bill) a completion.
    "opencode-zen": None,
}
# Headers (and query parameters) that carry a credential, dropped for the keyless twin.
_AUTH_NAMES = frozenset(("authorization", "x-api-key", "x-goog-api-key", "api-key", "key"))


@dataclass(frozen=True, slots=True)
class KeyResult:
    backend: str
    instance: str
    masked: str
    source: str
    status: str  # ok | slow | rejected | unreachable | not_checkable
    detail: str
    seconds: float | None = None
    skew: float | None = None  # upstream clock minus ours, seconds (from its Date header)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None
    message: str
    seconds: float
    skew: float | None


async def check_key(session: aiohttp.ClientSession, backend: BackendSettings, key: KeySpec,
                    timeout: float) -> KeyResult:
    instance = backend.name if key.number is None else f"{backend.name}.{key.number}"

    def result(status: str, detail: str, ans: _Answer | None = None) -> KeyResult:
        return KeyResult(backend.name, instance, key.masked(), key.source, status, detail,
                         ans.seconds if ans else None, ans.skew if ans else None)

    request = _request(backend, key)
    if request is None:
        return result("not_checkable", "not checkable without spending quota (no free "
                      "request of this upstream authenticates a key)")
    why, url, keyed_headers = request
    bare_headers = {k: v for k, v in keyed_headers.items() if k.lower() not in _AUTH_NAMES}
    keyed, bare = await asyncio.gather(_get(session, url, keyed_headers, timeout),
                                       _get(session, url, bare_headers, timeout))
    return result(*_judge(why, keyed, bare, url), keyed)


def _request(backend: BackendSettings, key: KeySpec) -> tuple[str, str, dict[str, str]] | None:
    """(what it is, URL, headers with the key) of the free request that checks `key`."""
    if backend.type in PROBES:
        probe = PROBES[backend.type]
        if probe is None:
            return None
        return probe.why, backend.api_url + probe.path, _auth(probe, key.key, backend)
    try:
        provider = build_provider(backend)
    except ConfigError:
        return None
    instance = next((i for i in provider.instances if i.key == key), None)
    request = provider.models_request(instance) if instance is not None else None
    if request is None:
        return None
    url = request.url
    if request.params:
        params = {k: v for k, v in request.params.items() if k.lower() not in _AUTH_NAMES}
        url += "?" + urllib.parse.urlencode(params) if params else ""
    return f"{request.method} {urllib.parse.urlsplit(request.url).path}", url, request.headers


def _judge(why: str, keyed: _Answer, bare: _Answer, url: str) -> tuple[str, str]:
    if keyed.status is None:
        return "unreachable", f"{url}: {keyed.message}"
    if keyed.status in (401, 403):
        return "rejected", f"{why} answered {keyed.status}: {keyed.message}"
    if keyed.status in (404, 405):
        return "not_checkable", (f"{url} does not exist here ({keyed.status}); not checkable "
                                 "without spending quota")
    if keyed.status != 200:
        return "unreachable", f"{why} answered HTTP {keyed.status}: {keyed.message}"
    if bare.status not in (401, 403):
        return "not_checkable", (f"{why} answers without a key too, so it does not "
                                 "check keys; not checkable without spending quota")
    if keyed.seconds > SLOW_SECONDS:
        return "slow", f"accepted ({why}), but the answer took {keyed.seconds:.1f} s"
    return "ok", f"accepted ({why}, {keyed.seconds:.2f} s)"


def _auth(probe: Probe, key: str | None, backend: BackendSettings) -> dict[str, str]:
    headers = {"accept": "application/json", **backend.headers}
    if probe.header == "x-api-key":
        headers["anthropic-version"] = "2023-06-01"
        if key is not None:
            headers["x-api-key"] = key
    elif key is not None:
        headers["authorization"] = f"Bearer {key}"
    return headers


async def _get(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
               timeout: float) -> _Answer:
    start = time.monotonic()
    sent_at = time.time()
    try:
        async with session.get(url, headers=headers, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            body = await resp.content.read(64 * 1024)
            seconds = time.monotonic() - start
            skew = _skew(resp.headers.get("date"), sent_at + seconds / 2)
            return _Answer(resp.status, _message(body), seconds, skew)
    except TimeoutError:
        return _Answer(None, f"no answer within {timeout:g} s", time.monotonic() - start, None)
    except aiohttp.ClientError as exc:
        return _Answer(None, f"cannot connect ({type(exc).__name__}: {exc})",
                       time.monotonic() - start, None)


def _message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return " ".join(body[:200].decode("utf-8", "replace").split())
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return ""


def _skew(date_header: str | None, local: float) -> float | None:
    if not date_header:
        return None
    try:
        upstream = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None
    return upstream - local
