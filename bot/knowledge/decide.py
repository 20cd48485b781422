"""One decision per citizen message: which procedure (or none), which aspect, what to do.

The procedure comes from all the evidence, strongest first: a button's entity; what the question
itself names (the asking sentence before the story around it; a topic or national procedure we do
not cover is declined by name); the procedure already in context; what the whole message names;
Rasa's entity. No intent alone decides it: "tới đâu" is a *where* question about the procedure
named, and only with nothing named is it dossier tracking. Greetings and thanks around a question
never swallow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from bot.knowledge import answers
from bot.knowledge.answers import Reply
from bot.knowledge.outside import Match
from bot.knowledge.passages import pick
from bot.knowledge.question import ASPECT_CUES, Question, first_cue, is_question_word, padded, read, words_of
from bot.knowledge.search import KnowledgeIndex, content_words
from bot.messages import About
from bot.text import fold, normalize

INTENT_ASPECT = {intent: aspect for aspect, (intent, _) in answers.ASPECTS.items()}
CHITCHAT = ("greet", "thank", "goodbye", "bot_challenge")
TRACKING = "tra-cuu-ho-so"  # "where is my dossier", when no procedure is named
SURE_INTENT = 0.6
SURE_SEARCH = 0.5
KNOWN_WORDS = 0.3  # below this share of words any procedure name uses, a message is not understood
# search confidence + coverage an entry needs, fitted on the training questions (NLU examples against
# knowledge/training/out_of_catalogue.txt); the lower one when nothing outside the catalogue fits better
FITS = 0.8
FITS_IF_NOTHING_ELSE = 0.6
# Words of aspect cues, left out when a declined question is named back to the citizen.
CUE_WORDS = {
    w
    for phrases in ASPECT_CUES.values()
    for p in phrases
    for w in p.split()
    if w not in ("giay", "to", "ho", "so", "xa", "phuong")
}


@dataclass(frozen=True)
class Evidence:
    text: str  # what the citizen wrote (secrets masked), or a button's payload
    intent: str | None = None
    confidence: float = 0.0
    button: str | None = None  # a button's procedure
    entity: str | None = None  # Rasa's procedure entity, already a slug
    context: str | None = None  # the procedure the conversation is about

    def question(self) -> Question:
        """The citizen's words read as a question (a button's payload says nothing to read)."""
        return read("" if self.button else self.text)


@dataclass(frozen=True)
class Resolution:
    slug: str | None
    decline: Match | None = None
    candidates: list[str] = field(default_factory=list)
    guessed: bool = False  # nothing pointed anywhere: the candidates are just common ones
    why: str = ""  # which evidence decided: button, name, search, context, topic, scope, national, nothing…


@dataclass(frozen=True)
class Decision:
    about: About
    replies: list[Reply]
    why: str = ""  # which evidence decided the procedure (see Resolution.why)

    @property
    def from_the_words(self) -> bool:
        """The message's own words decided it (not the context, a button or a guess)."""
        return self.why in ("name", "exact", "search", "topic", "scope", "national", "ambiguous")


# aspect cues and generic words of every procedure name, longest first
_CUES = sorted(
    {p for phrases in ASPECT_CUES.values() for p in phrases}
    | {fold(normalize(p)) for p in ("đăng ký", "thủ tục", "hồ sơ", "giấy tờ", "làm sao")},
    key=len,
    reverse=True,
)
_GENERIC = tuple(fold(normalize(w)) + " " for w in ("thủ tục", "đăng ký", "làm lại", "làm", "xin cấp", "cấp", "xin"))


def naming_words(text: str) -> list[str]:
    """The words of a text that say what it is about: not asking words, not aspect cues."""
    return words_of(text, _CUES)


def said_as(text: str) -> str:
    """What the citizen asked about, in their words, to name it when declining."""
    words = normalize(text).split()
    kept = [w for w in words if fold(w) not in CUE_WORDS and not is_question_word(w)]
    return " ".join(kept[:12])


def _decline(index: KnowledgeIndex, text: str) -> Match:
    found = index.outside.explains_better(text, None, relaxed=True)
    return found if found is not None else Match(said_as(text) or None)


