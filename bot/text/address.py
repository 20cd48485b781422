"""How to address a citizen: elders who say they are 50 or older, or call themselves cô, chú or
bác, are addressed that way instead of "anh/chị" (standard library only, like the normaliser)."""

from __future__ import annotations

import datetime as dt
import re

from bot.text import fold, normalize

ELDER_AGE = 50
_SELF = r"(co|chu|bac)"
# "cho chú hỏi", "giúp cô với", "chú muốn hỏi…", "bác năm nay…": the word names the writer, not
# someone else ("cô giáo", "chú tôi", "bác sĩ" are not matched).
_SELF_RE = re.compile(
    rf"(?:^|\b(?:cho|giup|nho)\s){_SELF}\s(?:hoi|voi|muon|can|dang|co|o|lam|dinh|xin|nam nay|da|khong|chua|moi|nay)\b"
)
_AGE_RE = re.compile(r"\b(\d{2})\s*tuoi\b")
_BORN_RE = re.compile(r"\bsinh nam\s(19\d{2})\b")
_WORDS = {"co": "cô", "chu": "chú", "bac": "bác"}


def address_form(text: str, today: dt.date | None = None) -> str | None:
    """ "cô", "chú", "bác" or "cô/chú" when the message says the writer is an elder; else None."""
    folded = fold(normalize(text))
    said = _SELF_RE.search(folded)
    if said:
        return _WORDS[said.group(1)]
    ages = [int(a) for a in _AGE_RE.findall(folded)]
    born = [int(b) for b in _BORN_RE.findall(folded)]
    year = (today or dt.date.today()).year
    if any(ELDER_AGE <= age < 110 for age in ages) or any(ELDER_AGE <= year - b < 110 for b in born):
        return "cô/chú"
    return None


def address(text: str, form: str | None) -> str:
    """A bot text with "anh/chị" replaced by the citizen's form of address."""
    if not form:
        return text
    return text.replace("anh/chị", form).replace("Anh/chị", form[0].upper() + form[1:])
