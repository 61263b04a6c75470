"""Certificates: the CA and serving certificates, their renewal, the files, and the Secret flows.

The Secret flows (``init-certs``, ``rotate-certs``) run against a Kubernetes API mock (kmock, see
kubeapi.py) because no kube-apiserver runs here; the tests check the exact Secret objects sent.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from kubeapi import KubeApiMock, stored, write_kubeconfig

from k8svalidate import assert_valid_manifest
from tasksecrets.cli.webhook import webhook_group
from tasksecrets.errors import ManifestError
from tasksecrets.webhook.certificates.authority import (
    CertBundle,
    CertPolicy,
    check_serving_cert,
    create_bundle,
    dns_names_for,
    issue_serving_cert,
    plan_certs,
    read_cert_files,
    read_serial,
    write_cert_files,
)
from tasksecrets.webhook.certificates.storage import sync_secret_certs
from tasksecrets.webhook.kube import KubeClient

pytestmark = pytest.mark.kmock(cls=KubeApiMock)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NAMES = dns_names_for("flyte-pod-webhook", namespace="flyte")


def days(n: float) -> datetime.timedelta:
    return datetime.timedelta(days=n)


@pytest.fixture(scope="module")
def bundle() -> CertBundle:
    return create_bundle(dns_names=NAMES, validity_days=90, now=NOW)


def test_serving_cert_names_and_validity(bundle: CertBundle) -> None:
    cert = x509.load_pem_x509_certificate(bundle.tls_cert)
    ca = x509.load_pem_x509_certificate(bundle.ca_cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "flyte-pod-webhook",
        "flyte-pod-webhook.flyte",
        "flyte-pod-webhook.flyte.svc",
    ]
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc == NOW + days(90)
    assert ca.not_valid_after_utc == NOW + days(3650)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_repr_hides_keys(bundle: CertBundle) -> None:
    text = repr(bundle)
    assert "PRIVATE KEY" not in text and bundle.tls_key.decode() not in text
    assert str(read_serial(bundle.tls_cert)) in text


def policy(now: datetime.datetime, *, allow_new_ca: bool = False, force: bool = False) -> CertPolicy:
    """The policy these tests use: NAMES, 90 days, renewed 30 days before expiry."""
    return CertPolicy(
        dns_names=NAMES,
        validity_days=90,
        renew_before_days=30,
        now=now,
        allow_new_ca=allow_new_ca,
        force=force,
    )


def test_good_bundle_is_reused(bundle: CertBundle) -> None:
    kept, action, _ = plan_certs(bundle, policy(NOW + days(59)))
    assert action == "reused" and kept is bundle


def test_near_expiry_is_renewed_with_the_same_ca(bundle: CertBundle) -> None:
    later = NOW + days(61)
    renewed, action, reason = plan_certs(bundle, policy(later))
    assert action == "renewed" and reason is not None and "expires" in reason
    assert renewed.ca_cert == bundle.ca_cert and renewed.ca_key == bundle.ca_key
    assert read_serial(renewed.tls_cert) != read_serial(bundle.tls_cert)
    assert check_serving_cert(renewed, dns_names=NAMES, renew_before_days=30, now=later) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("names", "does not name flyte-pod-webhook.other"),
        ("other_ca", "not signed by the CA"),
        ("other_key", "key does not belong"),
        ("garbage", "does not parse"),
    ],
)
def test_bad_serving_cert_is_detected(bundle: CertBundle, change: str, expected: str) -> None:
    names = NAMES
    if change == "names":
        names = dns_names_for("flyte-pod-webhook", namespace="other")
        broken = bundle
    elif change == "other_ca":
        other = create_bundle(dns_names=NAMES, validity_days=90, now=NOW)
        broken = CertBundle(bundle.ca_cert, bundle.ca_key, other.tls_cert, other.tls_key)
    elif change == "other_key":
        other = create_bundle(dns_names=NAMES, validity_days=90, now=NOW)
        broken = CertBundle(bundle.ca_cert, bundle.ca_key, bundle.tls_cert, other.tls_key)
    else:
        broken = CertBundle(bundle.ca_cert, bundle.ca_key, b"not a certificate", bundle.tls_key)
    reason = check_serving_cert(broken, dns_names=names, renew_before_days=30, now=NOW)
    assert reason is not None and expected in reason


def test_without_the_ca_key_rotation_says_what_to_do(bundle: CertBundle) -> None:
    """A Secret made by Flyte's webhook has no ca.key: rotation cannot sign, and says so."""
    flyte_made = CertBundle(bundle.ca_cert, None, bundle.tls_cert, bundle.tls_key)
    with pytest.raises(ManifestError, match="init-certs"):
        plan_certs(flyte_made, policy(NOW + days(80)))
    fresh, action, _ = plan_certs(flyte_made, policy(NOW + days(80), allow_new_ca=True))
    assert action == "replaced" and fresh.ca_cert != bundle.ca_cert


