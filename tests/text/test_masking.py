from pathlib import Path

import pytest

from bot.text.masking import PLACEHOLDER, asks_for_secret, hidden_phrase, luhn_ok, mask, mask_contacts

CASES_FILE = Path(__file__).with_name("masking_cases.tsv")


def read_cases() -> list[tuple[str, frozenset[str], list[str]]]:
    """Rows of masking_cases.tsv: text, kinds ("-" for none), checks ("=…", "-…", "+…")."""
    cases = []
    for line in CASES_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, kinds, *checks = line.split("\t")
        cases.append((text, frozenset() if kinds == "-" else frozenset(kinds.split(",")), checks))
    return cases


CASES = read_cases()


def test_the_table_covers_enough_phrasings():
    assert len(CASES) >= 200
    assert sum(1 for _, kinds, _ in CASES if not kinds) >= 80  # what must stay is half the problem


@pytest.mark.parametrize("text, kinds, checks", CASES, ids=[text[:50] for text, _, _ in CASES])
def test_masking_table(text, kinds, checks):
    result = mask(text)
    assert result.kinds == kinds, result.text
    assert kinds or checks or result.text == text
    assert checks or not kinds, "a row that hides something says what disappears"
    for check in checks:
        sign, value = check[0], check[1:]
        if sign == "=":
            assert result.text == value
        elif sign == "-":
            assert value not in result.text
        else:
            assert sign == "+", f"unknown check {check!r}"
            assert value in result.text
    assert mask(result.text) == result  # masking twice changes nothing and keeps the kinds


@pytest.mark.parametrize(
    "text, kind, secret",
    [
        ("số cccd của tôi là 079123456789", "id_number", "079123456789"),
        ("cccd 079 123 456 789", "id_number", "079 123 456 789"),
        ("cmnd cũ 123456789", "id_number", "123456789"),
        ("thẻ 4111 1111 1111 1111 bị trừ tiền", "card", "4111 1111 1111 1111"),
        ("mã OTP là 482913", "otp", "482913"),
        ("ma xac thuc 5821", "otp", "5821"),
        ("482913", "otp", "482913"),
        ("mật khẩu là Abc@12345", "password", "Abc@12345"),
        ("pass: hunter2", "password", "hunter2"),
    ],
)
def test_secrets_are_masked(text, kind, secret):
    result = mask(text)
    assert kind in result.kinds
    assert secret not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "lệ phí 8.000 đồng",
        "nộp ngày 12/05/2024",
        "thủ tục mã 1.001193",
        "mã hồ sơ H12.34-250101-0001",
        "số điện thoại 0912345678",
        "mất 15 ngày làm việc",
        "quên mật khẩu thì làm sao",
        "mật khẩu gì vậy",
        "năm 2025",
        "4111 1111 1111 1112",  # 16 digits failing the Luhn check is not a card
    ],
)
def test_ordinary_text_is_kept(text):
    result = mask(text)
    assert result.text == text and not result.kinds


def test_text_masked_before_keeps_its_kinds():
    stored = mask("mk: Pass1234, cccd 079-185-012-345").text
    assert mask(stored).kinds == {"password", "id_number"}


def test_decomposed_input_is_masked_like_composed():
    decomposed = "ma\u0302\u0323t kha\u0302\u0309u là Abc@12345"  # "mật khẩu" typed with combining marks
    assert mask(decomposed).text == "mật khẩu là " + PLACEHOLDER["password"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("gọi em 0912345678 nhé", "gọi em [số điện thoại đã ẩn] nhé"),
        ("sđt 0912 345 678", "sđt [số điện thoại đã ẩn]"),
        ("số của chị +84 912.345.678", "số của chị [số điện thoại đã ẩn]"),
        ("zalo 84-987-654-321", "zalo [số điện thoại đã ẩn]"),
        ("email nguyen.van-a+dvc@gmail.com.vn ạ", "email [email đã ẩn] ạ"),
        ("cccd 079185012345, sđt 0987654321", "cccd [số định danh đã ẩn], sđt [số điện thoại đã ẩn]"),
        ("gọi tổng đài 1900 1234 hoặc 0274.3822.123", "gọi tổng đài 1900 1234 hoặc 0274.3822.123"),
        ("lệ phí 1.500.000đ, mã hồ sơ H12.34-250101-0001", "lệ phí 1.500.000đ, mã hồ sơ H12.34-250101-0001"),
    ],
)
def test_contacts_are_masked_for_previews_and_logs(text, expected):
    assert mask_contacts(text) == expected
    assert mask_contacts(expected) == expected


def test_contacts_stay_in_what_the_volunteer_holding_the_conversation_sees():
    assert mask("gọi em 0912345678 hoặc a@b.vn").text == "gọi em 0912345678 hoặc a@b.vn"


@pytest.mark.parametrize(
    "kinds, phrase",
    [
        (set(), ""),
        ({"password"}, "mật khẩu"),
        ({"otp", "password"}, "mật khẩu và mã OTP"),
        ({"bank_account", "id_number", "card"}, "số định danh, số thẻ và số tài khoản ngân hàng"),
        (set(PLACEHOLDER), "mật khẩu, mã OTP, số định danh, số thẻ và số tài khoản ngân hàng"),
    ],
)
def test_hidden_phrase_names_what_was_hidden(kinds, phrase):
    assert hidden_phrase(frozenset(kinds)) == phrase


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    "draft",
    [
        "Anh/chị đọc cho em mã OTP nhé",
        "cho em xin mat khau",
        "Anh chụp CCCD gửi em",
        "số căn cước của chị là gì",
        "Nhập MÃ XÁC THỰC vào đây",
    ],
)
def test_volunteer_drafts_mentioning_secrets_are_flagged(draft):
    assert asks_for_secret(draft)


@pytest.mark.parametrize("draft", ["Anh/chị bấm nút Tiếp tục", "Chị chụp màn hình giúp em", "Lệ phí là 8.000 đồng"])
def test_ordinary_drafts_are_not_flagged(draft):
    assert not asks_for_secret(draft)
