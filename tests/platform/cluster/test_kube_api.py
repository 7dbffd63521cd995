"""The Kubernetes adapter, run against the in-memory API server of tests/helpers/fake_kube.py: each
REST call it makes, and the parts of the fake's fidelity the executor's reconcile relies on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sanacloud.platform.cluster import kube_api
from sanacloud.platform.cluster.kube_api import AlreadyExists, Kind, KubeApi, KubeError, TokenFile
from sanacloud.platform.settings import Settings
from tests.helpers.fake_kube import COMPLETION_INDEX, DELETION_COST, FakeKube

Obj = dict[str, Any]
OURS = {"app.kubernetes.io/managed-by": "sanacloud"}
CONTAINER = {"name": "trainer", "image": "sanacloud:dev"}


@pytest.fixture
def api(fake_kube: FakeKube) -> Iterator[KubeApi]:
    client = KubeApi(base_url="https://fake", namespace=fake_kube.namespace, transport=fake_kube.transport)
    yield client
    client.close()


def job(name: str, *, completions: int | None = None, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    """A training Job: Indexed across `completions` nodes when given."""
    indexed = {"completionMode": "Indexed", "completions": completions, "parallelism": completions} \
        if completions else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": labels or dict(OURS)},
            "spec": {"backoffLimit": 0, **indexed, **spec, "template": {
                "metadata": {"labels": labels or dict(OURS)},
                "spec": {"restartPolicy": "Never", "subdomain": name, "containers": [dict(CONTAINER)],
                         "terminationGracePeriodSeconds": 330}}}}


def deployment(name: str, replicas: int, **spec: Any) -> Obj:
    labels = {**OURS, "sanacloud.io/endpoint": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, **spec, "template": {
                "metadata": {"labels": labels}, "spec": {"containers": [dict(CONTAINER)]}}}}


def service(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels or dict(OURS)},
            "spec": {"clusterIP": "None", "selector": {"job-name": name}}}


def names(objects: list[Obj]) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in objects)


# ---------------------------------------------------------------------------------------------
# The calls.

def test_create_then_list_by_labels(api: KubeApi) -> None:
    created = api.create(Kind.SERVICE, service("run-a"))
    api.create(Kind.SERVICE, service("run-b", {**OURS, "sanacloud.io/job": "b"}))
    api.create(Kind.SERVICE, service("other", {"team": "x"}))

    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["metadata"]["managedFields"][0]["manager"] == kube_api.FIELD_MANAGER
    assert names(api.list(Kind.SERVICE, OURS)) == ["run-a", "run-b"]
    assert names(api.list(Kind.SERVICE, {**OURS, "sanacloud.io/job": "b"})) == ["run-b"]
    assert names(api.list(Kind.SERVICE, {})) == ["other", "run-a", "run-b"]
    # As on the wire: list items carry no kind, and the server filled in defaults.
    listed = api.list(Kind.SERVICE, {"team": "x"})[0]
    assert "kind" not in listed and listed["spec"]["type"] == "ClusterIP"


def test_a_second_create_of_a_name_is_already_exists(api: KubeApi) -> None:
    api.create(Kind.JOB, job("run-a"))
    with pytest.raises(AlreadyExists) as raised:
        api.create(Kind.JOB, job("run-a"))
    assert raised.value.status == 409 and raised.value.reason == "AlreadyExists"
    assert '"run-a" already exists' in raised.value.message


def test_apply_creates_then_replaces_the_spec(api: KubeApi, fake_kube: FakeKube) -> None:
    api.apply(Kind.DEPLOYMENT, deployment("endpoint-a", 1, minReadySeconds=5))
    updated = api.apply(Kind.DEPLOYMENT, deployment("endpoint-a", 3))

    assert updated["spec"]["replicas"] == 3 and "minReadySeconds" not in updated["spec"]
    assert updated["metadata"]["generation"] == 2
    assert api.list(Kind.DEPLOYMENT, OURS)[0]["spec"]["replicas"] == 3
    method, kind, name, query = fake_kube.calls[-2]
    assert (method, kind, name) == ("PATCH", "Deployment", "endpoint-a")
    assert query == {"fieldManager": "sanacloud", "force": "true"}


def test_an_unknown_field_is_refused_naming_it_and_nothing_is_stored(api: KubeApi) -> None:
    wrong = job("run-a")
    wrong["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    for write in (api.create, api.apply):
        with pytest.raises(KubeError) as raised:
            write(Kind.JOB, wrong)
        assert raised.value.status == 422 and raised.value.reason == "Invalid"
        assert "'gpus' was unexpected" in raised.value.message and "containers.0" in raised.value.message
    assert api.list(Kind.JOB, {}) == []


@pytest.mark.parametrize(("kind", "obj", "why"), [
    (Kind.JOB, job("r" * 64), "63 characters"),  # the Job's name is a label value of its pods
    (Kind.SERVICE, service("0a1b-rendezvous"), "DNS-1035"),  # a Service's name starts with a letter
    (Kind.JOB, job("run-a", labels={"sanacloud.io/tenant": "acme corp"}), "valid label"),
    (Kind.JOB, job("r" * 62, completions=10), "hostname of the last index"),
])
def test_names_and_labels_the_schema_cannot_check_are_refused(api: KubeApi, kind: Kind, obj: Obj, why: str) -> None:
    with pytest.raises(KubeError, match=why) as raised:
        api.create(kind, obj)
    assert raised.value.status == 422


def test_a_job_template_cannot_change(api: KubeApi) -> None:
    api.apply(Kind.JOB, job("run-a"))
    changed = job("run-a")
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "sanacloud:other"
    with pytest.raises(KubeError, match="immutable"):
        api.apply(Kind.JOB, changed)
    api.apply(Kind.JOB, job("run-a"))  # the same again is no change


def test_annotate_merges_into_a_pods_annotations(api: KubeApi, fake_kube: FakeKube) -> None:
    api.create(Kind.DEPLOYMENT, deployment("endpoint-a", 1))
    fake_kube.run_controllers()
    pod = fake_kube.pods_of(OURS)[0]["metadata"]["name"]

    api.annotate(Kind.POD, pod, {DELETION_COST: "10"})
    annotated = api.annotate(Kind.POD, pod, {"sanacloud.io/load": "3"})
    assert annotated["metadata"]["annotations"] == {DELETION_COST: "10", "sanacloud.io/load": "3"}
    with pytest.raises(KubeError) as raised:
        api.annotate(Kind.POD, "gone", {DELETION_COST: "1"})
    assert raised.value.status == 404


def test_list_follows_continue_pages(api: KubeApi, fake_kube: FakeKube) -> None:
    fake_kube.page_size = 2
    for index in range(5):
        fake_kube.add_foreign("Service", service(f"run-{index}"))
    assert names(api.list(Kind.SERVICE, OURS)) == [f"run-{index}" for index in range(5)]
    pages = [query for method, kind, _, query in fake_kube.calls if method == "GET"]
    assert len(pages) == 3 and "continue" not in pages[0] and all("continue" in page for page in pages[1:])
    assert all(page["limit"] == str(kube_api.PAGE_SIZE) for page in pages)


def test_the_token_is_sent_as_bearer_and_read_for_every_request(fake_kube: FakeKube) -> None:
    current = ["first"]
    api = KubeApi(base_url="https://fake", namespace=fake_kube.namespace, token=lambda: current[0],
                  transport=fake_kube.transport)
    fake_kube.token = "first"
    assert api.list(Kind.POD, {}) == []
    fake_kube.token = current[0] = "rotated"
    assert api.list(Kind.POD, {}) == []
    fake_kube.token = "another"
    with pytest.raises(KubeError) as raised:
        api.list(Kind.POD, {})
    assert raised.value.status == 401


def test_from_settings_finds_the_in_cluster_server(fake_kube: FakeKube, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    (tmp_path / "token").write_text("pod-token\n")
    (tmp_path / "ca.crt").write_text("not read: the test's transport brings its own TLS")
    monkeypatch.setattr(kube_api, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    urls: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        return fake_kube.transport.handle_request(request)

    fake_kube.namespace, fake_kube.token = "training", "pod-token"
    settings = Settings(data_dir=tmp_path, kubernetes_namespace="training")
    api = KubeApi.from_settings(settings, transport=httpx.MockTransport(answer))
    assert api.list(Kind.JOB, OURS) == []
    assert str(urls[0]).startswith("https://10.96.0.1:6443/apis/batch/v1/namespaces/training/jobs?")

    fake_kube.token = None  # a configured URL (kubectl proxy, say) is reached without a token
    configured = KubeApi.from_settings(Settings(data_dir=tmp_path, kubernetes_api_url="https://kube.example:6443"),
                                       transport=httpx.MockTransport(answer))
    configured.list(Kind.POD, {})
    assert urls[-1].host == "kube.example" and urls[-1].port == 6443


def test_the_token_file_is_reread_once_a_minute(tmp_path: Path) -> None:
    path, now = tmp_path / "token", [0.0]
    path.write_text("first\n")
    token = TokenFile(path, clock=lambda: now[0])
    assert token() == "first"
    path.write_text("rotated\n")
    now[0] = 59.0
    assert token() == "first"
    now[0] = 60.0
    assert token() == "rotated"


# ---------------------------------------------------------------------------------------------
# Deleting.

def test_a_deleted_pod_terminates_for_its_grace_and_a_missing_one_is_false(api: KubeApi,
                                                                           fake_kube: FakeKube) -> None:
    api.create(Kind.DEPLOYMENT, deployment("endpoint-a", 1))
    fake_kube.run_controllers()
    pod = fake_kube.pods_of(OURS)[0]["metadata"]["name"]

    assert api.delete(Kind.POD, pod, grace_s=120) is True
    terminating = api.list(Kind.POD, OURS)
    assert names(terminating) == [pod] and terminating[0]["metadata"]["deletionGracePeriodSeconds"] == 120
    assert ("Pod", pod, 120) in fake_kube.deletions
    fake_kube.finish_terminations()
    assert api.list(Kind.POD, OURS) == []
    assert api.delete(Kind.POD, pod) is False
    assert api.delete(Kind.JOB, "never-was", grace_s=0) is False


def test_a_deleted_job_goes_at_once_and_its_pods_terminate_with_their_own_grace(api: KubeApi,
                                                                               fake_kube: FakeKube) -> None:
    api.create(Kind.JOB, job("run-a", completions=2))
    fake_kube.run_controllers()
    running, pending = (pod["metadata"]["name"] for pod in fake_kube.pods_of_job("run-a"))
    fake_kube.start(running)

    assert api.delete(Kind.JOB, "run-a", grace_s=5) is True
    assert api.list(Kind.JOB, OURS) == []  # only pods delete gracefully
    # The garbage collector deleted the pods: the running one with its template's grace, the
    # unscheduled one at once.
    (pod,) = fake_kube.pods_of_job("run-a")
    assert pod["metadata"]["name"] == running and pod["metadata"]["deletionGracePeriodSeconds"] == 330
    assert {("Job", "run-a", 5), ("Pod", running, None), ("Pod", pending, None)} <= set(fake_kube.deletions)
    fake_kube.finish_terminations()
    assert fake_kube.pods_of_job("run-a") == []


# ---------------------------------------------------------------------------------------------
# The controllers and what the kubelet reports.

def test_a_job_gets_its_pods_and_an_indexed_one_its_hostnames(api: KubeApi, fake_kube: FakeKube) -> None:
    api.create(Kind.JOB, job("single"))
    api.create(Kind.JOB, job("multi", completions=3))
    fake_kube.run_controllers()
    fake_kube.run_controllers()  # a second pass makes nothing more

    (single,) = fake_kube.pods_of_job("single")
    assert single["status"]["phase"] == "Pending" and single["metadata"]["labels"]["job-name"] == "single"
    assert single["metadata"]["ownerReferences"][0]["kind"] == "Job" and "hostname" not in single["spec"]
    pods = sorted(fake_kube.pods_of_job("multi"), key=lambda pod: int(pod["metadata"]["labels"][COMPLETION_INDEX]))
    assert [pod["spec"]["hostname"] for pod in pods] == ["multi-0", "multi-1", "multi-2"]
    assert all(pod["spec"]["subdomain"] == "multi" for pod in pods)
    assert [pod["metadata"]["annotations"][COMPLETION_INDEX] for pod in pods] == ["0", "1", "2"]
    assert all(pod["metadata"]["name"].startswith(pod["spec"]["hostname"] + "-") for pod in pods)
    assert api.list(Kind.JOB, OURS)[0]["status"]["active"] == 3


def test_an_evicted_pod_fails_its_job_past_the_backoff_limit(api: KubeApi, fake_kube: FakeKube) -> None:
    api.create(Kind.JOB, job("strict"))
    api.create(Kind.JOB, job("lenient", backoffLimit=1))
    fake_kube.run_controllers()
    for name in ("strict", "lenient"):
        fake_kube.evict(fake_kube.pods_of_job(name)[0]["metadata"]["name"], "The node was low on resource: memory.")

    strict = fake_kube.get("Job", "strict")
    assert strict is not None and strict["status"]["failed"] == 1
    assert {"type": "Failed", "reason": "BackoffLimitExceeded"}.items() <= strict["status"]["conditions"][-1].items()
    fake_kube.run_controllers()
    assert len(fake_kube.pods_of_job("strict")) == 1
    phases = sorted(pod["status"]["phase"] for pod in fake_kube.pods_of_job("lenient"))
    assert phases == ["Failed", "Pending"]  # a replacement, within the limit


def test_scale_down_removes_the_lowest_deletion_cost_first_then_the_newest(api: KubeApi,
                                                                          fake_kube: FakeKube) -> None:
    api.apply(Kind.DEPLOYMENT, deployment("endpoint-a", 4))
    fake_kube.run_controllers()
    oldest, second, third, newest = (pod["metadata"]["name"] for pod in
                                     sorted(fake_kube.pods_of(OURS), key=lambda pod: int(
                                         pod["metadata"]["resourceVersion"])))
    for pod, cost in ((oldest, "5"), (second, "-1"), (third, "5")):
        api.annotate(Kind.POD, pod, {DELETION_COST: cost})

    api.apply(Kind.DEPLOYMENT, deployment("endpoint-a", 2))
    fake_kube.run_controllers()
    deleted = [name for kind, name, _ in fake_kube.deletions if kind == "Pod"]
    assert deleted == [second, newest]  # -1 first; then of the cost-0 ones, the newest
    assert {pod["metadata"]["name"] for pod in fake_kube.pods_of(OURS) if "deletionTimestamp" not in pod["metadata"]} \
        == {oldest, third}
    status = api.list(Kind.DEPLOYMENT, OURS)[0]["status"]
    assert status["replicas"] == status["readyReplicas"] == 2


def test_a_foreign_object_is_listed_but_never_touched(api: KubeApi, fake_kube: FakeKube) -> None:
    fake_kube.add_foreign("Job", job("someone-elses", labels={"team": "x"}))
    api.create(Kind.JOB, job("ours"))
    api.list(Kind.JOB, OURS)
    assert names(api.list(Kind.JOB, {})) == ["ours", "someone-elses"]
    assert all(name != "someone-elses" for method, _, name, _ in fake_kube.calls if method != "GET")
