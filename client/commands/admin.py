"""`sanacloud admin tenants|keys|pools|quotas ...`: platform administration through the API, with a
platform admin's key (`sanacloud admin create-key --platform-admin` issues the first one)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from sanacloud.client.commands.session import Cli, Limit, api_command, first
from sanacloud.client.models import Tenant

tenants = typer.Typer(help="Tenants (through the API).", no_args_is_help=True)
keys = typer.Typer(help="API keys of a tenant's members (through the API).", no_args_is_help=True)
pools = typer.Typer(help="GPU pools (through the API).", no_args_is_help=True)
quotas = typer.Typer(help="Tenants' GPU quotas per pool (through the API).", no_args_is_help=True)
GROUPS = {"tenants": tenants, "keys": keys, "pools": pools, "quotas": quotas}

TenantId = Annotated[str, typer.Argument(help="the tenant's id")]
TENANT_COLUMNS = ("ID", "NAME", "STATUS", "WEIGHT", "CREATED")


def tenant_row(tenant: Tenant) -> tuple[object, ...]:
    return tenant.id, tenant.name, tenant.status, tenant.fair_share_weight, tenant.created_at


def show_tenant(cli: Cli, tenant: Tenant) -> None:
    cli.out.objects(tenant, TENANT_COLUMNS, [tenant_row(tenant)])


@tenants.command("create")
@api_command
def create_tenant(cli: Cli, name: Annotated[str, typer.Argument(help="the tenant's name")],
                  weight: Annotated[float | None, typer.Option(help="fair-share weight (default 1)")] = None) -> None:
    """Create a tenant and print it."""
    show_tenant(cli, cli.client.admin.tenants.create(name, fair_share_weight=weight))


@tenants.command("list")
@api_command
def list_tenants(cli: Cli, limit: Limit = 50) -> None:
    """Every tenant, newest first."""
    found = first(limit, lambda page: cli.client.admin.tenants.list(limit=page))
    cli.out.objects(found, TENANT_COLUMNS, [tenant_row(each) for each in found])


@tenants.command("show")
@api_command
def show_tenant_command(cli: Cli, tenant_id: TenantId) -> None:
    """A tenant."""
    show_tenant(cli, cli.client.admin.tenants.retrieve(tenant_id))


@tenants.command("update")
@api_command
def update_tenant(cli: Cli, tenant_id: TenantId,
                  status: Annotated[Literal["active", "disabled"] | None, typer.Option(help="disabled refuses its keys")
                                    ] = None,
                  weight: Annotated[float | None, typer.Option(help="fair-share weight")] = None) -> None:
    """Disable or enable a tenant, or change its fair-share weight."""
    show_tenant(cli, cli.client.admin.tenants.update(tenant_id, status=status, fair_share_weight=weight))


@keys.command("create")
@api_command
def create_key(cli: Cli, tenant_id: TenantId, email: Annotated[str, typer.Option(help="the member's email")],
               name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
               role: Annotated[Literal["member", "tenant_admin"] | None, typer.Option(
                   help="the role of a new member (default member)")] = None) -> None:
    """Issue a key for a tenant's member (created if new) and print it: the secret is shown this once."""
    created = cli.client.admin.keys.create(tenant_id, name=name, email=email, role=role)
    if cli.out.as_json:
        cli.out.json(created)
        return
    cli.out.line(created.key)
    cli.out.note(f"key {created.id} ({created.role}) for {email}; it is shown only this once")


@pools.command("list")
@api_command
def list_pools(cli: Cli) -> None:
    """The GPU pools and their capacity."""
    found = cli.client.admin.pools.list()
    cli.out.objects(found, ("ID", "NAME", "GPU TYPE", "CAPACITY", "GPUS PER NODE"),
                    [(p.id, p.name, p.gpu_type, p.capacity_gpus, p.gpus_per_node) for p in found])


@pools.command("set")
@api_command
def set_pool(cli: Cli, pool: Annotated[str, typer.Argument(help="the pool's name")],
             gpu_type: Annotated[str, typer.Option(help="e.g. h100")],
             capacity: Annotated[int, typer.Option(help="GPUs in the pool")],
             gpus_per_node: Annotated[int | None, typer.Option(help="GPUs per node (default 1)")] = None) -> None:
    """Create or resize a pool; waiting jobs that now fit are admitted."""
    found = cli.client.admin.pools.put(pool, gpu_type=gpu_type, capacity_gpus=capacity, gpus_per_node=gpus_per_node)
    cli.out.said(found, f"pool {found.name} ({found.id}): {found.capacity_gpus} {found.gpu_type} GPUs, "
                        f"{found.gpus_per_node} per node")


@quotas.command("list")
@api_command
def list_quotas(cli: Cli, tenant_id: TenantId) -> None:
    """A tenant's quota in each pool."""
    found = cli.client.admin.quotas.list(tenant_id)
    cli.out.objects(found, ("POOL", "NOMINAL", "BORROWING LIMIT"),
                    [(q.pool, q.nominal_gpus, q.borrowing_limit_gpus) for q in found])


@quotas.command("set")
@api_command
def set_quota(cli: Cli, tenant_id: TenantId, pool: Annotated[str, typer.Argument(help="the pool's name")],
              nominal: Annotated[int, typer.Option(help="GPUs guaranteed")],
              borrow: Annotated[int | None, typer.Option(help="idle GPUs it may borrow, preemptibly (default 0)")
                                ] = None) -> None:
    """Set a tenant's quota in a pool; waiting jobs that now fit are admitted."""
    found = cli.client.admin.quotas.put(tenant_id, pool, nominal_gpus=nominal, borrowing_limit_gpus=borrow)
    cli.out.said(found, f"tenant {found.tenant_id} in pool {found.pool}: {found.nominal_gpus} GPUs nominal, "
                        f"borrowing up to {found.borrowing_limit_gpus}")
