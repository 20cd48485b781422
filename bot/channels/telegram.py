"""Citizens on Telegram (python-telegram-bot): updates ⇄ neutral messages, nothing else.

Webhook mode (`TELEGRAM_WEBHOOK_URL` set): `POST /webhooks/telegram`, checked against the secret
token, is stored and acknowledged at once, then processed in the background by an Application
without an Updater. Polling mode (a developer without a public URL): one process — the one that
holds the polling lock — deletes any webhook and long-polls `getUpdates`; updates take the same
path. Updates are idempotent on `update_id`. Another poller with the same token (another machine)
makes Telegram answer 409 Conflict: the gateway says so in one line and stops (exit by SIGTERM), since it
would otherwise keep serving without receiving anything. Outgoing calls go through python-telegram-bot's
AIORateLimiter, which also waits out a 429 as long as Telegram says (pausing every other call meanwhile).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import fcntl
import logging
import mimetypes
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.media_fetch import fetch_capped
from bot.channels.telegram_webhook import read_update
from bot.delivery.inbox import EventInbox, mask_fields
from bot.delivery.outbox import PermanentFailure
from bot.messages import Inbound, MediaUnavailable, Outbound, split_text
from bot.settings import Settings

log = logging.getLogger(__name__)
CHANNEL = "telegram"
_handler_errors: contextvars.ContextVar[list[BaseException]] = contextvars.ContextVar("telegram_handler_errors")
MAX_TEXT = 4096
MAX_ATTEMPTS = 4
START_TEXT = "xin chào"  # /start is a greeting: Rasa answers with the welcome and the privacy notice
NEW = filters.UpdateType.MESSAGE  # an edited message is not a new question: answering twice confuses
MEDIA_FILTER = NEW & (
    filters.PHOTO
    | filters.Document.ALL
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.Sticker.ALL
    | filters.LOCATION
)


def build_application(token: str, settings: Settings) -> Application:
    """An Application without an Updater (the gateway receives updates itself), its calls paced by
    Telegram's published limits and retried after a 429 (MAX_ATTEMPTS in all)."""
    return (
        Application.builder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .rate_limiter(AIORateLimiter(max_retries=MAX_ATTEMPTS - 1))
        .updater(None)
        .build()
    )


def keyboard(outbound: Outbound) -> InlineKeyboardMarkup | None:
    """One button per row: titles are Vietnamese phrases, too long to sit side by side on a phone.
    Payloads are the app's short keys (callback_data holds at most 64 bytes)."""
    if not outbound.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.title, callback_data=b.payload)] for b in outbound.buttons])


def chat_of(payload: dict) -> str | None:
    """The chat an update belongs to (its messages are answered in arrival order): a message's,
    or that of the message whose button was pressed."""
    callback = payload.get("callback_query")
    message = payload.get("message") or (callback.get("message") if isinstance(callback, dict) else None)
    chat = message.get("chat") if isinstance(message, dict) else None
    return str(chat["id"])[:64] if isinstance(chat, dict) and chat.get("id") is not None else None


def redact(payload: dict) -> dict:
    return mask_fields(
        payload, [(kind, field) for kind in ("message", "edited_message") for field in ("text", "caption")]
    )


def media_of(update: Update) -> tuple[str, str | None]:
    message = update.effective_message
    if message.photo:
        return "photo", message.photo[-1].file_id
    if message.location:
        return "location", f"{message.location.latitude},{message.location.longitude}"
    for kind in ("document", "voice", "audio", "video", "video_note", "sticker"):
        item = getattr(message, kind)
        if item is not None:
            return {"audio": "voice", "video_note": "video"}.get(kind, kind), item.file_id
    return "document", None


