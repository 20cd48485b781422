"""The knowledge editor's JSON API (/admin/api/...; staff and admin): entries, schema, publish,
check, revisions with diffs and restore, preview from a draft, review dates. Thin over
bot.admin.knowledge_service; every publish is announced on the bus once it is committed."""
from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from bot.admin import knowledge_service as service
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.events import KnowledgeChanged
from bot.knowledge.publish import MODELS, PublishError

Slug = Annotated[str, Path(max_length=80)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
Revision = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Draft(BaseModel):
    entry: dict[str, Any]


class Edit(Draft):
    revision: Revision


class Reviewed(BaseModel):
    revision: Revision


class PreviewRequest(Draft):
    slug: str = Field(max_length=80)
    question: str = Field(min_length=1, max_length=1000)


def refused(error: PublishError) -> JSONResponse:
    """A PublishError as the contract's body: 422 names the field, 409 the latest revision."""
    body: dict[str, Any] = {"error": error.message}
    if error.status == 422:
        body["field"] = error.field
    elif error.status == 409:
        body["revision"] = error.revision
    return JSONResponse(body, status_code=error.status)


class EditorRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request):
            try:
                return await handler(request)
            except PublishError as error:
                return refused(error)
        return handle


def routes(context: AdminContext) -> APIRouter:
    api = APIRouter(prefix="/api", route_class=EditorRoute)

    async def published(slug: str, revision: int) -> dict[str, int]:
        await context.bus.emit(KnowledgeChanged(slug, revision))
        return {"revision": revision}

    @api.get("/procedures")
    async def procedures(_: Staff) -> dict:
        listed = await asyncio.to_thread(service.entries)
        return {"procedures": [{key: e[key] for key in ("slug", "title", "revision", "reviewed_at")}
                               for e in listed if e["kind"] == "procedure"]}

    @api.get("/entries")
    async def entries(_: Staff) -> dict:
        return {"entries": await asyncio.to_thread(service.entries)}

    @api.get("/schema/{kind}")
    async def schema(kind: Literal["procedure", "offices", "canned"], _: Staff) -> dict:
        return MODELS[kind].model_json_schema()

    @api.get("/procedures/{slug}")
    async def procedure(slug: Slug, _: Staff) -> dict:
        return await asyncio.to_thread(service.entry, slug, "procedure")

    @api.get("/entries/{slug}")
    async def entry(slug: Slug, _: Staff) -> dict:
        return await asyncio.to_thread(service.entry, slug)

    @api.put("/procedures/{slug}")
    async def save_procedure(slug: Slug, body: Edit, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.save, slug, body.revision, body.entry, who,
                                                              "procedure"))

    @api.put("/entries/{slug}")
    async def save_entry(slug: Slug, body: Edit, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.save, slug, body.revision, body.entry, who))

    @api.post("/entries/{slug}/check")
    async def check(slug: Slug, body: Draft, _: Staff) -> dict:
        return {"problems": await asyncio.to_thread(service.problems, slug, body.entry)}

    @api.get("/procedures/{slug}/revisions")
    async def procedure_revisions(slug: Slug, _: Staff) -> dict:
        return {"revisions": await asyncio.to_thread(service.revisions, slug, "procedure")}

    @api.get("/entries/{slug}/revisions")
    async def entry_revisions(slug: Slug, _: Staff) -> dict:
        return {"revisions": await asyncio.to_thread(service.revisions, slug)}

    @api.get("/entries/{slug}/revisions/{n}")
    async def revision(slug: Slug, n: Number, _: Staff) -> dict:
        return await asyncio.to_thread(service.revision, slug, n)

    @api.post("/procedures/{slug}/revisions/{n}/restore")
    async def restore_procedure(slug: Slug, n: Number, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.restore, slug, n, who, "procedure"))

    @api.post("/entries/{slug}/revisions/{n}/restore")
    async def restore_entry(slug: Slug, n: Number, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.restore, slug, n, who))

    @api.post("/preview")
    async def preview(body: PreviewRequest, _: Staff) -> dict:
        decision = await service.preview(context.rasa, body.slug, body.entry, body.question)
        return {"replies": [reply.as_dict() for reply in decision.replies],
                "about": decision.about.as_dict()}

    @api.get("/review")
    async def review(_: Staff) -> dict:
        return {"review_after_days": context.settings.review_after_days,
                "due": await asyncio.to_thread(service.due_for_review)}

    @api.post("/entries/{slug}/reviewed")
    async def mark_reviewed(slug: Slug, body: Reviewed, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.reviewed, slug, body.revision, who))

    return api
