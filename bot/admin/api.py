"""The admin page at `/admin` and its JSON API under `/admin/api`; each part's routes live in
their own module, thin over the part's service."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from bot.admin import accounts_api, inbox_api, knowledge_api, reports_api, transfer_api
from bot.admin.context import AdminContext

STATIC = Path(__file__).with_name("static")


def admin_routes(context: AdminContext) -> APIRouter:
    routes = APIRouter(prefix="/admin")

    @routes.get("", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "admin.html")

    for part in (knowledge_api, inbox_api, transfer_api, reports_api, accounts_api):
        routes.include_router(part.routes(context))
    return routes
