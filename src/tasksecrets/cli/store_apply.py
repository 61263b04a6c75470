"""``tasksecrets apply -f`` and ``tasksecrets patch secret``: change secrets without retyping them.

``apply`` reads Secret manifests from files, directories (their ``.yaml``, ``.yml`` and ``.json``
files; ``-R`` for subdirectories) and ``-`` (stdin), and **merges** each into the secret of that
name: the keys, labels and annotations it gives are set, the others are kept. There is no
last-applied memory: kubectl keeps one in an annotation that holds every value in clear text, and
the store keeps no value unencrypted (docs/local-store.md, "apply merges"). Everything is checked
before the first write.

``patch`` changes one secret with a JSON merge patch (``--type merge``, and ``strategic``, which for
a Secret's maps is the same) or a JSON patch (``--type json``: add, replace, remove, test), applied to
the Secret as ``get -o json --reveal`` shows it: ``{"stringData":{"k":"v"}}`` adds or changes ``k``,
``{"data":{"k":null}}`` removes it.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import click

from tasksecrets.cli._common import reports_errors
from tasksecrets.cli.store_common import (
    EXIT_CODES,
    NS_HELP,
    Failures,
    ResourceGroup,
    dry_run_option,
    echo_manifest,
    namespace_of,
    opened_store,
    secret_names,
)
from tasksecrets.errors import ManifestError
from tasksecrets.local.kube_names import validate_namespace
from tasksecrets.local.manifests import SecretManifest, build_secret_manifest, parse_secret_manifests
from tasksecrets.local.store import SecretInfo, SecretRecord, SecretStore

__all__ = ["apply_cmd", "patch_group"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["yaml", "json", "name"]), default=None, help="Print the Secret."
)


def _as_manifest(store: SecretStore, namespace: str, name: str, record: SecretRecord) -> dict[str, Any]:
    """The Secret ``record`` would be, with its values (for dry runs and patches)."""
    existing = {i.name: i for i in store.list(namespace)}.get(name)
    created = existing.created if existing is not None else _now()
    info = SecretInfo(
        namespace,
        name,
        record.type,
        tuple(sorted(record.data)),
        {k: len(v) for k, v in record.data.items()},
        created,
        created,
        record.labels,
        record.annotations,
    )
    return build_secret_manifest(info, record.data)


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _current(store: SecretStore, namespace: str, name: str) -> SecretRecord | None:
    if name not in {i.name for i in store.list(namespace)}:
        return None
    info = store.info(namespace, name)
    return SecretRecord(info.type, store.get(namespace, name), dict(info.labels), dict(info.annotations))


def _print_result(
    store: SecretStore, namespace: str, name: str, verb: str, *, output: str | None, dry_run: bool
) -> None:
    suffix = " (dry run)" if dry_run else ""
    if output is None:
        click.echo(f"secret/{name} {verb}{suffix}")
    elif output == "name":
        click.echo(f"secret/{name}")
    else:
        echo_manifest(build_secret_manifest(store.info(namespace, name)), output)


# -- apply ------------------------------------------------------------------------------------


def _merged(manifest: SecretManifest) -> Any:
    def change(current: SecretRecord | None) -> SecretRecord:
        if current is None:
            return SecretRecord(manifest.type, manifest.data, manifest.labels, manifest.annotations)
        if manifest.type_given and manifest.type != current.type:
            raise ManifestError(
                f"secret {manifest.name!r} in namespace {manifest.namespace!r} has type {current.type!r}; a "
                f"Secret's type cannot change (a cluster refuses it too): leave 'type' out to keep it, or "
                f"delete the secret and apply it again with type {manifest.type!r}"
            )
        return SecretRecord(
            current.type,
            {**current.data, **manifest.data},
            {**current.labels, **manifest.labels},
            {**current.annotations, **manifest.annotations},
        )

    return change


@click.command("apply", epilog=EXIT_CODES)
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    required=True,
    help="Manifest file, directory (its .yaml/.yml/.json files), or - for stdin.",
)
@click.option("-R", "--recursive", is_flag=True, help="Read the directories given to -f recursively.")
@click.option("-n", "--namespace", default=None, help=NS_HELP)
@dry_run_option()
@_OUTPUT
@reports_errors
def apply_cmd(
    filenames: tuple[str, ...], recursive: bool, namespace: str | None, dry_run: str, output: str | None
) -> None:
    """Create secrets from Kubernetes Secret manifests, or merge them into existing ones (keys kept)."""
    if namespace:
        validate_namespace(namespace)
    default_ns = namespace_of(None)
    manifests: list[SecretManifest] = []
    for text, source in _read_sources(filenames, recursive=recursive):
        manifests += parse_secret_manifests(
            text, source=source, namespace=namespace, default_namespace=default_ns
        )
    failures = Failures()
    with opened_store() as store:
        for number, manifest in enumerate(manifests):
            if output == "yaml" and number:
                click.echo("---")  # several objects, as kubectl prints them
            for annotation in manifest.dropped:
                click.echo(
                    f"Warning: secret/{manifest.name}: annotation {annotation} not kept: it holds the "
                    "values in clear text, and the store keeps no value unencrypted",
                    err=True,
                )
            with failures.reported():
                change = _merged(manifest)
                if dry_run == "client":
                    current = _current(store, manifest.namespace, manifest.name)
                    record = change(current)
                    verb = "created" if current is None else "configured"
                    if current == record:
                        verb = "unchanged"
                    if output in {"yaml", "json"}:
                        echo_manifest(_as_manifest(store, manifest.namespace, manifest.name, record), output)
                    else:
                        click.echo(f"secret/{manifest.name}" + ("" if output else f" {verb} (dry run)"))
                    continue
                verb = store.modify(manifest.namespace, manifest.name, change)
                _print_result(store, manifest.namespace, manifest.name, verb, output=output, dry_run=False)
    failures.exit()


def _read_sources(filenames: tuple[str, ...], *, recursive: bool) -> list[tuple[str, str]]:
    sources = []
    for filename in filenames:
        if filename == "-":
            sources.append((sys.stdin.read(), "<stdin>"))
            continue
        path = Path(filename)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix in _MANIFEST_SUFFIXES)
            if not found:
                raise click.ClickException(
                    f"-f {filename}: the directory holds no .yaml, .yml or .json file"
                    + ("" if recursive else " (add -R to read its subdirectories)")
                )
            sources += [(_read_text(p, filename=str(p)), str(p)) for p in found]
        else:
            sources.append((_read_text(path, filename=filename), filename))
    return sources


def _read_text(path: Path, *, filename: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read -f {filename}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise click.ClickException(
            f"cannot read -f {filename}: not UTF-8 text; give a YAML or JSON file"
        ) from None


# -- patch ------------------------------------------------------------------------------------


@click.group("patch", cls=ResourceGroup, epilog=EXIT_CODES)
def patch_group() -> None:
    """Change a resource of the local store in place (kubectl-shaped)."""


@click.command("secret", epilog=EXIT_CODES)
@click.argument("name")
@click.option("-n", "--namespace", default=None, help=NS_HELP)
@click.option("-p", "--patch", "patch_text", default=None, help="The patch, JSON (or YAML).")
@click.option(
    "--patch-file", type=click.Path(dir_okay=False), default=None, help="Read the patch from a file."
)
@click.option(
    "--type",
    "patch_type",
    type=click.Choice(["strategic", "merge", "json"]),
    default="strategic",
    show_default=True,
    help="merge/strategic: a JSON merge patch; json: a list of JSON patch operations.",
)
@dry_run_option()
@_OUTPUT
@reports_errors
def patch_secret(
    name: str,
    namespace: str | None,
    patch_text: str | None,
    patch_file: str | None,
    patch_type: str,
    dry_run: str,
    output: str | None,
) -> None:
    """Patch secret NAME: -p '{"stringData":{"KEY":"VALUE"}}' adds KEY and keeps the other keys."""
    (name,) = secret_names((name,))
    ns = namespace_of(namespace)
    patch = _read_patch(patch_text, patch_file)
    with opened_store() as store:
        current = _current(store, ns, name)
        if current is None:
            store.info(ns, name)  # the store's not-found error, with its advice
        assert current is not None
        document = _as_manifest(store, ns, name, current)
        document["metadata"] = {k: v for k, v in document["metadata"].items() if k != "creationTimestamp"}
        patched = _apply_patch(document, patch, patch_type)
        manifest = _patched_manifest(patched, ns=ns, name=name)
        record = SecretRecord(manifest.type, manifest.data, manifest.labels, manifest.annotations)
        if dry_run == "client":
            verb = "patched (no change)" if record == current else "patched"
            if output in {"yaml", "json"}:
                echo_manifest(_as_manifest(store, ns, name, record), output)
            else:
                click.echo(f"secret/{name}" + ("" if output else f" {verb} (dry run)"))
            return
        verb = store.modify(ns, name, lambda _current: record)
        verb = "patched (no change)" if verb == "unchanged" else "patched"
        _print_result(store, ns, name, verb, output=output, dry_run=False)


patch_group.add_command(patch_secret, "secret")
patch_group.add_command(patch_secret, "secrets")


def _read_patch(patch_text: str | None, patch_file: str | None) -> Any:
    if (patch_text is None) == (patch_file is None):
        raise click.UsageError("give the patch with -p '{...}' or --patch-file FILE (one of them)")
    source = "-p"
    if patch_file is not None:
        source = f"--patch-file {patch_file}"
        patch_text = _read_text(Path(patch_file), filename=patch_file)
    assert patch_text is not None
    import yaml

    from tasksecrets.yamltext import describe_yaml_error

    try:
        return yaml.safe_load(patch_text)  # JSON is YAML; kubectl takes both
    except yaml.YAMLError as exc:
        # The text may hold a value: only the position and the problem are shown.
        raise click.UsageError(f"{source}: the patch is not valid JSON {describe_yaml_error(exc)}") from None


def _apply_patch(document: dict[str, Any], patch: Any, patch_type: str) -> Any:
    if patch_type == "json":
        return _json_patch(document, patch)
    if not isinstance(patch, dict):
        raise click.UsageError(
            'a merge patch is a JSON object, e.g. -p \'{"stringData":{"KEY":"VALUE"}}\' '
            "(for a list of operations pass --type json)"
        )
    return _merge_patch(document, patch)


def _merge_patch(target: Any, patch: Any) -> Any:
    # RFC 7386: null removes a member, an object merges, anything else replaces.
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _json_patch(document: dict[str, Any], ops: Any) -> Any:
    # RFC 6902's add, replace, remove and test: the operations a Secret's maps need.
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise click.UsageError(
            'a JSON patch is a list of operations, e.g. -p \'[{"op":"add","path":"/stringData/KEY",'
            '"value":"VALUE"}]\''
        )
    result = copy.deepcopy(document)
    for number, op in enumerate(ops, start=1):
        kind, path = op.get("op"), op.get("path")
        if kind not in {"add", "replace", "remove", "test"} or not isinstance(path, str):
            raise click.UsageError(
                f"JSON patch operation {number}: needs 'op' (add, replace, remove or test) and 'path'"
            )
        *parents, last = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]] or [""]
        node: Any = result
        for token in parents:
            if kind == "add" and isinstance(node, dict) and token not in node:
                node[token] = {}
            if not isinstance(node, dict) or token not in node:
                raise click.UsageError(f"JSON patch operation {number}: path {path} does not exist")
            node = node[token]
        if not isinstance(node, dict) or (kind != "add" and last not in node):
            raise click.UsageError(f"JSON patch operation {number}: path {path} does not exist")
        if kind == "remove":
            del node[last]
        elif kind == "test":
            if node[last] != op.get("value"):
                raise click.UsageError(f"JSON patch operation {number}: test of {path} failed")
        else:
            node[last] = op.get("value")
    return result


def _patched_manifest(patched: Any, *, ns: str, name: str) -> SecretManifest:
    if not isinstance(patched, dict):
        raise click.UsageError("the patch replaced the whole Secret with something else; patch its fields")
    metadata = patched.get("metadata")
    if isinstance(metadata, dict) and (metadata.get("name"), metadata.get("namespace")) != (name, ns):
        raise click.UsageError("a patch cannot change metadata.name or metadata.namespace")
    for field in ("data", "stringData"):
        if isinstance(patched.get(field), dict):
            # A null left by a patch of the other form: no such value.
            patched[field] = {k: v for k, v in patched[field].items() if v is not None}
    (manifest,) = parse_secret_manifests(json.dumps(patched), source="the patched secret", namespace=ns)
    return manifest
