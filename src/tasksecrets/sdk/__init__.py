"""The SDK: what a task author imports (re-exported by :mod:`tasksecrets`)."""
