"""Console accounts and sessions: Argon2 password hashes, server-side sessions (only a hash of the
cookie's token is stored, so a leaked database opens no browser), a CSRF token per session sent
back in a header on every change, and roles.

Logins hash in PASSWORD_HASH_CONCURRENCY worker threads, never on the event loop: a hash takes tens
of milliseconds of CPU and 64 MB, so a flood of logins must neither stall other requests nor run
unbounded. Accounts made from the command line hash directly (no loop to keep free).

An account whose password was set by someone else (an admin's reset, an account made with a
temporary password) must change it before anything else: `principal_of` refuses every route but
the few in PENDING_PASSWORD_ROUTES with 403 PasswordChangeRequired."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import ConsoleSession, Volunteer, as_utc, utcnow

COOKIE = "console_session"
CSRF_HEADER = "X-CSRF-Token"
ROLES = ("volunteer", "staff", "admin")
MIN_PASSWORD_CHARS = 10
# What an account that must change its password may still do: see who it is, leave, change it.
# None takes a path parameter, so the request's path (less a proxy's root_path) names the route.
PENDING_PASSWORD_ROUTES = frozenset(
    {("GET", "/console/api/me"), ("POST", "/console/api/logout"), ("POST", "/admin/api/me/password")}
)
_hasher = PasswordHasher()
# Verified against when the username does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Principal:
    volunteer_id: int
    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class PasswordChangeRequired(HTTPException):
    """403 for an account that must change its password first; the gateway adds
    `"must_change_password": true` to its JSON so the pages open the change form."""

    def __init__(self):
        super().__init__(403, "Anh/chị cần đổi mật khẩu trước khi tiếp tục.")


def hash_password(password: str) -> str:
    """The Argon2 hash of a new password; ValueError when it is too short."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def create_account(
    session: Session,
    username: str,
    display_name: str,
    password: str,
    role: str = "volunteer",
    telegram_user_id: str | None = None,
) -> Volunteer:
    return add_account(session, username, display_name, hash_password(password), role, telegram_user_id)


def add_account(
    session: Session,
    username: str,
    display_name: str,
    password_hash: str,
    role: str,
    telegram_user_id: str | None,
    must_change_password: bool = False,
) -> Volunteer:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    volunteer = Volunteer(
        username=username.strip().lower(),
        display_name=display_name.strip(),
        password_hash=password_hash,
        role=role,
        telegram_user_id=telegram_user_id,
        must_change_password=must_change_password,
    )
    session.add(volunteer)
    session.flush()
    return volunteer


def set_password(volunteer: Volunteer, password: str) -> None:
    volunteer.password_hash = hash_password(password)


def end_sessions(session: Session, volunteer_id: int, keep_token: str | None = None) -> None:
    """Log an account out everywhere (but for the browser holding `keep_token`)."""
    query = delete(ConsoleSession).where(ConsoleSession.volunteer_id == volunteer_id)
    if keep_token:
        query = query.where(ConsoleSession.token_hash != _digest(keep_token))
    session.execute(query)


@cache
def _hashing_threads() -> ThreadPoolExecutor:
    """One pool per process, whatever event loops run in it: its size bounds the hashes at once."""
    return ThreadPoolExecutor(get_settings().password_hash_concurrency, thread_name_prefix="argon2")


async def _off_loop(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_hashing_threads(), function, *args)


async def hash_password_off_loop(password: str) -> str:
    return await _off_loop(hash_password, password)


async def password_matches(password_hash: str, password: str) -> bool:
    return await _off_loop(_verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(username: str, password: str) -> Volunteer | None:
    """The active account with this username and password (detached from any session), else None.
    No database session stays open while the hash waits for a thread."""
    with session_scope() as session:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.username == username.strip().lower()))
    if not await password_matches(volunteer.password_hash if volunteer else _DUMMY_HASH, password):
        return None
    if volunteer is None or not volunteer.active:
        return None
    if _hasher.check_needs_rehash(volunteer.password_hash):
        rehashed = await _off_loop(_hasher.hash, password)
        with session_scope() as session:
            session.get(Volunteer, volunteer.id).password_hash = rehashed
    return volunteer


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, volunteer: Volunteer, hours: float) -> tuple[str, str]:
    """A new session for a logged-in volunteer: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    session.add(
        ConsoleSession(
            token_hash=_digest(token), volunteer_id=volunteer.id, csrf=csrf, expires_at=now + dt.timedelta(hours=hours)
        )
    )
    volunteer.last_seen_at = now
    return token, csrf


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))


def _route_path(request: Request) -> str:
    path, root = request.scope["path"], request.scope.get("root_path", "")
    return path.removeprefix(root) if root else path


def principal_of(session: Session, request: Request) -> Principal:
    """The logged-in volunteer of a request; 401 without a valid session, 403 when a change
    comes without the session's CSRF token, 403 PasswordChangeRequired when the account must
    change its password and the route is not one of PENDING_PASSWORD_ROUTES."""
    token = request.cookies.get(COOKIE)
    row = session.get(ConsoleSession, _digest(token)) if token else None
    now = utcnow()
    if row is None or as_utc(row.expires_at) < now:
        raise HTTPException(401, "Phiên đăng nhập đã hết hạn, anh/chị vui lòng đăng nhập lại.")
    volunteer = session.get(Volunteer, row.volunteer_id)
    if volunteer is None or not volunteer.active:
        raise HTTPException(401, "Tài khoản đã bị khóa.")
    if volunteer.must_change_password and (request.method, _route_path(request)) not in PENDING_PASSWORD_ROUTES:
        raise PasswordChangeRequired()
    if request.method not in ("GET", "HEAD") and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), row.csrf.encode()
    ):
        raise HTTPException(403, "Thiếu mã CSRF hợp lệ.")
    volunteer.last_seen_at = now
    return Principal(volunteer.id, volunteer.display_name, volunteer.role, row.csrf)
