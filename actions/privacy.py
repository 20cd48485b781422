"""The one-line privacy notice; the retention period comes from the deployment's settings."""

from __future__ import annotations

from bot.knowledge.answers import Reply
from bot.settings import get_settings


def privacy_notice() -> Reply:
    days = get_settings().retention_days
    return Reply(
        f"Em lưu nội dung trò chuyện (đã che số giấy tờ, mật khẩu, mã OTP) trong {days} ngày để trả lời "
        'và cải thiện dịch vụ. Anh/chị muốn xóa thì nhắn "xóa dữ liệu của tôi".'
    )
