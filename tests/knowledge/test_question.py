"""Reading a message: the asking part, the aspect, yes/no, English."""

import pytest

from bot.knowledge.question import is_english, read


def test_greetings_and_thanks_are_set_aside():
    question = read("Chào em. Cho tôi hỏi làm căn cước mất bao nhiêu tiền ạ? Xin cảm ơn!")
    assert question.focus == "Cho tôi hỏi làm căn cước mất bao nhiêu tiền ạ?"
    assert read("Xin cảm ơn em nhiều").asked == ""


def test_the_last_asking_sentence_is_the_focus_and_the_part_after_thi_the_clause():
    question = read("Nhà tôi ở Thủ Đức. Bố mẹ chưa đăng ký kết hôn thì làm giấy khai sinh thế nào?")
    assert question.focus.startswith("Bố mẹ chưa")
    assert question.clause == "làm giấy khai sinh thế nào"
    assert question.levels == [question.clause, question.focus] and question.story == question.asked


@pytest.mark.parametrize(
    "text, aspect",
    [
        ("làm khai sinh cho con thì phải đến đâu", "where"),
        ("đăng ký kết hôn cần mang theo những gì", "documents"),
        ("lệ phí làm hộ chiếu", "fee"),
        ("đổi bằng lái mất mấy ngày", "time"),
        ("lý lịch tư pháp nộp online được không", "online"),
        ("ai được đăng ký thường trú", "eligibility"),
        ("thủ tục tách thửa làm như thế nào", "process"),
        ("sổ đỏ", None),
    ],
)
def test_the_aspect_comes_from_the_question_words(text, aspect):
    assert read(text).aspect() == aspect


def test_yes_no_questions():
    assert read("khai sinh có làm online được không").yes_no
    assert not read("khai sinh cần giấy tờ gì").yes_no


def test_english_is_recognised_and_read_with_vietnamese_words():
    assert is_english("How much does a passport cost?")
    assert not is_english("làm hộ chiếu bao nhiêu tiền") and not is_english("ok")
    question = read("How much does a passport cost?")
    assert question.english and "hộ chiếu" in question.asked and "bao nhiêu tiền" in question.asked
