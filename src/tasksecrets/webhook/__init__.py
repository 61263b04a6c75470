"""The pod webhook: configuration, pure mutation, AdmissionReview handling and (elsewhere) the server.

Importing this package imports nothing: pull in the submodule you need (``mutating``,
``reviews``, ``config``, ``patches``), so the pure parts stay cheap to load.
"""
