"""`sanacloud jobs ...`: submit a fine-tune (from scratch or from a checkpoint), list and show jobs, follow
one (`watch`), its events; pause, resume, extend, cancel, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from sanacloud.client.commands.job_spec import SpecProblem, merged, read_spec
from sanacloud.client.commands.session import USAGE_ERROR, Cli, Limit, api_command, first
from sanacloud.client.commands.watch import watch_job
from sanacloud.client.models import Job

app = typer.Typer(help="Fine-tunes: LoRA or full training of a base model on a dataset.", no_args_is_help=True)
app.command("watch")(api_command(watch_job))

JobId = Annotated[str, typer.Argument(help="the job's id")]
JOB_COLUMNS = ("ID", "NAME", "TYPE", "STATUS", "STEP", "DATASET", "CREATED")
HYPER = "hyperparameters"


def job_row(job: Job) -> tuple[object, ...]:
    steps = job.hyperparameters.get("steps")
    return (job.id, job.name, job.type, job.status, f"{job.step}/{steps}" if steps else job.step, job.dataset_id,
            job.created_at)


def show_job(cli: Cli, job: Job) -> None:
    if cli.out.as_json:
        cli.out.json(job)
        return
    steps = job.hyperparameters.get("steps")
    cli.out.fields([
        ("id", job.id), ("name", job.name), ("type", job.type), ("status", job.status),
        ("wait reason", job.wait_reason), ("error", job.error),
        ("step", f"{job.step} of {steps}" if steps else job.step),
        ("dataset", job.dataset_id), ("base model", job.base_model_id), ("pool", job.pool_id), ("gpus", job.gpus),
        ("priority", job.priority), ("attempt", job.attempt), ("borrowed", job.borrowed),
        ("created", job.created_at), ("started", job.started_at), ("finished", job.finished_at)])
    cli.out.table(("HYPERPARAMETER", "VALUE"), sorted(job.hyperparameters.items()))


@app.command()
@api_command
def create(
    cli: Cli,
    spec: Annotated[Path | None, typer.Option(help="a JSON file with the request's fields (dataset_id, base_model, "
                                                   "type, hyperparameters, lora, deepspeed, ...); flags override it")
                    ] = None,
    dataset: Annotated[str | None, typer.Option(help="the dataset to train on (its id)")] = None,
    base_model: Annotated[str | None, typer.Option(help="e.g. sana-tiny (`sanacloud models base`)")] = None,
    job_type: Annotated[Literal["lora", "full"] | None, typer.Option(
        "--type", help="lora (default) or full training")] = None,
    name: Annotated[str | None, typer.Option(help="a name for the job")] = None,
    pool: Annotated[str | None, typer.Option(help="the GPU pool (default: the tenant's)")] = None,
    gpus: Annotated[int | None, typer.Option(help="GPUs to train on")] = None,
    priority: Annotated[int | None, typer.Option(help="higher runs first among your jobs")] = None,
    steps: Annotated[int | None, typer.Option(help="training steps (default: chosen for the dataset)")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    batch_size: Annotated[int | None, typer.Option(help="images per step")] = None,
    resolution: Annotated[int | None, typer.Option(help="training resolution in pixels")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    checkpoint_interval: Annotated[int | None, typer.Option(help="steps between checkpoints")] = None,
    lr_scheduler: Annotated[str | None, typer.Option(help="constant, linear or cosine")] = None,
    warmup_steps: Annotated[int | None, typer.Option(help="steps of learning-rate warmup")] = None,
    validation_prompt: Annotated[list[str] | None, typer.Option(
        help="a prompt to sample at each checkpoint (repeat for more)")] = None,
    instance_prompt: Annotated[str | None, typer.Option(
        help="the caption of every image that has none, e.g. 'a photo of my dog'")] = None,
    trigger: Annotated[str | None, typer.Option(help="a word put first in every caption, to prompt with")] = None,
    caption_choice: Annotated[Literal["user_first", "best", "weighted"] | None, typer.Option(
        help="after `sanacloud datasets caption`: your caption else the best-scoring (user_first, the default), "
             "the best-scoring, or drawn each step by score (weighted)")] = None,
    caption_temperature: Annotated[float | None, typer.Option(
        help="weighted: small favours the best caption, large draws evenly (default 0.1)")] = None,
    class_prompt: Annotated[str | None, typer.Option(
        help="prior preservation: train class images captioned so alongside yours, e.g. 'a photo of a dog'")] = None,
    class_dataset: Annotated[str | None, typer.Option(
        help="prior preservation: your dataset of class images (those missing are generated)")] = None,
    num_class_images: Annotated[int | None, typer.Option(help="prior preservation: class images (default 100)")
                                ] = None,
    prior_loss_weight: Annotated[float | None, typer.Option(
        help="prior preservation: the class images' loss relative to yours (default 1)")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank")] = None,
    alpha: Annotated[float | None, typer.Option(help="LoRA alpha (default: the rank)")] = None,
    zero_stage: Annotated[int | None, typer.Option(help="DeepSpeed ZeRO stage for full training (2 or 3)")] = None,
    from_checkpoint: Annotated[str | None, typer.Option(
        help="start from this checkpoint's weights (same base model and type; fresh optimizer)")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        help="the same key submits the job once, however often the command runs")] = None,
) -> None:
    """Submit a fine-tune and print it (queued; `sanacloud jobs watch ID` follows it)."""
    try:
        body = merged(read_spec(spec), {
            "dataset_id": dataset, "base_model": base_model, "type": job_type, "name": name, "pool": pool,
            "gpus": gpus, "priority": priority,
            HYPER: {"steps": steps, "learning_rate": learning_rate, "batch_size": batch_size,
                    "resolution": resolution, "seed": seed, "checkpoint_interval": checkpoint_interval,
                    "lr_scheduler": lr_scheduler, "warmup_steps": warmup_steps,
                    "validation_prompts": validation_prompt or None, "instance_prompt": instance_prompt,
                    "trigger": trigger, "caption_choice": caption_choice, "caption_temperature": caption_temperature,
                    "prior": prior_preservation(class_prompt, class_dataset, num_class_images, prior_loss_weight)},
            "lora": {"rank": rank, "alpha": alpha}, "deepspeed": {"zero_stage": zero_stage},
            "from_checkpoint": from_checkpoint})
    except SpecProblem as problem:
        raise cli.fail(str(problem), USAGE_ERROR) from None
    missing = [flag for field, flag in (("dataset_id", "--dataset"), ("base_model", "--base-model"))
               if not body.get(field)]
    if missing:
        raise cli.fail(f"give {' and '.join(missing)} (or put them in --spec)", USAGE_ERROR)
    job = cli.client.jobs.create(**body, idempotency_key=idempotency_key)
    show_job(cli, job)


def prior_preservation(class_prompt: str | None, class_dataset: str | None, count: int | None,
                       weight: float | None) -> dict[str, Any] | None:
    """The hyperparameters' `prior` from the flags; None when none was given (a --spec's stands)."""
    fields = {"class_prompt": class_prompt, "class_dataset_id": class_dataset, "num_class_images": count,
              "loss_weight": weight}
    return {k: v for k, v in fields.items() if v is not None} or None


@app.command("list")
@api_command
def list_(cli: Cli, status: Annotated[str | None, typer.Option(help="only jobs in this state, e.g. running")] = None,
          dataset: Annotated[str | None, typer.Option(help="only jobs of this dataset")] = None,
          limit: Limit = 50) -> None:
    """Your tenant's jobs, newest first."""
    jobs = first(limit, lambda page: cli.client.jobs.list(status=status, dataset_id=dataset, limit=page))
    cli.out.objects(jobs, JOB_COLUMNS, [job_row(job) for job in jobs])


