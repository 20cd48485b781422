"""The volunteer console's bodies (bot.console.api): what its routes take and answer, as the
OpenAPI shows them. Routes answer with `response_model_exclude_unset`, so a key the route leaves
out (a message without media) stays out instead of turning into a null."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bot.knowledge.schema import CannedReply

# Ids and steps are 32-bit columns (PostgreSQL `integer`): a larger number names nothing and would
# overflow the driver, so it is refused as invalid input instead of failing the query.
MAX_ROW_ID = 2**31 - 1


# -- requests -------------------------------------------------------------------------------------


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Status(BaseModel):
    online: bool


class VolunteerMessage(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    confirm: bool = False


class Note(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class Transfer(BaseModel):
    volunteer_id: int = Field(ge=1, le=MAX_ROW_ID)


class HandBack(BaseModel):
    step: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


class Close(BaseModel):
    outcome: str


class FaqDraftBody(BaseModel):
    """A volunteer's reply proposed as a FAQ entry: the citizen's question and the answer."""

    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=2000)
    slug: str | None = Field(default=None, max_length=80)


# -- answers --------------------------------------------------------------------------------------


class Outcome(BaseModel):
    key: str
    label: str


class Profile(BaseModel):
    """The logged-in account, its CSRF token and what its console offers."""

    id: int
    name: str
    role: str
    online: bool
    csrf: str
    must_change_password: bool
    outcomes: list[Outcome]
    canned: list[CannedReply]


class Summary(BaseModel):
    """A handoff in the queue: the preview is the citizen's last message, masked."""

    id: int
    channel: str
    reason: str
    reason_label: str
    preview: str
    waiting_s: int
    procedure_title: str | None
    left_question: bool
    volunteer_name: str | None


class VolunteerOnline(BaseModel):
    id: int
    name: str
    online: bool


class Queue(BaseModel):
    queued: list[Summary]
    mine: list[Summary]
    volunteers: list[VolunteerOnline]


class Media(BaseModel):
    kind: str
    url: str


class MessageView(BaseModel):
    id: int
    author: str
    text: str
    at: str
    media: Media | None = None  # only on a photo or file the volunteer may download


class NoteView(BaseModel):
    author: str
    text: str
    at: str


class Step(BaseModel):
    number: int
    title: str


class ProcedureOutline(BaseModel):
    slug: str
    title: str
    steps: list[Step]


class Holder(BaseModel):
    id: int
    name: str


class Detail(Summary):
    status: str
    guide_step: int | None
    procedure: ProcedureOutline | None
    volunteer: Holder | None
    packet: dict[str, Any] = Field(description="the masked transcript handed over when help was asked for")
    messages: list[MessageView]
    notes: list[NoteView]
    channel_window: str | None = Field(description="why the citizen's channel may no longer reach them, if so")


class HandoffAnswer(BaseModel):
    handoff: Detail


class Sent(BaseModel):
    message: MessageView


class NeedsConfirm(BaseModel):
    warning: str
    needs_confirm: bool


class NoteAnswer(BaseModel):
    note: NoteView


class DraftId(BaseModel):
    id: int


class DraftAnswer(BaseModel):
    draft: DraftId
