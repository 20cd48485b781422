import pytest

from bot.text.masking import asks_for_secret, luhn_ok, mask


@pytest.mark.parametrize("text, kind, secret", [
    ("số cccd của tôi là 079123456789", "id_number", "079123456789"),
    ("cccd 079 123 456 789", "id_number", "079 123 456 789"),
    ("cmnd cũ 123456789", "id_number", "123456789"),
    ("thẻ 4111 1111 1111 1111 bị trừ tiền", "card", "4111 1111 1111 1111"),
    ("mã OTP là 482913", "otp", "482913"),
    ("ma xac thuc 5821", "otp", "5821"),
    ("482913", "otp", "482913"),
    ("mật khẩu là Abc@12345", "password", "Abc@12345"),
    ("pass: hunter2", "password", "hunter2"),
])
def test_secrets_are_masked(text, kind, secret):
    result = mask(text)
    assert kind in result.kinds
    assert secret not in result.text


@pytest.mark.parametrize("text", [
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
])
def test_ordinary_text_is_kept(text):
    result = mask(text)
    assert result.text == text and not result.kinds


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize("draft", [
    "Anh/chị đọc cho em mã OTP nhé", "cho em xin mat khau", "Anh chụp CCCD gửi em", "số căn cước của chị là gì",
    "Nhập MÃ XÁC THỰC vào đây",
])
def test_volunteer_drafts_mentioning_secrets_are_flagged(draft):
    assert asks_for_secret(draft)


@pytest.mark.parametrize("draft", ["Anh/chị bấm nút Tiếp tục", "Chị chụp màn hình giúp em", "Lệ phí là 8.000 đồng"])
def test_ordinary_drafts_are_not_flagged(draft):
    assert not asks_for_secret(draft)
