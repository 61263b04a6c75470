"""The wire contract with Flyte, every name of it once (docs/compat.md).

Standard library only. The SDK's reader, the pod renderer, the admission core, every secret
manager and the local kubelet take their names, paths, labels, annotation keys and prefixes from
here; no other module spells one. Grouped as docs/compat.md is:

- section 1: :class:`MountType`, the enum of flyteidl's ``core.Secret``;
- section 2: how requests travel on a pod (the label, the annotation prefix and size limit);
- section 3: where a task looks (the reader's settings and defaults; the env-name and file-path
  rules, :class:`EnvName` and :class:`FilePath`);
- section 4: what the webhook puts into a pod (the pod's secrets directory, the path env vars,
  each manager's names) and where each manager delivers a request, :data:`DELIVERY`; the reader's
  fallbacks (:data:`READER_ENV_NAMES`, :data:`READER_FILES`) are built from that table;
- section 5: the webhook as a service (its registration names and path).
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass, field

__all__ = [
    "ANNOTATION_PREFIX",
    "DEFAULT_DIR_VAR",
    "DELIVERY",
    "ENV_PREFIX",
    "ENV_PREFIX_VAR",
    "EXPORT_ANNOTATION",
    "EXPORT_ENV_VAR",
    "FILE_PREFIX_VAR",
    "FLYTEKIT_ENV",
    "FLYTEKIT_FILE",
    "GLOBAL_ENV_PREFIX",
    "GLOBAL_SECRETS_DIR",
    "INJECT_LABEL",
    "INJECT_LABEL_VALUE",
    "MAX_ANNOTATION_BYTES",
    "MUTATE_PATH",
    "POD_SECRETS_DIR",
    "READER_DEFAULT_DIR",
    "READER_ENV_NAMES",
    "READER_FILES",
    "TASK_CONTAINER",
    "WEBHOOK_NAME",
    "Delivery",
    "EnvName",
    "FilePath",
    "MountType",
    "join_path",
]


# -- section 1: the Secret model ----------------------------------------------------------------


class MountType(enum.IntEnum):
    """How a secret reaches the task: anyhow, as an environment variable, or as a file."""

    ANY = 0
    ENV_VAR = 1
    FILE = 2


# -- section 2: requests on a pod -----------------------------------------------------------------

INJECT_LABEL = "inject-flyte-secrets"
INJECT_LABEL_VALUE = "true"
ANNOTATION_PREFIX = "flyte.secrets/s"  # + the request's index: s0, s1, ...
MAX_ANNOTATION_BYTES = 256 * 1024
BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz123456"  # the annotation codec's, also K8s volume names
TASK_CONTAINER = "task"  # the container of a rendered task pod

# -- section 3: where a task looks ----------------------------------------------------------------

SETTINGS_PREFIX = "FLYTE_SECRETS_"  # every setting of the reader's starts with it
ENV_PREFIX_VAR = SETTINGS_PREFIX + "ENV_PREFIX"
DEFAULT_DIR_VAR = SETTINGS_PREFIX + "DEFAULT_DIR"
FILE_PREFIX_VAR = SETTINGS_PREFIX + "FILE_PREFIX"
ENV_PREFIX = "_FSEC_"  # the reader's default prefix, and the one the webhook writes
READER_DEFAULT_DIR = "/etc/secrets"
READER_DEFAULT_FILE_PREFIX = ""

_GROUP, _VERSION, _KEY = "group", "group_version", "key"  # the parts a name is made of


_PARTS = (_GROUP, _VERSION, _KEY)  # the order of the values the rules below are given
_KEY_AT = _PARTS.index(_KEY)


def _positions(parts: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(_PARTS.index(part) for part in parts)


@dataclass(frozen=True)
class EnvName:
    """An env var name: a prefix, then the non-empty ``parts`` upper-cased and joined by ``_``.

    Only upper-casing: ``-`` and ``.`` are kept (``_FSEC_MY-GROUP_MY.KEY``).
    """

    parts: tuple[str, ...]
    _at: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_at", _positions(self.parts))

    def format(self, prefix: str, group: str, key: str, group_version: str | None = None) -> str:
        """The name for one secret under ``prefix``."""
        # A loop over positions, not a comprehension: the reader formats a name on every read.
        values = (group, group_version, key)
        name, separator = prefix, ""
        for at in self._at:
            value = values[at]
            if value:
                name += separator + value.upper()
                separator = "_"
        return name


@dataclass(frozen=True)
class FilePath:
    """A file below a secrets directory: the non-empty ``parts``, lower-cased unless ``lower`` is false.

    The file prefix (``FLYTE_SECRETS_FILE_PREFIX``) goes before the key, where the key is a part.
    """

    parts: tuple[str, ...]
    lower: bool = True
    _at: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_at", _positions(self.parts))

    def parts_of(
        self, group: str, key: str, group_version: str | None = None, *, file_prefix: str = ""
    ) -> list[str]:
        """The path's components below the directory, in order."""
        values = (group, group_version, key)
        found = []
        for at in self._at:
            value = values[at]
            if value:
                value = value.lower() if self.lower else value
                found.append(file_prefix + value if at == _KEY_AT else value)
        return found

    def complete(self, group: str, key: str, group_version: str | None = None) -> bool:
        """Whether every part is given (a manager writes a path only from parts it requires)."""
        values = (group, group_version, key)
        return all(values[at] for at in self._at)

    def join(self, root: str, group: str, key: str, group_version: str | None = None) -> str:
        """The path a manager writes below ``root``, cleaned as Go's ``filepath.Join`` cleans it."""
        return join_path(root, *self.parts_of(group, key, group_version))


