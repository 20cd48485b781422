"""The conversation router: every inbound message from every channel comes through here.

It masks secrets, stores the message before processing it (idempotent on the channel's message
id), reads who owns the conversation, and only then lets Rasa answer. Replies are stored before
any channel sends them. Messages of one conversation are processed one at a time, in order.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass

from bot import privacy
from bot.events import EventBus, OutboundReady
from bot.messages import Button, Inbound, Outbound
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import Owner
from bot.text import normalize
from bot.text.masking import mask

log = logging.getLogger("bot.turn")

SECRET_WARNING = (
    "Dạ, anh/chị đừng gửi mật khẩu, mã OTP, số giấy tờ hay ảnh giấy tờ tùy thân cho bất kỳ ai, "
    "kể cả tình nguyện viên. Em đã che thông tin đó đi."
)
EMPTY_PROMPT = "Dạ, anh/chị nhắn giúp em câu hỏi bằng chữ nhé, ví dụ: \"làm căn cước cần giấy tờ gì\"."
CONFIRM_FORGET = Outbound(
    "Dạ, anh/chị muốn xóa toàn bộ nội dung trò chuyện với em? Việc này không hoàn tác được.",
    (Button("Xóa dữ liệu", privacy.FORGET), Button("Không xóa", privacy.KEEP)),
)
FORGOTTEN = "Dạ, em đã xóa toàn bộ nội dung trò chuyện của anh/chị."
KEPT = "Dạ, em giữ nguyên. Anh/chị cần hỏi gì cứ nhắn em nhé."


@dataclass(frozen=True)
class Delivery:
    """A stored outbound message and its database id (the channel marks it sent)."""

    message_id: int
    outbound: Outbound


class Router:
    def __init__(self, rasa: RasaClient, bus: EventBus):
        self.rasa = rasa
        self.bus = bus
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, conversation_id: int) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    async def handle(self, inbound: Inbound, replies_in_response: bool = False) -> list[Delivery]:
        """Process one inbound message; returns the stored replies. With `replies_in_response`
        the channel hands them over in its HTTP response, so they are stored as sent."""
        started = time.perf_counter()
        status = "sent" if replies_in_response else "pending"
        masked = mask(inbound.text)
        with session_scope() as session:
            conversation = repo.conversation_for(session, inbound.channel, inbound.user_id)
            button = repo.button_for(session, conversation.id, inbound.text.strip())
            shown = button.title if button else masked.text
            message = repo.record_inbound(session, conversation, inbound, shown, masked.kinds)
            if message is None:  # the channel retried a message already handled
                previous = repo.find_inbound(session, inbound.channel, inbound.message_id)
                return [Delivery(m.id, repo.as_outbound(m)) for m in repo.replies_to(session, previous)]
            conversation_id, sender = conversation.id, conversation.rasa_sender_id
            message_id, owner = message.id, conversation.owner
            command = button.intent_payload if button else None

        async with self._lock(conversation_id):
            if owner != Owner.bot:
                return []  # a volunteer holds it (or it waits for one): the bot stays silent
            replies = [Outbound(SECRET_WARNING)] if masked.changed else []
            # Citizen text reaches Rasa normalised: punctuation is gone, so a leading "/" can
            # never be taken as an intent command; only the app's own button keys can.
            text = command or normalize(masked.text)
            if text in (privacy.FORGET, privacy.KEEP) or privacy.is_delete_request(text):
                return self._privacy_command(inbound, text, message_id, status)
            turn = None
            if text:
                try:
                    turn = await self.rasa.send(sender, text, str(message_id))
                except RasaUnavailable:
                    with session_scope() as session:
                        repo.set_status(session, [message_id], "failed")
                    raise
                replies += turn.replies
            elif not replies:
                replies.append(Outbound(EMPTY_PROMPT))
            latency_ms = round((time.perf_counter() - started) * 1000)
            with session_scope() as session:
                deliveries = [self._store(session, conversation_id, inbound.channel, out, status) for out in replies]
                if turn is not None:
                    repo.record_turn(session, conversation_id, message_id, turn, latency_ms)
                repo.set_status(session, [message_id], "processed")
        log.info(json.dumps({
            "event": "turn", "conversation": conversation_id, "channel": inbound.channel,
            "intent": turn.intent if turn else None,
            "confidence": round(turn.confidence, 3) if turn and turn.confidence is not None else None,
            "actions": turn.actions if turn else [], "masked": sorted(masked.kinds), "latency_ms": latency_ms,
        }))
        return deliveries

    def _privacy_command(self, inbound: Inbound, command: str, message_id: int, status: str) -> list[Delivery]:
        """Deletion requests are handled by the app itself, never left to NLU."""
        if command == privacy.FORGET:
            privacy.forget_citizen(inbound.channel, inbound.user_id)
            replies = [Outbound(FORGOTTEN)]
        else:
            replies = [Outbound(KEPT) if command == privacy.KEEP else CONFIRM_FORGET]
        with session_scope() as session:
            repo.set_status(session, [message_id], "processed")  # nothing left to mark once forgotten
            conversation = repo.conversation_for(session, inbound.channel, inbound.user_id, inbound=False)
            return [self._store(session, conversation.id, inbound.channel, out, status) for out in replies]

    @staticmethod
    def _store(session, conversation_id: int, channel: str, outbound: Outbound, status: str = "pending") -> Delivery:
        keyed = repo.with_button_keys(session, conversation_id, outbound)
        return Delivery(repo.record_outbound(session, conversation_id, channel, keyed, status).id, keyed)

    async def push(self, channel: str, user_id: str, outbound: Outbound) -> Delivery:
        """Store a message that is not a reply to a request (a volunteer's answer, a reminder) and
        let the channel's listener deliver it."""
        with session_scope() as session:
            conversation = repo.conversation_for(session, channel, user_id, inbound=False)
            delivery = self._store(session, conversation.id, channel, outbound)
            event = OutboundReady(delivery.message_id, conversation.id, channel, user_id, delivery.outbound)
        await self.bus.emit(event)
        return delivery

    @staticmethod
    def mark_sent(deliveries: list[Delivery]) -> None:
        with session_scope() as session:
            repo.set_status(session, [d.message_id for d in deliveries], "sent")
