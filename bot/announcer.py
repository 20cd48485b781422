"""Listener of handoff changes on the citizen's side: tells the citizen who is talking now, and
keeps Rasa's tracker in step (paused while people talk, resumed in a fresh session on hand-back)."""
from __future__ import annotations

import logging

from bot.events import EventBus, HandoffChanged
from bot.handoff import citizen_texts
from bot.handoff.desk import availability
from bot.knowledge.answers import office_lines
from bot.knowledge.store import offices
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import Settings
from bot.storage.db import session_scope
from bot.storage.models import Handoff, utcnow

log = logging.getLogger(__name__)
REPEAT_STEP = "guide_repeat"


def paused() -> list[dict]:
    return [{"event": "pause"}]


def resumed() -> list[dict]:
    """Resume *and* listen, or Rasa would wait for an action instead of the citizen's next message."""
    return [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


def handed_back(procedure: str | None, step: int | None) -> list[dict]:
    """Resumed in a fresh session at the volunteer's chosen step. Without the new session, the next
    message after a long human talk would open one by itself (un-pausing silently and offering to
    resume the guide where it was before the volunteer came)."""
    events = [{"event": "resume"}, {"event": "session_started"}]
    if procedure:
        events.append({"event": "slot", "name": "procedure", "value": procedure})
    if procedure and step:
        events += [{"event": "slot", "name": "guide_slug", "value": procedure},
                   {"event": "slot", "name": "guide_step", "value": float(step)},
                   {"event": "slot", "name": "guide_phase", "value": "paused"},
                   {"event": "slot", "name": "guide_stuck", "value": 0.0}]
    return events + [{"event": "action", "name": "action_listen"}]


class CitizenAnnouncer:
    def __init__(self, router: Router, rasa: RasaClient, bus: EventBus, settings: Settings):
        self.router = router
        self.rasa = rasa
        self.settings = settings
        bus.subscribe(HandoffChanged, self.on_change)

    async def on_change(self, event: HandoffChanged) -> None:
        say = self._say_to(event)
        if event.kind == "queued":
            await self.rasa.append_events(event.rasa_sender_id, paused())
        elif event.kind == "claimed":
            await say(citizen_texts.claimed(event.volunteer_name))
        elif event.kind == "transferred":
            await say(citizen_texts.transferred(event.volunteer_name))
        elif event.kind in ("released", "expired"):
            await say(citizen_texts.back_in_queue(expired=event.kind == "expired"))
            for outbound in self._if_nobody_available(event.handoff_id):
                await say(outbound)
        elif event.kind == "handed_back":
            await self.rasa.append_events(event.rasa_sender_id, handed_back(event.procedure_slug, event.step))
            await say(citizen_texts.bot_again(event.previous_volunteer_name, event.step))
            await say(citizen_texts.rating_question(event.handoff_id, event.previous_volunteer_name))
            if event.procedure_slug and event.step:
                for reply in await self.rasa.trigger_intent(event.rasa_sender_id, REPEAT_STEP):
                    await say(reply)
        elif event.kind == "closed":
            await say(citizen_texts.closed(event.previous_volunteer_name))
            await say(citizen_texts.rating_question(event.handoff_id, event.previous_volunteer_name))
        elif event.kind == "cancelled":
            await self.rasa.append_events(event.rasa_sender_id, resumed())

    def _say_to(self, event: HandoffChanged):
        async def say(outbound) -> None:
            await self.router.push(event.channel, event.user_id, outbound, event.conversation_id)
        return say

    def _if_nobody_available(self, handoff_id: int) -> list:
        with session_scope() as session:
            desk = availability(session, self.settings, session.get(Handoff, handoff_id), utcnow())
            return [] if desk.anybody else citizen_texts.waiting(desk, office_lines(offices(session)))
