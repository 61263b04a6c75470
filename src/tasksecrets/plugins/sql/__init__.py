"""Internals of the SQL task plugin (:mod:`tasksecrets.plugins.sqlalchemy` is the public module).

``template`` turns a query template's placeholders into bound parameters; ``connection`` renders a
database URI without its password and turns driver errors into masked task errors.
"""
