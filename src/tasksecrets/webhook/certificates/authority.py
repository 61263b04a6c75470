"""Certificates of the webhook: one long-lived CA and the short-lived serving certificates it signs.

The CA is what the Kubernetes API server trusts (the ``caBundle`` of the webhook configuration), so it
stays the same for years and across every replica; the serving certificate is renewed well before it
expires (``rotate-certs``) and hot-reloaded by the server, so nothing has to be re-registered.

Keys are ECDSA P-256 (Flyte uses RSA 4096): as strong for this purpose, and its signatures are much
cheaper, which matters because every admission request may open a TLS connection.

This module is pure crypto plus file handling; the flows that read and write the Kubernetes Secret
live in :mod:`tasksecrets.webhook.certificates.storage`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tasksecrets.errors import ManifestError

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CA_VALIDITY_DAYS",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "CertAction",
    "CertBundle",
    "CertPolicy",
    "check_ca",
    "check_serving_cert",
    "create_bundle",
    "create_ca",
    "dns_names_for",
    "issue_serving_cert",
    "plan_certs",
    "read_cert_files",
    "read_serial",
    "write_cert_files",
]

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
TLS_CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"
CA_VALIDITY_DAYS = 3650
# Issue certificates a little in the past so that a node whose clock lags still accepts them.
_BACKDATE = datetime.timedelta(minutes=5)

CertAction = Literal["created", "reused", "renewed", "replaced"]


@dataclass(frozen=True)
class CertBundle:
    """PEM bytes of the CA certificate (and its key, when we hold it) and of the serving pair."""

    ca_cert: bytes
    ca_key: bytes | None
    tls_cert: bytes
    tls_key: bytes

    def __repr__(self) -> str:
        # Private keys never print.
        return f"CertBundle(ca_serial={read_serial(self.ca_cert)}, tls_serial={read_serial(self.tls_cert)})"

    def to_secret_data(self) -> dict[str, str]:
        """The ``data`` of a Kubernetes Secret: base64 of each PEM, keys as the file names."""
        data = {CA_CERT_FILE: self.ca_cert, TLS_CERT_FILE: self.tls_cert, TLS_KEY_FILE: self.tls_key}
        if self.ca_key is not None:
            data[CA_KEY_FILE] = self.ca_key
        return {name: base64.b64encode(value).decode("ascii") for name, value in sorted(data.items())}

    @classmethod
    def from_secret_data(cls, data: Mapping[str, object], *, secret_name: str) -> CertBundle:
        """Read the ``data`` of a Secret; a missing or undecodable key is a :class:`ManifestError`."""
        decoded: dict[str, bytes] = {}
        for name in (CA_CERT_FILE, CA_KEY_FILE, TLS_CERT_FILE, TLS_KEY_FILE):
            value = data.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ManifestError(f"Secret {secret_name!r}: data key {name!r} is not a base64 string")
            try:
                decoded[name] = base64.b64decode(value, validate=True)
            except ValueError:
                raise ManifestError(
                    f"Secret {secret_name!r}: data key {name!r} is not valid base64"
                ) from None
        missing = [n for n in (CA_CERT_FILE, TLS_CERT_FILE, TLS_KEY_FILE) if n not in decoded]
        if missing:
            raise ManifestError(f"Secret {secret_name!r} lacks the data keys {', '.join(missing)}")
        return cls(
            ca_cert=decoded[CA_CERT_FILE],
            ca_key=decoded.get(CA_KEY_FILE),
            tls_cert=decoded[TLS_CERT_FILE],
            tls_key=decoded[TLS_KEY_FILE],
        )


def dns_names_for(service_name: str, *, namespace: str) -> list[str]:
    """The DNS names the API server may use to reach the Service (docs/compat.md section 5)."""
    return [service_name, f"{service_name}.{namespace}", f"{service_name}.{namespace}.svc"]


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def create_ca(
    *,
    now: datetime.datetime,
    validity_days: int = CA_VALIDITY_DAYS,
    common_name: str = "tasksecrets-webhook-ca",
) -> tuple[bytes, bytes]:
    """A self-signed CA: (certificate PEM, private key PEM)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_serving_cert(
    ca_cert: bytes,
    *,
    ca_key: bytes,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str] = (),
    validity_days: int,
    now: datetime.datetime,
) -> tuple[bytes, bytes]:
    """A serving certificate signed by the CA: (certificate PEM, private key PEM).

    Its validity never outlasts the CA's.
    """
    ca = x509.load_pem_x509_certificate(ca_cert)
    signer = serialization.load_pem_private_key(ca_key, password=None)
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ManifestError("the CA key is not an ECDSA key; run init-certs to create a new CA")
    key = _new_key()
    not_after = min(now + datetime.timedelta(days=validity_days), ca.not_valid_after_utc)
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def create_bundle(
    *, dns_names: Sequence[str], ip_addresses: Sequence[str] = (), validity_days: int, now: datetime.datetime
) -> CertBundle:
    """A new CA and a serving certificate signed by it."""
    ca_cert, ca_key = create_ca(now=now)
    tls_cert, tls_key = issue_serving_cert(
        ca_cert,
        ca_key=ca_key,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        validity_days=validity_days,
        now=now,
    )
    return CertBundle(ca_cert=ca_cert, ca_key=ca_key, tls_cert=tls_cert, tls_key=tls_key)


