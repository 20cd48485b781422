"""Listener of handoff changes on the citizen's side: tells the citizen who is talking now, and
keeps Rasa's tracker in step (paused while people talk, resumed in a fresh session on hand-back)."""

from __future__ import annotations

import logging

from bot.delivery.outbox import Outbox
from bot.events import EventBus, HandoffChanged
from bot.handoff import citizen_texts
from bot.handoff.desk import availability
from bot.knowledge.answers import office_lines
from bot.knowledge.store import offices
from bot.rasa_client import RasaClient
from bot.settings import Settings
from bot.storage.db import session_scope
from bot.storage.models import Handoff, utcnow

log = logging.getLogger(__name__)
REPEAT_STEP = "guide_repeat"


class CitizenAnnouncer:
    def __init__(self, outbox: Outbox, rasa: RasaClient, bus: EventBus, settings: Settings):
        self.outbox = outbox
        self.rasa = rasa
        self.settings = settings
        bus.subscribe(HandoffChanged, self.on_change)

    async def on_change(self, event: HandoffChanged) -> None:
        say = self._say_to(event)
        if event.kind == "queued":
            await self.rasa.pause(event.rasa_sender_id)
        elif event.kind == "claimed":
            await say(citizen_texts.claimed(event.volunteer_name))
        elif event.kind == "transferred":
            await say(citizen_texts.transferred(event.volunteer_name))
        elif event.kind in ("released", "expired"):
            await say(citizen_texts.back_in_queue(expired=event.kind == "expired"))
            for outbound in self._if_nobody_available(event.handoff_id):
                await say(outbound)
        elif event.kind == "handed_back":
            await self.rasa.hand_back(event.rasa_sender_id, event.procedure_slug, event.step)
            await say(citizen_texts.bot_again(event.previous_volunteer_name, event.step))
            await say(citizen_texts.rating_question(event.handoff_id, event.previous_volunteer_name))
            if event.procedure_slug and event.step:
                for reply in await self.rasa.trigger_intent(event.rasa_sender_id, REPEAT_STEP):
                    await say(reply)
        elif event.kind == "closed":
            await say(citizen_texts.closed(event.previous_volunteer_name))
            await say(citizen_texts.rating_question(event.handoff_id, event.previous_volunteer_name))
        elif event.kind == "cancelled":
            await self.rasa.resume(event.rasa_sender_id)

    def _say_to(self, event: HandoffChanged):
        async def say(outbound) -> None:
            await self.outbox.push(event.channel, event.user_id, outbound, event.conversation_id)

        return say

    def _if_nobody_available(self, handoff_id: int) -> list:
        with session_scope() as session:
            desk = availability(session, self.settings, session.get(Handoff, handoff_id), utcnow())
            return [] if desk.anybody else citizen_texts.waiting(desk, office_lines(offices(session)))
