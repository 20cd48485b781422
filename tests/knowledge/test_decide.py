"""One decision per message, on the real index and the shipped outside knowledge: the procedure
from all the evidence, the aspect, the fact asked, and an honest decline."""

import pytest

from bot.knowledge.decide import Evidence, decide, resolve
from bot.knowledge.files import read_all
from bot.knowledge.question import read
from bot.knowledge.search import KnowledgeIndex, default_calibration, default_encoder
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def index():
    procedures, _ = read_all(ROOT / "knowledge")
    return KnowledgeIndex(
        procedures, default_encoder(), calibration=default_calibration(), outside_dir=ROOT / "knowledge" / "outside"
    )


def about(index, text, **evidence):
    return decide(index, Evidence(text, **evidence)).about.as_dict()


@pytest.mark.parametrize(
    "text, procedure, aspect",
    [
        # "tới đâu / đến đâu" asks where, about the procedure named; not dossier tracking
        ("làm khai sinh cho con thì phải đến đâu", "khai-sinh", "where"),
        # thanks after a question never swallow it
        ("Cho em hỏi làm căn cước mất bao nhiêu tiền ạ? Xin cảm ơn", "can-cuoc", "fee"),
        # the question weighs more than the story before it
        ("bố mẹ chưa đăng ký kết hôn thì làm giấy khai sinh thế nào", "khai-sinh", "process"),
        ("ck e mất tuần trước, khai tử trễ có bị phạt ko", "khai-tu", None),
        ("đăng ký kết hôn ở xã của vợ hay của chồng", "ket-hon", "where"),
        ("How much does a passport cost?", "ho-chieu", "fee"),
        ("lam lai can cuoc bi mat o dau", "can-cuoc", "where"),
    ],
)
def test_the_procedure_and_aspect_come_from_the_question(index, text, procedure, aspect):
    found = about(index, text)
    assert found["procedure"] == procedure and found["outcome"] == "answer"
    if aspect:
        assert found["aspect"] == aspect


@pytest.mark.parametrize(
    "text",
    [
        "đăng ký sáng chế mất bao nhiêu tiền",
        "học lái xe ô tô ở đâu",
        "kiện hàng xóm lấn đất ra tòa thế nào",
        "đăng ký kết hôn với người nước ngoài cần giấy tờ gì",
        "thủ tục xin học bổng du học",
    ],
)
def test_outside_the_catalogue_is_declined(index, text):
    decision = decide(index, Evidence(text))
    assert decision.about.as_dict() == {"procedure": None, "aspect": None, "outcome": "decline"}
    assert "chưa có hướng dẫn" in decision.replies[0].text
    assert any(b["payload"] == "/request_human" for r in decision.replies for b in r.buttons)


@pytest.mark.parametrize(
    "text, fact",
    [
        ("trong bao nhiêu ngày phải đi khai sinh", "60 ngày"),
        ("thông báo lưu trú trước mấy giờ", "23 giờ"),
    ],
)
def test_the_fact_asked_leads_the_answer(index, text, fact):
    first = decide(index, Evidence(text)).replies[0].text
    assert first.startswith("Dạ") and fact in first.split("\n")[0]


def test_a_follow_up_naming_only_an_aspect_stays_on_the_context(index):
    assert about(index, "còn lệ phí thì sao", context="khai-sinh")["procedure"] == "khai-sinh"
    assert about(index, "nộp ở đâu", context="ket-hon") == {
        "procedure": "ket-hon",
        "aspect": "where",
        "outcome": "answer",
    }


def test_a_procedure_named_outright_switches_the_context(index):
    assert about(index, "còn đăng ký kết hôn thì sao", context="khai-sinh")["procedure"] == "ket-hon"


def test_a_procedure_mentioned_in_a_story_does_not_switch_the_context(index):
    text = "Dạ vợ chồng em đăng ký kết hôn năm ngoái rồi. Giờ em nộp hồ sơ ở đâu ạ?"
    assert about(index, text, context="khai-sinh")["procedure"] == "khai-sinh"


def test_a_button_decides(index):
    assert about(index, '/ask_fee{"procedure": "ho-chieu"}', intent="ask_fee", button="ho-chieu") == {
        "procedure": "ho-chieu",
        "aspect": "fee",
        "outcome": "answer",
    }


def test_nothing_named_and_no_context_asks_which(index):
    found = resolve(index, read("cần giấy tờ gì"), Evidence("cần giấy tờ gì"))
    assert found.slug is None and found.candidates and found.decline is None


def test_dossier_tracking_only_when_nothing_is_named(index):
    assert (
        about(index, "hồ sơ của tôi đến đâu rồi", intent="ask_status", confidence=0.9)["procedure"] == "tra-cuu-ho-so"
    )
    assert about(index, "làm khai sinh thì đến đâu", intent="ask_status", confidence=0.9)["procedure"] == "khai-sinh"


def test_small_talk_alone_is_chitchat_but_a_question_with_thanks_is_answered(index):
    assert about(index, "cảm ơn em nhiều", intent="thank", confidence=0.99)["outcome"] == "chitchat"
    assert about(index, "cảm ơn em, còn lệ phí làm hộ chiếu bao nhiêu", intent="thank", confidence=0.9) == {
        "procedure": "ho-chieu",
        "aspect": "fee",
        "outcome": "answer",
    }


def test_a_death_registration_answer_starts_with_condolences(index):
    replies = decide(index, Evidence("bố tôi mới mất, làm giấy khai tử cần gì")).replies
    assert "chia buồn" in replies[0].text and "chia buồn" not in replies[1].text


def test_an_english_question_gets_one_english_line(index):
    replies = decide(index, Evidence("What documents do I need for a birth certificate?")).replies
    assert replies[0].text.isascii() and not any(r.text.isascii() for r in replies[1:])


def test_online_yes_no_is_answered_yes_or_no_first(index):
    replies = decide(index, Evidence("đăng ký khai sinh nộp online được không")).replies
    assert replies[0].text.startswith("Dạ được")


@pytest.mark.parametrize(
    "intent", ["ask_documents", "ask_fee", "ask_processing_time", "ask_where", "ask_online", "ask_procedure"]
)
def test_confirm_is_said_once_at_most_and_no_label_is_left_empty(index, intent):
    for entry in index.entries:
        text = decide(index, Evidence(f"/{intent}", intent=intent, button=entry.slug)).replies[0].text
        assert text.count("xác nhận lại") <= 1, entry.slug
        assert "chưa có thông tin" not in text and ": ." not in text and "None" not in text, entry.slug
