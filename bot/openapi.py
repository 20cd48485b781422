"""How routes describe themselves in the gateway's OpenAPI where FastAPI cannot see it: a body a
route parses itself, and answers that are files or event streams rather than JSON."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, Field


class Problem(BaseModel):
    """The body of every refusal (4xx) and of a 503 while the database is away."""

    error: str


class Ok(BaseModel):
    ok: bool


# The bot's messages as the web chat answers them and the admin API shows them.


class Button(BaseModel):
    title: str
    payload: str = Field(description="sent as `text` when the button is clicked")


class Reply(BaseModel):
    text: str
    buttons: list[Button]


class About(BaseModel):
    """The turn's decision (bot.knowledge.decide)."""

    procedure: str | None = Field(description="the catalogue slug the answer is about")
    aspect: str | None
    outcome: str


def json_body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its raw body and validates it with `model` itself
    (bot.http_guard.parse_json first), so the OpenAPI still shows the body it takes."""
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}}
    }


def not_json(media_type: str, responses: dict[int, Any] | None = None) -> dict[str, Any]:
    """Route options for a 200 that is a download or an event stream of `media_type` (and the
    route's other `responses`)."""
    return {
        "response_class": Response,
        "responses": {200: {"content": {media_type: {"schema": {"type": "string"}}}}, **(responses or {})},
    }
