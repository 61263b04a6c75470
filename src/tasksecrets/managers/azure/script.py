"""The Azure pull container's shell script and Key Vault secret ids, written and read back by one template.

The script logs in with the pod's workload identity, creates the file's directory and writes the
secret with ``az keyvault secret show --id "<id>" --query "value" -o tsv > <path>``; the id is
``https://<vault>/secrets/<name>[/<version>]``. The id is escaped for its double quotes and the
directory and path are quoted as shell words (:mod:`tasksecrets.managers.shellwords`), a second
guard after the injector's name checks; ordinary names are written as Flyte writes them. The
injector renders both
(:func:`render_pull_script`); the local kubelet reads them back from a pod
(:func:`parse_pull_script`), accepting only a script this module writes.
"""

from __future__ import annotations

import posixpath
from typing import NamedTuple

from tasksecrets.managers.shellwords import DOUBLE_QUOTED, SHELL_WORD
from tasksecrets.managers.templates import Slot, TextTemplate

__all__ = ["PullScript", "SecretId", "parse_pull_script", "render_pull_script"]

_LOGIN = (
    "az login --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID "
    '--federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)"'
)
_ID, _DIR, _PATH = Slot("id", DOUBLE_QUOTED), Slot("directory", SHELL_WORD), Slot("path", SHELL_WORD)
_SCRIPT = TextTemplate(
    _LOGIN, "; mkdir -p ", _DIR, '; az keyvault secret show --id "', _ID, '" --query "value" -o tsv > ', _PATH
)
_VAULT, _NAME, _VERSION = Slot("vault"), Slot("name"), Slot("version")
_LATEST_ID = TextTemplate(_VAULT, "/secrets/", _NAME)
_VERSION_ID = TextTemplate(_VAULT, "/secrets/", _NAME, "/", _VERSION)


class SecretId(NamedTuple):
    """A Key Vault secret: the vault's URL, the secret's name, its version ("" for the latest)."""

    vault: str
    name: str
    version: str = ""

    def render(self) -> str:
        """The id ``az keyvault secret show --id`` takes."""
        if self.version:
            return _VERSION_ID.render(vault=self.vault, name=self.name, version=self.version)
        return _LATEST_ID.render(vault=self.vault, name=self.name)

    @classmethod
    def parse(cls, text: str) -> SecretId | None:
        """The parts of an id :meth:`render` wrote (names hold no ``/``); None for any other text."""
        for template in (_VERSION_ID, _LATEST_ID):
            values = template.parse(text)
            if values is not None and "/" not in values["name"] and "/" not in values.get("version", ""):
                found = cls(values["vault"], values["name"], values.get("version", ""))
                if found.render() == text:
                    return found
        return None


class PullScript(NamedTuple):
    """What a pull script fetches and where it writes it."""

    secret: SecretId
    path: str


def render_pull_script(secret: SecretId, path: str) -> str:
    """The script writing ``secret`` to ``path``; each value reaches ``az`` or ``mkdir`` as one word."""
    return _SCRIPT.render(id=secret.render(), directory=posixpath.dirname(path), path=path)


def parse_pull_script(script: str) -> PullScript | None:
    """The secret and file of a script :func:`render_pull_script` wrote; None for any other text."""
    values = _SCRIPT.parse(script)
    secret = None if values is None else SecretId.parse(values["id"])
    if values is None or secret is None or render_pull_script(secret, values["path"]) != script:
        return None
    return PullScript(secret, values["path"])