@app.command()
@api_command
def show(cli: Cli, job_id: JobId) -> None:
    """A job: its state (and why it waits, while queued), progress and resolved hyperparameters."""
    show_job(cli, cli.client.jobs.retrieve(job_id))


@app.command()
@api_command
def cancel(cli: Cli, job_id: JobId) -> None:
    """Cancel a job; a running trainer stops within seconds."""
    job = cli.client.jobs.cancel(job_id)
    cli.out.said(job, f"job {job.id}: {job.status}" + (" (cancel requested)" if job.cancel_requested_at else ""))


@app.command()
@api_command
def pause(cli: Cli, job_id: JobId) -> None:
    """Pause a job, keeping its state: a running trainer checkpoints first; its GPUs are freed."""
    job = cli.client.jobs.pause(job_id)
    cli.out.said(job, f"job {job.id}: {job.status}" + (" (pause requested)" if job.pause_requested_at else ""))


@app.command()
@api_command
def resume(cli: Cli, job_id: JobId) -> None:
    """Queue a paused job again: it continues from its newest checkpoint."""
    job = cli.client.jobs.resume(job_id)
    cli.out.said(job, f"job {job.id}: {job.status}")


@app.command()
@api_command
def extend(cli: Cli, job_id: JobId,
           steps: Annotated[int, typer.Option(help="the new total of steps, more than the job's")]) -> None:
    """Train a job longer: a running one checkpoints and continues, a succeeded one is queued again."""
    job = cli.client.jobs.update(job_id, steps=steps)
    cli.out.said(job, f"job {job.id}: {job.status}, training to step {job.hyperparameters.get('steps')}")


@app.command()
@api_command
def delete(cli: Cli, job_id: JobId) -> None:
    """Delete a finished job and its checkpoints (promoted models keep their weights)."""
    cli.client.jobs.delete(job_id)
    cli.out.deleted("job", job_id)


@app.command()
@api_command
def events(cli: Cli, job_id: JobId,
           event_type: Annotated[str | None, typer.Option(
               "--type", help="only this kind: status, waiting, step, checkpoint, sample, error, ...")] = None,
           after: Annotated[int | None, typer.Option(help="only events after this event id")] = None,
           limit: Limit = 100) -> None:
    """A job's events, oldest first: status changes with reasons, training steps, checkpoints, errors."""
    found = first(limit, lambda page: cli.client.jobs.events(job_id, after=after, type=event_type, limit=page))
    cli.out.objects(found, ("ID", "TIME", "TYPE", "PAYLOAD"), [(e.id, e.created_at, e.type, e.payload) for e in found])
