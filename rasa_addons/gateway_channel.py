"""Rasa input channel used by the gateway only.

Rasa's own REST webhook is not covered by Rasa's API token and returns only the bot's messages.
This channel checks the shared token itself and returns, beside the messages, what Rasa made of
the message (intent, confidence, entities) and the actions it ran, for the app's `turns` table.
"""
from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_addons import speedups
from rasa_addons.tracker_store import GatewaySQLTrackerStore

logger = logging.getLogger(__name__)
speedups.install()


RECENT_EVENTS = 40  # user and action events; more than one turn produces
TURN_EVENTS = (UserUttered.type_name, ActionExecuted.type_name)


async def _recent_turn_events(store: TrackerStore, sender: Text) -> List[Tuple[Text, Optional[Text], Any]]:
    """(type, action name, data) of the newest user and action events, newest first.

    On an SQL store only those rows are read: loading the whole tracker again for every message
    would cost more and more as the conversation grows."""
    inner = getattr(store, "_tracker_store", store)  # Rasa wraps the configured store in a fail-safe one
    if isinstance(inner, SQLTrackerStore):
        table = inner.SQLEvent
        with inner.session_scope() as session:
            return (
                session.query(table.type_name, table.action_name, table.data)
                .filter(table.sender_id == sender, table.type_name.in_(TURN_EVENTS))
                .order_by(table.id.desc())
                .limit(RECENT_EVENTS)
                .all()
            )
    tracker = await store.retrieve(sender)
    events = [e for e in reversed(tracker.events) if e.type_name in TURN_EVENTS] if tracker else []
    return [(e.type_name, getattr(e, "action_name", None), e.as_dict()) for e in events[:RECENT_EVENTS]]


async def summarise_latest_turn(store: TrackerStore, sender: Text, message_id: Text) -> Dict[Text, Any]:
    """Intent, entities and the actions run after the user message with `message_id`: from the
    store's memory when it kept them (the usual case), else read back from the events."""
    inner = getattr(store, "_tracker_store", store)  # Rasa wraps the configured store in a fail-safe one
    if isinstance(inner, GatewaySQLTrackerStore):
        remembered = inner.latest_turn(sender, message_id)
        if remembered is not None:
            return remembered
    actions: List[Text] = []
    for type_name, action_name, data in await _recent_turn_events(store, sender):
        if type_name == ActionExecuted.type_name:
            if action_name != "action_listen":
                actions.insert(0, action_name)
            continue
        user = json.loads(data) if isinstance(data, str) else data
        if user.get("message_id") == message_id:
            parse = user.get("parse_data") or {}
            intent = parse.get("intent") or {}
            return {
                "intent": intent.get("name"),
                "confidence": intent.get("confidence"),
                "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities") or []],
                "actions": actions,
            }
        actions = []  # those followed a later message
    return {"intent": None, "confidence": None, "entities": [], "actions": []}


class GatewayInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def __init__(self, token: Text) -> None:
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        token = (credentials or {}).get("token")
        if not token:
            raise ValueError("the gateway channel needs a `token` (set RASA_TOKEN)")
        return cls(token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("gateway_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return response.json({"error": "unauthorised"}, status=401)
            body = request.json or {}
            sender, text, message_id = body.get("sender"), body.get("message"), body.get("message_id")
            if not (isinstance(sender, str) and isinstance(text, str) and isinstance(message_id, str)):
                return response.json({"error": "sender, message and message_id are required strings"}, status=400)
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), message_id=message_id,
                            metadata=body.get("metadata"))
            )
            turn = await summarise_latest_turn(request.app.ctx.agent.tracker_store, sender, message_id)
            return response.json({"messages": collector.messages, **turn})

        return hook
