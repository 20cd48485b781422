"""The body of a platform's webhook call (Telegram, Zalo). Its size is capped before it is read by
the gateway's `BodyCap` at `MAX_WEBHOOK_BODY` (bot/app.py lists these routes); here it is parsed by
`bot.http_guard.parse_json`, once, so hostile JSON (deep nesting, lone surrogates, bad UTF-8) is a
4xx, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from bot.http_guard import parse_json

MAX_WEBHOOK_BODY = 1 << 20  # real updates and events are a few kilobytes
WEBHOOK_PATHS = ("/webhooks/telegram", "/webhooks/zalo", "/webhooks/telegram-volunteers")


async def read_json(request: Request) -> tuple[bytes, Any]:
    """The raw bytes (signatures are computed over them) and the parsed JSON."""
    raw = await request.body()
    return raw, parse_json(raw)
