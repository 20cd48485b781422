"""Volunteer notifications on Telegram, against a local server that implements the Bot API
contract: a request is posted with a masked preview and a "Nhận" button; the first press claims it,
the others are told it is taken, and the button goes away. A notice quotes the citizen, so it is
edited to a neutral line when the handoff ends, the citizen deletes their data, or at retention."""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import pytest
from sqlalchemy import select, update

from bot.channels.telegram_volunteers import VolunteerTelegram
from bot.console import auth
from bot.events import EventBus
from bot.privacy import forget_citizen, purge_expired
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Handoff, TelegramNotice, Volunteer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.conftest import button
from tests.integration.people import Console, WebCitizen
from tests.integration.replica import Replica

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
def settings(telegram):
    return get_settings().model_copy(
        update={
            "volunteer_telegram_token": telegram.token,
            "volunteer_telegram_chat_id": str(GROUP),
            "volunteer_telegram_secret": SECRET,
            "telegram_api_url": telegram.base_url,
        }
    )


@pytest.fixture(scope="module")
def replica(stack, settings):
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))
        for username, name, telegram_id in (("lan-tg", "Lan", LAN), ("minh-tg", "Minh", MINH)):
            if session.scalar(select(Volunteer).where(Volunteer.username == username)) is None:
                auth.create_account(session, username, name, "mật-khẩu-telegram", telegram_user_id=str(telegram_id))
    with Replica(settings) as running:
        yield running


def sweep(replica: Replica, settings) -> int:
    """The periodic sweep, as another replica runs it: its own bot, the same database."""

    async def run() -> int:
        volunteers = VolunteerTelegram(settings, replica.app.state.handoffs, EventBus())
        await volunteers.start()
        try:
            return await volunteers.neutralise_pending()
        finally:
            await volunteers.stop()

    return replica.run(run())


def notice_for(telegram: FakeTelegramAPI, handoff_id: int) -> dict:
    _, params = telegram.wait_for_call(
        "sendMessage", lambda p: p["chat_id"] == GROUP and f"#{handoff_id}\n" in p["text"]
    )
    return params


def notice_message_id(telegram: FakeTelegramAPI, handoff_id: int) -> int:
    """The group message that announces this request, once it is there."""
    notice_for(telegram, handoff_id)
    return next(m["message_id"] for m in telegram.sent_messages(GROUP) if f"#{handoff_id}\n" in m["text"])


def press(replica: Replica, update: dict, secret: str = SECRET) -> httpx.Response:
    return httpx.post(
        replica.url + WEBHOOK, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}, timeout=30
    )


def test_a_request_is_posted_with_a_masked_preview_and_a_claim_button(replica, telegram):
    citizen = WebCitizen(replica.url)
    citizen.say("tôi nộp hồ sơ rồi, số CCCD 079123456789")
    citizen.say("gọi tôi số 0912 345 678 hoặc email hoa.nguyen@example.com")
    handoff_id = citizen.ask_for_a_person()
    params = notice_for(telegram, handoff_id)
    assert "Lý do: Người dân muốn gặp tình nguyện viên" in params["text"] and "Kênh: web" in params["text"]
    assert "079123456789" not in params["text"] and "[số định danh đã ẩn]" in params["text"]
    assert "345 678" not in params["text"] and "hoa.nguyen" not in params["text"]  # a group chat gets no contacts
    assert params["reply_markup"] == {"inline_keyboard": [[{"text": "Nhận", "callback_data": f"claim:{handoff_id}"}]]}


def test_first_press_claims_the_others_are_told_it_is_taken(replica, telegram):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    presses = {
        user: telegram.make_callback_query_update(user, GROUP, message_id, f"claim:{handoff_id}")
        for user in (LAN, MINH)
    }
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
            "answerCallbackQuery", lambda p, q=update_["callback_query"]["id"]: p["callback_query_id"] == q
        )
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
    _, answer = telegram.wait_for_call(
        "answerCallbackQuery", lambda p: p["callback_query_id"] == tap["callback_query"]["id"]
    )
    assert "chưa được liên kết" in answer["text"]
    assert citizen.handoff().status == "queued"


