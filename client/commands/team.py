"""`sanacloud members ...` and `sanacloud keys ...`: your own tenant's members and API keys (tenant admins)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from sanacloud.client.commands.session import Cli, Limit, api_command, first
from sanacloud.client.models import Key, Member

members = typer.Typer(help="Your tenant's members and their roles (tenant admins).", no_args_is_help=True)
keys = typer.Typer(help="Your tenant's API keys: list, issue, revoke.", no_args_is_help=True)
Role = Literal["member", "tenant_admin"]
MEMBER_COLUMNS = ("ID", "EMAIL", "ROLE", "CREATED")
KEY_COLUMNS = ("ID", "NAME", "ROLE", "MEMBER", "PREFIX", "LAST USED", "REVOKED")


def member_row(member: Member) -> tuple[object, ...]:
    return member.id, member.email, member.role, member.created_at


def key_row(key: Key) -> tuple[object, ...]:
    return key.id, key.name, key.role, key.member_id, key.prefix, key.last_used_at, key.revoked_at


@members.command("list")
@api_command
def list_members(cli: Cli, limit: Limit = 50) -> None:
    """Your tenant's members, newest first."""
    found = first(limit, lambda page: cli.client.members.list(limit=page))
    cli.out.objects(found, MEMBER_COLUMNS, [member_row(each) for each in found])


@members.command("add")
@api_command
def add_member(cli: Cli, email: Annotated[str, typer.Argument(help="the member's email")],
               role: Annotated[Role | None, typer.Option(help="member (default) or tenant_admin")] = None) -> None:
    """Add a member; `sanacloud keys create NAME --member ID` then issues their key."""
    member = cli.client.members.create(email, role=role)
    cli.out.objects(member, MEMBER_COLUMNS, [member_row(member)])


@members.command("set-role")
@api_command
def set_role(cli: Cli, member_id: Annotated[str, typer.Argument(help="the member's id")],
             role: Annotated[Role, typer.Argument(help="member or tenant_admin")]) -> None:
    """Change a member's role."""
    member = cli.client.members.update(member_id, role=role)
    cli.out.objects(member, MEMBER_COLUMNS, [member_row(member)])


@members.command("remove")
@api_command
def remove_member(cli: Cli, member_id: Annotated[str, typer.Argument(help="the member's id")]) -> None:
    """Remove a member (their keys stop working)."""
    cli.client.members.delete(member_id)
    cli.out.said({"id": member_id, "deleted": True}, f"removed member {member_id}")


@keys.command("list")
@api_command
def list_keys(cli: Cli, limit: Limit = 50) -> None:
    """Your tenant's API keys (their secrets are never shown again), newest first."""
    found = first(limit, lambda page: cli.client.keys.list(limit=page))
    cli.out.objects(found, KEY_COLUMNS, [key_row(each) for each in found])


@keys.command("create")
@api_command
def create_key(cli: Cli, name: Annotated[str, typer.Argument(help="a label for the key, e.g. laptop")],
               member: Annotated[str | None, typer.Option(help="a member's id (default: yours)")] = None) -> None:
    """Issue a key and print it: the secret is shown this once."""
    created = cli.client.keys.create(name, member_id=member)
    if cli.out.as_json:
        cli.out.json(created)
        return
    cli.out.line(created.key)
    cli.out.note(f"key {created.id} ({created.role}); it is shown only this once")


@keys.command("revoke")
@api_command
def revoke_key(cli: Cli, key_id: Annotated[str, typer.Argument(help="the key's id")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    key = cli.client.keys.revoke(key_id)
    cli.out.said(key, f"revoked key {key.id} ({key.name})")
