"""A local HTTP server that answers like the Telegram Bot API (https://core.telegram.org/bots/api), for tests.

It checks requests the way Telegram does rather than accepting anything, so that a test passing here would also
pass against api.telegram.org. Error descriptions are those of the official Bot API server (tdlib/telegram-bot-api)
wherever it defines them.

Implemented:

* Requests: ``/bot<token>/<method>`` by GET or POST, method names case-insensitive. Parameters come from the query
  string and from application/x-www-form-urlencoded, multipart/form-data or application/json bodies. As in the real
  server, every parameter is first reduced to a string, so JSON-encoded objects (reply_markup, entities, ...) work
  in any encoding.
* Responses: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}`` with HTTP
  status N. 429 adds ``"parameters": {"retry_after": S}`` and a Retry-After header. A malformed token or an unknown
  method gets 404 "Not Found", a well-formed wrong token 401 "Unauthorized".
* getMe.
* sendMessage and editMessageText: chat_id (an integer, or the @username of a public chat); text with parse_mode
  HTML, MarkdownV2 or Markdown (Telegram's parsing rules and error messages) or with explicit entities; entities
  Telegram finds by itself (bot commands, mentions, hashtags, URLs, e-mail addresses); whitespace around the text
  trimmed; at most 4096 characters; reply_parameters / reply_to_message_id; reply_markup.
* Inline keyboards: every button needs a text and exactly one action field (the documented rule; the real server
  silently takes the first one), callback_data of 1-64 bytes, and URL buttons need an http(s), tg or ton link with
  a real host. Reply keyboards are checked for button texts and, as in Telegram, never echoed in messages.
* editMessageReplyMarkup: chat_id + message_id of a message the bot sent; a no-op edit is "message is not modified".
* answerCallbackQuery: only for callback queries issued by make_callback_query_update, once, within their lifetime.
* sendChatAction with the documented actions.
* getFile for files registered with add_file, and their download at ``/file/bot<token>/<file_path>``.
* setWebhook / deleteWebhook / getWebhookInfo: HTTPS URL on port 80, 88, 443 or 8443, secret_token,
  max_connections, allowed_updates (stored and reported only), drop_pending_updates.
* getUpdates: offset confirms and drops earlier updates (a negative one keeps the last -offset), limit 1-100, long
  polling up to 50 s that returns as soon as an update is pushed, 409 Conflict while a webhook is set and for a long
  poll superseded by another getUpdates (two pollers with one token) or by setWebhook; as in the real server, a
  conflict within 3 s of the previous one is answered 3 s late, so two pollers cannot spin.

Not implemented: other methods (they get 404 like unknown ones), media and files, inline mode (so no
inline_message_id is ever valid), custom emoji in Markdown, text_mention entities (tg://user links stay text_link),
business accounts, forum topics, delivery of updates to the webhook URL (they stay queued and count in
pending_update_count), filtering by allowed_updates, and the real server's throttling of repeated getUpdates and
setWebhook calls.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, NoReturn

from aiohttp import web

_PATH = re.compile(r"/bot([^/]*)/([^/]+)")
_TOKEN = re.compile(r"\d+:[\w-]+")
_MAX_TEXT = 4096
_MAX_LONG_POLL = 50
_CONFLICT_PACE_S = 3.0  # telegram-bot-api's fail_query_conflict: at most one prompt 409 per 3 s
_SUPERSEDED = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as "
    "a current content and reply markup of the message"
)
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}

# How parameters, which arrive as strings, are typed (for handlers and for what tests see in `calls`).
_JSON_PARAMS = {"reply_markup", "entities", "reply_parameters", "link_preview_options", "allowed_updates"}
_INT_PARAMS = {
    "chat_id",
    "message_id",
    "reply_to_message_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "cache_time",
    "max_connections",
}
_BOOL_PARAMS = {
    "show_alert",
    "drop_pending_updates",
    "disable_notification",
    "protect_content",
    "allow_sending_without_reply",
    "disable_web_page_preview",
}


class _ApiError(Exception):
    """An error answer: raised anywhere in a handler, it becomes Telegram's error envelope."""

    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        headers = {}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
            headers["Retry-After"] = str(self.retry_after)
        return _json(body, self.code, headers)


class _Described(NamedTuple):
    """A result that Telegram sends together with a description (setWebhook, deleteWebhook)."""

    result: Any
    description: str


def _bad(reason: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {reason}")


def _json(body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, headers=headers, content_type="application/json"
    )


async def _read_params(request: web.Request) -> dict[str, str]:
    """Every parameter as a string, the way the Bot API server sees it whatever the encoding."""
    params = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            body = {}  # the real server ignores a body it can't parse, so the parameters are just missing
        if isinstance(body, dict):
            params.update(
                {
                    key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    for key, value in body.items()
                    if value is not None
                }
            )
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})  # files: unsupported
    return params


