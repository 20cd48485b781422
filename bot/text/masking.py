"""Mask credentials and identity numbers before a message is stored, shown or sent to Rasa.

Standard library only and linear: precompiled regexes run over a folded copy of the text (no
diacritics, lower case, same length), so offsets found there replace spans of the original.

`mask` hides passwords (the token after "mật khẩu", "mk", "password"… when it looks like one),
OTP codes, CCCD/CMND numbers (12 or 9 digits, with any spaces, dots or dashes, or glued to "cccd"),
card numbers (13–19 digits passing the Luhn check) and bank account numbers after "stk", "số tài
khoản"… It keeps what the citizen needs to talk about: fees (15.000 đồng, 1.500.000đ), dates,
years, procedure codes (1.001193), hotlines, phone numbers, quantities and dossier numbers
(H12.34-250101-0001). `mask_contacts` also hides phone numbers and emails, for previews, notices
and logs.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from bot.text import ABBREVIATIONS

PLACEHOLDER = {
    "password": "[mật khẩu đã ẩn]",
    "otp": "[mã OTP đã ẩn]",
    "id_number": "[số định danh đã ẩn]",
    "card": "[số thẻ đã ẩn]",
    "bank_account": "[số tài khoản đã ẩn]",
}
CONTACT_PLACEHOLDER = {"phone": "[số điện thoại đã ẩn]", "email": "[email đã ẩn]"}
_HIDDEN_NAME = {  # in the order a warning names them
    "password": "mật khẩu",
    "otp": "mã OTP",
    "id_number": "số định danh",
    "card": "số thẻ",
    "bank_account": "số tài khoản ngân hàng",
}


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def _fold_table() -> str:
    """For `str.translate`: every Latin letter with diacritics to its lower-case ASCII base, one
    character for one (a string indexed by code point is the fastest table; later ones stay)."""
    table = {ord("đ"): "d", ord("Đ"): "d"}
    table.update({ord(upper): upper.lower() for upper in string.ascii_uppercase})
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFD", chr(code))
        if len(decomposed) > 1 and decomposed[0].isascii() and decomposed[0].isalpha():
            table[code] = decomposed[0].lower()
    return "".join(table.get(code, chr(code)) for code in range(0x1F00))


_FOLD = _fold_table()
_PLACEHOLDER_KIND = {text: kind for kind, text in PLACEHOLDER.items()}
_PLACEHOLDER_RE = re.compile("|".join(re.escape(text) for text in PLACEHOLDER.values()))
_BARRIER = "\x01"  # stands for a placeholder in the folded copy: never a label, a word or a number


def _words(*phrases: str) -> str:
    """An alternation of whole folded words, longest first."""
    return "(?:" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")(?![a-z0-9])"


_START = r"(?<![a-z0-9])"

# --- passwords -------------------------------------------------------------------------------
# "mk" also means "mình" in chat: it labels a password only with a linking or owner word after it.
_WEAK_LABELS = {"mk"}
_PASSWORD_LABEL_RE = re.compile(
    _START
    + "("
    + _words(
        "mat khau",
        "mat ma",
        "password",
        "passwd",
        "passcode",
        "pass",
        "pwd",
        "pw",
        "mk",
        "ma pin",
        "so pin",
        "pin code",
    )
    + ")"
)
_LINK_RE = re.compile(r"\s*(?:" + _words("la", "is", "was", "bang", "thanh", "nhu sau") + r"|[:=]+|->|-(?=\s))")
_OWNER_RE = re.compile(
    r"\s*"
    + _words(
        "cua",
        "toi",
        "tui",
        "minh",
        "mik",
        "mk",
        "em",
        "anh",
        "chi",
        "con",
        "tao",
        "ban",
        "e",
        "a",
        "c",
        "t",
        "nha",
        "my",
        "your",
        "the",
        "for",
        "of",
        "on",
        "to",
        "new",
        "old",
        "current",
        "login",
        "account",
        "tai khoan",
        "tk",
        "acc",
        "dang nhap",
        "dang ky",
        "vneid",
        "vn eid",
        "dinh danh dien tu",
        "dinh danh",
        "dich vu cong",
        "dich vu cong quoc gia",
        "dvc",
        "dvcqg",
        "cong",
        "app",
        "ung dung",
        "email",
        "gmail",
        "mail",
        "zalo",
        "facebook",
        "fb",
        "icloud",
        "ngan hang",
        "bank",
        "wifi",
        "may",
        "dien thoai",
        "moi",
        "cu",
        "hien tai",
        "tam thoi",
        "mac dinh",
        "cap 2",
        "cap hai",
        "vao",
        "de vao",
        "atm",
        "visa",
        "banking",
        "internet banking",
        "mobile banking",
        "momo",
        "zalopay",
        "vnpay",
        "vietcombank",
        "vcb",
        "agribank",
        "bidv",
        "vietinbank",
        "techcombank",
        "mb",
        "acb",
        "tpbank",
    )
)
_TOKEN_RE = re.compile(r"\s*(\S+)")
_OPENING, _CLOSING = "\"'“‘(", "\"'”’.,;?)…"
# What follows a number that counts something rather than being a secret: "mật khẩu 8 ký tự".
_COUNT_AFTER_RE = re.compile(
    r"\s*"
    + _words(
        "ky tu",
        "ki tu",
        "chu so",
        "chu",
        "so",
        "lan",
        "ky",
        "characters",
        "chars",
        "digits",
        "letters",
        "ngay",
        "thang",
        "nam",
        "tuoi",
        "phut",
        "gio",
        "giay",
    )
)
# Words that follow a password label without being one: questions, complaints, chat shorthand.
_COMMON_WORDS = frozenset(short.translate(_FOLD) for short in ABBREVIATIONS) | frozenset(
    (
        "gi",
        "j",
        "z",
        "s",
        "sao",
        "ntn",
        "bnhieu",
        "bn",
        "k",
        "ko",
        "khong",
        "hok",
        "dc",
        "r",
        "roi",
        "oy",
        "ak",
        "ah",
        "a",
        "nhe",
        "nha",
        "vs",
        "voi",
        "trc",
        "mn",
        "mng",
        "ad",
        "ok",
        "oke",
        "okie",
        "is",
        "was",
        "not",
        "wrong",
        "incorrect",
        "invalid",
        "expired",
        "reset",
        "forgot",
        "forgotten",
        "lost",
        "changed",
        "change",
        "update",
        "required",
        "needed",
        "please",
        "help",
        "does",
        "doesn't",
        "dont",
        "don't",
        "cannot",
        "can't",
        "isn't",
        "still",
        "also",
        "too",
        "very",
        "must",
        "should",
        "have",
        "has",
        "had",
        "need",
        "needs",
        "policy",
        "rules",
        "requirements",
        "length",
        "field",
        "again",
        "of",
        "for",
        "to",
        "my",
        "your",
        "the",
        "and",
        "or",
        "what",
        "how",
        "why",
        "when",
        "where",
        "which",
        "that",
        "this",
        "it",
        "will",
        "would",
        "be",
        "been",
        "did",
        "do",
        "keeps",
        "no",
        "yes",
        "correct",
        "right",
        "recovery",
        "hint",
        "here",
        "below",
        "same",
        "different",
        "strong",
        "weak",
        "with",
        "without",
        "in",
        "at",
        "by",
        "from",
        "into",
        "if",
    )
)
# A diacritic-free Vietnamese syllable ("la", "thi", "nguyen"): words, not secrets.
_SYLLABLE_RE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?")

# --- numbers ---------------------------------------------------------------------------------
# A run is digit chunks ("079", "079.185", "12/03/2024") separated by spaces.
_CHUNK = r"[0-9]+(?:[.,/\-][0-9]+)*"
_RUN_RE = re.compile(_CHUNK + r"(?:[ \t]+" + _CHUNK + ")*")
_CHUNK_RE = re.compile(_CHUNK)
_DIGIT_RE = re.compile("[0-9]")
_DATE_RE = re.compile(r"[0-9]{1,2}([.\-])[0-9]{1,2}\1[0-9]{2,4}|[0-9]{4}([.\-])[0-9]{1,2}\2[0-9]{1,2}")
_MONEY_RE = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_MONEY_AFTER_RE = re.compile(r"\s*" + _words("d", "dong", "vnd", "nghin", "ngan", "trieu", "ty", "usd"))
_QUANTITY_AFTER_RE = re.compile(
    r"\s*(?:%|"
    + _words(
        "ngay",
        "thang",
        "nam",
        "tuan",
        "gio",
        "phut",
        "giay",
        "lan",
        "tuoi",
        "ban",
        "to",
        "trang",
        "nguoi",
        "ho so",
        "bo",
        "cai",
        "chiec",
        "m2",
        "km",
        "m",
        "cm",
        "kg",
        "ky tu",
        "chu so",
        "so",
        "chu",
        "hop",
    )
    + ")"
)
_YEAR_BEFORE_RE = re.compile(_START + r"(?:nam|year|in)\s+$")
_ID_LABEL_RE = re.compile(
    _START + _words("cccd", "cmnd", "cmt", "can cuoc", "chung minh", "dinh danh", "id", "citizen id", "id number")
)
_ID_GLUED_RE = re.compile(r"(?:cccd|cmnd|cmt|cc|cancuoc|socccd|socmnd|so|id|dinhdanh|sodinhdanh)$")
_BANK_GLUED_RE = re.compile(r"(?:stk|sotk|tk|sotaikhoan)$")
_OTP_CONTEXT_RE = re.compile(
    _START
    + _words(
        "otp",
        "ma xac thuc",
        "ma xac nhan",
        "ma kich hoat",
        "ma code",
        "code",
        "ma bao mat",
        "ma dang nhap",
        "verification code",
        "security code",
        "one time password",
    )
)
_BANK_LABEL_RE = re.compile(
    _START
    + r"(?:"
    + "|".join(
        sorted(
            (
                "so tai khoan",
                "so tk",
                "stk",
                "tai khoan ngan hang",
                "tk ngan hang",
                "account number",
                "account no",
                "acct no",
                "acc no",
                "bank account",
                "so tai khoan ngan hang",
            ),
            key=len,
            reverse=True,
        )
    )
    + r")(?![a-z])"
)
_BANK_WINDOW = 60  # characters after the label where the account number is looked for
_SENTENCE_END_RE = re.compile(r"[?!\n]|\.(?:\s|$)")
_HOTLINE_PREFIXES = ("1800", "1900")
_GLUE = "._-/"  # separators inside codes
_STANDALONE_DIGITS = 9  # a chunk this long is a number on its own, never part of a space-split one


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class _Scan:
    """One message: the original text, its folded copy, and the spans found to hide."""

    def __init__(self, text: str):
        self.text = text
        self.kinds: set[str] = set()
        self.spans: list[tuple[int, int, str]] = []
        self._hidden = bytearray(len(text))  # 1 where a span is hidden: constant-time lookups
        folded = text.translate(_FOLD)
        if "[" in text:
            parts, last = [], 0
            for match in _PLACEHOLDER_RE.finditer(text):
                self.kinds.add(_PLACEHOLDER_KIND[match.group(0)])
                parts += [folded[last : match.start()], _BARRIER * (match.end() - match.start())]
                last = match.end()
            folded = "".join(parts) + folded[last:]
        self.folded = folded

    def hide(self, start: int, end: int, kind: str) -> None:
        if self.hidden(start):
            return  # two labels before one secret ("mk của mk là …")
        self.spans.append((start, end, kind))
        self._hidden[start:end] = b"\x01" * (end - start)
        self.kinds.add(kind)

    def hidden(self, position: int) -> bool:
        return bool(self._hidden[position])

    def result(self) -> Masked:
        out, last = [], 0
        for start, end, kind in sorted(self.spans):
            if start < last:
                continue  # inside a span already replaced
            out += [self.text[last:start], PLACEHOLDER[kind]]
            last = end
        out.append(self.text[last:])
        return Masked("".join(out), frozenset(self.kinds))

    # --- passwords ---------------------------------------------------------------------------
    def passwords(self) -> None:
        for label in _PASSWORD_LABEL_RE.finditer(self.folded):
            position, linked, owned = label.end(), False, False
            for _ in range(8):  # bounded: a few owner and linking words at most
                if match := _LINK_RE.match(self.folded, position):
                    linked = True
                elif not linked and (match := _OWNER_RE.match(self.folded, position)):
                    owned = True
                else:
                    break
                position = match.end()
            if label.group(1) in _WEAK_LABELS and not (linked or owned):
                continue
            if token := _TOKEN_RE.match(self.text, position):
                raw = token.group(1)
                start = token.start(1) + len(raw) - len(raw.lstrip(_OPENING))
                secret = raw.lstrip(_OPENING).rstrip(_CLOSING)
                if secret and self._looks_secret(secret, start + len(secret)):
                    self.hide(start, start + len(secret), "password")

    def _looks_secret(self, token: str, end: int) -> bool:
        if _BARRIER in self.folded[end - len(token) : end] or not any(c.isalnum() for c in token):
            return False
        folded = token.translate(_FOLD)
        if folded in _COMMON_WORDS:
            return False
        if _CHUNK_RE.fullmatch(token) and _MONEY_AFTER_RE.match(self.folded, end):
            return False  # "mk tôi 1.000 đồng": a fee
        if token.isdigit() and len(token) <= 2:
            return not _COUNT_AFTER_RE.match(self.folded, end)  # "8 ký tự"
        if not token.isalpha():
            return True  # digits or symbols in it
        if not token.isascii():
            return False  # a Vietnamese word with diacritics
        mixed_case = not token.isupper() and any(c.isupper() for c in token[1:])
        return mixed_case or not _SYLLABLE_RE.fullmatch(folded)

    # --- bank accounts -----------------------------------------------------------------------
    def bank_accounts(self) -> None:
        for label in _BANK_LABEL_RE.finditer(self.folded):
            limit = min(len(self.folded), label.end() + _BANK_WINDOW)
            if stop := _SENTENCE_END_RE.search(self.folded, label.end(), limit):
                limit = stop.start()
            if (hidden := self.folded.find(_BARRIER, label.end(), limit)) >= 0:
                limit = hidden  # its account number was masked before
            for run in _RUN_RE.finditer(self.folded, label.end(), limit):
                letters = self._letters_before(run.start())
                if self.hidden(run.start()) or letters and not _BANK_GLUED_RE.search(letters):
                    continue  # a code ("H12.34-…") or a number already hidden
                chunks = self._chunks(run)
                if 6 <= len(_digits(chunks)) <= 19 and not self._money_or_date(chunks):
                    self.hide(chunks[0].start(), chunks[-1].end(), "bank_account")
                    break

    def _chunks(self, run: re.Match) -> list[re.Match]:
        """The run's first number: a long chunk alone, or short chunks split by spaces (19 digits at most)."""
        chunks: list[re.Match] = []
        total = 0
        for chunk in _CHUNK_RE.finditer(self.folded, run.start(), run.end()):
            length = _digit_count(chunk.group(0))
            if chunks and (length >= _STANDALONE_DIGITS or total + length > 19):
                break
            chunks.append(chunk)
            total += length
            if length >= _STANDALONE_DIGITS:
                break
        return chunks

    def _money_or_date(self, chunks: list[re.Match]) -> bool:
        first = chunks[0].group(0)
        if "/" in first or "," in first or _DATE_RE.fullmatch(first) or _MONEY_RE.fullmatch(first):
            return True
        return not first.startswith("0") and bool(_MONEY_AFTER_RE.match(self.folded, chunks[-1].end()))

    # --- numbers -----------------------------------------------------------------------------
    def numbers(self) -> None:
        if not _DIGIT_RE.search(self.folded):
            return
        otp_context = bool(_OTP_CONTEXT_RE.search(self.folded))
        whole = (len(self.text) - len(self.text.lstrip()), len(self.text.rstrip()))
        for run in _RUN_RE.finditer(self.folded):
            if run.start() > 0 and self.folded[run.start() - 1] == "+":
                continue  # an international phone number
            chunks = list(_CHUNK_RE.finditer(self.folded, run.start(), run.end()))
            if len(chunks) > 1 and self._split_id_number(chunks):
                self.hide(run.start(), run.end(), "id_number")
                continue
            group: list[re.Match] = []
            for chunk in chunks:
                kind = self._chunk_kind(chunk)
                if kind == "candidate" and _digit_count(chunk.group(0)) < _STANDALONE_DIGITS:
                    group.append(chunk)
                    continue
                self._classify(group, otp_context, whole)
                group = []
                if kind == "candidate":
                    self._classify([chunk], otp_context, whole)
                elif kind is not None:
                    self.hide(chunk.start(), chunk.end(), kind)
            self._classify(group, otp_context, whole)

    def _split_id_number(self, chunks: list[re.Match]) -> bool:
        """Whether a run split by spaces is one ID number as a whole, however its parts look
        ("0791850123 45", "07.9-18 5012345")."""
        start, end = chunks[0].start(), chunks[-1].end()
        if _digit_count(self.folded[start:end]) not in (9, 12):
            return False
        if any("/" in chunk.group(0) or "," in chunk.group(0) for chunk in chunks):
            return False
        if self.hidden(start) or self._glued(start, end)[1]:
            return False
        return chunks[0].group(0).startswith("0") or not _MONEY_AFTER_RE.match(self.folded, end)

    def _chunk_kind(self, chunk: re.Match) -> str | None:
        """ "candidate" for a number to classify with its neighbours, a kind for one glued to its
        label ("cccd079…"), None for a number to keep."""
        value, start, end = chunk.group(0), chunk.start(), chunk.end()
        if self.hidden(start) or not value.startswith("0") and _MONEY_AFTER_RE.match(self.folded, end):
            return None  # money ("150000 đồng"); an ID number may start with 0, money never does
        letters_before, glued = self._glued(start, end)
        if glued:
            digits = _digit_count(value)
            if value.isdigit() and digits == 12:
                return "id_number"  # twelve digits in a row are an ID number whatever is glued to them
            letters_after = end < len(self.folded) and self.folded[end].isalpha()
            if letters_before and _ID_GLUED_RE.search(letters_before) and digits in (9, 12) and not letters_after:
                return "id_number"
            if letters_before and _BANK_GLUED_RE.search(letters_before) and 6 <= digits <= 19:
                return "bank_account"
            return None  # a code: dossier number, form number
        if "/" in value or "," in value or _DATE_RE.fullmatch(value):
            return None
        if _MONEY_RE.fullmatch(value) and not _ID_LABEL_RE.search(self.folded, max(0, start - 24), start):
            return None
        return "candidate"

    def _glued(self, start: int, end: int) -> tuple[str, bool]:
        """The letters glued before a number, and whether anything glues it into a code
        ("H57-240101", "000.00.12.H57", "3x4")."""
        letters_before = self._letters_before(start)
        after = self.folded[end : end + 2]
        glued = (
            bool(letters_before)
            or after[:1].isalpha()
            or _joins(self.folded[max(0, start - 2) : start])
            or (len(after) == 2 and after[0] in _GLUE and after[1].isalnum())
        )
        return letters_before, glued

    def _letters_before(self, start: int) -> str:
        position = start
        while position > 0 and start - position < 16 and self.folded[position - 1].isalpha():
            position -= 1
        return self.folded[position:start]

    def _classify(self, group: list[re.Match], otp_context: bool, whole: tuple[int, int]) -> None:
        if not group:
            return
        digits = _digits(group)
        start, end = group[0].start(), group[-1].end()
        if len(digits) in (9, 12):
            self.hide(start, end, "id_number")
        elif 13 <= len(digits) <= 19 and luhn_ok(digits):
            self.hide(start, end, "card")
        elif 4 <= len(digits) <= 8 and all(chunk.group(0).isdigit() for chunk in group):
            alone = whole == (start, end) and len(digits) == 6
            if not (otp_context or alone) or digits.startswith(_HOTLINE_PREFIXES) and len(digits) == 8:
                return
            if _QUANTITY_AFTER_RE.match(self.folded, end):
                return  # "482913 lần" counts something
            if _YEAR_BEFORE_RE.search(self.folded, max(0, start - 8), start):
                return
            self.hide(start, end, "otp")


