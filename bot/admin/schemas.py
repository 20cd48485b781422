"""The admin API's bodies (bot.admin.*_api): what its routes take and answer, as the OpenAPI shows
them. Answers are built by the services as dicts; these models name their keys in the same order,
and every key they declare is always there, so validating an answer changes none of its bytes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from bot.openapi import About, Reply

MAX_ROW_ID = 2**31 - 1  # ids are 32-bit columns: a larger one names nothing

# -- accounts -------------------------------------------------------------------------------------

Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Role = Literal["volunteer", "staff", "admin"]
TelegramId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class NewAccount(BaseModel):
    username: Username
    display_name: DisplayName
    role: Role
    telegram_user_id: TelegramId | None = None


class RoleChange(BaseModel):
    role: Role


class TelegramLink(BaseModel):
    telegram_user_id: TelegramId | None  # null unlinks


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class Account(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    online: bool
    telegram_user_id: str | None
    must_change_password: bool
    created_at: str
    last_seen_at: str | None


class Accounts(BaseModel):
    accounts: list[Account]


class AccountAnswer(BaseModel):
    account: Account


class AccountWithPassword(AccountAnswer):
    temporary_password: str = Field(description="shown once; the account must replace it at its next login")


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditEntry]


# -- knowledge editor -----------------------------------------------------------------------------

Revision = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


class Draft(BaseModel):
    entry: dict[str, Any]


class Edit(Draft):
    revision: Revision


class Reviewed(BaseModel):
    revision: Revision


class PreviewRequest(Draft):
    slug: str = Field(max_length=80)
    question: str = Field(min_length=1, max_length=1000)


class ProcedureListing(BaseModel):
    slug: str
    title: str
    revision: int
    reviewed_at: str | None


class Procedures(BaseModel):
    procedures: list[ProcedureListing]


class FaqListing(BaseModel):
    id: str
    questions: list[str]


class EntryListing(BaseModel):
    slug: str
    kind: str
    title: str
    revision: int
    reviewed_at: str | None
    due_for_review: bool
    faq: list[FaqListing]


class Entries(BaseModel):
    entries: list[EntryListing]


class EntryAnswer(BaseModel):
    revision: int
    entry: dict[str, Any] = Field(description="the entry as its kind's schema (GET /admin/api/schema/{kind}) says")


class Published(BaseModel):
    revision: int = Field(description="the revision now live")


class FieldProblem(BaseModel):
    field: str
    error: str


class Problems(BaseModel):
    problems: list[FieldProblem]


class RevisionHead(BaseModel):
    revision: int
    author: str | None
    origin: str
    at: str


class Revisions(BaseModel):
    revisions: list[RevisionHead]


class RevisionAnswer(RevisionHead):
    entry: dict[str, Any]
    diff: str = Field(description="unified diff of the YAML against the revision before ('' for the first)")


class Preview(BaseModel):
    """What the web chat would answer with the draft live."""

    replies: list[Reply]
    about: About


class DueEntry(BaseModel):
    slug: str
    title: str
    reviewed_at: str | None
    due_since: str


class Review(BaseModel):
    review_after_days: int
    due: list[DueEntry]


class Refused(BaseModel):
    """A publish refused: 422 names the field, 409 gives the latest revision."""

    error: str
    field: str | None = None
    revision: int | None = None


# -- inbox ----------------------------------------------------------------------------------------

Question = Annotated[str, Field(min_length=1, max_length=500)]


class Change(BaseModel):
    slug: str | None = Field(default=None, max_length=80)
    faq_id: str | None = Field(default=None, max_length=80)
    question: Question | None = None
    phrasing: Question | None = None  # a new FAQ entry's second question, typed by staff
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    source: str | None = Field(default=None, max_length=120)


class Decision(Change):
    message_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(min_length=1, max_length=500)
    action: Literal["alias", "faq_variant", "faq_new", "out_of_scope", "ignore"]


class DraftPublish(Change):
    action: Literal["faq_new", "faq_variant"]


class ProcedureRef(BaseModel):
    slug: str
    title: str


class Example(BaseModel):
    message_id: int
    conversation_id: int
    text: str
    at: str


class UnansweredGroup(BaseModel):
    """Similar questions the bot could not answer, newest first (texts masked)."""

    text: str
    count: int
    newest_at: str
    reasons: list[str]
    suggestion: ProcedureRef | None
    message_ids: list[int]
    examples: list[Example]


class Inbox(BaseModel):
    days: int
    groups: list[UnansweredGroup]


class InboxPublished(BaseModel):
    ok: bool
    revision: int | None = Field(description="null when nothing was published (ignored, out of scope)")


class TranscriptMessage(BaseModel):
    id: int
    author: str
    at: str
    text: str


class Transcript(BaseModel):
    id: int
    messages: list[TranscriptMessage]


class FaqDraftView(BaseModel):
    id: int
    conversation_id: int
    slug: str | None
    title: str | None
    question: str
    answer: str
    volunteer: str | None
    created_at: str


class FaqDrafts(BaseModel):
    drafts: list[FaqDraftView]


# -- reports --------------------------------------------------------------------------------------


class Chart(BaseModel):
    title: str
    columns: list[str]
    rows: list[list[Any]]
    figures: list[list[Any]] = Field(description="[label, value] pairs: the key figures, as text")


class Analytics(BaseModel):
    first: str = Field(alias="from")
    last: str = Field(alias="to")
    charts: dict[str, Chart]


class Table(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class Bottleneck(BaseModel):
    """Where citizens get stuck, per procedure, worst first."""

    first: str = Field(alias="from")
    last: str = Field(alias="to")
    period: str
    method: str
    summary: Table
    procedures: list[dict[str, Any]]
    unassigned: dict[str, Any] = Field(description="the same figures for conversations about no known procedure")


# -- import ---------------------------------------------------------------------------------------


class ImportResult(BaseModel):
    """An import's changes (a dry run's, or those published, each with its `new_revision`)."""

    changes: list[dict[str, Any]]
    unchanged: list[str]
    errors: list[Any]
