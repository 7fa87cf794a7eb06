"""A fake Azure OpenAI resource: chat/completions behind deployments.

What Azure enforces, in its words: the `api-key` header (401 "Access denied due to invalid
subscription key or wrong API endpoint"); the deployment in the path
(`/openai/deployments/{deployment}/chat/completions`, 404 `DeploymentNotFound` for an unknown
one); an `api-version` query parameter among the supported ones (404 "Resource not found"
without one, 400 for an unknown one). Beyond that a deployment behaves as the OpenAI model it
serves, reasoning-model rules included (tests.fakes.openai_compat).

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import re

from aiohttp import web

from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.threaded import Recorded, Rejected

API_VERSIONS = frozenset(("2024-06-01", "2024-10-21", "2025-04-01-preview"))
ACCESS_DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                 "to provide a valid key for an active subscription and use a correct regional "
                 "API endpoint for your resource.")
_PATH = re.compile(r"/openai/deployments/([^/]+)/chat/completions")


class FakeAzure(FakeOpenAI):
    name = "fake-azure"

    def __init__(self, keys: tuple[str, ...] = ("az-test",),
                 deployments: dict[str, str] | None = None) -> None:
        super().__init__(keys, prefix="")
        # deployment name -> the model it serves
        self.deployments = deployments or {"chat-prod": "gpt-4.1", "reasoner": "o3"}

    def authorize(self, rec: Recorded) -> None:
        if rec.headers.get("api-key") not in self.keys:
            raise Rejected(401, {"error": {"code": "401", "message": ACCESS_DENIED}})

    async def route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        self.authorize(rec)
        m = _PATH.fullmatch(rec.path)
        version = rec.query.get("api-version")
        if request.method != "POST" or m is None or version is None:
            raise Rejected(404, {"error": {"code": "404", "message": "Resource not found"}})
        if version not in API_VERSIONS:
            raise Rejected(400, {"error": {"code": "BadRequest",
                                           "message": "API version not supported"}})
        model = self.deployments.get(m.group(1))
        if model is None:
            raise Rejected(404, {"error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist. If you "
                           "created the deployment within the last 5 minutes, please wait a "
                           "moment and try again."}})
        return await self.complete(request, rec, rec.json, model)
