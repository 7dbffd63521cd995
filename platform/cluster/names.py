"""How the executor names and labels what it creates, and how it recognises its own.

Ownership is the `app.kubernetes.io/managed-by` label: the executor lists only objects that carry
it, so an object someone else made, however alike its name, is never seen, let alone changed.
Names are derived from what the database holds (a job's attempt, a pool's served model), so a
create repeated after a crash finds the object already there instead of making a second one.
"""

from __future__ import annotations

import hashlib
import re

MANAGED_BY = "app.kubernetes.io/managed-by"
OWNER = "sanacloud-executor"
ROLE = "sanacloud.io/role"
JOB = "sanacloud.io/job"
ATTEMPT = "sanacloud.io/attempt"
INFERENCE = "sanacloud.io/inference"  # the inference Deployment a pod belongs to
# Annotations: values a label could not always hold (a pool's name may end in a dot).
POOL_ANNOTATION = "sanacloud.io/gpu-pool"
KEY_ANNOTATION = "sanacloud.io/serving-key"
TEMPLATE_HASH = "sanacloud.io/template-hash"  # an inference Deployment's pod template, to tell an outdated one
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

TRAINING, SERVING = "training", "inference"
OWNED = {MANAGED_BY: OWNER, "app.kubernetes.io/name": "sanacloud"}
MAX_NAME = 63  # a DNS label; a Job's name is also a label value of its pods
RENDEZVOUS_PORT = 29500


def _dns(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def training_name(job_id: str, attempt: int) -> str:
    """`sc-train-job-0190ab...-a3`: ids are 32 characters, so this stays well within a DNS label."""
    name = f"sc-train-{_dns(job_id)}-a{attempt}"
    assert len(name) <= MAX_NAME, name
    return name


def inference_name(pool: str, key: str) -> str:
    """One Deployment per pool and served model: a readable prefix and a digest of both (pool names
    may be long; the ReplicaSet adds 11 characters to a Deployment's name for its pods)."""
    digest = hashlib.sha256(f"{pool}\0{key}".encode()).hexdigest()[:10]
    return f"sc-infer-{_dns(pool)[:20].rstrip('-')}-{digest}"


def training_labels(job_id: str, attempt: int) -> dict[str, str]:
    return {**OWNED, ROLE: TRAINING, JOB: job_id, ATTEMPT: str(attempt)}


def inference_labels(name: str) -> dict[str, str]:
    return {**OWNED, ROLE: SERVING, INFERENCE: name}


def rendezvous_host(job_name: str, namespace: str) -> str:
    """Node 0 of a multi-node attempt, as the headless Service named like the Job resolves it."""
    return f"{job_name}-0.{job_name}.{namespace}.svc"
