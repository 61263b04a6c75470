"""Shared pytest setup. Its presence also puts tests/ on sys.path, so helpers such as
``k8svalidate`` import by name from every test directory."""

# Session-scoped real services (OpenBao, PostgreSQL, moto's AWS server): see tests/services.py.
from services import moto_server, openbao, postgres  # noqa: F401
