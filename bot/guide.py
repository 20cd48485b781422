"""The step-by-step guide: the citizen submits online *themselves*, one step at a time.

Pure logic over a knowledge entry and the guide state (kept in Rasa slots, so in the SQL tracker
store): it returns the replies, the new state, and the event to record for analytics
(`record_event`). It never asks for a password, an OTP or an ID number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.knowledge.answers import Reply, intent_payload, where
from bot.knowledge.schema import Procedure, Step
from bot.storage import repo
from bot.storage.db import session_scope

NEXT, BACK, REPEAT, STUCK, HUMAN, STOP = (
    "guide_next",
    "guide_back",
    "guide_repeat",
    "guide_stuck",
    "request_human",
    "guide_stop",
)
STEP_BUTTONS = [
    ("Xong", NEXT),
    ("Quay lại", BACK),
    ("Nhắc lại", REPEAT),
    ("Tôi bị kẹt", STUCK),
    ("Gặp tình nguyện viên", HUMAN),
    ("Dừng", STOP),
]
NO_SECRETS = (
    "Em sẽ không bao giờ hỏi mật khẩu, mã OTP hay ảnh giấy tờ tùy thân của anh/chị; anh/chị cũng đừng gửi cho ai."
)
STUCK_LIMIT = 2  # stuck this often on one step: a volunteer is called


@dataclass(frozen=True)
class GuideState:
    slug: str | None = None
    step: int = 0  # 0: before step 1; 1..n: the step shown
    phase: str | None = None  # intro | step | problem | outcome | paused
    stuck: int = 0  # times stuck on the current step

    @property
    def active(self) -> bool:
        return self.slug is not None and self.phase is not None


@dataclass(frozen=True)
class GuideEvent:
    name: str  # started | step | stuck | problem | volunteer_called | stopped | outcome | in_person
    step: int
    detail: str | None = None


@dataclass(frozen=True)
class Outcome:
    replies: list[Reply]
    state: GuideState
    event: GuideEvent | None = None
    needs_volunteer: bool = False


def _buttons(pairs) -> list[dict[str, str]]:
    return [{"title": title, "payload": intent_payload(intent)} for title, intent in pairs]


def _step_reply(entry: Procedure, number: int) -> Reply:
    step: Step = entry.steps[number - 1]
    text = f"Bước {number}/{len(entry.steps)}: {step.title}\n{step.instruction}"
    if step.tip:
        text += f"\nMẹo: {step.tip}"
    return Reply(text, _buttons(STEP_BUTTONS))


def in_person(entry: Procedure) -> list[Reply]:
    """No fake online guide: why it is done in person, what to bring, where."""
    replies = [
        Reply(f"Dạ, {entry.name} phải làm trực tiếp tại cơ quan: {entry.online.in_person_reason or entry.online.text}")
    ]
    if entry.documents:
        replies.append(Reply("Anh/chị mang theo:\n" + "\n".join(f"- {d.name}" for d in entry.documents)))
    replies.append(where(entry))
    return replies


def start(entry: Procedure) -> Outcome:
    if entry.online.level == "in_person" or not entry.steps:
        replies = in_person(entry)
        if entry.steps:  # e.g. the app part of an account that is finished at the police
            replies.append(
                Reply(
                    "Em có thể hướng dẫn phần làm trên điện thoại trước.",
                    _buttons([("Xem các bước", NEXT), ("Để sau", STOP)]),
                )
            )
            return Outcome(replies, GuideState(entry.slug, 0, "intro"), GuideEvent("in_person", 0))
        return Outcome(replies, GuideState(), GuideEvent("in_person", 0))
    ready = [
        *entry.before_you_start,
        *(f"Ảnh chụp hoặc bản quét rõ nét, đủ các góc: {d.name}" for d in entry.documents[:4]),
    ]
    replies = [
        Reply(
            f"Dạ, em sẽ hướng dẫn anh/chị tự nộp hồ sơ {entry.name} trực tuyến, từng bước một "
            f"({len(entry.steps)} bước). {NO_SECRETS}"
        ),
        Reply("Anh/chị chuẩn bị sẵn:\n" + "\n".join(f"- {item}" for item in ready)),
    ]
    timing = f"Thời gian giải quyết: {entry.processing_time.text}" if entry.processing_time.text else ""
    if entry.online.level == "partial" and entry.online.in_person_reason:
        timing += f"\nLưu ý: sau khi nộp trực tuyến, anh/chị vẫn phải đến cơ quan khi: {entry.online.in_person_reason}"
    replies.append(Reply(timing.strip() or "Anh/chị sẵn sàng chưa ạ?", _buttons([("Bắt đầu", NEXT), ("Để sau", STOP)])))
    return Outcome(replies, GuideState(entry.slug, 0, "intro"), GuideEvent("started", 0))


def _show(entry: Procedure, state: GuideState, number: int) -> Outcome:
    number = max(1, min(number, len(entry.steps)))
    stuck = state.stuck if number == state.step else 0
    return Outcome(
        [_step_reply(entry, number)], replace(state, step=number, phase="step", stuck=stuck), GuideEvent("step", number)
    )


def _finish(entry: Procedure, state: GuideState) -> Outcome:
    lines = ["Dạ, anh/chị đã làm xong các bước."]
    lines += entry.after_submission
    if entry.processing_time.text:
        lines.append(f"Thời gian giải quyết: {entry.processing_time.text}")
    lines.append("Anh/chị có thể tra cứu tình trạng hồ sơ trên Cổng Dịch vụ công bằng mã hồ sơ.")
    return Outcome(
        [
            Reply("\n".join(lines)),
            Reply(
                "Anh/chị đã nộp được chưa?", _buttons([("Đã nộp", "affirm"), ("Chưa nộp", "deny"), ("Bị kẹt", STUCK)])
            ),
        ],
        replace(state, phase="outcome"),
        GuideEvent("step", state.step, "finished"),
    )


def _stuck(entry: Procedure, state: GuideState) -> Outcome:
    step = entry.steps[max(state.step, 1) - 1]
    count = state.stuck + 1
    new_state = replace(state, phase="problem", stuck=count)
    if count >= STUCK_LIMIT:  # paused here: the volunteer hands back at this step or another
        return Outcome(
            [
                Reply(
                    f'Dạ, bước "{step.title}" có vẻ khó. Em nhờ tình nguyện viên hướng dẫn anh/chị nhé; '
                    "anh/chị vẫn tự thao tác trên máy của mình."
                )
            ],
            replace(new_state, phase="paused"),
            GuideEvent("volunteer_called", state.step, step.title),
            True,
        )
    choices = [{"title": p.title, "payload": intent_payload(STUCK, problem=p.key)} for p in step.problems]
    choices.append({"title": "Vấn đề khác", "payload": intent_payload(STUCK, problem="other")})
    return Outcome([Reply("Anh/chị gặp vấn đề gì ạ?", choices)], new_state, GuideEvent("stuck", state.step))


def _problem(entry: Procedure, state: GuideState, key: str | None) -> Outcome:
    step = entry.steps[max(state.step, 1) - 1]
    problem = next((p for p in step.problems if p.key == key), None)
    if problem is None:
        text = (
            "Dạ, anh/chị thử làm lại bước này thật chậm, kiểm tra kết nối mạng, hoặc mở lại trang. "
            "Nếu vẫn không được, em sẽ nhờ tình nguyện viên giúp anh/chị. (Lời khuyên chung)"
        )
    else:
        note = " (Lời khuyên chung)" if problem.source == "general" else ""
        text = f"{problem.title}: {problem.fix}{note}"
    buttons = _buttons([("Đã được, làm tiếp", NEXT), ("Vẫn bị kẹt", STUCK), ("Nhắc lại bước", REPEAT)])
    return Outcome([Reply(text, buttons)], replace(state, phase="problem"), GuideEvent("problem", state.step, key))


def handle(entry: Procedure, state: GuideState, intent: str, problem: str | None = None) -> Outcome:
    """Advance the guide on the citizen's intent."""
    if intent == STOP:
        return Outcome(
            [
                Reply(
                    f"Dạ, em đã ghi nhớ anh/chị đang ở bước {state.step}/{len(entry.steps)}. "
                    'Khi nào muốn làm tiếp, anh/chị nhắn "làm tiếp" nhé.'
                )
            ],
            replace(state, phase="paused"),
            GuideEvent("stopped", state.step),
        )
    if intent == STUCK:  # with a named problem: its fix; without: the known problems, or a volunteer
        return _problem(entry, state, problem) if problem else _stuck(entry, state)
    if state.phase == "outcome" and intent in ("affirm", "deny"):
        text = (
            "Dạ, chúc mừng anh/chị đã tự nộp được hồ sơ! Nhớ lưu mã hồ sơ để tra cứu nhé."
            if intent == "affirm"
            else 'Dạ, không sao ạ. Khi sẵn sàng, anh/chị nhắn "hướng dẫn nộp" để làm lại từ đầu nhé.'
        )
        return Outcome(
            [Reply(text)],
            GuideState(),
            GuideEvent("outcome", state.step, "submitted" if intent == "affirm" else "not_yet"),
        )
    if intent == BACK:
        return _show(entry, state, state.step - 1)
    if intent == REPEAT or (intent == NEXT and state.phase == "paused"):
        return _show(entry, state, state.step or 1)
    if intent in (NEXT, "affirm"):
        if state.step >= len(entry.steps):
            return _finish(entry, state)
        return _show(entry, state, state.step + 1)
    return _show(entry, state, state.step or 1)


def resume_offer(entry: Procedure, state: GuideState) -> Reply:
    return Reply(
        f"Lần trước anh/chị đang làm đến bước {max(state.step, 1)}/{len(entry.steps)} ({entry.name}). "
        "Anh/chị muốn làm tiếp không?",
        _buttons([("Làm tiếp", REPEAT), ("Để sau", STOP)]),
    )


def record_event(sender_id: str, slug: str, event: GuideEvent) -> None:
    """Store a guide event of a conversation (Rasa's sender id) for the analytics."""
    with session_scope() as session:
        repo.record_guide_event(session, sender_id, slug, event)
