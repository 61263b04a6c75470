"""The ``webhook.url`` setting: a URL the API server calls instead of the webhook's Service.

Kubernetes accepts a webhook ``clientConfig.url`` only as ``https://host[:port][/path]``, with no user
information, query or fragment; a URL it would refuse at registration is refused here, when the config
loads, with the rule it breaks. A URL without a path gets the webhook's path (``/mutate--v1-pod``).
"""

from __future__ import annotations

import urllib.parse

from tasksecrets.contract import MUTATE_PATH

__all__ = ["url_host", "webhook_url"]


def webhook_url(text: str) -> str:
    """The URL to register, or ValueError saying which rule of Kubernetes it breaks."""
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # an invalid port raises ValueError only when read
    except ValueError as exc:
        raise ValueError(f"url {text!r} is not a URL ({exc})") from None
    if parts.scheme != "https":
        raise ValueError(
            f"url must start with https:// (the API server calls webhooks over TLS), not {text!r}"
        )
    if not parts.hostname:
        raise ValueError(f"url {text!r} names no host; write https://HOST:PORT")
    if "@" in parts.netloc:
        raise ValueError("url must not carry a user or password (Kubernetes refuses them)")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(f"url {text!r} must have no query or fragment (Kubernetes refuses them)")
    path = parts.path if parts.path not in ("", "/") else MUTATE_PATH
    del port
    return urllib.parse.urlunsplit(("https", parts.netloc, path, "", ""))


def url_host(url: str) -> str:
    """The host of a URL :func:`webhook_url` accepted (no brackets around an IPv6 address)."""
    host = urllib.parse.urlsplit(url).hostname
    assert host is not None  # webhook_url refused URLs without one
    return host
