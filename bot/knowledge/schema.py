"""Schema of the knowledge files in `knowledge/` (one YAML file per catalogue slug).

Every fact a citizen may act on (fee, time, documents, where) carries `confirm`: true when the
source is secondary, old or contradictory, so the assistant adds "vui lòng xác nhận lại với cơ quan
tiếp nhận". A fact no source states is `null`/empty and listed under `uncertain`; never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^\d\.\d{6}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where a fact was read. `id` is the key used in shared/sources (e.g. `DVC:1.001193`)."""

    id: str
    title: str  # cited to citizens: the official page or legal text, never the archived copy
    url: str | None = None
    copy_url: str | None = None  # the archived copy the fact was actually read from, for reviewers


class Document(Strict):
    name: str
    note: str | None = None
    confirm: bool = False


class Fee(Strict):
    """`text` is what the citizen reads; `amounts_vnd` only holds figures a source states."""

    text: str | None = Field(description="Plain-language fee; null when no source states it.")
    amounts_vnd: dict[str, int] = Field(default_factory=dict)
    exemptions: list[str] = Field(default_factory=list)
    online_discount: str | None = None
    legal_basis: list[str] = Field(default_factory=list)
    set_by_province: bool = False
    confirm: bool = False


class Fact(Strict):
    """A short sourced statement (processing time, where to submit, …)."""

    text: str | None
    confirm: bool = False


class Problem(Strict):
    """A known problem at a guide step and its fix. `source: general` marks advice no source states."""

    key: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str = Field(max_length=60)
    fix: str
    source: str


class Step(Strict):
    title: str = Field(max_length=80)
    instruction: str
    tip: str | None = None
    source: str
    problems: list[Problem] = Field(default_factory=list)


class Online(Strict):
    level: Literal["full", "partial", "in_person", "not_applicable"]
    text: str
    in_person_reason: str | None = None
    confirm: bool = False

    @model_validator(mode="after")
    def _reason_when_offline(self) -> "Online":
        if self.level in ("partial", "in_person") and not self.in_person_reason:
            raise ValueError("in_person_reason is required when level is partial or in_person")
        return self


class Faq(Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    questions: list[str] = Field(min_length=2)
    answer: str
    source: str


class Procedure(Strict):
    slug: str
    title: str
    # How an officer names it in a sentence ("làm thẻ căn cước"), where the catalogue title
    # ("Cấp, cấp đổi, cấp lại thẻ căn cước") would read like a form.
    spoken_name: str | None = None
    codes: list[str] = Field(default_factory=list)
    category: str
    summary: str
    aliases: list[str] = Field(min_length=1)
    agency: Fact
    where: list[str] = Field(min_length=1)
    online: Online
    documents: list[Document] = Field(default_factory=list)
    fee: Fee
    processing_time: Fact
    eligibility: list[str] = Field(default_factory=list)
    before_you_start: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    after_submission: list[str] = Field(default_factory=list)
    legal_basis: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    reviewed_at: dt.date
    confidence: Literal["high", "medium", "low"]
    uncertain: list[str] = Field(default_factory=list)
    faq: list[Faq] = Field(default_factory=list)
    # Phrases of questions that sound like this entry but are outside its scope (the catalogue's
    # scope note: e.g. registrations at embassies abroad); the search never answers them with it.
    not_covered: list[str] = Field(default_factory=list)

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError("slug must be lower-case words joined by '-'")
        return value

    @field_validator("codes")
    @classmethod
    def _code_shape(cls, values: list[str]) -> list[str]:
        for code in values:
            if not CODE_RE.match(code):
                raise ValueError(f"national procedure code {code!r} must look like 1.001193")
        return values

    @model_validator(mode="after")
    def _sources_cover_facts(self) -> "Procedure":
        known = {s.id for s in self.sources} | {"general"}
        cited = [s.source for s in self.steps] + [p.source for s in self.steps for p in s.problems]
        cited += [f.source for f in self.faq]
        missing = sorted({c for c in cited if c not in known})
        if missing:
            raise ValueError(f"cites sources not listed under `sources`: {', '.join(missing)}")
        if self.online.level in ("full", "partial") and not self.steps:
            raise ValueError("an online procedure needs `steps` for the guide")
        return self

    @property
    def needs_confirmation(self) -> bool:
        return self.confidence != "high" or bool(self.uncertain)

    @property
    def name(self) -> str:
        return self.spoken_name or self.title


class Office(Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    address: str | None
    hours: str | None
    hotline: str | None
    note: str | None = None
    sources: list[Source] = Field(min_length=1)


class OfficeBook(Strict):
    offices: list[Office] = Field(min_length=1)
    portal_hotline: Fact


class CannedReply(Strict):
    """A ready-made reply a volunteer inserts into the console's composer and edits before sending."""

    title: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1, max_length=2000)


class CannedReplies(Strict):
    replies: list[CannedReply] = Field(default_factory=list)


class OutsideTopic(Strict):
    """Something citizens ask that the catalogue does not cover (a dispute, a tax, a procedure
    for foreigners…): declined by `name`, never answered with the nearest catalogue entry."""

    name: str  # said to the citizen: "em chưa có hướng dẫn cho «name»"
    terms: list[str] = Field(default_factory=list)  # phrases citizens use for it, matched accent-insensitively
    # or phrases that together say it: one of each group ([[kết hôn, lấy chồng], [người mỹ, nước ngoài]])
    together: list[list[str]] = Field(default_factory=list)
    code: str | None = None  # the national procedure code, when it is one

    @model_validator(mode="after")
    def _said_somehow(self) -> "OutsideTopic":
        if not self.terms and not self.together:
            raise ValueError("a topic needs `terms` or `together`")
        if any(not group for group in self.together):
            raise ValueError("every group of `together` needs a phrase")
        return self


class Outside(Strict):
    topics: list[OutsideTopic] = Field(min_length=1)
