"""Global: secrets the webhook's own process holds, injected as plain env vars (docs/compat.md section 4).

ANY and ENV_VAR requests get ``FLYTE_SECRETS_ENV_PREFIX=_FSEC_`` and
``UPPER(_FSEC_<group>_<key>)=<value>`` (plus ``env_var`` with the same value when the request names
one: env_var works everywhere). FILE requests and secrets Global does not hold are passed on to the
configured manager. Where values come from: :mod:`tasksecrets.managers.global_.source`. A request
it holds that ``secrets.accessPolicy`` keeps from the pod's namespace denies the pod
(:mod:`tasksecrets.managers.global_.policy`).

This is the one injector that writes a secret value into the pod spec, as the contract demands.
"""

from __future__ import annotations

from typing import ClassVar

from tasksecrets.contract import MountType
from tasksecrets.errors import AccessDeniedError, InjectionError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.fragments import check_env_var, env_prefix_var, env_value, pod_env_name
from tasksecrets.managers.global_.defaults import GlobalSettings
from tasksecrets.managers.global_.policy import GlobalAccessPolicy
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.memo import SecretMemo
from tasksecrets.managers.plugin import SharedSettings
from tasksecrets.sdk.secret import Secret

__all__ = ["GlobalInjector"]

_FILE_REASON = "delivers environment variables only, not FILE requests"


class GlobalInjector:
    """Injects values held by the webhook itself as env vars; passes everything else on."""

    name: ClassVar[str] = "Global"
    carries_values: ClassVar[bool] = True

    def __init__(self, source: GlobalSecretSource, *, policy: GlobalAccessPolicy | None = None) -> None:
        self.source = source
        self.policy = GlobalAccessPolicy() if policy is None else policy
        # Decline reasons by request: they name the env var and file looked at, never a value.
        self._reasons = SecretMemo(self._not_held_reason)

    @classmethod
    def from_config(cls, section: GlobalSettings, *, shared: SharedSettings) -> GlobalInjector:
        """Global over this process's environment and the section's ``secrets-prefix``, under its policy."""
        return cls(
            GlobalSecretSource.from_settings(section), policy=GlobalAccessPolicy.from_settings(section)
        )

    @property
    def deterministic(self) -> bool:
        """Whether what it holds cannot change (a snapshot of the environment, no directory)."""
        return self.source.fixed

    def inject(self, secret: Secret, editor: PodEditor) -> bool:
        """Inject as env vars when held and not a FILE request; else raise the reason to pass it on."""
        if secret.mount_requirement is MountType.FILE:
            raise InjectionError(_FILE_REASON)
        check_env_var(secret)
        value = self.source.lookup(secret)
        if value is None:
            raise InjectionError(self._reasons(secret))
        if not self.policy.allows(editor.namespace, secret.group):
            raise AccessDeniedError(self.policy.refusal(editor.namespace, secret.group))
        env = [env_prefix_var(), env_value(pod_env_name(secret), value)]
        if secret.env_var:
            env.append(env_value(secret.env_var, value))
        editor.add_env(*env)
        return True

    def _not_held_reason(self, secret: Secret) -> str:
        where = self.source.file_path(secret)
        return f"not held by the webhook (env {self.source.env_name(secret)}" + (
            f", file {where})" if where is not None else ")"
        )
