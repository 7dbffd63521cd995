"""`sanacloud datasets ...`: create, upload a folder or zip (with progress, then the validation report), list,
show, caption automatically, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from sanacloud.client.commands.output import counted, human_bytes
from sanacloud.client.commands.session import USAGE_ERROR, Cli, Limit, api_command, first, report_refusal
from sanacloud.client.commands.upload_progress import upload_progress
from sanacloud.client.commands.watch import watch_job
from sanacloud.client.errors import InvalidRequest, InvalidUpload
from sanacloud.client.models import Dataset, DatasetDetail, UploadReport
from sanacloud.client.uploads import collect_files

app = typer.Typer(help="Image sets with captions to fine-tune on.", no_args_is_help=True)

DatasetId = Annotated[str, typer.Argument(help="the dataset's id")]
OnInvalid = Annotated[Literal["reject", "skip"], typer.Option(
    help="reject: one invalid image refuses the whole upload (exit 1); skip: store the valid ones and "
         "list the rest")]

DATASET_COLUMNS = ("ID", "NAME", "FILES", "SIZE", "CREATED")


def dataset_row(dataset: Dataset) -> tuple[object, ...]:
    return dataset.id, dataset.name, dataset.file_count, human_bytes(dataset.total_bytes), dataset.created_at


@app.command()
@api_command
def create(cli: Cli, name: Annotated[str, typer.Argument(help="a name for it")],
           description: Annotated[str | None, typer.Option(help="what it holds")] = None) -> None:
    """Create an empty dataset and print it; then `sanacloud datasets upload`."""
    dataset = cli.client.datasets.create(name, description=description)
    cli.out.objects(dataset, DATASET_COLUMNS, [dataset_row(dataset)])


@app.command()
@api_command
def upload(cli: Cli,
           paths: Annotated[list[Path], typer.Argument(
               help="a folder (every file in it: images with .txt captions or a metadata.jsonl), a .zip, or files",
               show_default=False)],
           dataset: Annotated[str | None, typer.Option("--dataset", help="upload into this dataset (its id)")] = None,
           name: Annotated[str | None, typer.Option(
               help="create a dataset of this name (default: the folder's or zip's name)")] = None,
           on_invalid: OnInvalid = "reject") -> None:
    """Upload images and captions, validated as a whole; prints the validation report."""
    if dataset and name:
        raise cli.fail("give --dataset (an existing dataset) or --name (a new one), not both", USAGE_ERROR)
    source = paths[0] if len(paths) == 1 else list(paths)
    try:
        collect_files(source)  # a missing path or an empty folder is refused before a dataset is made for it
    except InvalidUpload as unusable:
        raise cli.fail(str(unusable), USAGE_ERROR) from None
    if dataset is None:
        created = cli.client.datasets.create(name or paths[0].stem)
        cli.out.note(f"created dataset {created.name} ({created.id})")
        dataset = created.id
    try:
        with upload_progress(cli.out, f"uploading to {dataset}") as progress:
            report = cli.client.datasets.upload(dataset, source, on_invalid=on_invalid, progress=progress)
    except InvalidRequest as refused:
        if not refused.errors:
            raise
        report_refusal(cli.out, refused, fields=cli.out.as_json)
        if not cli.out.as_json:
            cli.out.table(("REJECTED FILE", "REASON"), [(each.get("loc"), each.get("msg")) for each in refused.errors])
        cli.out.note("nothing was stored; --on-invalid skip stores the valid files and lists the rest")
        raise typer.Exit(1) from None
    if cli.out.as_json:
        cli.out.json(report)
    else:
        show_report(cli, report)


def show_report(cli: Cli, report: UploadReport) -> None:
    cli.out.line(f"dataset {report.dataset.name} ({report.dataset.id}): {counted(report.accepted, 'file')} accepted "
                 f"({human_bytes(report.accepted_bytes)}), {len(report.rejected)} rejected; it now holds "
                 f"{counted(report.dataset.file_count, 'file')} ({human_bytes(report.dataset.total_bytes)})")
    for warning in report.warnings:
        cli.out.line(f"warning: {warning}")
    if report.rejected:
        cli.out.table(("REJECTED FILE", "REASON"), [(each.name, each.reason) for each in report.rejected])


@app.command("list")
@api_command
def list_(cli: Cli, limit: Limit = 50) -> None:
    """Your tenant's datasets, newest first."""
    datasets = first(limit, lambda page: cli.client.datasets.list(limit=page))
    cli.out.objects(datasets, DATASET_COLUMNS, [dataset_row(each) for each in datasets])


