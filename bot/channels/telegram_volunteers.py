"""Volunteer notifications on Telegram (python-telegram-bot), where volunteers already are.

A new or re-queued request is posted to the volunteers' group (or one volunteer's chat) with a
masked preview and a "Nhận" button; pressing it claims the request for the volunteer whose
Telegram account is linked (`python -m bot volunteer add … --telegram-id`). The first press
wins; the others are told it is taken, and the button is taken away once anybody claims it.
A notice quotes the citizen (masked, contacts too), so it is edited to a neutral line when its
handoff ends, and when the citizen's data is deleted or reaches retention (`bot.privacy` marks
those; `neutralise_pending` edits them, on an event and in a periodic sweep).
Updates arrive on `POST /webhooks/telegram-volunteers`, checked against the secret token.
"""
from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, or_, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.channels.inbox import PermanentFailure
from bot.channels.telegram import with_retries
from bot.channels.telegram_webhook import read_update
from bot.events import CitizenDataDeleted, EventBus, HandoffChanged
from bot.handoff.service import REASONS, HandoffError, Handoffs
from bot.settings import Settings
from bot.storage.db import session_scope
from bot.storage.models import Handoff, KnowledgeEntry, Message, TelegramNotice, Volunteer
from bot.text.masking import mask_contacts

log = logging.getLogger(__name__)
CLAIM = "claim:"
PREVIEW_CHARS = 200
RECENT_MESSAGES = 3
NEEDS_A_VOLUNTEER = ("queued", "released", "expired")
ENDED = ("closed", "handed_back", "cancelled")
NEUTRAL = "Yêu cầu hỗ trợ #{number} đã kết thúc."


def notice_text(session, handoff: Handoff) -> str:
    recent = session.scalars(select(Message.text).where(
        Message.conversation_id == handoff.conversation_id, Message.direction == "in")
        .order_by(Message.id.desc()).limit(RECENT_MESSAGES)).all()
    entry = session.get(KnowledgeEntry, handoff.procedure_slug) if handoff.procedure_slug else None
    lines = [f"Yêu cầu hỗ trợ #{handoff.id}", f"Lý do: {REASONS.get(handoff.reason, handoff.reason)}",
             f"Kênh: {handoff.channel}"]
    if entry is not None:
        lines.append(f"Thủ tục: {entry.title}" + (f" (bước {handoff.guide_step})" if handoff.guide_step else ""))
    if recent:  # stored texts have their secrets masked; a group chat gets no phone or email either
        lines.append("Tin nhắn gần đây:")
        lines += [f"- {mask_contacts(text)[:PREVIEW_CHARS]}" for text in reversed(recent)]
    return "\n".join(lines)


