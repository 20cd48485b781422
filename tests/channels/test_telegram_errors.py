"""What a handler raises while an update is processed reaches the inbox (which records it, or tries
again when the database was away), instead of being only logged by python-telegram-bot; the real
library processes the update, against the local Bot API contract server."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from bot.channels.telegram import TelegramChannel
from bot.messages import Inbound
from bot.settings import get_settings
from tests.fakes.telegram_api import FakeTelegramAPI


def processed(telegram: FakeTelegramAPI, answer) -> None:
    settings = get_settings().model_copy(
        update={
            "telegram_token": telegram.token,
            "telegram_api_url": telegram.base_url,
            "telegram_file_url": telegram.base_file_url,
        }
    )

    async def run() -> None:
        channel = TelegramChannel(settings, answer)
        await channel.application.initialize()
        try:
            telegram.add_user(7001, "Lan")
            telegram.add_chat(7001)
            await channel._process(telegram.make_message_update(7001, 7001, "làm căn cước ở đâu"))
        finally:
            await channel.application.shutdown()

    asyncio.run(run())


def test_a_database_outage_in_a_handler_is_raised_to_the_inbox(telegram):
    async def answer(_: Inbound) -> None:
        raise OperationalError("INSERT INTO turns", {}, ConnectionError("terminating connection"))

    with pytest.raises(OperationalError):
        processed(telegram, answer)


def test_an_update_handled_without_error_raises_nothing(telegram):
    answered: list[str] = []

    async def answer(inbound: Inbound) -> None:
        answered.append(inbound.text)

    processed(telegram, answer)
    assert answered == ["làm căn cước ở đâu"]
