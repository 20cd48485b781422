"""The web chat's bodies (bot.channels.web): what its routes take and answer, as the OpenAPI shows
them. The routes parse requests themselves (bot.http_guard.parse_json, then these models) and
build their answers as JSON, so these models describe the contract without changing a byte of it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.openapi import About, Reply

MAX_ACK_IDS = 100
MAX_MESSAGE_ID = 2**31 - 1  # ids are 32-bit columns (PostgreSQL `integer`): a larger one names nothing


class ChatRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    sender_id: str = Field(min_length=1, max_length=128, description="from POST /api/chat/session")
    text: str = Field(description="the citizen's message, or the payload of a button they clicked")
    message_id: str | None = Field(
        default=None, max_length=128, description="the client's id of this message: sent again, it is answered once"
    )


class AckRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_MESSAGE_ID)]] = Field(max_length=MAX_ACK_IDS)


class EndRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    sender_id: str | None = Field(default=None, min_length=1, max_length=128)


class OpenSession(BaseModel):
    """Nothing is needed to open a conversation: `{}` or no body."""

    model_config = ConfigDict(extra="allow")


class Session(BaseModel):
    sender_id: str


class ChatAnswer(BaseModel):
    replies: list[Reply]
    about: About


class TooFast(BaseModel):
    replies: list[Reply]
    error: str


class Acknowledged(BaseModel):
    acknowledged: int = Field(description="how many of the ids were this conversation's and not yet acknowledged")


class Ended(BaseModel):
    ended: bool
