"""The step-by-step guide action: reads the guide state from slots, lets bot.guide decide,
records each step change (through bot.guide)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import answer
from actions.common import evidence_of, not_understood, report, request_handoff, send
from bot import guide
from bot.knowledge import answers
from bot.knowledge.answers import Reply, intent_payload
from bot.knowledge.decide import Evidence, decide, resolve, unresolved
from bot.knowledge.search import KnowledgeIndex, live_index
from bot.messages import About


def state_of(tracker: Tracker) -> guide.GuideState:
    return guide.GuideState(
        slug=tracker.get_slot("guide_slug"),
        step=int(tracker.get_slot("guide_step") or 0),
        phase=tracker.get_slot("guide_phase"),
        stuck=int(tracker.get_slot("guide_stuck") or 0),
    )


def slots_of(state: guide.GuideState) -> list[dict]:
    return [
        SlotSet("guide_slug", state.slug),
        SlotSet("guide_step", float(state.step)),
        SlotSet("guide_phase", state.phase),
        SlotSet("guide_stuck", float(state.stuck)),
    ]


class ActionGuide(Action):
    def name(self) -> str:
        return "action_guide"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        index = live_index.get()
        state = state_of(tracker)
        if intent == "guide_me":
            evidence = evidence_of(tracker)
            slug = self._procedure(dispatcher, tracker, index, evidence)
            if slug is None:
                return []
            outcome = guide.start(index.by_slug[slug])
        elif state.active and state.slug in index.by_slug:
            problem = next(tracker.get_latest_entity_values("problem"), None)
            outcome = guide.handle(index.by_slug[state.slug], state, intent, problem)
            slug = state.slug
        else:  # no guide going on: the words may well be a question ("tôi bị kẹt ở bước đăng nhập vneid")
            decision = decide(index, evidence_of(tracker))
            if decision.from_the_words and decision.about.outcome in ("answer", "decline"):
                return answer(dispatcher, tracker, decision)
            context = tracker.get_slot("procedure")
            send(dispatcher, [self._no_guide(intent, context, index)])
            report(dispatcher, About(context if context in index.by_slug else None, "process", "other"))
            if context not in index.by_slug:  # nothing to go on at all
                not_understood(dispatcher, tracker)
            return []
        send(dispatcher, outcome.replies)
        report(dispatcher, About(slug, "process", "handoff" if outcome.needs_volunteer else "guide"))
        if outcome.needs_volunteer:
            request_handoff(dispatcher, "stuck", slug, outcome.state.step)
        if outcome.event is not None:
            guide.record_event(tracker.sender_id, slug, outcome.event)
        return slots_of(outcome.state) + [SlotSet("procedure", slug)]

    @staticmethod
    def _procedure(
        dispatcher: CollectingDispatcher, tracker: Tracker, index: KnowledgeIndex, evidence: Evidence
    ) -> str | None:
        """Which procedure to guide through; None when the citizen was asked or declined instead."""
        found = resolve(index, evidence.question(), evidence)
        if found.slug is not None:
            return found.slug
        answer(dispatcher, tracker, unresolved(index, found, "process", "guide_me"))
        return None

    @staticmethod
    def _no_guide(intent: str, context: str | None, index) -> Reply:
        """A guide word with no guide going on: offer one, or ask what the citizen needs."""
        if intent in ("affirm", "deny"):
            return answers.HELP
        buttons = [{"title": "Gặp tình nguyện viên", "payload": intent_payload("request_human")}]
        if context in index.by_slug:
            entry = index.by_slug[context]
            buttons.insert(
                0, {"title": "Hướng dẫn nộp trực tuyến", "payload": intent_payload("guide_me", procedure=context)}
            )
            return Reply(f"Dạ, anh/chị muốn em hướng dẫn từng bước nộp hồ sơ {entry.title} không ạ?", buttons)
        return Reply("Dạ, anh/chị đang làm thủ tục nào ạ? Anh/chị nhắn tên thủ tục giúp em nhé.", buttons)