def test_serving_cert_never_outlives_the_ca(bundle: CertBundle) -> None:
    assert bundle.ca_key is not None
    cert, _ = issue_serving_cert(
        bundle.ca_cert, ca_key=bundle.ca_key, dns_names=NAMES, validity_days=100_000, now=NOW
    )
    ca = x509.load_pem_x509_certificate(bundle.ca_cert)
    assert x509.load_pem_x509_certificate(cert).not_valid_after_utc == ca.not_valid_after_utc


def test_files_are_written_with_private_keys_private(tmp_path: Path, bundle: CertBundle) -> None:
    write_cert_files(tmp_path / "certs", bundle, include_ca_key=True)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "certs").iterdir()}
    assert modes == {"ca.crt": 0o644, "ca.key": 0o600, "tls.crt": 0o644, "tls.key": 0o600}
    assert read_cert_files(tmp_path / "certs") == bundle
    write_cert_files(tmp_path / "other", bundle, include_ca_key=False)
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_secret_data_round_trip_and_errors(bundle: CertBundle) -> None:
    data = bundle.to_secret_data()
    assert sorted(data) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    assert CertBundle.from_secret_data(data, secret_name="s") == bundle
    with pytest.raises(ManifestError, match=r"lacks the data keys tls\.key"):
        CertBundle.from_secret_data({k: v for k, v in data.items() if k != "tls.key"}, secret_name="s")
    with pytest.raises(ManifestError, match="not valid base64"):
        CertBundle.from_secret_data({**data, "tls.crt": "***"}, secret_name="s")


# -- CLI, local files --------------------------------------------------------------------------------


def write_config(tmp_path: Path, **webhook: Any) -> Path:
    lines = [f"  certDir: {tmp_path / 'certs'}"] + [f"  {k}: {v}" for k, v in webhook.items()]
    path = tmp_path / "config.yaml"
    path.write_text("webhook:\n" + "\n".join(lines) + "\n")
    return path


