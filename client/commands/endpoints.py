"""`sanacloud endpoints ...`: serve a model (a promoted fine-tune or a base model) on demand."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from sanacloud.client.commands.session import Cli, Limit, api_command, first
from sanacloud.client.models import Endpoint

app = typer.Typer(help="Inference endpoints: a model served on demand, scaled to zero when idle.",
                  no_args_is_help=True)
EndpointId = Annotated[str, typer.Argument(help="the endpoint's id")]
ENDPOINT_COLUMNS = ("ID", "NAME", "MODEL", "STATUS", "IDLE TIMEOUT", "LAST REQUEST")


def endpoint_row(endpoint: Endpoint) -> tuple[object, ...]:
    return (endpoint.id, endpoint.name, endpoint.model_id, endpoint.status, f"{endpoint.idle_timeout_s} s",
            endpoint.last_request_at)


def show_endpoint(cli: Cli, endpoint: Endpoint) -> None:
    if cli.out.as_json:
        cli.out.json(endpoint)
        return
    cli.out.fields([("id", endpoint.id), ("name", endpoint.name), ("model", endpoint.model_id),
                    ("pool", endpoint.pool_id), ("status", endpoint.status), ("error", endpoint.error),
                    ("replicas", f"{endpoint.replicas} now ({endpoint.min_replicas} to {endpoint.max_replicas})"),
                    ("idle timeout", f"{endpoint.idle_timeout_s} s"),
                    ("rate limit", f"{endpoint.rate_limit_per_minute} per minute"), ("defaults", endpoint.defaults),
                    ("last request", endpoint.last_request_at), ("created", endpoint.created_at)])


@app.command()
@api_command
def create(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="a name for it")],
    model: Annotated[str, typer.Option(help="a model's id, or a base model's name such as sana-tiny")],
    pool: Annotated[str | None, typer.Option(help="the GPU pool (default: the tenant's)")] = None,
    min_replicas: Annotated[int | None, typer.Option(help="1 keeps the model loaded; 0 scales to zero")] = None,
    max_replicas: Annotated[int | None, typer.Option(help="replicas under load, each a GPU of your quota")] = None,
    idle_timeout: Annotated[int | None, typer.Option(help="seconds idle before it scales to zero")] = None,
    rate_limit: Annotated[int | None, typer.Option(help="requests per minute")] = None,
    steps: Annotated[int | None, typer.Option(help="default sampling steps")] = None,
    guidance: Annotated[float | None, typer.Option(help="default guidance scale")] = None,
    resolution: Annotated[int | None, typer.Option(help="default resolution in pixels")] = None,
    sampler: Annotated[Literal["dpm", "euler"] | None, typer.Option(
        help="default sampler: dpm (Flow-DPM-Solver) or euler")] = None,
) -> None:
    """Create an endpoint for a model and print it; `sanacloud generate ID "prompt"` uses it."""
    defaults = {key: value for key, value in
                (("steps", steps), ("guidance", guidance), ("resolution", resolution), ("sampler", sampler))
                if value is not None}
    show_endpoint(cli, cli.client.endpoints.create(
        name=name, model=model, pool=pool, min_replicas=min_replicas, max_replicas=max_replicas,
        idle_timeout_s=idle_timeout,
        rate_limit_per_minute=rate_limit, defaults=defaults or None))


@app.command("list")
@api_command
def list_(cli: Cli, limit: Limit = 50) -> None:
    """Your tenant's endpoints, newest first."""
    endpoints = first(limit, lambda page: cli.client.endpoints.list(limit=page))
    cli.out.objects(endpoints, ENDPOINT_COLUMNS, [endpoint_row(each) for each in endpoints])


@app.command()
@api_command
def show(cli: Cli, endpoint_id: EndpointId) -> None:
    """An endpoint: its model, state (cold, loading, ready) and defaults."""
    show_endpoint(cli, cli.client.endpoints.retrieve(endpoint_id))


@app.command()
@api_command
def delete(cli: Cli, endpoint_id: EndpointId) -> None:
    """Delete an endpoint (its model stays)."""
    cli.client.endpoints.delete(endpoint_id)
    cli.out.deleted("endpoint", endpoint_id)
