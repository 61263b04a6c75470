"""``tasksecrets pod render FILE.py TASK_NAME``: print the Pod manifest a task runs in."""

from __future__ import annotations

import json
import sys

import click
import yaml

from tasksecrets.errors import TaskSecretsError
from tasksecrets.pods import DEFAULT_IMAGE, render_task_pod
from tasksecrets.sdk.loader import load_task, trim_internal_frames
from tasksecrets.sdk.masking import format_exception_masked

__all__ = ["pod_group"]


@click.group("pod")
def pod_group() -> None:
    """Pod manifests of tasks."""


@pod_group.command("render")
@click.argument("file", metavar="FILE.py", type=click.Path(dir_okay=False))
@click.argument("task_name", metavar="TASK_NAME")
@click.option("--project", "-p", default="flytesnacks", show_default=True, help="Project (namespace prefix).")
@click.option("--domain", "-d", default="development", show_default=True, help="Domain (namespace suffix).")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="The container image.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render_cmd(file: str, task_name: str, project: str, domain: str, image: str, output: str) -> None:
    """Print the Pod manifest of TASK_NAME from FILE.py, with its secret requests as annotations."""
    try:
        task = load_task(file, task_name)
        pod = render_task_pod(task, project=project, domain=domain, image=image)
    except TaskSecretsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        # The file's own code failed to import: show where, from the user's first frame on.
        click.echo(
            f"Error: importing {file} failed:\n{format_exception_masked(trim_internal_frames(exc)).rstrip()}",
            err=True,
        )
        sys.exit(1)
    if output == "json":
        click.echo(json.dumps(pod, indent=2))
    else:
        click.echo(yaml.safe_dump(pod, sort_keys=False), nl=False)
