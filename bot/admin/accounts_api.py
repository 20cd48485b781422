"""Accounts and the audit log (/admin/api/accounts, /admin/api/audit; role admin), and changing
one's own password (/admin/api/me/password; anyone logged in). Thin over bot.admin.accounts.

New accounts and resets get a generated temporary password, returned once in the response and
never stored in clear; the account must replace it at its next login."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from bot.admin import accounts as service
from bot.admin.access import AdminRole
from bot.admin.context import AdminContext
from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Volunteer

AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Role = Literal["volunteer", "staff", "admin"]
TelegramId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]
SHORT_PASSWORD = f"Mật khẩu mới cần ít nhất {auth.MIN_PASSWORD_CHARS} ký tự."


class NewAccount(BaseModel):
    username: Username
    display_name: DisplayName
    role: Role
    telegram_user_id: TelegramId | None = None


class RoleChange(BaseModel):
    role: Role


class TelegramLink(BaseModel):
    telegram_user_id: TelegramId | None  # null unlinks


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


def _logged_in(request: Request) -> auth.Principal:
    """Any role; a dependency, so an anonymous caller gets 401 before its body is looked at."""
    with session_scope() as session:
        return auth.principal_of(session, request)


LoggedIn = Annotated[auth.Principal, Depends(_logged_in)]


def _refused(error: service.AccountError) -> HTTPException:
    return HTTPException(error.status, error.message)


def _change(account_id: int, change: Callable[..., None]) -> dict:
    """Apply `change(session, volunteer)` to one account; the account as it is afterwards."""
    try:
        with session_scope() as session:
            volunteer = service.account(session, account_id)
            change(session, volunteer)
            session.flush()
            return {"account": service.view(volunteer)}
    except service.AccountError as error:
        raise _refused(error) from None


def routes(context: AdminContext) -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/accounts")
    async def accounts(_: AdminRole) -> dict:
        with session_scope() as session:
            return {"accounts": service.listing(session)}

    @router.post("/accounts", status_code=201)
    async def create(body: NewAccount, admin: AdminRole) -> dict:
        password = service.temporary_password()
        hashed = await auth.hash_password_off_loop(password)
        try:
            with session_scope() as session:
                volunteer = service.create(session, admin.volunteer_id, username=body.username,
                                           display_name=body.display_name, role=body.role,
                                           telegram_user_id=body.telegram_user_id, password_hash=hashed,
                                           must_change_password=True)
                return {"account": service.view(volunteer), "temporary_password": password}
        except service.AccountError as error:
            raise _refused(error) from None

    @router.post("/accounts/{account_id}/disable")
    async def disable(account_id: AccountId, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.disable(session, admin.volunteer_id, v))

    @router.post("/accounts/{account_id}/enable")
    async def enable(account_id: AccountId, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.enable(session, admin.volunteer_id, v))

    @router.post("/accounts/{account_id}/reset-password")
    async def reset_password(account_id: AccountId, admin: AdminRole) -> dict:
        password = service.temporary_password()
        hashed = await auth.hash_password_off_loop(password)
        changed = _change(account_id, lambda session, v: service.set_password(
            session, admin.volunteer_id, v, hashed, must_change=True))
        return {**changed, "temporary_password": password}

    @router.post("/accounts/{account_id}/role")
    async def change_role(account_id: AccountId, body: RoleChange, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.change_role(session, admin.volunteer_id, v, body.role))

    @router.post("/accounts/{account_id}/telegram")
    async def link_telegram(account_id: AccountId, body: TelegramLink, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.link_telegram(
            session, admin.volunteer_id, v, body.telegram_user_id))

    @router.get("/audit")
    async def audit_log(_: AdminRole, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> dict:
        with session_scope() as session:
            return {"entries": service.audit_entries(session, limit, before)}

    @router.post("/me/password")
    async def change_own_password(body: PasswordChange, me: LoggedIn, request: Request) -> dict:
        """Any role. A wrong current password counts as a failed login (same lockout), so a
        stolen session cannot be used to guess the password."""
        with session_scope() as session:
            volunteer = session.get(Volunteer, me.volunteer_id)
            username, current_hash = volunteer.username, volunteer.password_hash
        if len(body.new_password) < auth.MIN_PASSWORD_CHARS:
            raise HTTPException(422, SHORT_PASSWORD)
        if body.new_password == body.current_password:
            raise HTTPException(422, "Mật khẩu mới phải khác mật khẩu hiện tại.")
        limits = request.app.state.limits
        address = limits.client_address(request.scope)
        if (retry_after := await limits.login_allowed(username, address)) is not None:
            raise HTTPException(429, "Dạ, nhập sai quá nhiều lần, anh/chị vui lòng thử lại sau ít phút.",
                                headers={"Retry-After": str(retry_after)})
        if not await auth.password_matches(current_hash, body.current_password):
            await limits.login_failed(username, address)
            raise HTTPException(422, "Mật khẩu hiện tại không đúng.")
        hashed = await auth.hash_password_off_loop(body.new_password)
        with session_scope() as session:
            volunteer = session.get(Volunteer, me.volunteer_id)
            service.change_own_password(session, volunteer, hashed, keep_token=request.cookies[auth.COOKIE])
        return {"ok": True}

    return router
