"""How the console answers with a file a citizen sent. Citizens choose the bytes, the file name and
(on Zalo) the CDN's content type, and the file is served on the gateway's own origin, where the
volunteer's session lives: only images whose bytes say JPEG, PNG, WebP or GIF are shown inline,
typed from those bytes; anything else is a download the browser never renders."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from fastapi.responses import Response

# Every media answer: never rendered as another type, no script, no fetches, its own opaque origin
# even if a browser ignored the disposition; never kept in a shared or disk cache (ID papers).
GUARD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
_IMAGE_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def sniff_image(content: bytes) -> str | None:
    """The image kind the bytes start with (their magic number), else None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def content_disposition(kind: str, filename: str) -> str:
    """`kind; filename="ascii"; filename*=UTF-8''…` (RFC 6266 / 5987): old browsers get a safe
    ASCII name (accents dropped, quotes and separators replaced), the others the exact one."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._") or "tep"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def media_response(content: bytes, filename: str) -> Response:
    """An image shown inline when its bytes are one, typed from them; anything else as an
    octet-stream attachment."""
    kind = sniff_image(content)
    if kind is not None:
        return Response(
            content, media_type=_IMAGE_TYPES[kind], headers={**GUARD_HEADERS, "Content-Disposition": "inline"}
        )
    return Response(
        content,
        media_type="application/octet-stream",
        headers={**GUARD_HEADERS, "Content-Disposition": content_disposition("attachment", filename)},
    )
