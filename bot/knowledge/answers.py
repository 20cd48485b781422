"""Short Vietnamese answers, worded the way a one-stop-centre officer would say them: one idea per
message, the fact asked first, buttons for the rest.

A fact's source and review date follow it; "vui lòng xác nhận" is added once, and only to a fact
that is uncertain or from an entry past its review date (REVIEW_AFTER_DAYS); what is missing is
said once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.knowledge.passages import Passage
from bot.knowledge.schema import OfficeBook, Procedure, Source
from bot.knowledge.store import needs_review

CONFIRM = "Thông tin này anh/chị vui lòng xác nhận lại với cơ quan tiếp nhận."
ASPECTS = {
    "documents": ("ask_documents", "Giấy tờ cần có"),
    "fee": ("ask_fee", "Lệ phí"),
    "time": ("ask_processing_time", "Thời gian"),
    "where": ("ask_where", "Nơi nộp"),
    "online": ("ask_online", "Nộp trực tuyến"),
}
ONLINE_LEVEL = {
    "full": "làm được hoàn toàn trực tuyến, không phải đến cơ quan",
    "partial": "nộp hồ sơ trực tuyến được, nhưng vẫn có bước phải làm trực tiếp",
    "in_person": "phải làm trực tiếp tại cơ quan",
}
PORTAL = "Cổng Dịch vụ công quốc gia (dichvucong.gov.vn)"
# offered when nothing else points anywhere: the procedures citizens ask about most
POPULAR = {"khai-sinh": "Khai sinh", "can-cuoc": "Căn cước", "thuong-tru": "Thường trú", "ket-hon": "Kết hôn"}


@dataclass
class Reply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"text": self.text, "buttons": self.buttons}


def intent_payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def _button(title: str, intent: str, **entities: str) -> dict[str, str]:
    return {"title": title, "payload": intent_payload(intent, **entities)}


def unsure_as_a_whole(entry: Procedure) -> bool:
    """Every fact of the entry needs confirming: its sources are weak, or nobody reviewed it lately."""
    return entry.confidence == "low" or needs_review(entry)


def source_line(entry: Procedure, source: Source | None = None, confirm: bool = False) -> str:
    line = f"Nguồn: {(source or entry.sources[0]).title} (cập nhật {entry.reviewed_at:%d/%m/%Y})."
    return f"{line}\n{CONFIRM}" if confirm or unsure_as_a_whole(entry) else line


def follow_up(entry: Procedure, exclude: str | None = None, whole: str | None = None) -> Reply:
    """What else the citizen may want: the whole list of the aspect just quoted, the other
    aspects, and the guide."""
    buttons = []
    if whole in ASPECTS:
        intent, title = ASPECTS[whole]
        buttons.append(_button(f"Xem đủ: {title.lower()}", intent, procedure=entry.slug))
    buttons += [
        _button(title, intent, procedure=entry.slug)
        for aspect, (intent, title) in ASPECTS.items()
        if aspect not in (exclude, whole)
    ]
    if entry.steps:
        buttons.append(_button("Hướng dẫn từng bước", "guide_me", procedure=entry.slug))
    return Reply("Anh/chị muốn xem thêm gì ạ?", buttons)


def passage_answer(entry: Procedure, passage: Passage, yes_no: str | None = None) -> Reply:
    lead = f"Dạ {yes_no[0].lower()}{yes_no[1:]}" if yes_no else "Dạ"
    return Reply(
        f"{lead}, {passage.text[0].lower()}{passage.text[1:]}\n" + source_line(entry, passage.source, passage.confirm)
    )


def documents(entry: Procedure) -> Reply:
    if not entry.documents:
        return Reply(f"Dạ, em chưa có danh sách giấy tờ để {entry.name}. {CONFIRM}")
    lines = [f"Dạ, hồ sơ {entry.name} gồm:"]
    for number, doc in enumerate(entry.documents, 1):
        lines.append(f"{number}. {doc.name}" + (f" — {doc.note}" if doc.note else ""))
    unsure = [str(n) for n, doc in enumerate(entry.documents, 1) if doc.confirm]
    lines.append(source_line(entry))
    if unsure and not unsure_as_a_whole(entry):
        lines.append(f"Mục {', '.join(unsure)} anh/chị vui lòng xác nhận lại với cơ quan tiếp nhận.")
    return Reply("\n".join(lines))


def fee(entry: Procedure) -> Reply:
    if not entry.fee.text:
        return Reply(
            f"Dạ, em chưa có mức lệ phí {entry.name}; lệ phí (nếu có) sẽ hiện khi anh/chị nộp hồ sơ. " + CONFIRM
        )
    lines = [f"Dạ, về lệ phí {entry.name}: {entry.fee.text}"]
    if entry.fee.legal_basis:
        lines.append("Căn cứ: " + "; ".join(entry.fee.legal_basis) + ".")
    lines.append(source_line(entry, confirm=entry.fee.confirm))
    return Reply("\n".join(lines))


_DEADLINE = re.compile(r"\d+\s*(ngày|tháng|giờ)\b.*\b(kể từ|từ ngày|trước|sau khi)|thời hạn (đi|phải|đăng ký)", re.I)


def processing_time(entry: Procedure) -> Reply:
    """How long it takes, and the deadline the citizen must keep, if there is one: asked "bao
    lâu", an officer mentions both."""
    deadlines = [line for line in entry.eligibility if _DEADLINE.search(line)]
    if not entry.processing_time.text:
        return Reply(f"Dạ, em chưa có thời gian giải quyết của thủ tục {entry.name}. {CONFIRM}")
    lines = [f"Dạ, thời gian giải quyết {entry.name}: {entry.processing_time.text}"]
    lines += [f"Lưu ý: {line}" for line in deadlines]
    return Reply("\n".join(lines) + "\n" + source_line(entry, confirm=entry.processing_time.confirm))


