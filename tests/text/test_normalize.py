import pytest

from bot.text import fold, normalize, place_tone


@pytest.mark.parametrize("given, expected", [
    ("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("loà", "lòa"),
    ("hoàn", "hoàn"), ("thuyết", "thuyết"), ("quý", "quý"), ("giữa", "giữa"), ("người", "người"),
    ("ngoài", "ngoài"), ("mùa", "mùa"), ("tiếng", "tiếng"), ("khuya", "khuya"),
])
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


@pytest.mark.parametrize("given, expected", [
    ("gks", "giấy khai sinh"), ("cccd", "căn cước công dân"), ("cmnd", "chứng minh nhân dân"),
    ("lltp", "lý lịch tư pháp"), ("đkkd", "đăng ký kinh doanh"), ("dkkd", "đăng ký kinh doanh"),
    ("hkd", "hộ kinh doanh"), ("gplx", "giấy phép lái xe"), ("gpxd", "giấy phép xây dựng"),
    ("bhyt", "bảo hiểm y tế"), ("dvc", "dịch vụ công"), ("ko", "không"), ("k", "không"), ("hok", "không"),
    ("khum", "không"), ("dc", "được"), ("đc", "được"), ("j", "gì"), ("z", "vậy"), ("s", "sao"),
    ("mik", "mình"), ("mk", "mình"), ("e", "em"), ("a/c", "anh chị"), ("ạ", ""),
])
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
