"""A fake Vertex AI endpoint for Gemini: the fake Gemini's rules behind Vertex's URL shape
(`/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`) and
OAuth bearer tokens instead of API keys, with a Google-style token endpoint at
`{origin}/token` that grants tokens for a JWT assertion signed (RS256) by the configured
service account's private key.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.gemini import FakeGemini, Recorded, Reject

# The audience of a service account's JWT, whatever token endpoint it is sent to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_PATH = re.compile(r"/v1/projects/[^/]+/locations/[^/]+/publishers/google/models/"
                   r"([^/:]+):([A-Za-z]+)")


class FakeVertex(FakeGemini):
    def __init__(self, service_account: tuple[str, bytes], token_lifetime: int = 3599) -> None:
        """`service_account`: (client email, public key PEM); tokens live `token_lifetime`
        seconds."""
        super().__init__(keys=())
        self.service_account = service_account
        self.token_lifetime = token_lifetime
        self.issued_tokens: list[str] = []
        self._tokens_lock = threading.Lock()

    async def _route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        if request.path == "/token":
            return self._grant(await request.post())
        self._bearer(rec)
        return await self._generate(request, rec, _PATH.fullmatch(request.path))

    def _grant(self, form: Any) -> web.Response:
        """Google's OAuth token endpoint: the JWT-bearer grant of a service account."""
        email, public_pem = self.service_account
        denied = web.json_response({"error": "invalid_grant",
                                    "error_description": "Invalid JWT Signature."}, status=400)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            header, payload, signature = str(form.get("assertion")).split(".")
            key = serialization.load_pem_public_key(public_pem)
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(_b64url(signature), f"{header}.{payload}".encode(),
                       padding.PKCS1v15(), hashes.SHA256())
            claims = json.loads(_b64url(payload))
        except (ValueError, InvalidSignature):
            return denied
        if claims.get("iss") != email or claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or \
                "cloud-platform" not in claims.get("scope", "") or claims["exp"] < time.time():
            return denied
        token = "ya29." + secrets.token_urlsafe(16)
        with self._tokens_lock:
            self.issued_tokens.append(token)
        return web.json_response({"access_token": token, "expires_in": self.token_lifetime,
                                  "token_type": "Bearer"})

    def _bearer(self, rec: Recorded) -> None:
        auth = rec.headers.get("authorization", "")
        with self._tokens_lock:
            known = auth.removeprefix("Bearer ") in self.issued_tokens
        if not auth.startswith("Bearer ") or not known:
            raise Reject(401, "UNAUTHENTICATED", "Request had invalid authentication "
                         "credentials. Expected OAuth 2 access token, login cookie or other "
                         "valid authentication credential.")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
