"""End-to-end tests against real services.

A package, so its module names do not clash with the same names in tests/injectors.
"""
