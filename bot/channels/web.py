"""Web chat: the page at `/`, `POST /api/chat` and a server-sent-events stream for later messages.

Contract (tools outside the repo use it):
- POST /api/chat/session (`{}` or no body) → {"sender_id": str}: a server-issued, signed id (see
  bot.channels.web_session), also set as an HttpOnly cookie for the page.
- POST /api/chat {"sender_id": str, "text": str, "message_id"?: str}
  → {"replies": [{"text": str, "buttons": [{"title": str, "payload": str}]}],
     "about": {"procedure": slug | null, "aspect": str | null, "outcome": str}};
  401 for an id the server did not issue, 429 (Retry-After) over the conversation's rate limit.
- GET /api/chat/stream: later messages (a volunteer's, a notice, an answer that was delayed) as
  server-sent events `id: <message id>` + `event: message` + `data: {"text", "buttons", "author"}`,
  authenticated by the cookie or `Authorization: Bearer <id>`. Every (re)connection first sends all
  messages not acknowledged yet, so a client de-duplicates by id.
- POST /api/chat/ack {"ids": [int, …]} (at most 100; cookie or Bearer) → {"acknowledged": int}: the
  client has shown these messages of its own conversation; only then do they count as delivered.
- POST /api/chat/end: "Kết thúc trò chuyện" (cookie, Bearer or body sender_id).
`about` is the turn's decision (bot.knowledge.decide); while the assistant is unavailable the
message is kept, the reply says the answer is coming (outcome "deferred") and the answer arrives
later on the stream. Sending a button's payload as `text` is what clicking it does.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import ValidationError

from bot.channels.web_schemas import (
    Acknowledged,
    AckRequest,
    ChatAnswer,
    ChatRequest,
    Ended,
    EndRequest,
    OpenSession,
    Session,
    TooFast,
)
from bot.channels.web_session import WebSessions
from bot.delivery.outbox import Outbox
from bot.events import EventBus, LiveEventsResumed, OutboundReady
from bot.http_guard import BadBody, parse_json
from bot.limits import RateLimited
from bot.messages import Inbound, Outbound
from bot.openapi import Problem, json_body, not_json
from bot.router import Router
from bot.settings import Settings
from bot.sse import CONNECTED, event_stream

STATIC = Path(__file__).with_name("web_static")
# Routes that read their raw body and parse it with parse_json themselves (JsonGuard lets them through).
SELF_PARSED = ("/api/chat", "/api/chat/session", "/api/chat/end", "/api/chat/ack")
CHANNEL = "web"
TOO_FAST = "Dạ, anh/chị nhắn nhanh quá, vui lòng đợi một chút rồi nhắn tiếp ạ."
NOT_ISSUED = (
    "sender_id was not issued by this server: open a conversation with POST /api/chat/session "
    "first and send the sender_id it returns"
)
NO_CREDENTIAL = (
    "no conversation credential: send the cookie set by POST /api/chat/session or "
    "'Authorization: Bearer <sender_id>' (an id in the URL is not accepted)"
)
DOCUMENTED = {
    401: {"description": "the sender_id was not issued by this server", "model": Problem},
    413: {"description": "the body or text is too long", "model": Problem},
    422: {"description": "the body is not the expected JSON", "model": Problem},
    429: {"description": "too many messages in this conversation; see Retry-After", "model": TooFast},
}
NO_CREDENTIAL_DOC = {"description": NO_CREDENTIAL, "model": Problem}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


class WebChannel:
    def __init__(self, router: Router, outbox: Outbox, bus: EventBus, settings: Settings, heartbeat_s: float = 15.0):
        self.router = router
        self.outbox = outbox
        self.max_chars = settings.max_message_chars
        self.heartbeat_s = heartbeat_s
        self.sessions = WebSessions(settings)
        self._streams: dict[str, set[asyncio.Queue]] = defaultdict(set)
        bus.subscribe(OutboundReady, self._deliver, live_view=True)
        bus.subscribe(LiveEventsResumed, self._catch_up)
        self.routes = APIRouter()
        self.routes.add_api_route("/", self.page, methods=["GET"], include_in_schema=False)
        # The routes read and validate their bodies themselves (json_body shows them in the OpenAPI).
        self.routes.add_api_route(
            "/api/chat/session",
            self.open_session,
            methods=["POST"],
            response_model=Session,
            openapi_extra=json_body(OpenSession, required=False),
            responses={
                422: DOCUMENTED[422],
                429: {"description": "too many new conversations from this address", "model": Problem},
            },
        )
        self.routes.add_api_route(
            "/api/chat/session",
            self.current_session,
            methods=["GET"],
            response_model=Session,
            responses={401: {"description": "no valid conversation cookie", "model": Problem}},
        )
        self.routes.add_api_route(
            "/api/chat",
            self.chat,
            methods=["POST"],
            response_model=ChatAnswer,
            openapi_extra=json_body(ChatRequest),
            responses=DOCUMENTED,
        )
        self.routes.add_api_route(
            "/api/chat/stream", self.stream, methods=["GET"], **not_json("text/event-stream", {401: NO_CREDENTIAL_DOC})
        )
        self.routes.add_api_route(
            "/api/chat/ack",
            self.acknowledge,
            methods=["POST"],
            response_model=Acknowledged,
            openapi_extra=json_body(AckRequest),
            responses={401: NO_CREDENTIAL_DOC, 413: DOCUMENTED[413], 422: DOCUMENTED[422]},
        )
        self.routes.add_api_route(
            "/api/chat/end",
            self.end,
            methods=["POST"],
            response_model=Ended,
            openapi_extra=json_body(EndRequest, required=False),
            responses={401: DOCUMENTED[401], 422: DOCUMENTED[422]},
        )

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
            return JSONResponse(
                {"replies": [{"text": TOO_FAST, "buttons": []}], "error": "rate limited"},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        return JSONResponse({"replies": [d.outbound.as_dict() for d in handled.deliveries], "about": handled.about})

    async def end(self, request: Request) -> JSONResponse:
        """ "Kết thúc trò chuyện" on a shared device: the conversation closes on the server, any wait
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
        What the page has not acknowledged yet (written while no page was open, or lost with a
        dropped connection) comes first, on every connection."""
        sender_id = self.sessions.from_request(request)
        if sender_id is None:
            return _error(401, NO_CREDENTIAL)
        queue: asyncio.Queue = asyncio.Queue()
        self._streams[sender_id].add(queue)  # before reading the backlog, so nothing falls in between
        backlog = self.outbox.unacknowledged(CHANNEL, sender_id)

        async def events():
            delivered = set()
            try:
                yield CONNECTED
                for message_id, outbound in backlog:
                    delivered.add(message_id)
                    yield _event(message_id, outbound)
                while True:
                    message_id, outbound = await queue.get()
                    if message_id not in delivered:  # each message once per connection
                        delivered.add(message_id)
                        yield _event(message_id, outbound)
            finally:
                self._streams[sender_id].discard(queue)
                if not self._streams[sender_id]:
                    del self._streams[sender_id]

        return event_stream(events(), self.heartbeat_s)

    async def acknowledge(self, request: Request) -> JSONResponse:
        """The page has shown these messages: now they count as delivered."""
        sender_id = self.sessions.from_request(request)
        if sender_id is None:
            return _error(401, NO_CREDENTIAL)
        try:
            ack = AckRequest.model_validate(parse_json(await request.body()))
        except BadBody as exc:
            return _error(exc.status, exc.message)
        except ValidationError as exc:
            return _error(422, _problems(exc))
        return JSONResponse({"acknowledged": self.outbox.acknowledge(CHANNEL, sender_id, ack.ids)})

    async def _deliver(self, event: OutboundReady) -> None:
        """Sent to the open pages; marked sent only when one acknowledges it."""
        if event.channel == CHANNEL:
            for queue in self._streams.get(event.user_id, set()):
                queue.put_nowait((event.message_id, event.outbound))

    async def _catch_up(self, _: LiveEventsResumed) -> None:
        """Live events from the other replicas were lost for a while: every open page gets what it
        has not acknowledged (it shows each message once, by id)."""
        for sender_id, queues in list(self._streams.items()):
            for message_id, outbound in await asyncio.to_thread(self.outbox.unacknowledged, CHANNEL, sender_id):
                for queue in queues:
                    queue.put_nowait((message_id, outbound))


def _event(message_id: int, outbound: Outbound) -> dict:
    return {
        "id": str(message_id),
        "event": "message",
        "data": json.dumps({**outbound.as_dict(), "author": outbound.author}, ensure_ascii=False),
    }
