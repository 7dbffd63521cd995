"""`sanacloud models ...`: your fine-tuned models, the base models to fine-tune or serve, and the captioners."""

from __future__ import annotations

from typing import Annotated

import typer

from sanacloud.client.commands.session import Cli, Limit, api_command, first
from sanacloud.client.models import Model

app = typer.Typer(help="Models: promoted fine-tunes, and the base models.", no_args_is_help=True)
ModelId = Annotated[str, typer.Argument(help="the model's id")]


def show_model(cli: Cli, model: Model) -> None:
    if cli.out.as_json:
        cli.out.json(model)
        return
    cli.out.fields([("id", model.id), ("name", model.name), ("kind", model.kind), ("family", model.family),
                    ("base model", model.base_model_id), ("status", model.status), ("from job", model.source_job_id),
                    ("from checkpoint", model.source_checkpoint_id), ("at step", model.source_step),
                    ("trigger word", model.trigger), ("created", model.created_at)])


@app.command("list")
@api_command
def list_(cli: Cli, limit: Limit = 50) -> None:
    """Your tenant's models, newest first."""
    models = first(limit, lambda page: cli.client.models.list(limit=page))
    cli.out.objects(models, ("ID", "NAME", "KIND", "FAMILY", "FROM JOB", "STEP", "CREATED"),
                    [(m.id, m.name, m.kind, m.family, m.source_job_id, m.source_step, m.created_at) for m in models])


@app.command()
@api_command
def show(cli: Cli, model_id: ModelId) -> None:
    """A model and where it came from."""
    show_model(cli, cli.client.models.retrieve(model_id))


@app.command()
@api_command
def delete(cli: Cli, model_id: ModelId) -> None:
    """Delete a model and its weights."""
    cli.client.models.delete(model_id)
    cli.out.deleted("model", model_id)


@app.command()
@api_command
def base(cli: Cli) -> None:
    """The base models to fine-tune or serve, with their resolutions."""
    found = cli.client.base_models.list()
    cli.out.objects(found, ("NAME", "FAMILY", "STATUS", "NATIVE", "RESOLUTIONS"),
                    [(b.name, b.family, b.status, b.native_resolution, b.resolutions) for b in found])


@app.command()
@api_command
def captioners(cli: Cli) -> None:
    """The captioners and CLIP scorers `sanacloud datasets caption` may use."""
    found = cli.client.captioners.list()
    cli.out.objects(found, ("NAME", "KIND", "FAMILY", "URI"), [(c.name, c.kind, c.family, c.uri) for c in found])