def read_serial(cert_pem: bytes) -> int | None:
    """The serial number of the first certificate in a PEM, or None when it does not parse."""
    try:
        return int(x509.load_pem_x509_certificate(cert_pem).serial_number)
    except ValueError:
        return None


def check_ca(bundle: CertBundle, *, renew_before_days: int, now: datetime.datetime) -> str | None:
    """Why this bundle's CA cannot sign a new serving certificate, or None when it can."""
    if bundle.ca_key is None:
        return f"the CA private key ({CA_KEY_FILE}) is not stored, so no new certificate can be signed"
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_cert)
        key = serialization.load_pem_private_key(bundle.ca_key, password=None)
    except ValueError:
        return "the CA certificate or key does not parse"
    if key.public_key() != ca.public_key():
        return "the CA key does not belong to the CA certificate"
    if ca.not_valid_after_utc - now <= datetime.timedelta(days=renew_before_days):
        return f"the CA expires on {ca.not_valid_after_utc:%Y-%m-%d}"
    return None


def check_serving_cert(
    bundle: CertBundle,
    *,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str] = (),
    renew_before_days: int,
    now: datetime.datetime,
) -> str | None:
    """Why the serving certificate must be renewed, or None when it is good for a while yet."""
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca_cert)
        cert = x509.load_pem_x509_certificate(bundle.tls_cert)
        key = serialization.load_pem_private_key(bundle.tls_key, password=None)
    except ValueError:
        return "a certificate or key does not parse"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return "the serving certificate is not signed by the CA"
    if key.public_key() != cert.public_key():
        return "the serving key does not belong to the serving certificate"
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "the serving certificate has no subject alternative names"
    have_dns = set(sans.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    missing = sorted(set(dns_names) - have_dns) + sorted(
        {str(ipaddress.ip_address(i)) for i in ip_addresses} - have_ips
    )
    if missing:
        return f"the serving certificate does not name {', '.join(missing)}"
    if cert.not_valid_before_utc > now:
        return "the serving certificate is not valid yet"
    if cert.not_valid_after_utc - now <= datetime.timedelta(days=renew_before_days):
        return f"the serving certificate expires on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return None


@dataclass(frozen=True)
class CertPolicy:
    """What :func:`plan_certs` decides by: the names to serve, validity and renewal margin (days),
    the time now, whether renewal is forced and whether a new CA may be created."""

    dns_names: Sequence[str]
    validity_days: int
    renew_before_days: int
    now: datetime.datetime
    allow_new_ca: bool
    ip_addresses: Sequence[str] = ()
    force: bool = False


def plan_certs(existing: CertBundle | None, policy: CertPolicy) -> tuple[CertBundle, CertAction, str | None]:
    """Decide what to store: (bundle, action, reason). Pure: it reads no file and calls no API.

    ``reused``: the existing bundle is good; ``renewed``: a new serving certificate from the same CA;
    ``created``: nothing existed; ``replaced``: the CA itself could not sign, so everything is new
    (only when ``policy.allow_new_ca``; otherwise a :class:`ManifestError` says how to recover).
    """
    names, ips, now = policy.dns_names, policy.ip_addresses, policy.now
    if existing is None:
        if not policy.allow_new_ca:
            raise ManifestError("no certificates exist yet: run `tasksecrets webhook init-certs` first")
        return _new_bundle(policy), "created", None
    reason = "renewal forced" if policy.force else None
    reason = reason or check_serving_cert(
        existing, dns_names=names, ip_addresses=ips, renew_before_days=policy.renew_before_days, now=now
    )
    if reason is None:
        return existing, "reused", None
    ca_problem = check_ca(existing, renew_before_days=policy.renew_before_days, now=now)
    if ca_problem is None:
        assert existing.ca_key is not None  # check_ca said so
        tls_cert, tls_key = issue_serving_cert(
            existing.ca_cert,
            ca_key=existing.ca_key,
            dns_names=names,
            ip_addresses=ips,
            validity_days=policy.validity_days,
            now=now,
        )
        renewed = CertBundle(
            ca_cert=existing.ca_cert, ca_key=existing.ca_key, tls_cert=tls_cert, tls_key=tls_key
        )
        return renewed, "renewed", reason
    if not policy.allow_new_ca:
        raise ManifestError(
            f"cannot renew the serving certificate ({reason}): {ca_problem}. Run `tasksecrets webhook "
            "init-certs` to create a new CA (the webhook configuration's caBundle then changes: restart "
            "the webhook pods so that they register it)"
        )
    return _new_bundle(policy), "replaced", f"{reason}; {ca_problem}"


def _new_bundle(policy: CertPolicy) -> CertBundle:
    return create_bundle(
        dns_names=policy.dns_names,
        ip_addresses=policy.ip_addresses,
        validity_days=policy.validity_days,
        now=policy.now,
    )


def read_cert_files(cert_dir: Path) -> CertBundle | None:
    """The bundle stored in ``cert_dir``, or None when its three main files are not all there."""
    try:
        ca_cert = (cert_dir / CA_CERT_FILE).read_bytes()
        tls_cert = (cert_dir / TLS_CERT_FILE).read_bytes()
        tls_key = (cert_dir / TLS_KEY_FILE).read_bytes()
    except FileNotFoundError:
        return None
    try:
        ca_key: bytes | None = (cert_dir / CA_KEY_FILE).read_bytes()
    except FileNotFoundError:
        ca_key = None
    return CertBundle(ca_cert=ca_cert, ca_key=ca_key, tls_cert=tls_cert, tls_key=tls_key)


def _write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    # Write beside the target and rename over it: a reader sees the old file or the new one, never half.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_cert_files(cert_dir: Path, bundle: CertBundle, *, include_ca_key: bool) -> None:
    """Write the bundle into ``cert_dir``: certificates 0644, keys 0600, each file replaced atomically.

    The key is written before the certificate so that a server reloading in between finds a pair
    that does not match, refuses it and keeps its old one until the next look.
    """
    cert_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(cert_dir / CA_CERT_FILE, bundle.ca_cert, mode=0o644)
    if include_ca_key and bundle.ca_key is not None:
        _write_atomically(cert_dir / CA_KEY_FILE, bundle.ca_key, mode=0o600)
    _write_atomically(cert_dir / TLS_KEY_FILE, bundle.tls_key, mode=0o600)
    _write_atomically(cert_dir / TLS_CERT_FILE, bundle.tls_cert, mode=0o644)
