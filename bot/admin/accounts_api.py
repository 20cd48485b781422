"""Accounts and the audit log (/admin/api/accounts, /admin/api/audit; role admin), and changing
one's own password (/admin/api/me/password; anyone logged in). Thin over bot.admin.accounts.

New accounts and resets get a generated temporary password, returned once in the response and
never stored in clear; the account must replace it at its next login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from bot.admin import accounts as service
from bot.admin.access import AdminRole
from bot.admin.context import AdminContext
from bot.admin.schemas import (
    AccountAnswer,
    Accounts,
    AccountWithPassword,
    AuditLog,
    NewAccount,
    PasswordChange,
    RoleChange,
    TelegramLink,
)
from bot.console import auth
from bot.openapi import Ok
from bot.storage.db import session_scope
from bot.storage.models import Volunteer

AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SHORT_PASSWORD = f"Mật khẩu mới cần ít nhất {auth.MIN_PASSWORD_CHARS} ký tự."


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

    @router.get("/accounts", response_model=Accounts)
    async def accounts(_: AdminRole) -> dict:
        with session_scope() as session:
            return {"accounts": service.listing(session)}

    @router.post("/accounts", status_code=201, response_model=AccountWithPassword)
    async def create(body: NewAccount, admin: AdminRole) -> dict:
        password = service.temporary_password()
        hashed = await auth.hash_password_off_loop(password)
        try:
            with session_scope() as session:
                volunteer = service.create(
                    session,
                    admin.volunteer_id,
                    username=body.username,
                    display_name=body.display_name,
                    role=body.role,
                    telegram_user_id=body.telegram_user_id,
                    password_hash=hashed,
                    must_change_password=True,
                )
                return {"account": service.view(volunteer), "temporary_password": password}
        except service.AccountError as error:
            raise _refused(error) from None

    @router.post("/accounts/{account_id}/disable", response_model=AccountAnswer)
    async def disable(account_id: AccountId, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.disable(session, admin.volunteer_id, v))

    @router.post("/accounts/{account_id}/enable", response_model=AccountAnswer)
    async def enable(account_id: AccountId, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.enable(session, admin.volunteer_id, v))

    @router.post("/accounts/{account_id}/reset-password", response_model=AccountWithPassword)
    async def reset_password(account_id: AccountId, admin: AdminRole) -> dict:
        password = service.temporary_password()
        hashed = await auth.hash_password_off_loop(password)
        changed = _change(
            account_id,
            lambda session, v: service.set_password(session, admin.volunteer_id, v, hashed, must_change=True),
        )
        return {**changed, "temporary_password": password}

    @router.post("/accounts/{account_id}/role", response_model=AccountAnswer)
    async def change_role(account_id: AccountId, body: RoleChange, admin: AdminRole) -> dict:
        return _change(account_id, lambda session, v: service.change_role(session, admin.volunteer_id, v, body.role))

    @router.post("/accounts/{account_id}/telegram", response_model=AccountAnswer)
    async def link_telegram(account_id: AccountId, body: TelegramLink, admin: AdminRole) -> dict:
        return _change(
            account_id, lambda session, v: service.link_telegram(session, admin.volunteer_id, v, body.telegram_user_id)
        )

    @router.get("/audit", response_model=AuditLog)
    async def audit_log(
        _: AdminRole,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ) -> dict:
        with session_scope() as session:
            return {"entries": service.audit_entries(session, limit, before)}

    @router.post("/me/password", response_model=Ok)
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
            raise HTTPException(
                429,
                "Dạ, nhập sai quá nhiều lần, anh/chị vui lòng thử lại sau ít phút.",
                headers={"Retry-After": str(retry_after)},
            )
        if not await auth.password_matches(current_hash, body.current_password):
            await limits.login_failed(username, address)
            raise HTTPException(422, "Mật khẩu hiện tại không đúng.")
        hashed = await auth.hash_password_off_loop(body.new_password)
        with session_scope() as session:
            volunteer = session.get(Volunteer, me.volunteer_id)
            service.change_own_password(session, volunteer, hashed, keep_token=request.cookies[auth.COOKIE])
        return {"ok": True}

    return router
