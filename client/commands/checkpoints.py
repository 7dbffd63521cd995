"""`sanacloud checkpoints ...`: a job's checkpoints, and promoting one to a model that endpoints serve."""

from __future__ import annotations

from typing import Annotated

import typer

from sanacloud.client.commands.models import show_model
from sanacloud.client.commands.session import Cli, api_command

app = typer.Typer(help="Checkpoints of training jobs, and their promotion to models.", no_args_is_help=True)


@app.command("list")
@api_command
def list_(cli: Cli, job_id: Annotated[str, typer.Argument(help="the job's id")]) -> None:
    """A job's checkpoints, oldest first, with their loss and sample image URLs."""
    checkpoints = cli.client.jobs.checkpoints(job_id)
    cli.out.objects(checkpoints, ("ID", "STEP", "LOSS", "CREATED", "SAMPLES"),
                    [(each.id, each.step, each.metrics.get("loss"), each.created_at, len(each.sample_urls))
                     for each in checkpoints])


@app.command()
@api_command
def promote(cli: Cli, checkpoint_id: Annotated[str, typer.Argument(help="the checkpoint's id")],
            name: Annotated[str, typer.Option(help="the model's name")]) -> None:
    """Make a checkpoint a model (its weights copied: the job may be deleted later) and print it."""
    show_model(cli, cli.client.checkpoints.promote(checkpoint_id, name=name))
