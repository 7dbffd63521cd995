"""`sanacloud admin ...`: operator commands that work on the database directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sanacloud.cli.messages import fail
from sanacloud.cli.target import DataDirOption, first_line, open_platform
from sanacloud.platform import accounts
from sanacloud.platform.db.models import Role
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.errors import DomainError

app = typer.Typer(help="Administer tenants, keys, pools and quotas.", no_args_is_help=True)


@contextmanager
def platform_session(data_dir: Path | None) -> Iterator[Session]:
    """One transaction on the platform's database; a refusal ends the command with its reason."""
    open_platform(data_dir)
    try:
        with session_scope() as session:
            yield session
    except DomainError as error:
        raise fail(error.detail) from None
    except SQLAlchemyError as error:
        raise fail(f"the database refused: {first_line(error)}") from None


@app.command("create-tenant")
def create_tenant(name: Annotated[str, typer.Argument(help=accounts.NAME_RULE)],
                  weight: Annotated[float, typer.Option(help="fair-share weight")] = 1.0,
                  data_dir: DataDirOption = None) -> None:
    """Create a tenant and print its id."""
    with platform_session(data_dir) as session:
        tenant = accounts.admin_create_tenant(session, actor_key_id=None, name=name, fair_share_weight=weight)
    typer.echo(tenant.id)


@app.command("create-key")
def create_key(
    tenant: Annotated[str | None, typer.Option(help="tenant name or id; omit with --platform-admin")] = None,
    email: Annotated[str, typer.Option(help="the member the key belongs to")] = "",
    role: Annotated[Role, typer.Option(help="role of a new member")] = Role.MEMBER,
    platform_admin: Annotated[bool, typer.Option("--platform-admin", help="a key for platform admins")] = False,
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    data_dir: DataDirOption = None,
) -> None:
    """Issue an API key and print it (it is shown only this once)."""
    if platform_admin == (tenant is not None) or (tenant is not None and not email):
        raise fail("give --platform-admin, or --tenant with --email", code=2)
    with platform_session(data_dir) as session:
        if tenant is None:
            _key, plaintext = accounts.admin_create_platform_key(session, actor_key_id=None, name=name)
        else:
            found = accounts.find_tenant(session, id_or_name=tenant)
            _key, plaintext = accounts.admin_create_member_key(session, actor_key_id=None, tenant_id=found.id,
                                                               email=email, role=role, name=name)
    typer.echo(plaintext)


@app.command("set-pool")
def set_pool(name: Annotated[str, typer.Argument(help=accounts.NAME_RULE)], gpu_type: Annotated[str, typer.Option()],
             capacity: Annotated[int, typer.Option()],
             gpus_per_node: Annotated[int, typer.Option()] = 1, data_dir: DataDirOption = None) -> None:
    """Create or resize a GPU pool and print its id; waiting jobs that now fit are admitted."""
    with platform_session(data_dir) as session:
        pool = accounts.put_pool(session, actor_key_id=None, name=name, gpu_type=gpu_type, capacity_gpus=capacity,
                                 gpus_per_node=gpus_per_node)
    typer.echo(pool.id)


@app.command("set-quota")
def set_quota(tenant: Annotated[str, typer.Option()], pool: Annotated[str, typer.Option()],
              nominal: Annotated[int, typer.Option()], borrow: Annotated[int, typer.Option()] = 0,
              data_dir: DataDirOption = None) -> None:
    """Set a tenant's GPU quota on a pool; waiting jobs that now fit are admitted."""
    with platform_session(data_dir) as session:
        found = accounts.find_tenant(session, id_or_name=tenant)
        gpu_pool = accounts.get_pool_by_name(session, name=pool)
        accounts.put_quota(session, actor_key_id=None, tenant_id=found.id, pool=gpu_pool, nominal_gpus=nominal,
                           borrowing_limit_gpus=borrow)
