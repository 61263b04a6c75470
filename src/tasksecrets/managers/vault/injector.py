"""Vault: annotations for the Vault Agent Injector (docs/compat.md section 4); it adds the containers.

Every served secret adds the path env vars and these pod annotations (the contract's ``VAULT_*`` names):
``agent-inject: "true"``, ``secret-volume-path: /etc/flyte/secrets``, ``role: <vaultSecretManager.role>``,
``agent-pre-populate-only: "true"``, and per secret, with an id ``<id>`` in the form of a lower-case
UUID4: ``agent-inject-secret-<id>: <group>`` (the Vault path), ``agent-inject-file-<id>: <group>/<key>``
and, except for the database engine, ``agent-inject-template-<id>``:

- ``group_version`` ``kv1``: ``{{- with secret "<group>" -}}{{ .Data.<key> }}{{- end -}}``
- ``kv2``: the same with ``.Data.data.<key>``
- ``db``: no template, so the agent's default renders every field as ``<name>: <value>`` lines
  (``password: ...`` and ``username: ...``)
- anything else: the deprecated ``vaultSecretManager.kvVersion`` (``1`` or ``2``) decides.

Precedence, lowest to highest: these defaults, ``vaultSecretManager.annotations``, the pod's own.

Ours: the id is derived from the secret and its position in the pod (deterministic patches), not
random; a key that is not a template identifier (``api-key``) is read with ``index`` instead of a
field access that would not parse (:mod:`tasksecrets.managers.vault.templates`); a group or key
that could break out of the template (quotes, braces, backslashes, back-quotes, control
characters) or out of the volume (``..``) is refused;
ENV_VAR requests are served as the file plus an env export; ``env_var`` of a FILE/ANY request holds
the file path, as with the other managers.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import ClassVar

from tasksecrets.contract import (
    DELIVERY,
    POD_SECRETS_DIR,
    VAULT_AGENT_INJECT,
    VAULT_FILE_PREFIX,
    VAULT_PRE_POPULATE_ONLY,
    VAULT_ROLE,
    VAULT_SECRET_PREFIX,
    VAULT_SECRET_VOLUME_PATH,
    VAULT_TEMPLATE_PREFIX,
)
from tasksecrets.errors import InjectionError
from tasksecrets.managers.delivery import FilePlan, check_request, deliver_file, plan_file, prepare_exports
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.managers.vault.settings import VaultManagerConfig
from tasksecrets.managers.vault.templates import KV1_QUERY, KV2_QUERY, FieldTemplate, render_field_template
from tasksecrets.sdk.secret import Secret

__all__ = ["VaultInjector", "vault_file_path", "vault_secret_annotations", "vault_secret_id"]

_FILE = DELIVERY["Vault"].file_layout
_ENGINE_QUERY = {"kv1": KV1_QUERY, "kv2": KV2_QUERY}  # group_version, exactly as Flyte reads it
_KV_VERSION_QUERY = {"1": KV1_QUERY, "2": KV2_QUERY}
_UNSAFE = re.compile(r'["\\{}`\x00-\x1f\x7f]')


def _check_safe(field: str, value: str) -> None:
    bad = _UNSAFE.search(value)
    if bad is not None:
        shown = repr(bad.group())
        raise InjectionError(
            f"Vault {field} {value!r} holds {shown}, which could break out of the agent's template: "
            "use a Vault path and key without quotes, braces, backslashes, back-quotes or control characters"
        )
    if ".." in value.split("/"):
        raise InjectionError(
            f"Vault {field} {value!r} holds a '..' segment, which would leave the secrets volume"
        )
    if value != value.strip():
        raise InjectionError(f"Vault {field} {value!r} has surrounding spaces")


def vault_secret_id(secret: Secret, ordinal: int) -> str:
    """A lower-case UUID4-formatted id, derived from the secret and its position among the pod's."""
    digest = hashlib.sha256(f"tasksecrets/vault\0{ordinal}\0{secret.group}\0{secret.key}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def vault_file_path(secret: Secret) -> str:
    """Where the agent writes the secret: ``/etc/flyte/secrets/<group>/<key>``, case kept, cleaned."""
    return _FILE.join(POD_SECRETS_DIR, secret.group, secret.key)


def _template(secret: Secret, kv_version: str) -> str | None:
    if secret.group_version == "db":
        return None
    query = _ENGINE_QUERY.get(secret.group_version or "") or _KV_VERSION_QUERY[kv_version]
    return render_field_template(FieldTemplate(secret.group, query, secret.key))


def vault_secret_annotations(secret: Secret, secret_id: str, *, kv_version: str) -> dict[str, str]:
    """The per-secret annotations (secret path, file, template) for ``secret_id``."""
    return _secret_annotations(secret, secret_id, _template(secret, kv_version))


def _secret_annotations(secret: Secret, secret_id: str, template: str | None) -> dict[str, str]:
    annotations = {
        VAULT_SECRET_PREFIX + secret_id: secret.group,
        VAULT_FILE_PREFIX + secret_id: f"{secret.group}/{secret.key}",
    }
    if template is not None:
        annotations[VAULT_TEMPLATE_PREFIX + secret_id] = template
    return annotations


class VaultInjector:
    """Annotates the pod so the Vault Agent Injector renders each secret into a file."""

    name: ClassVar[str] = "Vault"
    deterministic: ClassVar[bool] = True
    carries_values: ClassVar[bool] = False

    def __init__(
        self,
        *,
        role: str = "flyte",
        kv_version: str = "2",
        annotations: dict[str, str] | None = None,
        export: bool = True,
    ) -> None:
        if kv_version not in ("1", "2"):
            raise ValueError(f"kv_version must be '1' or '2', got {kv_version!r}")
        self.role = role
        self.kv_version = kv_version
        self.annotations = dict(annotations or {})
        self.export = export
        # Added after each secret's own annotations; the configured ones override the defaults.
        self._common = {
            VAULT_AGENT_INJECT: "true",
            VAULT_SECRET_VOLUME_PATH: POD_SECRETS_DIR,
            VAULT_ROLE: role,
            VAULT_PRE_POPULATE_ONLY: "true",
            **self.annotations,
        }
        self._plans = SecretMemo(self._plan_secret)
        self._ids: SecretMemo[dict[int, str]] = SecretMemo(lambda secret: {})

    @classmethod
    def from_config(cls, section: VaultManagerConfig, *, shared: SharedSettings) -> VaultInjector:
        """From ``webhook.vaultSecretManager`` and ``webhook.exportEnvVars``."""
        return cls(
            role=section.role,
            kv_version=section.kv_version,
            annotations=dict(section.annotations),
            export=shared.export_env_vars,
        )

    def _plan_secret(self, secret: Secret) -> tuple[FilePlan, str | None]:
        check_request(secret, manager=self.name, export=self.export)
        _check_safe("group", secret.group)
        _check_safe("key", secret.key)
        return plan_file(secret, path=vault_file_path(secret)), _template(secret, self.kv_version)

    def _secret_id(self, secret: Secret, ordinal: int) -> str:
        ids = self._ids(secret)  # derived names, remembered per Secret and position
        secret_id = ids.get(ordinal)
        if secret_id is None:
            secret_id = ids[ordinal] = vault_secret_id(secret, ordinal)
        return secret_id

    def _next_id(self, secret: Secret, editor: PodEditor) -> str:
        taken = editor.annotation_keys(VAULT_SECRET_PREFIX)  # an index, not a scan of every annotation
        ordinal = len(taken)
        while True:
            secret_id = self._secret_id(secret, ordinal)
            if VAULT_SECRET_PREFIX + secret_id not in taken:
                return secret_id
            ordinal += 1

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Add the path env vars and the annotations; InjectionError when not servable."""
        plan, template = self._plans(secret)
        exports = prepare_exports(plan, editor)
        merged = _secret_annotations(secret, self._next_id(secret, editor), template)
        merged.update(self._common)
        for key, value in merged.items():
            editor.set_annotation(key, value, keep_existing=True)
        deliver_file(plan, editor, exports=exports)
        return True
