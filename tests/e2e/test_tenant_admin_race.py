"""Two tenant admins demote each other at the same moment through two API processes: the tenant
always keeps an admin (before the tenant lock, 5 of 8 tries left it with none)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from sanacloud.platform import accounts
from sanacloud.platform.db import migrate
from sanacloud.platform.db.models import ApiKey, Member, Role
from tests.helpers.cluster import start_api
from tests.helpers.deadlines import scaled
from tests.helpers.services import fresh_pg_database

pytestmark = pytest.mark.slow
ROUNDS = 8


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        migrate.upgrade(url)
        yield url


def two_admins(session: Session) -> list[tuple[str, str]]:
    """(member id, key) of each of tenant t's two admins."""
    tenant = accounts.create_tenant(session, name="t")
    admins = []
    for name in ("ann", "bob"):
        member = accounts.ensure_member(session, tenant_id=tenant.id, email=f"{name}@t.example.com",
                                        role=Role.TENANT_ADMIN)
        admins.append((member.id, accounts.issue_key(session, name=name, member=member)[1]))
    return admins


def test_admins_demoting_each_other_at_once_never_leave_the_tenant_without_one(database_url: str,
                                                                              tmp_path: Path) -> None:
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        (ann, ann_key), (bob, bob_key) = two_admins(session)
    env = {"SANACLOUD_DATABASE_URL": database_url, "SANACLOUD_DATA_DIR": str(tmp_path / "data")}
    with ExitStack() as stack:
        urls = [start_api(stack, env, tmp_path / f"api-{replica}.log") for replica in range(2)]
        for round_ in range(ROUNDS):
            with Session(engine) as session, session.begin():  # both admins again
                session.execute(update(Member).values(role=Role.TENANT_ADMIN))
                session.execute(update(ApiKey).values(role=Role.TENANT_ADMIN))
            statuses = demote_each_other([(urls[0], ann_key, bob), (urls[1], bob_key, ann)])
            with Session(engine) as session:
                admins = session.scalar(select(func.count()).select_from(Member)
                                        .where(Member.role == Role.TENANT_ADMIN))
            assert admins == 1, f"round {round_}: {admins} admins left; answers {statuses}"
            # The loser is refused: by the rule (409), or because it was demoted first (403).
            assert sorted(statuses)[0] == 200 and sorted(statuses)[1] in (403, 409), statuses
    engine.dispose()


def demote_each_other(moves: list[tuple[str, str, str]]) -> list[int]:
    """Each (API url, admin key, member id) demotes that member, all released at one barrier."""
    barrier = threading.Barrier(len(moves))
    statuses: list[int] = []

    def demote(url: str, key: str, member_id: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=scaled(30)) as client:
            client.get("/v1/members")  # connect and authenticate once, so that the two PATCHes start together
            barrier.wait()
            statuses.append(client.patch(f"/v1/members/{member_id}", json={"role": "member"}).status_code)

    threads = [threading.Thread(target=demote, args=move) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses
