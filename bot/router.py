"""The conversation router: every inbound message from every channel comes through here.

It masks secrets, stores the message before processing it (idempotent on the channel's message
id), reads who owns the conversation, and only then lets Rasa answer; while a volunteer holds the
conversation (or one is awaited) the bot stays silent. When an action asks for a volunteer, the
router starts the handoff. Replies are stored before
any channel sends them. One citizen's messages are processed one at a time, in order.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import weakref
from dataclasses import dataclass, replace

from bot import privacy
from bot.events import CitizenDataDeleted, EventBus, InboundStored, OutboundReady
from bot.handoff import citizen_texts
from bot.handoff.service import Handoffs
from bot.knowledge.answers import office_lines
from bot.knowledge.store import offices
from bot.limits import Limits, RateLimited
from bot.messages import About, Button, Inbound, Outbound
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import Owner, as_utc, utcnow
from bot.text import normalize
from bot.text.address import address, address_form
from bot.text.masking import hidden_phrase, mask

log = logging.getLogger("bot.turn")

SLOW_DOWN = "Dạ, anh/chị nhắn nhanh quá, em chưa kịp đọc. Anh/chị vui lòng đợi một phút rồi nhắn lại giúp em ạ."
EMPTY_PROMPT = "Dạ, anh/chị nhắn giúp em câu hỏi bằng chữ nhé, ví dụ: \"làm căn cước cần giấy tờ gì\"."
CONFIRM_FORGET = Outbound(
    "Dạ, anh/chị muốn xóa toàn bộ nội dung trò chuyện với em? Việc này không hoàn tác được.",
    (Button("Xóa dữ liệu", privacy.FORGET), Button("Không xóa", privacy.KEEP)),
)
MEDIA_LABELS = {"photo": "Ảnh", "document": "Tệp", "voice": "Ghi âm", "video": "Video", "sticker": "Nhãn dán",
                "location": "Vị trí"}
MEDIA_NOT_READ = Outbound(
    "Dạ, em chưa đọc được ảnh, tệp hay ghi âm. Anh/chị nhắn câu hỏi bằng chữ giúp em nhé, hoặc gặp tình nguyện viên. "
    "Anh/chị đừng gửi ảnh giấy tờ tùy thân cho ai.",
    (Button("Gặp tình nguyện viên", "/request_human"),),
)
FORGOTTEN = "Dạ, em đã xóa toàn bộ nội dung trò chuyện của anh/chị."
KEPT = "Dạ, em giữ nguyên. Anh/chị cần hỏi gì cứ nhắn em nhé."
WAITING_ACK_EVERY = dt.timedelta(minutes=1)  # a waiting citizen's messages are acknowledged at most this often


@dataclass(frozen=True)
class Handled:
    """What came of one inbound message: the stored replies and the turn's decision."""

    deliveries: list["Delivery"]
    about: dict


@dataclass(frozen=True)
class Delivery:
    """A stored outbound message and its database id (the channel marks it sent)."""

    message_id: int
    outbound: Outbound
    sent: bool = False  # already delivered (a channel retried a message handled before)


def media_label(inbound: Inbound, caption: str) -> str:
    """How a photo, file or voice message is stored and shown in the console: the volunteer is
    warned that photos may show ID papers."""
    if not inbound.media:
        return caption
    label = f"[{MEDIA_LABELS.get(inbound.media, inbound.media)}"
    label += " — có thể chứa giấy tờ tùy thân, đừng yêu cầu gửi]" if inbound.media in ("photo", "document") else "]"
    return f"{label} {caption}".strip()


def secret_warning(kinds) -> Outbound:
    return Outbound(f"Dạ, em đã che {hidden_phrase(kinds)} anh/chị vừa gửi. Anh/chị đừng gửi mật khẩu, mã OTP hay "
                    "số giấy tờ cho bất kỳ ai, kể cả tình nguyện viên nhé.")


def is_app_command(payload: str | None) -> bool:
    return bool(payload) and payload.startswith("@")


class Router:
    def __init__(self, rasa: RasaClient, bus: EventBus, handoffs: Handoffs, limits: Limits):
        self.rasa = rasa
        self.limits = limits
        self.bus = bus
        self.handoffs = handoffs
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, channel: str, user_id: str) -> asyncio.Lock:
        """One citizen's messages are handled one at a time, in order."""
        lock = self._locks.get((channel, user_id))
        if lock is None:
            lock = self._locks[(channel, user_id)] = asyncio.Lock()
        return lock

    async def handle(self, inbound: Inbound, replies_in_response: bool = False) -> Handled:
        """Process one inbound message; returns the stored replies and the turn's decision. With
        `replies_in_response` the channel hands the replies over in its HTTP response, so they are
        stored as sent."""
        started = time.perf_counter()
        try:
            await self.limits.conversation(inbound.channel, inbound.user_id)
        except RateLimited:
            if replies_in_response:  # the channel answers 429 itself
                raise
            return await self._slow_down(inbound)
        status = "sent" if replies_in_response else "pending"
        masked = mask(inbound.text)
        turn = None
        async with self._lock(inbound.channel, inbound.user_id):
            # Under the lock, so the owner read is the latest: a volunteer may have just claimed it.
            with session_scope() as session:
                conversation = repo.conversation_for(session, inbound.channel, inbound.user_id)
                button = repo.button_for(session, conversation.id, inbound.text.strip())
                command = button.intent_payload if button else None
                if conversation.owner == Owner.closed and not is_app_command(command):  # a new question starts afresh
                    conversation = repo.new_conversation(session, conversation.citizen_id)
                shown = button.title if button else media_label(inbound, masked.text)
                message_id = repo.record_inbound(session, conversation, inbound, shown, masked.kinds)
                if message_id is None:  # the channel retried a message already handled
                    previous = repo.find_inbound(session, conversation.citizen_id, inbound.message_id)
                    return Handled([Delivery(m.id, repo.as_outbound(m), m.status == "sent")
                                    for m in repo.replies_to(session, previous)],
                                   repo.about_of(session, previous.id) or About(None, None, "other").as_dict())
                if not button and (form := address_form(masked.text)):
                    conversation.address_as = form
                conversation_id, sender, owner = conversation.id, conversation.rasa_sender_id, conversation.owner
                form = conversation.address_as
            replies = [secret_warning(masked.kinds)] if masked.changed else []
            decision = About(None, None, "other")
            handled = await self._app_command(inbound, conversation_id, command) if is_app_command(command) else None
            if handled is not None:
                replies = handled
            elif owner != Owner.bot:
                replies += await self._for_volunteer(conversation_id, message_id, owner)
                decision = About(None, None, "handoff")
            elif inbound.media:  # the bot cannot read photos, files or voice: never sent to Rasa
                replies.append(MEDIA_NOT_READ)
            else:
                # Citizen text reaches Rasa normalised: punctuation is gone, so a leading "/" can
                # never be taken as an intent command; only the app's own button keys can.
                text = command or normalize(masked.text)
                if privacy.is_delete_request(text):
                    replies = [CONFIRM_FORGET]
                elif text:
                    turn = await self._ask_rasa(sender, text, message_id, None if command else masked.text)
                    replies += turn.replies
                    decision = About(**turn.about) if turn.about else decision
                    if turn.handoff is not None:
                        replies += await self._request_volunteer(conversation_id, turn.handoff)
                        decision = replace(decision, outcome="handoff")
                elif not replies:
                    replies.append(Outbound(EMPTY_PROMPT))
            replies = [Outbound(address(r.text, form), r.buttons, r.author) for r in replies]
            latency_ms = round((time.perf_counter() - started) * 1000)
            forgotten = command == privacy.FORGET
            deliveries = self._finish(inbound, conversation_id, message_id, turn, decision, replies, status,
                                      latency_ms, forgotten)
        log.info(json.dumps({
            "event": "turn", "conversation": conversation_id, "channel": inbound.channel, "owner": owner.value,
            "intent": turn.intent if turn else None,
            "confidence": round(turn.confidence, 3) if turn and turn.confidence is not None else None,
            "actions": turn.actions if turn else [], "about": decision.as_dict(), "masked": sorted(masked.kinds),
            "latency_ms": latency_ms,
        }))
        return Handled(deliveries, decision.as_dict())

    async def _slow_down(self, inbound: Inbound) -> Handled:
        """A citizen over the conversation limit on a channel that cannot answer 429: their
        message is dropped and they are told so once a window, never more."""
        if not await self.limits.first_refusal(inbound.channel, inbound.user_id):
            return Handled([], About(None, None, "other").as_dict())
        with session_scope() as session:
            conversation_id = repo.conversation_for(session, inbound.channel, inbound.user_id, inbound=False).id
            deliveries = self._store(session, conversation_id, inbound.channel, [Outbound(SLOW_DOWN)])
        return Handled(deliveries, About(None, None, "other").as_dict())

    async def _ask_rasa(self, sender: str, text: str, message_id: int, written: str | None):
        try:
            return await self.rasa.send(sender, text, str(message_id), written)
        except RasaUnavailable:
            with session_scope() as session:
                repo.set_status(session, [message_id], "failed")
            raise

    def _finish(self, inbound: Inbound, conversation_id: int, message_id: int, turn, decision: About,
                replies: list[Outbound], status: str, latency_ms: int, forgotten: bool) -> list[Delivery]:
        """Record the turn's decision (and what Rasa made of the message) and store the replies
        (in a new conversation when the citizen just had everything deleted)."""
        with session_scope() as session:
            if forgotten:
                conversation_id = repo.conversation_for(session, inbound.channel, inbound.user_id, inbound=False).id
            else:
                repo.set_status(session, [message_id], "processed")
                repo.record_turn(session, conversation_id, message_id, decision.as_dict(), turn, latency_ms)
            return self._store(session, conversation_id, inbound.channel, replies, status)

    async def _app_command(self, inbound: Inbound, conversation_id: int, command: str) -> list[Outbound] | None:
        """Commands the app's own buttons carry; handled here, never by NLU. None: not applicable
        any more (the citizen stopped waiting just as a volunteer claimed), so it is a message."""
        if command == privacy.FORGET:
            privacy.forget_citizen(inbound.channel, inbound.user_id)
            await self.bus.emit(CitizenDataDeleted(inbound.channel, inbound.user_id))
            return [Outbound(FORGOTTEN)]
        if command == privacy.KEEP:
            return [Outbound(KEPT)]
        if command == citizen_texts.CANCEL_WAIT:
            return [citizen_texts.CANCELLED] if await self.handoffs.cancel(conversation_id) else None
        if command.startswith(citizen_texts.RATE + ":"):
            _, handoff_id, rating = command.split(":")
            self.handoffs.rate(int(handoff_id), conversation_id, int(rating))
            return [citizen_texts.THANKS_FOR_RATING]
        raise ValueError(f"unknown app command {command!r}")

    async def _for_volunteer(self, conversation_id: int, message_id: int, owner: Owner) -> list[Outbound]:
        """A volunteer holds the conversation or one is awaited: the message is shown in the
        console and the bot adds nothing to the volunteer's conversation. A waiting citizen is
        never left in silence: told that the message was kept, at most once a minute."""
        await self.bus.emit(InboundStored(message_id, conversation_id))
        if owner != Owner.queued:
            return []
        now = utcnow()
        with session_scope() as session:
            handoff = self.handoffs.open_handoff(session, conversation_id)
            if handoff is None or (handoff.citizen_told_waiting_at is not None
                                   and now - as_utc(handoff.citizen_told_waiting_at) < WAITING_ACK_EVERY):
                return []
            handoff.citizen_told_waiting_at = now
        return [citizen_texts.message_kept()]

    async def _request_volunteer(self, conversation_id: int, request: dict) -> list[Outbound]:
        step = request.get("step")
        requested = await self.handoffs.request(conversation_id, str(request.get("reason")), request.get("procedure"),
                                                int(step) if step else None)
        if requested is None:
            return []
        with session_scope() as session:
            lines = office_lines(offices(session))
        return citizen_texts.waiting(requested.availability, lines)

    @staticmethod
    def _store(session, conversation_id: int, channel: str, replies: list[Outbound], status: str = "pending"
               ) -> list[Delivery]:
        keyed = repo.with_button_keys(session, conversation_id, replies)
        message_ids = repo.record_outbound(session, conversation_id, channel, keyed, status)
        return [Delivery(message_id, outbound, status == "sent") for message_id, outbound in zip(message_ids, keyed)]

    async def end_conversation(self, channel: str, user_id: str) -> None:
        """The citizen ended their conversation ("Kết thúc trò chuyện")."""
        with session_scope() as session:
            conversation_id = repo.conversation_for(session, channel, user_id, inbound=False).id
        await self.handoffs.citizen_ended(conversation_id)

    async def push(self, channel: str, user_id: str, outbound: Outbound, conversation_id: int | None = None) -> Delivery:
        """Store a message that is not a reply to a request (a volunteer's answer, a notice) and
        let the channel's listener deliver it."""
        with session_scope() as session:
            if conversation_id is None:
                conversation_id = repo.conversation_for(session, channel, user_id, inbound=False).id
            [delivery] = self._store(session, conversation_id, channel, [outbound])
            event = OutboundReady(delivery.message_id, conversation_id, channel, user_id, delivery.outbound)
        await self.bus.emit(event)
        return delivery

    @staticmethod
    def mark_sent(deliveries: list[Delivery]) -> None:
        with session_scope() as session:
            repo.set_status(session, [d.message_id for d in deliveries], "sent")
