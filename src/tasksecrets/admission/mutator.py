"""Pure pod mutation: a pod in, an RFC 6902 patch (or a denial) out (docs/compat.md sections 2 and 4).

No I/O, no clocks, no randomness of its own: the same pod and config give the same patch. The
managers see the pod's view (:class:`~tasksecrets.managers.podview.PodView`), never the pod, and
the mutated pod is the patch applied to the pod, so an answer depends on the view alone.

A pod with more secret requests than ``webhook.maxSecretsPerPod`` is denied before any annotation is
decoded, whatever ``onInjectionError`` says: the limit bounds what one review costs. Annotations are
decoded in index order (``s0``, ``s1``, ... ``s10``); for each secret Global is
tried first, then the configured managers in order, and the first that injects wins. A secret
that no manager injects denies the pod with a message naming each such secret and the reasons,
unless the config says ``onInjectionError: admit`` (Flyte v1's behaviour): then the pod is admitted
without it and the reasons go into ``warnings``. A request an access policy refuses
(:class:`~tasksecrets.errors.AccessDeniedError`, Global's ``secrets.accessPolicy``) denies the pod
whatever the config says. What each secret's injection added is checked against the API server's
rules (:mod:`tasksecrets.managers.validity`); a secret whose objects break one denies the pod
whatever the config too, as its edits are made: admitted, the pod would be rejected anyway.
Undecodable annotations and pods that are not usable are always denied with code 400.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tasksecrets.admission.defaults import MutatorConfig, build_injector
from tasksecrets.admission.memo import AnswerMemo
from tasksecrets.admission.patches import apply_patch, build_patch
from tasksecrets.contract import ANNOTATION_PREFIX
from tasksecrets.errors import AccessDeniedError, InjectionError, ManifestError, WireError
from tasksecrets.managers.editor import PodEditor
from tasksecrets.managers.fragments import describe_secret
from tasksecrets.managers.global_.injector import GlobalInjector
from tasksecrets.managers.global_.policy import GlobalAccessPolicy
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.managers.plugin import Injector
from tasksecrets.managers.podview import PodView
from tasksecrets.managers.registry import get_plugin
from tasksecrets.managers.validity import AddedObjectsCheck
from tasksecrets.sdk.secret import Secret
from tasksecrets.wire import count_pod_secrets, decode_pod_secrets

__all__ = ["DENIED_CODE", "INVALID_CODE", "MutationResult", "Mutator", "mutate_pod"]

INVALID_CODE = 400  # the pod or one of its annotations cannot be read
DENIED_CODE = 403  # readable, but a secret cannot be injected


class MutationResult:
    """The outcome of mutating one pod.

    ``pod`` is the mutated pod (the unchanged input's copy when nothing changed or when denied),
    built on first use by applying ``patch`` to the input; it shares unchanged subtrees with the
    input, so treat it as read-only. ``code`` is set when ``allowed`` is false.
    """

    # A plain class with slots, not a dataclass: the server makes one per request, and a frozen
    # dataclass's __init__ (one object.__setattr__ per field) cost more than the lazy pod saves.
    __slots__ = ("_build_pod", "_pod", "allowed", "code", "injections", "patch", "reason", "warnings")

    def __init__(
        self,
        allowed: bool,
        patch: list[dict[str, Any]],
        pod: dict[str, Any] | None = None,
        reason: str | None = None,
        code: int | None = None,
        injections: list[tuple[Secret, str]] | None = None,
        warnings: list[str] | None = None,
        *,
        build_pod: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.allowed = allowed
        self.patch = patch
        self._pod = pod
        self._build_pod = build_pod
        self.reason = reason
        self.code = code
        self.injections: list[tuple[Secret, str]] = [] if injections is None else injections
        self.warnings: list[str] = [] if warnings is None else warnings

    @property
    def pod(self) -> dict[str, Any]:
        """The mutated pod, built on first use when ``build_pod`` was given."""
        if self._pod is None:
            self._pod = self._build_pod() if self._build_pod is not None else {}
            self._build_pod = None
        return self._pod

    def __repr__(self) -> str:
        # Names only: the pod and the patch may hold values Global injected.
        return (
            f"MutationResult(allowed={self.allowed}, code={self.code}, reason={self.reason!r}, "
            f"injections={[(describe_secret(s), m) for s, m in self.injections]})"
        )


def _build_chain(config: MutatorConfig, global_secrets: GlobalSecretSource | None) -> list[Injector]:
    # Global is skipped when it holds nothing: it could only decline.
    chain: list[Injector] = []
    if global_secrets is not None and not global_secrets.holds_nothing:
        chain.append(GlobalInjector(global_secrets, policy=GlobalAccessPolicy.from_settings(config.secrets)))
    for name in config.webhook.manager_names():
        if name.lower() != "global":
            chain.append(build_injector(get_plugin(name), config))
    return chain


class Mutator:
    """A configured injector chain, built once and reused for every pod (what the server holds).

    The chain is Global (left out when ``global_secrets`` holds nothing, as it could only decline),
    then the managers of ``config.webhook.manager_names()``. ``injectors`` replaces the chain whole.
    ``answers`` remembers answers by pod view when every injector of the chain is deterministic.
    """

    def __init__(
        self,
        config: MutatorConfig,
        *,
        global_secrets: GlobalSecretSource | None = None,
        injectors: Sequence[Injector] | None = None,
    ) -> None:
        self.config = config
        self.admit_on_error = config.webhook.on_injection_error == "admit"
        self.max_secrets = config.webhook.max_secrets_per_pod
        chain = _build_chain(config, global_secrets) if injectors is None else injectors
        self.injectors: tuple[Injector, ...] = tuple(chain)
        deterministic = all(getattr(i, "deterministic", False) for i in self.injectors)
        self.answers: AnswerMemo | None = AnswerMemo() if deterministic else None
        self._carry_values = frozenset(i.name for i in self.injectors if getattr(i, "carries_values", True))

    def mutate(self, pod: Mapping[str, Any]) -> MutationResult:
        """Mutate one pod (a dict as decoded from JSON); never changes ``pod``."""
        return self.mutate_view(PodView.of(pod), pod)

    def mutate_view(self, view: PodView, pod: Mapping[str, Any]) -> MutationResult:
        """Mutate ``pod`` through its ``view`` (``PodView.of(pod)``, already at hand)."""
        try:
            editor = PodEditor(view)
        except ManifestError as exc:
            return _deny(pod, f"the pod cannot be mutated: {exc}", code=INVALID_CODE)
        over = self._over_the_limit(editor)
        if over is not None:
            return _deny(pod, over, code=DENIED_CODE)
        try:
            secrets = decode_pod_secrets(editor.original_annotations)
        except WireError as exc:
            if self.admit_on_error:
                # Flyte v1's behaviour, which `onInjectionError: admit` restores: the pod goes on
                # without its secrets, and the reason is returned as an admission warning.
                return MutationResult(
                    allowed=True, patch=[], pod=dict(pod), warnings=[f"admitted without its secrets: {exc}"]
                )
            return _deny(pod, f"the pod cannot be mutated: {exc}", code=INVALID_CODE)
        if not secrets:
            return MutationResult(allowed=True, patch=[], pod=dict(pod))
        try:
            injections, failures = self._inject_all(secrets, editor)
            if AddedObjectsCheck(editor).problems(editor):
                raise self._invalid(secrets, editor.view)
        except _Denied as denied:
            return _deny(pod, denied.reason, code=denied.code)
        return self._result(pod, editor, injections, failures)

    def _over_the_limit(self, editor: PodEditor) -> str | None:
        # Counted, not decoded: a pod of many (or huge) annotations costs one pass over their keys.
        count = count_pod_secrets(editor.original_annotations)
        if count <= self.max_secrets:
            return None
        return (
            f"the pod has {count} secret requests ({ANNOTATION_PREFIX}* annotations), over the limit of "
            f"{self.max_secrets} per pod: request fewer secrets, or raise webhook.maxSecretsPerPod in the "
            "webhook's config"
        )

    def may_remember(self, result: MutationResult) -> bool:
        """Whether ``result`` may be remembered for its pod's view: admitted, no warnings, no values."""
        return (
            result.allowed
            and not result.warnings
            and not any(manager in self._carry_values for _, manager in result.injections)
        )

    def _inject_all(
        self, secrets: list[Secret], editor: PodEditor
    ) -> tuple[list[tuple[Secret, str]], list[str]]:
        injections: list[tuple[Secret, str]] = []
        failures: list[str] = []
        for secret in secrets:
            manager, reasons = self._inject_one(secret, editor)
            if manager is not None:
                injections.append((secret, manager))
            else:
                failures.append(f"{describe_secret(secret)}: {'; '.join(reasons)}")
        return injections, failures

    def _invalid(self, secrets: list[Secret], view: PodView) -> _Denied:
        """The denial naming the first secret whose injection breaks an API server rule, and the rules.

        Adding objects never mends one that breaks a rule, so as the secrets are injected one after
        the other the pod turns invalid once: a binary search over how many are injected finds the
        secret in a logarithmic number of replays, each linear (only a pod to deny pays for it).
        """
        valid, invalid = 0, len(secrets)  # the first `valid` secrets make a valid pod; `invalid` do not
        while invalid - valid > 1:
            middle = (valid + invalid) // 2
            if self._replay(secrets[:middle], view)[0]:
                invalid = middle
            else:
                valid = middle
        problems, manager = self._replay(secrets[:invalid], view)
        return _Denied(
            f"{describe_secret(secrets[invalid - 1])}: {manager or 'the chain'} would add to the pod what "
            f"the Kubernetes API server rejects: {'; '.join(problems)}",
            DENIED_CODE,
        )

    def _replay(self, secrets: list[Secret], view: PodView) -> tuple[list[str], str | None]:
        """What the pod breaks with only ``secrets`` injected, and the manager of the last one."""
        editor, manager = PodEditor(view), None
        for secret in secrets:
            manager, _ = self._inject_one(secret, editor)
        return AddedObjectsCheck(editor).problems(editor), manager

    def _inject_one(self, secret: Secret, editor: PodEditor) -> tuple[str | None, list[str]]:
        """The manager that injected ``secret`` (None: none did), and each decline's reason."""
        reasons: list[str] = []
        for injector in self.injectors:
            before, known = editor.edit_count, len(reasons)
            try:
                if injector.inject(secret, editor):
                    return injector.name, reasons
            except AccessDeniedError as exc:  # never passed on: the next manager would serve it
                raise _Denied(f"{describe_secret(secret)}: {injector.name}: {exc}", DENIED_CODE) from None
            except InjectionError as exc:
                reasons.append(f"{injector.name}: {exc}")
            except ManifestError as exc:
                raise _Denied(f"the pod cannot be mutated: {exc}", INVALID_CODE) from None
            except Exception as exc:  # a third-party injector's bug must not crash the webhook
                reasons.append(f"{injector.name}: internal error ({type(exc).__name__})")
            if editor.edit_count != before:
                raise _Denied(
                    f"{describe_secret(secret)}: {injector.name} failed after changing the pod; "
                    f"{'; '.join(reasons) or 'declined'}",
                    DENIED_CODE,
                )
            if len(reasons) == known:
                reasons.append(f"{injector.name}: declined")
        return None, reasons

    def _result(
        self,
        pod: Mapping[str, Any],
        editor: PodEditor,
        injections: list[tuple[Secret, str]],
        failures: list[str],
    ) -> MutationResult:
        if failures and not self.admit_on_error:
            count = len(failures)
            return _deny(
                pod,
                f"tasksecrets could not inject {count} secret{'s' if count > 1 else ''}: "
                + " | ".join(failures),
                code=DENIED_CODE,
            )
        patch = build_patch(editor)
        return MutationResult(
            allowed=True,
            patch=patch,
            injections=injections,
            build_pod=lambda: apply_patch(pod, patch),
            warnings=[f"admitted without {f}" for f in failures],
        )


class _Denied(Exception):
    """Raised inside the chain to deny the whole pod."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def mutate_pod(
    pod: Mapping[str, Any], config: MutatorConfig, *, global_secrets: GlobalSecretSource | None = None
) -> MutationResult:
    """Mutate ``pod`` as the webhook configured by ``config`` would.

    ``global_secrets`` holds the values Global may inject; None means none (pure). The server and
    ``tasksecrets webhook mutate`` pass ``GlobalSecretSource.from_settings(config.secrets)``. Build
    a :class:`Mutator` once instead when mutating many pods.
    """
    return Mutator(config, global_secrets=global_secrets).mutate(pod)


def _deny(pod: Mapping[str, Any], reason: str, *, code: int) -> MutationResult:
    return MutationResult(allowed=False, patch=[], pod=dict(pod), reason=reason, code=code)
