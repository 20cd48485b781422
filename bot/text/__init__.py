"""Vietnamese text normaliser shared by the app (Python 3.11) and Rasa's components (Python 3.10).

Standard library only: Rasa's environment imports this package and nothing else of the app.

`normalize` is what search and Rasa see: NFC, lower case, one tone-mark placement (the traditional
one: hòa, thủy), punctuation to spaces except inside numbers and codes (1.001193, 8.000, 12/2024),
chat and domain abbreviations expanded. `fold` removes every diacritic (đ→d) for the
diacritic-free form used beside the accented one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

__all__ = ["normalize", "fold", "abbreviate", "place_tone", "tokens", "ABBREVIATIONS"]

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền, sắc, ngã, hỏi, nặng
_VOWELS = set("aăâeêioôơuưy")
_QUALITY = set("ăâêôơư")  # vowels with their own diacritic take the tone mark first


def _load_abbreviations() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in (Path(__file__).with_name("abbreviations.tsv")).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        short, _, expansion = line.partition("\t")
        table[unicodedata.normalize("NFC", short.strip())] = expansion.strip()
    return table


ABBREVIATIONS = _load_abbreviations()

# A "word" is a run of letters (with marks); numbers and codes keep their inner . , / - :
_TOKEN_RE = re.compile(r"\d+(?:[.,/:\-]\d+)*|[^\W\d_]+(?:/[^\W\d_]+)?", re.UNICODE)


def _split_tone(syllable: str) -> tuple[str, str | None]:
    """Return the syllable without its tone mark (quality marks kept) and the tone mark."""
    tone = None
    out = []
    for ch in unicodedata.normalize("NFD", syllable):
        if ch in _TONES:
            tone = ch
        else:
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)), tone


def _tone_index(bare: str) -> int | None:
    """Index of the letter that carries the tone in a toneless syllable, traditional placement."""
    start = 0
    if bare[:2] in ("qu", "gi") and len(bare) > 2 and bare[2] in _VOWELS:
        start = 2  # the u of qu- and the i of gi- belong to the onset
    positions = [i for i in range(start, len(bare)) if bare[i] in _VOWELS]
    if not positions:
        return 1 if bare == "gi" else None
    first, last = positions[0], positions[-1]
    cluster = list(range(first, last + 1))
    if any(bare[i] not in _VOWELS for i in cluster):
        return None  # not one vowel cluster: not a Vietnamese syllable, leave it alone
    with_quality = [i for i in cluster if bare[i] in _QUALITY]
    if with_quality:
        return with_quality[-1]
    if len(cluster) == 1:
        return cluster[0]
    has_final = last < len(bare) - 1
    if has_final:
        return cluster[-1]
    if len(cluster) == 3:
        return cluster[1]
    return cluster[0]


def place_tone(word: str) -> str:
    """Re-place the tone mark of one lower-case syllable (hoà → hòa, thuỷ → thủy)."""
    bare, tone = _split_tone(word)
    if tone is None:
        return word
    index = _tone_index(bare)
    if index is None:
        return word
    marked = unicodedata.normalize("NFC", unicodedata.normalize("NFD", bare[index]) + tone)
    return bare[:index] + marked + bare[index + 1 :]


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


@lru_cache(maxsize=4096)
def normalize(text: str, expand: bool = True) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    words = []
    for token in tokens(text):
        if token[0].isdigit():
            words.append(token)
            continue
        words.extend(_words_of(token, expand))
    return " ".join(words)


def _words_of(token: str, expand: bool) -> list[str]:
    """One token's words: a short form expanded ("a/c" as a whole, else each side of a slash,
    so normalising twice changes nothing), a word with its tone mark placed."""
    if expand and token in ABBREVIATIONS:
        return ABBREVIATIONS[token].split()
    if "/" in token:
        return [word for part in token.split("/") for word in _words_of(part, expand)]
    return [place_tone(token)]


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Remove diacritics (đ→d); keeps everything else as it is."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


# Expansion → short form, longest first: writes the chat-register copy of a text (training data).
_SHORT_FORMS = sorted(
    ((long, short) for short, long in ABBREVIATIONS.items() if long and len(short) < len(long)),
    key=lambda pair: -len(pair[0]),
)


def abbreviate(text: str) -> str:
    """The inverse of the expansion in `normalize`: "giấy khai sinh" → "gks", "không" → "ko"."""
    for long, short in _SHORT_FORMS:
        text = re.sub(rf"\b{re.escape(long)}\b", short, text)
    return text
