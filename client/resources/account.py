"""The caller's own tenant: its usage, members and API keys."""

from __future__ import annotations

from datetime import datetime

from sanacloud.client._call import Call, parse_as, parse_nothing, without_none
from sanacloud.client._resource import D, Resource, operation, paged
from sanacloud.client.models import Key, KeyCreated, Member, Usage
from sanacloud.client.pagination import PageCall, parse_page


def moment(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class UsageResource(Resource[D]):
    @operation("usage-get")
    def retrieve(self, *, since: datetime | str | None = None, until: datetime | str | None = None) -> Call[Usage]:
        """GPU-seconds per pool in [since, until) (the API's defaults: the last 30 days), GPUs held, caps."""
        return Call("usage-get", parse_as(Usage), params=without_none(since=moment(since), until=moment(until)))


class Members(Resource[D]):
    @paged("members-list")
    def list(self, *, limit: int | None = None) -> PageCall[Member]:
        return PageCall(Call("members-list", parse_page(Member), params=without_none(limit=limit)))

    @operation("members-create")
    def create(self, email: str, *, role: str | None = None) -> Call[Member]:
        return Call("members-create", parse_as(Member), json=without_none(email=email, role=role))

    @operation("members-update")
    def update(self, member_id: str, *, role: str) -> Call[Member]:
        return Call("members-update", parse_as(Member), path={"member_id": member_id}, json={"role": role})

    @operation("members-delete")
    def delete(self, member_id: str) -> Call[None]:
        return Call("members-delete", parse_nothing, path={"member_id": member_id})


class Keys(Resource[D]):
    @paged("keys-list")
    def list(self, *, limit: int | None = None) -> PageCall[Key]:
        return PageCall(Call("keys-list", parse_page(Key), params=without_none(limit=limit)))

    @operation("keys-create")
    def create(self, name: str, *, member_id: str | None = None) -> Call[KeyCreated]:
        """A new key (for the caller's member, or `member_id`'s); its secret `key` is shown this once."""
        return Call("keys-create", parse_as(KeyCreated), json=without_none(name=name, member_id=member_id))

    @operation("keys-revoke")
    def revoke(self, key_id: str) -> Call[Key]:
        return Call("keys-revoke", parse_as(Key), path={"key_id": key_id})
