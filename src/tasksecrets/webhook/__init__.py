"""The pod webhook's HTTPS service: the server, TLS reload, metrics, certificates and registration.

The admission logic itself lives below, in :mod:`tasksecrets.admission`. Importing this package
imports nothing: pull in the submodule you need.
"""
