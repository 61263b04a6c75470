"""The GCP pull container's shell script, written and read back by one template.

``gcloud secrets versions access <group>/versions/<gv> --out-file=<P>``, falling back to
``gcloud secrets versions access <gv> --secret=<group> --out-file=<P>``, then ``chmod +rX <D> <P>``,
with D = lower(``/etc/flyte/secrets/<group>``) and P = lower(``D/<gv>``) (docs/compat.md section 4).
Every value is quoted as a shell word (:data:`~tasksecrets.managers.shellwords.SHELL_WORD`): the
injector's name checks are the first guard, the quoting the second, and ordinary names are
written unquoted, as Flyte writes them. The injector renders it (:func:`render_pull_script`);
the local kubelet reads the secret and the file back from a pod (:func:`parse_pull_script`),
accepting only a script this module writes.
"""

from __future__ import annotations

from typing import NamedTuple

from tasksecrets.contract import DELIVERY, POD_SECRETS_DIR, join_path
from tasksecrets.managers.shellwords import SHELL_WORD
from tasksecrets.managers.templates import Slot, TextTemplate

__all__ = ["PullScript", "gcp_secret_paths", "parse_pull_script", "render_pull_script"]

_FILE = DELIVERY["GCP"].file_layout

_GROUP, _VERSION = Slot("group", SHELL_WORD), Slot("version", SHELL_WORD)
_PATH, _DIR = Slot("path", SHELL_WORD), Slot("directory", SHELL_WORD)
_SCRIPT = TextTemplate(
    "gcloud secrets versions access ", _GROUP, "/versions/", _VERSION, " --out-file=", _PATH,
    " || gcloud secrets versions access ", _VERSION, " --secret=", _GROUP, " --out-file=", _PATH,
    "; chmod +rX ", _DIR, " ", _PATH,
)  # fmt: skip


class PullScript(NamedTuple):
    """What a pull script fetches and where it writes it."""

    group: str
    version: str
    path: str


def gcp_secret_paths(group: str, version: str) -> tuple[str, str]:
    """``(D, P)``: the secret's directory and file, lower-cased and cleaned as a path join would."""
    return join_path(POD_SECRETS_DIR, group).lower(), _FILE.join(POD_SECRETS_DIR, group, "", version)


def render_pull_script(group: str, version: str) -> str:
    """The script for one secret version; each value reaches gcloud as one argument, unchanged."""
    directory, path = gcp_secret_paths(group, version)
    return _SCRIPT.render(group=group, version=version, path=path, directory=directory)


def parse_pull_script(script: str) -> PullScript | None:
    """The secret and file of a script :func:`render_pull_script` wrote; None for any other text."""
    values = _SCRIPT.parse(script)
    if values is None or render_pull_script(values["group"], values["version"]) != script:
        return None
    return PullScript(values["group"], values["version"], values["path"])
