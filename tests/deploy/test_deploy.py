"""deploy/: the compose file, Kubernetes manifests and Dockerfiles parse and agree with the code.

Docker itself is not run here: these tests check that every command a container runs exists,
every STROKEALERT_* variable is a real setting, ports, probes, secrets, volumes and replica
counts line up, and the README names only real commands.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from strokealert.cli import app as cli_app
from strokealert.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
CELERY_WORKER = ["celery", "-A", "strokealert.pipeline.celery_app", "worker"]
STROKEALERT_SERVICES = {"api", "receiver", "worker", "scheduler", "migrate"}


def _cli_commands() -> set[tuple[str, ...]]:
    group = typer.main.get_command(cli_app)
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        found.add((name,))
        for sub in getattr(command, "commands", {}):
            found.add((name, sub))
    return found


def _check_command(command: list[str]) -> None:
    """A container command is `strokealert <real command>` or the Celery worker."""
    if command[0] == "celery":
        assert command[:4] == CELERY_WORKER, command
        module = importlib.import_module(command[2])
        assert hasattr(module, "app") and "strokealert.run_job" in module.app.tasks
        return
    assert command[0] == "strokealert", command
    words = tuple(w for w in command[1:] if not w.startswith("-"))
    commands = _cli_commands()
    assert words[:2] in commands or words[:1] in commands, f"no such command: {command}"


def _check_env_names(names: list[str]) -> None:
    fields = set(Settings.model_fields)
    for name in names:
        assert name.startswith("STROKEALERT_"), name
        assert name.removeprefix("STROKEALERT_").lower() in fields, f"unknown setting {name}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests if d["kind"] == kind}


def test_compose_services_commands_and_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "orthanc"} | STROKEALERT_SERVICES <= set(services)
    for name in STROKEALERT_SERVICES:
        service = services[name]
        _check_command(service["command"])
        assert service["image"] == "strokealert:0.1.0"
        assert (DEPLOY.parent / service["build"]["dockerfile"]).is_file()
        environment = service["environment"]
        _check_env_names(list(environment))
        assert environment["STROKEALERT_EXECUTOR"] == "celery"
        assert environment["STROKEALERT_BROKER_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in environment["STROKEALERT_DATABASE_URL"]
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "11112:11112" in services["receiver"]["ports"]
    assert "8000:8000" in services["api"]["ports"]
    assert services["api"]["command"] == ["strokealert", "web"]
    assert services["receiver"]["command"] == ["strokealert", "serve"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(".") or source in compose["volumes"], volume


def test_compose_pacs_destination_is_the_orthanc_service(compose: dict[str, Any]) -> None:
    orthanc = json.loads((DEPLOY / "orthanc.json").read_text())
    environment = compose["services"]["worker"]["environment"]
    assert environment["STROKEALERT_PACS_HOST"] == "orthanc"
    assert int(environment["STROKEALERT_PACS_PORT"]) == orthanc["DicomPort"]
    assert environment["STROKEALERT_PACS_AE_TITLE"] == orthanc["DicomAet"]
    mounted = compose["services"]["orthanc"]["volumes"][0]
    assert mounted.startswith("./orthanc.json:")


def test_env_example_names_real_settings() -> None:
    names = []
    for line in (DEPLOY / "env.example").read_text().splitlines():
        match = re.match(r"#?\s*(STROKEALERT_[A-Z_]+)=", line)
        if match:
            names.append(match.group(1))
    assert "STROKEALERT_SECRET_KEY" in names
    _check_env_names(names)


def test_kubernetes_manifests(manifests: list[dict[str, Any]]) -> None:
    deployments = _by_kind(manifests, "Deployment")
    assert set(deployments) == {"strokealert-api", "strokealert-receiver", "strokealert-worker",
                                "strokealert-scheduler"}
    scheduler = deployments["strokealert-scheduler"]["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"]["type"] == "Recreate"
    hpa = _by_kind(manifests, "HorizontalPodAutoscaler")["strokealert-worker"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "strokealert-worker" and hpa["maxReplicas"] > 1
    assert deployments["strokealert-worker"]["spec"]["replicas"] >= 2

    config = _by_kind(manifests, "ConfigMap")["strokealert-config"]["data"]
    _check_env_names(list(config))
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    claims = set(_by_kind(manifests, "PersistentVolumeClaim"))
    pods = [d["spec"]["template"]["spec"] for d in deployments.values()]
    pods.append(_by_kind(manifests, "Job")["strokealert-db-upgrade"]["spec"]["template"]["spec"])
    for pod in pods:
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
            if "secret" in volume:
                for item in volume["secret"]["items"]:
                    assert item["key"] in secret["stringData"]
        for container in pod["containers"]:
            assert container["image"] == "strokealert:0.1.0"
            _check_command(container["command"])
            _check_env_names([e["name"] for e in container.get("env", [])])
            for entry in container.get("env", []):
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"]
                assert ref["key"] in secret["stringData"]
    fcm_dir = config["STROKEALERT_FCM_CREDENTIALS_FILE"].rsplit("/", 1)[0]
    receiver = deployments["strokealert-receiver"]["spec"]["template"]["spec"]["containers"][0]
    assert any(m["mountPath"] == fcm_dir for m in receiver["volumeMounts"])


def test_kubernetes_probes_and_services(manifests: list[dict[str, Any]]) -> None:
    deployments = _by_kind(manifests, "Deployment")
    services = _by_kind(manifests, "Service")
    for name in ("strokealert-api", "strokealert-receiver"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["port"] in ports
        service = services[name]["spec"]
        assert service["selector"] == deployments[name]["spec"]["selector"]["matchLabels"]
        for port in service["ports"]:
            assert port["targetPort"] in ports and port["protocol"] == "TCP"
    assert services["strokealert-receiver"]["spec"]["ports"][0]["port"] == 11112
    assert services["strokealert-api"]["spec"]["ports"][0]["port"] == 8000
    worker = deployments["strokealert-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml",
                                                     "secret.example.yaml"}
    assert set(kustomization["resources"]) == present


def test_dockerfiles_match_the_commands() -> None:
    for name in ("Dockerfile", "Dockerfile.cuda"):
        text = (DEPLOY / name).read_text()
        assert "pip install ." in text and "USER strokealert" in text
        assert (DEPLOY / f"{name}.dockerignore").is_file()
        cmd = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
        assert cmd is not None
        _check_command(json.loads(cmd.group(1)))
    assert "EXPOSE 8000 11112" in (DEPLOY / "Dockerfile").read_text()
    assert "whl/cu" in (DEPLOY / "Dockerfile.cuda").read_text()


def test_readme_names_only_real_commands() -> None:
    text = (DEPLOY / "README.md").read_text()
    commands = _cli_commands()
    mentioned = re.findall(r"`(strokealert [a-z][a-z -]*?)`", text)
    assert mentioned
    for phrase in mentioned:
        words = tuple(w for w in shlex.split(phrase)[1:] if not w.startswith("-"))
        assert words[:2] in commands or words[:1] in commands, phrase
