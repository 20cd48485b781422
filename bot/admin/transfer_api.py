"""Import and export of the knowledge (/admin/api/...; staff and admin): spreadsheet and YAML
exports as downloads; an import as a multipart upload (`file`), a dry run by default. Thin over
bot.admin.transfer; every entry an import published is announced on the bus once committed."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from bot.admin import transfer
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.admin.schemas import ImportResult
from bot.events import KnowledgeChanged
from bot.openapi import not_json

IMPORT_PATH = "/admin/api/import"  # capped at transfer.MAX_UPLOAD_BYTES in bot/app.py


def routes(context: AdminContext) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.get("/export.{kind}", **not_json("application/octet-stream"))
    async def export(kind: Literal["csv", "xlsx", "zip"], _: Staff) -> Response:
        filename, content = await asyncio.to_thread(transfer.export, kind)
        return Response(
            content,
            media_type=transfer.MEDIA_TYPES[kind],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @api.post("/import", response_model=ImportResult)
    async def import_file(request: Request, who: Staff, dry_run: bool = Query(True)):
        try:
            upload = transfer.read_upload(request.headers.get("content-type", ""), await request.body())
            if dry_run:
                return await asyncio.to_thread(transfer.preview, upload)
            done = await asyncio.to_thread(transfer.apply, upload, who)
        except transfer.TransferError as error:
            return JSONResponse({"error": error.message, "errors": error.errors}, status_code=error.status)
        for change in done["changes"]:
            await context.bus.emit(KnowledgeChanged(change["slug"], change["new_revision"]))
        return done

    return api
