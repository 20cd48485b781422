"""The gateway's OpenAPI names what its JSON routes take and answer: /api/chat's request and reply
as schemas with their properties, and every JSON route of the web chat, the console and the admin
pages a response schema with properties (files and event streams say their media type instead)."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.settings import get_settings

JSON = "application/json"
FREE_FORM = {("get", "/admin/api/schema/{kind}")}  # answers a JSON Schema document, whatever its kind's is
DOCUMENTED_PREFIXES = ("/api/chat", "/console/api/", "/admin/api/")


@pytest.fixture(scope="module")
def spec() -> dict:
    return create_app(get_settings().model_copy(update={"api_docs": True})).openapi()


def resolved(spec: dict, schema: dict) -> dict:
    """`schema` with its $ref (and those of any `items`, `anyOf` member or property) followed."""
    if "$ref" in schema:
        return resolved(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    if "anyOf" in schema:
        return {**schema, "anyOf": [resolved(spec, member) for member in schema["anyOf"]]}
    if "items" in schema:
        return {**schema, "items": resolved(spec, schema["items"])}
    return schema


def prop(spec: dict, schema: dict, name: str) -> dict:
    return resolved(spec, resolved(spec, schema)["properties"][name])


def success(operation: dict) -> dict:
    return next(answer for status, answer in operation["responses"].items() if status.startswith("2"))


def test_chat_request_and_reply_are_named_schemas(spec):
    chat = spec["paths"]["/api/chat"]["post"]
    request = chat["requestBody"]["content"][JSON]["schema"]
    assert request.get("title") == "ChatRequest" or request.get("$ref", "").endswith("/ChatRequest")
    assert set(resolved(spec, request)["properties"]) == {"sender_id", "text", "message_id"}
    assert set(resolved(spec, request)["required"]) == {"sender_id", "text"}

    reply = chat["responses"]["200"]["content"][JSON]["schema"]
    assert reply["$ref"].endswith("/ChatAnswer")
    assert set(resolved(spec, reply)["properties"]) == {"replies", "about"}
    each_reply = prop(spec, reply, "replies")["items"]
    assert set(each_reply["properties"]) == {"text", "buttons"}
    assert set(prop(spec, each_reply, "buttons")["items"]["properties"]) == {"title", "payload"}
    assert set(prop(spec, reply, "about")["properties"]) == {"procedure", "aspect", "outcome"}
    assert resolved(spec, chat["responses"]["429"]["content"][JSON]["schema"])["properties"].keys() == {
        "replies",
        "error",
    }


def test_every_json_route_of_the_chat_console_and_admin_answers_a_schema_with_properties(spec):
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith(DOCUMENTED_PREFIXES):
            continue
        for method, operation in operations.items():
            content = success(operation).get("content")
            assert content, f"{method.upper()} {path}: no content type"
            if JSON not in content:  # a download or an event stream: its media type, never JSON's
                assert all(media_type.split("/")[0] in ("text", "application") for media_type in content), path
                continue
            schema = resolved(spec, content[JSON]["schema"])
            if (method, path) in FREE_FORM:
                assert schema["type"] == "object", path
            else:
                assert schema.get("properties"), f"{method.upper()} {path} answers {schema}"
            checked += 1
    assert checked >= 50  # the routes were found: web chat, console and admin


def test_self_parsed_web_chat_bodies_are_documented(spec):
    for path in ("/api/chat", "/api/chat/ack"):
        assert spec["paths"][path]["post"]["requestBody"]["required"] is True
    for path in ("/api/chat/session", "/api/chat/end"):  # `{}` or no body at all
        assert spec["paths"][path]["post"]["requestBody"]["required"] is False
    ack = spec["paths"]["/api/chat/ack"]["post"]["requestBody"]["content"][JSON]["schema"]
    assert ack["properties"]["ids"]["maxItems"] == 100
