"""The objects the executor creates, as the API server takes them: a training attempt's Job (an
Indexed Job and a headless Service when it spans nodes) and a served model's inference Deployment.

Their pods run the platform's image with the platform's configuration (the ConfigMap and Secret
that k8s/base defines), as the service account that is granted nothing: only the executor talks
to the Kubernetes API. Every object here is validated against the Kubernetes schema in the tests.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sanacloud.platform.cluster import names
from sanacloud.platform.cluster.desired import InferenceShape, TrainingShape
from sanacloud.platform.cluster.placement import GPU_RESOURCE, PoolPlacement
from sanacloud.platform.queues import infer_queue
from sanacloud.platform.settings import Settings

Obj = dict[str, Any]
CONFIG_MAP = "sanacloud-config"
SECRET = "sanacloud-secrets"
SECRET_ENV = {"SANACLOUD_DATABASE_URL": "database-url", "SANACLOUD_BROKER_URL": "broker-url",
              "SANACLOUD_SECRET_KEY": "secret-key", "SANACLOUD_S3_ACCESS_KEY": "s3-access-key",
              "SANACLOUD_S3_SECRET_KEY": "s3-secret-key"}
POD_SERVICE_ACCOUNT = "sanacloud"
DATA_DIR = "/var/lib/sanacloud"
SCRATCH_WORK_DIR = "/tmp/work"  # on the scratch volume: model files, datasets, checkpoints before upload
SHARED_WORK_DIR = f"{DATA_DIR}/shared"
INFERENCE_GRACE_MARGIN_S = 30  # a generation in flight finishes (Celery's warm shutdown) before SIGKILL
USER = 10001
EPHEMERAL_MARGIN_GI = 4  # the data folder (1 GiB), the container's writable layer, its logs


def placement(settings: Settings, pool: str) -> PoolPlacement:
    return settings.kubernetes_pools.get(pool) or PoolPlacement()


def training_job(shape: TrainingShape, settings: Settings) -> Obj:
    where = placement(settings, shape.pool)
    labels = names.training_labels(shape.job_id, shape.attempt)
    args = ["attempt", shape.job_id, str(shape.attempt)]
    if shape.nodes > 1:  # each pod's node rank is its completion index (JOB_COMPLETION_INDEX)
        host = names.rendezvous_host(shape.name, settings.kubernetes_namespace)
        args += ["--nodes", str(shape.nodes), "--rendezvous", f"{host}:{names.RENDEZVOUS_PORT}"]
    pod = _pod_spec(settings, where, shape.pool, container={
        "name": "attempt", "args": args, "resources": _resources(where, shape.gpus_per_pod),
        "ports": [{"name": "rendezvous", "containerPort": names.RENDEZVOUS_PORT}] if shape.nodes > 1 else []},
        gpus=shape.gpus_per_pod, shared_work=shape.nodes > 1)
    pod["restartPolicy"] = "Never"  # a failed attempt is requeued by the platform, from its checkpoint
    pod["terminationGracePeriodSeconds"] = settings.pod_grace_s
    if shape.nodes > 1:
        pod["subdomain"] = shape.name
    spec: Obj = {"backoffLimit": 0, "activeDeadlineSeconds": settings.attempt_deadline_s,
                 "ttlSecondsAfterFinished": settings.kubernetes_job_ttl_s,
                 "template": {"metadata": {"labels": labels}, "spec": pod}}
    if shape.nodes > 1:
        spec |= {"completionMode": "Indexed", "completions": shape.nodes, "parallelism": shape.nodes}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": shape.name, "labels": labels,
                         "annotations": {names.POOL_ANNOTATION: shape.pool, "sanacloud.io/gpus": str(shape.gpus)}},
            "spec": spec}


def rendezvous_service(shape: TrainingShape) -> Obj:
    """Headless: gives each pod of the Indexed Job a DNS name (`<job>-<index>.<job>`), resolvable
    before the pods are ready, which is when torchrun's rendezvous needs it."""
    labels = names.training_labels(shape.job_id, shape.attempt)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": shape.name, "labels": labels},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": labels,
                     "ports": [{"name": "rendezvous", "port": names.RENDEZVOUS_PORT}]}}


def inference_deployment(shape: InferenceShape, settings: Settings) -> Obj:
    where = placement(settings, shape.pool)
    labels = names.inference_labels(shape.name)
    queue = infer_queue(shape.pool, shape.key)
    pod = _pod_spec(settings, where, shape.pool, container={
        "name": "inference", "resources": _resources(where, 1),
        "args": ["worker", "--queues", queue, "--concurrency", "1", "--pool", "solo", "--hostname", "infer@%h"]},
        gpus=1, shared_work=False)
    pod["terminationGracePeriodSeconds"] = int(settings.generation_timeout_s) + INFERENCE_GRACE_MARGIN_S
    template = {"metadata": {"labels": labels}, "spec": pod}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": shape.name, "labels": labels,
                         "annotations": {names.POOL_ANNOTATION: shape.pool, names.KEY_ANNOTATION: shape.key,
                                         names.TEMPLATE_HASH: template_hash(template)}},
            "spec": {"replicas": shape.replicas, "selector": {"matchLabels": labels},
                     # No surge: a new pod would need one more GPU than the replicas hold.
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
                     "template": template}}


def template_hash(template: Obj) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


def _resources(where: PoolPlacement, gpus: int) -> Obj:
    requests = {"cpu": f"{where.cpu_per_gpu * gpus:g}", "memory": f"{where.memory_per_gpu_gi * gpus}Gi",
                "ephemeral-storage": f"{min(20, where.scratch_gi)}Gi", GPU_RESOURCE: gpus}
    # The limit counts the scratch volume, the data folder, the writable layer and the logs together:
    # room beyond the scratch volume's own size limit, so that the pod is not evicted first.
    return {"requests": requests,
            "limits": {**requests, "ephemeral-storage": f"{where.scratch_gi + EPHEMERAL_MARGIN_GI}Gi"}}


def _pod_spec(settings: Settings, where: PoolPlacement, pool: str, *, container: Obj, gpus: int,
              shared_work: bool) -> Obj:
    env = [{"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}
           for name, key in SECRET_ENV.items()]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": DATA_DIR},
              {"name": "dshm", "mountPath": "/dev/shm"}]
    volumes: list[Obj] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": f"{where.scratch_gi}Gi"}},
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
        # PyTorch data loaders, NCCL and DeepSpeed need more shared memory than the runtime's 64 MiB.
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{where.shm_per_gpu_gi * gpus}Gi"}}]
    env.append({"name": "SANACLOUD_WORK_DIR", "value": SHARED_WORK_DIR if shared_work else SCRATCH_WORK_DIR})
    if shared_work:  # every node's ranks write their checkpoint shards into one folder (DeepSpeed's rule)
        mounts.append({"name": "shared-work", "mountPath": SHARED_WORK_DIR})
        volumes.append({"name": "shared-work",
                        "persistentVolumeClaim": {"claimName": settings.kubernetes_shared_claim}})
    full_container = {
        "image": settings.kubernetes_image, "command": ["sanacloud"], **{k: v for k, v in container.items() if v},
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}], "env": env, "volumeMounts": mounts,
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}}}
    return {"serviceAccountName": POD_SERVICE_ACCOUNT, "automountServiceAccountToken": False,
            "nodeSelector": where.selector_for(pool), "tolerations": where.tolerations,
            "securityContext": {"runAsNonRoot": True, "runAsUser": USER, "runAsGroup": USER, "fsGroup": USER,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [full_container], "volumes": volumes}
