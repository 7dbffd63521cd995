"""The audit log: who changed what. Written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sanacloud.platform.db.models import AuditEntry


def record(session: Session, *, actor_key_id: str | None, tenant_id: str | None, action: str,
           target_type: str, target_id: str, details: dict[str, Any] | None = None) -> None:
    session.add(AuditEntry(actor_key_id=actor_key_id, tenant_id=tenant_id, action=action,
                           target_type=target_type, target_id=target_id, details=details or {}))
