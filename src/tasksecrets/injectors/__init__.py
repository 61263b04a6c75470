"""Secret managers as injectors: the protocol (``base``), the registry, one module per backend.

Importing this package imports no backend; :mod:`tasksecrets.injectors.registry` loads them by name.
"""
