"""The one exception tree of tasksecrets.

Every error the library raises on purpose derives from :class:`TaskSecretsError`, so callers can
catch the whole family at once. Errors caused by bad input also derive from :class:`ValueError`,
which is what flytekit raises for the same mistakes; code written for flytekit keeps working.

::

    TaskSecretsError
    ├── SecretError (ValueError)            a Secret declared or used wrongly
    │   ├── SecretNotFoundError             requested, but nowhere to be found at run time
    │   └── SecretNotRequestedError         read inside a task that did not request it
    ├── TaskDeclarationError (ValueError)   @task / @workflow declared wrongly
    ├── WireError (ValueError)              a flyte.secrets/s<N> annotation that does not decode
    ├── ConfigError (ValueError)            a configuration file or key that is not valid
    ├── ManifestError (ValueError)          a pod, AdmissionReview or Secret manifest that is not usable
    ├── InjectionError                      a secret the webhook could not inject into a pod
    │   └── AccessDeniedError               the config's access policy refuses it (denies the pod)
    ├── KubernetesApiError                  the Kubernetes API refused or failed a request (has .status)
    ├── InjectorNotFoundError (ValueError)  no injector of that name, or its extra is not installed
    ├── StoreError                          the local encrypted secret store
    │   ├── StoreKeyError                   the master key is missing or does not open the store
    │   ├── StoreNameError (ValueError)     a namespace, secret name or data key breaking Kubernetes rules
    │   ├── NamespaceNotFoundError (KeyError-like lookups, reported by name)
    │   ├── StoredSecretNotFoundError
    │   └── StoredSecretExistsError
    ├── TaskOutputError (TypeError)         a task's result breaks its return annotation, or cannot be
    │                                       passed on
    └── TaskExecutionError                  a task failed while running under the local cluster

Messages say what was wrong and how to fix it. They never carry a secret's value.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "ConfigError",
    "InjectionError",
    "InjectorNotFoundError",
    "KubernetesApiError",
    "ManifestError",
    "NamespaceNotFoundError",
    "SecretError",
    "SecretNotFoundError",
    "SecretNotRequestedError",
    "StoreError",
    "StoreKeyError",
    "StoreNameError",
    "StoredSecretExistsError",
    "StoredSecretNotFoundError",
    "TaskDeclarationError",
    "TaskExecutionError",
    "TaskOutputError",
    "TaskSecretsError",
    "WireError",
]


class TaskSecretsError(Exception):
    """Base class of every error tasksecrets raises on purpose."""


class SecretError(TaskSecretsError, ValueError):
    """A Secret was declared or used wrongly (missing group or key, bad env_var, bad encode_mode)."""


class SecretNotFoundError(SecretError):
    """A secret was asked for but is neither in the environment nor on disk."""


class SecretNotRequestedError(SecretError):
    """A running task read a secret it did not list in its ``secret_requests``."""


class TaskDeclarationError(TaskSecretsError, ValueError):
    """A task or workflow was declared wrongly (for example ``secret_requests`` not a list of Secret)."""


class WireError(TaskSecretsError, ValueError):
    """An annotation value that is not a valid encoded Secret."""


class ConfigError(TaskSecretsError, ValueError):
    """A configuration file or value that is not valid; the message names the key."""


class ManifestError(TaskSecretsError, ValueError):
    """A manifest (Pod, AdmissionReview, Kubernetes Secret) that cannot be used."""


class InjectionError(TaskSecretsError):
    """A secret that could not be injected into a pod; the message names it and says why."""


class AccessDeniedError(InjectionError):
    """The config's access policy refuses a request to the pod's namespace: the pod is denied.

    Not passed on to the next manager, and denied whatever ``onInjectionError`` says: another
    manager serving the same names would hand the namespace what the policy keeps from it.
    """


class KubernetesApiError(TaskSecretsError):
    """The Kubernetes API answered a request with an error, or could not be reached.

    ``status`` is the HTTP status (0 when no answer came), so callers branch on it, never on the text.
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class InjectorNotFoundError(TaskSecretsError, ValueError):
    """No injector is registered under a name, or the extra it needs is not installed."""


class StoreError(TaskSecretsError):
    """An error of the local encrypted secret store."""


class StoreKeyError(StoreError):
    """The store's master key is missing, malformed, or does not decrypt the store."""


class StoreNameError(StoreError, ValueError):
    """A namespace, secret name or data key that breaks the Kubernetes naming rules."""


class NamespaceNotFoundError(StoreError):
    """A namespace that holds no secrets."""


class StoredSecretNotFoundError(StoreError):
    """A secret name that does not exist in a namespace of the store."""


class StoredSecretExistsError(StoreError):
    """A secret that already exists where a new one was to be created."""


class TaskOutputError(TaskSecretsError, TypeError):
    """A task returned something its return annotation does not declare, or that cannot be passed on.

    The message names the task, the output (by position or NamedTuple field), the type found and the
    type declared.
    """


class TaskExecutionError(TaskSecretsError):
    """A task failed while running under the local cluster."""
