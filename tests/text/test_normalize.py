import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import ABBREVIATIONS, fold, normalize, place_tone


@pytest.mark.parametrize(
    "given, expected",
    [
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("loà", "lòa"),
        ("hoàn", "hoàn"),
        ("thuyết", "thuyết"),
        ("quý", "quý"),
        ("giữa", "giữa"),
        ("người", "người"),
        ("ngoài", "ngoài"),
        ("mùa", "mùa"),
        ("tiếng", "tiếng"),
        ("khuya", "khuya"),
    ],
)
def test_one_tone_placement(given, expected):
    assert place_tone(given) == expected


def test_nfc_and_decomposed_input_are_equal():
    decomposed = "ho\u0300a"  # "hoà" typed with a combining grave accent
    assert normalize(decomposed) == normalize("hòa") == "hòa"


def test_case_whitespace_and_punctuation():
    assert normalize("  Thủ tục   ĐĂNG KÝ khai sinh?!  ") == "thủ tục đăng ký khai sinh"


@pytest.mark.parametrize("text", ["1.001193", "8.000", "12/05/2024", "2.000635", "100.000"])
def test_numbers_and_codes_are_kept(text):
    assert normalize(f"mã {text} nhé") == f"mã {text} nhé"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("gks", "giấy khai sinh"),
        ("cccd", "căn cước công dân"),
        ("cmnd", "chứng minh nhân dân"),
        ("lltp", "lý lịch tư pháp"),
        ("đkkd", "đăng ký kinh doanh"),
        ("dkkd", "đăng ký kinh doanh"),
        ("hkd", "hộ kinh doanh"),
        ("gplx", "giấy phép lái xe"),
        ("gpxd", "giấy phép xây dựng"),
        ("bhyt", "bảo hiểm y tế"),
        ("dvc", "dịch vụ công"),
        ("ko", "không"),
        ("k", "không"),
        ("hok", "không"),
        ("khum", "không"),
        ("dc", "được"),
        ("đc", "được"),
        ("j", "gì"),
        ("z", "vậy"),
        ("s", "sao"),
        ("mik", "mình"),
        ("mk", "mình"),
        ("e", "em"),
        ("a/c", "anh chị"),
        ("ạ", ""),
    ],
)
def test_abbreviations_expand(given, expected):
    assert normalize(given) == expected


def test_chat_register_sentence():
    assert normalize("e mún làm gks cho con thì lm s ạ") == "em muốn làm giấy khai sinh cho con thì làm sao"


def test_abbreviation_inside_a_word_is_not_expanded():
    assert normalize("khai sinh") == "khai sinh"  # "s" and "k" only count as whole words


def test_fold_removes_every_diacritic():
    assert fold("Đăng ký thường trú, hòa, thủy") == "Dang ky thuong tru, hoa, thuy"
    assert fold(normalize("lam lai can cuoc")) == "lam lai can cuoc"


def test_leading_slash_is_neutralised():
    assert normalize("/restart") == "restart"
    assert not normalize('/ask_fee{"procedure": "khai-sinh"}').startswith("/")


def test_idempotent():
    text = "E mún hỏi thủ tục đkkd, phí 8.000đ ạ?"
    assert normalize(normalize(text)) == normalize(text)


# --- properties (hypothesis) -------------------------------------------------------------------
# Vietnamese-looking input: letters with every diacritic, chat shorthand, digits, codes, slashes.
VIETNAMESE = st.text(
    alphabet=st.sampled_from(
        list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĐÊƯ0123456789 ./-:,?!@#_")
        + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
    ),  # the tone marks alone
    max_size=120,
)
CHAT = st.lists(
    st.sampled_from(
        [
            *ABBREVIATIONS,
            "/restart",
            "/ask_fee",
            "hoà",
            "thuỷ",
            "12/05/2024",
            "1.001193",
            "{",
            "}",
            '"',
            "/",
            "//",
            "a/c",
            "khai sinh",
        ]
    ),
    max_size=15,
).map(" ".join)
ANY_TEXT = st.one_of(st.text(max_size=200), VIETNAMESE, CHAT)
# How much longer the text can get: an expansion ("k" becomes "không"), or lower case and NFC
# turning one character into a few (at most 3).
GROWTH = max(3, *(len(long) / len(short) for short, long in ABBREVIATIONS.items() if short))


@settings(max_examples=500)
@given(ANY_TEXT)
def test_normalize_never_raises_and_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


def test_slash_joined_shorthand_is_expanded_in_one_pass():
    assert normalize(normalize("A/B")) == normalize("A/B")


@settings(max_examples=500)
@given(ANY_TEXT)
def test_no_leading_slash_survives_and_slashes_stay_inside_numbers(text):
    normalized = normalize(text)
    assert not normalized.startswith("/")
    assert all(part[:1].isdigit() for part in normalized.split() if "/" in part)


@settings(max_examples=500)
@given(ANY_TEXT)
def test_normalized_length_is_bounded(text):
    assert len(normalize(text)) <= GROWTH * len(text)


@settings(max_examples=300)
@given(ANY_TEXT)
def test_fold_never_raises_and_leaves_no_diacritic(text):
    folded = fold(normalize(text))
    assert fold(folded) == folded
    assert not any(ch in folded for ch in "ăâđêôơưàáảãạ")