def join_path(*parts: str) -> str:
    """Join and clean path parts as Go's ``filepath.Join`` does (what Flyte's injectors use).

    Unlike ``posixpath.join``, a part starting with ``/`` does not discard the parts before it,
    empty parts are skipped, and a leading ``//`` is cleaned to ``/``.
    """
    joined = posixpath.normpath("/".join(p for p in parts if p)) if any(parts) else ""
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


FLYTEKIT_ENV = EnvName((_GROUP, _VERSION, _KEY))
FLYTEKIT_FILE = FilePath((_GROUP, _VERSION, _KEY))

# -- section 4: what the webhook puts into a pod --------------------------------------------------

POD_SECRETS_DIR = "/etc/flyte/secrets"  # where every file manager puts secrets in a pod

# The env var every manager writes for a value: the webhook never puts the version into a name.
POD_ENV = EnvName((_GROUP, _KEY))
POD_FILE = FilePath((_GROUP, _KEY))  # K8s and AWS: lower(group)/lower(key)
GCP_FILE = FilePath((_GROUP, _VERSION))  # the file is named after the version it fetched
VAULT_FILE = FilePath((_GROUP, _KEY), lower=False)  # the agent keeps the case
AZURE_FILE = FLYTEKIT_FILE  # where flytekit looks first
K8S_MOUNT = FilePath((_GROUP,))  # K8s mounts the group's secret volume here

# Global: where the webhook's own process finds values (config section ``secrets``).
GLOBAL_ENV_PREFIX = "FLYTE_SECRET_"
GLOBAL_SECRETS_DIR = "/etc/secrets"
GLOBAL_SOURCE_ENV = EnvName((_GROUP, _KEY))
GLOBAL_SOURCE_FILE = FilePath((_GROUP, _KEY), lower=False)

# ENV_VAR with the file-only managers: the file, exported into env vars by the task's entrypoint.
EXPORT_ANNOTATION = "tasksecrets.dev/export-env"
EXPORT_ENV_VAR = "TASKSECRETS_EXPORT_ENV"