def test_forged_or_malformed_webhook_calls_are_rejected_and_change_nothing(replica, telegram):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    tap = telegram.make_callback_query_update(LAN, GROUP, message_id, f"claim:{handoff_id}")
    assert press(replica, tap, secret="wrong").status_code == 403
    assert httpx.post(replica.url + WEBHOOK, json=tap).status_code == 403  # no secret at all
    broken = httpx.post(
        replica.url + WEBHOOK,
        content=b"{not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert citizen.handoff().status == "queued"


def neutral(handoff_id: int) -> str:
    return f"Yêu cầu hỗ trợ #{handoff_id} đã kết thúc."


def notices_of(handoff_id: int) -> list[TelegramNotice]:
    with session_scope() as session:
        return session.scalars(select(TelegramNotice).where(TelegramNotice.handoff_number == handoff_id)).all()


def wait_until_neutral(telegram: FakeTelegramAPI, handoff_id: int, message_id: int) -> None:
    """The notice edited to its neutral line, then its row forgotten (right after the edit's answer)."""
    telegram.wait_for_call("editMessageText", lambda p: p["message_id"] == message_id, timeout=20)
    shown = telegram.message(GROUP, message_id)
    assert shown["text"] == neutral(handoff_id) and "reply_markup" not in shown
    deadline = time.monotonic() + 10
    while notices_of(handoff_id):
        assert time.monotonic() < deadline, f"notice of #{handoff_id} still kept after its edit"
        threading.Event().wait(0.05)


@pytest.mark.parametrize("end", ["handed back", "closed", "cancelled by the citizen"])
def test_a_notice_keeps_nothing_of_the_citizen_once_the_handoff_ends(replica, telegram, end):
    citizen = WebCitizen(replica.url)
    citizen.say("nhà tôi ở 12 Lê Lợi, số 0987 654 321")
    waiting = citizen.say("tôi muốn gặp tình nguyện viên")
    handoff_id = citizen.handoff().id
    message_id = notice_message_id(telegram, handoff_id)
    if end == "cancelled by the citizen":
        citizen.say(button(waiting, "Thôi, hỏi trợ lý ảo"))
    else:
        lan = Console(replica.url, "Lan")
        assert lan.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
        telegram.wait_for_call("editMessageReplyMarkup", lambda p: p["message_id"] == message_id)
        assert len(notices_of(handoff_id)) == 1  # the button went, the notice is still to be neutralised
        path, body = {"handed back": ("hand-back", {}), "closed": ("close", {"outcome": "resolved"})}[end]
        assert lan.post(f"/console/api/handoffs/{handoff_id}/{path}", body).status_code == 200
    wait_until_neutral(telegram, handoff_id, message_id)
    assert "12 Lê Lợi" not in str(telegram.sent_messages(GROUP))


def test_a_notice_is_neutralised_when_the_waiting_citizen_deletes_their_data(replica, telegram):
    citizen = WebCitizen(replica.url)
    confirm = citizen.say("xóa dữ liệu của tôi")
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    citizen.say(button(confirm, "Xóa dữ liệu"))  # while waiting: the router announces the deletion
    wait_until_neutral(telegram, handoff_id, message_id)


def test_a_notice_of_data_deleted_unheard_is_neutralised_by_the_sweep(replica, telegram, settings):
    citizen = WebCitizen(replica.url)
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    forget_citizen("web", citizen.sender)  # as another process would: no event reaches this replica
    assert [(n.handoff_id, n.neutralise) for n in notices_of(handoff_id)] == [(None, True)]  # kept, detached
    assert sweep(replica, settings) >= 1
    wait_until_neutral(telegram, handoff_id, message_id)


def test_a_notice_past_retention_is_neutralised_waiting_as_telegram_says(replica, telegram, settings):
    citizen = WebCitizen(replica.url)
    citizen.say("mật khẩu VNeID của tôi quên rồi, số máy 0909 111 222")
    handoff_id = citizen.ask_for_a_person()
    message_id = notice_message_id(telegram, handoff_id)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=get_settings().retention_days + 1)
    with session_scope() as session:
        session.execute(
            update(TelegramNotice).where(TelegramNotice.handoff_id == handoff_id).values(created_at=long_ago)
        )
    purge_expired()
    assert [n.neutralise for n in notices_of(handoff_id)] == [True]
    telegram.fail_next("editMessageText", retry_after=1, chat_id=GROUP)
    assert sweep(replica, settings) >= 1
    (refused_at, _), (edited_at, _) = telegram.timed_calls("editMessageText", lambda p: p["message_id"] == message_id)
    assert edited_at - refused_at >= 1
    wait_until_neutral(telegram, handoff_id, message_id)
