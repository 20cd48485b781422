"""The Telegram and Zalo webhooks' bodies are capped as the gateway configures them (one cap, in
`BodyCap`, set per route by `bot.app.body_caps`): a body declared too large is refused before a byte
is read, a chunked one as soon as it passes the cap, and a body under it is read whole. Driven at
the ASGI level so the test counts what the app actually read."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from bot.app import body_caps
from bot.channels.media_fetch import host_matches
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_webhook import SECRET_HEADER
from bot.channels.webhook_body import MAX_WEBHOOK_BODY
from bot.channels.zalo import ZaloChannel
from bot.http_guard import BodyCap
from bot.settings import get_settings
from tests.fakes.telegram_api import FakeTelegramAPI

CHUNK = 64 * 1024
CHUNKS = 100  # 6.4 MB offered, six times the cap
SECRET = "caps-secret"


def webhook_app(channel: str) -> FastAPI:
    settings = get_settings().model_copy(
        update={
            "zalo_app_id": "4291763606161179100",
            "zalo_oa_secret": "oa-secret",
            "telegram_token": FakeTelegramAPI().token,
            "telegram_secret": SECRET,
        }
    )
    made = ZaloChannel(settings, None) if channel == "zalo" else TelegramChannel(settings, None)
    app = FastAPI()
    app.include_router(made.routes)
    app.add_middleware(BodyCap, default_cap=settings.max_body_bytes, caps=body_caps(settings))
    return app


def post(app: FastAPI, path: str, declared: int | None, chunks: int = CHUNKS) -> tuple[int, int]:
    """(status, chunks the app read) for a POST offering `chunks` chunks of zeros."""
    read, sent = 0, []

    async def receive() -> dict:
        nonlocal read
        if read == chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b"0" * CHUNK, "more_body": read < chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (SECRET_HEADER.lower().encode(), SECRET.encode())]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), read


@pytest.mark.parametrize("channel, path", [("zalo", "/webhooks/zalo"), ("telegram", "/webhooks/telegram")])
def test_a_body_declared_too_large_is_refused_unread(channel, path):
    assert post(webhook_app(channel), path, declared=CHUNK * CHUNKS) == (413, 0)


@pytest.mark.parametrize("channel, path", [("zalo", "/webhooks/zalo"), ("telegram", "/webhooks/telegram")])
def test_a_chunked_body_is_cut_off_at_the_cap(channel, path):
    status, read = post(webhook_app(channel), path, declared=None)
    assert status == 413 and read <= MAX_WEBHOOK_BODY // CHUNK + 1


@pytest.mark.parametrize("channel, path", [("zalo", "/webhooks/zalo"), ("telegram", "/webhooks/telegram")])
def test_a_webhook_takes_bodies_larger_than_the_default_cap(channel, path):
    """Over MAX_BODY_BYTES but under the webhook's own cap: read whole and judged on its content
    (not JSON here: 400), not refused for its size."""
    assert post(webhook_app(channel), path, declared=CHUNK * 4, chunks=4) == (400, 4)  # 4× the default cap


@pytest.mark.parametrize(
    "url, trusted",
    [
        ("https://s120.zdn.vn/a.jpg", True),
        ("https://zdn.vn/a.jpg", True),
        ("https://f1.ZADN.vn./a.jpg", True),
        ("http://s120.zdn.vn/a.jpg", False),  # https only, but for a listed loopback test server
        ("http://127.0.0.1:8080/cdn/a.jpg", True),
        ("http://localhost:8080/cdn/a.jpg", False),
        ("https://evilzdn.vn/a.jpg", False),
        ("https://zdn.vn.evil.com/a.jpg", False),
        ("https://zdn.vn@evil.com/a.jpg", False),
        ("https://169.254.169.254/latest", False),
        ("file:///etc/passwd", False),
    ],
)
def test_zalo_media_hosts_are_the_listed_domains_and_their_subdomains(url, trusted):
    assert host_matches(url, ["zdn.vn", "zadn.vn", "127.0.0.1"]) is trusted
