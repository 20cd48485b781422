"""The knowledge editor's JSON API (/admin/api/...; staff and admin): entries, schema, publish,
check, revisions with diffs and restore, preview from a draft, review dates. Thin over
bot.admin.knowledge_service; every publish is announced on the bus once it is committed."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from bot.admin import knowledge_service as service
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.admin.schemas import (
    Draft,
    Edit,
    Entries,
    EntryAnswer,
    Preview,
    PreviewRequest,
    Problems,
    Procedures,
    Published,
    Refused,
    Review,
    Reviewed,
    RevisionAnswer,
    Revisions,
)
from bot.events import KnowledgeChanged
from bot.knowledge.publish import MODELS, PublishError

Slug = Annotated[str, Path(max_length=80)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
# what a publish may answer instead (EditorRoute); the OpenAPI shows it on the routes that publish
REFUSED = {
    409: {"description": "someone published a newer revision: it is in the body", "model": Refused},
    422: {"description": "the entry is invalid: the body names the field", "model": Refused},
}


def refused(error: PublishError) -> JSONResponse:
    """A PublishError as the contract's body: 422 names the field, 409 the latest revision."""
    body: dict[str, Any] = {"error": error.message}
    if error.status == 422:
        body["field"] = error.field
    elif error.status == 409:
        body["revision"] = error.revision
    return JSONResponse(body, status_code=error.status)


class EditorRoute(APIRoute):
    """A PublishError raised by a route answers as `refused` says."""

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

    @api.get("/procedures", response_model=Procedures)
    async def procedures(_: Staff) -> dict:
        listed = await asyncio.to_thread(service.entries)
        return {
            "procedures": [
                {key: e[key] for key in ("slug", "title", "revision", "reviewed_at")}
                for e in listed
                if e["kind"] == "procedure"
            ]
        }

    @api.get("/entries", response_model=Entries)
    async def entries(_: Staff) -> dict:
        return {"entries": await asyncio.to_thread(service.entries)}

    @api.get(
        "/schema/{kind}", response_model=dict[str, Any], response_description="the JSON Schema of the kind's entries"
    )
    async def schema(kind: Literal["procedure", "offices", "canned"], _: Staff) -> dict:
        return MODELS[kind].model_json_schema()

    @api.get("/procedures/{slug}", response_model=EntryAnswer)
    async def procedure(slug: Slug, _: Staff) -> dict:
        return await asyncio.to_thread(service.entry, slug, "procedure")

    @api.get("/entries/{slug}", response_model=EntryAnswer)
    async def entry(slug: Slug, _: Staff) -> dict:
        return await asyncio.to_thread(service.entry, slug)

    @api.put("/procedures/{slug}", response_model=Published, responses=REFUSED)
    async def save_procedure(slug: Slug, body: Edit, who: Staff) -> dict:
        return await published(
            slug, await asyncio.to_thread(service.save, slug, body.revision, body.entry, who, "procedure")
        )

    @api.put("/entries/{slug}", response_model=Published, responses=REFUSED)
    async def save_entry(slug: Slug, body: Edit, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.save, slug, body.revision, body.entry, who))

    @api.post("/entries/{slug}/check", response_model=Problems)
    async def check(slug: Slug, body: Draft, _: Staff) -> dict:
        return {"problems": await asyncio.to_thread(service.problems, slug, body.entry)}

    @api.get("/procedures/{slug}/revisions", response_model=Revisions)
    async def procedure_revisions(slug: Slug, _: Staff) -> dict:
        return {"revisions": await asyncio.to_thread(service.revisions, slug, "procedure")}

    @api.get("/entries/{slug}/revisions", response_model=Revisions)
    async def entry_revisions(slug: Slug, _: Staff) -> dict:
        return {"revisions": await asyncio.to_thread(service.revisions, slug)}

    @api.get("/entries/{slug}/revisions/{n}", response_model=RevisionAnswer)
    async def revision(slug: Slug, n: Number, _: Staff) -> dict:
        return await asyncio.to_thread(service.revision, slug, n)

    @api.post("/procedures/{slug}/revisions/{n}/restore", response_model=Published)
    async def restore_procedure(slug: Slug, n: Number, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.restore, slug, n, who, "procedure"))

    @api.post("/entries/{slug}/revisions/{n}/restore", response_model=Published)
    async def restore_entry(slug: Slug, n: Number, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.restore, slug, n, who))

    @api.post("/preview", response_model=Preview)
    async def preview(body: PreviewRequest, _: Staff) -> dict:
        decision = await service.preview(context.rasa, body.slug, body.entry, body.question)
        return {"replies": [reply.as_dict() for reply in decision.replies], "about": decision.about.as_dict()}

    @api.get("/review", response_model=Review)
    async def review(_: Staff) -> dict:
        return {
            "review_after_days": context.settings.review_after_days,
            "due": await asyncio.to_thread(service.due_for_review),
        }

    @api.post("/entries/{slug}/reviewed", response_model=Published, responses=REFUSED)
    async def mark_reviewed(slug: Slug, body: Reviewed, who: Staff) -> dict:
        return await published(slug, await asyncio.to_thread(service.reviewed, slug, body.revision, who))

    return api
