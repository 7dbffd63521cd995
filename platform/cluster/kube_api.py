"""The Kubernetes API as the executor uses it: list by labels, create, server-side apply, delete and
annotate, on Jobs, Services, Deployments and Pods of one namespace, over plain REST with httpx.

It is thin on purpose. No API server can run on a development machine, so tests run this very
adapter against an in-memory server (tests/helpers/fake_kube.py) that answers exactly these calls;
everything that decides what to create or delete lives in reconcile.py, where those tests reach it.
Objects are plain dicts, the shape the schema validator and the REST API both speak (no
`kubernetes` client package: its generated models would be a second object model).
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from sanacloud.platform.settings import Settings

Obj = dict[str, Any]

FIELD_MANAGER = "sanacloud"
PAGE_SIZE = 500
# Where a pod finds its service account: the API server's CA and a token that the kubelet rotates.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_MAX_AGE_S = 60.0  # bound tokens rotate about hourly; a minute-old copy is always still valid


class Kind(StrEnum):
    JOB = "Job"
    SERVICE = "Service"
    DEPLOYMENT = "Deployment"
    POD = "Pod"

    @property
    def api_version(self) -> str:
        return _API_VERSIONS[self]

    def collection(self, namespace: str) -> str:
        """The REST path of this kind's objects in a namespace."""
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{root}/namespaces/{namespace}/{self.lower()}s"


_API_VERSIONS = {Kind.JOB: "batch/v1", Kind.SERVICE: "v1", Kind.DEPLOYMENT: "apps/v1", Kind.POD: "v1"}
# What the executor does to each kind, as RBAC verbs: exactly what its Role must grant (k8s/base/rbac.yaml).
# Server-side apply and merge patches are `patch`; an apply that creates is also `create`.
VERBS = {Kind.JOB: {"list", "create", "delete"}, Kind.SERVICE: {"list", "create", "delete"},
         Kind.DEPLOYMENT: {"list", "create", "patch", "delete"}, Kind.POD: {"list", "patch"}}


class KubeError(Exception):
    """A non-2xx answer, with the API's Status: its code, reason (e.g. "Invalid") and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class AlreadyExists(KubeError):
    """A create found an object of that name (possibly one still terminating)."""


class TokenFile:
    """The service account's token, re-read from its file when the copy is a minute old."""

    def __init__(self, path: Path, *, max_age_s: float = TOKEN_MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._path, self._max_age_s, self._clock = path, max_age_s, clock
        self._token: str | None = None
        self._read_at = 0.0

    def __call__(self) -> str | None:
        now = self._clock()
        if self._token is None or now - self._read_at >= self._max_age_s:
            self._token, self._read_at = self._path.read_text().strip(), now
        return self._token


class KubeApi:
    def __init__(self, *, base_url: str, namespace: str, token: Callable[[], str | None] | None = None,
                 verify: str | bool = True, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 30.0) -> None:
        self.namespace = namespace
        self._token = token
        # httpx 0.28 takes a CA file as an SSL context; a given transport brings its own TLS.
        tls = (ssl.create_default_context(cafile=verify) if isinstance(verify, str) and transport is None
               else verify is not False)
        self._client = httpx.Client(base_url=base_url, verify=tls, transport=transport,
                                    timeout=httpx.Timeout(timeout_s))

    @classmethod
    def from_settings(cls, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> KubeApi:
        """The configured API server, reached as it is (`kubectl proxy`, say), or else the one this pod
        runs under, as its service account."""
        if settings.kubernetes_api_url:
            return cls(base_url=settings.kubernetes_api_url, namespace=settings.kubernetes_namespace,
                       transport=transport)
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        host = f"[{host}]" if ":" in host else host  # an IPv6 cluster
        return cls(base_url=f"https://{host}:{port}", namespace=settings.kubernetes_namespace,
                   token=TokenFile(SERVICE_ACCOUNT_DIR / "token"), verify=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
                   transport=transport)

    def list(self, kind: Kind, labels: Mapping[str, str]) -> list[Obj]:
        """Every object of the kind whose labels include these, following the server's pages."""
        params = {"labelSelector": ",".join(f"{key}={value}" for key, value in labels.items()),
                  "limit": str(PAGE_SIZE)}
        items: list[Obj] = []
        while True:
            page = self._send("GET", kind.collection(self.namespace), params=params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params = {**params, "continue": token}

    def create(self, kind: Kind, obj: Obj) -> Obj:
        return self._send("POST", kind.collection(self.namespace), params={"fieldManager": FIELD_MANAGER},
                          body=obj)

    def apply(self, kind: Kind, obj: Obj) -> Obj:
        """Server-side apply: the object as we want it, created or updated; `force` takes over fields
        another manager (kubectl edit, say) changed, since the database is the source of truth."""
        return self._send("PATCH", self._item(kind, obj["metadata"]["name"]),
                          params={"fieldManager": FIELD_MANAGER, "force": "true"}, body=obj,
                          content_type="application/apply-patch+yaml")  # JSON is YAML

    def delete(self, kind: Kind, name: str, *, grace_s: int | None = None) -> bool:
        """Delete, its dependents too (a Job's pods), in the background; False when already gone.
        A grace period applies to pods only: other kinds go at once, and the garbage collector gives
        a Job's pods their own terminationGracePeriodSeconds."""
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace_s is not None:
            options["gracePeriodSeconds"] = grace_s
        try:
            self._send("DELETE", self._item(kind, name), body=options)
        except KubeError as error:
            if error.status == httpx.codes.NOT_FOUND:
                return False
            raise
        return True

    def annotate(self, kind: Kind, name: str, annotations: Mapping[str, str]) -> Obj:
        return self._merge_patch(kind, name, {"metadata": {"annotations": dict(annotations)}})

    def scale(self, kind: Kind, name: str, replicas: int) -> Obj:
        """Only the replicas: an apply of the whole object would be one more chance to change its pods."""
        return self._merge_patch(kind, name, {"spec": {"replicas": replicas}})

    def _merge_patch(self, kind: Kind, name: str, patch: Obj) -> Obj:
        return self._send("PATCH", self._item(kind, name), params={"fieldManager": FIELD_MANAGER}, body=patch,
                          content_type="application/merge-patch+json")

    def close(self) -> None:
        self._client.close()

    def _item(self, kind: Kind, name: str) -> str:
        return f"{kind.collection(self.namespace)}/{name}"

    def _send(self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Obj | None = None,
              content_type: str = "application/json") -> Obj:
        headers = {"Accept": "application/json"}
        token = self._token() if self._token else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        content = None
        if body is not None:
            content, headers["Content-Type"] = json.dumps(body).encode(), content_type
        response = self._client.request(method, path, params=params, content=content, headers=headers)
        if response.is_success:
            answer: Obj = response.json()
            return answer
        raise _error(response)


def _error(response: httpx.Response) -> KubeError:
    """The answer's Status object as an exception; a proxy's answer may not be one."""
    try:
        status = response.json()
    except ValueError:
        status = None
    if not isinstance(status, dict):
        status = {}
    reason = status.get("reason") or response.reason_phrase
    message = status.get("message") or response.text or reason
    error = AlreadyExists if response.status_code == httpx.codes.CONFLICT and reason == "AlreadyExists" else KubeError
    return error(response.status_code, reason, message)
