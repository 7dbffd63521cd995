"""The deployment files, checked without a cluster or a Docker engine: k8s/ and docker/.

Every kustomization (k8s/base, k8s/overlays/*) is rendered by `kubectl kustomize`, and every
rendered object is validated against the Kubernetes OpenAPI schema with kubernetes-validate in
strict mode (an unknown field is an error), then checked for what the platform needs: resources,
non-root, no plaintext secrets, commands the CLI really has, the executor's configuration and the
RBAC its adapter needs, and network openings, judged together with the pods the executor creates
(which are not in k8s/: they are built here as platform/cluster/manifests.py builds them). Without
kubectl, the tests of rendered objects are skipped, saying so.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import httpx
import kubernetes_validate
import pytest
import typer
import yaml

from sanacloud.cli.main import app as cli_app
from sanacloud.platform.cluster import kube_api, manifests, names
from sanacloud.platform.cluster.desired import InferenceShape, TrainingShape
from sanacloud.platform.cluster.kube_api import Kind
from sanacloud.platform.settings import Mode, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DOCKER = ROOT / "docker"
KUSTOMIZATIONS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}

# The oldest Kubernetes the manifests support, and the newest schema the validator ships.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())

PLATFORM_IMAGE = "sanacloud"
EXECUTOR = "executor"  # the Deployment (and its container) that runs the Kubernetes executor
EXECUTOR_ACCOUNT = "sanacloud-executor"
PLATFORM_COMMANDS = {"migrate", "api", "worker", "beat"}
SECRET_NAME = "sanacloud-secrets"
SECRET_KEYS = {"database-url", "broker-url", "secret-key", "s3-access-key", "s3-secret-key"}
EXPECTED_IMAGES = {"base": "sanacloud:0.1.0", "dev": "sanacloud:dev", "prod": "registry.example.com/sanacloud:0.1.0"}
# Environment variables whose value is a credential (or a URL that holds one).
SENSITIVE_ENV = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|AUTH|_KEY$|_KEY_|DATABASE_URL|BROKER_URL")

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Rendering.

def render(kubectl: str, directory: Path) -> list[Obj]:
    """The objects `kubectl kustomize directory` prints."""
    printed = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
    assert printed.returncode == 0, f"kubectl kustomize {directory}: {printed.stderr}"
    return [obj for obj in yaml.safe_load_all(printed.stdout) if obj is not None]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is not a tag."""
    name, _, digest = image.partition("@")
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


# ---------------------------------------------------------------------------------------------
# Helpers over rendered objects.

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomizations cannot be rendered")
    return {name: render(kubectl, path) for name, path in KUSTOMIZATIONS.items()}


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def workloads(objects: list[Obj]) -> Iterator[Obj]:
    return (o for o in objects if o["kind"] in WORKLOAD_KINDS)


