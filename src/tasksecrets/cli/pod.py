"""``tasksecrets pod render FILE.py TASK_NAME``: print the Pod manifest a task runs in (see EPILOG)."""

from __future__ import annotations

import json
import sys

import click

from tasksecrets.pods import DEFAULT_IMAGE, render_task_pod
from tasksecrets.sdk.loader import explain_load_error, load_task
from tasksecrets.yamltext import dump_yaml

__all__ = ["EPILOG", "pod_group"]

EPILOG = """\b
Exit status: 0 printed; 1 the file failed to import (its traceback, from its own frames on);
2 a usage error (no such file or task, a Secret or task declared wrongly, an invalid
-p/-d/-n), in one line.
"""


@click.group("pod")
def pod_group() -> None:
    """Pod manifests of tasks."""


@pod_group.command("render", epilog=EPILOG)
@click.argument("file", metavar="FILE.py", type=click.Path(dir_okay=False))
@click.argument("task_name", metavar="TASK_NAME")
@click.option("--project", "-p", default="flytesnacks", show_default=True, help="Project (namespace prefix).")
@click.option("--domain", "-d", default="development", show_default=True, help="Domain (namespace suffix).")
@click.option("--namespace", "-n", default=None, help="The pod's namespace, instead of PROJECT-DOMAIN.")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="The container image.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def render_cmd(
    file: str, task_name: str, project: str, domain: str, namespace: str | None, image: str, output: str
) -> None:
    """Print the Pod manifest of TASK_NAME from FILE.py, with its secret requests as annotations."""
    try:
        task = load_task(file, task_name)
        pod = render_task_pod(task, project=project, domain=domain, namespace=namespace, image=image)
    except Exception as exc:
        failure = explain_load_error(exc, file)
        click.echo(f"Error: {failure.message}", err=True)
        sys.exit(failure.exit_code)
    if output == "json":
        click.echo(json.dumps(pod, indent=2))
    else:
        click.echo(dump_yaml(pod), nl=False)
