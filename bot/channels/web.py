"""Web chat: the page at `/`, `POST /api/chat` and a server-sent-events stream for later messages.

Contract (tools outside the repo use it): POST /api/chat {"sender_id": str, "text": str}
→ {"replies": [{"text": str, "buttons": [{"title": str, "payload": str}]}],
   "about": {"procedure": slug | null, "aspect": str | null, "outcome": str}}.
`about` is the turn's decision (bot.knowledge.decide). Sending a button's payload as `text` is
what clicking it does.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.events import EventBus, OutboundReady
from bot.messages import Inbound
from bot.rasa_client import RasaUnavailable
from bot.router import Delivery, Router
from bot.storage import repo
from bot.storage.db import session_scope

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("web_static")
CHANNEL = "web"
BUSY = "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ít phút ạ."


class ChatRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    sender_id: str = Field(min_length=1, max_length=128)
    text: str
    message_id: str | None = Field(default=None, max_length=128)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class WebChannel:
    def __init__(self, router: Router, bus: EventBus, max_chars: int, heartbeat_s: float = 15.0):
        self.router = router
        self.max_chars = max_chars
        self.heartbeat_s = heartbeat_s
        self._streams: dict[str, set[asyncio.Queue]] = defaultdict(set)
        bus.subscribe(OutboundReady, self._deliver, live_view=True)
        self.routes = APIRouter()
        self.routes.add_api_route("/", self.page, methods=["GET"], include_in_schema=False)
        self.routes.add_api_route("/api/chat", self.chat, methods=["POST"])
        self.routes.add_api_route("/api/chat/stream", self.stream, methods=["GET"])

    async def page(self) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def chat(self, request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > self.max_chars * 4 + 1024:  # UTF-8 takes at most 4 bytes a character
            return _error(413, f"body too large: text is limited to {self.max_chars} characters")
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return _error(400, "body is not valid UTF-8")
        except json.JSONDecodeError as exc:
            return _error(400, f"body is not valid JSON: {exc.msg}")
        try:
            chat = ChatRequest.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            return _error(422, problems)
        if len(chat.text) > self.max_chars:
            return _error(413, f"text is too long: {len(chat.text)} characters, at most {self.max_chars}")
        try:
            handled = await self.router.handle(
                Inbound(CHANNEL, chat.sender_id, chat.text, chat.message_id), replies_in_response=True
            )
        except RasaUnavailable as exc:
            log.error("rasa unavailable: %s", exc)
            return JSONResponse({"replies": [{"text": BUSY, "buttons": []}]}, status_code=503)
        return JSONResponse({"replies": [d.outbound.as_dict() for d in handled.deliveries], "about": handled.about})

    async def stream(self, sender_id: str = Query(min_length=1, max_length=128)) -> StreamingResponse:
        """Messages that arrive later (a volunteer's reply) for one browser, as server-sent events.
        Messages written while no page was open are delivered first, once."""
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
