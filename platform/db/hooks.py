"""Side effects tied to a transaction's outcome, like Django's `transaction.on_commit`.

Object storage is not transactional: delete objects only after the rows that name them are
gone (`on_commit`), and remove objects written for rows that never made it (`on_rollback`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)
Action = Callable[[], object]


def on_commit(session: Session, action: Action) -> None:
    session.info.setdefault("on_commit", []).append(action)


def on_rollback(session: Session, action: Action) -> None:
    session.info.setdefault("on_rollback", []).append(action)


def _run(session: Session, run: str, drop: str) -> None:
    actions: list[Action] = session.info.pop(run, [])
    session.info.pop(drop, None)
    for action in actions:
        try:
            action()
        except Exception:  # the transaction's outcome stands; a failed side effect is only logged
            log.exception("%s action failed", run)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _run(session, "on_commit", "on_rollback")


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        _run(session, "on_rollback", "on_commit")
