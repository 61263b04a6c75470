"""``tasksecrets webhook mutate POD_FILE``: what the webhook would do to a manifest, offline.

POD_FILE (``-`` for stdin) is a Pod manifest (YAML or JSON: prints the mutated pod) or an
AdmissionReview (prints the AdmissionReview answer, decoded exactly as the server decodes it).
Global secrets are found as the server finds them: the process environment and the config's
``secrets-prefix`` directory. Exit codes: 0 admitted, 1 denied (the reason on stderr), 2 input or
config not usable. Output format follows the input unless ``-o`` says otherwise; YAML is written
without anchors. ``--review`` writes, instead, the AdmissionReview request the API server would send
for the pod (JSON), which ``curl --data @review.json`` can post to a running webhook.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import yaml

from tasksecrets.admission.config import load_config
from tasksecrets.admission.mutator import Mutator
from tasksecrets.admission.reviews import review, review_request
from tasksecrets.errors import TaskSecretsError
from tasksecrets.managers.global_.source import GlobalSecretSource
from tasksecrets.yamltext import describe_yaml_error, dump_yaml

__all__ = ["mutate_cmd"]


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _dump(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(dump_yaml(data), nl=False)


def _parse(raw: bytes) -> tuple[Any, str]:
    try:
        return json.loads(raw.decode("utf-8")), "json"
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    try:
        docs = [d for d in yaml.safe_load_all(raw) if d is not None]
    except (yaml.YAMLError, RecursionError) as exc:
        _fail(
            f"the input is neither JSON nor YAML {describe_yaml_error(exc)}; "
            "give a Pod or AdmissionReview manifest"
        )
    if len(docs) != 1:
        _fail(f"the input must hold one Pod or AdmissionReview, found {len(docs)} documents")
    return docs[0], "yaml"


def _require_pod(data: Any, *, review_allowed: bool) -> None:
    if not isinstance(data, dict) or data.get("kind") != "Pod":
        if isinstance(data, dict):
            got = f"kind {data.get('kind')!r}" if data.get("kind") else "a mapping without 'kind'"
        else:
            got = f"a {type(data).__name__} instead of a mapping (is it a manifest?)"
        expected = "a Pod or an AdmissionReview manifest" if review_allowed else "a Pod manifest (--review)"
        _fail(f"the input must be {expected}, got {got}")


@click.command(
    "mutate",
    epilog="Exit status: 0 admitted (or --review written); 1 denied (the reason on stderr); "
    "2 the input or the config is not usable.",
)
@click.argument("pod_file", metavar="POD_FILE", type=click.File("rb"))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="The webhook config file.")
@click.option(
    "-o", "--output", type=click.Choice(["yaml", "json"]), help="Output format (default: the input's)."
)
@click.option(
    "--review",
    "write_review",
    is_flag=True,
    help="Write the AdmissionReview request for the Pod (JSON, for curl) instead of mutating it.",
)
def mutate_cmd(pod_file: Any, config_path: str | None, output: str | None, write_review: bool) -> None:
    """Print what the webhook would do to POD_FILE (a Pod or an AdmissionReview)."""
    if write_review:
        data, _fmt = _parse(pod_file.read())
        _require_pod(data, review_allowed=False)
        _dump(review_request(data), output or "json")
        return
    try:
        config = load_config(config_path)
        mutator = Mutator(config, global_secrets=GlobalSecretSource.from_settings(config.secrets))
    except TaskSecretsError as exc:
        _fail(str(exc))
    raw = pod_file.read()
    data, fmt = _parse(raw)
    output = output or fmt
    if isinstance(data, dict) and data.get("kind") == "AdmissionReview":
        outcome = review(raw if fmt == "json" else data, mutator)
        if outcome.status != 200:
            _fail(f"not a usable AdmissionReview: {outcome.body.get('error')}")
        _dump(outcome.body, output)
        response = outcome.body["response"]
        for warning in response.get("warnings", []):
            click.echo(f"Warning: {warning}", err=True)
        if not response["allowed"]:
            click.echo(f"Denied: {response['status']['message']}", err=True)
            sys.exit(1)
        return
    _require_pod(data, review_allowed=True)
    result = mutator.mutate(data)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not result.allowed:
        click.echo(f"Denied: {result.reason}", err=True)
        sys.exit(1)
    _dump(result.pod, output)
