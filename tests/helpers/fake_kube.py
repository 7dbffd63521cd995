"""An in-memory Kubernetes API server (as of v1.32) for the REST calls platform/cluster/kube_api.py
makes, served through an httpx.MockTransport, with the controllers and kubelet reports our executor
reacts to simulated on request.

Faithful where our code depends on it: every object written is validated against the OpenAPI
schema in strict mode, plus the name and label rules the schema cannot say; the server fills in
defaults (so what comes back is not what was sent) and refuses changes to immutable fields; list
items carry no kind/apiVersion and zero-valued status fields are absent, as on the wire; only pods
delete gracefully, and a Job's pods are deleted by the garbage collector with their own grace;
Indexed Job pods are named and addressed as the Job controller does; a Deployment scales down in
the ReplicaSet controller's order. Not modelled: watches, resourceVersion preconditions and
conflicts between field managers (apply merges labels and annotations and replaces the spec),
set-based selectors, rolling updates (a changed template replaces a Deployment's pods at once),
Endpoints, events, quotas, admission webhooks, and every kind but the four the executor uses.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

Obj = dict[str, Any]

# The collections served: (API root, resource) -> (kind, apiVersion, the group that qualifies names).
RESOURCES = {("api/v1", "pods"): ("Pod", "v1", ""), ("api/v1", "services"): ("Service", "v1", ""),
             ("apis/batch/v1", "jobs"): ("Job", "batch/v1", "batch"),
             ("apis/apps/v1", "deployments"): ("Deployment", "apps/v1", "apps")}
KINDS = {kind: (api_version, group, resource) for (_, resource), (kind, api_version, group) in RESOURCES.items()}
PATH = re.compile(r"^/(api/v1|apis/[^/]+/[^/]+)/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?$")

JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
TEMPLATE_HASH = "pod-template-hash"
NODE = "fake-node"
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
TERMINAL = ("Succeeded", "Failed")

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Service names: a letter first
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_PART = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Fields the API server refuses to change once set.
IMMUTABLE = {"Job": ("selector", "template", "completionMode"), "Deployment": ("selector",),
             "Service": ("clusterIP",)}


class Refused(Exception):
    """An answer other than 2xx, as the API server's Status object."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def response(self) -> httpx.Response:
        return httpx.Response(self.code, json={"kind": "Status", "apiVersion": "v1", "metadata": {},
                                               "status": "Failure", "message": self.message,
                                               "reason": self.reason, "code": self.code})


