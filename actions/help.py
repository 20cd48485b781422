"""A citizen asks for a person."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import office_book, send
from bot.knowledge.answers import Reply, office_lines


class ActionRequestHuman(Action):
    """Until the volunteer desk is open on this server, say so and give the official contacts."""

    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        send(dispatcher, [
            Reply("Dạ, hiện chưa có tình nguyện viên trực tuyến để nhận cuộc trò chuyện này."),
            Reply("Anh/chị có thể liên hệ:\n" + "\n".join(office_lines(office_book()))),
        ])
        return []
