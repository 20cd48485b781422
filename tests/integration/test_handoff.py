"""Volunteer handoff with the real services: request, queue, claim, live chat both ways, transfer,
release, claim expiry, hand-back at a guide step, close, rating, and the nobody-available path."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
from sqlalchemy import update

from bot.storage.db import session_scope
from bot.storage.models import Handoff, Owner, Volunteer, utcnow
from tests.integration.conftest import button, texts
from tests.integration.people import ASK_HUMAN, PASSWORD, Console, WebCitizen
from tests.integration.replica import Replica


@pytest.fixture(scope="module")
def replica(stack):
    with Replica() as running:
        yield running


@pytest.fixture(autouse=True)
def nobody_on_duty(loaded_db):
    """Each test decides who is online."""
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))


def test_nobody_online_is_told_honestly_leaves_a_question_and_gets_the_answer_later(replica):
    citizen = WebCitizen(replica.url)
    replies = citizen.say(ASK_HUMAN)
    said = texts(replies)
    assert "chưa có tình nguyện viên trực tuyến" in said and "giờ trực: cả ngày" in said
    assert "liên hệ" in said and citizen.owner() == Owner.queued
    assert citizen.handoff().left_question and citizen.handoff().reason == "citizen_request"
    kept = citizen.say("Tôi nộp hồ sơ khai sinh rồi mà chưa thấy kết quả, số CCCD của tôi là 079123456789")
    assert "ghi lại tin nhắn" in texts(kept) and "đừng gửi" in texts(kept)  # kept, and warned about the ID number
    contact = "Anh chị trả lời giúp tôi nhé, số tôi 0912 345 678, mail lan.nguyen@example.com"
    assert citizen.say(contact) == []  # told once; the bot says nothing else

    lan = Console(replica.url, "Lan")
    waiting = next(h for h in lan.queue()["queued"] if h["id"] == citizen.handoff().id)
    # the queue's preview hides contacts; the volunteer who takes the conversation sees them
    assert waiting["left_question"] and waiting["preview"].startswith("Anh chị trả lời giúp tôi nhé")
    assert "0912" not in waiting["preview"] and "example.com" not in waiting["preview"]
    claimed = lan.post(f"/console/api/handoffs/{waiting['id']}/claim")
    assert claimed.status_code == 200
    shown = [m["text"] for m in claimed.json()["handoff"]["messages"]]
    assert any("[số định danh đã ẩn]" in t for t in shown) and not any("079123456789" in t for t in shown)
    assert contact in shown
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, tình nguyện viên Lan đang hỗ trợ anh/chị.")
    assert lan.send(waiting["id"], "Dạ, hồ sơ khai sinh thường có kết quả sau 1 ngày làm việc.").status_code == 200
    answer = citizen.inbox.wait_for(lambda m: m["author"] == "volunteer")
    assert answer["text"].startswith("Dạ, hồ sơ khai sinh")


def test_claim_live_chat_and_hand_back_at_a_guide_step(replica):
    lan = Console(replica.url, "Lan")
    console_events = lan.stream()
    citizen = WebCitizen(replica.url)
    start = citizen.say("hướng dẫn tôi nộp khai sinh trực tuyến")
    step_one = citizen.say(button(start, "Bắt đầu"))
    problems = citizen.say(button(step_one, "Tôi bị kẹt"))
    fix = citizen.say(button(problems, "Không nhận được mã OTP"))
    called = citizen.say(button(fix, "Vẫn bị kẹt"))
    assert "nhờ tình nguyện viên" in texts(called) and "em đã báo tình nguyện viên" in texts(called)
    handoff = citizen.handoff()
    assert (handoff.reason, handoff.procedure_slug, handoff.guide_step) == ("stuck", "khai-sinh", 1)
    assert any("Vẫn bị kẹt" == line["text"] for line in handoff.packet["transcript"])
    console_events.wait_for(lambda d: d["handoff_id"] == handoff.id and d["kind"] == "queued", name="handoff")

    detail = lan.post(f"/console/api/handoffs/{handoff.id}/claim").json()["handoff"]
    assert detail["procedure"]["slug"] == "khai-sinh" and detail["guide_step"] == 1
    claimed_at = citizen.messages()[-1].id
    assert citizen.say("em vẫn không nhận được mã") == []  # the bot is silent while Lan holds it
    console_events.wait_for(
        lambda d: d["handoff_id"] == handoff.id and d["message"]["text"] == "em vẫn không nhận được mã"
    )
    assert lan.send(handoff.id, 'Anh/chị bấm "Gửi lại mã" sau 1 phút nhé.').status_code == 200
    citizen.inbox.wait_for(lambda m: m["author"] == "volunteer" and "Gửi lại mã" in m["text"])
    assert citizen.say("được rồi, cảm ơn em") == []

    assert lan.post(f"/console/api/handoffs/{handoff.id}/hand-back", {"step": 2}).status_code == 200
    resumed = citizen.inbox.wait_for(lambda m: m["text"].startswith("Bước 2/"))
    assert "Trợ lý ảo tiếp tục hướng dẫn anh/chị từ bước 2" in " ".join(citizen.inbox.texts())
    held = [m for m in citizen.messages(claimed_at) if m.created_at <= citizen.handoff().ended_at]
    assert held and not [m for m in held if m.author == "bot"], "the bot spoke while the volunteer held it"
    assert citizen.owner() == Owner.bot and citizen.handoff().status == "handed_back"
    # the guide goes on from step 2 and the bot answers questions again
    assert texts(citizen.say(button([resumed], "Xong"))).startswith("Bước 3/")
    assert "lệ phí" in texts(citizen.say("đăng ký khai sinh lệ phí bao nhiêu")).lower()


def claims_counted(replica) -> int:
    metrics = httpx.get(replica.url + "/metrics").text
    return sum(
        int(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('handoff_transitions_total{kind="claimed"')
    )


def test_concurrent_claims_exactly_one_wins(replica):
    counted = claims_counted(replica)
    citizen = WebCitizen(replica.url)
    volunteers = [Console(replica.url, name) for name in ("An", "Bình", "Chi", "Dũng")]
    handoff_id = citizen.ask_for_a_person()
    barrier, results = threading.Barrier(len(volunteers)), {}

    def claim(console: Console) -> None:
        barrier.wait()
        results[console.username] = console.post(f"/console/api/handoffs/{handoff_id}/claim").status_code

    threads = [threading.Thread(target=claim, args=(v,)) for v in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [200, 409, 409, 409]
    winner = next(v for v in volunteers if results[v.username] == 200)
    assert citizen.handoff().volunteer_id == winner.id and citizen.owner() == Owner.human
    assert claims_counted(replica) == counted + 1  # the metrics listener heard the one transition


def test_transfer_then_release_back_to_the_queue(replica):
    citizen = WebCitizen(replica.url)
    an, binh = Console(replica.url, "An"), Console(replica.url, "Bình")
    handoff_id = citizen.ask_for_a_person()
    assert an.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
    assert binh.send(handoff_id, "xin chào").status_code == 403  # only the holder writes
    assert an.post(f"/console/api/handoffs/{handoff_id}/transfer", {"volunteer_id": binh.id}).status_code == 200
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, tình nguyện viên Bình sẽ tiếp tục hỗ trợ anh/chị.")
    assert an.send(handoff_id, "xin chào").status_code == 403
    assert binh.send(handoff_id, "Dạ, em là Bình, em hỗ trợ tiếp ạ.").status_code == 200
    assert handoff_id in [h["id"] for h in binh.queue()["mine"]]
    assert binh.post(f"/console/api/handoffs/{handoff_id}/release").status_code == 200
    citizen.inbox.wait_for(lambda m: "tình nguyện viên khác" in m["text"])
    assert citizen.owner() == Owner.queued and citizen.handoff().volunteer_id is None
    assert handoff_id in [h["id"] for h in an.queue()["queued"]]


def test_claim_expires_when_the_volunteer_does_not_reply(replica):
    citizen = WebCitizen(replica.url)
    lan = Console(replica.url, "Lan")
    handoff_id = citizen.ask_for_a_person()
    assert lan.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
    handoffs = replica.app.state.handoffs
    assert handoff_id not in replica.run(handoffs.expire_stale_claims(utcnow()))  # not yet
    later = utcnow() + dt.timedelta(minutes=handoffs.settings.claim_expiry_minutes + 1)
    assert handoff_id in replica.run(handoffs.expire_stale_claims(later))
    citizen.inbox.wait_for(lambda m: "chưa trả lời kịp" in m["text"])  # the citizen is not left silent
    assert citizen.owner() == Owner.queued
    assert lan.send(handoff_id, "xin lỗi").status_code == 403

    # a volunteer who replies in time keeps the conversation
    assert lan.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
    assert lan.send(handoff_id, "Dạ, em đây ạ.").status_code == 200
    with session_scope() as session:  # the reply was a minute after the claim
        session.execute(
            update(Handoff).where(Handoff.id == handoff_id).values(claimed_at=utcnow() - dt.timedelta(minutes=1))
        )
    soon = utcnow() + dt.timedelta(minutes=handoffs.settings.claim_expiry_minutes - 0.5)
    assert handoff_id not in replica.run(handoffs.expire_stale_claims(soon))


def test_close_with_outcome_rating_and_a_fresh_start(replica):
    citizen = WebCitizen(replica.url)
    lan = Console(replica.url, "Lan")
    handoff_id = citizen.ask_for_a_person()
    lan.post(f"/console/api/handoffs/{handoff_id}/claim")
    assert lan.post(f"/console/api/handoffs/{handoff_id}/close", {"outcome": "bogus"}).status_code == 400
    assert lan.post(f"/console/api/handoffs/{handoff_id}/close", {"outcome": "resolved"}).status_code == 200
    rating = citizen.inbox.wait_for(lambda m: "chấm điểm" in m["text"])
    assert [b["title"] for b in rating["buttons"]] == ["1", "2", "3", "4", "5"]
    assert "cảm ơn" in texts(citizen.say(button([rating], "5"))).lower()
    assert (citizen.handoff().outcome, citizen.handoff().rating) == ("resolved", 5)
    assert citizen.owner() == Owner.closed
    answer = citizen.say("làm căn cước cần giấy tờ gì")  # a new conversation, answered by the bot
    assert citizen.owner() == Owner.bot and "căn cước" in texts(answer).lower()


def test_a_draft_asking_for_an_otp_is_held_until_the_volunteer_confirms(replica):
    citizen = WebCitizen(replica.url)
    lan = Console(replica.url, "Lan")
    handoff_id = citizen.ask_for_a_person()
    lan.post(f"/console/api/handoffs/{handoff_id}/claim")
    before = len(citizen.messages())
    held = lan.send(handoff_id, "Anh/chị đọc cho em mã OTP nhé")
    assert held.status_code == 409 and held.json()["needs_confirm"] and "OTP" in held.json()["warning"]
    assert len(citizen.messages()) == before  # nothing was sent
    assert lan.send(handoff_id, "Anh/chị tự nhập mã OTP vào ô, đừng gửi cho em nhé", confirm=True).status_code == 200


def test_citizen_can_stop_waiting(replica):
    citizen = WebCitizen(replica.url)
    waiting = citizen.say(ASK_HUMAN)
    back = citizen.say(button(waiting, "Thôi, hỏi trợ lý ảo"))
    assert "trợ lý ảo tiếp tục" in texts(back).lower()
    assert citizen.owner() == Owner.bot and citizen.handoff().status == "cancelled"
    assert "giấy tờ" in texts(citizen.say("đăng ký kết hôn cần giấy tờ gì")).lower()


@pytest.mark.parametrize(
    "messages, reason",
    [
        (["sdfkj qwe zxc", "lorem ipsum dolor"], "repeated_fallback"),
        (["trả lời chẳng đúng gì cả, chán quá"], "complaint"),
    ],
)
def test_other_triggers_start_a_handoff(replica, messages, reason):
    citizen = WebCitizen(replica.url)
    for text in messages[:-1]:
        citizen.say(text)
        assert citizen.owner() == Owner.bot
    last = citizen.say(messages[-1])
    assert citizen.owner() == Owner.queued and citizen.handoff().reason == reason
    assert "tình nguyện viên" in texts(last)


def test_console_needs_a_session_csrf_and_the_right_role(replica):
    anonymous = httpx.Client(base_url=replica.url)
    assert anonymous.get("/console/api/queue").status_code == 401
    assert anonymous.post("/console/api/login", json={"username": "nobody", "password": "x" * 12}).status_code == 401
    lan = Console(replica.url, "Lan")
    assert lan.http.post("/console/api/status", json={"online": False}).status_code == 403  # no CSRF header
    assert lan.http.get("/console/api/report.csv").status_code == 403  # volunteers do not see reports
    with session_scope() as session:
        stored = session.get(Volunteer, lan.id).password_hash
    assert stored.startswith("$argon2") and PASSWORD not in stored
    assert lan.post("/console/api/logout").status_code == 200
    assert lan.http.get("/console/api/queue").status_code == 401


def test_activity_report_counts_conversations_time_and_ratings(replica):
    citizen = WebCitizen(replica.url)
    lan = Console(replica.url, "Lan")
    staff = Console(replica.url, "Hà", role="staff", online=False)
    handoff_id = citizen.ask_for_a_person()
    lan.post(f"/console/api/handoffs/{handoff_id}/claim")
    lan.post(f"/console/api/handoffs/{handoff_id}/hand-back", {"step": None})
    rating = citizen.inbox.wait_for(lambda m: "chấm điểm" in m["text"])
    citizen.say(button([rating], "4"))
    csv_text = staff.http.get("/console/api/report.csv").text.lstrip("\ufeff")
    rows = {line.split(",")[1]: line.split(",") for line in csv_text.splitlines()[1:]}
    assert rows[lan.username][2:] == ["1", "0", "1", "4.0"]
    assert lan.username in staff.http.get("/console/report").text
