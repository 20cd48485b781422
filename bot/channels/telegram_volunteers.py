"""Volunteer notifications on Telegram (python-telegram-bot), where volunteers already are.

A new or re-queued request is posted to the volunteers' group (or one volunteer's chat) with a
masked preview and a "Nhận" button; pressing it claims the request for the volunteer whose
Telegram account is linked (`python -m bot volunteer add … --telegram-id`). The first press
wins; the others are told it is taken, and the button is taken away once anybody claims it.
A notice quotes the citizen, so it is edited to a neutral line when its handoff ends, and when the
citizen's data is deleted or reaches retention (`neutralise_pending`, on an event and in a periodic
sweep). What a notice says and which notices are kept is `bot.handoff.notices`'s business.
Updates arrive on `POST /webhooks/telegram-volunteers`, checked against the secret token.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from bot.channels.telegram import build_application, with_retries
from bot.channels.telegram_webhook import read_update
from bot.delivery.outbox import PermanentFailure
from bot.events import CitizenDataDeleted, EventBus, HandoffChanged
from bot.handoff import notices
from bot.handoff.service import HandoffError, Handoffs
from bot.settings import Settings

log = logging.getLogger(__name__)
CLAIM = "claim:"
NEEDS_A_VOLUNTEER = ("queued", "released", "expired")
ENDED = ("closed", "handed_back", "cancelled")


class VolunteerTelegram:
    def __init__(self, settings: Settings, handoffs: Handoffs, bus: EventBus):
        self.chat_id = settings.volunteer_telegram_chat_id
        self.secret = settings.volunteer_telegram_secret
        self.console_url = f"{settings.public_url.rstrip('/')}/console" if settings.public_url else "/console"
        self.handoffs = handoffs
        self.application = build_application(settings.volunteer_telegram_token, settings)
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
        text = notices.text_for(handoff_id)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Nhận", callback_data=f"{CLAIM}{handoff_id}")]])
        sent = await self.application.bot.send_message(self.chat_id, text, reply_markup=keyboard)
        notices.remember(handoff_id, str(sent.chat_id), sent.message_id)

    async def _take_buttons_away(self, handoff_id: int) -> None:
        """The notice itself stays (and is kept) until the handoff ends."""
        for notice in notices.of_handoff(handoff_id):
            try:
                await self.application.bot.edit_message_reply_markup(
                    notice.chat_id, notice.message_id, reply_markup=None
                )
            except TelegramError as exc:  # deleted by a group admin, already edited: nothing to take away
                log.warning("could not take the claim button away from notice %s: %s", notice.message_id, exc)

    async def neutralise_pending(self) -> int:
        """Edit every notice of an ended handoff, or marked by bot.privacy, to a neutral line,
        then forget it; returns how many. Waits as Telegram says on 429; a notice that cannot be
        edited any more (deleted, bot removed from the group) is forgotten too. Safe to run on
        several replicas at once: an edit made twice is "message is not modified"."""
        pending = notices.to_neutralise()
        for done, notice in enumerate(pending):
            try:
                await self._neutralise(notice)
            except TelegramError as exc:  # still rate limited or unreachable: the next sweep goes on
                log.warning("neutralising notices paused: %s", exc)
                return done
            notices.forget(notice.id)
        return len(pending)

    async def _neutralise(self, notice: notices.PostedNotice) -> None:
        try:
            await with_retries(
                lambda: self.application.bot.edit_message_text(
                    notice.neutral_text, notice.chat_id, notice.message_id, reply_markup=None
                )
            )
        except PermanentFailure as exc:
            if "message is not modified" not in str(exc):
                log.warning("notice %s cannot be neutralised, forgotten: %s", notice.message_id, exc)

    async def on_claim(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        handoff_id = int(query.data.removeprefix(CLAIM))
        volunteer_id = notices.linked_volunteer(str(query.from_user.id))
        if volunteer_id is None:
            await query.answer(
                "Tài khoản Telegram này chưa được liên kết với bảng điều khiển tình nguyện viên.", show_alert=True
            )
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
