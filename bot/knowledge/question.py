"""Reading a citizen's message the way an officer would: which part is the question, which aspect
it asks about, whether it wants a yes or a no, and whether it is written in English.

Citizens write long stories, formal letters and chat. The question usually comes last ("…thì
làm giấy khai sinh thế nào?"), greetings and thanks wrap it, and the story before it may name
other procedures. `Question.levels` lists the parts to look in, the most question-like first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.text import fold, normalize

# Cue phrases (matched on the folded, normalised text as whole words) for each aspect; the
# specific aspects come first: "nộp online được không" asks about online, not eligibility.
_ASPECT_CUES = {
    "documents": "giấy tờ, giấy tờ gì, hồ sơ gồm, hồ sơ cần, cần những gì, cần gì, cần mang, mang theo, mang gì, "
    "chuẩn bị gì, chuẩn bị những, thành phần hồ sơ, cần có gì, giấy gì, những giấy, cỡ nào, "
    "cần nộp những, cần nộp gì, nộp những gì, hồ sơ như thế nào, hồ sơ thế nào, mẫu tờ khai, tờ khai",
    "fee": "lệ phí, phí, bao nhiêu tiền, mấy tiền, tốn, mất tiền, chi phí, tiền, miễn phí, đóng tiền, giá, "
    "nộp tiền, hết bao nhiêu, mất bao nhiêu, tốn bao nhiêu, phạt",
    "time": "bao lâu, mấy ngày, bao nhiêu ngày, mất bao nhiêu ngày, mất mấy ngày, hết bao nhiêu ngày, mất bao lâu, "
    "bao nhiêu ngày làm việc, mấy ngày làm việc, thời gian, thời hạn, khi nào có, bao giờ có, bao giờ thì có, "
    "trong bao lâu, hạn, hết hạn, quá hạn, trễ hạn, mấy giờ, trước mấy giờ, bao nhiêu lâu, mất mấy, "
    "lâu không, mấy tháng, bao nhiêu tháng, thời hạn giải quyết, trễ, chậm, trong ngày, lấy ngay, lấy liền, "
    "khi nào có, bao giờ",
    "where": "ở đâu, đến đâu, tới đâu, nơi nào, chỗ nào, cơ quan nào, nộp ở, làm ở, xã nào, phường nào, nơi nộp, "
    "ủy ban nào, đi đâu, ở xã, ở phường, tại xã, tại phường, công an nào, chỗ nộp, nơi làm, "
    "nộp tại, làm tại, đăng ký ở, đăng ký tại, nơi tiếp nhận, cơ quan có thẩm quyền, ở tỉnh, nơi cư trú",
    "online": "online, trực tuyến, qua mạng, trên mạng, tại nhà, ở nhà, trên điện thoại, qua điện thoại, qua app, "
    "trên app, trên ứng dụng, qua ứng dụng, dịch vụ công, cổng dịch vụ công, toàn trình, nộp qua, "
    "trên vneid, qua vneid, bằng vneid, app vneid, trên cổng, qua cổng, qua bưu điện, bưu chính",
    "eligibility": "có được không, được không, điều kiện, ai được, ai có thể, có phải, có cần, có bắt buộc, "
    "bắt buộc, đủ điều kiện, được phép, có được, có thể, được làm, có quyền, có bị",
    "process": "như thế nào, thế nào, làm sao, các bước, cách làm, quy trình, hướng dẫn, trình tự, làm thủ tục, "
    "thủ tục ra sao, ra sao, cách nào, phải làm gì, làm gì, kiểu gì, chọn mục nào, bước nào, từng bước",
}
SPECIFIC = ("documents", "fee", "time", "where", "online")

# Phrases that only ask (they name no procedure); kept out of the words a passage is matched on.
_QUESTION_WORDS = frozenset(
    normalize(w)
    for w in (
        "gì những cần phải có được không tôi em anh chị mình muốn cho của thì là và với ạ ơi vậy hả nhé "
        "hỏi xin cách còn sao đâu nào bao nhiêu lâu mấy thế nào như làm thủ tục rồi đã sẽ đang nếu khi "
        "này đó kia ai vâng dạ nhỉ chứ thưa kính gửi cảm ơn giúp với hay hoặc ra mà lại nữa thôi ở tại "
        "trong bị vì do nên để theo các một hai "
        # who and when, in a story: they do not say which procedure
        "ông bà bố mẹ ba má cha vợ chồng con cháu bé nhà gia đình vừa mới hôm nay qua tuần tháng năm ngày sau "
        "trước lúc hiện giờ bây chuẩn bị giải quyết xong nhiều lắm rất".split()
    )
)

_QUESTION_WORDS_FOLDED = frozenset(fold(w) for w in _QUESTION_WORDS)


def is_question_word(word: str) -> bool:
    """A word that only asks (normalised form). Typed with accents it is matched as written, so
    "thẻ" is not "thế"; typed without, it may be any of them."""
    folded = fold(word)
    return word in _QUESTION_WORDS if folded != word else folded in _QUESTION_WORDS_FOLDED


def words_of(text: str, phrases: list[str] = ()) -> list[str]:
    """The folded words of a text that say something: question words and the given (folded)
    phrases left out."""
    written = normalize(text).split()
    folded = [fold(w) for w in written]
    kept = [True] * len(folded)
    for phrase in phrases:
        size = len(phrase.split())
        for at in range(len(folded) - size + 1):
            if " ".join(folded[at : at + size]) == phrase:
                kept[at : at + size] = [False] * size
    return [f for w, f, keep in zip(written, folded, kept) if keep and not is_question_word(w)]


_COURTESY = sorted(
    (
        fold(normalize(p))
        for p in (
            "xin chào",
            "chào em",
            "chào bạn",
            "chào anh",
            "chào chị",
            "chào ad",
            "chào admin",
            "chào",
            "kính gửi",
            "xin cảm ơn",
            "cảm ơn",
            "cám ơn",
            "cảm ơn nhiều",
            "em cảm ơn",
            "tôi xin cảm ơn",
            "trân trọng cảm ơn",
            "xin chân thành cảm ơn",
            "chân thành cảm ơn",
            "trân trọng",
            "thanks",
            "thank you",
            "hi",
            "hello",
            "em xin cảm ơn ạ",
            "mong được giải đáp",
            "mong được hướng dẫn",
            "mong nhận được phản hồi",
            "rất mong được giải đáp",
            "xin được giải đáp",
            "xin hỏi",
            "cho em hỏi",
            "cho tôi hỏi",
            "cho hỏi",
            "em muốn hỏi",
            "tôi muốn hỏi",
            "nhờ tư vấn giúp",
            "nhờ mọi người tư vấn",
            "ad ơi",
            "mọi người ơi",
        )
    ),
    key=len,
    reverse=True,
)
_QUESTION_MARKS = [
    fold(normalize(p))
    for p in (
        "gì",
        "nào",
        "sao",
        "đâu",
        "bao nhiêu",
        "bao lâu",
        "mấy",
        "không",
        "chưa",
        "thế nào",
        "ra sao",
        "được không",
        "phải không",
        "hay không",
        "có cần",
        "có phải",
        "hỏi",
        "hướng dẫn",
        "tư vấn",
    )
]
_YES_NO = [
    fold(normalize(p))
    for p in (
        "có được không",
        "được không",
        "có không",
        "được ko",
        "phải không",
        "có phải",
        "hay không",
        "có cần",
        "có mất",
        "có bị",
        "có thể",
        "không ạ",
        "ko ạ",
    )
]
_SENTENCE_RE = re.compile(r"(?<=[.?!;…])\s+|\n+|(?<=\?)")
_CLAUSE_RE = re.compile(r"\s*,\s*")

# Common English words: a message made mostly of these is answered with an English line first.
# (none of them is also a Vietnamese syllable typed without accents, like "a", "do", "can", "to")
_ENGLISH = frozenset(
    "the of for is are does did could how what where when which who you your need needs get getting "
    "much many long it this that and or with from please hello thanks thank want would like apply "
    "register renew lost have has be am was were will should about i'm we our us they their there "
    "but if at any pay been living work working moved renting office there's it's don't can't "
    "just still already into after before by as".split()
)
_VIETNAMESE_LETTERS = re.compile("[ăâđêôơưĂÂĐÊÔƠƯ\u1ea0-\u1ef9]")
# English names of our procedures and aspects → the words citizens would use in Vietnamese.
_ENGLISH_GLOSSARY = [
    ("birth certificate", "giấy khai sinh"),
    ("birth registration", "đăng ký khai sinh"),
    ("register a birth", "khai sinh"),
    ("register the birth", "khai sinh"),
    ("death certificate", "khai tử"),
    ("register a death", "khai tử"),
    ("marriage certificate", "đăng ký kết hôn"),
    ("get married", "đăng ký kết hôn"),
    ("marriage", "kết hôn"),
    ("single status", "xác nhận tình trạng hôn nhân"),
    ("marital status", "xác nhận tình trạng hôn nhân"),
    ("id card", "thẻ căn cước"),
    ("identity card", "thẻ căn cước"),
    ("citizen id", "căn cước"),
    ("passport", "hộ chiếu"),
    ("driving licence", "giấy phép lái xe"),
    ("driving license", "giấy phép lái xe"),
    ("driver's license", "giấy phép lái xe"),
    ("drivers license", "giấy phép lái xe"),
    ("temporary residence", "đăng ký tạm trú"),
    ("permanent residence", "đăng ký thường trú"),
    ("register our marriage", "đăng ký kết hôn"),
    ("register my marriage", "đăng ký kết hôn"),
    ("criminal record", "lý lịch tư pháp"),
    ("police check", "lý lịch tư pháp"),
    ("health insurance", "bảo hiểm y tế"),
    ("unemployment benefit", "trợ cấp thất nghiệp"),
    ("household business", "hộ kinh doanh"),
    ("set up a company", "thành lập doanh nghiệp"),
    ("start a company", "thành lập doanh nghiệp"),
    ("register a company", "thành lập doanh nghiệp"),
    ("construction permit", "giấy phép xây dựng"),
    ("building permit", "giấy phép xây dựng"),
    ("land title", "sổ đỏ"),
    ("land certificate", "sổ đỏ"),
    ("motorbike registration", "đăng ký xe"),
    ("vehicle registration", "đăng ký xe"),
    ("certified copy", "chứng thực bản sao"),
    ("notarize", "công chứng"),
    ("digital signature", "chữ ký số"),
    ("foreigner", "người nước ngoài"),
    ("foreign", "nước ngoài"),
    ("abroad", "ở nước ngoài"),
    ("embassy", "đại sứ quán"),
    ("international", "quốc tế"),
    ("documents", "giấy tờ gì"),
    ("papers", "giấy tờ gì"),
    ("what do i need", "cần giấy tờ gì"),
    ("how do i", "làm thế nào"),
    ("how can i", "làm thế nào"),
    ("how to", "làm thế nào"),
    ("how much", "bao nhiêu tiền"),
    ("fee", "lệ phí"),
    ("cost", "lệ phí"),
    ("how long", "bao lâu"),
    ("where", "ở đâu"),
    ("online", "trực tuyến"),
    ("lost", "bị mất"),
    ("renew", "cấp đổi"),
    ("temporary residence card", "thẻ tạm trú cho người nước ngoài"),
    ("residence card", "thẻ tạm trú cho người nước ngoài"),
    ("work permit", "giấy phép lao động"),
    ("visa", "thị thực"),
    ("sue", "khởi kiện"),
    ("lawsuit", "khởi kiện"),
    ("divorce", "ly dị"),
    ("pension", "lương hưu"),
    ("social insurance", "bảo hiểm xã hội một lần"),
    ("tax", "thuế thu nhập cá nhân"),
    ("patent", "sáng chế"),
    ("trademark", "nhãn hiệu"),
]


def _phrases(spec: str) -> list[str]:
    return [fold(normalize(p)) for p in spec.split(",") if p.strip()]


ASPECT_CUES = {aspect: _phrases(spec) for aspect, spec in _ASPECT_CUES.items()}


def padded(text: str) -> str:
    """A text folded and normalised, with a space at each end, to find whole phrases in it."""
    return f" {fold(normalize(text))} "


def _contains(spaced: str, phrase: str) -> bool:
    return f" {phrase} " in spaced


def _is_courtesy(part: str) -> bool:
    """A sentence or clause that only greets or thanks ("Xin cảm ơn!", "Chào em")."""
    return not words_of(part, _COURTESY)


def _asks(part: str) -> bool:
    spaced = padded(part)
    return part.rstrip().endswith("?") or any(_contains(spaced, m) for m in _QUESTION_MARKS)


# A citizen asking for a person in so many words (the intent alone may be a misreading).
_PERSON = [
    fold(normalize(p))
    for p in (
        "người thật",
        "tình nguyện viên",
        "nhân viên",
        "cán bộ",
        "gặp người",
        "tư vấn viên",
        "nói chuyện với người",
        "người hỗ trợ",
        "admin",
        "tổng đài viên",
        "người trực",
        "gặp ai",
        "chuyên viên",
    )
]


def asks_for_a_person(text: str) -> bool:
    spaced = padded(text)
    return any(_contains(spaced, p) for p in _PERSON)


def is_english(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) < 3 or _VIETNAMESE_LETTERS.search(text):
        return False
    return sum(w in _ENGLISH for w in words) / len(words) >= 0.3


def from_english(text: str) -> str:
    """An English question rewritten as the Vietnamese words the search knows, in its order."""
    lowered = " " + re.sub(r"[^a-z' ]", " ", text.lower()) + " "
    found = []
    for english, vietnamese in sorted(_ENGLISH_GLOSSARY, key=lambda pair: -len(pair[0])):  # longest first
        at = lowered.find(f" {english} ")
        if at >= 0:
            found.append((at, vietnamese))
            lowered = lowered.replace(f" {english} ", " " + "_" * len(english) + " ")
    return " ".join(vietnamese for _, vietnamese in sorted(found))


@dataclass(frozen=True)
class Question:
    text: str  # as written (secrets already masked)
    asked: str  # the question without greetings and thanks
    focus: str  # the sentence that asks
    clause: str  # the part of that sentence that asks, without its condition (see main_clause)
    english: bool = False
    sentences: tuple[str, ...] = ()  # the sentences of `asked`

    @property
    def levels(self) -> list[str]:
        """Where the question itself may name its procedure, the most question-like part first."""
        return [part for part in dict.fromkeys((self.clause, self.focus)) if part]

    @property
    def story(self) -> str | None:
        """The whole message, when it says more than the asking sentence."""
        return self.asked if self.asked and self.asked != self.focus else None

    @property
    def yes_no(self) -> bool:
        spaced = padded(self.focus)
        return any(_contains(spaced, p) for p in _YES_NO) or spaced.rstrip().endswith(" không")

    def aspect(self) -> str | None:
        """The aspect the question's own words ask about (the first cue in the focus), or None."""
        for part in (self.clause, self.focus, self.asked):
            found = first_cue(padded(part))
            if found:
                return found
        return None

    def cue_words(self) -> set[str]:
        spaced = padded(self.focus)
        return {w for cues in ASPECT_CUES.values() for cue in cues if _contains(spaced, cue) for w in cue.split()}


