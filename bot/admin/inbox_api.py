"""Routes of the unanswered-question inbox and the FAQ drafts (thin over bot.admin.inbox)."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from bot.admin import inbox
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.admin.knowledge_api import EditorRoute
from bot.events import KnowledgeChanged
from bot.storage.db import session_scope

RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Question = Annotated[str, Field(min_length=1, max_length=500)]


class Change(BaseModel):
    slug: str | None = Field(default=None, max_length=80)
    faq_id: str | None = Field(default=None, max_length=80)
    question: Question | None = None
    phrasing: Question | None = None  # a new FAQ entry's second question, typed by staff
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    source: str | None = Field(default=None, max_length=120)


class Decision(Change):
    message_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=500)
    action: Literal["alias", "faq_variant", "faq_new", "out_of_scope", "ignore"]


class DraftPublish(Change):
    action: Literal["faq_new", "faq_variant"]


def routes(context: AdminContext) -> APIRouter:
    api = APIRouter(prefix="/api", route_class=EditorRoute)  # PublishError → 404/409/422 with its field

    def run(work, *args):
        with session_scope() as session:
            try:
                return work(session, *args)
            except inbox.InboxError as error:
                raise HTTPException(error.status, error.message) from error

    async def published(slug: str | None, revision: int | None) -> dict:
        if revision is not None:  # once committed: other replicas and consoles hear of it
            await context.bus.emit(KnowledgeChanged(slug, revision))
        return {"ok": True, "revision": revision}

    @api.get("/inbox")
    async def groups(_: Staff, days: Annotated[int, Query(ge=1, le=3650)] = 90) -> dict:
        return {"days": days, "groups": await asyncio.to_thread(run, inbox.unanswered, days)}

    @api.post("/inbox/decide")
    async def decide(body: Decision, who: Staff) -> dict:
        change = inbox.Knowledge(**body.model_dump(exclude={"message_ids"}))
        revision = await asyncio.to_thread(run, inbox.decide, body.message_ids, change, who.volunteer_id)
        return await published(body.slug, revision)

    @api.get("/conversations/{conversation_id}")
    async def conversation(conversation_id: RowId, _: Staff) -> dict:
        return await asyncio.to_thread(run, inbox.transcript, conversation_id)

    @api.get("/inbox/drafts")
    async def drafts(_: Staff) -> dict:
        return {"drafts": await asyncio.to_thread(run, inbox.drafts)}

    @api.post("/inbox/drafts/{draft_id}/publish")
    async def publish_draft(draft_id: RowId, body: DraftPublish, who: Staff) -> dict:
        change = inbox.Knowledge(**body.model_dump())
        slug, revision = await asyncio.to_thread(run, inbox.publish_draft, draft_id, change, who.volunteer_id)
        return await published(slug, revision)

    @api.post("/inbox/drafts/{draft_id}/dismiss")
    async def dismiss_draft(draft_id: RowId, who: Staff) -> dict:
        await asyncio.to_thread(run, inbox.dismiss_draft, draft_id, who.volunteer_id)
        return {"ok": True}

    return api
