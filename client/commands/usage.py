"""`sanacloud usage`: your tenant's GPU time per pool, the GPUs it holds against its quota, and its caps."""

from __future__ import annotations

from sanacloud.client.commands.session import Cli, api_command


@api_command
def usage(cli: Cli) -> None:
    """GPU-seconds per pool over the last 30 days, GPUs held now (by jobs and warm endpoints), and caps."""
    report = cli.client.usage.retrieve()
    if cli.out.as_json:
        cli.out.json(report)
        return
    cli.out.table(("POOL", "GPU-SECONDS", "JOBS", "GPUS IN USE", "BY JOBS", "BY ENDPOINTS", "QUOTA", "BORROW"),
                  [(p.pool, round(p.gpu_seconds, 1), p.jobs, p.gpus_in_use, p.gpus_held_by_jobs,
                    p.gpus_held_by_endpoints, p.nominal_gpus, p.borrowing_limit_gpus) for p in report.pools],
                  title=f"from {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC")
    cli.out.table(("CAP", "USED", "LIMIT"), [(cap.kind, cap.used, cap.limit) for cap in report.caps])
