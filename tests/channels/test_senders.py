"""Which conversation a webhook event belongs to, as the inbox orders them: the chat of a Telegram
message or pressed button, the user of a Zalo event; None for what belongs to nobody."""

import pytest

from bot.channels.telegram import chat_of
from bot.channels.zalo import sender_of


@pytest.mark.parametrize(
    "update, chat",
    [
        ({"update_id": 1, "message": {"chat": {"id": 7001}, "text": "hi"}}, "7001"),
        ({"update_id": 2, "callback_query": {"from": {"id": 7002}, "message": {"chat": {"id": 7002}}}}, "7002"),
        ({"update_id": 3, "my_chat_member": {"chat": {"id": 7003}}}, None),
        ({"update_id": 4, "message": "not an object"}, None),
        ({"update_id": 5, "callback_query": {"id": "inline, no message"}}, None),
    ],
)
def test_a_telegram_update_belongs_to_its_chat(update, chat):
    assert chat_of(update) == chat


@pytest.mark.parametrize(
    "event, sender",
    [
        ({"event_name": "user_send_text", "sender": {"id": "2468458835000000001"}}, "2468458835000000001"),
        ({"event_name": "follow", "follower": {"id": "1"}}, None),
        ({"event_name": "user_send_text", "sender": "garbled"}, None),
    ],
)
def test_a_zalo_event_belongs_to_its_sender(event, sender):
    assert sender_of(event) == sender
