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
   every secret-like variable (:func:`scrub_environ`), plus the pod's env: by default a fork of the
   run's warm, secret-free helper that runs the entrypoint the command names, else (``launcher=
   "cold"``, or a command or env a fork cannot honour) a new interpreter
   (:mod:`tasksecrets.local.launcher`); what it prints is read as
   it comes and handed to the reporter line by line, masked (:mod:`tasksecrets.local.streams`);
   read the outputs back. The child runs in its own process group, dies with the runner and dumps
   no core (:mod:`tasksecrets.local.procguard`);
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
value the runner delivered masked (its process reports why it failed in a failure file, apart from
what it prints: :data:`~tasksecrets.sdk.values.FAILURE_FILE_VAR`). :meth:`LocalClusterExecutor.check_secrets`
finds, before any task runs, every store secret and key the given tasks' pods would miss
(:mod:`tasksecrets.local.precheck`).
"""

from __future__ import annotations

import errno
import os
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
from tasksecrets.local.launcher import WarmLauncher, can_fork, exec_refusal, launcher_choice
from tasksecrets.local.procguard import TaskProcess, blocked_stop_signals, spawn_task, stop_process_group
from tasksecrets.local.streams import OutputPump
from tasksecrets.local.workdirs import make_task_dir, sweep_orphans
from tasksecrets.sdk.masking import LineMasker
from tasksecrets.sdk.secret import Secret
from tasksecrets.sdk.values import (
    FAILURE_FILE_VAR,
    first_unencodable,
    read_failure,
    read_values,
    write_values,
)

if TYPE_CHECKING:
    from tasksecrets.admission.defaults import MutatorConfig
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
    mutate + materialize, ``process_s`` the child process from spawn to exit (of which ``launch_s``
    until the runner holds it), ``collect_s`` reading the outputs back, ``cleanup_s`` removing the
    private directory, ``total_s`` all of it. ``launcher``: ``warm`` or ``cold``, how it started.
    ``output`` is what the task printed (masked). ``stopped``: the runner was
    told to stop while the task ran, and stopped it.
    """

    task_name: str
    pod_name: str = ""
    namespace: str = ""
    injections: list[tuple[str, str]] = field(default_factory=list)
    ok: bool = False
    prepare_s: float = 0.0
    process_s: float = 0.0
    launch_s: float = 0.0
    collect_s: float = 0.0
    cleanup_s: float = 0.0
    total_s: float = 0.0
    launcher: str = ""
    output: str = ""
    stopped: bool = False


class RunReporter(Protocol):
    """Told about each task call (the CLI draws progress with it) and each line a task prints.

    ``task_output`` gets ``stream`` (``"stdout"`` or ``"stderr"``) and one line, masked, with its line
    ending (the last line of a task may have none).
    """

    def task_started(self, task_name: str) -> None: ...

    def task_output(self, task_name: str, stream: str, line: str) -> None: ...

    def task_finished(self, run: TaskRun) -> None: ...