ASKING_WORDS = frozenset(
    fold(w) for w in ("bao", "mấy", "đâu", "nào", "gì", "sao", "lâu", "hướng", "bước", "trình", "cách")
)


def first_cue(spaced: str) -> str | None:
    best: tuple[int, int, int, str] | None = None
    for rank, aspect in enumerate(_ASPECT_CUES):
        for cue in ASPECT_CUES[aspect]:
            at = spaced.find(f" {cue} ")
            if at >= 0:
                # a cue that asks ("hết bao nhiêu tiền") wins over one that describes ("trên vneid"),
                # specific aspects over eligibility and process; then the earliest, longest cue
                asks = bool(ASKING_WORDS & set(cue.split()))
                if aspect in SPECIFIC and aspect != "online":
                    rank = 0 if asks else 1
                elif aspect == "process" and asks:  # "các bước … trực tuyến thế nào" asks how
                    rank = 2
                else:
                    rank = 3 if aspect == "online" else 4
                key = (rank, at, -len(cue), aspect)
                if best is None or key < best:
                    best = key
    return best[3] if best else None


_CONDITION = (" khi ", " nếu ", " vì ", " để ", " do ", " tại vì ", " bởi vì ")


def main_clause(sentence: str) -> str:
    """The part of a sentence that asks: after its last "thì" ("bố mẹ chưa kết hôn thì làm khai
    sinh thế nào"), else before a condition or purpose ("làm khai sinh cho con khi bố mẹ chưa kết
    hôn", "xin lý lịch tư pháp để đi làm"); "" when the sentence is one clause."""
    written, folded = f" {sentence} ", f" {fold(sentence)} "
    cut = folded.rfind(" thi ")
    if cut >= 0:
        return written[cut + 5 :].strip()
    # accented words as written; without accents only the unmistakable ones ("do" may be "đỏ")
    cuts = [at for word in _CONDITION if (at := written.find(word, 1)) > 0]
    cuts += [at for word in (" khi ", " neu ", " tai vi ", " boi vi ") if (at := folded.find(word, 1)) > 0]
    return written[: min(cuts)].strip() if cuts else ""


@lru_cache(maxsize=2048)
def read(text: str) -> Question:
    english = is_english(text)
    if english:
        text = from_english(text)
    sentences = [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]
    kept = []
    for sentence in sentences:
        clauses = [c for c in _CLAUSE_RE.split(sentence) if c.strip() and not _is_courtesy(c)]
        if clauses:
            kept.append(", ".join(clauses))
    if not kept:
        return Question(text, "", "", "", english)
    asking = [s for s in kept if _asks(s)]
    focus = asking[-1] if asking else kept[-1]
    clause = main_clause(normalize(focus))
    return Question(text, " ".join(kept), focus, clause, english, tuple(kept))