def test_local_init_then_rotate(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    first = runner.invoke(webhook_group, ["init-certs", "--config", str(config), "--local-only"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("created certificates in")
    created = read_cert_files(tmp_path / "certs")
    assert created is not None and created.ca_key is not None
    cert = x509.load_pem_x509_certificate(created.tls_cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]

    again = runner.invoke(webhook_group, ["init-certs", "--config", str(config), "--local-only"])
    assert again.exit_code == 0 and again.output.startswith("reused")
    assert read_cert_files(tmp_path / "certs") == created

    not_due = runner.invoke(webhook_group, ["rotate-certs", "--config", str(config), "--local-only"])
    assert not_due.exit_code == 0 and not_due.output.startswith("reused")
    forced = runner.invoke(
        webhook_group, ["rotate-certs", "--config", str(config), "--local-only", "--force"]
    )
    assert forced.exit_code == 0 and forced.output.startswith("renewed"), forced.output
    rotated = read_cert_files(tmp_path / "certs")
    assert rotated is not None and rotated.ca_cert == created.ca_cert
    assert read_serial(rotated.tls_cert) != read_serial(created.tls_cert)
    assert "PRIVATE KEY" not in forced.output


def test_rotate_before_init_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(webhook_group, ["rotate-certs", "--config", str(config), "--local-only"])
    assert result.exit_code == 1
    assert "run `tasksecrets webhook init-certs` first" in result.output
    assert "Traceback" not in result.output


# -- the Secret, against the API mock ---------------------------------------------------------------

SECRETS = "v1/secrets"


async def sync(
    kmock: KubeApiMock, *, now: datetime.datetime, rotate: bool = False, force: bool = False
) -> Any:
    async with KubeClient(str(kmock.url)) as client:
        return await sync_secret_certs(
            client,
            secret_name="flyte-pod-webhook",
            namespace="flyte",
            policy=policy(now, force=force, allow_new_ca=not rotate),
        )


@pytest.mark.asyncio
async def test_init_creates_the_secret(kmock: KubeApiMock) -> None:
    bundle, action, _ = await sync(kmock, now=NOW)
    assert action == "created"
    (post,) = list(kmock["post"])
    assert post.url.path == "/api/v1/namespaces/flyte/secrets"
    assert post.data == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "flyte-pod-webhook",
            "namespace": "flyte",
            "labels": {
                "app.kubernetes.io/name": "tasksecrets-webhook",
                "app.kubernetes.io/managed-by": "tasksecrets",
            },
        },
        "type": "Opaque",
        "data": bundle.to_secret_data(),
    }
    assert_valid_manifest(post.data)
    assert base64.b64decode(post.data["data"]["ca.crt"]) == bundle.ca_cert


@pytest.mark.asyncio
async def test_init_again_reuses_and_rotation_keeps_the_ca(kmock: KubeApiMock) -> None:
    first, _, _ = await sync(kmock, now=NOW)
    again, action, _ = await sync(kmock, now=NOW + days(1))
    assert action == "reused" and again == first
    assert len(kmock["post"]) == 1 and len(kmock["put"]) == 0

    _, action, _ = await sync(kmock, now=NOW + days(30), rotate=True)
    assert action == "reused" and len(kmock["put"]) == 0

    version = stored(kmock, SECRETS, "flyte", "flyte-pod-webhook")["metadata"]["resourceVersion"]
    renewed, action, _ = await sync(kmock, now=NOW + days(70), rotate=True)
    assert action == "renewed"
    (put,) = list(kmock["put"])
    assert put.url.path == "/api/v1/namespaces/flyte/secrets/flyte-pod-webhook"
    assert put.data["metadata"]["resourceVersion"] == version
    assert put.data["data"] == renewed.to_secret_data()
    assert renewed.ca_cert == first.ca_cert
    assert read_serial(renewed.tls_cert) != read_serial(first.tls_cert)
    assert_valid_manifest(put.data)
    now_stored = stored(kmock, SECRETS, "flyte", "flyte-pod-webhook")
    assert base64.b64decode(now_stored["data"]["tls.crt"]) == renewed.tls_cert


@pytest.mark.asyncio
async def test_rotation_without_a_secret_fails_clearly(kmock: KubeApiMock) -> None:
    with pytest.raises(ManifestError, match="init-certs"):
        await sync(kmock, now=NOW, rotate=True)
    assert len(kmock["post"]) == 0


@pytest.mark.asyncio
async def test_a_flyte_made_secret_is_reused_then_replaced_by_init(
    kmock: KubeApiMock, bundle: CertBundle
) -> None:
    """Flyte's webhook stores ca.crt, tls.crt, tls.key (no ca.key): reused while good, type kept."""
    data = {k: v for k, v in bundle.to_secret_data().items() if k != "ca.key"}
    kmock.objects[SECRETS, "flyte", "flyte-pod-webhook"] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "flyte-pod-webhook", "namespace": "flyte", "resourceVersion": "5"},
        "type": "Opaque",
        "data": data,
    }
    _, action, _ = await sync(kmock, now=NOW)
    assert action == "reused"
    with pytest.raises(ManifestError, match=r"ca\.key"):
        await sync(kmock, now=NOW + days(80), rotate=True)
    replaced, action, _ = await sync(kmock, now=NOW + days(80))
    assert action == "replaced" and replaced.ca_cert != bundle.ca_cert
    (put,) = list(kmock["put"])
    assert put.data["metadata"]["resourceVersion"] == "5"
    assert sorted(put.data["data"]) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]


@pytest.mark.asyncio
async def test_cli_init_certs_against_the_cluster(
    kmock: KubeApiMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as the init-certs Job runs it: kubeconfig, POD_NAMESPACE, localCert files too."""
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, str(kmock.url))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("POD_NAMESPACE", "tools")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = write_config(tmp_path, localCert="true", secretName="hook-certs", serviceName="hook")
    runner = CliRunner()
    # The CLI runs its own event loop: give it a thread so that this loop keeps serving the mock.
    result = await asyncio.to_thread(runner.invoke, webhook_group, ["init-certs", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "created certificates in Secret tools/hook-certs and" in result.output
    (post,) = list(kmock["post"])
    assert post.url.path == "/api/v1/namespaces/tools/secrets"
    assert post.data["metadata"]["name"] == "hook-certs"
    files = read_cert_files(tmp_path / "certs")
    assert files is not None and files.ca_key is None  # the CA key stays in the Secret only
    assert CertBundle.from_secret_data(post.data["data"], secret_name="hook-certs").tls_cert == files.tls_cert
    sans = x509.load_pem_x509_certificate(files.tls_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert sans.value.get_values_for_type(x509.DNSName) == ["hook", "hook.tools", "hook.tools.svc"]


@pytest.mark.parametrize(("host", "kind"), [("127.0.0.1", x509.IPAddress), ("hook.example", x509.DNSName)])
def test_init_certs_serves_the_host_of_webhook_url(
    tmp_path: Path, host: str, kind: type[x509.GeneralName]
) -> None:
    config = write_config(tmp_path, url=f"https://{host}:9443")
    made = CliRunner().invoke(webhook_group, ["init-certs", "--config", str(config), "--local-only"])
    assert made.exit_code == 0, made.output
    created = read_cert_files(tmp_path / "certs")
    assert created is not None
    sans = x509.load_pem_x509_certificate(created.tls_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert host in [str(v) for v in sans.value.get_values_for_type(kind)]
