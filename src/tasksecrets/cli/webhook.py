"""``tasksecrets webhook ...``: serve the pod webhook, make and rotate its certificates, dry-run a pod.

``serve`` runs the HTTPS server (``--workers N`` processes sharing the port); ``init-certs`` creates the
CA and serving certificate in the Secret ``secretName`` (and in ``certDir`` with ``localCert: true``, or
only there with ``--local-only``); ``rotate-certs`` renews the serving certificate with the same CA
when it comes within ``certRenewBeforeDays`` of expiry. ``mutate`` lives in its own module and loads
only when called. Errors print one line and exit 1 (a port already in use too: :func:`_listen_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import functools
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from tasksecrets.cli._common import reports_errors

__all__ = ["webhook_group"]

_CONFIG_HELP = "The config file (Flyte's webhook: section plus ours); default: built-in defaults."
_EXIT_CODES = (
    "Exit status: 0 done (serve: stopped by SIGTERM or SIGINT); 1 the config, certificates, port or "
    "cluster are not usable (one line on stderr says what to do); 2 a usage mistake on the command line."
)
_LOCAL_IPS = ["127.0.0.1", "::1"]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
        stream=sys.stderr,
    )


class _LazyMutateGroup(click.Group):
    """Loads ``mutate`` from its own module on demand; a missing module only hides that command."""

    _lazy = {"mutate": ("tasksecrets.cli.webhook_mutate", "mutate_cmd")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names |= {name for name, (module, _) in self._lazy.items() if importlib.util.find_spec(module)}
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module_name, attribute = self._lazy[cmd_name]
            if importlib.util.find_spec(module_name) is None:
                return None
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyMutateGroup, epilog=_EXIT_CODES)
def webhook_group() -> None:
    """The Flyte-compatible pod webhook: serve it, manage its certificates, dry-run a pod."""


def _load(config_path: str | None) -> Any:
    from tasksecrets.admission.config import load_config

    return load_config(config_path)


@webhook_group.command("serve", epilog=_EXIT_CODES)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=_CONFIG_HELP)
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Worker processes (default: the config's workers)."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: the config's listenPort).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--listen-fd", type=int, hidden=True)  # a worker started by the supervisor
@click.option("--baseline", is_flag=True, hidden=True)  # benchmarks: admit everything without mutating
@reports_errors
def serve_cmd(
    config_path: str | None,
    workers: int | None,
    host: str,
    port: int | None,
    log_level: str,
    listen_fd: int | None,
    baseline: bool,
) -> None:
    """Serve the webhook over HTTPS until SIGTERM (graceful: requests in flight are answered)."""
    from tasksecrets.webhook.http import bind_listener, python_argv, run_workers
    from tasksecrets.webhook.wiring import serve_webhook

    _setup_logging(log_level)
    config = _load(config_path)
    listen_port = config.webhook.listen_port if port is None else port
    with _listen_errors(host, listen_port):
        count = workers or config.webhook.workers
        if count > 1 and listen_fd is None:
            # Fail here, once, rather than in every worker.
            from tasksecrets.webhook.certificates.reload import CertReloader

            CertReloader(Path(config.webhook.cert_dir))
            sock = bind_listener(host, listen_port)

            def child_argv(fd: int) -> list[str]:
                argv = [*python_argv(), "webhook", "serve", "--workers", "1", "--listen-fd", str(fd)]
                argv += ["--host", host, "--log-level", log_level]
                if config_path:
                    argv += ["--config", config_path]
                return argv + (["--baseline"] if baseline else [])

            sys.exit(run_workers(count, child_argv=child_argv, sock=sock))
        sys.exit(serve_webhook(config, host=host, port=port, listen_fd=listen_fd, baseline=baseline))


@contextlib.contextmanager
def _listen_errors(host: str, port: int) -> Iterator[None]:
    """The socket errors of starting a server, as one line saying what to do (never a traceback)."""
    try:
        yield
    except OSError as exc:
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            fix = (
                f"port {port} on {host} is already in use (another webhook or program listens there): "
                "stop it, or pass --port with a free port (or set webhook.listenPort)"
            )
        elif exc.errno == errno.EACCES:
            fix = f"listening on {where} is not permitted: ports below 1024 need privileges; pass --port 9443"
        elif exc.errno == errno.EADDRNOTAVAIL:
            fix = f"{host} is not an address of this machine: pass --host 0.0.0.0 or one of its addresses"
        else:
            target = f" ({exc.filename})" if exc.filename else ""
            fix = f"cannot serve on {where}: {exc.strerror or exc}{target}"
        raise click.ClickException(fix) from None


def _cert_command(*, rotate: bool) -> Callable[..., None]:
    def command(config_path: str | None, local_only: bool, force: bool = False) -> None:
        from tasksecrets.webhook.certificates.authority import CertPolicy, write_cert_files
        from tasksecrets.webhook.certificates.storage import sync_local_certs, sync_secret_certs
        from tasksecrets.webhook.wiring import pod_namespace

        config = _load(config_path).webhook
        namespace = pod_namespace()
        dns_names, ip_addresses = _served_names(config, namespace=namespace)
        now = datetime.datetime.now(datetime.timezone.utc)
        policy = functools.partial(
            CertPolicy,
            validity_days=config.cert_validity_days,
            renew_before_days=config.cert_renew_before_days,
            now=now,
            force=force,
            allow_new_ca=not rotate,
        )
        if local_only:
            where = f"{config.cert_dir}"
            bundle, action, reason = sync_local_certs(
                Path(config.cert_dir),
                policy=policy(dns_names=[*dns_names, "localhost"], ip_addresses=[*ip_addresses, *_LOCAL_IPS]),
            )
        else:
            from tasksecrets.webhook.kube import KubeClient

            async def run() -> Any:
                async with KubeClient.from_environment() as client:
                    return await sync_secret_certs(
                        client,
                        secret_name=config.secret_name,
                        namespace=namespace,
                        policy=policy(dns_names=dns_names, ip_addresses=ip_addresses),
                    )

            bundle, action, reason = asyncio.run(run())
            where = f"Secret {namespace}/{config.secret_name}"
            if config.local_cert:
                write_cert_files(Path(config.cert_dir), bundle, include_ca_key=False)
                where += f" and {config.cert_dir}"
        because = f" ({reason})" if reason else ""
        click.echo(f"{action} certificates in {where}{because}; {_describe_bundle(bundle)}")

    return command


def _served_names(config: Any, *, namespace: str) -> tuple[list[str], list[str]]:
    """The Service's DNS names, plus the host of ``webhook.url`` (a name or an IP) when one is set."""
    import ipaddress

    from tasksecrets.admission.clienturl import url_host
    from tasksecrets.webhook.certificates.authority import dns_names_for

    dns_names = dns_names_for(config.service_name, namespace=namespace)
    if config.url is None:
        return dns_names, []
    host = url_host(config.url)
    try:
        return dns_names, [str(ipaddress.ip_address(host))]
    except ValueError:
        return [*dns_names, host], []


def _describe_bundle(bundle: Any) -> str:
    # What an operator checks after init/rotate: the serving certificate's serial and expiry.
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(bundle.tls_cert)
    expiry = cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"serving certificate serial {cert.serial_number:x}, valid until {expiry}"


@webhook_group.command("init-certs", epilog=_EXIT_CODES)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=_CONFIG_HELP)
@click.option("--local-only", is_flag=True, help="Write the files into certDir only; contact no cluster.")
@reports_errors
def init_certs_cmd(config_path: str | None, local_only: bool) -> None:
    """Create the CA and serving certificate (reuses good ones: safe to run again)."""
    _cert_command(rotate=False)(config_path, local_only)


@webhook_group.command("rotate-certs", epilog=_EXIT_CODES)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=_CONFIG_HELP)
@click.option("--local-only", is_flag=True, help="Rotate the files in certDir only; contact no cluster.")
@click.option("--force", is_flag=True, help="Renew even if the certificate is not near expiry.")
@reports_errors
def rotate_certs_cmd(config_path: str | None, local_only: bool, force: bool) -> None:
    """Renew the serving certificate with the same CA when it is near expiry (or with --force)."""
    _cert_command(rotate=True)(config_path, local_only, force)
