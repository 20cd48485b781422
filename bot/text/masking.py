"""Mask credentials and identity numbers before a message is stored, shown or sent to Rasa.

Standard library only. What is masked: 12-digit CCCD / personal identification numbers, 9-digit
CMND numbers, bank card numbers (13–19 digits passing the Luhn check), OTP codes, and the word
after "mật khẩu"/"password". What is kept: dates, money (8.000 đồng), procedure codes (1.001193),
phone numbers, and dossier numbers with letters (H12.34-250101-0001) the citizen needs to track.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import fold

PLACEHOLDER = {
    "id_number": "[số định danh đã ẩn]",
    "card": "[số thẻ đã ẩn]",
    "otp": "[mã OTP đã ẩn]",
    "password": "[mật khẩu đã ẩn]",
}

# Digit groups joined only by spaces or dashes ("0790 1234 5678"); a dot or slash ends a number so
# money, dates and procedure codes stay whole. Letters or dots glued on either side make it a code.
_NUMBER_RE = re.compile(r"(?<![\w.\-/])\d+(?:[ \-]\d+)*(?![\w/]|\.\d)")
_OTP_CONTEXT_RE = re.compile(r"\b(otp|mã xác (thực|nhận)|ma xac (thuc|nhan)|mã code|ma code|mã kích hoạt|ma kich hoat)\b", re.I)
_PASSWORD_RE = re.compile(
    r"(?P<label>\b(?:mật khẩu|mat khau|mật mã|mat ma|pass(?:word)?|mk|pw)\b\s*(?:là|la|:|=)?\s*)(?P<secret>\S+)",
    re.I,
)


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _classify(digits: str, otp_context: bool, whole_message: bool) -> str | None:
    if len(digits) == 12:
        return "id_number"
    if len(digits) == 9:
        return "id_number"
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return "card"
    if 4 <= len(digits) <= 8 and (otp_context or (whole_message and len(digits) == 6)):
        return "otp"
    return None


def mask(text: str) -> Masked:
    """Masks secrets. Text masked before (a webhook payload is masked before it is stored) keeps
    its kinds, so the citizen is still warned."""
    kinds: set[str] = {kind for kind, placeholder in PLACEHOLDER.items() if placeholder in text}

    def password(match: re.Match) -> str:
        secret = match.group("secret")
        if secret.startswith("[") or secret.lower() in {"gì", "gi", "sao", "bao", "của", "cua", "thì", "thi"}:
            return match.group(0)  # a question about passwords, not a password
        kinds.add("password")
        return match.group("label") + PLACEHOLDER["password"]

    text = _PASSWORD_RE.sub(password, text)
    otp_context = bool(_OTP_CONTEXT_RE.search(text))
    whole = text.strip()

    def number(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        kind = _classify(digits, otp_context, match.group(0) == whole)
        if kind is None:
            return match.group(0)
        kinds.add(kind)
        return PLACEHOLDER[kind]

    text = _NUMBER_RE.sub(number, text)
    return Masked(text, frozenset(kinds))


_SECRET_REQUEST_RE = re.compile(
    r"\b(mat khau|mat ma|password|otp|ma xac (thuc|nhan)|ma pin|ma kich hoat|"
    r"so (cccd|cmnd|can cuoc|dinh danh|the|tai khoan)|(anh|chup) (cccd|cmnd|can cuoc))\b"
)


def asks_for_secret(text: str) -> bool:
    """Whether a volunteer's draft mentions a password, an OTP or an ID number: the console asks
    the volunteer to make sure they are not asking the citizen to share one."""
    return bool(_SECRET_REQUEST_RE.search(fold(text.lower())))
