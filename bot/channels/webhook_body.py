"""The body of a platform's webhook call (Telegram, Zalo), read with its own cap whatever the
middlewares in front do: refused from Content-Length before a byte is read, a chunked one as
soon as it passes the cap, then parsed by `bot.http_guard.parse_json` so hostile JSON (deep
nesting, lone surrogates, bad UTF-8) is a 4xx, never a 500."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from bot.http_guard import BadBody, parse_json

MAX_WEBHOOK_BODY = 1 << 20  # real updates and events are a few kilobytes


async def read_capped(request: Request, cap: int = MAX_WEBHOOK_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise BadBody(400, "malformed Content-Length")
    if declared is not None and int(declared) > cap:
        raise BadBody(413, f"body of {declared} bytes declared, over {cap}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BadBody(413, f"body over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, cap: int = MAX_WEBHOOK_BODY) -> tuple[bytes, Any]:
    """The raw bytes (signatures are computed over them) and the parsed JSON."""
    raw = await read_capped(request, cap)
    return raw, parse_json(raw)