def _joins(before: str) -> bool:
    """Whether the two characters before a number are a letter or digit and a separator ("H57-")."""
    return len(before) == 2 and before[0].isalnum() and before[1] in _GLUE


def _digit_count(value: str) -> int:
    return sum(c.isdigit() for c in value)


def _digits(chunks: list[re.Match]) -> str:
    return "".join(c for chunk in chunks for c in chunk.group(0) if c.isdigit())


def mask(text: str) -> Masked:
    """Masks secrets. Text masked before (a webhook payload is masked before it is stored) keeps
    its kinds, so the citizen is still warned."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    scan = _Scan(text)
    scan.passwords()
    scan.bank_accounts()
    scan.numbers()
    return scan.result()


_PHONE_RE = re.compile(r"(?<![0-9A-Za-z+])(?:\+84|84|0)[ .\-]?[35789](?:[ .\-]?[0-9]){8}(?![0-9])")
_EMAIL_RE = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def mask_contacts(text: str) -> str:
    """`mask`, plus phone numbers and emails: for queue previews, Telegram notices and logs."""
    text = _PHONE_RE.sub(CONTACT_PLACEHOLDER["phone"], mask(text).text)
    return _EMAIL_RE.sub(CONTACT_PLACEHOLDER["email"], text) if "@" in text else text


def hidden_phrase(kinds: frozenset[str] | set[str]) -> str:
    """What was hidden, in words: "mật khẩu", "mật khẩu và mã OTP", "mật khẩu, mã OTP và số thẻ"."""
    names = [name for kind, name in _HIDDEN_NAME.items() if kind in kinds]
    return " và ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


_SECRET_REQUEST_RE = re.compile(
    r"\b(mat khau|mat ma|password|otp|ma xac (thuc|nhan)|ma pin|ma kich hoat|"
    r"so (cccd|cmnd|can cuoc|dinh danh|the|tai khoan)|(anh|chup) (cccd|cmnd|can cuoc))\b"
)


def asks_for_secret(text: str) -> bool:
    """Whether a volunteer's draft mentions a password, an OTP or an ID number: the console asks
    the volunteer to make sure they are not asking the citizen to share one."""
    return bool(_SECRET_REQUEST_RE.search(text.translate(_FOLD)))
