"""Reading the cluster's objects as the decision core sees them: a Job's end, a pod's trouble in
words a user understands, which inference pods are busy. Pure functions over the API's JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sanacloud.platform.cluster import names
from sanacloud.platform.cluster.desired import (
    ObservedDeployment,
    ObservedJob,
    ObservedPod,
    PodProblem,
    Trouble,
)

Obj = dict[str, Any]
# Waiting reasons of a container that will not start however long it waits (the kubelet has retried
# the pull, or the name cannot be pulled at all); and of one that may yet (a first pull that failed,
# a Secret or ConfigMap the operator has not made yet).
FATAL_WAITING = {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
NOT_YET = {"ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "ContainerCreating"}


def _terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def pod_problem(pod: Obj) -> PodProblem | None:
    status = pod.get("status", {})
    for container in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
        waiting = container.get("state", {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING or (reason in NOT_YET and waiting.get("message")):
            trouble = Trouble.IMAGE if reason in FATAL_WAITING else Trouble.STARTING
            return PodProblem(trouble, f"{reason}: {waiting.get('message', '')}".strip(": "))
    phase = status.get("phase")
    if phase == "Failed":
        if status.get("reason") == "Evicted":
            return PodProblem(Trouble.EVICTED, f"its pod was evicted: {status.get('message', '')}".strip(": "))
        return PodProblem(Trouble.FAILED, f"its pod failed: {_termination(status)}")
    if phase == "Pending":
        for condition in status.get("conditions", []):
            if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
                return PodProblem(Trouble.UNSCHEDULABLE, condition.get("message", "no node fits it"))
    return None


def _termination(status: Obj) -> str:
    for container in status.get("containerStatuses", []):
        ended = container.get("state", {}).get("terminated")
        if ended:
            return f"{ended.get('reason', 'Error')} (exit code {ended.get('exitCode')})"
    return status.get("message") or status.get("reason") or "unknown reason"


def _pod(pod: Obj, busy: set[str]) -> ObservedPod:
    cost = pod["metadata"].get("annotations", {}).get(names.DELETION_COST)
    return ObservedPod(name=pod["metadata"]["name"], terminating=_terminating(pod),
                       finished=pod.get("status", {}).get("phase") in ("Succeeded", "Failed"), problem=pod_problem(pod),
                       busy=pod["metadata"]["name"] in busy, deletion_cost=int(cost) if cost is not None else None)


def _ended(job: Obj) -> tuple[str | None, str | None, bool]:
    """How the Job ended (complete, failed or not yet), its failure message, and whether it ran out of time."""
    for condition in job.get("status", {}).get("conditions", []):
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            if condition["type"] == "Complete":
                return "complete", None, False
            return "failed", condition.get("message") or condition.get("reason"), \
                condition.get("reason") == "DeadlineExceeded"
    return None, None, False


def observe_jobs(jobs: Iterable[Obj], pods: Iterable[Obj]) -> tuple[ObservedJob, ...]:
    by_job: dict[tuple[str, str], list[ObservedPod]] = defaultdict(list)
    for pod in pods:
        labels = pod["metadata"].get("labels", {})
        if labels.get(names.ROLE) == names.TRAINING:
            by_job[(labels.get(names.JOB, ""), labels.get(names.ATTEMPT, ""))].append(_pod(pod, set()))
    observed = []
    for job in jobs:
        labels = job["metadata"]["labels"]
        ended, failure, deadline_exceeded = _ended(job)
        observed.append(ObservedJob(
            name=job["metadata"]["name"], job_id=labels[names.JOB], attempt=int(labels[names.ATTEMPT]),
            terminating=_terminating(job), ended=ended, failure=failure, deadline_exceeded=deadline_exceeded,
            pods=tuple(by_job[(labels[names.JOB], labels[names.ATTEMPT])])))
    return tuple(observed)


def observe_deployments(deployments: Iterable[Obj], pods: Iterable[Obj], *, busy: set[str],
                        current_hash: dict[str, str]) -> tuple[ObservedDeployment, ...]:
    """`busy`: names of pods sampling a generation; `current_hash`: per Deployment, the template hash the
    executor would give it now (a Deployment not listed is no longer wanted, so never outdated)."""
    by_name: dict[str, list[ObservedPod]] = defaultdict(list)
    for pod in pods:
        labels = pod["metadata"].get("labels", {})
        if labels.get(names.ROLE) == names.SERVING:
            by_name[labels.get(names.INFERENCE, "")].append(_pod(pod, busy))
    observed = []
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        template_hash = deployment["metadata"].get("annotations", {}).get(names.TEMPLATE_HASH)
        observed.append(ObservedDeployment(
            name=name, replicas=int(deployment["spec"].get("replicas", 1)), terminating=_terminating(deployment),
            outdated=name in current_hash and current_hash[name] != template_hash, pods=tuple(by_name[name])))
    return tuple(observed)
