"""The conversation router: every inbound message from every channel comes through here.

It masks secrets, stores the message before processing it (idempotent on the channel's message
id), reads who owns the conversation, and only then lets Rasa answer; while a volunteer holds the
conversation (or one is awaited) the bot stays silent. When an action asks for a volunteer, the
router starts the handoff. Replies are stored before
any channel sends them. One citizen's messages are processed one at a time, in order.

While Rasa or the action server is down, a message is kept (status `deferred`, with what Rasa is to
be asked), the citizen is told the answer is coming, and `answer_deferred` (a periodic job of the
gateway) answers it, in order, once Rasa is back; the answer goes out through the outbox.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, replace

from bot import logs, privacy
from bot.delivery.ordering import ConversationLocks
from bot.delivery.outbox import Delivery, Outbox
from bot.events import CitizenDataDeleted, EventBus, InboundStored
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
EMPTY_PROMPT = 'Dạ, anh/chị nhắn giúp em câu hỏi bằng chữ nhé, ví dụ: "làm căn cước cần giấy tờ gì".'
CONFIRM_FORGET = Outbound(
    "Dạ, anh/chị muốn xóa toàn bộ nội dung trò chuyện với em? Việc này không hoàn tác được.",
    (Button("Xóa dữ liệu", privacy.FORGET), Button("Không xóa", privacy.KEEP)),
)
MEDIA_LABELS = {
    "photo": "Ảnh",
    "document": "Tệp",
    "voice": "Ghi âm",
    "video": "Video",
    "sticker": "Nhãn dán",
    "location": "Vị trí",
}
MEDIA_NOT_READ = Outbound(
    "Dạ, em chưa đọc được ảnh, tệp hay ghi âm. Anh/chị nhắn câu hỏi bằng chữ giúp em nhé, hoặc gặp tình nguyện viên. "
    "Anh/chị đừng gửi ảnh giấy tờ tùy thân cho ai.",
    (Button("Gặp tình nguyện viên", "/request_human"),),
)
FORGOTTEN = "Dạ, em đã xóa toàn bộ nội dung trò chuyện của anh/chị."
KEPT = "Dạ, em giữ nguyên. Anh/chị cần hỏi gì cứ nhắn em nhé."
ANSWER_COMING = "Dạ, em đã nhận câu hỏi. Hệ thống đang bận một chút, em sẽ trả lời anh/chị ngay khi xong ạ."
DEFERRED_BATCH = 50  # conversations a round of answer_deferred takes up
WAITING_ACK_EVERY = dt.timedelta(minutes=1)  # a waiting citizen's messages are acknowledged at most this often


@dataclass(frozen=True)
class Handled:
    """What came of one inbound message: the stored replies and the turn's decision."""

    deliveries: list[Delivery]
    about: dict


def media_label(inbound: Inbound, caption: str) -> str:
    """How a photo, file or voice message is stored and shown in the console: the volunteer is
    warned that photos may show ID papers."""
    if not inbound.media:
        return caption
    label = f"[{MEDIA_LABELS.get(inbound.media, inbound.media)}"
    label += " — có thể chứa giấy tờ tùy thân, đừng yêu cầu gửi]" if inbound.media in ("photo", "document") else "]"
    return f"{label} {caption}".strip()


def secret_warning(kinds) -> Outbound:
    return Outbound(
        f"Dạ, em đã che {hidden_phrase(kinds)} anh/chị vừa gửi. Anh/chị đừng gửi mật khẩu, mã OTP hay "
        "số giấy tờ cho bất kỳ ai, kể cả tình nguyện viên nhé."
    )


def is_app_command(payload: str | None) -> bool:
    return bool(payload) and payload.startswith("@")


