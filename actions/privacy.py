"""The one-line privacy notice; the retention period comes from the deployment's settings."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import get_settings


class ActionPrivacyNotice(Action):
    def name(self) -> str:
        return "action_privacy_notice"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        days = get_settings().retention_days
        dispatcher.utter_message(text=(
            f"Em lưu nội dung trò chuyện (đã che số giấy tờ, mật khẩu, mã OTP) trong {days} ngày để trả lời "
            "và cải thiện dịch vụ. Anh/chị muốn xóa thì nhắn \"xóa dữ liệu của tôi\"."
        ))
        return []