class LocalClusterExecutor:
    """The SDK executor that runs each task as a locally materialized pod (see the module docstring).

    ``config``: the webhook configuration (default: the K8s manager). ``store``: the local store or
    a callable opening it (default: ``SecretStore.open()`` on first need). ``environ``: the runner's
    environment (default ``os.environ``), where Global secrets are found and what children inherit,
    scrubbed. ``secrets``: more secret requests whose env names are scrubbed (the runner passes all
    requests of the workflow's module); each task's own requests are always scrubbed. ``namespace``
    replaces the pods' ``<project>-<domain>`` namespace. ``admission``: what admits each rendered
    pod and returns the pod to run (default: the webhook's own Mutator, in process); the tests pass
    one that creates the pod through a real API server. :meth:`check_secrets` always mutates in
    process: it only looks, and must create nothing. ``launcher``: ``warm`` or ``cold`` (default:
    :func:`~tasksecrets.local.launcher.launcher_choice` of ``environ``); :meth:`start` starts the
    warm helper early, else the first task does.
    """

    def __init__(
        self,
        *,
        config: MutatorConfig | None = None,
        project: str = "flytesnacks",
        domain: str = "development",
        namespace: str | None = None,
        store: SecretStore | Callable[[], SecretStore] | None = None,
        environ: Mapping[str, str] | None = None,
        reporter: RunReporter | None = None,
        secrets: Iterable[Secret] = (),
        python: str | None = None,
        admission: Callable[[dict[str, Any]], MutationResult] | None = None,
        launcher: str | None = None,
    ) -> None:
        from tasksecrets.admission.defaults import DEFAULT_CONFIG
        from tasksecrets.pods import pod_namespace

        # A bad project, domain or namespace fails before any task runs.
        self.namespace = pod_namespace(project, domain, namespace=namespace)
        self.config: MutatorConfig = config if config is not None else DEFAULT_CONFIG
        self.project = project
        self.domain = domain
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.reporter = reporter
        self.python = python or sys.executable
        self.runs: list[TaskRun] = []
        self._secrets: list[Secret] = list(secrets)
        self._values: list[str] = []
        self._masker = LineMasker(())
        self._store_source = store
        self._store: SecretStore | None = None
        self._mutator: Mutator | None = None
        self._admission = admission
        self._swept = False
        self._task_dirs: set[Path] = set()
        self._process: TaskProcess | None = None
        self.launcher = launcher if launcher is not None else launcher_choice(self.environ)
        self._warm = (
            WarmLauncher(python=self.python, environ=self.environ) if self.launcher == "warm" else None
        )

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
        try:
            work = make_task_dir()
        except OSError as exc:
            raise TaskExecutionError(
                f"task {task.name!r} cannot start: its private directory cannot be made in the temporary "
                f"directory ({exc.strerror}): set TMPDIR to a writable directory"
            ) from None
        self._task_dirs.add(work)
        try:
            return self._run_in(work, task, inputs, run, started)
        finally:
            cleanup = time.perf_counter()
            remove_tree(work)
            self._task_dirs.discard(work)
            run.total_s = time.perf_counter() - started
            run.cleanup_s = run.total_s - (cleanup - started)
            if self.reporter is not None:
                self.reporter.task_finished(run)

    def start(self) -> None:
        """Start the warm launcher's helper now (it imports while the run prepares); no-op when cold."""
        if self._warm is not None:
            self._warm.start()

    @property
    def helper_pid(self) -> int | None:
        """The warm launcher's helper's pid while it runs, else None."""
        return None if self._warm is None else self._warm.helper_pid

    # -- masking --------------------------------------------------------------------------------

    @property
    def secret_values(self) -> list[str]:
        """Every value delivered to a task so far (to mask in anything shown)."""
        return list(self._values)

    def mask(self, text: str) -> str:
        """``text`` with every delivered secret value replaced by ``********``, line by line.

        A line that is a value (spaces aside) is masked whatever its length (see
        :class:`~tasksecrets.sdk.masking.LineMasker`).
        """
        return self._masker.mask_lines(text)

    def mask_output(self, text: str) -> str:
        """An output as shown: ``********`` when it is a delivered value whole, whatever its length."""
        return self._masker.mask_whole(text)

    def check_secrets(self, tasks: Iterable[Task]) -> None:
        """Raise TaskExecutionError naming every store secret and key these tasks' pods would miss.

        Nothing runs and no value is decrypted: the pods are rendered and mutated, and what they
        would read from the local store is compared with the store's list of keys.
        """
        from tasksecrets.local.precheck import check_store_refs

        pods = [
            (
                task.name,
                self._mutated_pod(task, inputs="inputs.json", outputs="outputs.json", admit=False)[1].pod,
            )
            for task in tasks
        ]
        check_store_refs(pods, self._open_store)

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
        """End the warm launcher's helper; close the store if this executor opened it."""
        if self._warm is not None:
            self._warm.close()
        if self._store is not None and self._store_source is None:
            self._store.close()
        self._store = None

    def __enter__(self) -> LocalClusterExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"LocalClusterExecutor(project={self.project!r}, domain={self.domain!r}, "
            f"namespace={self.namespace!r})"
        )

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

    def _mutated_pod(
        self, task: Task, *, inputs: str, outputs: str, admit: bool = True
    ) -> tuple[dict[str, Any], Any]:
        from tasksecrets.pods import render_task_pod

        pod = render_task_pod(
            task,
            project=self.project,
            domain=self.domain,
            namespace=self.namespace,
            inputs=inputs,
            outputs=outputs,
            python=self.python,
        )
        name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        if admit and self._admission is not None:
            result = self._admission(pod)
        else:
            result = self._get_mutator().mutate(pod)
        if not result.allowed:
            raise TaskExecutionError(
                f"task {task.name!r} cannot run: the webhook denied its pod {name} "
                f"in namespace {namespace}: {result.reason}"
            )
        return pod, result

    def _run_in(self, work: Path, task: Task, inputs: dict[str, Any], run: TaskRun, started: float) -> Any:
        inputs_path, outputs_path = work / "inputs.json", work / "outputs.json"
        _write_inputs(task, str(inputs_path), inputs)
        pod, result = self._mutated_pod(task, inputs=str(inputs_path), outputs=str(outputs_path))
        run.pod_name, run.namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
        run.injections = [(f"{s.group}/{s.key}", manager) for s, manager in result.injections]
        try:
            materialized = materialize_pod(
                result.pod, root=work / "pod", store=self._open_store, environ=self.environ
            )
        except TaskExecutionError as exc:
            raise TaskExecutionError(f"task {task.name!r} failed before its code ran: {exc}") from None
        failure_path = work / "failure.json"
        with materialized:
            self._remember(materialized.secret_values)
            prefixes = [self.config.secrets.env_prefix, self.environ.get(ENV_PREFIX_VAR, "")]
            env = scrub_environ(
                self.environ, secrets=[*self._secrets, *task.secret_requests], prefixes=prefixes
            )
            env.update(materialized.env)
            env[FAILURE_FILE_VAR] = str(failure_path)
            spawned = time.perf_counter()
            run.prepare_s = spawned - started
            returncode, stderr = self._run_process(materialized.command, env, run)
            run.process_s = time.perf_counter() - spawned
        if returncode != 0:
            raise self._failed(task, run, returncode, str(failure_path), stderr)
        collect = time.perf_counter()
        try:
            outputs = read_values(str(outputs_path))
        except (OSError, ValueError) as exc:
            raise TaskExecutionError(
                f"task {task.name!r} ended without readable outputs ({type(exc).__name__}); "
                "was it run by another version of tasksecrets?"
            ) from None
        except Exception as exc:  # unpickling: a class the workflow's process cannot import
            raise TaskExecutionError(
                f"task {task.name!r} returned a value the workflow cannot load ({type(exc).__name__}: "
                f"{self.mask(str(exc))}): return plain data, or a class importable where the workflow runs"
            ) from None
        run.ok = True
        run.collect_s = time.perf_counter() - collect
        return outputs

    def _failed(
        self, task: Task, run: TaskRun, returncode: int, failure_path: str, stderr: str
    ) -> TaskExecutionError:
        failure = read_failure(failure_path)
        if failure is not None:
            return TaskExecutionError(self.mask(failure.message))
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
        message = f"task {task.name!r} failed: its process (pod {run.pod_name}) {how}"
        if getattr(self.reporter, "task_output", None) is not None:
            return TaskExecutionError(message + "; what it printed is above" if stderr.strip() else message)
        return TaskExecutionError(f"{message}\n{stderr.rstrip()}" if stderr.strip() else message)

    def _run_process(self, command: list[str], env: dict[str, str], run: TaskRun) -> tuple[int, str]:
        # The exit status and what the task printed on stderr, masked; every line went to the
        # reporter as it came. On a stop, the task's whole group is stopped.
        show = getattr(self.reporter, "task_output", None)

        def on_line(stream: str, line: str) -> None:
            if show is not None:
                show(run.task_name, stream, line)

        try:
            with blocked_stop_signals():  # a stop that comes meanwhile is raised once we hold the process
                launched = time.perf_counter()
                process = self._process = self._launch(command, env, run)
                run.launch_s = time.perf_counter() - launched
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte, refused before exec
            refused = isinstance(exc, ValueError) or exc.errno == errno.E2BIG
            refusal = exec_refusal(command, env) if refused else None
            if refusal is not None:
                raise TaskExecutionError(
                    f"task {run.task_name!r} cannot start (nor could its container in a pod): {refusal}; "
                    "mount such a secret as a file (the default mount_requirement), not as an env var"
                ) from None
            if isinstance(exc, ValueError):
                raise
            raise TaskExecutionError(
                f"task {run.task_name!r} cannot start: its command {command[0]!r} cannot be run "
                f"({exc.strerror})"
            ) from None
        assert process.stdout is not None and process.stderr is not None
        pump = OutputPump(process.stdout, process.stderr, masker=self._masker, on_line=on_line)
        try:
            pump.pump(exited=lambda: process.poll() is not None)
            returncode = process.wait()
        except BaseException:
            out, err = stop_process_group(process)
            pump.feed("stdout", out)
            pump.feed("stderr", err)
            pump.finish()
            run.stopped = True
            run.output = pump.text
            raise
        finally:
            self._process = None
            for pipe in (process.stdout, process.stderr):
                pipe.close()
        run.output = pump.text
        return returncode, pump.stream_text("stderr")

    def _launch(self, command: list[str], env: dict[str, str], run: TaskRun) -> TaskProcess:
        warm = self._warm
        if warm is not None and can_fork(command, env, python=self.python, helper_env=warm.environ):
            run.launcher = "warm"
            return warm.launch(command, env, cwd=os.getcwd())
        run.launcher = "cold"
        return spawn_task(command, env=env)

    def _remember(self, values: Iterable[str]) -> None:
        fresh = [value for value in values if value not in self._values]
        if fresh:
            self._values.extend(fresh)
            self._masker = LineMasker(self._values)


def _write_inputs(task: Task, path: str, inputs: dict[str, Any]) -> None:
    try:
        write_values(path, inputs)
    except OSError as exc:
        raise TaskExecutionError(
            f"task {task.name!r} cannot start: its inputs cannot be written to {path} ({exc.strerror})"
        ) from None
    except Exception as exc:  # pickle's refusal of a value: TypeError, PicklingError, AttributeError
        name, value = first_unencodable(inputs.items()) or ("?", None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TaskExecutionError(
            f"task {task.name!r} input {name!r} (a {type(value).__qualname__}) cannot be passed to the "
            f"task's process ({reason}): pass plain data (str, int, list, dict, ...) or a picklable object"
        ) from None
