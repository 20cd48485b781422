"""Elders are addressed as they call themselves, or as cô/chú from 50 years of age."""

import datetime as dt

import pytest

from bot.text.address import address, address_form

TODAY = dt.date(2026, 12, 4)


@pytest.mark.parametrize(
    "text, form",
    [
        ("cho chú hỏi làm căn cước cần gì", "chú"),
        ("Cô muốn hỏi thủ tục sang tên sổ đỏ", "cô"),
        ("bác năm nay 70 rồi, làm lại thẻ căn cước ở đâu", "bác"),
        ("giup co voi, co can lam giay xac nhan cu tru", "cô"),
        ("Tôi năm nay 62 tuổi, muốn đổi thẻ căn cước", "cô/chú"),
        ("tôi sinh năm 1960, cần xin lý lịch tư pháp", "cô/chú"),
        ("tôi 50 tuổi rồi", "cô/chú"),
    ],
)
def test_elders_are_recognised(text, form):
    assert address_form(text, TODAY) == form


@pytest.mark.parametrize(
    "text",
    [
        "cô giáo của con tôi bảo phải có giấy khai sinh",  # someone else
        "chú tôi mất rồi, khai tử ở đâu",
        "đi bác sĩ có cần thẻ bảo hiểm y tế không",
        "con tôi 5 tuổi chưa có giấy khai sinh",
        "tôi 35 tuổi, sinh năm 1991",
        "lệ phí 50 nghìn hả",
    ],
)
def test_others_keep_anh_chi(text):
    assert address_form(text, TODAY) is None


def test_address_replaces_every_anh_chi():
    assert address("Dạ, anh/chị cần gì? Anh/chị nhắn em nhé.", "cô/chú") == "Dạ, cô/chú cần gì? Cô/chú nhắn em nhé."
    assert address("Dạ, anh/chị cần gì?", None) == "Dạ, anh/chị cần gì?"