class FakeKube:
    def __init__(self, namespace: str = "sanacloud") -> None:
        self.namespace = namespace
        self.transport = httpx.MockTransport(self._handle)
        self.calls: list[tuple[str, str, str | None, dict[str, str]]] = []
        self.deletions: list[tuple[str, str, int | None]] = []
        self.token: str | None = None  # when set, a request must bear it
        self.page_size: int | None = None  # a server may answer a `limit` with fewer items, and a continue
        self._objects: dict[str, dict[str, Obj]] = {kind: {} for kind in KINDS}
        self._version = 0  # the store's resourceVersion, one counter for every kind as in etcd
        self._born: dict[str, int] = {}  # uid -> creation order (timestamps have whole seconds)
        self._replica_sets: dict[str, str] = {}  # a ReplicaSet's uid -> its Deployment's

    # -----------------------------------------------------------------------------------------
    # REST.

    def _handle(self, request: httpx.Request) -> httpx.Response:
        match = PATH.match(request.url.path)
        resource = RESOURCES.get((match[1], match[3])) if match else None
        query = dict(request.url.params)
        try:
            body = _parse(request)
            name = match[4] if match else None
            if request.method == "POST" and isinstance(body, dict):
                name = (body.get("metadata") or {}).get("name")
            self.calls.append((request.method, resource[0] if resource else request.url.path, name, query))
            if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
                raise Refused(401, "Unauthorized", "Unauthorized")
            if match is None or resource is None:
                raise Refused(404, "NotFound", "the server could not find the requested resource")
            if match[2] != self.namespace:
                if request.method == "GET" and not match[4]:
                    return httpx.Response(200, json={"kind": f"{resource[0]}List", "apiVersion": resource[1],
                                                     "metadata": {}, "items": []})
                raise Refused(404, "NotFound", f'namespaces "{match[2]}" not found')
            return self._route(request, resource[0], match[4], query, body)
        except Refused as refusal:
            return refusal.response()

    def _route(self, request: httpx.Request, kind: str, name: str | None, query: dict[str, str],
               body: Any) -> httpx.Response:
        method, content_type = request.method, request.headers.get("content-type", "").split(";")[0]
        manager = query.get("fieldManager") or request.headers.get("user-agent", "unknown").split("/")[0]
        if method == "GET" and name is None:
            return httpx.Response(200, json=self._list(kind, query))
        if method == "POST" and name is None:
            return httpx.Response(201, json=self._create(kind, _object(body), manager=manager))
        if method == "PATCH" and name and content_type == "application/apply-patch+yaml":
            if "fieldManager" not in query:
                raise Refused(400, "BadRequest", "PATCH requests: fieldManager is required for apply requests")
            created = name not in self._objects[kind]
            return httpx.Response(201 if created else 200, json=self._apply(kind, name, _object(body), manager))
        if method == "PATCH" and name and content_type == "application/merge-patch+json":
            return httpx.Response(200, json=self._merge(kind, name, _object(body), manager))
        if method == "PATCH":
            raise Refused(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                          "media types include: application/json-patch+json, application/merge-patch+json, "
                          "application/apply-patch+yaml")
        if method == "DELETE" and name:
            return httpx.Response(200, json=self._delete_request(kind, name, body or {}, query))
        raise Refused(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _list(self, kind: str, query: dict[str, str]) -> Obj:
        selector = _selector(query.get("labelSelector", ""))
        items = [obj for name, obj in sorted(self._objects[kind].items()) if _selects(selector, obj)]
        after = _decode_continue(query["continue"]) if query.get("continue") else None
        if after is not None:
            items = [obj for obj in items if obj["metadata"]["name"] > after]
        metadata: Obj = {"resourceVersion": str(self._version)}
        if query.get("limit"):
            size = min(int(query["limit"]), self.page_size or int(query["limit"]))
            if len(items) > size:
                items = items[:size]
                token = json.dumps({"after": items[-1]["metadata"]["name"]}).encode()
                metadata["continue"] = base64.urlsafe_b64encode(token).decode()
        # On the wire a list's items carry neither kind nor apiVersion.
        wire = [{key: value for key, value in copy.deepcopy(obj).items() if key not in ("kind", "apiVersion")}
                for obj in items]
        return {"kind": f"{kind}List", "apiVersion": KINDS[kind][0], "metadata": metadata, "items": wire}

    def _create(self, kind: str, obj: Obj, *, manager: str, operation: str = "Update") -> Obj:
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", KINDS[kind][0])
        obj.setdefault("kind", kind)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + _suffix()
        self._check_identity(kind, obj, None)
        self._validate(kind, obj)
        if meta["name"] in self._objects[kind]:
            raise Refused(409, "AlreadyExists", f'{_resource(kind)} "{meta["name"]}" already exists')
        return self._store(kind, obj, manager=manager, operation=operation)

    def _apply(self, kind: str, name: str, obj: Obj, manager: str) -> Obj:
        if "apiVersion" not in obj or "kind" not in obj:
            raise Refused(400, "BadRequest", "apiVersion and kind must be set in an apply request")
        self._check_identity(kind, obj, name)
        stored = self._objects[kind].get(name)
        if stored is None:
            return self._create(kind, obj, manager=manager, operation="Apply")
        self._validate(kind, obj)
        updated = copy.deepcopy(stored)
        for field in ("labels", "annotations"):
            if field in obj["metadata"]:
                updated["metadata"][field] = {**stored["metadata"].get(field, {}), **obj["metadata"][field]}
        if "ownerReferences" in obj["metadata"]:
            updated["metadata"]["ownerReferences"] = obj["metadata"]["ownerReferences"]
        spec = copy.deepcopy(obj.get("spec", {}))
        if kind == "Service" and "clusterIP" not in spec:  # allocated at creation, kept
            spec.update({key: value for key, value in stored["spec"].items() if key in ("clusterIP", "clusterIPs")})
        updated["spec"] = spec
        _default(kind, updated)
        self._check_immutable(kind, stored, updated)
        return self._update(kind, updated, manager=manager, operation="Apply", spec_changed=spec != stored["spec"])

    def _merge(self, kind: str, name: str, patch: Obj, manager: str) -> Obj:
        stored = self._existing(kind, name)
        merged = _merge_patch(stored, patch)
        for field in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "managedFields",
                      "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            merged["metadata"].pop(field, None)
            if field in stored["metadata"]:
                merged["metadata"][field] = stored["metadata"][field]
        if "status" in stored:
            merged["status"] = stored["status"]  # the main resource does not write status
        if kind == "Pod" and merged.get("spec") != stored.get("spec"):
            raise Refused(422, "Invalid", f'Pod "{name}" is invalid: spec: Forbidden: pod updates may not change '
                                          "fields other than the image, activeDeadlineSeconds and tolerations")
        self._validate(kind, merged)
        self._check_immutable(kind, stored, merged)
        return self._update(kind, merged, manager=manager, operation="Update",
                            spec_changed=merged.get("spec") != stored.get("spec"))

    def _delete_request(self, kind: str, name: str, options: Obj, query: dict[str, str]) -> Obj:
        if options and options.get("kind", "DeleteOptions") != "DeleteOptions":
            raise Refused(400, "BadRequest", "the body of a DELETE must be a DeleteOptions")
        grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        grace = None if grace is None else int(grace)
        if grace is not None and grace < 0:
            raise Refused(422, "Invalid", "DeleteOptions is invalid: gracePeriodSeconds: must be >= 0")
        # batch/v1 still orphans a Job's pods unless told otherwise; other kinds default to Background.
        policy = options.get("propagationPolicy") or query.get("propagationPolicy") or (
            "Orphan" if kind == "Job" else "Background")
        stored = self._existing(kind, name)
        self.deletions.append((kind, name, grace))
        dependents = self._dependents(stored)
        answer = self._delete(kind, stored, grace, foreground=policy == "Foreground")
        for pod in dependents:
            if policy == "Orphan":
                pod["metadata"].pop("ownerReferences", None)
            else:  # the garbage collector deletes them without a grace of its own
                self.deletions.append(("Pod", pod["metadata"]["name"], None))
                self._delete("Pod", pod, None)
        return answer

    # -----------------------------------------------------------------------------------------
    # Storage and the rules of the API server.

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _existing(self, kind: str, name: str) -> Obj:
        if name not in self._objects[kind]:
            raise Refused(404, "NotFound", f'{_resource(kind)} "{name}" not found')
        return self._objects[kind][name]

    def _store(self, kind: str, obj: Obj, *, manager: str, operation: str = "Update") -> Obj:
        meta = obj["metadata"]
        meta.update(namespace=self.namespace, uid=str(uuid.uuid4()), creationTimestamp=_timestamp(),
                    resourceVersion=self._next_version())
        if kind != "Pod":
            meta["generation"] = 1
        meta["managedFields"] = [_managed(manager, operation, obj["apiVersion"])]
        self._born[meta["uid"]] = int(meta["resourceVersion"])
        _default(kind, obj)
        self._objects[kind][meta["name"]] = obj
        return copy.deepcopy(obj)

    def _update(self, kind: str, obj: Obj, *, manager: str, operation: str, spec_changed: bool) -> Obj:
        meta = obj["metadata"]
        meta["resourceVersion"] = self._next_version()
        if spec_changed and "generation" in meta:
            meta["generation"] += 1
        managers = [entry for entry in meta.get("managedFields", [])
                    if (entry["manager"], entry["operation"]) != (manager, operation)]
        meta["managedFields"] = [*managers, _managed(manager, operation, obj["apiVersion"])]
        self._objects[kind][meta["name"]] = obj
        return copy.deepcopy(obj)

    def _delete(self, kind: str, obj: Obj, grace: int | None, *, foreground: bool = False) -> Obj:
        """Only pods delete gracefully (an unscheduled or finished one at once); other kinds go at once,
        or wait for finish_terminations in the foreground."""
        meta = obj["metadata"]
        if kind == "Pod":
            grace = obj["spec"].get("terminationGracePeriodSeconds", 30) if grace is None else grace
            if not obj["spec"].get("nodeName") or obj.get("status", {}).get("phase") in TERMINAL:
                grace = 0
            if "deletionGracePeriodSeconds" in meta:
                grace = min(grace, meta["deletionGracePeriodSeconds"])  # a second delete only shortens it
        else:
            grace = 0
        if grace == 0 and not foreground:
            self._objects[kind].pop(meta["name"], None)
            return copy.deepcopy(obj)
        meta["deletionTimestamp"] = _timestamp(grace)
        meta["deletionGracePeriodSeconds"] = grace
        if foreground:
            meta["finalizers"] = [*meta.get("finalizers", []), "foregroundDeletion"]
        meta["resourceVersion"] = self._next_version()
        return copy.deepcopy(obj)

    def _dependents(self, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        owners = {uid} | {rs for rs, deployment in self._replica_sets.items() if deployment == uid}
        return [pod for pod in list(self._objects["Pod"].values())
                if any(ref.get("uid") in owners for ref in pod["metadata"].get("ownerReferences", []))]

    def _check_identity(self, kind: str, obj: Obj, name: str | None) -> None:
        """The object is of the URL's kind, namespace and (for a PATCH) name."""
        if (obj.get("apiVersion"), obj.get("kind")) != (KINDS[kind][0], kind):
            raise Refused(400, "BadRequest", f"the object is {obj.get('apiVersion')}/{obj.get('kind')}, "
                                             f"the URL {KINDS[kind][0]}/{kind}")
        meta = obj.get("metadata") or {}
        if meta.get("namespace", self.namespace) != self.namespace:
            raise Refused(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                             "sent on the request")
        if name is not None and meta.get("name") != name:
            raise Refused(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the "
                                             f"name on the URL ({name})")

    def _validate(self, kind: str, obj: Obj) -> None:
        name = obj["metadata"].get("name") or ""
        invalid = f'{_qualified(kind)} "{name}" is invalid: '
        try:
            kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.absolute_path) or "<object>"
            raise Refused(422, "Invalid", f"{invalid}{path}: {error.message}") from None
        problems = list(_problems(kind, obj))
        if problems:
            raise Refused(422, "Invalid", invalid + ", ".join(problems))

    def _check_immutable(self, kind: str, stored: Obj, updated: Obj) -> None:
        for field in IMMUTABLE.get(kind, ()):
            if stored.get("spec", {}).get(field) != updated.get("spec", {}).get(field):
                raise Refused(422, "Invalid", f'{_qualified(kind)} "{stored["metadata"]["name"]}" is invalid: '
                                              f"spec.{field}: Invalid value: field is immutable")

    # -----------------------------------------------------------------------------------------
    # Controllers, run when a test says so.

    def run_controllers(self) -> None:
        for job in list(self._objects["Job"].values()):
            self._run_job(job)
        for deployment in list(self._objects["Deployment"].values()):
            self._run_deployment(deployment)

    def _run_job(self, job: Obj) -> None:
        spec, status = job.get("spec", {}), job.setdefault("status", {})
        if "deletionTimestamp" in job["metadata"] or spec.get("suspend") or _finished(job) or "template" not in spec:
            return
        pods = self._owned(job)
        # Terminating pods count as gone (podReplacementPolicy TerminatingOrFailed): replacements start at once.
        active = [pod for pod in pods if _active(pod)]
        done = [pod for pod in pods if pod.get("status", {}).get("phase") == "Succeeded"]
        room = spec.get("parallelism", 1) - len(active)
        if spec.get("completionMode") == "Indexed":
            taken = {int(pod["metadata"]["labels"][COMPLETION_INDEX]) for pod in active + done}
            for index in [i for i in range(spec["completions"]) if i not in taken][:max(room, 0)]:
                self._job_pod(job, index)
        else:
            wanted = room if spec.get("completions") is None else min(room, spec["completions"] - len(done))
            for _ in range(max(wanted, 0)):
                self._job_pod(job, None)
        status.setdefault("startTime", _timestamp())
        self._count_job(job)

    def _job_pod(self, job: Obj, index: int | None) -> None:
        template, name = copy.deepcopy(job["spec"]["template"]), job["metadata"]["name"]
        meta, spec = template.get("metadata", {}), template["spec"]
        if index is not None:
            meta["labels"][COMPLETION_INDEX] = str(index)
            meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
            spec["hostname"] = f"{name}-{index}"
            for container in spec["containers"] + spec.get("initContainers", []):
                container.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                    "apiVersion": "v1", "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}})
        meta["name"] = self._free_name("Pod", f"{name}-{index}-" if index is not None else f"{name}-")
        meta["ownerReferences"] = [_owner("batch/v1", "Job", name, job["metadata"]["uid"])]
        self._store("Pod", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                            "status": {"phase": "Pending"}}, manager="kube-controller-manager")

    def _run_deployment(self, deployment: Obj) -> None:
        if "deletionTimestamp" in deployment["metadata"] or "template" not in deployment.get("spec", {}):
            return
        spec, uid, name = deployment["spec"], deployment["metadata"]["uid"], deployment["metadata"]["name"]
        template_hash = _hash(spec["template"])
        rs_uid = str(uuid.uuid5(uuid.UUID(uid), template_hash))
        self._replica_sets[rs_uid] = uid
        live = [pod for pod in self._dependents(deployment) if _active(pod)]
        for pod in [pod for pod in live if pod["metadata"]["labels"].get(TEMPLATE_HASH) != template_hash]:
            self._controller_delete(pod)  # a changed template: the old pods go (no rolling update)
        current = [pod for pod in live if pod["metadata"]["labels"].get(TEMPLATE_HASH) == template_hash]
        surplus = len(current) - spec.get("replicas", 1)
        # The ReplicaSet controller's order: unscheduled, pending, not ready first; then the lowest
        # deletion cost; then the newest.
        for pod in sorted(current, key=self._deletion_rank)[:max(surplus, 0)]:
            self._controller_delete(pod)
        for _ in range(max(-surplus, 0)):
            template = copy.deepcopy(spec["template"])
            meta = template.get("metadata", {})
            meta["labels"] = {**meta.get("labels", {}), TEMPLATE_HASH: template_hash}
            meta["name"] = self._free_name("Pod", f"{name}-{template_hash}-")
            meta["ownerReferences"] = [_owner("apps/v1", "ReplicaSet", f"{name}-{template_hash}", rs_uid)]
            pod = self._store("Pod", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"],
                                      "status": {"phase": "Pending"}}, manager="kube-controller-manager")
            self.start(pod["metadata"]["name"])
        pods = [pod for pod in self._dependents(deployment) if _active(pod)]
        ready = sum(_ready(pod) for pod in pods)
        deployment["status"] = _nonzero(
            observedGeneration=deployment["metadata"].get("generation"), replicas=len(pods), readyReplicas=ready,
            availableReplicas=ready, updatedReplicas=sum(pod["metadata"]["labels"].get(TEMPLATE_HASH) == template_hash
                                                         for pod in pods))

    def _deletion_rank(self, pod: Obj) -> tuple[bool, int, bool, int, int]:
        cost = int(pod["metadata"].get("annotations", {}).get(DELETION_COST, "0"))
        phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.get("status", {}).get("phase", "Pending"), 0)
        return (bool(pod["spec"].get("nodeName")), phase, _ready(pod), cost, -self._born[pod["metadata"]["uid"]])

    def _controller_delete(self, pod: Obj) -> None:
        self.deletions.append(("Pod", pod["metadata"]["name"], None))
        self._delete("Pod", pod, None)

    # -----------------------------------------------------------------------------------------
    # What the kubelet, the scheduler and the Job controller would report.

    def objects(self, kind: str) -> list[Obj]:
        """Every stored object of the kind, terminating ones included, by name."""
        return [copy.deepcopy(obj) for _, obj in sorted(self._objects[kind].items())]

    def get(self, kind: str, name: str) -> Obj | None:
        obj = self._objects[kind].get(name)
        return copy.deepcopy(obj) if obj is not None else None

    def pods_of_job(self, job_name: str) -> list[Obj]:
        return self.pods_of({JOB_NAME: job_name})

    def pods_of(self, labels: Mapping[str, str]) -> list[Obj]:
        return [copy.deepcopy(pod) for _, pod in sorted(self._objects["Pod"].items())
                if labels.items() <= pod["metadata"].get("labels", {}).items()]

    def unschedulable(self, pod_name: str, message: str) -> None:
        pod = self._pod(pod_name)
        pod["spec"].pop("nodeName", None)
        pod["status"] = {"phase": "Pending", "conditions": [_condition("PodScheduled", False, "Unschedulable",
                                                                       message)]}

    def image_pull_error(self, pod_name: str, message: str, reason: str = "ErrImagePull") -> None:
        pod = self._pod(pod_name)
        pod["spec"]["nodeName"] = NODE
        waiting = [{"reason": reason, "message": message}] + [{"reason": "ContainerCreating"}] * len(
            pod["spec"]["containers"])
        pod["status"] = {"phase": "Pending", "startTime": _timestamp(), "conditions": [
            _condition("PodScheduled", True), _condition("Initialized", True),
            _condition("ContainersReady", False, "ContainersNotReady"),
            _condition("Ready", False, "ContainersNotReady")],
            "containerStatuses": [_container(container, {"waiting": state})
                                  for container, state in zip(pod["spec"]["containers"], waiting, strict=False)]}

    def start(self, pod_name: str) -> None:
        pod = self._pod(pod_name)
        pod["spec"]["nodeName"] = NODE
        pod["status"] = {"phase": "Running", "startTime": _timestamp(), "podIP": _pod_ip(pod),
                         "conditions": [_condition(kind, True) for kind in
                                        ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                         "containerStatuses": [_container(container, {"running": {"startedAt": _timestamp()}}, True)
                                               for container in pod["spec"]["containers"]]}
        self._count_owner(pod)

    def evict(self, pod_name: str, message: str) -> None:
        """The kubelet evicts (node pressure): the pod fails; its Job counts a failure and fails once
        the failures pass spec.backoffLimit (6 unless set), or else makes a replacement."""
        pod = self._pod(pod_name)
        pod["status"] = {**pod.get("status", {}), "phase": "Failed", "reason": "Evicted", "message": message,
                         "conditions": [_condition("DisruptionTarget", True, "TerminationByKubelet", message),
                                        _condition("Ready", False)],
            "containerStatuses": [_container(container, {"terminated": {"exitCode": 137, "reason": "Error"}})
                                  for container in pod["spec"]["containers"]]}
        job = self._job_of(pod)
        if job is None:
            return
        job["status"]["failed"] = job["status"].get("failed", 0) + 1
        if job["status"]["failed"] > job["spec"].get("backoffLimit", 6):
            self.fail_job(job["metadata"]["name"], "BackoffLimitExceeded",
                          "Job has reached the specified backoff limit")
        else:
            self._count_job(job)

    def succeed_job(self, job_name: str) -> None:
        job = self._existing("Job", job_name)
        for pod in self._owned(job):
            if _active(pod):
                pod["status"] = {**pod.get("status", {}), "phase": "Succeeded", "conditions": [
                    _condition("Ready", False, "PodCompleted")], "containerStatuses": [
                    _container(container, {"terminated": {"exitCode": 0, "reason": "Completed"}})
                    for container in pod["spec"]["containers"]]}
        completions = job["spec"].get("completions") or job["spec"].get("parallelism", 1)
        job["status"] = _nonzero(**{**job.get("status", {}), "active": 0, "ready": 0, "succeeded": completions,
                                    "completionTime": _timestamp()})
        if job["spec"].get("completionMode") == "Indexed":
            job["status"]["completedIndexes"] = "0" if completions == 1 else f"0-{completions - 1}"
        job["status"]["conditions"] = [_condition("SuccessCriteriaMet", True, "CompletionsReached"),
                                       _condition("Complete", True, "CompletionsReached")]

    def fail_job(self, job_name: str, reason: str, message: str) -> None:
        """The Job controller gives up (a deadline, the backoff limit): Failed, and its running pods deleted."""
        job = self._existing("Job", job_name)
        for pod in self._owned(job):
            if _active(pod):
                self._controller_delete(pod)
        job.setdefault("status", {})["conditions"] = [_condition("FailureTarget", True, reason, message),
                                                      _condition("Failed", True, reason, message)]
        self._count_job(job)

    def add_foreign(self, kind: str, obj: Obj) -> Obj:
        """Someone else's object in our namespace, stored as given (no validation, no defaults)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.update(namespace=self.namespace, uid=meta.get("uid") or str(uuid.uuid4()),
                    resourceVersion=self._next_version(), creationTimestamp=_timestamp())
        self._born[meta["uid"]] = int(meta["resourceVersion"])
        self._objects[kind][meta["name"]] = obj
        return copy.deepcopy(obj)

    def finish_terminations(self) -> None:
        """The kubelet finished every terminating pod, the garbage collector every foreground deletion."""
        for objects in self._objects.values():
            for name in [name for name, obj in objects.items() if "deletionTimestamp" in obj["metadata"]]:
                del objects[name]
        for job in self._objects["Job"].values():
            self._count_job(job)

    # -----------------------------------------------------------------------------------------

    def _pod(self, name: str) -> Obj:
        pod = self._existing("Pod", name)
        pod["metadata"]["resourceVersion"] = self._next_version()
        return pod

    def _owned(self, owner: Obj) -> list[Obj]:
        return sorted(self._dependents(owner), key=lambda pod: pod["metadata"]["name"])

    def _job_of(self, pod: Obj) -> Obj | None:
        for ref in pod["metadata"].get("ownerReferences", []):
            job = self._objects["Job"].get(ref["name"]) if ref.get("kind") == "Job" else None
            if job is not None and job["metadata"]["uid"] == ref["uid"]:
                return job
        return None

    def _count_owner(self, pod: Obj) -> None:
        job = self._job_of(pod)
        if job is not None:
            self._count_job(job)

    def _count_job(self, job: Obj) -> None:
        pods = [pod for pod in self._owned(job) if _active(pod)]
        status = {key: value for key, value in job.get("status", {}).items() if key not in ("active", "ready")}
        job["status"] = {**status, **_nonzero(active=len(pods), ready=sum(_ready(pod) for pod in pods))}

    def _free_name(self, kind: str, prefix: str) -> str:
        while (name := prefix + _suffix()) in self._objects[kind]:
            pass
        return name


@pytest.fixture
def fake_kube() -> FakeKube:
    return FakeKube()


# ---------------------------------------------------------------------------------------------
# The API server's rules, as functions of one object.

def _problems(kind: str, obj: Obj) -> Iterator[str]:
    """What the API server's validation refuses beyond the schema (names, labels, kind-specific rules)."""
    meta, spec = obj["metadata"], obj.get("spec", {})
    name = meta.get("name") or ""
    if not name:
        yield "metadata.name: Required value: name or generateName is required"
    elif kind == "Service" and not (DNS_1035_LABEL.match(name) and len(name) <= 63):
        yield (f'metadata.name: Invalid value: "{name}": a DNS-1035 label must consist of lower case alphanumeric '
               "characters or '-', start with an alphabetic character, and end with an alphanumeric character, "
               "at most 63 characters")
    elif kind in ("Job", "Deployment") and not (DNS_LABEL.match(name) and len(name) <= 63):
        why = " (a Job's name is also a label value of its pods)" if kind == "Job" else ""
        yield f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 label of at most 63 characters{why}'
    elif kind == "Pod" and not (DNS_SUBDOMAIN.match(name) and len(name) <= 253):
        yield f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain'
    template = spec.get("template", {})
    for where, labels in (("metadata.labels", meta.get("labels")),
                          ("spec.template.metadata.labels", template.get("metadata", {}).get("labels")),
                          ("spec.selector.matchLabels", (spec.get("selector") or {}).get("matchLabels"))):
        for key, value in (labels or {}).items():
            yield from _label_problems(where, key, value)
    for key in meta.get("annotations") or {}:
        yield from _label_problems("metadata.annotations", key, "")
    if kind == "Job":
        if template.get("spec", {}).get("restartPolicy") not in ("Never", "OnFailure"):
            yield 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
        if spec.get("completionMode") == "Indexed":
            if spec.get("completions") is None:
                yield "spec.completions: Required value: when completion mode is Indexed"
            elif len(last := f"{name}-{spec['completions'] - 1}") > 63:
                yield (f'metadata.name: Invalid value: "{name}": the hostname of the last index ({last}) would be '
                       "longer than 63 characters, and the Job controller could not create its pod")
    if kind == "Deployment":
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = template.get("metadata", {}).get("labels") or {}
        if not selector or not selector.items() <= labels.items():
            yield "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"


def _label_problems(where: str, key: str, value: Any) -> Iterator[str]:
    prefix, _, name = key.rpartition("/")
    if (prefix and not (DNS_SUBDOMAIN.match(prefix) and len(prefix) <= 253)) or not name or len(name) > 63 \
            or not LABEL_PART.match(name):
        yield f'{where}: Invalid value: "{key}": a qualified name (an optional DNS subdomain prefix and "/")'
    if not isinstance(value, str) or len(value) > 63 or not LABEL_PART.match(value):
        yield (f'{where}: Invalid value: "{value}": a valid label must be 63 characters or less, alphanumeric, '
               "'-', '_' or '.', starting and ending with an alphanumeric character")


def _default(kind: str, obj: Obj) -> None:
    """The defaults the API server fills in (a selection: enough that what comes back is not what was sent)."""
    spec = obj.setdefault("spec", {})
    if kind == "Job":
        if "completions" not in spec and "parallelism" not in spec:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
        spec.setdefault("selector", {"matchLabels": {CONTROLLER_UID: uid}})
        template_meta = spec["template"].setdefault("metadata", {})
        template_meta["labels"] = {**template_meta.get("labels", {}), CONTROLLER_UID: uid, JOB_NAME: name,
                                   "controller-uid": uid, "job-name": name}
        _default_pod(spec["template"]["spec"])
    elif kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                                 "maxUnavailable": "25%"}})
        _default_pod(spec["template"]["spec"])
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if "clusterIP" not in spec:
            spec["clusterIP"] = f"10.96.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port["port"])
    elif kind == "Pod":
        _default_pod(spec)