def resolve(index: KnowledgeIndex, question: Question, evidence: Evidence) -> Resolution:
    """Which procedure the message is about (see the module's docstring for the order)."""
    if evidence.button in index.by_slug:
        return Resolution(evidence.button, why="button")
    declined = _declined_topic(index, question)
    if declined is not None:
        return declined
    unsure: list[str] = []  # what the search found where it did not cover the question's words
    for level in question.levels:
        found = _at_level(index, level, evidence, unsure, clause=level == question.clause)
        if found is not None:
            return found
    if (
        evidence.intent == "ask_status"
        and evidence.confidence >= SURE_INTENT
        and TRACKING in index.by_slug
        and not mentioned(index, question.asked)
    ):  # "hồ sơ của tôi tới đâu rồi", naming nothing
        return Resolution(TRACKING, why="status")
    named = naming_words(question.asked)
    if named and index.outside.known_share(" ".join(named)) < KNOWN_WORDS:
        # words nothing is known by ("asdkjh qwe"): not understood, whatever the context
        return Resolution(
            None, candidates=[slug for slug in answers.POPULAR if slug in index.by_slug], guessed=True, why="nothing"
        )
    if evidence.context in index.by_slug:
        return Resolution(evidence.context, why="context")
    if question.story:
        found = _at_level(index, question.story, evidence, unsure)
        if found is not None:
            return found
    if evidence.entity in index.by_slug:
        return Resolution(evidence.entity, why="entity")
    if evidence.intent == "ask_status" and TRACKING in index.by_slug:
        return Resolution(TRACKING, why="status")
    if unsure:  # nothing outside the catalogue explains it better: the search's guess stands
        return Resolution(unsure[0], why="search")
    if len(named) >= 2:
        # something specific was asked, in words we know, and nothing of ours fits
        return Resolution(None, decline=_decline(index, question.focus or question.asked), why="nothing")
    return Resolution(
        None, candidates=[slug for slug in answers.POPULAR if slug in index.by_slug], guessed=True, why="nothing"
    )


def _starts_asking(text: str) -> bool:
    """ "có được không, hay…": a clause that only asks about what came before it."""
    words = fold(normalize(text)).split()
    return bool(words) and words[0] in ("co", "duoc", "phai", "bat", "can", "hay", "la")


@lru_cache(maxsize=64)  # asked of the same parts several times a turn
def mentioned(index: KnowledgeIndex, text: str) -> dict[str, list[tuple[int, int]]]:
    """Entries whose title or an alias the text contains word for word (accent-insensitively),
    with where (spans in the folded text)."""
    spaced = padded(text)
    found = {}
    for slug, names in _names(index):
        spans = [(at + 1, at + 1 + len(n)) for n in names if (at := spaced.find(f" {n} ")) >= 0]
        if spans:
            found[slug] = spans
    return found


def _declined_topic(index: KnowledgeIndex, question: Question) -> Resolution | None:
    """A topic we do not cover that the message asks about: the asking sentence decides when it
    names one of ours; else the whole message; else its last sentence that names anything
    ("…hộ kinh doanh quán ăn, giờ phường đòi giấy an toàn thực phẩm. Giấy này xin ở đâu?")."""
    if mentioned(index, question.focus):
        return _topic(index, question.focus)
    found = _topic(index, question.focus) or _topic(index, question.asked)
    if found is not None:
        return found
    for sentence in reversed(question.sentences):
        found = _topic(index, sentence)
        if found is not None or mentioned(index, sentence) or index.outside.topic(sentence):
            return found
    return None


def _topic(index: KnowledgeIndex, text: str) -> Resolution | None:
    """A topic we do not cover, unless one of ours is named apart from it ("lý lịch tư pháp để đi
    xuất khẩu lao động" asks for the record; "đăng ký kết hôn với người nước ngoài" is the topic)."""
    if not text or index.named(content_words(text)):
        return None
    topic = index.outside.topic(text)
    if topic is None or not all(_overlap(named, topic[1]) for named in mentioned(index, text).values()):
        return None
    return Resolution(None, decline=topic[0], why="topic")


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for start, end in a for other_start, other_end in b)


def _core(name: str) -> str:
    """A name without its leading generic verb ("đăng ký khai tử" → "khai tử")."""
    for generic in _GENERIC:
        if name.startswith(generic) and len(name[len(generic) :].split()) >= 2:
            return _core(name[len(generic) :])
    return name


@lru_cache(maxsize=4)  # per live index: a new one comes with every knowledge edit
def _names(index: KnowledgeIndex) -> list[tuple[str, set[str]]]:
    found = []
    for entry in index.entries:
        names = {fold(normalize(n)) for n in [entry.title, *entry.aliases]}
        # the title without its verb ("khai tử"); an alias's core can be too general ("công ty")
        names.add(_core(fold(normalize(entry.title))))
        # one word names it only when it is a word of its own ("vneid"), not an everyday one
        found.append((entry.slug, {n for n in names if len(n.split()) >= 2 or len(n) >= 5}))
    return found