def office_lines(offices: OfficeBook) -> list[str]:
    """Where to go in person and whom to call; what the sources do not give is said once."""
    lines, missing = [], False
    for office in offices.offices:
        details = [
            d
            for d in (
                office.address,
                f"giờ làm việc {office.hours}" if office.hours else "",
                f"điện thoại {office.hotline}" if office.hotline else "",
            )
            if d
        ]
        missing = missing or not (office.address and office.hours and office.hotline)
        lines.append(f"- {office.name}" + (f": {'; '.join(details)}" if details else ""))
    if missing:
        lines.append("Địa chỉ, giờ làm việc và số điện thoại cụ thể anh/chị vui lòng hỏi lại xã, phường nơi mình ở.")
    if offices.portal_hotline.text:
        lines.append(offices.portal_hotline.text)
    return lines


def where(entry: Procedure) -> Reply:
    """The entry's own agency and places: a generic list of offices would send citizens to the
    wrong one (VNeID is done at the commune police, not at the city's centre)."""
    lines = [
        f"Dạ, nơi giải quyết {entry.name}: {entry.agency.text}"
        if entry.agency.text
        else f"Dạ, nơi nộp hồ sơ {entry.name}:"
    ]
    lines += [f"- {place}" for place in entry.where]
    return Reply("\n".join(lines) + "\n" + source_line(entry, confirm=entry.agency.confirm))


def online(entry: Procedure, yes_no: bool = False) -> Reply:
    if entry.online.level == "not_applicable":
        return Reply(f"Dạ, {entry.online.text}\n" + source_line(entry, confirm=entry.online.confirm))
    answer = ("Dạ được" if entry.online.level != "in_person" else "Dạ không") if yes_no else "Dạ"
    lines = [
        f"{answer}, {entry.name} {ONLINE_LEVEL[entry.online.level]}, trên {PORTAL} hoặc ứng dụng VNeID."
        if entry.online.level != "in_person"
        else f"{answer}, {entry.name} {ONLINE_LEVEL['in_person']}."
    ]
    if entry.online.in_person_reason:
        lines.append(f"Phải đến trực tiếp khi: {entry.online.in_person_reason}")
    return Reply("\n".join(lines) + "\n" + source_line(entry, confirm=entry.online.confirm))


def overview(entry: Procedure) -> Reply:
    return Reply(f"Dạ, {entry.summary}\n" + source_line(entry))


def process(entry: Procedure) -> Reply:
    """How it is done: the online steps in a line each, or, for an in-person procedure, where."""
    if not entry.steps:
        return Reply(f"Dạ, {entry.summary}\n" + source_line(entry))
    lines = [f"Dạ, nộp hồ sơ {entry.name} trực tuyến gồm {len(entry.steps)} bước:"]
    lines += [f"{number}. {step.title}" for number, step in enumerate(entry.steps, 1)]
    lines.append("Em có thể hướng dẫn anh/chị làm từng bước.")
    return Reply("\n".join(lines), [_button("Hướng dẫn từng bước", "guide_me", procedure=entry.slug)])