class Router:
    def __init__(
        self,
        rasa: RasaClient,
        bus: EventBus,
        handoffs: Handoffs,
        limits: Limits,
        outbox: Outbox,
        locks: ConversationLocks,
    ):
        self.rasa = rasa
        self.outbox = outbox
        self.limits = limits
        self.bus = bus
        self.handoffs = handoffs
        self.locks = locks  # one citizen's messages are handled one at a time, in order, on every replica

    @logs.conversation_scope
    async def handle(self, inbound: Inbound, replies_in_response: bool = False) -> Handled:
        """Process one inbound message; returns the stored replies and the turn's decision. With
        `replies_in_response` the channel hands the replies over in its HTTP response, so they are
        stored as sent; otherwise they are sent through the channel's sender before the next
        message of the conversation is handled, on any replica, so they arrive in order."""
        started = time.perf_counter()
        try:
            await self.limits.conversation(inbound.channel, inbound.user_id)
        except RateLimited:
            if replies_in_response:  # the channel answers 429 itself
                raise
            return await self._slow_down(inbound)
        status = "sent" if replies_in_response else "pending"
        masked = mask(inbound.text)
        turn = retried = None
        async with self.locks.hold(inbound.channel, inbound.user_id):
            # Under the lock, so the owner read is the latest: a volunteer may have just claimed it.
            with session_scope() as session:
                conversation = repo.conversation_for(session, inbound.channel, inbound.user_id)
                button = repo.button_for(session, conversation.id, inbound.text.strip())
                command = button.intent_payload if button else None
                if conversation.owner == Owner.closed and not is_app_command(command):  # a new question starts afresh
                    conversation = repo.new_conversation(session, conversation.citizen_id)
                shown = button.title if button else media_label(inbound, masked.text)
                message_id = repo.record_inbound(session, conversation, inbound, shown, masked.kinds)
                previous = (
                    None if message_id else repo.find_inbound(session, conversation.citizen_id, inbound.message_id)
                )
                if (
                    previous is not None
                    and previous.status == "received"
                    and previous.conversation_id == conversation.id
                ):
                    message_id = previous.id  # stored, but its gateway died handling it: handled now, under the lock
                elif previous is not None:  # the channel retried a message already handled
                    kept = About(None, None, "deferred" if previous.status == "deferred" else "other")
                    retried = Handled(
                        [
                            Delivery(m.id, repo.as_outbound(m), m.status == "sent")
                            for m in repo.replies_to(session, previous)
                        ],
                        repo.about_of(session, previous.id) or kept.as_dict(),
                    )
                if not button and (form := address_form(masked.text)):
                    conversation.address_as = form
                conversation_id, sender, owner = conversation.id, conversation.rasa_sender_id, conversation.owner
                logs.set_conversation(conversation_id)
                form = conversation.address_as
            if retried is not None:
                if not replies_in_response:  # what a crash left unsent
                    await self.outbox.deliver(inbound.channel, inbound.user_id, retried.deliveries)
                return retried
            replies = [secret_warning(masked.kinds)] if masked.changed else []
            decision = About(None, None, "other")
            rasa_request = None  # set when Rasa could not answer: asked again later
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
                    request = {"text": text, "written": None if command else masked.text}
                    turn = await self._ask_rasa_in_order(inbound.channel, inbound.user_id, sender, message_id, request)
                    if turn is None:
                        rasa_request, decision = request, About(None, None, "deferred")
                        replies.append(Outbound(ANSWER_COMING))
                    else:
                        answer, decision = await self._from_rasa(conversation_id, turn)
                        replies += answer
                elif not replies:
                    replies.append(Outbound(EMPTY_PROMPT))
            replies = [Outbound(address(r.text, form), r.buttons, r.author) for r in replies]
            latency_ms = round((time.perf_counter() - started) * 1000)
            forgotten = command == privacy.FORGET
            deliveries = self._finish(
                inbound,
                conversation_id,
                message_id,
                turn,
                decision,
                replies,
                status,
                latency_ms,
                forgotten,
                rasa_request,
            )
            if not replies_in_response:
                await self.outbox.deliver(inbound.channel, inbound.user_id, deliveries)
        log.info(
            json.dumps(
                {
                    "event": "turn",
                    "conversation": conversation_id,
                    "channel": inbound.channel,
                    "owner": owner.value,
                    "intent": turn.intent if turn else None,
                    "confidence": round(turn.confidence, 3) if turn and turn.confidence is not None else None,
                    "actions": turn.actions if turn else [],
                    "about": decision.as_dict(),
                    "masked": sorted(masked.kinds),
                    "latency_ms": latency_ms,
                }
            )
        )
        return Handled(deliveries, decision.as_dict())

    async def _slow_down(self, inbound: Inbound) -> Handled:
        """A citizen over the conversation limit on a channel that cannot answer 429: their
        message is dropped and they are told so once a window, never more."""
        if not await self.limits.first_refusal(inbound.channel, inbound.user_id):
            return Handled([], About(None, None, "other").as_dict())
        with session_scope() as session:
            conversation_id = repo.conversation_for(session, inbound.channel, inbound.user_id, inbound=False).id
            deliveries = self.outbox.store(session, conversation_id, inbound.channel, [Outbound(SLOW_DOWN)])
        await self.outbox.deliver(inbound.channel, inbound.user_id, deliveries)
        return Handled(deliveries, About(None, None, "other").as_dict())

    async def _ask_rasa_in_order(self, channel: str, user_id: str, sender: str, message_id: int, request: dict):
        """Rasa's turn on a message, after the citizen's earlier messages that wait for Rasa; None
        while Rasa (or the action server) does not answer."""
        if not await self._answer_deferred_of(channel, user_id):
            return None
        try:
            return await self.rasa.send(sender, request["text"], str(message_id), request["written"])
        except RasaUnavailable as exc:
            log.warning("message %d deferred: rasa unavailable (%s)", message_id, exc)
            return None

    async def _from_rasa(self, conversation_id: int, turn) -> tuple[list[Outbound], About]:
        """Rasa's replies and the turn's decision; a volunteer is requested when an action asked."""
        replies, decision = list(turn.replies), About(**turn.about) if turn.about else About(None, None, "other")
        if turn.handoff is not None:
            replies += await self._request_volunteer(conversation_id, turn.handoff)
            decision = replace(decision, outcome="handoff")
        return replies, decision

    async def answer_deferred(self, channels: set[str]) -> int:
        """Answer, in order, the messages kept while Rasa was down on the `channels` this gateway
        delivers to (a periodic job on every replica: each citizen's are answered under their lock,
        each message once). Stops at the first conversation Rasa still does not answer; returns the
        conversations caught up."""
        with session_scope() as session:
            waiting = repo.citizens_with_deferred(session, channels, DEFERRED_BATCH)
        for done, (channel, user_id) in enumerate(waiting):
            async with self.locks.hold(channel, user_id):
                if not await self._answer_deferred_of(channel, user_id):
                    return done
        return len(waiting)

    @logs.conversation_scope
    async def _answer_deferred_of(self, channel: str, user_id: str) -> bool:
        """Under the citizen's lock: answer their deferred messages, oldest first; False when Rasa
        still does not answer. A message another replica answered meanwhile is left alone."""
        with session_scope() as session:
            waiting = repo.deferred_of(session, channel, user_id)
        for message_id, request, conversation_id, sender, owner, form in waiting:
            logs.set_conversation(conversation_id)
            started = time.perf_counter()
            turn, replies, decision = None, [], About(None, None, "handoff")
            if owner == Owner.bot:  # else a volunteer took over meanwhile and reads it in the console
                try:
                    turn = await self.rasa.send(sender, request["text"], str(message_id), request["written"])
                except RasaUnavailable as exc:
                    log.info("deferred message %d still waits: rasa unavailable (%s)", message_id, exc)
                    return False
                replies, decision = await self._from_rasa(conversation_id, turn)
            replies = [Outbound(address(r.text, form), r.buttons, r.author) for r in replies]
            with session_scope() as session:
                if not repo.claim_deferred(session, message_id):
                    continue
                repo.record_turn(
                    session,
                    conversation_id,
                    message_id,
                    decision.as_dict(),
                    turn,
                    round((time.perf_counter() - started) * 1000),
                )
                deliveries = self.outbox.store(session, conversation_id, channel, replies)
            await self.outbox.publish(channel, user_id, conversation_id, deliveries)
            log.info(
                json.dumps(
                    {
                        "event": "deferred_answered",
                        "conversation": conversation_id,
                        "channel": channel,
                        "about": decision.as_dict(),
                    }
                )
            )
        return True

    def _finish(
        self,
        inbound: Inbound,
        conversation_id: int,
        message_id: int,
        turn,
        decision: About,
        replies: list[Outbound],
        status: str,
        latency_ms: int,
        forgotten: bool,
        rasa_request: dict | None,
    ) -> list[Delivery]:
        """Record the turn's decision (and what Rasa made of the message) and store the replies
        (in a new conversation when the citizen just had everything deleted). A message Rasa could
        not answer yet keeps what Rasa is to be asked, and gets its turn when answered."""
        with session_scope() as session:
            if forgotten:
                conversation_id = repo.conversation_for(session, inbound.channel, inbound.user_id, inbound=False).id
            elif rasa_request is not None:
                repo.defer(session, message_id, rasa_request)
            else:
                repo.set_status(session, [message_id], "processed")
                repo.record_turn(session, conversation_id, message_id, decision.as_dict(), turn, latency_ms)
            return self.outbox.store(session, conversation_id, inbound.channel, replies, status)

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
            if handoff is None or (
                handoff.citizen_told_waiting_at is not None
                and now - as_utc(handoff.citizen_told_waiting_at) < WAITING_ACK_EVERY
            ):
                return []
            handoff.citizen_told_waiting_at = now
        return [citizen_texts.message_kept()]

    async def _request_volunteer(self, conversation_id: int, request: dict) -> list[Outbound]:
        step = request.get("step")
        requested = await self.handoffs.request(
            conversation_id, str(request.get("reason")), request.get("procedure"), int(step) if step else None
        )
        if requested is None:
            return []
        with session_scope() as session:
            lines = office_lines(offices(session))
        return citizen_texts.waiting(requested.availability, lines)

    async def end_conversation(self, channel: str, user_id: str) -> None:
        """The citizen ended their conversation ("Kết thúc trò chuyện")."""
        with session_scope() as session:
            conversation_id = repo.conversation_for(session, channel, user_id, inbound=False).id
        await self.handoffs.citizen_ended(conversation_id)
