"""`/healthz`: the process is up. `/readyz`: everything a citizen's message needs is reachable.
`/metrics`: counters for monitoring."""
from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from bot.handoff.metrics import HandoffMetrics
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry


def health_routes(rasa: RasaClient, actions_url: str, metrics: HandoffMetrics) -> APIRouter:
    routes = APIRouter()

    @routes.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @routes.get("/healthz")
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

    @routes.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            db_state = await asyncio.to_thread(database)
        except Exception as exc:  # any database failure means not ready; say which
            db_state = f"error: {exc}"
        rasa_state, actions_state = await asyncio.gather(rasa_model(), action_server())
        checks = {"database": db_state, "rasa": rasa_state, "action_server": actions_state}
        not_ready = sorted(name for name, state in checks.items() if state != "ok")
        return JSONResponse({"ready": not not_ready, "not_ready": not_ready, "checks": checks},
                            status_code=200 if not not_ready else 503)

    return routes