def _default_pod(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        latest = ":" not in container.get("image", "").rsplit("/", 1)[-1] or container["image"].endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def _selector(text: str) -> list[tuple[str, str, str | None]]:
    """A label selector's terms: (key, "=" / "!=" / "exists" / "!exists", value)."""
    terms: list[tuple[str, str, str | None]] = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        if re.search(r"\s(in|notin)\s|\(", term):
            raise Refused(400, "BadRequest", f"fake_kube models equality selectors only, not {term!r}")
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, value = re.split("==?", term, maxsplit=1)
            terms.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            terms.append((term[1:].strip(), "!exists", None))
        else:
            terms.append((term, "exists", None))
    return terms


def _selects(terms: list[tuple[str, str, str | None]], obj: Obj) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all((labels.get(key) == value) if op == "=" else (labels.get(key) != value) if op == "!=" else
               (key in labels) == (op == "exists") for key, op, value in terms)


def _decode_continue(token: str) -> str:
    try:
        after: str = json.loads(base64.urlsafe_b64decode(token))["after"]
    except (ValueError, KeyError, TypeError):
        raise Refused(400, "BadRequest", "the continue token is not valid") from None
    return after


def _parse(request: httpx.Request) -> Any:
    if not request.content:
        return None
    try:
        if request.headers.get("content-type", "").startswith("application/apply-patch+yaml"):
            return yaml.safe_load(request.content)
        return json.loads(request.content)
    except (ValueError, yaml.YAMLError) as error:
        raise Refused(400, "BadRequest", f"the body is not valid: {error}") from None


def _object(body: Any) -> Obj:
    if not isinstance(body, dict):
        raise Refused(400, "BadRequest", "the body must be an object")
    return body


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def _finished(job: Obj) -> bool:
    return any(condition["type"] in ("Complete", "Failed") and condition["status"] == "True"
               for condition in job.get("status", {}).get("conditions", []))


def _active(pod: Obj) -> bool:
    return "deletionTimestamp" not in pod["metadata"] and pod.get("status", {}).get("phase") not in TERMINAL


def _ready(pod: Obj) -> bool:
    return any(condition["type"] == "Ready" and condition["status"] == "True"
               for condition in pod.get("status", {}).get("conditions", []))


def _nonzero(**fields: Any) -> Obj:
    """Status as the API server writes it: zero counts are left out."""
    return {key: value for key, value in fields.items() if value not in (0, None)}


def _condition(kind: str, status: bool, reason: str | None = None, message: str | None = None) -> Obj:
    return {"type": kind, "status": str(status), "lastTransitionTime": _timestamp(),
            **({"reason": reason} if reason else {}), **({"message": message} if message else {})}


def _container(container: Obj, state: Obj, ready: bool = False) -> Obj:
    return {"name": container["name"], "image": container.get("image", ""), "imageID": "", "ready": ready,
            "started": ready, "restartCount": 0, "state": state}


def _owner(api_version: str, kind: str, name: str, uid: str) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": True}


def _managed(manager: str, operation: str, api_version: str) -> Obj:
    return {"manager": manager, "operation": operation, "apiVersion": api_version, "time": _timestamp(),
            "fieldsType": "FieldsV1", "fieldsV1": {}}


def _hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(SUFFIX_ALPHABET[byte % len(SUFFIX_ALPHABET)] for byte in digest[:10])


def _pod_ip(pod: Obj) -> str:
    number = int(pod["metadata"]["uid"].replace("-", "")[:8], 16)
    return f"10.244.{number % 256}.{number // 256 % 254 + 1}"


def _suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(5))


def _timestamp(after_s: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=after_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _qualified(kind: str) -> str:
    group = KINDS[kind][1]
    return f"{kind}.{group}" if group else kind


def _resource(kind: str) -> str:
    _, group, resource = KINDS[kind]
    return f"{resource}.{group}" if group else resource