@app.command()
@api_command
def show(cli: Cli, dataset_id: DatasetId,
         files: Annotated[int, typer.Option(min=0, help="also list this many of its files")] = 0) -> None:
    """A dataset: counts, sizes, formats, and every upload's report."""
    dataset = cli.client.datasets.retrieve(dataset_id)
    listed = first(files, lambda page: cli.client.datasets.files(dataset_id, limit=page)) if files else []
    if cli.out.as_json:
        cli.out.json({**dataset.model_dump(mode="json"), "files": [each.model_dump(mode="json") for each in listed]}
                     if files else dataset)
        return
    show_dataset(cli, dataset)
    if listed:
        cli.out.table(("FILE", "ID", "SIZE", "PIXELS", "CAPTION"),
                      [(each.name, each.id, human_bytes(each.size_bytes), f"{each.width}x{each.height}", each.caption)
                       for each in listed])
        written = [(each.name, c.source, c.text, "-" if c.score is None else f"{c.score:.1f}")
                   for each in listed for c in each.captions]
        if written:
            cli.out.table(("FILE", "SOURCE", "CAPTION", "SCORE"), written)


def show_dataset(cli: Cli, dataset: DatasetDetail) -> None:
    stats = dataset.stats
    sizes = (f"{stats.min_width}-{stats.max_width} x {stats.min_height}-{stats.max_height}"
             if stats.min_width is not None else None)
    cli.out.fields([("id", dataset.id), ("name", dataset.name), ("description", dataset.description),
                    ("files", dataset.file_count), ("size", human_bytes(dataset.total_bytes)),
                    ("captioned", f"{stats.captioned} ({stats.uncaptioned} without a caption)"),
                    ("auto-captioned", ", ".join(f"{source} {count}" for source, count in
                                                 stats.captions_by_source.items()) or None),
                    ("formats", ", ".join(f"{kind} {count}" for kind, count in stats.formats.items())),
                    ("pixels", sizes), ("created", dataset.created_at), ("updated", dataset.updated_at)])
    uploads = dataset.report.get("uploads")
    if isinstance(uploads, list) and uploads:
        cli.out.table(("UPLOAD", "ACCEPTED", "REJECTED", "WARNINGS"),
                      [(each.get("at"), each.get("accepted"), each.get("rejected_count"), each.get("warnings"))
                       for each in uploads if isinstance(each, dict)])


@app.command()
@api_command
def caption(cli: Cli, dataset_id: DatasetId,
            captioner: Annotated[list[str] | None, typer.Option(
                help="a registered captioner (repeat for several; `sanacloud models captioners`); "
                     "default: the platform's")] = None,
            scorer: Annotated[str | None, typer.Option(help="the CLIP scorer; default: the platform's")] = None,
            no_score: Annotated[bool, typer.Option("--no-score", help="do not score the captions")] = False,
            watch: Annotated[bool, typer.Option(help="follow the job to its end")] = False) -> None:
    """Caption every image automatically (a job on the pool's GPUs); then train with --caption-choice."""
    if scorer and no_score:
        raise cli.fail("give --scorer or --no-score, not both", USAGE_ERROR)
    job = cli.client.datasets.caption(dataset_id, captioners=captioner, scorer=scorer, score=not no_score)
    cli.out.said(job, f"captioning job {job.id}: {job.status} (`sanacloud jobs watch {job.id}` follows it)")
    if watch:
        watch_job(cli, job.id)


@app.command()
@api_command
def delete(cli: Cli, dataset_id: DatasetId) -> None:
    """Delete a dataset and its files."""
    cli.client.datasets.delete(dataset_id)
    cli.out.deleted("dataset", dataset_id)
