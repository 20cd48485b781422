"""Neutral message types: what channels parse their wire format into and render out of."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Inbound:
    channel: str  # web | telegram | zalo
    user_id: str  # the channel's id of the citizen, always a string
    text: str  # for media: the caption, if any
    message_id: str | None = None  # the channel's own id (Telegram update_id, Zalo msg_id)
    media: str | None = None  # photo | document | voice | video | sticker | location: never sent to Rasa
    media_ref: str | None = None  # the channel's handle to fetch it (Telegram file_id, Zalo URL)


@dataclass(frozen=True)
class Outbound:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    author: str = "bot"  # bot | volunteer | system

    def as_dict(self) -> dict:
        return {"text": self.text, "buttons": [b.as_dict() for b in self.buttons]}
