"""What the citizen is told about the volunteer desk: who is talking, and how long to wait."""

from __future__ import annotations

from bot.handoff.desk import Availability
from bot.messages import Button, Outbound

CANCEL_WAIT = "@cancel_wait"  # app command carried by a button key, never sent to Rasa
RATE = "@rate"  # "@rate:<handoff id>:<1-5>"
CANCEL_BUTTON = Button("Thôi, hỏi trợ lý ảo", CANCEL_WAIT)


def waiting(desk: Availability, office_lines: list[str]) -> list[Outbound]:
    """Right after the request: an honest picture of the wait, and the official contacts when
    nobody can answer soon."""
    if desk.anybody:
        text = "Dạ, em đã báo tình nguyện viên. Anh/chị chờ một chút, tình nguyện viên sẽ nhắn ngay tại đây."
        if desk.waiting_ahead:
            text += f" Trước anh/chị còn {desk.waiting_ahead} người đang chờ."
        if desk.typical_wait_min:
            text += f" Thời gian chờ thường khoảng {desk.typical_wait_min} phút."
        return [Outbound(text, (CANCEL_BUTTON,))]
    why = "chưa có tình nguyện viên trực tuyến" if desk.in_hours else "đang ngoài giờ trực của tình nguyện viên"
    return [
        Outbound(
            f"Dạ, hiện {why} (giờ trực: {desk.hours}). Anh/chị cứ để lại câu hỏi tại đây, tình nguyện viên "
            "sẽ trả lời anh/chị ngay trong cuộc trò chuyện này khi vào trực."
        ),
        Outbound("Nếu cần gấp, anh/chị liên hệ:\n" + "\n".join(office_lines), (CANCEL_BUTTON,)),
    ]


def message_kept() -> Outbound:
    return Outbound("Dạ, em đã ghi lại tin nhắn. Tình nguyện viên sẽ trả lời anh/chị tại đây.", (CANCEL_BUTTON,))


def claimed(name: str) -> Outbound:
    return Outbound(f"Dạ, tình nguyện viên {name} đang hỗ trợ anh/chị.", author="system")


def transferred(name: str) -> Outbound:
    return Outbound(f"Dạ, tình nguyện viên {name} sẽ tiếp tục hỗ trợ anh/chị.", author="system")


def back_in_queue(expired: bool) -> Outbound:
    text = (
        "Dạ, tình nguyện viên đang bận chưa trả lời kịp. Em đã nhờ tình nguyện viên khác, anh/chị chờ thêm chút nhé."
        if expired
        else "Dạ, em đang chuyển anh/chị sang tình nguyện viên khác, anh/chị chờ chút nhé."
    )
    return Outbound(text, (CANCEL_BUTTON,), author="system")


def bot_again(name: str | None, step: int | None) -> Outbound:
    who = f"Tình nguyện viên {name} đã hỗ trợ xong. " if name else ""
    then = (
        f"tiếp tục hướng dẫn anh/chị từ bước {step}."
        if step
        else "tiếp tục hỗ trợ anh/chị. Anh/chị cần hỏi gì cứ nhắn em nhé."
    )
    return Outbound(f"Dạ, {who}Trợ lý ảo {then}", author="system")


def closed(name: str | None) -> Outbound:
    who = f"Tình nguyện viên {name}" if name else "Tình nguyện viên"
    return Outbound(
        f"Dạ, {who} đã kết thúc cuộc trò chuyện. Cảm ơn anh/chị! Khi cần, anh/chị cứ nhắn để hỏi tiếp.", author="system"
    )


def rating_question(handoff_id: int, name: str | None) -> Outbound:
    who = f"tình nguyện viên {name}" if name else "tình nguyện viên"
    return Outbound(
        f"Anh/chị chấm điểm giúp em sự hỗ trợ của {who} (1 là chưa tốt, 5 là rất tốt):",
        tuple(Button(str(n), f"{RATE}:{handoff_id}:{n}") for n in range(1, 6)),
        author="system",
    )


THANKS_FOR_RATING = Outbound("Dạ, em cảm ơn anh/chị đã đánh giá!")
CANCELLED = Outbound("Dạ, trợ lý ảo tiếp tục hỗ trợ anh/chị. Anh/chị cần hỏi gì cứ nhắn em nhé.")
