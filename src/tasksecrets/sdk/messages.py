"""Task inputs and outputs of a pod on a cluster: inline in the pod, or under a data prefix.

A task pod hands its outputs back the way Kubernetes offers: the container's termination message
(the file at ``terminationMessagePath``, at most 4096 bytes, kept in the pod's status). The
entrypoint writes one JSON object there:

- ``{"v": 1, "outputs": <values>}`` when that fits;
- ``{"v": 1, "ref": "<url>"}`` when it does not and a data prefix was given: the outputs are at
  ``<url>``, an object under the prefix (an fsspec URL: ``s3://``, ``gs://``, ``file://``, a path);
- ``{"v": 1, "error": "<text>"}`` when the task failed: the end of its masked traceback.

Every secret value the task holds is masked in what is written, in either place: a pod's status is
read by whoever may get pods, a bucket by whoever may read it. An output pickled because JSON cannot
hold it is replaced whole by ``********`` when its bytes hold a secret value. A task that passes a
secret on as an output therefore passes ``********``: tasks get secrets by requesting them.

Inputs travel the other way: inline as JSON in the container's arguments up to
:data:`INLINE_INPUTS_LIMIT`, else as an object under the data prefix.
"""

from __future__ import annotations

import base64
import json
import os
from typing import IO, Any

from tasksecrets.errors import TaskExecutionError
from tasksecrets.sdk.masking import MASK, mask_text
from tasksecrets.sdk.values import TAG, dump_value, load_value

__all__ = [
    "INLINE_INPUTS_LIMIT",
    "MESSAGE_LIMIT",
    "error_message",
    "fit_or_store",
    "open_location",
    "outputs_message",
    "read_message",
    "seal_outputs",
]

# Kubernetes truncates a termination message to 4096 bytes (the kubelet's limit per container).
MESSAGE_LIMIT = 4096
# Inline inputs live in the pod object, which etcd stores whole (1.5 MiB at most by default).
INLINE_INPUTS_LIMIT = 64 * 1024
_VERSION = 1


def open_location(location: str, mode: str) -> IO[Any]:
    """Open a local path or an fsspec URL (``s3://...``): the file a value is read from or written to."""
    if "://" not in location or location.startswith("file://"):
        path = location.removeprefix("file://")
        if "w" in mode:  # a prefix names a directory tree, as an object store's keys do
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return open(path, mode)
    try:
        import fsspec
    except ImportError:
        raise TaskExecutionError(
            f"reading or writing {location} needs fsspec: pip install 'tasksecrets[kubernetes]'"
        ) from None
    try:
        opened: IO[Any] = fsspec.open(location, mode).open()
    except ImportError as exc:  # fsspec names the package its protocol needs (s3fs, gcsfs, ...)
        raise TaskExecutionError(f"cannot open {location}: {exc}") from None
    return opened


def _masked(obj: Any) -> Any:
    # ``obj`` is dump_value's output: JSON-able, with tagged objects for the rest.
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, list):
        return [_masked(item) for item in obj]
    if isinstance(obj, dict):
        binary = {"pickle": "pickle", "bytes": "base64"}.get(obj.get(TAG, ""))
        if binary is not None:  # a value's bytes: masked whole when a secret is among them
            raw = base64.b64decode(obj[binary]).decode("utf-8", "surrogateescape")
            return MASK if mask_text(raw) != raw else obj
        return {key: _masked(value) for key, value in obj.items()}
    return obj


def seal_outputs(outputs: Any) -> Any:
    """The outputs as JSON-able data with every registered secret value masked.

    Call it inside the task's context, while its values are registered.
    """
    return _masked(dump_value(outputs))


def fit_or_store(
    text: str, *, limit: int, prefix: str | None, name: str, subject: str, holder: str
) -> str | None:
    """None when ``text`` fits in ``limit`` bytes; else the URL under ``prefix`` it was written to.

    Without a prefix, TaskExecutionError: ``subject`` ("the outputs of task 't'") is too big for
    ``holder`` (what would carry it inline), and the option that fixes it.
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return None
    if prefix is None:
        raise TaskExecutionError(
            f"{subject} are {len(data)} bytes, more than {holder} ({limit}): run with --data-prefix URL "
            "(s3://bucket/path, gs://..., file://...)"
        )
    url = f"{prefix.rstrip('/')}/{name}"
    with open_location(url, "wb") as out:
        out.write(data)
    return url


def outputs_message(sealed: Any, *, task_name: str, data_prefix: str | None) -> str:
    """The termination message for sealed outputs; writes them under ``data_prefix`` when too big."""
    inline = json.dumps({"v": _VERSION, "outputs": sealed}, separators=(",", ":"), ensure_ascii=False)
    url = fit_or_store(
        inline,
        limit=MESSAGE_LIMIT,
        prefix=data_prefix,
        name="outputs.json",
        subject=f"the outputs of task {task_name!r}",
        holder="a pod's termination message holds",
    )
    return inline if url is None else json.dumps({"v": _VERSION, "ref": url})


def error_message(text: str) -> str:
    """The termination message of a failed task: the end of ``text`` (already masked) that fits."""
    encoded = text.encode("utf-8")
    while True:
        message = json.dumps({"v": _VERSION, "error": text}, ensure_ascii=False)
        if len(message.encode("utf-8")) <= MESSAGE_LIMIT:
            return message
        encoded = encoded[-(len(encoded) * 3 // 4) :]  # keep the end: where the exception is
        text = "...\n" + encoded.decode("utf-8", "ignore")


def read_message(message: str, *, task_name: str) -> tuple[bool, Any]:
    """``(True, outputs)`` or ``(False, error text)`` from a task container's termination message."""
    try:
        data = json.loads(message)
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("not a tasksecrets message")
        if "error" in data:
            return False, str(data["error"])
        if "ref" in data:  # the message that did not fit, stored whole
            with open_location(str(data["ref"]), "rb") as stored:
                data = json.loads(stored.read().decode("utf-8"))
        return True, load_value(data["outputs"])
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise TaskExecutionError(
            f"task {task_name!r} ended without readable outputs in its termination message "
            f"({type(exc).__name__}): is the image's tasksecrets the same version as this one?"
        ) from None
