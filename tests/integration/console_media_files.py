"""Files a Telegram citizen sends to a volunteer, hostile and harmless, served by the fake Bot API:
a waiting request whose messages carry them, for the console's media tests."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import NamedTuple

from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Message, Owner
from tests.fakes.telegram_api import FakeTelegramAPI

IMAGES = Path(__file__).resolve().parent.parent / "data" / "console_media"
# Each script would leave a mark in the gateway origin's storage, where the console page can see it.
HTML_WITH_SCRIPT = b"<!doctype html><script>localStorage.setItem('pwned', 'html')</script><p>Xin chao</p>"
SVG_WITH_SCRIPT = (
    b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"localStorage.setItem('pwned', 'svg-onload')\">"
    b"<script>localStorage.setItem('pwned', 'svg')</script></svg>"
)
_ids = itertools.count(1)


class SentFile(NamedTuple):
    name: str  # as the citizen named it (Telegram keeps the extension in file_path)
    content: bytes
    inline_type: str | None  # the type an inline answer must have; None: must be a download


FILES = (
    SentFile("x.html", HTML_WITH_SCRIPT, None),
    SentFile("x.svg", SVG_WITH_SCRIPT, None),
    SentFile("png-named.html", (IMAGES / "red.png").read_bytes(), "image/png"),
    SentFile("red.jpg", (IMAGES / "red.jpg").read_bytes(), "image/jpeg"),
    SentFile("red.png", (IMAGES / "red.png").read_bytes(), "image/png"),
    SentFile("dot.gif", (IMAGES / "dot.gif").read_bytes(), "image/gif"),
    SentFile("red.webp", (IMAGES / "red.webp").read_bytes(), "image/webp"),
)


def telegram_settings(telegram: FakeTelegramAPI, **extra):
    """A gateway whose Telegram channel (polling, no webhook) downloads files from the fake."""
    return get_settings().model_copy(
        update={
            "telegram_token": telegram.token,
            "telegram_api_url": telegram.base_url,
            "telegram_file_url": telegram.base_file_url,
            **extra,
        }
    )


def waiting_request_with_files(telegram: FakeTelegramAPI) -> tuple[int, dict[str, str]]:
    """A Telegram citizen's queued request whose messages are FILES: (handoff id, file name → media URL)."""
    number = next(_ids)
    chat_id = 77_000_000 + number
    telegram.add_user(chat_id, "Hoa")
    telegram.add_chat(chat_id)  # so the bot can tell her when a volunteer takes over
    with session_scope() as session:
        citizen = Citizen(channel="telegram", channel_user_id=str(chat_id))
        session.add(citizen)
        session.flush()
        conversation = Conversation(citizen_id=citizen.id, rasa_sender_id=f"console-media-{number}", owner=Owner.queued)
        session.add(conversation)
        session.flush()
        handoff = Handoff(conversation_id=conversation.id, reason="citizen_request", channel="telegram")
        session.add(handoff)
        session.flush()
        urls = {}
        for file in FILES:
            file_id = f"BQACAgUAAxkBAAI{number}-{file.name}"
            telegram.add_file(file_id, file.content, f"documents/{number}-{file.name}")
            message = Message(
                conversation_id=conversation.id,
                citizen_id=citizen.id,
                direction="in",
                channel="telegram",
                channel_message_id=f"{number}-{file.name}",
                author="citizen",
                text=f"[Tệp] {file.name}",
                media={"kind": "document", "ref": file_id},
                status="processed",
            )
            session.add(message)
            session.flush()
            urls[file.name] = f"/console/api/messages/{message.id}/media"
        return handoff.id, urls
