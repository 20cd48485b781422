"""`/healthz`: the process is up. `/readyz`: everything a citizen's message needs is reachable.
`/metrics`: counters for monitoring, for loopback clients (a Prometheus beside it) or a Bearer of
METRICS_TOKEN; behind a trusted proxy the client is the one it names, not the proxy."""

from __future__ import annotations

import asyncio
import hmac

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select, text

from bot.handoff.metrics import HandoffMetrics
from bot.limits import is_loopback
from bot.openapi import Problem, not_json
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.settings import Settings
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry


class Alive(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    not_ready: list[str]
    checks: dict[str, str]  # part → "ok" or what is wrong


def metrics_allowed(request: Request, metrics_token: str) -> bool:
    if is_loopback(request.app.state.limits.client_address(request.scope)):
        return True
    given = request.headers.get("authorization", "").encode()
    return bool(metrics_token) and hmac.compare_digest(given, f"Bearer {metrics_token}".encode())


def health_routes(rasa: RasaClient, metrics: HandoffMetrics, settings: Settings) -> APIRouter:
    routes = APIRouter()
    metrics_token, actions_url = settings.metrics_token, settings.actions_url

    @routes.get(
        "/metrics",
        **not_json(
            "text/plain", {403: {"description": "not a loopback client and no valid METRICS_TOKEN", "model": Problem}}
        ),
    )
    async def prometheus(request: Request) -> Response:
        if not metrics_allowed(request, metrics_token):
            return JSONResponse(
                {"error": "metrics are for loopback clients or a Bearer METRICS_TOKEN"}, status_code=403
            )
        return PlainTextResponse(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @routes.get("/healthz", response_model=Alive)
    async def healthz() -> dict:
        return {"status": "ok"}

    def database() -> str:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            entries = session.scalar(select(func.count()).select_from(KnowledgeEntry))
        return "ok" if entries else "no knowledge loaded (run: python -m bot kb load)"

    async def rasa_model() -> str:
        try:
            statuses = await rasa.status()
        except RasaUnavailable as exc:
            return f"unreachable: {exc}"
        return "ok" if all(s.get("model_file") for s in statuses) else "no model loaded"

    async def action_server() -> str:
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                response = await client.get(f"{actions_url}/health")
            return "ok" if response.status_code == 200 else f"status {response.status_code}"
        except httpx.HTTPError as exc:
            return f"unreachable: {exc or type(exc).__name__}"

    @routes.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"description": "a part is not ready (the body says which)", "model": Readiness}},
    )
    async def readyz() -> JSONResponse:
        try:
            db_state = await asyncio.to_thread(database)
        except Exception as exc:  # any database failure means not ready; say which
            db_state = f"error: {exc}"
        rasa_state, actions_state = await asyncio.gather(rasa_model(), action_server())
        checks = {"database": db_state, "rasa": rasa_state, "action_server": actions_state}
        not_ready = sorted(name for name, state in checks.items() if state != "ok")
        return JSONResponse(
            {"ready": not not_ready, "not_ready": not_ready, "checks": checks},
            status_code=200 if not not_ready else 503,
        )

    return routes
