"""``python -m tasksecrets``: the same command line as the ``tasksecrets`` script."""

from tasksecrets.cli import main

if __name__ == "__main__":
    main(prog_name="tasksecrets")
