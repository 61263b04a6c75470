"""The local cluster's executor: every task call runs as a pod on this machine.

Per call, :class:`LocalClusterExecutor` does what a cluster would:

1. render the task's pod (:func:`tasksecrets.pods.render_task_pod`), its entrypoint reading and
   writing the inputs and outputs files in a private per-task directory (mode 0700);
2. mutate it with the webhook's own code (:class:`~tasksecrets.admission.mutator.Mutator`) and the
   same config file; Global secrets come from the runner's environment and ``secrets-prefix``
   directory, exactly where the webhook process would find them. A denial fails the task;
3. materialize it with the local kubelet (:mod:`tasksecrets.local.kubelet`): secrets from the
   encrypted store of the pod's namespace, files under the private directory;
4. run the container's command in a child process whose environment is the runner's, scrubbed of
   every secret-like variable (:func:`scrub_environ`), plus the pod's env; read the outputs back.
   The child runs in its own process group, dies with the runner and dumps no core
   (:mod:`tasksecrets.local.procguard`);
5. remove the private directory, whatever happened. The directory names its runner, so one left by a
   runner that was SIGKILLed is removed by the next executor's first task
   (:mod:`tasksecrets.local.workdirs`).

On any exception while a task runs (:class:`~tasksecrets.local.procguard.StopRequested` for a stop signal, see
:func:`~tasksecrets.local.procguard.stop_on_signals`) while a task runs, its process group is stopped,
what it printed is kept (masked) in its :class:`TaskRun`, and the exception goes on;
:meth:`LocalClusterExecutor.shutdown` makes sure nothing is left. The executor does not harden the
process it runs in: ``tasksecrets run`` calls :func:`~tasksecrets.local.procguard.harden_runner`
before its first task, and a program that runs tasks with this executor should do the same.

A failed task raises :class:`~tasksecrets.errors.TaskExecutionError` carrying its traceback with every
value the runner delivered masked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tasksecrets.contract import (
    ENV_PREFIX,
    ENV_PREFIX_VAR,
    EXPORT_ENV_VAR,
    FLYTEKIT_ENV,
    GLOBAL_ENV_PREFIX,
    POD_ENV,
    SETTINGS_PREFIX,
)
from tasksecrets.errors import TaskExecutionError
from tasksecrets.local.kubelet import materialize_pod, remove_tree
from tasksecrets.local.procguard import blocked_stop_signals, spawn_task, stop_process_group
from tasksecrets.local.workdirs import make_task_dir, sweep_orphans
from tasksecrets.sdk.masking import mask_values
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.values import read_values, write_values

if TYPE_CHECKING:
    from tasksecrets.admission.config import Config
    from tasksecrets.admission.mutator import MutationResult, Mutator
    from tasksecrets.local.store import SecretStore
    from tasksecrets.sdk.task import Task

__all__ = [
    "SCRUBBED_NAMES",
    "SCRUBBED_PREFIXES",
    "LocalClusterExecutor",
    "RunReporter",
    "TaskRun",
    "scrub_environ",
]

# Variables no task process inherits from the runner: the secrets env conventions (the reader's
# prefix, Global's prefix, the path settings the pod sets itself), and the keys that open every
# secret at once (the store's master key, a Vault token the kubelet's materializers may use).
SCRUBBED_PREFIXES = (ENV_PREFIX, GLOBAL_ENV_PREFIX, SETTINGS_PREFIX)
SCRUBBED_NAMES = (
    "TASKSECRETS_MASTER_KEY",
    "VAULT_TOKEN",
    "BAO_TOKEN",
    # the cloud credentials the kubelet's fetchers use (the key id alone opens nothing)
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    # the export spec of the pod, never a stale one of the parent (see tasksecrets.sdk.exports)
    EXPORT_ENV_VAR,
)


def secret_env_names(secrets: Iterable[Secret]) -> set[str]:
    """Env var names that could carry these secrets outside the prefixed ones: ``GROUP_KEY``, ``env_var``."""
    names: set[str] = set()
    for secret in secrets:
        if secret.group and secret.key:
            for layout in (POD_ENV, FLYTEKIT_ENV):
                names.add(layout.format("", secret.group, secret.key, secret.group_version).upper())
        if secret.env_var:
            names.add(secret.env_var.upper())
    return names


def scrub_environ(
    environ: Mapping[str, str],
    *,
    secrets: Iterable[Secret] = (),
    prefixes: Iterable[str] = (),
) -> dict[str, str]:
    """A copy of ``environ`` without secret-like variables.

    Removed: names starting with :data:`SCRUBBED_PREFIXES` or any of ``prefixes``, the names in
    :data:`SCRUBBED_NAMES`, and every name under which one of ``secrets`` could be read (see
    :func:`secret_env_names`; compared case-insensitively). Everything else (PATH, HOME, PYTHONPATH,
    locale, VIRTUAL_ENV, ...) is kept.
    """
    all_prefixes = tuple(p.upper() for p in (*SCRUBBED_PREFIXES, *prefixes) if p)
    names = secret_env_names(secrets) | set(SCRUBBED_NAMES)
    return {
        name: value
        for name, value in environ.items()
        if not name.upper().startswith(all_prefixes) and name.upper() not in names
    }


@dataclass
class TaskRun:
    """One task call under the local cluster (never holds a secret value).

    ``injections`` pairs ``group/key`` with the manager that injected it; ``prepare_s`` is render +
    mutate + materialize, ``process_s`` the child process from spawn to exit, ``total_s`` all of it
    including cleanup. ``output`` is what the task printed (masked). ``stopped``: the runner was
    told to stop while the task ran, and stopped it.
    """

    task_name: str
    pod_name: str = ""
    namespace: str = ""
    injections: list[tuple[str, str]] = field(default_factory=list)
    ok: bool = False
    prepare_s: float = 0.0
    process_s: float = 0.0
    total_s: float = 0.0
    output: str = ""
    stopped: bool = False


class RunReporter(Protocol):
    """Told about each task call (the CLI draws progress with it)."""

    def task_started(self, task_name: str) -> None: ...

    def task_finished(self, run: TaskRun) -> None: ...


class LocalClusterExecutor:
    """The SDK executor that runs each task as a locally materialized pod (see the module docstring).

    ``config``: the webhook configuration (default: the K8s manager). ``store``: the local store or
    a callable opening it (default: ``SecretStore.open()`` on first need). ``environ``: the runner's
    environment (default ``os.environ``), where Global secrets are found and what children inherit,
    scrubbed. ``secrets``: more secret requests whose env names are scrubbed (the runner passes all
    requests of the workflow's module); each task's own requests are always scrubbed.
    ``admission``: what admits each rendered pod and returns the pod to run (default: the webhook's
    own Mutator, in process); the tests pass one that creates the pod through a real API server.
    """

    def __init__(
        self,
        *,
        config: Config | None = None,
        project: str = "flytesnacks",
        domain: str = "development",
        store: SecretStore | Callable[[], SecretStore] | None = None,
        environ: Mapping[str, str] | None = None,
        reporter: RunReporter | None = None,
        secrets: Iterable[Secret] = (),
        python: str | None = None,
        admission: Callable[[dict[str, Any]], MutationResult] | None = None,
    ) -> None:
        from tasksecrets.admission.config import load_config
        from tasksecrets.pods import pod_namespace

        pod_namespace(project, domain)  # a bad project or domain fails before any task runs
        self.config = config if config is not None else load_config(None)
        self.project = project
        self.domain = domain
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.reporter = reporter
        self.python = python or sys.executable
        self.runs: list[TaskRun] = []
        self._secrets: list[Secret] = list(secrets)
        self._values: list[str] = []
        self._store_source = store
        self._store: SecretStore | None = None
        self._mutator: Mutator | None = None
        self._admission = admission
        self._swept = False
        self._task_dirs: set[Path] = set()
        self._process: subprocess.Popen[bytes] | None = None

    # -- the Executor protocol ----------------------------------------------------------------

    def run_task(self, task: Task, inputs: dict[str, Any]) -> Any:
        """Run ``task`` as a pod and return its outputs; TaskExecutionError when it fails."""
        run = TaskRun(task_name=task.name)
        self.runs.append(run)
        if self.reporter is not None:
            self.reporter.task_started(task.name)
        started = time.perf_counter()
        if not self._swept:
            self._swept = True
            sweep_orphans()
        work = make_task_dir()
        self._task_dirs.add(work)
        try:
            return self._run_in(work, task, inputs, run, started)
        finally:
            remove_tree(work)
            self._task_dirs.discard(work)
            run.total_s = time.perf_counter() - started
            if self.reporter is not None:
                self.reporter.task_finished(run)

    # -- masking --------------------------------------------------------------------------------

    @property
    def secret_values(self) -> list[str]:
        """Every value delivered to a task so far (to mask in anything shown)."""
        return list(self._values)

    def mask(self, text: str) -> str:
        """``text`` with every delivered secret value replaced by ``********``."""
        return mask_values(self._values, text)

    def shutdown(self) -> None:
        """Stop the task process still running, if any, and remove every task directory left.

        For a runner told to stop: the stop may have come at any point of a task call, its cleanup
        included, so this does again what that call would have done. Calling it twice is harmless.
        """
        if self._process is not None and self._process.returncode is None:
            stop_process_group(self._process)
        self._process = None
        for work in list(self._task_dirs):
            remove_tree(work)
            self._task_dirs.discard(work)

    def close(self) -> None:
        """Close the store if this executor opened it."""
        if self._store is not None and self._store_source is None:
            self._store.close()
        self._store = None

    def __enter__(self) -> LocalClusterExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalClusterExecutor(project={self.project!r}, domain={self.domain!r})"

    # -- internals ------------------------------------------------------------------------------

    def _open_store(self) -> SecretStore:
        if self._store is None:
            source = self._store_source
            if source is None:
                from tasksecrets.local.store import SecretStore

                self._store = SecretStore.open()
            else:
                self._store = source() if callable(source) else source
        return self._store

    def _get_mutator(self) -> Mutator:
        if self._mutator is None:
            from tasksecrets.admission.mutator import Mutator
            from tasksecrets.managers.global_.source import GlobalSecretSource

            source = GlobalSecretSource.from_settings(self.config.secrets, environ=self.environ)
            self._mutator = Mutator(self.config, global_secrets=source)
        return self._mutator

    def _run_in(self, work: Path, task: Task, inputs: dict[str, Any], run: TaskRun, started: float) -> Any:
        from tasksecrets.pods import render_task_pod

        inputs_path, outputs_path = work / "inputs.json", work / "outputs.json"
        write_values(str(inputs_path), inputs)
        pod = render_task_pod(
            task,
            project=self.project,
            domain=self.domain,
            inputs=str(inputs_path),
            outputs=str(outputs_path),
            python=self.python,
        )
        run.pod_name, run.namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        result = self._admission(pod) if self._admission is not None else self._get_mutator().mutate(pod)
        if not result.allowed:
            raise TaskExecutionError(
                f"task {task.name!r} cannot run: the webhook denied its pod {run.pod_name} "
                f"in namespace {run.namespace}: {result.reason}"
            )
        run.injections = [(f"{s.group}/{s.key}", manager) for s, manager in result.injections]
        try:
            materialized = materialize_pod(
                result.pod, root=work / "pod", store=self._open_store, environ=self.environ
            )
        except TaskExecutionError as exc:
            raise TaskExecutionError(f"task {task.name!r} failed before its code ran: {exc}") from None
        with materialized:
            self._remember(materialized.secret_values)
            prefixes = [self.config.secrets.env_prefix, self.environ.get(ENV_PREFIX_VAR, "")]
            env = scrub_environ(
                self.environ, secrets=[*self._secrets, *task.secret_requests], prefixes=prefixes
            )
            env.update(materialized.env)
            spawned = time.perf_counter()
            run.prepare_s = spawned - started
            returncode, stdout, stderr = self._run_process(materialized.command, env, run)
            run.process_s = time.perf_counter() - spawned
        run.output = stdout + stderr
        if returncode != 0:
            how = (
                f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
            )
            # The entrypoint's own "error: task ... failed:" line would repeat the one above it.
            detail = stderr.rstrip().removeprefix(f"error: task {task.name!r} failed:\n")
            raise TaskExecutionError(
                f"task {task.name!r} failed: its process (pod {run.pod_name}) {how}\n{detail}"
            )
        try:
            outputs = read_values(str(outputs_path))
        except (OSError, ValueError) as exc:
            raise TaskExecutionError(
                f"task {task.name!r} ended without readable outputs ({type(exc).__name__}); "
                "was it run by another version of tasksecrets?"
            ) from None
        run.ok = True
        return outputs

    def _run_process(self, command: list[str], env: dict[str, str], run: TaskRun) -> tuple[int, str, str]:
        # The exit status and what the task printed, masked; on a stop, its whole group stopped.
        try:
            with blocked_stop_signals():  # a stop that comes meanwhile is raised once we hold the process
                self._process = spawn_task(command, env=env)
            out, err = self._process.communicate()
            returncode = self._process.returncode
        except BaseException:
            if self._process is None:
                raise
            out, err = stop_process_group(self._process)
            run.stopped = True
            run.output = self._decode(out) + self._decode(err)
            raise
        finally:
            self._process = None
        return returncode, self._decode(out), self._decode(err)

    def _decode(self, data: bytes) -> str:
        return self.mask(data.decode("utf-8", errors="replace"))

    def _remember(self, values: Iterable[str]) -> None:
        for value in values:
            if value not in self._values:
                self._values.append(value)
