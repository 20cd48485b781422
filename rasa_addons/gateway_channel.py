"""Rasa input channel used by the gateway only.

Rasa's own REST webhook is not covered by Rasa's API token and returns only the bot's messages.
This channel checks the shared token itself and returns, beside the messages, what Rasa made of
the message (intent, confidence, entities) and the actions it ran, for the app's `turns` table.

When the action server cannot be reached, or the tracker store (the database) fails, Rasa logs it
and carries on: without the action's events, or with an empty tracker kept in memory. Such a turn
is not an answer (`rasa_addons.outages`): this channel answers 503 instead and the gateway keeps
the message until Rasa can answer it properly. (An action that fails by itself is a bug, not an
outage: its turn is returned as Rasa made it.)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_addons import outages, speedups
from rasa_addons.tracker_store import GatewaySQLTrackerStore, latest_turn_of

logger = logging.getLogger(__name__)
speedups.install()


NO_TURN = {"intent": None, "confidence": None, "entities": [], "actions": []}
_run_remote_action = RemoteAction.run


async def _run_noting_unreachable_actions(self, *args, **kwargs):
    try:
        return await _run_remote_action(self, *args, **kwargs)
    except Exception as exc:
        unreachable = (aiohttp.ClientConnectionError, asyncio.TimeoutError)
        if any(isinstance(e, unreachable) for e in (exc, exc.__cause__, exc.__context__)):
            outages.note(f"action server ({self.name()})")
        raise


_on_tracker_store_error = FailSafeTrackerStore.on_tracker_store_error


def _on_tracker_store_error_noted(self, error: Exception) -> None:
    outages.note(f"tracker store ({type(error).__name__})")
    _on_tracker_store_error(self, error)


RemoteAction.run = _run_noting_unreachable_actions
FailSafeTrackerStore.on_tracker_store_error = _on_tracker_store_error_noted


async def summarise_latest_turn(store: TrackerStore, sender: Text, message_id: Text) -> Dict[Text, Any]:
    """Intent, entities and the actions run after the user message with `message_id`: from the
    store's memory (the usual case), else from the tracker read back (another message of the same
    conversation was saved in between)."""
    inner = getattr(store, "_tracker_store", store)  # Rasa wraps the configured store in a fail-safe one
    if isinstance(inner, GatewaySQLTrackerStore):
        remembered = inner.latest_turn(sender, message_id)
        if remembered is not None:
            return remembered
    tracker = await store.retrieve(sender)
    turn = latest_turn_of(tracker) if tracker else None
    if turn is None or turn.pop("message_id") != message_id:
        return dict(NO_TURN)
    return turn


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
            noted = outages.watch()
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    sender,
                    input_channel=self.name(),
                    message_id=message_id,
                    metadata=body.get("metadata"),
                )
            )
            if noted:
                logger.warning("message %s not answered: %s unavailable", message_id, ", ".join(noted))
                return response.json({"error": "unavailable", "unavailable": noted}, status=503)
            turn = await summarise_latest_turn(request.app.ctx.agent.tracker_store, sender, message_id)
            return response.json({"messages": collector.messages, **turn})

        return hook
