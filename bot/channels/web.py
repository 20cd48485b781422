"""Web chat: the page at `/`, `POST /api/chat` and a server-sent-events stream for later messages.

Contract (tools outside the repo use it):
- POST /api/chat/session (`{}` or no body) → {"sender_id": str}: a server-issued, signed id (see
  bot.channels.web_session), also set as an HttpOnly cookie for the page.
- POST /api/chat {"sender_id": str, "text": str, "message_id"?: str}
  → {"replies": [{"text": str, "buttons": [{"title": str, "payload": str}]}],
     "about": {"procedure": slug | null, "aspect": str | null, "outcome": str}};
  401 for an id the server did not issue, 429 (Retry-After) over the conversation's rate limit.
- GET /api/chat/stream: later messages, authenticated by the cookie or `Authorization: Bearer <id>`.
- POST /api/chat/end: "Kết thúc trò chuyện" (cookie, Bearer or body sender_id).
`about` is the turn's decision (bot.knowledge.decide). Sending a button's payload as `text` is
what clicking it does.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.web_session import WebSessions
from bot.events import EventBus, OutboundReady
from bot.http_guard import BadBody, parse_json
from bot.limits import RateLimited
from bot.messages import Inbound
from bot.rasa_client import RasaUnavailable
from bot.router import Delivery, Router
from bot.settings import Settings
from bot.storage import repo
from bot.storage.db import session_scope

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("web_static")
# Routes that read their raw body and parse it with parse_json themselves (JsonGuard lets them through).
SELF_PARSED = ("/api/chat", "/api/chat/session", "/api/chat/end")
CHANNEL = "web"
BUSY = "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ít phút ạ."
TOO_FAST = "Dạ, anh/chị nhắn nhanh quá, vui lòng đợi một chút rồi nhắn tiếp ạ."
NOT_ISSUED = ("sender_id was not issued by this server: open a conversation with POST /api/chat/session "
              "first and send the sender_id it returns")
NO_CREDENTIAL = ("no conversation credential: send the cookie set by POST /api/chat/session or "
                 "'Authorization: Bearer <sender_id>' (an id in the URL is not accepted)")
DOCUMENTED = {
    401: {"description": "the sender_id was not issued by this server"},
    413: {"description": "the body or text is too long"},
    422: {"description": "the body is not the expected JSON"},
    429: {"description": "too many messages in this conversation; see Retry-After"},
    503: {"description": "the assistant is unavailable; the body still carries a reply to show"},
}


class ChatRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    sender_id: str = Field(min_length=1, max_length=128)
    text: str
    message_id: str | None = Field(default=None, max_length=128)


class EndRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    sender_id: str | None = Field(default=None, min_length=1, max_length=128)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


class WebChannel:
    def __init__(self, router: Router, bus: EventBus, settings: Settings, heartbeat_s: float = 15.0):
        self.router = router
        self.max_chars = settings.max_message_chars
        self.heartbeat_s = heartbeat_s
        self.sessions = WebSessions(settings)
        self._streams: dict[str, set[asyncio.Queue]] = defaultdict(set)
        bus.subscribe(OutboundReady, self._deliver, live_view=True)
        self.routes = APIRouter()
        self.routes.add_api_route("/", self.page, methods=["GET"], include_in_schema=False)
        self.routes.add_api_route("/api/chat/session", self.open_session, methods=["POST"],
                                  responses={422: DOCUMENTED[422], 429: DOCUMENTED[429]})
        self.routes.add_api_route("/api/chat/session", self.current_session, methods=["GET"],
                                  responses={401: {"description": "no valid conversation cookie"}})
        self.routes.add_api_route("/api/chat", self.chat, methods=["POST"], responses=DOCUMENTED)
        self.routes.add_api_route("/api/chat/stream", self.stream, methods=["GET"],
                                  responses={401: {"description": NO_CREDENTIAL}})
        self.routes.add_api_route("/api/chat/end", self.end, methods=["POST"],
                                  responses={401: DOCUMENTED[401], 422: DOCUMENTED[422]})

    async def page(self) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def open_session(self, request: Request) -> JSONResponse:
        """A new conversation: its id in the body (for tools) and in an HttpOnly cookie (for the page)."""
        raw = await request.body()
        try:
            body = parse_json(raw) if raw.strip() else {}
        except BadBody as exc:
            return _error(exc.status, exc.message)
        if not isinstance(body, dict):
            return _error(422, "body must be a JSON object ({}) or empty")
        sender_id = self.sessions.issue()
        response = JSONResponse({"sender_id": sender_id})
        self.sessions.set_cookie(response, sender_id)
        return response

    async def current_session(self, request: Request) -> JSONResponse:
        """The page's conversation kept in its cookie, so a reload or a new tab continues it."""
        sender_id = self.sessions.from_request(request)
        return JSONResponse({"sender_id": sender_id}) if sender_id else _error(401, NO_CREDENTIAL)

    async def chat(self, request: Request) -> JSONResponse:
        raw = await request.body()  # capped by the gateway's BodyCap (body_caps)
        try:
            chat = ChatRequest.model_validate(parse_json(raw))
        except BadBody as exc:
            return _error(exc.status, exc.message)
        except ValidationError as exc:
            return _error(422, _problems(exc))
        if len(chat.text) > self.max_chars:
            return _error(413, f"text is too long: {len(chat.text)} characters, at most {self.max_chars}")
        if not self.sessions.is_issued(chat.sender_id):
            return _error(401, NOT_ISSUED)
        try:
            handled = await self.router.handle(
                Inbound(CHANNEL, chat.sender_id, chat.text, chat.message_id), replies_in_response=True
            )
        except RateLimited as exc:
            return JSONResponse({"replies": [{"text": TOO_FAST, "buttons": []}], "error": "rate limited"},
                                status_code=429, headers={"Retry-After": str(exc.retry_after)})
        except RasaUnavailable as exc:
            log.error("rasa unavailable: %s", exc)
            return JSONResponse({"replies": [{"text": BUSY, "buttons": []}]}, status_code=503)
        return JSONResponse({"replies": [d.outbound.as_dict() for d in handled.deliveries], "about": handled.about})

    async def end(self, request: Request) -> JSONResponse:
        """"Kết thúc trò chuyện" on a shared device: the conversation closes on the server, any wait
        for a volunteer is cancelled and the page's cookie is cleared."""
        raw = await request.body()
        try:
            body = EndRequest.model_validate(parse_json(raw) if raw.strip() else {})
        except BadBody as exc:
            return _error(exc.status, exc.message)
        except ValidationError as exc:
            return _error(422, _problems(exc))
        sender_id = body.sender_id if body.sender_id is not None else self.sessions.from_request(request)
        if sender_id is None or not self.sessions.is_issued(sender_id):
            return _error(401, NOT_ISSUED)
        await self.router.end_conversation(CHANNEL, sender_id)
        response = JSONResponse({"ended": True})
        self.sessions.clear_cookie(response)
        return response

    async def stream(self, request: Request) -> Response:
        """Messages that arrive later (a volunteer's reply) for one browser, as server-sent events.
        Messages written while no page was open are delivered first, once."""
        sender_id = self.sessions.from_request(request)
        if sender_id is None:
            return _error(401, NO_CREDENTIAL)
        queue: asyncio.Queue = asyncio.Queue()
        self._streams[sender_id].add(queue)  # before reading the backlog, so nothing falls in between
        with session_scope() as session:
            backlog = [(m.id, {**repo.as_outbound(m).as_dict(), "author": m.author})
                       for m in repo.pending_outbound(session, CHANNEL, sender_id)]
            repo.set_status(session, [message_id for message_id, _ in backlog], "sent")

        async def events():
            delivered = set()
            try:
                yield ": connected\n\n"
                for message_id, payload in backlog:
                    delivered.add(message_id)
                    yield f"event: message\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
                while True:
                    try:
                        message_id, payload = await asyncio.wait_for(queue.get(), self.heartbeat_s)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if message_id not in delivered:
                        yield f"event: message\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
            finally:
                self._streams[sender_id].discard(queue)
                if not self._streams[sender_id]:
                    del self._streams[sender_id]

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def _deliver(self, event: OutboundReady) -> None:
        if event.channel != CHANNEL:
            return
        queues = self._streams.get(event.user_id, set())
        for queue in queues:
            queue.put_nowait((event.message_id, {**event.outbound.as_dict(), "author": event.outbound.author}))
        if queues:
            self.router.mark_sent([Delivery(event.message_id, event.outbound)])