@dataclass(frozen=True)
class Delivery:
    """Where one manager puts a request's value in a pod.

    ``env``: the env var holding the value (ENV_VAR requests; ANY too when there is no ``file``).
    ``file``: the file below :data:`POD_SECRETS_DIR` holding it (FILE and ANY requests).
    ``exported``: ENV_VAR is served as the file, which the task's entrypoint exports into ``env``.
    """

    env: EnvName | None
    file: FilePath | None
    exported: bool = False

    @property
    def file_layout(self) -> FilePath:
        """``file``, for a manager that delivers files (ValueError for one that does not)."""
        if self.file is None:
            raise ValueError("this manager delivers no files")
        return self.file

    def by_env(self, mount: MountType) -> bool:
        """Whether a request of ``mount`` ends up in ``env`` (directly or exported)."""
        if self.env is None or mount is MountType.FILE:
            return False
        return mount is MountType.ENV_VAR or self.file is None

    def by_file(self, mount: MountType) -> bool:
        """Whether a request of ``mount`` ends up in ``file``."""
        if self.file is None:
            return False
        return mount is not MountType.ENV_VAR or self.exported


# Every built-in manager's layout, in the order the docs list them. FILE requests to Global go on
# to the configured manager, so Global has no file.
DELIVERY: dict[str, Delivery] = {
    "Global": Delivery(env=POD_ENV, file=None),
    "K8s": Delivery(env=POD_ENV, file=POD_FILE),
    "AWS": Delivery(env=POD_ENV, file=POD_FILE, exported=True),
    "GCP": Delivery(env=POD_ENV, file=GCP_FILE, exported=True),
    "Vault": Delivery(env=POD_ENV, file=VAULT_FILE, exported=True),
    "Azure": Delivery(env=POD_ENV, file=AZURE_FILE, exported=True),
}


# What the reader looks at, in order: flytekit's env name and file first (so a secret placed for a
# flytekit task is found by ours and the other way round), then every place a manager delivers to.
READER_ENV_NAMES: tuple[EnvName, ...] = tuple(
    dict.fromkeys([FLYTEKIT_ENV, *(d.env for d in DELIVERY.values() if d.env is not None)])
)
READER_FILES: tuple[FilePath, ...] = tuple(
    dict.fromkeys([FLYTEKIT_FILE, *(d.file for d in DELIVERY.values() if d.file is not None)])
)

# The names each manager gives what it adds to a pod.
AWS_VOLUME = "aws-secret-vol"
AWS_CONTAINER_PREFIX = "aws-pull-secret"
AWS_INIT_MOUNT_PATH = "/tmp"  # the sidecar image always writes under /tmp
AWS_SECRET_ARN_VAR = "SECRET_ARN"
AWS_SECRET_FILENAME_VAR = "SECRET_FILENAME"
GCP_VOLUME = "gcp-secret-vol"
GCP_CONTAINER_PREFIX = "gcp-pull-secret"
AZURE_VOLUME = "azure-secret-vol"
AZURE_CONTAINER_PREFIX = "azure-pull-secret"

# The Vault Agent Injector's annotations (its own contract, which the Vault manager writes to).
VAULT_PREFIX = "vault.hashicorp.com/"
VAULT_AGENT_INJECT = VAULT_PREFIX + "agent-inject"
VAULT_SECRET_VOLUME_PATH = VAULT_PREFIX + "secret-volume-path"
VAULT_ROLE = VAULT_PREFIX + "role"
VAULT_PRE_POPULATE_ONLY = VAULT_PREFIX + "agent-pre-populate-only"
VAULT_SECRET_PREFIX = VAULT_PREFIX + "agent-inject-secret-"
VAULT_FILE_PREFIX = VAULT_PREFIX + "agent-inject-file-"
VAULT_TEMPLATE_PREFIX = VAULT_PREFIX + "agent-inject-template-"
VAULT_DEFAULT_VOLUME_PATH = "/vault/secrets"  # the injector's default secret-volume-path

# -- section 5: the webhook as a service ----------------------------------------------------------

WEBHOOK_NAME = "flyte-pod-webhook.flyte.org"
MUTATE_PATH = "/mutate--v1-pod"
DEFAULT_SERVICE_NAME = "flyte-pod-webhook"  # also the default secretName
