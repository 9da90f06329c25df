"""deploy/: the compose file, Kubernetes manifests and Dockerfiles parse and agree with the code.

Docker itself is not run here: these tests check that every command a container runs exists,
every STROKEALERT_* variable is a real setting, ports, probes, secrets, volumes and replica
counts line up, and the README names only real commands.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from strokealert.cli import app as cli_app
from strokealert.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
# Passwords this directory once shipped, and placeholders that work if left in place.
KNOWN_DEFAULTS = ("change-me", "changeme", "radiologist", ":-strokealert", "secret123",
                  "admin:admin", "orthanc:orthanc")
# `NAME=value` / `NAME: value` for a secret-looking upper-case name: only empty or ${...} allowed.
SECRET_ASSIGNMENT = re.compile(
    r"^\s*(?:-\s*)?#?\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN)[A-Z_]*)\s*[=:]\s*(.*)$")
SECRET_VARIABLES = {"POSTGRES_PASSWORD", "STROKEALERT_SECRET_KEY", "ORTHANC_USERNAME",
                    "ORTHANC_PASSWORD"}
SECRET_SETTINGS = {"STROKEALERT_SECRET_KEY", "STROKEALERT_DATABASE_URL",
                   "STROKEALERT_WEBHOOK_SECRET", "STROKEALERT_TWILIO_AUTH_TOKEN",
                   "STROKEALERT_SMTP_PASSWORD", "STROKEALERT_OIDC_CLIENT_SECRET"}
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


def test_no_default_password_anywhere_in_deploy() -> None:
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.name == "README.md":
            continue
        text = path.read_text()
        for default in KNOWN_DEFAULTS:
            assert default not in text.lower(), f"{path.relative_to(DEPLOY)} holds {default!r}"
        for line in text.splitlines():
            match = SECRET_ASSIGNMENT.match(line)
            if match:
                value = match.group(2).strip().strip('"')
                assert value == "" or value.startswith("${"), f"{path.name}: {line.strip()}"


def test_compose_refuses_to_start_without_its_secrets(compose: dict[str, Any]) -> None:
    """Every secret is ``${VAR:?message}`` (no fallback value), and Orthanc's web UI is not
    published beyond the docker host's loopback."""
    text = (DEPLOY / "docker-compose.yml").read_text()
    references = re.findall(r"\$\{([A-Z_]+)(:?[-?+]?)", text)
    for name, operator in references:
        if name in SECRET_VARIABLES or any(w in name for w in ("PASSWORD", "SECRET", "TOKEN")):
            assert operator == ":?", f"${{{name}}} in docker-compose.yml needs :?"
    assert SECRET_VARIABLES <= {name for name, _ in references}
    database_url = compose["x-strokealert-env"]["STROKEALERT_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in database_url
    for port in compose["services"]["orthanc"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port
    orthanc = json.loads((DEPLOY / "orthanc.json").read_text())
    assert orthanc["RegisteredUsers"] == {"${ORTHANC_USERNAME}": "${ORTHANC_PASSWORD}"}
    environment = compose["services"]["orthanc"]["environment"]
    assert set(environment) == {"ORTHANC_USERNAME", "ORTHANC_PASSWORD"}
    env_example = (DEPLOY / "env.example").read_text()
    for name in SECRET_VARIABLES:
        assert re.search(rf"^{name}=$", env_example, re.MULTILINE), f"{name} must be empty"


def test_kubernetes_secrets_come_from_the_secret_only(manifests: list[dict[str, Any]]) -> None:
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert all(value == "" for value in secret["stringData"].values()), "no usable values"
    config = _by_kind(manifests, "ConfigMap")["strokealert-config"]["data"]
    assert not SECRET_SETTINGS & set(config)
    for deployment in _by_kind(manifests, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            assert "secretKeyRef" in env["STROKEALERT_SECRET_KEY"]["valueFrom"]
            assert "secretKeyRef" in env["STROKEALERT_DATABASE_URL"]["valueFrom"]
            assert all("value" not in e for e in env.values())


@pytest.mark.skipif(subprocess.run(["docker", "compose", "version"], capture_output=True,
                                   check=False).returncode != 0 if shutil.which("docker")
                    else True, reason="docker compose is not installed")
def test_docker_compose_config_fails_without_the_variables(tmp_path: Path) -> None:
    for name in ("docker-compose.yml", "orthanc.json"):
        shutil.copy(DEPLOY / name, tmp_path / name)
    (tmp_path / ".env").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    command = ["docker", "compose", "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert any(name in refused.stderr for name in SECRET_VARIABLES), refused.stderr
    filled = {**env, **{name: "x" + name.lower() for name in SECRET_VARIABLES}}
    accepted = subprocess.run(command, env=filled, capture_output=True, text=True, timeout=60)
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize(("command", "settings", "reason"), [
    ("serve", {"STROKEALERT_HTTP_HOST": "0.0.0.0"}, "STROKEALERT_SECRET_KEY is required"),
    ("web", {"STROKEALERT_HTTP_HOST": "0.0.0.0"}, "STROKEALERT_SECRET_KEY is required"),
    ("serve", {"STROKEALERT_HTTP_HOST": "127.0.0.1",
               "STROKEALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"},
     "STROKEALERT_WEBHOOK_URL is set without STROKEALERT_WEBHOOK_SECRET"),
])
def test_the_service_refuses_to_start_without_its_secrets(
        tmp_path: Path, command: str, settings: dict[str, str], reason: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STROKEALERT_") or k == "STROKEALERT_TEST_POSTGRES_URL"}
    env.update(settings, STROKEALERT_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "strokealert", command], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "strokealert.sqlite3").exists()  # refused before touching anything
