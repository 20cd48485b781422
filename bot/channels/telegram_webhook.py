"""What both Telegram bots' webhooks check before an update is taken in: Telegram's secret token
header, the body's size, and that it is an update at all. A refusal is logged and stores nothing."""

from __future__ import annotations

import hmac
import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from bot.channels.webhook_body import read_json
from bot.http_guard import BadBody

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def read_update(request: Request, secret: str, route: str) -> dict | JSONResponse:
    """The update's JSON, or the response that refuses the call."""
    given = request.headers.get(SECRET_HEADER, "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return _refuse(403, "wrong secret token", route, request)
    try:
        _, payload = await read_json(request)
    except BadBody as exc:
        return _refuse(
            exc.status, "body too large" if exc.status == 413 else "malformed update", route, request, exc.message
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return _refuse(400, "malformed update", route, request, "no integer update_id")
    return payload


def _refuse(status: int, error: str, route: str, request: Request, detail: str = "") -> JSONResponse:
    log.warning(
        "%s webhook refused (%d: %s %s) from %s",
        route,
        status,
        error,
        detail,
        request.client.host if request.client else "?",
    )
    return JSONResponse({"error": error}, status_code=status)
