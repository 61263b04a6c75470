"""Pure pod mutation: a pod in, an RFC 6902 patch (or a denial) out (compat.md sections 2 and 4).

No I/O, no clocks, no randomness of its own: the same pod and config give the same patch.
Annotations are decoded in index order (``s0``, ``s1``, ... ``s10``); for each secret Global is
tried first, then the configured managers in order, and the first that injects wins. A secret
that no manager injects denies the pod with a message naming each such secret and the reasons,
unless the config says ``onInjectionError: admit`` (Flyte v1's behaviour): then the pod is admitted
without it and the reasons go into ``warnings``. Undecodable annotations and pods that are not
usable are always denied with code 400.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tasksecrets.errors import InjectionError, ManifestError, WireError
from tasksecrets.injectors.base import Injector, PodEditor, describe_secret
from tasksecrets.injectors.global_ import GlobalInjector, GlobalSecretSource
from tasksecrets.injectors.k8s import K8sInjector
from tasksecrets.injectors.registry import create_injector
from tasksecrets.sdk.secret import Secret
from tasksecrets.webhook.config import Config
from tasksecrets.webhook.patches import build_patch
from tasksecrets.webhook.shapes import AnswerMemo
from tasksecrets.wire import decode_pod_secrets

__all__ = ["DENIED_CODE", "INVALID_CODE", "MutationResult", "Mutator", "mutate_pod"]

INVALID_CODE = 400  # the pod or one of its annotations cannot be read
DENIED_CODE = 403  # readable, but a secret cannot be injected


class MutationResult:
    """The outcome of mutating one pod.

    ``pod`` is the mutated pod (the unchanged input's copy when nothing changed or when denied);
    it shares unchanged subtrees with the input, so treat it as read-only. ``patch`` applied to
    the input gives ``pod``. ``code`` is set when ``allowed`` is false. Pass ``build_pod`` instead
    of ``pod`` to build the pod on first use only: the server answers with the patch alone.
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


class Mutator:
    """A configured injector chain, built once and reused for every pod (what the server holds).

    The chain is Global (left out when ``global_secrets`` holds nothing, as it could only decline),
    then the managers of ``config.webhook.manager_names()``. ``injectors`` replaces the chain whole.
    """

    def __init__(
        self,
        config: Config,
        *,
        global_secrets: GlobalSecretSource | None = None,
        injectors: Sequence[Injector] | None = None,
    ) -> None:
        self.config = config
        self.admit_on_error = config.webhook.on_injection_error == "admit"
        if injectors is None:
            # Global is skipped when it holds nothing: it could only decline.
            chain: list[Injector] = []
            if global_secrets is not None and not global_secrets.holds_nothing:
                chain.append(GlobalInjector(global_secrets))
            for name in config.webhook.manager_names():
                if name.lower() != "global":
                    chain.append(create_injector(name, config, global_secrets=global_secrets))
            injectors = chain
        self.injectors: tuple[Injector, ...] = tuple(injectors)
        # Global declines most secrets: it can say so without raising (see GlobalInjector.try_inject).
        self._chain = tuple(
            (i, i.try_inject if isinstance(i, GlobalInjector) else None) for i in self.injectors
        )
        # Whether every patch value is text, a bool or a small int literal: true of K8s and Global
        # alone (exactly these classes). Their edits are built only from strings (the Secret's
        # fields, names derived from them, Global's values) and the literals True and 0..n in
        # base.py's helpers; build_patch copies nothing of the request but pointer paths (strings)
        # and these new items. So the patch holds no float and no integer past 64 bits, the values
        # orjson writes unlike the standard library, and the answer need not be scanned for them.
        # Any other injector (file managers put config resources, maybe floats, into init
        # containers; third-party ones may put anything) keeps the scan.
        self.patch_is_text_only = all(type(i) in (GlobalInjector, K8sInjector) for i in self.injectors)
        # Answers by pod shape (see tasksecrets.webhook.shapes): only where the patch is a function of
        # what shape_key reads: K8s (exactly that class), after a Global whose holdings cannot change.
        shaped = all(_reads_shape_only(i) for i in self.injectors)
        self.answers_by_shape: AnswerMemo | None = AnswerMemo() if shaped else None

    def mutate(self, pod: Mapping[str, Any]) -> MutationResult:
        """Mutate one pod (a dict as decoded from JSON); never changes ``pod``."""
        try:
            editor = PodEditor(pod)
        except ManifestError as exc:
            return _deny(pod, f"the pod cannot be mutated: {exc}", code=INVALID_CODE)
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

        injections: list[tuple[Secret, str]] = []
        failures: list[str] = []
        for secret in secrets:
            reasons: list[str] = []
            for injector, try_inject in self._chain:
                before, known = editor.edit_count, len(reasons)
                try:
                    if try_inject is not None:
                        reason = try_inject(secret, editor)
                        if reason is not None:
                            reasons.append(f"{injector.name}: {reason}")
                        injected = reason is None
                    else:
                        injected = injector.inject(secret, editor)
                except InjectionError as exc:
                    reasons.append(f"{injector.name}: {exc}")
                    injected = False
                except ManifestError as exc:
                    return _deny(pod, f"the pod cannot be mutated: {exc}", code=INVALID_CODE)
                except Exception as exc:  # a third-party injector's bug must not crash the webhook
                    reasons.append(f"{injector.name}: internal error ({type(exc).__name__})")
                    injected = False
                if injected:
                    injections.append((secret, injector.name))
                    break
                if editor.edit_count != before:
                    return _deny(
                        pod,
                        f"{describe_secret(secret)}: {injector.name} failed after changing the pod; "
                        f"{'; '.join(reasons) or 'declined'}",
                        code=DENIED_CODE,
                    )
                if len(reasons) == known:
                    reasons.append(f"{injector.name}: declined")
            else:
                failures.append(f"{describe_secret(secret)}: {'; '.join(reasons)}")

        if failures and not self.admit_on_error:
            count = len(failures)
            return _deny(
                pod,
                f"tasksecrets could not inject {count} secret{'s' if count > 1 else ''}: "
                + " | ".join(failures),
                code=DENIED_CODE,
            )
        warnings = [f"admitted without {f}" for f in failures]
        return MutationResult(
            allowed=True,
            patch=build_patch(editor),
            injections=injections,
            build_pod=editor.build_pod,
            warnings=warnings,
        )


def _reads_shape_only(injector: Injector) -> bool:
    if type(injector) is K8sInjector:
        return True
    return type(injector) is GlobalInjector and injector.source.fixed


def mutate_pod(
    pod: Mapping[str, Any], config: Config, *, global_secrets: GlobalSecretSource | None = None
) -> MutationResult:
    """Mutate ``pod`` as the webhook configured by ``config`` would.

    ``global_secrets`` holds the values Global may inject; None means none (pure). The server and
    ``tasksecrets webhook mutate`` pass ``GlobalSecretSource.from_config(config)``. Build a
    :class:`Mutator` once instead when mutating many pods.
    """
    return Mutator(config, global_secrets=global_secrets).mutate(pod)


def _deny(pod: Mapping[str, Any], reason: str, *, code: int) -> MutationResult:
    return MutationResult(allowed=False, patch=[], pod=dict(pod), reason=reason, code=code)
