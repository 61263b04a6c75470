"""A Kubernetes API mock for registration and certificate tests: kmock's emulator, made a bit more faithful.

No kube-apiserver runs here, so the tests talk HTTP to ``kmock`` (PyPI), whose ``KubernetesEmulator``
keeps objects in memory and answers GET/POST/PATCH/DELETE like the API. Two things our client relies
on are missing from kmock 0.8 and added here the way the real API server behaves:

- ``PUT`` (replace) of a named object: 404 when it does not exist; when the body carries a
  ``metadata.resourceVersion`` that is not the stored one, 409 Conflict (optimistic concurrency);
  otherwise the object is replaced whole, keeping ``uid`` and ``creationTimestamp``;
- ``POST`` (create) assigns ``resourceVersion``, ``uid`` and ``creationTimestamp``, and every write
  bumps ``resourceVersion``.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

import aiohttp.web
import kmock
from kmock._internal import k8s, rendering

__all__ = ["KubeApiMock", "RacingKubeApiMock", "stored", "write_kubeconfig"]

_versions = itertools.count(1000)


class KubeApiMock(kmock.KubernetesEmulator):
    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.method == kmock.method.PUT and request.resource is not None and request.name:
            return self._replace(request)
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            # The emulator stores a shallow copy of the body: give it server-set metadata, then put
            # the client's own metadata back so that the recorded request stays as it was sent.
            sent_meta = request.data.get("metadata") or {}
            request.data["metadata"] = {
                **sent_meta,
                "resourceVersion": str(next(_versions)),
                "uid": str(uuid.uuid4()),
                "creationTimestamp": "2026-01-01T00:00:00Z",
            }
            try:
                return await super()._handle(request)
            finally:
                request.data["metadata"] = sent_meta
        return await super()._handle(request)

    def _replace(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise k8s.KubernetesObjectNotFoundError()
        current = self.objects[key].raw
        body = copy.deepcopy(request.data)
        sent = (body.get("metadata") or {}).get("resourceVersion")
        stored = (current.get("metadata") or {}).get("resourceVersion")
        if sent is not None and sent != stored:
            raise k8s.KubernetesError(
                status=409,
                reason="Conflict",
                message="the object has been modified; please apply your changes to the latest version",
            )
        meta = body.setdefault("metadata", {})
        for keep in ("uid", "creationTimestamp"):
            if keep in (current.get("metadata") or {}):
                meta[keep] = current["metadata"][keep]
        meta["resourceVersion"] = str(next(_versions))
        self.objects[key].history.append(body)
        return aiohttp.web.json_response(body)


class RacingKubeApiMock(KubeApiMock):
    """Another writer changes the object just before our first PUT lands: that PUT gets a 409."""

    def _replace(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        key = (request.resource, request.namespace, request.name)
        if len(self["put"]) == 1 and key in self.objects:
            changed = copy.deepcopy(self.objects[key].raw)
            changed["metadata"]["resourceVersion"] = str(next(_versions))
            self.objects[key].history.append(changed)
        return super()._replace(request)


def write_kubeconfig(path: Any, server: str) -> None:
    """A kubeconfig whose current context points at ``server`` with a fake token."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: mock\n"
        f"clusters:\n- name: mock\n  cluster:\n    server: {server}\n"
        "users:\n- name: mock\n  user:\n    token: not-a-real-token\n"
        "contexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n",
        encoding="utf-8",
    )


def stored(mock: kmock.KubernetesEmulator, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
    """The current stored object as a plain dict."""
    return dict(mock.objects[resource, namespace, name].raw)
