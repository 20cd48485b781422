"""Property-based tests of the masker: ID numbers written any way are hidden, numbers citizens
need (fees, dates, procedure codes) are kept, and masking twice changes nothing."""

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.text.masking import PLACEHOLDER, mask

# Vietnamese context without digits, with and without diacritics, questions and chat register.
WORDS = [
    "tôi",
    "em",
    "anh",
    "chị",
    "của",
    "là",
    "số",
    "làm",
    "lại",
    "mất",
    "rồi",
    "thì",
    "sao",
    "ạ",
    "nhé",
    "giúp",
    "đăng",
    "ký",
    "khai",
    "sinh",
    "thường",
    "trú",
    "hồ",
    "sơ",
    "nộp",
    "ở",
    "đâu",
    "bao",
    "lâu",
    "không",
    "được",
    "toi",
    "em",
    "cua",
    "la",
    "so",
    "lam",
    "lai",
    "mat",
    "roi",
    "thi",
    "dang",
    "ky",
    "nop",
    "o",
    "dau",
    "ko",
    "dc",
    "j",
    "z",
    "k",
    "e",
    "a/c",
    "Kính",
    "gửi",
    "Trân",
    "trọng",
    "cảm",
    "ơn",
    "xin",
    "hỏi",
    "?",
    ",",
    ":",
    "-",
    "(",
    ")",
    "!",
    "...",
    "UBND",
    "phường",
    "xã",
    "căn",
    "cước",
    "công",
    "dân",
    "giấy",
    "tờ",
]
ID_LABELS = [
    "cccd",
    "CCCD:",
    "số cccd",
    "so cccd",
    "cmnd",
    "CMND số",
    "căn cước",
    "số định danh",
    "so dinh danh",
    "chứng minh nhân dân",
    "ID:",
]
SEPARATORS = ["", " ", ".", "-"]

context = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)


@st.composite
def written_with_separators(draw, digits: str) -> str:
    """The digits with any separator (none, space, dot or dash) after each digit but the last."""
    gaps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(digits) - 1, max_size=len(digits) - 1))
    return "".join(digit + gap for digit, gap in zip(digits, gaps + [""]))


cccd = st.from_regex(r"0[0-9]{11}", fullmatch=True)  # a CCCD starts with its province code 001–096
cmnd = st.from_regex(r"0[0-9]{8}", fullmatch=True)
any_id = st.from_regex(r"[0-9]{12}|[0-9]{9}", fullmatch=True)


def digit_free(text: str) -> bool:
    return not re.search(r"[0-9]", text)


@settings(max_examples=400)
@given(before=context, after=context, number=st.one_of(cccd, cmnd).flatmap(written_with_separators))
@example(before="cccd", after="nhé", number="079-185-012-345")
@example(before="số", after="", number="079.185.012.345")
def test_an_id_number_with_any_separators_is_hidden_in_any_context(before, after, number):
    result = mask(f"{before} {number} {after}")
    assert "id_number" in result.kinds
    assert digit_free(result.text), result.text  # not one of its digits survives


@settings(max_examples=300)
@given(before=context, label=st.sampled_from(ID_LABELS), after=context, number=any_id.flatmap(written_with_separators))
def test_any_nine_or_twelve_digits_after_an_id_label_are_hidden(before, label, after, number):
    result = mask(f"{before} {label} {number} {after}")
    assert "id_number" in result.kinds
    assert digit_free(result.text), result.text


def thousands(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


money = st.builds(
    lambda amount, unit: thousands(amount) + unit,
    st.integers(min_value=1_000, max_value=999_999_999_999),
    st.sampled_from([" đồng", "đ", " VNĐ", " vnd", " đ", " dong", ""]),
)
dates = st.builds(
    lambda day, month, year, separator: separator.join([f"{day:02d}", f"{month:02d}", str(year)]),
    st.integers(1, 31),
    st.integers(1, 12),
    st.integers(1950, 2040),
    st.sampled_from(["/", "-", "."]),
)
procedure_codes = st.from_regex(r"[12]\.[0-9]{6}", fullmatch=True)
dossier_numbers = st.from_regex(
    r"H[0-9]{2}\.[0-9]{2}-[0-9]{6}-[0-9]{4}|000\.00\.[0-9]{2}\.H[0-9]{2}-[0-9]{6}-[0-9]{4}", fullmatch=True
)


@settings(max_examples=400)
@given(before=context, after=context, kept=st.one_of(money, dates, procedure_codes, dossier_numbers))
@example(before="lệ phí", after="", kept="15.000 đồng")
@example(before="nộp ngày", after="", kept="12-03-2024")
def test_fees_dates_procedure_codes_and_dossier_numbers_are_kept(before, after, kept):
    text = f"{before} {kept} {after}"
    assert mask(text) == mask(text) and mask(text).text == text and not mask(text).kinds


SECRETISH = (
    WORDS
    + ID_LABELS
    + [
        "mật khẩu",
        "mat khau",
        "mk",
        "pass:",
        "password is",
        "OTP",
        "mã OTP là",
        "stk",
        "số tài khoản",
        "thẻ",
        "079185012345",
        "079-185-012-345",
        "079.185.012.345",
        "123456789",
        "482913",
        "4111 1111 1111 1111",
        "15.000 đồng",
        "1.001193",
        "H12.34-250101-0001",
        "12/03/2024",
        "1900 1234",
        "0912345678",
        "Abc@123",
        "cccd079185012345",
        "stk0123456789",
        "[",
        "]",
        "đã ẩn",
        *PLACEHOLDER.values(),
    ]
)


@settings(max_examples=500)
@given(st.one_of(st.lists(st.sampled_from(SECRETISH), max_size=12).map(" ".join), st.text(max_size=200)))
def test_masking_twice_changes_nothing_and_keeps_the_kinds(text):
    once = mask(text)
    assert mask(once.text) == once