def containers(pod_spec: Obj) -> list[Obj]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def platform_containers(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    for workload in workloads(objects):
        for container in containers(workload["spec"]["template"]["spec"]):
            if split_image(container["image"])[0].rsplit("/", 1)[-1] == PLATFORM_IMAGE:
                yield workload, container


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        ok = {"In": present and labels.get(expr["key"]) in expr.get("values", []),
              "NotIn": not present or labels.get(expr["key"]) not in expr.get("values", []),
              "Exists": present, "DoesNotExist": not present}[expr["operator"]]
        if not ok:
            return False
    return True


def pod_labels(objects: list[Obj]) -> Iterator[tuple[Obj, dict[str, str]]]:
    for workload in workloads(objects):
        yield workload, workload["spec"]["template"]["metadata"].get("labels", {})


def parse_cli(argv: list[str]) -> str:
    """The sanacloud subcommand of `argv`, after checking that the real CLI accepts its options."""
    assert argv[0] == "sanacloud", argv
    group = typer.main.get_command(cli_app)
    name, args = argv[1], argv[2:]
    assert name in PLATFORM_COMMANDS, f"{argv}: not one of {sorted(PLATFORM_COMMANDS)}"
    command = group.commands[name]  # type: ignore[attr-defined]
    command.make_context(name, list(args))  # raises click.UsageError on an unknown option or bad value
    return name


# ---------------------------------------------------------------------------------------------
# Kustomizations.


def test_every_manifest_file_is_used() -> None:
    used: set[Path] = set()
    for directory in {p.parent for p in K8S.rglob("kustomization.yaml")}:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        used.add(directory / "kustomization.yaml")
        used.update(directory / entry for entry in kustomization.get("resources", []))
        used.update(directory / patch["path"] for patch in kustomization.get("patches", []))
    assert {p.resolve() for p in K8S.rglob("*.yaml")} <= {p.resolve() for p in used}
    assert set(KUSTOMIZATIONS.values()) == {p.parent for p in K8S.rglob("kustomization.yaml")}


# ---------------------------------------------------------------------------------------------
# Schema.


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_objects_validate_against_the_kubernetes_schema(rendered: dict[str, list[Obj]], name: str,
                                                        version: str) -> None:
    errors = []
    for obj in rendered[name]:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert not errors, "\n".join(errors)


# ---------------------------------------------------------------------------------------------
# Pods: resources, security, secrets.


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_every_container_has_requests_limits_and_a_restricted_security_context(
        rendered: dict[str, list[Obj]], name: str) -> None:
    for workload in workloads(rendered[name]):
        pod = workload["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        for container in containers(pod):
            where = f"{name}: {workload['kind']}/{workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert {"cpu", "memory"} <= set(resources.get("limits", {})), where
            security = {**pod_security, **container.get("securityContext", {})}
            assert security.get("runAsNonRoot") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not security.get("privileged", False), where
            assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_platform_containers_have_a_read_only_root_and_a_writable_tmp(rendered: dict[str, list[Obj]],
                                                                      name: str) -> None:
    found = 0
    for workload, container in platform_containers(rendered[name]):
        found += 1
        where = f"{name}: {workload['metadata']['name']}"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], where
        config = find(rendered[name], "ConfigMap", "sanacloud-config")["data"]
        assert "emptyDir" in volumes[mounts[config["SANACLOUD_DATA_DIR"]]], where
    assert found == 4  # migrate, api, executor, beat: GPU pods are the executor's to create


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_secrets_only_come_from_secret_references(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    for workload in workloads(objects):
        for container in containers(workload["spec"]["template"]["spec"]):
            for env in container.get("env", []):
                if SENSITIVE_ENV.search(env["name"]):
                    where = f"{name}: {workload['metadata']['name']}/{container['name']} {env['name']}"
                    assert "value" not in env and "secretKeyRef" in env.get("valueFrom", {}), where
            assert all("secretRef" not in source for source in container.get("envFrom", [])), \
                "name each secret value explicitly"
    for config_map in (o for o in objects if o["kind"] == "ConfigMap"):
        assert not [key for key in config_map.get("data", {}) if SENSITIVE_ENV.search(key)]
    secrets = [o for o in objects if o["kind"] == "Secret"]
    if name == "dev":
        (secret,) = secrets
        values = [base64.b64decode(v).decode() for v in secret["data"].values()]
        assert all("dev" in v for v in values), "dev secrets must be obvious placeholders"
    else:
        assert not secrets, "base and prod expect an existing Secret and must not define one"


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_every_sanacloud_variable_set_is_a_setting(rendered: dict[str, list[Obj]], name: str, compose: Obj) -> None:
    settings = {f"SANACLOUD_{field.upper()}" for field in Settings.model_fields}
    objects = rendered[name]
    named = {env["name"] for workload in workloads(objects)
             for container in containers(workload["spec"]["template"]["spec"]) for env in container.get("env", [])}
    named |= {key for config_map in objects if config_map["kind"] == "ConfigMap" for key in config_map.get("data", {})}
    named |= {key for service in compose["services"].values() for key in service.get("environment", {})}
    assert {variable for variable in named if variable.startswith("SANACLOUD_")} - settings == set()


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_references_resolve(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    secret_keys = {o["metadata"]["name"]: set(o["data"]) for o in objects if o["kind"] == "Secret"}
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        if "serviceAccountName" in pod:
            assert ("ServiceAccount", pod["serviceAccountName"]) in names
        for container in containers(pod):
            for source in container.get("envFrom", []):
                assert ("ConfigMap", source["configMapRef"]["name"]) in names
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    continue
                assert ref["name"] == SECRET_NAME
                if name == "dev":
                    assert ref["key"] in secret_keys[SECRET_NAME]
                else:
                    assert ref["key"] in SECRET_KEYS, f"{ref['key']} is not a documented key of {SECRET_NAME}"
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            declared = {v["name"] for v in pod.get("volumes", [])}
            declared |= {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
            assert mounts <= declared
    if name == "dev":
        assert secret_keys[SECRET_NAME] >= SECRET_KEYS


# ---------------------------------------------------------------------------------------------
# The platform's processes.


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_platform_containers_run_commands_the_cli_has(rendered: dict[str, list[Obj]], name: str) -> None:
    used = {}
    images = set()
    for workload, container in platform_containers(rendered[name]):
        used[workload["metadata"]["name"]] = parse_cli([*container["command"], *container.get("args", [])])
        images.add(container["image"])
    assert used == {"migrate": "migrate", "api": "api", EXECUTOR: "worker", "beat": "beat"}
    assert images == {EXPECTED_IMAGES[name]}
    for workload in workloads(rendered[name]):
        for container in containers(workload["spec"]["template"]["spec"]):
            assert split_image(container["image"])[1] not in (None, "latest"), container["image"]
    assert find(rendered[name], "Job", "migrate")["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def queues_of(container: Obj) -> list[str]:
    args = container["args"]
    return str(args[args.index("--queues") + 1]).split(",")


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_beat_and_the_executor(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    beat = find(objects, "Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}

    # The executor consumes `maintenance` (beat's tick, reconcile messages); the `train.<pool>`
    # queues it adds itself, as pools appear (workers/maintenance.py).
    executor = find(objects, "Deployment", EXECUTOR)
    assert executor["spec"]["replicas"] == 1 and executor["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = executor["spec"]["template"]["spec"]["containers"]
    assert container["name"] == EXECUTOR
    assert queues_of(container) == ["maintenance"]

    # Nothing in k8s/ asks for a GPU: GPU pods are the Jobs and Deployments the executor creates.
    for workload in workloads(objects):
        for each in containers(workload["spec"]["template"]["spec"]):
            for amounts in each.get("resources", {}).values():
                assert "nvidia.com/gpu" not in amounts, workload["metadata"]["name"]


def test_no_gpu_worker_manifest_is_left() -> None:
    assert not list(K8S.rglob("worker-gpu-*.yaml")), "the executor makes GPU pods; no pool's workers are deployed"


def settings_from(config: dict[str, str], **more: str) -> Settings:
    """Settings as a pod reads them: its environment is the ConfigMap's variables and `more`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SANACLOUD_")}
    env |= {key: value for key, value in config.items() if key.startswith("SANACLOUD_")} | more
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


def executor_settings(config: dict[str, str]) -> Settings:
    """The ConfigMap's settings without the Secret (embedded mode checks nothing), and a shared claim
    (which multi-node attempts need)."""
    return settings_from(config, SANACLOUD_MODE="embedded", SANACLOUD_KUBERNETES_SHARED_CLAIM="shared-work")


def executor_made_pods(settings: Settings) -> dict[str, Obj]:
    """What the executor creates, as platform/cluster/manifests.py makes it: a training attempt
    across two nodes (an Indexed Job), and an inference Deployment."""
    training = TrainingShape(job_id="0190abcdef0123456789abcdef012345", attempt=1, pool="h100", nodes=2,
                             gpus_per_pod=8)
    inference = InferenceShape(pool="h100", key="0190abcdef0123456789abcdef0199aa", replicas=1)  # a base model's id
    return {"training": manifests.training_job(training, settings),
            "inference": manifests.inference_deployment(inference, settings)}


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_the_config_makes_the_kubernetes_executor_launch_the_executors_image(rendered: dict[str, list[Obj]],
                                                                              name: str) -> None:
    objects = rendered[name]
    config = find(objects, "ConfigMap", manifests.CONFIG_MAP)["data"]
    (container,) = find(objects, "Deployment", EXECUTOR)["spec"]["template"]["spec"]["containers"]
    assert config["SANACLOUD_EXECUTOR"] == "kubernetes"
    assert config["SANACLOUD_KUBERNETES_NAMESPACE"] == find(objects, "Namespace", "sanacloud")["metadata"]["name"]
    # Each kustomization copies the executor's image (after its own `images:`) into the config.
    assert config["SANACLOUD_KUBERNETES_IMAGE"] == container["image"] == EXPECTED_IMAGES[name]
    settings = executor_settings(config)
    for made in executor_made_pods(settings).values():
        (pod_container,) = made["spec"]["template"]["spec"]["containers"]
        assert pod_container["image"] == container["image"]


def test_prod_places_pool_h100_on_the_gpu_operators_product_label(rendered: dict[str, list[Obj]]) -> None:
    config = find(rendered["prod"], "ConfigMap", manifests.CONFIG_MAP)["data"]
    pools = json.loads(config["SANACLOUD_KUBERNETES_POOLS"])
    assert set(pools) == {"h100"}
    settings = executor_settings(config)
    assert settings.kubernetes_pools["h100"].selector_for("h100") == {"nvidia.com/gpu.product":
                                                                        "NVIDIA-H100-80GB-HBM3"}
    pod = executor_made_pods(settings)["training"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    # A pool the setting does not name selects the default label.
    for other in ("base", "dev"):
        assert "SANACLOUD_KUBERNETES_POOLS" not in find(rendered[other], "ConfigMap", manifests.CONFIG_MAP)["data"]


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_the_config_and_the_secret_start_cluster_mode(rendered: dict[str, list[Obj]], name: str) -> None:
    """A pod's environment (the ConfigMap, and the Secret's keys as the workloads name them) is one
    that cluster mode accepts: nothing it needs is missing and every value parses."""
    objects = rendered[name]
    secrets = {"database-url": "postgresql+psycopg://sanacloud:pw@db:5432/sanacloud",
               "broker-url": "redis://:pw@redis:6379/0", "secret-key": "Xq8z-T3vLp0_mW7nRb2cKf9sJd4hYg6a",
               "s3-access-key": "access", "s3-secret-key": "a-real-s3-secret"}
    if name == "dev":
        (secret,) = [o for o in objects if o["kind"] == "Secret"]
        secrets = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    settings = settings_from(find(objects, "ConfigMap", manifests.CONFIG_MAP)["data"],
                             **{variable: secrets[key] for variable, key in manifests.SECRET_ENV.items()})
    assert settings.mode is Mode.CLUSTER and settings.executor == "kubernetes"


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_what_the_executor_creates_uses_what_k8s_defines(rendered: dict[str, list[Obj]], name: str) -> None:
    """The names platform/cluster/manifests.py gives its pods (service account, ConfigMap, Secret and
    its keys) are those k8s/ defines, and its pods carry the same secret variables as ours."""
    objects = rendered[name]
    defined = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("ServiceAccount", manifests.POD_SERVICE_ACCOUNT) in defined
    assert ("ConfigMap", manifests.CONFIG_MAP) in defined
    assert manifests.SECRET == SECRET_NAME and set(manifests.SECRET_ENV.values()) == SECRET_KEYS
    for workload, container in platform_containers(objects):
        refs = {env["name"]: env["valueFrom"]["secretKeyRef"]["key"] for env in container["env"]
                if "secretKeyRef" in env.get("valueFrom", {})}
        assert refs == manifests.SECRET_ENV, workload["metadata"]["name"]
    config = find(objects, "ConfigMap", manifests.CONFIG_MAP)["data"]
    for made in executor_made_pods(executor_settings(config)).values():
        pod = made["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == manifests.POD_SERVICE_ACCOUNT
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": manifests.CONFIG_MAP}}]
        refs = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container["env"] if "valueFrom" in env}
        assert refs == {variable: {"name": SECRET_NAME, "key": key} for variable, key in manifests.SECRET_ENV.items()}
        # The same data folder (an emptyDir) as the ConfigMap names, and the same user as our pods.
        assert config["SANACLOUD_DATA_DIR"] in {m["mountPath"] for m in container["volumeMounts"]}
        api = find(objects, "Deployment", "api")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == api["securityContext"]["runAsUser"]
        kubernetes_validate.validate(made, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_selectors_match_their_pods(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    for workload in workloads(objects):
        if workload["kind"] != "Job":
            assert selects(workload["spec"]["selector"], workload["spec"]["template"]["metadata"]["labels"])
    api = find(objects, "Deployment", "api")
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    service = find(objects, "Service", "api")
    assert selects({"matchLabels": service["spec"]["selector"]}, api_labels)
    pdb = find(objects, "PodDisruptionBudget", "api")
    assert selects(pdb["spec"]["selector"], api_labels)
    for svc in (o for o in objects if o["kind"] == "Service"):
        assert any(selects({"matchLabels": svc["spec"]["selector"]}, labels) for _, labels in pod_labels(objects)), \
            f"service {svc['metadata']['name']} selects no pods"


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_api_probes_service_and_scaling(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    api = find(objects, "Deployment", "api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = find(objects, "Service", "api")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    expected_replicas = {"base": 2, "dev": 1, "prod": 3}[name]
    assert api["spec"]["replicas"] == expected_replicas
    hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    if name != "prod":
        assert not hpas and not ingresses
        return
    (hpa,) = hpas
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    assert hpa["spec"]["minReplicas"] >= 3
    (ingress,) = ingresses
    port_names = {p["name"] for p in service["spec"]["ports"]}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "api"
            assert path["backend"]["service"]["port"]["name"] in port_names


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_only_the_api_accepts_traffic_from_anywhere(rendered: dict[str, list[Obj]], name: str) -> None:
    """Default deny; the api's HTTP port from anywhere; training pods from training pods only (a run
    across nodes: torchrun's rendezvous, then NCCL on ports it picks); dev's dependencies from our pods."""
    objects = rendered[name]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "a default-deny ingress policy"
    config = find(objects, "ConfigMap", manifests.CONFIG_MAP)["data"]
    made = executor_made_pods(executor_settings(config))
    training = made["training"]["spec"]["template"]["metadata"]["labels"]
    inference = made["inference"]["spec"]["template"]["metadata"]["labels"]
    pods = [labels for _, labels in pod_labels(objects)] + [training, inference]
    platform_pods = [labels for labels in pods if labels.get("app.kubernetes.io/name") == "sanacloud"]
    opened_to_training = False
    for policy in policies:
        spec = policy["spec"]
        if not spec.get("ingress"):
            continue
        selected = [labels for labels in pods if selects(spec["podSelector"], labels)]
        assert selected, f"{policy['metadata']['name']} selects no pods"
        assert inference not in selected, "inference pods only consume queues: nothing connects to them"
        if all(labels.get("app.kubernetes.io/component") == "api" for labels in selected):
            continue
        for rule in spec["ingress"]:
            assert rule.get("from"), "a rule without `from` admits everyone"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}
        peers = [labels for rule in spec["ingress"] for peer in rule["from"] for labels in pods
                 if selects(peer["podSelector"], labels)]
        if selected == [training]:
            # Exactly the executor's training pods, from exactly those.
            assert all(labels == training for labels in peers) and peers, policy["metadata"]["name"]
            assert spec["podSelector"]["matchLabels"][names.ROLE] == names.TRAINING
            opened_to_training = True
            continue
        # Any other opening (dev's in-cluster dependencies) admits sanacloud's own pods only.
        assert name == "dev", f"{policy['metadata']['name']} opens non-api pods"
        assert not any(labels.get("app.kubernetes.io/name") == "sanacloud" for labels in selected)
        assert peers and all(labels in platform_pods for labels in peers)
    assert opened_to_training, "the pods of one training run must reach each other"


# ---------------------------------------------------------------------------------------------
# Service accounts and RBAC: the executor alone may call the Kubernetes API.

# What each KubeApi method needs, as RBAC verbs on the kind it is called with: a list by labels
# is `list`; a server-side apply is a `patch` that creates the object when it is missing (`create`);
# a merge patch (annotations, replicas) is `patch`.
METHOD_VERBS = {"list": {"list"}, "create": {"create"}, "apply": {"create", "patch"}, "delete": {"delete"},
                "annotate": {"patch"}, "scale": {"patch"}}
CLUSTER = ROOT / "platform" / "cluster"


def executor_calls() -> set[tuple[str, str]]:
    """(KubeApi method, Kind member) of every Kubernetes call the executor makes, read from its
    source: `api.<method>(Kind.<K>, ...)` and `_call(api.<method>, Kind.<K>, ...)`."""
    found = set()
    for path in CLUSTER.glob("*.py"):
        if path.name == "kube_api.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func, args = node.func, list(node.args)
            if isinstance(func, ast.Name) and func.id == "_call" and args:
                func, args = args[0], args[1:]
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "api"
                    and func.attr not in ("close",)):
                assert args and isinstance(args[0], ast.Attribute) and isinstance(args[0].value, ast.Name) \
                    and args[0].value.id == "Kind", f"{path.name}:{node.lineno}: a call whose kind is not literal"
                found.add((func.attr, args[0].attr))
    return found


def resource_of(kind: Kind) -> tuple[str, str]:
    """(API group, resource) of a kind, as RBAC names it."""
    return kind.api_version.rpartition("/")[0], kind.collection("x").rsplit("/", 1)[1]


def needed_by_the_calls() -> dict[tuple[str, str], set[str]]:
    """(API group, resource) -> verbs, from the executor's calls."""
    rules: dict[tuple[str, str], set[str]] = {}
    for method, member in executor_calls():
        assert method in METHOD_VERBS, f"KubeApi.{method}: say which RBAC verbs it needs"
        rules.setdefault(resource_of(Kind[member]), set()).update(METHOD_VERBS[method])
    return rules


def adapter_verbs() -> dict[tuple[str, str], set[str]]:
    """The adapter's own table (platform/cluster/kube_api.py VERBS), keyed as RBAC rules are."""
    return {resource_of(kind): set(verbs) for kind, verbs in kube_api.VERBS.items()}


def test_the_adapters_verbs_are_what_the_executors_calls_need() -> None:
    calls = executor_calls()
    assert {kind for _, kind in calls} == {"JOB", "SERVICE", "DEPLOYMENT", "POD"}
    assert all(hasattr(kube_api.KubeApi, method) for method, _ in calls), "the executor calls a missing method"
    assert adapter_verbs() == needed_by_the_calls()


# The calls reconcile.py makes, with arguments of the shapes it passes.
SAMPLE_CALLS: dict[str, tuple[Any, ...]] = {
    "list": ({"app.kubernetes.io/managed-by": "sanacloud-executor"},), "create": ({"metadata": {"name": "x"}},),
    "apply": ({"metadata": {"name": "x"}},), "delete": ("x",), "annotate": ("x", {"a": "b"}), "scale": ("x", 2)}
HTTP_VERBS = {"GET": "list", "POST": "create", "PATCH": "patch", "DELETE": "delete"}


@pytest.mark.parametrize("method", sorted(METHOD_VERBS))
def test_each_adapter_method_is_the_request_its_rbac_verbs_allow(method: str) -> None:
    """KubeApi's requests, recorded: each method's HTTP method is the RBAC verb the table gives it, on
    the kind's own resource (a subresource such as deployments/scale would need a rule of its own)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "metadata": {}} if request.method == "GET" else {})

    api = kube_api.KubeApi(base_url="https://kube.test", namespace="sanacloud", transport=httpx.MockTransport(answer))
    kind = Kind.DEPLOYMENT
    getattr(api, method)(kind, *SAMPLE_CALLS[method])
    (request,) = seen
    collection = kind.collection("sanacloud")
    expected_path = collection if method in ("list", "create") else f"{collection}/x"
    assert request.url.path == expected_path, "a subresource needs its own RBAC rule"
    verb = HTTP_VERBS[request.method]
    if method == "apply":  # server-side apply: a PATCH that creates a missing object
        assert request.headers["content-type"] == "application/apply-patch+yaml"
        verb_set = {verb, "create"}
    else:
        verb_set = {verb}
    assert verb_set == METHOD_VERBS[method]


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_the_executor_is_granted_exactly_what_its_adapter_calls(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    namespace = find(objects, "Namespace", "sanacloud")["metadata"]["name"]
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")], "nothing cluster-wide"
    (role,) = [o for o in objects if o["kind"] == "Role"]
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    assert role["metadata"]["name"] == EXECUTOR_ACCOUNT
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames or nonResourceURLs"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource, *rule["verbs"])
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == adapter_verbs()
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": EXECUTOR_ACCOUNT}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": EXECUTOR_ACCOUNT, "namespace": namespace}]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_only_the_executor_holds_a_token_every_other_pod_runs_as_an_account_granted_nothing(
        rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    assert set(accounts) == {manifests.POD_SERVICE_ACCOUNT, EXECUTOR_ACCOUNT}
    assert accounts[manifests.POD_SERVICE_ACCOUNT]["automountServiceAccountToken"] is False
    bound = {subject["name"] for o in objects if o["kind"] == "RoleBinding" for subject in o["subjects"]}
    assert bound == {EXECUTOR_ACCOUNT}
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        where = f"{name}: {workload['kind']}/{workload['metadata']['name']}"
        if workload["metadata"]["name"] == EXECUTOR and workload["kind"] == "Deployment":
            assert pod["serviceAccountName"] == EXECUTOR_ACCOUNT, where
            assert pod["automountServiceAccountToken"] is True, where
            continue
        assert pod.get("serviceAccountName", "default") in (manifests.POD_SERVICE_ACCOUNT, "default"), where
        assert pod["automountServiceAccountToken"] is False, where
    for workload, _container in platform_containers(objects):
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] in (manifests.POD_SERVICE_ACCOUNT,
                                                                              EXECUTOR_ACCOUNT)


# ---------------------------------------------------------------------------------------------
# docker/


def dockerfile_instruction(name: str) -> list[str]:
    """The arguments of the final stage's last `name` instruction (JSON or shell form)."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    final_stage = re.split(r"^FROM\s", text, flags=re.MULTILINE)[-1]
    lines = [line.split(None, 1)[1] for line in final_stage.splitlines() if line.upper().startswith(name + " ")]
    assert lines, f"no {name} in the final stage"
    value = lines[-1].strip()
    return list(yaml.safe_load(value)) if value.startswith("[") else [value]


def test_dockerfile_runs_sanacloud_as_a_non_root_user(rendered: dict[str, list[Obj]]) -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)[-1] == "python:3.11-slim"
    (user,) = dockerfile_instruction("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root USER, so that runAsNonRoot can verify it"
    assert dockerfile_instruction("ENTRYPOINT") == ["sanacloud"]
    parse_cli(["sanacloud", *dockerfile_instruction("CMD")])
    # The same uid as the pods run with.
    api = find(rendered["base"], "Deployment", "api")
    assert api["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


@pytest.fixture(scope="module")
def compose() -> Obj:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def argv_of(service: Obj) -> list[str]:
    def words(value: Any) -> list[str]:
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]

    entrypoint = words(service["entrypoint"]) if "entrypoint" in service else dockerfile_instruction("ENTRYPOINT")
    return entrypoint + words(service.get("command", []))


def runs_sanacloud(service: Obj) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("sanacloud")


def test_compose_services_run_commands_the_cli_has(compose: Obj) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "minio", "minio-init", "migrate", "api", "worker", "beat"} <= set(services)
    used = {}
    for name, service in services.items():
        if runs_sanacloud(service):
            assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
            used[name] = parse_cli(argv_of(service))
    assert set(used.values()) == PLATFORM_COMMANDS
    assert used["migrate"] == "migrate" and used["api"] == "api" and used["beat"] == "beat"
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        if runs_sanacloud(service) and name != "migrate":
            assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["migrate"]["restart"] == "no"


def test_compose_wires_the_cluster_settings_without_plaintext_secrets(compose: Obj) -> None:
    required = {"SANACLOUD_MODE", "SANACLOUD_DATABASE_URL", "SANACLOUD_BROKER_URL", "SANACLOUD_STORAGE_BACKEND",
                "SANACLOUD_S3_ENDPOINT", "SANACLOUD_S3_ACCESS_KEY", "SANACLOUD_S3_SECRET_KEY", "SANACLOUD_S3_BUCKET",
                "SANACLOUD_S3_SECURE", "SANACLOUD_SECRET_KEY", "SANACLOUD_PUBLIC_URL"}
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        if runs_sanacloud(service):
            assert required <= set(env), name
            assert env["SANACLOUD_MODE"] == "cluster" and env["SANACLOUD_STORAGE_BACKEND"] == "s3"
            assert env["SANACLOUD_DATABASE_URL"].startswith("postgresql+psycopg://")
            assert service["user"] != "root" and service["read_only"] is True, name
        for key, value in env.items():
            if SENSITIVE_ENV.search(key):
                literal = re.sub(r"\$\{[^}]*\}", "", str(value))
                if "://" in literal:
                    assert not urlsplit(literal).password, f"{name}: {key} holds a literal password"
                else:
                    assert not literal, f"{name}: {key} must come from docker/.env"
    example = dict(line.split("=", 1) for line in (DOCKER / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    interpolated = set(re.findall(r"\$\{(\w+):\?", (DOCKER / "compose.yaml").read_text()))
    assert interpolated <= set(example), "every required variable is in .env.example"
    assert not [k for k in interpolated if SENSITIVE_ENV.search(k) and example[k]], "no secret values in the example"


def test_compose_healthchecks(compose: Obj) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "minio", "api", "worker"):
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}'s health"
