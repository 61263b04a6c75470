"""The reader: ``current_context().secrets``, which finds a secret's value at run time.

Where ``get(group, key, group_version)`` looks (first hit wins, values stripped) is built from the
contract's tables (:data:`~tasksecrets.contract.READER_ENV_NAMES` and
:data:`~tasksecrets.contract.READER_FILES`), never written out here:

1. flytekit's env var ``<prefix><GROUP>[_<VERSION>]_<KEY>``;
2. outside a pod (not under ``python -m tasksecrets execute``), the same name without the prefix;
3. flytekit's file ``<dir>/<group>[/<version>]/<file prefix><key>``, lower-cased;
4. the env var every manager delivers to (with and without the prefix, as above);
5-7. every other file a manager delivers to, in the order of :data:`~tasksecrets.contract.DELIVERY`
   (K8s's and AWS's, GCP's named after the version, Vault's with the case kept).

Steps 1-3 are exactly flytekit's, so a secret placed for a flytekit task is found by ours and the
other way round; steps 4-7 find what the webhook's managers write elsewhere (the version is never
in their names; GCP names the file after the version; Vault's agent keeps the case).

Inside a running task, a secret the task did not request is refused (least privilege) before any
lookup, and so is a version no request gave (it would widen the request in steps 3 and 6); every
value found is registered for masking. Messages never carry a value.
"""

from __future__ import annotations

import os
from collections.abc import Container, Iterator
from typing import Any, NamedTuple

from tasksecrets.contract import (
    ENV_PREFIX,
    ENV_PREFIX_VAR,
    FLYTEKIT_ENV,
    FLYTEKIT_FILE,
    READER_ENV_NAMES,
    READER_FILES,
    EnvName,
    FilePath,
)
from tasksecrets.errors import SecretError, SecretNotFoundError, SecretNotRequestedError
from tasksecrets.sdk.exports import read_secret_file
from tasksecrets.sdk.settings import SecretsConfig, config_of, read_config, read_env_prefix
from tasksecrets.sdk.state import RunningTask, current_running_task

__all__ = [
    "ENCODE_MODES",
    "Place",
    "SecretsManager",
    "describe_secret",
    "find_secret",
    "iter_places",
    "lookup_places",
]

ENCODE_MODES = ("r", "rb")


def describe_secret(group: str, key: str, group_version: str | None = None) -> str:
    """How to request this secret, as Python: ``Secret(group='g', key='k'[, group_version='v'])``."""
    version = f", group_version={group_version!r}" if group_version else ""
    return f"Secret(group={group!r}, key={key!r}{version})"


