"""Task plugins: kinds of task beyond a Python function, built on :class:`tasksecrets.Task`.

Each plugin is its own module and imports its heavy dependencies only when a task runs, so
importing a plugin (and declaring tasks with it) stays as light as the SDK. Today:
:mod:`tasksecrets.plugins.sqlalchemy` (SQL queries whose connection secrets come from the secret
manager; ``pip install 'tasksecrets[sql]'``).
"""
