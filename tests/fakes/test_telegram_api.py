"""The fake Bot API against the real python-telegram-bot client, and raw HTTP for the exact envelopes."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter

from tests.fakes.telegram_api import FakeTelegramAPI

USER = 4242
GROUP = -100123456789


@pytest.fixture
def fake():
    with FakeTelegramAPI() as api:
        api.add_user(USER, "Lan", username="lan_nguyen", language_code="vi")
        api.add_chat(USER)
        api.add_chat(GROUP, type="supergroup", title="Tình nguyện viên", username="tnv_hotro")
        yield api


def with_bot(fake: FakeTelegramAPI, scenario, token: str | None = None):
    """Runs `scenario(bot)` with a real python-telegram-bot Bot pointed at the fake."""

    async def main():
        async with Bot(token or fake.token, base_url=fake.base_url) as bot:
            return await scenario(bot)

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, main()).result()


KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Nhận hỗ trợ", callback_data="accept:17"),
            InlineKeyboardButton("Cổng dịch vụ công", url="https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"),
        ]
    ]
)


def test_get_me_describes_the_bot(fake):
    me = with_bot(fake, lambda bot: bot.get_me())
    assert (me.id, me.is_bot, me.username, me.first_name) == (123456, True, fake.bot_username, "Trợ lý thủ tục")
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert {method for method, _ in fake.calls} == {"getMe"}


def test_send_message_round_trips_an_inline_keyboard(fake):
    async def scenario(bot):
        first = await bot.send_message(USER, "Yêu cầu #17 về #căn_cước", reply_markup=KEYBOARD)
        second = await bot.send_message("@tnv_hotro", "Có người cần hỗ trợ")
        third = await bot.send_message(USER, "Tiếp theo")
        return first, second, third

    first, second, third = with_bot(fake, scenario)
    assert first.reply_markup == KEYBOARD
    assert (first.chat.id, first.chat.type, first.chat.first_name) == (USER, "private", "Lan")
    assert first.from_user.id == 123456 and first.from_user.is_bot
    assert first.text == "Yêu cầu #17 về #căn_cước" and first.date.year >= 2024
    # Telegram finds hashtags itself; "#17" has no letter, so it is none.
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("hashtag", 15, 9)]
    assert (second.chat.id, second.chat.title, second.message_id) == (GROUP, "Tình nguyện viên", 1)
    assert (first.message_id, third.message_id) == (1, 2)  # numbered per chat
    _, params = fake.wait_for_call("sendMessage", lambda p: p.get("reply_markup") is not None)
    assert params["chat_id"] == USER and params["reply_markup"] == KEYBOARD.to_dict()
    assert [m["message_id"] for m in fake.sent_messages(USER)] == [1, 2]
    assert fake.message(USER, 1)["reply_markup"] == KEYBOARD.to_dict()


def test_html_is_parsed_into_entities_with_utf16_offsets(fake):
    message = with_bot(
        fake,
        lambda bot: bot.send_message(
            USER, "  <b>Xin chào</b> 👋 <a href='dichvucong.gov.vn'>cổng</a> &lt;3  ", parse_mode="HTML"
        ),
    )
    assert message.text == "Xin chào 👋 cổng <3"
    assert [(e.type, e.offset, e.length, e.url) for e in message.entities] == [
        ("bold", 0, 8, None),
        ("text_link", 12, 4, "http://dichvucong.gov.vn/"),
    ]


@pytest.mark.parametrize(
    ("text", "parse_mode", "reason"),
    [
        ("", None, "message text is empty"),
        ("   ", None, "message text is empty"),
        ("<b> </b>", "HTML", "message text is empty"),
        ("x" * 4097, None, "message is too long"),
        ("<x>hi</x>", "HTML", 'unsupported start tag "x" at byte offset 0'),
        ("<b>hi</i>", "HTML", "unmatched end tag"),
        ("Xong.", "MarkdownV2", "character '.' is reserved"),
        ("*đậm", "MarkdownV2", "can't find end of bold entity at byte offset 0"),
        ("_nghiêng", "Markdown", "can't find end of the entity starting at byte offset 0"),
    ],
)
def test_bad_texts_are_rejected(fake, text, parse_mode, reason):
    with pytest.raises(BadRequest) as error:
        with_bot(fake, lambda bot: bot.send_message(USER, text, parse_mode=parse_mode))
    assert reason in error.value.message.lower()


def test_markdown_v2_escapes_and_entities(fake):
    message = with_bot(
        fake,
        lambda bot: bot.send_message(
            USER, r"*Bước 1\.* xem [hướng dẫn](https://dichvucong.gov.vn/huong-dan)", parse_mode="MarkdownV2"
        ),
    )
    assert message.text == "Bước 1. xem hướng dẫn"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 7), ("text_link", 12, 9)]


def test_unknown_chat_is_not_found(fake):
    with pytest.raises(BadRequest, match="Chat not found"):
        with_bot(fake, lambda bot: bot.send_message(987654, "xin chào"))
    with pytest.raises(BadRequest, match="Chat not found"):
        with_bot(fake, lambda bot: bot.send_message("@khong_ton_tai", "xin chào"))


def test_callback_data_is_limited_to_64_bytes(fake):
    def send(data):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Nhận", callback_data=data)]])
        return with_bot(fake, lambda bot: bot.send_message(USER, "Yêu cầu", reply_markup=markup))

    assert send("a" * 64).reply_markup.inline_keyboard[0][0].callback_data == "a" * 64
    for too_long in ("a" * 65, "đ" * 33):  # 33 characters, but 66 bytes
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            send(too_long)
    assert len(fake.sent_messages()) == 1


def test_inline_buttons_need_exactly_one_action(fake):
    def post(markup):
        return httpx.post(
            f"{fake.base_url}{fake.token}/sendMessage", json={"chat_id": USER, "text": "x", "reply_markup": markup}
        ).json()["description"]

    assert post({"inline_keyboard": [[{"text": "Nhận"}]]}) == (
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )
    both = {"text": "Nhận", "callback_data": "a", "url": "https://a.vn"}
    assert "exactly one" in post({"inline_keyboard": [[both]]})
    assert post({"inline_keyboard": [[{"text": "Mở", "url": "http://localhost:8081"}]]}) == (
        "Bad Request: inline keyboard button URL 'http://localhost:8081' is invalid: Wrong HTTP URL"
    )


def test_wrong_token_is_rejected(fake):
    with pytest.raises(InvalidToken):
        with_bot(fake, lambda bot: bot.get_me(), token="654321:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert fake.calls == []


def test_fail_next_answers_429_then_recovers(fake):
    fake.fail_next("sendMessage", retry_after=7)

    async def scenario(bot):
        with pytest.raises(RetryAfter) as error:
            await bot.send_message(USER, "Thử lại")
        return error.value.retry_after, await bot.send_message(USER, "Thử lại")

    retry_after, message = with_bot(fake, scenario)
    seconds = retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after
    assert seconds == 7
    assert message.message_id == 1  # the throttled call sent nothing
    assert [method for method, _ in fake.calls].count("sendMessage") == 2
    (first_at, _), (second_at, _) = fake.timed_calls("sendMessage")
    assert first_at <= second_at and fake.timed_calls("sendmessage", lambda p: p["text"] == "Khác") == []


def test_edit_message_text_is_throttled_like_any_method(fake):
    fake.fail_next("editMessageText", retry_after=5)

    async def scenario(bot):
        sent = await bot.send_message(USER, "Yêu cầu hỗ trợ #1")
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("Yêu cầu hỗ trợ #1 đã kết thúc.", USER, sent.message_id)
        await bot.edit_message_text("Yêu cầu hỗ trợ #1 đã kết thúc.", USER, sent.message_id)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Yêu cầu hỗ trợ #1 đã kết thúc.", USER, sent.message_id)
        return sent.message_id

    message_id = with_bot(fake, scenario)
    assert fake.message(USER, message_id)["text"] == "Yêu cầu hỗ trợ #1 đã kết thúc."
    assert len(fake.timed_calls("editMessageText")) == 3


def test_callback_query_is_answered_once(fake):
    async def scenario(bot):
        sent = await bot.send_message(USER, "Yêu cầu #17", reply_markup=KEYBOARD)
        update = fake.make_callback_query_update(USER, USER, sent.message_id, "accept:17")
        parsed = Update.de_json(update, bot)
        assert parsed.callback_query.message.reply_markup == KEYBOARD
        assert (parsed.callback_query.data, parsed.callback_query.from_user.id) == ("accept:17", USER)
        assert await bot.answer_callback_query(parsed.callback_query.id, text="Đã nhận") is True
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(parsed.callback_query.id)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("1234")

    with_bot(fake, scenario)
    with pytest.raises(ValueError, match="no button"):
        fake.make_callback_query_update(USER, USER, 1, "reject:17")


def test_callback_query_expires():
    with FakeTelegramAPI(callback_query_lifetime=0) as fake:
        fake.add_user(USER, "Lan")
        fake.add_chat(USER)

        async def scenario(bot):
            sent = await bot.send_message(USER, "Yêu cầu", reply_markup=KEYBOARD)
            update = fake.make_callback_query_update(USER, USER, sent.message_id, "accept:17")
            with pytest.raises(BadRequest, match="Query is too old"):
                await bot.answer_callback_query(update["callback_query"]["id"])

        with_bot(fake, scenario)


def test_edit_message_reply_markup_removes_the_keyboard_once(fake):
    async def scenario(bot):
        sent = await bot.send_message(USER, "Yêu cầu #17", reply_markup=KEYBOARD)
        edited = await bot.edit_message_reply_markup(USER, sent.message_id)
        assert edited.reply_markup is None and edited.text == "Yêu cầu #17"
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_reply_markup(USER, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_reply_markup(USER, 99)
        return sent.message_id

    message_id = with_bot(fake, scenario)
    assert "reply_markup" not in fake.message(USER, message_id)


def test_edit_message_text(fake):
    async def scenario(bot):
        sent = await bot.send_message(USER, "Đang chờ", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text(
            "<b>Đã nhận</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD
        )
        assert (edited.text, edited.entities[0].type, edited.reply_markup) == ("Đã nhận", "bold", KEYBOARD)
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text(
                "<b>Đã nhận</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD
            )
        user_message = fake.make_message_update(USER, USER, "cảm ơn")["message"]
        with pytest.raises(BadRequest, match="Message can't be edited"):
            await bot.edit_message_text("sửa", USER, user_message["message_id"])

    with_bot(fake, scenario)


def test_send_chat_action(fake):
    async def scenario(bot):
        assert await bot.send_chat_action(USER, "typing") is True
        with pytest.raises(BadRequest, match="Wrong parameter action"):
            await bot.send_chat_action(USER, "dancing")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_chat_action(1, "typing")

    with_bot(fake, scenario)


def test_webhook_blocks_get_updates(fake):
    async def scenario(bot):
        with pytest.raises(BadRequest, match="(?i)https url must be provided"):
            await bot.set_webhook("http://example.org/telegram")
        with pytest.raises(BadRequest, match="(?i)secret token contains unallowed characters"):
            await bot.set_webhook("https://example.org/telegram", secret_token="bí mật")
        assert await bot.set_webhook("https://example.org/telegram", secret_token="s3cret_-X") is True
        assert (await bot.get_webhook_info()).url == "https://example.org/telegram"
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook() is True
        assert await bot.get_updates() == ()

    with_bot(fake, scenario)
    assert fake.webhook is None
    _, params = fake.wait_for_call("setWebhook", lambda p: p.get("secret_token") == "s3cret_-X")
    assert params["url"] == "https://example.org/telegram"


def test_conflicts_carry_the_real_envelope_and_come_at_most_every_3_s(fake):
    """A superseded long poll is answered with the real server's 409 envelope; one within 3 s of
    the previous conflict 3 s late, so two pollers with one token cannot spin."""
    url = f"{fake.base_url}{fake.token}/getUpdates"

    async def superseded(bot: Bot, client: httpx.AsyncClient, limit: int) -> tuple[httpx.Response, float]:
        """A raw long poll (tagged by its limit) that `bot` then supersedes: its answer, and how
        long after it started waiting that came."""
        poll = asyncio.create_task(client.post(url, json={"timeout": 20, "limit": limit}))
        await asyncio.to_thread(fake.wait_for_call, "getUpdates", lambda p: p.get("limit") == limit)
        waiting_since = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()  # the newer poll waits its own 1 s and finds nothing
        return await poll, time.monotonic() - waiting_since

    async def scenario(bot: Bot):
        async with httpx.AsyncClient(timeout=30) as client:
            return await superseded(bot, client, 50), await superseded(bot, client, 60)

    (first, first_s), (second, second_s) = with_bot(fake, scenario)
    conflict = {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    }
    assert first.status_code == second.status_code == 409
    assert first.json() == second.json() == conflict
    assert first_s < 3 <= second_s  # the second within 3 s of the first: answered 3 s late


def test_get_updates_offset_confirms_and_drops(fake):
    first = fake.make_message_update(USER, USER, "/start")
    second = fake.make_message_update(USER, USER, "Tôi cần làm căn cước")
    fake.push_update(first)
    fake.push_update(second)

    async def scenario(bot):
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
        assert updates[0].message.text == "/start"
        assert [(e.type, e.offset, e.length) for e in updates[0].message.entities] == [("bot_command", 0, 6)]
        assert [u.update_id for u in await bot.get_updates(limit=1)] == [first["update_id"]]
        assert [u.update_id for u in await bot.get_updates(offset=first["update_id"] + 1)] == [second["update_id"]]
        assert [u.update_id for u in await bot.get_updates()] == [second["update_id"]]  # the first is gone
        assert await bot.get_updates(offset=second["update_id"] + 1) == ()
        assert (await bot.get_webhook_info()).pending_update_count == 0

    with_bot(fake, scenario)


def test_long_poll_returns_when_an_update_arrives(fake):
    async def scenario(bot):
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(fake.wait_for_call, "getUpdates")  # the poll is waiting on the server
        update = fake.make_message_update(USER, USER, "alo")
        fake.push_update(update)
        updates = await asyncio.wait_for(poll, 5)
        assert [u.message.text for u in updates] == ["alo"]

    with_bot(fake, scenario)


def test_a_second_poller_terminates_the_first(fake):
    async def scenario(first_bot):
        async with Bot(fake.token, base_url=fake.base_url) as second_bot:
            first = asyncio.create_task(first_bot.get_updates(timeout=30))
            await asyncio.to_thread(fake.wait_for_call, "getUpdates")
            second = asyncio.create_task(second_bot.get_updates(timeout=30))
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                await asyncio.wait_for(first, 5)
            fake.push_update(fake.make_message_update(USER, USER, "alo"))
            assert len(await asyncio.wait_for(second, 5)) == 1

    with_bot(fake, scenario)


def test_wait_for_call_times_out(fake):
    with pytest.raises(TimeoutError, match="sendMessage"):
        fake.wait_for_call("sendMessage", timeout=0.05)


def test_raw_http_envelopes(fake):
    url = f"{fake.base_url}{fake.token}"

    response = httpx.post(f"{url}/sendMessage", data={"chat_id": "777", "text": "xin chào"})
    assert (response.status_code, response.json()) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )

    response = httpx.post(
        f"{url}/SENDMESSAGE",
        data={
            "chat_id": str(USER),
            "text": "xin chào",
            "reply_markup": '{"inline_keyboard": [[{"text": "Nhận", "callback_data": "accept:1"}]]}',
        },
    )
    body = response.json()
    assert response.status_code == 200 and set(body) == {"ok", "result"} and body["ok"] is True
    assert body["result"]["reply_markup"] == {"inline_keyboard": [[{"text": "Nhận", "callback_data": "accept:1"}]]}
    assert fake.calls[-1][0] == "sendMessage" and fake.calls[-1][1]["chat_id"] == USER

    response = httpx.get(f"{url}/getMe")
    assert response.status_code == 200 and response.json()["result"]["id"] == 123456

    fake.fail_next("getMe", retry_after=5)
    response = httpx.get(f"{url}/getMe")
    assert (response.status_code, response.headers["Retry-After"], response.json()) == (
        429,
        "5",
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        },
    )

    response = httpx.post(f"{url}/setWebhook", json={"url": "https://example.org/hook"})
    assert response.json() == {"ok": True, "result": True, "description": "Webhook was set"}

    for path, status, description in [
        (f"{url}/noSuchMethod", 404, "Not Found"),
        (f"{fake.base_url}123:WRONG/getMe", 401, "Unauthorized"),
        (f"{fake.base_url}not-a-token/getMe", 404, "Not Found"),
    ]:
        response = httpx.post(path)
        assert (response.status_code, response.json()) == (
            status,
            {"ok": False, "error_code": status, "description": description},
        )
