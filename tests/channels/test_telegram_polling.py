"""Telegram's limits, with the real python-telegram-bot against the local Bot API contract server:
another poller with the same token (409 Conflict) stops a polling gateway with one clear line and a
non-zero exit, instead of a gateway that serves on without receiving anything; a 429 on a reply is
waited out as long as Telegram says, by python-telegram-bot's rate limiter."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from telegram.ext import AIORateLimiter

from bot.channels.telegram import TelegramChannel
from bot.messages import Outbound
from bot.settings import get_settings
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CITIZEN = 7301


@pytest.fixture
def telegram():
    with FakeTelegramAPI() as api:
        api.add_user(CITIZEN, "Mai")
        api.add_chat(CITIZEN)
        yield api


def test_another_poller_stops_the_gateway_with_one_clear_line(telegram, tmp_path):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "TELEGRAM_FILE_URL": telegram.base_file_url,
        "TELEGRAM_WEBHOOK_URL": "",
    }
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "gateway.log"
    with log.open("w") as output:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bot.app:create_app", "--factory", "--port", str(free_port())],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        telegram.wait_for_call("getUpdates", timeout=60)  # the gateway's long poll is waiting
        other = httpx.post(f"{telegram.base_url}{telegram.token}/getUpdates", json={"timeout": 1}, timeout=10)
        assert other.json() == {"ok": True, "result": []}  # the newer poller is served
        exit_status = gateway.wait(30)
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait()
    lines = log.read_text().splitlines()
    said = [line for line in lines if "another process polls with this bot token" in line]
    assert exit_status != 0, lines
    assert len(said) == 1 and "terminated by other getUpdates request" in said[0], lines
    assert not any("Traceback" in line for line in lines), lines


def test_a_rate_limited_reply_waits_as_told_then_arrives(telegram):
    settings = get_settings().model_copy(
        update={
            "telegram_token": telegram.token,
            "telegram_api_url": telegram.base_url,
            "telegram_file_url": telegram.base_file_url,
        }
    )
    telegram.fail_next("sendMessage", retry_after=1, chat_id=CITIZEN)

    async def send() -> None:
        channel = TelegramChannel(settings, answer=None)
        assert isinstance(channel.application.bot.rate_limiter, AIORateLimiter)
        await channel.application.initialize()
        try:
            await channel.send(str(CITIZEN), Outbound("Dạ, anh/chị mang theo căn cước ạ."))
        finally:
            await channel.application.shutdown()

    asyncio.run(send())
    (refused_at, _), (sent_at, _) = telegram.timed_calls("sendMessage")
    assert sent_at - refused_at >= 1
    assert [m["text"] for m in telegram.sent_messages(CITIZEN)] == ["Dạ, anh/chị mang theo căn cước ạ."]