class TelegramChannel:
    def __init__(self, settings: Settings, answer: Callable[[Inbound], Awaitable[object]]):
        """`answer` handles a citizen's message and sends the replies (wired in bot/app.py)."""
        self.settings = settings
        self.answer = answer
        self.application = build_application(settings.telegram_token, settings)
        for handler in (
            CommandHandler("start", self.on_start, filters=NEW),
            CallbackQueryHandler(self.on_button),
            MessageHandler(MEDIA_FILTER, self.on_media),
            MessageHandler(NEW & filters.TEXT, self.on_text),
        ):
            self.application.add_handler(handler)
        self.application.add_error_handler(self._handler_failed)
        self.inbox = EventInbox(CHANNEL, self._process, redact)
        self._polling: asyncio.Task | None = None
        self._lock_file = None
        self.routes = APIRouter()
        self.routes.add_api_route("/webhooks/telegram", self.webhook, methods=["POST"])

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.application.initialize()  # getMe: a wrong token fails here, loudly
        await self.inbox.recover()
        if self.settings.telegram_webhook_url:
            await self.application.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_secret or None,
                allowed_updates=["message", "callback_query"],
            )
        elif self._take_polling_lock():
            self._polling = asyncio.create_task(self._poll())
        else:
            log.info("telegram: another process polls; this one only sends")

    async def stop(self) -> None:
        if self._polling:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        if self._lock_file:
            self._lock_file.close()  # releases the polling lock
        await self.inbox.drain()
        await self.application.shutdown()

    @property
    def polling(self) -> bool:
        return self._polling is not None and not self._polling.done()

    def _take_polling_lock(self) -> bool:
        """Only one process may call getUpdates (Telegram answers the others 409 Conflict)."""
        path = Path(self.settings.var_dir) / "run" / "telegram-polling.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = path.open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            return False
        return True

    async def _poll(self) -> None:
        bot = self.application.bot
        await bot.delete_webhook()
        offset, delay = None, 1.0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=25, allowed_updates=["message", "callback_query"]
                )
                delay = 1.0
            except RetryAfter as exc:  # still limited after the rate limiter's retries
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except Conflict as exc:
                log.error(
                    "telegram polling: %s — another process polls with this bot token (or set a webhook); "
                    "stopping the gateway: stop the other one, or set TELEGRAM_WEBHOOK_URL",
                    exc.message,
                )
                os.kill(os.getpid(), signal.SIGTERM)  # a graceful stop; the exit status says it was stopped
                return
            except NetworkError as exc:  # includes timeouts: back off, then poll again
                log.warning("telegram polling: %s; again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                continue
            for update in updates:
                await self.inbox.receive(str(update.update_id), update.to_dict(), chat_of(update.to_dict()))
                offset = update.update_id + 1

    # -- inbound --------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> JSONResponse:
        payload = await read_update(request, self.settings.telegram_secret, "/webhooks/telegram")
        if isinstance(payload, JSONResponse):
            return payload
        await self.inbox.receive(str(payload["update_id"]), payload, chat_of(payload))
        return JSONResponse({"ok": True})

    async def _process(self, payload: dict) -> None:
        """One stored update through the handlers; what a handler raised is raised here (the inbox
        records it, or tries again when the database was away), not only logged by the library."""
        raised = _handler_errors.set([])
        try:
            await self.application.process_update(Update.de_json(payload, self.application.bot))
            if errors := _handler_errors.get():
                raise errors[0]
        finally:
            _handler_errors.reset(raised)

    @staticmethod
    async def _handler_failed(_: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """python-telegram-bot's error handler: runs in the task of `process_update`."""
        errors = _handler_errors.get(None)
        if errors is not None:
            errors.append(context.error)

    async def on_start(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        await self._route(update, START_TEXT)

    async def on_text(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        await self._route(update, update.effective_message.text)

    async def on_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await update.callback_query.answer()  # stops the button's spinner, whatever follows
        except BadRequest as exc:  # too old to answer (processed after an outage): the click still counts
            log.info("telegram: callback query not answered: %s", exc)
        await self._route(update, update.callback_query.data or "")

    async def on_media(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        kind, ref = media_of(update)
        await self._route(update, update.effective_message.caption or "", kind, ref)

    async def _route(self, update: Update, text: str, media: str | None = None, ref: str | None = None) -> None:
        chat_id = str(update.effective_chat.id)
        typing = asyncio.create_task(self._typing(chat_id))
        try:
            await self.answer(Inbound(CHANNEL, chat_id, text, str(update.update_id), media, ref))
        finally:
            typing.cancel()

    async def _typing(self, chat_id: str) -> None:
        try:
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:  # cosmetic only
            log.debug("telegram: no typing action: %s", exc)

    async def fetch_media(self, file_id: str) -> tuple[bytes, str]:
        """A photo or file a citizen sent, for the volunteer's console (the token stays here), never
        more than MAX_MEDIA_BYTES: refused from getFile's file_size, else while it streams."""
        cap = self.settings.max_media_bytes
        try:
            file = await self.application.bot.get_file(file_id)
        except TelegramError as exc:
            raise MediaUnavailable(str(exc)) from exc
        if not file.file_path:
            raise MediaUnavailable("Telegram gave no path for the file")
        if (file.file_size or 0) > cap:
            raise MediaUnavailable(f"file of {file.file_size} bytes, over the {cap}-byte cap")
        content, _ = await fetch_capped(file.file_path, cap)
        return content, mimetypes.guess_type(file.file_path)[0] or "application/octet-stream"

    # -- outbound -------------------------------------------------------------------------------

    async def send(self, chat_id: str, outbound: Outbound) -> None:
        parts = split_text(outbound.text, MAX_TEXT)
        for number, part in enumerate(parts, 1):
            markup = keyboard(outbound) if number == len(parts) else None
            await with_retries(lambda: self.application.bot.send_message(chat_id, part, reply_markup=markup))


async def with_retries(call) -> None:
    """Network errors back off; refusals are final (a 429 is waited out by the rate limiter)."""
    delay = 0.5
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            await call()
            return
        except (Forbidden, BadRequest) as exc:  # blocked by the user, chat gone, bad request
            raise PermanentFailure(str(exc)) from exc
        except NetworkError:
            if attempt == MAX_ATTEMPTS:
                raise
            await asyncio.sleep(delay)
            delay *= 2


def _seconds(retry_after: int | float | dt.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dt.timedelta) else float(retry_after)
