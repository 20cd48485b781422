"""The audit log: who changed which knowledge entry or account, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.storage.models import AuditEntry


def record(session: Session, actor_id: int | None, action: str, target: str, **detail: Any) -> None:
    """Add one line to the audit log in the caller's transaction, so the change and its line land
    together. `detail` must never hold a password or a citizen's words."""
    session.add(AuditEntry(actor_id=actor_id, action=action, target=target, detail=detail))
