"""The Kubernetes executor's reconcile pass, for real on the database and through the real REST
adapter, against the in-memory API server (tests/helpers/fake_kube.py), which validates every
object it is given against the Kubernetes schema (strict) and simulates the Job and ReplicaSet
controllers. Jobs are submitted through the API; workers' moves (claim, checkpoint, finish) are
made on the database as a pod would make them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sanacloud.platform import accounts
from sanacloud.platform.cluster import names
from sanacloud.platform.cluster.desired import plan
from sanacloud.platform.cluster.kube_api import KubeApi
from sanacloud.platform.cluster.reconcile import act, observe, read_database, reconcile
from sanacloud.platform.db.models import Endpoint, Generation, Job
from sanacloud.platform.db.session import session_scope
from sanacloud.platform.jobs import lifecycle
from sanacloud.platform.serving.generations import cool_abandoned
from sanacloud.platform.settings import Settings, get_settings
from tests.helpers.api import events, get_job, lora_job, ready_dataset, submit
from tests.helpers.backends import TenantCtx, reset_caches
from tests.helpers.fake_kube import FakeKube, Refused
from tests.helpers.lifecycle import end, record_checkpoints, start

IMAGE = "registry.example.com/sanacloud:1.2.3"


@pytest.fixture
def kube(configured: Any, monkeypatch: pytest.MonkeyPatch, fake_kube: FakeKube) -> Iterator[KubeApi]:
    monkeypatch.setenv("SANACLOUD_EXECUTOR", "kubernetes")
    monkeypatch.setenv("SANACLOUD_KUBERNETES_IMAGE", IMAGE)
    monkeypatch.setenv("SANACLOUD_KUBERNETES_SHARED_CLAIM", "shared-work")
    monkeypatch.setenv("SANACLOUD_KUBERNETES_POOLS", '{"gpu": {"node_selector": {"pool": "h100-nodes"}}}')
    reset_caches()
    api = KubeApi(base_url="https://kubernetes.test", namespace="sanacloud", transport=fake_kube.transport)
    yield api
    api.close()


def settings() -> Settings:
    return get_settings()


def one_job(fake: FakeKube) -> dict[str, Any]:
    (job,) = [o for o in fake.objects("Job")]
    return job


def submitted(client: TestClient, tenant: TenantCtx, **body: Any) -> str:
    response = submit(client, tenant, lora_job(ready_dataset(client, tenant, images=1), **body))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def event_messages(client: TestClient, tenant: TenantCtx, job_id: str, kind: str) -> list[str]:
    return [e["payload"]["message"] for e in events(client, tenant, job_id) if e["type"] == kind]


def test_an_admitted_job_becomes_a_job_of_its_exact_shape(client: TestClient, tenant: TenantCtx, kube: KubeApi,
                                                          fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    assert reconcile(kube, settings())["jobs_created"] == 1
    job = one_job(fake_kube)
    assert job["metadata"]["name"] == names.training_name(job_id, 1)
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == settings().attempt_deadline_s
    assert spec["ttlSecondsAfterFinished"] == settings().kubernetes_job_ttl_s
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert [*container["command"], *container["args"]] == ["sanacloud", "attempt", job_id, "1"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"pool": "h100-nodes"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["terminationGracePeriodSeconds"] == settings().pod_grace_s >= settings().stop_grace_s
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "8Gi"}
    # Model files, the dataset and checkpoints go to the scratch volume, not the small data folder.
    work_dir = next(e["value"] for e in container["env"] if e["name"] == "SANACLOUD_WORK_DIR")
    scratch = next(m["name"] for m in container["volumeMounts"] if work_dir.startswith(m["mountPath"] + "/"))
    assert next(v for v in pod["volumes"] if v["name"] == scratch)["emptyDir"]["sizeLimit"] == "100Gi"
    assert pod["serviceAccountName"] == "sanacloud" and pod["automountServiceAccountToken"] is False
    launched = event_messages(client, tenant, job_id, "launched")
    assert launched == [f"started as Kubernetes Job {names.training_name(job_id, 1)}"]
    assert reconcile(kube, settings()) == {}, "a second pass has nothing to do"
    assert len(fake_kube.objects("Job")) == 1


def test_a_run_across_nodes_is_an_indexed_job_with_a_rendezvous_service(client: TestClient, tenant: TenantCtx,
                                                                         kube: KubeApi, fake_kube: FakeKube) -> None:
    with session_scope() as session:
        accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=8, gpus_per_node=2)
        accounts.set_quota(session, tenant_id=tenant.id, pool=accounts.upsert_pool(
            session, name="gpu", gpu_type="h100", capacity_gpus=8, gpus_per_node=2), nominal_gpus=4,
            borrowing_limit_gpus=0)
    dataset = ready_dataset(client, tenant, images=1)
    response = submit(client, tenant, {"type": "full", "dataset_id": dataset, "base_model": "sana-tiny", "gpus": 4})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    reconcile(kube, settings())
    job = one_job(fake_kube)
    name = job["metadata"]["name"]
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == name and pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["containers"][0]["args"] == ["attempt", job_id, "1", "--nodes", "2", "--rendezvous",
                                            f"{name}-0.{name}.sanacloud.svc:29500"]
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["shared-work"]
    (service,) = fake_kube.objects("Service")
    assert service["metadata"]["name"] == name and service["spec"]["clusterIP"] == "None"
    fake_kube.run_controllers()
    assert sorted(p["spec"]["hostname"] for p in fake_kube.pods_of_job(name)) == [f"{name}-0", f"{name}-1"]
    end_after_claim(job_id)
    reconcile(kube, settings())
    fake_kube.finish_terminations()
    assert fake_kube.objects("Job") == [] and fake_kube.objects("Service") == []


def end_after_claim(job_id: str) -> None:
    start(job_id)
    end(job_id)


def test_finish_cancel_and_preemption_delete_the_job_with_the_checkpoint_grace(
        client: TestClient, make_tenant: Any, kube: KubeApi, fake_kube: FakeKube) -> None:
    lender, owner = make_tenant("lender", nominal_gpus=0, borrow=8), make_tenant("owner", nominal_gpus=8)
    with session_scope() as session:
        accounts.upsert_pool(session, name="gpu", gpu_type="h100", capacity_gpus=2)
    finished, cancelled = submitted(client, owner), submitted(client, owner)
    reconcile(kube, settings())
    assert len(fake_kube.objects("Job")) == 2
    end_after_claim(finished)
    start(cancelled)
    assert client.post(f"/v1/jobs/{cancelled}/cancel", headers=owner.headers).status_code == 200
    reconcile(kube, settings())
    assert sorted(fake_kube.deletions) == sorted([("Job", names.training_name(finished, 1), None),
                                                  ("Job", names.training_name(cancelled, 1), None)])
    fake_kube.finish_terminations()
    end_cancelled(cancelled)

    borrowed = submitted(client, lender)
    reconcile(kube, settings())
    start(borrowed)
    submitted(client, owner, gpus=2)  # within its nominal quota: the borrower must make room
    assert get_job(client, lender, borrowed)["status"] == "running"
    fake_kube.deletions.clear()
    reconcile(kube, settings())
    assert ("Job", names.training_name(borrowed, 1), None) in fake_kube.deletions


def end_cancelled(job_id: str) -> None:
    with session_scope() as session:
        attempt = session.get_one(Job, job_id).attempt
        assert lifecycle.finish(session, job_id=job_id, attempt=attempt, outcome=lifecycle.Outcome.CANCELLED)


def test_a_crash_between_create_and_record_heals_without_a_duplicate(client: TestClient, tenant: TenantCtx,
                                                                    kube: KubeApi, fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    with session_scope() as session:
        wanted = read_database(session)
    act(kube, plan(observe(kube, settings(), wanted)), settings())  # ... and the process dies before recording
    assert len(fake_kube.objects("Job")) == 1 and event_messages(client, tenant, job_id, "launched") == []
    summary = reconcile(kube, settings())
    assert "jobs_created" not in summary and len(fake_kube.objects("Job")) == 1
    assert len(event_messages(client, tenant, job_id, "launched")) == 1


def test_objects_the_executor_does_not_own_are_never_touched(client: TestClient, tenant: TenantCtx, kube: KubeApi,
                                                             fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    lookalike = names.training_name(job_id, 7)
    fake_kube.add_foreign("Job", {"apiVersion": "batch/v1", "kind": "Job",
                                  "metadata": {"name": lookalike, "labels": {names.JOB: job_id, names.ATTEMPT: "7"}},
                                  "spec": {"template": {"spec": {"containers": []}}}})
    fake_kube.add_foreign("Deployment", {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "metadata": {"name": "sc-infer-gpu-0123456789", "labels": {}},
                                         "spec": {"replicas": 3}})
    reconcile(kube, settings())
    end_after_claim(job_id)
    reconcile(kube, settings())
    fake_kube.finish_terminations()
    reconcile(kube, settings())
    touched = {name for _method, _kind, name, _query in fake_kube.calls if name}
    assert lookalike not in touched and "sc-infer-gpu-0123456789" not in touched
    assert {o["metadata"]["name"] for o in fake_kube.objects("Job")} == {lookalike}


def test_an_unschedulable_pod_is_told_to_the_user_once(client: TestClient, tenant: TenantCtx, kube: KubeApi,
                                                       fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    reconcile(kube, settings())
    fake_kube.run_controllers()
    (pod,) = fake_kube.pods_of_job(names.training_name(job_id, 1))
    fake_kube.unschedulable(pod["metadata"]["name"], "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    reconcile(kube, settings())
    reconcile(kube, settings())
    said = "waiting for a GPU node in pool gpu: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    assert event_messages(client, tenant, job_id, "pod_waiting") == [said]
    job = get_job(client, tenant, job_id)
    assert job["status"] == "admitted" and job["wait_reason"] == said
    fake_kube.start(pod["metadata"]["name"])
    start(job_id)
    assert get_job(client, tenant, job_id)["wait_reason"] is None, "a running job waits for nothing"


def test_an_attempt_past_its_deadline_fails_rather_than_runs_again(client: TestClient, tenant: TenantCtx,
                                                                   kube: KubeApi, fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    reconcile(kube, settings())
    fake_kube.run_controllers()
    start(job_id)
    fake_kube.fail_job(names.training_name(job_id, 1), "DeadlineExceeded",
                       "Job was active longer than specified deadline")
    reconcile(kube, settings())
    job = get_job(client, tenant, job_id)
    assert job["status"] == "failed" and "SANACLOUD_ATTEMPT_DEADLINE_S" in job["error"], job


def test_an_image_that_cannot_be_pulled_fails_the_job_with_the_reason(client: TestClient, tenant: TenantCtx,
                                                                      kube: KubeApi, fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    reconcile(kube, settings())
    fake_kube.run_controllers()
    (pod,) = fake_kube.pods_of_job(names.training_name(job_id, 1))
    message = f'failed to pull image "{IMAGE}": not found'
    fake_kube.image_pull_error(pod["metadata"]["name"], message)  # a first failure may pass: told, not fatal
    reconcile(kube, settings())
    job = get_job(client, tenant, job_id)
    assert job["status"] == "admitted" and job["wait_reason"] == f"its pod cannot start yet: ErrImagePull: {message}"
    fake_kube.image_pull_error(pod["metadata"]["name"], message, reason="ImagePullBackOff")  # the kubelet retried
    reconcile(kube, settings())
    job = get_job(client, tenant, job_id)
    assert job["status"] == "failed" and "ImagePullBackOff" in job["error"] and IMAGE in job["error"]
    assert ("Job", names.training_name(job_id, 1), None) in fake_kube.deletions


def test_an_evicted_pod_requeues_the_attempt_which_resumes_from_its_checkpoint(
        client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    reconcile(kube, settings())
    fake_kube.run_controllers()
    start(job_id)
    record_checkpoints(job_id, [0.5, 0.4])
    (pod,) = fake_kube.pods_of_job(names.training_name(job_id, 1))
    fake_kube.evict(pod["metadata"]["name"], "The node was low on resource: memory.")
    reconcile(kube, settings())
    job = get_job(client, tenant, job_id)
    assert job["status"] == "admitted" and job["attempt"] == 2, "requeued, and admitted again at once"
    reasons = [e["payload"].get("reason", "") for e in events(client, tenant, job_id) if e["type"] == "status"]
    assert any("evicted" in r and "resumes from its last checkpoint" in r for r in reasons), reasons
    reconcile(kube, settings())
    fake_kube.finish_terminations()
    assert [o["metadata"]["name"] for o in fake_kube.objects("Job")] == [names.training_name(job_id, 2)]
    with session_scope() as session:
        context = lifecycle.claim(session, job_id=job_id, attempt=2, worker="pod-2:1")
    assert context is not None and context.resume_from is not None and context.resume_from[0] == 2


# ---------------------------------------------------------------------------------------------
# Inference.


def cold_endpoint(client: TestClient, tenant: TenantCtx, **body: Any) -> str:
    created = client.post("/v1/endpoints", json={"name": "ep", "model": "sana-tiny", **body}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def generate(client: TestClient, tenant: TenantCtx, endpoint_id: str, images: int = 1) -> str:
    answer = client.post(f"/v1/endpoints/{endpoint_id}/generate", headers=tenant.headers,
                         json={"prompt": "a red circle", "wait": False, "num_images": images})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def inference_pods(fake: FakeKube) -> list[dict[str, Any]]:
    return [p for p in fake.objects("Pod") if p["metadata"]["labels"].get(names.ROLE) == names.SERVING
            and not p["metadata"].get("deletionTimestamp")]


def sampling_on(pod_name: str, generation_id: str) -> None:
    with session_scope() as session:
        session.execute(update(Generation).where(Generation.id == generation_id)
                        .values(status="running", worker=f"{pod_name}:1"))


def finished(generation_id: str) -> None:
    with session_scope() as session:
        session.execute(update(Generation).where(Generation.id == generation_id).values(status="succeeded"))


def idle_for_long(endpoint_id: str) -> None:
    """As if its idle timeout had passed: the tick cools it."""
    with session_scope() as session:
        session.execute(update(Endpoint).where(Endpoint.id == endpoint_id).values(idle_timeout_s=0))
        session.execute(update(Endpoint).where(Endpoint.id == endpoint_id)
                        .values(last_request_at=Endpoint.created_at))
    with session_scope() as session:
        assert cool_abandoned(session, grace_s=0) == [endpoint_id]


def test_inference_scales_from_zero_on_a_cold_request_and_back_to_zero_sparing_busy_pods(
        client: TestClient, tenant: TenantCtx, kube: KubeApi, fake_kube: FakeKube) -> None:
    endpoint_id = cold_endpoint(client, tenant, max_replicas=2)
    assert reconcile(kube, settings()) == {} and fake_kube.objects("Deployment") == []
    first = generate(client, tenant, endpoint_id)
    reconcile(kube, settings())
    (deployment,) = fake_kube.objects("Deployment")
    assert deployment["spec"]["replicas"] == 1
    with session_scope() as session:
        key = session.scalars(select(Endpoint.model_id).where(Endpoint.id == endpoint_id)).one()
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--queues") + 1] == f"infer.gpu.{key}", "each served model has its own queue"
    fake_kube.run_controllers()
    (busy,) = inference_pods(fake_kube)
    sampling_on(busy["metadata"]["name"], first)

    queued = [generate(client, tenant, endpoint_id, images=8) for _ in range(2)]  # more than one batch waits
    assert client.get(f"/v1/endpoints/{endpoint_id}", headers=tenant.headers).json()["replicas"] == 2
    reconcile(kube, settings())
    fake_kube.run_controllers()
    assert len(inference_pods(fake_kube)) == 2

    for generation_id in queued:
        finished(generation_id)
    idle_for_long(endpoint_id)  # cold, while the first generation still samples on `busy`
    reconcile(kube, settings())
    fake_kube.run_controllers()
    assert [p["metadata"]["name"] for p in inference_pods(fake_kube)] == [busy["metadata"]["name"]]
    assert ("Pod", busy["metadata"]["name"]) not in {(k, n) for k, n, _g in fake_kube.deletions}

    finished(first)
    reconcile(kube, settings())
    fake_kube.run_controllers()
    fake_kube.finish_terminations()
    assert inference_pods(fake_kube) == []
    reconcile(kube, settings())
    fake_kube.finish_terminations()
    assert fake_kube.objects("Deployment") == [], "a served model scaled to zero and drained leaves nothing"


def test_pods_lost_again_and_again_without_progress_fail_the_job(client: TestClient, tenant: TenantCtx,
                                                                 kube: KubeApi, fake_kube: FakeKube) -> None:
    job_id = submitted(client, tenant)
    for attempt in (1, 2, 3):
        reconcile(kube, settings())
        fake_kube.finish_terminations()
        fake_kube.run_controllers()
        (pod,) = fake_kube.pods_of_job(names.training_name(job_id, attempt))
        start(job_id)
        fake_kube.evict(pod["metadata"]["name"], "The node was low on resource: ephemeral-storage.")
        reconcile(kube, settings())
        expected = "failed" if attempt == 3 else "admitted"
        assert get_job(client, tenant, job_id)["status"] == expected, attempt
    job = get_job(client, tenant, job_id)
    assert "lost 3 times in a row without progress" in job["error"] and "ephemeral-storage" in job["error"]


def test_a_job_the_cluster_refuses_to_create_fails_saying_why(client: TestClient, tenant: TenantCtx, kube: KubeApi,
                                                              fake_kube: FakeKube,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    create = fake_kube._create

    def over_quota(kind: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if kind == "Job":
            raise Refused(403, "Forbidden", 'jobs "x" is forbidden: exceeded quota: gpus, requested: '
                                            "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=8")
        return create(kind, obj, **kwargs)

    monkeypatch.setattr(fake_kube, "_create", over_quota)
    job_id = submitted(client, tenant)
    reconcile(kube, settings())
    job = get_job(client, tenant, job_id)
    assert job["status"] == "failed" and "exceeded quota" in job["error"] and "refused" in job["error"], job
