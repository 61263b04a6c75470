"""``python -m tasksecrets``: the same command line as the ``tasksecrets`` script.

``execute``, a task's entrypoint, goes straight to :func:`tasksecrets.cli.execute.main`, without
click: the same options and usage errors, a faster start.
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["execute"]:
        from tasksecrets.cli.execute import main as execute

        execute(sys.argv[2:])
    else:
        from tasksecrets.cli import main

        main(prog_name="tasksecrets")
