"""What every route does with an untrusted body before anything else reads it.

`parse_json` turns raw bytes into JSON or a 4xx: invalid UTF-8, invalid JSON, nesting deeper than
`MAX_JSON_DEPTH` and lone surrogates ("\\ud800", which no database or channel can store) are
refused as bad input, never raised as a 500.
"""
from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32  # the deepest real payload (a Telegram update) nests 5 levels


class BadBody(Exception):
    """A body the gateway refuses: `status` is 400 (not JSON) or 422 (JSON it cannot take)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _nesting(raw: str) -> int:
    """The deepest nesting of arrays and objects, counted without parsing (strings skipped), so
    a hostile body never reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody(400, "body is not valid UTF-8") from None
    if ("[" in text or "{" in text) and _nesting(text) > MAX_JSON_DEPTH:
        raise BadBody(422, f"body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadBody(400, f"body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise BadBody(422, f"body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if _has_lone_surrogate(value):
        raise BadBody(422, "body contains an unpaired surrogate (\\ud800–\\udfff): not valid text")
    return value
