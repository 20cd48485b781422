"""The guide's logic over real knowledge entries."""

import pytest

from bot import guide
from bot.knowledge.files import read_all
from tests.conftest import ROOT

ENTRIES = {e.slug: e for e in read_all(ROOT / "knowledge")[0]}
ONLINE = sorted(slug for slug, e in ENTRIES.items() if e.online.level in ("full", "partial") and e.steps)


def titles(reply):
    return [b["title"] for b in reply.buttons]


@pytest.mark.parametrize("slug", ONLINE)
def test_every_online_procedure_walks_to_the_end(slug):
    entry = ENTRIES[slug]
    outcome = guide.start(entry)
    assert "chuẩn bị" in outcome.replies[1].text and titles(outcome.replies[-1]) == ["Bắt đầu", "Để sau"]
    state = outcome.state
    for number in range(1, len(entry.steps) + 1):
        outcome = guide.handle(entry, state, "guide_next")
        state = outcome.state
        assert outcome.replies[0].text.startswith(f"Bước {number}/{len(entry.steps)}: ")
        assert titles(outcome.replies[0]) == [
            "Xong",
            "Quay lại",
            "Nhắc lại",
            "Tôi bị kẹt",
            "Gặp tình nguyện viên",
            "Dừng",
        ]
    outcome = guide.handle(entry, state, "guide_next")
    assert outcome.replies[-1].text == "Anh/chị đã nộp được chưa?" and outcome.state.phase == "outcome"
    done = guide.handle(entry, outcome.state, "affirm")
    assert done.event.name == "outcome" and done.event.detail == "submitted" and not done.state.active


def test_partial_procedure_says_what_is_left_for_the_office():
    outcome = guide.start(ENTRIES["ket-hon"])
    assert "vẫn phải đến cơ quan" in outcome.replies[-1].text


def test_back_repeat_stop_and_resume():
    entry = ENTRIES["khai-sinh"]
    state = guide.start(entry).state
    for _ in range(3):
        state = guide.handle(entry, state, "guide_next").state
    assert state.step == 3
    back = guide.handle(entry, state, "guide_back")
    assert back.state.step == 2 and back.replies[0].text.startswith("Bước 2/")
    again = guide.handle(entry, back.state, "guide_repeat")
    assert again.state.step == 2
    stopped = guide.handle(entry, again.state, "guide_stop")
    assert stopped.state.phase == "paused" and stopped.event.name == "stopped"
    assert "bước 2/" in guide.resume_offer(entry, stopped.state).text
    resumed = guide.handle(entry, stopped.state, "guide_next")
    assert resumed.state.step == 2 and resumed.state.phase == "step"


def test_stuck_shows_known_problems_then_calls_a_volunteer():
    entry = ENTRIES["khai-sinh"]
    state = guide.handle(entry, guide.start(entry).state, "guide_next").state  # step 1: login
    first = guide.handle(entry, state, "guide_stuck")
    assert "Không nhận được mã OTP" in titles(first.replies[0]) and first.event.name == "stuck"
    fix = guide.handle(entry, first.state, "guide_stuck", "no_otp")
    assert "OTP" in fix.replies[0].text and "(Lời khuyên chung)" in fix.replies[0].text
    second = guide.handle(entry, fix.state, "guide_stuck")
    assert (
        second.event.name == "volunteer_called"
        and second.needs_volunteer
        and "tình nguyện viên" in second.replies[0].text
    )
    assert second.state.phase == "paused" and second.state.step == 1  # the volunteer hands back from here
    assert not fix.needs_volunteer and not first.needs_volunteer


def test_stuck_count_is_per_step():
    entry = ENTRIES["khai-sinh"]
    state = guide.handle(entry, guide.start(entry).state, "guide_next").state
    state = guide.handle(entry, state, "guide_stuck").state
    state = guide.handle(entry, state, "guide_next").state  # moved on to step 2
    assert guide.handle(entry, state, "guide_stuck").event.name == "stuck"


@pytest.mark.parametrize("slug", ["chung-thuc", "xac-nhan-cu-tru", "thay-doi-cai-chinh-ho-tich"])
def test_in_person_procedures_get_no_fake_online_guide(slug):
    outcome = guide.start(ENTRIES[slug])
    assert "phải làm trực tiếp" in outcome.replies[0].text
    assert not any(r.text.startswith("Bước") for r in outcome.replies)
    assert outcome.event.name == "in_person"


def test_the_guide_never_asks_for_secrets():
    for entry in ENTRIES.values():
        texts = [r.text for r in guide.start(entry).replies] + [s.instruction for s in entry.steps]
        for text in texts:
            lowered = text.lower()
            assert "gửi mật khẩu" not in lowered and "gửi mã otp" not in lowered and "cho em mã" not in lowered