class VolunteerTelegram:
    def __init__(self, settings: Settings, handoffs: Handoffs, bus: EventBus):
        self.chat_id = settings.volunteer_telegram_chat_id
        self.secret = settings.volunteer_telegram_secret
        self.console_url = f"{settings.public_url.rstrip('/')}/console" if settings.public_url else "/console"
        self.handoffs = handoffs
        self.application = (Application.builder().token(settings.volunteer_telegram_token)
                            .base_url(settings.telegram_api_url).updater(None).build())
        self.application.add_handler(CallbackQueryHandler(self.on_claim, pattern=rf"^{CLAIM}\d+$"))
        self._tasks: set[asyncio.Task] = set()
        bus.subscribe(HandoffChanged, self.on_change)
        bus.subscribe(CitizenDataDeleted, self.on_data_deleted)
        self.routes = APIRouter()
        self.routes.add_api_route("/webhooks/telegram-volunteers", self.webhook, methods=["POST"])

    async def start(self) -> None:
        await self.application.initialize()

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.application.shutdown()

    async def on_change(self, event: HandoffChanged) -> None:
        if event.kind in NEEDS_A_VOLUNTEER:
            self._in_background(self._announce(event.handoff_id))
        elif event.kind in ENDED:
            self._in_background(self.neutralise_pending())
        else:
            self._in_background(self._take_buttons_away(event.handoff_id))

    async def on_data_deleted(self, _: CitizenDataDeleted) -> None:
        self._in_background(self.neutralise_pending())

    def _in_background(self, job) -> None:
        """A slow Telegram must not hold up the citizen's turn."""
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("telegram volunteer notice failed: %r", task.exception())

    async def _announce(self, handoff_id: int) -> None:
        with session_scope() as session:
            text = notice_text(session, session.get(Handoff, handoff_id))
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Nhận", callback_data=f"{CLAIM}{handoff_id}")]])
        sent = await self.application.bot.send_message(self.chat_id, text, reply_markup=keyboard)
        with session_scope() as session:
            session.add(TelegramNotice(handoff_id=handoff_id, handoff_number=handoff_id, chat_id=str(sent.chat_id),
                                       message_id=sent.message_id))

    async def _take_buttons_away(self, handoff_id: int) -> None:
        """The notice itself stays (and its row) until the handoff ends."""
        with session_scope() as session:
            notices = session.scalars(select(TelegramNotice).where(TelegramNotice.handoff_id == handoff_id)).all()
        for notice in notices:
            try:
                await self.application.bot.edit_message_reply_markup(notice.chat_id, notice.message_id, reply_markup=None)
            except TelegramError as exc:  # deleted by a group admin, already edited: nothing to take away
                log.warning("could not take the claim button away from notice %s: %s", notice.message_id, exc)

    async def neutralise_pending(self) -> int:
        """Edit every notice of an ended handoff, or marked by bot.privacy, to a neutral line,
        then forget it; returns how many. Waits as Telegram says on 429; a notice that cannot be
        edited any more (deleted, bot removed from the group) is forgotten too. Safe to run on
        several replicas at once: an edit made twice is "message is not modified"."""
        with session_scope() as session:
            pending = session.scalars(
                select(TelegramNotice).outerjoin(Handoff, Handoff.id == TelegramNotice.handoff_id)
                .where(or_(TelegramNotice.neutralise, Handoff.ended_at.is_not(None))).order_by(TelegramNotice.id)).all()
        for done, notice in enumerate(pending):
            try:
                await self._neutralise(notice)
            except TelegramError as exc:  # still rate limited or unreachable: the next sweep goes on
                log.warning("neutralising notices paused: %s", exc)
                return done
            with session_scope() as session:
                session.execute(delete(TelegramNotice).where(TelegramNotice.id == notice.id))
        return len(pending)

    async def _neutralise(self, notice: TelegramNotice) -> None:
        text = NEUTRAL.format(number=notice.handoff_number)
        try:
            await with_retries(lambda: self.application.bot.edit_message_text(
                text, notice.chat_id, notice.message_id, reply_markup=None))
        except PermanentFailure as exc:
            if "message is not modified" not in str(exc):
                log.warning("notice %s cannot be neutralised, forgotten: %s", notice.message_id, exc)

    async def on_claim(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        handoff_id = int(query.data.removeprefix(CLAIM))
        with session_scope() as session:
            volunteer = session.scalar(select(Volunteer).where(
                Volunteer.telegram_user_id == str(query.from_user.id), Volunteer.active.is_(True)))
            volunteer_id = volunteer.id if volunteer else None
        if volunteer_id is None:
            await query.answer("Tài khoản Telegram này chưa được liên kết với bảng điều khiển tình nguyện viên.",
                               show_alert=True)
            return
        try:
            await self.handoffs.claim(handoff_id, volunteer_id)
        except HandoffError:
            await query.answer("Yêu cầu này đã có tình nguyện viên khác nhận.", show_alert=True)
            return
        await query.answer(f"Anh/chị đã nhận yêu cầu #{handoff_id}. Mở {self.console_url} để trò chuyện.")

    async def webhook(self, request: Request) -> JSONResponse:
        payload = await read_update(request, self.secret, "/webhooks/telegram-volunteers")
        if isinstance(payload, JSONResponse):
            return payload
        await self.application.process_update(Update.de_json(payload, self.application.bot))
        return JSONResponse({"ok": True})
