"""What every route does with an untrusted body before anything else reads it.

`parse_json` turns raw bytes into JSON or a 4xx: invalid UTF-8, invalid JSON, nesting deeper than
`MAX_JSON_DEPTH` and lone surrogates ("\\ud800", which no database or channel can store) are
refused as bad input, never raised as a 500.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse

from bot.limits import Limits, RateLimited, is_loopback

MAX_JSON_DEPTH = 32  # the deepest real payload (a Telegram update) nests 5 levels


class BadBody(Exception):
    """A body the gateway refuses: `status` is 400 (not JSON) or 422 (JSON it cannot take)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _nesting(raw: str) -> int:
    """The deepest nesting of arrays and objects, counted without parsing (strings skipped), so
    a hostile body never reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(400, "body is not valid UTF-8") from None
    if ("[" in text or "{" in text) and _nesting(text) > MAX_JSON_DEPTH:
        raise BadBody(422, f"body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadBody(400, f"body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadBody(422, f"body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if _has_lone_surrogate(value):
        raise BadBody(422, "body contains an unpaired surrogate (\\ud800–\\udfff): not valid text")
    return value


# -- ASGI middlewares (pure ASGI, so streamed responses pass through untouched) -------------------
# Installed in bot/app.py, outermost first: SecurityHeaders, AddressLimits, BodyCap, JsonGuard.

TOO_LARGE = "Dạ, nội dung gửi lên quá lớn."
TOO_MANY = "Dạ, anh/chị gửi quá nhiều yêu cầu, vui lòng thử lại sau ít phút."
SERVER_ERROR = "Dạ, hệ thống đang gặp sự cố, anh/chị vui lòng thử lại sau."
# Pages have no inline script or style and load nothing from other origins.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def _answer(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A JSON error, closing the connection so a body the client still sends is never read."""
    response = JSONResponse({"error": message}, status_code=status, headers={**(headers or {}), "Connection": "close"})
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


class SecurityHeaders:
    """`nosniff` on every response; on HTML pages a strict CSP (unless the response set its own),
    no referrer and no framing. An unhandled error still answers with these headers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_POLICY)
                    headers.setdefault("Referrer-Policy", "no-referrer")
                    headers.setdefault("X-Frame-Options", "DENY")
                message = {**message, "headers": headers.raw}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:  # the server error middleware outside us sees the response started
                await _answer(send_with_headers, 500, SERVER_ERROR)
            raise


class AddressLimits:
    """RATE_LIMIT_IP requests a minute per client address, and RATE_LIMIT_NEW_CONVERSATIONS
    `POST /api/chat/session` a minute; webhooks (the platforms' own servers) and loopback clients
    are exempt."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/webhooks/"):
            address = self.limits.client_address(scope)
            if not is_loopback(address):
                try:
                    await self.limits.request(address)
                    if scope["method"] == "POST" and scope["path"] == "/api/chat/session":
                        await self.limits.new_conversation(address)
                except RateLimited as exc:
                    return await _answer(send, 429, TOO_MANY, {"Retry-After": str(exc.retry_after)})
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


class BodyCap:
    """Refuses a body over its route's cap with 413: from `Content-Length` before reading any of
    it, and a chunked one as soon as the cap is passed (nothing more is read)."""

    def __init__(self, app, default_cap: int, caps: dict[str, int]):
        self.app, self.default_cap, self.caps = app, default_cap, caps

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = self.caps.get(scope["path"], self.default_cap)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            return await _answer(send, 413, TOO_LARGE)
        received = 0
        over = started = False

        async def capped_receive() -> dict:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    over = True
                    raise _TooLarge
            return message

        async def send_unless_over(message) -> None:
            nonlocal started
            if over:  # the app's answer to a cut-off body is replaced by the 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, send_unless_over)
        except _TooLarge:
            pass
        if over and not started:
            await _answer(send, 413, TOO_LARGE)


class JsonGuard:
    """Every JSON body (or body without a content type, which FastAPI parses as JSON) goes through
    `parse_json` before any route sees it, so deep nesting and lone surrogates are a 4xx on routes
    whose body FastAPI parses too. Routes that call `parse_json` on their raw body themselves
    (`self_parsed`: the web chat, the webhooks) are let through, so no body is parsed twice. Runs
    inside BodyCap: the body it buffers is capped."""

    def __init__(self, app, self_parsed: tuple[str, ...] = ()):
        self.app, self.self_parsed = app, frozenset(self_parsed)

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or scope["path"] in self.self_parsed
            or not _json_like(scope)
        ):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                parse_json(body)
            except BadBody as exc:
                return await _answer(send, exc.status, exc.message)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _json_like(scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("", "application/json") or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )
