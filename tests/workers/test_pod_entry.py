"""A multi-node attempt's pods: the arguments the executor renders for them are ones `sanacloud
attempt` accepts, and each pod's torchrun joins node 0's rendezvous as its own node rank."""

from __future__ import annotations

import sys

import pytest
import typer

from sanacloud.cli.main import app as cli_app
from sanacloud.platform.cluster import manifests
from sanacloud.platform.cluster.desired import TrainingShape
from sanacloud.platform.settings import Settings
from sanacloud.workers.training import pod
from sanacloud.workers.training.child import Rendezvous, launcher_argv


def test_each_node_of_a_rendered_multi_node_job_joins_node_zero_as_its_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = TrainingShape("job_0190abcdef0123456789abcdef01", 2, "h100", nodes=3, gpus_per_pod=4)
    job = manifests.training_job(shape, Settings(kubernetes_image="img:1", kubernetes_shared_claim="work"))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = typer.main.get_command(cli_app).commands["attempt"]  # type: ignore[attr-defined]
    parsed = command.make_context("attempt", list(container["args"][1:])).params
    assert parsed["nodes"] == 3 and parsed["job_id"] == shape.job_id and parsed["attempt_number"] == 2
    host, _, port = parsed["rendezvous"].rpartition(":")
    assert host == f"{shape.name}-0.{shape.name}.sanacloud.svc" and port == "29500"

    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")  # the Job controller sets it in each pod of an Indexed Job
    meeting = Rendezvous(nodes=3, node_rank=pod.node_rank(), host=host, port=int(port))
    assert launcher_argv(shape.gpus_per_pod, meeting, stop_grace_s=90) == [
        sys.executable, "-m", "torch.distributed.run", "--shutdown_timeout=90", "--nnodes=3", "--node_rank=2",
        f"--master_addr={host}", "--master_port=29500", "--nproc_per_node=4"]


def test_one_node_runs_standalone_or_without_torchrun_whose_ranks_get_the_whole_stop_grace() -> None:
    assert launcher_argv(1, None, stop_grace_s=30) == [sys.executable]
    assert launcher_argv(2, None, stop_grace_s=120.5)[-3:] == ["--shutdown_timeout=121", "--standalone",
                                                               "--nproc_per_node=2"]
