"""Who may use the admin pages: the console's login, role `staff` or above (`admin` for accounts).
Anonymous: 401; a volunteer: 403. Changes need the login's CSRF token (checked by principal_of)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bot.console import auth
from bot.storage.db import session_scope

FORBIDDEN = "Anh/chị không có quyền dùng trang này."


def _require(role: str):
    def principal(request: Request) -> auth.Principal:
        with session_scope() as session:
            found = auth.principal_of(session, request)
        if not found.can(role):
            raise HTTPException(403, FORBIDDEN)
        return found

    return principal


Staff = Annotated[auth.Principal, Depends(_require("staff"))]
AdminRole = Annotated[auth.Principal, Depends(_require("admin"))]
