"""Neutral message types: what channels parse their wire format into and render out of."""

from __future__ import annotations

import re
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
class About:
    """One turn's decision (bot.knowledge.decide), as `/api/chat` returns it and `turns` stores it.
    outcome: answer | decline | clarify | guide | handoff | chitchat | other, or deferred on `/api/chat`
    (Rasa was down: the message is answered later and its turn stored then)."""

    procedure: str | None
    aspect: str | None
    outcome: str

    def as_dict(self) -> dict:
        return {"procedure": self.procedure, "aspect": self.aspect if self.procedure else None, "outcome": self.outcome}


class MediaUnavailable(Exception):
    """The channel could not hand over a file a citizen sent (expired, network)."""


@dataclass(frozen=True)
class Outbound:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    author: str = "bot"  # bot | volunteer | system

    def as_dict(self) -> dict:
        return {"text": self.text, "buttons": [b.as_dict() for b in self.buttons]}


# Where a long text may be cut, best first: paragraph, line, sentence end, any space.
_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?…](?=\s)"), re.compile(r"\s"))


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters (a channel's message size), cut at the best
    boundary in the second half of each part."""
    parts, rest = [], text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]  # one more character, so a boundary right at the limit is seen
        cut = next(
            (
                ends[-1]
                for pattern in _BOUNDARIES
                if (ends := [m.end() for m in pattern.finditer(window) if limit // 2 < m.end() <= limit])
            ),
            limit,
        )
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts + [rest]
