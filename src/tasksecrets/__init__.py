"""tasksecrets: request secrets in Python tasks and read them at run time."""
