"""A small Kubernetes API client: the six calls the webhook makes, and nothing else.

It finds the API the way ``kubectl`` and client-go do: inside a pod, the service-account token and CA
under ``/var/run/secrets/kubernetes.io/serviceaccount`` with ``KUBERNETES_SERVICE_HOST``/``_PORT``;
elsewhere the current context of the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), with a token,
a token file or a client certificate (exec plugins are not supported). The token file is read anew for
every request because Kubernetes rotates bound service-account tokens.

Errors are :class:`~tasksecrets.errors.KubernetesApiError` with the HTTP status; messages about
Secrets never quote what the API said about the data.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from tasksecrets.errors import ConfigError, KubernetesApiError

__all__ = ["SERVICE_ACCOUNT_DIR", "KubeClient"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_MWC_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class KubeClient:
    """An async client for Secrets and MutatingWebhookConfigurations. Use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._token_file = token_file
        self._http = httpx.AsyncClient(base_url=self.base_url, verify=verify, timeout=timeout)

    def __repr__(self) -> str:
        return f"KubeClient({self.base_url!r}, token=[secure])"

    @classmethod
    def from_environment(cls) -> KubeClient:
        """In a pod, the service account; elsewhere the kubeconfig's current context."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        token_file = SERVICE_ACCOUNT_DIR / "token"
        if host and token_file.exists():
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            netloc = f"[{host}]" if ":" in host else host
            context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
            return cls(f"https://{netloc}:{port}", token_file=token_file, verify=context)
        return cls.from_kubeconfig(_kubeconfig_path())

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeClient:
        """The current context of a kubeconfig file."""
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"cannot read the kubeconfig {path} ({type(exc).__name__}): "
                "run inside a pod or set KUBECONFIG"
            ) from None
        if not isinstance(doc, dict):
            raise ConfigError(f"the kubeconfig {path} is not a YAML mapping")
        context_name = doc.get("current-context")
        context = _named(doc, "contexts", context_name, path=path)
        cluster = _named(doc, "clusters", context.get("cluster"), path=path)
        user = _named(doc, "users", context.get("user"), path=path) if context.get("user") else {}
        server = cluster.get("server")
        if not isinstance(server, str) or not server:
            raise ConfigError(f"the kubeconfig {path}: cluster {context.get('cluster')!r} has no server")
        if "exec" in user or "auth-provider" in user:
            raise ConfigError(f"the kubeconfig {path}: exec and auth-provider credentials are not supported")
        verify: ssl.SSLContext | bool = True
        if server.startswith("https://"):
            context_ssl = _ssl_context(cluster, base=path.parent)
            _load_client_cert(context_ssl, user, base=path.parent)
            verify = context_ssl
        token_file = user.get("tokenFile")
        return cls(
            server,
            token=user.get("token"),
            token_file=(path.parent / token_file) if isinstance(token_file, str) else None,
            verify=verify,
        )

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- Secrets ----------------------------------------------------------------------------------
    async def get_secret(self, name: str, *, namespace: str) -> dict[str, Any] | None:
        return await self._get(
            f"/api/v1/namespaces/{namespace}/secrets/{name}", what=f"Secret {namespace}/{name}"
        )

    async def create_secret(self, body: dict[str, Any], *, namespace: str) -> dict[str, Any]:
        name = body["metadata"]["name"]
        return await self._send(
            "POST",
            f"/api/v1/namespaces/{namespace}/secrets",
            body,
            what=f"Secret {namespace}/{name}",
            quiet=True,
        )

    async def replace_secret(self, body: dict[str, Any], *, namespace: str) -> dict[str, Any]:
        name = body["metadata"]["name"]
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
        return await self._send("PUT", path, body, what=f"Secret {namespace}/{name}", quiet=True)

    # -- MutatingWebhookConfigurations ----------------------------------------------------------
    async def get_mutating_webhook_configuration(self, name: str) -> dict[str, Any] | None:
        return await self._get(f"{_MWC_PATH}/{name}", what=f"MutatingWebhookConfiguration {name}")

    async def create_mutating_webhook_configuration(self, body: dict[str, Any]) -> dict[str, Any]:
        what = f"MutatingWebhookConfiguration {body['metadata']['name']}"
        return await self._send("POST", _MWC_PATH, body, what=what)

    async def replace_mutating_webhook_configuration(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        return await self._send(
            "PUT", f"{_MWC_PATH}/{name}", body, what=f"MutatingWebhookConfiguration {name}"
        )

    # -- transport --------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._token
        if self._token_file is not None:
            try:
                token = self._token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise KubernetesApiError(
                    f"cannot read the token file {self._token_file}: {exc.strerror}"
                ) from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _get(self, path: str, *, what: str) -> dict[str, Any] | None:
        try:
            return await self._send("GET", path, None, what=what)
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None, *, what: str, quiet: bool = False
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body, headers=self._headers())
        except httpx.HTTPError as exc:
            raise KubernetesApiError(
                f"{method} {what}: cannot reach the Kubernetes API at {self.base_url} ({type(exc).__name__})"
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            return payload
        status = response.status_code
        reason = payload.get("reason", "") if isinstance(payload, dict) else ""
        message = payload.get("message", "") if isinstance(payload, dict) else ""
        # The API may echo field values in its message; for Secrets those could be key material.
        detail = f"{reason}" if quiet else f"{reason}: {message}"
        raise KubernetesApiError(f"{method} {what}: HTTP {status} {detail}".rstrip(": "), status=status)


def _kubeconfig_path() -> Path:
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def _named(doc: dict[str, Any], section: str, name: object, *, path: Path) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            inner = entry.get(section[:-1])
            if isinstance(inner, dict):
                return inner
    raise ConfigError(f"the kubeconfig {path} has no {section[:-1]} named {name!r}")


def _ssl_context(cluster: dict[str, Any], *, base: Path) -> ssl.SSLContext:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(cluster.get("certificate-authority-data"), str):
        pem = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii")
        return ssl.create_default_context(cadata=pem)
    if isinstance(cluster.get("certificate-authority"), str):
        return ssl.create_default_context(cafile=str(base / cluster["certificate-authority"]))
    return ssl.create_default_context()


def _load_client_cert(context: ssl.SSLContext, user: dict[str, Any], *, base: Path) -> None:
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    if isinstance(cert_data, str) and isinstance(key_data, str):
        # ssl only loads key pairs from files: write them to a private temporary directory.
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            cert_path.write_bytes(base64.b64decode(cert_data))
            key_path.touch(mode=0o600)
            key_path.write_bytes(base64.b64decode(key_data))
            context.load_cert_chain(str(cert_path), str(key_path))
    elif isinstance(user.get("client-certificate"), str) and isinstance(user.get("client-key"), str):
        context.load_cert_chain(str(base / user["client-certificate"]), str(base / user["client-key"]))
