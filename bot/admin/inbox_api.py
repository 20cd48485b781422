"""Routes of the unanswered-question inbox and the FAQ drafts (thin over bot.admin.inbox)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from bot.admin import inbox
from bot.admin.access import Staff
from bot.admin.context import AdminContext
from bot.admin.knowledge_api import EditorRoute
from bot.admin.schemas import Decision, DraftPublish, FaqDrafts, Inbox, InboxPublished, Transcript
from bot.events import KnowledgeChanged
from bot.openapi import Ok
from bot.storage.db import session_scope

RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


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

    @api.get("/inbox", response_model=Inbox)
    async def groups(_: Staff, days: Annotated[int, Query(ge=1, le=3650)] = 90) -> dict:
        return {"days": days, "groups": await asyncio.to_thread(run, inbox.unanswered, days)}

    @api.post("/inbox/decide", response_model=InboxPublished)
    async def decide(body: Decision, who: Staff) -> dict:
        change = inbox.Knowledge(**body.model_dump(exclude={"message_ids"}))
        revision = await asyncio.to_thread(run, inbox.decide, body.message_ids, change, who.volunteer_id)
        return await published(body.slug, revision)

    @api.get("/conversations/{conversation_id}", response_model=Transcript)
    async def conversation(conversation_id: RowId, _: Staff) -> dict:
        return await asyncio.to_thread(run, inbox.transcript, conversation_id)

    @api.get("/inbox/drafts", response_model=FaqDrafts)
    async def drafts(_: Staff) -> dict:
        return {"drafts": await asyncio.to_thread(run, inbox.drafts)}

    @api.post("/inbox/drafts/{draft_id}/publish", response_model=InboxPublished)
    async def publish_draft(draft_id: RowId, body: DraftPublish, who: Staff) -> dict:
        change = inbox.Knowledge(**body.model_dump())
        slug, revision = await asyncio.to_thread(run, inbox.publish_draft, draft_id, change, who.volunteer_id)
        return await published(slug, revision)

    @api.post("/inbox/drafts/{draft_id}/dismiss", response_model=Ok)
    async def dismiss_draft(draft_id: RowId, who: Staff) -> dict:
        await asyncio.to_thread(run, inbox.dismiss_draft, draft_id, who.volunteer_id)
        return {"ok": True}

    return api
