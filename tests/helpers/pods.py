"""A pod the executor rendered, started as a local process: its container's command and arguments,
and its environment as the kubelet would make it, with the ConfigMap's and the Secret's values
taken from the test's platform. Not reproduced: volumes, resources, a container runtime."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sanacloud.platform.cluster import manifests
from tests.helpers.processes import SANACLOUD, stop

SECRET_VARIABLES = set(manifests.SECRET_ENV)


def pod_environment(container: dict[str, Any], settings: dict[str, str]) -> dict[str, str]:
    """`settings`: the platform's SANACLOUD_ variables; the ConfigMap holds those that are not the
    Secret's, the Secret the rest, under the keys the container names."""
    secrets = {key: settings.get(variable, "") for variable, key in manifests.SECRET_ENV.items()}
    config = {name: value for name, value in settings.items() if name not in SECRET_VARIABLES}
    assert [source["configMapRef"]["name"] for source in container["envFrom"]] == [manifests.CONFIG_MAP]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **config}
    for variable in container["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref["name"] == manifests.SECRET
        env[variable["name"]] = secrets[ref["key"]] if ref else variable["value"]
    return env


def start_pod(template: dict[str, Any], settings: dict[str, str], log: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The pod of a Job's or Deployment's `spec.template`; `env`: what the kubelet adds (JOB_COMPLETION_INDEX)."""
    (container,) = template["spec"]["containers"]
    assert container["command"] == ["sanacloud"]
    with log.open("ab") as out:
        return subprocess.Popen([SANACLOUD, *container["args"]],
                                env={**pod_environment(container, settings), **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def running_pod(template: dict[str, Any], settings: dict[str, str], log: Path,
                env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A pod for the while, then stopped as the kubelet stops one (SIGTERM, SIGKILL after a grace)."""
    process = start_pod(template, settings, log, env)
    try:
        yield process
    finally:
        stop(process)
