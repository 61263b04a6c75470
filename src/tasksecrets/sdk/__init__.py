"""The SDK: what a task author imports (re-exported by :mod:`tasksecrets`).

Modules: ``secret`` (the Secret model), ``settings`` (the reader's FLYTE_SECRETS_* settings),
``secrets`` (the reader), ``state`` and ``context`` (the running task, ``current_context()``),
``masking``, ``task`` and ``workflow``, ``executor`` (the seam every task call goes through),
``loader`` and ``values`` (what a task's own process uses to find and run it).
"""
