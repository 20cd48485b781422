"""Webhook routes of channels this deployment has not configured (the embedded default): every
request is rejected with 403 and logged, so a forged or stray call stores nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


def disabled_webhook(channel: str) -> APIRouter:
    routes = APIRouter()

    @routes.post(f"/webhooks/{channel}", include_in_schema=False)
    async def reject(request: Request) -> JSONResponse:
        log.warning(
            "rejected %s webhook from %s: channel not configured",
            channel,
            request.client.host if request.client else "?",
        )
        return JSONResponse({"error": f"the {channel} channel is not configured on this server"}, status_code=403)

    return routes
