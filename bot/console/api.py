"""The volunteer console: the page at `/console` and its JSON API under `/console/api`.

Every route needs a logged-in session (cookie) and every change the session's CSRF token in the
`X-CSRF-Token` header. Routes are thin: the handoff state machine decides, the outbox delivers.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select

from bot.console import auth, report
from bot.console.media import media_response
from bot.console.schemas import (
    MAX_ROW_ID,
    Close,
    DraftAnswer,
    FaqDraftBody,
    HandBack,
    HandoffAnswer,
    Login,
    NeedsConfirm,
    Note,
    NoteAnswer,
    Profile,
    Queue,
    Sent,
    Status,
    Transfer,
    VolunteerMessage,
)
from bot.console.stream import ConsoleStream, message_view
from bot.delivery.outbox import Outbox
from bot.handoff.desk import volunteers_online
from bot.handoff.service import OUTCOMES, REASONS, HandoffError, Handoffs
from bot.knowledge.schema import Procedure
from bot.knowledge.store import canned_replies
from bot.messages import MediaUnavailable, Outbound
from bot.openapi import Ok, Problem, not_json
from bot.settings import Settings
from bot.sse import event_stream
from bot.storage.db import session_scope
from bot.storage.models import (
    Citizen,
    Conversation,
    FaqDraft,
    Handoff,
    HandoffNote,
    KnowledgeEntry,
    Message,
    Volunteer,
    as_utc,
    utcnow,
)
from bot.text.masking import asks_for_secret, mask, mask_contacts

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
SECRET_WARNING = (
    "Tin nhắn này có nhắc đến mật khẩu, mã OTP hoặc số giấy tờ. Tình nguyện viên không bao giờ "
    "xin những thông tin này; người dân tự nhập trên máy của mình. Anh/chị kiểm tra lại trước khi gửi."
)
PREVIEW_CHARS = 140
MediaFetcher = Callable[[str], Awaitable[tuple[bytes, str]]]
RowId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]
Month = Annotated[str | None, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")]  # a month the report can span
# A channel's rule on when it can still reach the citizen: (last inbound message, now) → what the
# volunteer is told, or None (Zalo's 48 h / 7-day windows, bot.channels.zalo.answer_window).
WindowRule = Callable[[dt.datetime | None, dt.datetime], str | None]
NOT_DELIVERED = "Tin nhắn chưa gửi được tới người dân qua {channel}. Anh/chị thử lại sau hoặc ghi chú lại."


def _seconds_since(value: dt.datetime) -> int:
    return int((utcnow() - as_utc(value)).total_seconds())


class Console:
    def __init__(
        self,
        outbox: Outbox,
        handoffs: Handoffs,
        stream: ConsoleStream,
        settings: Settings,
        media_fetchers: dict[str, MediaFetcher] | None = None,
        windows: dict[str, WindowRule] | None = None,
    ):
        self.outbox = outbox
        self.media_fetchers = media_fetchers or {}
        self.windows = windows or {}
        self.handoffs = handoffs
        self.stream = stream
        self.settings = settings
        self.routes = APIRouter(prefix="/console")
        add = self.routes.add_api_route
        add("", self.page, methods=["GET"], include_in_schema=False)
        add("/report", self.report_page, methods=["GET"], include_in_schema=False)
        refused = {
            401: {"description": "wrong username or password", "model": Problem},
            429: {"description": "too many failed logins; see Retry-After", "model": Problem},
        }
        add("/api/login", self.login, methods=["POST"], response_model=Profile, responses=refused)
        add("/api/logout", self.logout, methods=["POST"], response_model=Ok)
        add("/api/me", self.me, methods=["GET"], response_model=Profile)
        add("/api/status", self.status, methods=["POST"], response_model=Status)
        add("/api/queue", self.queue, methods=["GET"], response_model=Queue)
        add("/api/events", self.events, methods=["GET"], **not_json("text/event-stream"))
        add("/api/report.csv", self.report_csv, methods=["GET"], **not_json("text/csv"))
        # exclude_unset: a message without media has no "media" key (rather than null)
        add(
            "/api/handoffs/{handoff_id}",
            self.handoff,
            methods=["GET"],
            response_model=HandoffAnswer,
            response_model_exclude_unset=True,
        )
        add("/api/messages/{message_id}/media", self.media, methods=["GET"], **not_json("application/octet-stream"))
        add(
            "/api/handoffs/{handoff_id}/claim",
            self.claim,
            methods=["POST"],
            response_model=HandoffAnswer,
            response_model_exclude_unset=True,
        )
        add(
            "/api/handoffs/{handoff_id}/messages",
            self.send,
            methods=["POST"],
            response_model=Sent,
            responses={
                409: {
                    "description": "the text seems to ask for a secret: send again with confirm",
                    "model": NeedsConfirm,
                },
                502: {"description": "the citizen's channel refused the message", "model": Problem},
            },
        )
        add("/api/handoffs/{handoff_id}/notes", self.note, methods=["POST"], response_model=NoteAnswer)
        add("/api/handoffs/{handoff_id}/transfer", self.transfer, methods=["POST"], response_model=Ok)
        add("/api/handoffs/{handoff_id}/release", self.release, methods=["POST"], response_model=Ok)
        add("/api/handoffs/{handoff_id}/hand-back", self.hand_back, methods=["POST"], response_model=Ok)
        add("/api/handoffs/{handoff_id}/close", self.close, methods=["POST"], response_model=Ok)
        add("/api/handoffs/{handoff_id}/faq-draft", self.faq_draft, methods=["POST"], response_model=DraftAnswer)

    # -- pages and session --------------------------------------------------------------------

    async def page(self) -> FileResponse:
        return FileResponse(STATIC / "console.html")

    @staticmethod
    def _profile(session, volunteer: Volunteer, csrf: str) -> dict:
        """Canned replies are read from the live knowledge each time: staff edit them in /admin."""
        canned = [reply.model_dump() for reply in canned_replies(session).replies]
        return {
            "id": volunteer.id,
            "name": volunteer.display_name,
            "role": volunteer.role,
            "online": volunteer.online,
            "csrf": csrf,
            "must_change_password": volunteer.must_change_password,
            "outcomes": [{"key": k, "label": v} for k, v in OUTCOMES.items()],
            "canned": canned,
        }

    async def login(self, body: Login, request: Request) -> JSONResponse:
        limits = request.app.state.limits
        address = limits.client_address(request.scope)
        # checked before hashing, so a flood against one account costs no hashes
        if (retry_after := await limits.login_allowed(body.username, address)) is not None:
            return JSONResponse(
                {"error": "Dạ, đăng nhập sai quá nhiều lần, anh/chị vui lòng thử lại sau ít phút."},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        found = await auth.authenticate(body.username, body.password)
        if found is None:
            await limits.login_failed(body.username, address)
            return JSONResponse({"error": "Sai tên đăng nhập hoặc mật khẩu."}, status_code=401)
        with session_scope() as session:
            volunteer = session.get(Volunteer, found.id)
            token, csrf = auth.open_session(session, volunteer, self.settings.console_session_hours)
            response = JSONResponse(self._profile(session, volunteer, csrf))
        # Path=/ so the same login opens the staff pages at /admin
        response.set_cookie(
            auth.COOKIE,
            token,
            max_age=int(self.settings.console_session_hours * 3600),
            httponly=True,
            samesite="strict",
            secure=self.settings.secure_cookies,
            path="/",
        )
        return response

    async def logout(self, request: Request) -> JSONResponse:
        with session_scope() as session:
            auth.principal_of(session, request)
            auth.close_session(session, request.cookies[auth.COOKIE])
        response = JSONResponse({"ok": True})
        response.delete_cookie(auth.COOKIE, path="/")
        return response

    async def me(self, request: Request) -> dict:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            return self._profile(session, session.get(Volunteer, principal.volunteer_id), principal.csrf)

    async def status(self, body: Status, request: Request) -> dict:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            session.get(Volunteer, principal.volunteer_id).online = body.online
        return {"online": body.online}

    # -- queue ----------------------------------------------------------------------------------

    async def queue(self, request: Request) -> dict:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            queued = session.scalars(
                select(Handoff).where(Handoff.status == "queued").order_by(Handoff.requested_at)
            ).all()
            mine = session.scalars(
                select(Handoff)
                .where(Handoff.status == "claimed", Handoff.volunteer_id == principal.volunteer_id)
                .order_by(Handoff.claimed_at)
            ).all()
            online = volunteers_online(session, utcnow())
            return {
                "queued": [self._summary(session, h) for h in queued],
                "mine": [self._summary(session, h) for h in mine],
                "volunteers": [{"id": v.id, "name": v.display_name, "online": True} for v in online],
            }

    @staticmethod
    def _summary(session, handoff: Handoff) -> dict:
        last = session.scalar(
            select(Message)
            .where(Message.conversation_id == handoff.conversation_id, Message.direction == "in")
            .order_by(Message.id.desc())
        )
        entry = session.get(KnowledgeEntry, handoff.procedure_slug) if handoff.procedure_slug else None
        holder = session.get(Volunteer, handoff.volunteer_id) if handoff.volunteer_id else None
        return {
            "id": handoff.id,
            "channel": handoff.channel,
            "reason": handoff.reason,
            "reason_label": REASONS.get(handoff.reason, handoff.reason),
            "preview": (mask_contacts(last.text)[:PREVIEW_CHARS] if last else ""),
            "waiting_s": _seconds_since(handoff.requested_at),
            "procedure_title": entry.title if entry else None,
            "left_question": handoff.left_question,
            "volunteer_name": holder.display_name if holder else None,
        }

    async def events(self, request: Request) -> Response:
        """The stream sends its own heartbeats (each re-checks the session)."""
        with session_scope() as session:
            principal = auth.principal_of(session, request)
        return event_stream(self.stream.events(principal.volunteer_id, principal.can("staff"), principal.csrf))

    # -- one handoff ------------------------------------------------------------------------------

    async def handoff(self, handoff_id: RowId, request: Request) -> dict:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            handoff = self._visible(session, handoff_id, principal)
            return {"handoff": self._detail(session, handoff)}

    @staticmethod
    def _visible(session, handoff_id: int, principal: auth.Principal) -> Handoff:
        """Volunteers see waiting requests and their own; staff see all."""
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            raise HTTPException(404, "Không tìm thấy yêu cầu hỗ trợ.")
        if not (handoff.status == "queued" or handoff.volunteer_id == principal.volunteer_id or principal.can("staff")):
            raise HTTPException(403, "Yêu cầu này do tình nguyện viên khác hỗ trợ.")
        return handoff

    def _detail(self, session, handoff: Handoff) -> dict:
        summary = self._summary(session, handoff)
        entry = session.get(KnowledgeEntry, handoff.procedure_slug) if handoff.procedure_slug else None
        procedure = None
        if entry is not None and entry.kind == "procedure":
            steps = Procedure.model_validate(entry.data).steps
            procedure = {
                "slug": entry.slug,
                "title": entry.title,
                "steps": [{"number": i, "title": s.title} for i, s in enumerate(steps, 1)],
            }
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == handoff.conversation_id, Message.created_at >= handoff.requested_at)
            .order_by(Message.id)
        ).all()
        notes = session.execute(
            select(HandoffNote, Volunteer.display_name)
            .join(Volunteer)
            .where(HandoffNote.handoff_id == handoff.id)
            .order_by(HandoffNote.id)
        ).all()
        holder = session.get(Volunteer, handoff.volunteer_id) if handoff.volunteer_id else None
        return {
            **summary,
            "status": handoff.status,
            "guide_step": handoff.guide_step,
            "procedure": procedure,
            "volunteer": {"id": holder.id, "name": holder.display_name} if holder else None,
            "packet": handoff.packet,
            "messages": [message_view(m) for m in messages],
            "notes": [
                {"author": name, "text": note.text, "at": as_utc(note.created_at).isoformat()} for note, name in notes
            ],
            "channel_window": self._channel_window(session, handoff),
        }

    def _channel_window(self, session, handoff: Handoff) -> str | None:
        rule = self.windows.get(handoff.channel)
        if rule is None:
            return None
        last = session.get(Citizen, session.get(Conversation, handoff.conversation_id).citizen_id).last_inbound_at
        return rule(as_utc(last) if last else None, utcnow())

    async def media(self, message_id: RowId, request: Request) -> Response:
        """A photo or file the citizen sent, fetched from their channel for the volunteer who may
        see the conversation; the channel's content type only names the download (bot.console.media)."""
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            message = session.get(Message, message_id)
            if message is None or not message.media or message.direction != "in":
                raise HTTPException(404, "Không tìm thấy tệp.")
            handoff = session.scalar(
                select(Handoff).where(Handoff.conversation_id == message.conversation_id).order_by(Handoff.id.desc())
            )
            if handoff is None:
                raise HTTPException(404, "Không tìm thấy tệp.")
            self._visible(session, handoff.id, principal)
            fetch, ref = self.media_fetchers.get(message.channel), message.media.get("ref")
        if fetch is None or not ref:
            raise HTTPException(404, "Kênh này không cho tải tệp.")
        try:
            content, content_type = await fetch(ref)
        except MediaUnavailable as exc:
            log.warning("media of message %d unavailable: %s", message_id, exc)
            raise HTTPException(502, "Không tải được tệp từ kênh của người dân, anh/chị thử lại sau.") from exc
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
        return media_response(content, f"tệp-{message_id}{extension}")

    async def claim(self, handoff_id: RowId, request: Request) -> dict:
        principal = self._principal(request)
        await self._act(self.handoffs.claim(handoff_id, principal.volunteer_id))
        return await self.handoff(handoff_id, request)

    async def send(self, handoff_id: RowId, body: VolunteerMessage, request: Request) -> JSONResponse:
        principal = self._principal(request)
        if asks_for_secret(body.text) and not body.confirm:
            return JSONResponse({"warning": SECRET_WARNING, "needs_confirm": True}, status_code=409)
        with session_scope() as session:
            try:
                handoff = self.handoffs.record_reply(session, handoff_id, principal.volunteer_id)
            except HandoffError as exc:
                raise HTTPException(exc.status, str(exc)) from exc
            conversation = session.get(Conversation, handoff.conversation_id)
            citizen = session.get(Citizen, conversation.citizen_id)
            channel, user_id, conversation_id = citizen.channel, citizen.channel_user_id, conversation.id
        delivery = await self.outbox.push(
            channel, user_id, Outbound(body.text.strip(), author="volunteer"), conversation_id
        )
        with session_scope() as session:
            message = session.get(Message, delivery.message_id)
            if message.status == "failed":  # the channel refused it (e.g. Zalo's 7-day window)
                return JSONResponse({"error": NOT_DELIVERED.format(channel=channel.capitalize())}, status_code=502)
            return JSONResponse({"message": message_view(message)})

    async def note(self, handoff_id: RowId, body: Note, request: Request) -> dict:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            self._visible(session, handoff_id, principal)
            note = self.handoffs.add_note(session, handoff_id, principal.volunteer_id, body.text.strip())
            return {"note": {"author": principal.name, "text": note.text, "at": as_utc(note.created_at).isoformat()}}

    async def transfer(self, handoff_id: RowId, body: Transfer, request: Request) -> dict:
        principal = self._principal(request)
        await self._act(self.handoffs.transfer(handoff_id, principal.volunteer_id, body.volunteer_id))
        return {"ok": True}

    async def release(self, handoff_id: RowId, request: Request) -> dict:
        principal = self._principal(request)
        await self._act(self.handoffs.release(handoff_id, principal.volunteer_id))
        return {"ok": True}

    async def hand_back(self, handoff_id: RowId, body: HandBack, request: Request) -> dict:
        principal = self._principal(request)
        await self._act(self.handoffs.hand_back(handoff_id, principal.volunteer_id, body.step))
        return {"ok": True}

    async def close(self, handoff_id: RowId, body: Close, request: Request) -> dict:
        principal = self._principal(request)
        await self._act(self.handoffs.close(handoff_id, principal.volunteer_id, body.outcome))
        return {"ok": True}

    async def faq_draft(self, handoff_id: RowId, body: FaqDraftBody, request: Request) -> dict:
        """Send a reply to the staff's inbox as a FAQ draft, with its conversation: the volunteer
        holding the handoff, or staff. Both texts are masked (the question is the citizen's)."""
        with session_scope() as session:
            principal = auth.principal_of(session, request)
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                raise HTTPException(404, "Không tìm thấy yêu cầu hỗ trợ.")
            if handoff.volunteer_id != principal.volunteer_id and not principal.can("staff"):
                raise HTTPException(403, "Yêu cầu này do tình nguyện viên khác hỗ trợ.")
            draft = FaqDraft(
                conversation_id=handoff.conversation_id,
                slug=body.slug or handoff.procedure_slug,
                question=mask(body.question.strip()).text,
                answer=mask(body.answer.strip()).text,
                volunteer_id=principal.volunteer_id,
            )
            session.add(draft)
            session.flush()
            return {"draft": {"id": draft.id}}

    # -- report ---------------------------------------------------------------------------------

    async def report_page(self, request: Request, month: Month = None) -> Response:
        self._principal(request, "staff")
        with session_scope() as session:
            month = month or report.this_month()
            return Response(report.html(report.activity(session, month), month), media_type="text/html")

    async def report_csv(self, request: Request, month: Month = None) -> Response:
        self._principal(request, "staff")
        month = month or report.this_month()
        with session_scope() as session:
            body = report.csv_text(report.activity(session, month))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="hoat-dong-{month}.csv"'},
        )

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _principal(request: Request, role: str = "volunteer") -> auth.Principal:
        with session_scope() as session:
            principal = auth.principal_of(session, request)
        if not principal.can(role):
            raise HTTPException(403, "Anh/chị không có quyền xem trang này.")
        return principal

    @staticmethod
    async def _act(transition) -> None:
        try:
            await transition
        except HandoffError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
