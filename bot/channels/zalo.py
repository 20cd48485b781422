"""Citizens on Zalo (Official Account, Open API v3): webhook events ⇄ neutral messages.

`POST /webhooks/zalo` checks `X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA
secret key)` over the raw bytes (a plain SHA-256, not an HMAC) and a replay window on the body's
`timestamp`, stores the event, answers 200 at once and processes it in the background,
idempotent on `message.msg_id`. A button's `oa.query.hide` payload comes back as the citizen's
(hidden) text. IDs stay strings: Zalo's exceed what a JSON number holds exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.channels.media_fetch import fetch_capped, host_matches
from bot.channels.webhook_body import read_json
from bot.channels.zalo_api import MAX_BUTTON_TITLE, MAX_BUTTONS, ZaloClient, ZaloSendError
from bot.delivery.inbox import EventInbox, mask_fields
from bot.delivery.outbox import PermanentFailure
from bot.http_guard import BadBody
from bot.messages import Button, Inbound, Outbound
from bot.settings import Settings

log = logging.getLogger(__name__)
CHANNEL = "zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
FUTURE_SKEW = dt.timedelta(minutes=5)
WELCOME_TEXT = "xin chào"  # a new follower is greeted like a citizen saying hello
MORE_CHOICES = "Lựa chọn khác:"
MEDIA_EVENTS = {
    "user_send_image": "photo",
    "user_send_gif": "photo",
    "user_send_file": "document",
    "user_send_audio": "voice",
    "user_send_video": "video",
    "user_send_sticker": "sticker",
    "user_send_location": "location",
}
IGNORED_EVENTS = {"unfollow", "user_seen_message", "user_received_message", "oa_send_text"}
FREE_FOR, CLOSED_AFTER = dt.timedelta(hours=48), dt.timedelta(days=7)  # Zalo's answer windows


def answer_window(last_inbound_at: dt.datetime | None, now: dt.datetime) -> str | None:
    """Zalo lets an OA answer freely for 48 hours after the citizen's last message and not at all
    after 7 days: what the volunteer is told about it (nothing while the window is wide open)."""
    if last_inbound_at is None:
        return "Zalo: người dân chưa nhắn tin cho OA, chưa gửi được tin."
    quiet = now - last_inbound_at
    hours = int(quiet.total_seconds() // 3600)
    if quiet >= CLOSED_AFTER:
        return f"Zalo: người dân không nhắn đã {hours // 24} ngày, OA không gửi được tin nữa. Hãy nhờ họ nhắn lại."
    if quiet >= FREE_FOR:
        left = int((CLOSED_AFTER - quiet).total_seconds() // 3600)
        return f"Zalo: đã quá 48 giờ từ tin nhắn cuối; còn {left} giờ trước khi OA không gửi được tin."
    left = int((FREE_FOR - quiet).total_seconds() // 3600)
    return f"Zalo: còn {left} giờ trong khung 48 giờ kể từ tin nhắn cuối của người dân." if left < 12 else None


def signature(app_id: str, raw: bytes, timestamp: str, oa_secret: str) -> str:
    return hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret.encode()).hexdigest()


def event_id(payload: dict, raw: bytes) -> str:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    return str(message.get("msg_id") or "sha256:" + hashlib.sha256(raw).hexdigest())


def sender_of(payload: dict) -> str | None:
    """The Zalo user an event comes from (its messages are answered in arrival order)."""
    sender = payload.get("sender")
    return str(sender["id"])[:64] if isinstance(sender, dict) and sender.get("id") is not None else None


def redact(payload: dict) -> dict:
    return mask_fields(payload, [("message", "text")])


def media_ref(message: dict) -> str | None:
    attachment = next(iter(message.get("attachments") or []), {})
    payload = attachment.get("payload") or {}
    if "coordinates" in payload:
        return f"{payload['coordinates'].get('latitude')},{payload['coordinates'].get('longitude')}"
    return payload.get("url")


class ZaloChannel:
    def __init__(
        self, settings: Settings, answer: Callable[[Inbound], Awaitable[object]], client: ZaloClient | None = None
    ):
        """`answer` handles a citizen's message and sends the replies (wired in bot/app.py)."""
        self.settings = settings
        self.answer = answer
        self.client = client or ZaloClient(settings)
        self.inbox = EventInbox(CHANNEL, self._process, redact)
        self.routes = APIRouter()
        self.routes.add_api_route("/webhooks/zalo", self.webhook, methods=["POST"])

    async def start(self) -> None:
        await self.inbox.recover()

    async def keep_tokens_fresh(self) -> None:
        """Refresh before expiry even when nobody writes: an unused refresh token expires too."""
        await self.client.access_token()

    async def stop(self) -> None:
        await self.inbox.drain()
        await self.client.close()

    async def webhook(self, request: Request) -> JSONResponse:
        try:
            raw, payload = await read_json(request)
        except BadBody as exc:
            kind = "body too large" if exc.status == 413 else "malformed event"
            return self._reject(exc.status, f"{kind}: {exc.message}", request)
        try:
            timestamp = str(payload["timestamp"])
            sent_at = dt.datetime.fromtimestamp(int(timestamp) / 1000, dt.timezone.utc)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            return self._reject(400, f"malformed event: {exc!r}", request)
        given = request.headers.get(SIGNATURE_HEADER, "").removeprefix("mac=")
        expected = signature(self.settings.zalo_app_id, raw, timestamp, self.settings.zalo_oa_secret)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return self._reject(401, "bad signature", request)
        now = dt.datetime.now(dt.timezone.utc)
        if not now - dt.timedelta(hours=self.settings.zalo_replay_window_hours) <= sent_at <= now + FUTURE_SKEW:
            return self._reject(401, f"timestamp {sent_at.isoformat()} outside the replay window", request)
        await self.inbox.receive(event_id(payload, raw), payload, sender_of(payload))
        return JSONResponse({"ok": True})

    @staticmethod
    def _reject(status: int, reason: str, request: Request) -> JSONResponse:
        log.warning(
            "zalo webhook rejected (%d) from %s: %s", status, request.client.host if request.client else "?", reason
        )
        return JSONResponse({"error": reason.split(":")[0]}, status_code=status)

    async def _process(self, payload: dict) -> None:
        name = payload.get("event_name")
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        if name == "user_send_text":
            await self._route(str(payload["sender"]["id"]), message.get("text") or "", str(message.get("msg_id")))
        elif name in MEDIA_EVENTS:
            await self._route(
                str(payload["sender"]["id"]),
                message.get("text") or "",
                str(message.get("msg_id")),
                MEDIA_EVENTS[name],
                media_ref(message),
            )
        elif name == "follow":
            follower = str(payload["follower"]["id"])
            await self._route(follower, WELCOME_TEXT, f"follow:{follower}:{payload['timestamp']}")
        elif name in IGNORED_EVENTS:
            log.info("zalo: %s acknowledged", name)
        else:
            log.warning("zalo: unknown event %r acknowledged and ignored", name)

    async def _route(
        self, user_id: str, text: str, message_id: str, media: str | None = None, ref: str | None = None
    ) -> None:
        await self.answer(Inbound(CHANNEL, user_id, text, message_id, media, ref))

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """A photo or file a citizen sent: the signed event gives a link, fetched only from Zalo's
        CDN (ZALO_MEDIA_HOSTS), redirects included, and never more than MAX_MEDIA_BYTES."""
        return await fetch_capped(
            url, self.settings.max_media_bytes, lambda hop: host_matches(hop, self.settings.zalo_media_host_list)
        )

    async def send(self, user_id: str, outbound: Outbound) -> None:
        """Zalo shows at most 5 buttons under a message: further choices follow in a short one."""
        groups = [outbound.buttons[i : i + MAX_BUTTONS] for i in range(0, len(outbound.buttons), MAX_BUTTONS)] or [()]
        for number, buttons in enumerate(groups):
            await self._send_one(
                user_id,
                outbound.text if number == 0 else MORE_CHOICES,
                [Button(b.title[:MAX_BUTTON_TITLE], b.payload) for b in buttons],
            )

    async def _send_one(self, user_id: str, text: str, buttons: list[Button]) -> None:
        try:
            await self.client.send(user_id, text, buttons)
        except ZaloSendError as exc:
            if exc.kind in ("window_closed", "permanent"):
                raise PermanentFailure(f"{exc.kind}: {exc}") from exc
            raise
