"""Shared pytest setup. Its presence also puts tests/ on sys.path, so helpers such as
``k8svalidate`` import by name from every test directory."""
