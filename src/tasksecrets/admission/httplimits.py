"""The ``webhook.http`` config section: the limits the HTTPS server holds each connection to.

The webhook runs with ``failurePolicy: Fail``, so a server that stalls stops every labelled pod
of the cluster: every cost a client can make the server bear is bounded here, per worker process.
The server applies them (:mod:`tasksecrets.webhook.guard`); docs/webhook-config.md says what a
client sees when it passes one.
"""

from __future__ import annotations

from pydantic import Field

from tasksecrets.managers.settings import Section

__all__ = ["HttpLimits"]

MiB = 1024 * 1024


class HttpLimits(Section):
    """Per worker: header size and time, body and answer time, connections, body bytes, keep-alive."""

    # The API server sends a few hundred bytes of headers; Go's net/http allows 1 MiB, nginx 32 KiB.
    max_header_bytes: int = Field(default=64 * 1024, alias="maxHeaderBytes", ge=1024)
    # The API server gives up on a webhook after timeoutSeconds (default 10): a request that has not
    # arrived by then is answered for nobody.
    header_timeout_seconds: float = Field(default=10.0, alias="headerTimeoutSeconds", gt=0, le=300)
    body_timeout_seconds: float = Field(default=10.0, alias="bodyTimeoutSeconds", gt=0, le=300)
    # From the request's end to its answer written: a review the API server stopped waiting for, or a
    # client that does not read its answer, gives its connection and body bytes back.
    answer_timeout_seconds: float = Field(default=30.0, alias="answerTimeoutSeconds", gt=0, le=300)
    keep_alive_seconds: int = Field(default=30, alias="keepAliveSeconds", ge=1, le=3600)
    # About 50 KiB each (TLS), plus up to FREE_BODY_BYTES of body each: 57 MiB at most.
    max_connections: int = Field(default=500, alias="maxConnections", ge=2)
    # Reserved by the bodies over 64 KiB being read; a body of the largest size accepted (7 MiB) fits.
    body_buffer_bytes: int = Field(default=8 * MiB, alias="bodyBufferBytes", ge=MiB)