def _check_part(name: str, value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        if value is None:
            raise SecretError(
                f"the secret {name} is a required parameter: pass it as a non-empty string, "
                "e.g. secrets.get('user-info', 'user_secret')"
            )
        raise SecretError(f"the secret {name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise SecretError(
            f"the secret {name} is a required parameter and may not be empty: "
            "pass a non-empty string, e.g. secrets.get('user-info', 'user_secret')"
        )


def _check_names(group: object, key: object, group_version: object) -> None:
    _check_part("group", group, required=True)
    _check_part("key", key, required=True)
    _check_part("group_version", group_version, required=False)


def _plain_names(group: object, key: object, group_version: object) -> bool:
    # The common case, checked without calls; anything else goes through _check_names.
    return (
        type(group) is str
        and type(key) is str
        and bool(group)
        and bool(key)
        and not group.isspace()
        and not key.isspace()
        and (group_version is None or type(group_version) is str)
    )


class Place(NamedTuple):
    """One place the reader looks: an env var (``is_file`` false) or a file, by name."""

    is_file: bool
    name: str

    def describe(self) -> str:
        return f"file {self.name}" if self.is_file else f"env var {self.name}"


def _file_path(
    layout: FilePath, group: str, key: str, group_version: str | None, config: SecretsConfig
) -> str:
    parts = layout.parts_of(group, key, group_version, file_prefix=config.file_prefix)
    return os.path.join(config.default_dir, *parts)


def iter_places(
    group: str,
    key: str,
    group_version: str | None,
    *,
    config: SecretsConfig | None = None,
    prefix: str | None = None,
    local: bool,
) -> Iterator[Place]:
    """Every place ``get`` looks for the secret, in order (see the module docstring), each once.

    Lazily: a read stops at the first place that holds the secret. ``config`` None reads the
    settings from the environment, the directory and file prefix only once a file is reached
    (``prefix``: the env prefix, when the caller has read it already).
    """
    seen: set[Place] = set()
    for place in _places(group, key, group_version, config, prefix, local):
        if place not in seen:
            seen.add(place)
            yield place


def _places(
    group: str,
    key: str,
    group_version: str | None,
    config: SecretsConfig | None,
    prefix: str | None,
    local: bool,
) -> Iterator[Place]:
    if prefix is None:
        prefix = config.env_prefix if config is not None else read_env_prefix()
    flytekit_env, *other_env = READER_ENV_NAMES
    flytekit_file, *other_files = READER_FILES
    # flytekit's own order first: its env names, then its file; then what the managers write.
    yield from _env_places(flytekit_env, prefix, group, key, group_version, local)
    if config is None:
        config = read_config(env_prefix=prefix)
    yield Place(True, _file_path(flytekit_file, group, key, group_version, config))
    for layout in other_env:
        yield from _env_places(layout, prefix, group, key, group_version, local)
    for path_layout in other_files:  # where a manager writes: only from all of the layout's parts
        if path_layout.complete(group, key, group_version):
            yield Place(True, _file_path(path_layout, group, key, group_version, config))


def _env_places(
    layout: EnvName, prefix: str, group: str, key: str, group_version: str | None, local: bool
) -> tuple[Place, ...]:
    prefixed = Place(False, layout.format(prefix, group, key, group_version))
    if local and prefix:  # outside a pod also without the prefix, as flytekit does
        return prefixed, Place(False, layout.format("", group, key, group_version))
    return (prefixed,)


def lookup_places(
    group: str, key: str, group_version: str | None, *, config: SecretsConfig, local: bool
) -> list[Place]:
    """Every place ``get`` looks for the secret, in order: :func:`iter_places`, as a list."""
    return list(iter_places(group, key, group_version, config=config, local=local))


def _read_file(path: str, binary: bool) -> str | bytes | None:
    data = read_secret_file(path)
    if data is None:
        return None
    if binary:
        return data.strip()
    try:
        # Universal newlines, as reading in text mode would give.
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").strip()
    except UnicodeDecodeError:
        raise SecretError(
            f"the secret file {path} is not UTF-8 text: read it as bytes with encode_mode='rb'"
        ) from None


def _read_place(place: Place, binary: bool) -> str | bytes | None:
    if place.is_file:
        return _read_file(place.name, binary)
    value = os.environ.get(place.name)
    if value is None:
        return None
    value = value.strip()
    return value.encode("utf-8") if binary else value


def find_secret(
    group: str,
    key: str,
    group_version: str | None = None,
    *,
    binary: bool = False,
    local: bool = True,
    config: SecretsConfig | None = None,
    prefix: str | None = None,
    unset: Container[str] = (),
    tried: list[str] | None = None,
) -> tuple[str | bytes, str | None] | None:
    """Look a secret up in the lookup order above, without least-privilege checks.

    Returns ``(value, file path or None when it came from an env var)``, or None when not found;
    when ``tried`` is given, the env var names and file paths looked at are appended to it.
    ``unset`` names env vars the caller found unset already (they are not read again).
    """
    for place in iter_places(group, key, group_version, config=config, prefix=prefix, local=local):
        if tried is not None:
            tried.append(place.describe())
        if not place.is_file and place.name in unset:
            continue
        found = _read_place(place, binary)
        if found is not None:
            return found, place.name if place.is_file else None
    return None


def _refuse_unrequested(running: RunningTask, group: str, key: str, group_version: str | None) -> None:
    if not running.allows(group, key, group_version):
        raise SecretNotRequestedError(
            f"task {running.task.name!r} read a secret it did not request{_near_request(running, group, key)}"
            f": add {describe_secret(group, key, group_version)} to its "
            "@task(secret_requests=[...]) (least privilege: a task reads only what it requests)"
        )


def _near_request(running: RunningTask, group: str, key: str) -> str:
    # A typo of a requested name (user_info for user-info): say which request was probably meant.
    import difflib  # here, not at the top: ``import tasksecrets`` stays fast

    requests = running.secret_requests
    groups = sorted({s.group for s in requests})
    if group not in groups:
        near = difflib.get_close_matches(group, groups, n=1, cutoff=0.75)
        return f" (did you mean group {near[0]!r}?)" if near else ""
    keys = sorted({s.key for s in requests if s.group == group})
    near = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
    return f" (did you mean key {near[0]!r} of group {group!r}?)" if near else ""


class SecretsManager:
    """Finds secrets by group and key; ``current_context().secrets`` is one of these.

    ``SecretsManager()`` reads the ``FLYTE_SECRETS_*`` settings from the environment at each call;
    give ``config`` (any object with ``env_prefix``, ``default_dir``, ``file_prefix``, such as
    flytekit's ``SecretsConfig``) to pin them instead. ``secrets.<group>.<key>`` is ``get(group, key)``.
    """

    def __init__(self, config: Any = None) -> None:
        self._config: SecretsConfig | None = None if config is None else config_of(config)

    def _settings(self) -> SecretsConfig:
        return self._config if self._config is not None else read_config()

    def get(
        self,
        group: str | None = None,
        key: str | None = None,
        group_version: str | None = None,
        encode_mode: str = "r",
    ) -> Any:
        """The secret's value: ``str`` for ``encode_mode="r"``, ``bytes`` for ``"rb"``.

        Raises SecretNotRequestedError inside a task that did not request it, SecretNotFoundError
        (a ValueError) when it is nowhere, naming the env vars and files tried.
        """
        if not _plain_names(group, key, group_version) or (encode_mode != "r" and encode_mode != "rb"):
            if encode_mode not in ENCODE_MODES:
                raise SecretError(
                    f"encode_mode {encode_mode!r} is not valid: use one of {', '.join(ENCODE_MODES)}"
                )
            _check_names(group, key, group_version)
        assert group is not None and key is not None  # for the type checker; checked above
        running = current_running_task()
        if running is not None:
            _refuse_unrequested(running, group, key, group_version)
        # The common case first, without the lookup machinery: flytekit's prefixed env var.
        if self._config is not None:
            prefix = self._config.env_prefix
        else:
            setting = os.environ.get(ENV_PREFIX_VAR)
            prefix = setting.strip() if setting else ENV_PREFIX
        name = FLYTEKIT_ENV.format(prefix, group, key, group_version)
        found = os.environ.get(name)
        if found is not None:
            value: str | bytes = found.strip().encode("utf-8") if encode_mode == "rb" else found.strip()
        else:
            local = running is None or not running.in_pod
            elsewhere = find_secret(
                group, key, group_version, binary=encode_mode == "rb", local=local, config=self._config,
                prefix=prefix, unset=(name,),
            )  # fmt: skip
            if elsewhere is None:
                raise self._not_found(group, key, group_version, local=local)
            value = elsewhere[0]
        if running is not None:
            running.mask.add(value)
        return value

    def _not_found(
        self, group: str, key: str, group_version: str | None, *, local: bool
    ) -> SecretNotFoundError:
        places = lookup_places(group, key, group_version, config=self._settings(), local=local)
        return SecretNotFoundError(
            f"Unable to find secret for key {key!r} in group {group!r}: tried "
            f"{', '.join(p.describe() for p in places)}. Please make sure to add "
            f"secret_requests=[{describe_secret(group, key, group_version)}] in @task, "
            "and that the secret exists in the secret manager "
            "(for a local run: set the env var or write the file)"
        )

    def get_secrets_env_var(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The env var name the secret is looked for under (with the configured prefix)."""
        _check_names(group, key, group_version)
        assert group is not None and key is not None
        return FLYTEKIT_ENV.format(self._settings().env_prefix, group, key, group_version)

    def get_secrets_file(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The file path the secret is looked for at (under the configured directory)."""
        _check_names(group, key, group_version)
        assert group is not None and key is not None
        return _file_path(FLYTEKIT_FILE, group, key, group_version, self._settings())

    def __getattr__(self, group: str) -> _GroupSecrets:
        # Private and special names are never groups (copy, pickle and debuggers probe them).
        if group.startswith("_"):
            raise AttributeError(group)
        return _GroupSecrets(group, self)

    def __repr__(self) -> str:
        config = self._settings()
        return (
            f"SecretsManager(env_prefix={config.env_prefix!r}, default_dir={config.default_dir!r}, "
            f"file_prefix={config.file_prefix!r})"
        )


class _GroupSecrets:
    """``secrets.<group>``: each attribute is a key of the group."""

    def __init__(self, group: str, manager: SecretsManager) -> None:
        self._group = group
        self._manager = manager

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._manager.get(self._group, key)

    def __repr__(self) -> str:
        return f"<secrets of group {self._group!r}>"
