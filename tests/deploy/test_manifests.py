"""The deploy/ manifests: every object valid (kubernetes-validate, strict, current Kubernetes), and
wired together as the webhook needs (names, ports, mounts, identities, hardening)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from k8svalidate import assert_valid_manifest
from tasksecrets.admission.config import parse_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted(p for p in (DEPLOY / "webhook").glob("*.yaml") if p.name != "kustomization.yaml")


def load_all() -> list[dict[str, Any]]:
    docs = []
    for path in MANIFESTS:
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


DOCS = load_all()


def find(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in DOCS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


CONFIG = parse_config(yaml.safe_load(find("ConfigMap")["data"]["config.yaml"]), source="configmap").webhook
WORKLOADS = [find("Deployment"), find("Job"), find("CronJob")]


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_every_object_is_valid(doc: dict[str, Any]) -> None:
    assert_valid_manifest(doc)


def test_kustomization_lists_every_file() -> None:
    kustomization = yaml.safe_load((DEPLOY / "webhook" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_deployment_is_highly_available_and_probed() -> None:
    deployment = find("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = pod_spec(deployment)["containers"]
    assert container["args"][:2] == ["webhook", "serve"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert container["ports"] == [{"name": "https", "containerPort": CONFIG.listen_port, "protocol": "TCP"}]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    pdb = find("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_service_reaches_the_pods_as_configured() -> None:
    service = find("Service")
    deployment = find("Deployment")
    assert service["metadata"]["name"] == CONFIG.service_name
    (port,) = service["spec"]["ports"]
    assert port["port"] == CONFIG.service_port == 443 and port["targetPort"] == "https"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_certificates_are_mounted_where_the_config_says() -> None:
    spec = pod_spec(find("Deployment"))
    (certs,) = [v for v in spec["volumes"] if "secret" in v]
    assert certs["secret"]["secretName"] == CONFIG.secret_name
    assert sorted(item["key"] for item in certs["secret"]["items"]) == [
        "ca.crt",
        "tls.crt",
        "tls.key",
    ]  # not ca.key
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == certs["name"]]
    assert mount["mountPath"] == CONFIG.cert_dir and mount["readOnly"] is True


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w["kind"])
def test_containers_are_hardened(workload: dict[str, Any]) -> None:
    spec = pod_spec(workload)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e for e in container["env"]}
        assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        # A writable /tmp for the TLS reloader's scratch files (and multiprocess metrics).
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


def test_certificate_jobs_run_the_commands() -> None:
    assert pod_spec(find("Job"))["containers"][0]["args"][:2] == ["webhook", "init-certs"]
    cron = find("CronJob")
    assert pod_spec(cron)["containers"][0]["args"][:2] == ["webhook", "rotate-certs"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def rules_of(kind: str, name: str) -> list[dict[str, Any]]:
    return find(kind, name)["rules"]  # type: ignore[no-any-return]


def test_rbac_is_least_privilege() -> None:
    server_rules = rules_of("ClusterRole", "tasksecrets-webhook")
    cert_rules = rules_of("Role", "tasksecrets-webhook-certs")
    # Named objects only, except create (which Kubernetes cannot restrict by name).
    for rule in server_rules + cert_rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        if rule.get("resourceNames") is None:
            assert rule["verbs"] == ["create"]
    assert {(r["resources"][0], tuple(r.get("resourceNames", ()))) for r in server_rules} == {
        ("mutatingwebhookconfigurations", (CONFIG.service_name,)),
        ("mutatingwebhookconfigurations", ()),
    }
    assert {(r["resources"][0], tuple(r.get("resourceNames", ()))) for r in cert_rules} == {
        ("secrets", (CONFIG.secret_name,)),
        ("secrets", ()),
    }
    # The server's identity cannot touch secrets; the certificate jobs' cannot touch the webhook config.
    assert pod_spec(find("Deployment"))["serviceAccountName"] == "tasksecrets-webhook"
    for workload in (find("Job"), find("CronJob")):
        assert pod_spec(workload)["serviceAccountName"] == "tasksecrets-webhook-certs"
    binding = find("ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tasksecrets-webhook", "namespace": "flyte"}
    ]
    role_binding = find("RoleBinding")
    assert role_binding["roleRef"]["name"] == "tasksecrets-webhook-certs"
    assert role_binding["subjects"][0]["name"] == "tasksecrets-webhook-certs"


def test_dockerfile_runs_as_the_manifests_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'pip install ".[webhook]"' in dockerfile
    assert "USER 65532:65532" in dockerfile
    assert all(pod_spec(w)["securityContext"]["runAsUser"] == 65532 for w in WORKLOADS)
