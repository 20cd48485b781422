"""Console accounts as admins manage them (the admin page and `python -m bot volunteer`), and the
audit log they read. Every change writes its audit line in the same transaction; no line ever holds
a password.

Passwords set by someone else are temporary: a new account or a reset gets a generated one, shown
once, and the account must change it at its next login (bot.console.auth.principal_of enforces it).
Hashes are computed by the callers (off the event loop in the routes), so these functions stay
plain database work."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.console import auth
from bot.storage import audit
from bot.storage.models import AuditEntry, Volunteer, as_utc

COMMAND_LINE = "dòng lệnh"  # the actor of changes made on the server with `python -m bot`
# No 0/o, 1/l/i: a temporary password is read out over the phone or copied from a note.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_TAKEN = "Tên đăng nhập hoặc mã Telegram đã được dùng."


class AccountError(Exception):
    """Why an account change was refused: 404 (no such account) or 409 (it would break a rule)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def temporary_password() -> str:
    """Three groups of four characters (about 59 bits), e.g. "k7pq-m3xr-9tdw"."""
    return "-".join("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(3))


def view(volunteer: Volunteer) -> dict[str, Any]:
    return {
        "id": volunteer.id,
        "username": volunteer.username,
        "display_name": volunteer.display_name,
        "role": volunteer.role,
        "active": volunteer.active,
        "online": volunteer.online,
        "telegram_user_id": volunteer.telegram_user_id,
        "must_change_password": volunteer.must_change_password,
        "created_at": as_utc(volunteer.created_at).isoformat(),
        "last_seen_at": as_utc(volunteer.last_seen_at).isoformat() if volunteer.last_seen_at else None,
    }


def listing(session: Session) -> list[dict[str, Any]]:
    return [view(v) for v in session.scalars(select(Volunteer).order_by(Volunteer.active.desc(), Volunteer.username))]


def account(session: Session, account_id: int) -> Volunteer:
    volunteer = session.get(Volunteer, account_id)
    if volunteer is None:
        raise AccountError(404, "Không có tài khoản này.")
    return volunteer


def by_username(session: Session, username: str) -> Volunteer:
    volunteer = session.scalar(select(Volunteer).where(Volunteer.username == username.strip().lower()))
    if volunteer is None:
        raise AccountError(404, f"Không có tài khoản {username}.")
    return volunteer


def _telegram_is_free(session: Session, telegram_user_id: str | None, volunteer_id: int | None = None) -> None:
    if telegram_user_id is None:
        return
    holder = session.scalar(select(Volunteer.id).where(Volunteer.telegram_user_id == telegram_user_id))
    if holder is not None and holder != volunteer_id:
        raise AccountError(409, "Mã Telegram này đã gắn với một tài khoản khác.")


def _flush(session: Session) -> None:
    """Flush, turning a unique-constraint race lost to another request into a 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise AccountError(409, _TAKEN) from exc


def create(
    session: Session,
    actor_id: int | None,
    *,
    username: str,
    display_name: str,
    role: str,
    telegram_user_id: str | None,
    password_hash: str,
    must_change_password: bool,
) -> Volunteer:
    if session.scalar(select(Volunteer.id).where(Volunteer.username == username.strip().lower())) is not None:
        raise AccountError(409, "Tên đăng nhập này đã có người dùng.")
    _telegram_is_free(session, telegram_user_id)
    try:
        volunteer = auth.add_account(
            session, username, display_name, password_hash, role, telegram_user_id, must_change_password
        )
    except IntegrityError as exc:
        raise AccountError(409, _TAKEN) from exc
    audit.record(session, actor_id, "account.create", volunteer.username, role=role, telegram_user_id=telegram_user_id)
    return volunteer


def _keep_an_admin(session: Session, volunteer: Volunteer) -> None:
    """Refuse a change that would leave no active admin (nobody could manage accounts any more)."""
    if volunteer.role != "admin" or not volunteer.active:
        return
    others = session.scalar(
        select(func.count())
        .select_from(Volunteer)
        .where(Volunteer.role == "admin", Volunteer.active.is_(True), Volunteer.id != volunteer.id)
    )
    if not others:
        raise AccountError(
            409, "Đây là quản trị viên cuối cùng đang hoạt động; hãy cấp quyền quản trị cho người khác trước."
        )


def disable(session: Session, actor_id: int | None, volunteer: Volunteer) -> None:
    if volunteer.id == actor_id:
        raise AccountError(409, "Anh/chị không thể tự khóa tài khoản của mình.")
    _keep_an_admin(session, volunteer)
    volunteer.active = volunteer.online = False
    auth.end_sessions(session, volunteer.id)
    audit.record(session, actor_id, "account.disable", volunteer.username)


def enable(session: Session, actor_id: int | None, volunteer: Volunteer) -> None:
    volunteer.active = True
    audit.record(session, actor_id, "account.enable", volunteer.username)


def set_password(
    session: Session, actor_id: int | None, volunteer: Volunteer, password_hash: str, *, must_change: bool
) -> None:
    """Someone else sets this account's password: its sessions end, and with `must_change` the
    account has to choose its own at the next login."""
    volunteer.password_hash = password_hash
    volunteer.must_change_password = must_change
    auth.end_sessions(session, volunteer.id)
    audit.record(session, actor_id, "account.reset_password", volunteer.username, must_change_password=must_change)


def change_role(session: Session, actor_id: int | None, volunteer: Volunteer, role: str) -> None:
    if role == volunteer.role:
        return
    if volunteer.id == actor_id:
        raise AccountError(409, "Anh/chị không thể tự bỏ quyền quản trị của mình.")
    _keep_an_admin(session, volunteer)
    previous, volunteer.role = volunteer.role, role
    audit.record(session, actor_id, "account.role", volunteer.username, role=role, previous=previous)


def link_telegram(session: Session, actor_id: int | None, volunteer: Volunteer, telegram_user_id: str | None) -> None:
    _telegram_is_free(session, telegram_user_id, volunteer.id)
    volunteer.telegram_user_id = telegram_user_id
    _flush(session)
    audit.record(session, actor_id, "account.telegram", volunteer.username, telegram_user_id=telegram_user_id)


def change_own_password(session: Session, volunteer: Volunteer, password_hash: str, keep_token: str) -> None:
    """The account's owner chose a new password: the forced change is done, and every other
    browser logged in as them is logged out (this one stays)."""
    volunteer.password_hash = password_hash
    volunteer.must_change_password = False
    auth.end_sessions(session, volunteer.id, keep_token=keep_token)
    audit.record(session, volunteer.id, "account.password_changed", volunteer.username)


def audit_entries(session: Session, limit: int, before: int | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first; `before` (an entry id) pages back from the last one shown."""
    actor = aliased(Volunteer)
    query = (
        select(AuditEntry, actor.display_name)
        .outerjoin(actor, actor.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return [
        {
            "id": entry.id,
            "at": as_utc(entry.created_at).isoformat(),
            "actor": name if entry.actor_id is not None else COMMAND_LINE,
            "action": entry.action,
            "target": entry.target,
            "detail": entry.detail,
        }
        for entry, name in session.execute(query)
    ]