def _at_level(
    index: KnowledgeIndex, text: str, evidence: Evidence, unsure: list[str], clause: bool = False
) -> Resolution | None:
    """The procedure one part of the message names, a decline, or None: this part names nothing
    for sure (a guess the search made is added to `unsure`)."""
    if not naming_words(text) or (clause and first_cue(padded(text)) == "eligibility" and _starts_asking(text)):
        return None
    outside = index.outside
    result = index.search(text, k=5)
    spans = mentioned(index, text)
    if not result.exact:
        declined = _topic(index, text)
        if declined is not None:
            return declined
        excluded = {e.slug for e, out in zip(index.entries, index.out_of_scope(text)) if out}
        if excluded and set(spans) <= excluded:  # a scope note excludes this, and nothing else is named
            return Resolution(None, decline=_decline(index, text), why="scope")
    slugs = [h.slug for h in result.hits]
    names = [slug for slug in slugs if slug in spans] + [slug for slug in spans if slug not in slugs]
    if result.exact:
        return Resolution(result.best.slug, why="exact")
    if slugs[0] in names:  # named word for word, and the search agrees
        match = outside.explains_better(text, slugs[0])
        if match is not None:  # named, but what is asked is another procedure of the same family
            return Resolution(None, decline=match, why="national")
        return Resolution(slugs[0], why="name")
    # how well the best entry fits: the search's calibrated confidence plus how much of what the
    # question names the entry is known by (an unknown word like "sáng chế" lowers it)
    fit = result.confidence + outside.coverage(" ".join(naming_words(text)), slugs[0])
    covered = not result.abstain and fit >= FITS
    if names and (not covered or result.confidence < SURE_SEARCH):
        # the search is unsure, and a name was said word for word: of several, the best ranked
        return Resolution(names[0], why="name")
    if clause:  # the main clause alone counts only when it names a procedure outright
        return None
    if not covered:
        match = outside.explains_better(text, None)
        if match is None and not result.abstain and fit >= FITS_IF_NOTHING_ELSE:
            unsure.append(slugs[0])
        return Resolution(None, decline=match, why="national") if match else None
    match = outside.explains_better(text, result.best.slug)
    if match is not None:
        return Resolution(None, decline=match, why="national")
    if result.ambiguous:
        for preferred in (evidence.context, evidence.entity, *names):
            if preferred in slugs[:2]:
                return Resolution(preferred, why="search")
        return Resolution(None, candidates=slugs[:3], why="ambiguous")
    return Resolution(result.best.slug, why="search")


def aspect_of(question: Question, evidence: Evidence) -> str:
    cue = question.aspect()
    if cue is not None:
        return cue
    if evidence.intent in INTENT_ASPECT and (evidence.confidence >= SURE_INTENT or evidence.button):
        return INTENT_ASPECT[evidence.intent]
    return "overview"


def decide(index: KnowledgeIndex, evidence: Evidence) -> Decision:
    question = evidence.question()
    if evidence.intent in CHITCHAT and not question.asked and not evidence.button:
        return Decision(About(None, None, "chitchat"), [])
    found = resolve(index, question, evidence)
    aspect = INTENT_ASPECT.get(evidence.intent, "overview") if evidence.button else aspect_of(question, evidence)
    lead = [answers.IN_ENGLISH] if question.english else []
    if found.slug is None:
        named_decline = found.decline is not None and found.decline.name is not None
        if evidence.intent in CHITCHAT and not named_decline:
            return Decision(About(None, None, "chitchat"), [])
        return unresolved(index, found, aspect, _aspect_intent(aspect), lead)
    entry = index.by_slug[found.slug]
    if found.slug != evidence.context and entry.slug == "khai-tu":
        lead.append(answers.CONDOLENCE)
    passage = pick(entry, question, aspect) if not evidence.button else None
    if passage is not None:
        main = answers.passage_answer(entry, passage)
        whole = aspect if aspect in answers.ASPECTS else None
        more = answers.follow_up(entry, exclude=None, whole=whole)
    else:
        main = answers.aspect_answer(entry, aspect, yes_no=question.yes_no)
        more = answers.follow_up(entry, exclude=aspect)
    return Decision(About(entry.slug, aspect, "answer"), lead + [main, more], found.why)


def unresolved(
    index: KnowledgeIndex, found: Resolution, aspect: str | None, intent: str, lead: list[Reply] = ()
) -> Decision:
    """No procedure: decline by name, or ask which one with buttons that carry `intent`."""
    if found.decline is not None:
        return Decision(
            About(None, aspect, "decline"), [*lead, *answers.decline(found.decline.name, found.decline.code)], found.why
        )
    names = [(slug, index.by_slug[slug].title) for slug in found.candidates]
    ask = answers.choose_procedure(names, intent, found.guessed)
    return Decision(About(None, aspect, "clarify"), [*lead, ask], found.why)


def _aspect_intent(aspect: str) -> str:
    return answers.ASPECTS[aspect][0] if aspect in answers.ASPECTS else "ask_procedure"
