"""Short Vietnamese answers built from a knowledge entry: one idea per message, with buttons.

Every answer that states facts ends with its source and review date; facts that are uncertain add
the request to confirm with the office.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.knowledge.schema import OfficeBook, Procedure

CONFIRM = "Thông tin này chưa chắc chắn, anh/chị vui lòng xác nhận lại với cơ quan tiếp nhận."
ASPECTS = {
    "documents": ("ask_documents", "Giấy tờ cần có"),
    "fee": ("ask_fee", "Lệ phí"),
    "time": ("ask_processing_time", "Thời gian"),
    "where": ("ask_where", "Nơi nộp"),
    "online": ("ask_online", "Nộp trực tuyến"),
}
ONLINE_LEVEL = {
    "full": "Thủ tục này làm được toàn trình trực tuyến (toàn bộ trên mạng).",
    "partial": "Thủ tục này làm được trực tuyến một phần.",
    "in_person": "Thủ tục này phải làm trực tiếp tại cơ quan.",
    "not_applicable": "",
}


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"text": self.text, "buttons": self.buttons}


def intent_payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def _source_line(entry: Procedure, confirm: bool) -> str:
    source = entry.sources[0].title
    line = f"Nguồn: {source} (cập nhật {entry.reviewed_at:%d/%m/%Y})."
    return f"{line}\n{CONFIRM}" if confirm or entry.confidence == "low" else line


def aspect_buttons(entry: Procedure, exclude: str | None = None) -> list[dict[str, str]]:
    return [
        {"title": title, "payload": intent_payload(intent, procedure=entry.slug)}
        for aspect, (intent, title) in ASPECTS.items()
        if aspect != exclude
    ]


def follow_up(entry: Procedure, exclude: str | None = None) -> Reply:
    buttons = aspect_buttons(entry, exclude)
    if entry.steps:
        buttons.append({"title": "Hướng dẫn từng bước", "payload": intent_payload("guide_me", procedure=entry.slug)})
    return Reply("Anh/chị muốn xem thêm gì ạ?", buttons)


def documents(entry: Procedure) -> Reply:
    if not entry.documents:
        return Reply(f"Dạ, em chưa có danh sách giấy tờ của thủ tục {entry.title}.\n{CONFIRM}")
    lines = [f"Dạ, hồ sơ {entry.title} gồm:"]
    for number, doc in enumerate(entry.documents, 1):
        lines.append(f"{number}. {doc.name}" + (f": {doc.note}" if doc.note else ""))
    lines.append(_source_line(entry, any(d.confirm for d in entry.documents)))
    return Reply("\n".join(lines))


def fee(entry: Procedure) -> Reply:
    if not entry.fee.text:
        return Reply(f"Dạ, em chưa có thông tin lệ phí của thủ tục {entry.title}; lệ phí sẽ hiện khi nộp hồ sơ.\n{CONFIRM}")
    lines = [f"Dạ, lệ phí {entry.title}: {entry.fee.text}"]
    if entry.fee.legal_basis:
        lines.append("Căn cứ: " + "; ".join(entry.fee.legal_basis) + ".")
    lines.append(_source_line(entry, entry.fee.confirm))
    return Reply("\n".join(lines))


def processing_time(entry: Procedure) -> Reply:
    if not entry.processing_time.text:
        return Reply(f"Dạ, em chưa có thông tin thời gian giải quyết của thủ tục {entry.title}.\n{CONFIRM}")
    return Reply(f"Dạ, thời gian giải quyết {entry.title}: {entry.processing_time.text}\n"
                 + _source_line(entry, entry.processing_time.confirm))


def office_lines(offices: OfficeBook) -> list[str]:
    """Where to go in person and whom to call; missing hours or phone numbers are said as such."""
    lines = []
    for office in offices.offices:
        details = [office.address or "địa chỉ: vui lòng xác nhận với địa phương",
                   f"giờ làm việc: {office.hours}" if office.hours else "giờ làm việc: chưa có thông tin, vui lòng xác nhận",
                   f"điện thoại: {office.hotline}" if office.hotline else ""]
        lines.append(f"- {office.name}: " + "; ".join(d for d in details if d))
    if offices.portal_hotline.text:
        lines.append(offices.portal_hotline.text + (f" {CONFIRM}" if offices.portal_hotline.confirm else ""))
    return lines


def where(entry: Procedure, offices: OfficeBook | None = None) -> Reply:
    lines = [f"Dạ, {entry.title}:"]
    if entry.agency.text:
        lines.append(f"Cơ quan giải quyết: {entry.agency.text}")
    lines += [f"- {place}" for place in entry.where]
    if offices is not None:
        lines += ["Nơi tiếp nhận trực tiếp:", *office_lines(offices)]
    return Reply("\n".join(lines) + "\n" + _source_line(entry, entry.agency.confirm))


def online(entry: Procedure) -> Reply:
    lines = [f"Dạ, {entry.title}: {ONLINE_LEVEL[entry.online.level]} {entry.online.text}".strip()]
    if entry.online.in_person_reason:
        lines.append(f"Phải đến trực tiếp khi: {entry.online.in_person_reason}")
    return Reply("\n".join(lines) + "\n" + _source_line(entry, entry.online.confirm))


def overview(entry: Procedure) -> Reply:
    text = f"Dạ, {entry.title}: {entry.summary}"
    if entry.needs_confirmation:
        text += f"\n{CONFIRM}"
    return Reply(text)


def answer(entry: Procedure, aspect: str, offices: OfficeBook | None = None) -> list[Reply]:
    """The answer to one aspect of a procedure, then buttons for the other aspects."""
    render = {"documents": documents, "fee": fee, "time": processing_time, "online": online}
    if aspect == "where":
        main = where(entry, offices)
    elif aspect in render:
        main = render[aspect](entry)
    else:
        return [overview(entry), follow_up(entry)]
    return [main, follow_up(entry, exclude=aspect)]


def choose_procedure(candidates: list[tuple[str, str]], aspect_intent: str, guessed: bool = False) -> Reply:
    """Ask which procedure is meant, with a button per candidate (slug, title). When nothing in
    the question pointed anywhere, say so honestly and offer a volunteer too."""
    buttons = [{"title": title[:60], "payload": intent_payload(aspect_intent, procedure=slug)} for slug, title in candidates]
    if guessed:
        buttons.append({"title": "Gặp tình nguyện viên", "payload": intent_payload("request_human")})
        return Reply("Dạ, em chưa rõ anh/chị hỏi về thủ tục nào. Anh/chị chọn một thủ tục dưới đây, "
                     "hoặc nhắn rõ tên thủ tục giúp em nhé.", buttons)
    return Reply("Dạ, anh/chị hỏi về thủ tục nào ạ?", buttons)


HELP = Reply(
    "Dạ, em có thể giúp anh/chị tìm hiểu giấy tờ, lệ phí, thời gian, nơi nộp và hướng dẫn tự nộp hồ sơ "
    "trực tuyến. Anh/chị cần hỏi thủ tục nào ạ?"
)
FALLBACK = Reply(
    "Dạ, em chưa hiểu rõ câu hỏi. Em có thể giúp anh/chị tìm hiểu giấy tờ, lệ phí, thời gian, nơi nộp "
    "và cách nộp trực tuyến các thủ tục hành chính. Anh/chị nói rõ tên thủ tục giúp em nhé, ví dụ: "
    "\"đăng ký khai sinh cần giấy tờ gì\".",
    [{"title": "Gặp tình nguyện viên", "payload": "/request_human"}],
)