def _decode(raw: dict[str, str]) -> dict[str, Any]:
    """Typed parameters: JSON fields decoded, integer and boolean fields converted, anything else kept as text."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_PARAMS:
            try:
                value = json.loads(value)
            except ValueError:
                pass  # left as a string, which the handler rejects as unparsable
        elif key in _INT_PARAMS and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        elif key in _BOOL_PARAMS:
            value = value.strip().lower() in ("true", "yes", "1")
        params[key] = value
    return params


def _as_int(value: Any, default: int) -> int:
    """An integer parameter; like the real server, garbage counts as 0."""
    if value is None or value == "":
        return default
    return value if isinstance(value, int) else 0


# ---- Text and entities ------------------------------------------------------------------------------------------


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets and lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Telegram's parse errors point at UTF-8 byte offsets."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _entity_error(reason: str) -> _ApiError:
    return _bad(f"can't parse entities: {reason}")


_HOST = re.compile(r"(?:[\w-]+\.)+[\w-]+(?::\d{1,5})?(?=$|[/?#])")


def _checked_link(url: str) -> str:
    """The link as Telegram stores it (scheme and a path added), or ValueError with Telegram's reason."""
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme in ("tg", "ton"):
        if not rest:
            raise ValueError("Wrong HTTP URL")
        return url
    if scheme not in ("http", "https"):
        raise ValueError("Unsupported URL protocol")
    host = _HOST.match(rest)
    if host is None:
        raise ValueError("Wrong HTTP URL")
    tail = rest[host.end() :]
    return f"{scheme}://{host.group()}{'' if tail.startswith('/') else '/'}{tail}"


class _Out:
    """Text being produced by a parser, with its length so far in UTF-16 units."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.size += _u16(chunk)

    def since(self, index: int) -> str:
        return "".join(self.parts[index:])


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_CHAR = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([a-zA-Z]+));?")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_START = re.compile(r"<([^\s>]*)")
_HTML_REST = re.compile(r"((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_HTML_ATTR = re.compile(r"""([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]*))""")
_HTML_END = re.compile(r"</([^\s>]*)\s*>")


def _html_char(match: re.Match) -> str | None:
    """The character an HTML entity stands for; Telegram knows only four names and numeric references."""
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        return _HTML_NAMED.get(name)
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    return chr(code) if 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def _parse_html(text: str) -> tuple[str, list[dict]]:
    out, entities, open_tags = _Out(), [], []  # open_tags: (name, argument, entity offset, out.parts index)
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&" and (match := _HTML_CHAR.match(text, i)) and (decoded := _html_char(match)):
            out.add(decoded)
            i = match.end()
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        at = _byte_offset(text, i)
        if text.startswith("</", i):
            if not open_tags:
                raise _entity_error(f"Unexpected end tag at byte offset {at}")
            match = _HTML_END.match(text, i)
            if match is None:
                raise _entity_error(f"Unclosed end tag at byte offset {at}")
            name, argument, offset, index = open_tags.pop()
            found = match.group(1).lower()
            if found and found != name:
                raise _entity_error(f'Unmatched end tag at byte offset {at}, expected "</{name}>", found "</{found}>"')
            if out.size > offset:
                _add_html_entity(entities, name, argument, offset, out.size - offset, out.since(index))
            i = match.end()
            continue
        start = _HTML_START.match(text, i)
        name = start.group(1).lower()
        if start.end() == len(text):
            raise _entity_error(f"Unclosed start tag at byte offset {at}")
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {at}')
        rest = _HTML_REST.match(text, start.end())
        if rest is None:
            raise _entity_error(f"Unclosed start tag at byte offset {at}")
        argument = ""
        for key, double_quoted, single_quoted, bare in _HTML_ATTR.findall(rest.group(1)):
            quoted = double_quoted or single_quoted
            value = _HTML_CHAR.sub(lambda m: _html_char(m) or m.group(), quoted) if quoted else bare.lower()
            if (name, key) in (("a", "href"), ("tg-emoji", "emoji-id")):
                argument = value
            elif (name, key) == ("code", "class") and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif (name, key) == ("span", "class") and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
        if name == "span" and argument != "spoiler":
            raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        open_tags.append((name, argument, out.size, len(out.parts)))
        i = rest.end()
    if open_tags:
        raise _entity_error(f"Can't find end tag corresponding to start tag {open_tags[-1][0]}")
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # a language only counts on a code block inside <pre>
    return "".join(out.parts), entities


def _add_html_entity(entities: list[dict], name: str, argument: str, offset: int, length: int, inner: str) -> None:
    entity = {"type": _HTML_TAGS[name], "offset": offset, "length": length}
    if name == "a":
        try:
            entity["url"] = _checked_link(argument or inner)
        except ValueError:
            return  # Telegram drops links it can't use and keeps the text
    elif name == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise _entity_error("Invalid custom emoji identifier specified")
        entity["custom_emoji_id"] = argument
    elif name == "code" and argument:
        entity["language"] = argument
    elif (
        name == "pre"
        and entities
        and entities[-1]["type"] == "code"
        and (entities[-1]["offset"], entities[-1]["length"]) == (offset, length)
    ):
        language = entities.pop().get("language")  # <pre><code class="language-x"> is one pre entity
        if language:
            entity["language"] = language
    entities.append(entity)


_MD2_MARKS = {
    "underline": "__",
    "spoiler": "||",
    "italic": "_",
    "bold": "*",
    "strikethrough": "~",
    "code": "`",
    "text_link": "[",
}  # opening marks, tried in this order
_MD2_ENDS = {**_MD2_MARKS, "pre": "```", "text_link": "]"}
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "blockquote": "BlockQuote",
}


def _pre_language(text: str, i: int) -> tuple[str, int]:
    """After an opening ```: the language (a word directly followed by white space) and where the code starts."""
    end = i
    while end < len(text) and not text[end].isspace() and text[end] != "`":
        end += 1
    language = ""
    if end != i and end < len(text) and text[end] != "`":
        language, i = text[i:end], end
    if text.startswith(("\r\n", "\n\r"), i):  # one line break after the fence is not part of the code
        i += 2
    elif text.startswith(("\n", "\r"), i):
        i += 1
    return language, i