def eligibility(entry: Procedure) -> Reply:
    """Who may, who must, and when: the entry's conditions, or what it is about."""
    if not entry.eligibility:
        return overview(entry)
    lines = [f"Dạ, về {entry.name}:", *(f"- {line}" for line in entry.eligibility)]
    return Reply("\n".join(lines) + "\n" + source_line(entry))


def aspect_answer(entry: Procedure, aspect: str, yes_no: bool = False) -> Reply:
    if aspect == "where":
        return where(entry)
    if aspect == "eligibility":
        return eligibility(entry)
    if aspect == "process":
        return process(entry)
    if aspect == "online":
        return online(entry, yes_no)
    render = {"documents": documents, "fee": fee, "time": processing_time}
    return render[aspect](entry) if aspect in render else overview(entry)


def choose_procedure(candidates: list[tuple[str, str]], aspect_intent: str, guessed: bool = False) -> Reply:
    """Ask which procedure is meant, with a button per candidate (slug, name). When nothing in
    the question pointed anywhere, say so honestly and offer a volunteer too."""
    buttons = [
        {"title": name[:60], "payload": intent_payload(aspect_intent, procedure=slug)} for slug, name in candidates
    ]
    if guessed:
        buttons.append(_button("Gặp tình nguyện viên", "request_human"))
        return Reply(
            "Dạ, em chưa rõ anh/chị hỏi về thủ tục nào. Anh/chị chọn một thủ tục dưới đây, hoặc nhắn rõ "
            "tên thủ tục giúp em nhé.",
            buttons,
        )
    return Reply("Dạ, anh/chị hỏi về thủ tục nào ạ?", buttons)


def decline(name: str | None, code: str | None) -> list[Reply]:
    """Honest about what is not covered: named as asked, where to look, a person to help."""
    if name:
        first = f"Dạ, em chưa có hướng dẫn cho «{name}»; em chỉ hướng dẫn một số thủ tục hành chính thường gặp."
        look = f"Anh/chị có thể tìm «{name}»" + (f" (mã {code})" if code else "") + f" trên {PORTAL}."
    else:
        first = "Dạ, em chưa có hướng dẫn cho câu hỏi này; em chỉ hướng dẫn một số thủ tục hành chính thường gặp."
        look = f"Anh/chị có thể tìm tên thủ tục trên {PORTAL}."
    return [
        Reply(first),
        Reply(
            look + " Hoặc em nhờ tình nguyện viên hỗ trợ anh/chị nhé.",
            [_button("Gặp tình nguyện viên", "request_human")],
        ),
    ]


def small_talk(intent: str, privacy_notice: Reply) -> list[Reply]:
    """Greetings, thanks, goodbyes and "are you a bot", when that is all the message says."""
    if intent == "greet":
        buttons = [_button(title, "choose_procedure", procedure=slug) for slug, title in POPULAR.items()]
        buttons.append(_button("Tra cứu hồ sơ", "ask_status"))
        return [
            Reply(
                "Dạ, em chào anh/chị! Em là trợ lý ảo hướng dẫn thủ tục hành chính: giấy tờ cần có, lệ phí, "
                "thời gian, nơi nộp và cách tự nộp hồ sơ trực tuyến."
            ),
            privacy_notice,
            Reply("Anh/chị cần hỏi về thủ tục nào ạ?", buttons),
        ]
    texts = {
        "thank": "Dạ, không có gì ạ. Anh/chị cần hỏi thêm thủ tục nào cứ nhắn em nhé.",
        "goodbye": "Dạ, chúc anh/chị một ngày tốt lành. Khi cần, anh/chị cứ nhắn em nhé!",
        "bot_challenge": "Dạ, em là trợ lý ảo (máy), không phải cán bộ. Thông tin em đưa lấy từ Cổng Dịch vụ công "
        "quốc gia và văn bản pháp luật.",
    }
    return [Reply(texts.get(intent, "Dạ, anh/chị cần hỏi về thủ tục nào ạ?"))]


COMPLAINT = Reply("Dạ, em xin lỗi vì anh/chị chưa hài lòng.")
HELP = Reply(
    "Dạ, em có thể giúp anh/chị tìm hiểu giấy tờ, lệ phí, thời gian, nơi nộp và hướng dẫn tự nộp hồ sơ "
    "trực tuyến. Anh/chị cần hỏi thủ tục nào ạ?"
)
CONDOLENCE = Reply("Dạ, em xin chia buồn cùng gia đình anh/chị.")
IN_ENGLISH = Reply("I can only answer in Vietnamese; here is the answer to your question.")
