"""The deployment files, checked without a cluster or a Docker engine: k8s/ and docker/.

Every kustomization (k8s/base, k8s/overlays/*) is rendered by `kubectl kustomize`, and every
rendered object is validated against the Kubernetes OpenAPI schema with kubernetes-validate in
strict mode (an unknown field is an error), then checked for what the platform needs: resources,
non-root, no plaintext secrets, commands the CLI really has. Without kubectl, the tests of
rendered objects are skipped, saying so.
"""

from __future__ import annotations

import base64
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import typer
import yaml

from sanacloud.cli.main import app as cli_app
from sanacloud.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DOCKER = ROOT / "docker"
KUSTOMIZATIONS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}

# The oldest Kubernetes the manifests support, and the newest schema the validator ships.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())

PLATFORM_IMAGE = "sanacloud"
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
    assert found == 5  # migrate, api, maintenance worker, GPU worker, beat


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
    assert used == {"migrate": "migrate", "api": "api", "worker-maintenance": "worker",
                    "worker-gpu-h100": "worker", "beat": "beat"}
    assert images == {EXPECTED_IMAGES[name]}
    for workload in workloads(rendered[name]):
        for container in containers(workload["spec"]["template"]["spec"]):
            assert split_image(container["image"])[1] not in (None, "latest"), container["image"]
    assert find(rendered[name], "Job", "migrate")["spec"]["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")


def queues_of(container: Obj) -> list[str]:
    args = container["args"]
    return str(args[args.index("--queues") + 1]).split(",")


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_workers_beat_and_gpu_pool(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    beat = find(objects, "Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}

    maintenance = find(objects, "Deployment", "worker-maintenance")
    (container,) = maintenance["spec"]["template"]["spec"]["containers"]
    assert queues_of(container) == ["maintenance"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]

    gpu = find(objects, "Deployment", "worker-gpu-h100")
    assert gpu["spec"]["replicas"] == 0, "an operator scales a GPU pool's workers to its nodes"
    pod = gpu["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert queues_of(container) == ["train.h100", "infer.h100"]
    assert container["args"][container["args"].index("--concurrency") + 1] == "1"
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == 1
    assert int(container["resources"]["requests"].get("nvidia.com/gpu", 1)) == 1
    assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in pod["tolerations"])
    assert any(key.startswith("nvidia.com/") for key in pod["nodeSelector"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    shm = next(v for v in pod["volumes"] if v["name"] == mounts["/dev/shm"])
    assert shm["emptyDir"]["medium"] == "Memory"


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
    objects = rendered[name]
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"], "a default-deny ingress policy"
    platform_pods = [labels for _, labels in pod_labels(objects) if labels.get("app.kubernetes.io/name") == "sanacloud"]
    for policy in policies:
        spec = policy["spec"]
        if not spec.get("ingress"):
            continue
        selected = [labels for _, labels in pod_labels(objects) if selects(spec["podSelector"], labels)]
        assert selected, f"{policy['metadata']['name']} selects no pods"
        if all(labels.get("app.kubernetes.io/component") == "api" for labels in selected):
            continue
        # Any other opening (dev's in-cluster dependencies) admits sanacloud's own pods only.
        assert name == "dev", f"{policy['metadata']['name']} opens non-api pods"
        assert not any(labels.get("app.kubernetes.io/name") == "sanacloud" for labels in selected)
        for rule in spec["ingress"]:
            assert rule.get("from"), "a rule without `from` admits everyone"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}
                assert any(selects(peer["podSelector"], labels) for labels in platform_pods)


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_pods_run_as_a_service_account_granted_nothing(rendered: dict[str, list[Obj]], name: str) -> None:
    objects = rendered[name]
    namespace = find(objects, "Namespace", "sanacloud")["metadata"]["name"]
    granted = [o for o in objects if o["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]
    assert not granted, "nothing in the platform calls the Kubernetes API"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace
    for workload, _container in platform_containers(objects):
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] == "sanacloud"


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