def _parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    out, entities = _Out(), []
    stack: list[list] = []  # [type, entity offset, byte offset of the mark, out.parts index, language]
    quote = False  # a blockquote is open
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        if char not in ("`" if top in ("code", "pre") else "_*[]()~`>#+-=|{}.!\n"):
            out.add(char)
            i += 1
            continue
        closes = stack and (
            (quote and char == "\n" and not text.startswith(">", i + 1))
            or (
                top != "blockquote"
                and text.startswith(_MD2_ENDS[top], i)
                and not (top == "italic" and text.startswith("__", i))
            )
        )
        if closes:
            kind, offset, at, index, language = stack.pop()
            if char == "\n" and kind != "blockquote":
                raise _entity_error(f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {at}")
            extra = {}
            if kind == "blockquote":
                quote = False
                out.add("\n")
                i += 1
            elif kind == "text_link":
                i += 1
                url = out.since(index)
                if text.startswith("(", i):
                    url, i = "", i + 1
                    url_start = i
                    while i < n and text[i] != ")":
                        escaped = text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126
                        url += text[i + 1] if escaped else text[i]
                        i += 2 if escaped else 1
                    if i == n:
                        raise _entity_error(f"Can't find end of a URL at byte offset {_byte_offset(text, url_start)}")
                    i += 1
                try:
                    extra["url"] = _checked_link(url)
                except ValueError:
                    continue  # Telegram drops links it can't use and keeps the text
            else:
                i += len(_MD2_ENDS[kind])
                if language:
                    extra["language"] = language
            if out.size > offset:
                entities.append({"type": kind, "offset": offset, "length": out.size - offset, **extra})
            continue
        at = _byte_offset(text, i)
        if char == "\n":
            out.add("\n")
            i += 1
            if text.startswith(">", i):
                i += 1
                if not quote:
                    quote = True
                    stack.append(["blockquote", out.size, at, len(out.parts), ""])
        elif char == ">" and i == 0:
            quote = True
            stack.append(["blockquote", 0, 0, 0, ""])
            i += 1
        elif text.startswith("```", i):
            language, i = _pre_language(text, i + 3)
            stack.append(["pre", out.size, at, len(out.parts), language])
        else:
            kind = next((kind for kind, mark in _MD2_MARKS.items() if text.startswith(mark, i)), None)
            if kind is None:
                raise _entity_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            stack.append([kind, out.size, at, len(out.parts), ""])
            i += len(_MD2_MARKS[kind])
    if quote and stack[-1][0] == "blockquote":
        offset = stack.pop()[1]
        if out.size > offset:
            entities.append({"type": "blockquote", "offset": offset, "length": out.size - offset})
    if stack:
        kind, _, at, _, language = stack[-1]
        name = "PreCode" if language else _MD2_NAMES[kind]
        raise _entity_error(f"Can't find end of {name} entity at byte offset {at}")
    return "".join(out.parts), entities


def _parse_markdown(text: str) -> tuple[str, list[dict]]:
    """The legacy Markdown mode: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out, entities = _Out(), []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        at, language = _byte_offset(text, i), ""
        pre = text.startswith("```", i)
        if pre:
            language, i = _pre_language(text, i + 3)
            end_mark = "```"
        else:
            i, end_mark = i + 1, "]" if char == "[" else char
        end = text.find(end_mark, i)
        if end < 0:
            raise _entity_error(f"Can't find end of the entity starting at byte offset {at}")
        offset = out.size
        out.add(text[i:end])
        inner, i = text[i:end], end + len(end_mark)
        entity = {
            "type": "pre" if pre else {"_": "italic", "*": "bold", "`": "code", "[": "text_link"}[char],
            "offset": offset,
            "length": out.size - offset,
        }
        if language:
            entity["language"] = language
        if char == "[":
            url = inner
            if text.startswith("(", i):
                close = text.find(")", i)
                url, i = (text[i + 1 : close], close + 1) if close >= 0 else (text[i + 1 :], n)
            try:
                entity["url"] = _checked_link(url)
            except ValueError:
                continue
        if inner:
            entities.append(entity)
    return "".join(out.parts), entities


_PARSERS: dict[str, Callable[[str], tuple[str, list[dict]]]] = {
    "html": _parse_html,
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_markdown,
}
_ENTITY_EXTRAS = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id", "pre": "language"}
_FORMATTING = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
    "blockquote",
    "expandable_blockquote",
}
_AUTOMATIC = {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bank_card_number"}
# Entities Telegram finds in any text. Bare domains are recognised for a few common top-level domains only.
_AUTO_ENTITY = re.compile(
    r"(?P<email>(?<![\w.+-])[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}\b)"
    r"|(?P<url>(?<![\w@./-])(?:https?://[^\s<>\"]+"
    r"|(?:[\w-]+\.)+(?:com|net|org|info|io|me|app|dev|edu|gov|vn)\b(?:[/?#][^\s<>\"]*)?))"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{5,32}\b)"
    r"|(?P<bot_command>(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>]))"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d_]\w*)"
)
_NO_AUTO_INSIDE = {"code", "pre", "text_link", "text_mention", "custom_emoji"}


def _input_entities(value: Any, size: int) -> list[dict]:
    """Explicit entities (used when there is no parse_mode): checked, and clipped to the text like Telegram does."""
    if not isinstance(value, list):
        return []
    entities = []
    for entity in value:
        if not isinstance(entity, dict):
            raise _bad("can't parse MessageEntity: expected an Object")
        for field in ("offset", "length"):
            if not isinstance(entity.get(field), int):
                raise _bad(f'can\'t parse MessageEntity: Field "{field}" must be of type Number')
        kind = entity.get("type")
        if kind in _AUTOMATIC:
            continue  # Telegram finds these itself
        if kind not in _FORMATTING:
            raise _bad("can't parse MessageEntity: Unsupported type specified")
        extra = _ENTITY_EXTRAS.get(kind)
        if extra and extra != "language" and extra not in entity:
            raise _bad(f"can't parse MessageEntity: Can't find field \"{extra}\"")
        start, end = max(entity["offset"], 0), min(entity["offset"] + entity["length"], size)
        if end > start:
            entities.append(
                {
                    "type": kind,
                    "offset": start,
                    "length": end - start,
                    **({extra: entity[extra]} if extra in entity else {}),
                }
            )
    return entities


def _auto_entities(text: str, entities: list[dict]) -> list[dict]:
    blocked = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _NO_AUTO_INSIDE]
    found = []
    for match in _AUTO_ENTITY.finditer(text):
        value = match.group()
        if match.lastgroup == "url":  # closing punctuation ends a sentence, not the link
            value = value.rstrip(".,:;!?'\"")
            while value.endswith(")") and value.count(")") > value.count("("):
                value = value[:-1].rstrip(".,:;!?'\"")
        start = _u16(text[: match.start()])
        end = start + _u16(value)
        if not any(s < end and start < e for s, e in blocked):
            found.append({"type": match.lastgroup, "offset": start, "length": end - start})
    return found


def _finish_text(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Trims white space around the text as Telegram does, then adds the entities it detects by itself."""
    body = text.strip()
    lead, size = _u16(text[: len(text) - len(text.lstrip())]), _u16(body)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept += _auto_entities(body, kept)
    return body, sorted(kept, key=lambda e: (e["offset"], -e["length"]))


def _formatted_text(params: dict) -> tuple[str, list[dict]]:
    """The text and entities of sendMessage / editMessageText, or the error Telegram gives."""
    text = params.get("text", "")
    if not text:
        raise _bad("message text is empty")
    if len(text.encode("utf-8", "surrogatepass")) > 1 << 15:
        raise _bad("text is too long")
    mode = str(params.get("parse_mode", "")).lower()
    if mode in ("", "none"):
        entities = _input_entities(params.get("entities"), _u16(text))
    elif mode in _PARSERS:
        text, entities = _PARSERS[mode](text)
    else:
        raise _bad("unsupported parse_mode")
    text, entities = _finish_text(text, entities)
    if not text:
        raise _bad("message text is empty")
    return text, entities


# ---- Keyboards --------------------------------------------------------------------------------------------------

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _array_field(markup: dict, name: str) -> list:
    value = markup.get(name, [])
    if not isinstance(value, list):
        raise _bad(f'field "{name}" must be of type Array')
    return value


def _reply_markup(value: Any, inline_only: bool = False) -> dict | None:
    """The markup as a message carries it: a normalised inline keyboard, or None (absent, empty or not inline)."""
    if value is None:
        return None
    if isinstance(value, str):
        raise _bad("can't parse reply keyboard markup JSON object")
    if not isinstance(value, dict):
        raise _bad("object expected as reply markup")
    keyboard = _array_field(value, "keyboard")
    for row in keyboard:
        if not isinstance(row, list):
            raise _bad('field "keyboard" must be an Array of Arrays')
        for button in row:
            if isinstance(button, dict) and not isinstance(button.get("text"), str):
                raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
            if not isinstance(button, dict | str):
                raise _bad("can't parse keyboard button: KeyboardButton must be a String or an Object")
    rows = []
    for row in _array_field(value, "inline_keyboard"):
        if not isinstance(row, list):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        rows.append([_inline_button(button) for button in row])
    if keyboard or not rows:
        if inline_only and (keyboard or value.get("remove_keyboard") or value.get("force_reply")):
            raise _bad("inline keyboard expected")
        return None
    return {"inline_keyboard": rows}


def _inline_button(button: Any) -> dict:
    def invalid(reason: str) -> _ApiError:
        return _bad(f"can't parse inline keyboard button: {reason}")

    if not isinstance(button, dict):
        raise invalid("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise invalid('Can\'t find field "text"')
    for field in ("text", "url", "callback_data"):
        if field in button and not isinstance(button[field], str):
            raise invalid(f'Field "{field}" must be of type String')
    # An empty url or callback_data counts as absent, as in the real server.
    actions = [
        field
        for field in _BUTTON_ACTIONS
        if button.get(field, "") != "" or (field in button and field not in ("url", "callback_data"))
    ]
    if not actions:
        raise invalid("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise invalid(f"exactly one of the optional fields must be used, not {', '.join(actions)}")
    if not button["text"]:
        raise _bad("BUTTON_TEXT_INVALID")
    action, value = actions[0], button[actions[0]]
    if action == "callback_data" and len(value.encode()) > 64:
        raise _bad("BUTTON_DATA_INVALID")
    if action == "url":
        try:
            value = _checked_link(value)
        except ValueError as reason:
            raise _bad(f"inline keyboard button URL '{value}' is invalid: {reason}") from None
    return {"text": button["text"], action: value}


# ---- The server -------------------------------------------------------------------------------------------------


class FakeTelegramAPI:
    """A Bot API server on 127.0.0.1 for one bot, serving from its own thread and event loop.

    Tests register the chats and users that exist, point the bot at `base_url`, and drive and inspect the exchange
    with the helpers (`calls`, `timed_calls`, `wait_for_call`, `sent_messages`, `make_*_update`, `push_update`,
    `fail_next`).
    """

    def __init__(
        self,
        token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        bot_username: str = "tro_ly_thu_tuc_bot",
        bot_first_name: str = "Trợ lý thủ tục",
        callback_query_lifetime: float = 15.0,
    ):
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"not a bot token: {token!r}")
        self._token = token
        self._bot = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._callback_query_lifetime = callback_query_lifetime
        handlers = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "getFile": self._get_file,
        }
        # Telegram matches method names case-insensitively; calls are recorded under the documented spelling.
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}
        # Everything below is shared by the server thread and the test; the condition guards it and is notified
        # whenever a call is recorded.
        self._lock = threading.Condition()
        self._calls: list[tuple[str, dict]] = []
        self._call_times: list[float] = []  # time.monotonic() when each call was answered, beside _calls
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._users: dict[int, dict] = {}
        self._chats: dict[int, dict] = {}
        self._messages: dict[tuple[int, int], dict] = {}  # (chat id, message id) -> message, in sending order
        self._last_message_id: dict[int, int] = {}
        self._callback_queries: dict[str, float] = {}  # unanswered query id -> time.monotonic() when issued
        self._updates: list[dict] = []
        self._last_update_id = 0
        self._last_query_number = 0
        self._webhook: dict | None = None
        self._failures: dict[str, list[tuple[int, int | None]]] = {}  # method -> (retry_after, chat or any) of each 429
        self._outages: dict[str, list[tuple[int, int | None]]] = {}  # method -> (HTTP status, chat or any) to come
        self._loop: asyncio.AbstractEventLoop | None = None  # set while serving
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        # Touched only on the server's event loop:
        self._poller: asyncio.Future | None = None  # what the waiting getUpdates awaits
        self._next_prompt_conflict = 0.0  # loop time before which a 409 is answered late
        self._closing = False

    # -- Lifecycle

    def start(self) -> FakeTelegramAPI:
        """Starts serving; returns once the server is listening."""
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="fake-telegram-api", daemon=True)
        self._thread.start()
        self._port = asyncio.run_coroutine_threadsafe(self._open(), loop).result(timeout=30)
        with self._lock:
            self._loop = loop
        return self

    def stop(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=30)
        loop.close()
        self._thread = None

    def __enter__(self) -> FakeTelegramAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _open(self) -> int:
        app = web.Application()
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._download)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self._runner.addresses[0][1]

    async def _close(self) -> None:
        self._closing = True
        self._end_long_poll(None)  # so the runner need not wait out a long poll
        await self._runner.cleanup()

    # -- Properties

    @property
    def base_url(self) -> str:
        """For `telegram.Bot(token, base_url=...)`, which appends the token and then "/method"."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """For `base_file_url=...`: files are downloaded from <base_file_url><token>/<file_path>."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    def add_file(self, file_id: str, content: bytes, file_path: str) -> None:
        """A file a user sent (a photo, a document), which getFile and the download URL then serve."""
        with self._lock:
            self._files[file_id] = (file_path, content)

    @property
    def token(self) -> str:
        return self._token

    @property
    def bot_username(self) -> str:
        return self._bot["username"]

    @property
    def webhook(self) -> dict | None:
        """The webhook as set, secret_token included (which getWebhookInfo never shows), or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    # -- World set-up

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> dict:
        if user_id <= 0 or not first_name:
            raise ValueError("a user needs a positive id and a first name")
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        user.update(
            {
                key: value
                for key, value in (("last_name", last_name), ("username", username), ("language_code", language_code))
                if value
            }
        )
        with self._lock:
            self._users[user_id] = user
            return dict(user)

    def add_chat(
        self,
        chat_id: int,
        type: str = "private",
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict:
        """Registers a chat the bot can write to. A private chat's id is its user's, and it takes the user's names."""
        with self._lock:
            return dict(self._add_chat(chat_id, type, title, first_name, username))

    def _add_chat(
        self, chat_id: int, kind: str, title: str | None, first_name: str | None, username: str | None
    ) -> dict:
        if kind == "private":
            user = self._users.get(chat_id, {})
            first_name = first_name or user.get("first_name")
            if chat_id <= 0 or not first_name:
                raise ValueError("a private chat needs a positive id (the user's) and a first name")
            chat = {"id": chat_id, "first_name": first_name}
            chat.update({key: user[key] for key in ("last_name", "username") if key in user})
        elif kind in ("group", "supergroup", "channel"):
            if chat_id >= 0 or not title:
                raise ValueError(f"a {kind} needs a negative id and a title")
            chat = {"id": chat_id, "title": title}
        else:
            raise ValueError(f"unknown chat type {kind!r}")
        if username:
            chat["username"] = username
        chat["type"] = kind
        self._chats[chat_id] = chat
        return chat

    # -- Inspection

    @property
    def calls(self) -> list[tuple[str, dict]]:
        """(method, decoded params) of every authenticated call to a known method, in order."""
        with self._lock:
            return list(self._calls)

    def timed_calls(self, method: str, predicate: Callable[[dict], bool] | None = None) -> list[tuple[float, dict]]:
        """(time.monotonic() when it was answered, params) of each call of `method` (matching `predicate`)."""
        with self._lock:
            return [
                (at, params)
                for at, (name, params) in zip(self._call_times, self._calls)
                if name.lower() == method.lower() and (predicate is None or predicate(params))
            ]

    def sent_messages(self, chat_id: int | None = None) -> list[dict]:
        """Messages the bot sent (in their current state, edits included), in sending order."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for (chat, _), message in self._messages.items()
                if self._by_bot(message) and chat_id in (None, chat)
            ]

    def message(self, chat_id: int, message_id: int) -> dict:
        """The current state of a message (KeyError if there is none)."""
        with self._lock:
            return copy.deepcopy(self._messages[(chat_id, message_id)])

    def wait_for_call(
        self, method: str, predicate: Callable[[dict], bool] | None = None, timeout: float = 10
    ) -> tuple[str, dict]:
        """The first recorded call of `method` (whose params satisfy `predicate`), waiting for it if need be.

        A call is recorded once the server has handled it; a getUpdates long poll as soon as it starts waiting.
        """
        name = method.lower()

        def find() -> tuple[str, dict] | None:
            return next(
                (call for call in self._calls if call[0].lower() == name and (predicate is None or predicate(call[1]))),
                None,
            )

        with self._lock:
            found = self._lock.wait_for(find, timeout)
            if found is None:
                raise TimeoutError(
                    f"no matching {method} call within {timeout} s; calls: {[call[0] for call in self._calls]}"
                )
            return found

    # -- Driving

    def fail_next(self, method: str, times: int = 1, retry_after: int = 3, chat_id: int | None = None) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) get 429 "Too Many Requests:
        retry after <retry_after>"."""
        if method.lower() not in self._methods:
            raise ValueError(f"{method} is not implemented by this fake")
        name, _ = self._methods[method.lower()]
        with self._lock:
            self._failures.setdefault(name, []).extend([(retry_after, chat_id)] * times)

    def break_next(self, method: str, times: int = 1, status: int = 502, chat_id: int | None = None) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) get what Telegram's front
        proxy answers during an outage: a bare HTTP error with an HTML page, no JSON envelope."""
        if method.lower() not in self._methods:
            raise ValueError(f"{method} is not implemented by this fake")
        name, _ = self._methods[method.lower()]
        with self._lock:
            self._outages.setdefault(name, []).extend([(status, chat_id)] * times)

    def make_message_update(self, from_user_id: int, chat_id: int, text: str) -> dict:
        """An Update with a message the user sent, stored in the chat. Writing to the bot opens the private chat."""
        with self._lock:
            user = self._user(from_user_id)
            if chat_id == from_user_id and chat_id not in self._chats:
                self._add_chat(chat_id, "private", None, None, None)
            chat = self._chats.get(chat_id)
            if chat is None or chat["type"] == "channel" or (chat["type"] == "private" and chat_id != from_user_id):
                raise ValueError(f"user {from_user_id} can't write in chat {chat_id}")
            text, entities = _finish_text(text, [])
            if not text or len(text) > _MAX_TEXT:
                raise ValueError("a message text has 1-4096 characters")
            message = self._store_message(chat, user, text, entities)
            return self._new_update("message", copy.deepcopy(message))

    def make_callback_query_update(self, from_user_id: int, chat_id: int, message_id: int, data: str) -> dict:
        """An Update for the user pressing the button with callback_data `data` under a message the bot sent.

        The callback query id is issued here, so answerCallbackQuery accepts it (once, within its lifetime).
        """
        with self._lock:
            user = self._user(from_user_id)
            message = self._messages.get((chat_id, message_id))
            if message is None or not self._by_bot(message):
                raise ValueError(f"the bot sent no message {message_id} in chat {chat_id}")
            if message["chat"]["type"] == "private" and chat_id != from_user_id:
                raise ValueError(f"user {from_user_id} is not in private chat {chat_id}")
            buttons = [button for row in message.get("reply_markup", {}).get("inline_keyboard", []) for button in row]
            if not any(button.get("callback_data") == data for button in buttons):
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
            self._last_query_number += 1
            query_id = str(self._bot["id"] * 10**9 + self._last_query_number)
            self._callback_queries[query_id] = time.monotonic()
            return self._new_update(
                "callback_query",
                {
                    "id": query_id,
                    "from": dict(user),
                    "message": copy.deepcopy(message),
                    "chat_instance": str(abs(chat_id) * 1_000_003 + self._bot["id"]),
                    "data": data,
                },
            )

    def push_update(self, update: dict) -> None:
        """Queues an update for getUpdates (and wakes a waiting long poll)."""
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise ValueError("an Update needs an integer update_id")
        with self._lock:
            self._updates.append(copy.deepcopy(update))
            self._updates.sort(key=lambda queued: queued["update_id"])
            self._last_update_id = max(self._last_update_id, update["update_id"])
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._end_long_poll, None)

    # -- Helpers (called with the lock held)

    def _record(self, method: str, params: dict) -> None:
        self._calls.append((method, params))
        self._call_times.append(time.monotonic())
        self._lock.notify_all()

    def _user(self, user_id: int) -> dict:
        if user_id not in self._users:
            raise ValueError(f"unknown user {user_id}; add_user first")
        return self._users[user_id]

    def _by_bot(self, message: dict) -> bool:
        return message.get("from", {}).get("id") == self._bot["id"] or "sender_chat" in message

    def _new_update(self, kind: str, payload: dict) -> dict:
        self._last_update_id += 1
        return {"update_id": self._last_update_id, kind: payload}

    def _store_message(
        self,
        chat: dict,
        sender: dict,
        text: str,
        entities: list[dict],
        reply_markup: dict | None = None,
        reply_to: dict | None = None,
    ) -> dict:
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message: dict[str, Any] = {"message_id": message_id}
        if chat["type"] == "channel":
            message["sender_chat"] = dict(chat)  # channel posts are signed by the channel, not the bot
        else:
            message["from"] = {
                key: sender[key]
                for key in ("id", "is_bot", "first_name", "last_name", "username", "language_code")
                if key in sender
            }
        message.update(chat=dict(chat), date=int(time.time()))
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["text"] = text
        if entities:
            message["entities"] = entities
        if reply_markup is not None:
            message["reply_markup"] = reply_markup
        self._messages[(chat["id"], message_id)] = message
        return message

    def _chat(self, chat_id: Any) -> dict:
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next(
                (
                    chat
                    for chat in self._chats.values()
                    if chat["type"] != "private" and chat.get("username", "").lower() == chat_id[1:].lower()
                ),
                None,
            )
        else:
            chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _reply_target(self, chat: dict, params: dict) -> dict | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id"):
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise _bad("can't parse reply parameters JSON object")
        target_chat = self._chat(reply["chat_id"]) if "chat_id" in reply else chat
        target = self._messages.get((target_chat["id"], reply.get("message_id")))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return {key: copy.deepcopy(value) for key, value in target.items() if key != "reply_to_message"}

    def _message_to_edit(self, params: dict) -> dict:
        if "chat_id" not in params and not params.get("message_id"):
            if not params.get("inline_message_id"):
                raise _bad("message identifier is not specified")
            raise _bad("invalid inline message identifier specified")  # this server never creates inline messages
        chat = self._chat(params.get("chat_id"))
        message = self._messages.get((chat["id"], params.get("message_id")))
        if message is None:
            raise _bad("message to edit not found")
        if not self._by_bot(message):
            raise _bad("message can't be edited")
        return message

    # -- Request handling

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            path = _PATH.fullmatch(request.path)
            if path is None or not _TOKEN.fullmatch(path[1]):
                raise _ApiError(404, "Not Found")
            if path[1] != self._token:
                raise _ApiError(401, "Unauthorized")
            method, handler = self._methods.get(path[2].lower(), (None, None))
            if handler is None:
                raise _ApiError(404, "Not Found")
            params = _decode(await _read_params(request))
            with self._lock:
                outages = self._outages.get(method, [])
                outage = next((o for o in outages if o[1] in (None, params.get("chat_id"))), None)
                if outage is not None:
                    outages.remove(outage)
                    status = outage[0]
                    self._record(method, params)
                    return web.Response(
                        status=status,
                        content_type="text/html",
                        text=f"<html><body><h1>{status} Bad Gateway</h1></body></html>",
                    )
                try:
                    failures = self._failures.get(method, [])
                    failure = next((f for f in failures if f[1] in (None, params.get("chat_id"))), None)
                    if failure is not None:
                        failures.remove(failure)
                        retry_after = failure[0]
                        raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
                    result = handler(params)
                finally:
                    self._record(method, params)
            if asyncio.iscoroutine(result):  # a getUpdates long poll, which waits without the lock
                result = await result
        except _ApiError as error:
            return error.response()
        if isinstance(result, _Described):
            return _json({"ok": True, "result": result.result, "description": result.description})
        return _json({"ok": True, "result": result})

    def _get_file(self, params: dict) -> dict:
        file_id = params.get("file_id")
        if not file_id:
            raise _bad("file_id is empty")
        if file_id not in self._files:
            raise _bad("invalid file_id")
        file_path, content = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": file_id[-12:], "file_size": len(content), "file_path": file_path}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self._token:
            return web.Response(status=401, text="Unauthorized")
        with self._lock:
            found = next(
                (content for path, content in self._files.values() if path == request.match_info["file_path"]), None
            )
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found, content_type="application/octet-stream")

    def _get_me(self, params: dict) -> dict:
        return {
            **self._bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "supports_guest_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
            "allows_users_to_create_topics": False,
            "can_manage_bots": False,
        }

    def _send_message(self, params: dict) -> dict:
        text, entities = _formatted_text(params)
        reply_markup = _reply_markup(params.get("reply_markup"))
        chat = self._chat(params.get("chat_id"))
        if len(text) > _MAX_TEXT:
            raise _bad("message is too long")
        message = self._store_message(chat, self._bot, text, entities, reply_markup, self._reply_target(chat, params))
        if params.get("protect_content"):
            message["has_protected_content"] = True
        return copy.deepcopy(message)

    def _edit_message_text(self, params: dict) -> dict:
        text, entities = _formatted_text(params)
        reply_markup = _reply_markup(params.get("reply_markup"), inline_only=True)
        message = self._message_to_edit(params)
        if len(text) > _MAX_TEXT:
            raise _bad("message is too long")
        if (text, entities, reply_markup) == (
            message["text"],
            message.get("entities", []),
            message.get("reply_markup"),
        ):
            raise _bad(_NOT_MODIFIED)
        message.update(text=text, entities=entities, reply_markup=reply_markup, edit_date=int(time.time()))
        for key in ("entities", "reply_markup"):  # an edit without them removes them
            if not message[key]:
                del message[key]
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: dict) -> dict:
        reply_markup = _reply_markup(params.get("reply_markup"), inline_only=True)
        message = self._message_to_edit(params)
        if reply_markup == message.get("reply_markup"):
            raise _bad(_NOT_MODIFIED)
        if reply_markup is None:
            del message["reply_markup"]
        else:
            message["reply_markup"] = reply_markup
        return copy.deepcopy(message)

    def _answer_callback_query(self, params: dict) -> bool:
        if len(params.get("text", "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        issued = self._callback_queries.pop(str(params.get("callback_query_id", "")), None)
        if issued is None or time.monotonic() - issued >= self._callback_query_lifetime:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        return True

    def _send_chat_action(self, params: dict) -> bool:
        if str(params.get("action", "")).lower() not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._chat(params.get("chat_id"))
        return True

    def _set_webhook(self, params: dict) -> _Described:
        url = params.get("url", "")
        if not url:
            return self._delete_webhook(params)
        match = re.fullmatch(r"(?:([A-Za-z][\w+.-]*)://)?([\w.-]+)(?::(\d{1,5}))?([/?#].*)?", url)
        if match is None or (match[1] or "https").lower() not in ("http", "https"):
            raise _bad("invalid webhook URL specified")
        if (match[1] or "https").lower() != "https":
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if int(match[3] or 443) not in (80, 88, 443, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret_token = params.get("secret_token", "")
        if len(secret_token) > 256:
            raise _bad("secret token is too long")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", secret_token):
            raise _bad("secret token contains unallowed characters")
        webhook = {
            "url": url,
            "secret_token": secret_token,
            "max_connections": min(max(_as_int(params.get("max_connections"), 40), 1), 100),
        }
        if isinstance(params.get("allowed_updates"), list):
            webhook["allowed_updates"] = params["allowed_updates"]
        unchanged = webhook == self._webhook and not params.get("drop_pending_updates")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = webhook
        self._end_long_poll("Conflict: terminated by setWebhook request")
        return _Described(True, "Webhook is already set" if unchanged else "Webhook was set")

    def _delete_webhook(self, params: dict) -> _Described:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        was_set, self._webhook = self._webhook is not None, None
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _get_webhook_info(self, params: dict) -> dict:
        info = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self._webhook is not None:
            info.update({key: value for key, value in self._webhook.items() if key != "secret_token"})
        return info

    def _get_updates(self, params: dict) -> list[dict] | Awaitable[list[dict]]:
        """Answers at once if it can; otherwise returns the coroutine of the long poll."""
        if self._webhook is not None:
            return self._conflict(
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                "to delete the webhook first"
            )
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        timeout = min(max(_as_int(params.get("timeout"), 0), 0), _MAX_LONG_POLL)
        if offset < 0:  # keep only the last -offset updates
            del self._updates[: max(len(self._updates) + offset, 0)]
        elif offset > 0:  # everything before offset is confirmed
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        if self._updates or timeout == 0:
            return copy.deepcopy(self._updates[:limit])
        self._end_long_poll(_SUPERSEDED)
        loop = asyncio.get_running_loop()
        self._poller = loop.create_future()
        return self._long_poll(self._poller, limit, loop.time() + timeout)

    async def _long_poll(self, waiter: asyncio.Future, limit: int, deadline: float) -> list[dict]:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    reason = await asyncio.wait_for(waiter, max(deadline - loop.time(), 0))
                    timed_out = False
                except TimeoutError:
                    reason, timed_out = None, True
                if reason is not None:
                    await self._conflict(reason)
                with self._lock:
                    if self._updates or timed_out or self._closing:
                        return copy.deepcopy(self._updates[:limit])
                    waiter = self._poller = loop.create_future()
        finally:
            if self._poller is waiter:
                self._poller = None

    async def _conflict(self, reason: str) -> NoReturn:
        """A 409, answered at once unless another was answered less than 3 s ago (then 3 s late)."""
        now = asyncio.get_running_loop().time()
        if now >= self._next_prompt_conflict:
            self._next_prompt_conflict = now + _CONFLICT_PACE_S
        else:
            await asyncio.sleep(_CONFLICT_PACE_S)
        raise _ApiError(409, reason)

    def _end_long_poll(self, reason: str | None) -> None:
        """Wakes the waiting getUpdates (on the server loop): None to look at the queue again, or a 409 reason."""
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(reason)
