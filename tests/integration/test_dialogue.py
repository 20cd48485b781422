"""Multi-turn dialogue through POST /api/chat with the real services (custom actions included)."""

from tests.integration.conftest import button, texts


def titles(replies):
    return [b["title"] for r in replies for b in r["buttons"]]


def test_procedure_missing_asks_which_one_with_buttons(chat):
    replies = chat("cần chuẩn bị giấy tờ gì vậy em")
    assert "thủ tục nào" in texts(replies) and len(titles(replies)) >= 3
    chosen = chat(button(replies, titles(replies)[0]))
    assert "hồ sơ" in texts(chosen).lower()


def test_known_procedure_unclear_aspect_gets_overview_and_aspect_buttons(chat):
    replies = chat("căn cước")
    assert "thẻ căn cước" in texts(replies).lower() and "Cấp, cấp đổi, cấp lại" not in texts(replies)
    assert {"Giấy tờ cần có", "Lệ phí", "Thời gian", "Nơi nộp", "Nộp trực tuyến"} <= set(titles(replies))


def test_fee_answer_has_legal_basis_and_review_date(chat):
    answer = texts(chat("lệ phí làm lý lịch tư pháp bao nhiêu"))
    assert "Căn cứ:" in answer and "cập nhật" in answer


def test_uncertain_fact_asks_to_confirm_with_the_office(chat):
    answer = texts(chat("lệ phí cấp giấy chứng nhận quyền sử dụng đất lần đầu"))
    assert "xác nhận lại với cơ quan tiếp nhận" in answer


def test_where_names_the_entrys_own_office_not_a_generic_list(chat):
    answer = texts(chat("đăng ký kết hôn nộp ở đâu"))
    assert "UBND cấp xã" in answer and "Trung tâm Phục vụ hành chính công TP.HCM" not in answer
    assert "chưa có thông tin" not in answer


def test_online_answer_says_partial_and_why(chat):
    answer = texts(chat("đăng ký kết hôn làm online được không"))
    assert answer.startswith("Dạ được") and "vẫn có bước phải làm trực tiếp" in answer
    assert "Phải đến trực tiếp khi" in answer


def test_new_procedure_switches_context(chat):
    chat("đăng ký khai sinh cần giấy tờ gì")
    assert "hồ sơ đăng ký kết hôn" in texts(chat("thế còn đăng ký kết hôn thì cần giấy tờ gì"))
    assert "lệ phí đăng ký kết hôn" in texts(chat("còn lệ phí thì sao"))


def test_unsure_says_so_and_offers_a_volunteer(chat):
    replies = chat("xyzzy plugh frobnicate")
    assert ("chưa hiểu" in texts(replies) or "chưa rõ" in texts(replies)) and "Gặp tình nguyện viên" in titles(replies)


def test_out_of_catalogue_question_is_declined_not_answered(chat):
    replies = chat("thủ tục xin học bổng du học Nhật Bản")
    assert "chưa có hướng dẫn" in texts(replies) and "dichvucong.gov.vn" in texts(replies)
    assert "Gặp tình nguyện viên" in titles(replies)


def test_asking_for_a_person_starts_a_handoff(chat):  # the desk itself: tests/integration/test_handoff.py
    replies = chat("cho tôi gặp người thật")
    assert "tình nguyện viên" in texts(replies) and titles(replies)[-1] == "Thôi, hỏi trợ lý ảo"
