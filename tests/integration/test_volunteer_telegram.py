"""Volunteer notifications on Telegram, against a local server that implements the Bot API
contract: a request is posted with a masked preview and a "Nhận" button; the first press claims it,
the others are told it is taken, and the button goes away."""
from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import select, update

from bot.console import auth
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Handoff, Volunteer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.replica import Replica
from tests.integration.people import WebCitizen

GROUP = -1001234567890
SECRET = "volunteer-hook-secret_1"
LAN, MINH, STRANGER = 5101, 5102, 5103
WEBHOOK = "/webhooks/telegram-volunteers"


@pytest.fixture(scope="module")
def telegram():
    with FakeTelegramAPI() as api:
        api.add_chat(GROUP, "supergroup", title="Tình nguyện viên phường")
        for user_id, name in ((LAN, "Lan"), (MINH, "Minh"), (STRANGER, "Khách")):
            api.add_user(user_id, name)
        yield api


@pytest.fixture(scope="module")
def replica(stack, telegram):
    settings = get_settings().model_copy(update={
        "volunteer_telegram_token": telegram.token, "volunteer_telegram_chat_id": str(GROUP),
        "volunteer_telegram_secret": SECRET, "telegram_api_url": telegram.base_url,
    })
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))
        for username, name, telegram_id in (("lan-tg", "Lan", LAN), ("minh-tg", "Minh", MINH)):
            if session.scalar(select(Volunteer).where(Volunteer.username == username)) is None:
                auth.create_account(session, username, name, "mật-khẩu-telegram", telegram_user_id=str(telegram_id))
    with Replica(settings) as running:
        yield running


def notice_for(telegram: FakeTelegramAPI, handoff_id: int) -> dict:
    _, params = telegram.wait_for_call(
        "sendMessage", lambda p: p["chat_id"] == GROUP and f"#{handoff_id}\n" in p["text"])
    return params


def notice_message_id(telegram: FakeTelegramAPI, handoff_id: int) -> int:
    """The group message that announces this request, once it is there."""
    notice_for(telegram, handoff_id)
    return next(m["message_id"] for m in telegram.sent_messages(GROUP) if f"#{handoff_id}\n" in m["text"])


def press(replica: Replica, update: dict, secret: str = SECRET) -> httpx.Response:
    return httpx.post(replica.url + WEBHOOK, json=update,
                      headers={"X-Telegram-Bot-Api-Secret-Token": secret}, timeout=30)


def test_a_request_is_posted_with_a_masked_preview_and_a_claim_button(replica, telegram):
    citizen = WebCitizen(replica.url)
    citizen.say("tôi nộp hồ sơ rồi, số CCCD 079123456789")
    handoff_id = citizen.ask_for_a_person()
    params = notice_for(telegram, handoff_id)
    assert "Lý do: Người dân muốn gặp tình nguyện viên" in params["text"] and "Kênh: web" in params["text"]
    assert "079123456789" not in params["text"] and "[số định danh đã ẩn]" in params["text"]
    assert params["reply_markup"] == {"inline_keyboard": [[{"text": "Nhận", "callback_data": f"claim:{handoff_id}"}]]}


def test_first_press_claims_the_others_are_told_it_is_taken(replica, telegram):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    presses = {user: telegram.make_callback_query_update(user, GROUP, message_id, f"claim:{handoff_id}")
               for user in (LAN, MINH)}
    barrier, statuses = threading.Barrier(2), []

    def tap(update: dict) -> None:
        barrier.wait()
        statuses.append(press(replica, update).status_code)

    taps = [threading.Thread(target=tap, args=(u,)) for u in presses.values()]
    for thread in taps:
        thread.start()
    for thread in taps:
        thread.join(30)
    assert statuses == [200, 200]

    answers = {}
    for user, update_ in presses.items():
        _, answer = telegram.wait_for_call(
            "answerCallbackQuery", lambda p, q=update_["callback_query"]["id"]: p["callback_query_id"] == q)
        answers[user] = answer
    won = [user for user, a in answers.items() if "đã nhận yêu cầu" in a["text"]]
    lost = [user for user, a in answers.items() if "tình nguyện viên khác nhận" in a["text"]]
    assert len(won) == 1 and len(lost) == 1 and answers[lost[0]]["show_alert"] is True
    with session_scope() as session:
        holder = session.get(Volunteer, session.get(Handoff, handoff_id).volunteer_id)
    assert holder.telegram_user_id == str(won[0])
    citizen.inbox.wait_for(lambda m: m["text"] == f"Dạ, tình nguyện viên {holder.display_name} đang hỗ trợ anh/chị.")
    telegram.wait_for_call("editMessageReplyMarkup", lambda p: p["message_id"] == message_id)
    assert "reply_markup" not in telegram.message(GROUP, message_id)  # the button is gone


def test_an_unlinked_telegram_account_cannot_claim(replica, telegram):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    tap = telegram.make_callback_query_update(STRANGER, GROUP, message_id, f"claim:{handoff_id}")
    assert press(replica, tap).status_code == 200
    _, answer = telegram.wait_for_call("answerCallbackQuery",
                                       lambda p: p["callback_query_id"] == tap["callback_query"]["id"])
    assert "chưa được liên kết" in answer["text"]
    assert citizen.handoff().status == "queued"


def test_forged_or_malformed_webhook_calls_are_rejected_and_change_nothing(replica, telegram):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    tap = telegram.make_callback_query_update(LAN, GROUP, message_id, f"claim:{handoff_id}")
    assert press(replica, tap, secret="wrong").status_code == 403
    assert httpx.post(replica.url + WEBHOOK, json=tap).status_code == 403  # no secret at all
    broken = httpx.post(replica.url + WEBHOOK, content=b"{not json",
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert broken.status_code == 400
    assert citizen.handoff().status == "queued"
