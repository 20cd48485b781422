"""Server-issued web conversations: the id is the citizen's credential, so the server makes it.

An id is `<random>.<mac>` in URL-safe base64: 128 random bits and their HMAC-SHA256 under the
`session_secret` setting. Checking one needs no database read, so a made-up or altered id is
refused before anything is stored. The page keeps it in an HttpOnly cookie (the stream reads it
there, never from a URL); tools send it in the body or as `Authorization: Bearer <id>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from bot.settings import Settings

COOKIE = "chat_session"
COOKIE_PATH = "/api/chat"
# A week: a question left out of volunteer hours is still answered on the page after a weekend.
COOKIE_MAX_AGE = 7 * 24 * 3600
PURPOSE = b"web-conversation:"  # the secret signs nothing else with the same message shape


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class WebSessions:
    def __init__(self, settings: Settings):
        self._key = settings.ensure_session_secret().encode()
        self._secure = settings.secure_cookies

    def _mac(self, random_part: str) -> str:
        return _b64(hmac.new(self._key, PURPOSE + random_part.encode("ascii"), hashlib.sha256).digest())

    def issue(self) -> str:
        random_part = _b64(secrets.token_bytes(16))
        return f"{random_part}.{self._mac(random_part)}"

    def is_issued(self, sender_id: str) -> bool:
        random_part, dot, mac = sender_id.partition(".")
        if not dot or not random_part.isascii() or not mac.isascii():
            return False
        return hmac.compare_digest(mac, self._mac(random_part))

    def from_request(self, request: Request) -> str | None:
        """The issued id in the cookie or the `Authorization: Bearer` header (a URL never counts)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        for candidate in (token.strip() if scheme.lower() == "bearer" else "", request.cookies.get(COOKIE, "")):
            if candidate and self.is_issued(candidate):
                return candidate
        return None

    def set_cookie(self, response: Response, sender_id: str) -> None:
        response.set_cookie(
            COOKIE,
            sender_id,
            max_age=COOKIE_MAX_AGE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self._secure,
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=self._secure)
